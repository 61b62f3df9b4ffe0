//! Objects of other repositories that a repository reads as its own.
//!
//! `objects/info/alternates` names object directories of other repositories, and a `.git` file
//! (`gitdir: /elsewhere`) names a git directory outside the working tree. libgit2 then reads their objects, and
//! keyhound scans them and reports their findings under this repository's name. Both are legitimate (`git clone
//! --shared`, linked worktrees, submodules), so they are scanned, and said: on stderr and in the report.

use std::path::{Path, PathBuf};

use git2::Repository;

/// An object directory of another repository that a scanned repository reads as its own.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OtherObjects {
    pub object_directory: String,
    /// The file that names it: the repository's `objects/info/alternates` (or an alternate's), or its `.git` file.
    pub named_by: String,
}

/// The object directories of other repositories that `repo` (found from `scanned`) reads: its git directory
/// when the `.git` file discovery went through names one outside that file's directory, and what its alternates
/// name (and theirs, as deep as libgit2 follows them).
pub fn other_object_dirs(repo: &Repository, scanned: &Path) -> Vec<OtherObjects> {
    let mut found = Vec::new();
    let common = repo.commondir();
    if let Some(link) = git_file_of(scanned)
        && link.parent().is_some_and(|top| !inside(common, top))
        && !is_linked_worktree_of(repo, &link)
    {
        found.push(OtherObjects {
            object_directory: shown(&common.join("objects")),
            named_by: shown(&link),
        });
    }
    let mut seen = vec![canonical(&common.join("objects"))];
    alternates_of(&common.join("objects"), 0, &mut seen, &mut found);
    found
}

/// Is `link` the `.git` file of one of the repository's own linked worktrees (`git worktree add`)? git keeps the
/// way back in the worktree's git directory (`worktrees/<name>/gitdir`), which another repository's files
/// cannot write: such a worktree reads its own repository's objects, nothing else.
fn is_linked_worktree_of(repo: &Repository, link: &Path) -> bool {
    if !repo.is_worktree() {
        return false;
    }
    let back = repo.path().join("gitdir");
    crate::input::read_text(&back, crate::input::MAX_METADATA_FILE)
        .is_ok_and(|text| canonical(Path::new(text.trim())) == canonical(link))
}

/// Adds the directories the alternates file of `objects` names, and theirs, `depth` levels down.
fn alternates_of(objects: &Path, depth: usize, seen: &mut Vec<PathBuf>, found: &mut Vec<OtherObjects>) {
    if depth > super::git_files::MAX_ALTERNATE_DEPTH {
        return;
    }
    let file = objects.join("info/alternates");
    // The file was checked before the repository was opened (see `git_files`): a regular file, bounded.
    let Ok(text) = crate::input::read_text(&file, crate::input::MAX_METADATA_FILE) else {
        return;
    };
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let dir = objects.join(line);
        let key = canonical(&dir);
        if !dir.is_dir() || seen.contains(&key) {
            continue;
        }
        seen.push(key);
        found.push(OtherObjects {
            object_directory: shown(&dir),
            named_by: shown(&file),
        });
        alternates_of(&dir, depth + 1, seen, found);
    }
}

/// The `.git` file (`gitdir: ...`) that discovery from `start` goes through: the first `.git` at or above it,
/// when that is a file. `None` when it is a directory, or when `start` is itself a git directory.
fn git_file_of(start: &Path) -> Option<PathBuf> {
    let start = canonical(start);
    if start.join("HEAD").is_file() && start.join("objects").is_dir() {
        return None;
    }
    let dot_git = start
        .ancestors()
        .map(|dir| dir.join(".git"))
        .find(|p| p.symlink_metadata().is_ok())?;
    dot_git
        .symlink_metadata()
        .is_ok_and(|meta| meta.is_file())
        .then_some(dot_git)
}

/// Is `path` inside `dir` (both resolved)?
fn inside(path: &Path, dir: &Path) -> bool {
    canonical(path).starts_with(canonical(dir))
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// A path as reports show it: resolved when it can be, so `..` and links do not hide where it is.
fn shown(path: &Path) -> String {
    canonical(path).display().to_string()
}
