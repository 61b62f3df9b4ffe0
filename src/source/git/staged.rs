//! `--staged`: what the next commit would add. Only keys on lines the staged change adds are reported, so a key
//! already in `HEAD` does not block an unrelated commit (the history scan reports those).
//!
//! libgit2 compares the index with `HEAD`'s tree (ids only); the blobs themselves are read through [`Objects`]
//! and their added lines computed from the buffers, so a damaged object is a warning, never a hang. Gitlinks
//! (submodule bumps) are not blobs and are passed over.

use std::collections::HashSet;
use std::path::Path;

use git2::{Delta, DiffOptions, FileMode, Oid, Patch, Repository};

use super::objects::{LooseObjects, Objects};
use super::{BlobOutcome, GitError, HistoryOptions, read_blob, scan_content};
use crate::counts::{Counts, ErrorKind, ScanError};
use crate::diag::Diagnostics;
use crate::finding::{Finding, Fingerprint};
use crate::scan::Scanner;

/// One staged file to look at.
struct Staged {
    path: String,
    new: Oid,
    old: Option<(Oid, String)>,
}

/// Scans the blobs staged in the index that differ from `HEAD` (everything staged, in a repository with no
/// commits yet).
pub fn scan_staged(
    scanner: &Scanner,
    repo: &Repository,
    label: &str,
    options: &HistoryOptions,
    diag: &Diagnostics,
) -> Result<(Vec<Finding>, Counts), GitError> {
    if repo.is_bare() {
        return Err(GitError::Git {
            repo: label.to_string(),
            message: "a bare repository has no index: --staged needs a working tree".into(),
        });
    }
    let git_err = GitError::git(label);
    super::cache_trees();
    let loose = LooseObjects::list(repo);
    let objects = Objects::new(repo, &loose);
    let index = super::staged_index::staged_index(repo).map_err(|message| GitError::Git {
        repo: label.to_string(),
        message,
    })?;
    let head_tree = match repo.head().ok().and_then(|head| head.target()) {
        Some(oid) => {
            let tree = objects
                .commit(oid)
                .and_then(|commit| objects.tree(commit.tree_id()))
                .map_err(|e| GitError::Git {
                    repo: label.to_string(),
                    message: format!("HEAD: {e}"),
                })?;
            check_trees(&objects, tree.id(), label)?;
            Some(tree)
        }
        None => None,
    };
    let mut diff_options = DiffOptions::new();
    diff_options.include_typechange(true).ignore_submodules(true);
    let diff = repo
        .diff_tree_to_index(head_tree.as_ref(), Some(&index), Some(&mut diff_options))
        .map_err(git_err)?;

    let mut staged = Vec::new();
    let mut deleted: Vec<(Oid, String)> = Vec::new();
    for delta in diff.deltas() {
        let (old, new) = (delta.old_file(), delta.new_file());
        let old_side = (old.exists() && old.mode() != FileMode::Commit && !old.id().is_zero())
            .then(|| (old.id(), lossy(old.path())));
        match delta.status() {
            Delta::Deleted => deleted.extend(old_side),
            Delta::Added | Delta::Modified | Delta::Typechange => {
                // A gitlink (a submodule bump) names a commit of another repository, not content.
                if new.mode() == FileMode::Commit {
                    continue;
                }
                staged.push(Staged {
                    path: lossy(new.path()),
                    new: new.id(),
                    old: old_side,
                });
            }
            _ => {}
        }
    }

    let mut counts = Counts::default();
    // Old versions are read for comparison only: they do not count as scanned.
    let mut uncounted = Counts::default();
    let reader = BlobReader {
        scanner,
        objects: &objects,
        options,
        diag,
        label,
    };
    let mut moved_in_this_change: Option<HashSet<Fingerprint>> = None;
    let mut findings = Vec::new();
    for file in staged {
        if options.exclude.as_ref().is_some_and(|set| set.is_match(&file.path)) {
            counts.excluded += 1;
            continue;
        }
        let Some((new_bytes, found)) = reader.scan(file.new, &file.path, &mut counts) else {
            continue;
        };
        if found.is_empty() {
            continue;
        }
        let kept: Vec<Finding> = match &file.old {
            Some((old_oid, old_path)) => {
                let old = reader.scan(*old_oid, old_path, &mut uncounted);
                let lines = old
                    .as_ref()
                    .and_then(|(old_bytes, _)| added_lines(old_bytes, &new_bytes, &file.path));
                match (lines, old) {
                    (Some(lines), _) => found
                        .into_iter()
                        .filter(|f| lines.contains(&(f.location.line as u32)))
                        .collect(),
                    // No line information (binary or UTF-16 content): report only keys the old version did not
                    // have.
                    (None, Some((_, old_found))) => {
                        let old: HashSet<Fingerprint> = old_found.into_iter().map(|f| f.fingerprint).collect();
                        found.into_iter().filter(|f| !old.contains(&f.fingerprint)).collect()
                    }
                    // The old version could not be read (a warning says why): every key counts as added.
                    (None, None) => found,
                }
            }
            None => {
                // A new file: every line is added, but a key that only moved here from a file this same change
                // deletes (a rename) is not new.
                let moved = moved_in_this_change.get_or_insert_with(|| {
                    deleted
                        .iter()
                        .filter_map(|(oid, path)| reader.scan(*oid, path, &mut uncounted))
                        .flat_map(|(_, found)| found)
                        .map(|f| f.fingerprint)
                        .collect()
                });
                found.into_iter().filter(|f| !moved.contains(&f.fingerprint)).collect()
            }
        };
        findings.extend(kept.into_iter().map(|mut f| {
            f.repository = Some(label.to_string());
            f
        }));
    }
    crate::source::fs::sort_findings(&mut findings);
    // An old version that could not be read is a part of the change that was not checked.
    counts.errors.extend(uncounted.errors);
    Ok((findings, counts))
}

/// Reads every tree under `root` through [`Objects`] before libgit2's diff walks them itself, so a damaged
/// loose tree is an error naming it rather than a hang. Trees are tiny and cached; this costs little.
fn check_trees(objects: &Objects<'_>, root: Oid, label: &str) -> Result<(), GitError> {
    if objects.loose.is_empty() {
        return Ok(());
    }
    let mut stack = vec![root];
    let mut seen = HashSet::new();
    while let Some(oid) = stack.pop() {
        if !seen.insert(oid) {
            continue;
        }
        let tree = objects.tree(oid).map_err(|e| GitError::Git {
            repo: label.to_string(),
            message: format!("HEAD's tree: {e}"),
        })?;
        stack.extend(
            tree.iter()
                .filter(|entry| entry.kind() == Some(git2::ObjectType::Tree))
                .map(|entry| entry.id()),
        );
    }
    Ok(())
}

/// The line numbers (in the new version) that `new` adds to `old`; `None` when the content is binary to git.
fn added_lines(old: &[u8], new: &[u8], path: &str) -> Option<HashSet<u32>> {
    let mut options = DiffOptions::new();
    options.context_lines(0);
    let path = Path::new(path);
    let patch = Patch::from_buffers(old, Some(path), new, Some(path), Some(&mut options)).ok()?;
    if patch.delta().flags().is_binary() {
        return None;
    }
    let mut lines = HashSet::new();
    for hunk in 0..patch.num_hunks() {
        for index in 0..patch.num_lines_in_hunk(hunk).unwrap_or(0) {
            if let Ok(line) = patch.line_in_hunk(hunk, index)
                && line.origin() == '+'
                && let Some(number) = line.new_lineno()
            {
                lines.insert(number);
            }
        }
    }
    Some(lines)
}

fn lossy(path: Option<&Path>) -> String {
    path.map(|p| p.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Reads and scans staged blobs, reporting what cannot be read.
struct BlobReader<'a, 'r> {
    scanner: &'a Scanner,
    objects: &'a Objects<'r>,
    options: &'a HistoryOptions,
    diag: &'a Diagnostics,
    label: &'a str,
}

impl BlobReader<'_, '_> {
    /// The blob's bytes and findings; `None` (with a note or warning) for an LFS pointer, a blob over
    /// `--max-file-size`, or one that cannot be read.
    fn scan(&self, oid: Oid, path: &str, counts: &mut Counts) -> Option<(Vec<u8>, Vec<Finding>)> {
        let label = self.label;
        match read_blob(self.objects, oid, self.options) {
            Ok(Ok(blob)) => {
                match scan_content(self.scanner, blob.bytes(), path, self.options, counts, self.diag, label) {
                    BlobOutcome::Findings(found) => Some((blob.bytes().to_vec(), found)),
                    BlobOutcome::LfsPointer => {
                        self.diag.note(format!("{label}: {path} is a git LFS pointer, skipped"));
                        None
                    }
                    BlobOutcome::TooLarge(_) => None,
                }
            }
            Ok(Err(size)) => {
                counts.too_large += 1;
                let reason =
                    crate::counts::over_max_file_size(crate::counts::Oversize::Of(size), self.options.max_file_size);
                let error = ScanError::new(ErrorKind::Blob, format!("{oid} ({path}, staged)"), reason);
                counts.fail(self.diag, error.in_repository(label));
                None
            }
            Err(reason) => {
                let error = ScanError::new(ErrorKind::Blob, format!("{oid} ({path}, staged)"), reason);
                counts.fail(self.diag, error.in_repository(label));
                None
            }
        }
    }
}
