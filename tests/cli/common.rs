//! The test environment: the `keyhound` command, temporary trees, report parsing and the expected findings of
//! `fixtures/demo`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

/// Fake keys of published shapes (examples from `rules/openai.toml`, and one more made the same way), never real
/// credentials.
pub const LEGACY_KEY: &str = "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";
pub const LEGACY_KEY_2: &str = "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";
pub const PROJECT_KEY: &str = "sk-proj-e7njtS5pFbUcguGv1dHS84ExMaIWYiHaFUX1m1s97mCfvhcH";
pub const PROJECT_KEY_2: &str = "sk-proj-u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8dKLzdocJ2isAj";

/// `git` run in `dir`, isolated from the user's and the system's git config, with a fixed author, committer and
/// date so commit fields are predictable. Callers may override any of these with `.env(...)`.
pub fn git_command(dir: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new("git");
    cmd.current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Alice Example")
        .env("GIT_AUTHOR_EMAIL", "alice@example.com")
        .env("GIT_AUTHOR_DATE", "2024-05-01T12:00:00+02:00")
        .env("GIT_COMMITTER_NAME", "Alice Example")
        .env("GIT_COMMITTER_EMAIL", "alice@example.com")
        .env("GIT_COMMITTER_DATE", "2024-05-01T12:00:00+02:00");
    cmd
}

/// Runs `cmd` (a [`git_command`]), panics with git's stderr when it fails, and returns its stdout.
pub fn git_output(cmd: &mut std::process::Command) -> String {
    let output = cmd.output().expect("git runs");
    assert!(
        output.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `git ARGS` in `dir`, which must succeed; returns its stdout.
pub fn git_ok(dir: &Path, args: &[&str]) -> String {
    git_output(git_command(dir).args(args))
}

/// `git ARGS` in `dir` with `input` on its stdin, which must succeed; returns its stdout.
pub fn git_with_input(dir: &Path, args: &[&str], input: &[u8]) -> String {
    use std::io::Write;
    use std::process::Stdio;
    let mut cmd = git_command(dir);
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("git runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("input written");
    let output = child.wait_with_output().expect("git ends");
    assert!(
        output.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A bare repository in a temporary directory, filled by `git fast-import` from `stream`.
pub fn fast_import_repo(stream: &[u8]) -> TempDir {
    let dir = TempDir::new().expect("temp dir");
    git_ok(dir.path(), &["init", "-q", "--bare", "-b", "main"]);
    git_with_input(dir.path(), &["fast-import", "--quiet"], stream);
    dir
}

/// A git repository in a temporary directory, driven with the `git` command line.
pub struct Repo {
    pub dir: TempDir,
}

impl Repo {
    pub fn new() -> Repo {
        let repo = Repo {
            dir: TempDir::new().expect("temp dir"),
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs git in the repository with a fixed identity and no user or system config; returns stdout.
    pub fn git(&self, args: &[&str]) -> String {
        git_ok(self.path(), args)
    }

    pub fn write(&self, rel: &str, text: &str) {
        let path = self.path().join(rel);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(path, text).expect("write");
    }

    /// Writes files, stages everything and commits; returns the commit id.
    pub fn commit(&self, files: &[(&str, &str)], message: &str) -> String {
        for (rel, text) in files {
            self.write(rel, text);
        }
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.head()
    }

    pub fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"]).trim().to_string()
    }
}

/// The crate's root: fixtures and rules are found relative to it.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `keyhound`, run from the crate root, with `NO_COLOR` and `CI` set (no colour, no progress bar).
pub fn keyhound() -> Command {
    let mut cmd = Command::cargo_bin("keyhound").expect("the keyhound binary is built");
    cmd.current_dir(root()).env("NO_COLOR", "1").env("CI", "1");
    // Tests never reach the internet: every provider's API is a closed port on loopback unless a test points
    // it at its own fake, and no admin credential comes from the environment running the tests.
    for variable in keyhound::revoke::provider::base_variables() {
        cmd.env(variable, CLOSED_PORT);
    }
    // Nor does a forge token, API base or shard of the environment running the tests reach a test.
    for variable in [
        "GITHUB_TOKEN",
        "GITLAB_TOKEN",
        "KEYHOUND_GITHUB_API_BASE",
        "KEYHOUND_GITLAB_API_BASE",
        "JOB_COMPLETION_INDEX",
        "CI_NODE_INDEX",
        "CI_NODE_TOTAL",
    ] {
        cmd.env_remove(variable);
    }
    for provider in keyhound::revoke::provider::all() {
        if let Some(revoker) = provider.revoker() {
            cmd.env_remove(revoker.admin_variable());
        }
    }
    // Nor a registry credential: neither the variables nor the docker config of the machine running the tests.
    cmd.env_remove(keyhound::source::image::USERNAME_VARIABLE)
        .env_remove(keyhound::source::image::PASSWORD_VARIABLE)
        .env("DOCKER_CONFIG", "/nonexistent/keyhound-tests/docker-config");
    cmd
}

/// A loopback port nothing listens on: requests to it are refused at once.
pub const CLOSED_PORT: &str = "http://127.0.0.1:9";

/// `keyhound` run from `dir`.
pub fn keyhound_in(dir: &Path) -> Command {
    let mut cmd = keyhound();
    cmd.current_dir(dir);
    cmd
}

/// Runs the command to completion (whatever its exit code) and returns what it printed.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("keyhound runs")
}

pub fn code(output: &Output) -> i32 {
    output.status.code().expect("keyhound exited, not killed by a signal")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A temporary directory holding `files` (relative path, contents); parent directories are created.
pub fn tree(files: &[(&str, &[u8])]) -> TempDir {
    let dir = TempDir::new().expect("temp dir");
    for (rel, contents) in files {
        let path = dir.path().join(rel);
        fs::create_dir_all(path.parent().expect("a parent")).expect("create parent dirs");
        fs::write(&path, contents).expect("write fixture file");
    }
    dir
}

/// A copy of `fixtures/demo` (hidden files included) in a temporary directory.
pub fn demo_copy() -> TempDir {
    let dir = TempDir::new().expect("temp dir");
    copy_dir(&root().join("fixtures/demo"), dir.path());
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("create dir");
    for entry in fs::read_dir(from).expect("read fixture dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).expect("copy fixture file");
        }
    }
}

/// Parses a `--format json` report and checks its envelope.
pub fn json_report(text: &str) -> Value {
    let report: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"));
    assert_eq!(report["format_version"], 1, "format_version");
    report
}

/// The findings of a `--format json` report.
pub fn json_findings(text: &str) -> Vec<Value> {
    json_report(text)["findings"]
        .as_array()
        .expect("`findings` is an array")
        .clone()
}

/// Parses `--format jsonl` output: one JSON object per finding, then the summary line that counts them (checked
/// here).
pub fn jsonl_findings(text: &str) -> Vec<Value> {
    let mut lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("line is not JSON ({e}): {line}")))
        .collect();
    let summary = lines.pop().unwrap_or_else(|| panic!("no summary line in:\n{text}"));
    assert_eq!(summary["record"], "summary", "the last line is the summary:\n{text}");
    assert_eq!(
        summary["findings"],
        lines.len(),
        "the summary counts the findings:\n{text}"
    );
    lines
}

/// One finding as listed in the `.tsv` files: path, rule id, raw secret.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Expected {
    pub path: String,
    pub rule_id: String,
    pub secret: String,
}

fn read_tsv(name: &str) -> Vec<Expected> {
    let path: PathBuf = root().join("fixtures").join(name);
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut rows: Vec<Expected> = text
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            assert_eq!(fields.len(), 3, "bad line in {name}: {line:?}");
            Expected {
                path: fields[0].to_string(),
                rule_id: fields[1].to_string(),
                secret: fields[2].to_string(),
            }
        })
        .collect();
    rows.sort();
    assert!(!rows.is_empty(), "{name} lists no findings");
    rows
}

/// `fixtures/demo.expected.tsv`: the findings of `keyhound scan fixtures/demo`, sorted.
pub fn expected_demo() -> Vec<Expected> {
    read_tsv("demo.expected.tsv")
}

/// `fixtures/demo.ignored.tsv`: the findings that only `--no-ignore` adds.
pub fn ignored_demo() -> Vec<Expected> {
    read_tsv("demo.ignored.tsv")
}

/// The (path, rule, secret) of JSON findings, with `prefix` removed from every path (it must be there), sorted.
pub fn triples(findings: &[Value], prefix: &str) -> Vec<Expected> {
    let mut rows: Vec<Expected> = findings
        .iter()
        .map(|f| {
            let path = f["path"].as_str().expect("path");
            Expected {
                path: path
                    .strip_prefix(prefix)
                    .unwrap_or_else(|| panic!("path {path:?} does not start with {prefix:?}"))
                    .to_string(),
                rule_id: f["rule_id"].as_str().expect("rule_id").to_string(),
                secret: f["secret"].as_str().expect("secret").to_string(),
            }
        })
        .collect();
    rows.sort();
    rows
}

/// The paths of JSON findings, sorted and de-duplicated.
pub fn paths(findings: &[Value]) -> Vec<String> {
    let mut paths: Vec<String> = findings
        .iter()
        .map(|f| f["path"].as_str().expect("path").to_string())
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

/// Validates a SARIF document against the OASIS SARIF 2.1.0 schema kept under tests/schemas, with Python's
/// `jsonschema` (installed by .ci/run). Panics with the validation errors.
pub fn assert_valid_sarif(text: &str) {
    let dir = TempDir::new().expect("temp dir");
    let report = dir.path().join("report.sarif");
    fs::write(&report, text).expect("write report");
    let schema = root().join("tests/schemas/sarif-schema-2.1.0.json");
    let script = "import json, sys\n\
                  import jsonschema\n\
                  schema = json.load(open(sys.argv[1]))\n\
                  doc = json.load(open(sys.argv[2]))\n\
                  cls = jsonschema.validators.validator_for(schema)\n\
                  cls.check_schema(schema)\n\
                  errors = [f'{list(e.absolute_path)}: {e.message}' for e in cls(schema).iter_errors(doc)]\n\
                  print('\\n'.join(errors))\n\
                  sys.exit(1 if errors else 0)\n";
    let output = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&schema)
        .arg(&report)
        .output()
        .expect("python3 runs (the test needs Python with the jsonschema package: pip install jsonschema)");
    assert!(
        output.status.success(),
        "SARIF does not validate against the SARIF 2.1.0 schema:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
