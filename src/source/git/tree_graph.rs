//! The trees a history walk read, kept as a graph of small indices: each tree's entries as tree indices or
//! positions in the walk's blob list. With it the places of flagged blobs are counted without reading a tree
//! again (`other_occurrences`).
//!
//! A tree that differs from the one walked before it at its path in fewer entries than it holds is kept as
//! that difference: the earlier tree (its base), the entries added and the entries removed. A commit changes a
//! few files, so a history costs a few entries a commit, however wide its directories: a tree of 300 entries
//! changed in one costs 3 entries instead of 300 (1.2 KB a commit on a history of 20,000 files in 200
//! directories). Each distinct tree also costs its id, its base and two offsets (the id stands in for the set
//! of trees walked that the walk needs anyway).

use git2::Oid;

use super::oid_map::OidMap;

/// Marks an entry as a tree index; without it an entry is a blob position.
const TREE: u32 = 1 << 31;
/// Marks an entry of a difference as removed from the base; without it an entry is added.
const REMOVED: u32 = 1 << 30;
/// Tree indices and blob positions must stay below this to fit beside the marks.
const MAX_INDEX: u32 = REMOVED;
/// The range of a tree met but not walked yet.
const NOT_WALKED: (u32, u32) = (u32::MAX, u32::MAX);
/// The base of a tree kept whole.
const NO_BASE: u32 = u32::MAX;

#[derive(Debug, Default)]
pub struct TreeGraph {
    /// The index of every tree met, walked or still to be walked.
    index: OidMap<u32>,
    /// Where each tree's entries lie in `entries` (an unreadable tree has none).
    ranges: Vec<(u32, u32)>,
    /// The tree each tree's entries are a difference from, or [`NO_BASE`].
    bases: Vec<u32>,
    entries: Entries,
    /// Each walked commit's root tree: (commit index, tree index).
    roots: Vec<(u32, u32)>,
    /// Set when an index no longer fits (over a billion trees or blobs, or 4 billion entries): the graph is
    /// then not used.
    overflowed: bool,
}

impl TreeGraph {
    /// The index of `tree`, added (not walked) if it is new.
    pub fn index_of(&mut self, tree: Oid) -> u32 {
        let next = self.ranges.len() as u32;
        let index = *self.index.get_or_insert_with(tree, || next);
        if index == next {
            if index >= MAX_INDEX {
                self.overflowed = true;
            }
            self.ranges.push(NOT_WALKED);
            self.bases.push(NO_BASE);
        }
        index
    }

    pub fn is_walked(&self, tree: &Oid) -> bool {
        self.index
            .get(tree)
            .is_some_and(|&index| self.ranges[index as usize] != NOT_WALKED)
    }

    /// Whether the tree at `index` (from [`TreeGraph::index_of`]) has been walked.
    pub fn walked_index(&self, index: u32) -> bool {
        self.ranges[index as usize] != NOT_WALKED
    }

    /// Marks the tree at `index` walked, with no entries until [`TreeGraph::set_entries`] gives them.
    pub fn begin_tree(&mut self, index: u32) {
        let at = self.entries_len();
        self.ranges[index as usize] = (at, at);
    }

    /// The entry that stands for the subtree at `index`.
    pub fn subtree_entry(&mut self, index: u32) -> u32 {
        if index >= MAX_INDEX {
            self.overflowed = true;
        }
        TREE | (index & (MAX_INDEX - 1))
    }

    /// The entry that stands for the blob at `position` in the walk's list.
    pub fn blob_entry(&mut self, position: u32) -> u32 {
        if position >= MAX_INDEX {
            self.overflowed = true;
        }
        position & (MAX_INDEX - 1)
    }

    /// Gives the tree at `index`, begun with [`TreeGraph::begin_tree`], its entries: `added` alone, or, with
    /// a `base`, the base's entries with `added` added and `removed` taken away.
    pub fn set_entries(&mut self, index: u32, base: Option<u32>, added: &[u32], removed: &[u32]) {
        let start = self.entries_len();
        for &entry in added {
            self.entries.push(entry);
        }
        if base.is_some() {
            for &entry in removed {
                self.entries.push(entry | REMOVED);
            }
        }
        let end = self.entries_len();
        self.ranges[index as usize] = (start, end);
        self.bases[index as usize] = base.unwrap_or(NO_BASE);
    }

    /// The tree the stored entries of `tree` are a difference from, if any, and those entries (none for a tree
    /// not walked).
    fn stored(&self, tree: u32) -> (Option<u32>, impl Iterator<Item = u32> + '_) {
        let (start, end) = match self.ranges[tree as usize] {
            NOT_WALKED => (0, 0),
            range => range,
        };
        let base = self.bases[tree as usize];
        ((base != NO_BASE).then_some(base), self.entries.range(start, end))
    }

    fn entries_len(&mut self) -> u32 {
        u32::try_from(self.entries.len()).unwrap_or_else(|_| {
            self.overflowed = true;
            u32::MAX - 1
        })
    }

    /// Gives back what the tables hold in reserve, once the walk is over.
    pub fn shrink_to_fit(&mut self) {
        self.index.shrink_to_fit();
        self.ranges.shrink_to_fit();
        self.bases.shrink_to_fit();
        self.roots.shrink_to_fit();
    }

    pub fn add_root(&mut self, commit: u32, tree: u32) {
        self.roots.push((commit, tree));
    }

    /// Each walked commit's root tree, by id: (commit index, tree id).
    pub fn root_trees(&self) -> Vec<(u32, Oid)> {
        let mut ids = vec![Oid::ZERO_SHA1; self.ranges.len()];
        for (id, &index) in self.index.iter() {
            ids[index as usize] = *id;
        }
        self.roots
            .iter()
            .map(|&(commit, tree)| (commit, ids[tree as usize]))
            .collect()
    }

    /// The index here of every tree of `other` (a graph built by another walk), added (not walked) where it is
    /// new: the first step of [`TreeGraph::absorb`], which needs nothing of the blobs and can run while they
    /// are merged.
    pub fn index_trees_of(&mut self, other: &TreeGraph) -> Vec<u32> {
        let mut here = vec![0u32; other.ranges.len()];
        for (id, other_index) in other.index.iter() {
            here[*other_index as usize] = self.index_of(*id);
        }
        here
    }

    /// Adds a graph built by another walk, whose tree indices `here` maps to this graph's (from
    /// [`TreeGraph::index_trees_of`]) and whose blob positions `blob_at` maps to this walk's (`None`: not
    /// listed here, never flagged). Trees walked here already keep their entries: a tree id has one content,
    /// so a tree absorbed as a difference from one of them has the same entries in the end.
    pub fn absorb(&mut self, other: TreeGraph, here: &[u32], blob_at: impl Fn(u32) -> Option<u32>) {
        self.overflowed |= other.overflowed;
        let (mut added, mut removed) = (Vec::new(), Vec::new());
        for (other_index, &index) in here.iter().enumerate() {
            if !other.walked_index(other_index as u32) || self.walked_index(index) {
                continue;
            }
            self.begin_tree(index);
            added.clear();
            removed.clear();
            let (base, entries) = other.stored(other_index as u32);
            for entry in entries {
                let into = if entry & REMOVED != 0 { &mut removed } else { &mut added };
                let entry = entry & !REMOVED;
                if entry & TREE != 0 {
                    into.push(TREE | here[(entry & !TREE) as usize]);
                } else if let Some(position) = blob_at(entry) {
                    into.push(position);
                }
            }
            self.set_entries(index, base.map(|base| here[base as usize]), &added, &removed);
        }
        self.roots
            .extend(other.roots.iter().map(|&(commit, tree)| (commit, here[tree as usize])));
    }

    /// How many (commit, path) places hold each blob of `flagged` (positions in the walk's list), over every
    /// root, or `None` when the graph overflowed. Each tree's counts are made once, after those of its base and
    /// its subtrees, without recursion (trees can nest as deep as a repository likes); a tree leading to no
    /// flagged blob holds no counts.
    pub fn place_counts(&self, flagged: &[u32]) -> Option<Vec<u64>> {
        if self.overflowed {
            return None;
        }
        let slot: std::collections::HashMap<u32, usize> = flagged
            .iter()
            .enumerate()
            .map(|(slot, &position)| (position, slot))
            .collect();
        let mut counts: Vec<Option<Box<[u64]>>> = vec![None; self.ranges.len()];
        // 0: not met; 1: its children are being counted; 2: counted. A tree met again while its children are
        // counted (a loop, which only a hand-made repository can hold) counts as empty there.
        let mut state = vec![0u8; self.ranges.len()];
        let children = |tree: u32| {
            let (base, entries) = self.stored(tree);
            base.into_iter().chain(
                entries
                    .filter(|entry| entry & TREE != 0)
                    .map(|entry| entry & !(TREE | REMOVED)),
            )
        };
        for &(_, root) in &self.roots {
            // (tree, whether its children are done)
            let mut stack = vec![(root, false)];
            while let Some((tree, expanded)) = stack.pop() {
                if expanded {
                    counts[tree as usize] = self.count_tree(tree, &counts, &slot, flagged.len());
                    state[tree as usize] = 2;
                    continue;
                }
                if state[tree as usize] != 0 {
                    continue;
                }
                state[tree as usize] = 1;
                stack.push((tree, true));
                stack.extend(
                    children(tree)
                        .filter(|&child| state[child as usize] == 0)
                        .map(|c| (c, false)),
                );
            }
        }
        let mut total = vec![0u64; flagged.len()];
        for &(_, root) in &self.roots {
            if let Some(root_counts) = &counts[root as usize] {
                for (sum, &count) in total.iter_mut().zip(root_counts.iter()) {
                    *sum = sum.saturating_add(count);
                }
            }
        }
        Some(total)
    }

    /// The counts of one tree, from its base's and its subtrees' (made already): `None` for none at all.
    fn count_tree(
        &self,
        tree: u32,
        counts: &[Option<Box<[u64]>>],
        slot: &std::collections::HashMap<u32, usize>,
        flagged: usize,
    ) -> Option<Box<[u64]>> {
        let (base, entries) = self.stored(tree);
        let mut mine: Option<Box<[u64]>> = base.and_then(|base| counts[base as usize].clone());
        for entry in entries {
            let removed = entry & REMOVED != 0;
            let entry = entry & !REMOVED;
            let apply = |mine: &mut Option<Box<[u64]>>, at: usize, by: u64| {
                let mine = mine.get_or_insert_with(|| vec![0u64; flagged].into_boxed_slice());
                mine[at] = if removed {
                    mine[at].saturating_sub(by)
                } else {
                    mine[at].saturating_add(by)
                };
            };
            if entry & TREE != 0 {
                if let Some(sub) = &counts[(entry & !TREE) as usize] {
                    for (at, &by) in sub.iter().enumerate().filter(|(_, by)| **by != 0) {
                        apply(&mut mine, at, by);
                    }
                }
            } else if let Some(&at) = slot.get(&entry) {
                apply(&mut mine, at, 1);
            }
        }
        mine
    }

    /// Gives every blob entry its new position, `new_at[old]`, after the blob list was reordered.
    pub fn renumber_blobs(&mut self, new_at: &[u32]) {
        for chunk in &mut self.entries.chunks {
            for entry in chunk.iter_mut().filter(|entry| **entry & TREE == 0) {
                if let Some(&new) = new_at.get((*entry & !REMOVED) as usize) {
                    *entry = new | (*entry & REMOVED);
                }
            }
        }
    }
}

/// The entries of every tree, one after another, in fixed-size chunks: growing never copies them, and never
/// holds more than one chunk in reserve (a `Vec` that doubles can hold as much again at its peak).
#[derive(Debug, Default)]
struct Entries {
    chunks: Vec<Vec<u32>>,
    len: usize,
}

impl Entries {
    const CHUNK: usize = 1 << 16;

    fn push(&mut self, entry: u32) {
        if self.len.is_multiple_of(Self::CHUNK) {
            self.chunks.push(Vec::with_capacity(Self::CHUNK));
        }
        if let Some(chunk) = self.chunks.last_mut() {
            chunk.push(entry);
        }
        self.len += 1;
    }

    fn len(&self) -> usize {
        self.len
    }

    /// The entries from `start` to `end`.
    fn range(&self, start: u32, end: u32) -> impl Iterator<Item = u32> + '_ {
        (start as usize..end as usize).map(|at| self.chunks[at / Self::CHUNK][at % Self::CHUNK])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> Oid {
        Oid::from_bytes(&[n; 20]).expect("20 bytes")
    }

    /// Builds a tree of `entries` (subtree ids, or blob positions).
    fn add_tree(graph: &mut TreeGraph, tree: u8, subtrees: &[u8], blobs: &[u32]) -> u32 {
        let index = graph.index_of(id(tree));
        graph.begin_tree(index);
        let mut added = Vec::new();
        for sub in subtrees {
            let sub = graph.index_of(id(*sub));
            added.push(graph.subtree_entry(sub));
        }
        for blob in blobs {
            added.push(graph.blob_entry(*blob));
        }
        graph.set_entries(index, None, &added, &[]);
        index
    }

    /// Builds tree `tree` as `base` with blobs `added` added and `removed` taken away.
    fn add_difference(graph: &mut TreeGraph, tree: u8, base: u32, added: &[u32], removed: &[u32]) -> u32 {
        let index = graph.index_of(id(tree));
        graph.begin_tree(index);
        let added: Vec<u32> = added.iter().map(|&blob| graph.blob_entry(blob)).collect();
        let removed: Vec<u32> = removed.iter().map(|&blob| graph.blob_entry(blob)).collect();
        graph.set_entries(index, Some(base), &added, &removed);
        index
    }

    /// Root 1 holds blob 0 and subtree 2 twice (two directories with one content); 2 holds blob 1. Two commits
    /// share root 1, a third has root 3, which holds subtree 2 once.
    #[test]
    fn places_are_counted_through_shared_trees() {
        let mut graph = TreeGraph::default();
        add_tree(&mut graph, 2, &[], &[1]);
        let root = add_tree(&mut graph, 1, &[2, 2], &[0]);
        let other_root = add_tree(&mut graph, 3, &[2], &[]);
        graph.add_root(0, root);
        graph.add_root(1, root);
        graph.add_root(2, other_root);
        assert_eq!(graph.place_counts(&[0, 1, 2]), Some(vec![2, 2 * 2 + 1, 0]));
    }

    /// A tree met before its parent was walked (a parent indexed after its child) is still counted after it.
    #[test]
    fn the_order_of_indices_does_not_matter() {
        let mut graph = TreeGraph::default();
        let child = graph.index_of(id(9));
        let root = add_tree(&mut graph, 1, &[9], &[]);
        graph.begin_tree(child);
        let blob = graph.blob_entry(0);
        graph.set_entries(child, None, &[blob], &[]);
        graph.add_root(0, root);
        assert_eq!(graph.place_counts(&[0]), Some(vec![1]));
    }

    /// Tree 4 is tree 1 with blob 2 added and blob 0 taken away; subtree 2 holds blob 0 too. Each is a root.
    #[test]
    fn a_tree_kept_as_a_difference_counts_as_its_whole_entries() {
        let mut graph = TreeGraph::default();
        add_tree(&mut graph, 2, &[], &[0]);
        let base = add_tree(&mut graph, 1, &[2], &[0, 1]);
        let changed = add_difference(&mut graph, 4, base, &[2], &[0]);
        graph.add_root(0, base);
        graph.add_root(1, changed);
        assert_eq!(graph.place_counts(&[0, 1, 2]), Some(vec![2 + 1, 2, 1]));
        // Only some blobs asked for, in any order.
        assert_eq!(graph.place_counts(&[2, 0]), Some(vec![1, 3]));
        // Renumbered, the removed entry follows its blob.
        graph.renumber_blobs(&[2, 0, 1]);
        assert_eq!(graph.place_counts(&[2, 0, 1]), Some(vec![3, 2, 1]));
    }

    /// A difference from a tree that holds it (only a hand-made repository could make the walk build one) ends.
    #[test]
    fn a_loop_through_a_base_ends() {
        let mut graph = TreeGraph::default();
        let base = add_tree(&mut graph, 1, &[5], &[0]);
        let looped = add_difference(&mut graph, 5, base, &[1], &[]);
        graph.add_root(0, looped);
        assert!(graph.place_counts(&[0, 1]).is_some());
    }

    /// Another walk's graph adds its trees once, maps its blob positions, and keeps its roots.
    #[test]
    fn an_absorbed_graph_adds_its_trees_and_roots() {
        let mut first = TreeGraph::default();
        let shared = add_tree(&mut first, 2, &[], &[0]);
        first.add_root(0, shared);
        let mut later = TreeGraph::default();
        add_tree(&mut later, 2, &[], &[5]);
        let root = add_tree(&mut later, 4, &[2], &[6]);
        later.add_root(1, root);
        // Later positions 5 and 6 are positions 0 and 1 here.
        let here = first.index_trees_of(&later);
        first.absorb(later, &here, |position| Some(position - 5));
        assert_eq!(first.place_counts(&[0, 1]), Some(vec![2, 1]));
    }

    /// Renumbered blobs keep their counts, and trees keep theirs.
    #[test]
    fn renumbered_blobs_keep_their_places() {
        let mut graph = TreeGraph::default();
        add_tree(&mut graph, 2, &[], &[1]);
        let root = add_tree(&mut graph, 1, &[2, 2], &[0, 2]);
        graph.add_root(0, root);
        assert_eq!(graph.place_counts(&[0, 1, 2]), Some(vec![1, 2, 1]));
        graph.renumber_blobs(&[2, 0, 1]);
        assert_eq!(graph.place_counts(&[0, 1, 2]), Some(vec![2, 1, 1]));
    }

    /// Roots are named by their trees' ids, whichever order the trees were met in.
    #[test]
    fn root_trees_are_named_by_id() {
        let mut graph = TreeGraph::default();
        let child = graph.index_of(id(9));
        let root = add_tree(&mut graph, 1, &[9], &[]);
        graph.add_root(4, root);
        graph.add_root(5, child);
        assert_eq!(graph.root_trees(), vec![(4, id(1)), (5, id(9))]);
    }

    #[test]
    fn entries_span_chunks() {
        let mut entries = Entries::default();
        for n in 0..(Entries::CHUNK as u32 * 2 + 5) {
            entries.push(n);
        }
        let start = Entries::CHUNK as u32 - 2;
        assert_eq!(
            entries.range(start, start + 4).collect::<Vec<_>>(),
            vec![start, start + 1, start + 2, start + 3]
        );
        assert_eq!(entries.len(), Entries::CHUNK * 2 + 5);
    }

    /// A repository cannot overflow the counts: a tree that names one subtree a thousand times, nested.
    #[test]
    fn counts_saturate_instead_of_overflowing() {
        let mut graph = TreeGraph::default();
        add_tree(&mut graph, 9, &[], &[0]);
        for level in (1..9u8).rev() {
            add_tree(&mut graph, level, &[level + 1; 200], &[]);
        }
        let root = graph.index_of(id(1));
        graph.add_root(0, root);
        assert_eq!(graph.place_counts(&[0]), Some(vec![200u64.pow(8)]));
        let deeper = add_tree(&mut graph, 20, &[1; 200], &[]);
        for _ in 0..10 {
            graph.add_root(1, deeper);
        }
        assert_eq!(graph.place_counts(&[0]).map(|c| c[0]), Some(u64::MAX));
    }
}
