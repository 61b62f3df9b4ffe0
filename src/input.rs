//! Reading the small files keyhound is told to read (configs, rule files, baselines, reports): regular files
//! only, with a size bound, and errors that say what happened.
//!
//! A FIFO or a device named where a file is expected would block the run or feed it without end, so only regular
//! files are opened.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The largest config or rule file read.
pub const MAX_CONFIG_FILE: u64 = 1 << 20;
/// The largest baseline or report read.
pub const MAX_REPORT_FILE: u64 = 4 << 30;
/// The largest small metadata file read, by keyhound or by the libraries it uses: a git config, ref, `HEAD`,
/// `commondir`, `objects/info/alternates`, a `.gitignore` or `info/exclude`.
pub const MAX_METADATA_FILE: u64 = 16 << 20;
/// The largest list-like git file read whole: `packed-refs`, `shallow`, `info/grafts`, a reflog.
pub const MAX_GIT_LIST_FILE: u64 = 1 << 30;

/// A file that could not be read. The message names the file and says why, once.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{path}: {}", describe_io(.error))]
    Io { path: PathBuf, error: std::io::Error },
    #[error("{path}: not a regular file ({kind}), not read")]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error("{path}: larger than {max} bytes, not read")]
    TooLarge { path: PathBuf, max: u64 },
    #[error("{path}: not a directory ({kind}), not read")]
    NotDirectory { path: PathBuf, kind: &'static str },
    #[error("{path}: more than {max} entries, not read")]
    TooMany { path: PathBuf, max: usize },
    #[error("{path}: not UTF-8 text ({message})")]
    NotText { path: PathBuf, message: String },
}

impl InputError {
    /// Did the file not exist?
    pub fn is_not_found(&self) -> bool {
        matches!(self, InputError::Io { error, .. } if error.kind() == std::io::ErrorKind::NotFound)
    }
}

/// An I/O error as people read it: "permission denied" rather than "Permission denied (os error 13)", and never
/// the same words twice.
pub fn describe_io(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => error.to_string(),
    }
}

/// What kind of file `meta` describes.
pub fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_file() {
        "a regular file"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a named pipe"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_block_device() || t.is_char_device() {
        "a device"
    } else if t.is_symlink() {
        "a symbolic link"
    } else {
        "a special file"
    }
}

/// Checks, without opening it, that `path` (following symbolic links) is a regular file of at most `max` bytes
/// (`None`: any size). Opening a FIFO for reading blocks until someone writes to it, and a device (or a link to
/// `/dev/zero`) never ends, so this comes before anything opens the file.
pub fn check_regular(path: &Path, max: Option<u64>) -> Result<std::fs::Metadata, InputError> {
    let meta = std::fs::metadata(path).map_err(|error| InputError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    if !meta.is_file() {
        return Err(InputError::NotRegular {
            path: path.to_path_buf(),
            kind: file_kind(&meta),
        });
    }
    if let Some(max) = max
        && meta.len() > max
    {
        return Err(InputError::TooLarge {
            path: path.to_path_buf(),
            max,
        });
    }
    Ok(meta)
}

/// [`check_regular`] for a file that may be absent: only a file that is there and is not a regular file of at
/// most `max` bytes is an error. Other I/O errors are left to whoever reads the file, who reports them.
pub fn check_if_present(path: &Path, max: Option<u64>) -> Result<(), InputError> {
    match check_regular(path, max) {
        Err(InputError::Io { .. }) | Ok(_) => Ok(()),
        Err(error) => Err(error),
    }
}

/// Reads `path` (following symbolic links) if it is a regular file of at most `max` bytes.
pub fn read_regular(path: &Path, max: u64) -> Result<Vec<u8>, InputError> {
    let io = |error| InputError::Io {
        path: path.to_path_buf(),
        error,
    };
    // Checked before opening: opening a FIFO for reading blocks until someone writes to it.
    check_regular(path, None)?;
    let file = File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(max.saturating_add(1)).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > max {
        return Err(InputError::TooLarge {
            path: path.to_path_buf(),
            max,
        });
    }
    Ok(bytes)
}

/// [`read_regular`] as UTF-8 text.
pub fn read_text(path: &Path, max: u64) -> Result<String, InputError> {
    let bytes = read_regular(path, max)?;
    String::from_utf8(bytes).map_err(|e| InputError::NotText {
        path: path.to_path_buf(),
        message: e.utf8_error().to_string(),
    })
}

/// A parse error in TOML input as one bounded line: "line 3, column 9: invalid string (near `…`)". The parser's
/// own message quotes the offending input at length (a whole line of `/proc/self/environ`, say); this quotes at
/// most a short, redacted excerpt.
pub fn toml_error(text: &str, error: &toml::de::Error) -> String {
    let message = crate::text::for_message(&crate::text::bounded(error.message().trim(), 200));
    match error.span() {
        Some(span) => {
            let start = span.start.min(text.len());
            let start = (0..=start).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
            let before = &text[..start];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            let near: &str = text[start..].split('\n').next().unwrap_or_default();
            if near.trim().is_empty() {
                format!("line {line}, column {column}: {message}")
            } else {
                format!(
                    "line {line}, column {column}: {message} (near `{}`)",
                    crate::text::excerpt(near)
                )
            }
        }
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_are_read() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let err = read_regular(dir.path(), 10).expect_err("a directory");
        assert!(err.to_string().contains("not a regular file (a directory)"), "{err}");
        let missing = read_regular(&dir.path().join("nope"), 10).expect_err("missing");
        assert!(missing.is_not_found());
        assert!(
            missing.to_string().ends_with("nope: no such file or directory"),
            "{missing}"
        );
        let big = dir.path().join("big");
        std::fs::write(&big, "x".repeat(11)).expect("write");
        assert!(matches!(read_regular(&big, 10), Err(InputError::TooLarge { .. })));
        assert_eq!(read_regular(&big, 11).map(|b| b.len()).ok(), Some(11));
    }

    #[test]
    fn toml_errors_are_one_short_line() {
        let text = format!("a = 1\nrules = [\"{}\n", "A".repeat(5000));
        let error = toml::from_str::<toml::Table>(&text).expect_err("malformed");
        let shown = toml_error(&text, &error);
        assert!(shown.starts_with("line 2, column"), "{shown}");
        assert!(!shown.contains('\n') && shown.len() < 400, "{shown}");
    }
}
