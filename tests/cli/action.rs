//! The GitHub Action's scan step (`scripts/action-scan.sh`, run by action.yml) in checkouts made the way
//! actions/checkout makes them: one commit deep unless `fetch-depth: 0`. The step runs the real binary and git
//! against an "origin" repository on disk.

use std::fs;
use std::path::Path;

use serde_json::Value;
use tempfile::TempDir;

use crate::common::{LEGACY_KEY, PROJECT_KEY, Repo, git_ok, root};

/// What one run of the step left: its exit code, what it wrote to `$GITHUB_OUTPUT`, its output and the SARIF
/// report's rule ids.
struct StepRun {
    code: i32,
    github_output: String,
    log: String,
    rules: Vec<String>,
}

/// Runs the scan step in `checkout` with the event's variables `env` (the other inputs at their defaults).
fn scan_step(checkout: &Path, env: &[(&str, &str)]) -> StepRun {
    let runner = TempDir::new().expect("temp dir");
    let github_output = runner.path().join("github_output");
    fs::write(&github_output, "").expect("output file");
    let binary = Path::new(env!("CARGO_BIN_EXE_keyhound"));
    let path = format!(
        "{}:{}",
        binary.parent().expect("the binary's directory").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let sarif = runner.path().join("keyhound.sarif");
    let output = std::process::Command::new("bash")
        .arg(root().join("scripts/action-scan.sh"))
        .current_dir(checkout)
        .env_clear()
        .env("PATH", path)
        .env("HOME", runner.path())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("NO_COLOR", "1")
        .env("CI", "1")
        .env("GITHUB_OUTPUT", &github_output)
        .env("SARIF_FILE", &sarif)
        .env("SCOPE", "auto")
        .env("FAIL_ON_SCAN_ERRORS", "true")
        .envs(env.iter().copied())
        .output()
        .expect("bash runs");
    let rules = fs::read_to_string(&sarif)
        .ok()
        .and_then(|text| serde_json::from_str::<Value>(&text).ok())
        .map(|sarif| {
            sarif["runs"][0]["results"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|result| result["ruleId"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    StepRun {
        code: output.status.code().unwrap_or(-1),
        github_output: fs::read_to_string(&github_output).expect("output file"),
        log: format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
        rules,
    }
}

/// A checkout of `branch` of `origin` as actions/checkout makes one by default: one commit deep, with the
/// remote's usual refspec (so that fetching a branch updates `origin/BRANCH`).
fn shallow_checkout(origin: &Repo, branch: &str) -> TempDir {
    let holder = TempDir::new().expect("temp dir");
    let url = format!("file://{}", origin.path().display());
    git_ok(
        holder.path(),
        &["clone", "-q", "--depth", "1", "--branch", branch, &url, "checkout"],
    );
    let checkout = holder.path().join("checkout");
    git_ok(
        &checkout,
        &["config", "remote.origin.fetch", "+refs/heads/*:refs/remotes/origin/*"],
    );
    holder
}

/// A checkout of `branch` of `origin` with the whole history (`fetch-depth: 0`).
fn full_checkout(origin: &Repo, branch: &str) -> TempDir {
    let holder = TempDir::new().expect("temp dir");
    let url = format!("file://{}", origin.path().display());
    git_ok(holder.path(), &["clone", "-q", "--branch", branch, &url, "checkout"]);
    holder
}

/// Where a checkout made by [`shallow_checkout`] or [`full_checkout`] is.
fn checkout_dir(holder: &TempDir) -> std::path::PathBuf {
    holder.path().join("checkout")
}

/// A branch that adds a key and deletes it again, on a base that already holds another key.
fn origin_with_a_pull_request() -> Repo {
    let origin = Repo::new();
    origin.commit(
        &[("old.env", &format!("KEY={LEGACY_KEY}\n"))],
        "base: a key already known",
    );
    origin.git(&["checkout", "-q", "-b", "feature"]);
    origin.commit(&[("leak.env", &format!("KEY={PROJECT_KEY}\n"))], "add a key");
    fs::remove_file(origin.path().join("leak.env")).expect("rm");
    origin.commit(&[], "delete it again");
    origin.commit(&[("notes.txt", "more\n")], "more");
    origin
}

/// In a one-commit checkout the pull request's earlier commits are not there: the step fetches them, finds the
/// key that one of them added and the next deleted, and reports only what the pull request adds.
#[test]
fn a_pull_request_in_a_shallow_checkout_is_scanned_whole_and_only_what_it_adds_is_reported() {
    let origin = origin_with_a_pull_request();
    let holder = shallow_checkout(&origin, "feature");
    let step = scan_step(
        &checkout_dir(&holder),
        &[("EVENT", "pull_request"), ("BASE_REF", "main")],
    );
    assert_eq!(step.code, 0, "{}", step.log);
    assert_eq!(step.github_output, "findings=true\n", "{}", step.log);
    assert_eq!(step.rules, vec!["openai-project-key"], "{}", step.log);
    assert!(step.log.contains("shallow"), "says why it fetches: {}", step.log);

    // A checkout with the history (fetch-depth: 0) gives the same report.
    let full = full_checkout(&origin, "feature");
    let step = scan_step(&checkout_dir(&full), &[("EVENT", "pull_request"), ("BASE_REF", "main")]);
    assert_eq!(
        (step.code, step.github_output.as_str()),
        (0, "findings=true\n"),
        "{}",
        step.log
    );
    assert_eq!(step.rules, vec!["openai-project-key"], "{}", step.log);
}

/// On a push the step scans the whole history: in a one-commit checkout it fetches the history first, so a key
/// added and deleted before the last commit is found.
#[test]
fn a_push_in_a_shallow_checkout_scans_the_whole_history() {
    let origin = origin_with_a_pull_request();
    let holder = shallow_checkout(&origin, "feature");
    let step = scan_step(&checkout_dir(&holder), &[("EVENT", "push")]);
    assert_eq!(step.code, 0, "{}", step.log);
    assert_eq!(step.github_output, "findings=true\n", "{}", step.log);
    let mut rules = step.rules;
    rules.sort();
    assert_eq!(rules, vec!["openai-legacy-key", "openai-project-key"], "{}", step.log);
}

/// A shallow checkout whose history cannot be fetched fails the step: one commit is never scanned as if it were
/// the history. A full checkout needs no fetch on a push, so an unreachable origin does not matter there.
#[test]
fn a_history_that_cannot_be_fetched_fails_the_step() {
    let origin = origin_with_a_pull_request();
    let holder = shallow_checkout(&origin, "feature");
    let checkout = checkout_dir(&holder);
    git_ok(
        &checkout,
        &["remote", "set-url", "origin", "file:///nonexistent/keyhound-origin"],
    );
    for env in [
        vec![("EVENT", "push")],
        vec![("EVENT", "pull_request"), ("BASE_REF", "main")],
    ] {
        let step = scan_step(&checkout, &env);
        assert_ne!(step.code, 0, "{env:?}: {}", step.log);
        assert_eq!(step.github_output, "", "{env:?}: no findings output: {}", step.log);
        assert!(
            step.log.contains("::error::keyhound: 'git fetch"),
            "{env:?}: {}",
            step.log
        );
    }

    let full = full_checkout(&origin, "feature");
    let checkout = checkout_dir(&full);
    git_ok(
        &checkout,
        &["remote", "set-url", "origin", "file:///nonexistent/keyhound-origin"],
    );
    let step = scan_step(&checkout, &[("EVENT", "push")]);
    assert_eq!(
        (step.code, step.github_output.as_str()),
        (0, "findings=true\n"),
        "{}",
        step.log
    );
}

/// `scope: pr` outside a pull request has no base to scan from: an error, not a scan of nothing.
#[test]
fn scope_pr_without_a_base_branch_is_an_error() {
    let origin = origin_with_a_pull_request();
    let holder = shallow_checkout(&origin, "feature");
    let step = scan_step(&checkout_dir(&holder), &[("EVENT", "push"), ("SCOPE", "pr")]);
    assert_eq!(step.code, 2, "{}", step.log);
    assert_eq!(step.github_output, "");
    assert!(step.log.contains("scope pr needs a pull_request event"), "{}", step.log);
}
