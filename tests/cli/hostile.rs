//! Hostile input: what a pull request, a repository, a report or a server could put in front of keyhound.
//!
//! Each test follows one point of the security model (README, "Security model"): no raw secret in stdout, stderr,
//! `-o` files or the audit log; no control bytes on the terminal; no hang; a warning and the scan goes on; nothing
//! silently skipped.

use std::fs;
use std::os::unix::fs::FileTypeExt;
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;

use crate::common::{
    LEGACY_KEY, PROJECT_KEY, Repo, code, fast_import_repo, git_ok, git_with_input, json_findings, keyhound,
    keyhound_in, run, stderr, stdout, tree,
};

/// A fake admin key (of the published shape) put in the environment, as CI would hold one.
const ADMIN_KEY: &str = "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";

/// No hostile case may take longer than this: a hang fails the test instead of the suite.
const TIMEOUT: Duration = Duration::from_secs(60);

/// Fails when `text` holds a raw key or a terminal control byte.
fn assert_clean(text: &str, what: &str) {
    for key in [LEGACY_KEY, PROJECT_KEY, ADMIN_KEY] {
        assert!(!text.contains(key), "{what} holds the raw key {}…:\n{text}", &key[..12]);
    }
    let control = text
        .chars()
        .find(|&c| (c.is_control() && c != '\n') || ('\u{202a}'..='\u{202e}').contains(&c));
    assert!(
        control.is_none(),
        "{what} holds the control character {control:?}:\n{text}"
    );
}

fn assert_output_clean(output: &Output, what: &str) {
    assert_clean(&stdout(output), &format!("{what}: stdout"));
    assert_clean(&stderr(output), &format!("{what}: stderr"));
}

fn hostile(cmd: &mut assert_cmd::Command) -> Output {
    run(cmd.timeout(TIMEOUT).env("OPENAI_ADMIN_KEY", ADMIN_KEY))
}

// ---------------------------------------------------------------------------------------------------------------
// 1. A repository's config cannot read outside the repository or dump the environment.

#[test]
fn config_rule_paths_stay_inside_the_tree() {
    let outside = tree(&[(
        "secret.toml",
        format!("provider = \"x\"\nkey = \"{PROJECT_KEY}\"\n").as_bytes(),
    )]);
    let outside_file = outside.path().join("secret.toml");
    for (rules, why) in [
        ("\"/proc/self/environ\"".to_string(), "absolute paths are not allowed"),
        ("\"../secret.toml\"".to_string(), "`..` is not allowed"),
        ("\"linked.toml\"".to_string(), "resolves outside"),
        ("\"fifo.toml\"".to_string(), "not a regular file"),
    ] {
        let dir = tree(&[
            ("keyhound.toml", format!("rules = [{rules}]\n").as_bytes()),
            ("app.env", b"nothing here\n"),
        ]);
        std::os::unix::fs::symlink(&outside_file, dir.path().join("linked.toml")).expect("symlink");
        git_ok(dir.path(), &["init", "-q"]);
        let fifo = dir.path().join("fifo.toml");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .expect("mkfifo")
                .success()
        );
        let output = hostile(keyhound_in(dir.path()).args(["scan", "."]));
        assert_eq!(code(&output), 2, "{rules}: {}", stderr(&output));
        let err = stderr(&output);
        assert!(err.contains(why) && err.contains("keyhound.toml"), "{rules}: {err}");
        assert!(
            !err.contains("PATH=") && !err.contains("HOME="),
            "{rules}: the environment leaked: {err}"
        );
        assert_output_clean(&output, &rules);
    }
}

#[test]
fn a_symlinked_or_special_keyhound_toml_is_not_read() {
    let outside = tree(&[(
        "environ",
        format!("exclude_paths = [\"**\"]\nkey = \"{PROJECT_KEY}\"\n").as_bytes(),
    )]);
    let dir = tree(&[("app.env", format!("KEY={LEGACY_KEY}\n").as_bytes())]);
    std::os::unix::fs::symlink(outside.path().join("environ"), dir.path().join("keyhound.toml")).expect("symlink");
    let output = hostile(keyhound_in(dir.path()).args(["scan", "."]));
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    assert!(stderr(&output).contains("resolves outside"), "{}", stderr(&output));
    assert_output_clean(&output, "symlinked keyhound.toml");

    let fifo_dir = tree(&[("app.env", b"x\n")]);
    assert!(
        std::process::Command::new("mkfifo")
            .arg(fifo_dir.path().join("keyhound.toml"))
            .status()
            .expect("mkfifo")
            .success()
    );
    let output = hostile(keyhound_in(fifo_dir.path()).args(["scan", "."]));
    assert_eq!(
        code(&output),
        2,
        "a FIFO is refused, not waited on: {}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("not a regular file (a named pipe)"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn parse_errors_quote_only_a_short_redacted_excerpt() {
    let long_line = format!("rules = [\"{PROJECT_KEY} {}", "A".repeat(10_000));
    for (name, text) in [
        ("keyhound.toml", long_line.clone()),
        ("keyhound.toml", format!("exclude_paths = [\"{PROJECT_KEY}[\"]\n")),
        (
            "keyhound.toml",
            format!("placeholder_patterns = [\"({PROJECT_KEY}\"]\n"),
        ),
        ("keyhound.toml", format!("{PROJECT_KEY} = 1\n")),
    ] {
        let dir = tree(&[(name, text.as_bytes())]);
        let output = hostile(keyhound_in(dir.path()).args(["scan", "."]));
        assert_eq!(code(&output), 2, "{}", stderr(&output));
        let err = stderr(&output);
        assert!(
            err.len() < 700,
            "the error quotes too much ({} bytes): {err}",
            err.len()
        );
        assert!(err.contains("keyhound.toml"), "{err}");
        assert_output_clean(&output, "a malformed keyhound.toml");
    }
    // A rule file with a key in its broken regex.
    let dir = tree(&[
        ("keyhound.toml", b"rules = [\"r.toml\"]\n"),
        (
            "r.toml",
            format!(
                "provider = \"x\"\n[[rules]]\nid = \"x\"\nname = \"x\"\ndescription = \"x\"\nkind = \"x\"\n\
                 severity = \"low\"\nregex = '''({PROJECT_KEY}'''\nkeywords = [\"sk-\"]\nremediation = \"x\"\n"
            )
            .as_bytes(),
        ),
    ]);
    let output = hostile(keyhound_in(dir.path()).args(["scan", "."]));
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("regex does not compile"),
        "{}",
        stderr(&output)
    );
    assert_output_clean(&output, "a broken rule regex");
}

// ---------------------------------------------------------------------------------------------------------------
// 2. Commit and tag messages are scanned, and never printed raw.

#[test]
fn commit_and_tag_messages_are_findings_and_never_printed_raw() {
    let repo = Repo::new();
    repo.commit(&[("README", "hello\n")], &format!("old key was {PROJECT_KEY}"));
    repo.git(&["tag", "-a", "v1", "-m", &format!("release\n\nthe key: {LEGACY_KEY}")]);
    let output = hostile(keyhound_in(repo.path()).args(["git", ".", "-f", "json"]));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let findings = json_findings(&stdout(&output));
    let paths: Vec<&str> = findings
        .iter()
        .map(|f| f["path"].as_str().unwrap_or_default())
        .collect();
    assert!(paths.contains(&"<commit message>"), "{paths:?}");
    assert!(paths.contains(&"<tag message>"), "{paths:?}");
    let commit = findings
        .iter()
        .find(|f| f["path"] == "<commit message>")
        .expect("the commit message finding");
    assert_eq!(commit["commit"], repo.head());
    assert_eq!(commit["author_name"], "Alice Example");
    assert!(
        commit["summary"]
            .as_str()
            .unwrap_or_default()
            .starts_with("old key was sk-proj-")
    );
    let tag = findings
        .iter()
        .find(|f| f["path"] == "<tag message>")
        .expect("the tag finding");
    assert_eq!(tag["reference"], "refs/tags/v1");
    assert_eq!(tag["commit"], repo.head());
    for format in ["human", "json", "jsonl", "sarif"] {
        let output = hostile(keyhound_in(repo.path()).args(["git", ".", "-f", format]));
        assert_eq!(code(&output), 1, "{format}");
        assert_output_clean(&output, format);
    }
    // The pre-commit path is not fooled either: the summary of an unrelated commit is redacted in reports of
    // a file finding.
    repo.commit(
        &[("a.env", &format!("KEY={LEGACY_KEY}\n"))],
        &format!("add config, see {PROJECT_KEY}"),
    );
    let output = hostile(keyhound_in(repo.path()).args(["git", ".", "-f", "sarif"]));
    assert_output_clean(&output, "a summary holding a key");
}

// ---------------------------------------------------------------------------------------------------------------
// 3. One choke point for text from outside.

#[test]
fn file_names_and_authors_cannot_drive_the_terminal() {
    let name = "e\u{1b}]0;pwned\u{7}.env";
    let dir = tree(&[(name, format!("KEY={LEGACY_KEY}\n").as_bytes())]);
    let output = hostile(keyhound_in(dir.path()).args(["scan", ".", "--color", "never"]));
    assert_eq!(code(&output), 1);
    assert_output_clean(&output, "a file name with an escape sequence");
    assert!(
        stdout(&output).contains("e\\x1b]0;pwned\\x07.env"),
        "{}",
        stdout(&output)
    );
    // JSON escapes the same bytes its own way.
    let output = hostile(keyhound_in(dir.path()).args(["scan", ".", "-f", "json"]));
    assert_output_clean(&output, "json");
    assert_eq!(json_findings(&stdout(&output))[0]["path"], name);

    let repo = Repo::new();
    repo.write("k.env", &format!("KEY={LEGACY_KEY}\n"));
    repo.git(&["add", "-A"]);
    let mut commit = crate::common::git_command(repo.path());
    commit
        .args(["commit", "-q", "-m", "x\u{9b}2J\u{202e}"])
        .env("GIT_AUTHOR_NAME", format!("Mallory \u{1b}[31m{PROJECT_KEY}"))
        .env("GIT_AUTHOR_EMAIL", "m\u{7}@example.com");
    crate::common::git_output(&mut commit);
    for format in ["human", "json", "sarif"] {
        let output = hostile(keyhound_in(repo.path()).args(["git", ".", "-f", format]));
        assert_eq!(code(&output), 1, "{format}");
        assert_output_clean(&output, format);
    }
}

/// A proxy that echoes the Authorization header back in every error message, with escape sequences.
struct EchoServer {
    base: String,
    server: Arc<tiny_http::Server>,
    requests: Arc<Mutex<usize>>,
}

impl EchoServer {
    fn start() -> EchoServer {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind"));
        let port = server.server_addr().to_ip().expect("ip").port();
        let requests = Arc::new(Mutex::new(0));
        let (s, r) = (Arc::clone(&server), Arc::clone(&requests));
        std::thread::spawn(move || {
            for request in s.incoming_requests() {
                *r.lock().expect("count") += 1;
                let auth = request
                    .headers()
                    .iter()
                    .find(|h| h.field.equiv("Authorization"))
                    .map(|h| h.value.as_str().to_string())
                    .unwrap_or_default();
                let body = serde_json::json!({"error": {
                    "message": format!("denied \u{1b}]0;owned\u{7} for {auth}"),
                    "type": "invalid_request_error", "param": null, "code": "ip_not_authorized"}});
                let response = tiny_http::Response::from_string(body.to_string())
                    .with_status_code(401)
                    .with_header(tiny_http::Header::from_bytes("x-request-id", format!("req {auth}")).expect("header"));
                let _ = request.respond(response);
            }
        });
        EchoServer {
            base: format!("http://127.0.0.1:{port}"),
            server,
            requests,
        }
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

#[test]
fn a_server_echoing_the_authorization_header_leaks_nothing() {
    let echo = EchoServer::start();
    let dir = tree(&[("app.env", format!("KEY={PROJECT_KEY}\n").as_bytes())]);
    let output = hostile(keyhound_in(dir.path()).args(["scan", ".", "-f", "json", "-o", "report.json"]));
    assert_eq!(code(&output), 1);
    let output = hostile(keyhound_in(dir.path()).args([
        "revoke",
        "--from",
        "report.json",
        "--api-base",
        &echo.base,
        "--audit-log",
        "audit.jsonl",
    ]));
    assert!(*echo.requests.lock().expect("count") > 0, "the server was asked");
    assert_output_clean(&output, "revoke against an echoing server");
    let audit = fs::read_to_string(dir.path().join("audit.jsonl")).expect("audit log");
    assert_clean(&audit, "the audit log");
    assert!(stderr(&output).contains("denied"), "{}", stderr(&output));

    let output =
        hostile(keyhound_in(dir.path()).args(["scan", ".", "--verify", "-f", "json", "--api-base", &echo.base]));
    assert_output_clean(&output, "scan --verify against an echoing server");
}

// ---------------------------------------------------------------------------------------------------------------
// 4. Reports stay redacted when read back; a cut-short report fails closed.

#[test]
fn reports_read_back_stay_redacted() {
    let dir = tree(&[("x.env", format!("KEY={PROJECT_KEY}\n").as_bytes())]);
    let output = run(keyhound_in(dir.path()).args(["scan", ".", "-f", "json", "--show-secrets", "-o", "s.json"]));
    assert_eq!(code(&output), 1);
    assert!(
        fs::read_to_string(dir.path().join("s.json"))
            .expect("report")
            .contains(PROJECT_KEY)
    );
    for format in ["human", "json", "jsonl", "sarif"] {
        let output = hostile(keyhound_in(dir.path()).args(["merge", "s.json", "-f", format]));
        assert_eq!(code(&output), 1, "{format}: {}", stderr(&output));
        assert_output_clean(&output, format);
    }
    let output = run(keyhound_in(dir.path()).args(["merge", "s.json", "-f", "json", "--show-secrets"]));
    assert!(stdout(&output).contains(PROJECT_KEY), "asked for again, shown");
}

#[test]
fn empty_and_truncated_reports_are_errors() {
    let dir = tree(&[("x.env", format!("KEY={PROJECT_KEY}\n").as_bytes())]);
    run(keyhound_in(dir.path()).args(["scan", ".", "-f", "json", "-o", "full.json"]));
    run(keyhound_in(dir.path()).args(["scan", ".", "-f", "jsonl", "-o", "full.jsonl"]));
    let json = fs::read_to_string(dir.path().join("full.json")).expect("json");
    let jsonl = fs::read_to_string(dir.path().join("full.jsonl")).expect("jsonl");
    let first_line = jsonl.lines().next().expect("a line").to_string();
    for (name, text, why) in [
        ("empty.json", String::new(), "empty"),
        ("cut.json", json[..json.len() / 2].to_string(), "ends early"),
        ("cut.jsonl", format!("{first_line}\n"), "summary line is missing"),
        ("half.jsonl", jsonl[..jsonl.len() - 10].to_string(), "cut short"),
    ] {
        fs::write(dir.path().join(name), &text).expect("write");
        for command in [vec!["merge", name], vec!["revoke", "--from", name]] {
            let output = hostile(keyhound_in(dir.path()).args(&command));
            assert_eq!(code(&output), 2, "{command:?}: {}", stderr(&output));
            assert!(stderr(&output).contains(why), "{command:?}: {}", stderr(&output));
        }
    }
    // The clean reports of clean scans still read as clean.
    let clean = tree(&[("x.txt", b"nothing\n")]);
    for format in ["json", "jsonl"] {
        let name = format!("clean.{format}");
        run(keyhound_in(clean.path()).args(["scan", ".", "-f", format, "-o", &name]));
        let output = run(keyhound_in(clean.path()).args(["merge", &name]));
        assert_eq!(code(&output), 0, "{format}: {}", stderr(&output));
    }
}

// ---------------------------------------------------------------------------------------------------------------
// 5. A corrupt object is a warning within seconds, never a hang.

/// Cuts the loose object `oid` of `repo` to 60% of its size.
fn truncate_object(repo: &Repo, oid: &str) {
    let path = repo.path().join(".git/objects").join(&oid[..2]).join(&oid[2..]);
    let bytes = fs::read(&path).expect("a loose object");
    let mut perms = fs::metadata(&path).expect("meta").permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    fs::set_permissions(&path, perms).expect("writable");
    fs::write(&path, &bytes[..bytes.len() * 6 / 10]).expect("truncate");
}

#[test]
fn a_truncated_loose_object_is_a_warning_not_a_hang() {
    let repo = Repo::new();
    repo.commit(&[("good.env", &format!("KEY={LEGACY_KEY}\n"))], "good");
    let big: String = (0..5000).map(|i| format!("line {i}\n")).collect();
    repo.commit(&[("bad.txt", &format!("{big}KEY={PROJECT_KEY}\n"))], "to corrupt");
    let blob = repo.git(&["rev-parse", "HEAD:bad.txt"]).trim().to_string();
    truncate_object(&repo, &blob);
    let output = hostile(keyhound_in(repo.path()).args(["git", ".", "-f", "json", "--show-secrets"]));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let findings = json_findings(&stdout(&output));
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0]["secret"], LEGACY_KEY);
    assert!(
        stderr(&output).contains(&blob),
        "the warning names the object: {}",
        stderr(&output)
    );

    // A truncated staged blob: a warning, not a hang.
    repo.write("staged.env", &format!("{big}KEY={PROJECT_KEY}\n"));
    repo.git(&["add", "staged.env"]);
    let staged = repo.git(&["rev-parse", ":staged.env"]).trim().to_string();
    truncate_object(&repo, &staged);
    let output = hostile(keyhound_in(repo.path()).args(["git", "--staged"]));
    assert!(stderr(&output).contains(&staged), "{}", stderr(&output));
}

#[test]
fn a_corrupt_head_commit_or_a_missing_root_commit_spares_the_rest() {
    let repo = Repo::new();
    let root = repo.commit(&[("root.env", &format!("KEY={PROJECT_KEY}\n"))], "root");
    repo.commit(&[("second.env", &format!("KEY={LEGACY_KEY}\n"))], "second");
    repo.git(&["branch", "keep"]);
    let head = repo.commit(&[("third.txt", "3\n")], "third");
    truncate_object(&repo, &head);
    let output = hostile(keyhound_in(repo.path()).args(["git", ".", "-f", "json", "--show-secrets"]));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    assert!(
        stderr(&output).contains(&head),
        "the corrupt commit is named: {}",
        stderr(&output)
    );
    let secrets: Vec<&str> = json_findings(&stdout(&output))
        .iter()
        .map(|f| f["secret"].as_str().unwrap_or_default())
        .map(|s| if s == LEGACY_KEY { "legacy" } else { "project" })
        .collect();
    assert!(
        secrets.contains(&"legacy") && secrets.contains(&"project"),
        "{secrets:?}"
    );

    let repo = Repo::new();
    let root_missing = repo.commit(&[("root.env", "x\n")], "root");
    repo.commit(&[("second.env", &format!("KEY={LEGACY_KEY}\n"))], "second");
    let object = repo
        .path()
        .join(".git/objects")
        .join(&root_missing[..2])
        .join(&root_missing[2..]);
    fs::remove_file(object).expect("remove the root commit");
    let output = hostile(keyhound_in(repo.path()).args(["git", ".", "-f", "json"]));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    assert!(stderr(&output).contains(&root_missing), "{}", stderr(&output));
    assert_eq!(json_findings(&stdout(&output)).len(), 1);
    let _ = root;
}

// ---------------------------------------------------------------------------------------------------------------
// 6. The pre-commit hook never blocks a harmless commit.

#[test]
fn a_submodule_bump_does_not_block_a_commit() {
    let repo = Repo::new();
    repo.commit(&[("a.txt", "1\n")], "one");
    let fake_commit = "0123456789abcdef0123456789abcdef01234567";
    repo.git(&[
        "update-index",
        "--add",
        "--cacheinfo",
        &format!("160000,{fake_commit},libs/sub"),
    ]);
    let output = hostile(keyhound_in(repo.path()).args(["git", "--staged"]));
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(!stderr(&output).contains("warning"), "{}", stderr(&output));

    let bare = TempDir::new().expect("temp dir");
    git_ok(bare.path(), &["init", "-q", "--bare"]);
    let output = hostile(keyhound_in(bare.path()).args(["git", "--staged"]));
    assert_eq!(code(&output), 2);
    assert!(stderr(&output).contains("bare repository"), "{}", stderr(&output));
}

// ---------------------------------------------------------------------------------------------------------------
// 7. Every object reachable from every ref is scanned.

#[test]
fn refs_to_blobs_and_trees_are_scanned() {
    let repo = Repo::new();
    repo.commit(&[("a.txt", "1\n")], "one");
    let blob_file = repo.path().join("../blob-input");
    fs::write(&blob_file, format!("K={LEGACY_KEY}\n")).expect("write");
    let blob = repo
        .git(&["hash-object", "-w", blob_file.to_str().expect("utf-8")])
        .trim()
        .to_string();
    repo.git(&["update-ref", "refs/tags/b", &blob]);
    fs::write(&blob_file, format!("K={PROJECT_KEY}\n")).expect("write");
    let inner = repo
        .git(&["hash-object", "-w", blob_file.to_str().expect("utf-8")])
        .trim()
        .to_string();
    let listing = format!("100644 blob {inner}\tkey.env\n");
    let tree_oid = git_with_input(repo.path(), &["mktree"], listing.as_bytes())
        .trim()
        .to_string();
    repo.git(&["update-ref", "refs/trees/t", &tree_oid]);
    let output = hostile(keyhound_in(repo.path()).args(["git", ".", "-f", "json", "--show-secrets"]));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let findings = json_findings(&stdout(&output));
    let by_path = |p: &str| findings.iter().find(|f| f["path"] == p).cloned();
    let blob_finding = by_path("refs/tags/b").expect("the ref to a blob");
    assert_eq!(blob_finding["secret"], LEGACY_KEY);
    assert_eq!(blob_finding["reference"], "refs/tags/b");
    let tree_finding = by_path("refs/trees/t:key.env").expect("the ref to a tree");
    assert_eq!(tree_finding["secret"], PROJECT_KEY);
    let output = hostile(keyhound_in(repo.path()).args(["git", "."]));
    assert!(stdout(&output).contains("ref refs/tags/b"), "{}", stdout(&output));
}

/// A symbolic ref under refs/ stands for the ref it names (read once, not twice); one that names no ref is
/// a warning naming it, and the rest of the history is still scanned.
#[test]
fn symbolic_refs_are_followed_and_a_dangling_one_is_reported() {
    let repo = Repo::new();
    repo.commit(&[("a.txt", "1\n")], "one");
    let adding = repo.commit(&[("k.env", &format!("K={LEGACY_KEY}\n"))], "add a key");
    let branch = repo.git(&["symbolic-ref", "--short", "HEAD"]).trim().to_string();
    repo.git(&["symbolic-ref", "refs/heads/alias", &format!("refs/heads/{branch}")]);
    repo.git(&["symbolic-ref", "refs/heads/broken", "refs/heads/nothing-here"]);
    let output = hostile(keyhound_in(repo.path()).args(["git", ".", "-f", "json", "--show-secrets"]));
    let findings = json_findings(&stdout(&output));
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0]["secret"], LEGACY_KEY);
    assert_eq!(findings[0]["commit"], adding.as_str());
    let err = stderr(&output);
    assert!(
        err.lines()
            .any(|l| l.contains("warning") && l.contains("refs/heads/broken") && l.contains("points at nothing")),
        "{err}"
    );
    assert!(!err.contains("refs/heads/alias"), "{err}");
    assert_eq!(code(&output), 1, "{err}");
}

// ---------------------------------------------------------------------------------------------------------------
// 8. No key is lost to a decoding guess.

fn utf16le(text: &str, bom: bool) -> Vec<u8> {
    let mut bytes = if bom { vec![0xFF, 0xFE] } else { Vec::new() };
    for unit in text.encode_utf16() {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    bytes
}

#[test]
fn decoding_adds_findings_and_never_hides_raw_ones() {
    let mut mixed = utf16le(&format!("$env:KEY = \"{PROJECT_KEY}\"\r\n"), true);
    mixed.extend_from_slice(format!("KEY={LEGACY_KEY}\n").as_bytes());
    let mut fake_bom = vec![0xFF, 0xFE];
    fake_bom.extend_from_slice(format!("KEY={LEGACY_KEY}\n").as_bytes());
    let dir = tree(&[
        ("fake-bom.env", &fake_bom),
        ("mixed.ps1", &mixed),
        ("no-bom.ps1", &utf16le(&format!("KEY={PROJECT_KEY}\r\n"), false)),
    ]);
    let output = hostile(keyhound_in(dir.path()).args(["scan", ".", "-f", "json", "--show-secrets"]));
    assert_eq!(code(&output), 1);
    let mut found: Vec<(String, String, String)> = json_findings(&stdout(&output))
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap_or_default().to_string(),
                if f["secret"] == LEGACY_KEY { "legacy" } else { "project" }.to_string(),
                f["decoded"].as_str().unwrap_or("raw").to_string(),
            )
        })
        .collect();
    found.sort();
    let expected: Vec<(String, String, String)> = [
        ("fake-bom.env", "legacy", "raw"),
        ("mixed.ps1", "legacy", "raw"),
        ("mixed.ps1", "project", "utf-16le"),
        ("no-bom.ps1", "project", "utf-16le"),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(found, expected);
}

// ---------------------------------------------------------------------------------------------------------------
// 9. Only a real git LFS pointer is skipped.

#[test]
fn only_a_whole_lfs_pointer_is_skipped() {
    let pointer = "version https://git-lfs.github.com/spec/v1\n\
                   oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345\n";
    let fake = format!("version https://git-lfs.github.com/spec/v1\nKEY={LEGACY_KEY}\n");
    let repo = Repo::new();
    repo.commit(&[("big.bin", pointer), ("fake.bin", &fake)], "lfs");
    let output = hostile(keyhound_in(repo.path()).args(["git", ".", "-f", "json"]));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let findings = json_findings(&stdout(&output));
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0]["path"], "fake.bin");
    assert!(stderr(&output).contains("1 git LFS pointer"), "{}", stderr(&output));

    repo.write("staged.bin", &fake);
    repo.git(&["add", "staged.bin"]);
    let output = hostile(keyhound_in(repo.path()).args(["git", "--staged", "-f", "json"]));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
}

// ---------------------------------------------------------------------------------------------------------------
// 10. `revoke --from` trusts nothing in the report.

/// A change made to a report's finding.
type Edit = Box<dyn Fn(&mut Value)>;

#[test]
fn a_forged_report_reads_nothing_it_should_not_and_sends_nothing() {
    let echo = EchoServer::start();
    let dir = tree(&[
        ("app.env", format!("KEY={PROJECT_KEY}\n").as_bytes()),
        ("other.txt", format!("{}\n", "x".repeat(200)).as_bytes()),
    ]);
    let output = run(keyhound_in(dir.path()).args(["scan", "app.env", "-f", "json", "-o", "report.json"]));
    assert_eq!(code(&output), 1);
    let report: Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("report.json")).expect("report")).expect("json");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(dir.path().join("fifo"))
            .status()
            .expect("mkfifo")
            .success()
    );
    let forge = |edit: &dyn Fn(&mut Value)| {
        let mut forged = report.clone();
        edit(&mut forged["findings"][0]);
        fs::write(dir.path().join("forged.json"), forged.to_string()).expect("write");
        hostile(keyhound_in(dir.path()).args(["revoke", "--from", "forged.json", "--api-base", &echo.base]))
    };
    let cases: Vec<(&str, Edit)> = vec![
        ("/dev/zero", Box::new(|f: &mut Value| f["path"] = "/dev/zero".into())),
        ("a FIFO", Box::new(|f: &mut Value| f["path"] = "fifo".into())),
        ("another file", Box::new(|f: &mut Value| f["path"] = "other.txt".into())),
        (
            "a forged fingerprint",
            Box::new(|f: &mut Value| {
                f["path"] = "other.txt".into();
                f["fingerprint"] = "00".repeat(32).into();
            }),
        ),
        (
            "a huge span",
            Box::new(|f: &mut Value| f["end_column"] = 100_000_000.into()),
        ),
        (
            "another rule",
            Box::new(|f: &mut Value| f["rule_id"] = "openai-admin-key".into()),
        ),
    ];
    for (what, edit) in cases {
        let output = forge(&*edit);
        assert_eq!(code(&output), 1, "{what}: {}", stdout(&output));
        assert!(stdout(&output).contains("skipped"), "{what}: {}", stdout(&output));
        assert_output_clean(&output, what);
    }
    assert_eq!(
        *echo.requests.lock().expect("count"),
        0,
        "no forged report sent anything"
    );

    // Text the report makes up is shown through the choke point.
    let output = forge(&|f: &mut Value| {
        f["path"] = "\u{1b}]0;x\u{7}.env".into();
        f["secret"] = format!("\u{1b}[2J{LEGACY_KEY}").into();
    });
    assert_eq!(code(&output), 1, "{}", stdout(&output));
    assert_output_clean(&output, "a report with escape codes");
}

// ---------------------------------------------------------------------------------------------------------------
// 11. Limits apply everywhere.

#[test]
fn stdin_over_max_file_size_is_refused_with_a_warning() {
    let input = format!("{}KEY={LEGACY_KEY}\n", "x".repeat(4096));
    let output = run(keyhound()
        .args(["scan", "-", "--max-file-size", "1KiB"])
        .write_stdin(input)
        .timeout(TIMEOUT));
    assert!(
        stderr(&output).contains("larger than --max-file-size"),
        "{}",
        stderr(&output)
    );
    assert_ne!(code(&output), 1, "nothing was scanned, so nothing was found");
}

// ---------------------------------------------------------------------------------------------------------------
// 12. Errors say what happened.

#[test]
fn errors_say_what_happened_once() {
    let output = run(keyhound().args(["scan", "fixtures/demo/.env", "--rules", "no/such/rules.toml"]));
    assert_eq!(code(&output), 2);
    let err = stderr(&output);
    assert!(err.contains("no/such/rules.toml: no such file or directory"), "{err}");
    assert_eq!(err.matches("os error").count(), 0, "{err}");
    assert_eq!(err.matches("no such file").count(), 1, "{err}");

    let dir = tree(&[("bad.json", b"{\"format_version\": 1, \"findings\": [")]);
    let output = run(keyhound_in(dir.path()).args(["merge", "bad.json"]));
    assert!(
        stderr(&output).contains("JSON document ends early"),
        "{}",
        stderr(&output)
    );
    assert!(
        !stderr(&output).contains("line 1:"),
        "not the JSON Lines error: {}",
        stderr(&output)
    );
}

// ---------------------------------------------------------------------------------------------------------------
// 13. A pull request cannot switch its own scan off.

#[test]
fn a_pull_request_cannot_switch_its_own_scan_off() {
    let repo = Repo::new();
    repo.commit(&[("README", "main\n")], "main");
    repo.git(&["checkout", "-q", "-b", "pr"]);
    repo.commit(
        &[
            (
                "keyhound.toml",
                "exclude_paths = [\"**\"]\nplaceholder_patterns = [\".\"]\n",
            ),
            ("leak.env", &format!("KEY={LEGACY_KEY}\n")),
        ],
        "harmless",
    );
    // The pull request's baseline accepts its own key.
    let output = run(keyhound_in(repo.path()).args(["scan", "leak.env", "--write-baseline", "baseline.json"]));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    repo.git(&["add", "baseline.json"]);
    repo.git(&["commit", "-q", "-m", "baseline"]);

    let output = run(keyhound_in(repo.path()).args(["git", "--since", "main", "--baseline", "baseline.json"]));
    assert_eq!(code(&output), 1, "the key is reported: {}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("read from main"), "{err}");
    assert!(err.contains("baseline.json is not in main"), "{err}");

    let output = run(keyhound_in(repo.path()).args(["git", "--since", "main", "--config-from", "worktree"]));
    assert_eq!(code(&output), 0, "asked for, the working tree's config applies");
    let err = stderr(&output);
    assert!(err.contains("3 excluded by") && err.contains("keyhound.toml]"), "{err}");
}

#[test]
fn the_summary_says_what_the_config_excluded() {
    let dir = tree(&[
        ("keyhound.toml", b"exclude_paths = [\"vendor/**\"]\n"),
        ("vendor/a.env", format!("KEY={LEGACY_KEY}\n").as_bytes()),
        ("vendor/b.env", b"x\n"),
        ("src/c.txt", b"y\n"),
    ]);
    let output = run(keyhound_in(dir.path()).args(["scan", "."]));
    assert_eq!(code(&output), 0);
    assert!(
        stderr(&output).contains("2 excluded by keyhound.toml"),
        "{}",
        stderr(&output)
    );
}

// ---------------------------------------------------------------------------------------------------------------
// 14. SARIF uses relative URIs.

#[test]
fn sarif_uris_are_relative_to_the_scanned_root() {
    let dir = tree(&[("sub/a.env", format!("KEY={LEGACY_KEY}\n").as_bytes())]);
    let absolute = fs::canonicalize(dir.path()).expect("canonical");
    let output = run(keyhound().args(["scan", absolute.to_str().expect("utf-8"), "-f", "sarif"]));
    assert_eq!(code(&output), 1);
    let sarif: Value = serde_json::from_str(&stdout(&output)).expect("sarif");
    let location = &sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"];
    assert_eq!(location["uri"], "sub/a.env");
    assert_eq!(location["uriBaseId"], "%SRCROOT%");
    let base = sarif["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"]
        .as_str()
        .expect("a base");
    assert!(base.starts_with("file:///") && base.ends_with('/'), "{base}");
}

/// A key at the bottom of 40,000 nested directories (a tree git itself would refuse to check out): found, with
/// its whole path, and counted and listed by `--all-commits` without running out of stack.
#[test]
fn a_key_under_trees_nested_deeper_than_any_stack_is_found_and_listed() {
    let depth = 40_000;
    let path = format!("{}key.env", "d/".repeat(depth));
    let content = format!("OPENAI_API_KEY={LEGACY_KEY}\n");
    let stream = format!(
        "commit refs/heads/main\ncommitter A <a@example.com> 1700000000 +0000\ndata 4\ndeep\n\
         M 100644 inline {path}\ndata {}\n{content}\n",
        content.len()
    );
    let repo = fast_import_repo(stream.as_bytes());
    for extra in [&[][..], &["--all-commits"][..]] {
        let output = run(keyhound_in(repo.path())
            .args(["git", ".", "--format", "json"])
            .args(extra)
            .timeout(TIMEOUT));
        assert_eq!(code(&output), 1, "{extra:?}: {}", stderr(&output));
        let findings = json_findings(&stdout(&output));
        assert_eq!(findings.len(), 1, "{extra:?}");
        assert_eq!(findings[0]["path"].as_str(), Some(path.as_str()));
        assert_eq!(findings[0]["other_occurrences"], 0);
        if !extra.is_empty() {
            assert_eq!(findings[0]["occurrences"][0]["path"].as_str(), Some(path.as_str()));
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// 15. What keyhound writes never goes through a link the scanned tree put in its place.

/// The text and mode of the file outside the repository that a committed link points at.
const VICTIM_TEXT: &str = "#!/bin/sh\necho untouched\n";

/// A directory outside the repository holding `victim`, 0755, with [`VICTIM_TEXT`].
fn victim() -> TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tree(&[("victim", VICTIM_TEXT.as_bytes())]);
    fs::set_permissions(dir.path().join("victim"), fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

/// Fails unless the file `victim()` made is as it was.
fn assert_untouched(outside: &TempDir, what: &str) {
    let path = outside.path().join("victim");
    assert_eq!(
        fs::read_to_string(&path).expect("victim"),
        VICTIM_TEXT,
        "{what}: written through the link"
    );
    assert_eq!(mode(&path), 0o755, "{what}: the mode changed");
}

/// The permission bits of `path` itself (not of what a link points at).
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::symlink_metadata(path).expect("metadata").permissions().mode() & 0o7777
}

fn assert_regular(path: &std::path::Path, what: &str) {
    assert!(
        fs::symlink_metadata(path).expect("metadata").is_file(),
        "{what}: {} is not a regular file",
        path.display()
    );
}

fn mkfifo(path: &std::path::Path) {
    let made = std::process::Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(made.success(), "mkfifo {}", path.display());
}

#[test]
fn reports_and_baselines_replace_a_committed_link_instead_of_writing_through_it() {
    let outside = victim();
    let target = outside.path().join("victim");
    let repo = Repo::new();
    repo.write("app.env", &format!("KEY={PROJECT_KEY}\n"));
    for name in ["keyhound.sarif", "secrets.json", "baseline.json"] {
        std::os::unix::fs::symlink(&target, repo.path().join(name)).expect("symlink");
    }
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "-m", "links"]);

    let output = hostile(keyhound_in(repo.path()).args(["scan", "app.env", "-f", "sarif", "-o", "keyhound.sarif"]));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    assert_untouched(&outside, "-o");
    let report = repo.path().join("keyhound.sarif");
    assert_regular(&report, "-o");
    assert_eq!(mode(&report), 0o644, "a redacted report is readable by all");
    let sarif = fs::read_to_string(&report).expect("report");
    assert_clean(&sarif, "the SARIF report");
    assert!(sarif.contains("openai-project-key"), "{sarif}");

    let output = hostile(keyhound_in(repo.path()).args([
        "scan",
        "app.env",
        "-f",
        "json",
        "--show-secrets",
        "-o",
        "secrets.json",
    ]));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    assert_untouched(&outside, "-o --show-secrets");
    let secrets = repo.path().join("secrets.json");
    assert_regular(&secrets, "-o --show-secrets");
    assert_eq!(mode(&secrets), 0o600, "raw secrets are for the owner only");
    assert!(fs::read_to_string(&secrets).expect("report").contains(PROJECT_KEY));

    let output = hostile(keyhound_in(repo.path()).args(["scan", "app.env", "--write-baseline", "baseline.json"]));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    assert_untouched(&outside, "--write-baseline");
    let baseline = repo.path().join("baseline.json");
    assert_regular(&baseline, "--write-baseline");
    assert_eq!(mode(&baseline), 0o644);
    assert_clean(&fs::read_to_string(&baseline).expect("baseline"), "the baseline");
    let leftovers: Vec<String> = fs::read_dir(repo.path())
        .expect("list")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|name| name.starts_with(".keyhound-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn a_pipe_or_a_directory_where_a_report_goes_is_refused_without_waiting() {
    let dir = tree(&[("app.env", format!("KEY={PROJECT_KEY}\n").as_bytes())]);
    mkfifo(&dir.path().join("fifo"));
    fs::create_dir(dir.path().join("sub")).expect("mkdir");
    for (flag, name, kind) in [
        ("-o", "fifo", "a named pipe"),
        ("--write-baseline", "fifo", "a named pipe"),
        ("-o", "sub", "a directory"),
        ("--write-baseline", "sub", "a directory"),
    ] {
        let output = hostile(keyhound_in(dir.path()).args(["scan", "app.env", flag, name]));
        assert_eq!(code(&output), 2, "{flag} {name}: {}", stderr(&output));
        let err = stderr(&output);
        assert!(
            err.contains(&format!("{name}: not a regular file ({kind}), not replaced")),
            "{flag} {name}: {err}"
        );
        assert_output_clean(&output, flag);
    }
    assert!(
        fs::symlink_metadata(dir.path().join("fifo"))
            .expect("fifo")
            .file_type()
            .is_fifo()
    );
}

#[test]
fn the_systems_own_links_and_devices_are_written_through() {
    let dir = tree(&[("app.env", format!("KEY={PROJECT_KEY}\n").as_bytes())]);
    let output = hostile(keyhound_in(dir.path()).args(["scan", "app.env", "-f", "json", "-o", "/dev/stdout"]));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    assert_eq!(json_findings(&stdout(&output)).len(), 1, "the report went to stdout");
    let output = hostile(keyhound_in(dir.path()).args(["scan", "app.env", "-o", "/dev/null"]));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    assert!(
        fs::symlink_metadata("/dev/null")
            .expect("/dev/null")
            .file_type()
            .is_char_device()
    );
}

#[test]
fn the_audit_log_is_never_opened_through_a_link_or_a_pipe_and_is_private() {
    let echo = EchoServer::start();
    let outside = victim();
    let dir = tree(&[("app.env", format!("KEY={PROJECT_KEY}\n").as_bytes())]);
    let output = run(keyhound_in(dir.path()).args(["scan", ".", "-f", "json", "-o", "report.json"]));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    std::os::unix::fs::symlink(outside.path().join("victim"), dir.path().join("linked.jsonl")).expect("symlink");
    mkfifo(&dir.path().join("fifo.jsonl"));
    for (name, kind) in [("linked.jsonl", "a symbolic link"), ("fifo.jsonl", "a named pipe")] {
        let output = hostile(keyhound_in(dir.path()).args([
            "revoke",
            "--from",
            "report.json",
            "--api-base",
            &echo.base,
            "--audit-log",
            name,
        ]));
        assert_eq!(code(&output), 2, "{name}: {}", stderr(&output));
        let err = stderr(&output);
        assert!(
            err.contains(&format!(
                "cannot open the audit log {name}: not a regular file ({kind})"
            )),
            "{name}: {err}"
        );
        assert_output_clean(&output, name);
    }
    assert_untouched(&outside, "--audit-log");
    assert_eq!(
        *echo.requests.lock().expect("count"),
        0,
        "nothing is sent without the log"
    );

    let output = hostile(keyhound_in(dir.path()).args([
        "revoke",
        "--from",
        "report.json",
        "--api-base",
        &echo.base,
        "--audit-log",
        "audit.jsonl",
    ]));
    // The echoing server rejects the admin key (exit code 2), after the log was opened.
    assert!(!stderr(&output).contains("audit log"), "{}", stderr(&output));
    let log = dir.path().join("audit.jsonl");
    assert_regular(&log, "--audit-log");
    assert_eq!(mode(&log), 0o600, "a new audit log is private");
}

// ---------------------------------------------------------------------------------------------------------------
// 16. Special files where git keeps its own: a clear error naming the file, never a hang or unbounded memory.

/// Puts a named pipe (`fifo`) or a link to `/dev/zero` at `path`, in place of whatever was there.
fn make_special(path: &std::path::Path, fifo: bool) {
    if fs::symlink_metadata(path).is_ok() {
        fs::remove_file(path).expect("remove");
    }
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    if fifo {
        mkfifo(path);
    } else {
        std::os::unix::fs::symlink("/dev/zero", path).expect("symlink");
    }
}

#[test]
fn special_files_in_the_git_directory_are_refused_naming_them() {
    let cases: &[(&str, bool)] = &[
        ("config", true),
        ("config", false),
        ("packed-refs", true),
        ("objects/info/alternates", true),
        ("objects/info/alternates", false),
        ("shallow", true),
        ("refs/heads/x", true),
        ("loose object", true),
        ("pack idx", true),
        ("index", true),
        ("logs/HEAD", true),
        ("commondir", true),
        ("gitdir", true),
        ("info/exclude", true),
    ];
    for &(case, fifo) in cases {
        let repo = Repo::new();
        repo.commit(&[("a.env", &format!("KEY={LEGACY_KEY}\n"))], "one");
        let git_dir = repo.path().join(".git");
        let rel = match case {
            "loose object" => {
                let blob = repo.git(&["rev-parse", "HEAD:a.env"]).trim().to_string();
                format!("objects/{}/{}", &blob[..2], &blob[2..])
            }
            "pack idx" => {
                repo.git(&["repack", "-q", "-a", "-d"]);
                let pack = fs::read_dir(git_dir.join("objects/pack"))
                    .expect("packs")
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .find(|name| name.ends_with(".idx"))
                    .expect("an .idx");
                format!("objects/pack/{pack}")
            }
            other => other.to_string(),
        };
        make_special(&git_dir.join(&rel), fifo);
        let what = format!("{rel} ({})", if fifo { "a named pipe" } else { "a link to /dev/zero" });
        let output = hostile(keyhound_in(repo.path()).args(["git", "."]));
        assert_eq!(code(&output), 2, "{what}: {}", stderr(&output));
        let err = stderr(&output);
        assert!(
            err.contains(&format!(".git/{rel}: not a regular file")),
            "{what}: {err}"
        );
        assert!(!err.contains("panicked"), "{what}: {err}");
    }
}

#[test]
fn files_a_git_config_includes_are_checked_too() {
    // Included from the repository's config, directly, through a second config, conditionally, and from `~/`.
    let home = TempDir::new().expect("home");
    let cases = [
        ("[include]\n\tpath = evil\n", "evil"),
        ("[include]\n\tpath = second.inc\n", "deeper"),
        ("[includeIf \"gitdir:/nowhere/\"]\n\tpath = \"evil\"\n", "evil"),
        ("[include]\n\tpath = ~/evil\n", "home"),
    ];
    for (include, case) in cases {
        let repo = Repo::new();
        repo.commit(&[("a.env", &format!("KEY={LEGACY_KEY}\n"))], "one");
        let git_dir = repo.path().join(".git");
        let config = fs::read_to_string(git_dir.join("config")).expect("config");
        fs::write(git_dir.join("config"), format!("{config}{include}")).expect("config");
        fs::write(git_dir.join("second.inc"), "[include]\n\tpath = evil\n").expect("second");
        let evil = if case == "home" {
            home.path().join("evil")
        } else {
            git_dir.join("evil")
        };
        make_special(&evil, true);
        let output = hostile(keyhound_in(repo.path()).env("HOME", home.path()).args(["git", "."]));
        let err = stderr(&output);
        assert_eq!(code(&output), 2, "{case}: {err}");
        assert!(err.contains("evil: not a regular file (a named pipe)"), "{case}: {err}");
    }
}

#[test]
fn an_alternate_naming_a_device_is_refused() {
    let repo = Repo::new();
    repo.commit(&[("a.env", &format!("KEY={LEGACY_KEY}\n"))], "one");
    repo.write(".git/objects/info/alternates", "/dev/zero\n");
    let output = hostile(keyhound_in(repo.path()).args(["git", "."]));
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("/dev/zero: not a directory (a device)"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_linked_worktrees_own_files_are_checked() {
    let repo = Repo::new();
    repo.commit(&[("a.env", &format!("KEY={LEGACY_KEY}\n"))], "one");
    let outside = TempDir::new().expect("temp dir");
    let worktree = outside.path().join("wt");
    let worktree_arg = worktree.to_string_lossy().into_owned();
    repo.git(&["worktree", "add", "-q", &worktree_arg]);
    let output = hostile(keyhound_in(&worktree).args(["git", "."]));
    assert_eq!(code(&output), 1, "the worktree scans: {}", stderr(&output));
    for rel in ["gitdir", "commondir", "HEAD", "index", "logs/HEAD"] {
        let path = repo.path().join(".git/worktrees/wt").join(rel);
        let saved = fs::read(&path).ok();
        make_special(&path, true);
        let output = hostile(keyhound_in(&worktree).args(["git", "."]));
        let err = stderr(&output);
        assert_eq!(code(&output), 2, "{rel}: {err}");
        assert!(
            err.contains(&format!("worktrees/wt/{rel}: not a regular file")),
            "{rel}: {err}"
        );
        fs::remove_file(&path).expect("remove");
        if let Some(saved) = saved {
            fs::write(&path, saved).expect("restore");
        }
    }
}

#[test]
fn special_ignore_files_are_named_and_their_directory_scanned_without_rules() {
    let cases: &[(&str, bool)] = &[
        (".gitignore", true),
        (".gitignore", false),
        (".ignore", true),
        (".git/info/exclude", true),
        (".git/info/exclude", false),
    ];
    for &(name, fifo) in cases {
        // In a subdirectory (checked as the walk reaches it), then at the root named (checked before the walk).
        for dir in ["sub", ""] {
            let scanned = tree(&[
                ("top.env", format!("KEY={LEGACY_KEY}\n").as_bytes()),
                ("sub/key.env", format!("KEY={PROJECT_KEY}\n").as_bytes()),
            ]);
            let rel = if dir.is_empty() {
                name.to_string()
            } else {
                format!("{dir}/{name}")
            };
            make_special(&scanned.path().join(&rel), fifo);
            let what = format!("{rel} ({})", if fifo { "a named pipe" } else { "a link to /dev/zero" });
            let output = hostile(keyhound_in(scanned.path()).args(["scan", ".", "-f", "json", "--show-secrets"]));
            let err = stderr(&output);
            assert_eq!(code(&output), 1, "{what}: {err}");
            assert!(err.contains(&format!("{rel}: not a regular file")), "{what}: {err}");
            assert!(err.contains("is scanned without ignore rules"), "{what}: {err}");
            let mut secrets: Vec<String> = json_findings(&stdout(&output))
                .iter()
                .map(|f| f["secret"].as_str().unwrap_or_default().to_string())
                .collect();
            secrets.sort();
            let mut expected = vec![LEGACY_KEY.to_string(), PROJECT_KEY.to_string()];
            expected.sort();
            assert_eq!(secrets, expected, "{what}: every file is scanned");
        }
    }
}

#[test]
fn special_global_git_files_are_named() {
    let home = TempDir::new().expect("home");
    let scanned = tree(&[("top.env", format!("KEY={LEGACY_KEY}\n").as_bytes())]);
    // The default global excludes file: the tree scan goes on without it.
    make_special(&home.path().join(".config/git/ignore"), true);
    let output = hostile(
        keyhound_in(scanned.path())
            .env("HOME", home.path())
            .env_remove("XDG_CONFIG_HOME")
            .args(["scan", "."]),
    );
    let err = stderr(&output);
    assert_eq!(code(&output), 1, "{err}");
    assert!(
        err.contains(".config/git/ignore: not a regular file (a named pipe), not read; the global git excludes"),
        "{err}"
    );
    // The global config, which libgit2 and the `ignore` crate read.
    make_special(&home.path().join(".gitconfig"), true);
    let output = hostile(
        keyhound_in(scanned.path())
            .env("HOME", home.path())
            .env_remove("XDG_CONFIG_HOME")
            .args(["scan", "."]),
    );
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    assert!(
        stderr(&output).contains(".gitconfig: not a regular file"),
        "{}",
        stderr(&output)
    );
    let repo = Repo::new();
    repo.commit(&[("a.env", &format!("KEY={LEGACY_KEY}\n"))], "one");
    let output = hostile(
        keyhound_in(repo.path())
            .env("HOME", home.path())
            .env_remove("XDG_CONFIG_HOME")
            .args(["git", "."]),
    );
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    assert!(
        stderr(&output).contains(".gitconfig: not a regular file"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_special_index_is_refused_in_a_staged_scan() {
    let repo = Repo::new();
    repo.commit(&[("a.env", &format!("KEY={LEGACY_KEY}\n"))], "one");
    let fifo = repo.path().join("other-index");
    mkfifo(&fifo);
    // As `git commit -a` names its temporary index to a hook.
    let output = hostile(
        keyhound_in(repo.path())
            .env("GIT_INDEX_FILE", &fifo)
            .args(["git", "--staged"]),
    );
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("other-index: not a regular file"),
        "{}",
        stderr(&output)
    );
    make_special(&repo.path().join(".git/index"), true);
    let output = hostile(keyhound_in(repo.path()).args(["git", "--staged"]));
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    assert!(
        stderr(&output).contains(".git/index: not a regular file"),
        "{}",
        stderr(&output)
    );
}

// ---------------------------------------------------------------------------------------------------------------
// 17. All rules together are bounded: a repository's config cannot make keyhound compile gigabytes of automata.

/// A rule file of `count` rules whose regexes are `regex` (with `{i}` replaced by the rule's number).
fn rule_file(count: usize, regex: &str) -> String {
    let mut text = String::from("provider = \"hostile\"\n");
    for i in 0..count {
        let regex = regex.replace("{i}", &i.to_string());
        text.push_str(&format!(
            "[[rules]]\nid = \"hostile-{i}\"\nname = \"Hostile {i}\"\ndescription = \"x\"\nkind = \"k\"\n\
             severity = \"low\"\nregex = '{regex}'\nkeywords = [\"tok{i}_\"]\nremediation = \"x\"\n"
        ));
    }
    text
}

#[test]
fn many_heavy_rules_are_refused_for_their_size_together() {
    // Each regex is under the regex crate's limit for one regex (about 12 MiB of automata for `\w{200}`);
    // 200 of them took 2.9 GB before they were bounded together.
    let dir = tree(&[
        ("keyhound.toml", b"rules = [\"rules/heavy.toml\"]\n"),
        ("rules/heavy.toml", rule_file(200, r"tok{i}_\w{200}").as_bytes()),
        ("app.env", b"nothing here\n"),
    ]);
    let output = hostile(keyhound_in(dir.path()).args(["scan", "."]));
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    let err = stderr(&output);
    for part in [
        "keyhound.toml",
        "rules/heavy.toml",
        "rule `hostile-",
        "budget of 64 MiB",
    ] {
        assert!(err.contains(part), "no `{part}` in:\n{err}");
    }
    // The same rules given with `--rules` are refused the same way, naming the file.
    let elsewhere = tree(&[("app.env", b"nothing here\n")]);
    let output = hostile(
        keyhound_in(elsewhere.path())
            .args(["scan", ".", "--rules"])
            .arg(dir.path().join("rules/heavy.toml")),
    );
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    let err = stderr(&output);
    for part in ["rules/heavy.toml", "rule `hostile-", "budget of 64 MiB"] {
        assert!(err.contains(part), "no `{part}` in:\n{err}");
    }
}

#[test]
fn more_rules_than_the_cap_are_refused_and_a_few_heavy_ones_load() {
    let dir = tree(&[
        ("keyhound.toml", b"rules = [\"rules/many.toml\"]\n"),
        ("rules/many.toml", rule_file(1000, "tok{i}_[a-z]{8}").as_bytes()),
        ("app.env", b"tok7_abcdefgh\n"),
    ]);
    let output = hostile(keyhound_in(dir.path()).args(["scan", "."]));
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    let err = stderr(&output);
    for part in ["keyhound.toml", "rules/many.toml", "more than 1000 rules"] {
        assert!(err.contains(part), "no `{part}` in:\n{err}");
    }
    // Within the bounds, heavy rules load and find what they look for.
    fs::write(dir.path().join("rules/many.toml"), rule_file(2, r"tok{i}_\w{200}")).expect("write rules");
    // 200 word characters that look random (a run of one letter is a placeholder).
    let mut state = 7u32;
    let random: String = (0..200)
        .map(|_| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            char::from(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[(state >> 16) as usize % 62])
        })
        .collect();
    fs::write(dir.path().join("app.env"), format!("tok1_{random}\n")).expect("write file");
    let output = hostile(keyhound_in(dir.path()).args(["scan", ".", "--format", "json"]));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    assert_eq!(json_findings(&stdout(&output)).len(), 1, "{}", stdout(&output));
}

// ---------------------------------------------------------------------------------------------------------------
// 18. Reports read back are streamed and bounded: a huge forged report is refused after reading a little.

#[test]
fn a_sparse_report_of_gigabytes_is_refused_at_once() {
    let dir = tree(&[]);
    // 3 GB of NUL bytes that take no disk; read whole, they took 3 GB of memory.
    let sparse = fs::File::create(dir.path().join("sparse.json")).expect("create");
    sparse.set_len(3 << 30).expect("set_len");
    // The same behind an opening brace, as if a report were about to start.
    let mut opened = fs::File::create(dir.path().join("opened.json")).expect("create");
    std::io::Write::write_all(&mut opened, b"{\"format_version\": 1, ").expect("write");
    opened.set_len(3 << 30).expect("set_len");
    for (name, why) in [
        (
            "sparse.json",
            "sparse.json is not a keyhound JSON or JSON Lines report: it starts with a NUL byte",
        ),
        ("opened.json", "opened.json is not a keyhound JSON or JSON Lines report"),
    ] {
        for command in [vec!["merge", name], vec!["revoke", "--from", name]] {
            let output = hostile(keyhound_in(dir.path()).args(&command));
            assert_eq!(code(&output), 2, "{command:?}: {}", stderr(&output));
            assert!(stderr(&output).contains(why), "{command:?}: {}", stderr(&output));
            assert_output_clean(&output, name);
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// 19. A repository of another owner is scanned (keyhound runs nothing it configures); objects of other
//     repositories read as its own are said, on stderr and in the report.

#[test]
fn a_repository_owned_by_another_user_is_scanned() {
    let repo = Repo::new();
    repo.commit(&[("a.env", &format!("KEY={LEGACY_KEY}\n"))], "one");
    let chown = std::process::Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(repo.path())
        .output()
        .expect("chown runs");
    if !chown.status.success() {
        println!(
            "skipped: cannot give the repository to another user: {}",
            String::from_utf8_lossy(&chown.stderr)
        );
        return;
    }
    let output = hostile(keyhound_in(repo.path()).args(["git", ".", "--format", "json"]));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    assert_eq!(json_findings(&stdout(&output)).len(), 1, "{}", stdout(&output));
    assert!(!stderr(&output).contains("not owned"), "{}", stderr(&output));
    assert_output_clean(&output, "another owner's repository");
}

#[test]
fn objects_of_other_repositories_are_said_on_stderr_and_in_the_report() {
    let other = Repo::new();
    other.commit(&[("a.env", &format!("KEY={LEGACY_KEY}\n"))], "one");
    let objects = fs::canonicalize(other.path().join(".git/objects")).expect("canonical");
    let objects = objects.display().to_string();
    // An alternate: `git clone --shared` leaves every object in the other repository.
    let shared = TempDir::new().expect("temp dir");
    git_ok(
        shared.path(),
        &["clone", "-q", "--shared", &other.path().display().to_string(), "clone"],
    );
    // A `.git` file naming the other repository's git directory.
    let linked = tree(&[(".git", format!("gitdir: {}/.git\n", other.path().display()).as_bytes())]);
    for (dir, named_by) in [
        (shared.path().join("clone"), "objects/info/alternates"),
        (linked.path().to_path_buf(), ".git"),
    ] {
        let output = hostile(keyhound_in(&dir).args(["git", ".", "--format", "json"]));
        assert_eq!(code(&output), 1, "{named_by}: {}", stderr(&output));
        let err = stderr(&output);
        assert!(
            err.contains(&format!("also reads the objects of {objects}")) && err.contains(named_by),
            "{named_by}: {err}"
        );
        let report: Value = serde_json::from_str(&stdout(&output)).expect("json");
        let listed = &report["other_repositories"][0];
        assert_eq!(listed["object_directory"], objects.as_str(), "{report}");
        assert!(
            listed["named_by"].as_str().is_some_and(|n| n.ends_with(named_by)),
            "{report}"
        );
        assert_eq!(report["findings"].as_array().map(Vec::len), Some(1), "{report}");
        // SARIF: a note among the invocation's notifications; the run is still successful.
        let output = hostile(keyhound_in(&dir).args(["git", ".", "--format", "sarif"]));
        crate::common::assert_valid_sarif(&stdout(&output));
        let sarif: Value = serde_json::from_str(&stdout(&output)).expect("sarif");
        let invocation = &sarif["runs"][0]["invocations"][0];
        assert_eq!(invocation["executionSuccessful"], true, "{invocation}");
        let note = &invocation["toolExecutionNotifications"][0];
        assert_eq!(note["level"], "note", "{invocation}");
        assert_eq!(
            note["properties"]["otherObjectDirectories"][0]["objectDirectory"],
            objects.as_str(),
            "{invocation}"
        );
    }
    // A repository of its own says nothing, and neither does one of its linked worktrees (the same objects).
    let worktrees = TempDir::new().expect("temp dir");
    let worktree = worktrees.path().join("wt");
    git_ok(
        other.path(),
        &["worktree", "add", "-q", "-b", "side", &worktree.display().to_string()],
    );
    for dir in [other.path(), worktree.as_path()] {
        let output = hostile(keyhound_in(dir).args(["git", ".", "--format", "json"]));
        assert!(!stderr(&output).contains("also reads"), "{}", stderr(&output));
        assert!(!stdout(&output).contains("other_repositories"), "{}", stdout(&output));
    }
}
