//! What a scan looked at, as values: each source returns its [`Counts`] (ripgrep's per-search `Stats`), and the
//! command adds them up. Nothing is counted in shared counters deep inside a source, so nothing drifts or is
//! counted twice.
//!
//! What could not be read is counted apart from what was scanned, as [`ScanError`]s: a report of a scan that
//! could not read part of its input says so, and `--fail-on-scan-errors` makes that exit 2.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::diag::Diagnostics;
use crate::inspection::Inspection;

/// How many scan errors a report lists; past that they are counted only.
pub const MAX_LISTED_ERRORS: usize = 1000;

/// What could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ErrorKind {
    /// A file or directory of a working tree.
    File,
    /// Standard input.
    Input,
    Blob,
    Tree,
    Commit,
    Tag,
    /// A ref that could not be followed.
    Reference,
    /// A whole repository.
    Repository,
    /// A member of an archive (or the archive itself, when it cannot be opened or is over a limit).
    Member,
    /// An object of the object database whose type cannot be read, or the database itself (`--all-objects`).
    Object,
    /// A container image, or what it was read from (`keyhound image`).
    Image,
    /// A layer of a container image, or a file in one.
    Layer,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::File => "file",
            ErrorKind::Input => "input",
            ErrorKind::Blob => "blob",
            ErrorKind::Tree => "tree",
            ErrorKind::Commit => "commit",
            ErrorKind::Tag => "tag",
            ErrorKind::Reference => "reference",
            ErrorKind::Repository => "repository",
            ErrorKind::Member => "member",
            ErrorKind::Object => "object",
            ErrorKind::Image => "image",
            ErrorKind::Layer => "layer",
        }
    }

    fn plural(self) -> &'static str {
        match self {
            ErrorKind::File => "files",
            ErrorKind::Input => "inputs",
            ErrorKind::Blob => "blobs",
            ErrorKind::Tree => "trees",
            ErrorKind::Commit => "commits",
            ErrorKind::Tag => "tags",
            ErrorKind::Reference => "references",
            ErrorKind::Repository => "repositories",
            ErrorKind::Member => "members",
            ErrorKind::Object => "objects",
            ErrorKind::Image => "images",
            ErrorKind::Layer => "layers",
        }
    }
}

/// Something that could not be read: what, where, why. Reports list these as they are; their text is outside
/// text and goes through the choke point when shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanError {
    /// `file`, `input`, `blob`, `tree`, `commit`, `tag`, `reference`, `repository`, `member`, `object`, `image`,
    /// `layer`.
    pub kind: ErrorKind,
    /// The path, or the object id (with the path where there is one).
    pub place: String,
    pub reason: String,
    /// The repository, for history scans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
}

impl ScanError {
    pub fn new(kind: ErrorKind, place: impl Into<String>, reason: impl Into<String>) -> ScanError {
        ScanError {
            kind,
            place: place.into(),
            reason: reason.into(),
            repository: None,
        }
    }

    pub fn in_repository(mut self, label: &str) -> ScanError {
        self.repository = Some(label.to_string());
        self
    }
}

impl fmt::Display for ScanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(repo) = &self.repository {
            write!(f, "{repo}: ")?;
        }
        write!(f, "{} {}: {}", self.kind.as_str(), self.place, self.reason)
    }
}

/// The counts of one source, one worker or one whole run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    /// Files, blobs or reports scanned (not those skipped or unreadable).
    pub items: u64,
    pub bytes: u64,
    /// Skipped for being over `--max-file-size`.
    pub too_large: u64,
    /// Skipped as binary by `--binary skip`.
    pub binary: u64,
    /// Git LFS pointer files passed over.
    pub lfs_pointers: u64,
    /// Findings dropped by an inline allow marker.
    pub allowed: u64,
    /// Files or blobs `exclude_paths` matched.
    pub excluded: u64,
    /// Commits walked.
    pub commits: u64,
    /// Commit and tag messages scanned.
    pub messages: u64,
    /// Archive members scanned (counted apart from files and blobs).
    pub members: u64,
    /// What could not be read, the first [`MAX_LISTED_ERRORS`] of it.
    pub errors: Vec<ScanError>,
    /// How many more errors there were than `errors` lists.
    pub errors_omitted: u64,
}

/// How content was found to be over `--max-file-size`.
#[derive(Debug, Clone, Copy)]
pub enum Oversize {
    /// Its size was known before it was read.
    Of(u64),
    /// It grew past the limit while it was read (a file being written).
    Grew,
    /// A stream with no size beforehand (standard input) ran past the limit.
    Stream,
}

/// Why content over `--max-file-size` was not scanned: a scan error, since a key in it would go unseen.
pub fn over_max_file_size(oversize: Oversize, max: u64) -> String {
    let max = bytesize::ByteSize(max).display().iec();
    match oversize {
        Oversize::Of(size) => format!(
            "not scanned: {} is over --max-file-size {max} (raise the limit to scan it)",
            bytesize::ByteSize(size).display().iec()
        ),
        Oversize::Grew => format!("not scanned: it grew past --max-file-size {max} while it was read"),
        Oversize::Stream => {
            format!("not scanned: it is larger than --max-file-size {max} (raise the limit to scan it)")
        }
    }
}

impl Counts {
    /// Adds `other` to these counts.
    pub fn add(&mut self, other: Counts) {
        self.items += other.items;
        self.bytes += other.bytes;
        self.too_large += other.too_large;
        self.binary += other.binary;
        self.lfs_pointers += other.lfs_pointers;
        self.allowed += other.allowed;
        self.excluded += other.excluded;
        self.commits += other.commits;
        self.messages += other.messages;
        self.members += other.members;
        self.errors_omitted += other.errors_omitted;
        for error in other.errors {
            self.record(error);
        }
    }

    /// Counts one piece of content scanned (or skipped as binary), and what its inspection allowed.
    pub fn inspected(&mut self, bytes: usize, inspection: &Inspection) {
        if self.add_inspection(bytes, inspection) {
            self.items += 1;
        }
    }

    /// Counts an archive member scanned.
    pub fn inspected_member(&mut self, bytes: usize, inspection: &Inspection) {
        if self.add_inspection(bytes, inspection) {
            self.members += 1;
        }
    }

    /// Counts the bytes (or the binary skip) and the allowed findings of one inspection; whether its content
    /// was scanned.
    fn add_inspection(&mut self, bytes: usize, inspection: &Inspection) -> bool {
        self.allowed += inspection.allowed as u64;
        if inspection.skipped_binary {
            self.binary += 1;
            return false;
        }
        self.bytes += bytes as u64;
        true
    }

    /// Counts an archive that was opened (its members are counted on their own).
    pub fn container(&mut self, bytes: usize, member: bool) {
        if member {
            self.members += 1;
        } else {
            self.items += 1;
            self.bytes += bytes as u64;
        }
    }

    /// Counts one commit or tag message scanned.
    pub fn message(&mut self, bytes: usize, inspection: &Inspection) {
        self.messages += 1;
        self.bytes += bytes as u64;
        self.allowed += inspection.allowed as u64;
    }

    /// Something could not be read: a warning now, and a scan error in the report.
    pub fn fail(&mut self, diag: &Diagnostics, error: ScanError) {
        diag.warn(&error);
        self.record(error);
    }

    fn record(&mut self, error: ScanError) {
        if self.errors.len() < MAX_LISTED_ERRORS {
            self.errors.push(error);
        } else {
            self.errors_omitted += 1;
        }
    }

    /// How many things could not be read.
    pub fn error_count(&self) -> u64 {
        self.errors.len() as u64 + self.errors_omitted
    }

    /// `2 blobs, 1 tree`: the unreadable things by kind (listed ones only).
    pub fn errors_by_kind(&self) -> String {
        let mut kinds: Vec<(ErrorKind, u64)> = Vec::new();
        for error in &self.errors {
            match kinds.iter_mut().find(|(k, _)| *k == error.kind) {
                Some((_, n)) => *n += 1,
                None => kinds.push((error.kind, 1)),
            }
        }
        kinds.sort();
        let mut parts: Vec<String> = kinds
            .iter()
            .map(|(kind, n)| format!("{n} {}", if *n == 1 { kind.as_str() } else { kind.plural() }))
            .collect();
        if self.errors_omitted > 0 {
            parts.push(format!("{} more", self.errors_omitted));
        }
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_and_errors_are_bounded() {
        let mut total = Counts::default();
        for i in 0..3 {
            let mut part = Counts {
                items: 2,
                bytes: 10,
                ..Counts::default()
            };
            part.record(ScanError::new(ErrorKind::Blob, format!("b{i}"), "gone"));
            total.add(part);
        }
        total.record(ScanError::new(ErrorKind::Tree, "t", "corrupt"));
        assert_eq!((total.items, total.bytes, total.error_count()), (6, 30, 4));
        assert_eq!(total.errors_by_kind(), "3 blobs, 1 tree");
        let mut many = Counts::default();
        for i in 0..MAX_LISTED_ERRORS + 5 {
            many.record(ScanError::new(ErrorKind::File, i.to_string(), "x"));
        }
        assert_eq!(many.errors.len(), MAX_LISTED_ERRORS);
        assert_eq!(many.error_count(), MAX_LISTED_ERRORS as u64 + 5);
    }
}
