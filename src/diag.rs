//! Warnings and notes on stderr, shared by all workers.
//!
//! A per-file problem is a warning on stderr; the scan goes on and nothing already found is lost.

use std::fmt::Display;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};

use indicatif::{MultiProgress, ProgressBar};

/// The stderr channel for messages, kept out of the way of a progress bar.
#[derive(Debug, Default)]
pub struct Diagnostics {
    errored: AtomicBool,
    quiet: bool,
    /// The bar currently drawn, if any; messages are printed above it.
    progress: RwLock<Option<ProgressBar>>,
    /// A bar over the whole run (its repositories) that the bar of each part is drawn under.
    outer: RwLock<Option<(MultiProgress, ProgressBar)>>,
}

impl Diagnostics {
    pub fn new(quiet: bool, progress: Option<ProgressBar>) -> Diagnostics {
        Diagnostics {
            errored: AtomicBool::new(false),
            quiet,
            progress: RwLock::new(progress),
            outer: RwLock::new(None),
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

    /// Draws `bar` over the whole run; the bars of its parts ([`Diagnostics::show_progress`]) go under it.
    pub fn set_outer_progress(&self, bar: ProgressBar) {
        let multi = MultiProgress::new();
        let bar = multi.add(bar);
        if let Ok(mut slot) = self.outer.write() {
            *slot = Some((multi, bar.clone()));
        }
        self.set_progress(Some(bar));
    }

    /// The run's bar is done.
    pub fn clear_outer_progress(&self) {
        if let Ok(mut slot) = self.outer.write() {
            *slot = None;
        }
        self.set_progress(None);
    }

    fn outer(&self) -> Option<(MultiProgress, ProgressBar)> {
        self.outer.read().ok().and_then(|outer| outer.clone())
    }

    /// Draws the bar of one part of the run (a repository's blobs), under the run's bar when there is one; messages
    /// are printed above both. Gives back the bar to move.
    pub fn show_progress(&self, bar: Option<ProgressBar>) -> Option<ProgressBar> {
        let bar = match (bar, self.outer()) {
            (Some(bar), Some((multi, _))) => Some(multi.add(bar)),
            (bar, _) => bar,
        };
        self.set_progress(bar.clone());
        bar
    }

    /// The part's bar is done and cleared; messages go above the run's bar again, if there is one.
    pub fn end_progress(&self, bar: Option<ProgressBar>) {
        let outer = self.outer();
        if let Some(bar) = bar {
            bar.finish_and_clear();
            if let Some((multi, _)) = &outer {
                multi.remove(&bar);
            }
        }
        self.set_progress(outer.map(|(_, bar)| bar));
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
