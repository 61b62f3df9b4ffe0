//! `keyhound git URL`: remote repositories fetched into bare mirrors (over file:// and smart HTTP on 127.0.0.1),
//! reused and fetched again, credentials never shown.

use std::path::Path;

use base64::Engine as _;
use serde_json::Value;
use tempfile::TempDir;

use super::common::{LEGACY_KEY, PROJECT_KEY, PROJECT_KEY_2, Repo, code, git_ok, keyhound, run, stderr, stdout};
use super::git_http::GitHttp;

/// A fake token of a GitHub token's shape, never a real credential.
const FAKE_TOKEN: &str = "ghp_FAKEfakeFAKEfakeFAKEfakeFAKEfake0000";
const PASSWORD: &str = "hunter2-not-a-real-password";

/// A working repository with one key committed, and a bare copy of it under `served/NAME` that servers serve.
struct Origin {
    work: Repo,
    served: TempDir,
}

impl Origin {
    fn new() -> Origin {
        let work = Repo::new();
        work.commit(&[("config.py", &format!("KEY = \"{PROJECT_KEY}\"\n"))], "first");
        let served = TempDir::new().expect("temp dir");
        git_ok(
            served.path(),
            &["clone", "-q", "--bare", &work.path().display().to_string(), "repo.git"],
        );
        Origin { work, served }
    }

    fn bare(&self) -> std::path::PathBuf {
        self.served.path().join("repo.git")
    }

    /// Commits `files` in the working repository and pushes every branch to the served copy.
    fn push(&self, files: &[(&str, &str)], message: &str) {
        self.work.commit(files, message);
        self.work
            .git(&["push", "-q", &self.bare().display().to_string(), "main"]);
    }

    fn file_url(&self) -> String {
        format!("file://{}", self.bare().display())
    }
}

/// `keyhound git ARGS -f json` with the cache in `cache`; returns (exit code, findings, stderr, stdout).
fn scan(cache: &Path, args: &[&str], envs: &[(&str, &str)]) -> (i32, Vec<Value>, String, String) {
    let mut cmd = keyhound();
    cmd.arg("git")
        .args(args)
        .args(["--cache-dir", &cache.display().to_string(), "-f", "json"])
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null");
    for (name, value) in envs {
        cmd.env(name, value);
    }
    let output = run(&mut cmd);
    let out = stdout(&output);
    let findings = serde_json::from_str::<Value>(&out)
        .ok()
        .and_then(|v| v["findings"].as_array().cloned())
        .unwrap_or_default();
    (code(&output), findings, stderr(&output), out)
}

/// `keyhound git --repos-from - -f json` with the cache in `cache` and `input` on stdin, away from the user's
/// and the system's git config.
pub fn git_from_stdin(cache: &Path, input: String) -> std::process::Output {
    run(keyhound()
        .args([
            "git",
            "--repos-from",
            "-",
            "--cache-dir",
            &cache.display().to_string(),
            "-f",
            "json",
        ])
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .write_stdin(input))
}

fn secrets(findings: &[Value]) -> Vec<String> {
    let mut found: Vec<String> = findings
        .iter()
        .map(|f| {
            let secret = f["secret"].as_str().unwrap_or("");
            secret.rfind('…').map_or(secret, |at| &secret[at..]).to_string()
        })
        .collect();
    found.sort();
    found
}

/// How a redacted key ends: enough to tell the test keys apart.
fn redacted(key: &str) -> String {
    format!("…{}", &key[key.len() - 4..])
}

#[test]
fn a_file_url_is_mirrored_then_fetched_again_and_a_new_commit_is_found() {
    let origin = Origin::new();
    let cache = TempDir::new().expect("temp dir");
    let url = origin.file_url();
    let (status, findings, err, _) = scan(cache.path(), &[&url], &[]);
    assert_eq!(status, 1, "{err}");
    assert_eq!(secrets(&findings), [redacted(PROJECT_KEY)]);
    assert_eq!(findings[0]["repository"], url.as_str());
    let mirrors: Vec<_> = std::fs::read_dir(cache.path())
        .expect("the cache")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".git"))
        .collect();
    assert_eq!(mirrors.len(), 1, "one mirror");
    let mirror = mirrors[0].path();
    assert!(
        mirror.join("HEAD").is_file() && !mirror.join(".git").exists(),
        "a bare mirror"
    );

    origin.push(&[("later.env", &format!("K={PROJECT_KEY_2}\n"))], "second");
    let (status, findings, err, _) = scan(cache.path(), &[&url], &[]);
    assert_eq!(status, 1, "{err}");
    assert_eq!(secrets(&findings), [redacted(PROJECT_KEY_2), redacted(PROJECT_KEY)]);
    let again: Vec<_> = std::fs::read_dir(cache.path()).expect("the cache").flatten().collect();
    assert!(again.iter().any(|e| e.path() == mirror), "the same mirror is reused");
}

#[test]
fn smart_http_clones_first_then_fetches_only_what_is_new() {
    let origin = Origin::new();
    let server = GitHttp::start(origin.served.path());
    let cache = TempDir::new().expect("temp dir");
    let url = server.url("repo.git");
    let (status, findings, err, _) = scan(cache.path(), &[&url], &[]);
    assert_eq!(status, 1, "{err}");
    assert_eq!(secrets(&findings), [redacted(PROJECT_KEY)]);
    let first_posts = server
        .served
        .state()
        .requests
        .iter()
        .filter(|r| r.starts_with("POST"))
        .count();
    assert!(first_posts >= 1, "an upload-pack request");

    // Nothing new on the server: the refs are asked for, nothing is fetched, the mirror is scanned as it is.
    let commands = |server: &GitHttp| server.served.state().commands.clone();
    let before = commands(&server).len();
    let (status, findings, err, _) = scan(cache.path(), &[&url], &[]);
    assert_eq!(status, 1, "{err}");
    assert_eq!(secrets(&findings), [redacted(PROJECT_KEY)]);
    assert_eq!(commands(&server)[before..], ["ls-refs"], "{:?}", commands(&server));

    origin.push(&[("deploy/.env", &format!("OPENAI_API_KEY={LEGACY_KEY}\n"))], "deploy");
    let before = commands(&server).len();
    let (status, findings, err, _) = scan(cache.path(), &[&url], &[]);
    assert_eq!(status, 1, "{err}");
    assert_eq!(secrets(&findings), [redacted(PROJECT_KEY), redacted(LEGACY_KEY)]);
    assert!(
        commands(&server)[before..].contains(&"fetch".to_string()),
        "{:?}",
        commands(&server)
    );
    let new = findings
        .iter()
        .find(|f| f["path"] == "deploy/.env")
        .expect("the new key");
    assert_eq!(new["repository"], url.as_str());
}

#[test]
fn credentials_never_appear_in_output_reports_or_errors() {
    let origin = Origin::new();
    let server = GitHttp::start(origin.served.path());
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{FAKE_TOKEN}"))
    );
    server.served.state().require_authorization = Some(expected.clone());
    let cache = TempDir::new().expect("temp dir");
    let with_userinfo = format!(
        "http://someone:{PASSWORD}@{}",
        server.url("repo.git").trim_start_matches("http://")
    );
    let shown = server.url("repo.git");
    // The token is the GitHub token for the host of KEYHOUND_GITHUB_API_BASE: this server.
    let envs = [
        ("GITHUB_TOKEN", FAKE_TOKEN),
        ("KEYHOUND_GITHUB_API_BASE", server.served.base.as_str()),
    ];
    for format in ["json", "sarif", "human"] {
        let mut cmd = keyhound();
        cmd.args([
            "git",
            &with_userinfo,
            "--cache-dir",
            &cache.path().display().to_string(),
            "-f",
            format,
        ])
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null");
        for (name, value) in envs {
            cmd.env(name, value);
        }
        let output = run(&mut cmd);
        let (out, err) = (stdout(&output), stderr(&output));
        assert_eq!(code(&output), 1, "{format}: {err}");
        for leak in [PASSWORD, FAKE_TOKEN, "someone:"] {
            assert!(
                !out.contains(leak) && !err.contains(leak),
                "{format} leaks {leak}: {out}\n{err}"
            );
        }
        if format != "human" {
            assert!(out.contains(&shown), "{format} names the repository: {out}");
        }
    }
    assert!(
        server.served.state().authorizations.contains(&expected),
        "the token was sent to git's server"
    );
    for entry in walk(cache.path()) {
        let text = std::fs::read(&entry).unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        assert!(
            !text.contains(PASSWORD) && !text.contains(FAKE_TOKEN),
            "{} holds a credential",
            entry.display()
        );
    }

    // A failing fetch quotes git's stderr, which names the URL: still without userinfo or token.
    server.served.state().require_authorization = Some("Basic something-else".into());
    let (status, _, err, out) = scan(cache.path(), &[&with_userinfo], &envs);
    assert_eq!(status, 2, "{err}");
    for leak in [PASSWORD, FAKE_TOKEN, "someone:"] {
        assert!(
            !out.contains(leak) && !err.contains(leak),
            "the error leaks {leak}: {err}"
        );
    }
    assert!(err.contains(&shown) && err.contains("git fetch failed"), "{err}");
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if entry.path().is_dir() {
                stack.push(entry.path());
            } else {
                files.push(entry.path());
            }
        }
    }
    files
}

#[test]
fn a_failed_fetch_is_a_scan_error_and_the_other_repositories_are_still_scanned() {
    let origin = Origin::new();
    let server = GitHttp::start(origin.served.path());
    let cache = TempDir::new().expect("temp dir");
    let missing = server.url("missing.git");
    let (status, findings, err, _) = scan(cache.path(), &[&missing, &origin.file_url()], &[]);
    assert_eq!(status, 1, "findings, and a warning for the other: {err}");
    assert_eq!(secrets(&findings), [redacted(PROJECT_KEY)]);
    assert!(err.contains(&missing) && err.contains("git fetch failed"), "{err}");
    assert!(
        err.contains("[1/2]") && err.contains("[2/2]"),
        "one line per repository: {err}"
    );
    assert!(err.contains("2 repositories") && err.contains("slowest"), "{err}");
    let (status, _, err, _) = scan(
        cache.path(),
        &[&missing, &origin.file_url(), "--fail-on-scan-errors"],
        &[],
    );
    assert_eq!(status, 2, "{err}");
    // Alone, a repository that cannot be fetched is an error, and no mirror is left behind.
    let (status, _, err, _) = scan(cache.path(), &[&missing], &[]);
    assert_eq!(status, 2, "{err}");
    assert_eq!(
        walk(cache.path()).iter().filter(|p| p.ends_with("HEAD")).count(),
        1,
        "only the good mirror"
    );
}

#[test]
fn repositories_fetched_several_at_once_are_scanned_and_told_in_the_order_named() {
    let origins: Vec<Origin> = (0..4).map(|_| Origin::new()).collect();
    let server = GitHttp::start(origins[1].served.path());
    let cache = TempDir::new().expect("temp dir");
    let local = origins[0].work.path().display().to_string();
    let missing = server.url("missing.git");
    let named = [
        local.clone(),
        server.url("repo.git"),
        missing.clone(),
        origins[2].file_url(),
        origins[3].file_url(),
    ];
    let args = |extra: &[&str]| -> Vec<String> {
        named
            .iter()
            .cloned()
            .chain(extra.iter().map(|s| s.to_string()))
            .collect()
    };
    let order = |err: &str| -> Vec<String> {
        err.lines()
            .filter_map(|line| line.strip_prefix("keyhound: ["))
            .map(|line| {
                line.split_once("] ")
                    .map_or(String::new(), |(_, rest)| rest.to_string())
            })
            .collect()
    };
    let first_args = args(&["--fetch-jobs", "3"]);
    let first: Vec<&str> = first_args.iter().map(String::as_str).collect();
    let (status, findings, err, _) = scan(cache.path(), &first, &[]);
    assert_eq!(status, 1, "{err}");
    let mut repos: Vec<&str> = findings.iter().filter_map(|f| f["repository"].as_str()).collect();
    repos.sort_unstable();
    let mut expected = vec![local.as_str(), named[1].as_str(), named[3].as_str(), named[4].as_str()];
    expected.sort_unstable();
    assert_eq!(repos, expected, "{err}");
    let told = order(&err);
    assert_eq!(told.len(), 5, "{err}");
    for (line, name) in told.iter().zip(&named) {
        assert!(line.starts_with(name.as_str()), "{line} is not about {name}: {err}");
    }
    assert!(told[2].ends_with("failed"), "{err}");
    assert!(told[1].contains("fetched"), "{err}");

    // Again: the mirrors are up to date, nothing is fetched, the same is found.
    let again_args = args(&["--fetch-jobs", "2"]);
    let again: Vec<&str> = again_args.iter().map(String::as_str).collect();
    let (status, findings, err, _) = scan(cache.path(), &again, &[]);
    assert_eq!((status, findings.len()), (1, 4), "{err}");
    let told = order(&err);
    for at in [1, 3, 4] {
        assert!(told[at].contains("up to date"), "{}: {err}", told[at]);
    }
    assert!(err.contains("3 already up to date"), "{err}");

    // The same repository twice (once with userinfo): one mirror, fetched and scanned once.
    let with_user = named[1].replacen("http://", "http://someone@", 1);
    let (status, findings, err, _) = scan(cache.path(), &[&named[1], &with_user, "--fetch-jobs", "4"], &[]);
    assert_eq!((status, findings.len()), (1, 1), "{err}");
    assert!(err.contains("named more than once"), "{err}");

    let (status, _, err, _) = scan(cache.path(), &[&named[1], "--fetch-jobs", "0"], &[]);
    assert_eq!(status, 2, "{err}");
    assert!(err.contains("--fetch-jobs"), "{err}");
}

#[test]
fn a_stale_mirror_is_not_scanned_when_its_fetch_fails() {
    let origin = Origin::new();
    let server = GitHttp::start(origin.served.path());
    let cache = TempDir::new().expect("temp dir");
    let url = server.url("repo.git");
    assert_eq!(scan(cache.path(), &[&url], &[]).0, 1);
    server.served.state().require_authorization = Some("Basic nobody".into());
    let (status, findings, err, _) = scan(cache.path(), &[&url], &[]);
    assert_eq!(status, 2, "{err}");
    assert!(findings.is_empty());
}

#[test]
fn a_shallow_server_repository_is_noted() {
    let origin = Origin::new();
    origin.push(&[("b.txt", "nothing\n")], "second");
    let shallow = TempDir::new().expect("temp dir");
    git_ok(
        shallow.path(),
        &[
            "clone",
            "-q",
            "--bare",
            "--depth",
            "1",
            &origin.file_url(),
            "shallow.git",
        ],
    );
    let cache = TempDir::new().expect("temp dir");
    let url = format!("file://{}", shallow.path().join("shallow.git").display());
    let (status, findings, err, _) = scan(cache.path(), &[&url], &[]);
    assert!(err.contains("shallow"), "{err}");
    assert_eq!((status, findings.len()), (1, 1), "what the cut left is scanned: {err}");
}

#[test]
fn repositories_can_be_listed_in_a_file_or_on_stdin() {
    let origin = Origin::new();
    let cache = TempDir::new().expect("temp dir");
    let list = TempDir::new().expect("temp dir");
    let file = list.path().join("repos.txt");
    let json = serde_json::json!({"name": "o/repo", "clone_url": origin.file_url()});
    std::fs::write(&file, format!("# the audit\n\n{json}\n")).expect("write");
    let (status, findings, err, _) = scan(cache.path(), &["--repos-from", &file.display().to_string()], &[]);
    assert_eq!(status, 1, "{err}");
    assert_eq!(findings.len(), 1);
    let output = git_from_stdin(
        cache.path(),
        format!(
            "{}
",
            origin.file_url()
        ),
    );
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    // An empty list is an error, not a scan of the current directory.
    std::fs::write(&file, "# nothing\n").expect("write");
    let (status, _, err, _) = scan(cache.path(), &["--repos-from", &file.display().to_string()], &[]);
    assert_eq!(status, 2);
    assert!(err.contains("no repositories listed"), "{err}");
    std::fs::write(&file, "{not json\n").expect("write");
    let (status, _, err, _) = scan(cache.path(), &["--repos-from", &file.display().to_string()], &[]);
    assert_eq!(status, 2);
    assert!(err.contains("repos.txt line 1"), "{err}");
}

#[test]
fn a_hostile_remote_runs_nothing() {
    // ext:: would run a command: refused whatever the remote or the user's config says.
    let cache = TempDir::new().expect("temp dir");
    let marker = cache.path().join("ran");
    let hostile = format!("ext::sh -c touch% {}", marker.display());
    let (status, _, _, _) = scan(cache.path(), &[&hostile], &[]);
    assert_eq!(status, 2);
    assert!(!marker.exists());
    // Hooks that the user's git config names do not run on the mirror's fetch either.
    let hooks = cache.path().join("user-hooks");
    std::fs::create_dir_all(&hooks).expect("mkdir");
    let hook = hooks.join("reference-transaction");
    std::fs::write(&hook, format!("#!/bin/sh\ntouch {}\n", marker.display())).expect("write");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let config = cache.path().join("gitconfig");
    std::fs::write(&config, format!("[core]\n\thooksPath = {}\n", hooks.display())).expect("write");
    let origin = Origin::new();
    let (status, _, err, _) = scan(
        cache.path(),
        &[&origin.file_url()],
        &[("GIT_CONFIG_GLOBAL", &config.display().to_string())],
    );
    assert_eq!(status, 1, "{err}");
    assert!(!marker.exists(), "a hook ran");
}
