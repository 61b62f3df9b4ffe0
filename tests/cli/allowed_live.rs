//! An allow never hides a live key: with `--verify`, findings that an inline marker or the baseline would hide are
//! probed too (against the fake of OpenAI's API), reported anyway when their key is live (marked with what would
//! have hidden them), hidden as before otherwise, and never revoked.

use serde_json::Value;

use crate::common::{Repo, code, json_findings, keyhound_in, run, stderr, stdout, tree};
use crate::fake_openai::FakeOpenAi;
use crate::revoke::{ADMIN, DEAD, UNIQUE, assert_no_raw_keys, deletes, org};

/// `keyhound ARGS --verify` with OpenAI's API at the fake.
fn verify(dir: &std::path::Path, fake: &FakeOpenAi, args: &[&str]) -> std::process::Output {
    run(keyhound_in(dir)
        .env("KEYHOUND_OPENAI_API_BASE", &fake.base)
        .args(args)
        .args(["--verify", "--verify-timeout", "20"]))
}

fn allowed_of(finding: &Value) -> Option<&str> {
    finding["allowed_but_live"].as_str()
}

#[test]
fn an_inline_marker_does_not_hide_a_live_key() {
    let dir = tree(&[
        ("live.env", format!("API_KEY={UNIQUE} # keyhound:allow\n").as_bytes()),
        ("dead.env", format!("API_KEY={DEAD} # gitleaks:allow\n").as_bytes()),
    ]);
    let fake = FakeOpenAi::start(org());
    // Without --verify both are allowed, and nothing is sent.
    let output = run(keyhound_in(dir.path()).args(["scan", ".", "-f", "json"]));
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(json_findings(&stdout(&output)).is_empty());

    let output = verify(dir.path(), &fake, &["scan", ".", "-f", "json"]);
    assert_eq!(code(&output), 1, "a live key is a finding: {}", stderr(&output));
    let findings = json_findings(&stdout(&output));
    assert_eq!(findings.len(), 1, "only the live key is reported: {findings:?}");
    assert_eq!(findings[0]["path"], "live.env");
    assert_eq!(findings[0]["verification"]["status"], "live");
    assert_eq!(allowed_of(&findings[0]), Some("inline marker `keyhound:allow`"));
    // The dead one stays hidden, and counts as allowed.
    assert!(stderr(&output).contains("[1 allowed inline]"), "{}", stderr(&output));
    assert_eq!(fake.requests().len(), 2, "both keys were probed: {:?}", fake.requests());

    // The terminal report and SARIF say it too.
    let human = verify(dir.path(), &fake, &["scan", "."]);
    assert!(
        stdout(&human).contains("hidden by inline marker `keyhound:allow`, but the key is LIVE"),
        "{}",
        stdout(&human)
    );
    let sarif = verify(dir.path(), &fake, &["scan", ".", "-f", "sarif"]);
    let sarif: Value = serde_json::from_str(&stdout(&sarif)).expect("sarif");
    let result = &sarif["runs"][0]["results"][0];
    assert_eq!(
        result["properties"]["allowed_but_live"],
        "inline marker `keyhound:allow`"
    );
    assert!(
        result["message"]["text"]
            .as_str()
            .unwrap_or_default()
            .contains("but the key is live"),
        "{result}"
    );
    assert_no_raw_keys(&format!("{}{}", stdout(&human), stderr(&human)), "output");
}

#[test]
fn a_baseline_does_not_hide_a_live_key() {
    let dir = tree(&[
        ("a.env", format!("API_KEY={UNIQUE}\n").as_bytes()),
        ("b.env", format!("API_KEY={DEAD}\n").as_bytes()),
    ]);
    let output = run(keyhound_in(dir.path()).args(["scan", ".", "--write-baseline", "baseline.json", "-f", "json"]));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let fake = FakeOpenAi::start(org());
    let output = verify(
        dir.path(),
        &fake,
        &["scan", ".", "--baseline", "baseline.json", "-f", "json"],
    );
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let findings = json_findings(&stdout(&output));
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0]["path"], "a.env");
    assert_eq!(allowed_of(&findings[0]), Some("the baseline"));
    // The dead key stays in the baseline, and the summary counts it there.
    assert!(stderr(&output).contains("1 in baseline"), "{}", stderr(&output));

    // --revoke never acts on what the baseline accepted: it is probed, reported live, and not deleted.
    let output = run(keyhound_in(dir.path())
        .env("KEYHOUND_OPENAI_API_BASE", &fake.base)
        .env("OPENAI_ADMIN_KEY", ADMIN)
        .args([
            "scan",
            ".",
            "--baseline",
            "baseline.json",
            "-f",
            "json",
            "--revoke",
            "--yes",
        ]));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    assert!(deletes(&fake.requests()).is_empty(), "{:?}", deletes(&fake.requests()));
    let findings = json_findings(&stdout(&output));
    assert_eq!(allowed_of(&findings[0]), Some("the baseline"));
}

#[test]
fn a_marker_the_base_already_had_does_not_hide_a_live_key_in_a_range() {
    let repo = Repo::new();
    let base = repo.commit(
        &[
            ("live.env", &format!("API_KEY={UNIQUE} # keyhound:allow\n")),
            ("dead.env", &format!("API_KEY={DEAD} # keyhound:allow\n")),
        ],
        "base",
    );
    repo.commit(
        &[
            ("live.env", &format!("# moved\nAPI_KEY={UNIQUE} # keyhound:allow\n")),
            ("dead.env", &format!("# moved\nAPI_KEY={DEAD} # keyhound:allow\n")),
        ],
        "change",
    );
    let fake = FakeOpenAi::start(org());
    // The base's markers are honoured: without --verify nothing is reported.
    let output = run(keyhound_in(repo.path()).args(["git", "--since", &base, "-f", "json"]));
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let output = verify(repo.path(), &fake, &["git", "--since", &base, "-f", "json"]);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let findings = json_findings(&stdout(&output));
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0]["path"], "live.env");
    assert_eq!(allowed_of(&findings[0]), Some("inline marker `keyhound:allow`"));
    assert!(findings[0]["allow_marker_not_honoured"].is_null(), "{}", findings[0]);
}
