//! `keyhound git --state FILE`: incremental runs that scan only what is new and report only what was not reported
//! before, state files that survive a run that fails midway, and `keyhound merge` of state files.

use std::fs;

use serde_json::Value;
use tempfile::TempDir;

use crate::common::{LEGACY_KEY, PROJECT_KEY, Repo, code, json_findings, keyhound, run, stderr, stdout};

/// `keyhound git REPOS --state STATE -f json --show-secrets`: (exit code, findings, stderr).
fn scan(repos: &[&std::path::Path], state: &std::path::Path) -> (i32, Vec<Value>, String) {
    let output =
        run(keyhound()
            .arg("git")
            .args(repos)
            .arg("--state")
            .arg(state)
            .args(["-f", "json", "--show-secrets"]));
    (code(&output), json_findings(&stdout(&output)), stderr(&output))
}

fn secrets(findings: &[Value]) -> Vec<&str> {
    findings.iter().filter_map(|f| f["secret"].as_str()).collect()
}

/// The number of blobs the summary line says were scanned.
fn blobs_scanned(stderr: &str) -> String {
    stderr
        .split_whitespace()
        .skip_while(|word| *word != "in")
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_second_run_scans_only_new_commits_and_reports_only_new_findings() {
    let repo = Repo::new();
    repo.commit(
        &[("a.env", &format!("OPENAI_API_KEY={PROJECT_KEY}\n")), ("b.txt", "b\n")],
        "one",
    );
    let dir = TempDir::new().expect("temp dir");
    let state = dir.path().join("state.json");

    let (status, findings, _) = scan(&[repo.path()], &state);
    assert_eq!(status, 1);
    assert_eq!(secrets(&findings), [PROJECT_KEY]);
    let saved: Value = serde_json::from_str(&fs::read_to_string(&state).expect("state written")).expect("JSON");
    assert_eq!(saved["kind"], "keyhound-state");
    let recorded = saved["repositories"].as_object().expect("repositories");
    assert_eq!(recorded.len(), 1);
    let entry = recorded.values().next().expect("one repository");
    assert_eq!(entry["fingerprints"].as_array().map(Vec::len), Some(1));
    assert!(!entry["tips"].as_array().expect("tips").is_empty());

    // Nothing new: nothing walked, nothing reported, exit 0.
    let (status, findings, err) = scan(&[repo.path()], &state);
    assert_eq!((status, findings.len()), (0, 0), "{err}");
    assert_eq!(blobs_scanned(&err), "0", "{err}");

    // A new commit with a new key, and the old key again in a new file: only the new key is new.
    repo.commit(
        &[
            ("c.env", &format!("KEY={LEGACY_KEY}\n")),
            ("d.env", &format!("# copied\nOPENAI_API_KEY={PROJECT_KEY}\n")),
        ],
        "two",
    );
    let (status, findings, err) = scan(&[repo.path()], &state);
    assert_eq!(status, 1, "{err}");
    assert_eq!(secrets(&findings), [LEGACY_KEY], "{err}");
    assert!(err.contains("already reported"), "{err}");
    assert_eq!(blobs_scanned(&err), "2", "only the commit's two new blobs: {err}");
}

#[test]
fn a_run_that_fails_midway_keeps_the_state_of_the_repositories_it_finished() {
    let good = Repo::new();
    good.commit(&[("a.env", &format!("OPENAI_API_KEY={PROJECT_KEY}\n"))], "one");
    let dir = TempDir::new().expect("temp dir");
    let missing = dir.path().join("no-such-repository");
    let state = dir.path().join("state.json");
    let (status, findings, err) = scan(&[good.path(), &missing], &state);
    assert_eq!((status, findings.len()), (1, 1), "{err}");
    let saved: Value = serde_json::from_str(&fs::read_to_string(&state).expect("state written")).expect("JSON");
    assert_eq!(saved["repositories"].as_object().map(|r| r.len()), Some(1), "{saved:#}");
}

#[test]
fn findings_whose_report_was_never_written_are_reported_again_next_run() {
    // A run that stops before its report is written (here: the report's directory does not exist) must not leave
    // a state saying its findings were reported: no later run would report those keys.
    let (leaky, clean) = (Repo::new(), Repo::new());
    leaky.commit(&[("a.env", &format!("OPENAI_API_KEY={PROJECT_KEY}\n"))], "one");
    clean.commit(&[("b.txt", "nothing here\n")], "one");
    let dir = TempDir::new().expect("temp dir");
    let state = dir.path().join("state.json");
    let output = run(keyhound()
        .arg("git")
        .arg(leaky.path())
        .arg(clean.path())
        .arg("--state")
        .arg(&state)
        .args(["-f", "json", "-o"])
        .arg(dir.path().join("no-such-dir/report.json")));
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    // The clean repository was recorded as it finished; the leaky one was not.
    let saved: Value = serde_json::from_str(&fs::read_to_string(&state).expect("state written")).expect("JSON");
    let recorded = saved["repositories"].as_object().expect("repositories");
    assert_eq!(recorded.len(), 1, "{saved:#}");
    assert!(
        recorded
            .values()
            .all(|r| r["fingerprints"].as_array().is_some_and(Vec::is_empty)),
        "{saved:#}"
    );

    let (status, findings, err) = scan(&[leaky.path(), clean.path()], &state);
    assert_eq!(status, 1, "{err}");
    assert_eq!(secrets(&findings), [PROJECT_KEY], "{err}");
    // Now that a report holds it, it is not reported again.
    let (status, findings, err) = scan(&[leaky.path(), clean.path()], &state);
    assert_eq!((status, findings.len()), (0, 0), "{err}");
}

#[test]
fn state_files_merge_and_a_broken_one_is_an_error() {
    let (one, two) = (Repo::new(), Repo::new());
    one.commit(&[("a.env", &format!("OPENAI_API_KEY={PROJECT_KEY}\n"))], "one");
    two.commit(&[("b.env", &format!("KEY={LEGACY_KEY}\n"))], "two");
    let dir = TempDir::new().expect("temp dir");
    let (a, b) = (dir.path().join("a.json"), dir.path().join("b.json"));
    scan(&[one.path()], &a);
    scan(&[two.path()], &b);
    let merged = dir.path().join("merged.json");
    let output = run(keyhound().arg("merge").arg(&a).arg(&b).arg("-o").arg(&merged));
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let state: Value = serde_json::from_str(&fs::read_to_string(&merged).expect("merged")).expect("JSON");
    assert_eq!(state["repositories"].as_object().map(|r| r.len()), Some(2));
    // The merged state carries both: a run over both repositories finds nothing new.
    let (status, findings, err) = scan(&[one.path(), two.path()], &merged);
    assert_eq!((status, findings.len()), (0, 0), "{err}");

    let report = dir.path().join("report.json");
    run(keyhound()
        .arg("git")
        .arg(one.path())
        .args(["-f", "json", "-o"])
        .arg(&report));
    let mixed = run(keyhound().arg("merge").arg(&a).arg(&report));
    assert_eq!(code(&mixed), 2);
    assert!(stderr(&mixed).contains("not both"), "{}", stderr(&mixed));

    let broken = dir.path().join("broken.json");
    fs::write(
        &broken,
        r#"{"format_version":1,"kind":"keyhound-state","repositories":{"r":{"tips":["zz"]}}}"#,
    )
    .expect("write");
    let output = run(keyhound().arg("git").arg(one.path()).arg("--state").arg(&broken));
    assert_eq!(code(&output), 2);
    assert!(stderr(&output).contains("broken.json"), "{}", stderr(&output));
}

#[test]
fn a_report_that_names_a_state_file_still_merges_as_a_report() {
    let repo = Repo::new();
    repo.commit(&[("keyhound-state", &format!("OPENAI_API_KEY={PROJECT_KEY}\n"))], "one");
    let dir = TempDir::new().expect("temp dir");
    let report = dir.path().join("report.json");
    run(keyhound()
        .arg("git")
        .arg(repo.path())
        .args(["-f", "json", "-o"])
        .arg(&report));
    let merged = run(keyhound().arg("merge").arg(&report).args(["-f", "json"]));
    assert_eq!(code(&merged), 1, "{}", stderr(&merged));
    assert_eq!(json_findings(&stdout(&merged)).len(), 1);
}
