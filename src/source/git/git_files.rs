//! The files of a git directory that keyhound and libgit2 read for their own use, checked before libgit2 opens
//! the repository.
//!
//! libgit2 opens `config`, `HEAD`, `packed-refs`, `shallow`, the refs, the reflogs, `objects/info/alternates`,
//! the pack files and the loose objects with a plain `open()`: a named pipe there blocks the scan for good, and a
//! link to `/dev/zero` is read without end. So each must be a regular file (a symbolic link to one is followed,
//! as libgit2 follows it) and, where libgit2 reads it whole, of a bounded size; otherwise the repository is not
//! opened and the error names the file. Pack files and the index are large by nature: only their kind is
//! checked. Missing files are left to libgit2.

use std::path::{Path, PathBuf};

use crate::input::{InputError, MAX_GIT_LIST_FILE, MAX_METADATA_FILE, check_if_present, read_text};

/// The most entries checked under `refs/` and `logs/` together; more is refused rather than walked for ever.
const MAX_REF_ENTRIES: usize = 1_000_000;
/// How deep alternates of alternates go (libgit2's `GIT_ALTERNATES_MAX_DEPTH`).
pub(super) const MAX_ALTERNATE_DEPTH: usize = 5;

/// What the environment changes of a repository's layout (`GIT_COMMON_DIR`, `GIT_OBJECT_DIRECTORY`,
/// `GIT_INDEX_FILE`, `GIT_ALTERNATE_OBJECT_DIRECTORIES`), for a repository opened as git describes it to a hook.
#[derive(Debug, Default)]
pub struct Overrides {
    pub common_dir: Option<PathBuf>,
    pub objects_dir: Option<PathBuf>,
    pub index: Option<PathBuf>,
    pub alternates: Vec<PathBuf>,
}

impl Overrides {
    /// The overrides git's environment variables make.
    pub fn from_env() -> Overrides {
        let path = |name| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        Overrides {
            common_dir: path("GIT_COMMON_DIR"),
            objects_dir: path("GIT_OBJECT_DIRECTORY"),
            index: path("GIT_INDEX_FILE"),
            alternates: std::env::var_os("GIT_ALTERNATE_OBJECT_DIRECTORIES")
                .map(|v| {
                    std::env::split_paths(&v)
                        .filter(|p| !p.as_os_str().is_empty())
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

/// Checks the files libgit2 reads while it looks for a repository at or above `start`: in each directory it
/// tries (`D/.git`, then `D`, or the directory a `.git` file names), the `gitdir` file (read whatever its kind)
/// and `commondir`. The search stops where libgit2's would: at the first directory that holds `HEAD`, `objects/`
/// and `refs/`, or at a `.git` file.
pub fn check_before_discovery(start: &Path) -> Result<(), InputError> {
    let start = std::path::absolute(start).unwrap_or_else(|_| start.to_path_buf());
    for dir in start.ancestors() {
        let dot_git = dir.join(".git");
        if dot_git.is_file() {
            // A linked worktree's (or a submodule's) `.git` file: `gitdir: <path>`.
            let text = match read_text(&dot_git, MAX_METADATA_FILE) {
                Ok(text) => text,
                Err(InputError::Io { .. } | InputError::NotText { .. }) => return Ok(()),
                Err(error) => return Err(error),
            };
            if let Some(target) = text.lines().next().and_then(|line| line.strip_prefix("gitdir: ")) {
                let target = dir.join(target.trim_end());
                for name in ["gitdir", "commondir", "HEAD"] {
                    check_if_present(&target.join(name), Some(MAX_METADATA_FILE))?;
                }
            }
            return Ok(());
        }
        for candidate in [dot_git.as_path(), dir] {
            if !candidate.is_dir() {
                continue;
            }
            check_if_present(&candidate.join("gitdir"), Some(MAX_METADATA_FILE))?;
            check_if_present(&candidate.join("commondir"), Some(MAX_METADATA_FILE))?;
            if candidate.join("objects").is_dir() && candidate.join("refs").is_dir() {
                // libgit2 would pass over a repository whose `HEAD` is not a regular file, and open one further up.
                check_if_present(&candidate.join("HEAD"), Some(MAX_METADATA_FILE))?;
                if candidate.join("HEAD").is_file() {
                    return Ok(());
                }
            }
        }
    }
    Ok(())
}

/// The git configuration files outside any repository that libgit2 reads on opening one (global, XDG, system).
pub fn check_global_configs() -> Result<(), InputError> {
    let found = [
        git2::Config::find_global(),
        git2::Config::find_xdg(),
        git2::Config::find_system(),
    ];
    for path in found.into_iter().flatten() {
        check_config(&path)?;
    }
    Ok(())
}

/// How deep config files may include one another (libgit2's own limit).
const MAX_INCLUDE_DEPTH: usize = 10;

/// A git config file, and every file it includes (`[include] path`, `[includeIf "…"] path`, whether or not the
/// condition holds), and theirs: libgit2 reads each on opening the repository.
fn check_config(config: &Path) -> Result<(), InputError> {
    let mut pending = vec![(config.to_path_buf(), 0)];
    while let Some((file, depth)) = pending.pop() {
        check_if_present(&file, Some(MAX_METADATA_FILE))?;
        if depth >= MAX_INCLUDE_DEPTH {
            continue;
        }
        let Ok(text) = read_text(&file, MAX_METADATA_FILE) else {
            continue;
        };
        let dir = file.parent().unwrap_or(Path::new("."));
        pending.extend(included_paths(&text).map(|path| (resolve_include(dir, &path), depth + 1)));
    }
    Ok(())
}

/// The `path` values of the `include` and `includeIf` sections of config text (read loosely: a file git
/// itself would reject is checked all the same).
fn included_paths(text: &str) -> impl Iterator<Item = String> + '_ {
    let mut in_include = false;
    text.lines().filter_map(move |line| {
        let line = line.trim();
        if let Some(section) = line.strip_prefix('[') {
            let name: String = section
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
                .collect();
            in_include = name.eq_ignore_ascii_case("include") || name.eq_ignore_ascii_case("includeif");
            return None;
        }
        let (key, value) = line.split_once('=')?;
        if !in_include || !key.trim().eq_ignore_ascii_case("path") {
            return None;
        }
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.split('"').next())
            .unwrap_or_else(|| value.split(['#', ';']).next().unwrap_or(value).trim());
        (!value.is_empty()).then(|| value.to_string())
    })
}

/// An include path as git resolves it: `~/` from the home directory, a relative path from the including file's
/// directory.
fn resolve_include(dir: &Path, path: &str) -> PathBuf {
    match path.strip_prefix("~/") {
        Some(rest) => std::env::var_os("HOME").map_or_else(|| dir.join(path), |home| PathBuf::from(home).join(rest)),
        None => dir.join(path),
    }
}

/// Checks the files of the git directory `git_dir` (see the module's documentation).
pub fn check_repository(git_dir: &Path, overrides: &Overrides) -> Result<(), InputError> {
    let small = |path: PathBuf| check_if_present(&path, Some(MAX_METADATA_FILE));
    let list = |path: PathBuf| check_if_present(&path, Some(MAX_GIT_LIST_FILE));
    for name in ["HEAD", "commondir", "gitdir"] {
        small(git_dir.join(name))?;
    }
    list(git_dir.join("shallow"))?;
    let common = match &overrides.common_dir {
        Some(dir) => dir.clone(),
        None => common_dir(git_dir)?,
    };
    check_config(&common.join("config"))?;
    check_config(&git_dir.join("config.worktree"))?;
    for name in ["info/exclude", "info/attributes"] {
        small(common.join(name))?;
    }
    for name in ["packed-refs", "shallow", "info/grafts"] {
        list(common.join(name))?;
    }
    let index = overrides.index.clone().unwrap_or_else(|| git_dir.join("index"));
    check_if_present(&index, None)?;
    let mut entries = 0;
    let mut trees = vec![git_dir.join("refs"), git_dir.join("logs")];
    if common != git_dir {
        trees.extend([common.join("refs"), common.join("logs")]);
    }
    for tree in trees {
        check_ref_tree(&tree, &tree, &mut entries)?;
    }
    let objects = overrides.objects_dir.clone().unwrap_or_else(|| common.join("objects"));
    check_objects(&objects, 0)?;
    for alternate in &overrides.alternates {
        check_alternate(alternate, &objects, 1)?;
    }
    Ok(())
}

/// The common directory of `git_dir`: the one its `commondir` file names (relative to `git_dir`), or itself.
fn common_dir(git_dir: &Path) -> Result<PathBuf, InputError> {
    match read_text(&git_dir.join("commondir"), MAX_METADATA_FILE) {
        Ok(text) if !text.trim().is_empty() => Ok(git_dir.join(text.trim_end())),
        Ok(_) => Ok(git_dir.to_path_buf()),
        Err(InputError::Io { .. } | InputError::NotText { .. }) => Ok(git_dir.to_path_buf()),
        Err(error) => Err(error),
    }
}

/// Every file under `dir` (refs or reflogs, following links as libgit2 does) is a regular file of bounded size;
/// `entries` counts what was seen, against [`MAX_REF_ENTRIES`].
fn check_ref_tree(top: &Path, dir: &Path, entries: &mut usize) -> Result<(), InputError> {
    let Ok(listing) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in listing.flatten() {
        *entries += 1;
        if *entries > MAX_REF_ENTRIES {
            return Err(InputError::TooMany {
                path: top.to_path_buf(),
                max: MAX_REF_ENTRIES,
            });
        }
        let path = entry.path();
        if path.is_dir() {
            check_ref_tree(top, &path, entries)?;
        } else {
            check_if_present(&path, Some(MAX_GIT_LIST_FILE))?;
        }
    }
    Ok(())
}

/// An object directory: its `info/alternates` (and what it names, `depth` levels down), `info/packs`, the
/// commit-graph, the pack files and the loose objects.
fn check_objects(objects: &Path, depth: usize) -> Result<(), InputError> {
    check_if_present(&objects.join("info/packs"), Some(MAX_METADATA_FILE))?;
    check_if_present(&objects.join("info/commit-graph"), None)?;
    for dir in ["info/commit-graphs", "pack"] {
        check_kinds_in(&objects.join(dir))?;
    }
    for fan in fan_out_dirs(objects) {
        check_kinds_in(&fan)?;
    }
    let alternates = objects.join("info/alternates");
    check_if_present(&alternates, Some(MAX_METADATA_FILE))?;
    if depth >= MAX_ALTERNATE_DEPTH {
        return Ok(());
    }
    let Ok(text) = read_text(&alternates, MAX_METADATA_FILE) else {
        return Ok(());
    };
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        check_alternate(Path::new(line), objects, depth + 1)?;
    }
    Ok(())
}

/// The loose objects' fan-out directories (`00` to `ff`) that exist under `objects`, found with one listing rather
/// than 256 tries: most repositories have packed most of them away. A link to a directory counts, as it does for
/// libgit2.
pub(super) fn fan_out_dirs(objects: &Path) -> Vec<PathBuf> {
    let Ok(listing) = std::fs::read_dir(objects) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = listing
        .flatten()
        .filter(|entry| {
            let name = entry.file_name();
            let name = name.as_encoded_bytes();
            // Either case: on a case-insensitive file system libgit2's `ab` opens `AB`.
            name.len() == 2 && name.iter().all(u8::is_ascii_hexdigit)
        })
        .filter(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => true,
            Ok(kind) if kind.is_symlink() => entry.path().is_dir(),
            _ => false,
        })
        .map(|entry| entry.path())
        .collect();
    dirs.sort();
    dirs
}

/// An alternate object directory (relative to `objects`): a directory, whose own files are checked in turn.
fn check_alternate(path: &Path, objects: &Path, depth: usize) -> Result<(), InputError> {
    let path = objects.join(path);
    match std::fs::metadata(&path) {
        Ok(meta) if meta.is_dir() => check_objects(&path, depth),
        Ok(meta) => Err(InputError::NotDirectory {
            kind: crate::input::file_kind(&meta),
            path,
        }),
        Err(_) => Ok(()),
    }
}

/// Every entry of `dir` that is not a directory is a regular file (its size unchecked: packs and loose objects
/// are read in bounded pieces). The kind comes from the listing; only symbolic links cost a `stat`.
fn check_kinds_in(dir: &Path) -> Result<(), InputError> {
    let Ok(listing) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in listing.flatten() {
        match entry.file_type() {
            Ok(kind) if kind.is_file() || kind.is_dir() => {}
            Ok(kind) if kind.is_symlink() && entry.path().is_dir() => {}
            _ => check_if_present(&entry.path(), None)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal git directory: `HEAD`, `objects/`, `refs/heads/`.
    fn git_dir() -> tempfile::TempDir {
        let dir = tempfile::TempDir::new().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("objects/pack")).expect("mkdir");
        std::fs::create_dir_all(dir.path().join("refs/heads")).expect("mkdir");
        std::fs::write(dir.path().join("HEAD"), "ref: refs/heads/main\n").expect("write");
        dir
    }

    #[test]
    fn special_files_are_named() {
        let dir = git_dir();
        assert!(check_repository(dir.path(), &Overrides::default()).is_ok());
        for rel in [
            "config",
            "refs/heads/x",
            "objects/pack/pack-1.idx",
            "objects/info/alternates",
            "objects/ab/cdef0123456789abcdef0123456789abcdef01",
        ] {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::os::unix::fs::symlink("/dev/zero", &path).expect("symlink");
            let error = check_repository(dir.path(), &Overrides::default()).expect_err(rel);
            assert!(error.to_string().contains(rel), "{error}");
            assert!(error.to_string().contains("not a regular file (a device)"), "{error}");
            std::fs::remove_file(&path).expect("rm");
        }
    }

    #[test]
    fn an_alternate_must_be_a_directory() {
        let dir = git_dir();
        std::fs::create_dir_all(dir.path().join("objects/info")).expect("mkdir");
        std::fs::write(dir.path().join("objects/info/alternates"), "/dev/zero\n").expect("write");
        let error = check_repository(dir.path(), &Overrides::default()).expect_err("a device");
        assert!(
            error.to_string().starts_with("/dev/zero: not a directory (a device)"),
            "{error}"
        );
    }
    #[test]
    fn fan_out_directories_are_found_in_one_listing() {
        let dir = git_dir();
        let objects = dir.path().join("objects");
        for name in ["00", "ab", "Cd", "ff"] {
            std::fs::create_dir(objects.join(name)).expect("mkdir");
        }
        std::fs::write(objects.join("12"), "a file, not a directory").expect("write");
        std::fs::create_dir(objects.join("abc")).expect("mkdir");
        std::fs::create_dir(objects.join("zz")).expect("mkdir");
        let elsewhere = tempfile::TempDir::new().expect("temp dir");
        std::os::unix::fs::symlink(elsewhere.path(), objects.join("9f")).expect("symlink");
        let found: Vec<String> = fan_out_dirs(&objects)
            .iter()
            .map(|p| p.file_name().expect("a name").to_string_lossy().into_owned())
            .collect();
        assert_eq!(found, ["00", "9f", "Cd", "ab", "ff"]);
        assert!(fan_out_dirs(&dir.path().join("no-such")).is_empty());
    }

    #[cfg(test)]
    mod include_tests {
        use super::included_paths;

        #[test]
        fn include_paths_are_read_from_include_sections_only() {
            let text = "[core]\n\tpath = not-this\n[include]\n\tpath = one\n[includeIf \"gitdir:~/w/\"]\n  \
                    PATH = \"two words\" # note\n[user]\n\tname = x\n[include]\npath=three ; c\n";
            let paths: Vec<String> = included_paths(text).collect();
            assert_eq!(paths, ["one", "two words", "three"]);
        }
    }
}
