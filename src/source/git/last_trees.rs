//! The last tree the history walk read at each path, with what each of its entries became.
//!
//! A commit changes a few files, so the tree at a path differs from the one the walk read there last in a few
//! entries. An entry with the same name, kind and id as one there has the same outcome (the same subtree or
//! blob in the tree graph, already walked or listed; a submodule already recorded at that path), so the walk
//! takes it from here instead of looking the id up in tables of millions (a cache miss each: a fifth of the
//! walk's time on a history of small commits). Anything not found here is looked up as before, so a tree in
//! an unusual order (a hostile repository's) is only slower, never walked differently.
//!
//! What differs is also how the tree graph keeps the new tree: the last tree, plus the entries the new one
//! added, minus those it no longer has ([`Known::difference`]), when that is shorter than the whole tree.

use std::cmp::Ordering;
use std::collections::HashMap;

use git2::{ObjectType, Oid, TreeEntry};

/// What one entry of a walked tree became: its entry in the tree graph, or nothing (a blob present before a
/// range began, a submodule, an entry of another kind).
pub(super) type Outcome = Option<u32>;

/// At most this many bytes of paths, names and entries are held over all paths; past it the memory is given back and
/// the walk starts remembering afresh.
const MAX_BYTES: usize = 64 << 20;

/// One entry of a remembered tree.
#[derive(Clone, Copy)]
struct Entry {
    /// Where its name ends in [`LastTree::names`] (it starts where the one before ends).
    name_end: u32,
    kind: Option<ObjectType>,
    id: Oid,
    outcome: Outcome,
}

/// A copy of a tree's names, kinds and ids (not libgit2's object: the walk frees those in the order it read
/// them, which keeps the allocator fast).
#[derive(Default)]
struct LastTree {
    names: Vec<u8>,
    entries: Vec<Entry>,
    /// Its index in the walk's tree graph.
    tree_index: u32,
    /// The length of the path it is remembered at (a hostile repository can nest trees deep enough for paths
    /// to outweigh the rest).
    path_len: usize,
}

impl LastTree {
    fn bytes(&self) -> usize {
        self.path_len + self.names.len() + self.entries.len() * std::mem::size_of::<Entry>()
    }

    fn name(&self, at: usize) -> &[u8] {
        let start = at
            .checked_sub(1)
            .map_or(0, |before| self.entries[before].name_end as usize);
        &self.names[start..self.entries[at].name_end as usize]
    }
}

#[derive(Default)]
pub(super) struct LastTrees {
    by_path: HashMap<String, LastTree>,
    /// The bytes of every tree in `by_path`.
    bytes: usize,
    /// A tree given back, whose allocations the next one reuses.
    spare: LastTree,
}

impl LastTrees {
    /// What the walk knows of the entries of a new tree at `path`, to be asked entry by entry in tree order
    /// (see [`Known::outcome`]) and told what became of each ([`Known::record`]).
    pub(super) fn take(&mut self, path: &str) -> Known {
        let last = self.by_path.remove(path);
        if let Some(last) = &last {
            self.bytes -= last.bytes();
        }
        let mut next = std::mem::take(&mut self.spare);
        next.names.clear();
        next.entries.clear();
        let (base, last) = match last {
            Some(last) => (Some(last.tree_index), last),
            None => (None, LastTree::default()),
        };
        Known {
            last,
            base,
            cursor: 0,
            next,
            removed: Vec::new(),
            complete: true,
        }
    }

    /// Remembers the tree that `known` was told of, read at `path`, at `tree_index` in the tree graph.
    pub(super) fn remember(&mut self, path: String, known: Known, tree_index: u32) {
        let Known {
            last,
            mut next,
            complete,
            ..
        } = known;
        self.spare = last;
        if !complete {
            return;
        }
        next.tree_index = tree_index;
        next.path_len = path.len();
        if self.bytes + next.bytes() > MAX_BYTES {
            self.by_path = HashMap::new();
            self.bytes = 0;
        }
        self.bytes += next.bytes();
        self.by_path.insert(path, next);
    }
}

/// The last tree at one path, walked through in step with a new tree's entries, and the new tree as it is
/// told of them.
pub(super) struct Known {
    last: LastTree,
    /// The last tree's index in the tree graph, if there was one.
    base: Option<u32>,
    cursor: usize,
    next: LastTree,
    /// The tree-graph entries of the last tree's entries that the new tree does not have (as far as it has
    /// been asked about).
    removed: Vec<u32>,
    /// Every entry of the new tree was recorded (a tree is remembered whole or not at all).
    complete: bool,
}

impl Known {
    /// The outcome of `entry` if the last tree at this path held the same name, kind and id. Entries must be
    /// asked for in the order of the tree (git's order, which the last tree has too): the last tree is read
    /// once, forward.
    pub(super) fn outcome(&mut self, entry: &TreeEntry<'_>) -> Option<Outcome> {
        let (name, kind) = (entry.name_bytes(), entry.kind());
        while let Some(old) = self.last.entries.get(self.cursor) {
            match git_order(self.last.name(self.cursor), old.kind, name, kind) {
                Ordering::Less => {
                    self.removed.extend(old.outcome);
                    self.cursor += 1;
                }
                Ordering::Greater => return None,
                Ordering::Equal => {
                    self.cursor += 1;
                    let same = old.kind == kind && old.id.as_bytes() == entry.id().as_bytes();
                    if !same {
                        self.removed.extend(old.outcome);
                    }
                    return same.then_some(old.outcome);
                }
            }
        }
        None
    }

    /// Once the new tree's every entry was asked about: the tree it is a difference from (the last tree at its
    /// path, if any), and the tree-graph entries that the new tree does not have of it. Each entry of the last
    /// tree is either the outcome of one entry of the new tree or one of these.
    pub(super) fn difference(&mut self) -> (Option<u32>, &[u32]) {
        for old in &self.last.entries[self.cursor.min(self.last.entries.len())..] {
            self.removed.extend(old.outcome);
        }
        self.cursor = self.last.entries.len();
        (self.base, &self.removed)
    }

    /// What became of `entry`, the next entry of the new tree. A tree whose names pass 4 GiB is not remembered.
    pub(super) fn record(&mut self, entry: &TreeEntry<'_>, outcome: Outcome) {
        let name = entry.name_bytes();
        let Ok(name_end) = u32::try_from(self.next.names.len() + name.len()) else {
            self.complete = false;
            return;
        };
        self.next.names.extend_from_slice(name);
        self.next.entries.push(Entry {
            name_end,
            kind: entry.kind(),
            id: entry.id(),
            outcome,
        });
    }
}

/// Git's order of tree entries: by name, a tree's name compared as if it ended in `/`.
fn git_order(a: &[u8], a_kind: Option<ObjectType>, b: &[u8], b_kind: Option<ObjectType>) -> Ordering {
    let common = a.len().min(b.len());
    a[..common].cmp(&b[..common]).then_with(|| {
        let next = |name: &[u8], kind: Option<ObjectType>| {
            name.get(common)
                .copied()
                .unwrap_or(if kind == Some(ObjectType::Tree) { b'/' } else { 0 })
        };
        next(a, a_kind).cmp(&next(b, b_kind))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trees_sort_as_if_their_names_ended_in_a_slash() {
        let (tree, blob) = (Some(ObjectType::Tree), Some(ObjectType::Blob));
        assert_eq!(git_order(b"foo", tree, b"foo.txt", blob), Ordering::Greater);
        assert_eq!(git_order(b"foo", blob, b"foo.txt", blob), Ordering::Less);
        assert_eq!(git_order(b"foo", tree, b"foo0", blob), Ordering::Less);
        assert_eq!(git_order(b"a", blob, b"a", blob), Ordering::Equal);
        assert_eq!(git_order(b"a", blob, b"a", tree), Ordering::Less);
    }
}
