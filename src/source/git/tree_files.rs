//! A git revision's tree as a place to read `keyhound.toml`, its rule files and the baseline from: a range scan
//! in CI reads them from the base revision, which the commits under review cannot change.

use std::path::{Path, PathBuf};

use git2::{ObjectType, Oid};

use super::objects::Objects;
use crate::config::ConfigFiles;
use crate::input::MAX_CONFIG_FILE;

/// The file mode of a symbolic link in a git tree.
const SYMLINK_MODE: i32 = 0o120000;

/// The tree of revision `rev`.
pub struct TreeFiles<'a, 'r> {
    objects: &'a Objects<'r>,
    tree: Oid,
    rev: String,
    /// The largest file read.
    max: u64,
}

impl<'a, 'r> TreeFiles<'a, 'r> {
    pub fn new(objects: &'a Objects<'r>, tree: Oid, rev: &str) -> TreeFiles<'a, 'r> {
        TreeFiles {
            objects,
            tree,
            rev: rev.to_string(),
            max: MAX_CONFIG_FILE,
        }
    }

    /// The same tree, reading files of up to `max` bytes (baselines are larger than configs).
    pub fn with_max(mut self, max: u64) -> Self {
        self.max = max;
        self
    }

    /// The id and file mode of the entry at `rel`, `None` when there is none.
    fn entry(&self, rel: &Path) -> Result<Option<(Oid, Option<ObjectType>, i32)>, String> {
        let tree = self.objects.tree(self.tree).map_err(|e| e.message)?;
        match tree.get_path(rel) {
            Ok(entry) => Ok(Some((entry.id(), entry.kind(), entry.filemode()))),
            Err(err) if err.code() == git2::ErrorCode::NotFound => Ok(None),
            Err(err) => Err(format!("{}: {}", self.name(rel), err.message())),
        }
    }
}

impl ConfigFiles for TreeFiles<'_, '_> {
    fn name(&self, rel: &Path) -> String {
        format!("{}:{}", self.rev, rel.to_string_lossy())
    }

    fn read(&self, rel: &Path) -> Result<Option<Vec<u8>>, String> {
        let Some((oid, kind, mode)) = self.entry(rel)? else {
            return Ok(None);
        };
        if kind != Some(ObjectType::Blob) {
            return Err(format!("{}: not a regular file, not read", self.name(rel)));
        }
        if mode == SYMLINK_MODE {
            return Err(format!("{}: a symbolic link, not followed", self.name(rel)));
        }
        let blob = self
            .objects
            .blob_at_most(oid, self.max)
            .map_err(|e| e.message)?
            .map_err(|_| format!("{}: larger than {} bytes, not read", self.name(rel), self.max))?;
        Ok(Some(blob.bytes().to_vec()))
    }

    fn toml_files_in(&self, rel: &Path) -> Result<Option<Vec<PathBuf>>, String> {
        let Some((oid, kind, _)) = self.entry(rel)? else {
            return Ok(None);
        };
        if kind != Some(ObjectType::Tree) {
            return Ok(None);
        }
        let tree = self.objects.tree(oid).map_err(|e| e.message)?;
        let mut files: Vec<PathBuf> = tree
            .iter()
            .filter(|entry| entry.kind() == Some(ObjectType::Blob))
            .filter_map(|entry| entry.name().ok().map(str::to_string))
            .filter(|name| name.ends_with(".toml"))
            .map(|name| rel.join(name))
            .collect();
        files.sort();
        Ok(Some(files))
    }
}
