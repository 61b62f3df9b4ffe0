//! `keyhound scan`: findings, formats, redaction, exit codes, walking, inputs that are hard to read.

use std::fs;
use std::io::{BufWriter, Write};

use predicates::prelude::*;
use serde_json::Value;

use crate::common::*;

const DEMO: &str = "fixtures/demo";
const DEMO_PREFIX: &str = "fixtures/demo/";

/// `scan fixtures/demo --format json` plus `extra`: exit code, findings, stderr.
fn scan_demo_json(extra: &[&str]) -> (i32, Vec<Value>, String) {
    let output = run(keyhound().args(["scan", DEMO, "--format", "json"]).args(extra));
    (code(&output), json_findings(&stdout(&output)), stderr(&output))
}

fn find<'a>(findings: &'a [Value], path: &str) -> &'a Value {
    findings
        .iter()
        .find(|f| f["path"] == path)
        .unwrap_or_else(|| panic!("no finding in {path}: {findings:#?}"))
}

/// Checks that `shown` is a redacted form of `secret` as the README documents it (`sk-proj-AbCd…wXyZ`): a head of
/// the secret that keeps its `sk-proj-` prefix, an ellipsis and at most four trailing characters, showing no more
/// than a third of the secret.
fn assert_redacted_form(shown: &str, secret: &str) {
    let (head, tail) = shown
        .split_once('…')
        .unwrap_or_else(|| panic!("{shown:?} has no ellipsis"));
    assert!(secret.starts_with(head) && head.starts_with("sk-proj-"), "{shown:?}");
    assert!(secret.ends_with(tail) && tail.len() <= 4, "{shown:?}");
    assert!(head.len() + tail.len() <= secret.len() / 3, "{shown:?} shows too much");
}

/// The demo's `.env` finding as `--format json` reports it (redacted).
fn env_json_finding() -> Value {
    let (_, findings, _) = scan_demo_json(&[]);
    find(&findings, "fixtures/demo/.env").clone()
}

fn env_expected() -> Expected {
    expected_demo()
        .into_iter()
        .find(|e| e.path == ".env")
        .expect(".env in demo.expected.tsv")
}

// ---------------------------------------------------------------------------------------------------------------
// The JSON report of the demo tree.

#[test]
fn json_findings_equal_the_expected_list() {
    let (code, findings, _) = scan_demo_json(&["--show-secrets"]);
    assert_eq!(code, 1);
    assert_eq!(triples(&findings, DEMO_PREFIX), expected_demo());
    for finding in &findings {
        assert_eq!(finding["redacted"], false, "{finding:#}");
    }
}

#[test]
fn json_paths_are_relative_to_the_current_directory() {
    let demo = demo_copy();
    let output = run(keyhound_in(demo.path()).args(["scan", ".", "--format", "json", "--show-secrets"]));
    assert_eq!(code(&output), 1);
    assert_eq!(triples(&json_findings(&stdout(&output)), ""), expected_demo());
}

#[test]
fn json_report_has_format_version_1_and_names_the_tool() {
    let output = run(keyhound().args(["scan", DEMO, "--format", "json"]));
    let report = json_report(&stdout(&output));
    assert_eq!(report["format_version"], 1);
    assert_eq!(report["tool"]["name"], "keyhound");
}

#[test]
fn secrets_appear_nowhere_without_show_secrets() {
    let expected = expected_demo();
    for format in ["human", "json", "jsonl"] {
        let output = run(keyhound().args(["scan", DEMO, "--format", format]));
        assert_eq!(code(&output), 1, "{format}");
        let (out, err) = (stdout(&output), stderr(&output));
        for e in &expected {
            assert!(
                !out.contains(&e.secret),
                "{format}: stdout shows the secret of {}",
                e.path
            );
            assert!(
                !err.contains(&e.secret),
                "{format}: stderr shows the secret of {}",
                e.path
            );
        }
        let findings = match format {
            "json" => json_findings(&out),
            "jsonl" => jsonl_findings(&out),
            _ => continue,
        };
        assert_eq!(findings.len(), expected.len(), "{format}");
        for finding in &findings {
            assert_eq!(finding["redacted"], true, "{format}: {finding:#}");
            assert!(finding["secret"].as_str().expect("secret").contains('…'), "{finding:#}");
        }
    }
}

#[test]
fn json_gives_line_and_columns_with_exclusive_end() {
    let env = env_expected();
    let finding = env_json_finding();
    assert_eq!(finding["rule_id"], "openai-project-key");
    assert_eq!(finding["line"], 3);
    assert_eq!(finding["column"], 16);
    assert_eq!(finding["end_line"], 3);
    assert_eq!(finding["end_column"], 16 + env.secret.len());
    let redacted = finding["secret"].as_str().expect("secret");
    assert_redacted_form(redacted, &env.secret);
    assert_eq!(finding["context"], format!("OPENAI_API_KEY={redacted}"));
}

#[test]
fn jsonl_is_one_versioned_object_per_line() {
    let output = run(keyhound().args(["scan", DEMO, "--format", "jsonl", "--show-secrets"]));
    assert_eq!(code(&output), 1);
    let text = stdout(&output);
    // One line per finding, and the summary line.
    assert_eq!(text.lines().count(), expected_demo().len() + 1);
    let findings = jsonl_findings(&text);
    for finding in &findings {
        assert!(finding.is_object(), "{finding}");
        assert_eq!(finding["format_version"], 1, "{finding}");
    }
    assert_eq!(triples(&findings, DEMO_PREFIX), expected_demo());
}

// ---------------------------------------------------------------------------------------------------------------
// The human report and colour.

#[test]
fn human_report_shows_location_rule_redacted_key_and_masked_line() {
    let env = env_expected();
    let finding = env_json_finding();
    let redacted = finding["secret"].as_str().expect("secret");
    assert_redacted_form(redacted, &env.secret);
    let output = run(keyhound().args(["scan", DEMO]));
    assert_eq!(code(&output), 1);
    let out = stdout(&output);
    let header = out
        .lines()
        .find(|l| l.starts_with("fixtures/demo/.env:3:16 "))
        .unwrap_or_else(|| panic!("no `path:line:col` header for .env:\n{out}"));
    assert!(header.contains(" openai-project-key "), "{header}");
    assert!(header.ends_with(&format!(" {redacted}")), "{header}");
    assert!(out.contains(&format!("│ OPENAI_API_KEY={redacted}\n")), "{out}");
    assert!(!out.contains(&env.secret));
    let headers = out.lines().filter(|l| !l.starts_with(' ')).count();
    assert_eq!(headers, expected_demo().len(), "one header line per finding:\n{out}");
    assert!(!out.contains('\x1b'), "NO_COLOR output has escape codes:\n{out}");
}

#[test]
fn color_always_gives_escape_codes_even_with_no_color() {
    keyhound()
        .args(["scan", "fixtures/demo/.env", "--color", "always"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("\x1b["));
}

/// Under a terminal (made with `script`), colour is on by default and NO_COLOR turns it off.
#[test]
fn no_color_turns_off_colour_on_a_terminal() {
    if std::process::Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: `script` (util-linux) is not installed, so no terminal can be made");
        return;
    }
    let bin = assert_cmd::cargo::cargo_bin("keyhound");
    let shell = format!("'{}' scan fixtures/demo/.env", bin.display());
    let on_terminal = |no_color: bool| -> String {
        let mut cmd = std::process::Command::new("script");
        cmd.args(["-qec", &shell, "/dev/null"])
            .current_dir(root())
            .env("CI", "1")
            .env_remove("NO_COLOR");
        if no_color {
            cmd.env("NO_COLOR", "1");
        }
        String::from_utf8_lossy(&cmd.output().expect("script runs").stdout).into_owned()
    };
    let coloured = on_terminal(false);
    assert!(coloured.contains("openai-project-key"), "{coloured}");
    assert!(
        coloured.contains('\x1b'),
        "a terminal without NO_COLOR gets colour:\n{coloured}"
    );
    let plain = on_terminal(true);
    assert!(plain.contains("openai-project-key"), "{plain}");
    assert!(!plain.contains('\x1b'), "NO_COLOR output has escape codes:\n{plain}");
}

// ---------------------------------------------------------------------------------------------------------------
// --output

#[test]
fn output_file_gets_the_report_and_stdout_nothing() {
    let dir = tree(&[]);
    let report = dir.path().join("report.json");
    let output = run(keyhound()
        .args(["scan", DEMO, "--format", "json", "--output"])
        .arg(&report));
    assert_eq!(code(&output), 1);
    assert_eq!(stdout(&output), "");
    let text = fs::read_to_string(&report).expect("the report file is written");
    assert_eq!(json_findings(&text).len(), expected_demo().len());
}

#[test]
fn unwritable_output_is_an_error_naming_the_path() {
    let dir = tree(&[]);
    let report = dir.path().join("no-such-dir").join("report.json");
    let output = run(keyhound().args(["scan", DEMO, "--format", "json", "-o"]).arg(&report));
    assert_eq!(code(&output), 2);
    let err = stderr(&output);
    assert!(err.contains(&report.display().to_string()), "{err}");
    assert!(err.contains("error"), "{err}");
}

// ---------------------------------------------------------------------------------------------------------------
// Exit codes.

#[test]
fn clean_tree_exits_0() {
    let dir = tree(&[
        ("README.md", b"nothing to see: sk-...\n"),
        ("src/main.py", b"print('hi')\n"),
    ]);
    keyhound_in(dir.path()).args(["scan", "."]).assert().code(0).stdout("");
}

#[test]
fn exit_code_option_sets_the_findings_code() {
    keyhound().args(["scan", DEMO, "--exit-code", "7"]).assert().code(7);
}

#[test]
fn nonexistent_path_is_an_error_naming_it() {
    keyhound()
        .args(["scan", "no/such/place"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no/such/place"));
}

#[test]
fn nonexistent_path_next_to_findings_reports_the_findings() {
    let output = run(keyhound().args(["scan", "no/such/place", "fixtures/demo/.env", "--format", "json"]));
    assert_eq!(code(&output), 1);
    assert!(stderr(&output).contains("no/such/place"), "{}", stderr(&output));
    assert_eq!(paths(&json_findings(&stdout(&output))), ["fixtures/demo/.env"]);
}

// ---------------------------------------------------------------------------------------------------------------
// What is walked.

#[test]
fn no_ignore_finds_gitignored_files() {
    let (_, default, _) = scan_demo_json(&["--show-secrets"]);
    let ignored = ignored_demo();
    for i in &ignored {
        assert!(
            !default.iter().any(|f| f["secret"] == i.secret.as_str()),
            "{} found without --no-ignore",
            i.path
        );
    }
    let (code, all, _) = scan_demo_json(&["--show-secrets", "--no-ignore"]);
    assert_eq!(code, 1);
    let mut expected = expected_demo();
    expected.extend(ignored);
    expected.sort();
    assert_eq!(triples(&all, DEMO_PREFIX), expected);
}

#[test]
fn dot_ignore_file_is_honoured() {
    let secret = format!("OPENAI_API_KEY={LEGACY_KEY}\n");
    let dir = tree(&[
        (".ignore", b"private/\n"),
        ("private/key.txt", secret.as_bytes()),
        ("public.txt", secret.as_bytes()),
    ]);
    let output = run(keyhound_in(dir.path()).args(["scan", ".", "--format", "json"]));
    assert_eq!(paths(&json_findings(&stdout(&output))), ["public.txt"]);
    let output = run(keyhound_in(dir.path()).args(["scan", ".", "--format", "json", "--no-ignore"]));
    assert_eq!(
        paths(&json_findings(&stdout(&output))),
        ["private/key.txt", "public.txt"]
    );
}

#[test]
fn git_directory_is_never_scanned() {
    let config = format!("[remote \"origin\"]\n\turl = https://{LEGACY_KEY}@example.com/x.git\n");
    let dir = tree(&[
        (".git/config", config.as_bytes()),
        (".git/logs/HEAD", config.as_bytes()),
        ("app.env", format!("KEY={LEGACY_KEY_2}\n").as_bytes()),
    ]);
    for extra in [&[][..], &["--no-ignore"][..]] {
        let output = run(keyhound_in(dir.path())
            .args(["scan", ".", "--format", "json"])
            .args(extra));
        assert_eq!(code(&output), 1, "{extra:?}");
        assert_eq!(paths(&json_findings(&stdout(&output))), ["app.env"], "{extra:?}");
    }
}

#[test]
fn hidden_files_and_directories_are_scanned() {
    let dir = tree(&[
        (".env", format!("OPENAI_API_KEY={LEGACY_KEY}\n").as_bytes()),
        (".config/tool/settings", format!("key: {LEGACY_KEY_2}\n").as_bytes()),
    ]);
    let output = run(keyhound_in(dir.path()).args(["scan", ".", "--format", "json"]));
    assert_eq!(code(&output), 1);
    assert_eq!(
        paths(&json_findings(&stdout(&output))),
        [".config/tool/settings", ".env"]
    );
}

#[test]
fn binary_skip_drops_the_binary_finding() {
    let binary = "fixtures/demo/build/libclient.so";
    let (code, findings, _) = scan_demo_json(&[]);
    assert_eq!(code, 1);
    let finding = find(&findings, binary);
    assert!(
        finding.get("context").is_none(),
        "a binary finding has no context: {finding:#}"
    );

    let (code, skipped, _) = scan_demo_json(&["--binary", "skip"]);
    assert_eq!(code, 1);
    assert!(!skipped.iter().any(|f| f["path"] == binary), "{skipped:#?}");
    assert_eq!(skipped.len(), expected_demo().len() - 1);
}

#[test]
fn binary_finding_has_no_context_line_in_the_human_report() {
    let output = run(keyhound().args(["scan", "fixtures/demo/build/libclient.so"]));
    assert_eq!(code(&output), 1);
    let out = stdout(&output);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.starts_with("fixtures/demo/build/libclient.so:"), "{out}");
}

// ---------------------------------------------------------------------------------------------------------------
// Inputs.

#[test]
fn stdin_is_scanned_with_dash() {
    let output = run(keyhound()
        .args(["scan", "-", "--format", "json", "--show-secrets"])
        .write_stdin(format!("export OPENAI_API_KEY={LEGACY_KEY}\n")));
    assert_eq!(code(&output), 1);
    let findings = json_findings(&stdout(&output));
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0]["path"], "<stdin>");
    assert_eq!(findings[0]["secret"], LEGACY_KEY);
    assert_eq!(findings[0]["line"], 1);
    assert_eq!(findings[0]["column"], 23);
}

#[test]
fn max_file_size_skips_large_files_with_a_note() {
    let (code, findings, err) = scan_demo_json(&["--max-file-size", "1KiB"]);
    assert_eq!(code, 1);
    assert!(!findings.iter().any(|f| f["path"] == "fixtures/demo/web/app.min.js"));
    assert!(findings.iter().any(|f| f["path"] == "fixtures/demo/.env"));
    let note = err
        .lines()
        .find(|l| l.contains("fixtures/demo/web/app.min.js"))
        .unwrap_or_else(|| panic!("no note names app.min.js:\n{err}"));
    assert!(note.contains("max-file-size"), "{note}");
}

#[test]
fn max_file_size_nonsense_is_a_usage_error() {
    keyhound()
        .args(["scan", DEMO, "--max-file-size", "nonsense"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("nonsense").and(predicate::str::contains("--max-file-size")));
}

#[test]
fn key_at_the_end_of_a_50_mb_line_is_found_at_its_column() {
    const SIZE: usize = 50 * 1000 * 1000;
    let dir = tree(&[]);
    let path = dir.path().join("bundle.js");
    let filler = b"lorem ipsum dolor sit amet, ";
    let mut prefix_len = 0;
    {
        let mut out = BufWriter::new(fs::File::create(&path).expect("create big file"));
        while prefix_len < SIZE {
            out.write_all(filler).expect("write");
            prefix_len += filler.len();
        }
        out.write_all(b"k=\"").expect("write");
        prefix_len += 3;
        out.write_all(LEGACY_KEY.as_bytes()).expect("write");
        out.write_all(b"\"; end").expect("write");
        out.flush().expect("flush");
    }
    let output = run(keyhound_in(dir.path()).args(["scan", "bundle.js", "--format", "json", "--show-secrets"]));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let findings = json_findings(&stdout(&output));
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let finding = &findings[0];
    assert_eq!(finding["secret"], LEGACY_KEY);
    assert_eq!(finding["line"], 1);
    assert_eq!(finding["column"], prefix_len + 1);
    assert_eq!(finding["end_column"], prefix_len + 1 + LEGACY_KEY.len());
    let context = finding["context"].as_str().expect("context");
    assert!(context.contains(LEGACY_KEY), "{context}");
    assert!(
        context.len() < 1000,
        "the context is cut to a readable width: {} bytes",
        context.len()
    );
}

#[test]
fn invalid_utf8_and_crlf_around_keys() {
    let mut bytes = b"\xc3(\xff garbage\r\n".to_vec();
    bytes.extend_from_slice(b"KEY=\x80 ");
    bytes.extend_from_slice(LEGACY_KEY.as_bytes());
    bytes.extend_from_slice(b"\xfe\r\n");
    bytes.extend_from_slice(LEGACY_KEY_2.as_bytes());
    bytes.extend_from_slice(b"\r\n\xe2\x82\r\n");
    let dir = tree(&[("mixed.txt", &bytes)]);
    let output = run(keyhound_in(dir.path()).args(["scan", "mixed.txt", "--format", "json", "--show-secrets"]));
    assert_eq!(code(&output), 1);
    let findings = json_findings(&stdout(&output));
    assert_eq!(findings.len(), 2, "{findings:#?}");
    let (first, second) = (&findings[0], &findings[1]);
    assert_eq!(first["secret"], LEGACY_KEY);
    assert_eq!((&first["line"], &first["column"]), (&Value::from(2), &Value::from(7)));
    assert_eq!(first["end_column"], 7 + LEGACY_KEY.len());
    assert_eq!(second["secret"], LEGACY_KEY_2);
    assert_eq!((&second["line"], &second["column"]), (&Value::from(3), &Value::from(1)));
    assert_eq!(second["end_column"], 1 + LEGACY_KEY_2.len());
    for finding in &findings {
        let context = finding["context"].as_str().expect("context");
        assert!(!context.contains('\r') && !context.contains('\n'), "{context:?}");
    }
    assert_eq!(second["context"], LEGACY_KEY_2);
}

#[test]
fn keys_between_nul_bytes_are_found() {
    let mut binary = b"\x7fELF\0\0\x01".to_vec();
    binary.extend_from_slice(LEGACY_KEY.as_bytes());
    binary.extend_from_slice(b"\0\xff\0");
    // A NUL after the first 8 KiB does not make a file binary: its finding keeps a context line.
    let mut late = vec![b'#'; 9000];
    late.extend_from_slice(b"\nx\0");
    late.extend_from_slice(LEGACY_KEY_2.as_bytes());
    late.extend_from_slice(b"\0y\n");
    let dir = tree(&[("blob.bin", &binary), ("late.txt", &late)]);
    let output = run(keyhound_in(dir.path()).args(["scan", ".", "--format", "json", "--show-secrets"]));
    assert_eq!(code(&output), 1);
    let findings = json_findings(&stdout(&output));
    let blob = find(&findings, "blob.bin");
    assert_eq!(blob["secret"], LEGACY_KEY);
    assert_eq!(blob["column"], 8);
    assert!(blob.get("context").is_none(), "{blob:#}");
    let late = find(&findings, "late.txt");
    assert_eq!(late["secret"], LEGACY_KEY_2);
    assert_eq!((&late["line"], &late["column"]), (&Value::from(2), &Value::from(3)));
    let context = late["context"].as_str().expect("a context line");
    assert!(context.contains(LEGACY_KEY_2) && !context.contains('\0'), "{context:?}");

    let output = run(keyhound_in(dir.path()).args(["scan", ".", "--format", "json", "--binary", "skip"]));
    assert_eq!(paths(&json_findings(&stdout(&output))), ["late.txt"]);
}

#[cfg(unix)]
#[test]
fn unreadable_file_is_a_warning_and_the_scan_goes_on() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tree(&[
        ("locked.txt", b"nothing here\n"),
        ("app.env", format!("KEY={LEGACY_KEY}\n").as_bytes()),
    ]);
    let locked = dir.path().join("locked.txt");
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).expect("chmod 000");
    let readable = fs::read(&locked).is_ok();
    let output = run(keyhound_in(dir.path()).args(["scan", ".", "--format", "json"]));
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o644)).expect("chmod back");
    assert_eq!(code(&output), 1);
    assert_eq!(paths(&json_findings(&stdout(&output))), ["app.env"]);
    if readable {
        eprintln!("skipped the warning check: this user (root?) can read a mode-000 file");
        return;
    }
    let err = stderr(&output);
    assert!(
        err.lines().any(|l| l.contains("warning") && l.contains("locked.txt")),
        "{err}"
    );
}

#[cfg(unix)]
#[test]
fn broken_symlink_is_a_warning_and_the_scan_goes_on() {
    let dir = tree(&[("app.env", format!("KEY={LEGACY_KEY}\n").as_bytes())]);
    std::os::unix::fs::symlink("does-not-exist.txt", dir.path().join("dangling-link")).expect("symlink");
    let output = run(keyhound_in(dir.path()).args(["scan", ".", "--format", "json"]));
    assert_eq!(code(&output), 1);
    assert_eq!(paths(&json_findings(&stdout(&output))), ["app.env"]);
    let err = stderr(&output);
    assert!(
        err.lines()
            .any(|l| l.contains("warning") && l.contains("dangling-link")),
        "{err}"
    );
}

#[test]
fn two_keys_joined_by_a_comma_are_two_findings_and_mask_each_other() {
    let dir = tree(&[("keys.txt", format!("keys:{LEGACY_KEY},{PROJECT_KEY}\n").as_bytes())]);
    for show in [false, true] {
        let mut cmd = keyhound_in(dir.path());
        cmd.args(["scan", "keys.txt", "--format", "json"]);
        if show {
            cmd.arg("--show-secrets");
        }
        let output = run(&mut cmd);
        assert_eq!(code(&output), 1);
        let findings = json_findings(&stdout(&output));
        assert_eq!(findings.len(), 2, "{findings:#?}");
        assert_eq!(findings[0]["rule_id"], "openai-legacy-key");
        assert_eq!(findings[1]["rule_id"], "openai-project-key");
        for (finding, own, other) in [
            (&findings[0], LEGACY_KEY, PROJECT_KEY),
            (&findings[1], PROJECT_KEY, LEGACY_KEY),
        ] {
            let context = finding["context"].as_str().expect("context");
            assert!(!context.contains(other), "show={show}: {context}");
            assert_eq!(context.contains(own), show, "show={show}: {context}");
        }
        if !show {
            let out = stdout(&output);
            assert!(!out.contains(LEGACY_KEY) && !out.contains(PROJECT_KEY), "{out}");
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Rule selection.

#[test]
fn only_rules_narrows_the_findings() {
    let (code, findings, _) = scan_demo_json(&["--show-secrets", "--only-rules", "openai-legacy-key"]);
    assert_eq!(code, 1);
    let expected: Vec<Expected> = expected_demo()
        .into_iter()
        .filter(|e| e.rule_id == "openai-legacy-key")
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(triples(&findings, DEMO_PREFIX), expected);
}

#[test]
fn disable_rules_narrows_the_findings() {
    let disabled = ["openai-project-key", "openai-none-key"];
    let (code, findings, _) = scan_demo_json(&["--show-secrets", "--disable-rules", &disabled.join(",")]);
    assert_eq!(code, 1);
    let expected: Vec<Expected> = expected_demo()
        .into_iter()
        .filter(|e| !disabled.contains(&e.rule_id.as_str()))
        .collect();
    assert!(expected.len() < expected_demo().len());
    assert_eq!(triples(&findings, DEMO_PREFIX), expected);
}

#[test]
fn unknown_rule_id_is_an_error_naming_it() {
    for option in ["--only-rules", "--disable-rules"] {
        keyhound()
            .args(["scan", DEMO, option, "openai-legacy-key,no-such-rule-id"])
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::contains("no-such-rule-id"));
    }
}

/// A named pipe is skipped with a warning instead of blocking the scan on a read that never ends.
#[test]
fn a_named_pipe_is_a_warning_not_a_hang() {
    let dir = tree(&[("a.env", format!("KEY={LEGACY_KEY}\n").as_bytes())]);
    let fifo = dir.path().join("pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !made {
        eprintln!("mkfifo is not available; skipping");
        return;
    }
    let output = run(keyhound_in(dir.path())
        .args(["scan", "."])
        .timeout(std::time::Duration::from_secs(20)));
    assert_eq!(code(&output), 1);
    let err = stderr(&output);
    assert!(err.contains("pipe: not a regular file"), "{err}");
}

/// `--threads` takes 1 to 512; a tree scan with any number finds what it finds with the default. A number
/// past the limit is refused at once, before a thread starts (99,999,999 used to start threads for good).
#[test]
fn threads_are_one_to_the_limit_and_change_nothing_found() {
    for command in ["scan", "git", "image"] {
        for (threads, error) in [
            ("0", "--threads must be at least 1"),
            ("513", "--threads must be at most 512 (not 513)"),
            ("99999999", "--threads must be at most 512"),
        ] {
            let output = run(keyhound()
                .args([command, DEMO, "--threads", threads])
                .timeout(std::time::Duration::from_secs(20)));
            assert_eq!(code(&output), 2, "{command} --threads {threads}");
            assert!(stderr(&output).contains(error), "{}", stderr(&output));
        }
    }
    let (code_default, default, _) = scan_demo_json(&[]);
    for threads in ["1", "3"] {
        let (code_n, found, _) = scan_demo_json(&["--threads", threads]);
        assert_eq!((code_n, found), (code_default, default.clone()), "--threads {threads}");
    }
}
