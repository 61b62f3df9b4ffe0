//! The index the next commit is built from.
//!
//! git hands its hooks the index it is committing in `GIT_INDEX_FILE`: `git commit -a` and `git commit PATH`
//! stage into a temporary index (`.git/index.lock`, `.git/next-index-*.lock`), so `.git/index` alone would miss
//! what they commit. An index libgit2 cannot read (a split index's `link`, a sparse index's `sdir`: mandatory
//! extensions it does not know) is listed by `git ls-files --stage` instead, which reads both; a scan never
//! falls back to "nothing staged".

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use git2::{Index, IndexEntry, IndexTime, Oid, Repository};

/// How much `git ls-files --stage -z` may print before keyhound stops reading: about 20 million entries.
const MAX_LISTING: u64 = 2 << 30;

/// The staged index: `GIT_INDEX_FILE` when git set it (relative to the current directory, as git means it),
/// else the repository's own; read by libgit2, or listed by git when libgit2 cannot read it.
pub fn staged_index(repo: &Repository) -> Result<Index, String> {
    let path = index_path();
    let read = match &path {
        Some(path) => Index::open(path),
        None => repo.index(),
    };
    let libgit2_error = match read {
        Ok(index) => return Ok(index),
        Err(e) => e.message().to_string(),
    };
    let path = path.unwrap_or_else(|| repo.path().join("index"));
    list_with_git(repo, &path).map_err(|git_error| {
        format!(
            "cannot read the index {}: {libgit2_error}; listing it with `git ls-files` failed too: {git_error}",
            path.display()
        )
    })
}

/// `GIT_INDEX_FILE`, made absolute against the current directory.
fn index_path() -> Option<PathBuf> {
    let value = std::env::var_os("GIT_INDEX_FILE").filter(|v| !v.is_empty())?;
    let path = PathBuf::from(value);
    Some(match std::env::current_dir() {
        Ok(cwd) if path.is_relative() => cwd.join(path),
        _ => path,
    })
}

/// Builds an in-memory index from `git ls-files --stage -z` over the index at `index`. git runs with the
/// repository named explicitly and with every setting that could run a program through `ls-files`
/// (`core.fsmonitor`) switched off on its command line, which outranks the repository's config.
fn list_with_git(repo: &Repository, index: &Path) -> Result<Index, String> {
    let mut command = Command::new("git");
    command
        .arg("--git-dir")
        .arg(repo.path())
        .args(["-c", "core.fsmonitor=false", "-c", "core.untrackedCache=false"]);
    if let Some(workdir) = repo.workdir() {
        command.arg("--work-tree").arg(workdir).current_dir(workdir);
    }
    command
        .args(["ls-files", "--stage", "-z"])
        .env("GIT_INDEX_FILE", index)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().map_err(|e| format!("cannot run git: {e}"))?;
    let mut listing = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        stdout
            .take(MAX_LISTING + 1)
            .read_to_end(&mut listing)
            .map_err(|e| format!("reading git ls-files: {e}"))?;
    }
    if listing.len() as u64 > MAX_LISTING {
        let _ = child.kill();
        let _ = child.wait();
        return Err("git ls-files printed more than 2 GiB".into());
    }
    let output = child.wait_with_output().map_err(|e| format!("git: {e}"))?;
    if !output.status.success() {
        let message = String::from_utf8_lossy(&output.stderr);
        if message.contains("dubious ownership") {
            // git refuses a repository of another user because of what its config could make git run. keyhound
            // does not switch that check off for git: it runs git only here, and git's behaviour depends on its
            // version and on configuration keyhound cannot fully list.
            return Err(format!(
                "git refuses {}: it is owned by another user (git's safe.directory check, which keyhound leaves \
                 on when it runs git); run keyhound as its owner, or add the repository to safe.directory",
                repo.path().display()
            ));
        }
        return Err(format!("git ls-files: {}", crate::text::bounded(message.trim(), 500)));
    }
    parse_listing(&listing)
}

/// Parses `<mode> <object> <stage>\t<path>\0` records into an index of the merged (stage 0) entries; an
/// unmerged path has no entry, as it cannot be committed.
fn parse_listing(listing: &[u8]) -> Result<Index, String> {
    let mut index = Index::new().map_err(|e| e.message().to_string())?;
    for record in listing.split(|&b| b == 0).filter(|r| !r.is_empty()) {
        let bad = || {
            format!(
                "unexpected line from git ls-files: {:?}",
                String::from_utf8_lossy(record)
            )
        };
        let tab = memchr::memchr(b'\t', record).ok_or_else(bad)?;
        let (head, path) = (&record[..tab], &record[tab + 1..]);
        let head = std::str::from_utf8(head).map_err(|_| bad())?;
        let mut fields = head.split(' ');
        let (Some(mode), Some(oid), Some(stage), None) = (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(bad());
        };
        if stage != "0" {
            continue;
        }
        let mode = u32::from_str_radix(mode, 8).map_err(|_| bad())?;
        let id = Oid::from_str(oid).map_err(|_| bad())?;
        let entry = IndexEntry {
            ctime: IndexTime::new(0, 0),
            mtime: IndexTime::new(0, 0),
            dev: 0,
            ino: 0,
            mode,
            uid: 0,
            gid: 0,
            file_size: 0,
            id,
            flags: 0,
            flags_extended: 0,
            path: path.to_vec(),
        };
        index
            .add(&entry)
            .map_err(|e| format!("{}: {}", String::from_utf8_lossy(path), e.message()))?;
    }
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::parse_listing;

    #[test]
    fn listings_become_index_entries_and_unmerged_paths_are_left_out() {
        let listing = b"100644 0123456789abcdef0123456789abcdef01234567 0\tdir/a b.env\0\
                        100755 89abcdef0123456789abcdef0123456789abcdef 0\trun.sh\0\
                        100644 1111111111111111111111111111111111111111 2\tconflict.txt\0";
        let index = parse_listing(listing).expect("parses");
        let paths: Vec<String> = index
            .iter()
            .map(|e| String::from_utf8_lossy(&e.path).into_owned())
            .collect();
        assert_eq!(paths, ["dir/a b.env", "run.sh"]);
        let run = index.iter().find(|e| e.path == b"run.sh").expect("run.sh");
        assert_eq!(run.mode, 0o100755);
        assert_eq!(run.id.to_string(), "89abcdef0123456789abcdef0123456789abcdef");
    }

    #[test]
    fn a_malformed_listing_is_an_error_naming_the_line() {
        for bad in [
            &b"100644 nothex 0\tx\0"[..],
            b"no tab here\0",
            b"100644 0123 0 extra\tx\0",
        ] {
            let error = parse_listing(bad).err().expect("refused");
            assert!(error.contains("git ls-files"), "{error}");
        }
    }
}
