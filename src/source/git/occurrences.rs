//! Every (commit, path) place where the flagged blobs of a history scan appear (`--all-commits`); their numbers
//! alone come from the walk's tree graph (see `tree_graph`).
//!
//! The lists start from one summary per tree: the entries that lead to a flagged blob, read once whatever the
//! number of commits that share the tree. Nothing here recurses, since a hostile repository can nest trees as
//! deep as it likes.

use std::collections::{HashMap, HashSet};

use git2::{ObjectType, Oid};

use super::enumerate::Enumeration;
use super::objects::Objects;
use crate::finding::Occurrence;

/// Every (commit, path) where each of `flagged` appears, over the enumerated commits (`--all-commits`). The
/// cost is that of the list itself: only the trees that lead to a flagged blob are visited for each commit.
pub fn all_occurrences(
    objects: &Objects<'_>,
    enumeration: &Enumeration,
    flagged: &[Oid],
) -> HashMap<Oid, Vec<Occurrence>> {
    let roots = commit_roots(enumeration);
    let summaries = Summaries::build(objects, roots.iter().map(|(_, tree)| *tree), flagged);
    let mut places: HashMap<Oid, Vec<Occurrence>> = HashMap::new();
    for (commit, root) in &roots {
        // (tree, the length of `path` when it was entered); `path` ends with '/' when not empty.
        let mut path = String::new();
        let mut stack: Vec<(Oid, usize, Option<String>)> = vec![(*root, 0, None)];
        while let Some((tree, parent_len, name)) = stack.pop() {
            path.truncate(parent_len);
            if let Some(name) = name {
                path.push_str(&name);
                path.push('/');
            }
            let Some(summary) = summaries.by_tree.get(&tree) else {
                continue;
            };
            for (name, blob) in &summary.blobs {
                let place = format!("{path}{name}");
                places.entry(*blob).or_default().push(super::occurrence(*commit, place));
            }
            let here = path.len();
            for (name, subtree) in summary.subtrees.iter().rev() {
                stack.push((*subtree, here, Some(name.clone())));
            }
        }
    }
    places
}

/// Each walked commit with its root tree, as the walk kept them (no commit is read again).
fn commit_roots(enumeration: &Enumeration) -> Vec<(Oid, Oid)> {
    enumeration
        .trees
        .root_trees()
        .into_iter()
        .filter_map(|(commit, tree)| Some((*enumeration.commits.get(commit as usize)?, tree)))
        .collect()
}

/// The entries of one tree that lead to a flagged blob, by name.
#[derive(Default)]
struct Summary {
    blobs: Vec<(String, Oid)>,
    subtrees: Vec<(String, Oid)>,
}

impl Summary {
    fn leads_to_flagged(&self) -> bool {
        !self.blobs.is_empty() || !self.subtrees.is_empty()
    }
}

struct Summaries {
    /// Every tree met; those that lead nowhere have empty summaries.
    by_tree: HashMap<Oid, Summary>,
}

impl Summaries {
    /// Reads every tree under `roots` once, depth-first with an explicit stack.
    fn build(objects: &Objects<'_>, roots: impl Iterator<Item = Oid>, flagged: &[Oid]) -> Summaries {
        let flagged: HashSet<Oid> = flagged.iter().copied().collect();
        let mut summaries = Summaries {
            by_tree: HashMap::new(),
        };
        // (tree, whether its subtrees have been pushed already)
        let mut stack: Vec<(Oid, bool)> = roots.map(|root| (root, false)).collect();
        while let Some((tree_oid, expanded)) = stack.pop() {
            if expanded {
                // Everything inside is summarized now: keep the subtrees that lead to a flagged blob. (Git
                // objects cannot hold themselves, so a subtree is never still waiting here.)
                let mut summary = summaries.by_tree.remove(&tree_oid).unwrap_or_default();
                let by_tree = &summaries.by_tree;
                summary
                    .subtrees
                    .retain(|(_, subtree)| by_tree.get(subtree).is_some_and(Summary::leads_to_flagged));
                summaries.by_tree.insert(tree_oid, summary);
                continue;
            }
            if summaries.by_tree.contains_key(&tree_oid) {
                continue;
            }
            let mut summary = Summary::default();
            // An unreadable tree was reported when the history was walked; it leads nowhere here.
            if let Ok(tree) = objects.tree(tree_oid) {
                for entry in tree.iter() {
                    let name = || String::from_utf8_lossy(entry.name_bytes()).into_owned();
                    match entry.kind() {
                        Some(ObjectType::Blob) if flagged.contains(&entry.id()) => {
                            summary.blobs.push((name(), entry.id()))
                        }
                        Some(ObjectType::Tree) => summary.subtrees.push((name(), entry.id())),
                        _ => {}
                    }
                }
            }
            stack.push((tree_oid, true));
            for (_, subtree) in &summary.subtrees {
                if !summaries.by_tree.contains_key(subtree) {
                    stack.push((*subtree, false));
                }
            }
            summaries.by_tree.insert(tree_oid, summary);
        }
        summaries
    }
}
