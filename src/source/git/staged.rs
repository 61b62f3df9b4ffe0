//! `--staged`: what the next commit would add. Only keys on lines the staged change adds are reported, so a key
//! already in `HEAD` does not block an unrelated commit (the history scan reports those).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use git2::{Delta, DiffFindOptions, DiffOptions, Oid, Repository};

use super::{BlobOutcome, GitError, HistoryOptions, scan_blob};
use crate::diag::{Diagnostics, ScanStats};
use crate::finding::{Finding, Fingerprint};

/// Scans the blobs staged in the index that differ from `HEAD` (everything staged, in a repository with no
/// commits yet).
pub fn scan_staged(
    scanner: &crate::scan::Scanner,
    repo: &Repository,
    label: &str,
    options: &HistoryOptions,
    diag: &Diagnostics,
    stats: &ScanStats,
) -> Result<Vec<Finding>, GitError> {
    let git_err = GitError::git(label);
    let index = repo.index().map_err(git_err)?;
    let head_tree = repo.head().ok().and_then(|head| head.peel_to_tree().ok());
    let mut diff_options = DiffOptions::new();
    diff_options.context_lines(0).include_typechange(true);
    let mut diff = repo
        .diff_tree_to_index(head_tree.as_ref(), Some(&index), Some(&mut diff_options))
        .map_err(git_err)?;
    diff.find_similar(Some(DiffFindOptions::new().renames(true)))
        .map_err(git_err)?;

    // Added line numbers per new path, from the diff's line callbacks (text files only).
    let mut added_lines: HashMap<PathBuf, HashSet<u32>> = HashMap::new();
    diff.foreach(
        &mut |_, _| true,
        None,
        None,
        Some(&mut |delta, _hunk, line| {
            if line.origin() == '+'
                && let (Some(path), Some(number)) = (delta.new_file().path(), line.new_lineno())
            {
                added_lines.entry(path.to_path_buf()).or_default().insert(number);
            }
            true
        }),
    )
    .map_err(git_err)?;

    let mut findings = Vec::new();
    for delta in diff.deltas() {
        if !matches!(
            delta.status(),
            Delta::Added | Delta::Modified | Delta::Renamed | Delta::Copied | Delta::Typechange
        ) {
            continue;
        }
        let new_file = delta.new_file();
        let (Some(path), new_oid) = (new_file.path(), new_file.id()) else {
            continue;
        };
        let path_text = path.to_string_lossy().into_owned();
        if options.exclude.as_ref().is_some_and(|set| set.is_match(path)) {
            continue;
        }
        let new_findings = match blob_findings(scanner, repo, new_oid, &path_text, options, diag, stats, label) {
            Some(found) => found,
            None => continue,
        };
        let kept: Vec<Finding> = match added_lines.get(path) {
            Some(lines) => new_findings
                .into_iter()
                .filter(|f| lines.contains(&(f.location.line as u32)))
                .collect(),
            None => {
                // No line information (binary or UTF-16 content, or a pure rename): report only keys the old
                // version did not have.
                let old = delta.old_file();
                let old_fingerprints: HashSet<Fingerprint> = if old.exists() && !old.id().is_zero() {
                    let old_path = old.path().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
                    blob_findings(scanner, repo, old.id(), &old_path, options, diag, stats, label)
                        .unwrap_or_default()
                        .into_iter()
                        .map(|f| f.fingerprint)
                        .collect()
                } else {
                    HashSet::new()
                };
                new_findings
                    .into_iter()
                    .filter(|f| !old_fingerprints.contains(&f.fingerprint))
                    .collect()
            }
        };
        findings.extend(kept.into_iter().map(|mut f| {
            f.repository = Some(label.to_string());
            f
        }));
    }
    crate::source::fs::sort_findings(&mut findings);
    Ok(findings)
}

#[allow(clippy::too_many_arguments)]
fn blob_findings(
    scanner: &crate::scan::Scanner,
    repo: &Repository,
    oid: Oid,
    path: &str,
    options: &HistoryOptions,
    diag: &Diagnostics,
    stats: &ScanStats,
    label: &str,
) -> Option<Vec<Finding>> {
    match scan_blob(scanner, repo, oid, path, options, stats) {
        Ok(BlobOutcome::Findings(found)) => Some(found),
        Ok(BlobOutcome::LfsPointer) => {
            diag.note(format!("{label}: {path} is a git LFS pointer, skipped"));
            None
        }
        Ok(BlobOutcome::TooLarge(size)) => {
            diag.note(format!(
                "{label}: {path} skipped, {} is over --max-file-size",
                bytesize::ByteSize(size).display().iec()
            ));
            None
        }
        Err(err) => {
            diag.warn(format!(
                "{label}: cannot read staged blob {oid} ({path}): {}",
                err.message()
            ));
            None
        }
    }
}
