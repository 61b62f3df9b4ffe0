//! Ways a key could pass CI or the hook with exit 0 (issue 27, "a key gets through"): each test is a class of
//! them, tried as a pull request would.

use crate::common::{PROJECT_KEY, PROJECT_KEY_2, Repo, code, json_findings, keyhound_in, run, stderr, stdout};

/// A repository whose base commit excludes `docs/**`, as many projects do for their examples.
fn repo_excluding_docs() -> (Repo, String) {
    let repo = Repo::new();
    let base = repo.commit(
        &[
            ("keyhound.toml", "exclude_paths = [\"docs/**\"]\n"),
            ("README.md", "hello\n"),
        ],
        "base",
    );
    (repo, base)
}

/// `keyhound git ARGS -f json` in `repo`: exit code, findings as (path, commit) pairs, stderr.
fn scan(repo: &Repo, args: &[&str]) -> (i32, Vec<(String, String)>, String) {
    let output = run(keyhound_in(repo.path()).args(["git", "-f", "json"]).args(args));
    let found = json_findings(&stdout(&output))
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap_or_default().to_string(),
                f["commit"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    (code(&output), found, stderr(&output))
}

#[test]
fn a_blob_is_excluded_only_where_every_place_that_holds_it_is_excluded() {
    let (repo, base) = repo_excluding_docs();
    let env = format!("OPENAI_API_KEY={PROJECT_KEY}\n");
    // The same blob at an excluded path and at a path that is not, in one commit: the walk meets `docs/` first.
    let head = repo.commit(&[("docs/example.env", &env), ("src/prod.env", &env)], "add env files");
    for args in [vec!["--since", base.as_str()], vec![]] {
        let (status, found, err) = scan(&repo, &args);
        assert_eq!(status, 1, "{args:?}: {err}");
        assert_eq!(found, [("src/prod.env".to_string(), head.clone())], "{args:?}");
    }

    // A whole directory copied: the same tree under `docs/` and `vendor/` (the walk reads a tree once).
    let (repo, base) = repo_excluding_docs();
    let kit = format!("KEY={PROJECT_KEY_2}\n");
    repo.commit(&[("docs/kit/a.env", &kit), ("docs/kit/b.txt", "b\n")], "docs kit");
    let copied = repo.commit(
        &[("vendor/kit/a.env", &kit), ("vendor/kit/b.txt", "b\n")],
        "the kit, used",
    );
    for args in [vec!["--since", base.as_str()], vec![]] {
        let (status, found, err) = scan(&repo, &args);
        assert_eq!(status, 1, "{args:?}: {err}");
        // Attributed to the commit that put the key where it is not excluded.
        assert_eq!(found, [("vendor/kit/a.env".to_string(), copied.clone())], "{args:?}");
    }
}

#[test]
fn a_key_only_at_excluded_paths_stays_excluded_and_counted() {
    let (repo, base) = repo_excluding_docs();
    let env = format!("OPENAI_API_KEY={PROJECT_KEY}\n");
    repo.commit(&[("docs/example.env", &env), ("docs/copy/example.env", &env)], "docs");
    for args in [vec!["--since", base.as_str()], vec![]] {
        let (status, found, err) = scan(&repo, &args);
        assert_eq!(status, 0, "{args:?}: {err}");
        assert!(found.is_empty(), "{args:?}: {found:?}");
        assert!(err.contains("[1 excluded by "), "{args:?}: {err}");
    }
}

#[test]
fn staged_copies_at_excluded_and_other_paths_block_the_commit() {
    let (repo, _) = repo_excluding_docs();
    let env = format!("OPENAI_API_KEY={PROJECT_KEY}\n");
    repo.write("docs/example.env", &env);
    repo.write("src/prod.env", &env);
    repo.git(&["add", "-A"]);
    let output = run(keyhound_in(repo.path()).args(["git", "--staged", "-f", "json"]));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let found: Vec<String> = json_findings(&stdout(&output))
        .iter()
        .map(|f| f["path"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(found, ["src/prod.env"]);
}

/// `keyhound ARGS -f json` in `dir`: exit code, findings, stderr.
fn json_scan(dir: &std::path::Path, args: &[&str]) -> (i32, Vec<serde_json::Value>, String) {
    let output = run(keyhound_in(dir).args(args).args(["-f", "json"]));
    (code(&output), json_findings(&stdout(&output)), stderr(&output))
}

#[test]
fn a_pull_request_cannot_allow_its_own_key() {
    for marker in ["keyhound:allow", "gitleaks:allow", "pragma: allowlist secret"] {
        let repo = Repo::new();
        let base = repo.commit(&[("README.md", "hello\n")], "base");
        repo.commit(
            &[("app.py", &format!("OPENAI_API_KEY = '{PROJECT_KEY}'  # {marker}\n"))],
            "add a key and allow it",
        );
        let (status, found, err) = json_scan(repo.path(), &["git", "--since", &base]);
        assert_eq!(status, 1, "{marker}: {err}");
        assert_eq!(found.len(), 1, "{marker}");
        assert_eq!(found[0]["path"], "app.py");
        assert_eq!(found[0]["allow_marker_not_honoured"], marker);
        // The same through --range, in every format CI reads.
        let range = format!("{base}..HEAD");
        let sarif = run(keyhound_in(repo.path()).args(["git", "--range", &range, "-f", "sarif"]));
        assert_eq!(code(&sarif), 1, "{marker}: {}", stderr(&sarif));
        let sarif = stdout(&sarif);
        assert!(sarif.contains("\"allow_marker_not_honoured\""), "{sarif}");
        assert!(sarif.contains("added by the scanned commits"), "{sarif}");
        let human = run(keyhound_in(repo.path()).args(["git", "--range", &range]));
        assert!(stdout(&human).contains("not honoured"), "{}", stdout(&human));
        // The user can opt in, and a whole-history scan honours markers as before.
        let (status, found, _) = json_scan(repo.path(), &["git", "--since", &base, "--trust-added-allow-markers"]);
        assert_eq!((status, found.len()), (0, 0), "{marker}");
        let (status, found, err) = json_scan(repo.path(), &["git"]);
        assert_eq!((status, found.len()), (0, 0), "{marker}: {err}");
    }
}

#[test]
fn markers_the_base_already_had_are_honoured_in_a_range() {
    let repo = Repo::new();
    let allowed_line = format!("EXAMPLE_KEY = '{PROJECT_KEY}'  # keyhound:allow\n");
    let base = repo.commit(&[("app.py", &allowed_line)], "base with an allowed example");
    // The pull request edits another line of the same file: its blob holds the old, allowed key.
    repo.commit(&[("app.py", &format!("{allowed_line}print('hi')\n"))], "unrelated edit");
    let (status, found, err) = json_scan(repo.path(), &["git", "--since", &base]);
    assert_eq!((status, found.len()), (0, 0), "{err}");
    assert!(err.contains("allowed"), "{err}");
    // Copying the allowed key into another file is not allowed by the base's marker.
    repo.commit(&[("prod.py", &format!("import os\n{allowed_line}"))], "copy it");
    let (status, found, err) = json_scan(repo.path(), &["git", "--since", &base]);
    assert_eq!(status, 1, "{err}");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["path"], "prod.py");
}

#[test]
fn a_marker_in_a_commit_message_of_the_range_does_not_allow_its_key() {
    let repo = Repo::new();
    let base = repo.commit(&[("README.md", "hello\n")], "base");
    repo.write("x.txt", "x\n");
    repo.git(&["add", "x.txt"]);
    repo.git(&["commit", "-q", "-m", &format!("config: {PROJECT_KEY} keyhound:allow")]);
    let (status, found, err) = json_scan(repo.path(), &["git", "--since", &base]);
    assert_eq!(status, 1, "{err}");
    assert_eq!(found.len(), 1, "{found:?}");
}

#[test]
fn a_marker_covers_the_key_beside_it_not_the_whole_line() {
    // A minified line: one marker, after the second key.
    let line = format!("var a=\"{PROJECT_KEY}\",b=\"{PROJECT_KEY_2}\";// keyhound:allow\n");
    let dir = crate::common::tree(&[("app.min.js", line.as_bytes())]);
    let (status, found, err) = json_scan(dir.path(), &["scan", ".", "--show-secrets"]);
    assert_eq!(status, 1, "{err}");
    let secrets: Vec<&str> = found.iter().filter_map(|f| f["secret"].as_str()).collect();
    assert_eq!(
        secrets,
        [PROJECT_KEY],
        "the key beside the marker is allowed, the other is not"
    );
    // A marker before a key covers that key (`/* keyhound:allow */ "sk-…"`), and one marker per key covers all.
    let line = format!("x=[/* keyhound:allow */\"{PROJECT_KEY}\", \"{PROJECT_KEY_2}\" /* gitleaks:allow */]\n");
    let dir = crate::common::tree(&[("list.js", line.as_bytes())]);
    let (status, found, err) = json_scan(dir.path(), &["scan", "."]);
    assert_eq!((status, found.len()), (0, 0), "{err}");
}

#[test]
fn the_hook_honours_the_developers_own_markers() {
    let repo = Repo::new();
    repo.commit(&[("README.md", "hello\n")], "base");
    repo.write("test.py", &format!("FAKE = '{PROJECT_KEY}'  # keyhound:allow\n"));
    repo.git(&["add", "test.py"]);
    let (status, found, err) = json_scan(repo.path(), &["git", "--staged"]);
    assert_eq!((status, found.len()), (0, 0), "{err}");
}

/// A hundred thousand keys on one 5.9 MB line (a minified bundle): every key reported, with work that grows
/// with the line rather than with the line times the keys (that took minutes).
#[test]
fn many_keys_on_one_line_are_reported_in_linear_time() {
    const KEYS: usize = 100_000;
    let mut rng = 0x2545_f491_4f6c_dd1d_u64;
    let mut line = String::with_capacity(KEYS * 59);
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    for n in 0..KEYS {
        if n > 0 {
            line.push(',');
        }
        line.push_str("\"sk-proj-");
        for _ in 0..48 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            line.push(ALPHABET[(rng % ALPHABET.len() as u64) as usize] as char);
        }
        line.push('"');
    }
    line.push_str("// keyhound:allow\n");
    let dir = crate::common::tree(&[("bundle.min.js", line.as_bytes())]);
    let output = run(keyhound_in(dir.path())
        .args(["scan", ".", "-f", "jsonl"])
        .timeout(std::time::Duration::from_secs(150)));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let text = stdout(&output);
    let reported = text.matches("\"fingerprint\"").count();
    // The marker allows the one key beside it; a generated key may now and then fail a rule's shape checks.
    assert!(reported > KEYS - 20 && reported < KEYS, "{reported} findings");
    assert!(
        text.contains(&format!("\"findings\":{reported},")),
        "the closing line counts them all"
    );
}
