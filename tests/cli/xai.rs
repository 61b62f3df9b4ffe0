//! `keyhound revoke` and `scan --revoke` for xAI keys, against a fake of xAI's two hosts on 127.0.0.1 (see
//! `fake_xai.rs`): the leaked key's own probe (`GET /v1/api-key`) names its id and team, the management key in
//! `XAI_MANAGEMENT_KEY` lists that team's keys and deletes the leaked one. Nothing here reaches the internet.
//!
//! Every test checks what the fake received: which requests, and with which bearer token.

use std::fs;
use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::common::{code, json_findings, keyhound_in, root, run, stderr, stdout};
use crate::fake_xai::{FakeXai, Fault, FaultKind, OTHER_TEAM, Recorded, TEAM, World, XaiKey, key_info, listed};
use crate::revoke::{audit_lines, block, tree_with, write_report};

// Fake keys of xAI's published shapes (the `xai-api-key` and `xai-management-key` rules' examples, and more made
// the same way with Python's `secrets`), never issued by anyone.
/// Leaked, live, of the management key's team: the one to delete.
const TEAM_KEY: &str = "xai-zRYBbR2aHwCajZTYoXXSIeKbIjxhp5hC3wRJhPtJPilH7kHaozQf0lyXgd9mZpyIulifn9ivBkKJlqUk";
const TEAM_KEY_ID: &str = "ae1e1841-4326-4b36-a8a9-8a1a7237db11";
/// Leaked, live, of another team.
const OTHER_KEY: &str = "xai-qRdliMb1UMwxmUNhgrFRrwljexlOPxBY0KyxJV2g93C28oiLLOSY2suG3jH5cgYQQBQwhQqOjdwkO8AS";
const OTHER_KEY_ID: &str = "c0ffee00-0000-4000-8000-000000000002";
/// Leaked, of the team, disabled by its owner: its probe says `api_key_disabled: true`.
const DISABLED_KEY: &str = "xai-9POU0tL6LMk23pTEqxcH7JjWtdeZhe1WGQiYvRq3Bu5xVDu1IEYptXEQ6rWANj3l339MOKKObth9uRox";
const DISABLED_KEY_ID: &str = "d15ab1ed-0000-4000-8000-000000000003";
/// Leaked, deleted long ago: its probe answers 400 Incorrect API key.
const DEAD_KEY: &str = "xai-U7u4XGBTXSUDSMn56OxPq6tdSCu2jE7XeDZEglgpom9l0Azl9RU1EqoEHgeMPpIDN5V7fqL9edCtaNwe";
/// A leaked management key: nothing can check or delete it but a person.
const LEAKED_MANAGEMENT: &str =
    "xai-token-mvdGyG8BcVFQHGtEc83mM1pljgtGb1KwlakdzOmi7RtvdSt3SahPFvBFnKmnEIGAW6TnD1uxf86ydi64";
/// The management key in XAI_MANAGEMENT_KEY: never leaked.
const MANAGEMENT: &str = "xai-token-EturcQPq9HMmQOi8uED8hieTCVV6ef4BW8RsjBP6GaOhiI8bZFncGIWmpgbcVnVOsyhCQMg5FN6SsTup";
/// A management key xAI does not know.
const WRONG_MANAGEMENT: &str =
    "xai-token-5n5wnIvc5tNrb6iv3ijEQ9ziBpZYdYngHKUmz7SxHGsu815VH9igewSQITp6FKLPHiyy5lIBI78DI7Gh";

const LEAKED: &[&str] = &[TEAM_KEY, OTHER_KEY, DISABLED_KEY, DEAD_KEY, LEAKED_MANAGEMENT];
const ALL_KEYS: &[&str] = &[
    TEAM_KEY,
    OTHER_KEY,
    DISABLED_KEY,
    DEAD_KEY,
    LEAKED_MANAGEMENT,
    MANAGEMENT,
    WRONG_MANAGEMENT,
];

/// The team's listing, 3 keys a page: five other keys, the disabled key, and the leaked key last, on the third
/// page. The other team holds the other leaked key.
fn world() -> World {
    let mut keys: Vec<XaiKey> = (0..5)
        .map(|i| {
            XaiKey::new(
                &format!("f111e400-0000-4000-8000-00000000000{i}"),
                &format!("xai-fill{i:02}{}", "Z".repeat(74)),
                TEAM,
            )
        })
        .collect();
    let mut disabled = XaiKey::new(DISABLED_KEY_ID, DISABLED_KEY, TEAM);
    disabled.disabled = true;
    keys.push(disabled);
    keys.push(XaiKey::new(TEAM_KEY_ID, TEAM_KEY, TEAM));
    keys.push(XaiKey::new(OTHER_KEY_ID, OTHER_KEY, OTHER_TEAM));
    World::new(MANAGEMENT, keys)
}

/// The world with the team's leaked key changed by `change`.
fn world_with(change: impl FnOnce(&mut XaiKey)) -> World {
    let mut world = world();
    change(
        world
            .keys
            .iter_mut()
            .find(|k| k.id == TEAM_KEY_ID)
            .expect("the team key"),
    );
    world
}

/// `keyhound` in `dir` with both of xAI's hosts at the fake, and `management` (if any) in XAI_MANAGEMENT_KEY.
fn keyhound_xai(dir: &Path, fake: &FakeXai, management: Option<&str>) -> assert_cmd::Command {
    let mut cmd = keyhound_in(dir);
    cmd.env("KEYHOUND_XAI_API_BASE", &fake.base)
        .env("KEYHOUND_XAI_MANAGEMENT_API_BASE", &fake.base);
    match management {
        Some(key) => cmd.env("XAI_MANAGEMENT_KEY", key),
        None => cmd.env_remove("XAI_MANAGEMENT_KEY"),
    };
    cmd
}

/// `keyhound revoke --from report.json --confirm-timeout 2 EXTRA`.
fn revoke(dir: &Path, fake: &FakeXai, management: Option<&str>, extra: &[&str]) -> Output {
    run(keyhound_xai(dir, fake, management)
        .args(["revoke", "--from", "report.json", "--confirm-timeout", "2"])
        .args(extra))
}

/// A tree with each key in its own `.env` file, and its redacted report.
fn scanned(keys: &[&str]) -> tempfile::TempDir {
    let dir = tree_with(keys);
    write_report(dir.path());
    assert_no_raw_keys(
        &fs::read_to_string(dir.path().join("report.json")).expect("report"),
        "the report",
    );
    dir
}

/// No key appears whole in `text`, nor the middle of any (a server may quote a key in pieces).
fn assert_no_raw_keys(text: &str, what: &str) {
    for key in ALL_KEYS {
        assert!(!text.contains(key), "{what} holds the raw key {}…:\n{text}", &key[..12]);
        let middle = &key[key.len() / 3..key.len() - 8];
        assert!(
            !text.contains(middle),
            "{what} holds the middle of the key {}…:\n{text}",
            &key[..12]
        );
    }
}

/// The output (both streams) holds no raw key.
fn assert_output_clean(output: &Output) {
    assert_no_raw_keys(&stdout(output), "stdout");
    assert_no_raw_keys(&stderr(output), "stderr");
}

/// The audit log's lines, which hold no raw key.
fn audit(path: &Path) -> Vec<Value> {
    assert_no_raw_keys(&fs::read_to_string(path).expect("audit log"), "the audit log");
    audit_lines(path)
}

/// Where each key went: the management key only to the Management API (`/auth/...`), each leaked API key only
/// to its probe, the leaked management key nowhere, and no request without a known key.
fn assert_routing(fake: &FakeXai) {
    let host = fake.base.strip_prefix("http://").expect("an http base");
    for request in &fake.requests() {
        assert_eq!(request.host.as_deref(), Some(host), "{request:?}");
        assert!(
            !format!("{request:?}").contains(LEAKED_MANAGEMENT),
            "the leaked management key was sent: {request:?}"
        );
        match request.bearer() {
            Some(MANAGEMENT | WRONG_MANAGEMENT) => assert!(
                request.path().starts_with("/auth/"),
                "the management key went to {} {}",
                request.method,
                request.url
            ),
            Some(key) if LEAKED.contains(&key) => assert_eq!(
                (request.method.as_str(), request.url.as_str()),
                ("GET", "/v1/api-key"),
                "a leaked key went elsewhere than its probe"
            ),
            other => panic!(
                "unexpected authorization {other:?} on {} {}",
                request.method, request.url
            ),
        }
    }
}

fn deletes(requests: &[Recorded]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| r.method == "DELETE")
        .map(|r| r.url.clone())
        .collect()
}

fn listings(requests: &[Recorded]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| r.method == "GET" && r.path().starts_with("/auth/teams/"))
        .map(|r| r.url.clone())
        .collect()
}

fn probes_of(requests: &[Recorded], key: &str) -> usize {
    requests.iter().filter(|r| r.bearer() == Some(key)).count()
}

/// The team listing's three pages, in order.
fn team_pages() -> Vec<String> {
    let path = format!("/auth/teams/{TEAM}/api-keys");
    vec![
        path.clone(),
        format!("{path}?pageToken=p3"),
        format!("{path}?pageToken=p6"),
    ]
}

// ---------------------------------------------------------------------------------------------------------------

#[test]
fn a_dry_run_plans_the_team_key_and_deletes_nothing() {
    let dir = scanned(LEAKED);
    let fake = FakeXai::start(world());
    let log = dir.path().join("audit.jsonl");
    let output = revoke(
        dir.path(),
        &fake,
        Some(MANAGEMENT),
        &["--audit-log", log.to_str().expect("utf-8")],
    );
    let (out, err) = (stdout(&output), stderr(&output));
    assert_eq!(
        code(&output),
        1,
        "another team's key and a management key are not revoked\n{out}\n{err}"
    );
    assert_output_clean(&output);

    let requests = fake.requests();
    assert!(deletes(&requests).is_empty(), "a dry run deleted: {requests:?}");
    assert!(fake.deleted().is_empty());
    assert_routing(&fake);
    // Each API key is probed once; the team is listed page by page, the other team once (403).
    for key in [TEAM_KEY, OTHER_KEY, DISABLED_KEY, DEAD_KEY] {
        assert_eq!(probes_of(&requests, key), 1, "{}", &key[..8]);
    }
    let mut expected = team_pages();
    expected.push(format!("/auth/teams/{OTHER_TEAM}/api-keys"));
    let mut found = listings(&requests);
    found.sort();
    expected.sort();
    assert_eq!(found, expected);

    assert!(out.contains("dry run"), "{out}");
    // The stderr notes name both replaced hosts.
    assert!(
        err.contains(&format!("xAI API requests go to {}, not https://api.x.ai", fake.base)),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "xAI admin API requests go to {}, not https://management-api.x.ai",
            fake.base
        )),
        "{err}"
    );

    let team = block(&out, &TEAM_KEY[..8]);
    assert!(team.contains("xAI API key (xai-api-key)"), "{team}");
    assert!(team.contains("status:  live"), "{team}");
    assert!(
        team.contains(&format!(
            "match:   {TEAM_KEY_ID} \"{TEAM_KEY_ID} name\" [xai-...lqUk] in team {TEAM}"
        )),
        "{team}"
    );
    assert!(
        team.contains(&format!("names the same organisation ({TEAM})")),
        "{team}"
    );
    assert!(
        team.contains(&format!("plan:    delete API key {TEAM_KEY_ID} (dry run")),
        "{team}"
    );

    let disabled = block(&out, &DISABLED_KEY[..8]);
    assert!(disabled.contains("status:  dead"), "{disabled}");
    assert!(disabled.contains("api_key_disabled"), "{disabled}");
    assert!(disabled.contains("already dead"), "{disabled}");

    let dead = block(&out, &DEAD_KEY[..8]);
    assert!(
        dead.contains("status:  dead") && dead.contains("already dead"),
        "{dead}"
    );

    let other = block(&out, &OTHER_KEY[..8]);
    assert!(other.contains("status:  live"), "{other}");
    assert!(
        other.contains(&format!(
            "owner:   another organisation: xAI names {OTHER_TEAM} for this key, {TEAM} for XAI_MANAGEMENT_KEY"
        )),
        "{other}"
    );
    assert!(!other.contains("plan:"), "{other}");

    // A management key's redacted form shows only `xai-toke`.
    let management = block(&out, "xai-toke…di64");
    assert!(
        management.contains("xAI management key (xai-management-key)"),
        "{management}"
    );
    assert!(management.contains("status:  unknown"), "{management}");
    assert!(
        management.contains("Management API does not delete management keys")
            && management.contains("https://console.x.ai"),
        "{management}"
    );

    let summary = out
        .lines()
        .find(|l| l.starts_with("keyhound: revoke summary: 5 xAI key(s)"))
        .unwrap_or_else(|| panic!("no xAI summary:\n{out}"));
    assert!(
        summary.contains("1 planned") && summary.contains("2 already dead"),
        "{summary}"
    );
    assert!(
        summary.contains("another organisation: 1") && summary.contains("by hand: 1"),
        "{summary}"
    );
    assert!(summary.contains("nothing was deleted"), "{summary}");
    assert!(out.contains("needs a person"), "{out}");
    assert!(
        out.contains("- xai-toke…di64 (management key): by hand: see to it at https://console.x.ai"),
        "{out}"
    );

    let lines = audit(&log);
    assert!(!lines.is_empty());
    assert!(lines.iter().all(|l| l["dry_run"] == true), "{lines:#?}");
    assert!(lines.iter().all(|l| l["provider"] == "xai"), "{lines:#?}");
    let probes: Vec<&Value> = lines.iter().filter(|l| l["action"] == "probe").collect();
    assert_eq!(probes.len(), 5, "{probes:#?}");
    let skipped = probes
        .iter()
        .find(|l| l["key"] == "xai-toke…di64")
        .expect("the management key's probe line");
    assert_eq!(skipped["outcome"], "unknown");
    assert!(
        skipped["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("not probed"),
        "{skipped}"
    );
    assert!(
        lines
            .iter()
            .all(|l| l["action"] != "delete" && l["action"] != "delete-attempt")
    );
    let planned = lines
        .iter()
        .find(|l| l["action"] == "match" && l["outcome"] == "planned")
        .expect("a planned match");
    assert_eq!(planned["key_id"], TEAM_KEY_ID);
    assert_eq!(planned["proof"], "same-organization");
    assert_eq!(planned["key_organization"], TEAM);
    assert_eq!(planned["admin_organization"], TEAM);
    assert!(
        lines
            .iter()
            .any(|l| l["action"] == "match" && l["outcome"] == "other-organization")
    );
    assert!(
        lines
            .iter()
            .any(|l| l["action"] == "match" && l["outcome"] == "by-hand")
    );
}

#[test]
fn yes_deletes_the_team_key_and_confirms_it_dead() {
    let dir = scanned(&[TEAM_KEY, OTHER_KEY, DEAD_KEY]);
    let fake = FakeXai::start(world());
    let log = dir.path().join("audit.jsonl");
    let output = revoke(
        dir.path(),
        &fake,
        Some(MANAGEMENT),
        &["--yes", "--audit-log", log.to_str().expect("utf-8")],
    );
    let out = stdout(&output);
    assert_eq!(
        code(&output),
        1,
        "the other team's key is left\n{out}{}",
        stderr(&output)
    );
    assert_output_clean(&output);

    let requests = fake.requests();
    assert_routing(&fake);
    assert_eq!(deletes(&requests), [format!("/auth/api-keys/{TEAM_KEY_ID}")]);
    let delete = requests.iter().find(|r| r.method == "DELETE").expect("a DELETE");
    assert_eq!(delete.bearer(), Some(MANAGEMENT));
    assert_eq!(fake.deleted(), [TEAM_KEY_ID]);
    // Probed once before, then again after the deletion until rejected.
    assert_eq!(probes_of(&requests, TEAM_KEY), 2);
    let deleted_at = requests.iter().position(|r| r.method == "DELETE").expect("a DELETE");
    assert_eq!(requests.last().map(|r| r.bearer()), Some(Some(TEAM_KEY)));
    assert!(requests.len() - 1 > deleted_at);

    let team = block(&out, &TEAM_KEY[..8]);
    assert!(team.contains(&format!("deleted: API key {TEAM_KEY_ID}")), "{team}");
    assert!(
        team.contains("result:  revoked: the key is now rejected (400 Incorrect API key)"),
        "{team}"
    );
    let other = block(&out, &OTHER_KEY[..8]);
    assert!(other.contains("another organisation"), "{other}");
    let summary = out
        .lines()
        .find(|l| l.starts_with("keyhound: revoke summary: 3 xAI key(s)"))
        .unwrap_or_else(|| panic!("no xAI summary:\n{out}"));
    assert!(
        summary.contains("1 revoked") && summary.contains("1 already dead"),
        "{summary}"
    );

    let lines = audit(&log);
    assert!(lines.iter().all(|l| l["provider"] == "xai" && l["dry_run"] == false));
    for action in ["delete-attempt", "delete", "confirm"] {
        assert!(
            lines
                .iter()
                .any(|l| l["action"] == action && l["key_id"] == TEAM_KEY_ID),
            "no {action} line: {lines:#?}"
        );
    }
}

#[test]
fn scan_revoke_yes_reports_the_deleted_key_dead() {
    let dir = tree_with(&[TEAM_KEY]);
    let fake = FakeXai::start(world());
    let output = run(keyhound_xai(dir.path(), &fake, Some(MANAGEMENT)).args([
        "scan",
        ".",
        "--revoke",
        "--yes",
        "--confirm-timeout",
        "2",
        "--format",
        "json",
    ]));
    assert_eq!(code(&output), 1, "the scan's exit code: findings");
    assert_output_clean(&output);
    assert_eq!(fake.deleted(), [TEAM_KEY_ID]);
    assert_routing(&fake);
    let findings = json_findings(&stdout(&output));
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0]["rule_id"], "xai-api-key");
    assert_eq!(findings[0]["verification"]["status"], "dead", "{:#}", findings[0]);
    let reason = findings[0]["verification"]["reason"].as_str().expect("a reason");
    assert!(
        reason.contains(TEAM_KEY_ID) && reason.contains("400 Incorrect API key"),
        "{reason}"
    );
    let err = stderr(&output);
    assert!(
        err.contains("result:  revoked: the key is now rejected (400 Incorrect API key)"),
        "{err}"
    );
}

#[test]
fn a_key_still_live_after_its_deletion_is_a_loud_warning() {
    let dir = scanned(&[TEAM_KEY]);
    let fake = FakeXai::start(world_with(|k| k.live_probes_after_delete = 1000));
    let output = revoke(dir.path(), &fake, Some(MANAGEMENT), &["--yes"]);
    let (out, err) = (stdout(&output), stderr(&output));
    assert_eq!(code(&output), 1, "{out}{err}");
    assert_output_clean(&output);
    assert_eq!(fake.deleted(), [TEAM_KEY_ID]);
    let team = block(&out, &TEAM_KEY[..8]);
    assert!(team.contains("WARNING: THE KEY IS STILL ACCEPTED"), "{team}");
    assert!(team.contains("https://console.x.ai"), "{team}");
    assert!(
        err.contains(&format!("({TEAM_KEY_ID}) was deleted but is STILL ACCEPTED by xAI")),
        "{err}"
    );
    assert!(out.contains("still live: 1"), "{out}");
    // Probed again and again until --confirm-timeout ran out.
    assert!(probes_of(&fake.requests(), TEAM_KEY) >= 3);
}

#[test]
fn a_key_someone_deleted_first_is_already_gone() {
    let dir = scanned(&[TEAM_KEY]);
    let fake = FakeXai::start(world_with(|k| k.vanishes_before_delete = true));
    let output = revoke(dir.path(), &fake, Some(MANAGEMENT), &["--yes"]);
    let out = stdout(&output);
    assert_eq!(code(&output), 0, "{out}{}", stderr(&output));
    assert_output_clean(&output);
    assert_eq!(deletes(&fake.requests()).len(), 1);
    let team = block(&out, &TEAM_KEY[..8]);
    assert!(team.contains("deleted: already gone (404"), "{team}");
    assert!(
        team.contains(
            "result:  already gone: someone deleted it first, and the key is rejected (400 Incorrect API key)"
        ),
        "{team}"
    );
    assert!(out.contains("already gone (deleted by someone else)"), "{out}");
}

#[test]
fn the_listing_is_followed_page_by_page() {
    let dir = scanned(&[TEAM_KEY]);
    let mut world = world();
    world.page_size = 2;
    let fake = FakeXai::start(world);
    let output = revoke(dir.path(), &fake, Some(MANAGEMENT), &[]);
    assert_eq!(code(&output), 0, "{}{}", stdout(&output), stderr(&output));
    let path = format!("/auth/teams/{TEAM}/api-keys");
    let pages: Vec<String> = std::iter::once(path.clone())
        .chain(["p2", "p4", "p6"].map(|t| format!("{path}?pageToken={t}")))
        .collect();
    assert_eq!(listings(&fake.requests()), pages);
    // The key is on the last page.
    assert!(
        stdout(&output).contains(&format!("plan:    delete API key {TEAM_KEY_ID}")),
        "{}",
        stdout(&output)
    );
}

#[test]
fn a_repeated_page_token_stops_the_run_before_anything_is_deleted() {
    let dir = scanned(&[TEAM_KEY]);
    let mut world = world();
    world.repeat_page_token = true;
    let fake = FakeXai::start(world);
    let output = revoke(dir.path(), &fake, Some(MANAGEMENT), &["--yes"]);
    let err = stderr(&output);
    assert_eq!(code(&output), 2, "{}{err}", stdout(&output));
    assert_output_clean(&output);
    assert!(err.contains("the server sent the cursor `p3` a second time"), "{err}");
    let requests = fake.requests();
    assert!(deletes(&requests).is_empty());
    assert_eq!(listings(&requests).len(), 2, "{requests:?}");
    assert!(fake.deleted().is_empty());
}

#[test]
fn a_rejected_management_key_stops_the_run_before_anything_is_deleted() {
    let dir = scanned(&[TEAM_KEY, OTHER_KEY]);
    let fake = FakeXai::start(world());
    let output = revoke(dir.path(), &fake, Some(WRONG_MANAGEMENT), &["--yes"]);
    let err = stderr(&output);
    assert_eq!(code(&output), 2, "{}{err}", stdout(&output));
    assert_output_clean(&output);
    assert!(
        err.contains("XAI_MANAGEMENT_KEY was rejected (401 on GET /auth/teams/"),
        "{err}"
    );
    assert!(err.contains("https://console.x.ai"), "{err}");
    let requests = fake.requests();
    assert_routing(&fake);
    assert!(deletes(&requests).is_empty());
    assert!(fake.deleted().is_empty());
}

#[test]
fn rate_limits_and_server_errors_are_retried() {
    let dir = scanned(&[TEAM_KEY]);
    let mut world = world();
    world.faults = vec![
        Fault::new("GET", "/v1/api-key", FaultKind::ServerError, 1),
        Fault::new("GET", "/auth/teams/", FaultKind::RateLimit, 1),
        Fault::new("DELETE", "/auth/api-keys/", FaultKind::RateLimit, 1),
    ];
    let fake = FakeXai::start(world);
    let output = revoke(dir.path(), &fake, Some(MANAGEMENT), &["--yes"]);
    let out = stdout(&output);
    assert_eq!(code(&output), 0, "{out}{}", stderr(&output));
    assert_output_clean(&output);
    let requests = fake.requests();
    assert_routing(&fake);
    // The DELETE was sent twice (a 429, then done); the first listing page twice.
    assert_eq!(deletes(&requests).len(), 2);
    let pages = listings(&requests);
    assert_eq!(pages[0], pages[1], "{pages:?}");
    assert_eq!(fake.deleted(), [TEAM_KEY_ID]);
    assert!(
        out.contains("result:  revoked: the key is now rejected (400 Incorrect API key)"),
        "{out}"
    );
}

#[test]
fn servers_echoing_the_authorization_header_leak_no_key() {
    let leaked = [TEAM_KEY, OTHER_KEY, DEAD_KEY, LEAKED_MANAGEMENT];
    let dir = scanned(&leaked);
    let mut world = world();
    world.echo_authorization = true;
    world.faults = vec![
        Fault::new("GET", "/v1/api-key", FaultKind::ServerError, 1),
        Fault::new("GET", "/auth/teams/", FaultKind::RateLimit, 1),
    ];
    let fake = FakeXai::start(world.clone());
    // The dead key's 400 and the other team's 403 quote their bearer.
    let log = dir.path().join("audit.jsonl");
    let output = revoke(
        dir.path(),
        &fake,
        Some(MANAGEMENT),
        &["--yes", "--audit-log", log.to_str().expect("utf-8")],
    );
    assert_eq!(code(&output), 1, "{}{}", stdout(&output), stderr(&output));
    assert_output_clean(&output);
    audit(&log);
    assert_eq!(fake.deleted(), [TEAM_KEY_ID]);
    // A wrong management key's 401 quotes it.
    let dir = scanned(&leaked);
    let fake = FakeXai::start(world);
    let output = revoke(dir.path(), &fake, Some(WRONG_MANAGEMENT), &["--yes"]);
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("(Authorization: Bearer "),
        "{}",
        stderr(&output)
    );
    assert_output_clean(&output);
    // And `scan --revoke`, whose report goes to stdout.
    let output =
        run(keyhound_xai(dir.path(), &fake, Some(MANAGEMENT)).args(["scan", ".", "--revoke", "--format", "json"]));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    assert_output_clean(&output);
    assert_routing(&fake);
}

/// The fake answers `GET /v1/api-key` with every field the vendored reference requires of `ApiKeyInfo`, and
/// lists keys with the key object's documented fields only.
#[test]
fn the_fake_answers_what_the_vendored_reference_describes() {
    let text = fs::read_to_string(root().join("tests/openapi/xai-management.yaml")).expect("the vendored YAML");
    assert!(
        text.contains("commit ec8238a595c2bb3abded1bdf794943775f33659f"),
        "provenance"
    );
    let readme = fs::read_to_string(root().join("tests/openapi/README.md")).expect("README");
    assert!(readme.contains("`xai-management.yaml`"));
    // `ApiKeyInfo:` ... `required: [a, b, ...]`.
    let schema = &text[text.find("    ApiKeyInfo:").expect("ApiKeyInfo")..];
    let required = schema
        .lines()
        .find_map(|l| l.trim().strip_prefix("required: ["))
        .and_then(|l| l.strip_suffix(']'))
        .expect("ApiKeyInfo's required list");
    let required: Vec<&str> = required.split(',').map(str::trim).collect();
    assert_eq!(required.len(), 12, "{required:?}");
    let info = key_info(&XaiKey::new(TEAM_KEY_ID, TEAM_KEY, TEAM));
    for field in &required {
        assert!(!info[field].is_null(), "the fake's answer lacks {field}: {info}");
    }
    // The key object's properties: the lines under `ManagementApiKey:` ... `properties:`, up to `paths:`.
    let object =
        &text[text.find("    ManagementApiKey:").expect("ManagementApiKey")..text.find("\npaths:").expect("paths")];
    let documented: Vec<&str> = object
        .lines()
        .filter_map(|l| l.strip_prefix("        "))
        .filter_map(|l| l.split_once(':').map(|(name, _)| name.trim()))
        .collect();
    let item = listed(&XaiKey::new(TEAM_KEY_ID, TEAM_KEY, TEAM));
    for field in item.as_object().expect("an object").keys() {
        assert!(
            documented.contains(&field.as_str()),
            "the fake lists {field}, which the reference does not describe ({documented:?})"
        );
    }
    assert!(item["apiKeyId"] == TEAM_KEY_ID && item["redactedApiKey"] == "xai-...lqUk");
}

/// The other team's key with no key of the management key's team beside it: no listing names the management
/// key's team, but the 403 on the key's team says it is another organisation's.
#[test]
fn another_teams_key_alone_is_another_organisations() {
    let dir = scanned(&[OTHER_KEY]);
    let fake = FakeXai::start(world());
    let log = dir.path().join("audit.jsonl");
    let output = revoke(
        dir.path(),
        &fake,
        Some(MANAGEMENT),
        &["--yes", "--audit-log", log.to_str().expect("utf-8")],
    );
    let out = stdout(&output);
    assert_eq!(code(&output), 1, "{out}{}", stderr(&output));
    assert_output_clean(&output);
    let requests = fake.requests();
    assert_routing(&fake);
    assert!(deletes(&requests).is_empty());
    assert_eq!(listings(&requests), [format!("/auth/teams/{OTHER_TEAM}/api-keys")]);
    let other = block(&out, &OTHER_KEY[..8]);
    assert!(
        other.contains(&format!(
            "owner:   another organisation: xAI names {OTHER_TEAM} for this key, and XAI_MANAGEMENT_KEY may not \
             list its keys"
        )),
        "{other}"
    );
    assert!(!other.contains("match:"), "{other}");
    assert!(out.contains("(another organisation: 1)"), "{out}");
    let lines = audit(&log);
    let line = lines.iter().find(|l| l["action"] == "match").expect("a match line");
    assert_eq!(line["outcome"], "other-organization");
    assert_eq!(line["key_organization"], OTHER_TEAM);
}
