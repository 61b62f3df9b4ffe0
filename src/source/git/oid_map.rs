//! Maps keyed by object ids, for the history walk's hottest look-ups (every entry of every tree it reads).
//!
//! An id is hashed by its first 8 bytes through SipHash with a key random per run: ids are digests, so 8 bytes
//! spread as well as 20, and the key keeps a repository from choosing ids that pile up in one place (it would
//! have to find ids that share 8 bytes). Ids are compared as bytes in place: git2's `Oid` compares through a
//! call into libgit2 that the compiler cannot inline.

use std::hash::{BuildHasher, RandomState};

use git2::Oid;
use hashbrown::HashTable;
use hashbrown::hash_table::Entry;

/// The keyed hash of object ids that [`OidMap`] and the blob index use.
#[derive(Debug, Default)]
pub(super) struct OidHasher(RandomState);

impl OidHasher {
    pub(super) fn hash(&self, oid: &Oid) -> u64 {
        let bytes = oid.as_bytes();
        let mut head = [0u8; 8];
        let n = bytes.len().min(head.len());
        head[..n].copy_from_slice(&bytes[..n]);
        self.0.hash_one(u64::from_le_bytes(head))
    }
}

/// Whether two ids are the same, compared in place.
pub(super) fn same(a: &Oid, b: &Oid) -> bool {
    a.as_bytes() == b.as_bytes()
}

/// A hash map from object ids to `V`.
#[derive(Debug)]
pub(super) struct OidMap<V> {
    table: HashTable<(Oid, V)>,
    hasher: OidHasher,
}

impl<V> Default for OidMap<V> {
    fn default() -> Self {
        OidMap {
            table: HashTable::new(),
            hasher: OidHasher::default(),
        }
    }
}

impl<V> OidMap<V> {
    pub(super) fn get(&self, oid: &Oid) -> Option<&V> {
        let hash = self.hasher.hash(oid);
        self.table.find(hash, |(key, _)| same(key, oid)).map(|(_, value)| value)
    }

    /// The value of `oid`, inserted with `make` if it has none.
    pub(super) fn get_or_insert_with(&mut self, oid: Oid, make: impl FnOnce() -> V) -> &V {
        let hasher = &self.hasher;
        let entry = self.table.entry(
            hasher.hash(&oid),
            |(key, _)| same(key, &oid),
            |(key, _)| hasher.hash(key),
        );
        match entry {
            Entry::Occupied(entry) => &entry.into_mut().1,
            Entry::Vacant(entry) => &entry.insert((oid, make())).into_mut().1,
        }
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (&Oid, &V)> {
        self.table.iter().map(|(key, value)| (key, value))
    }

    pub(super) fn shrink_to_fit(&mut self) {
        let hasher = &self.hasher;
        self.table.shrink_to_fit(|(key, _)| hasher.hash(key));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u32, tail: u8) -> Oid {
        let mut bytes = [tail; 20];
        bytes[..4].copy_from_slice(&n.to_le_bytes());
        Oid::from_bytes(&bytes).expect("20 bytes")
    }

    #[test]
    fn each_id_keeps_its_first_value() {
        let mut map = OidMap::default();
        for n in 0..5000 {
            assert_eq!(*map.get_or_insert_with(id(n, 0), || n), n);
        }
        for n in 0..5000 {
            assert_eq!(*map.get_or_insert_with(id(n, 0), || 0), n);
            assert_eq!(map.get(&id(n, 0)), Some(&n));
        }
        assert_eq!(map.iter().count(), 5000);
        map.shrink_to_fit();
        assert_eq!(map.get(&id(7, 0)), Some(&7));
    }

    /// Ids that share their first 8 bytes (and so their hash) are still told apart by the rest.
    #[test]
    fn ids_alike_in_their_first_bytes_are_told_apart() {
        let mut map = OidMap::default();
        map.get_or_insert_with(id(1, 0), || "a");
        map.get_or_insert_with(id(1, 9), || "b");
        assert_eq!(map.get(&id(1, 0)), Some(&"a"));
        assert_eq!(map.get(&id(1, 9)), Some(&"b"));
        assert_eq!(map.get(&id(1, 5)), None);
    }
}
