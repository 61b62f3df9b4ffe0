//! Warnings and notes on stderr, shared by all workers.
//!
//! A per-file problem is a warning on stderr; the scan goes on and nothing already found is lost.

use std::fmt::Display;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};

use indicatif::ProgressBar;

/// The stderr channel for messages, kept out of the way of a progress bar.
#[derive(Debug, Default)]
pub struct Diagnostics {
    errored: AtomicBool,
    quiet: bool,
    /// The bar currently drawn, if any; messages are printed above it.
    progress: RwLock<Option<ProgressBar>>,
}

impl Diagnostics {
    pub fn new(quiet: bool, progress: Option<ProgressBar>) -> Diagnostics {
        Diagnostics {
            errored: AtomicBool::new(false),
            quiet,
            progress: RwLock::new(progress),
        }
    }

    /// Something could not be scanned; the run goes on.
    pub fn warn(&self, message: impl Display) {
        self.errored.store(true, Ordering::Relaxed);
        self.print(&format!("keyhound: warning: {message}"));
    }

    /// Something the user named (a path, a repository) could not be used at all.
    pub fn error(&self, message: impl Display) {
        self.errored.store(true, Ordering::Relaxed);
        self.print(&format!("keyhound: error: {message}"));
    }

    /// Information about something deliberately passed over (a file too large, an LFS pointer).
    pub fn note(&self, message: impl Display) {
        if !self.quiet {
            self.print(&format!("keyhound: note: {message}"));
        }
    }

    pub fn errored(&self) -> bool {
        self.errored.load(Ordering::Relaxed)
    }

    pub fn quiet(&self) -> bool {
        self.quiet
    }

    /// The bar currently drawn, if any.
    pub fn progress(&self) -> Option<ProgressBar> {
        self.progress.read().ok().and_then(|bar| bar.clone())
    }

    /// Replaces the bar that messages are printed above.
    pub fn set_progress(&self, bar: Option<ProgressBar>) {
        if let Ok(mut slot) = self.progress.write() {
            *slot = bar;
        }
    }

    /// Prints one line through the choke point for outside text: messages name paths, objects and rules from
    /// outside, so keys in them are redacted and control characters escaped.
    fn print(&self, line: &str) {
        let line = crate::text::for_message(line);
        match self.progress() {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }
}

/// An error and its causes, as one line: "cannot read X: permission denied". A cause whose words the line already
/// holds (an error that quotes its own source) is not repeated.
pub fn error_chain(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if line.contains(text.as_str()) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}
