//! The history walk takes what it knows of a tree's entries from the tree it walked last at the same path, and
//! looks up only what differs. These histories change what a path holds in the ways that could fool that: a
//! file that becomes a directory and back, a blob that comes back, and hand-made trees whose entries are out of
//! order or named twice (git would never write them; a hostile repository can).

use std::path::Path;

use serde_json::Value;

use crate::common::{
    LEGACY_KEY, LEGACY_KEY_2, PROJECT_KEY, PROJECT_KEY_2, code, fast_import_repo, git_ok, git_with_input, keyhound_in,
    run, stdout,
};

/// The findings of `keyhound git` (secrets shown), sorted by secret, path, commit and line, and the exit code.
fn scan(dir: &Path, extra: &[&str]) -> (i32, Vec<Value>) {
    let output = run(keyhound_in(dir)
        .args(["git", ".", "--format", "json", "--show-secrets"])
        .args(extra));
    let report: Value = serde_json::from_str(&stdout(&output)).expect("a JSON report");
    let mut findings = report["findings"].as_array().cloned().unwrap_or_default();
    findings.sort_by_key(|f| {
        let field = |name: &str| f[name].as_str().unwrap_or_default().to_string();
        (field("secret"), field("path"), field("commit"), f["line"].as_u64())
    });
    (code(&output), findings)
}

/// (secret, path, commit, other places) of each finding.
fn summary(findings: &[Value]) -> Vec<(String, String, String, u64)> {
    findings
        .iter()
        .map(|f| {
            (
                f["secret"].as_str().unwrap_or_default().to_string(),
                f["path"].as_str().unwrap_or_default().to_string(),
                f["commit"].as_str().unwrap_or_default().to_string(),
                f["other_occurrences"].as_u64().unwrap_or(u64::MAX),
            )
        })
        .collect()
}

fn commit_of(dir: &Path, rev: &str) -> String {
    git_ok(dir, &["rev-parse", rev]).trim().to_string()
}

/// `cfg` is a clean file, then a directory holding a key, then a file holding another key, then (after a commit
/// that touches only another file) the directory again with the first key's file and a new one.
#[test]
fn a_path_that_turns_from_file_to_directory_and_back_is_walked_each_time() {
    let mut stream = String::new();
    let mut commit = |mark: u32, changes: &[(&str, Option<&str>)]| {
        stream.push_str(&format!(
            "commit refs/heads/main\nmark :{mark}\ncommitter Alice Example <alice@example.com> {} +0000\ndata 1\n{mark}\n",
            1_700_000_000 + mark * 60
        ));
        if mark > 1 {
            stream.push_str(&format!("from :{}\n", mark - 1));
        }
        for (path, text) in changes {
            match text {
                Some(text) => stream.push_str(&format!("M 100644 inline {path}\ndata {}\n{text}\n", text.len())),
                None => stream.push_str(&format!("D {path}\n")),
            }
        }
    };
    let first = format!("KEY={LEGACY_KEY}\n");
    let second = format!("KEY={PROJECT_KEY}\n");
    let third = format!("KEY={LEGACY_KEY_2}\n");
    commit(1, &[("cfg", Some("plain\n")), ("other.txt", Some("1\n"))]);
    commit(2, &[("cfg", None), ("cfg/keys.env", Some(&first))]);
    commit(3, &[("cfg", None), ("cfg", Some(&second))]);
    commit(4, &[("other.txt", Some("4\n"))]);
    commit(
        5,
        &[
            ("cfg", None),
            ("cfg/keys.env", Some(&first)),
            ("cfg/new.env", Some(&third)),
        ],
    );
    let repo = fast_import_repo(stream.as_bytes());
    let dir = repo.path();
    let at = |n: u32| commit_of(dir, &format!("main~{}", 5 - n));
    let expected = vec![
        (LEGACY_KEY.to_string(), "cfg/keys.env".to_string(), at(2), 1),
        (LEGACY_KEY_2.to_string(), "cfg/new.env".to_string(), at(5), 0),
        (PROJECT_KEY.to_string(), "cfg".to_string(), at(3), 1),
    ];
    for threads in ["1", "2"] {
        let (status, findings) = scan(dir, &["--threads", threads]);
        assert_eq!(status, 1, "--threads {threads}");
        assert_eq!(summary(&findings), expected, "--threads {threads}");
    }
}

/// Writes a tree object as it is, entries in the order given (names may repeat); returns its id.
fn write_tree(dir: &Path, entries: &[(&str, &str, &str)]) -> String {
    let mut bytes = Vec::new();
    for (mode, name, id) in entries {
        bytes.extend_from_slice(format!("{mode} {name}\0").as_bytes());
        let id: Vec<u8> = (0..id.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&id[i..i + 2], 16).expect("hex"))
            .collect();
        bytes.extend_from_slice(&id);
    }
    let args = ["hash-object", "-t", "tree", "-w", "--stdin", "--literally"];
    git_with_input(dir, &args, &bytes).trim().to_string()
}

fn write_blob(dir: &Path, text: &str) -> String {
    git_with_input(dir, &["hash-object", "-w", "--stdin"], text.as_bytes())
        .trim()
        .to_string()
}

fn write_commit(dir: &Path, tree: &str, parent: Option<&str>, message: &str) -> String {
    let parent = parent.map(|p| format!("parent {p}\n")).unwrap_or_default();
    let object = format!(
        "tree {tree}\n{parent}author A <a@example.com> 1700000000 +0000\ncommitter A <a@example.com> 1700000000 +0000\n\n{message}\n"
    );
    let args = ["hash-object", "-t", "commit", "-w", "--stdin", "--literally"];
    git_with_input(dir, &args, object.as_bytes()).trim().to_string()
}

/// Each commit's root tree differs from the one before in ways a walk in step with the last tree could take for
/// the same entries: entries out of order, a name given twice with a clean blob and then a key, and a name
/// that is a file in one tree and a directory in the next. Every key is found, in the commit that added it.
#[test]
fn trees_out_of_order_or_with_a_name_twice_hide_no_key() {
    let repo = tempfile::TempDir::new().expect("temp dir");
    let dir = repo.path();
    git_ok(dir, &["init", "-q", "--bare", "-b", "main"]);
    let clean = write_blob(dir, "nothing here\n");
    let clean_2 = write_blob(dir, "nothing here either\n");
    let keys: Vec<String> = [LEGACY_KEY, LEGACY_KEY_2, PROJECT_KEY, PROJECT_KEY_2]
        .iter()
        .map(|key| write_blob(dir, &format!("KEY={key}\n")))
        .collect();
    let inner = write_tree(dir, &[("100644", "x.env", &keys[3])]);
    let trees = [
        write_tree(dir, &[("100644", "a.env", &clean), ("100644", "b.env", &clean_2)]),
        // Out of order: b before a.
        write_tree(dir, &[("100644", "b.env", &keys[0]), ("100644", "a.env", &clean)]),
        // a.env twice: the clean blob the last tree held there, then a key.
        write_tree(
            dir,
            &[
                ("100644", "a.env", &clean),
                ("100644", "a.env", &keys[1]),
                ("100644", "b.env", &keys[0]),
            ],
        ),
        // b.env a directory, a.env twice the other way round.
        write_tree(
            dir,
            &[
                ("100644", "a.env", &keys[2]),
                ("100644", "a.env", &clean),
                ("40000", "b.env", &inner),
            ],
        ),
    ];
    let mut parent: Option<String> = None;
    let mut commits = Vec::new();
    for (n, tree) in trees.iter().enumerate() {
        let commit = write_commit(dir, tree, parent.as_deref(), &format!("commit {n}"));
        commits.push(commit.clone());
        parent = Some(commit);
    }
    git_ok(dir, &["update-ref", "refs/heads/main", &commits[3]]);
    let (status, findings) = scan(dir, &[]);
    assert_eq!(status, 1);
    let found: Vec<(String, String, String)> = summary(&findings)
        .into_iter()
        .map(|(secret, path, commit, _)| (secret, path, commit))
        .collect();
    assert_eq!(
        found,
        vec![
            (LEGACY_KEY.to_string(), "b.env".to_string(), commits[1].clone()),
            (LEGACY_KEY_2.to_string(), "a.env".to_string(), commits[2].clone()),
            (PROJECT_KEY.to_string(), "a.env".to_string(), commits[3].clone()),
            (PROJECT_KEY_2.to_string(), "b.env/x.env".to_string(), commits[3].clone()),
        ]
    );
}

/// A small random number generator (xorshift), so the history below is the same on every run.
struct Dice(u64);

impl Dice {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// 3,200 commits of random changes to 40 paths in nested directories (enough for the walk to be split into three
/// parts that two or three threads take in turn): files written with one of four keys or clean text, deleted, a directory turned into a file and
/// back, a side branch merged every 50 commits, and keys that stay from the commit that adds them to the end.
/// The places each key is counted at without `--all-commits` (from the walk's tree graph, where most trees are
/// kept as differences) are the places listed with it (from reading every tree again), and the report is the
/// same with one thread, two and three.
#[test]
fn places_counted_from_differences_are_the_places_listed() {
    let mut dice = Dice(0x9E37_79B9_7F4A_7C15);
    let paths: Vec<String> = (0..40)
        .map(|n| match n % 4 {
            0 => format!("f{n}.env"),
            1 => format!("a/f{n}.env"),
            2 => format!("a/b{}/f{n}.env", n % 3),
            _ => format!("c/d/e{}/f{n}.env", n % 2),
        })
        .collect();
    let keys = [LEGACY_KEY, LEGACY_KEY_2, PROJECT_KEY, PROJECT_KEY_2];
    // A key file seen before, or (one time in five) a new version of one; clean files are always new.
    let content = |dice: &mut Dice, n: u32| match dice.below(8) {
        k @ 0..4 if dice.below(5) == 0 => format!("KEY={}\n# version {n}\n", keys[k]),
        k @ 0..4 => format!("KEY={}\n", keys[k]),
        _ => format!("clean {n}\n"),
    };
    let mut stream = String::new();
    let write = |stream: &mut String, path: &str, text: &str| {
        stream.push_str(&format!("M 100644 inline {path}\ndata {}\n{text}\n", text.len()));
    };
    let mut mark = 0;
    let (mut main_tip, mut side_tip) = (None, None);
    for n in 0..3200u32 {
        mark += 1;
        let branch = if (46..49).contains(&(n % 50)) { "side" } else { "main" };
        stream.push_str(&format!(
            "commit refs/heads/{branch}\nmark :{mark}\ncommitter A <a@example.com> {} +0000\ndata 1\nx\n",
            1_700_000_000 + n * 60
        ));
        if branch == "side" {
            // Forked from main, three commits long, merged by the next commit on main.
            if let Some(tip) = side_tip.or(main_tip) {
                stream.push_str(&format!("from :{tip}\n"));
            }
            side_tip = Some(mark);
        } else {
            if let Some(tip) = main_tip {
                stream.push_str(&format!("from :{tip}\n"));
            }
            if let Some(tip) = side_tip.take() {
                stream.push_str(&format!("merge :{tip}\n"));
            }
            main_tip = Some(mark);
        }
        if n % 700 == 690 {
            // A new version of a key that stays to the end: each later part of a split walk meets it first.
            let text = format!("KEY={}\n# kept {n}\n", keys[n as usize % keys.len()]);
            write(&mut stream, &format!("keep/k{n}.env"), &text);
        }
        for _ in 0..1 + dice.below(3) {
            let path = &paths[dice.below(paths.len())];
            match dice.below(10) {
                0 => stream.push_str(&format!("D {path}\n")),
                1 => {
                    // `a/b1` a file for a while, then a directory again.
                    stream.push_str("D a/b1\n");
                    let text = content(&mut dice, n);
                    write(&mut stream, "a/b1", &text);
                }
                _ => {
                    let text = content(&mut dice, n);
                    write(&mut stream, path, &text);
                }
            }
        }
    }
    let repo = fast_import_repo(stream.as_bytes());
    let dir = repo.path();
    let (_, one_thread) = scan(dir, &["--threads", "1"]);
    for threads in ["1", "2", "3"] {
        let (_, counted) = scan(dir, &["--threads", threads]);
        assert_eq!(counted, one_thread, "--threads {threads} differs from --threads 1");
        let (_, listed) = scan(dir, &["--threads", threads, "--all-commits"]);
        assert!(counted.len() >= 20, "{}", counted.len());
        assert_eq!(counted.len(), listed.len());
        for (counted, listed) in counted.iter().zip(&listed) {
            let places = listed["occurrences"].as_array().map_or(0, Vec::len) as u64;
            assert_eq!(
                counted["other_occurrences"],
                places - 1,
                "--threads {threads}: {counted:#?}"
            );
        }
    }
}
