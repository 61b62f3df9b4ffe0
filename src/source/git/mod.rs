//! The git source: every blob reachable from the chosen refs (or introduced by a commit range), each scanned
//! once, in parallel; the staged index for pre-commit.
//!
//! Blobs are enumerated by walking commits parents-first and each commit's tree, skipping trees already seen:
//! a blob's first sighting is the commit and path that introduced it. No patches are generated. Only blobs that
//! hold a finding get their provenance (author, date, summary) looked up.

mod enumerate;
mod staged;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::Ordering;

use git2::{Oid, Repository};
use rayon::prelude::*;

use crate::diag::{Diagnostics, ScanStats};
use crate::finding::{Finding, GitProvenance, Occurrence};
use crate::inspect::{BinaryPolicy, inspect};
use crate::report::RepositoryInfo;
use crate::scan::Scanner;

pub use enumerate::{BlobIntro, Enumeration, Selection};
pub use staged::scan_staged;

/// The first line of a git LFS pointer file.
const LFS_POINTER_PREFIX: &[u8] = b"version https://git-lfs.github.com/spec/v1\n";
/// LFS pointer files are tiny; larger blobs are never pointers.
const LFS_POINTER_MAX_LEN: usize = 1024;

/// Problems that stop a history scan of one repository.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("{path} is not a git repository (or any parent of it): {message}")]
    NotARepository { path: PathBuf, message: String },
    #[error("{repo}: cannot resolve `{rev}`: {message}")]
    BadRevision { repo: String, rev: String, message: String },
    #[error("{repo}: {message}")]
    Git { repo: String, message: String },
}

impl GitError {
    /// A libgit2 failure while scanning the repository labelled `repo`.
    pub fn git(repo: &str) -> impl Fn(git2::Error) -> GitError + Copy + '_ {
        move |e| GitError::Git {
            repo: repo.to_string(),
            message: e.message().to_string(),
        }
    }
}

/// Options for one history scan.
#[derive(Debug, Clone)]
pub struct HistoryOptions {
    pub selection: Selection,
    /// List every (commit, path) where a flagged blob appears, not just the first.
    pub all_commits: bool,
    pub max_file_size: u64,
    pub binary: BinaryPolicy,
    pub exclude: Option<globset::GlobSet>,
}

/// Opens the repository at or above `path` (working trees, worktrees and bare repositories).
///
/// Objects are not re-hashed on read: a scanner only reads, and a quarter of a history scan went into SHA-1.
/// Damaged objects still fail to inflate and are reported.
pub fn open(path: &Path) -> Result<Repository, GitError> {
    // A process-wide libgit2 option; keyhound never writes objects, so verification buys nothing.
    git2::opts::strict_hash_verification(false);
    Repository::discover(path).map_err(|e| GitError::NotARepository {
        path: path.to_path_buf(),
        message: e.message().to_string(),
    })
}

/// Facts about a repository for SARIF's version-control provenance.
pub fn repository_info(repo: &Repository) -> RepositoryInfo {
    let uri = repo
        .find_remote("origin")
        .ok()
        .and_then(|remote| remote.url().ok().map(str::to_string));
    let head = repo.head().ok();
    RepositoryInfo {
        uri,
        revision: head.as_ref().and_then(|h| h.target()).map(|oid| oid.to_string()),
        branch: head
            .as_ref()
            .filter(|h| h.is_branch())
            .and_then(|h| h.shorthand().ok().map(str::to_string)),
        workdir_is_root: false,
    }
}

/// Scans the history of `repo` (labelled `label` in findings) and returns its findings.
pub fn scan_history(
    scanner: &Scanner,
    repo: &Repository,
    label: &str,
    options: &HistoryOptions,
    diag: &Diagnostics,
    stats: &ScanStats,
) -> Result<Vec<Finding>, GitError> {
    if repo.is_shallow() {
        diag.note(format!(
            "{label}: shallow clone: the history is cut, only the commits present are scanned"
        ));
    }
    let enumeration = enumerate::enumerate(repo, label, &options.selection, diag)?;
    stats
        .commits
        .fetch_add(enumeration.commits.len() as u64, Ordering::Relaxed);
    if !enumeration.submodules.is_empty() {
        diag.note(format!(
            "{label}: submodules are not scanned (scan each on its own): {}",
            enumeration.submodules.join(", ")
        ));
    }
    let bar = crate::progress::items_bar(diag.quiet(), enumeration.blobs.len() as u64, "blobs");
    diag.set_progress(bar.clone());
    let found: Mutex<Vec<Finding>> = Mutex::new(Vec::new());
    let lfs_pointers = std::sync::atomic::AtomicU64::new(0);
    let git_dir = repo.path().to_path_buf();
    enumeration.blobs.par_iter().for_each_init(
        || Repository::open(&git_dir).ok(),
        |worker_repo, (oid, intro)| {
            let Some(worker_repo) = worker_repo.as_ref() else {
                return;
            };
            let path = &enumeration.paths[intro.path as usize];
            if let Some(exclude) = &options.exclude
                && exclude.is_match(path.as_str())
            {
                return;
            }
            match scan_blob(scanner, worker_repo, *oid, path, options, stats) {
                Ok(BlobOutcome::Findings(mut findings)) => {
                    for finding in &mut findings {
                        finding.repository = Some(label.to_string());
                        finding.git = Some(provenance(&enumeration, *oid, intro));
                    }
                    if !findings.is_empty() {
                        found.lock().unwrap_or_else(|p| p.into_inner()).extend(findings);
                    }
                }
                Ok(BlobOutcome::LfsPointer) => {
                    lfs_pointers.fetch_add(1, Ordering::Relaxed);
                }
                Ok(BlobOutcome::TooLarge(size)) => diag.note(format!(
                    "{label}: blob {oid} ({path}) skipped, {} is over --max-file-size",
                    bytesize::ByteSize(size).display().iec()
                )),
                Err(err) => diag.warn(format!("{label}: cannot read blob {oid} ({path}): {}", err.message())),
            }
            if let Some(bar) = &bar {
                bar.inc(1);
                if bar.position() % 256 == 0 {
                    let bytes = ScanStats::get(&stats.bytes);
                    let rate = bytes as f64 / bar.elapsed().as_secs_f64().max(0.001);
                    bar.set_message(format!(
                        "{} ({}/s)",
                        bytesize::ByteSize(bytes).display().iec(),
                        bytesize::ByteSize(rate as u64).display().iec()
                    ));
                }
            }
        },
    );
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    diag.set_progress(None);
    let pointers = lfs_pointers.load(Ordering::Relaxed);
    if pointers > 0 {
        diag.note(format!(
            "{label}: {pointers} git LFS pointer file(s) skipped: the files they point to are not stored in git"
        ));
    }
    let mut findings = found.into_inner().unwrap_or_else(|p| p.into_inner());
    fill_commit_details(repo, &mut findings, diag, label);
    if !findings.is_empty() {
        findings = collapse_versions(findings, &enumeration);
        // Every (commit, path) holding a flagged blob: counted always, listed with --all-commits.
        let flagged: Vec<Oid> = findings
            .iter()
            .filter_map(|f| f.git.as_ref())
            .flat_map(|g| std::iter::once(g.blob.as_str()).chain(g.later_blobs.iter().map(String::as_str)))
            .filter_map(|blob| Oid::from_str(blob).ok())
            .collect();
        let places = enumerate::all_occurrences(repo, &enumeration, &flagged, diag, label);
        for finding in &mut findings {
            let Some(git) = finding.git.as_mut() else { continue };
            let mut list: Vec<crate::finding::Occurrence> = std::iter::once(&git.blob)
                .chain(&git.later_blobs)
                .filter_map(|blob| Oid::from_str(blob).ok())
                .filter_map(|oid| places.get(&oid))
                .flatten()
                .cloned()
                .collect();
            list.sort_by(|a, b| (&a.commit, &a.path).cmp(&(&b.commit, &b.path)));
            list.dedup();
            git.other_occurrences = list.len().saturating_sub(1);
            if options.all_commits {
                git.occurrences = list;
            }
        }
    }
    crate::source::fs::sort_findings(&mut findings);
    Ok(findings)
}

/// What became of one blob.
pub(crate) enum BlobOutcome {
    Findings(Vec<Finding>),
    LfsPointer,
    TooLarge(u64),
}

pub(crate) fn scan_blob(
    scanner: &Scanner,
    repo: &Repository,
    oid: Oid,
    path: &str,
    options: &HistoryOptions,
    stats: &ScanStats,
) -> Result<BlobOutcome, git2::Error> {
    let odb = repo.odb()?;
    let (size, _) = odb.read_header(oid)?;
    if size as u64 > options.max_file_size {
        stats.skipped_large.fetch_add(1, Ordering::Relaxed);
        return Ok(BlobOutcome::TooLarge(size as u64));
    }
    let blob = repo.find_blob(oid)?;
    let content = blob.content();
    stats.add_item(content.len() as u64);
    if content.len() <= LFS_POINTER_MAX_LEN && content.starts_with(LFS_POINTER_PREFIX) {
        return Ok(BlobOutcome::LfsPointer);
    }
    let inspection = inspect(scanner, content, path, options.binary);
    stats.record(&inspection);
    Ok(BlobOutcome::Findings(inspection.findings))
}

/// One leak, one finding: a secret that stays in a file across many edits sits in many blob versions. Findings
/// with the same secret (fingerprint) at the same path are collapsed into the one from the earliest commit; the
/// later versions are remembered for counting occurrences.
fn collapse_versions(findings: Vec<Finding>, enumeration: &Enumeration) -> Vec<Finding> {
    let order: std::collections::HashMap<String, usize> = enumeration
        .commits
        .iter()
        .enumerate()
        .map(|(index, oid)| (oid.to_string(), index))
        .collect();
    let rank = |f: &Finding| {
        f.git
            .as_ref()
            .and_then(|g| order.get(&g.commit))
            .copied()
            .unwrap_or(usize::MAX)
    };
    let mut findings = findings;
    findings.sort_by(|a, b| {
        (&a.fingerprint, &a.path, rank(a), a.location).cmp(&(&b.fingerprint, &b.path, rank(b), b.location))
    });
    let mut kept: Vec<Finding> = Vec::with_capacity(findings.len());
    for finding in findings {
        match kept.last_mut() {
            Some(first) if first.fingerprint == finding.fingerprint && first.path == finding.path => {
                if let (Some(first_git), Some(git)) = (first.git.as_mut(), finding.git)
                    && git.blob != first_git.blob
                    && !first_git.later_blobs.contains(&git.blob)
                {
                    first_git.later_blobs.push(git.blob);
                }
            }
            _ => kept.push(finding),
        }
    }
    kept
}

/// Provenance with the commit id filled in; author fields come later, once per flagged commit.
fn provenance(enumeration: &Enumeration, oid: Oid, intro: &BlobIntro) -> GitProvenance {
    GitProvenance {
        commit: enumeration.commits[intro.commit as usize].to_string(),
        author_name: String::new(),
        author_email: String::new(),
        date: String::new(),
        summary: String::new(),
        blob: oid.to_string(),
        other_occurrences: 0,
        occurrences: Vec::new(),
        later_blobs: Vec::new(),
    }
}

/// Looks up author, date and summary, once per finding (only flagged blobs get here).
fn fill_commit_details(repo: &Repository, findings: &mut [Finding], diag: &Diagnostics, label: &str) {
    for finding in findings {
        let Some(git) = finding.git.as_mut() else { continue };
        let commit = Oid::from_str(&git.commit).and_then(|oid| repo.find_commit(oid));
        match commit {
            Ok(commit) => {
                let author = commit.author();
                git.author_name = String::from_utf8_lossy(author.name_bytes()).into_owned();
                git.author_email = String::from_utf8_lossy(author.email_bytes()).into_owned();
                git.date = format_git_time(author.when());
                git.summary = commit
                    .summary_bytes()
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .unwrap_or_default();
            }
            Err(err) => diag.warn(format!("{label}: cannot read commit {}: {}", git.commit, err.message())),
        }
    }
}

/// A git timestamp as RFC 3339 in the author's own offset.
pub fn format_git_time(when: git2::Time) -> String {
    let offset = time::UtcOffset::from_whole_seconds(when.offset_minutes() * 60).unwrap_or(time::UtcOffset::UTC);
    time::OffsetDateTime::from_unix_timestamp(when.seconds())
        .map(|t| t.to_offset(offset))
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| when.seconds().to_string())
}

/// Converts an occurrence list entry.
pub(crate) fn occurrence(commit: Oid, path: String) -> Occurrence {
    Occurrence {
        commit: commit.to_string(),
        path,
    }
}
