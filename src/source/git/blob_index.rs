//! Which blobs a history walk has listed already, without a second copy of their ids.
//!
//! The walk lists each blob once in a `Vec` of (id, introduction); this index holds only positions in that list
//! (4 bytes each), found by a keyed hash of the id, so a blob costs its list entry and a few bytes more instead of
//! a second 20-byte id in a set. The keys are random per run, so no repository can choose ids that pile up in one
//! place. Blobs that are present without being listed (the trees just outside a `--range`) go in a set of their own.

use std::collections::HashSet;

use git2::Oid;
use hashbrown::HashTable;

use super::oid_map::{OidHasher, same};

#[derive(Debug, Default)]
pub(super) struct BlobIndex {
    /// Positions in the walk's list of blobs.
    listed: HashTable<u32>,
    /// Blobs already present before a range began: passed over, never listed.
    present: HashSet<Oid>,
    hasher: OidHasher,
}

impl BlobIndex {
    /// Whether `oid` is in `list` (the list this index was built over) or marked present.
    pub(super) fn contains<T>(&self, list: &[(Oid, T)], oid: &Oid) -> bool {
        self.position(list, oid).is_some() || self.is_present(oid)
    }

    /// Where `oid` is in `list` (the list this index was built over), if it is listed.
    pub(super) fn position<T>(&self, list: &[(Oid, T)], oid: &Oid) -> Option<u32> {
        let hash = self.hasher.hash(oid);
        self.listed.find(hash, |&at| same(&list[at as usize].0, oid)).copied()
    }

    /// Whether `oid` was marked present (it is then never listed).
    pub(super) fn is_present(&self, oid: &Oid) -> bool {
        self.present.contains(oid)
    }

    /// Marks `oid` as present without listing it.
    pub(super) fn mark_present(&mut self, oid: Oid) {
        self.present.insert(oid);
    }

    /// Appends `oid`, which the caller found neither listed nor present, to `list` with the value `make` gives;
    /// its position.
    pub(super) fn push_unlisted<T>(&mut self, list: &mut Vec<(Oid, T)>, oid: Oid, make: impl FnOnce() -> T) -> u32 {
        debug_assert!(!self.contains(list, &oid));
        let at = u32::try_from(list.len()).expect("fewer than 4 billion blobs");
        let hasher = &self.hasher;
        self.listed
            .insert_unique(hasher.hash(&oid), at, |&other| hasher.hash(&list[other as usize].0));
        list.push((oid, make()));
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oid(n: u8) -> Oid {
        Oid::from_bytes(&[n; 20]).expect("20 bytes")
    }

    /// Lists `oid` as the walk does: unless it is listed or present already. Whether it was added.
    fn push<T>(index: &mut BlobIndex, list: &mut Vec<(Oid, T)>, oid: Oid, make: impl FnOnce() -> T) -> bool {
        if index.contains(list, &oid) {
            return false;
        }
        let at = index.push_unlisted(list, oid, make);
        assert_eq!(at as usize, list.len() - 1);
        true
    }

    #[test]
    fn each_blob_is_listed_once() {
        let mut index = BlobIndex::default();
        let mut list: Vec<(Oid, &str)> = Vec::new();
        assert!(push(&mut index, &mut list, oid(1), || "a"));
        assert!(push(&mut index, &mut list, oid(2), || "b"));
        assert!(!push(&mut index, &mut list, oid(1), || "again"));
        assert_eq!(list, vec![(oid(1), "a"), (oid(2), "b")]);
        assert!(index.contains(&list, &oid(2)));
        assert_eq!(index.position(&list, &oid(2)), Some(1));
        assert!(!index.contains(&list, &oid(3)));
    }

    #[test]
    fn a_present_blob_is_never_listed() {
        let mut index = BlobIndex::default();
        let mut list: Vec<(Oid, ())> = Vec::new();
        index.mark_present(oid(7));
        assert!(index.contains(&list, &oid(7)));
        assert_eq!(index.position(&list, &oid(7)), None);
        assert!(!push(&mut index, &mut list, oid(7), || ()));
        assert!(list.is_empty());
    }

    /// Enough blobs to make the table grow many times: every one is still found, at its own position.
    #[test]
    fn blobs_are_found_after_the_table_grows() {
        let mut index = BlobIndex::default();
        let mut list: Vec<(Oid, u32)> = Vec::new();
        let ids: Vec<Oid> = (0u32..5000)
            .map(|n| {
                let mut bytes = [0u8; 20];
                bytes[..4].copy_from_slice(&n.to_le_bytes());
                Oid::from_bytes(&bytes).expect("20 bytes")
            })
            .collect();
        for (n, id) in ids.iter().enumerate() {
            assert!(push(&mut index, &mut list, *id, || n as u32));
        }
        for id in &ids {
            assert!(index.contains(&list, id));
            assert!(!push(&mut index, &mut list, *id, || 0));
        }
        assert_eq!(list.len(), 5000);
        assert!(list.iter().enumerate().all(|(n, (_, v))| *v == n as u32));
    }
}
