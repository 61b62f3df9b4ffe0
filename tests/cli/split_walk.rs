//! The history walk split between threads finds exactly what one walk finds: each key attributed to the first
//! commit and path that hold it, whichever part of the history each thread walked.

use std::path::Path;

use serde_json::Value;
use tempfile::TempDir;

use crate::common::{
    LEGACY_KEY, LEGACY_KEY_2, PROJECT_KEY, PROJECT_KEY_2, code, fast_import_repo, git_ok, git_with_input, keyhound_in,
    run, stdout,
};

/// Commits on `main`: enough for the walk to be split (it is split from 256 commits on, at two thirds).
const COMMITS: u32 = 400;

/// A fast-import line that sets `path` to `text` in the commit being written.
fn file(out: &mut String, path: &str, text: &str) {
    out.push_str(&format!("M 100644 inline {path}\ndata {}\n{text}\n", text.len()));
}

/// The start of a fast-import commit on `branch`, `time` minutes after a fixed date.
fn commit(out: &mut String, branch: &str, mark: u32, time: u32, message: &str) {
    out.push_str(&format!(
        "commit refs/heads/{branch}\nmark :{mark}\ncommitter Alice Example <alice@example.com> {} +0000\ndata {}\n{message}\n",
        1_700_000_000 + time * 60,
        message.len()
    ));
}

/// A `git fast-import` stream for a bare repository: `main` with one changed file per commit and:
/// - commit 50 adds `config/early.env` (key A), commit 60 deletes it, commit 300 adds the same content again
///   as `later/copy.env`: one blob, introduced by commit 50;
/// - commit 320 adds one new content (key B) at `zeta/b.env` and `alpha/b.env`: introduced at `alpha/b.env`,
///   the first path in tree order; commit 350 renames `alpha/b.env` to `beta/b.env`;
/// - a branch `side` from commit 280 adds `side/key.env` (project key), merged into `main` (file and all) by
///   commit 330.
fn history_stream() -> String {
    let mut out = String::new();
    let early = format!("OPENAI_API_KEY={LEGACY_KEY}\n");
    let later = format!("OPENAI_API_KEY={LEGACY_KEY_2}\n");
    let side_key = format!("KEY={PROJECT_KEY}\n");
    for i in 1..=COMMITS {
        commit(&mut out, "main", i, i, &format!("commit {i}"));
        if i > 1 {
            out.push_str(&format!("from :{}\n", i - 1));
        }
        if i == 330 {
            // The merge takes the side branch's file (fast-import builds a merge's tree from its first parent).
            out.push_str(&format!("merge :{}\n", COMMITS + 1));
            file(&mut out, "side/key.env", &side_key);
        }
        file(&mut out, "counter.txt", &format!("{i}\n"));
        file(&mut out, &format!("dir{}/file{i}.txt", i % 7), &format!("file {i}\n"));
        match i {
            50 => file(&mut out, "config/early.env", &early),
            60 => out.push_str("D config/early.env\n"),
            300 => file(&mut out, "later/copy.env", &early),
            320 => {
                file(&mut out, "zeta/b.env", &later);
                file(&mut out, "alpha/b.env", &later);
            }
            350 => out.push_str("R alpha/b.env beta/b.env\n"),
            _ => {}
        }
        if i == 280 {
            // The side branch forks here; it is written after this commit, before the merge that needs it.
            commit(&mut out, "side", COMMITS + 1, i, "side work");
            out.push_str(&format!("from :{i}\n"));
            file(&mut out, "side/key.env", &side_key);
        }
    }
    out
}

fn build_repo() -> TempDir {
    fast_import_repo(history_stream().as_bytes())
}

/// The findings (sorted) and scan errors of `keyhound git --threads N`.
fn scan_with_threads(dir: &Path, threads: &str, extra: &[&str]) -> (i32, Vec<Value>, Vec<Value>) {
    let output = run(keyhound_in(dir)
        .args(["git", ".", "--format", "json", "--show-secrets", "--threads", threads])
        .args(extra));
    let report: Value = serde_json::from_str(&stdout(&output)).expect("a JSON report");
    let mut findings = report["findings"].as_array().cloned().unwrap_or_default();
    findings.sort_by_key(|f| f.to_string());
    let errors = report["scan_errors"].as_array().cloned().unwrap_or_default();
    (code(&output), findings, errors)
}

fn commit_of(dir: &Path, rev: &str) -> String {
    git_ok(dir, &["rev-parse", rev]).trim().to_string()
}

#[test]
fn a_split_walk_attributes_every_key_as_one_walk_does() {
    let repo = build_repo();
    let dir = repo.path();
    let (code_one, one, _) = scan_with_threads(dir, "1", &[]);
    assert_eq!(code_one, 1);
    let by_secret_start = |findings: &[Value], start: &str| -> Value {
        findings
            .iter()
            .find(|f| f["secret"].as_str().unwrap_or_default().starts_with(start))
            .cloned()
            .unwrap_or_else(|| panic!("a finding starting {start}: {findings:#?}"))
    };
    // What one walk reports, checked against the history as built.
    let first_commit = |n: u32| commit_of(dir, &format!("main~{}", COMMITS - n));
    let a = by_secret_start(&one, &LEGACY_KEY[..8]);
    assert_eq!(
        (a["path"].as_str(), a["commit"].as_str()),
        (Some("config/early.env"), Some(first_commit(50).as_str()))
    );
    let b = by_secret_start(&one, &LEGACY_KEY_2[..8]);
    assert_eq!(
        (b["path"].as_str(), b["commit"].as_str()),
        (Some("alpha/b.env"), Some(first_commit(320).as_str()))
    );
    let side = by_secret_start(&one, &PROJECT_KEY[..8]);
    assert_eq!(side["commit"].as_str(), Some(commit_of(dir, "side").as_str()));
    assert_eq!(one.len(), 3, "{one:#?}");

    // Split between two or more threads: the same report, field for field.
    for threads in ["2", "3"] {
        let (code_many, many, _) = scan_with_threads(dir, threads, &[]);
        assert_eq!(code_many, 1);
        assert_eq!(many, one, "--threads {threads} differs from --threads 1");
    }
    let (_, all_commits_one, _) = scan_with_threads(dir, "1", &["--all-commits"]);
    let (_, all_commits_two, _) = scan_with_threads(dir, "2", &["--all-commits"]);
    assert_eq!(all_commits_two, all_commits_one);

    // Every (commit, path) that holds each key, counted without --all-commits and listed with it. Key A:
    // config/early.env in commits 50-59 and the same blob as later/copy.env in 300-400. Key B: zeta/b.env in
    // 320-400, alpha/b.env in 320-349 and beta/b.env in 350-400. The project key: the side commit, then
    // main from the merge (330) on.
    for (start, places) in [
        (&LEGACY_KEY[..8], 10 + 101),
        (&LEGACY_KEY_2[..8], 81 + 30 + 51),
        (&PROJECT_KEY[..8], 1 + 71),
    ] {
        let counted = by_secret_start(&one, start);
        assert_eq!(counted["other_occurrences"], places - 1, "{start}: {counted:#?}");
        let listed = by_secret_start(&all_commits_one, start);
        assert_eq!(listed["occurrences"].as_array().map(Vec::len), Some(places), "{start}");
    }
}

/// A commit whose tree is missing, on a branch off an early commit and on one off a late commit: the tree is
/// one scan error, whichever thread met it, and everything else is still scanned.
#[test]
fn a_missing_tree_met_by_both_parts_of_a_split_walk_is_one_error() {
    let repo = build_repo();
    let dir = repo.path();
    let missing_tree = "0123456789abcdef0123456789abcdef01234567";
    for (branch, parent) in [("broken-early", "main~380"), ("broken-late", "main")] {
        let parent = commit_of(dir, parent);
        let object = format!(
            "tree {missing_tree}\nparent {parent}\nauthor A <a@example.com> 1700000000 +0000\ncommitter A <a@example.com> 1700000000 +0000\n\nbroken\n"
        );
        let id = write_commit(dir, &object);
        git_ok(dir, &["update-ref", &format!("refs/heads/{branch}"), &id]);
    }
    for threads in ["1", "2"] {
        let (code, findings, errors) = scan_with_threads(dir, threads, &[]);
        assert_eq!(code, 1, "--threads {threads}");
        assert_eq!(findings.len(), 3, "--threads {threads}: {findings:#?}");
        let about_tree: Vec<&Value> = errors.iter().filter(|e| e.to_string().contains(missing_tree)).collect();
        assert_eq!(about_tree.len(), 1, "--threads {threads}: {errors:#?}");
    }
}

/// Writes `object` as a commit object as it is (it may name objects that do not exist); returns its id.
fn write_commit(dir: &Path, object: &str) -> String {
    let args = ["hash-object", "-t", "commit", "-w", "--stdin", "--literally"];
    git_with_input(dir, &args, object.as_bytes()).trim().to_string()
}

/// Merges on `main`: every third commit merges a branch of one commit forked two commits back. Keys: in the
/// message of the branch commit `side 99`, in the message of the merge `merge 150`, in a file added by the
/// branch commit `side 60`, and in `dup.env`, which `main` commit 119 and the branch commit `side 120` (forked
/// from 118, so neither is an ancestor of the other) add with the same content. Every commit has the same date,
/// so only the order in which the walk met the commits decides which of those two introduced `dup.env`.
fn ladder_stream() -> String {
    let mut out = String::new();
    let mut commit = |branch: &str, mark: u32, message: &str, parents: &[u32], file: (&str, &str)| {
        out.push_str(&format!(
            "commit refs/heads/{branch}\nmark :{mark}\ncommitter Alice Example <alice@example.com> 1700000000 +0000\ndata {}\n{message}\n",
            message.len()
        ));
        if let Some(first) = parents.first() {
            out.push_str(&format!("from :{first}\n"));
        }
        for other in parents.iter().skip(1) {
            out.push_str(&format!("merge :{other}\n"));
        }
        out.push_str(&format!(
            "M 100644 inline {}\ndata {}\n{}\n",
            file.0,
            file.1.len(),
            file.1
        ));
    };
    let side_key = format!("KEY={LEGACY_KEY_2}\n");
    let dup = format!("DUP={PROJECT_KEY_2}\n");
    for i in 1..=LADDER {
        if i % 3 == 0 {
            let message = match i {
                99 => format!("side 99: the old key was {LEGACY_KEY}"),
                _ => format!("side {i}"),
            };
            let file = match i {
                60 => ("side/60.env".to_string(), side_key.clone()),
                120 => ("dup.env".to_string(), dup.clone()),
                _ => (format!("side/{i}.env"), format!("side {i}\n")),
            };
            commit("side", 10_000 + i, &message, &[i - 2], (&file.0, &file.1));
            let message = match i {
                150 => format!("merge 150 (key {PROJECT_KEY})"),
                _ => format!("merge {i}"),
            };
            commit(
                "main",
                i,
                &message,
                &[i - 1, 10_000 + i],
                ("counter.txt", &format!("{i}\n")),
            );
        } else {
            let parents: &[u32] = if i == 1 { &[] } else { &[i - 1] };
            let file = if i == 119 {
                ("dup.env".to_string(), dup.clone())
            } else {
                ("counter.txt".to_string(), format!("{i}\n"))
            };
            commit("main", i, &format!("commit {i}"), parents, (&file.0, &file.1));
        }
    }
    out
}

/// Commits on `main` in [`ladder_stream`].
const LADDER: u32 = 300;

/// The commits are read on every thread at once, each thread taking the branches of merges that another left;
/// the report is the same, field for field, for any number of threads: keys in messages and files each
/// attributed to their commit, and a merge whose second parent is missing one error, with its first parent's
/// history still scanned.
#[test]
fn commits_read_on_every_thread_give_the_same_report() {
    let repo = fast_import_repo(ladder_stream().as_bytes());
    let dir = repo.path();
    let missing = "89abcdef0123456789abcdef0123456789abcdef";
    let tree = commit_of(dir, "main~290^{tree}");
    let parent = commit_of(dir, "main~290");
    let object = format!(
        "tree {tree}\nparent {parent}\nparent {missing}\nauthor A <a@example.com> 1700000000 +0000\ncommitter A <a@example.com> 1700000000 +0000\n\nbroken merge\n"
    );
    let broken = write_commit(dir, &object);
    git_ok(dir, &["update-ref", "refs/heads/broken", &broken]);
    let commit_titled = |title: &str| {
        let found = git_ok(dir, &["log", "main", "--format=%H %s"]);
        found
            .lines()
            .find_map(|line| {
                line.split_once(' ')
                    .filter(|(_, s)| s.starts_with(title))
                    .map(|(id, _)| id.to_string())
            })
            .unwrap_or_else(|| panic!("a commit titled {title}"))
    };

    let (code_one, one, errors_one) = scan_with_threads(dir, "1", &[]);
    assert_eq!(code_one, 1);
    let mut found: Vec<(String, String, String)> = one
        .iter()
        .map(|f| {
            let text = |key: &str| f[key].as_str().unwrap_or_default().to_string();
            (text("secret"), text("path"), text("commit"))
        })
        .collect();
    found.sort();
    let mut expected = vec![
        (
            LEGACY_KEY.to_string(),
            "<commit message>".to_string(),
            commit_titled("side 99:"),
        ),
        (
            PROJECT_KEY.to_string(),
            "<commit message>".to_string(),
            commit_titled("merge 150 "),
        ),
        (
            LEGACY_KEY_2.to_string(),
            "side/60.env".to_string(),
            commit_titled("side 60"),
        ),
    ];
    let dup = found
        .iter()
        .position(|(secret, path, _)| secret == PROJECT_KEY_2 && path == "dup.env")
        .map(|at| found.remove(at))
        .unwrap_or_else(|| panic!("dup.env's key: {found:#?}"));
    assert!(
        [commit_titled("commit 119"), commit_titled("side 120")].contains(&dup.2),
        "{dup:?}"
    );
    expected.sort();
    assert_eq!(found, expected);
    assert_eq!(errors_one.len(), 1, "{errors_one:#?}");
    assert!(errors_one[0].to_string().contains(missing), "{errors_one:#?}");

    for threads in ["2", "3"] {
        let (code_many, many, errors_many) = scan_with_threads(dir, threads, &[]);
        assert_eq!(code_many, 1);
        assert_eq!(many, one, "--threads {threads} differs from --threads 1");
        assert_eq!(errors_many, errors_one, "--threads {threads}");
    }
}

/// Commits on `main` in [`long_stream`]: enough for four parts on two threads and five on three or more (a
/// part takes at least 1,024 commits), so that threads take more than one part each, in turn.
const LONG: u32 = 5_200;

/// A `git fast-import` stream of [`LONG`] commits, each changing `counter.txt` and adding a file, with keys
/// whose first commit and path lie in different parts (on two threads the parts start at commits 1,301, 2,601
/// and 3,901; on three, at 1,041, 2,081, 3,121 and 4,161):
/// - commit 1,500 adds `first/a.env` (key A), commit 1,600 deletes it, commit 4,000 adds the same content
///   again as `again/a.env`: one blob, introduced by commit 1,500;
/// - commit 2,700 adds one new content (key B) at `zeta/b.env` and `alpha/b.env`, commit 4,500 copies it to
///   `copy/b.env`: introduced by commit 2,700 at `alpha/b.env`;
/// - commit 5,100 adds the project key at `last/p.env`.
fn long_stream() -> String {
    let mut out = String::new();
    let key_a = format!("OPENAI_API_KEY={LEGACY_KEY}\n");
    let key_b = format!("OPENAI_API_KEY={LEGACY_KEY_2}\n");
    for i in 1..=LONG {
        commit(&mut out, "main", i, i, &format!("commit {i}"));
        if i > 1 {
            out.push_str(&format!("from :{}\n", i - 1));
        }
        file(&mut out, "counter.txt", &format!("{i}\n"));
        file(&mut out, &format!("dir{}/file{i}.txt", i % 11), &format!("file {i}\n"));
        match i {
            1_500 => file(&mut out, "first/a.env", &key_a),
            1_600 => out.push_str("D first/a.env\n"),
            2_700 => {
                file(&mut out, "zeta/b.env", &key_b);
                file(&mut out, "alpha/b.env", &key_b);
            }
            4_000 => file(&mut out, "again/a.env", &key_a),
            4_500 => file(&mut out, "copy/b.env", &key_b),
            5_100 => file(&mut out, "last/p.env", &format!("KEY={PROJECT_KEY}\n")),
            _ => {}
        }
    }
    out
}

/// A walk split into more parts than threads, each thread taking the next part as it becomes free: the same
/// report as one walk, field for field, each key at its first commit and path.
#[test]
fn a_walk_in_many_parts_attributes_every_key_as_one_walk_does() {
    let repo = fast_import_repo(long_stream().as_bytes());
    let dir = repo.path();
    let (code_one, one, errors_one) = scan_with_threads(dir, "1", &[]);
    assert_eq!(code_one, 1);
    assert_eq!(errors_one, Vec::<Value>::new());
    let place = |findings: &[Value], key: &str| -> (String, String) {
        let finding = findings
            .iter()
            .find(|f| f["secret"].as_str() == Some(key))
            .unwrap_or_else(|| panic!("a finding of {key}: {findings:#?}"));
        let text = |field: &str| finding[field].as_str().unwrap_or_default().to_string();
        (text("path"), text("commit"))
    };
    let commit = |n: u32| commit_of(dir, &format!("main~{}", LONG - n));
    assert_eq!(place(&one, LEGACY_KEY), ("first/a.env".to_string(), commit(1_500)));
    assert_eq!(place(&one, LEGACY_KEY_2), ("alpha/b.env".to_string(), commit(2_700)));
    assert_eq!(place(&one, PROJECT_KEY), ("last/p.env".to_string(), commit(5_100)));
    assert_eq!(one.len(), 3, "{one:#?}");
    for threads in ["2", "3", "5"] {
        let (code_many, many, errors) = scan_with_threads(dir, threads, &[]);
        assert_eq!(code_many, 1);
        assert_eq!(errors, Vec::<Value>::new());
        assert_eq!(many, one, "--threads {threads} differs from --threads 1");
    }
}
