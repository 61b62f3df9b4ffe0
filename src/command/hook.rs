//! `keyhound install-hook`: a plain git pre-commit hook for people who do not use the pre-commit framework.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::cli::InstallHookArgs;
use crate::exit::ExitStatus;
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

/// Where git looks for hooks: `core.hooksPath` when set, else `.git/hooks` (the common dir for worktrees).
fn hooks_dir(repo: &git2::Repository) -> PathBuf {
    let configured = repo
        .config()
        .ok()
        .and_then(|config| config.get_path("core.hooksPath").ok());
    match configured {
        Some(path) if path.is_absolute() => path,
        Some(path) => repo.workdir().unwrap_or_else(|| repo.path()).join(path),
        None => repo.commondir().join("hooks"),
    }
}

pub fn run(args: InstallHookArgs) -> anyhow::Result<ExitStatus> {
    let repo = git::open(&args.repo)?;
    let dir = hooks_dir(&repo);
    let hook = dir.join("pre-commit");
    if let Ok(existing) = std::fs::read_to_string(&hook)
        && !existing.contains(HOOK_MARKER)
        && !args.force
    {
        anyhow::bail!(
            "{} already exists and was not written by keyhound; move it aside or run with --force to replace it",
            hook.display()
        );
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let binary = std::env::current_exe()
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|| "keyhound".to_string());
    std::fs::write(&hook, hook_script(&binary)).with_context(|| format!("cannot write {}", hook.display()))?;
    make_executable(&hook)?;
    eprintln!("keyhound: installed the pre-commit hook at {}", hook.display());
    Ok(ExitStatus::Clean)
}

#[cfg(unix)]
fn make_executable(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("cannot make {} executable", path.display()))
}

#[cfg(not(unix))]
fn make_executable(_path: &Path) -> anyhow::Result<()> {
    Ok(())
}
