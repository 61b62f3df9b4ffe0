//! Where the flagged blobs of a history scan appear: in how many (commit, path) places (`other_occurrences`), or
//! each place itself (`--all-commits`).

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use git2::{ObjectType, Oid};

use super::enumerate::Enumeration;
use super::objects::Objects;
use crate::finding::Occurrence;

/// How many (commit, path) places hold each of `flagged`, over the enumerated commits, without listing them.
///
/// Listing them costs a record for every commit times every flagged file it holds: millions for a file of
/// fake keys that lives through a long history. Counting needs each tree once instead: the number of commits
/// whose snapshot reaches a tree flows from each tree to the trees and blobs inside it, parents before
/// children.
pub fn occurrence_counts(objects: &Objects<'_>, enumeration: &Enumeration, flagged: &[Oid]) -> HashMap<Oid, u64> {
    let flagged: HashSet<Oid> = flagged.iter().copied().collect();
    // How many times each tree is reached, starting with the commits' root trees.
    let mut reached: HashMap<Oid, u64> = HashMap::new();
    let mut roots: Vec<Oid> = Vec::new();
    for commit_oid in &enumeration.commits {
        // Unreadable commits were reported when the history was walked.
        let Ok(commit) = objects.commit(*commit_oid) else {
            continue;
        };
        let count = reached.entry(commit.tree_id()).or_default();
        if *count == 0 {
            roots.push(commit.tree_id());
        }
        *count += 1;
    }
    let mut summaries: HashMap<Oid, Summary> = HashMap::new();
    // The trees that hold a flagged blob, each after every tree inside it.
    let mut children_first: Vec<Oid> = Vec::new();
    for root in roots {
        summarize(objects, root, &flagged, &mut summaries, &mut children_first);
    }
    let mut counts: HashMap<Oid, u64> = HashMap::new();
    for tree in children_first.iter().rev() {
        let Some(&times_reached) = reached.get(tree) else {
            continue;
        };
        let Some(summary) = summaries.get(tree) else { continue };
        for (blob, entries) in &summary.blobs {
            *counts.entry(*blob).or_default() += times_reached * entries;
        }
        for (subtree, entries) in &summary.subtrees {
            *reached.entry(*subtree).or_default() += times_reached * entries;
        }
    }
    counts
}

/// The entries of one tree that lead to a flagged blob, with how many entries name each.
#[derive(Default)]
struct Summary {
    blobs: Vec<(Oid, u64)>,
    subtrees: Vec<(Oid, u64)>,
    /// Read and summed up (not just met on the way down).
    done: bool,
}

impl Summary {
    fn holds_flagged(&self) -> bool {
        !self.blobs.is_empty() || !self.subtrees.is_empty()
    }
}

/// Summarizes `root` and every tree below it not summarized yet, depth-first without recursion (a hostile
/// repository can nest trees as deep as it likes), and appends those that hold a flagged blob to
/// `children_first` once everything inside them is done.
fn summarize(
    objects: &Objects<'_>,
    root: Oid,
    flagged: &HashSet<Oid>,
    summaries: &mut HashMap<Oid, Summary>,
    children_first: &mut Vec<Oid>,
) {
    // (tree, whether its entries have been pushed already)
    let mut stack: Vec<(Oid, bool)> = vec![(root, false)];
    while let Some((tree_oid, expanded)) = stack.pop() {
        if expanded {
            // Every subtree is done now: keep only those that lead to a flagged blob.
            let mut summary = summaries.remove(&tree_oid).unwrap_or_default();
            summary
                .subtrees
                .retain(|(subtree, _)| summaries.get(subtree).is_some_and(Summary::holds_flagged));
            summary.done = true;
            if summary.holds_flagged() {
                children_first.push(tree_oid);
            }
            summaries.insert(tree_oid, summary);
            continue;
        }
        if summaries.contains_key(&tree_oid) {
            continue;
        }
        let mut summary = Summary::default();
        // An unreadable tree was reported when the history was walked; it holds nothing here.
        if let Ok(tree) = objects.tree(tree_oid) {
            let mut blobs: HashMap<Oid, u64> = HashMap::new();
            let mut subtrees: HashMap<Oid, u64> = HashMap::new();
            for entry in tree.iter() {
                match entry.kind() {
                    Some(ObjectType::Blob) if flagged.contains(&entry.id()) => {
                        *blobs.entry(entry.id()).or_default() += 1
                    }
                    Some(ObjectType::Tree) => *subtrees.entry(entry.id()).or_default() += 1,
                    _ => {}
                }
            }
            summary.blobs = blobs.into_iter().collect();
            summary.subtrees = subtrees.into_iter().collect();
        }
        stack.push((tree_oid, true));
        for (subtree, _) in &summary.subtrees {
            if !summaries.contains_key(subtree) {
                stack.push((*subtree, false));
            }
        }
        summaries.insert(tree_oid, summary);
    }
}

/// Every (commit, path) where each of `flagged` appears, over the enumerated commits (`--all-commits`).
/// Each tree's flagged content is computed once and shared by every commit that contains the tree.
pub fn all_occurrences(
    objects: &Objects<'_>,
    enumeration: &Enumeration,
    flagged: &[Oid],
) -> HashMap<Oid, Vec<Occurrence>> {
    let flagged: HashSet<Oid> = flagged.iter().copied().collect();
    let mut memo: HashMap<Oid, Rc<Vec<(String, Oid)>>> = HashMap::new();
    let mut places: HashMap<Oid, Vec<Occurrence>> = HashMap::new();
    for commit_oid in &enumeration.commits {
        // Unreadable commits were reported when the history was walked.
        let Ok(commit) = objects.commit(*commit_oid) else {
            continue;
        };
        let contents = flagged_in_tree(objects, commit.tree_id(), &flagged, &mut memo);
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
    objects: &Objects<'_>,
    tree_oid: Oid,
    flagged: &HashSet<Oid>,
    memo: &mut HashMap<Oid, Rc<Vec<(String, Oid)>>>,
) -> Rc<Vec<(String, Oid)>> {
    if let Some(done) = memo.get(&tree_oid) {
        return Rc::clone(done);
    }
    let mut found = Vec::new();
    // An unreadable tree was reported when the history was walked.
    if let Ok(tree) = objects.tree(tree_oid) {
        for entry in tree.iter() {
            let name = String::from_utf8_lossy(entry.name_bytes()).into_owned();
            match entry.kind() {
                Some(ObjectType::Blob) if flagged.contains(&entry.id()) => found.push((name, entry.id())),
                Some(ObjectType::Tree) => {
                    let inner = flagged_in_tree(objects, entry.id(), flagged, memo);
                    found.extend(inner.iter().map(|(path, blob)| (format!("{name}/{path}"), *blob)));
                }
                _ => {}
            }
        }
    }
    let found = Rc::new(found);
    memo.insert(tree_oid, Rc::clone(&found));
    found
}
