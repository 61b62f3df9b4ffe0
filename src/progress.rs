//! Progress bars on stderr, only for people watching a terminal: never in pipes, files or CI logs.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Should a progress bar be drawn? Only when stderr is a terminal and no CI system is detected.
pub fn wanted(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal() && std::env::var_os("CI").is_none()
}

/// A spinner counting bytes, for walks whose total is not known in advance.
pub fn bytes_spinner(quiet: bool) -> Option<ProgressBar> {
    if !wanted(quiet) {
        return None;
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed} scanned {bytes} ({bytes_per_sec}) {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    Some(bar)
}

/// A bar over a known number of items (blobs); callers put bytes done and the byte rate in its message.
pub fn items_bar(quiet: bool, total: u64, what: &str) -> Option<ProgressBar> {
    if !wanted(quiet) {
        return None;
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let template = format!("{{bar:30}} {{human_pos}}/{{human_len}} {what} {{msg}} {{elapsed}}, ETA {{eta}}");
    bar.set_style(ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_bar()));
    bar.enable_steady_tick(Duration::from_millis(120));
    Some(bar)
}
