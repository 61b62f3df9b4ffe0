//! Rules: custom rule files (`--rules`), invalid rule files, `rules list` and `rules test`.

use std::fs;
use std::path::PathBuf;

use predicates::prelude::*;

use crate::common::*;

const VALID: &str = "fixtures/rules/valid-custom.toml";
const FAILING_EXAMPLE: &str = "fixtures/rules/failing-example.toml";
/// A key of the custom rule's shape (`acme_` + 32 alphanumerics): random, not a real key.
const ACME_KEY: &str = "acme_7FGgmczVa8oPl92mcBKTWEBjpEpx9odL";

/// Rule files that must not load: (file, what the error must name besides the file).
const INVALID: &[(&str, &str)] = &[
    ("fixtures/rules/invalid-malformed-toml.toml", "line 5"),
    ("fixtures/rules/invalid-bad-regex.toml", "acme-bad-regex"),
    ("fixtures/rules/invalid-missing-field.toml", "regex"),
    ("fixtures/rules/invalid-unknown-field.toml", "colour"),
    ("fixtures/rules/invalid-duplicate-builtin-id.toml", "openai-legacy-key"),
];

/// Every rule id defined in the repository's `rules/*.toml` (the built-in rules).
fn builtin_rule_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(root().join("rules"))
        .expect("rules/ exists")
        .map(|entry| entry.expect("dir entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "rules/ holds no rule files");
    files
}

fn rule_ids(path: &std::path::Path) -> Vec<String> {
    let text = fs::read_to_string(path).expect("read rule file");
    let value: toml::Value = toml::from_str(&text).expect("rule file is TOML");
    value["rules"]
        .as_array()
        .expect("[[rules]]")
        .iter()
        .map(|rule| rule["id"].as_str().expect("id").to_string())
        .collect()
}

// ---------------------------------------------------------------------------------------------------------------
// Custom and invalid rule files.

#[test]
fn custom_rule_file_adds_a_rule() {
    let dir = tree(&[("config.ini", format!("[acme]\ntoken = {ACME_KEY}\n").as_bytes())]);
    let rules = root().join(VALID);
    let output = run(keyhound_in(dir.path())
        .args(["scan", ".", "--format", "json", "--show-secrets", "--rules"])
        .arg(&rules));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let findings = json_findings(&stdout(&output));
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0]["rule_id"], "acme-api-key");
    assert_eq!(findings[0]["provider"], "acme");
    assert_eq!(findings[0]["path"], "config.ini");
    assert_eq!(findings[0]["secret"], ACME_KEY);
    assert_eq!((&findings[0]["line"], &findings[0]["column"]), (&2.into(), &9.into()));

    // Without the rule file, nothing is found.
    keyhound_in(dir.path()).args(["scan", "."]).assert().code(0);
}

/// Values a vendor publishes on purpose (`allowed_values` in a rule file) are not leaks: neither the custom rule's
/// listed value nor the Firebase sample key of the built-in Google rule is reported, while a key of the same
/// shape beside them is.
#[test]
fn published_example_values_are_not_findings() {
    const ALLOWED_ACME: &str = "acme_PubL1cSampleKey0fTheAcmeDocs0123";
    // From firebase/quickstart-android's mock-google-services.json, listed in rules/ai-providers.toml.
    const FIREBASE_SAMPLE: &str = "AIzaSyCPndbsEs_QWumL5_B0BpNLuMkvVSecvL0";
    // Random, of the same shape: a finding.
    const GOOGLE_KEY: &str = "AIzaSyD4mQ0xbZr7TfW2kLp9vNc3Hs8Jy1uEoRa";
    let text = format!(
        "acme = {ALLOWED_ACME}\nacme2 = {ACME_KEY}\n{{\"current_key\": \"{FIREBASE_SAMPLE}\"}}\nmaps = \"{GOOGLE_KEY}\"\n"
    );
    let dir = tree(&[("app/config.txt", text.as_bytes())]);
    let output = run(keyhound_in(dir.path())
        .args(["scan", ".", "--format", "json", "--show-secrets", "--rules"])
        .arg(root().join(VALID)));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let secrets: Vec<String> = json_findings(&stdout(&output))
        .iter()
        .map(|f| f["secret"].as_str().expect("secret").to_string())
        .collect();
    assert_eq!(secrets, [ACME_KEY, GOOGLE_KEY]);
}

#[test]
fn an_allowed_value_without_its_source_is_an_error() {
    let text = fs::read_to_string(root().join(VALID)).expect("read fixture").replace(
        "source = \"the Acme SDK's README (made up for keyhound's tests)\"",
        "source = \" \"",
    );
    let dir = tree(&[("rules.toml", text.as_bytes())]);
    let output = run(keyhound_in(dir.path()).args(["rules", "list", "--rules", "rules.toml"]));
    assert_eq!(code(&output), 2);
    let err = stderr(&output);
    assert!(
        err.contains("rules.toml") && err.contains("acme-api-key") && err.contains("source"),
        "{err}"
    );
}

#[test]
fn invalid_rule_files_are_errors_naming_the_file() {
    for (file, detail) in INVALID {
        for args in [
            &["scan", "fixtures/demo/.env", "--rules", file][..],
            &["rules", "list", "--rules", file][..],
        ] {
            let output = run(keyhound().args(args));
            let err = stderr(&output);
            assert_eq!(code(&output), 2, "{args:?}: {err}");
            assert!(err.contains(file), "{args:?}: the error does not name {file}:\n{err}");
            assert!(
                err.contains(detail),
                "{args:?}: the error does not name {detail:?}:\n{err}"
            );
            assert!(stdout(&output).is_empty(), "{args:?}: {}", stdout(&output));
        }
    }
}

#[test]
fn rules_test_rejects_unloadable_rule_files() {
    // The duplicate id only clashes with the built-in rules, which `rules test FILE` does not load.
    for (file, detail) in INVALID.iter().filter(|(f, _)| !f.contains("duplicate")) {
        let output = run(keyhound().args(["rules", "test", file]));
        let err = stderr(&output);
        assert_eq!(code(&output), 2, "{file}: {err}");
        assert!(err.contains(file) && err.contains(detail), "{file}:\n{err}");
    }
}

/// The brief: an invalid rule file's error names the rule where there is one. A missing or unknown field is a
/// TOML parse error, which names the file and the line but not the rule's id.
#[test]
fn field_errors_name_the_rule_id() {
    for (file, id) in [
        ("fixtures/rules/invalid-missing-field.toml", "acme-missing-regex"),
        ("fixtures/rules/invalid-unknown-field.toml", "acme-unknown-field"),
    ] {
        keyhound()
            .args(["scan", "fixtures/demo/.env", "--rules", file])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(file).and(predicate::str::contains(id)));
    }
}

// ---------------------------------------------------------------------------------------------------------------
// rules list

#[test]
fn rules_list_lists_every_builtin_rule() {
    let output = run(keyhound().args(["rules", "list"]));
    assert_eq!(code(&output), 0);
    let out = stdout(&output);
    let listed: Vec<&str> = out
        .lines()
        .filter(|l| !l.starts_with(' '))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for id in ["openai-project-key", "openai-legacy-key", "anthropic-api-key"] {
        assert!(listed.contains(&id), "{id} not listed:\n{out}");
    }
    let mut total = 0;
    for file in builtin_rule_files() {
        for id in rule_ids(&file) {
            assert!(
                listed.contains(&id.as_str()),
                "{id} (from {}) not listed",
                file.display()
            );
            total += 1;
        }
    }
    assert_eq!(listed.len(), total, "rules list shows rules not in rules/:\n{out}");
}

#[test]
fn rules_list_includes_custom_rules() {
    keyhound()
        .args(["rules", "list", "--rules", VALID])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("acme-api-key").and(predicate::str::contains("openai-project-key")));
}

// ---------------------------------------------------------------------------------------------------------------
// rules test

#[test]
fn rules_test_passes_on_the_builtin_rules() {
    keyhound()
        .args(["rules", "test"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(" 0 failed").and(predicate::str::contains("FAIL").not()));
}

#[test]
fn rules_test_passes_on_every_file_in_rules_dir() {
    for file in builtin_rule_files() {
        let rel = file.strip_prefix(root()).expect("under the crate root");
        let output = run(keyhound().args(["rules", "test"]).arg(rel));
        let out = stdout(&output);
        assert_eq!(code(&output), 0, "{}:\n{out}{}", rel.display(), stderr(&output));
        assert!(
            out.contains(" 0 failed") && !out.contains("FAIL"),
            "{}:\n{out}",
            rel.display()
        );
    }
}

#[test]
fn rules_test_passes_on_the_valid_custom_file() {
    keyhound()
        .args(["rules", "test", VALID])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("1 rule(s)").and(predicate::str::contains(" 0 failed")));
}

#[test]
fn rules_test_fails_on_a_failing_example() {
    let output = run(keyhound().args(["rules", "test", FAILING_EXAMPLE]));
    assert_ne!(code(&output), 0);
    let out = stdout(&output);
    assert!(
        out.lines()
            .any(|l| l.starts_with("FAIL") && l.contains("acme-failing-example")),
        "{out}"
    );
    assert!(out.contains(" 1 failed"), "{out}");
}

/// `keyhound rules list | head -1` must not panic when the reader goes away (scan already handles this).
#[test]
fn rules_list_survives_a_closed_pipe() {
    use std::process::{Command, Stdio};
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("keyhound"))
        .args(["rules", "list"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn keyhound");
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("keyhound finishes");
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_ne!(output.status.code(), Some(101), "{err}");
}

/// A committed virtualenv: the public default keys that SpeechRecognition and pytube ship are not the project's
/// leaks, in the tree or its history; a key in a `.env` inside the same vendored directory still is.
#[test]
fn public_default_keys_of_vendored_libraries_are_not_reported_but_vendored_paths_are_scanned() {
    let site = "venv/lib/python3.11/site-packages";
    let speech = "        key = \"AIzaSyBOti4mM-6x9WDnZIjIeyEU21OpBXqWBgw\"\n";
    let pytube = "_api_keys = [\n    'AIzaSyAO_FJ2SlqU8Q4STEHLGCilw_Y9_11qcW8',\n    'AIzaSyA8eiZmM1FaDVjRy-df2KTyQ_vz_yYM39w',\n]\n";
    let leak = "GEMINI_API_KEY=AIza2wm1BPH1276jNosb0Uoom0uuyu1wF2FZZHF\n";
    let repo = crate::common::Repo::new();
    repo.commit(
        &[
            (&format!("{site}/speech_recognition/recognizers/google.py"), speech),
            (&format!("{site}/pytube/innertube.py"), pytube),
            (&format!("{site}/somepkg/.env"), leak),
        ],
        "vendor the virtualenv",
    );
    for args in [&["scan", "."][..], &["git", "."][..]] {
        let output = run(keyhound_in(repo.path()).args(args).args(["-f", "json"]));
        assert_eq!(code(&output), 1, "{args:?}: {}", stderr(&output));
        let found = crate::common::json_findings(&stdout(&output));
        let paths: Vec<&str> = found.iter().filter_map(|f| f["path"].as_str()).collect();
        assert_eq!(paths, [format!("{site}/somepkg/.env")], "{args:?}");
    }
}

/// Azure OpenAI keys have no prefix: found next to an Azure OpenAI variable or endpoint, in a tree and in history,
/// with the endpoint recorded, and not as a bare hex string elsewhere.
#[test]
fn azure_openai_keys_are_found_by_their_variable_or_endpoint() {
    let key = "751c3dc9560e29871e0dbd9b8e71a1b6";
    let repo = Repo::new();
    repo.commit(
        &[
            (
                ".env",
                &format!("AZURE_OPENAI_ENDPOINT=https://contoso.openai.azure.com/\nAZURE_OPENAI_API_KEY={key}\n"),
            ),
            (
                "client.py",
                &format!(
                    "client = AzureOpenAI(\n    azure_endpoint=\"https://contoso.openai.azure.com/\",\n    \
                     api_key=\"{}\",\n)\n",
                    key.replace('7', "8")
                ),
            ),
            ("build/checksums.txt", &format!("app.tar.gz {key}\n")),
        ],
        "azure",
    );
    for args in [&["scan", "."][..], &["git", "."][..]] {
        let output = run(keyhound_in(repo.path()).args(args).args(["-f", "json"]));
        assert_eq!(code(&output), 1, "{args:?}: {}", stderr(&output));
        let found = json_findings(&stdout(&output));
        let mut paths: Vec<(&str, &str)> = found
            .iter()
            .map(|f| {
                (
                    f["path"].as_str().unwrap_or_default(),
                    f["rule_id"].as_str().unwrap_or_default(),
                )
            })
            .collect();
        paths.sort();
        assert_eq!(
            paths,
            [(".env", "azure-openai-api-key"), ("client.py", "azure-openai-api-key")],
            "{args:?}"
        );
        // The resource endpoint next to each key is recorded with it, in the tree and in history.
        for finding in &found {
            assert_eq!(
                finding["endpoint"], "https://contoso.openai.azure.com",
                "{args:?}: {finding}"
            );
        }
    }
}
