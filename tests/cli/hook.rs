//! Where keyhound runs: the pre-commit hook, CI-friendly defaults, completions and help.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use tempfile::TempDir;

use crate::common::{
    LEGACY_KEY, PROJECT_KEY, Repo, code, git_command, json_findings, keyhound, keyhound_in, paths, root, run, stderr,
    stdout,
};

/// `git ARGS` in `dir`, whatever its outcome (a blocked commit is an expected failure here).
fn git(dir: &Path, args: &[&str]) -> std::process::Output {
    git_command(dir)
        .args(args)
        // The hook finds this binary even when keyhound is not on PATH.
        .env("KEYHOUND", assert_cmd::cargo::cargo_bin("keyhound"))
        .output()
        .expect("git runs")
}

#[test]
fn the_installed_hook_blocks_a_commit_that_adds_a_key_and_lets_a_clean_one_through() {
    let dir = TempDir::new().expect("temp dir");
    assert!(git(dir.path(), &["init", "-q", "-b", "main"]).status.success());
    let output = run(keyhound_in(dir.path()).arg("install-hook"));
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let hook = dir.path().join(".git/hooks/pre-commit");
    assert!(hook.is_file());

    fs::write(dir.path().join("app.py"), format!("KEY = '{LEGACY_KEY}'\n")).expect("write");
    assert!(git(dir.path(), &["add", "app.py"]).status.success());
    let commit = git(dir.path(), &["commit", "-q", "-m", "leak"]);
    assert!(!commit.status.success(), "the commit must be blocked");
    let message = String::from_utf8_lossy(&commit.stderr).into_owned() + &String::from_utf8_lossy(&commit.stdout);
    assert!(message.contains("app.py:1:8"), "where the key is: {message}");
    assert!(
        message.contains("keyhound:allow"),
        "how to allow a false positive: {message}"
    );
    assert!(
        message.contains("revoke"),
        "that a leaked key must be revoked: {message}"
    );
    assert!(
        !message.contains(LEGACY_KEY),
        "the key itself is not printed: {message}"
    );

    fs::write(dir.path().join("app.py"), "KEY = os.environ['OPENAI_API_KEY']\n").expect("write");
    assert!(git(dir.path(), &["add", "app.py"]).status.success());
    let commit = git(dir.path(), &["commit", "-q", "-m", "clean"]);
    assert!(commit.status.success(), "{}", String::from_utf8_lossy(&commit.stderr));
}

#[test]
fn install_hook_refuses_to_replace_a_foreign_hook_without_force() {
    let dir = TempDir::new().expect("temp dir");
    assert!(git(dir.path(), &["init", "-q"]).status.success());
    let hook = dir.path().join(".git/hooks/pre-commit");
    fs::create_dir_all(hook.parent().expect("parent")).expect("mkdir");
    fs::write(&hook, "#!/bin/sh\necho mine\n").expect("write");

    let output = run(keyhound_in(dir.path()).arg("install-hook"));
    assert_eq!(code(&output), 2);
    assert!(stderr(&output).contains("--force"), "{}", stderr(&output));
    assert_eq!(fs::read_to_string(&hook).expect("read"), "#!/bin/sh\necho mine\n");

    let output = run(keyhound_in(dir.path()).args(["install-hook", "--force"]));
    assert_eq!(code(&output), 0);
    assert!(fs::read_to_string(&hook).expect("read").contains("keyhound"));
    // Re-installing over keyhound's own hook needs no --force.
    assert_eq!(code(&run(keyhound_in(dir.path()).arg("install-hook"))), 0);
}

#[test]
fn install_hook_outside_a_repository_is_a_clear_error() {
    let dir = TempDir::new().expect("temp dir");
    let output = run(keyhound_in(dir.path()).arg("install-hook"));
    assert_eq!(code(&output), 2);
    assert!(stderr(&output).contains("not a git repository"), "{}", stderr(&output));
}

#[test]
fn pre_commit_framework_hooks_run_the_staged_scan() {
    let text = fs::read_to_string(root().join(".pre-commit-hooks.yaml")).expect("read .pre-commit-hooks.yaml");
    // Each hook is a block from its `- id:` line to the next; the default one installs the wheel with pip.
    let hooks: Vec<&str> = text.split("\n- id: ").skip(1).collect();
    let language = |id: &str| {
        let hook = hooks
            .iter()
            .find(|h| h.lines().next() == Some(id))
            .unwrap_or_else(|| panic!("no hook {id} in .pre-commit-hooks.yaml"));
        assert!(hook.contains("entry: keyhound git --staged"), "{id}: {hook}");
        assert!(hook.contains("pass_filenames: false"), "{id}: {hook}");
        hook.lines()
            .find_map(|l| l.trim().strip_prefix("language: "))
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(hooks.len(), 3, "{text}");
    assert_eq!(language("keyhound"), "python");
    assert_eq!(language("keyhound-rust"), "rust");
    assert_eq!(language("keyhound-system"), "system");
}

#[test]
fn completions_are_generated_for_each_shell() {
    for (shell, marker) in [
        ("bash", "_keyhound()"),
        ("zsh", "#compdef keyhound"),
        ("fish", "complete -c keyhound"),
    ] {
        let output = run(keyhound().args(["completions", shell]));
        assert_eq!(code(&output), 0, "{shell}");
        let script = stdout(&output);
        assert!(script.contains(marker), "{shell}: {script:.200}");
        assert!(script.contains("install-hook"), "{shell} completes subcommands");
    }
}

#[test]
fn every_subcommand_help_has_examples() {
    for command in ["scan", "git", "rules", "revoke", "merge", "install-hook", "completions"] {
        let output = run(keyhound().args([command, "--help"]));
        assert_eq!(code(&output), 0, "{command}");
        assert!(
            stdout(&output).contains("Examples:"),
            "{command} --help: {}",
            stdout(&output)
        );
    }
}

#[test]
fn threads_bound_the_scan_and_zero_is_refused() {
    let output = run(keyhound().args(["scan", "fixtures/demo", "--threads", "1", "-q"]));
    assert_eq!(code(&output), 1);
    let output = run(keyhound().args(["git", ".", "--threads", "0"]));
    assert_eq!(code(&output), 2);
    assert!(stderr(&output).contains("--threads"), "{}", stderr(&output));
}

#[test]
fn off_a_terminal_there_are_no_colours_or_progress_bars_and_the_summary_is_on_stderr() {
    let mut cmd = keyhound();
    cmd.env_remove("NO_COLOR").env_remove("CI");
    let output = run(cmd.args(["scan", "fixtures/demo"]));
    assert_eq!(code(&output), 1);
    let out = stdout(&output);
    let err = stderr(&output);
    assert!(
        !out.contains('\u{1b}') && !err.contains('\u{1b}'),
        "no escape codes in pipes"
    );
    assert!(!out.contains("findings in"), "the summary is not in the report");
    assert!(err.contains("findings in") && err.contains("files"), "{err}");
    assert!(err.contains("by rule: openai-project-key"), "{err}");
}

/// A repository with the keyhound hook installed and one clean commit of `app.py` and `lib/util.py`.
fn hooked_repo() -> Repo {
    let repo = Repo::new();
    repo.commit(&[("app.py", "KEY = None\n"), ("lib/util.py", "pass\n")], "clean");
    let output = run(keyhound_in(repo.path()).arg("install-hook"));
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    repo
}

/// Commits in `dir` with `args` through the installed hook; asserts that the hook blocked it and that the
/// branch did not move.
fn assert_commit_blocked(dir: &Path, args: &[&str], what: &str) {
    let before = git(dir, &["rev-parse", "HEAD"]).stdout;
    let commit = git(dir, args);
    let message = String::from_utf8_lossy(&commit.stderr).into_owned() + &String::from_utf8_lossy(&commit.stdout);
    assert!(!commit.status.success(), "{what}: the commit went through: {message}");
    assert!(message.contains("commit blocked"), "{what}: {message}");
    assert!(message.contains("app.py:1:"), "{what}: where the key is: {message}");
    assert_eq!(git(dir, &["rev-parse", "HEAD"]).stdout, before, "{what}: HEAD moved");
}

#[test]
fn the_hook_sees_what_commit_a_and_commit_path_stage_in_a_temporary_index() {
    let repo = hooked_repo();
    // Changed in the working tree, never `git add`ed: `git commit -a` and `git commit PATH` stage it in an index
    // of their own, named to the hook in GIT_INDEX_FILE.
    repo.write("app.py", &format!("KEY = '{PROJECT_KEY}'\n"));
    assert_commit_blocked(repo.path(), &["commit", "-q", "-a", "-m", "leak"], "commit -a");
    assert_commit_blocked(repo.path(), &["commit", "-q", "-m", "leak", "app.py"], "commit PATH");
    assert_commit_blocked(
        repo.path(),
        &["commit", "-q", "-m", "leak", "--include", "app.py"],
        "commit -i",
    );
    // A clean partial commit still goes through while the key waits in the working tree.
    repo.write("lib/util.py", "pass  # tidy\n");
    let clean = git(repo.path(), &["commit", "-q", "-m", "tidy", "lib/util.py"]);
    assert!(clean.status.success(), "{}", String::from_utf8_lossy(&clean.stderr));
}

#[test]
fn the_hook_guards_linked_worktrees() {
    let repo = hooked_repo();
    let outer = TempDir::new().expect("temp dir");
    let worktree = outer.path().join("wt");
    let worktree_arg = worktree.to_str().expect("utf-8 path");
    assert!(
        git(repo.path(), &["worktree", "add", "-q", "-b", "feature", worktree_arg])
            .status
            .success()
    );
    fs::write(worktree.join("app.py"), format!("KEY = '{PROJECT_KEY}'\n")).expect("write");
    assert_commit_blocked(&worktree, &["commit", "-q", "-a", "-m", "leak"], "worktree commit -a");
    assert!(git(&worktree, &["add", "app.py"]).status.success());
    assert_commit_blocked(&worktree, &["commit", "-q", "-m", "leak"], "worktree commit");
}

#[test]
fn split_and_sparse_indexes_are_read_not_refused_or_passed() {
    for (setup, what) in [
        (&["update-index", "--split-index"][..], "split index"),
        (
            &["sparse-checkout", "set", "--cone", "--sparse-index", "lib"][..],
            "sparse index",
        ),
    ] {
        let repo = hooked_repo();
        repo.commit(&[("docs/readme.md", "docs\n")], "docs outside the sparse cone");
        assert!(git(repo.path(), setup).status.success(), "{what}");
        // A staged change with no key is let through, not blocked because the index has an extension.
        repo.write("lib/util.py", "pass  # tidy\n");
        assert!(git(repo.path(), &["add", "lib/util.py"]).status.success());
        let output = run(keyhound_in(repo.path()).args(["git", "--staged"]));
        assert_eq!(code(&output), 0, "{what}: {}", stderr(&output));
        assert!(stderr(&output).contains("1 staged file"), "{what}: {}", stderr(&output));
        // A staged key is found, through the scan and through the hook.
        repo.write("app.py", &format!("KEY = '{PROJECT_KEY}'\n"));
        assert!(git(repo.path(), &["add", "app.py"]).status.success());
        let output = run(keyhound_in(repo.path()).args(["git", "--staged", "-f", "json"]));
        assert_eq!(code(&output), 1, "{what}: {}", stderr(&output));
        assert_eq!(paths(&json_findings(&stdout(&output))), ["app.py"], "{what}");
        assert_commit_blocked(repo.path(), &["commit", "-q", "-m", "leak"], what);
    }
}

/// A directory outside any repository with `victim` in it, 0755, with known text.
fn victim() -> TempDir {
    let dir = TempDir::new().expect("temp dir");
    let path = dir.path().join("victim");
    fs::write(&path, "#!/bin/sh\necho untouched\n").expect("write");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

fn assert_untouched(outside: &TempDir) {
    let path = outside.path().join("victim");
    assert_eq!(fs::read_to_string(&path).expect("read"), "#!/bin/sh\necho untouched\n");
    assert_eq!(
        fs::metadata(&path).expect("metadata").permissions().mode() & 0o7777,
        0o755
    );
}

#[test]
fn install_hook_replaces_a_linked_hook_instead_of_writing_through_it() {
    let outside = victim();
    let dir = TempDir::new().expect("temp dir");
    assert!(git(dir.path(), &["init", "-q"]).status.success());
    let hook = dir.path().join(".git/hooks/pre-commit");
    fs::create_dir_all(hook.parent().expect("parent")).expect("mkdir");
    std::os::unix::fs::symlink(outside.path().join("victim"), &hook).expect("symlink");

    let output = run(keyhound_in(dir.path()).arg("install-hook"));
    assert_eq!(code(&output), 2, "a link is not keyhound's hook: {}", stderr(&output));
    assert!(stderr(&output).contains("--force"), "{}", stderr(&output));
    assert_untouched(&outside);

    let output = run(keyhound_in(dir.path()).args(["install-hook", "--force"]));
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_untouched(&outside);
    let meta = fs::symlink_metadata(&hook).expect("metadata");
    assert!(meta.is_file(), "the link was replaced by a regular file");
    assert_eq!(meta.permissions().mode() & 0o7777, 0o755);
    assert!(
        fs::read_to_string(&hook)
            .expect("read")
            .contains("keyhound-pre-commit-hook")
    );
}

#[test]
fn install_hook_refuses_a_pipe_where_the_hook_goes_without_waiting() {
    let dir = TempDir::new().expect("temp dir");
    assert!(git(dir.path(), &["init", "-q"]).status.success());
    let hook = dir.path().join(".git/hooks/pre-commit");
    fs::create_dir_all(hook.parent().expect("parent")).expect("mkdir");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&hook)
            .status()
            .expect("mkfifo")
            .success()
    );
    for args in [&["install-hook"][..], &["install-hook", "--force"][..]] {
        let output = run(keyhound_in(dir.path())
            .args(args)
            .timeout(std::time::Duration::from_secs(60)));
        assert_eq!(code(&output), 2, "{args:?}: {}", stderr(&output));
        assert!(
            stderr(&output).contains("pre-commit: not a regular file (a named pipe), not replaced"),
            "{args:?}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn install_hook_refuses_a_hooks_path_outside_the_repository_unless_asked() {
    let outside = TempDir::new().expect("temp dir");
    let shared = outside.path().join("shared-hooks");
    let dir = TempDir::new().expect("temp dir");
    assert!(git(dir.path(), &["init", "-q"]).status.success());
    let shared_arg = shared.to_str().expect("utf-8");
    assert!(
        git(dir.path(), &["config", "core.hooksPath", shared_arg])
            .status
            .success()
    );

    let output = run(keyhound_in(dir.path()).arg("install-hook"));
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("core.hooksPath") && err.contains("shared-hooks"), "{err}");
    assert!(
        err.contains("outside the repository") && err.contains("--outside-repo"),
        "{err}"
    );
    assert!(!shared.exists(), "nothing was written there");
    // --force replaces a hook; it does not move where hooks go.
    assert_eq!(code(&run(keyhound_in(dir.path()).args(["install-hook", "--force"]))), 2);
    assert!(!shared.exists());

    let output = run(keyhound_in(dir.path()).args(["install-hook", "--outside-repo"]));
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(stderr(&output).contains("shared-hooks"), "{}", stderr(&output));
    assert!(shared.join("pre-commit").is_file());

    // A relative hooks path inside the working tree is fine; one through a link out of it is not.
    assert!(
        git(dir.path(), &["config", "core.hooksPath", ".githooks"])
            .status
            .success()
    );
    assert_eq!(code(&run(keyhound_in(dir.path()).arg("install-hook"))), 0);
    assert!(dir.path().join(".githooks/pre-commit").is_file());
    std::os::unix::fs::symlink(outside.path(), dir.path().join("linked")).expect("symlink");
    assert!(
        git(dir.path(), &["config", "core.hooksPath", "linked/hooks"])
            .status
            .success()
    );
    let output = run(keyhound_in(dir.path()).arg("install-hook"));
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    assert!(!outside.path().join("hooks").exists());
}
