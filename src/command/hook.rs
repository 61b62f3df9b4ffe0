//! `keyhound install-hook`: a plain git pre-commit hook for people who do not use the pre-commit framework.

use std::path::{Component, Path, PathBuf};

use anyhow::Context;

use crate::cli::InstallHookArgs;
use crate::exit::ExitStatus;
use crate::output_file;
use crate::source::git;

/// Marks a hook written by keyhound, so it can be replaced without `--force`.
pub const HOOK_MARKER: &str = "keyhound-pre-commit-hook";

fn hook_script(binary: &str) -> String {
    format!(
        r#"#!/bin/sh
# {HOOK_MARKER}: blocks commits that add API keys. Written by `keyhound install-hook`.
# Skip once (not recommended): git commit --no-verify
KEYHOUND="${{KEYHOUND:-{binary}}}"
command -v "$KEYHOUND" >/dev/null 2>&1 || KEYHOUND=keyhound
"$KEYHOUND" git --staged --quiet
status=$?
if [ "$status" -eq 1 ]; then
    cat >&2 <<'MESSAGE'

keyhound: commit blocked: the staged changes add the API key(s) listed above.
  - Take the key out of the file; load it from the environment or a secret store instead.
  - Not a real key? Add the comment `keyhound:allow` on that line.
  - If this key was ever committed, pushed or shared, revoke it now (`keyhound revoke`):
    deleting it from the code does not un-leak it.
MESSAGE
elif [ "$status" -ne 0 ]; then
    echo "keyhound: the pre-commit scan failed (exit $status); the commit is blocked." >&2
fi
exit "$status"
"#
    )
}

/// Where git looks for hooks, and why there.
#[derive(Debug)]
struct HooksDir {
    /// The directory, as git names it (not resolved).
    dir: PathBuf,
    /// `core.hooksPath` as configured, and which config set it; `None` for the default `.git/hooks`.
    configured: Option<(PathBuf, &'static str)>,
}

/// Where git looks for hooks: `core.hooksPath` when set (relative to the working tree, or to the git dir of a
/// bare repository), else `.git/hooks` (the common dir for worktrees).
fn hooks_dir(repo: &git2::Repository) -> HooksDir {
    let config = repo.config().ok();
    let configured = config.as_ref().and_then(|config| {
        let path = config.get_path("core.hooksPath").ok()?;
        let level = config
            .get_entry("core.hooksPath")
            .map_or("git config", |entry| config_name(entry.level()));
        Some((path, level))
    });
    let dir = match &configured {
        Some((path, _)) if path.is_absolute() => path.clone(),
        Some((path, _)) => repo.workdir().unwrap_or_else(|| repo.path()).join(path),
        None => repo.commondir().join("hooks"),
    };
    HooksDir { dir, configured }
}

/// Which config file a setting of `level` comes from, for messages.
fn config_name(level: git2::ConfigLevel) -> &'static str {
    match level {
        git2::ConfigLevel::Local => "the repository's .git/config",
        git2::ConfigLevel::Worktree => "the worktree's config",
        git2::ConfigLevel::Global | git2::ConfigLevel::XDG => "your global git config",
        git2::ConfigLevel::System | git2::ConfigLevel::ProgramData => "the system git config",
        _ => "git config",
    }
}

/// `path` as the operating system would resolve it when creating it: every existing prefix with its symbolic
/// links resolved, `..` applied to the real directory above (as the kernel does), the part that does not exist
/// yet appended as it is.
fn resolve(path: &Path) -> PathBuf {
    let mut current = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Prefix(_) | Component::RootDir => current.push(component),
            Component::CurDir => {}
            Component::ParentDir => {
                current.pop();
            }
            Component::Normal(name) => {
                current.push(name);
                if let Ok(real) = current.canonicalize() {
                    current = real;
                }
            }
        }
    }
    current
}

/// Is `dir` (resolved) inside the repository: its working tree, its git dir or its common dir?
fn is_inside(dir: &Path, repo: &git2::Repository) -> bool {
    let dir = resolve(dir);
    [repo.workdir(), Some(repo.path()), Some(repo.commondir())]
        .into_iter()
        .flatten()
        .filter_map(|root| root.canonicalize().ok())
        .any(|root| dir.starts_with(root))
}

/// Refuses a hooks directory outside the repository unless `--outside-repo` was given: writing an executable
/// where a repository's config points, or into a directory every repository shares, is not done silently.
fn check_location(hooks: &HooksDir, repo: &git2::Repository, outside_repo: bool) -> anyhow::Result<()> {
    if outside_repo || is_inside(&hooks.dir, repo) {
        return Ok(());
    }
    let root = repo.workdir().unwrap_or_else(|| repo.path());
    let why = match &hooks.configured {
        Some((path, level)) => format!("core.hooksPath is {} (set in {level})", path.display()),
        None => "the hooks directory is a link".to_string(),
    };
    anyhow::bail!(
        "{why}: the pre-commit hook would be written to {}, outside the repository {}; run with --outside-repo to \
         write it there, or unset core.hooksPath",
        resolve(&hooks.dir).display(),
        root.display()
    )
}

/// Was the existing hook at `hook` written by keyhound? `None` when there is none. A symbolic link or a file that
/// cannot be read is not keyhound's (keyhound writes neither); a directory or a named pipe is refused, not read.
fn existing_hook_is_ours(hook: &Path) -> anyhow::Result<Option<bool>> {
    let meta = match std::fs::symlink_metadata(hook) {
        Ok(meta) => meta,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(error).with_context(|| format!("cannot look at {}", hook.display()));
        }
    };
    if meta.file_type().is_symlink() {
        return Ok(Some(false));
    }
    if !meta.is_file() {
        anyhow::bail!(
            "{}: not a regular file ({}), not replaced",
            hook.display(),
            crate::input::file_kind(&meta)
        );
    }
    let ours =
        crate::input::read_text(hook, crate::input::MAX_CONFIG_FILE).is_ok_and(|text| text.contains(HOOK_MARKER));
    Ok(Some(ours))
}

pub fn run(args: InstallHookArgs) -> anyhow::Result<ExitStatus> {
    let repo = git::open(&args.repo)?;
    let hooks = hooks_dir(&repo);
    check_location(&hooks, &repo, args.outside_repo)?;
    let dir = &hooks.dir;
    let hook = dir.join("pre-commit");
    if existing_hook_is_ours(&hook)? == Some(false) && !args.force {
        anyhow::bail!(
            "{} already exists and was not written by keyhound; move it aside or run with --force to replace it",
            hook.display()
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let binary = std::env::current_exe()
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|| "keyhound".to_string());
    // A link at `hook` is replaced, not written through.
    output_file::write(&hook, hook_script(&binary).as_bytes(), output_file::EXECUTABLE)
        .context("cannot install the pre-commit hook")?;
    eprintln!("keyhound: installed the pre-commit hook at {}", hook.display());
    Ok(ExitStatus::Clean)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn resolving_follows_links_as_the_kernel_does() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let root = dir.path().canonicalize().expect("canonical");
        std::fs::create_dir_all(root.join("repo/sub")).expect("mkdir");
        std::fs::create_dir_all(root.join("elsewhere/deep")).expect("mkdir");
        std::os::unix::fs::symlink(root.join("elsewhere/deep"), root.join("repo/link")).expect("symlink");
        assert_eq!(resolve(&root.join("repo/sub/../hooks")), root.join("repo/hooks"));
        assert_eq!(
            resolve(&root.join("repo/link/hooks")),
            root.join("elsewhere/deep/hooks")
        );
        // `..` after a link is the link target's parent, not the repository.
        assert_eq!(resolve(&root.join("repo/link/../hooks")), root.join("elsewhere/hooks"));
        assert_eq!(resolve(&root.join("repo/new/../../x")), root.join("x"));
    }
}
