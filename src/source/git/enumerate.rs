//! Which blobs to scan, and where each was introduced.
//!
//! The commit graph is walked here rather than by libgit2's revwalk, so that one missing or corrupt commit is a
//! warning naming it (its ancestors reached through other paths are still walked) instead of the end of the walk.
//! Every object is read through [`Objects`], which refuses truncated loose objects before libgit2 sees them.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use git2::{ObjectType, Oid};

use super::GitError;
use super::blob_index::BlobIndex;
use super::commits::{OnCommit, Slot};
use super::last_trees::LastTrees;
use super::objects::{ObjectError, Objects};
use crate::counts::{Counts, ErrorKind, ScanError};
use crate::diag::Diagnostics;
use crate::finding::Finding;

/// Which commits' blobs to scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every ref: branches, tags, remote-tracking refs, the stash, notes, and HEAD. Refs that point straight at a
    /// tree or a blob are scanned too.
    All,
    /// Only what these revisions reach (`--branch`).
    Revisions(Vec<String>),
    /// Only what `show` reaches and `hide` does not (`--since REV`, `--range A..B`).
    Range { hide: String, show: String },
    /// Every ref, as [`Selection::All`], but not what these commits reach: the tips an earlier run scanned
    /// (`--state`). Tips that are no longer commits of the repository are passed over.
    AllSince(Vec<String>),
}

/// [`BlobIntro::commit`] of a blob that no walked commit holds: one reached from a ref to a tree or a blob, or
/// (with `--all-objects`) an unreachable tree or blob.
pub const NO_COMMIT: u32 = u32::MAX;

/// The path of a blob that no tree reaches (`--all-objects`).
pub const UNREACHABLE_BLOB_PATH: &str = "<unreachable blob>";

/// Where a blob was first seen, in 8 bytes: one is kept for every blob of the history.
#[derive(Debug, Clone, Copy)]
pub struct BlobIntro {
    /// Index into [`Enumeration::commits`], or [`NO_COMMIT`].
    commit: u32,
    /// Index into [`Enumeration::paths`] (at most [`super::paths::MAX_INDEX`]), and [`UNREACHABLE`] when no ref
    /// reaches the blob (`--all-objects`): only a reflog, or nothing at all.
    path_and_reach: u32,
}

/// The bit of [`BlobIntro::path_and_reach`] that marks an unreachable blob.
const UNREACHABLE: u32 = 1 << 31;

impl BlobIntro {
    pub fn new(commit: u32, path: u32, unreachable: bool) -> BlobIntro {
        debug_assert!(path <= super::paths::MAX_INDEX);
        BlobIntro {
            commit,
            path_and_reach: path | if unreachable { UNREACHABLE } else { 0 },
        }
    }

    /// Index into [`Enumeration::commits`], or [`NO_COMMIT`].
    pub fn commit(&self) -> u32 {
        self.commit
    }

    /// Index into [`Enumeration::paths`].
    pub fn path(&self) -> u32 {
        self.path_and_reach & !UNREACHABLE
    }

    /// No ref reaches it (`--all-objects`): only a reflog, or nothing at all.
    pub fn unreachable(&self) -> bool {
        self.path_and_reach & UNREACHABLE != 0
    }

    /// The same introduction at another path.
    fn at_path(self, path: u32) -> BlobIntro {
        BlobIntro::new(self.commit, path, self.unreachable())
    }
}

/// An annotated tag met on the way from a ref to what it names.
#[derive(Debug, Clone)]
pub struct TagRef {
    pub tag: Oid,
    /// The ref that led to it (`refs/tags/v1.0`); empty for an unreachable tag.
    pub reference: String,
    /// No ref reaches the tag (`--all-objects`).
    pub unreachable: bool,
}

/// The result of walking the history: commits walked, and each blob to scan with its introduction.
#[derive(Debug, Default)]
pub struct Enumeration {
    /// Commits, parents before children.
    pub commits: Vec<Oid>,
    /// Interned paths (a file changed a hundred times is one path).
    pub paths: super::paths::Paths,
    /// Every blob to scan, once, in the order to scan them: by path, and by commit among the versions of a path
    /// (see [`Enumeration::sort_blobs_by_path`]).
    pub blobs: Vec<(Oid, BlobIntro)>,
    /// The trees walked, with their entries as tree indices and positions in `blobs`.
    pub trees: super::tree_graph::TreeGraph,
    /// Paths of submodules (gitlinks) met in trees.
    pub submodules: Vec<String>,
    /// Annotated tags on the selected refs, for their messages.
    pub tags: Vec<TagRef>,
    /// How many of `commits` (the first ones) the refs reach; the rest only a reflog reaches, or nothing
    /// (`--all-objects`).
    pub reachable_commits: usize,
    /// The reflog that reaches each commit past `reachable_commits` that a reflog reaches, by index.
    pub reflogs: HashMap<u32, String>,
}

impl Enumeration {
    /// Puts the blobs in path order, and in walk order among the versions of one path (the tree graph follows).
    /// A pack stores the versions of a file as deltas of one another, so each is rebuilt from the one just read,
    /// still in libgit2's delta-base cache, instead of from its chain again: on cargo's history this takes a
    /// third off the time; the order of the pack itself or of the walk does worse. The list is reordered in
    /// place, so that the scan needs no second list of positions.
    fn sort_blobs_by_path(&mut self) {
        let n = self.blobs.len();
        let mut order: Vec<u32> = (0..n as u32).collect();
        order.sort_by_key(|&at| self.blobs[at as usize].1.path());
        let mut new_at = vec![0u32; n];
        for (rank, &old) in order.iter().enumerate() {
            new_at[old as usize] = rank as u32;
        }
        drop(order);
        self.trees.renumber_blobs(&new_at);
        // Each swap sends the blob at `at` to its place for good.
        for at in 0..n {
            while new_at[at] as usize != at {
                let to = new_at[at] as usize;
                self.blobs.swap(at, to);
                new_at.swap(at, to);
            }
        }
    }

    /// The commit a blob was introduced by, if any.
    pub fn commit_of(&self, intro: &BlobIntro) -> Option<Oid> {
        self.commits.get(intro.commit() as usize).copied()
    }

    /// Is the commit at `index` beyond what the refs reach, and through which reflog, if any?
    pub fn commit_reach(&self, index: usize) -> (bool, Option<&str>) {
        let unreachable = index >= self.reachable_commits && index < self.commits.len();
        (unreachable, self.reflogs.get(&(index as u32)).map(String::as_str))
    }
}

/// What the selected refs and revisions name, peeled through annotated tags.
#[derive(Default)]
pub(super) struct Tips {
    pub(super) commits: Vec<Oid>,
    /// Trees and blobs named directly by a ref, with the ref's name.
    trees: Vec<(Oid, String)>,
    blobs: Vec<(Oid, String)>,
    tags: Vec<TagRef>,
}

/// How many annotated tags may be stacked on one another before keyhound stops peeling (git allows any number;
/// a loop is impossible, but a very deep stack is a denial of service).
const MAX_TAG_DEPTH: usize = 64;

impl Tips {
    /// Adds what `oid` (named `name`) is, peeling annotated tags.
    pub(super) fn add(&mut self, objects: &Objects<'_>, mut oid: Oid, name: &str) -> Result<(), String> {
        for _ in 0..MAX_TAG_DEPTH {
            match objects.kind(oid).map_err(|e| e.message)? {
                ObjectType::Commit => {
                    self.commits.push(oid);
                    return Ok(());
                }
                ObjectType::Tree => {
                    self.trees.push((oid, name.to_string()));
                    return Ok(());
                }
                ObjectType::Blob => {
                    self.blobs.push((oid, name.to_string()));
                    return Ok(());
                }
                ObjectType::Tag => {
                    let tag = objects.tag(oid).map_err(|e| e.message)?;
                    if !self.tags.iter().any(|t| t.tag == oid) {
                        self.tags.push(TagRef {
                            tag: oid,
                            reference: name.to_string(),
                            unreachable: false,
                        });
                    }
                    oid = tag.target_id();
                }
                ObjectType::Any => return Err(format!("object {oid} is of no known type")),
            }
        }
        Err(format!(
            "more than {MAX_TAG_DEPTH} annotated tags stacked on one another"
        ))
    }
}

/// The walk of what only reflogs reach and what nothing reaches (`--all-objects`): it adds to the walker's
/// enumeration, given the ref names and the commits already walked (which it extends), and returns the summary
/// for the note. The caller hands it in ([`super::unreachable::add`]), so that this module, whose walker it
/// drives, does not depend on it.
pub(super) type UnreachableWalk =
    dyn Fn(&mut Walker<'_, '_>, &[String], &mut HashSet<Oid>, &Diagnostics, &mut Counts) -> String;

/// Walks the selected commits parents-first and collects every blob not seen before. With `all_objects` (only
/// for [`Selection::All`]), then what only reflogs reach and what nothing reaches, by that walk.
///
/// `on_commit` is handed each commit the refs reach (the first ones of [`Enumeration::commits`]) when the walk
/// reads it to order the commits, on the thread that read it, so that its message is scanned without reading it
/// again. The findings it gives back are returned.
pub fn enumerate(
    objects: &Objects<'_>,
    label: &str,
    selection: &Selection,
    all_objects: Option<&UnreachableWalk>,
    diag: &Diagnostics,
    counts: &mut Counts,
    on_commit: &OnCommit<'_>,
) -> Result<(Enumeration, Vec<Finding>), GitError> {
    let repo = objects.repo;
    let git_err = GitError::git(label);
    let resolve = |rev: &str| -> Result<Oid, GitError> {
        let bad = |message: String| GitError::BadRevision {
            repo: label.to_string(),
            rev: rev.to_string(),
            message,
        };
        let object = repo
            .revparse_single(rev)
            .map_err(|e| GitError::unresolved(repo, label, rev, &e))?;
        let mut tips = Tips::default();
        tips.add(objects, object.id(), rev).map_err(bad)?;
        tips.commits
            .first()
            .copied()
            .ok_or_else(|| bad("it does not name a commit".into()))
    };
    let mut tips = Tips::default();
    let mut hide = Vec::new();
    let mut reference_names = Vec::new();
    if let Selection::AllSince(scanned) = selection {
        for tip in scanned {
            let mut scanned_tip = Tips::default();
            if let Ok(oid) = Oid::from_str(tip)
                && scanned_tip.add(objects, oid, "the state file's tip").is_ok()
            {
                hide.extend(scanned_tip.commits);
            }
        }
    }
    match selection {
        Selection::All | Selection::AllSince(_) => {
            for reference in repo.references().map_err(git_err)? {
                let reference = match reference {
                    Ok(reference) => reference,
                    Err(err) => {
                        let error = ScanError::new(ErrorKind::Reference, "(unnamed)", err.message());
                        counts.fail(diag, error.in_repository(label));
                        continue;
                    }
                };
                let name = String::from_utf8_lossy(reference.name_bytes()).into_owned();
                reference_names.push(name.clone());
                // A direct ref holds its target. Only a symbolic one is resolved: a look-up in the ref database
                // for each (15 ms of cargo's 9,640 refs, on one thread). Neither reads an object; what the ref
                // points at is read through `objects`.
                let target = match reference.target() {
                    Some(direct) => Some(direct),
                    None => reference.resolve().ok().and_then(|r| r.target()),
                };
                let Some(target) = target else {
                    let error = ScanError::new(ErrorKind::Reference, &name, "it points at nothing, skipped");
                    counts.fail(diag, error.in_repository(label));
                    continue;
                };
                if let Err(message) = tips.add(objects, target, &name) {
                    let error = ScanError::new(ErrorKind::Reference, &name, format!("{message}, skipped"));
                    counts.fail(diag, error.in_repository(label));
                }
            }
            // A detached HEAD is not a reference under refs/; an unborn one has nothing to walk.
            if let Ok(head) = repo.head()
                && let Some(oid) = head.target()
                && let Err(message) = tips.add(objects, oid, "HEAD")
            {
                let error = ScanError::new(ErrorKind::Reference, "HEAD", format!("{message}, skipped"));
                counts.fail(diag, error.in_repository(label));
            }
        }
        Selection::Revisions(revs) => {
            for rev in revs {
                tips.commits.push(resolve(rev)?);
            }
        }
        Selection::Range { hide: base, show } => {
            tips.commits.push(resolve(show)?);
            hide.push(resolve(base)?);
        }
    }
    let mut walker = Walker::new(objects, label);
    let hidden = ancestors(objects, &hide, label, diag, counts);
    let (graph, message_findings) = CommitGraph::load(objects, &tips.commits, &hidden, label, diag, counts, on_commit);
    let cut = graph.cut_commits(objects);
    if matches!(selection, Selection::Range { .. })
        && let Some(first) = cut.first()
    {
        return Err(GitError::CutRange {
            repo: label.to_string(),
            commit: first.to_string(),
        });
    }
    for commit in cut {
        // The history before the cut is missing objects, as a partial clone's blobs are: the scan is incomplete.
        let error = ScanError::new(
            ErrorKind::Commit,
            commit.to_string(),
            "its parents are not in the repository (a shallow clone's cut): the history before it is not \
             scanned; fetch it with `git fetch --unshallow`",
        );
        counts.fail(diag, error.in_repository(label));
    }
    if !hide.is_empty() {
        walker.seed_range_boundary(&graph, diag, counts);
    }
    walker.out.commits = graph.nodes.iter().map(|n| n.oid).collect();
    if hide.is_empty() {
        walker.walk_commits_in_parallel(&graph.nodes, diag, counts);
    } else {
        // A range is short, and its walk starts from the boundary's trees.
        walker.walk_commits(&graph.nodes, 0, diag, counts);
    }
    // What only refs to trees and blobs reach comes last: a blob that some commit holds keeps that commit.
    for (tree, name) in &tips.trees {
        walker.walk_tree(*tree, NO_COMMIT, &format!("{name}:"), diag, counts);
    }
    for (blob, name) in &tips.blobs {
        walker.record_blob(*blob, name, NO_COMMIT);
    }
    walker.out.reachable_commits = walker.out.commits.len();
    walker.out.tags = tips.tags;
    if let Some(unreachable) = all_objects
        && *selection == Selection::All
    {
        let mut walked: HashSet<Oid> = walker.out.commits.iter().copied().collect();
        walked.extend(&graph.outside);
        let found = unreachable(&mut walker, &reference_names, &mut walked, diag, counts);
        diag.note(format!("{label}: --all-objects: {found}"));
    }
    walker.out.trees.shrink_to_fit();
    walker.out.paths.shrink_to_fit();
    walker.out.sort_blobs_by_path();
    let mut submodules: Vec<String> = walker.submodules.into_iter().collect();
    submodules.sort();
    walker.out.submodules = submodules;
    Ok((walker.out, message_findings))
}

/// Every commit reachable from `tips` (the commits a range hides). A commit that cannot be read is a warning.
fn ancestors(
    objects: &Objects<'_>,
    tips: &[Oid],
    label: &str,
    diag: &Diagnostics,
    counts: &mut Counts,
) -> HashSet<Oid> {
    if tips.is_empty() {
        return HashSet::new();
    }
    let (read, _) = super::commits::read_all(objects, tips, &HashSet::new(), &|_, _| Vec::new(), counts);
    let mut failed: Vec<&ObjectError> = read.failed.iter().collect();
    failed.sort_by_key(|error| error.oid);
    for error in failed {
        counts.fail(diag, error.scan_error(error.oid.to_string()).in_repository(label));
    }
    read.index.into_keys().collect()
}

/// One walked commit.
pub(super) struct Node {
    pub(super) oid: Oid,
    pub(super) tree: Oid,
    time: i64,
    /// Range into [`CommitGraph::parents`].
    parents: std::ops::Range<u32>,
}

/// The commits to scan, in parents-first order.
pub(super) struct CommitGraph {
    pub(super) nodes: Vec<Node>,
    /// Parent ids of every node, flat.
    parents: Vec<Oid>,
    /// Parents of walked commits that are not walked themselves (hidden by a range, or unreadable).
    pub(super) outside: HashSet<Oid>,
}

impl CommitGraph {
    /// Reads every commit reachable from `tips` and not in `hidden` (on every thread, see [`super::commits`]),
    /// then orders them parents first, older first among commits whose parents are all placed (git's
    /// `--topo-order --date-order --reverse`). `on_commit` is handed each commit read; the findings it gives
    /// back are returned.
    pub(super) fn load(
        objects: &Objects<'_>,
        tips: &[Oid],
        hidden: &HashSet<Oid>,
        label: &str,
        diag: &Diagnostics,
        counts: &mut Counts,
        on_commit: &OnCommit<'_>,
    ) -> (CommitGraph, Vec<Finding>) {
        let (read, findings) = super::commits::read_all(objects, tips, hidden, on_commit, counts);
        // The commits in the order of one depth-first search from the tips, whichever thread read each: among
        // commits of one date, the sort keeps this order.
        let mut nodes: Vec<Node> = Vec::with_capacity(read.read.len());
        let mut visited = vec![false; read.read.len() + read.failed.len()];
        let visit = |slot: Slot| match slot {
            Slot::Read(at) => at as usize,
            Slot::Failed(at) => read.read.len() + at as usize,
        };
        let mut outside: HashSet<Oid> = HashSet::new();
        let mut stack: Vec<Oid> = tips.iter().copied().filter(|t| !hidden.contains(t)).collect();
        while let Some(oid) = stack.pop() {
            let Some(&slot) = read.index.get(&oid) else { continue };
            if std::mem::replace(&mut visited[visit(slot)], true) {
                continue;
            }
            let commit = match slot {
                Slot::Read(at) => &read.read[at as usize],
                Slot::Failed(at) => {
                    let err = &read.failed[at as usize];
                    let mut error = err.scan_error(oid.to_string()).in_repository(label);
                    error
                        .reason
                        .push_str(" (its tree is not scanned; its parents only through other commits)");
                    counts.fail(diag, error);
                    outside.insert(oid);
                    continue;
                }
            };
            for parent in read.parents_of(commit) {
                if hidden.contains(parent) {
                    outside.insert(*parent);
                } else if read.index.get(parent).is_some_and(|&slot| !visited[visit(slot)]) {
                    stack.push(*parent);
                }
            }
            nodes.push(Node {
                oid,
                tree: commit.tree,
                time: commit.time,
                parents: commit.parents.clone(),
            });
        }
        let mut graph = CommitGraph {
            nodes,
            parents: read.parents,
            outside,
        };
        graph.sort();
        (graph, findings)
    }

    /// The walked commits whose parents a shallow clone's cut (or a graft) hides, in walk order: each names
    /// parents that the repository does not give. Only commits that have no parents here are read again.
    fn cut_commits(&self, objects: &Objects<'_>) -> Vec<Oid> {
        self.nodes
            .iter()
            .filter(|node| node.parents.is_empty())
            .map(|node| node.oid)
            .filter(|&oid| {
                objects.commit(oid).is_ok_and(|commit| {
                    commit
                        .raw_header_bytes()
                        .split(|&b| b == b'\n')
                        .any(|line| line.starts_with(b"parent "))
                })
            })
            .collect()
    }

    /// Kahn's algorithm over the walked commits: a commit comes after all its walked parents; among the commits
    /// ready at once, the oldest (then the first found) goes first.
    fn sort(&mut self) {
        let index: HashMap<Oid, u32> = self.nodes.iter().enumerate().map(|(i, n)| (n.oid, i as u32)).collect();
        let n = self.nodes.len();
        let mut waiting = vec![0u32; n];
        let mut children: Vec<Vec<u32>> = vec![Vec::new(); n];
        for (child, node) in self.nodes.iter().enumerate() {
            for parent in &self.parents[node.parents.start as usize..node.parents.end as usize] {
                if let Some(&p) = index.get(parent) {
                    waiting[child] += 1;
                    children[p as usize].push(child as u32);
                }
            }
        }
        let mut ready: BinaryHeap<Reverse<(i64, u32)>> = (0..n as u32)
            .filter(|&i| waiting[i as usize] == 0)
            .map(|i| Reverse((self.nodes[i as usize].time, i)))
            .collect();
        let mut order: Vec<u32> = Vec::with_capacity(n);
        while let Some(Reverse((_, i))) = ready.pop() {
            order.push(i);
            for &child in &children[i as usize] {
                waiting[child as usize] -= 1;
                if waiting[child as usize] == 0 {
                    ready.push(Reverse((self.nodes[child as usize].time, child)));
                }
            }
        }
        let mut slots: Vec<Option<Node>> = std::mem::take(&mut self.nodes).into_iter().map(Some).collect();
        self.nodes = order.into_iter().filter_map(|i| slots[i as usize].take()).collect();
    }
}

pub(super) struct Walker<'a, 'r> {
    pub(super) objects: &'a Objects<'r>,
    pub(super) label: &'a str,
    /// Blobs already listed for scanning (in `out.blobs`), or present before the range began.
    blob_index: BlobIndex,
    submodules: HashSet<String>,
    /// Blobs recorded now are ones no ref reaches.
    pub(super) unreachable: bool,
    pub(super) out: Enumeration,
    /// Trees that could not be read, kept back instead of reported (by a walker of later commits, see
    /// [`Walker::walk_commits_in_parallel`]).
    deferred_errors: Option<Vec<(Oid, ScanError)>>,
    /// The tree last walked at each path, so that the entries a new tree shares with it are not looked up.
    last_trees: LastTrees,
}

/// What a walker of later commits found, to be added to the first walker's.
struct LaterWalk {
    blobs: Vec<(Oid, BlobIntro)>,
    paths: super::paths::Paths,
    trees: super::tree_graph::TreeGraph,
    submodules: HashSet<String>,
    deferred_errors: Vec<(Oid, ScanError)>,
    counts: Counts,
}

/// Below this many commits the walk is not split.
const MIN_COMMITS_TO_SPLIT: usize = 256;

/// The fewest commits a part of a split walk takes (each later part re-reads one snapshot), and the most parts
/// per thread.
const MIN_COMMITS_A_PART: usize = 1024;
const MAX_PARTS_A_THREAD: usize = 2;

/// The commits of each part of a walk of `commits` commits on `threads` threads: at least two parts, as equal
/// as whole commits allow.
fn split_into_parts(commits: usize, threads: usize) -> Vec<std::ops::Range<usize>> {
    let parts = (commits / MIN_COMMITS_A_PART)
        .clamp(2, threads.max(1) * MAX_PARTS_A_THREAD)
        .min(commits.max(1));
    (0..parts)
        .map(|part| commits * part / parts..commits * (part + 1) / parts)
        .collect()
}

impl<'a, 'r> Walker<'a, 'r> {
    pub(super) fn new(objects: &'a Objects<'r>, label: &'a str) -> Self {
        Walker {
            objects,
            label,
            blob_index: BlobIndex::default(),
            submodules: HashSet::new(),
            unreachable: false,
            out: Enumeration::default(),
            deferred_errors: None,
            last_trees: LastTrees::default(),
        }
    }

    /// Walks the trees of `nodes`, the commits from index `first` on.
    fn walk_commits(&mut self, nodes: &[Node], first: usize, diag: &Diagnostics, counts: &mut Counts) {
        for (offset, node) in nodes.iter().enumerate() {
            self.walk_tree(node.tree, (first + offset) as u32, "", diag, counts);
        }
    }

    /// Walks the trees of `nodes` (all the commits, from index 0) as [`Walker::walk_commits`] does, in parts
    /// that the pool's threads take in order as they become free (each helper thread with a repository handle
    /// of its own), when the pool has more than one thread. The first part is walked here; every other part is
    /// walked from nothing, then added to this walk in order ([`Walker::absorb`]).
    ///
    /// The result is the same as one walk's. A blob belongs to the first commit that holds it, at the first
    /// path where that commit's tree holds it. A later part starts from nothing, so it finds the first such
    /// commit among its own commits, and the blob's path there. The trees that it walks and one walk would
    /// skip, because earlier commits hold them, cannot hold a blob that the earlier parts do not list. So a
    /// blob that an earlier part lists keeps that listing, and any other blob keeps the first later part's.
    /// Blobs stay in commit order, which the scan order relies on. Each later part re-reads about one
    /// snapshot's worth of trees; a tree that no part can read is reported once. Parts of equal numbers of
    /// commits, several per thread, keep both threads busy to the end whether the trees grow with the history
    /// or not (two fixed parts, two thirds and one third, left one thread idle half the time when every commit
    /// costs the same).
    fn walk_commits_in_parallel(&mut self, nodes: &[Node], diag: &Diagnostics, counts: &mut Counts) {
        let threads = rayon::current_num_threads();
        if threads < 2 || nodes.len() < MIN_COMMITS_TO_SPLIT {
            return self.walk_commits(nodes, 0, diag, counts);
        }
        let parts = split_into_parts(nodes.len(), threads);
        let next_part = std::sync::atomic::AtomicUsize::new(1);
        let walked: Vec<std::sync::Mutex<Option<LaterWalk>>> = parts.iter().map(|_| Default::default()).collect();
        let (git_dir, loose, label) = (self.objects.repo.path().to_path_buf(), self.objects.loose, self.label);
        // Walks the parts not taken yet, one after another, through `objects`, until none is left.
        let take_parts = |objects: &Objects<'_>| loop {
            let at = next_part.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(range) = parts.get(at) else { break };
            let mut walker = Walker::new(objects, label);
            walker.deferred_errors = Some(Vec::new());
            let mut counts = Counts::default();
            walker.walk_commits(&nodes[range.clone()], range.start, diag, &mut counts);
            let part = LaterWalk {
                blobs: walker.out.blobs,
                paths: walker.out.paths,
                trees: walker.out.trees,
                submodules: walker.submodules,
                deferred_errors: walker.deferred_errors.unwrap_or_default(),
                counts,
            };
            *walked[at].lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(part);
        };
        std::thread::scope(|scope| {
            for _ in 1..threads {
                scope.spawn(|| {
                    // A repository that cannot be opened a second time leaves the parts to the other threads.
                    if let Ok(repo) = super::open_with_own_packs(&git_dir) {
                        take_parts(&Objects::new(&repo, loose));
                    }
                });
            }
            self.walk_commits(&nodes[parts[0].clone()], 0, diag, counts);
            take_parts(self.objects);
        });
        for (range, part) in parts.iter().zip(walked).skip(1) {
            match part.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner()) {
                Some(part) => self.absorb(part, diag, counts),
                // Every part is walked by some thread (a panic on one would have ended the scope); should one
                // be missing all the same, it is walked here, in its place.
                None => self.walk_commits(&nodes[range.clone()], range.start, diag, counts),
            }
        }
    }

    /// Adds what a walker of later commits found: the blobs not listed here, the trees seen, the unreadable
    /// trees not reported here already.
    fn absorb(&mut self, later: LaterWalk, diag: &Diagnostics, counts: &mut Counts) {
        // The later walk's trees get their indices here on another thread while its blobs are listed here: the
        // two steps share nothing, and each takes about a third of the merge (cargo: 12 and 8 ms of 29).
        let mut trees = std::mem::take(&mut self.out.trees);
        let (tree_at, listed_here) = std::thread::scope(|scope| {
            let tree_at = scope.spawn(|| trees.index_trees_of(&later.trees));
            // Where each of the later walk's blobs is listed here (looked up once, not once per tree entry).
            let mut listed_here: Vec<Option<u32>> = Vec::with_capacity(later.blobs.len());
            for (oid, intro) in &later.blobs {
                let here = self.listed_or(*oid, |walker| {
                    Some(walker.list_new_blob(*oid, later.paths.get(intro.path()), |path| intro.at_path(path)))
                });
                listed_here.push(here);
            }
            let tree_at = tree_at.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (tree_at, listed_here)
        });
        self.out.trees = trees;
        for (tree, error) in later.deferred_errors {
            // A tree walked here was met (and, if unreadable, reported) by this walk.
            if !self.out.trees.is_walked(&tree) {
                counts.fail(diag, error);
            }
        }
        self.out.trees.absorb(later.trees, &tree_at, |position| {
            listed_here.get(position as usize).copied().flatten()
        });
        self.submodules.extend(later.submodules);
        counts.add(later.counts);
    }

    /// Marks everything in the trees of the range's boundary parents (the commits just outside the range) as
    /// already present, so that only what the range's commits introduce is scanned.
    fn seed_range_boundary(&mut self, graph: &CommitGraph, diag: &Diagnostics, counts: &mut Counts) {
        let mut boundary: Vec<Oid> = graph.outside.iter().copied().collect();
        boundary.sort();
        for parent in boundary {
            // An unreadable boundary commit was reported when the graph was loaded.
            if let Ok(commit) = self.objects.commit(parent) {
                let tree = commit.tree_id();
                self.walk_tree_with(tree, "", diag, counts, &mut |walker, blob, _path| {
                    walker.blob_index.mark_present(blob);
                    None
                });
            }
        }
    }

    pub(super) fn walk_tree(&mut self, root: Oid, commit: u32, prefix: &str, diag: &Diagnostics, counts: &mut Counts) {
        if commit != NO_COMMIT {
            let root_index = self.out.trees.index_of(root);
            self.out.trees.add_root(commit, root_index);
        }
        let unreachable = self.unreachable;
        self.walk_tree_with(root, prefix, diag, counts, &mut |walker, blob, path| {
            Some(walker.list_new_blob(blob, path, |path| BlobIntro::new(commit, path, unreachable)))
        });
    }

    /// Visits every blob not seen yet (neither listed nor present) in trees not seen before, depth-first.
    /// `prefix` starts every path (`refs/tags/t:`). `on_blob` gives back where it listed the blob, if it did.
    fn walk_tree_with(
        &mut self,
        root: Oid,
        prefix: &str,
        diag: &Diagnostics,
        counts: &mut Counts,
        on_blob: &mut dyn FnMut(&mut Self, Oid, &str) -> Option<u32>,
    ) {
        let mut stack: Vec<(Oid, String)> = vec![(root, prefix.to_string())];
        while let Some((tree_oid, prefix)) = stack.pop() {
            let tree_index = self.out.trees.index_of(tree_oid);
            if self.out.trees.walked_index(tree_index) {
                continue;
            }
            // Walked from now on, with no entries if it cannot be read.
            self.out.trees.begin_tree(tree_index);
            let tree = match self.objects.tree(tree_oid) {
                Ok(tree) => tree,
                Err(err) => {
                    let place = format!("{tree_oid} ({})", if prefix.is_empty() { "/" } else { &prefix });
                    let mut error = err.scan_error(place).in_repository(self.label);
                    error.reason.push_str("; the files under it are not scanned");
                    match &mut self.deferred_errors {
                        Some(deferred) => deferred.push((tree_oid, error)),
                        None => counts.fail(diag, error),
                    }
                    continue;
                }
            };
            // Subtrees are pushed in reverse so they are visited in tree (name) order. Most entries of a commit's
            // tree were met in the tree last walked at its path: they take their outcome from there, without a
            // look-up. The others are passed over, if seen, before their path is built. Every entry goes into
            // the tree graph.
            let mut subtrees = Vec::new();
            let mut known = self.last_trees.take(&prefix);
            // The tree's entries in the tree graph, and those of them the last tree at its path did not have.
            let (mut whole, mut added) = (Vec::with_capacity(tree.len()), Vec::new());
            for entry in tree.iter() {
                if let Some(outcome) = known.outcome(&entry) {
                    whole.extend(outcome);
                    known.record(&entry, outcome);
                    continue;
                }
                let path = || join_path(&prefix, &String::from_utf8_lossy(entry.name_bytes()));
                let outcome = match entry.kind() {
                    Some(ObjectType::Tree) => {
                        let subtree = self.out.trees.index_of(entry.id());
                        if !self.out.trees.walked_index(subtree) {
                            subtrees.push((entry.id(), path()));
                        }
                        Some(self.out.trees.subtree_entry(subtree))
                    }
                    Some(ObjectType::Blob) => {
                        let blob = entry.id();
                        self.listed_or(blob, |walker| on_blob(walker, blob, &path()))
                            .map(|position| self.out.trees.blob_entry(position))
                    }
                    Some(ObjectType::Commit) => {
                        self.submodules.insert(path());
                        None
                    }
                    _ => None,
                };
                whole.extend(outcome);
                added.extend(outcome);
                known.record(&entry, outcome);
            }
            // Kept as a difference from the last tree at its path when that is the smaller.
            match known.difference() {
                (Some(base), removed) if added.len() + removed.len() < whole.len() => {
                    self.out.trees.set_entries(tree_index, Some(base), &added, removed)
                }
                _ => self.out.trees.set_entries(tree_index, None, &whole, &[]),
            }
            self.last_trees.remember(prefix, known, tree_index);
            stack.extend(subtrees.into_iter().rev());
        }
    }

    /// Whether `tree` has been walked already.
    pub(super) fn tree_walked(&self, tree: &Oid) -> bool {
        self.out.trees.is_walked(tree)
    }

    /// Whether `blob` is listed for scanning already, or was present before the range began.
    pub(super) fn blob_seen(&self, blob: &Oid) -> bool {
        self.blob_index.contains(&self.out.blobs, blob)
    }

    /// Lists `blob` at `path`, introduced by `commit`, unless it is listed or present already; whether it did.
    pub(super) fn record_blob(&mut self, blob: Oid, path: &str, commit: u32) -> bool {
        if self.blob_seen(&blob) {
            return false;
        }
        let unreachable = self.unreachable;
        self.list_new_blob(blob, path, |path| BlobIntro::new(commit, path, unreachable));
        true
    }

    /// Where `blob` is listed: already, or by `list` now if it is new (`list` may pass it over: `None`).
    /// `None` for a blob present before the range began.
    fn listed_or(&mut self, blob: Oid, list: impl FnOnce(&mut Self) -> Option<u32>) -> Option<u32> {
        match self.blob_index.position(&self.out.blobs, &blob) {
            Some(position) => Some(position),
            None if self.blob_index.is_present(&blob) => None,
            None => list(self),
        }
    }

    /// Lists `blob`, which is neither listed nor present, with the introduction `intro` makes of its interned
    /// `path`; its position.
    fn list_new_blob(&mut self, blob: Oid, path: &str, intro: impl FnOnce(u32) -> BlobIntro) -> u32 {
        let path = self.out.paths.intern(path);
        self.blob_index.push_unlisted(&mut self.out.blobs, blob, || intro(path))
    }
}

/// `prefix/name`, or `prefix:name` right after a ref's name, or `name` at the top.
fn join_path(prefix: &str, name: &str) -> String {
    if prefix.is_empty() || prefix.ends_with(':') {
        format!("{prefix}{name}")
    } else {
        format!("{prefix}/{name}")
    }
}
