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
