//! `--all-objects`: what no ref reaches still holds keys. A force-push, a rebase, an amended commit, a dropped
//! stash or a deleted branch leave their objects in the object database until git prunes them, and a local clone
//! or a server-side mirror keeps them for weeks.
//!
//! After the refs' history is walked (see [`super::enumerate`]), this walks, in order:
//! 1. the commits that only a reflog reaches (older tips of branches, `HEAD` and the stash), each attributed to
//!    the reflog that reaches it;
//! 2. every other commit in the object database (dangling commits and their unreachable ancestors);
//! 3. trees that no commit holds, under the path `<tree id>:<path>` (which `git show` accepts);
//! 4. blobs that no tree holds, under the path `<unreachable blob>`;
//! 5. annotated tags no ref names, for their messages.
//!
//! Objects already met are never scanned again: a blob that a reachable commit holds keeps that commit, so an
//! unreachable object only adds what is not reachable. Only objects not met on the walk have their type read.

use std::collections::HashSet;
use std::fmt;

use git2::{ObjectType, Oid};

use super::enumerate::{CommitGraph, NO_COMMIT, TagRef, Tips, UNREACHABLE_BLOB_PATH, Walker};
use crate::counts::{Counts, ErrorKind, ScanError};
use crate::diag::Diagnostics;

/// What the unreachable walk added, for the summary note.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Found {
    pub reflog_commits: usize,
    pub dangling_commits: usize,
    pub trees: usize,
    pub blobs: usize,
    pub tags: usize,
}

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} commit(s) only reflogs reach, {} unreachable commit(s), {} unreachable tree(s), {} unreachable \
             blob(s) outside any tree, {} unreachable tag(s)",
            self.reflog_commits, self.dangling_commits, self.trees, self.blobs, self.tags
        )
    }
}

/// Adds what no ref reaches to the walker's enumeration. `walked` holds every commit already walked (or found
/// unreadable) and gains the ones walked here.
pub(super) fn add(
    walker: &mut Walker<'_, '_>,
    references: &[String],
    walked: &mut HashSet<Oid>,
    diag: &Diagnostics,
    counts: &mut Counts,
) -> Found {
    walker.unreachable = true;
    let mut found = Found::default();
    let label = walker.label;
    let objects = walker.objects;
    let fail = |counts: &mut Counts, kind: ErrorKind, place: String, reason: String| {
        counts.fail(diag, ScanError::new(kind, place, reason).in_repository(label));
    };

    // 1. Reflogs: the branches' own first (a commit is credited to the most specific one), HEAD's last.
    let mut names: Vec<&str> = references.iter().map(String::as_str).collect();
    names.sort_unstable();
    names.dedup();
    names.push("HEAD");
    for name in names {
        let reflog = match objects.repo.reflog(name) {
            Ok(reflog) => reflog,
            Err(err) => {
                fail(
                    counts,
                    ErrorKind::Reference,
                    format!("{name} (reflog)"),
                    err.message().to_string(),
                );
                continue;
            }
        };
        let mut tips = Tips::default();
        for (index, entry) in reflog.iter().enumerate() {
            for oid in [entry.id_new(), entry.id_old()] {
                if oid.is_zero() || walked.contains(&oid) {
                    continue;
                }
                // Trees, blobs and tags a reflog names are met again in the object database below.
                if let Err(message) = tips.add(objects, oid, name) {
                    let place = format!("{name}@{{{index}}} (reflog)");
                    fail(counts, ErrorKind::Reference, place, format!("{message}, skipped"));
                }
            }
        }
        found.reflog_commits += walk_commits(walker, &tips.commits, walked, Some(name), diag, counts);
    }

    // 2-5. Everything else in the object database that the walk has not met.
    let (ids, stopped) = objects.all_ids();
    if let Some(reason) = stopped {
        let reason = format!("{reason}; objects it did not list are not scanned");
        fail(counts, ErrorKind::Object, "the object database".into(), reason);
    }
    let known_tags: HashSet<Oid> = walker.out.tags.iter().map(|t| t.tag).collect();
    let (mut commits, mut trees, mut blobs, mut tags) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for oid in ids {
        if walked.contains(&oid) || walker.tree_walked(&oid) || walker.blob_seen(&oid) || known_tags.contains(&oid) {
            continue;
        }
        match objects.kind(oid) {
            Ok(ObjectType::Commit) => commits.push(oid),
            Ok(ObjectType::Tree) => trees.push(oid),
            Ok(ObjectType::Blob) => blobs.push(oid),
            Ok(ObjectType::Tag) => tags.push(oid),
            Ok(ObjectType::Any) => fail(counts, ErrorKind::Object, oid.to_string(), "of no known type".into()),
            Err(err) => fail(counts, ErrorKind::Object, oid.to_string(), err.reason),
        }
    }
    found.dangling_commits = walk_commits(walker, &commits, walked, None, diag, counts);

    // Trees: the roots of unreachable tree structures first, so that their files get their whole paths.
    trees.retain(|tree| !walker.tree_walked(tree));
    let mut inner: HashSet<Oid> = HashSet::new();
    for tree in &trees {
        // An unreadable tree is reported when it is walked.
        if let Ok(tree) = objects.tree(*tree) {
            inner.extend(
                tree.iter()
                    .filter(|entry| entry.kind() == Some(ObjectType::Tree))
                    .map(|entry| entry.id()),
            );
        }
    }
    let (roots, rest): (Vec<Oid>, Vec<Oid>) = trees.into_iter().partition(|tree| !inner.contains(tree));
    for tree in roots.into_iter().chain(rest) {
        if !walker.tree_walked(&tree) {
            found.trees += 1;
            walker.walk_tree(tree, NO_COMMIT, &format!("{tree}:"), diag, counts);
        }
    }

    for blob in blobs {
        if walker.record_blob(blob, UNREACHABLE_BLOB_PATH, NO_COMMIT) {
            found.blobs += 1;
        }
    }

    found.tags = tags.len();
    walker.out.tags.extend(tags.into_iter().map(|tag| TagRef {
        tag,
        reference: String::new(),
        unreachable: true,
    }));
    found
}

/// Walks the commits `tips` reach that are not in `walked` (parents first), appending them to the enumeration.
/// Returns how many were walked.
fn walk_commits(
    walker: &mut Walker<'_, '_>,
    tips: &[Oid],
    walked: &mut HashSet<Oid>,
    reflog: Option<&str>,
    diag: &Diagnostics,
    counts: &mut Counts,
) -> usize {
    if tips.is_empty() {
        return 0;
    }
    // Their messages are scanned with the rest, once it is known which reflog reaches each.
    let (graph, _) = CommitGraph::load(walker.objects, tips, walked, walker.label, diag, counts, &|_, _| {
        Vec::new()
    });
    for node in &graph.nodes {
        let index = walker.out.commits.len() as u32;
        walker.walk_tree(node.tree, index, "", diag, counts);
        walker.out.commits.push(node.oid);
        if let Some(name) = reflog {
            walker.out.reflogs.insert(index, name.to_string());
        }
        walked.insert(node.oid);
    }
    walked.extend(&graph.outside);
    graph.nodes.len()
}
