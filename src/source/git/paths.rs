//! The paths of a history scan, interned: a file changed a hundred times is one path, and a million paths cost
//! little more than their bytes.
//!
//! All paths live in one string; a table of their indices (4 bytes each) finds each one again by a hash of it,
//! with random keys, so no repository can choose paths that pile up in one place. Two paths with one hash are
//! told apart by comparing them, so a collision costs time, never a wrong path.

use std::hash::{BuildHasher, RandomState};

use hashbrown::HashTable;

#[derive(Debug, Default)]
pub struct Paths {
    /// Every path, one after another.
    bytes: String,
    /// Where each path ends in `bytes` (it starts where the one before ends).
    ends: Ends,
    /// The index of every path, by the hash of the path.
    by_hash: HashTable<u32>,
    hasher: RandomState,
}

impl Paths {
    /// The path at `index` (from [`Paths::intern`]).
    pub fn get(&self, index: u32) -> &str {
        path_at(&self.bytes, &self.ends, index)
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The index of `path`, added if it is new.
    pub fn intern(&mut self, path: &str) -> u32 {
        if self.by_hash.is_empty() && !self.ends.is_empty() {
            self.rebuild_table();
        }
        let hash = self.hasher.hash_one(path);
        if let Some(&index) = self.by_hash.find(hash, |&index| self.get(index) == path) {
            return index;
        }
        self.bytes.push_str(path);
        self.ends.push(self.bytes.len());
        let index = u32::try_from(self.ends.len() - 1)
            .ok()
            .filter(|&index| index <= MAX_INDEX)
            .expect("fewer than 2 billion paths");
        let (bytes, ends, hasher) = (&self.bytes, &self.ends, &self.hasher);
        self.by_hash
            .insert_unique(hash, index, |&other| hasher.hash_one(path_at(bytes, ends, other)));
        index
    }

    /// Drops the table that finds paths again, and what the lists hold in reserve: once the walk is over, paths
    /// are only looked up by index. (A later [`Paths::intern`] builds the table again.)
    pub fn shrink_to_fit(&mut self) {
        self.by_hash = HashTable::new();
        self.bytes.shrink_to_fit();
        self.ends.shrink_to_fit();
    }

    fn rebuild_table(&mut self) {
        let (bytes, ends, hasher) = (&self.bytes, &self.ends, &self.hasher);
        let hash_of = |index: u32| hasher.hash_one(path_at(bytes, ends, index));
        self.by_hash.reserve(ends.len(), |&index| hash_of(index));
        for index in 0..ends.len() as u32 {
            self.by_hash
                .insert_unique(hash_of(index), index, |&other| hash_of(other));
        }
    }
}

/// The largest path index: [`super::BlobIntro`] keeps a flag of its own in the top bit.
pub const MAX_INDEX: u32 = (1 << 31) - 1;

fn path_at<'a>(bytes: &'a str, ends: &Ends, index: u32) -> &'a str {
    let index = index as usize;
    let start = if index == 0 { 0 } else { ends.get(index - 1) };
    &bytes[start..ends.get(index)]
}

/// Where each path ends, in 4 bytes a path: the low 32 bits of each offset, and the indices at which the offsets
/// pass each further 4 GiB (none, below 4 GiB of paths).
#[derive(Debug, Default)]
struct Ends {
    low: Vec<u32>,
    /// `wraps[k]`: the first index whose offset is at least `(k + 1) * 2^32`.
    wraps: Vec<u32>,
}

impl Ends {
    fn push(&mut self, end: usize) {
        let index = self.low.len() as u32;
        let high = (end as u64 >> 32) as usize;
        while self.wraps.len() < high {
            self.wraps.push(index);
        }
        self.low.push(end as u32);
    }

    fn get(&self, index: usize) -> usize {
        let high = self.wraps.partition_point(|&first| first as usize <= index) as u64;
        ((high << 32) | u64::from(self.low[index])) as usize
    }

    fn len(&self) -> usize {
        self.low.len()
    }

    fn is_empty(&self) -> bool {
        self.low.is_empty()
    }

    fn shrink_to_fit(&mut self) {
        self.low.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_path_is_kept_once_and_found_again() {
        let mut paths = Paths::default();
        let a = paths.intern("src/main.rs");
        let b = paths.intern("");
        let c = paths.intern("README.md");
        assert_eq!(paths.intern("src/main.rs"), a);
        assert_eq!(paths.intern(""), b);
        assert_eq!(
            (paths.get(a), paths.get(b), paths.get(c)),
            ("src/main.rs", "", "README.md")
        );
        assert_eq!(paths.len(), 3);
    }

    /// Enough paths, many of them prefixes of one another, to make the table grow many times: each is found
    /// again at its own index, and nothing is merged.
    #[test]
    fn many_paths_keep_their_own_indices() {
        let mut paths = Paths::default();
        let names: Vec<String> = (0..5000)
            .map(|n| format!("dir/{}", "a".repeat(n % 7)) + &n.to_string())
            .collect();
        let indices: Vec<u32> = names.iter().map(|name| paths.intern(name)).collect();
        assert_eq!(paths.len(), 5000);
        for (name, index) in names.iter().zip(&indices) {
            assert_eq!(paths.intern(name), *index);
            assert_eq!(paths.get(*index), name);
        }
        assert_eq!(paths.len(), 5000);
    }

    /// Offsets past 4 GiB keep their high bits (no test can hold 4 GiB of paths, so the offsets are made up).
    #[cfg(target_pointer_width = "64")]
    #[test]
    fn offsets_past_4_gib_are_kept() {
        let mut ends = Ends::default();
        let offsets = [10usize, (1 << 32) + 5, (1 << 32) + 20, 3 << 32, (3 << 32) + 1];
        for &offset in &offsets {
            ends.push(offset);
        }
        assert_eq!((0..offsets.len()).map(|i| ends.get(i)).collect::<Vec<_>>(), offsets);
        assert_eq!(ends.len(), 5);
    }

    /// Shrunk once the walk is over, the paths are still there, and interning again finds them.
    #[test]
    fn shrunk_paths_are_kept_and_found_again() {
        let mut paths = Paths::default();
        let names: Vec<String> = (0..300).map(|n| format!("src/{n}.rs")).collect();
        let indices: Vec<u32> = names.iter().map(|name| paths.intern(name)).collect();
        paths.shrink_to_fit();
        for (name, index) in names.iter().zip(&indices) {
            assert_eq!(paths.get(*index), name);
        }
        assert_eq!(paths.intern("src/7.rs"), indices[7]);
        assert_eq!(paths.intern("new.rs"), 300);
        assert_eq!(paths.len(), 301);
    }
}
