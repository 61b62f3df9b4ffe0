//! `keyhound git --all-objects`: what a reset, rebase, amend, dropped stash, deleted tag or `git add` left in the
//! object database is scanned and reported as unreachable; reflogs are walked first; what the refs reach keeps its
//! attribution.

use std::fs;
use std::path::Path;

use serde_json::Value;

use crate::common::{
    LEGACY_KEY, LEGACY_KEY_2, PROJECT_KEY, Repo, assert_valid_sarif, code, git_with_input, json_findings, json_report,
    keyhound_in, run, stderr, stdout,
};

/// Fake keys of published shapes (examples from `rules/ai-providers.toml`), never real credentials.
const XAI_KEY: &str = "xai-zRYBbR2aHwCajZTYoXXSIeKbIjxhp5hC3wRJhPtJPilH7kHaozQf0lyXgd9mZpyIulifn9ivBkKJlqUk";
const GROQ_KEY: &str = "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";

/// Runs `keyhound git ARGS --format json --show-secrets` in `dir`; returns (exit code, findings, stderr).
fn scan(dir: &Path, args: &[&str]) -> (i32, Vec<Value>, String) {
    let output = run(keyhound_in(dir)
        .arg("git")
        .args(args)
        .args(["--format", "json", "--show-secrets"]));
    (code(&output), json_findings(&stdout(&output)), stderr(&output))
}

fn by_secret<'a>(findings: &'a [Value], secret: &str) -> Vec<&'a Value> {
    findings.iter().filter(|f| f["secret"] == secret).collect()
}

/// Forgets every reflog entry, as `git gc` does once they expire: what only reflogs reached becomes dangling.
fn expire_reflogs(repo: &Repo) {
    repo.git(&["reflog", "expire", "--expire=now", "--all"]);
}

#[test]
fn a_commit_a_reset_left_behind_is_found_through_the_reflog() {
    let repo = Repo::new();
    repo.commit(&[("README.md", "hello\n")], "root");
    let lost = repo.commit(
        &[("config/.env", &format!("OPENAI_API_KEY={LEGACY_KEY}\n"))],
        "add config",
    );
    repo.git(&["reset", "-q", "--hard", "HEAD~1"]);

    let (status, findings, _) = scan(repo.path(), &[]);
    assert_eq!(
        (status, findings.len()),
        (0, 0),
        "the refs no longer reach it: {findings:#?}"
    );

    let (status, findings, err) = scan(repo.path(), &["--all-objects"]);
    assert_eq!(status, 1, "{err}");
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let f = &findings[0];
    assert_eq!(f["secret"], LEGACY_KEY);
    assert_eq!(f["path"], "config/.env");
    assert_eq!(f["commit"], lost.as_str());
    assert_eq!(f["summary"], "add config");
    assert_eq!(f["author_name"], "Alice Example");
    assert_eq!(f["unreachable"], true);
    assert_eq!(
        f["reflog"], "refs/heads/main",
        "the branch's reflog is named before HEAD's"
    );
    assert!(err.contains("1 commit(s) only reflogs reach"), "{err}");

    let human = stdout(&run(keyhound_in(repo.path()).args(["git", "--all-objects"])));
    assert!(
        human.contains("unreachable: only the reflog of refs/heads/main reaches it"),
        "{human}"
    );
}

#[test]
fn a_commit_a_rebase_dropped_is_found_once_its_reflog_expired() {
    let repo = Repo::new();
    repo.commit(&[("README.md", "hello\n")], "root");
    let kept = repo.commit(&[("app.env", &format!("A={LEGACY_KEY_2}\n"))], "reachable key");
    // Amend the key out: the first version of the commit, key and message, is left behind.
    let dropped = repo.commit(
        &[("app.env", &format!("A={LEGACY_KEY_2}\nB={PROJECT_KEY}\n"))],
        &format!("second key, old one was {XAI_KEY}"),
    );
    repo.write("app.env", &format!("A={LEGACY_KEY_2}\nB=rotated\n"));
    repo.git(&["commit", "-q", "-a", "--amend", "-m", "clean"]);
    expire_reflogs(&repo);

    let (status, findings, err) = scan(repo.path(), &["--all-objects"]);
    assert_eq!(status, 1, "{err}");
    assert!(
        err.contains("0 commit(s) only reflogs reach, 1 unreachable commit(s)"),
        "{err}"
    );

    // The key the refs still reach keeps its reachable commit, and is reported once.
    let reachable = by_secret(&findings, LEGACY_KEY_2);
    assert_eq!(reachable.len(), 1, "{findings:#?}");
    assert_eq!(reachable[0]["commit"], kept.as_str());
    assert!(reachable[0].get("unreachable").is_none(), "{:#?}", reachable[0]);

    let lost = by_secret(&findings, PROJECT_KEY);
    assert_eq!(lost.len(), 1, "{findings:#?}");
    assert_eq!(lost[0]["commit"], dropped.as_str());
    assert_eq!(lost[0]["path"], "app.env");
    assert_eq!(lost[0]["unreachable"], true);
    assert!(lost[0].get("reflog").is_none(), "{:#?}", lost[0]);

    let message = by_secret(&findings, XAI_KEY);
    assert_eq!(message.len(), 1, "{findings:#?}");
    assert_eq!(message[0]["path"], "<commit message>");
    assert_eq!(message[0]["commit"], dropped.as_str());
    assert_eq!(message[0]["unreachable"], true);
}

#[test]
fn older_stashes_are_found_through_the_stash_reflog() {
    let repo = Repo::new();
    repo.commit(&[("app.env", "A=1\n")], "root");
    repo.write("app.env", &format!("A={LEGACY_KEY}\n"));
    repo.git(&["stash", "-q"]);
    repo.write("app.env", &format!("A={LEGACY_KEY_2}\n"));
    repo.git(&["stash", "-q"]);

    // The stash ref names the newest stash; the older one is stash@{1}, in the reflog only.
    let (_, findings, _) = scan(repo.path(), &[]);
    assert_eq!(by_secret(&findings, LEGACY_KEY).len(), 0, "{findings:#?}");
    assert_eq!(by_secret(&findings, LEGACY_KEY_2).len(), 1, "{findings:#?}");

    let (status, findings, err) = scan(repo.path(), &["--all-objects"]);
    assert_eq!(status, 1, "{err}");
    let older = by_secret(&findings, LEGACY_KEY);
    assert_eq!(older.len(), 1, "{findings:#?}");
    assert_eq!(older[0]["unreachable"], true);
    assert_eq!(older[0]["reflog"], "refs/stash");
    assert_eq!(by_secret(&findings, LEGACY_KEY_2)[0].get("unreachable"), None);
}

#[test]
fn trees_and_blobs_no_commit_holds_are_found_with_their_paths() {
    let repo = Repo::new();
    repo.commit(&[("README.md", "hello\n")], "root");
    // `git add` writes blobs; `git write-tree` writes the index's trees. Neither is ever committed here.
    repo.write("deploy/keys/groq.env", &format!("GROQ_API_KEY={GROQ_KEY}\n"));
    repo.git(&["add", "deploy"]);
    let tree = repo.git(&["write-tree"]).trim().to_string();
    repo.git(&["reset", "-q"]);
    let content = format!("token: {XAI_KEY}\n");
    let blob = git_with_input(repo.path(), &["hash-object", "-w", "--stdin"], content.as_bytes())
        .trim()
        .to_string();

    let (status, findings, err) = scan(repo.path(), &["--all-objects"]);
    assert_eq!(status, 1, "{err}");
    assert_eq!(findings.len(), 2, "{findings:#?}");
    let in_tree = by_secret(&findings, GROQ_KEY);
    // The root of the unreachable tree is walked first: the file has its whole path, in `git show` syntax.
    assert_eq!(in_tree[0]["path"], format!("{tree}:deploy/keys/groq.env"));
    assert_eq!(in_tree[0]["commit"], "");
    assert_eq!(in_tree[0]["unreachable"], true);
    assert!(in_tree[0].get("reference").is_none(), "{:#?}", in_tree[0]);
    let loose = by_secret(&findings, XAI_KEY);
    assert_eq!(loose[0]["path"], "<unreachable blob>");
    assert_eq!(loose[0]["blob"], blob.as_str());
    assert_eq!(loose[0]["unreachable"], true);
    assert!(err.contains("1 unreachable tree(s), 1 unreachable blob(s)"), "{err}");

    // SARIF takes both paths; the tree id before ':' is not read as a URI scheme.
    let output = run(keyhound_in(repo.path()).args(["git", "--all-objects", "-f", "sarif"]));
    let text = stdout(&output);
    assert_valid_sarif(&text);
    let sarif: Value = serde_json::from_str(&text).expect("sarif");
    let uris: Vec<String> = sarif["runs"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert!(uris.contains(&format!("{tree}%3Adeploy/keys/groq.env")), "{uris:?}");
    assert!(uris.contains(&"%3Cunreachable%20blob%3E".to_string()), "{uris:?}");
    let human = stdout(&run(keyhound_in(repo.path()).args(["git", "--all-objects"])));
    assert!(
        human.contains(&format!("object {} [unreachable]", &blob[..12])),
        "{human}"
    );
}

#[test]
fn a_deleted_annotated_tags_message_is_found() {
    let repo = Repo::new();
    repo.commit(&[("README.md", "hello\n")], "root");
    repo.git(&["tag", "-a", "v1", "-m", &format!("release, key {PROJECT_KEY}")]);
    let (_, findings, _) = scan(repo.path(), &[]);
    assert_eq!(findings[0]["reference"], "refs/tags/v1");
    repo.git(&["tag", "-d", "v1"]);

    let (_, findings, _) = scan(repo.path(), &[]);
    assert!(findings.is_empty(), "{findings:#?}");
    let (status, findings, err) = scan(repo.path(), &["--all-objects"]);
    assert_eq!(status, 1, "{err}");
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0]["path"], "<tag message>");
    assert_eq!(findings[0]["unreachable"], true);
    assert_eq!(findings[0]["author_name"], "Alice Example");
    assert!(findings[0].get("reference").is_none(), "{:#?}", findings[0]);
}

#[test]
fn keyhound_toml_turns_it_on_and_other_selections_refuse_it() {
    let repo = Repo::new();
    repo.commit(&[("keyhound.toml", "all_objects = true\n")], "root");
    repo.commit(&[("a.env", &format!("A={LEGACY_KEY}\n"))], "key");
    repo.git(&["reset", "-q", "--hard", "HEAD~1"]);
    let (status, findings, err) = scan(repo.path(), &[]);
    assert_eq!((status, findings.len()), (1, 1), "{err}");
    assert_eq!(findings[0]["unreachable"], true);
    // Not part of a branch's history.
    let (status, findings, _) = scan(repo.path(), &["--branch", "main"]);
    assert_eq!((status, findings.len()), (0, 0));

    for args in [
        &["git", "--all-objects", "--branch", "main"][..],
        &["git", "--all-objects", "--since", "HEAD"][..],
        &["git", "--all-objects", "--range", "HEAD..HEAD"][..],
        &["git", "--all-objects", "--staged"][..],
    ] {
        let output = run(keyhound_in(repo.path()).args(args));
        assert_eq!(code(&output), 2, "{args:?}");
        assert!(
            stderr(&output).contains("--all-objects"),
            "{args:?}: {}",
            stderr(&output)
        );
    }
}

/// One unreadable unreachable object is a scan error naming it; everything else is still found.
#[test]
fn a_corrupt_unreachable_object_is_reported_and_the_scan_goes_on() {
    let repo = Repo::new();
    repo.commit(&[("README.md", "hello\n")], "root");
    repo.commit(&[("a.env", &format!("A={LEGACY_KEY}\n"))], "key");
    repo.git(&["reset", "-q", "--hard", "HEAD~1"]);
    let bogus = "ab".to_string() + &"c".repeat(38);
    let dir = repo.path().join(".git/objects/ab");
    fs::create_dir_all(&dir).expect("mkdir");
    fs::write(dir.join(&bogus[2..]), b"\x78\x9c not zlib at all").expect("write");

    let output = run(keyhound_in(repo.path()).args(["git", "--all-objects", "-f", "json"]));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let report = json_report(&stdout(&output));
    assert_eq!(json_findings(&stdout(&output)).len(), 1);
    let errors = report["scan_errors"].as_array().expect("scan_errors");
    assert_eq!(errors.len(), 1, "{report:#}");
    assert_eq!(errors[0]["kind"], "object");
    assert_eq!(errors[0]["place"], bogus.as_str());
    let output = run(keyhound_in(repo.path()).args(["git", "--all-objects", "--fail-on-scan-errors"]));
    assert_eq!(code(&output), 2);
}

/// Reflog and ref names are outside text: a key-shaped one is redacted like any other.
#[test]
fn a_key_shaped_reflog_name_is_redacted() {
    let repo = Repo::new();
    repo.commit(&[("README.md", "hello\n")], "root");
    let branch = format!("leak/{PROJECT_KEY}");
    repo.git(&["checkout", "-q", "-b", &branch]);
    repo.commit(&[("a.env", &format!("A={LEGACY_KEY}\n"))], "key");
    repo.git(&["reset", "-q", "--hard", "HEAD~1"]);
    let output = run(keyhound_in(repo.path()).args(["git", "--all-objects", "-f", "json"]));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let text = stdout(&output);
    let findings = json_findings(&text);
    assert!(!text.contains(PROJECT_KEY), "{text}");
    let reflog = findings
        .iter()
        .find_map(|f| f["reflog"].as_str())
        .expect("a finding through the branch's reflog");
    assert!(reflog.starts_with("refs/heads/leak/sk-proj-"), "{reflog}");
    let human = stdout(&run(keyhound_in(repo.path()).args(["git", "--all-objects"])));
    assert!(!human.contains(PROJECT_KEY), "{human}");
}
