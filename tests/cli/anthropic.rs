//! `keyhound revoke` and `scan --revoke` for Anthropic keys, against the fake of Anthropic's API on 127.0.0.1
//! (see `fake_anthropic.rs`, checked against `tests/openapi/anthropic-admin.json` here). Nothing here ever
//! reaches the internet.
//!
//! Every test checks what the fake received: which requests, with which key, and what was updated.

use std::fs;
use std::path::Path;
use std::process::Output;

use serde_json::{Value, json};

use crate::common::{code, json_findings, keyhound_in, root, run, stderr, stdout};
use crate::fake_anthropic::{
    AntKey, AntOrg, DEFAULT_WORKSPACE, FakeAnthropic, Fault, FaultKind, ORGANIZATION, OTHER_ORGANIZATION, Recorded,
    hint,
};
use crate::fake_openai::FakeOpenAi;
use crate::revoke::{assert_key_routing, assert_no_raw_keys, block, tree_with, write_report};

// Fake keys of Anthropic's published shapes (`sk-ant-api03-` / `sk-ant-admin01-` + 93 random characters + `AA`,
// made with Python's `secrets`), never issued by anyone.
/// Leaked, and the only key of the organisation its hint fits: the one to disable.
const UNIQUE: &str =
    "sk-ant-api03-VMCxMfCytGQwyt1C8RQb3fc9Lwb9h-Daia-_DBLYGEYJEaNsXHj6CGLRmgSgQFWk5mWwi9GYUUVkRBh2m3gIo3P8ASSB9AA";
/// Leaked, already disabled (listed as inactive): probes 401.
const DEAD: &str =
    "sk-ant-api03-Ld7aevViQfKQLBRxZrqtQICU_LzQUbCLgjFVKH8s0f5aXXvcnVE1ENmaGtnGoQZ2V904-YjI71tG833YAvBPsDXjZr46UAA";
/// Live, of another organisation; its hint collides with the organisation's `apikey_victim`.
const FOREIGN: &str =
    "sk-ant-api03-TBSlpJPFTUKw7wb5I-f9VUQ4d0T-HpEGP4osXaIJHSoeEsxdDfLhlRYFaVMDxNH9e_ktU8xcfe8iGYi7yaV-W0WEKemXyAA";
/// Leaked; another key of the organisation, in the same workspace, has the same hint.
const AMBIGUOUS: &str =
    "sk-ant-api03-J20AgTHdPrpxauce6Pk3VmvMNMw140kg2QeY3JEB-GtCzi5Z7Yw_fNz4x0HbtPbpUTv-y3NgYCsUp3Cz-sfxUuiYSd20cAA";
/// Leaked, in workspace `wrkspc_01B`; a key in `wrkspc_01A` has the same hint.
const WORKSPACED: &str =
    "sk-ant-api03-N1-lKe_9l7S7SIJj9aW6OJLUXl7hpfXKfsQg1stn2fWpysdCLxgxQBgNlBPbqSTxos74ES4MgCXVF9fM2Jdp07kHfl97RAA";
/// Leaked; its probe fails with messages that echo it.
const ECHOED: &str =
    "sk-ant-api03-6sEeOlTu2pBIfswD-JAIk18Rl-by8Ww5iOBU_6rkaJ9xd-I2nCRjlSO3RgrD1xgsA21bE_MS49GYx4sFhQCQ8gDVjBl4JAA";
/// The admin key in ANTHROPIC_ADMIN_KEY: never leaked.
const ADMIN: &str =
    "sk-ant-admin01-dcWt_ON6Rd3ENCOPQsGWUgI54MwaBN2QLMAF_0ZmEBUJHbEy3W0J6qBsKrLxV5ccp2VRpkmr-XD3u5thQOTGn8_tKcoMRAA";
/// A leaked admin key of the organisation: the Admin API cannot disable it.
const LEAKED_ADMIN: &str =
    "sk-ant-admin01-fk-pWj9ohsm9FfWLmyKh8hld8OvqkIJzOXy3bsVsO6pXL3WPNde_KakU-KNqEtDQkhe4Pry0llid3hEpo-rmetzZxbi2TAA";
/// An admin key the fake does not know.
const WRONG_ADMIN: &str =
    "sk-ant-admin01-vIuMWa_igT0p06MZkYoYz6OGjwSdaXOwglGjUho30mvdhZcJpDRhaAl0VSbTJBm8CDfQBv-Mc2eYl8nU3eJRJQcbxQwfgAA";

const ALL: &[&str] = &[
    UNIQUE,
    DEAD,
    FOREIGN,
    AMBIGUOUS,
    WORKSPACED,
    ECHOED,
    ADMIN,
    LEAKED_ADMIN,
    WRONG_ADMIN,
];

const LIST: &str = "/v1/organizations/api_keys?limit=1000";
const ME: &str = "/v1/organizations/me";
const PROBE: &str = "/v1/models?limit=1";
const BODY: &str = r#"{"status":"inactive"}"#;
const ADMIN_KEYS_URL: &str = "https://console.anthropic.com/settings/admin-keys";
const KEYS_URL: &str = "https://console.anthropic.com/settings/keys";

/// A key the same length as `key`, with its first 16 and last 4 characters (so the same hint), `fill` between.
fn look_alike(key: &str, fill: char) -> String {
    let middle: String = std::iter::repeat_n(fill, key.len() - 20).collect();
    format!("{}{middle}{}", &key[..16], &key[key.len() - 4..])
}

/// A row of the closing table.
fn row(label: &str, n: usize) -> String {
    format!("    {label:<40} {n}\n")
}

/// How keyhound shows `key` (`sk-ant-api0…B9AA`).
fn shown(key: &str) -> String {
    format!("{}…{}", &key[..11], &key[key.len() - 4..])
}

/// The organisation: a unique key, a disabled one, a look-alike of a foreign key, two keys with one hint in the
/// default workspace, two with another hint in two workspaces, and a leaked admin key.
fn org() -> AntOrg {
    let mut org = AntOrg::new(ADMIN);
    org.keys = vec![
        AntKey::new("apikey_01Unique", UNIQUE, None),
        AntKey::new("apikey_01Dead", DEAD, Some("wrkspc_01A")).with_status("inactive"),
        AntKey::new("apikey_01Victim", &look_alike(FOREIGN, 'V'), None),
        AntKey::new("apikey_01Amb1", AMBIGUOUS, None),
        AntKey::new("apikey_01Amb2", &look_alike(AMBIGUOUS, 'Q'), None),
        AntKey::new("apikey_01WsA", &look_alike(WORKSPACED, 'W'), Some("wrkspc_01A")),
        AntKey::new("apikey_01WsB", WORKSPACED, Some("wrkspc_01B")),
        AntKey::new("apikey_01Echoed", ECHOED, None),
        AntKey::new("apikey_01Archived", &look_alike(UNIQUE, 'X'), Some("wrkspc_01A")).with_status("archived"),
    ];
    org.other_admin_keys = vec![LEAKED_ADMIN.to_string()];
    org.foreign_live = vec![FOREIGN.to_string()];
    org
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

/// `keyhound revoke --from report.json --confirm-timeout 2 EXTRA` against `fake`, with `admin` in
/// ANTHROPIC_ADMIN_KEY.
fn revoke(dir: &Path, fake: &FakeAnthropic, admin: Option<&str>, extra: &[&str]) -> Output {
    let mut cmd = keyhound_in(dir);
    cmd.env("KEYHOUND_ANTHROPIC_API_BASE", &fake.base)
        .args(["revoke", "--from", "report.json", "--confirm-timeout", "2"])
        .args(extra);
    if let Some(admin) = admin {
        cmd.env("ANTHROPIC_ADMIN_KEY", admin);
    }
    run(&mut cmd)
}

fn assert_clean(text: &str, what: &str) {
    assert_no_raw_keys(text, what);
    for key in ALL {
        assert!(!text.contains(key), "{what} holds the raw key {}…:\n{text}", &key[..16]);
    }
}

fn assert_output_clean(output: &Output) {
    assert_clean(&stdout(output), "stdout");
    assert_clean(&stderr(output), "stderr");
}

/// The audit log's lines (checked free of raw keys).
fn audit(path: &Path) -> Vec<Value> {
    let text = fs::read_to_string(path).expect("audit log");
    assert_clean(&text, "the audit log");
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect()
}

/// Where each key went: the admin key only to the Admin API, a leaked admin key only to its probe
/// (`GET /v1/organizations/me`), every other key only to its probe (`GET /v1/models?limit=1`); every request
/// with `anthropic-version: 2023-06-01`.
fn assert_routing(requests: &[Recorded]) {
    for request in requests {
        assert_eq!(request.version.as_deref(), Some("2023-06-01"), "{request:?}");
        let key = request.key();
        assert!(
            !key.starts_with("sk-proj-") && !key.starts_with("sk-admin-"),
            "{request:?}"
        );
        if key == ADMIN || key == WRONG_ADMIN {
            assert!(request.path().starts_with("/v1/organizations/"), "{request:?}");
        } else if key == LEAKED_ADMIN {
            assert_eq!((request.method.as_str(), request.url.as_str()), ("GET", ME));
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

// ---------------------------------------------------------------------------------------------------------------

#[test]
fn anthropic_dry_run_plans_the_unique_key_and_touches_nothing() {
    let dir = reported(&[UNIQUE, DEAD, FOREIGN, AMBIGUOUS, LEAKED_ADMIN]);
    let fake = FakeAnthropic::start(org());
    let output = revoke(dir.path(), &fake, Some(ADMIN), &["--audit-log", "audit.jsonl"]);
    let out = stdout(&output);
    assert_eq!(code(&output), 1, "{out}\n{}", stderr(&output));
    assert_output_clean(&output);
    let requests = fake.requests();
    assert!(fake.posts().is_empty(), "a dry run updated: {:?}", fake.posts());
    assert_routing(&requests);
    assert_eq!(
        (count(&requests, ME), count(&requests, LIST)),
        (2, 1),
        "/me: the leaked admin key's probe and the listing's"
    );
    for key in [UNIQUE, DEAD, FOREIGN, AMBIGUOUS, LEAKED_ADMIN] {
        assert_eq!(
            requests.iter().filter(|r| r.key() == key).count(),
            1,
            "{} is probed once",
            shown(key)
        );
    }

    assert!(
        out.contains("keyhound: 5 Anthropic key(s) in report.json; dry run"),
        "{out}"
    );
    let unique = block(&out, &shown(UNIQUE));
    assert!(unique.contains("Anthropic API key (anthropic-api-key)"), "{unique}");
    assert!(
        unique.contains("status:  live: accepted by GET /v1/models?limit=1 (200)"),
        "{unique}"
    );
    assert!(
        unique.contains(&format!(
            "match:   apikey_01Unique \"apikey_01Unique name\" [sk-ant-api03-VMC...B9AA] in workspace \
             {DEFAULT_WORKSPACE}, status active, created by user user_01Alice"
        )),
        "{unique}"
    );
    assert!(
        unique.contains(&format!(
            "proof:   Anthropic names the same organisation ({ORGANIZATION})"
        )),
        "{unique}"
    );
    assert!(
        unique.contains("plan:    disable API key apikey_01Unique (dry run"),
        "{unique}"
    );

    let dead = block(&out, &shown(DEAD));
    assert!(
        dead.contains("status:  dead: rejected by GET /v1/models?limit=1 as invalid (401 authentication_error)"),
        "{dead}"
    );
    assert!(dead.contains("action:  none: the key is already dead"), "{dead}");

    let foreign = block(&out, &shown(FOREIGN));
    assert!(
        foreign.contains(&format!(
            "owner:   another organisation: Anthropic names {OTHER_ORGANIZATION} for this key, {ORGANIZATION} for \
             ANTHROPIC_ADMIN_KEY"
        )),
        "{foreign}"
    );
    assert!(
        !foreign.contains("match:") && !foreign.contains("apikey_01Victim"),
        "{foreign}"
    );

    let ambiguous = block(&out, &shown(AMBIGUOUS));
    assert!(
        ambiguous.contains("2 keys in the organisation fit its redacted value"),
        "{ambiguous}"
    );
    assert!(
        ambiguous.contains("apikey_01Amb1") && ambiguous.contains("apikey_01Amb2"),
        "{ambiguous}"
    );
    assert!(ambiguous.contains(KEYS_URL), "{ambiguous}");

    let admin = block(&out, &shown(LEAKED_ADMIN));
    assert!(admin.contains("Anthropic admin key (anthropic-admin-key)"), "{admin}");
    assert!(
        admin.contains("status:  live: accepted by GET /v1/organizations/me (200)"),
        "{admin}"
    );
    assert!(admin.contains("the Admin API cannot disable admin keys"), "{admin}");
    assert!(admin.contains(ADMIN_KEYS_URL), "{admin}");

    assert!(
        out.contains(&format!(
            "- {} (admin key): by hand: see to it at {ADMIN_KEYS_URL}",
            shown(LEAKED_ADMIN)
        )),
        "the closing table: {out}"
    );
    for expected in [
        row("planned (dry run)", 1),
        row("already dead", 1),
        row("belongs to another organisation", 1),
        row("ambiguous (several keys match)", 1),
        row("needs a person", 1),
    ] {
        assert!(out.contains(&expected), "{expected}: {out}");
    }
    let summary = out
        .lines()
        .find(|l| l.starts_with("keyhound: revoke summary: 5 Anthropic key(s)"))
        .unwrap_or_else(|| panic!("no summary:\n{out}"));
    assert!(
        summary.contains("0 revoked, 1 planned, 1 already dead, 3 not revoked"),
        "{summary}"
    );

    let lines = audit(&dir.path().join("audit.jsonl"));
    assert!(!lines.is_empty());
    assert!(
        lines
            .iter()
            .all(|l| l["provider"] == "anthropic" && l["dry_run"] == true),
        "{lines:?}"
    );
    assert_eq!(lines.iter().filter(|l| l["action"] == "probe").count(), 5);
    assert!(
        lines
            .iter()
            .all(|l| l["action"] != "disable" && l["action"] != "disable-attempt")
    );
    let planned = lines
        .iter()
        .find(|l| l["action"] == "match" && l["outcome"] == "planned")
        .expect("the planned match");
    assert_eq!(planned["key_id"], "apikey_01Unique");
    assert_eq!(planned["proof"], "same-organization");
    let other = lines
        .iter()
        .find(|l| l["outcome"] == "other-organization")
        .expect("the foreign key's line");
    assert_eq!(other["key_organization"], OTHER_ORGANIZATION);
    assert_eq!(other["admin_organization"], ORGANIZATION);
}

#[test]
fn anthropic_yes_disables_the_unique_key_and_never_the_foreign_one() {
    let dir = reported(&[UNIQUE, FOREIGN]);
    let fake = FakeAnthropic::start(org());
    let output = revoke(dir.path(), &fake, Some(ADMIN), &["--yes", "--audit-log", "audit.jsonl"]);
    let out = stdout(&output);
    assert_eq!(
        code(&output),
        1,
        "the foreign key is not revoked\n{out}\n{}",
        stderr(&output)
    );
    assert_output_clean(&output);
    let posts = fake.posts();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0].url, "/v1/organizations/api_keys/apikey_01Unique");
    assert_eq!(posts[0].body, BODY);
    assert_eq!(posts[0].key(), ADMIN);
    assert_eq!(fake.status("apikey_01Unique"), "inactive");
    assert_eq!(
        fake.status("apikey_01Victim"),
        "active",
        "the foreign key's look-alike is untouched"
    );
    assert_routing(&fake.requests());

    let unique = block(&out, &shown(UNIQUE));
    assert!(
        unique.contains("disabled: API key apikey_01Unique (status inactive) (request req_01Fake"),
        "{unique}"
    );
    assert!(
        unique.contains("result:  revoked: the key is now rejected (401 authentication_error)"),
        "{unique}"
    );
    assert!(block(&out, &shown(FOREIGN)).contains("another organisation"), "{out}");

    let lines = audit(&dir.path().join("audit.jsonl"));
    assert!(
        lines
            .iter()
            .all(|l| l["provider"] == "anthropic" && l["dry_run"] == false)
    );
    let outcomes: Vec<(&str, &str)> = lines
        .iter()
        .filter(|l| l["key_id"] == "apikey_01Unique")
        .map(|l| (l["action"].as_str().unwrap_or(""), l["outcome"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("match", "matched"),
            ("disable-attempt", "sent"),
            ("disable", "disabled"),
            ("confirm", "revoked")
        ]
    );
}

#[test]
fn anthropic_scan_revoke_yes_reports_the_key_dead() {
    let dir = tree_with(&[UNIQUE]);
    let fake = FakeAnthropic::start(org());
    let output = run(keyhound_in(dir.path())
        .env("KEYHOUND_ANTHROPIC_API_BASE", &fake.base)
        .env("ANTHROPIC_ADMIN_KEY", ADMIN)
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
    assert_eq!(fake.status("apikey_01Unique"), "inactive");
    let err = stderr(&output);
    assert!(
        err.contains("revoked: the key is now rejected (401 authentication_error)"),
        "{err}"
    );
    let findings = json_findings(&stdout(&output));
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0]["verification"]["status"], "dead", "{}", findings[0]);
    let reason = findings[0]["verification"]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("revoked by keyhound: apikey_01Unique disabled, then rejected (401 authentication_error)"),
        "{reason}"
    );
}

#[test]
fn anthropic_a_key_still_live_after_it_is_disabled_is_a_loud_warning() {
    let dir = reported(&[UNIQUE]);
    let mut org = org();
    org.keys[0].live_probes_after_disable = 1000;
    let fake = FakeAnthropic::start(org);
    let output = revoke(dir.path(), &fake, Some(ADMIN), &["--yes"]);
    let (out, err) = (stdout(&output), stderr(&output));
    assert_eq!(code(&output), 1, "{out}");
    assert_output_clean(&output);
    assert!(out.contains("WARNING: THE KEY IS STILL ACCEPTED"), "{out}");
    assert!(
        err.contains("(apikey_01Unique) was disabled but is STILL ACCEPTED by Anthropic"),
        "{err}"
    );
    assert!(out.contains("still live: 1"), "{out}");
    assert_eq!(fake.posts().len(), 1);
    let probes = fake.requests().iter().filter(|r| r.key() == UNIQUE).count();
    assert!(probes >= 3, "probed again with backoff: {probes}");
}

#[test]
fn anthropic_a_key_deleted_by_someone_else_first_is_already_gone() {
    let dir = reported(&[UNIQUE]);
    let mut org = org();
    org.keys[0].vanishes_before_update = true;
    let fake = FakeAnthropic::start(org);
    let output = revoke(dir.path(), &fake, Some(ADMIN), &["--yes", "--audit-log", "audit.jsonl"]);
    let out = stdout(&output);
    assert_eq!(code(&output), 0, "{out}\n{}", stderr(&output));
    assert_output_clean(&output);
    let unique = block(&out, &shown(UNIQUE));
    assert!(
        unique.contains("disabled: already gone (404: API key apikey_01Unique not found)"),
        "{unique}"
    );
    assert!(
        unique.contains("result:  already gone: someone disabled it first, and the key is rejected"),
        "{unique}"
    );
    assert!(
        out.contains(&row("already gone (disabled by someone else)", 1)),
        "{out}"
    );
    assert_eq!(fake.status("apikey_01Unique"), "deleted");
    let lines = audit(&dir.path().join("audit.jsonl"));
    assert!(
        lines.iter().any(|l| l["action"] == "disable" && l["outcome"] == "gone"),
        "{lines:?}"
    );
}

#[test]
fn anthropic_the_probed_workspace_picks_one_of_two_keys_with_the_same_hint() {
    // A key in a workspace, and one in the default workspace: each has a look-alike in another workspace. Keys
    // listed in both documented shapes: with `scope` (the default workspace's real id), and the older one
    // (`workspace_id` alone, null for the default workspace).
    for legacy in [false, true] {
        let dir = reported(&[WORKSPACED, UNIQUE]);
        let mut org = org();
        org.legacy_shape = legacy;
        let fake = FakeAnthropic::start(org);
        let output = revoke(dir.path(), &fake, Some(ADMIN), &["--yes"]);
        let out = stdout(&output);
        assert_eq!(code(&output), 0, "legacy {legacy}: {out}\n{}", stderr(&output));
        assert_output_clean(&output);
        let mut posted: Vec<String> = fake.posts().into_iter().map(|r| r.url).collect();
        posted.sort();
        assert_eq!(
            posted,
            [
                "/v1/organizations/api_keys/apikey_01Unique",
                "/v1/organizations/api_keys/apikey_01WsB"
            ],
            "legacy {legacy}"
        );
        for (id, status) in [
            ("apikey_01WsA", "active"),
            ("apikey_01WsB", "inactive"),
            ("apikey_01Archived", "archived"),
            ("apikey_01Unique", "inactive"),
        ] {
            assert_eq!(fake.status(id), status, "legacy {legacy}: {id}");
        }
        let workspaced = block(&out, &shown(WORKSPACED));
        assert!(workspaced.contains("in workspace wrkspc_01B"), "{workspaced}");
        assert!(!workspaced.contains("apikey_01WsA"), "{workspaced}");
        let unique = block(&out, &shown(UNIQUE));
        let place = if legacy {
            "in the default workspace".to_string()
        } else {
            format!("in workspace {DEFAULT_WORKSPACE}")
        };
        assert!(unique.contains(&place), "{unique}");
        assert!(!unique.contains("apikey_01Archived"), "{unique}");
    }
}

#[test]
fn anthropic_without_the_organisation_header_a_hint_match_is_not_proven() {
    let dir = reported(&[UNIQUE]);
    let mut org = org();
    org.send_organization = false;
    let fake = FakeAnthropic::start(org);
    let output = revoke(dir.path(), &fake, Some(ADMIN), &["--yes", "--audit-log", "audit.jsonl"]);
    let out = stdout(&output);
    assert_eq!(code(&output), 1, "{out}\n{}", stderr(&output));
    assert_output_clean(&output);
    assert!(fake.posts().is_empty(), "{:?}", fake.posts());
    let unique = block(&out, &shown(UNIQUE));
    assert!(unique.contains("match:   apikey_01Unique"), "{unique}");
    assert!(
        unique.contains(
            "proof:   none: Anthropic named no organisation for the key (no anthropic-organization-id header), and \
             the redacted value shows only 5 random characters"
        ),
        "{unique}"
    );
    assert!(unique.contains("matched, not proven"), "{unique}");
    assert!(out.contains(&row("needs a person", 1)), "{out}");
    let lines = audit(&dir.path().join("audit.jsonl"));
    let evidence = lines
        .iter()
        .find(|l| l["proof"] == "not-proven")
        .expect("the not-proven line");
    assert_eq!(evidence["key_id"], "apikey_01Unique");
    assert_eq!(
        evidence["admin_organization"], ORGANIZATION,
        "from the body of /v1/organizations/me"
    );
}

/// The organisation with 1500 more keys listed before the unique one: two pages of 1000.
fn big_org() -> AntOrg {
    let mut org = org();
    let mut keys: Vec<AntKey> = (0..1500)
        .map(|i| {
            let value = format!("sk-ant-api03-fill{i:04}{}AA", "F".repeat(87));
            AntKey::new(&format!("apikey_01Fill{i:04}"), &value, None)
        })
        .collect();
    keys.append(&mut org.keys);
    org.keys = keys;
    org
}

#[test]
fn anthropic_every_page_of_keys_is_read_and_a_repeated_cursor_stops_the_run() {
    let dir = reported(&[UNIQUE]);
    let fake = FakeAnthropic::start(big_org());
    let output = revoke(dir.path(), &fake, Some(ADMIN), &[]);
    let out = stdout(&output);
    assert_eq!(code(&output), 0, "{out}\n{}", stderr(&output));
    assert!(out.contains("plan:    disable API key apikey_01Unique"), "{out}");
    let requests = fake.requests();
    let listings: Vec<&str> = requests
        .iter()
        .filter(|r| r.path() == "/v1/organizations/api_keys")
        .map(|r| r.url.as_str())
        .collect();
    assert_eq!(
        listings,
        [LIST, "/v1/organizations/api_keys?limit=1000&after_id=apikey_01Fill0999"]
    );

    // A server that hands out the same cursor again: stopped before anything is disabled.
    let mut org = big_org();
    org.repeat_cursor = true;
    let fake = FakeAnthropic::start(org);
    let output = revoke(dir.path(), &fake, Some(ADMIN), &["--yes"]);
    let err = stderr(&output);
    assert_eq!(code(&output), 2, "{}\n{err}", stdout(&output));
    assert!(
        err.contains("the server sent the cursor `apikey_01Fill0999` a second time in one listing"),
        "{err}"
    );
    assert!(fake.posts().is_empty(), "{:?}", fake.posts());
    assert_eq!(fake.status("apikey_01Unique"), "active");
    assert_output_clean(&output);
}

#[test]
fn anthropic_a_rejected_admin_key_stops_the_run() {
    let dir = reported(&[UNIQUE, DEAD]);
    let mut org = org();
    org.echo_key = true;
    let fake = FakeAnthropic::start(org);
    let output = revoke(dir.path(), &fake, Some(WRONG_ADMIN), &["--yes"]);
    let err = stderr(&output);
    assert_eq!(code(&output), 2, "{}\n{err}", stdout(&output));
    assert!(
        err.contains("ANTHROPIC_ADMIN_KEY was rejected (401 on GET /v1/organizations/me): invalid x-api-key"),
        "{err}"
    );
    assert!(err.contains(ADMIN_KEYS_URL), "{err}");
    assert!(
        err.contains(&format!("(x-api-key: {})", shown(WRONG_ADMIN))),
        "the echoed admin key is shown redacted: {err}"
    );
    assert_output_clean(&output);
    let requests = fake.requests();
    assert!(fake.posts().is_empty());
    assert_eq!(fake.status("apikey_01Unique"), "active");
    assert_eq!(
        requests.iter().filter(|r| r.key() == WRONG_ADMIN).count(),
        1,
        "a 401 is not retried, and nothing is listed: {requests:?}"
    );
}

#[test]
fn anthropic_rate_limits_and_overloads_of_the_admin_api_are_retried() {
    let dir = reported(&[UNIQUE]);
    let mut org = org();
    org.faults = vec![
        Fault::new("GET", ME, FaultKind::Overloaded, 1),
        Fault::new("GET", LIST, FaultKind::RateLimit { retry_after: 1 }, 1),
    ];
    let fake = FakeAnthropic::start(org);
    let started = std::time::Instant::now();
    let output = revoke(dir.path(), &fake, Some(ADMIN), &[]);
    let out = stdout(&output);
    assert_eq!(code(&output), 0, "{out}\n{}", stderr(&output));
    assert!(out.contains("plan:    disable API key apikey_01Unique"), "{out}");
    let requests = fake.requests();
    assert_eq!((count(&requests, ME), count(&requests, LIST)), (2, 2));
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(1),
        "retry-after was honoured"
    );
}

#[test]
fn anthropic_and_openai_keys_each_go_to_their_own_provider() {
    use crate::revoke::{UNIQUE as OPENAI_KEY, org as openai_org};
    let dir = reported(&[OPENAI_KEY, UNIQUE]);
    let openai = FakeOpenAi::start(openai_org());
    let fake = FakeAnthropic::start(org());
    let output = run(keyhound_in(dir.path())
        .env("KEYHOUND_ANTHROPIC_API_BASE", &fake.base)
        .env("KEYHOUND_OPENAI_API_BASE", &openai.base)
        .env("ANTHROPIC_ADMIN_KEY", ADMIN)
        .args(["revoke", "--from", "report.json", "--yes", "--confirm-timeout", "2"]));
    let out = stdout(&output);
    assert_eq!(
        code(&output),
        1,
        "the OpenAI key needs a person\n{out}\n{}",
        stderr(&output)
    );
    assert_output_clean(&output);
    assert!(
        out.contains("keyhound: 2 key(s) (1 OpenAI, 1 Anthropic) in report.json"),
        "{out}"
    );
    let openai_block = block(&out, &OPENAI_KEY[..12]);
    assert!(
        openai_block.contains("status:  live"),
        "probed at the OpenAI fake: {openai_block}"
    );
    assert!(
        openai_block.contains(
            "OPENAI_ADMIN_KEY is not set, so keyhound cannot revoke it; revoke it by hand at \
             https://platform.openai.com/api-keys"
        ),
        "{openai_block}"
    );
    assert!(out.contains(&row("needs a person", 1)), "{out}");
    assert!(
        block(&out, &shown(UNIQUE)).contains("revoked: the key is now rejected (401 authentication_error)"),
        "{out}"
    );
    assert_eq!(fake.status("apikey_01Unique"), "inactive");
    // Each provider heard only of its own keys: OpenAI one probe, Anthropic no OpenAI key.
    let openai_requests = openai.requests();
    assert_key_routing(&openai_requests);
    assert_eq!(openai_requests.len(), 1, "{openai_requests:?}");
    for request in &openai_requests {
        assert!(!ALL.iter().any(|k| format!("{request:?}").contains(k)), "{request:?}");
    }
    assert_routing(&fake.requests());

    // With both admin keys set: each goes only to its own provider's API.
    use crate::revoke::ADMIN as OPENAI_ADMIN;
    let openai = FakeOpenAi::start(openai_org());
    let fake = FakeAnthropic::start(org());
    let output = run(keyhound_in(dir.path())
        .env("KEYHOUND_ANTHROPIC_API_BASE", &fake.base)
        .env("KEYHOUND_OPENAI_API_BASE", &openai.base)
        .env("ANTHROPIC_ADMIN_KEY", ADMIN)
        .env("OPENAI_ADMIN_KEY", OPENAI_ADMIN)
        .args(["revoke", "--from", "report.json"]));
    let out = stdout(&output);
    assert_eq!(code(&output), 0, "{out}\n{}", stderr(&output));
    assert_output_clean(&output);
    assert!(out.contains("plan:    delete project API key key_unique"), "{out}");
    assert!(out.contains("plan:    disable API key apikey_01Unique"), "{out}");
    let openai_requests = openai.requests();
    assert_key_routing(&openai_requests);
    assert!(openai_requests.iter().any(|r| r.bearer() == Some(OPENAI_ADMIN)));
    for request in &openai_requests {
        assert!(!ALL.iter().any(|k| format!("{request:?}").contains(k)), "{request:?}");
    }
    let requests = fake.requests();
    assert_routing(&requests);
    assert!(
        requests
            .iter()
            .all(|r| r.key() != OPENAI_ADMIN && r.key() != OPENAI_KEY)
    );
}

#[test]
fn anthropic_keys_echoed_by_the_server_are_never_shown() {
    let dir = reported(&[UNIQUE, DEAD, ECHOED]);
    let mut org = org();
    org.echo_key = true;
    org.faults = vec![Fault {
        key: Some(ECHOED.to_string()),
        ..Fault::new("GET", PROBE, FaultKind::ServerError, 100)
    }];
    let fake = FakeAnthropic::start(org);
    let output = revoke(dir.path(), &fake, Some(ADMIN), &["--yes", "--audit-log", "audit.jsonl"]);
    let out = stdout(&output);
    assert_eq!(code(&output), 1, "{out}\n{}", stderr(&output));
    assert_output_clean(&output);
    audit(&dir.path().join("audit.jsonl"));
    let echoed = block(&out, &shown(ECHOED));
    assert!(
        echoed.contains(&format!(
            "answered 500 after 4 tries: no verdict: Internal server error (x-api-key: {})",
            shown(ECHOED)
        )),
        "the echo is there, redacted: {echoed}"
    );
    assert!(
        echoed.contains("matched, not proven"),
        "no organisation named: {echoed}"
    );
    assert_eq!(fake.posts().len(), 1, "only the unique key: {:?}", fake.posts());
}

#[test]
fn anthropic_an_update_that_keeps_failing_is_left_to_a_person() {
    let dir = reported(&[UNIQUE]);
    let mut org = org();
    org.echo_key = true;
    org.faults = vec![Fault::new(
        "POST",
        "/v1/organizations/api_keys/apikey_01Unique",
        FaultKind::ServerError,
        100,
    )];
    let fake = FakeAnthropic::start(org);
    let output = revoke(dir.path(), &fake, Some(ADMIN), &["--yes", "--audit-log", "audit.jsonl"]);
    let out = stdout(&output);
    assert_eq!(code(&output), 1, "{out}\n{}", stderr(&output));
    assert_output_clean(&output);
    assert_eq!(fake.posts().len(), 4, "5xx retried, a bounded number of times");
    assert_eq!(fake.status("apikey_01Unique"), "active");
    let unique = block(&out, &shown(UNIQUE));
    assert!(
        unique.contains(&format!(
            "disabled: no: HTTP 500: Internal server error (x-api-key: {})",
            shown(ADMIN)
        )),
        "the echoed admin key, redacted: {unique}"
    );
    assert!(
        unique.contains(&format!("action:  disable it by hand at {KEYS_URL}")),
        "{unique}"
    );
    assert!(out.contains(&row("failed", 1)), "{out}");
    let lines = audit(&dir.path().join("audit.jsonl"));
    assert!(
        lines
            .iter()
            .any(|l| l["action"] == "disable" && l["outcome"] == "failed" && l["http_status"] == 500),
        "{lines:?}"
    );
}

// ---------------------------------------------------------------------------------------------------------------
// The fake follows the vendored description.

/// Validates `(schema name, body)` pairs against the schemas of `tests/openapi/anthropic-admin.json`, with
/// Python's `jsonschema`.
fn assert_bodies_match_the_description(bodies: &[(&str, Value)]) {
    let dir = tempfile::TempDir::new().expect("temp dir");
    let file = dir.path().join("bodies.json");
    let list: Vec<Value> = bodies.iter().map(|(schema, body)| json!([schema, body])).collect();
    fs::write(&file, Value::Array(list).to_string()).expect("write");
    let script = r##"
import json, sys
import jsonschema
spec = json.load(open(sys.argv[1]))
text = json.dumps({"schemas": spec["components"]["schemas"]}).replace("#/components/schemas/", "#/schemas/")
root = json.loads(text)
failures = []
for name, body in json.load(open(sys.argv[2])):
    schema = dict(root["schemas"][name])
    schema["schemas"] = root["schemas"]
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    for error in validator.iter_errors(body):
        failures.append(f"{name}: {list(error.absolute_path)}: {error.message}")
print("\n".join(failures))
sys.exit(1 if failures else 0)
"##;
    let output = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(root().join("tests/openapi/anthropic-admin.json"))
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

/// What the fake answers: status, body, `anthropic-organization-id`, `anthropic-workspace-id`, `request-id`.
struct Answer {
    status: u16,
    body: Value,
    organization: Option<String>,
    workspace: Option<String>,
    request_id: Option<String>,
}

fn call(fake: &FakeAnthropic, method: &str, path: &str, key: &str, body: Option<&str>, version: bool) -> Answer {
    let client = reqwest::blocking::Client::new();
    let mut request = match method {
        "POST" => client.post(format!("{}{path}", fake.base)),
        _ => client.get(format!("{}{path}", fake.base)),
    };
    request = request.header("x-api-key", key);
    if version {
        request = request.header("anthropic-version", "2023-06-01");
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().expect("the fake answers");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (organization, workspace, request_id) = (
        header("anthropic-organization-id"),
        header("anthropic-workspace-id"),
        header("request-id"),
    );
    let status = response.status().as_u16();
    let body: Value = response.json().expect("a JSON body");
    Answer {
        status,
        body,
        organization,
        workspace,
        request_id,
    }
}

#[test]
fn anthropic_the_fake_answers_as_the_vendored_description_says() {
    let fake = FakeAnthropic::start(org());
    let mut bodies: Vec<(&str, Value)> = Vec::new();
    let mut expect = |schema: &'static str, status: u16, answer: Answer| -> Answer {
        assert_eq!(answer.status, status, "{schema}: {}", answer.body);
        assert!(
            answer.request_id.as_deref().is_some_and(|id| id.starts_with("req_")),
            "every answer has request-id"
        );
        bodies.push((schema, answer.body.clone()));
        answer
    };
    let list = expect("ListResponse_APIKey", 200, call(&fake, "GET", LIST, ADMIN, None, true));
    assert_eq!(
        list.body["data"].as_array().map(Vec::len),
        Some(9),
        "every status and workspace"
    );
    assert_eq!(list.organization.as_deref(), Some(ORGANIZATION));
    assert_eq!(list.workspace, None, "Admin API requests resolve to no workspace");
    let first = expect(
        "ListResponse_APIKey",
        200,
        call(&fake, "GET", "/v1/organizations/api_keys?limit=2", ADMIN, None, true),
    );
    assert_eq!(
        (first.body["has_more"].clone(), first.body["last_id"].clone()),
        (json!(true), json!("apikey_01Dead"))
    );
    let next = expect(
        "ListResponse_APIKey",
        200,
        call(
            &fake,
            "GET",
            "/v1/organizations/api_keys?after_id=apikey_01Dead",
            ADMIN,
            None,
            true,
        ),
    );
    assert_eq!(next.body["first_id"], "apikey_01Victim");
    assert_eq!(next.body["has_more"], false, "the default limit is 20");
    let me = expect("OrganizationInfo", 200, call(&fake, "GET", ME, ADMIN, None, true));
    assert_eq!(me.body["id"], ORGANIZATION);
    expect(
        "OrganizationInfo",
        200,
        call(&fake, "GET", ME, LEAKED_ADMIN, None, true),
    );
    expect(
        "APIKey",
        200,
        call(
            &fake,
            "GET",
            "/v1/organizations/api_keys/apikey_01WsB",
            ADMIN,
            None,
            true,
        ),
    );
    let updated = expect(
        "APIKey",
        200,
        call(
            &fake,
            "POST",
            "/v1/organizations/api_keys/apikey_01WsA",
            ADMIN,
            Some(BODY),
            true,
        ),
    );
    assert_eq!(updated.body["status"], "inactive");
    assert_eq!(updated.body["partial_key_hint"], hint(WORKSPACED));
    assert_eq!(
        updated.body["scope"],
        json!({"type": "workspace", "workspace_id": "wrkspc_01A"})
    );
    // Errors: a bad key (no organisation named), no anthropic-version, a status that cannot be written, a bad
    // limit, an unknown key, an ordinary key on the Admin API.
    let rejected = expect("ErrorResponse", 401, call(&fake, "GET", LIST, WRONG_ADMIN, None, true));
    assert_eq!(rejected.body["error"]["type"], "authentication_error");
    assert_eq!(rejected.organization, None);
    let unversioned = expect("ErrorResponse", 400, call(&fake, "GET", ME, ADMIN, None, false));
    assert_eq!(unversioned.body["error"]["type"], "invalid_request_error");
    expect(
        "ErrorResponse",
        400,
        call(
            &fake,
            "POST",
            "/v1/organizations/api_keys/apikey_01WsA",
            ADMIN,
            Some(r#"{"status":"expired"}"#),
            true,
        ),
    );
    expect(
        "ErrorResponse",
        400,
        call(&fake, "GET", "/v1/organizations/api_keys?limit=1001", ADMIN, None, true),
    );
    expect(
        "ErrorResponse",
        404,
        call(
            &fake,
            "POST",
            "/v1/organizations/api_keys/apikey_01Nobody",
            ADMIN,
            Some(BODY),
            true,
        ),
    );
    expect("ErrorResponse", 401, call(&fake, "GET", ME, UNIQUE, None, true));
    let mut legacy = org();
    legacy.legacy_shape = true;
    let old = FakeAnthropic::start(legacy);
    let listed = expect("ListResponse_APIKey", 200, call(&old, "GET", LIST, ADMIN, None, true));
    assert_eq!(listed.body["data"][0]["workspace_id"], Value::Null);
    assert_eq!(listed.body["data"][0].get("scope"), None);
    assert_bodies_match_the_description(&bodies);

    // Probes: the organisation and workspace of the key; another organisation for a foreign key; a disabled or
    // unknown key is rejected without naming anyone.
    let probe = call(&fake, "GET", PROBE, UNIQUE, None, true);
    assert_eq!(
        (probe.status, probe.organization.as_deref(), probe.workspace.as_deref()),
        (200, Some(ORGANIZATION), Some(DEFAULT_WORKSPACE))
    );
    let foreign = call(&fake, "GET", PROBE, FOREIGN, None, true);
    assert_eq!(
        (foreign.status, foreign.organization.as_deref()),
        (200, Some(OTHER_ORGANIZATION))
    );
    for key in [DEAD, WORKSPACED.replace("sk-ant-api03-N", "sk-ant-api03-M").as_str()] {
        let dead = call(&fake, "GET", PROBE, key, None, true);
        assert_eq!((dead.status, dead.organization, dead.workspace), (401, None, None));
        assert_eq!(dead.body["error"]["type"], "authentication_error");
    }
    let disabled = call(&fake, "GET", PROBE, &look_alike(WORKSPACED, 'W'), None, true);
    assert_eq!(disabled.status, 401, "disabled above");
}
