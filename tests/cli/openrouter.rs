//! `keyhound revoke` and `scan --revoke` for OpenRouter keys, against the fake of OpenRouter's API on 127.0.0.1
//! (see `fake_openrouter.rs`, checked against `tests/openapi/openrouter-keys.json` here). Nothing here ever
//! reaches the internet.
//!
//! Every test checks what the fake received: which requests, with which bearer token, and what was disabled.

use std::fs;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{code, keyhound_in, run, stderr, stdout};
use crate::fake_openrouter::{FakeOpenRouter, Fault, FaultKind, OrAccount, OrKey, Recorded, label, sha256_hex};
use crate::revoke::{assert_no_raw_keys, block, tree_with, write_report};

// Fake keys of OpenRouter's published shape (`sk-or-v1-` + 64 lower-case hex characters, made with Python's
// `secrets`), never issued by anyone.
/// Leaked, listed with its SHA-256 as its hash: the one to disable.
const UNIQUE: &str = "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";
/// Leaked, listed with a hash that is not its SHA-256: matched by its label only.
const LABEL_ONLY: &str = "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";
/// Live, of another account; its label collides with the account's `victim` key.
const FOREIGN: &str = "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";
/// Leaked, already disabled (listed as disabled): probes 401.
const DEAD: &str = "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";
/// Leaked; stays live for a while after it is disabled.
const STUBBORN: &str = "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";
/// Leaked; someone deletes it just before keyhound's PATCH.
const VANISHED: &str = "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";
/// Leaked; the fake's error messages echo it.
const ECHOED: &str = "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";
/// The management key in OPENROUTER_PROVISIONING_KEY: never leaked.
const MANAGEMENT: &str = "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";
/// A management key the fake does not know.
const WRONG_MANAGEMENT: &str = "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";
/// The hash `LABEL_ONLY` is listed with (the SHA-256 of nothing keyhound knows).
const OTHER_HASH: &str = "5bb0781778396ba375d88637f50e4a7c21fc9acfe8df20626ae74ea054a0a676";

const ALL: &[&str] = &[
    UNIQUE,
    LABEL_ONLY,
    FOREIGN,
    DEAD,
    STUBBORN,
    VANISHED,
    ECHOED,
    MANAGEMENT,
    WRONG_MANAGEMENT,
];

const PROBE: &str = "/api/v1/key";
const BODY: &str = r#"{"disabled":true}"#;
const KEYS_URL: &str = "https://openrouter.ai/settings/keys";

/// The listing's URL at `offset`.
fn listing(offset: usize) -> String {
    format!("/api/v1/keys?include_disabled=true&offset={offset}")
}

/// A key of the same shape with the first 3 and last 4 hex characters of `key` (so the same label), `fill`
/// between.
fn look_alike(key: &str, fill: char) -> String {
    let middle: String = std::iter::repeat_n(fill, key.len() - 16).collect();
    format!("{}{middle}{}", &key[..12], &key[key.len() - 4..])
}

/// How keyhound shows `key` (`sk-or-v1-1ced…0c64`).
fn shown(key: &str) -> String {
    format!("{}…{}", &key[..13], &key[key.len() - 4..])
}

/// A row of the closing table.
fn row(label: &str, n: usize) -> String {
    format!("    {label:<40} {n}\n")
}

/// The account: the unique key, a label-only match, a look-alike of a foreign key, a disabled key, a stubborn
/// key, one that vanishes, one whose errors echo it, and a key in another workspace.
fn account() -> OrAccount {
    let mut account = OrAccount::new(MANAGEMENT);
    account.keys = vec![
        OrKey::new("prod", UNIQUE),
        OrKey::new("label only", LABEL_ONLY).with_hash(OTHER_HASH),
        OrKey::new("victim", &look_alike(FOREIGN, '0')),
        OrKey::new("old", DEAD).disabled(),
        OrKey::new("stubborn", STUBBORN),
        OrKey::new("vanished", VANISHED),
        OrKey::new("echoed", ECHOED),
        OrKey::new("elsewhere", &look_alike(UNIQUE, '7')).in_workspace(crate::fake_openrouter::OTHER_WORKSPACE),
    ];
    account.foreign_live = vec![FOREIGN.to_string()];
    account
}

/// A tree with each key in its own `.env` file, and its redacted report in `report.json`.
fn reported(keys: &[&str]) -> tempfile::TempDir {
    let dir = tree_with(keys);
    write_report(dir.path());
    assert_clean(
        &fs::read_to_string(dir.path().join("report.json")).expect("report"),
        "the report",
    );
    dir
}

/// `keyhound revoke --from report.json --confirm-timeout 2 --audit-log audit.jsonl EXTRA` against `fake`, with
/// `management` in OPENROUTER_PROVISIONING_KEY.
fn revoke(dir: &Path, fake: &FakeOpenRouter, management: Option<&str>, extra: &[&str]) -> Output {
    let mut cmd = keyhound_in(dir);
    cmd.env("KEYHOUND_OPENROUTER_API_BASE", &fake.base)
        .args([
            "revoke",
            "--from",
            "report.json",
            "--confirm-timeout",
            "2",
            "--audit-log",
            "audit.jsonl",
        ])
        .args(extra);
    if let Some(management) = management {
        cmd.env("OPENROUTER_PROVISIONING_KEY", management);
    }
    run(&mut cmd)
}

fn assert_clean(text: &str, what: &str) {
    assert_no_raw_keys(text, what);
    for key in ALL {
        assert!(!text.contains(key), "{what} holds the raw key {}…:\n{text}", &key[..16]);
    }
    for key in ALL {
        assert!(
            !text.contains(&key[9..]),
            "{what} holds the random part of {}…:\n{text}",
            &key[..16]
        );
    }
}

fn assert_output_clean(output: &Output) {
    assert_clean(&stdout(output), "stdout");
    assert_clean(&stderr(output), "stderr");
}

/// The audit log's lines (checked free of raw keys).
fn audit(dir: &Path) -> Vec<Value> {
    let text = fs::read_to_string(dir.join("audit.jsonl")).expect("audit log");
    assert_clean(&text, "the audit log");
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect()
}

/// Where each key went: the management key only to `/api/v1/keys...` (and to its probe when it leaked), every
/// leaked key only to its probe (`GET /api/v1/key`); every request with a bearer token.
fn assert_routing(requests: &[Recorded]) {
    for request in requests {
        let key = request.bearer();
        assert!(
            request.authorization.as_deref() == Some(&format!("Bearer {key}")) && !key.is_empty(),
            "{request:?}"
        );
        if (key == MANAGEMENT || key == WRONG_MANAGEMENT) && request.url != PROBE {
            assert!(
                request.path() == "/api/v1/keys" || request.path().starts_with("/api/v1/keys/"),
                "the management key went to {}",
                request.url
            );
        } else {
            assert!(ALL.contains(&key), "an unexpected key on {}", request.url);
            assert_eq!(
                (request.method.as_str(), request.url.as_str()),
                ("GET", PROBE),
                "a leaked key went elsewhere than its probe"
            );
        }
    }
}

fn count(requests: &[Recorded], url: &str) -> usize {
    requests.iter().filter(|r| r.url == url).count()
}

fn probes_of(requests: &[Recorded], key: &str) -> usize {
    requests.iter().filter(|r| r.url == PROBE && r.bearer() == key).count()
}

/// The PATCHes received, as (path, body).
fn patches(fake: &FakeOpenRouter) -> Vec<(String, String)> {
    fake.changes()
        .into_iter()
        .map(|r| {
            assert_eq!(r.method, "PATCH", "keyhound only PATCHes: {r:?}");
            (r.url, r.body)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------------------------

#[test]
fn openrouter_dry_run_plans_the_proven_key_and_touches_nothing() {
    let dir = reported(&[UNIQUE, LABEL_ONLY, FOREIGN, DEAD]);
    let fake = FakeOpenRouter::start(account());
    let output = revoke(dir.path(), &fake, Some(MANAGEMENT), &[]);
    let out = stdout(&output);
    assert_eq!(
        code(&output),
        1,
        "two keys are left to a person\n{out}\n{}",
        stderr(&output)
    );
    assert_output_clean(&output);
    assert!(fake.changes().is_empty(), "a dry run changed: {:?}", fake.changes());
    let requests = fake.requests();
    assert_routing(&requests);
    assert_eq!(count(&requests, &listing(0)), 1, "one page of 8 keys");
    assert_eq!(
        requests.iter().filter(|r| r.bearer() == MANAGEMENT).count(),
        1,
        "the management key went only to the listing"
    );
    for key in [UNIQUE, LABEL_ONLY, FOREIGN, DEAD] {
        assert_eq!(probes_of(&requests, key), 1, "each key is probed once");
    }

    let hash = sha256_hex(UNIQUE);
    let unique = block(&out, &shown(UNIQUE));
    assert!(
        unique.contains("status:  live: accepted by GET /api/v1/key (200)"),
        "{unique}"
    );
    assert!(
        unique.contains(&format!("match:   {hash} \"prod\" [{}]", label(UNIQUE))),
        "{unique}"
    );
    assert!(
        unique.contains("proof:   the listed key's hash is the SHA-256 of the leaked key: it is that key"),
        "{unique}"
    );
    assert!(
        unique.contains(&format!("plan:    disable API key {hash} (dry run")),
        "{unique}"
    );
    // Matched by its label alone: the listed hash is not the key's SHA-256, so nothing is proven.
    let label_only = block(&out, &shown(LABEL_ONLY));
    assert!(
        label_only.contains(&format!("match:   {OTHER_HASH} \"label only\"")),
        "{label_only}"
    );
    assert!(label_only.contains("proof:   none:"), "{label_only}");
    assert!(
        label_only.contains("action:  none: matched, not proven; check it and disable it by hand at"),
        "{label_only}"
    );
    assert!(!label_only.contains("plan:"), "{label_only}");
    // Another account's live key whose label is the account's `victim`'s: never to be disabled.
    let foreign = block(&out, &shown(FOREIGN));
    assert!(foreign.contains("status:  live"), "{foreign}");
    assert!(foreign.contains("\"victim\""), "{foreign}");
    assert!(foreign.contains("matched, not proven"), "{foreign}");
    assert!(!foreign.contains("plan:"), "{foreign}");
    let dead = block(&out, &shown(DEAD));
    assert!(
        dead.contains("status:  dead: rejected by GET /api/v1/key as invalid (401)"),
        "{dead}"
    );
    assert!(dead.contains("action:  none: the key is already dead"), "{dead}");

    assert!(out.contains(&row("planned (dry run)", 1)), "{out}");
    assert!(out.contains(&row("already dead", 1)), "{out}");
    assert!(out.contains(&row("needs a person", 2)), "{out}");
    assert!(
        out.contains(
            "keyhound: revoke summary: 4 OpenRouter key(s): 0 revoked, 1 planned, 1 already dead, 2 not revoked \
             (not proven: 2); dry run: nothing was disabled"
        ),
        "{out}"
    );

    let lines = audit(dir.path());
    assert!(lines.iter().all(|l| l["dry_run"] == true), "{lines:?}");
    let about_keys: Vec<&Value> = lines.iter().filter(|l| !l["key"].is_null()).collect();
    assert!(
        about_keys.len() >= 6 && about_keys.iter().all(|l| l["provider"] == "openrouter"),
        "every line about a key names the provider: {lines:?}"
    );
    assert_eq!(lines.iter().filter(|l| l["action"] == "probe").count(), 4);
    let planned = lines
        .iter()
        .find(|l| l["action"] == "match" && l["outcome"] == "planned")
        .expect("the plan's line");
    assert_eq!(
        (
            planned["key_id"].as_str(),
            planned["proof"].as_str(),
            planned["key"].as_str()
        ),
        (Some(hash.as_str()), Some("listed-digest"), Some(shown(UNIQUE).as_str()))
    );
    assert_eq!(planned["project_id"], crate::fake_openrouter::DEFAULT_WORKSPACE);
    let not_proven: Vec<&Value> = lines
        .iter()
        .filter(|l| l["action"] == "match" && l["outcome"] == "not-proven")
        .collect();
    assert_eq!(not_proven.len(), 2, "{lines:?}");
    assert!(
        lines
            .iter()
            .all(|l| !l["action"].as_str().unwrap_or_default().starts_with("disable")),
        "{lines:?}"
    );
}

#[test]
fn openrouter_yes_disables_only_the_proven_key_and_confirms_it() {
    let dir = reported(&[UNIQUE, LABEL_ONLY, FOREIGN, DEAD]);
    let fake = FakeOpenRouter::start(account());
    let output = revoke(dir.path(), &fake, Some(MANAGEMENT), &["--yes"]);
    let out = stdout(&output);
    assert_eq!(
        code(&output),
        1,
        "two keys are left to a person\n{out}\n{}",
        stderr(&output)
    );
    assert_output_clean(&output);
    let hash = sha256_hex(UNIQUE);
    assert_eq!(
        patches(&fake),
        vec![(format!("/api/v1/keys/{hash}"), BODY.to_string())],
        "one PATCH, of the proven key, with exactly {BODY}"
    );
    assert_eq!(fake.disabled(UNIQUE), Some(true));
    assert_eq!(
        fake.disabled(LABEL_ONLY),
        Some(false),
        "a label match alone is not acted on"
    );
    assert_eq!(
        fake.disabled(&look_alike(FOREIGN, '0')),
        Some(false),
        "the look-alike is not disabled"
    );
    let requests = fake.requests();
    assert_routing(&requests);
    let patch = requests.iter().position(|r| r.method == "PATCH").expect("a PATCH");
    assert!(
        requests[patch + 1..]
            .iter()
            .any(|r| r.bearer() == UNIQUE && r.url == PROBE),
        "the key is probed after it is disabled"
    );
    let unique = block(&out, &shown(UNIQUE));
    assert!(unique.contains(&format!("disabled: API key {hash}")), "{unique}");
    assert!(
        unique.contains("result:  revoked: the key is now rejected (401)"),
        "{unique}"
    );
    for key in [LABEL_ONLY, FOREIGN] {
        assert!(block(&out, &shown(key)).contains("matched, not proven"), "{out}");
    }
    assert!(out.contains("--yes: matched keys are disabled"), "{out}");

    let lines = audit(dir.path());
    assert!(lines.iter().all(|l| l["dry_run"] == false));
    let outcome = |action: &str| {
        lines
            .iter()
            .find(|l| l["action"] == action)
            .unwrap_or_else(|| panic!("no {action} line: {lines:?}"))
    };
    assert_eq!(outcome("disable-attempt")["outcome"], "sent");
    assert_eq!(outcome("disable-attempt")["key_id"], hash.as_str());
    assert_eq!(outcome("disable")["outcome"], "disabled");
    assert_eq!(outcome("disable")["http_status"], 200);
    assert_eq!(outcome("confirm")["outcome"], "revoked");
    assert!(
        lines
            .iter()
            .all(|l| l["provider"].is_null() || l["provider"] == "openrouter")
    );

    // Alone, the proven key is handled: exit 0.
    let dir = reported(&[UNIQUE]);
    let fake = FakeOpenRouter::start(account());
    let output = revoke(dir.path(), &fake, Some(MANAGEMENT), &["--yes"]);
    assert_eq!(code(&output), 0, "{}", stdout(&output));
    assert_eq!(fake.disabled(UNIQUE), Some(true));
}

#[test]
fn openrouter_scan_revoke_yes_reports_the_key_dead() {
    let dir = tree_with(&[UNIQUE]);
    let fake = FakeOpenRouter::start(account());
    let output = run(keyhound_in(dir.path())
        .env("KEYHOUND_OPENROUTER_API_BASE", &fake.base)
        .env("OPENROUTER_PROVISIONING_KEY", MANAGEMENT)
        .args([
            "scan",
            ".",
            "--revoke",
            "--yes",
            "--confirm-timeout",
            "2",
            "--format",
            "json",
        ]));
    assert_eq!(code(&output), 1, "the scan's exit code: findings\n{}", stderr(&output));
    assert_output_clean(&output);
    assert_eq!(fake.disabled(UNIQUE), Some(true));
    let err = stderr(&output);
    assert!(
        err.contains(&format!("disabled: API key {}", sha256_hex(UNIQUE))),
        "{err}"
    );
    let findings = crate::common::json_findings(&stdout(&output));
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0]["verification"]["status"], "dead", "{}", findings[0]);
    let reason = findings[0]["verification"]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("revoked by keyhound") && reason.contains("disabled"),
        "{reason}"
    );
}

#[test]
fn openrouter_a_key_still_live_after_disabling_is_a_loud_warning() {
    let dir = reported(&[STUBBORN]);
    let mut account = account();
    if let Some(key) = account.keys.iter_mut().find(|k| k.value == STUBBORN) {
        key.live_probes_after_disable = 1000;
    }
    let fake = FakeOpenRouter::start(account);
    let output = revoke(dir.path(), &fake, Some(MANAGEMENT), &["--yes"]);
    let (out, err) = (stdout(&output), stderr(&output));
    assert_eq!(code(&output), 1, "{out}\n{err}");
    assert_output_clean(&output);
    assert_eq!(fake.disabled(STUBBORN), Some(true));
    assert!(out.contains("WARNING: THE KEY IS STILL ACCEPTED"), "{out}");
    assert!(err.contains("STILL ACCEPTED by OpenRouter"), "{err}");
    assert!(out.contains("still live: 1"), "{out}");
    assert!(probes_of(&fake.requests(), STUBBORN) >= 3, "probed again with backoff");
    let lines = audit(dir.path());
    assert!(
        lines
            .iter()
            .any(|l| l["action"] == "confirm" && l["outcome"] == "still-live"),
        "{lines:?}"
    );
}

#[test]
fn openrouter_a_key_deleted_first_is_already_gone() {
    let dir = reported(&[VANISHED]);
    let mut account = account();
    if let Some(key) = account.keys.iter_mut().find(|k| k.value == VANISHED) {
        key.vanishes_before_update = true;
    }
    let fake = FakeOpenRouter::start(account);
    let output = revoke(dir.path(), &fake, Some(MANAGEMENT), &["--yes"]);
    let out = stdout(&output);
    assert_eq!(code(&output), 0, "{out}\n{}", stderr(&output));
    assert_output_clean(&output);
    assert_eq!(patches(&fake).len(), 1, "one PATCH, answered 404, not retried");
    assert_eq!(fake.disabled(VANISHED), None, "deleted by someone else");
    let vanished = block(&out, &shown(VANISHED));
    assert!(
        vanished.contains("disabled: already gone (404: Resource not found)"),
        "{vanished}"
    );
    assert!(vanished.contains("result:  already gone"), "{vanished}");
    let lines = audit(dir.path());
    assert!(
        lines
            .iter()
            .any(|l| l["action"] == "disable" && l["outcome"] == "gone" && l["http_status"] == 404),
        "{lines:?}"
    );
}

/// 250 keys of the default workspace before the account's (three pages of 100), with the stubborn key disabled
/// but still answering (listed only with `include_disabled=true`).
fn big_account() -> OrAccount {
    let mut account = account();
    let filler: Vec<OrKey> = (0..250)
        .map(|i| {
            OrKey::new(
                &format!("fill {i}"),
                &format!("sk-or-v1-{}", sha256_hex(&format!("fill {i}"))),
            )
        })
        .collect();
    let mut keys = filler;
    let mut slow = OrKey::new("disabled, still answering", STUBBORN).disabled();
    slow.live_probes_after_disable = 1000;
    keys.push(slow);
    keys.extend(account.keys.into_iter().filter(|k| k.value != STUBBORN));
    account.keys = keys;
    account
}

#[test]
fn openrouter_every_page_is_read_disabled_keys_included() {
    let dir = reported(&[UNIQUE, STUBBORN]);
    let fake = FakeOpenRouter::start(big_account());
    let output = revoke(dir.path(), &fake, Some(MANAGEMENT), &[]);
    let out = stdout(&output);
    assert_eq!(code(&output), 0, "{out}\n{}", stderr(&output));
    assert_output_clean(&output);
    let requests = fake.requests();
    assert_routing(&requests);
    let listings: Vec<&str> = requests
        .iter()
        .filter(|r| r.path() == "/api/v1/keys")
        .map(|r| r.url.as_str())
        .collect();
    assert_eq!(
        listings,
        vec![listing(0), listing(100), listing(200)],
        "pages of 100 until a short one"
    );
    assert!(
        block(&out, &shown(UNIQUE)).contains(&format!("plan:    disable API key {}", sha256_hex(UNIQUE))),
        "{out}"
    );
    // The disabled key is found because disabled keys are listed: keyhound plans to disable it again.
    let stubborn = block(&out, &shown(STUBBORN));
    assert!(stubborn.contains("status:  live"), "{stubborn}");
    assert!(stubborn.contains("\"disabled, still answering\""), "{stubborn}");
    assert!(stubborn.contains("(disabled)"), "{stubborn}");
    assert!(stubborn.contains("plan:    disable API key"), "{stubborn}");
    assert!(fake.changes().is_empty());
}

#[test]
fn openrouter_a_listing_that_repeats_its_page_stops_with_nothing_disabled() {
    let dir = reported(&[UNIQUE]);
    let mut account = big_account();
    // The unique key first: on the page served again and again.
    let unique = account
        .keys
        .iter()
        .position(|k| k.value == UNIQUE)
        .expect("the unique key");
    let key = account.keys.remove(unique);
    account.keys.insert(0, key);
    account.repeat_page = true;
    let fake = FakeOpenRouter::start(account);
    let output = revoke(dir.path(), &fake, Some(MANAGEMENT), &["--yes"]);
    let err = stderr(&output);
    assert_eq!(code(&output), 2, "{}\n{err}", stdout(&output));
    assert_output_clean(&output);
    assert!(
        err.contains("a full page of keys already listed (a pagination loop): stopped"),
        "{err}"
    );
    assert!(fake.changes().is_empty(), "nothing is disabled: {:?}", fake.changes());
    assert_eq!(fake.disabled(UNIQUE), Some(false));
    let listings = fake.requests().iter().filter(|r| r.path() == "/api/v1/keys").count();
    assert_eq!(listings, 2, "stopped at the first repeated page");
}

#[test]
fn openrouter_a_rejected_management_key_stops_the_run() {
    let dir = reported(&[UNIQUE, LABEL_ONLY]);
    let fake = FakeOpenRouter::start(account());
    let output = revoke(dir.path(), &fake, Some(WRONG_MANAGEMENT), &["--yes"]);
    let err = stderr(&output);
    assert_eq!(code(&output), 2, "{}\n{err}", stdout(&output));
    assert_output_clean(&output);
    assert!(
        err.contains(&format!(
            "OPENROUTER_PROVISIONING_KEY was rejected (401 on GET {}): Invalid management key",
            listing(0)
        )),
        "{err}"
    );
    assert!(err.contains(KEYS_URL), "{err}");
    assert!(fake.changes().is_empty());
    let requests = fake.requests();
    assert_routing(&requests);
    let sent: Vec<&str> = requests
        .iter()
        .filter(|r| r.bearer() == WRONG_MANAGEMENT)
        .map(|r| r.url.as_str())
        .collect();
    assert_eq!(sent, vec![listing(0)], "only the first listing, not retried");

    // Without any management key: a clear error, and no key is sent anywhere.
    let fake = FakeOpenRouter::start(account());
    let output = revoke(dir.path(), &fake, None, &["--yes"]);
    assert_eq!(code(&output), 2);
    assert!(
        stderr(&output).contains("OPENROUTER_PROVISIONING_KEY is not set"),
        "{}",
        stderr(&output)
    );
    assert!(fake.requests().is_empty(), "{:?}", fake.requests());
}

#[test]
fn openrouter_rate_limits_and_server_errors_are_retried() {
    let dir = reported(&[UNIQUE]);
    let mut account = account();
    account.faults = vec![
        Fault::new("GET", "/api/v1/keys?", FaultKind::RateLimit { retry_after: 1 }, 2),
        Fault::new("PATCH", "/api/v1/keys/", FaultKind::ServerError, 1),
    ];
    let fake = FakeOpenRouter::start(account);
    let started = Instant::now();
    let output = revoke(dir.path(), &fake, Some(MANAGEMENT), &["--yes"]);
    let elapsed = started.elapsed();
    let out = stdout(&output);
    assert_eq!(code(&output), 0, "{out}\n{}", stderr(&output));
    assert_output_clean(&output);
    let requests = fake.requests();
    assert_eq!(count(&requests, &listing(0)), 3, "two 429s, then the page");
    assert_eq!(patches(&fake).len(), 2, "a 500, then the PATCH");
    assert_eq!(fake.disabled(UNIQUE), Some(true));
    assert!(out.contains("result:  revoked: the key is now rejected (401)"), "{out}");
    assert!(
        elapsed >= Duration::from_secs(2),
        "Retry-After (1 s) was waited twice: {elapsed:?}"
    );
}

#[test]
fn openrouter_echoed_keys_never_reach_the_output_or_the_log() {
    // A probe that keeps failing with the leaked key echoed, and a PATCH that keeps failing with the management
    // key echoed.
    let dir = reported(&[ECHOED]);
    let mut account = account();
    account.echo_key = true;
    account.faults = vec![
        Fault::new("GET", PROBE, FaultKind::ServerError, 1000),
        Fault::new("PATCH", "/api/v1/keys/", FaultKind::ServerError, 1000),
    ];
    let fake = FakeOpenRouter::start(account);
    let output = revoke(dir.path(), &fake, Some(MANAGEMENT), &["--yes"]);
    let out = stdout(&output);
    assert_eq!(code(&output), 1, "{out}\n{}", stderr(&output));
    assert_output_clean(&output);
    let echoed = block(&out, &shown(ECHOED));
    assert!(echoed.contains("status:  unknown"), "{echoed}");
    assert!(
        echoed.contains("Internal Server Error (Authorization: Bearer"),
        "{echoed}"
    );
    assert!(
        echoed.contains(&format!(
            "disabled: no: HTTP 500: Internal Server Error (Authorization: Bearer {}",
            shown(MANAGEMENT)
        )),
        "the echoed management key, redacted: {echoed}"
    );
    assert!(
        echoed.contains(&format!("action:  disable it by hand at {KEYS_URL}")),
        "{echoed}"
    );
    assert_eq!(fake.disabled(ECHOED), Some(false));
    let lines = audit(dir.path());
    assert!(
        lines
            .iter()
            .any(|l| l["action"] == "disable" && l["outcome"] == "failed" && l["http_status"] == 500),
        "{lines:?}"
    );

    // A listing that keeps failing, with the management key echoed in the error keyhound stops with.
    let mut account = self::account();
    account.echo_key = true;
    account.faults = vec![Fault::new("GET", "/api/v1/keys?", FaultKind::ServerError, 1000)];
    let fake = FakeOpenRouter::start(account);
    let output = revoke(dir.path(), &fake, Some(MANAGEMENT), &["--yes"]);
    assert_eq!(code(&output), 2);
    assert_output_clean(&output);
    assert!(
        stderr(&output).contains(&format!(
            "failed with HTTP 500: Internal Server Error (Authorization: Bearer {})",
            shown(MANAGEMENT)
        )),
        "{}",
        stderr(&output)
    );
    assert_eq!(count(&fake.requests(), &listing(0)), 4, "tried 4 times");
    assert!(fake.changes().is_empty());

    // A rejected management key, echoed in the error keyhound stops with.
    let mut account = self::account();
    account.echo_key = true;
    let fake = FakeOpenRouter::start(account);
    let output = revoke(dir.path(), &fake, Some(WRONG_MANAGEMENT), &[]);
    assert_eq!(code(&output), 2);
    assert_output_clean(&output);
    assert!(
        stderr(&output).contains("Invalid management key (Authorization: Bearer"),
        "{}",
        stderr(&output)
    );
    audit(dir.path());
}

#[test]
fn openrouter_a_key_proven_by_its_hash_is_disabled_though_another_shares_its_label() {
    // Two listed keys show the unique key's label; only one of them is listed with its SHA-256.
    let dir = reported(&[UNIQUE]);
    let mut account = account();
    account.keys.push(OrKey::new("twin", &look_alike(UNIQUE, 'e')));
    let fake = FakeOpenRouter::start(account);
    let output = revoke(dir.path(), &fake, Some(MANAGEMENT), &["--yes"]);
    let out = stdout(&output);
    assert_eq!(code(&output), 0, "{out}\n{}", stderr(&output));
    assert_output_clean(&output);
    let hash = sha256_hex(UNIQUE);
    assert_eq!(
        patches(&fake),
        vec![(format!("/api/v1/keys/{hash}"), BODY.to_string())],
        "the proven key, not its twin"
    );
    assert_eq!(fake.disabled(&look_alike(UNIQUE, 'e')), Some(false));
    let unique = block(&out, &shown(UNIQUE));
    assert!(unique.contains(&format!("match:   {hash} \"prod\"")), "{unique}");
    assert!(unique.contains("result:  revoked"), "{unique}");
}

#[test]
fn openrouter_a_leaked_management_key_is_left_to_a_person() {
    let dir = reported(&[MANAGEMENT, UNIQUE]);
    let fake = FakeOpenRouter::start(account());
    let output = revoke(dir.path(), &fake, Some(MANAGEMENT), &["--yes"]);
    let out = stdout(&output);
    assert_eq!(code(&output), 1, "{out}\n{}", stderr(&output));
    assert_output_clean(&output);
    let hash = sha256_hex(UNIQUE);
    assert_eq!(
        patches(&fake),
        vec![(format!("/api/v1/keys/{hash}"), BODY.to_string())],
        "only the unique key is disabled"
    );
    let management = block(&out, &shown(MANAGEMENT));
    assert!(management.contains("status:  live"), "{management}");
    assert!(
        management.contains("this is the admin key in OPENROUTER_PROVISIONING_KEY itself"),
        "{management}"
    );
    assert!(
        management.contains(&format!("disable it by hand at {KEYS_URL}")),
        "{management}"
    );
    // Handled last: the unique key's block comes first.
    assert!(out.find(&shown(UNIQUE)) < out.find(&shown(MANAGEMENT)), "{out}");
}

// ---------------------------------------------------------------------------------------------------------------
// The fake follows the vendored description.

/// The JSON pointer (in `tests/openapi/openrouter-keys.json`) of the schema of `operation`'s `status` answer.
fn response_schema(path: &str, method: &str, status: u16) -> String {
    format!(
        "/paths/{}/{method}/responses/{status}/content/application~1json/schema",
        path.replace('~', "~0").replace('/', "~1")
    )
}

/// Validates `(schema pointer, body)` pairs against `tests/openapi/openrouter-keys.json`, with Python's
/// `jsonschema`: each body against the schema at its JSON pointer, `$ref`s resolved in the whole file.
fn assert_bodies_match_the_description(bodies: &[(String, Value)]) {
    let dir = tempfile::TempDir::new().expect("temp dir");
    let file = dir.path().join("bodies.json");
    let list: Vec<Value> = bodies.iter().map(|(pointer, body)| json!([pointer, body])).collect();
    fs::write(&file, Value::Array(list).to_string()).expect("write");
    let script = r##"
import json, sys
import jsonschema
spec = json.load(open(sys.argv[1]))
failures = []
for pointer, body in json.load(open(sys.argv[2])):
    # The whole file is the root (so `#/components/...` resolves); the schema is the one at the pointer.
    schema = dict(spec)
    schema["$ref"] = "#" + pointer
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    # The pointer must name a schema of the file (a KeyError otherwise).
    target = spec
    for part in pointer.strip("/").split("/"):
        target = target[part.replace("~1", "/").replace("~0", "~")]
    assert isinstance(target, dict), pointer
    for error in validator.iter_errors(body):
        failures.append(f"{pointer}: {list(error.absolute_path)}: {error.message}")
print("\n".join(failures))
sys.exit(1 if failures else 0)
"##;
    let output = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(crate::common::root().join("tests/openapi/openrouter-keys.json"))
        .arg(&file)
        .output()
        .expect("python3 with jsonschema (installed by .ci/run)");
    assert!(
        output.status.success(),
        "the fake's answers do not match the vendored description:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// What the fake answers: status, `Retry-After`, body.
struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: Value,
}

fn call(fake: &FakeOpenRouter, method: &str, path: &str, key: Option<&str>, body: Option<&str>) -> Answer {
    let client = reqwest::blocking::Client::new();
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
    let mut request = client.request(method, format!("{}{path}", fake.base));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().expect("the fake answers");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body: Value = response.json().expect("a JSON body");
    Answer {
        status,
        retry_after,
        body,
    }
}

#[test]
fn openrouter_the_fake_answers_as_the_vendored_description_says() {
    let mut account = big_account();
    account.faults = vec![
        Fault::new("GET", "/api/v1/keys/", FaultKind::RateLimit { retry_after: 1 }, 1),
        Fault::new("GET", "/api/v1/keys/", FaultKind::ServerError, 1),
    ];
    let fake = FakeOpenRouter::start(account);
    let mut bodies: Vec<(String, Value)> = Vec::new();
    let mut expect = |path: &str, method: &str, status: u16, answer: Answer| -> Answer {
        assert_eq!(answer.status, status, "{method} {path}: {}", answer.body);
        bodies.push((response_schema(path, method, status), answer.body.clone()));
        answer
    };
    let data_len = |answer: &Answer| answer.body["data"].as_array().map(Vec::len);
    let get = |path: &str, key: &str| call(&fake, "GET", path, Some(key), None);

    // The listing: pages of 100 from `offset`, disabled keys only when asked for, other workspaces only when
    // named.
    let first = expect("/keys", "get", 200, get(&listing(0), MANAGEMENT));
    assert_eq!(data_len(&first), Some(100));
    assert_eq!(first.body["data"][0]["name"], "fill 0");
    let last = expect("/keys", "get", 200, get(&listing(200), MANAGEMENT));
    assert_eq!(
        data_len(&last),
        Some(57),
        "250, the disabled stubborn key, 6 more of the default workspace (one of them disabled)"
    );
    let enabled = expect("/keys", "get", 200, get("/api/v1/keys?offset=200", MANAGEMENT));
    assert_eq!(
        data_len(&enabled),
        Some(55),
        "without include_disabled: no disabled key"
    );
    let all: Vec<Value> = last.body["data"].as_array().cloned().unwrap_or_default();
    let unique = all.iter().find(|k| k["name"] == "prod").expect("the unique key");
    assert_eq!(unique["hash"], sha256_hex(UNIQUE));
    assert_eq!(unique["label"], label(UNIQUE));
    assert!(label(UNIQUE).starts_with("sk-or-v1-1ce...") && label(UNIQUE).len() == 19);
    assert_eq!(unique["workspace_id"], crate::fake_openrouter::DEFAULT_WORKSPACE);
    let listed = all
        .iter()
        .find(|k| k["name"] == "label only")
        .expect("the label-only key");
    assert_eq!(listed["hash"], OTHER_HASH, "listed with a hash that is not its SHA-256");
    assert!(all.iter().any(|k| k["disabled"] == true && k["name"] == "old"));
    assert!(all.iter().all(|k| k["name"] != "elsewhere"), "another workspace's key");
    let elsewhere = expect(
        "/keys",
        "get",
        200,
        get(
            &format!("/api/v1/keys?workspace_id={}", crate::fake_openrouter::OTHER_WORKSPACE),
            MANAGEMENT,
        ),
    );
    assert_eq!(data_len(&elsewhere), Some(1));
    expect("/keys", "get", 400, get("/api/v1/keys?offset=-1", MANAGEMENT));
    let wrong = expect("/keys", "get", 401, get(&listing(0), WRONG_MANAGEMENT));
    assert_eq!(
        wrong.body,
        json!({"error": {"code": 401, "message": "Invalid management key"}})
    );
    expect("/keys", "get", 401, get(&listing(0), UNIQUE));
    expect("/keys", "get", 401, call(&fake, "GET", &listing(0), None, None));

    // The current key: its information to a live key, 401 to a dead one.
    let current = expect("/key", "get", 200, get(PROBE, UNIQUE));
    assert_eq!(current.body["data"]["label"], label(UNIQUE));
    assert_eq!(current.body["data"]["limit_remaining"], 74.5);
    expect("/key", "get", 200, get(PROBE, FOREIGN));
    let dead = expect("/key", "get", 401, get(PROBE, DEAD));
    assert_eq!(dead.body, json!({"error": {"code": 401, "message": "User not found."}}));
    expect("/key", "get", 401, get(PROBE, WRONG_MANAGEMENT));

    // One key: planted 429 (with Retry-After) and 500 first, then the key; 404 for a hash nobody has.
    let by_hash = format!("/api/v1/keys/{}", sha256_hex(LABEL_ONLY));
    let limited = expect("/keys/{hash}", "get", 429, get(&by_hash, MANAGEMENT));
    assert_eq!(limited.retry_after.as_deref(), Some("1"));
    expect("/keys/{hash}", "get", 500, get(&by_hash, MANAGEMENT));
    expect("/keys/{hash}", "get", 404, get(&by_hash, MANAGEMENT));
    let by_other = format!("/api/v1/keys/{OTHER_HASH}");
    expect("/keys/{hash}", "get", 200, get(&by_other, MANAGEMENT));

    // Disabling: the key is then rejected; a malformed update is a 400; an unknown hash a 404.
    let hash = sha256_hex(UNIQUE);
    let path = format!("/api/v1/keys/{hash}");
    let patch = |body: &str| call(&fake, "PATCH", &path, Some(MANAGEMENT), Some(body));
    let disabled = expect("/keys/{hash}", "patch", 200, patch(BODY));
    assert_eq!(disabled.body["data"]["disabled"], true);
    assert_eq!(disabled.body["data"]["hash"], hash.as_str());
    assert_eq!(get(PROBE, UNIQUE).status, 401, "a disabled key is rejected");
    expect("/keys/{hash}", "patch", 400, patch(r#"{"disabled":"yes"}"#));
    expect("/keys/{hash}", "patch", 400, patch("disabled"));
    expect(
        "/keys/{hash}",
        "patch",
        404,
        call(&fake, "PATCH", &by_hash, Some(MANAGEMENT), Some(BODY)),
    );
    expect(
        "/keys/{hash}",
        "patch",
        401,
        call(&fake, "PATCH", &path, Some(WRONG_MANAGEMENT), Some(BODY)),
    );

    // Deleting (keyhound never does): the key is gone from the listing and rejected.
    let stubborn = format!("/api/v1/keys/{}", sha256_hex(STUBBORN));
    let deleted = expect(
        "/keys/{hash}",
        "delete",
        200,
        call(&fake, "DELETE", &stubborn, Some(MANAGEMENT), None),
    );
    assert_eq!(deleted.body, json!({"deleted": true}));
    expect(
        "/keys/{hash}",
        "delete",
        404,
        call(&fake, "DELETE", &stubborn, Some(MANAGEMENT), None),
    );
    assert_eq!(get(PROBE, STUBBORN).status, 401, "a deleted key is rejected");
    assert_eq!(fake.disabled(STUBBORN), None);
    assert_bodies_match_the_description(&bodies);

    // Every request was recorded: method, path and query, Authorization, body.
    let requests = fake.requests();
    let first = &requests[0];
    assert_eq!(
        (
            first.method.as_str(),
            first.url.as_str(),
            first.authorization.as_deref()
        ),
        (
            "GET",
            listing(0).as_str(),
            Some(format!("Bearer {MANAGEMENT}").as_str())
        )
    );
    assert!(requests.iter().any(|r| r.method == "PATCH" && r.body == BODY));
}
