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
    ends: Vec<usize>,
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
        let hash = self.hasher.hash_one(path);
        if let Some(&index) = self.by_hash.find(hash, |&index| self.get(index) == path) {
            return index;
        }
        self.bytes.push_str(path);
        self.ends.push(self.bytes.len());
        let index = u32::try_from(self.ends.len() - 1).expect("fewer than 4 billion paths");
        let (bytes, ends, hasher) = (&self.bytes, &self.ends, &self.hasher);
        self.by_hash
            .insert_unique(hash, index, |&other| hasher.hash_one(path_at(bytes, ends, other)));
        index
    }
}

fn path_at<'a>(bytes: &'a str, ends: &[usize], index: u32) -> &'a str {
    let index = index as usize;
    let start = if index == 0 { 0 } else { ends[index - 1] };
    &bytes[start..ends[index]]
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
}
