//! The content layer, between a source and the scanner: one buffer in, more buffers out. Archive members
//! (`dist/app.zip!config/.env`) and encoded text (`"decoded": "base64"`) are scanned like any content, under a
//! shared depth and size budget. Sources stay ignorant of it; findings carry the chain in their path and in
//! `decoded`.

pub mod archive;
pub mod decode;
pub mod inspect;

use crate::counts::{Counts, ErrorKind, ScanError};
use crate::diag::Diagnostics;
use crate::finding::Finding;
use crate::inspection::BinaryPolicy;
use crate::scan::Scanner;
use inspect::inspect;

/// How deep the content layer looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    pub binary: BinaryPolicy,
    /// How many encodings deep to decode (0: none).
    pub decode_depth: u32,
    /// How many archives deep to open (0: none).
    pub archive_depth: u32,
    /// How many bytes the members of one file's archives may inflate to in all.
    pub max_archive_size: u64,
    /// Report the findings that an inline allow marker covers, marked with the marker, instead of dropping
    /// them: a range scan then honours only the markers its base revision already had.
    pub keep_allowed: bool,
    /// Keep the findings that an honoured allow marker covers, with [`crate::finding::Finding::allowed`] saying
    /// so, instead of dropping them: `--verify` probes them, and reports those whose key is live.
    pub keep_honoured: bool,
}

impl Options {
    pub const DEFAULT_DECODE_DEPTH: u32 = 3;
    pub const DEFAULT_ARCHIVE_DEPTH: u32 = 3;
    pub const DEFAULT_MAX_ARCHIVE_SIZE: u64 = 256 << 20;
}

impl Default for Options {
    fn default() -> Options {
        Options {
            binary: BinaryPolicy::Scan,
            decode_depth: Options::DEFAULT_DECODE_DEPTH,
            archive_depth: Options::DEFAULT_ARCHIVE_DEPTH,
            max_archive_size: Options::DEFAULT_MAX_ARCHIVE_SIZE,
            keep_allowed: false,
            keep_honoured: false,
        }
    }
}

/// The path of an archive member: `outer!member`.
pub fn member_path(outer: &str, member: &str) -> String {
    format!("{outer}!{member}")
}

/// Scans one file's or blob's bytes and whatever they hold, counting what was scanned, skipped and could not
/// be read. `label` is the repository, for the scan errors of history scans.
pub fn scan(
    scanner: &Scanner,
    bytes: &[u8],
    path: &str,
    options: &Options,
    counts: &mut Counts,
    diag: &Diagnostics,
    label: Option<&str>,
) -> Vec<Finding> {
    // An archive holds a slot of the process's archive memory while its members are read and scanned.
    let _slot = (options.archive_depth > 0 && archive::kind(bytes).is_some())
        .then(|| ArchiveSlot::take(options.max_archive_size));
    let mut budget = options.max_archive_size;
    let mut findings = Vec::new();
    let mut walk = Nested {
        scanner,
        options,
        budget: &mut budget,
        counts,
        diag,
        label,
        findings: &mut findings,
    };
    walk.scan(bytes, path, options.archive_depth, false);
    findings
}

/// How much inflated archive content all threads together may hold at once. Each file's archives may inflate to
/// `--max-archive-size`; threads opening archives at once would hold that many times over (200 small zip bombs
/// on 8 threads held 2.4 GB), so an archive is opened only while it holds one of `ARCHIVE_MEMORY /
/// --max-archive-size` slots (at least one). Other files are scanned meanwhile; nested archives use their outer
/// archive's slot, and a slot is never held while waiting for another, so no two threads wait on each other.
const ARCHIVE_MEMORY: u64 = 512 << 20;

/// The slots taken, and a signal when one is given back.
static ARCHIVE_SLOTS: (std::sync::Mutex<u64>, std::sync::Condvar) =
    (std::sync::Mutex::new(0), std::sync::Condvar::new());

/// One slot of archive memory, given back when dropped.
struct ArchiveSlot;

impl ArchiveSlot {
    /// Waits for a slot of archive memory (see [`ARCHIVE_MEMORY`]).
    fn take(max_archive_size: u64) -> ArchiveSlot {
        let slots = (ARCHIVE_MEMORY / max_archive_size.max(1)).max(1);
        let (taken, freed) = &ARCHIVE_SLOTS;
        let mut taken = taken.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        while *taken >= slots {
            taken = freed.wait(taken).unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        *taken += 1;
        ArchiveSlot
    }
}

impl Drop for ArchiveSlot {
    fn drop(&mut self) {
        let (taken, freed) = &ARCHIVE_SLOTS;
        let mut taken = taken.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *taken = taken.saturating_sub(1);
        freed.notify_one();
    }
}

/// One file's walk through its archives.
struct Nested<'a> {
    scanner: &'a Scanner,
    options: &'a Options,
    /// What the archives' members may still inflate to.
    budget: &'a mut u64,
    counts: &'a mut Counts,
    diag: &'a Diagnostics,
    label: Option<&'a str>,
    findings: &'a mut Vec<Finding>,
}

impl Nested<'_> {
    /// Records a scan error, in the repository of a history scan.
    fn fail(&mut self, mut error: ScanError) {
        if let Some(label) = self.label {
            error = error.in_repository(label);
        }
        self.counts.fail(self.diag, error);
    }

    /// Scans `bytes` at `path`; `member` says it is an archive member (counted as such, not as a file).
    fn scan(&mut self, bytes: &[u8], path: &str, depth: u32, member: bool) {
        if depth > 0
            && let Some(kind) = archive::kind(bytes)
        {
            let opened = archive::open(bytes, kind, path, self.budget);
            for (name, reason) in &opened.errors {
                let place = if name.is_empty() {
                    path.to_string()
                } else {
                    member_path(path, name)
                };
                self.fail(ScanError::new(ErrorKind::Member, place, reason.clone()));
            }
            if !opened.members.is_empty() || opened.errors.is_empty() {
                // The archive was opened: its members are scanned instead of its (compressed) bytes.
                self.counts.container(bytes.len(), member);
                for (name, content) in opened.members {
                    self.scan(&content, &member_path(path, &name), depth - 1, true);
                }
                return;
            }
        }
        if depth == 0
            && member
            && self.options.archive_depth > 0
            && let Some(kind) = archive::kind(bytes)
        {
            // Its bytes are still scanned below (a stored member's keys are in the clear), its members are not.
            let reason = format!(
                "{} archive nested deeper than --archive-depth {}: its members are not scanned (raise the depth \
                 to scan them)",
                kind.name(),
                self.options.archive_depth
            );
            self.fail(ScanError::new(ErrorKind::Member, path, reason));
        }
        let inspection = inspect(self.scanner, bytes, path, self.options);
        if member {
            self.counts.inspected_member(bytes.len(), &inspection);
        } else {
            self.counts.inspected(bytes.len(), &inspection);
        }
        self.findings.extend(inspection.findings);
    }
}

#[cfg(test)]
mod tests {
    use super::ArchiveSlot;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// Threads that open archives at once never hold more slots than the archive memory allows.
    #[test]
    fn archive_slots_bound_the_archives_open_at_once() {
        let max_archive_size = super::ARCHIVE_MEMORY / 2;
        let most = AtomicU64::new(0);
        let now = AtomicU64::new(0);
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    for _ in 0..20 {
                        let _slot = ArchiveSlot::take(max_archive_size);
                        let held = now.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(held, Ordering::SeqCst);
                        std::thread::yield_now();
                        now.fetch_sub(1, Ordering::SeqCst);
                    }
                });
            }
        });
        assert!(
            most.load(Ordering::SeqCst) <= 2,
            "{} at once",
            most.load(Ordering::SeqCst)
        );
        // A limit larger than the archive memory still lets one archive through at a time.
        drop(ArchiveSlot::take(u64::MAX));
    }
}
