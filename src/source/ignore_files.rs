//! The ignore files the working-tree walk reads, checked before the `ignore` crate opens them.
//!
//! The `ignore` crate opens `.gitignore`, `.ignore`, `.git/info/exclude` (through a `.git` file's `gitdir:` and
//! the `commondir` there, for a linked worktree) and the global git configs and excludes file with a plain
//! `open()`, and reads them to the end: a named pipe there blocks the scan for good, and a link to `/dev/zero` fills
//! memory. Each must be a regular file (a symbolic link to one is followed) of at most [`MAX_METADATA_FILE`]
//! bytes, checked before the walker enters the directory. A directory whose ignore files fail this is scanned
//! without ignore rules, with a warning naming the file: as ripgrep goes on without an ignore file it cannot
//! read, and a secret scanner would rather report too much than hide what the rules would not have hidden (a
//! hostile `.gitignore` can hide a directory by its content anyway; it gains nothing by being a pipe). A global
//! config or excludes file that fails it means no global excludes, with a warning.

use std::path::{Path, PathBuf};

use crate::input::{InputError, MAX_METADATA_FILE, check_if_present, read_text};

/// Checks the ignore files the walk reads for the directory `dir`: `.gitignore`, `.ignore` and git's
/// `info/exclude` where `dir` holds a `.git`.
pub fn check_dir(dir: &Path) -> Result<(), InputError> {
    for name in [".gitignore", ".ignore"] {
        check_if_present(&dir.join(name), Some(MAX_METADATA_FILE))?;
    }
    let dot_git = dir.join(".git");
    match std::fs::metadata(&dot_git) {
        Ok(meta) if meta.is_file() => check_linked_exclude(dir, &dot_git),
        Ok(_) => check_if_present(&dot_git.join("info/exclude"), Some(MAX_METADATA_FILE)),
        Err(_) => Ok(()),
    }
}

/// A `.git` file (`gitdir: <path>`): the `commondir` file of the directory it names, and the `info/exclude` of
/// the common directory, read as the `ignore` crate reads them (the first line of each).
fn check_linked_exclude(dir: &Path, dot_git: &Path) -> Result<(), InputError> {
    let Some(git_dir) = first_line(dot_git)?.and_then(|line| line.strip_prefix("gitdir: ").map(PathBuf::from)) else {
        return Ok(());
    };
    // The `ignore` crate takes a relative `gitdir:` as it is (relative to the current directory); git takes it
    // relative to `dir`. Both are checked.
    for git_dir in [dir.join(&git_dir), git_dir] {
        let commondir = git_dir.join("commondir");
        let Some(line) = first_line(&commondir)? else {
            continue;
        };
        let common = if line.starts_with('.') {
            git_dir.join(line)
        } else {
            PathBuf::from(line)
        };
        check_if_present(&common.join("info/exclude"), Some(MAX_METADATA_FILE))?;
    }
    Ok(())
}

/// The first line of `path` if it is a readable regular file of bounded size; an error if it is there but is
/// not one.
fn first_line(path: &Path) -> Result<Option<String>, InputError> {
    match read_text(path, MAX_METADATA_FILE) {
        Ok(text) => Ok(text.lines().next().map(str::to_string)),
        Err(InputError::Io { .. } | InputError::NotText { .. }) => Ok(None),
        Err(error) => Err(error),
    }
}

/// Checks `root` and every directory above it (the `ignore` crate reads their ignore files too, as git does).
pub fn check_root_and_parents(root: &Path) -> Result<(), InputError> {
    let Ok(absolute) = root.canonicalize() else {
        return Ok(());
    };
    for dir in absolute.ancestors() {
        if dir.is_dir() {
            check_dir(dir)?;
        }
    }
    Ok(())
}

/// Checks the global git configs the `ignore` crate reads for `core.excludesFile`, then that excludes file.
/// Only then may `ignore::gitignore::gitconfig_excludes_path` read them.
pub fn check_global() -> Result<(), InputError> {
    let env_path = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let home = env_path("HOME");
    let xdg = env_path("XDG_CONFIG_HOME").or_else(|| home.as_ref().map(|home| home.join(".config")));
    let configs = [
        env_path("GIT_CONFIG_GLOBAL"),
        home.map(|home| home.join(".gitconfig")),
        xdg.map(|xdg| xdg.join("git/config")),
        env_path("GIT_CONFIG_SYSTEM").or_else(|| Some(PathBuf::from("/etc/gitconfig"))),
    ];
    for config in configs.into_iter().flatten() {
        check_if_present(&config, Some(MAX_METADATA_FILE))?;
    }
    if let Some(excludes) = ignore::gitignore::gitconfig_excludes_path() {
        check_if_present(&excludes, Some(MAX_METADATA_FILE))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_ignore_files_are_named() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        assert!(check_dir(dir.path()).is_ok());
        for rel in [".gitignore", ".ignore", ".git/info/exclude"] {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::os::unix::fs::symlink("/dev/zero", &path).expect("symlink");
            let error = check_dir(dir.path()).expect_err(rel);
            assert!(error.to_string().contains(rel), "{error}");
            std::fs::remove_file(&path).expect("rm");
        }
    }

    #[test]
    fn a_worktrees_common_exclude_is_checked() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let linked = dir.path().join("repo/.git/worktrees/wt");
        std::fs::create_dir_all(&linked).expect("mkdir");
        std::fs::create_dir_all(dir.path().join("repo/.git/info")).expect("mkdir");
        std::fs::write(linked.join("commondir"), "../..\n").expect("write");
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("repo/.git/info/exclude")).expect("symlink");
        let wt = dir.path().join("wt");
        std::fs::create_dir_all(&wt).expect("mkdir");
        std::fs::write(wt.join(".git"), format!("gitdir: {}\n", linked.display())).expect("write");
        let error = check_dir(&wt).expect_err("the common exclude");
        assert!(
            error.to_string().contains("info/exclude: not a regular file"),
            "{error}"
        );
    }
}
