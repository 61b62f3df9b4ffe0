//! The paths of a history scan, interned: a file changed a hundred times is one path, and a million paths cost
//! little more than their bytes.
//!
//! All paths live in one string; each is found again by a hash of it (with random keys, so no repository can
//! choose paths that collide). Paths whose hash another path already has are kept in a map of their own, so a
//! collision costs memory, never a wrong path.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};

#[derive(Debug, Default)]
pub struct Paths {
    /// Every path, one after another.
    bytes: String,
    /// Where each path ends in `bytes` (it starts where the one before ends).
    ends: Vec<usize>,
    /// The hash of a path to its index: the first path with that hash.
    by_hash: HashMap<u64, u32>,
    /// Paths whose hash an earlier, different path already has.
    collided: HashMap<String, u32>,
    hasher: RandomState,
}

impl Paths {
    /// The path at `index` (from [`Paths::intern`]).
    pub fn get(&self, index: u32) -> &str {
        let index = index as usize;
        let start = if index == 0 { 0 } else { self.ends[index - 1] };
        &self.bytes[start..self.ends[index]]
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
        match self.by_hash.get(&hash) {
            Some(&index) if self.get(index) == path => index,
            Some(_) => {
                if let Some(&index) = self.collided.get(path) {
                    return index;
                }
                let index = self.push(path);
                self.collided.insert(path.to_string(), index);
                index
            }
            None => {
                let index = self.push(path);
                self.by_hash.insert(hash, index);
                index
            }
        }
    }

    fn push(&mut self, path: &str) -> u32 {
        self.bytes.push_str(path);
        self.ends.push(self.bytes.len());
        (self.ends.len() - 1) as u32
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

    /// Two paths with one hash (forced here by hand) are both kept, each with its own index.
    #[test]
    fn a_hash_collision_never_merges_two_paths() {
        let mut paths = Paths::default();
        let first = paths.intern("a.txt");
        let hash_of_other = paths.hasher.hash_one("b.txt");
        paths.by_hash.insert(hash_of_other, first);
        let second = paths.intern("b.txt");
        assert_ne!(first, second);
        assert_eq!(paths.get(second), "b.txt");
        assert_eq!(paths.intern("b.txt"), second);
        assert_eq!(paths.intern("a.txt"), first);
    }
}
