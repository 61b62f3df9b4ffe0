//! An incomplete scan never looks complete: what could not be read is counted apart from what was scanned, in the
//! summary line and in every report, and `--fail-on-scan-errors` makes it exit 2.

use std::fs;

use serde_json::Value;

use crate::common::{
    LEGACY_KEY, PROJECT_KEY, Repo, assert_valid_sarif, code, json_findings, json_report, jsonl_findings, keyhound_in,
    run, stderr, stdout,
};

/// A repository whose history holds a blob that is gone (a partial snapshot): returns it and the blob's id.
fn repo_with_a_missing_blob(key_elsewhere: bool) -> (Repo, String) {
    let repo = Repo::new();
    let good = if key_elsewhere {
        format!("KEY={LEGACY_KEY}\n")
    } else {
        "nothing\n".to_string()
    };
    repo.commit(&[("good.env", &good)], "good");
    repo.commit(&[("gone.bin", "large content that the snapshot lacks\n")], "big");
    let blob = repo.git(&["rev-parse", "HEAD:gone.bin"]).trim().to_string();
    fs::remove_file(repo.path().join(".git/objects").join(&blob[..2]).join(&blob[2..])).expect("remove the blob");
    (repo, blob)
}

#[test]
fn a_missing_blob_shows_in_the_summary_json_and_sarif() {
    let (repo, blob) = repo_with_a_missing_blob(false);
    let output = run(keyhound_in(repo.path()).args(["git", ".", "-f", "json"]));
    assert_eq!(code(&output), 0, "exit by findings by default: {}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains("in 1 blob from 2 commits"),
        "only what was read is counted: {err}"
    );
    assert!(err.contains("1 could not be read: 1 blob"), "{err}");
    assert!(err.contains("the scan is incomplete"), "{err}");
    let report = json_report(&stdout(&output));
    let errors = report["scan_errors"].as_array().expect("scan_errors");
    assert_eq!(errors.len(), 1, "{report:#}");
    assert_eq!(errors[0]["kind"], "blob");
    assert!(errors[0]["place"].as_str().unwrap_or_default().contains(&blob));
    assert!(errors[0]["place"].as_str().unwrap_or_default().contains("gone.bin"));
    assert_eq!(errors[0]["repository"], ".");

    let output = run(keyhound_in(repo.path()).args(["git", ".", "-f", "sarif"]));
    let text = stdout(&output);
    assert_valid_sarif(&text);
    let sarif: Value = serde_json::from_str(&text).expect("sarif");
    let invocation = &sarif["runs"][0]["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);
    let notes = invocation["toolExecutionNotifications"]
        .as_array()
        .expect("notifications");
    assert_eq!(notes.len(), 1);
    assert!(notes[0]["message"]["text"].as_str().unwrap_or_default().contains(&blob));

    let output = run(keyhound_in(repo.path()).args(["git", ".", "-f", "jsonl"]));
    let summary: Value = serde_json::from_str(stdout(&output).lines().last().expect("a summary line")).expect("json");
    assert_eq!(summary["scan_errors"][0]["kind"], "blob");
}

#[test]
fn fail_on_scan_errors_makes_an_incomplete_scan_exit_2() {
    let (repo, _) = repo_with_a_missing_blob(false);
    let output = run(keyhound_in(repo.path()).args(["git", ".", "--fail-on-scan-errors"]));
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("--fail-on-scan-errors: exit code 2"),
        "{}",
        stderr(&output)
    );
    // With findings too: an incomplete scan never passes for a complete one.
    let (repo, _) = repo_with_a_missing_blob(true);
    let output = run(keyhound_in(repo.path()).args(["git", ".", "-q"]));
    assert_eq!(code(&output), 1);
    assert!(
        stderr(&output).contains("the scan is incomplete"),
        "said even with -q: {}",
        stderr(&output)
    );
    let output = run(keyhound_in(repo.path()).args(["git", ".", "--fail-on-scan-errors"]));
    assert_eq!(code(&output), 2);
    // The keyhound.toml key does the same.
    repo.write("keyhound.toml", "fail_on_scan_errors = true\n");
    let output = run(keyhound_in(repo.path()).args(["git", "."]));
    assert_eq!(code(&output), 2, "{}", stderr(&output));
}

#[test]
fn a_corrupt_tree_is_a_scan_error_of_its_own_kind() {
    let repo = Repo::new();
    repo.commit(
        &[("top.env", &format!("KEY={LEGACY_KEY}\n")), ("sub/inner.env", "x\n")],
        "one",
    );
    let tree = repo.git(&["rev-parse", "HEAD:sub"]).trim().to_string();
    let path = repo.path().join(".git/objects").join(&tree[..2]).join(&tree[2..]);
    let bytes = fs::read(&path).expect("tree object");
    fs::write(&path, &bytes[..bytes.len() / 2]).expect("truncate");
    let output = run(keyhound_in(repo.path()).args(["git", ".", "-f", "json"]));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let report = json_report(&stdout(&output));
    assert_eq!(report["findings"].as_array().map(Vec::len), Some(1));
    assert_eq!(report["scan_errors"][0]["kind"], "tree");
    assert!(
        report["scan_errors"][0]["place"]
            .as_str()
            .unwrap_or_default()
            .contains("sub")
    );
    assert!(
        stderr(&output).contains("1 could not be read: 1 tree"),
        "{}",
        stderr(&output)
    );
    let output = run(keyhound_in(repo.path()).args(["git", ".", "-f", "sarif", "--fail-on-scan-errors"]));
    assert_eq!(code(&output), 2);
    assert_valid_sarif(&stdout(&output));
}

#[test]
fn merge_carries_the_scan_errors_of_its_inputs() {
    let (repo, blob) = repo_with_a_missing_blob(true);
    run(keyhound_in(repo.path()).args(["git", ".", "-f", "json", "-o", "a.json"]));
    run(keyhound_in(repo.path()).args(["git", ".", "-f", "jsonl", "-o", "b.jsonl"]));
    let output = run(keyhound_in(repo.path()).args(["merge", "a.json", "b.jsonl", "-f", "json"]));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let report = json_report(&stdout(&output));
    let errors = report["scan_errors"].as_array().expect("scan_errors");
    assert_eq!(errors.len(), 2, "one per input: {report:#}");
    assert!(
        errors
            .iter()
            .all(|e| e["place"].as_str().unwrap_or_default().contains(&blob))
    );
    assert!(stderr(&output).contains("2 could not be read"), "{}", stderr(&output));
    let output = run(keyhound_in(repo.path()).args(["merge", "a.json", "-f", "sarif"]));
    let sarif: Value = serde_json::from_str(&stdout(&output)).expect("sarif");
    assert_eq!(sarif["runs"][0]["invocations"][0]["executionSuccessful"], false);
    let output = run(keyhound_in(repo.path()).args(["merge", "a.json", "--fail-on-scan-errors"]));
    assert_eq!(code(&output), 2);
}

#[test]
fn a_complete_scan_says_so_in_every_report() {
    let repo = Repo::new();
    repo.commit(&[("a.env", &format!("KEY={LEGACY_KEY}\n"))], "one");
    let output = run(keyhound_in(repo.path()).args(["git", ".", "-f", "json", "--fail-on-scan-errors"]));
    assert_eq!(code(&output), 1);
    assert_eq!(json_report(&stdout(&output))["scan_errors"], serde_json::json!([]));
    let output = run(keyhound_in(repo.path()).args(["git", ".", "-f", "sarif"]));
    let sarif: Value = serde_json::from_str(&stdout(&output)).expect("sarif");
    assert_eq!(sarif["runs"][0]["invocations"][0]["executionSuccessful"], true);
    assert!(!stderr(&output).contains("incomplete"));
    let output = run(keyhound_in(repo.path()).args(["git", ".", "-f", "jsonl"]));
    assert_eq!(jsonl_findings(&stdout(&output)).len(), 1);
}

#[test]
fn counts_are_true() {
    // A changed binary file under --staged is one staged file: its old version is read only to compare.
    let repo = Repo::new();
    repo.commit(&[("data.bin", "\0\0binary one\n")], "one");
    repo.write("data.bin", "\0\0binary two\n");
    repo.git(&["add", "data.bin"]);
    let output = run(keyhound_in(repo.path()).args(["git", "--staged"]));
    let err = stderr(&output);
    assert!(err.contains("0 findings in 1 staged file,"), "{err}");
    let output = run(keyhound_in(repo.path()).args(["git", "--staged", "--binary", "skip"]));
    let err = stderr(&output);
    assert!(
        err.contains("in 0 staged files") && err.contains("[1 binary skipped]"),
        "{err}"
    );

    // LFS pointers and binary files skipped are not counted as scanned.
    let pointer = "version https://git-lfs.github.com/spec/v1\n\
                   oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 1\n";
    let repo = Repo::new();
    repo.commit(&[("p.bin", pointer), ("a.txt", "a\n")], "one");
    let output = run(keyhound_in(repo.path()).args(["git", "."]));
    let err = stderr(&output);
    assert!(
        err.contains("in 1 blob from 1 commit,") && err.contains("1 LFS pointer skipped"),
        "{err}"
    );
}

#[test]
fn a_key_on_two_lines_of_one_file_counts_the_other_line() {
    let repo = Repo::new();
    repo.commit(&[("a.env", &format!("A={PROJECT_KEY}\nB={PROJECT_KEY}\n"))], "one");
    let output = run(keyhound_in(repo.path()).args(["git", ".", "-f", "json"]));
    let findings = json_findings(&stdout(&output));
    assert_eq!(findings.len(), 1, "history reports a key once per file");
    assert_eq!(findings[0]["line"], 1);
    assert_eq!(findings[0]["other_occurrences"], 1);
    assert_eq!(findings[0]["other_lines"], serde_json::json!([2]));
    // The tree scan reports each line.
    let output = run(keyhound_in(repo.path()).args(["scan", ".", "-f", "json"]));
    assert_eq!(json_findings(&stdout(&output)).len(), 2);
}

/// `keyhound ARGS -f json --fail-on-scan-errors` in `dir`: exit code, findings, scan errors, stderr.
fn strict_scan(dir: &std::path::Path, args: &[&str]) -> (i32, usize, Vec<Value>, String) {
    let output = run(keyhound_in(dir)
        .args(args)
        .args(["-f", "json", "--fail-on-scan-errors"]));
    let report = json_report(&stdout(&output));
    let errors = report["scan_errors"].as_array().cloned().unwrap_or_default();
    (
        code(&output),
        json_findings(&stdout(&output)).len(),
        errors,
        stderr(&output),
    )
}

#[test]
fn content_a_limit_kept_from_being_scanned_is_a_scan_error() {
    let key = format!("KEY={PROJECT_KEY}\n");
    // Four zips deep, deflated, at the default --archive-depth of 3: the innermost zip is not opened.
    let mut nested = crate::hidden::zip_of(&[("app.env", key.repeat(20).as_bytes())]);
    for level in ["l3.zip", "l2.zip", "l1.zip"] {
        nested = crate::hidden::zip_of(&[(level, &nested)]);
    }
    let big = format!("{}{key}", "x".repeat(3 << 20));
    let dir = crate::common::tree(&[("deep.zip", &nested), ("big.env", big.as_bytes())]);
    let (status, findings, errors, err) = strict_scan(dir.path(), &["scan", ".", "--max-file-size", "1MB"]);
    assert_eq!(status, 2, "{err}");
    assert_eq!(findings, 0, "{err}");
    let places: Vec<&str> = errors.iter().filter_map(|e| e["place"].as_str()).collect();
    assert!(places.contains(&"big.env"), "{errors:?}");
    assert!(places.contains(&"deep.zip!l1.zip!l2.zip!l3.zip"), "{errors:?}");
    assert!(
        err.contains("--max-file-size") && err.contains("--archive-depth 3"),
        "{err}"
    );
    // Raised limits scan both.
    let (status, findings, errors, err) = strict_scan(
        dir.path(),
        &["scan", ".", "--archive-depth", "4", "--max-file-size", "10MB"],
    );
    assert_eq!((status, findings, errors.len()), (1, 21, 0), "{err}");
    // Deliberate skips stay notes: archives switched off, binary content skipped.
    let dir = crate::common::tree(&[("deep.zip", &nested), ("blob.bin", b"\0\0binary\0")]);
    let (status, _, errors, err) = strict_scan(dir.path(), &["scan", ".", "--archive-depth", "0", "--binary", "skip"]);
    assert_eq!((status, errors.len()), (0, 0), "{err}");
}

#[test]
fn a_blob_over_max_file_size_is_a_scan_error_in_history_and_staged_scans() {
    let repo = Repo::new();
    let big = format!("{}KEY={PROJECT_KEY}\n", "x".repeat(2 << 20));
    repo.commit(&[("big.env", &big)], "big");
    let (status, _, errors, err) = strict_scan(repo.path(), &["git", "--max-file-size", "1MB"]);
    assert_eq!(status, 2, "{err}");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0]["place"].as_str().unwrap_or_default().contains("big.env"),
        "{errors:?}"
    );
    repo.write("big2.env", &big.replace('x', "y"));
    repo.git(&["add", "big2.env"]);
    let (status, _, errors, err) = strict_scan(repo.path(), &["git", "--staged", "--max-file-size", "1MB"]);
    assert_eq!((status, errors.len()), (2, 1), "{err}");
}
