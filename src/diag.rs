//! Warnings, notes and scan statistics shared by all workers.
//!
//! A per-file problem is a warning on stderr; the scan goes on and nothing already found is lost.

use std::fmt::Display;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

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

/// Counters updated by every worker during a scan.
#[derive(Debug, Default)]
pub struct ScanStats {
    /// Files or blobs scanned.
    pub items: AtomicU64,
    pub bytes: AtomicU64,
    pub skipped_large: AtomicU64,
    pub skipped_binary: AtomicU64,
    /// Findings dropped by an inline allow marker.
    pub allowed: AtomicU64,
    /// Files or blobs not scanned because `exclude_paths` in keyhound.toml matched them.
    pub excluded: AtomicU64,
    /// Commits walked (history scans).
    pub commits: AtomicU64,
    /// Commit and tag messages scanned (history scans).
    pub messages: AtomicU64,
}

impl ScanStats {
    pub fn add_item(&self, bytes: u64) {
        self.items.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Counts one commit or tag message scanned.
    pub fn add_message(&self, bytes: u64) {
        self.messages.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Counts what inspecting one piece of content skipped or allowed.
    pub fn record(&self, inspection: &crate::inspect::Inspection) {
        if inspection.skipped_binary {
            self.skipped_binary.fetch_add(1, Ordering::Relaxed);
        }
        self.allowed.fetch_add(inspection.allowed as u64, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}
