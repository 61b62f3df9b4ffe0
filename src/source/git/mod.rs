//! The git source: every blob reachable from the chosen refs (or introduced by a commit range), each scanned
//! once, in parallel; the staged index for pre-commit.
//!
//! Blobs are enumerated by walking commits parents-first and each commit's tree, skipping trees already seen:
//! a blob's first sighting is the commit and path that introduced it. No patches are generated. Only blobs that
//! hold a finding get their provenance (author, date, summary) looked up.

mod alloc_ceiling;
mod blob_index;
mod commits;
mod enumerate;
mod git_files;
mod last_trees;
pub mod messages;
pub mod mirror;
pub mod objects;
mod occurrences;
mod oid_map;
mod other_repos;
mod paths;
mod range_allows;
mod staged;
mod staged_index;
pub mod tree_files;
mod tree_graph;
mod unreachable;
#[cfg(test)]
mod vendored_libgit2;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use git2::{Oid, Repository};

use crate::counts::{Counts, ErrorKind, ScanError};
use crate::diag::Diagnostics;
use crate::finding::{Finding, GitProvenance, Occurrence};
use crate::scan::Scanner;

pub use enumerate::{BlobIntro, Enumeration, NO_COMMIT, Selection, UNREACHABLE_BLOB_PATH};
use objects::{LooseObjects, Objects};
pub use other_repos::{OtherObjects, other_object_dirs};
pub use staged::scan_staged;

/// The first line of a git LFS pointer file.
const LFS_POINTER_VERSION: &[u8] = b"version https://git-lfs.github.com/spec/v1";
/// LFS pointer files are tiny; larger blobs are never pointers.
const LFS_POINTER_MAX_LEN: usize = 1024;

/// Problems that stop a history scan of one repository.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("{path} is not a git repository (or any parent of it): {message}")]
    NotARepository { path: PathBuf, message: String },
    #[error("{repo}: cannot resolve `{rev}`: {message}")]
    BadRevision { repo: String, rev: String, message: String },
    /// A range whose commits go past a shallow clone's cut: which commits it adds cannot be told.
    #[error(
        "{repo}: the range's history is cut short by a shallow clone at commit {commit}, so what the range adds \
         cannot be told: fetch the history first (`git fetch --unshallow`, or `fetch-depth: 0` for actions/checkout)"
    )]
    CutRange { repo: String, commit: String },
    #[error("{repo}: {message}")]
    Git { repo: String, message: String },
    #[error("{0}: the repository is not opened")]
    UnsafeFile(crate::input::InputError),
}

impl GitError {
    /// A libgit2 failure while scanning the repository labelled `repo`.
    pub fn git(repo: &str) -> impl Fn(git2::Error) -> GitError + Copy + '_ {
        move |e| GitError::Git {
            repo: repo.to_string(),
            message: e.message().to_string(),
        }
    }

    /// `rev` names nothing in `repo` (labelled `label`). In a shallow clone (a CI checkout's default) the
    /// revision is most likely before the cut, so the message says how to fetch it.
    pub fn unresolved(repo: &Repository, label: &str, rev: &str, error: &git2::Error) -> GitError {
        let mut message = error.message().to_string();
        if error.code() == git2::ErrorCode::NotFound && repo.is_shallow() {
            message.push_str(
                "; the repository is a shallow clone, which may not hold it: fetch the history first \
                 (`git fetch --unshallow`, or `fetch-depth: 0` for actions/checkout)",
            );
        }
        GitError::BadRevision {
            repo: label.to_string(),
            rev: rev.to_string(),
            message,
        }
    }
}

/// Options for one history scan.
#[derive(Debug, Clone)]
pub struct HistoryOptions {
    pub selection: Selection,
    /// List every (commit, path) where a flagged blob appears, not just the first.
    pub all_commits: bool,
    /// Also scan what no ref reaches: reflogs, then every other object in the object database (with
    /// [`Selection::All`] only).
    pub all_objects: bool,
    pub max_file_size: u64,
    /// Binary policy, decoding and archives.
    pub content: crate::content::Options,
    pub exclude: Option<globset::GlobSet>,
    /// Read every blob as a scan would, but match nothing: the floor a history scan's matching is measured
    /// against (`--bench-read-only`, for the benchmark script).
    pub read_only: bool,
}

/// Opens the repository at or above `path` (working trees, worktrees and bare repositories).
///
/// Objects are not re-hashed on read: a scanner only reads, and a quarter of a history scan went into SHA-1.
/// Damaged objects still fail to inflate and are reported.
pub fn open(path: &Path) -> Result<Repository, GitError> {
    set_read_only_options();
    let not_a_repository = |e: git2::Error| GitError::NotARepository {
        path: path.to_path_buf(),
        message: e.message().to_string(),
    };
    // What libgit2 reads to find and open the repository is checked first (see `git_files`): `discover` is
    // `discover_path` then `open`, with the check between them.
    git_files::check_global_configs().map_err(GitError::UnsafeFile)?;
    git_files::check_before_discovery(path).map_err(GitError::UnsafeFile)?;
    let git_dir = Repository::discover_path(path, std::iter::empty::<&std::ffi::OsStr>()).map_err(not_a_repository)?;
    git_files::check_repository(&git_dir, &git_files::Overrides::default()).map_err(GitError::UnsafeFile)?;
    Repository::open(&git_dir).map_err(not_a_repository)
}

/// Opens the repository as git describes it to a hook it runs: `GIT_DIR`, `GIT_WORK_TREE`, `GIT_INDEX_FILE`
/// (`git commit -a` and `git commit PATH` build the commit in a temporary index named there),
/// `GIT_OBJECT_DIRECTORY`; without them, the repository at or above the current directory, as [`open`].
/// `here` only names the current directory in an error.
pub fn open_from_env(here: &Path) -> Result<Repository, GitError> {
    set_read_only_options();
    git_files::check_global_configs().map_err(GitError::UnsafeFile)?;
    let git_dir = match std::env::var_os("GIT_DIR").filter(|dir| !dir.is_empty()) {
        Some(dir) => Some(PathBuf::from(dir)),
        None => {
            git_files::check_before_discovery(Path::new(".")).map_err(GitError::UnsafeFile)?;
            let ceilings = std::env::var_os("GIT_CEILING_DIRECTORIES").unwrap_or_default();
            // Where this finds nothing, neither will libgit2, which then says so.
            Repository::discover_path(".", std::env::split_paths(&ceilings)).ok()
        }
    };
    if let Some(git_dir) = git_dir {
        git_files::check_repository(&git_dir, &git_files::Overrides::from_env()).map_err(GitError::UnsafeFile)?;
    }
    Repository::open_from_env().map_err(|e| GitError::NotARepository {
        path: std::env::var_os("GIT_DIR").map_or_else(|| here.to_path_buf(), PathBuf::from),
        message: e.message().to_string(),
    })
}

/// Lets libgit2 open repositories owned by other users (it refuses them by default, as git's `safe.directory`
/// does). That check exists because git runs programs a repository's config names (hooks, `core.fsmonitor`,
/// filter drivers, `core.sshCommand`): a repository of another user could run code as you. keyhound, through
/// libgit2, only reads objects, refs and the index: libgit2 runs no hook, filter or fsmonitor, and this build has
/// no network transports. The one program keyhound may run, `git ls-files` for an index libgit2 cannot read,
/// keeps git's own check (see `staged_index`).
///
/// libgit2 keeps this option in a global without a lock: call it before any thread that uses libgit2 starts.
pub fn open_repositories_of_other_owners() {
    // SAFETY: called once, from `command::main`, before the command starts any thread, so nothing else reads or
    // writes libgit2's options meanwhile.
    let _ = unsafe { git2::opts::set_verify_owner_validation(false) };
}

/// Process-wide libgit2 options for a reader.
fn set_read_only_options() {
    // keyhound never writes objects, so verification buys nothing.
    git2::opts::strict_hash_verification(false);
    // libgit2's object cache keeps every small tree and commit read (up to 256 MiB a repository handle), for
    // reads that a history scan never repeats: each tree is walked once, and later lookups are memoised here.
    git2::opts::enable_caching(false);
}

/// The largest tree libgit2's object cache keeps during a staged scan (its default is 4 KiB, about 100 entries).
const MAX_CACHED_TREE: usize = 4 << 20;

/// For a staged scan, which reads `HEAD`'s trees twice (once checked through [`Objects`], then in libgit2's
/// diff against the index): libgit2's object cache on, for trees of up to [`MAX_CACHED_TREE`], so the diff finds
/// each tree in memory instead of inflating it again. The cache stays bounded by libgit2's own total (256 MiB).
/// Called on the scanning thread, while no other thread uses libgit2.
fn cache_trees() {
    git2::opts::enable_caching(true);
    // SAFETY: libgit2 keeps this limit in a global without a lock; a staged scan runs on the calling thread, and
    // no other thread reads libgit2's options meanwhile.
    let _ = unsafe { git2::opts::set_cache_object_limit(git2::ObjectType::Tree, MAX_CACHED_TREE) };
}

/// Opens the repository at `git_dir` again, with pack files of its own.
///
/// libgit2 shares one in-memory pack file (its index, its lock and its 16 MiB cache of delta bases) between
/// every handle in the process that names the pack by the same path. Two threads that read different parts of
/// the history through it wait on each other's locks and evict each other's cached bases. Naming the object
/// directory through a `.` component gives a handle its own. Memory grows only by the pages it reads.
///
/// `git_dir` is the directory of a repository [`open`] or [`open_from_env`] opened: its files were checked then.
pub(crate) fn open_with_own_packs(git_dir: &Path) -> Result<Repository, git2::Error> {
    let repo = Repository::open(git_dir)?;
    let objects = repo.commondir().join("objects").join(".");
    let odb = git2::Odb::new()?;
    let objects = objects
        .to_str()
        .ok_or_else(|| git2::Error::from_str("the object directory's path is not UTF-8"))?;
    odb.add_disk_alternate(objects)?;
    repo.set_odb(&odb)?;
    Ok(repo)
}

/// A scanned repository, as SARIF's `versionControlProvenance` wants it (re-exported by [`crate::report`], which
/// reads it).
#[derive(Debug, Clone, Default)]
pub struct RepositoryInfo {
    pub uri: Option<String>,
    pub revision: Option<String>,
    pub branch: Option<String>,
    /// The repository's working tree is the report's `%SRCROOT%`.
    pub workdir_is_root: bool,
    /// How findings name the repository (`repository` of a finding).
    pub label: String,
    /// Object directories of other repositories read as this one's (alternates, a `.git` file).
    pub other_objects: Vec<OtherObjects>,
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
        label: String::new(),
        other_objects: Vec::new(),
    }
}

/// Scans the history of `repo` (labelled `label` in findings) and returns its findings and counts: every
/// selected blob, and the messages of the selected commits and annotated tags.
pub fn scan_history(
    scanner: &Scanner,
    repo: &Repository,
    label: &str,
    options: &HistoryOptions,
    diag: &Diagnostics,
) -> Result<(Vec<Finding>, Counts), GitError> {
    let loose = LooseObjects::list(repo);
    let objects = Objects::new(repo, &loose);
    let mut counts = Counts::default();
    let git_dir = repo.path().to_path_buf();
    let job = Job {
        scanner,
        loose: &loose,
        options,
        diag,
        label,
        held_excluded: Default::default(),
    };
    // The messages of the commits the refs reach are scanned as the commits are read for the walk.
    let (enumeration, mut message_findings) = enumerate::enumerate(
        &objects,
        label,
        &options.selection,
        options
            .all_objects
            .then_some(&|walker, references, walked, diag, counts| {
                unreachable::add(walker, references, walked, diag, counts).to_string()
            }),
        diag,
        &mut counts,
        &|commit, counts| messages::scan_message_of(scanner, commit, options, counts),
    )?;
    counts.commits += enumeration.commits.len() as u64;
    give_back_freed_memory();
    if !enumeration.submodules.is_empty() {
        diag.note(format!(
            "{label}: submodules are not scanned (scan each on its own): {}",
            enumeration.submodules.join(", ")
        ));
    }
    let bar = diag.show_progress(crate::progress::items_bar(
        diag.quiet(),
        enumeration.blobs.len() as u64,
        "blobs",
    ));
    // Bytes done, for the progress bar only: the counts are values added up below.
    let shown_bytes = AtomicU64::new(0);
    let (mut findings, blob_counts) =
        in_order_on_every_thread(&git_dir, &enumeration.blobs, |worker, _, (oid, intro)| {
            let before = worker.counts.bytes;
            job.blob(worker, &enumeration, *oid, intro);
            if let Some(bar) = &bar {
                let bytes = shown_bytes.fetch_add(worker.counts.bytes - before, Ordering::Relaxed);
                bar.inc(1);
                if bar.position() % 256 == 0 {
                    let rate = bytes as f64 / bar.elapsed().as_secs_f64().max(0.001);
                    bar.set_message(format!(
                        "{} ({}/s)",
                        bytesize::ByteSize(bytes).display().iec(),
                        bytesize::ByteSize(rate as u64).display().iec()
                    ));
                }
            }
        });
    counts.add(blob_counts);
    let held = std::mem::take(
        &mut *job
            .held_excluded
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()),
    );
    findings.extend(place_excluded_findings(
        &objects,
        &enumeration,
        held,
        options,
        &mut counts,
    ));
    findings.append(&mut message_findings);
    // With `--all-objects`, the messages of the commits only a reflog or nothing reaches.
    let done = enumeration.reachable_commits;
    let rest = &enumeration.commits[done..];
    let (message_findings, message_counts) = in_order_on_every_thread(&git_dir, rest, |worker, at, commit| {
        job.commit_message(worker, *commit, enumeration.commit_reach(done + at));
    });
    findings.extend(message_findings);
    counts.add(message_counts);
    findings.extend(messages::scan_tag_messages(
        scanner,
        &objects,
        &enumeration,
        label,
        options,
        diag,
        &mut counts,
    ));
    diag.end_progress(bar);
    if counts.lfs_pointers > 0 {
        diag.note(format!(
            "{label}: {} git LFS pointer file(s) skipped: the files they point to are not stored in git",
            counts.lfs_pointers
        ));
    }
    if options.content.keep_allowed
        && let Selection::Range { hide, .. } = &options.selection
    {
        // Markers the range adds stay on their findings, reported; those the base already had are honoured.
        let base = range_allows::Base {
            repo,
            objects: &objects,
            rev: hide,
        };
        findings = range_allows::honour_base_markers(scanner, &base, findings, options, &mut counts, diag, label);
    }
    for finding in &mut findings {
        finding.repository = Some(label.to_string());
    }
    fill_commit_details(&objects, &mut findings, diag, label);
    if !findings.is_empty() {
        findings = collapse_versions(findings, &enumeration);
        count_occurrences(&objects, &enumeration, &mut findings, options);
    }
    crate::source::fs::sort_findings(&mut findings);
    Ok((findings, counts))
}

/// Returns to the system the memory that the walk's tables held (its blob and tree lookups): glibc keeps freed
/// memory inside its heap otherwise, and the pack files that the scan maps next would come on top of it (on
/// cargo's history, 15 MB of the peak).
fn give_back_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory; it takes no pointer.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Runs `each` on every item (with its index) on every thread of the pool at once, each thread with its own
/// [`Worker`]. The threads take the items in order, a few at a time, so they work close together: in path
/// order, on the same files' versions, whose delta bases libgit2's one cache per pack file then serves to all
/// of them (split into halves, as `par_iter` does, each thread's reads evict the other's).
fn in_order_on_every_thread<T: Sync>(
    git_dir: &Path,
    items: &[T],
    each: impl Fn(&mut Worker, usize, &T) + Sync,
) -> (Vec<Finding>, Counts) {
    const TAKEN_AT_ONCE: usize = 64;
    if items.is_empty() {
        return Default::default();
    }
    let next = AtomicUsize::new(0);
    rayon::broadcast(|_| {
        let mut worker = Worker::open(git_dir);
        loop {
            let start = next.fetch_add(TAKEN_AT_ONCE, Ordering::Relaxed);
            if start >= items.len() {
                break;
            }
            let end = (start + TAKEN_AT_ONCE).min(items.len());
            for (offset, item) in items[start..end].iter().enumerate() {
                each(&mut worker, start + offset, item);
            }
        }
        worker.finish()
    })
    .into_iter()
    .fold(Default::default(), merge)
}

/// The findings of blobs whose introducing path is excluded, moved to the earliest (commit, path) place that
/// is not: a blob is excluded only when every place that holds it is. Each blob excluded everywhere counts once.
fn place_excluded_findings(
    objects: &Objects<'_>,
    enumeration: &Enumeration,
    held: Vec<(Oid, Vec<Finding>)>,
    options: &HistoryOptions,
    counts: &mut Counts,
) -> Vec<Finding> {
    let Some(exclude) = &options.exclude else {
        return held.into_iter().flat_map(|(_, findings)| findings).collect();
    };
    if held.is_empty() {
        return Vec::new();
    }
    let blobs: Vec<Oid> = held.iter().map(|(oid, _)| *oid).collect();
    let places = occurrences::all_occurrences(objects, enumeration, &blobs);
    let commit_index: HashMap<String, usize> = enumeration
        .commits
        .iter()
        .enumerate()
        .map(|(index, oid)| (oid.to_string(), index))
        .collect();
    let mut kept = Vec::new();
    for (oid, findings) in held {
        let place = places
            .get(&oid)
            .into_iter()
            .flatten()
            .filter(|place| !exclude.is_match(&place.path))
            .filter_map(|place| Some((*commit_index.get(&place.commit)?, place)))
            .min_by(|(a, a_place), (b, b_place)| (a, &a_place.path).cmp(&(b, &b_place.path)));
        let Some((index, place)) = place else {
            counts.excluded += 1;
            continue;
        };
        let (unreachable, reflog) = enumeration.commit_reach(index);
        kept.extend(findings.into_iter().map(|mut finding| {
            finding.path = place.path.clone();
            if let Some(git) = finding.git.as_mut() {
                git.commit = place.commit.clone();
                git.reference = None;
                git.unreachable = unreachable;
                git.reflog = reflog.map(str::to_string);
            }
            finding
        }));
    }
    kept
}

/// Adds up two workers' findings and counts.
fn merge(mut a: (Vec<Finding>, Counts), b: (Vec<Finding>, Counts)) -> (Vec<Finding>, Counts) {
    a.0.extend(b.0);
    a.1.add(b.1);
    a
}

/// What every worker of one history scan shares.
struct Job<'a> {
    scanner: &'a Scanner,
    loose: &'a LooseObjects,
    options: &'a HistoryOptions,
    diag: &'a Diagnostics,
    label: &'a str,
    /// Findings in blobs introduced at an excluded path, by blob, until their other places are known.
    held_excluded: std::sync::Mutex<Vec<(Oid, Vec<Finding>)>>,
}

/// `finding` with its git provenance.
fn with_git(mut finding: Finding, git: &GitProvenance) -> Finding {
    finding.git = Some(git.clone());
    finding
}

/// One rayon job's repository handle (libgit2 handles are not shared between threads), findings and counts.
struct Worker {
    repo: Result<Repository, String>,
    found: Vec<Finding>,
    counts: Counts,
}

impl Worker {
    /// A worker sharing the process's pack files (see [`open_with_own_packs`]); `git_dir` is the directory of a
    /// repository already opened, whose files were checked then.
    fn open(git_dir: &Path) -> Worker {
        Worker {
            repo: Repository::open(git_dir).map_err(|e| format!("cannot open the repository again: {}", e.message())),
            found: Vec::new(),
            counts: Counts::default(),
        }
    }

    fn finish(self) -> (Vec<Finding>, Counts) {
        (self.found, self.counts)
    }
}

impl Job<'_> {
    fn blob(&self, worker: &mut Worker, enumeration: &Enumeration, oid: Oid, intro: &BlobIntro) {
        let path = enumeration.paths.get(intro.path());
        // The path that introduced the blob is excluded, but the same blob may sit at other paths too (the same
        // key file as `docs/example.env` and `src/prod.env`): it is scanned, and its findings wait for
        // `place_excluded_findings` to look for a place that is not excluded.
        let excluded_here = self
            .options
            .exclude
            .as_ref()
            .is_some_and(|exclude| exclude.is_match(path));
        let outcome = match &worker.repo {
            Ok(repo) => scan_blob(
                self.scanner,
                &Objects::new(repo, self.loose),
                oid,
                path,
                self.options,
                &mut worker.counts,
                self.diag,
                self.label,
            ),
            Err(message) => Err(message.clone()),
        };
        match outcome {
            Ok(BlobOutcome::Findings(findings)) if excluded_here => {
                if findings.is_empty() {
                    worker.counts.excluded += 1;
                } else {
                    let git = provenance(enumeration, oid, intro);
                    let mut held = self
                        .held_excluded
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    held.push((oid, findings.into_iter().map(|f| with_git(f, &git)).collect()));
                }
            }
            Ok(BlobOutcome::Findings(findings)) => {
                let git = provenance(enumeration, oid, intro);
                worker.found.extend(findings.into_iter().map(|f| with_git(f, &git)));
            }
            Ok(BlobOutcome::LfsPointer) => {}
            // Only at an excluded path (as far as the walk knows): not a part of the scan that was missed.
            Ok(BlobOutcome::TooLarge(_)) if excluded_here => worker.counts.excluded += 1,
            Ok(BlobOutcome::TooLarge(size)) => {
                let reason =
                    crate::counts::over_max_file_size(crate::counts::Oversize::Of(size), self.options.max_file_size);
                let error = ScanError::new(ErrorKind::Blob, format!("{oid} ({path})"), reason);
                worker.counts.fail(self.diag, error.in_repository(self.label));
            }
            Err(reason) => {
                let error = ScanError::new(ErrorKind::Blob, format!("{oid} ({path})"), reason);
                worker.counts.fail(self.diag, error.in_repository(self.label));
            }
        }
    }

    /// Scans a commit's message; `reach` is whether no ref reaches the commit, and the reflog that does.
    fn commit_message(&self, worker: &mut Worker, commit: Oid, reach: (bool, Option<&str>)) {
        let outcome = match &worker.repo {
            Ok(repo) => messages::scan_commit_message(
                self.scanner,
                &Objects::new(repo, self.loose),
                commit,
                self.options,
                &mut worker.counts,
            ),
            Err(message) => Err(message.clone()),
        };
        let (unreachable, reflog) = reach;
        match outcome {
            Ok(findings) => worker.found.extend(findings.into_iter().map(|mut finding| {
                if let Some(git) = finding.git.as_mut() {
                    git.unreachable = unreachable;
                    git.reflog = reflog.map(str::to_string);
                }
                finding
            })),
            Err(reason) => {
                let error = ScanError::new(ErrorKind::Commit, format!("{commit} (message)"), reason);
                worker.counts.fail(self.diag, error.in_repository(self.label));
            }
        }
    }
}

/// Fills `other_occurrences` (and, with `--all-commits`, `occurrences`): every (commit, path) place holding a
/// flagged blob, or every commit whose message holds the secret.
fn count_occurrences(
    objects: &Objects<'_>,
    enumeration: &Enumeration,
    findings: &mut [Finding],
    options: &HistoryOptions,
) {
    let versions = |git: &GitProvenance| -> Vec<Oid> {
        std::iter::once(&git.blob)
            .chain(&git.later_blobs)
            .filter_map(|blob| Oid::from_str(blob).ok())
            .collect()
    };
    let flagged: Vec<Oid> = findings
        .iter()
        .filter(|f| !messages::is_message_path(&f.path))
        .filter_map(|f| f.git.as_ref())
        .flat_map(versions)
        .collect();
    if !options.all_commits {
        // Only how many: no list of every place is built, and no tree is read again.
        let counts = place_counts(objects, enumeration, &flagged);
        for finding in findings {
            let is_message = messages::is_message_path(&finding.path);
            let Some(git) = finding.git.as_mut() else { continue };
            let mut blobs = versions(git);
            blobs.sort();
            blobs.dedup();
            // A message's "versions" are the commits (or tags) whose messages hold the same secret; a file's are
            // its blobs, each at every (commit, path) that holds it.
            let places: u64 = if is_message {
                blobs.len() as u64
            } else {
                blobs.iter().filter_map(|blob| counts.get(blob)).sum()
            };
            let places = usize::try_from(places).unwrap_or(usize::MAX);
            git.other_occurrences = places.saturating_sub(1).saturating_add(git.other_lines.len());
        }
        return;
    }
    let places = occurrences::all_occurrences(objects, enumeration, &flagged);
    for finding in findings {
        let is_message = messages::is_message_path(&finding.path);
        let Some(git) = finding.git.as_mut() else { continue };
        let mut list: Vec<Occurrence> = if is_message {
            // A message's "versions" are the commits (or tags) whose messages hold the same secret.
            versions(git)
                .into_iter()
                .map(|oid| occurrence(oid, finding.path.clone()))
                .collect()
        } else {
            versions(git)
                .into_iter()
                .filter_map(|oid| places.get(&oid))
                .flatten()
                .cloned()
                .collect()
        };
        list.sort_by(|a, b| (&a.commit, &a.path).cmp(&(&b.commit, &b.path)));
        list.dedup();
        git.other_occurrences = list.len().saturating_sub(1) + git.other_lines.len();
        git.occurrences = list;
    }
}

/// How many (commit, path) places hold each of `flagged`: from the tree graph the walk kept, or, should it
/// have overflowed (billions of tree entries), by listing them.
fn place_counts(objects: &Objects<'_>, enumeration: &Enumeration, flagged: &[Oid]) -> HashMap<Oid, u64> {
    let flagged_set: HashSet<Oid> = flagged.iter().copied().collect();
    let (positions, oids): (Vec<u32>, Vec<Oid>) = enumeration
        .blobs
        .iter()
        .enumerate()
        .filter(|(_, (oid, _))| flagged_set.contains(oid))
        .map(|(position, (oid, _))| (position as u32, *oid))
        .unzip();
    let Some(counts) = enumeration.trees.place_counts(&positions) else {
        let places = occurrences::all_occurrences(objects, enumeration, flagged);
        return places.into_iter().map(|(oid, list)| (oid, list.len() as u64)).collect();
    };
    oids.into_iter().zip(counts).collect()
}

/// What became of one blob.
pub(crate) enum BlobOutcome {
    Findings(Vec<Finding>),
    LfsPointer,
    TooLarge(u64),
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn scan_blob(
    scanner: &Scanner,
    objects: &Objects<'_>,
    oid: Oid,
    path: &str,
    options: &HistoryOptions,
    counts: &mut Counts,
    diag: &Diagnostics,
    label: &str,
) -> Result<BlobOutcome, String> {
    match read_blob(objects, oid, options)? {
        Ok(blob) => Ok(scan_content(scanner, blob.bytes(), path, options, counts, diag, label)),
        Err(size) => {
            counts.too_large += 1;
            Ok(BlobOutcome::TooLarge(size))
        }
    }
}

/// A blob's content, or `Err(size)` when it is over `--max-file-size` (see [`Objects::blob_at_most`]).
pub(crate) fn read_blob<'r>(
    objects: &Objects<'r>,
    oid: Oid,
    options: &HistoryOptions,
) -> Result<Result<objects::BlobBytes<'r>, u64>, String> {
    objects.blob_at_most(oid, options.max_file_size).map_err(|e| e.message)
}

/// Scans a blob's content (LFS pointers are passed over), counting it.
pub(crate) fn scan_content(
    scanner: &Scanner,
    content: &[u8],
    path: &str,
    options: &HistoryOptions,
    counts: &mut Counts,
    diag: &Diagnostics,
    label: &str,
) -> BlobOutcome {
    if is_lfs_pointer(content) {
        counts.lfs_pointers += 1;
        return BlobOutcome::LfsPointer;
    }
    if options.read_only {
        counts.items += 1;
        counts.bytes += content.len() as u64;
        return BlobOutcome::Findings(Vec::new());
    }
    let findings = crate::content::scan(scanner, content, path, &options.content, counts, diag, Some(label));
    BlobOutcome::Findings(findings)
}

/// Is `content` a whole git LFS pointer file, and nothing else? The format (git-lfs `docs/spec.md`): the
/// `version` line first, then `key value` lines with keys of `[a-z0-9.-]` in sorted order, among them
/// `oid sha256:<64 hex>` and `size <digits>`, each line ending in `\n`. Anything more (a key after the version
/// line, say) is content to scan.
pub fn is_lfs_pointer(content: &[u8]) -> bool {
    if content.len() > LFS_POINTER_MAX_LEN || !content.ends_with(b"\n") {
        return false;
    }
    let Ok(text) = std::str::from_utf8(&content[..content.len() - 1]) else {
        return false;
    };
    let mut lines = text.split('\n');
    if lines.next().map(str::as_bytes) != Some(LFS_POINTER_VERSION) {
        return false;
    }
    let (mut oid, mut size) = (false, false);
    let mut previous = "";
    for line in lines {
        let Some((key, value)) = line.split_once(' ') else {
            return false;
        };
        let key_ok = !key.is_empty()
            && key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
        if !key_ok || key <= previous {
            return false;
        }
        previous = key;
        match key {
            "oid" => {
                let hex = value.strip_prefix("sha256:").unwrap_or_default();
                oid = hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
                if !oid {
                    return false;
                }
            }
            "size" => {
                size = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
                if !size {
                    return false;
                }
            }
            // Extensions: `ext-<n>-<name> sha256:<hex>`.
            key if key.starts_with("ext-") => {
                let hex = value.strip_prefix("sha256:").unwrap_or_default();
                if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return false;
                }
            }
            _ => return false,
        }
    }
    oid && size
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
                if let (Some(first_git), Some(git)) = (first.git.as_mut(), finding.git) {
                    if git.blob == first_git.blob {
                        // The same secret on another line of the same file.
                        if first.location.line != finding.location.line
                            && !first_git.other_lines.contains(&finding.location.line)
                        {
                            first_git.other_lines.push(finding.location.line);
                        }
                    } else if !first_git.later_blobs.contains(&git.blob) {
                        first_git.later_blobs.push(git.blob);
                    }
                }
            }
            _ => kept.push(finding),
        }
    }
    kept
}

/// Provenance with the commit id filled in; author fields come later, once per flagged commit.
fn provenance(enumeration: &Enumeration, oid: Oid, intro: &BlobIntro) -> GitProvenance {
    let path = enumeration.paths.get(intro.path());
    let commit = enumeration.commit_of(intro);
    GitProvenance {
        commit: commit.map(|c| c.to_string()).unwrap_or_default(),
        blob: oid.to_string(),
        // A blob no commit holds is named by the ref that reaches it: the path starts with the ref's name.
        reference: (commit.is_none() && !intro.unreachable())
            .then(|| path.split(':').next().unwrap_or(path).to_string()),
        unreachable: intro.unreachable(),
        reflog: enumeration.reflogs.get(&intro.commit()).cloned(),
        ..GitProvenance::default()
    }
}

/// Looks up author, date and summary, once per finding (only flagged blobs and messages get here). Tag-message
/// findings already carry their tag's.
fn fill_commit_details(objects: &Objects<'_>, findings: &mut [Finding], diag: &Diagnostics, label: &str) {
    for finding in findings {
        if finding.path == messages::TAG_MESSAGE_PATH {
            continue;
        }
        let Some(git) = finding.git.as_mut() else { continue };
        if git.commit.is_empty() {
            continue;
        }
        let commit = Oid::from_str(&git.commit)
            .map_err(|e| e.message().to_string())
            .and_then(|oid| objects.commit(oid).map_err(|e| e.message));
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
            Err(message) => diag.warn(format!("{label}: commit {}: {message}", git.commit)),
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

#[cfg(test)]
mod tests {
    /// libgit2 finds zlib by its C names at link time; `zlibVersion` resolves the same way, so it names the
    /// zlib that libgit2 inflates with: zlib-rs (see Cargo.toml), not the system's.
    #[test]
    fn libgit2_links_zlib_rs() {
        unsafe extern "C" {
            fn zlibVersion() -> *const std::ffi::c_char;
        }
        // SAFETY: zlibVersion takes nothing and returns a static NUL-terminated string.
        let version = unsafe { std::ffi::CStr::from_ptr(zlibVersion()) };
        let version = version.to_string_lossy();
        assert!(version.contains("zlib-rs"), "the C zlib linked is {version}");
    }
}
