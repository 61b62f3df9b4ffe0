//! SARIF (validated against the official schema and GitHub's upload rules), baselines, keyhound.toml and
//! inline allow markers, end to end through the binary.

use std::fs;
use std::path::Path;

use serde_json::Value;
use tempfile::TempDir;

use crate::common::{
    LEGACY_KEY, LEGACY_KEY_2, PROJECT_KEY, assert_valid_sarif, code, demo_copy, expected_demo, git_command, git_ok,
    git_output, json_findings, keyhound, keyhound_in, run, stderr, stdout, tree,
};

/// GitHub code scanning's rules for an uploaded SARIF file, beyond the schema.
fn assert_github_rules(sarif: &Value) {
    assert_eq!(sarif["version"], "2.1.0");
    let runs = sarif["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "keyhound");
    assert!(driver["version"].is_string() && driver["informationUri"].is_string());
    let rules = driver["rules"].as_array().expect("rules");
    let mut ids: Vec<&str> = rules.iter().filter_map(|r| r["id"].as_str()).collect();
    let count = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), count, "every rule exactly once");
    for rule in rules {
        for field in ["shortDescription", "fullDescription", "help"] {
            let text = rule[field]["text"].as_str().unwrap_or_default();
            assert!(
                !text.is_empty() && text.len() <= 1024 || field == "help",
                "{field} of {rule}"
            );
        }
        assert!(rule["help"]["text"].as_str().unwrap_or_default().contains("revoke"));
        let severity: f64 = rule["properties"]["security-severity"]
            .as_str()
            .expect("security-severity is a string")
            .parse()
            .expect("a number");
        assert!(severity > 0.0 && severity <= 10.0);
        let tags = rule["properties"]["tags"].as_array().expect("tags");
        assert!(tags.iter().any(|t| t == "security"));
    }
    for result in run["results"].as_array().expect("results") {
        let index = result["ruleIndex"].as_u64().expect("ruleIndex") as usize;
        assert_eq!(rules[index]["id"], result["ruleId"], "ruleIndex points at the rule");
        assert!(!result["message"]["text"].as_str().unwrap_or_default().is_empty());
        let location = &result["locations"][0]["physicalLocation"];
        let uri = location["artifactLocation"]["uri"].as_str().expect("uri");
        assert!(
            !uri.contains('\\') && !uri.starts_with('/'),
            "relative, forward slashes: {uri}"
        );
        assert_eq!(location["artifactLocation"]["uriBaseId"], "%SRCROOT%");
        for field in ["startLine", "startColumn", "endLine", "endColumn"] {
            assert!(
                location["region"][field].as_u64().unwrap_or(0) >= 1,
                "{field} in {result}"
            );
        }
        let fingerprints = &result["partialFingerprints"];
        assert!(fingerprints["keyhound/v1"].as_str().is_some_and(|f| f.len() == 64));
        assert!(fingerprints["primaryLocationLineHash"].is_string());
    }
}

fn sarif_of(cmd: &mut assert_cmd::Command) -> (i32, String) {
    let output = run(cmd.args(["--format", "sarif"]));
    (code(&output), stdout(&output))
}

#[test]
fn filesystem_sarif_is_valid_and_fit_for_github() {
    let (status, text) = sarif_of(keyhound().args(["scan", "fixtures/demo"]));
    assert_eq!(status, 1);
    assert_valid_sarif(&text);
    let sarif: Value = serde_json::from_str(&text).expect("JSON");
    assert_github_rules(&sarif);
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    assert_eq!(results.len(), expected_demo().len());
    let env = results
        .iter()
        .find(|r| r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == ".env")
        .expect("a result for .env, relative to the scanned root");
    assert_eq!(env["locations"][0]["physicalLocation"]["region"]["startLine"], 3);
    assert_eq!(env["locations"][0]["physicalLocation"]["region"]["startColumn"], 16);
    // Every rule in force, not only those with results.
    let rules = sarif["runs"][0]["tool"]["driver"]["rules"].as_array().expect("rules");
    assert!(rules.iter().any(|r| r["id"] == "anthropic-api-key"));
    for expected in expected_demo() {
        assert!(
            !text.contains(&expected.secret),
            "raw secret in SARIF: {}",
            expected.path
        );
    }
}

#[test]
fn show_secrets_puts_secrets_in_snippets_but_never_in_messages() {
    let (_, text) = sarif_of(keyhound().args(["scan", "fixtures/demo", "--show-secrets"]));
    let sarif: Value = serde_json::from_str(&text).expect("JSON");
    assert!(text.contains(&expected_demo()[0].secret));
    for result in sarif["runs"][0]["results"].as_array().expect("results") {
        let message = result["message"]["text"].as_str().unwrap_or_default();
        assert!(
            expected_demo().iter().all(|e| !message.contains(&e.secret)),
            "{message}"
        );
    }
}

#[test]
fn empty_scan_sarif_is_valid() {
    let dir = tree(&[("clean.txt", b"nothing to see\n")]);
    let (status, text) = sarif_of(keyhound_in(dir.path()).args(["scan", "."]));
    assert_eq!(status, 0);
    assert_valid_sarif(&text);
    let sarif: Value = serde_json::from_str(&text).expect("JSON");
    assert_github_rules(&sarif);
    assert_eq!(sarif["runs"][0]["results"].as_array().map(Vec::len), Some(0));
}

#[test]
fn history_sarif_carries_commits_and_provenance() {
    let dir = TempDir::new().expect("temp dir");
    let git = |args: &[&str]| git_output(git_command(dir.path()).args(args).env("GIT_AUTHOR_NAME", "Bob"));
    git(&["init", "-q", "-b", "main"]);
    git(&["remote", "add", "origin", "https://github.com/example/leaky.git"]);
    fs::create_dir_all(dir.path().join("my dir")).expect("mkdir");
    fs::write(dir.path().join("my dir/app.env"), format!("KEY={LEGACY_KEY}\n")).expect("write");
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "leak"]);

    let (status, text) = sarif_of(keyhound_in(dir.path()).args(["git"]));
    assert_eq!(status, 1);
    assert_valid_sarif(&text);
    let sarif: Value = serde_json::from_str(&text).expect("JSON");
    assert_github_rules(&sarif);
    let result = &sarif["runs"][0]["results"][0];
    assert_eq!(
        result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "my%20dir/app.env"
    );
    assert_eq!(result["properties"]["author_name"], "Bob");
    assert_eq!(result["properties"]["commit"].as_str().map(str::len), Some(40));
    let provenance = &sarif["runs"][0]["versionControlProvenance"][0];
    assert_eq!(provenance["repositoryUri"], "https://github.com/example/leaky.git");
    assert_eq!(provenance["branch"], "main");
    assert!(!text.contains(LEGACY_KEY));
}

#[test]
fn a_baseline_hides_known_findings_and_survives_moves() {
    let dir = tree(&[("a.env", format!("KEY={LEGACY_KEY}\n").as_bytes())]);
    let baseline = dir.path().join(".keyhound-baseline.json");
    let output = run(keyhound_in(dir.path())
        .args(["scan", "a.env", "--write-baseline"])
        .arg(&baseline));
    assert_eq!(code(&output), 1, "writing a baseline still reports");
    let written: Value = serde_json::from_str(&fs::read_to_string(&baseline).expect("baseline written")).expect("JSON");
    assert_eq!(written["findings"].as_array().map(Vec::len), Some(1));
    assert!(!fs::read_to_string(&baseline).unwrap_or_default().contains(LEGACY_KEY));

    // The same key on another line of another file is still the same leak.
    fs::remove_file(dir.path().join("a.env")).expect("rm");
    fs::write(dir.path().join("b.py"), format!("\n\nx = 1\nKEY = '{LEGACY_KEY}'\n")).expect("write");
    let output = run(keyhound_in(dir.path()).args(["scan", ".", "--baseline"]).arg(&baseline));
    assert_eq!(code(&output), 0, "{}", stdout(&output));
    assert!(stderr(&output).contains("1 in baseline"), "{}", stderr(&output));

    // A new key is reported.
    fs::write(dir.path().join("c.py"), format!("K = '{LEGACY_KEY_2}'\n")).expect("write");
    let output = run(keyhound_in(dir.path())
        .args(["scan", ".", "-f", "json", "--show-secrets", "--baseline"])
        .arg(&baseline));
    assert_eq!(code(&output), 1);
    let findings = json_findings(&stdout(&output));
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0]["secret"], LEGACY_KEY_2);
}

#[test]
fn a_baseline_works_for_history_scans() {
    let dir = TempDir::new().expect("temp dir");
    let git = |args: &[&str]| git_ok(dir.path(), args);
    git(&["init", "-q"]);
    fs::write(dir.path().join("k.env"), format!("KEY={LEGACY_KEY}\n")).expect("write");
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "old"]);
    let baseline = dir.path().join("baseline.json");
    run(keyhound_in(dir.path())
        .args(["git", "-q", "--write-baseline"])
        .arg(&baseline));
    let output = run(keyhound_in(dir.path()).args(["git", "--baseline"]).arg(&baseline));
    assert_eq!(code(&output), 0, "{}", stdout(&output));
}

#[test]
fn a_missing_or_malformed_baseline_is_an_error() {
    let dir = tree(&[
        ("a.env", format!("KEY={LEGACY_KEY}\n").as_bytes()),
        ("bad.json", b"{\"nope\": 1}"),
    ]);
    let output = run(keyhound_in(dir.path()).args(["scan", ".", "--baseline", "missing.json"]));
    assert_eq!(code(&output), 2);
    assert!(stderr(&output).contains("missing.json"), "{}", stderr(&output));
    let output = run(keyhound_in(dir.path()).args(["scan", ".", "--baseline", "bad.json"]));
    assert_eq!(code(&output), 2);
    assert!(stderr(&output).contains("bad.json"), "{}", stderr(&output));
}

#[test]
fn inline_allow_markers_of_three_tools_are_honoured() {
    let text = format!(
        "a = '{LEGACY_KEY}'  # keyhound:allow\nb = '{LEGACY_KEY}'  // gitleaks:allow\nc = '{LEGACY_KEY}'  # pragma: allowlist secret\nd = '{PROJECT_KEY}'\n"
    );
    let dir = tree(&[("x.py", text.as_bytes())]);
    let output = run(keyhound_in(dir.path()).args(["scan", ".", "-f", "json"]));
    let findings = json_findings(&stdout(&output));
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0]["line"], 4);
    assert!(stderr(&output).contains("3 allowed inline"), "{}", stderr(&output));
}

fn write_config(dir: &Path, text: &str) {
    fs::write(dir.join("keyhound.toml"), text).expect("write config");
}

#[test]
fn keyhound_toml_settings_apply() {
    let dir = tree(&[
        ("vendor/lib.js", format!("k='{LEGACY_KEY}'\n").as_bytes()),
        ("src/app.py", format!("k='{LEGACY_KEY_2}'\n").as_bytes()),
        ("src/test_keys.py", format!("k='{PROJECT_KEY}'\n").as_bytes()),
        (
            "rules/custom.toml",
            br#"provider = "acme"
[[rules]]
id = "acme-token"
name = "Acme token"
description = "An Acme token."
kind = "token"
severity = "high"
regex = 'acme_[a-f0-9]{32}'
keywords = ["acme_"]
remediation = "Rotate it."
examples = ["acme_0123456789abcdef0123456789abcdee"]
negative_examples = ["acme_short"]
"#,
        ),
        ("src/acme.txt", b"token=acme_9f8e7d6c5b4a39281706f5e4d3c2b1a0\n"),
    ]);
    write_config(
        dir.path(),
        r#"
exclude_paths = ["vendor/**"]
placeholder_words = ["e7njtS5p"]
disable_rules = ["openai-admin-key"]
rules = ["rules/custom.toml"]
format = "jsonl"
max_file_size = "1MiB"
"#,
    );
    let output = run(keyhound_in(dir.path()).args(["scan", ".", "--show-secrets"]));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let lines: Vec<Value> = crate::common::jsonl_findings(&stdout(&output));
    let mut found: Vec<(String, String)> = lines
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap_or_default().to_string(),
                f["rule_id"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        vec![
            ("src/acme.txt".to_string(), "acme-token".to_string()),
            ("src/app.py".to_string(), "openai-legacy-key".to_string()),
        ]
    );
}

#[test]
fn keyhound_toml_errors_name_the_file_and_key() {
    let dir = tree(&[("a.txt", b"x\n")]);
    write_config(dir.path(), "exclude_path = [\"x\"]\n");
    let output = run(keyhound_in(dir.path()).args(["scan", "."]));
    assert_eq!(code(&output), 2);
    let err = stderr(&output);
    assert!(err.contains("keyhound.toml") && err.contains("exclude_path"), "{err}");

    write_config(dir.path(), "placeholder_patterns = [\"(\"]\n");
    let output = run(keyhound_in(dir.path()).args(["scan", "."]));
    assert_eq!(code(&output), 2);
    assert!(stderr(&output).contains("placeholder_patterns"), "{}", stderr(&output));

    let output = run(keyhound_in(dir.path()).args(["scan", ".", "--config", "nope.toml"]));
    assert_eq!(code(&output), 2);
    assert!(stderr(&output).contains("nope.toml"), "{}", stderr(&output));
}

#[test]
fn the_json_report_can_be_read_back() {
    let dir = demo_copy();
    let report = dir.path().join("findings.json");
    run(keyhound_in(dir.path())
        .args(["scan", ".", "-q", "-f", "json", "-o"])
        .arg(&report));
    let output = run(keyhound_in(dir.path())
        .args(["merge"])
        .arg(&report)
        .args(["-f", "json"]));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    assert_eq!(json_findings(&stdout(&output)).len(), expected_demo().len());
}
