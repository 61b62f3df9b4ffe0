//! Inline allow markers in a `--since`/`--range` scan: the commits under review are the pull request's, so a
//! marker they add (`OPENAI_API_KEY=sk-… # keyhound:allow`) cannot allow their own key. A covered key is
//! honoured as allowed only where the base revision already held it, allowed, at the same path; otherwise it is
//! reported with the marker named (`Finding::allow_marker`).

use std::collections::{HashMap, HashSet};
use std::path::Path;

use git2::{ObjectType, Oid};

use super::objects::Objects;
use super::{BlobOutcome, HistoryOptions, messages, read_blob, scan_content};
use crate::counts::Counts;
use crate::diag::Diagnostics;
use crate::finding::{Finding, Fingerprint};
use crate::scan::Scanner;

/// The base revision of a range, whose tree holds the markers that are honoured.
pub struct Base<'a, 'r> {
    pub repo: &'r git2::Repository,
    pub objects: &'a Objects<'r>,
    pub rev: &'a str,
}

impl Base<'_, '_> {
    /// The base commit's tree.
    fn tree(&self) -> Result<Oid, String> {
        let commit = self
            .repo
            .revparse_single(self.rev)
            .and_then(|object| object.peel(ObjectType::Commit))
            .map_err(|e| e.message().to_string())?;
        let commit = self.objects.commit(commit.id()).map_err(|e| e.message)?;
        Ok(commit.tree_id())
    }
}

/// Drops the findings whose allow marker the base tree already had (counting them as allowed; with
/// `keep_honoured`, keeps them marked [`Finding::allowed`] instead) and keeps the rest, marked. Findings no marker covers pass through. A base that cannot be read honours no marker.
pub fn honour_base_markers(
    scanner: &Scanner,
    base: &Base<'_, '_>,
    findings: Vec<Finding>,
    options: &HistoryOptions,
    counts: &mut Counts,
    diag: &Diagnostics,
    label: &str,
) -> Vec<Finding> {
    if findings.iter().all(|f| f.allow_marker.is_none()) {
        return findings;
    }
    let tree = match base.tree() {
        Ok(tree) => tree,
        Err(message) => {
            diag.warn(format!(
                "{label}: cannot read {}, the base of the range ({message}): no allow marker is honoured",
                base.rev
            ));
            return findings;
        }
    };
    let mut allowed_in_base: HashMap<String, HashSet<Fingerprint>> = HashMap::new();
    let mut kept = Vec::with_capacity(findings.len());
    for mut finding in findings {
        if finding.allow_marker.is_none() || messages::is_message_path(&finding.path) {
            kept.push(finding);
            continue;
        }
        let file = file_path(&finding.path);
        let allowed = allowed_in_base
            .entry(file.to_string())
            .or_insert_with(|| allowed_at(scanner, base.objects, tree, file, options, diag, label));
        if !allowed.contains(&finding.fingerprint) {
            kept.push(finding);
        } else if options.content.keep_honoured {
            // Honoured, and kept for --verify to probe: reported only if its key is live.
            let marker = finding.allow_marker.take().unwrap_or_default();
            kept.push(Finding {
                allowed: Some(format!("inline marker `{marker}`")),
                ..finding
            });
        } else {
            counts.allowed += 1;
        }
    }
    kept
}

/// The file a finding's path names: an archive member's path (`dist/app.zip!config/.env`) is inside the
/// archive before the first `!`.
fn file_path(path: &str) -> &str {
    path.split('!').next().unwrap_or(path)
}

/// The fingerprints of the keys that an allow marker covers in the base tree's file at `path` (none when the
/// file is not there or cannot be read: then nothing is honoured).
fn allowed_at(
    scanner: &Scanner,
    objects: &Objects<'_>,
    base: Oid,
    path: &str,
    options: &HistoryOptions,
    diag: &Diagnostics,
    label: &str,
) -> HashSet<Fingerprint> {
    let Ok(tree) = objects.tree(base) else {
        return HashSet::new();
    };
    let Ok(entry) = tree.get_path(Path::new(path)) else {
        return HashSet::new();
    };
    if entry.kind() != Some(ObjectType::Blob) {
        return HashSet::new();
    }
    let Ok(Ok(blob)) = read_blob(objects, entry.id(), options) else {
        return HashSet::new();
    };
    // The base's content is read to compare, not scanned: it does not count.
    let mut uncounted = Counts::default();
    match scan_content(scanner, blob.bytes(), path, options, &mut uncounted, diag, label) {
        BlobOutcome::Findings(found) => found
            .into_iter()
            .filter(|f| f.allow_marker.is_some())
            .map(|f| f.fingerprint)
            .collect(),
        BlobOutcome::LfsPointer | BlobOutcome::TooLarge(_) => HashSet::new(),
    }
}
