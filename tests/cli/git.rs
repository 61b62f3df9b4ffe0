//! `keyhound git`: history, ranges, staged changes, over repositories built in temporary directories.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use tempfile::TempDir;

use crate::common::{
    LEGACY_KEY, LEGACY_KEY_2, PROJECT_KEY, Repo, code, git_command, git_ok, json_findings, keyhound_in, run, stderr,
    stdout,
};

/// Runs `keyhound git ARGS --format json` in `dir`; returns (exit code, findings, stderr).
fn scan(dir: &Path, args: &[&str]) -> (i32, Vec<Value>, String) {
    let output = run(keyhound_in(dir).arg("git").args(args).args(["--format", "json"]));
    let findings = json_findings(&stdout(&output));
    (code(&output), findings, stderr(&output))
}

fn secrets(findings: &[Value]) -> Vec<String> {
    findings
        .iter()
        .map(|f| f["secret"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn a_deleted_key_is_found_and_attributed_to_the_commit_that_added_it() {
    let repo = Repo::new();
    repo.commit(&[("README.md", "hello\n")], "root");
    let adding = repo.commit(
        &[("config/app.env", &format!("# settings\nOPENAI_API_KEY={LEGACY_KEY}\n"))],
        "add config",
    );
    fs::remove_file(repo.path().join("config/app.env")).expect("rm");
    repo.commit(&[], "remove the key");

    let (status, findings, _) = scan(repo.path(), &["--show-secrets"]);
    assert_eq!(status, 1);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let f = &findings[0];
    assert_eq!(f["secret"], LEGACY_KEY);
    assert_eq!(f["path"], "config/app.env");
    assert_eq!(f["line"], 2);
    assert_eq!(f["column"], 16);
    assert_eq!(f["commit"], adding.as_str());
    assert_eq!(f["author_name"], "Alice Example");
    assert_eq!(f["author_email"], "alice@example.com");
    assert_eq!(f["date"], "2024-05-01T12:00:00+02:00");
    assert_eq!(f["summary"], "add config");
    assert_eq!(f["repository"], ".");
}

/// A key replaced in place by another sits at the same path, line and column in two blob versions: both keys
/// are leaks, and both are reported.
#[test]
fn a_key_rotated_in_place_reports_both_keys() {
    let repo = Repo::new();
    let first = repo.commit(&[("a.env", &format!("A={LEGACY_KEY}\n"))], "one");
    let second = repo.commit(&[("a.env", &format!("A={LEGACY_KEY_2}\n"))], "two");
    let (status, findings, _) = scan(repo.path(), &["--show-secrets"]);
    assert_eq!(status, 1);
    let mut found: Vec<(String, String)> = findings
        .iter()
        .map(|f| {
            (
                f["secret"].as_str().unwrap_or("").to_string(),
                f["commit"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    found.sort();
    let mut expected = [(LEGACY_KEY.to_string(), first), (LEGACY_KEY_2.to_string(), second)];
    expected.sort();
    assert_eq!(found, expected, "{findings:#?}");
}

#[test]
fn history_output_is_redacted_by_default() {
    let repo = Repo::new();
    repo.commit(&[("a.txt", &format!("k={LEGACY_KEY}\n"))], "add");
    let output = run(keyhound_in(repo.path()).args(["git"]));
    assert_eq!(code(&output), 1);
    let text = format!("{}{}", stdout(&output), stderr(&output));
    assert!(!text.contains(LEGACY_KEY), "{text}");
    assert!(text.contains("a.txt:1:3"), "{text}");
    assert!(text.contains("commit "), "{text}");
}

#[test]
fn a_key_only_on_an_unmerged_branch_is_found_unless_one_branch_is_chosen() {
    let repo = Repo::new();
    repo.commit(&[("README.md", "hello\n")], "root");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let on_branch = repo.commit(&[("feature.py", &format!("KEY = '{PROJECT_KEY}'\n"))], "feature work");
    repo.git(&["checkout", "-q", "main"]);

    let (status, findings, _) = scan(repo.path(), &["--show-secrets"]);
    assert_eq!(status, 1);
    assert_eq!(secrets(&findings), vec![PROJECT_KEY]);
    assert_eq!(findings[0]["commit"], on_branch.as_str());

    let (status, findings, _) = scan(repo.path(), &["--branch", "main"]);
    assert_eq!(status, 0, "{findings:#?}");
    let (status, _, _) = scan(repo.path(), &["--branch", "feature"]);
    assert_eq!(status, 1);
}

#[test]
fn a_renamed_file_is_one_finding_attributed_to_the_original_commit() {
    let repo = Repo::new();
    let adding = repo.commit(&[("old.env", &format!("KEY={LEGACY_KEY}\n"))], "add");
    repo.git(&["mv", "old.env", "new.env"]);
    repo.commit(&[], "rename");

    let (_, findings, _) = scan(repo.path(), &[]);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0]["commit"], adding.as_str());
    assert_eq!(findings[0]["path"], "old.env");
    assert_eq!(findings[0]["other_occurrences"], 1);
}

#[test]
fn a_key_added_in_a_merge_resolution_is_attributed_to_the_merge() {
    let repo = Repo::new();
    repo.commit(&[("conf.txt", "base\n")], "root");
    repo.git(&["checkout", "-q", "-b", "side"]);
    repo.commit(&[("conf.txt", "side\n")], "side change");
    repo.git(&["checkout", "-q", "main"]);
    repo.commit(&[("conf.txt", "main\n")], "main change");
    let merge = git_command(repo.path())
        .args(["merge", "-q", "side"])
        .output()
        .expect("git merge runs");
    assert!(!merge.status.success(), "the merge must conflict");
    repo.write("conf.txt", &format!("resolved\nKEY={LEGACY_KEY}\n"));
    repo.git(&["add", "conf.txt"]);
    repo.git(&["commit", "-q", "-m", "merge side"]);
    let merge_commit = repo.head();

    let (_, findings, _) = scan(repo.path(), &[]);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0]["commit"], merge_commit.as_str());
    assert_eq!(findings[0]["summary"], "merge side");
}

#[test]
fn the_same_blob_at_two_paths_is_scanned_once_and_counted() {
    let repo = Repo::new();
    let text = format!("KEY={LEGACY_KEY}\n");
    repo.commit(&[("a/key.env", &text), ("b/key.env", &text)], "two copies");

    let (_, findings, _) = scan(repo.path(), &[]);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0]["path"], "a/key.env");
    assert_eq!(findings[0]["other_occurrences"], 1);

    let (_, findings, _) = scan(repo.path(), &["--all-commits"]);
    let places: Vec<&str> = findings[0]["occurrences"]
        .as_array()
        .expect("occurrences listed with --all-commits")
        .iter()
        .filter_map(|o| o["path"].as_str())
        .collect();
    assert_eq!(places, vec!["a/key.env", "b/key.env"]);
}

#[test]
fn staged_keys_are_found_by_staged_and_not_by_history() {
    let repo = Repo::new();
    repo.commit(&[("app.py", "print('hi')\n")], "root");
    repo.write("app.py", &format!("print('hi')\nKEY = '{LEGACY_KEY}'\n"));
    repo.git(&["add", "app.py"]);

    let (status, findings, _) = scan(repo.path(), &["--staged", "--show-secrets"]);
    assert_eq!(status, 1);
    assert_eq!(secrets(&findings), vec![LEGACY_KEY]);
    assert_eq!(findings[0]["line"], 2);
    assert!(findings[0].get("commit").is_none(), "staged findings have no commit");

    let (status, _, _) = scan(repo.path(), &[]);
    assert_eq!(status, 0, "the key is not in any commit");
}

#[test]
fn a_key_already_in_head_does_not_block_an_unrelated_staged_change() {
    let repo = Repo::new();
    repo.commit(&[("app.py", &format!("KEY = '{LEGACY_KEY}'\nx = 1\n"))], "old leak");
    repo.write("app.py", &format!("KEY = '{LEGACY_KEY}'\nx = 2\n"));
    repo.git(&["add", "app.py"]);
    let (status, findings, _) = scan(repo.path(), &["--staged"]);
    assert_eq!(status, 0, "{findings:#?}");

    // A second key added on a new line is reported, the old one still is not.
    repo.write(
        "app.py",
        &format!("KEY = '{LEGACY_KEY}'\nx = 2\nK2 = '{LEGACY_KEY_2}'\n"),
    );
    repo.git(&["add", "app.py"]);
    let (status, findings, _) = scan(repo.path(), &["--staged", "--show-secrets"]);
    assert_eq!(status, 1);
    assert_eq!(secrets(&findings), vec![LEGACY_KEY_2]);
}

#[test]
fn staged_works_in_a_repository_with_no_commits() {
    let repo = Repo::new();
    repo.write("first.env", &format!("KEY={PROJECT_KEY}\n"));
    repo.git(&["add", "first.env"]);
    let (status, findings, _) = scan(repo.path(), &["--staged", "--show-secrets"]);
    assert_eq!(status, 1);
    assert_eq!(secrets(&findings), vec![PROJECT_KEY]);
}

#[test]
fn since_and_range_scan_only_what_the_new_commits_introduce() {
    let repo = Repo::new();
    repo.commit(&[("old.env", &format!("KEY={LEGACY_KEY}\n"))], "old leak");
    let base = repo.head();
    let new_commit = repo.commit(&[("new.env", &format!("KEY={PROJECT_KEY}\n"))], "new leak");

    let (status, findings, _) = scan(repo.path(), &["--since", &base, "--show-secrets"]);
    assert_eq!(status, 1);
    assert_eq!(secrets(&findings), vec![PROJECT_KEY]);
    assert_eq!(findings[0]["commit"], new_commit.as_str());

    let range = format!("{base}..HEAD");
    let (_, findings, _) = scan(repo.path(), &["--range", &range, "--show-secrets"]);
    assert_eq!(secrets(&findings), vec![PROJECT_KEY]);

    let (status, findings, _) = scan(repo.path(), &["--since", "HEAD"]);
    assert_eq!(status, 0, "{findings:#?}");

    let output = run(keyhound_in(repo.path()).args(["git", "--since", "no-such-ref"]));
    assert_eq!(code(&output), 2);
    assert!(stderr(&output).contains("no-such-ref"), "{}", stderr(&output));
}

#[test]
fn bare_repositories_and_worktrees_are_scanned() {
    let repo = Repo::new();
    repo.commit(&[("k.env", &format!("KEY={LEGACY_KEY}\n"))], "leak");
    let holder = TempDir::new().expect("temp dir");
    let bare = holder.path().join("mirror.git");
    let bare_text = bare.to_string_lossy().into_owned();
    git_ok(
        holder.path(),
        &["clone", "-q", "--bare", &repo.path().to_string_lossy(), &bare_text],
    );
    let (status, findings, _) = scan(holder.path(), &["mirror.git"]);
    assert_eq!(status, 1);
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0]["repository"], "mirror.git");

    let worktree = holder.path().join("wt");
    repo.git(&["worktree", "add", "-q", "-b", "wt-branch", &worktree.to_string_lossy()]);
    let (status, findings, _) = scan(&worktree, &[]);
    assert_eq!(status, 1, "{findings:#?}");
}

/// A clone of `repo` one commit deep (of `branch`, or of its current branch), as a CI checkout makes one: the
/// directory that holds it (removed when dropped) and the clone's path.
fn shallow_clone(repo: &Repo, branch: Option<&str>) -> (TempDir, PathBuf) {
    let holder = TempDir::new().expect("temp dir");
    let url = format!("file://{}", repo.path().display());
    let mut args = vec!["clone", "-q", "--depth", "1"];
    if let Some(branch) = branch {
        args.extend(["--branch", branch]);
    }
    args.extend([url.as_str(), "shallow"]);
    git_ok(holder.path(), &args);
    let shallow = holder.path().join("shallow");
    (holder, shallow)
}

#[test]
fn a_shallow_clone_is_scanned_and_the_cut_is_reported() {
    let repo = Repo::new();
    repo.commit(&[("old.env", &format!("KEY={LEGACY_KEY}\n"))], "old");
    repo.commit(&[("new.env", &format!("KEY={PROJECT_KEY}\n"))], "new");
    fs::remove_file(repo.path().join("old.env")).expect("rm");
    repo.commit(&[], "drop old");
    let (_holder, shallow) = shallow_clone(&repo, None);

    let (status, findings, err) = scan(&shallow, &["--show-secrets"]);
    assert_eq!(status, 1);
    assert_eq!(secrets(&findings), vec![PROJECT_KEY], "only what the clone holds");
    // The cut is a scan error, as a partial clone's missing blobs are: the scan is incomplete.
    let head = git_ok(&shallow, &["rev-parse", "HEAD"]);
    assert!(
        err.contains(&format!(
            "commit {}: its parents are not in the repository",
            head.trim()
        )),
        "{err}"
    );
    assert!(
        err.contains("shallow clone's cut") && err.contains("git fetch --unshallow"),
        "{err}"
    );
    assert!(err.contains("[1 could not be read: 1 commit]"), "{err}");
    let (status, _, err) = scan(&shallow, &["--fail-on-scan-errors"]);
    assert_eq!(status, 2, "{err}");
    // Once the history is fetched, the key the cut hid is found and the scan is complete.
    git_ok(&shallow, &["fetch", "-q", "--unshallow"]);
    let (status, findings, err) = scan(&shallow, &["--show-secrets", "--fail-on-scan-errors"]);
    assert_eq!(status, 1, "{err}");
    assert_eq!(secrets(&findings).len(), 2, "{err}");
}

/// A CI checkout is shallow unless told otherwise: a pull request's base is then not in the clone. The scan
/// fails (exit 2, never a clean 0) and says how to fetch the history; a base the clone holds still works.
#[test]
fn a_range_whose_base_a_shallow_clone_cut_off_fails_and_says_how_to_fetch_it() {
    let repo = Repo::new();
    let base = repo.commit(&[("README.md", "hello\n")], "base");
    repo.commit(&[("app.env", &format!("KEY={PROJECT_KEY}\n"))], "leak");
    let head = repo.commit(&[("notes.txt", "more\n")], "after");
    let (_holder, shallow) = shallow_clone(&repo, None);

    for args in [vec!["--since", &base], vec!["--range", &format!("{base}..{head}")]] {
        let output = run(keyhound_in(&shallow).arg("git").args(&args));
        let err = stderr(&output);
        assert_eq!(code(&output), 2, "{args:?}: {err}");
        assert!(err.contains(&base), "{args:?}: names the revision: {err}");
        assert!(
            err.contains("shallow clone") && err.contains("fetch-depth: 0"),
            "{args:?}: {err}"
        );
    }

    // A revision that no clone holds is not blamed on the cut.
    let output = run(keyhound_in(repo.path()).arg("git").args(["--since", "no-such-branch"]));
    assert_eq!(code(&output), 2);
    assert!(!stderr(&output).contains("shallow"), "{}", stderr(&output));

    git_ok(&shallow, &["fetch", "-q", "--unshallow"]);
    let (status, findings, err) = scan(&shallow, &["--since", &base, "--show-secrets"]);
    assert_eq!(status, 1, "{err}");
    assert_eq!(secrets(&findings), vec![PROJECT_KEY]);
}

/// A pull request checked out one commit deep, its base branch fetched whole (what a CI job does without
/// `fetch-depth: 0`): the range's first commits are cut off, so a key that one of them added and the next
/// deleted is not there, and the last commit's whole tree would pass for new. The scan refuses (exit 2) and says
/// how to fetch the history; with it, the range's key is found and the base's is not reported.
#[test]
fn a_range_cut_short_by_a_shallow_clone_fails_and_says_how_to_fetch_it() {
    let repo = Repo::new();
    repo.commit(&[("old.env", &format!("KEY={LEGACY_KEY}\n"))], "base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.commit(&[("leak.env", &format!("KEY={PROJECT_KEY}\n"))], "add a key");
    fs::remove_file(repo.path().join("leak.env")).expect("rm");
    repo.commit(&[("notes.txt", "more\n")], "delete it, add notes");
    let (_holder, shallow) = shallow_clone(&repo, Some("feature"));
    git_ok(&shallow, &["fetch", "-q", "origin", "main:refs/remotes/origin/main"]);

    let output = run(keyhound_in(&shallow).args(["git", "--since", "origin/main"]));
    let err = stderr(&output);
    assert_eq!(code(&output), 2, "{err}");
    assert!(err.contains("cut short by a shallow clone"), "{err}");
    assert!(err.contains("fetch-depth: 0"), "{err}");
    // A whole-history scan of the same clone is not a range: it scans what is there, and is incomplete.
    let (status, _, err) = scan(&shallow, &[]);
    assert_eq!(status, 1, "{err}");
    assert!(err.contains("the scan is incomplete"), "{err}");

    git_ok(&shallow, &["fetch", "-q", "--unshallow", "origin"]);
    let (status, findings, err) = scan(&shallow, &["--since", "origin/main", "--show-secrets"]);
    assert_eq!(status, 1, "{err}");
    assert_eq!(secrets(&findings), vec![PROJECT_KEY]);
}

#[test]
fn a_corrupt_object_is_a_warning_and_the_scan_goes_on() {
    let repo = Repo::new();
    repo.commit(&[("good.env", &format!("KEY={LEGACY_KEY}\n"))], "good");
    repo.commit(&[("bad.env", &format!("KEY={PROJECT_KEY}\n"))], "to corrupt");
    let blob = repo.git(&["rev-parse", "HEAD:bad.env"]).trim().to_string();
    let object: PathBuf = repo.path().join(".git/objects").join(&blob[..2]).join(&blob[2..]);
    fs::remove_file(&object).expect("remove the loose object");

    let (status, findings, err) = scan(repo.path(), &["--show-secrets"]);
    assert_eq!(status, 1, "{err}");
    assert_eq!(secrets(&findings), vec![LEGACY_KEY]);
    assert!(err.contains(&blob), "the warning names the object: {err}");
}

/// A blob over `--max-file-size` is skipped with a note naming it, whether it is loose, packed whole or packed
/// as a delta of an earlier version, and it is never read whole: a compression bomb (32 MiB of zeros, a few
/// KiB packed) is skipped the same way. Everything else in the history is still scanned, and a larger limit
/// reads every one of them.
#[test]
fn blobs_over_max_file_size_are_skipped_whether_loose_packed_or_deltas() {
    let repo = Repo::new();
    let big = format!("{}KEY={PROJECT_KEY}\n", "let x = 1;\n".repeat(150_000));
    repo.commit(&[("big.txt", &big), ("small.env", &format!("K={LEGACY_KEY}\n"))], "one");
    repo.commit(&[("big.txt", &format!("// edited\n{big}"))], "two");
    fs::write(repo.path().join("zeros.bin"), vec![0u8; 32 << 20]).expect("write the bomb");
    repo.commit(&[], "three");
    // Packed, with one of the two versions stored as a delta of the other, then one more version left loose.
    repo.git(&["repack", "-a", "-d", "-f", "-q"]);
    let verified = repo.git(&[
        "verify-pack",
        "-v",
        &glob_one(&repo.path().join(".git/objects/pack"), ".idx"),
    ]);
    let is_delta = |blob: &str| {
        verified
            .lines()
            .any(|line| line.starts_with(blob) && line.split_whitespace().count() > 5)
    };
    let packed_as_delta = ["HEAD~2:big.txt", "HEAD~1:big.txt"]
        .map(|rev| repo.git(&["rev-parse", rev]).trim().to_string())
        .into_iter()
        .find(|blob| is_delta(blob))
        .unwrap_or_else(|| panic!("a version of big.txt is packed as a delta:\n{verified}"));
    let loose = repo.commit(&[("big.txt", &format!("// again\n{big}"))], "four");
    let loose_blob = repo.git(&["rev-parse", &format!("{loose}:big.txt")]).trim().to_string();
    assert!(
        repo.path()
            .join(".git/objects")
            .join(&loose_blob[..2])
            .join(&loose_blob[2..])
            .is_file()
    );

    let (status, findings, err) = scan(repo.path(), &["--show-secrets", "--max-file-size", "1MiB"]);
    assert_eq!(status, 1, "{err}");
    assert_eq!(secrets(&findings), vec![LEGACY_KEY], "{findings:#?}");
    let skipped: Vec<&str> = err.lines().filter(|l| l.contains("over --max-file-size")).collect();
    assert_eq!(skipped.len(), 4, "three versions of big.txt and zeros.bin: {err}");
    for blob in [&packed_as_delta, &loose_blob] {
        assert!(
            skipped.iter().any(|l| l.contains(blob.as_str())),
            "{blob} is named: {err}"
        );
    }
    assert!(
        skipped
            .iter()
            .any(|l| l.contains("(zeros.bin)") && l.contains("32.0 MiB")),
        "{err}"
    );
    assert!(err.contains("4 too large"), "{err}");

    let (status, findings, err) = scan(repo.path(), &["--show-secrets", "--max-file-size", "64MiB"]);
    assert_eq!(status, 1, "{err}");
    let mut found = secrets(&findings);
    found.sort();
    let mut expected = vec![LEGACY_KEY.to_string(), PROJECT_KEY.to_string()];
    expected.sort();
    assert_eq!(found, expected, "{findings:#?}");
    assert!(!err.contains("too large"), "{err}");
}

/// The one file in `dir` whose name ends with `suffix`.
fn glob_one(dir: &Path, suffix: &str) -> String {
    let mut names: Vec<PathBuf> = fs::read_dir(dir)
        .expect("read dir")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.to_string_lossy().ends_with(suffix))
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    names.pop().expect("one").to_string_lossy().into_owned()
}

#[test]
fn a_path_that_is_not_a_repository_is_a_clear_error() {
    let dir = TempDir::new().expect("temp dir");
    let output = run(keyhound_in(dir.path()).args(["git", "."]));
    assert_eq!(code(&output), 2);
    assert!(stderr(&output).contains("not a git repository"), "{}", stderr(&output));
}

#[test]
fn several_repositories_label_each_finding() {
    let a = Repo::new();
    a.commit(&[("a.env", &format!("KEY={LEGACY_KEY}\n"))], "a");
    let b = Repo::new();
    b.commit(&[("b.env", &format!("KEY={PROJECT_KEY}\n"))], "b");
    let output = run(keyhound_in(a.path())
        .args(["git", "--format", "json", "."])
        .arg(b.path()));
    assert_eq!(code(&output), 1);
    let findings = json_findings(&stdout(&output));
    let labels: Vec<String> = findings
        .iter()
        .map(|f| f["repository"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(labels.len(), 2);
    assert!(labels.contains(&".".to_string()), "{labels:?}");
    assert!(labels.contains(&b.path().display().to_string()), "{labels:?}");

    // A bad repository among good ones is reported; the others are still scanned.
    let missing = a.path().join("no-such-repo");
    let output = run(keyhound_in(a.path()).args(["git", "-f", "json", "."]).arg(&missing));
    assert_eq!(code(&output), 1);
    assert!(stderr(&output).contains("no-such-repo"), "{}", stderr(&output));
}

#[test]
fn lfs_pointers_and_submodules_are_noted_not_scanned() {
    let repo = Repo::new();
    let pointer = "version https://git-lfs.github.com/spec/v1\noid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345\n";
    repo.commit(
        &[("model.bin", pointer), ("k.env", &format!("KEY={LEGACY_KEY}\n"))],
        "lfs",
    );
    let some_commit = repo.head();
    repo.git(&[
        "update-index",
        "--add",
        "--cacheinfo",
        &format!("160000,{some_commit},vendor/lib"),
    ]);
    repo.git(&["commit", "-q", "-m", "add a submodule"]);

    let (status, findings, err) = scan(repo.path(), &[]);
    assert_eq!(status, 1);
    assert_eq!(findings.len(), 1);
    assert!(err.contains("LFS pointer"), "{err}");
    assert!(err.contains("vendor/lib"), "{err}");
}

#[test]
fn the_summary_counts_commits_and_blobs() {
    let repo = Repo::new();
    repo.commit(&[("a.txt", "1\n")], "one");
    repo.commit(&[("a.txt", "2\n")], "two");
    let output = run(keyhound_in(repo.path()).args(["git"]));
    assert_eq!(code(&output), 0);
    let err = stderr(&output);
    assert!(err.contains("2 blobs from 2 commits"), "{err}");
}

#[test]
fn a_key_that_survives_later_edits_of_its_file_is_one_finding() {
    let repo = Repo::new();
    let adding = repo.commit(&[("app.env", &format!("KEY={LEGACY_KEY}\nDEBUG=0\n"))], "add");
    repo.commit(&[("app.env", &format!("KEY={LEGACY_KEY}\nDEBUG=1\n"))], "edit 1");
    repo.commit(&[("app.env", &format!("KEY={LEGACY_KEY}\nDEBUG=2\n"))], "edit 2");
    repo.commit(&[("copy.env", &format!("OTHER={LEGACY_KEY}\n"))], "copy elsewhere");

    let (status, findings, _) = scan(repo.path(), &["--all-commits"]);
    assert_eq!(status, 1);
    let paths: Vec<&str> = findings.iter().filter_map(|f| f["path"].as_str()).collect();
    assert_eq!(
        paths,
        vec!["app.env", "copy.env"],
        "one finding per file, not per version"
    );
    let app = &findings[0];
    assert_eq!(app["commit"], adding.as_str());
    // Three versions, each in every later commit: (c1), (c2), (c3), (c4) hold app.env with the key.
    assert_eq!(app["other_occurrences"], 3);
    assert_eq!(app["occurrences"].as_array().map(Vec::len), Some(4));
}

/// The benchmark's floor (`--bench-read-only`) reads every blob a scan reads, and matches nothing.
#[test]
fn the_read_only_floor_reads_every_blob_and_finds_nothing() {
    let repo = Repo::new();
    repo.commit(&[("a.env", &format!("OPENAI_API_KEY={PROJECT_KEY}\n"))], "one");
    repo.commit(&[("b.txt", "hello\n"), ("c.txt", "world\n")], "two");
    let blobs = |stderr: &str| {
        stderr
            .split_whitespace()
            .skip_while(|word| *word != "in")
            .nth(1)
            .map(str::to_string)
            .unwrap_or_default()
    };
    let (status, findings, scanned) = scan(repo.path(), &[]);
    assert_eq!((status, findings.len()), (1, 1));
    let (status, findings, read) = scan(repo.path(), &["--bench-read-only"]);
    assert_eq!((status, findings.len()), (0, 0), "{read}");
    assert_eq!(blobs(&read), "3", "{read}");
    assert_eq!(blobs(&read), blobs(&scanned));
}
