//! Which blobs to scan, and where each was introduced.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use git2::{ObjectType, Oid, Repository, Sort, Tree};

use super::GitError;
use crate::diag::Diagnostics;
use crate::finding::Occurrence;

/// Which commits' blobs to scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every ref: branches, tags, remote-tracking refs, the stash, notes, and HEAD.
    All,
    /// Only what these revisions reach (`--branch`).
    Revisions(Vec<String>),
    /// Only what `show` reaches and `hide` does not (`--since REV`, `--range A..B`).
    Range { hide: String, show: String },
}

/// Where a blob was first seen.
#[derive(Debug, Clone, Copy)]
pub struct BlobIntro {
    /// Index into [`Enumeration::commits`].
    pub commit: u32,
    /// Index into [`Enumeration::paths`].
    pub path: u32,
}

/// The result of walking the history: commits walked, and each blob to scan with its introduction.
#[derive(Debug, Default)]
pub struct Enumeration {
    pub commits: Vec<Oid>,
    /// Interned paths (a file changed a hundred times is one string).
    pub paths: Vec<String>,
    pub blobs: Vec<(Oid, BlobIntro)>,
    /// Paths of submodules (gitlinks) met in trees.
    pub submodules: Vec<String>,
}

struct Walker<'r> {
    repo: &'r Repository,
    label: &'r str,
    seen_trees: HashSet<Oid>,
    /// Blobs already listed for scanning, or present before the range began.
    seen_blobs: HashSet<Oid>,
    path_index: HashMap<String, u32>,
    submodules: HashSet<String>,
    out: Enumeration,
}

/// Walks the selected commits parents-first and collects every blob not seen before.
pub fn enumerate(
    repo: &Repository,
    label: &str,
    selection: &Selection,
    diag: &Diagnostics,
) -> Result<Enumeration, GitError> {
    let git_err = GitError::git(label);
    let mut revwalk = repo.revwalk().map_err(git_err)?;
    revwalk
        .set_sorting(Sort::TOPOLOGICAL | Sort::TIME | Sort::REVERSE)
        .map_err(git_err)?;
    let resolve = |rev: &str| -> Result<Oid, GitError> {
        repo.revparse_single(rev)
            .and_then(|object| object.peel_to_commit())
            .map(|commit| commit.id())
            .map_err(|e| GitError::BadRevision {
                repo: label.to_string(),
                rev: rev.to_string(),
                message: e.message().to_string(),
            })
    };
    match selection {
        Selection::All => {
            let references = repo.references().map_err(git_err)?;
            for reference in references {
                match reference.and_then(|r| r.peel_to_commit()) {
                    Ok(commit) => revwalk.push(commit.id()).map_err(git_err)?,
                    // Tags of trees or blobs, broken refs: nothing to walk from there.
                    Err(err) if err.code() == git2::ErrorCode::Peel || err.class() == git2::ErrorClass::Object => {}
                    Err(err) => diag.warn(format!("{label}: skipping a reference: {}", err.message())),
                }
            }
            // A detached HEAD is not a reference under refs/; an unborn one has nothing to walk.
            if let Ok(head) = repo.head()
                && let Some(oid) = head.target()
            {
                revwalk.push(oid).map_err(git_err)?;
            }
        }
        Selection::Revisions(revs) => {
            for rev in revs {
                revwalk.push(resolve(rev)?).map_err(git_err)?;
            }
        }
        Selection::Range { hide, show } => {
            revwalk.push(resolve(show)?).map_err(git_err)?;
            revwalk.hide(resolve(hide)?).map_err(git_err)?;
        }
    }
    let mut commits = Vec::new();
    for oid in revwalk {
        match oid {
            Ok(oid) => commits.push(oid),
            Err(err) => diag.warn(format!("{label}: history walk: {}", err.message())),
        }
    }
    let mut walker = Walker {
        repo,
        label,
        seen_trees: HashSet::new(),
        seen_blobs: HashSet::new(),
        path_index: HashMap::new(),
        submodules: HashSet::new(),
        out: Enumeration::default(),
    };
    if matches!(selection, Selection::Range { .. }) {
        walker.seed_range_boundary(&commits, diag);
    }
    for (index, oid) in commits.iter().enumerate() {
        match repo.find_commit(*oid).map(|commit| commit.tree_id()) {
            Ok(tree) => walker.walk_tree(tree, index as u32, diag),
            Err(err) => diag.warn(format!("{label}: cannot read commit {oid}: {}", err.message())),
        }
    }
    walker.out.commits = commits;
    let mut submodules: Vec<String> = walker.submodules.into_iter().collect();
    submodules.sort();
    walker.out.submodules = submodules;
    Ok(walker.out)
}

impl Walker<'_> {
    /// Marks everything in the trees of the range's boundary parents (the commits just outside the range) as
    /// already present, so that only what the range's commits introduce is scanned.
    fn seed_range_boundary(&mut self, commits: &[Oid], diag: &Diagnostics) {
        let in_range: HashSet<Oid> = commits.iter().copied().collect();
        let mut boundary = HashSet::new();
        for oid in commits {
            if let Ok(commit) = self.repo.find_commit(*oid) {
                boundary.extend(commit.parent_ids().filter(|p| !in_range.contains(p)));
            }
        }
        for parent in boundary {
            match self.repo.find_commit(parent) {
                Ok(commit) => {
                    let tree = commit.tree_id();
                    self.walk_tree_with(tree, diag, &mut |walker, blob, _path| {
                        walker.seen_blobs.insert(blob);
                    });
                }
                Err(err) => diag.warn(format!(
                    "{}: cannot read commit {parent}: {}",
                    self.label,
                    err.message()
                )),
            }
        }
    }

    fn walk_tree(&mut self, root: Oid, commit: u32, diag: &Diagnostics) {
        self.walk_tree_with(root, diag, &mut |walker, blob, path| {
            walker.record_blob(blob, path, commit)
        });
    }

    /// Visits every blob in trees not seen before, depth-first.
    fn walk_tree_with(&mut self, root: Oid, diag: &Diagnostics, on_blob: &mut dyn FnMut(&mut Self, Oid, &str)) {
        let mut stack: Vec<(Oid, String)> = vec![(root, String::new())];
        while let Some((tree_oid, prefix)) = stack.pop() {
            if !self.seen_trees.insert(tree_oid) {
                continue;
            }
            let tree: Tree<'_> = match self.repo.find_tree(tree_oid) {
                Ok(tree) => tree,
                Err(err) => {
                    diag.warn(format!(
                        "{}: cannot read tree {tree_oid} ({}): {}",
                        self.label,
                        if prefix.is_empty() { "/" } else { &prefix },
                        err.message()
                    ));
                    continue;
                }
            };
            // Subtrees are pushed in reverse so they are visited in tree (name) order.
            let mut subtrees = Vec::new();
            for entry in tree.iter() {
                let name = String::from_utf8_lossy(entry.name_bytes());
                let path = if prefix.is_empty() {
                    name.into_owned()
                } else {
                    format!("{prefix}/{name}")
                };
                match entry.kind() {
                    Some(ObjectType::Tree) => subtrees.push((entry.id(), path)),
                    Some(ObjectType::Blob) => on_blob(self, entry.id(), &path),
                    Some(ObjectType::Commit) => {
                        self.submodules.insert(path);
                    }
                    _ => {}
                }
            }
            stack.extend(subtrees.into_iter().rev());
        }
    }

    fn record_blob(&mut self, blob: Oid, path: &str, commit: u32) {
        if self.seen_blobs.insert(blob) {
            let path = self.intern(path);
            self.out.blobs.push((blob, BlobIntro { commit, path }));
        }
    }

    fn intern(&mut self, path: &str) -> u32 {
        if let Some(&index) = self.path_index.get(path) {
            return index;
        }
        let index = self.out.paths.len() as u32;
        self.out.paths.push(path.to_string());
        self.path_index.insert(path.to_string(), index);
        index
    }
}

/// Every (commit, path) where each of `flagged` appears, over the enumerated commits (`--all-commits`).
/// Each tree's flagged content is computed once and shared by every commit that contains the tree.
pub fn all_occurrences(
    repo: &Repository,
    enumeration: &Enumeration,
    flagged: &[Oid],
    diag: &Diagnostics,
    label: &str,
) -> HashMap<Oid, Vec<Occurrence>> {
    let flagged: HashSet<Oid> = flagged.iter().copied().collect();
    let mut memo: HashMap<Oid, Rc<Vec<(String, Oid)>>> = HashMap::new();
    let mut places: HashMap<Oid, Vec<Occurrence>> = HashMap::new();
    for commit_oid in &enumeration.commits {
        let Ok(commit) = repo.find_commit(*commit_oid) else {
            continue;
        };
        let contents = flagged_in_tree(repo, commit.tree_id(), &flagged, &mut memo, diag, label);
        for (path, blob) in contents.iter() {
            places
                .entry(*blob)
                .or_default()
                .push(super::occurrence(*commit_oid, path.clone()));
        }
    }
    places
}

fn flagged_in_tree(
    repo: &Repository,
    tree_oid: Oid,
    flagged: &HashSet<Oid>,
    memo: &mut HashMap<Oid, Rc<Vec<(String, Oid)>>>,
    diag: &Diagnostics,
    label: &str,
) -> Rc<Vec<(String, Oid)>> {
    if let Some(done) = memo.get(&tree_oid) {
        return Rc::clone(done);
    }
    let mut found = Vec::new();
    match repo.find_tree(tree_oid) {
        Ok(tree) => {
            for entry in tree.iter() {
                let name = String::from_utf8_lossy(entry.name_bytes()).into_owned();
                match entry.kind() {
                    Some(ObjectType::Blob) if flagged.contains(&entry.id()) => found.push((name, entry.id())),
                    Some(ObjectType::Tree) => {
                        let inner = flagged_in_tree(repo, entry.id(), flagged, memo, diag, label);
                        found.extend(inner.iter().map(|(path, blob)| (format!("{name}/{path}"), *blob)));
                    }
                    _ => {}
                }
            }
        }
        Err(err) => diag.warn(format!("{label}: cannot read tree {tree_oid}: {}", err.message())),
    }
    let found = Rc::new(found);
    memo.insert(tree_oid, Rc::clone(&found));
    found
}
