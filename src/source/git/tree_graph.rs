//! The trees a history walk read, kept as a graph of small indices: each tree's entries as tree indices or
//! positions in the walk's blob list. With it the places of flagged blobs are counted without reading a tree
//! again (`other_occurrences`).
//!
//! It costs 4 bytes for every entry of every distinct tree, and the id and two offsets of each distinct tree
//! (the id stands in for the set of trees walked that the walk needs anyway).

use git2::Oid;

use super::oid_map::OidMap;

/// Marks an entry as a tree index; without it an entry is a blob position.
const TREE: u32 = 1 << 31;
/// The range of a tree met but not walked yet.
const NOT_WALKED: (u32, u32) = (u32::MAX, u32::MAX);

#[derive(Debug, Default)]
pub struct TreeGraph {
    /// The index of every tree met, walked or still to be walked.
    index: OidMap<u32>,
    /// Where each tree's entries lie in `entries` (an unreadable tree has none).
    ranges: Vec<(u32, u32)>,
    entries: Entries,
    /// Each walked commit's root tree: (commit index, tree index).
    roots: Vec<(u32, u32)>,
    /// Set when an index no longer fits (over 2 billion trees or entries): the graph is then not used.
    overflowed: bool,
}

impl TreeGraph {
    /// The index of `tree`, added (not walked) if it is new.
    pub fn index_of(&mut self, tree: Oid) -> u32 {
        let next = self.ranges.len() as u32;
        let index = *self.index.get_or_insert_with(tree, || next);
        if index == next {
            if index >= TREE {
                self.overflowed = true;
            }
            self.ranges.push(NOT_WALKED);
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

    /// Starts the entries of the tree at `index`: it counts as walked from now on, with no entries until
    /// [`TreeGraph::end_tree`].
    pub fn begin_tree(&mut self, index: u32) {
        let at = self.entries_len();
        self.ranges[index as usize] = (at, at);
    }

    /// Adds a subtree entry to the tree begun last; the entry as [`TreeGraph::push_entry`] takes it.
    pub fn push_subtree(&mut self, index: u32) -> u32 {
        self.entries.push(TREE | index);
        TREE | index
    }

    /// Adds a blob entry to the tree begun last; the entry as [`TreeGraph::push_entry`] takes it.
    pub fn push_blob(&mut self, position: u32) -> u32 {
        if position >= TREE {
            self.overflowed = true;
        }
        self.entries.push(position);
        position
    }

    /// Adds an entry that [`TreeGraph::push_subtree`] or [`TreeGraph::push_blob`] gave back, for the same
    /// subtree or blob met again in another tree.
    pub fn push_entry(&mut self, entry: u32) {
        self.entries.push(entry);
    }

    /// Ends the entries of the tree at `index`, begun with [`TreeGraph::begin_tree`].
    pub fn end_tree(&mut self, index: u32) {
        let end = self.entries_len();
        self.ranges[index as usize].1 = end;
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
    /// listed here, never flagged). Trees walked here already keep their entries: a tree id has one content.
    pub fn absorb(&mut self, other: TreeGraph, here: &[u32], blob_at: impl Fn(u32) -> Option<u32>) {
        self.overflowed |= other.overflowed;
        for (other_index, &(start, end)) in other.ranges.iter().enumerate() {
            let index = here[other_index];
            if (start, end) == NOT_WALKED || self.walked_index(index) {
                continue;
            }
            self.begin_tree(index);
            for entry in other.entries.range(start, end) {
                if entry & TREE != 0 {
                    self.push_subtree(here[(entry & !TREE) as usize]);
                } else if let Some(position) = blob_at(entry) {
                    self.push_blob(position);
                }
            }
            self.end_tree(index);
        }
        self.roots
            .extend(other.roots.iter().map(|&(commit, tree)| (commit, here[tree as usize])));
    }

    /// How many (commit, path) places hold the blob at each position (`blobs` long), over every root, or
    /// `None` when the graph overflowed. The number of times the roots reach a tree flows from it to the trees
    /// and blobs inside it, parents before children, so each tree is visited once.
    pub fn place_counts(&self, blobs: usize) -> Option<Vec<u64>> {
        if self.overflowed {
            return None;
        }
        let mut reached = vec![0u64; self.ranges.len()];
        for &(_, tree) in &self.roots {
            reached[tree as usize] = reached[tree as usize].saturating_add(1);
        }
        let mut counts = vec![0u64; blobs];
        for &tree in self.parents_first().iter() {
            let times = reached[tree as usize];
            if times == 0 {
                continue;
            }
            let (start, end) = self.ranges[tree as usize];
            if (start, end) == NOT_WALKED {
                continue;
            }
            for entry in self.entries.range(start, end) {
                if entry & TREE != 0 {
                    let sub = (entry & !TREE) as usize;
                    reached[sub] = reached[sub].saturating_add(times);
                } else if let Some(count) = counts.get_mut(entry as usize) {
                    *count = count.saturating_add(times);
                }
            }
        }
        Some(counts)
    }

    /// Gives every blob entry its new position, `new_at[old]`, after the blob list was reordered.
    pub fn renumber_blobs(&mut self, new_at: &[u32]) {
        for chunk in &mut self.entries.chunks {
            for entry in chunk.iter_mut().filter(|entry| **entry & TREE == 0) {
                if let Some(&new) = new_at.get(*entry as usize) {
                    *entry = new;
                }
            }
        }
    }

    /// The trees reachable from the roots, each before every tree inside it: the reverse of a depth-first
    /// post-order, without recursion (trees can nest as deep as a repository likes).
    fn parents_first(&self) -> Vec<u32> {
        let mut done = vec![false; self.ranges.len()];
        let mut post_order = Vec::new();
        for &(_, root) in &self.roots {
            // (tree, whether its subtrees have been pushed already)
            let mut stack = vec![(root, false)];
            while let Some((tree, expanded)) = stack.pop() {
                if expanded {
                    post_order.push(tree);
                    continue;
                }
                if done[tree as usize] {
                    continue;
                }
                done[tree as usize] = true;
                stack.push((tree, true));
                let (start, end) = self.ranges[tree as usize];
                if (start, end) == NOT_WALKED {
                    continue;
                }
                for entry in self.entries.range(start, end) {
                    if entry & TREE != 0 && !done[(entry & !TREE) as usize] {
                        stack.push((entry & !TREE, false));
                    }
                }
            }
        }
        post_order.reverse();
        post_order
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
        for sub in subtrees {
            let sub = graph.index_of(id(*sub));
            graph.push_subtree(sub);
        }
        for blob in blobs {
            graph.push_blob(*blob);
        }
        graph.end_tree(index);
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
        assert_eq!(graph.place_counts(3), Some(vec![2, 2 * 2 + 1, 0]));
    }

    /// A tree met before its parent was walked (a parent indexed after its child) is still counted after it.
    #[test]
    fn the_order_of_indices_does_not_matter() {
        let mut graph = TreeGraph::default();
        let child = graph.index_of(id(9));
        let root = add_tree(&mut graph, 1, &[9], &[]);
        graph.begin_tree(child);
        graph.push_blob(0);
        graph.end_tree(child);
        graph.add_root(0, root);
        assert_eq!(graph.place_counts(1), Some(vec![1]));
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
        assert_eq!(first.place_counts(2), Some(vec![2, 1]));
    }

    /// Renumbered blobs keep their counts, and trees keep theirs.
    #[test]
    fn renumbered_blobs_keep_their_places() {
        let mut graph = TreeGraph::default();
        add_tree(&mut graph, 2, &[], &[1]);
        let root = add_tree(&mut graph, 1, &[2, 2], &[0, 2]);
        graph.add_root(0, root);
        assert_eq!(graph.place_counts(3), Some(vec![1, 2, 1]));
        graph.renumber_blobs(&[2, 0, 1]);
        assert_eq!(graph.place_counts(3), Some(vec![2, 1, 1]));
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
        assert_eq!(graph.place_counts(1), Some(vec![200u64.pow(8)]));
        let deeper = add_tree(&mut graph, 20, &[1; 200], &[]);
        for _ in 0..10 {
            graph.add_root(1, deeper);
        }
        assert_eq!(graph.place_counts(1).map(|c| c[0]), Some(u64::MAX));
    }
}
