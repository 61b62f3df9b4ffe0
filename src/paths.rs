//! How paths are shown: one value-level helper for every layer that names a file (the configuration, the
//! sources, the reports).

use std::path::Path;

/// The path as the user would write it: `src/main.rs` rather than `./src/main.rs`.
pub fn display_path(path: &Path) -> String {
    let text = path.to_string_lossy();
    text.strip_prefix("./")
        .map(str::to_string)
        .unwrap_or_else(|| text.into_owned())
}
