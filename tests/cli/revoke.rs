//! `keyhound revoke`, `scan --verify/--revoke` and `git --verify/--revoke`, against a fake of OpenAI's API on
//! 127.0.0.1 (see `fake_openai.rs`). Nothing here ever reaches the internet.
//!
//! Every test checks what the fake received: which requests, in which order, and with which bearer token.

use std::fs;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use crate::common::{LEGACY_KEY, PROJECT_KEY, code, git_ok, json_findings, keyhound_in, run, stderr, stdout, tree};
use crate::fake_openai::{FakeKey, FakeOpenAi, Fault, FaultKind, Org, Owner, Recorded};

// Fake keys of OpenAI's published shapes (scripts/gen-fake-key.py), never issued by anyone.
/// Leaked, and the only key in the organisation that matches it: the one to delete.
pub(crate) const UNIQUE: &str = PROJECT_KEY;
/// Leaked; its redacted value also fits another key of the organisation.
pub(crate) const AMBIGUOUS: &str = "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";
/// Leaked, already revoked: probes 401.
pub(crate) const DEAD: &str = "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";
/// Leaked, owned by a service account.
pub(crate) const SERVICE: &str = "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";
/// A leaked admin key of the organisation.
pub(crate) const LEAKED_ADMIN: &str = "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";
/// The admin key in OPENAI_ADMIN_KEY: never leaked.
pub(crate) const ADMIN: &str = "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";
/// Live, but a key of another organisation: no listed key matches.
pub(crate) const FOREIGN: &str = "sk-None-BQSKk8TOsWmllgUuf9N0yM45WoPT2KU8tY9j0cSAnH1E9PaB";
/// Behind an IP allow-list: its probe answers 401 with another code.
pub(crate) const RESTRICTED: &str = "sk-proj-9Yqd2Th5e5IyJVwtSAJprIjDudyyi5VRKAna5KKDllxX7tMb";
/// Its probe never answers in time.
pub(crate) const SLOW: &str = "sk-proj-u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8dKLzdocJ2isAj";
/// Not an OpenAI key: left alone.
pub(crate) const ANTHROPIC: &str =
    "sk-ant-api03-xxoVTz8eUcIuMvwr6laPsaUUHZb0UOIYBk7-H0k2C-th718eb_aQqedNxoB3qgZDn4m5PZWuakZjTa-_3hjWkbXko-2tBAA";

pub(crate) const ALL_KEYS: &[&str] = &[
    UNIQUE,
    AMBIGUOUS,
    DEAD,
    SERVICE,
    LEAKED_ADMIN,
    ADMIN,
    FOREIGN,
    RESTRICTED,
    SLOW,
    LEGACY_KEY,
    ANTHROPIC,
];

/// The project holding the unique key, on the second page of projects, behind 129 other keys.
pub(crate) const UNIQUE_PROJECT: &str = "proj_0150";

/// The organisation: 230 projects (three pages of 100), a project with 130 keys (two pages), a key with a
/// look-alike, a service account with two keys, two admin keys.
pub(crate) fn org() -> Org {
    let projects: Vec<(String, String)> = (0..230)
        .map(|i| (format!("proj_{i:04}"), format!("Project {i}")))
        .collect();
    let alice = Owner::user("user_alice", "Alice Example", "alice@example.com");
    let mut keys: Vec<FakeKey> = (0..129)
        .map(|i| {
            let value = format!("sk-proj-fill{i:04}{}", "Z".repeat(40));
            FakeKey::project(
                &format!("key_fill_{i:03}"),
                &value,
                UNIQUE_PROJECT,
                alice.clone(),
                11,
                4,
            )
        })
        .collect();
    keys.push(FakeKey::project(
        "key_unique",
        UNIQUE,
        UNIQUE_PROJECT,
        alice.clone(),
        11,
        4,
    ));
    let look_alike = format!(
        "{}{}{}",
        &AMBIGUOUS[..11],
        "Q".repeat(AMBIGUOUS.len() - 15),
        &AMBIGUOUS[AMBIGUOUS.len() - 4..]
    );
    keys.push(FakeKey::project(
        "key_amb_1",
        AMBIGUOUS,
        "proj_0003",
        alice.clone(),
        11,
        4,
    ));
    keys.push(FakeKey::project("key_amb_2", &look_alike, "proj_0042", alice, 11, 4));
    let ci = Owner::service_account("svc_acct_ci", "ci-deployer");
    keys.push(FakeKey::project("key_svc", SERVICE, "proj_0007", ci.clone(), 14, 4));
    let sibling = format!("sk-svcacct-sibling{}", "Y".repeat(60));
    keys.push(FakeKey::project("key_svc_2", &sibling, "proj_0007", ci, 14, 4));
    let bob = Owner::user("user_bob", "Bob Example", "bob@example.com");
    keys.push(FakeKey::project("key_restricted", RESTRICTED, "proj_0010", bob, 11, 4));
    keys.push(FakeKey::admin("key_admin_main", ADMIN, 4));
    keys.push(FakeKey::admin("key_admin_leaked", LEAKED_ADMIN, 4));
    Org {
        send_organization: true,
        admin_key: ADMIN.to_string(),
        projects,
        keys,
        foreign_live: vec![FOREIGN.to_string(), LEGACY_KEY.to_string()],
        ip_restricted: vec![RESTRICTED.to_string()],
        slow_probes: vec![SLOW.to_string()],
        ..Org::default()
    }
}

/// A tree with each key in its own `.env` file.
pub(crate) fn tree_with(keys: &[&str]) -> TempDir {
    let files: Vec<(String, Vec<u8>)> = keys
        .iter()
        .enumerate()
        .map(|(i, key)| {
            (
                format!("app{i}/.env"),
                format!("# settings\nAPI_KEY={key}\n").into_bytes(),
            )
        })
        .collect();
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(p, c)| (p.as_str(), c.as_slice())).collect();
    tree(&refs)
}

/// `keyhound scan . --format json -o report.json` in `dir` (a redacted report).
pub(crate) fn write_report(dir: &Path) {
    let output = run(keyhound_in(dir).args(["scan", ".", "--format", "json", "-o", "report.json"]));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let report = fs::read_to_string(dir.join("report.json")).expect("report");
    assert_no_raw_keys(&report, "the report");
}

/// `keyhound` with no OpenAI settings inherited from the environment running the tests.
pub(crate) fn keyhound_clean(dir: &Path) -> assert_cmd::Command {
    let mut cmd = keyhound_in(dir);
    for var in [
        "OPENAI_ADMIN_KEY",
        "OPENAI_BASE_URL",
        "KEYHOUND_OPENAI_API_BASE",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// `keyhound revoke --from report.json --api-base <fake> --confirm-timeout 2 EXTRA` with `admin` in
/// OPENAI_ADMIN_KEY.
pub(crate) fn revoke(dir: &Path, fake: &FakeOpenAi, admin: Option<&str>, extra: &[&str]) -> Output {
    let mut cmd = keyhound_clean(dir);
    cmd.args([
        "revoke",
        "--from",
        "report.json",
        "--api-base",
        &fake.base,
        "--confirm-timeout",
        "2",
    ])
    .args(extra);
    if let Some(admin) = admin {
        cmd.env("OPENAI_ADMIN_KEY", admin);
    }
    run(&mut cmd)
}

pub(crate) fn assert_no_raw_keys(text: &str, what: &str) {
    for key in ALL_KEYS {
        assert!(!text.contains(key), "{what} holds the raw key {}…:\n{text}", &key[..12]);
    }
}

/// Checks where each key went: the admin key only to the Administration API, each leaked key only to its
/// liveness probe (`/v1/models`, or the admin-key listing with `limit=1` for admin keys), nothing else.
pub(crate) fn assert_key_routing(requests: &[Recorded]) {
    for request in requests {
        assert!(
            !format!("{request:?}").contains(ANTHROPIC),
            "another provider's key reached OpenAI: {}",
            request.url
        );
        let bearer = request.bearer().unwrap_or_default();
        if bearer == ADMIN {
            assert!(
                request.path().starts_with("/v1/organization/"),
                "the admin key went to {}",
                request.url
            );
        } else if bearer.starts_with("sk-admin-") {
            assert_eq!(bearer, LEAKED_ADMIN);
            assert_eq!(
                (request.method.as_str(), request.url.as_str()),
                ("GET", "/v1/organization/admin_api_keys?limit=1"),
                "a leaked admin key went elsewhere than its probe"
            );
        } else {
            assert!(ALL_KEYS.contains(&bearer), "unexpected bearer on {}", request.url);
            assert_eq!(
                (request.method.as_str(), request.url.as_str()),
                ("GET", "/v1/models"),
                "a leaked key went elsewhere than its probe"
            );
        }
    }
}

pub(crate) fn deletes(requests: &[Recorded]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| r.method == "DELETE")
        .map(|r| r.url.clone())
        .collect()
}

pub(crate) fn count(requests: &[Recorded], url: &str) -> usize {
    requests.iter().filter(|r| r.url == url).count()
}

pub(crate) fn audit_lines(path: &Path) -> Vec<Value> {
    let text = fs::read_to_string(path).expect("audit log");
    assert_no_raw_keys(&text, "the audit log");
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect()
}

/// The output block about one key (from its redacted form to the next blank line).
pub(crate) fn block<'a>(text: &'a str, redacted_start: &str) -> &'a str {
    let start = text
        .find(redacted_start)
        .unwrap_or_else(|| panic!("no block for {redacted_start}:\n{text}"));
    let rest = &text[start..];
    &rest[..rest.find("\n\n").unwrap_or(rest.len())]
}

// ---------------------------------------------------------------------------------------------------------------

#[test]
fn a_dry_run_plans_and_deletes_nothing() {
    let dir = tree_with(&[
        UNIQUE,
        AMBIGUOUS,
        DEAD,
        SERVICE,
        LEAKED_ADMIN,
        FOREIGN,
        LEGACY_KEY,
        ANTHROPIC,
    ]);
    write_report(dir.path());
    let fake = FakeOpenAi::start(org());
    let log = dir.path().join("audit.jsonl");
    let output = revoke(
        dir.path(),
        &fake,
        Some(ADMIN),
        &["--audit-log", log.to_str().expect("utf-8")],
    );
    let (out, err) = (stdout(&output), stderr(&output));
    assert_eq!(
        code(&output),
        1,
        "ambiguous, foreign and legacy keys are not revoked\n{out}\n{err}"
    );
    assert_no_raw_keys(&out, "stdout");
    assert_no_raw_keys(&err, "stderr");

    let requests = fake.requests();
    assert!(
        deletes(&requests).is_empty(),
        "a dry run deleted: {:?}",
        deletes(&requests)
    );
    assert!(fake.deleted_keys().is_empty());
    assert_key_routing(&requests);
    // Every page of projects and of the big project's keys was read, following the cursors.
    for url in [
        "/v1/organization/projects?limit=100&include_archived=true",
        "/v1/organization/projects?limit=100&include_archived=true&after=proj_0099",
        "/v1/organization/projects?limit=100&include_archived=true&after=proj_0199",
        "/v1/organization/projects/proj_0150/api_keys?limit=100&owner_project_access=any",
        "/v1/organization/projects/proj_0150/api_keys?limit=100&owner_project_access=any&after=key_fill_099",
        "/v1/organization/projects/proj_0229/api_keys?limit=100&owner_project_access=any",
        "/v1/organization/admin_api_keys?limit=100",
    ] {
        assert_eq!(count(&requests, url), 1, "{url}");
    }
    // Each unique key is probed once.
    assert_eq!(
        requests.iter().filter(|r| r.bearer() == Some(UNIQUE)).count(),
        1,
        "the unique key is probed once"
    );

    assert!(out.contains("dry run"), "{out}");
    // The Anthropic key is Anthropic's: probed there (here a closed port: no verdict), never sent to OpenAI.
    let anthropic = block(&out, "sk-ant-api0…tBAA");
    assert!(
        anthropic.contains("Anthropic API key (anthropic-api-key)"),
        "{anthropic}"
    );
    assert!(anthropic.contains("status:  unknown"), "{anthropic}");
    let unique = block(&out, "sk-proj-e7nj…vhcH");
    assert!(unique.contains("status:  live"), "{unique}");
    assert!(unique.contains("key_unique"), "{unique}");
    assert!(unique.contains("proj_0150 \"Project 150\""), "{unique}");
    assert!(
        unique.contains("user \"Alice Example\" <alice@example.com>"),
        "{unique}"
    );
    assert!(unique.contains("last used 2024-05-01T10:00:00Z"), "{unique}");
    assert!(
        unique.contains("plan:    delete project API key key_unique"),
        "{unique}"
    );

    let ambiguous = block(&out, &AMBIGUOUS[..12]);
    assert!(ambiguous.contains("2 keys in the organisation fit"), "{ambiguous}");
    assert!(
        ambiguous.contains("key_amb_1") && ambiguous.contains("key_amb_2"),
        "{ambiguous}"
    );
    assert!(
        ambiguous.contains("https://platform.openai.com/api-keys"),
        "{ambiguous}"
    );

    let dead = block(&out, &DEAD[..12]);
    assert!(
        dead.contains("status:  dead") && dead.contains("already dead"),
        "{dead}"
    );
    // Live keys of another organisation (OpenAI names it on their probes) are never matched.
    for foreign in [LEGACY_KEY, FOREIGN] {
        let foreign = block(&out, &foreign[..7]);
        assert!(
            foreign.contains("owner:   another organisation: OpenAI names org-someone-else"),
            "{foreign}"
        );
        assert!(!foreign.contains("match:"), "{foreign}");
    }
    let service = block(&out, &SERVICE[..15]);
    assert!(
        service.contains("svc_acct_ci") && service.contains("--delete-service-accounts"),
        "{service}"
    );
    let admin = block(&out, &LEAKED_ADMIN[..13]);
    assert!(admin.contains("plan:    delete admin key key_admin_leaked"), "{admin}");

    // One summary per provider: OpenAI's, then Anthropic's.
    let summary = out
        .lines()
        .find(|l| l.starts_with("keyhound: revoke summary: 7 OpenAI key(s)"))
        .unwrap_or_else(|| panic!("no OpenAI summary:\n{out}"));
    assert!(
        summary.contains("3 planned") && summary.contains("1 already dead"),
        "{summary}"
    );
    assert!(summary.contains("nothing was deleted"), "{summary}");

    let lines = audit_lines(&log);
    assert!(lines.iter().all(|l| l["dry_run"] == true));
    let probes = |provider: &str| {
        lines
            .iter()
            .filter(|l| l["action"] == "probe" && l["provider"] == provider)
            .count()
    };
    assert_eq!((probes("openai"), probes("anthropic")), (7, 1));
    assert!(
        lines
            .iter()
            .all(|l| l["action"] != "delete" && l["action"] != "delete-attempt")
    );
    let planned = lines
        .iter()
        .find(|l| l["action"] == "match" && l["key_id"] == "key_unique")
        .expect("a match line for the unique key");
    assert_eq!(planned["outcome"], "planned");
    assert_eq!(planned["project_id"], UNIQUE_PROJECT);
    assert_eq!(planned["key"], "sk-proj-e7nj…vhcH");
    assert_eq!(planned["proof"], "same-organization");
    assert_eq!(planned["key_organization"], "org-keyhound-test");
    assert_eq!(planned["admin_organization"], "org-keyhound-test");
    let other = lines
        .iter()
        .find(|l| l["action"] == "match" && l["outcome"] == "other-organization")
        .expect("the foreign keys' evidence");
    assert_eq!(other["key_organization"], "org-someone-else");
    // The closing table.
    assert!(out.contains("keyhound: what became of each OpenAI key:"), "{out}");
    for row in [
        "planned (dry run)",
        "already dead",
        "belongs to another organisation",
        "ambiguous",
    ] {
        assert!(out.contains(row), "{row}: {out}");
    }
}

#[test]
fn yes_deletes_only_the_single_match_and_confirms_the_revocation() {
    let dir = tree_with(&[UNIQUE, AMBIGUOUS]);
    write_report(dir.path());
    let mut org = org();
    // The deletion takes a moment to show: the first probe after it still succeeds.
    if let Some(key) = org.keys.iter_mut().find(|k| k.id == "key_unique") {
        key.live_probes_after_delete = 1;
    }
    let fake = FakeOpenAi::start(org);
    let log = dir.path().join("audit.jsonl");
    let output = revoke(
        dir.path(),
        &fake,
        Some(ADMIN),
        &["--yes", "--audit-log", log.to_str().expect("utf-8")],
    );
    let out = stdout(&output);
    assert_eq!(code(&output), 1, "the ambiguous key is not revoked\n{out}");
    assert_no_raw_keys(&out, "stdout");
    assert_no_raw_keys(&stderr(&output), "stderr");

    let requests = fake.requests();
    assert_eq!(
        deletes(&requests),
        vec![format!(
            "/v1/organization/projects/{UNIQUE_PROJECT}/api_keys/key_unique"
        )]
    );
    assert_eq!(fake.deleted_keys(), vec!["key_unique"]);
    assert_key_routing(&requests);
    // Probed once, then twice more until the deletion showed.
    assert_eq!(requests.iter().filter(|r| r.bearer() == Some(UNIQUE)).count(), 3);
    let unique = block(&out, "sk-proj-e7nj…vhcH");
    assert!(
        unique.contains("deleted: project API key key_unique (request req_"),
        "{unique}"
    );
    assert!(unique.contains("result:  revoked"), "{unique}");
    assert!(block(&out, &AMBIGUOUS[..12]).contains("action:  none"), "{out}");
    assert!(out.contains("1 revoked"), "{out}");

    let lines = audit_lines(&log);
    let actions: Vec<&str> = lines
        .iter()
        .filter(|l| l["key_id"] == "key_unique")
        .map(|l| l["action"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(actions, vec!["match", "delete-attempt", "delete", "confirm"]);
    let delete = lines.iter().find(|l| l["action"] == "delete").expect("delete line");
    assert_eq!(delete["http_status"], 200);
    assert_eq!(delete["outcome"], "deleted");
    assert!(delete["request_id"].as_str().is_some_and(|id| id.starts_with("req_")));
    assert_eq!(delete["dry_run"], false);
    let confirm = lines.iter().find(|l| l["action"] == "confirm").expect("confirm line");
    assert_eq!(confirm["outcome"], "revoked");
    assert_eq!(confirm["http_status"], 401);
    let ambiguous = lines
        .iter()
        .find(|l| l["action"] == "match" && l["outcome"] == "ambiguous")
        .expect("an ambiguous match line");
    assert!(ambiguous["message"].as_str().unwrap_or_default().contains("key_amb_2"));
}

#[test]
fn every_key_handled_exits_0() {
    let dir = tree_with(&[UNIQUE, DEAD]);
    write_report(dir.path());
    let fake = FakeOpenAi::start(org());
    let output = revoke(dir.path(), &fake, Some(ADMIN), &[]);
    assert_eq!(code(&output), 0, "{}", stdout(&output));
    let output = revoke(dir.path(), &fake, Some(ADMIN), &["--yes"]);
    assert_eq!(code(&output), 0, "{}", stdout(&output));
    assert_eq!(fake.deleted_keys(), vec!["key_unique"]);
    // Run again: the key is dead now, so nothing more is done.
    let output = revoke(dir.path(), &fake, Some(ADMIN), &["--yes"]);
    assert_eq!(code(&output), 0, "{}", stdout(&output));
    assert!(stdout(&output).contains("2 already dead"), "{}", stdout(&output));
    assert_eq!(deletes(&fake.requests()).len(), 1);
}

#[test]
fn a_service_account_is_deleted_only_with_its_own_flag() {
    let dir = tree_with(&[SERVICE]);
    write_report(dir.path());
    let fake = FakeOpenAi::start(org());
    let output = revoke(dir.path(), &fake, Some(ADMIN), &["--yes"]);
    let out = stdout(&output);
    assert_eq!(code(&output), 1, "{out}");
    assert!(
        out.contains("OpenAI refuses to delete a service account's key alone"),
        "{out}"
    );
    assert!(
        out.contains("API keys owned by a service account cannot be deleted on their own"),
        "OpenAI's message is shown: {out}"
    );
    assert!(
        out.contains("--delete-service-accounts to delete service account svc_acct_ci"),
        "{out}"
    );
    assert!(out.contains("2 key(s) in this project"), "{out}");
    assert_eq!(
        deletes(&fake.requests()),
        vec!["/v1/organization/projects/proj_0007/api_keys/key_svc"]
    );
    assert!(fake.deleted_keys().is_empty());

    let output = revoke(dir.path(), &fake, Some(ADMIN), &["--yes", "--delete-service-accounts"]);
    let out = stdout(&output);
    assert_eq!(code(&output), 0, "{out}");
    assert!(out.contains("deleted: service account svc_acct_ci"), "{out}");
    assert!(out.contains("result:  revoked"), "{out}");
    let requests = fake.requests();
    assert_eq!(
        deletes(&requests)[1..],
        [
            "/v1/organization/projects/proj_0007/api_keys/key_svc".to_string(),
            "/v1/organization/projects/proj_0007/service_accounts/svc_acct_ci".to_string(),
        ]
    );
    assert_eq!(fake.deleted_keys(), vec!["key_svc", "key_svc_2"]);
    assert_key_routing(&requests);
    assert_no_raw_keys(&out, "stdout");
}

#[test]
fn a_leaked_admin_key_is_found_among_admin_keys_and_deleted() {
    let dir = tree_with(&[LEAKED_ADMIN]);
    write_report(dir.path());
    let fake = FakeOpenAi::start(org());
    let output = revoke(dir.path(), &fake, Some(ADMIN), &["--yes"]);
    let out = stdout(&output);
    assert_eq!(code(&output), 0, "{out}");
    let requests = fake.requests();
    assert_eq!(
        deletes(&requests),
        vec!["/v1/organization/admin_api_keys/key_admin_leaked"]
    );
    assert!(
        !requests.iter().any(|r| r.url.starts_with("/v1/organization/projects")),
        "no project is listed for an admin key"
    );
    assert!(
        !requests.iter().any(|r| r.url == "/v1/models"),
        "admin keys are not probed at /v1/models"
    );
    assert_key_routing(&requests);
    assert!(out.contains("result:  revoked"), "{out}");
    assert_no_raw_keys(&out, "stdout");
}

#[test]
fn without_the_admin_key_nothing_is_sent() {
    let dir = tree_with(&[UNIQUE]);
    write_report(dir.path());
    let fake = FakeOpenAi::start(org());
    let output = revoke(dir.path(), &fake, None, &["--yes"]);
    assert_eq!(code(&output), 2);
    let err = stderr(&output);
    assert!(err.contains("OPENAI_ADMIN_KEY is not set"), "{err}");
    assert!(fake.requests().is_empty(), "{:?}", fake.requests());
    // An empty variable is a missing one.
    let output = revoke(dir.path(), &fake, Some(""), &[]);
    assert_eq!(code(&output), 2);
    assert!(fake.requests().is_empty());
}

#[test]
fn a_wrong_admin_key_is_a_clear_error_with_openais_message() {
    let dir = tree_with(&[UNIQUE]);
    write_report(dir.path());
    let fake = FakeOpenAi::start(org());
    let wrong = "sk-admin-wrongwrongwrongwrongwrongwrongwrongwrongwrongwrongwrongwrongwrong";
    let output = revoke(dir.path(), &fake, Some(wrong), &["--yes"]);
    assert_eq!(code(&output), 2, "{}", stdout(&output));
    let err = stderr(&output);
    assert!(err.contains("OPENAI_ADMIN_KEY was rejected"), "{err}");
    assert!(err.contains("Incorrect API key provided"), "{err}");
    let text = format!("{}{err}", stdout(&output));
    assert!(!text.contains(wrong), "{text}");
    assert_no_raw_keys(&text, "output");
    let requests = fake.requests();
    assert!(deletes(&requests).is_empty());
    // The listing stopped at its first, rejected request.
    assert_eq!(
        requests.iter().filter(|r| r.bearer() == Some(wrong)).count(),
        1,
        "401 is not retried"
    );
}

#[test]
fn rate_limits_server_errors_and_slow_replies_are_retried() {
    let dir = tree_with(&[UNIQUE]);
    write_report(dir.path());
    let mut org = org();
    let keys =
        |project: &str| format!("/v1/organization/projects/{project}/api_keys?limit=100&owner_project_access=any");
    org.faults = vec![
        Fault {
            method: "GET",
            prefix: "/v1/organization/projects?limit=100&include_archived=true&after=proj_0099".into(),
            kind: FaultKind::RateLimit { retry_after: 1 },
            times: 1,
        },
        Fault {
            method: "GET",
            prefix: keys(UNIQUE_PROJECT),
            kind: FaultKind::ServerError,
            times: 1,
        },
        Fault {
            method: "GET",
            prefix: keys("proj_0003"),
            kind: FaultKind::Slow(Duration::from_secs(3)),
            times: 1,
        },
    ];
    let fake = FakeOpenAi::start(org);
    let started = Instant::now();
    let output = revoke(dir.path(), &fake, Some(ADMIN), &["--request-timeout", "1"]);
    let elapsed = started.elapsed();
    let out = stdout(&output);
    assert_eq!(code(&output), 0, "{out}\n{}", stderr(&output));
    assert!(out.contains("plan:    delete project API key key_unique"), "{out}");
    let requests = fake.requests();
    assert_eq!(
        count(
            &requests,
            "/v1/organization/projects?limit=100&include_archived=true&after=proj_0099"
        ),
        2
    );
    assert_eq!(count(&requests, &keys(UNIQUE_PROJECT)), 2);
    assert_eq!(count(&requests, &keys("proj_0003")), 2);
    assert!(
        elapsed >= Duration::from_secs(2),
        "Retry-After (1 s) and the 1 s timeout were waited: {elapsed:?}"
    );
}

#[test]
fn a_key_that_stays_live_after_deletion_is_a_loud_warning() {
    let dir = tree_with(&[UNIQUE]);
    write_report(dir.path());
    let mut org = org();
    if let Some(key) = org.keys.iter_mut().find(|k| k.id == "key_unique") {
        key.live_probes_after_delete = 1000;
    }
    let fake = FakeOpenAi::start(org);
    let started = Instant::now();
    let output = revoke(dir.path(), &fake, Some(ADMIN), &["--yes"]);
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(code(&output), 1);
    let (out, err) = (stdout(&output), stderr(&output));
    assert!(out.contains("WARNING: THE KEY IS STILL ACCEPTED"), "{out}");
    assert!(err.contains("STILL ACCEPTED"), "{err}");
    assert!(out.contains("still live: 1"), "{out}");
    let probes = fake.requests().iter().filter(|r| r.bearer() == Some(UNIQUE)).count();
    assert!(probes >= 3, "probed again with backoff: {probes}");
}

#[test]
fn a_key_that_cannot_be_probed_is_deleted_without_waiting_for_a_confirmation() {
    let dir = tree_with(&[RESTRICTED]);
    write_report(dir.path());
    let fake = FakeOpenAi::start(org());
    let started = Instant::now();
    let output = run(keyhound_clean(dir.path()).env("OPENAI_ADMIN_KEY", ADMIN).args([
        "revoke",
        "--from",
        "report.json",
        "--yes",
        "--api-base",
        &fake.base,
    ]));
    let out = stdout(&output);
    assert_eq!(code(&output), 0, "{out}");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the default 180 s confirmation was not waited"
    );
    assert!(block(&out, &RESTRICTED[..12]).contains("status:  unknown"), "{out}");
    assert!(out.contains("deleted, but not confirmed"), "{out}");
    assert_eq!(fake.deleted_keys(), vec!["key_restricted"]);
    assert_eq!(
        fake.requests()
            .iter()
            .filter(|r| r.bearer() == Some(RESTRICTED))
            .count(),
        2
    );
}

#[test]
fn a_changed_file_is_skipped_with_a_clear_message() {
    let dir = tree_with(&[UNIQUE]);
    write_report(dir.path());
    fs::write(
        dir.path().join("app0/.env"),
        format!("# settings\nAPI_KEY={}\n", RESTRICTED),
    )
    .expect("rewrite");
    let fake = FakeOpenAi::start(org());
    let output = revoke(dir.path(), &fake, Some(ADMIN), &["--yes"]);
    let out = stdout(&output);
    assert_eq!(code(&output), 1, "{out}");
    assert!(out.contains("skipped"), "{out}");
    assert!(out.contains("app0/.env:2:9"), "{out}");
    assert!(out.contains("no longer has the reported fingerprint"), "{out}");
    assert!(
        fake.requests().is_empty(),
        "the other text is never sent: {:?}",
        fake.requests()
    );
    assert_no_raw_keys(&out, "stdout");
}

#[test]
fn a_show_secrets_report_is_used_directly_and_checked() {
    let dir = tree_with(&[UNIQUE]);
    let output = run(keyhound_in(dir.path()).args(["scan", ".", "-f", "json", "--show-secrets", "-o", "report.json"]));
    assert_eq!(code(&output), 1);
    fs::remove_dir_all(dir.path().join("app0")).expect("remove the file");
    let fake = FakeOpenAi::start(org());
    let output = revoke(dir.path(), &fake, Some(ADMIN), &[]);
    let out = stdout(&output);
    assert_eq!(code(&output), 0, "{out}");
    assert!(out.contains("plan:    delete project API key key_unique"), "{out}");
    assert_no_raw_keys(&out, "stdout");

    // A report whose secret was edited does not match its fingerprint: skipped.
    let report = fs::read_to_string(dir.path().join("report.json")).expect("report");
    fs::write(dir.path().join("report.json"), report.replace(UNIQUE, RESTRICTED)).expect("edit");
    let before = fake.requests().len();
    let output = revoke(dir.path(), &fake, Some(ADMIN), &[]);
    assert_eq!(code(&output), 1);
    assert!(
        stdout(&output).contains("not a key of its rule with the report's fingerprint"),
        "{}",
        stdout(&output)
    );
    assert_eq!(fake.requests().len(), before);
}

#[test]
fn keys_of_other_providers_never_reach_openai() {
    let dir = tree_with(&[UNIQUE, ANTHROPIC]);
    write_report(dir.path());
    let fake = FakeOpenAi::start(org());
    // With OpenAI's admin key only: the Anthropic key is probed at Anthropic's API (a closed port here) and left
    // to a person; OpenAI hears nothing of it.
    let output = revoke(dir.path(), &fake, Some(ADMIN), &[]);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let out = stdout(&output);
    assert!(
        out.contains("keyhound: 2 key(s) (1 OpenAI, 1 Anthropic) in report.json"),
        "{out}"
    );
    assert!(out.contains("plan:    delete project API key key_unique"), "{out}");
    assert_key_routing(&fake.requests());
    assert!(
        out.contains("ANTHROPIC_ADMIN_KEY is not set, so keyhound cannot revoke it; revoke it by hand at https://console.anthropic.com/settings/keys"),
        "{out}"
    );
    assert!(out.contains("keyhound: revoke summary: 1 Anthropic key(s)"), "{out}");
    // With only Anthropic keys and no Anthropic admin key: a setup error naming the variable, and nothing sent.
    let dir = tree_with(&[ANTHROPIC]);
    write_report(dir.path());
    let before = fake.requests().len();
    let output = revoke(dir.path(), &fake, Some(ADMIN), &[]);
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("ANTHROPIC_ADMIN_KEY is not set"),
        "{}",
        stderr(&output)
    );
    assert_eq!(fake.requests().len(), before, "{:?}", fake.requests());
}

#[test]
fn a_bad_report_is_an_error() {
    let dir = tree(&[("report.json", b"{\"not\": \"a report\"}")]);
    let fake = FakeOpenAi::start(org());
    let output = revoke(dir.path(), &fake, Some(ADMIN), &[]);
    assert_eq!(code(&output), 2);
    assert!(stderr(&output).contains("report.json"), "{}", stderr(&output));
}

#[test]
fn plain_http_is_refused_except_to_localhost() {
    let dir = tree_with(&[UNIQUE]);
    write_report(dir.path());
    let output = run(keyhound_clean(dir.path()).env("OPENAI_ADMIN_KEY", ADMIN).args([
        "revoke",
        "--from",
        "report.json",
        "--api-base",
        "http://api.example.com/v1",
    ]));
    assert_eq!(code(&output), 2);
    assert!(stderr(&output).contains("not HTTPS"), "{}", stderr(&output));
}

// ---------------------------------------------------------------------------------------------------------------
// scan / git --verify / --revoke

#[test]
fn scan_verify_fills_the_status_of_openai_findings_only() {
    let dir = tree_with(&[UNIQUE, DEAD, RESTRICTED, LEAKED_ADMIN, ANTHROPIC]);
    let fake = FakeOpenAi::start(org());
    // The base URL from keyhound's own variable, with a trailing /v1/ to normalise. OPENAI_BASE_URL (a proxy,
    // here a closed port) is never used.
    let output = run(keyhound_clean(dir.path())
        .env("KEYHOUND_OPENAI_API_BASE", format!("{}/v1/", fake.base))
        .env("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
        .args(["scan", ".", "--verify", "--format", "json"]));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    assert!(
        stderr(&output).contains(&format!(
            "OpenAI API requests go to {}, not https://api.openai.com",
            fake.base
        )),
        "{}",
        stderr(&output)
    );
    let findings = json_findings(&stdout(&output));
    // Key i of the tree is in app{i}/.env.
    let status = |i: usize| -> Value {
        let path = format!("app{i}/.env");
        let finding = findings
            .iter()
            .find(|f| f["path"] == path.as_str())
            .unwrap_or_else(|| panic!("no finding in {path}"));
        finding["verification"].clone()
    };
    assert_eq!(status(0)["status"], "live");
    assert_eq!(status(1)["status"], "dead");
    assert_eq!(status(2)["status"], "unknown");
    assert!(
        status(2)["reason"].as_str().unwrap_or_default().contains("not allowed"),
        "OpenAI's message is the reason: {}",
        status(2)
    );
    assert_eq!(status(3)["status"], "live");
    // The Anthropic key is verified at Anthropic's API (here a closed port), never at OpenAI's.
    assert_eq!(status(4)["status"], "unknown", "{}", status(4));
    let err = stderr(&output);
    assert!(err.contains("Anthropic API requests go to http://127.0.0.1:9"), "{err}");
    assert_no_raw_keys(&format!("{}{err}", stdout(&output)), "output");

    let requests = fake.requests();
    assert_eq!(requests.len(), 4, "one probe per OpenAI key: {requests:?}");
    assert_key_routing(&requests);
    assert_eq!(count(&requests, "/v1/organization/admin_api_keys?limit=1"), 1);
}

#[test]
fn a_probe_without_an_answer_is_unknown() {
    let dir = tree_with(&[SLOW]);
    let fake = FakeOpenAi::start(org());
    let output = run(keyhound_clean(dir.path()).args([
        "scan",
        ".",
        "--verify",
        "--format",
        "json",
        "--request-timeout",
        "1",
        "--api-base",
        &fake.base,
    ]));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let findings = json_findings(&stdout(&output));
    assert_eq!(findings[0]["verification"]["status"], "unknown");
    let reason = findings[0]["verification"]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("no answer") && reason.contains("4 tries"), "{reason}");
    assert_eq!(
        count(&fake.requests(), "/v1/models"),
        4,
        "timeouts are retried, a bounded number of times"
    );
}

#[test]
fn scan_revoke_plans_on_stderr_and_keeps_the_report_and_exit_code() {
    let dir = tree_with(&[UNIQUE, AMBIGUOUS]);
    let fake = FakeOpenAi::start(org());
    let output = run(keyhound_clean(dir.path()).env("OPENAI_ADMIN_KEY", ADMIN).args([
        "scan",
        ".",
        "--revoke",
        "--format",
        "json",
        "--api-base",
        &fake.base,
    ]));
    assert_eq!(code(&output), 1, "the scan's exit code: findings");
    let findings = json_findings(&stdout(&output));
    assert_eq!(findings.len(), 2);
    let err = stderr(&output);
    assert!(err.contains("plan:    delete project API key key_unique"), "{err}");
    assert!(err.contains("revoke summary"), "{err}");
    assert!(!stdout(&output).contains("plan:"), "stdout is only the report");
    assert!(deletes(&fake.requests()).is_empty());
    assert_no_raw_keys(&format!("{}{err}", stdout(&output)), "output");

    // Without the admin key: a clear error, and the report and exit code are unchanged.
    let output =
        run(keyhound_clean(dir.path()).args(["scan", ".", "--revoke", "-f", "json", "--api-base", &fake.base]));
    assert_eq!(code(&output), 1);
    assert!(
        stderr(&output).contains("OPENAI_ADMIN_KEY is not set"),
        "{}",
        stderr(&output)
    );
    assert_eq!(json_findings(&stdout(&output)).len(), 2);
}

#[test]
fn scan_revoke_yes_deletes_and_reports_the_key_dead() {
    let dir = tree_with(&[UNIQUE]);
    let fake = FakeOpenAi::start(org());
    let output = run(keyhound_clean(dir.path()).env("OPENAI_ADMIN_KEY", ADMIN).args([
        "scan",
        ".",
        "--revoke",
        "--yes",
        "--confirm-timeout",
        "2",
        "--format",
        "json",
        "--api-base",
        &fake.base,
    ]));
    assert_eq!(code(&output), 1);
    assert_eq!(fake.deleted_keys(), vec!["key_unique"]);
    let findings = json_findings(&stdout(&output));
    assert_eq!(findings[0]["verification"]["status"], "dead");
    assert!(
        findings[0]["verification"]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("revoked by keyhound"),
        "{}",
        findings[0]
    );
}

#[test]
fn history_findings_are_read_back_from_their_blobs() {
    let dir = TempDir::new().expect("temp dir");
    git_ok(dir.path(), &["init", "-q", "-b", "main"]);
    fs::write(dir.path().join("config.env"), format!("OPENAI_API_KEY={UNIQUE}\n")).expect("write");
    git_ok(dir.path(), &["add", "-A"]);
    git_ok(dir.path(), &["commit", "-q", "-m", "add config"]);
    fs::remove_file(dir.path().join("config.env")).expect("rm");
    git_ok(dir.path(), &["commit", "-q", "-a", "-m", "remove the key"]);

    let output = run(keyhound_in(dir.path()).args(["git", "--format", "json", "-o", "report.json"]));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let fake = FakeOpenAi::start(org());
    let output = revoke(dir.path(), &fake, Some(ADMIN), &[]);
    let out = stdout(&output);
    assert_eq!(code(&output), 0, "{out}");
    assert!(out.contains("config.env:1:16 (commit "), "{out}");
    assert!(out.contains("plan:    delete project API key key_unique"), "{out}");

    // git --verify works on the history findings in memory.
    let output = run(keyhound_clean(dir.path()).args(["git", "--verify", "-f", "json", "--api-base", &fake.base]));
    assert_eq!(code(&output), 1);
    assert_eq!(json_findings(&stdout(&output))[0]["verification"]["status"], "live");
}
