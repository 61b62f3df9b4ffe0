//! Revocation proves a leaked key is the organisation's before it deletes anything, against the fake of OpenAI's
//! API (which follows the published description: see `the_fake_answers_as_the_published_spec_describes`).

use std::fs;
use std::process::Output;

use serde_json::{Value, json};

use crate::common::{code, root, stderr, stdout};
use crate::fake_openai::{FakeKey, FakeOpenAi, Fault, FaultKind, Org, Owner};
use crate::revoke::{
    ADMIN, FOREIGN, SERVICE, UNIQUE, assert_no_raw_keys, audit_lines, block, deletes, org, revoke, tree_with,
    write_report,
};

// Fake keys of OpenAI's published shapes (scripts/gen-fake-key.py), never issued by anyone.
/// A live key of another organisation, whose redacted value collides with the organisation's `key_victim`.
const COLLIDING: &str = "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";
/// A key of the organisation listed with a long redacted value.
const LONG_SHOWN: &str = "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";
/// A key in an archived project.
const ARCHIVED: &str = "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";
/// A legacy user key that lives in one of the organisation's projects.
const LEGACY_LISTED: &str = "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";
/// A legacy user key of the organisation that no listing shows.
const LEGACY_UNLISTED: &str = "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";
/// An admin key whose inline owner is a service account.
const ADMIN_OF_SA: &str = "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";

const NEW_KEYS: &[&str] = &[
    COLLIDING,
    LONG_SHOWN,
    ARCHIVED,
    LEGACY_LISTED,
    LEGACY_UNLISTED,
    ADMIN_OF_SA,
];

fn assert_clean(text: &str, what: &str) {
    assert_no_raw_keys(text, what);
    for key in NEW_KEYS {
        assert!(!text.contains(key), "{what} holds the raw key {}…", &key[..12]);
    }
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{7}'),
        "{what} holds control bytes:\n{text}"
    );
}

fn assert_output_clean(output: &Output) {
    assert_clean(&stdout(output), "stdout");
    assert_clean(&stderr(output), "stderr");
}

/// The test organisation plus a key whose redacted value collides with [`COLLIDING`], which lives in another
/// organisation.
fn org_with_a_collision() -> Org {
    let mut org = org();
    let victim = format!(
        "{}{}{}",
        &COLLIDING[..11],
        "V".repeat(COLLIDING.len() - 15),
        &COLLIDING[COLLIDING.len() - 4..]
    );
    let alice = Owner::user("user_alice", "Alice Example", "alice@example.com");
    org.keys
        .push(FakeKey::project("key_victim", &victim, "proj_0020", alice, 11, 4));
    org.foreign_live.push(COLLIDING.to_string());
    org
}

#[test]
fn a_foreign_key_whose_redacted_value_collides_is_never_deleted() {
    let dir = tree_with(&[COLLIDING]);
    write_report(dir.path());
    let fake = FakeOpenAi::start(org_with_a_collision());
    let output = revoke(dir.path(), &fake, Some(ADMIN), &["--yes", "--audit-log", "audit.jsonl"]);
    let out = stdout(&output);
    assert_eq!(code(&output), 1, "{out}");
    assert!(
        out.contains("another organisation: OpenAI names org-someone-else"),
        "{out}"
    );
    assert!(
        deletes(&fake.requests()).is_empty(),
        "nothing deleted: {:?}",
        fake.requests()
    );
    assert!(fake.deleted_keys().is_empty());
    assert!(
        out.contains("belongs to another organisation"),
        "the closing table: {out}"
    );
    assert_output_clean(&output);
    let lines = audit_lines(&dir.path().join("audit.jsonl"));
    let evidence = lines.iter().find(|l| l["action"] == "match").expect("the match line");
    assert_eq!(evidence["outcome"], "other-organization");
    assert_eq!(evidence["key_organization"], "org-someone-else");
    assert_eq!(evidence["admin_organization"], "org-keyhound-test");
}

#[test]
fn without_the_organisation_header_a_short_redacted_value_proves_nothing() {
    let dir = tree_with(&[COLLIDING, UNIQUE]);
    write_report(dir.path());
    let mut org = org_with_a_collision();
    org.send_organization = false;
    let fake = FakeOpenAi::start(org);
    let output = revoke(dir.path(), &fake, Some(ADMIN), &["--yes", "--audit-log", "audit.jsonl"]);
    let out = stdout(&output);
    assert_eq!(code(&output), 1, "{out}");
    for key in [COLLIDING, UNIQUE] {
        let shown = block(&out, &key[..12]);
        assert!(shown.contains("matched, not proven"), "{shown}");
        assert!(
            shown.contains("random characters: a key of another organisation could"),
            "{shown}"
        );
    }
    assert!(deletes(&fake.requests()).is_empty());
    assert!(out.contains("needs a person"), "{out}");
    let lines = audit_lines(&dir.path().join("audit.jsonl"));
    assert!(lines.iter().any(|l| l["proof"] == "not-proven"));
}

#[test]
fn without_the_organisation_header_a_long_redacted_value_is_proof() {
    let dir = tree_with(&[LONG_SHOWN]);
    write_report(dir.path());
    let mut org = org();
    org.send_organization = false;
    let alice = Owner::user("user_alice", "Alice Example", "alice@example.com");
    org.keys
        .push(FakeKey::project("key_long", LONG_SHOWN, "proj_0001", alice, 24, 6));
    let fake = FakeOpenAi::start(org);
    let output = revoke(dir.path(), &fake, Some(ADMIN), &["--yes"]);
    let out = stdout(&output);
    assert_eq!(code(&output), 0, "{out}\n{}", stderr(&output));
    assert!(out.contains("shows 19 random characters (at least 16)"), "{out}");
    assert_eq!(fake.deleted_keys(), vec!["key_long"]);
}

#[test]
fn only_the_documented_refusal_deletes_a_service_account() {
    let dir = tree_with(&[SERVICE]);
    write_report(dir.path());
    let mut org = org();
    org.faults = vec![Fault {
        method: "DELETE",
        prefix: "/v1/organization/projects/proj_0007/api_keys/key_svc".into(),
        kind: FaultKind::BadRequest("Invalid project state."),
        times: 10,
    }];
    let fake = FakeOpenAi::start(org);
    let output = revoke(dir.path(), &fake, Some(ADMIN), &["--yes", "--delete-service-accounts"]);
    let out = stdout(&output);
    assert_eq!(code(&output), 1, "{out}");
    assert!(out.contains("deleted: no: HTTP 400: Invalid project state."), "{out}");
    assert!(!out.contains("service account: deleting"), "{out}");
    assert_eq!(
        deletes(&fake.requests()),
        vec!["/v1/organization/projects/proj_0007/api_keys/key_svc"],
        "the service account was not deleted"
    );
    assert!(fake.deleted_keys().is_empty());
}

#[test]
fn an_admin_key_owned_by_a_service_account_is_deleted_as_an_admin_key() {
    let dir = tree_with(&[ADMIN_OF_SA]);
    write_report(dir.path());
    let mut with_it = org();
    let mut key = FakeKey::admin("key_admin_sa", ADMIN_OF_SA, 4);
    key.owner = Owner::service_account("sa_456", "My Service Account");
    with_it.keys.push(key);
    let fake = FakeOpenAi::start(with_it);
    let output = revoke(dir.path(), &fake, Some(ADMIN), &[]);
    let out = stdout(&output);
    assert_eq!(code(&output), 0, "{out}");
    assert!(out.contains("plan:    delete admin key key_admin_sa"), "{out}");
    assert!(
        !out.contains("service account sa_456"),
        "no service-account plan for an admin key: {out}"
    );
    let output = revoke(dir.path(), &fake, Some(ADMIN), &["--yes"]);
    assert_eq!(code(&output), 0, "{}", stdout(&output));
    assert_eq!(
        deletes(&fake.requests()),
        vec!["/v1/organization/admin_api_keys/key_admin_sa"]
    );
    // Not found: the admin-keys page is where a person goes.
    let dir = tree_with(&[ADMIN_OF_SA]);
    write_report(dir.path());
    let mut unlisted = org();
    unlisted.unlisted_live.push(ADMIN_OF_SA.to_string());
    let fake = FakeOpenAi::start(unlisted);
    let output = revoke(dir.path(), &fake, Some(ADMIN), &[]);
    let out = stdout(&output);
    assert!(
        out.contains("https://platform.openai.com/settings/organization/admin-keys"),
        "{out}"
    );
}

#[test]
fn legacy_keys_are_looked_up_like_any_other() {
    let dir = tree_with(&[LEGACY_LISTED, LEGACY_UNLISTED]);
    write_report(dir.path());
    let mut org = org();
    let bob = Owner::user("user_bob", "Bob Example", "bob@example.com");
    org.keys
        .push(FakeKey::project("key_legacy", LEGACY_LISTED, "proj_0002", bob, 7, 4));
    org.unlisted_live.push(LEGACY_UNLISTED.to_string());
    let fake = FakeOpenAi::start(org);
    let output = revoke(dir.path(), &fake, Some(ADMIN), &["--yes"]);
    let out = stdout(&output);
    assert_eq!(
        code(&output),
        1,
        "the unlisted one needs a person: {out}\n{}",
        stderr(&output)
    );
    assert!(
        block(&out, &LEGACY_LISTED[..7]).contains("deleted: project API key key_legacy"),
        "{out}"
    );
    let unlisted = block(&out, &LEGACY_UNLISTED[..7]);
    assert!(unlisted.contains("none of the organisation's"), "{unlisted}");
    assert!(unlisted.contains("https://platform.openai.com/api-keys"), "{unlisted}");
    assert_eq!(fake.deleted_keys(), vec!["key_legacy"]);
}

#[test]
fn a_rate_limited_probe_is_not_a_verdict() {
    let dir = tree_with(&[UNIQUE, FOREIGN]);
    write_report(dir.path());
    let mut org = org();
    org.always_rate_limited.push(UNIQUE.to_string());
    org.foreign_live.retain(|k| k != FOREIGN);
    org.out_of_quota.push(FOREIGN.to_string());
    let fake = FakeOpenAi::start(org);
    let output = revoke(dir.path(), &fake, Some(ADMIN), &[]);
    let out = stdout(&output);
    let limited = block(&out, &UNIQUE[..12]);
    assert!(limited.contains("status:  unknown: rate limited"), "{limited}");
    assert!(limited.contains("after 4 tries"), "{limited}");
    let probes = fake.requests().iter().filter(|r| r.bearer() == Some(UNIQUE)).count();
    assert_eq!(probes, 4, "the 429 was retried");
    let quota = block(&out, &FOREIGN[..12]);
    assert!(
        quota.contains("status:  live"),
        "insufficient_quota means live: {quota}"
    );
    assert_eq!(
        fake.requests().iter().filter(|r| r.bearer() == Some(FOREIGN)).count(),
        1
    );
}

#[test]
fn archived_projects_are_searched_and_a_vanished_key_counts_as_gone() {
    let dir = tree_with(&[ARCHIVED, UNIQUE]);
    write_report(dir.path());
    let mut org = org();
    org.projects.push(("proj_old".into(), "Old project".into()));
    org.archived.push("proj_old".into());
    let alice = Owner::user("user_alice", "Alice Example", "alice@example.com");
    org.keys
        .push(FakeKey::project("key_archived", ARCHIVED, "proj_old", alice, 11, 4));
    if let Some(key) = org.keys.iter_mut().find(|k| k.id == "key_unique") {
        key.vanishes_before_delete = true;
    }
    let fake = FakeOpenAi::start(org);
    let output = revoke(dir.path(), &fake, Some(ADMIN), &["--yes"]);
    let out = stdout(&output);
    assert_eq!(code(&output), 0, "{out}\n{}", stderr(&output));
    assert!(block(&out, &ARCHIVED[..12]).contains("(archived)"), "{out}");
    assert!(block(&out, &UNIQUE[..12]).contains("already gone"), "{out}");
    assert!(
        out.contains("already gone (deleted by someone else)"),
        "the closing table: {out}"
    );
    assert!(fake.deleted_keys().contains(&"key_archived".to_string()));
}

#[test]
fn server_text_cannot_drive_the_terminal_or_leak_a_key() {
    let dir = tree_with(&[UNIQUE]);
    write_report(dir.path());
    let mut org = org();
    if let Some(key) = org.keys.iter_mut().find(|k| k.id == "key_unique") {
        key.name = format!("evil \u{1b}]0;owned\u{7} {ADMIN}");
    }
    org.projects[150].1 = format!("Project \u{1b}[2J {COLLIDING}");
    let fake = FakeOpenAi::start(org);
    let output = revoke(dir.path(), &fake, Some(ADMIN), &["--audit-log", "audit.jsonl"]);
    assert_eq!(code(&output), 0, "{}", stdout(&output));
    assert_output_clean(&output);
    let audit = fs::read_to_string(dir.path().join("audit.jsonl")).expect("audit log");
    assert_clean(&audit, "the audit log");
    assert!(
        stdout(&output).contains("evil \\x1b]0;owned\\x07"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn faults_every_few_requests_and_a_server_error_are_retried() {
    let dir = tree_with(&[UNIQUE, SERVICE]);
    write_report(dir.path());
    let mut org = org();
    org.rate_limit_every = Some(4);
    org.faults = vec![Fault {
        method: "GET",
        prefix: "/v1/organization/admin_api_keys".into(),
        kind: FaultKind::ServerError,
        times: 1,
    }];
    let fake = FakeOpenAi::start(org);
    let output = revoke(dir.path(), &fake, Some(ADMIN), &["--yes", "--delete-service-accounts"]);
    let out = stdout(&output);
    assert_eq!(code(&output), 0, "{out}\n{}", stderr(&output));
    assert!(out.contains("deleted: project API key key_unique"), "{out}");
    assert!(out.contains("deleted: service account svc_acct_ci"), "{out}");
}

// ---------------------------------------------------------------------------------------------------------------
// The fake follows the published description.

/// Validates `(schema name, body)` pairs against the schemas vendored from OpenAI's published description
/// (`tests/openapi/admin-api.json`), with Python's `jsonschema`.
fn assert_bodies_match_the_spec(bodies: &[(&str, Value)]) {
    let dir = tempfile::TempDir::new().expect("temp dir");
    let file = dir.path().join("bodies.json");
    let list: Vec<Value> = bodies.iter().map(|(schema, body)| json!([schema, body])).collect();
    fs::write(&file, Value::Array(list).to_string()).expect("write");
    let script = r##"
import json, sys
import jsonschema
spec = json.load(open(sys.argv[1]))
text = json.dumps({"schemas": spec["schemas"]}).replace("#/components/schemas/", "#/schemas/")
root = json.loads(text)
failures = []
for name, body in json.load(open(sys.argv[2])):
    schema = dict(root["schemas"][name])
    schema["schemas"] = root["schemas"]
    validator = jsonschema.Draft202012Validator(schema)
    for error in validator.iter_errors(body):
        failures.append(f"{name}: {list(error.absolute_path)}: {error.message}")
print("\n".join(failures))
sys.exit(1 if failures else 0)
"##;
    let output = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(root().join("tests/openapi/admin-api.json"))
        .arg(&file)
        .output()
        .expect("python3 with jsonschema (installed by .ci/run)");
    assert!(
        output.status.success(),
        "the fake's answers do not match the published description:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn call(fake: &FakeOpenAi, method: &str, path: &str, token: &str) -> (u16, Value, Option<String>) {
    let client = reqwest::blocking::Client::new();
    let request = match method {
        "DELETE" => client.delete(format!("{}{path}", fake.base)),
        _ => client.get(format!("{}{path}", fake.base)),
    };
    let response = request.bearer_auth(token).send().expect("the fake answers");
    let status = response.status().as_u16();
    let organization = response
        .headers()
        .get("openai-organization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body: Value = response.json().expect("a JSON body");
    (status, body, organization)
}

#[test]
fn the_fake_answers_as_the_published_spec_describes() {
    let mut org = org();
    org.projects.push(("proj_old".into(), "Old".into()));
    org.archived.push("proj_old".into());
    let mut admin_sa = FakeKey::admin("key_admin_sa", ADMIN_OF_SA, 4);
    admin_sa.owner = Owner::service_account("sa_456", "My Service Account");
    org.keys.push(admin_sa);
    let fake = FakeOpenAi::start(org);
    let mut bodies: Vec<(&str, Value)> = Vec::new();
    let mut expect = |schema: &'static str, status: u16, (got, body, _): (u16, Value, Option<String>)| {
        assert_eq!(got, status, "{schema}: {body}");
        bodies.push((schema, body));
    };
    expect(
        "ProjectListResponse",
        200,
        call(
            &fake,
            "GET",
            "/v1/organization/projects?limit=100&include_archived=true&after=proj_0199",
            ADMIN,
        ),
    );
    expect(
        "ProjectListResponse",
        200,
        call(&fake, "GET", "/v1/organization/projects?limit=2", ADMIN),
    );
    expect(
        "ProjectApiKeyListResponse",
        200,
        call(
            &fake,
            "GET",
            "/v1/organization/projects/proj_0007/api_keys?limit=100&owner_project_access=any",
            ADMIN,
        ),
    );
    expect(
        "ApiKeyList",
        200,
        call(&fake, "GET", "/v1/organization/admin_api_keys?limit=100", ADMIN),
    );
    expect("ListModelsResponse", 200, call(&fake, "GET", "/v1/models", UNIQUE));
    expect("ErrorResponse", 401, call(&fake, "GET", "/v1/models", "sk-proj-nobody"));
    expect(
        "ErrorResponse",
        400,
        call(
            &fake,
            "DELETE",
            "/v1/organization/projects/proj_0007/api_keys/key_svc",
            ADMIN,
        ),
    );
    expect(
        "ProjectServiceAccountDeleteResponse",
        200,
        call(
            &fake,
            "DELETE",
            "/v1/organization/projects/proj_0007/service_accounts/svc_acct_ci",
            ADMIN,
        ),
    );
    expect(
        "ProjectApiKeyDeleteResponse",
        200,
        call(
            &fake,
            "DELETE",
            &format!(
                "/v1/organization/projects/{}/api_keys/key_unique",
                crate::revoke::UNIQUE_PROJECT
            ),
            ADMIN,
        ),
    );
    expect(
        "AdminApiKeyDeleteResponse",
        200,
        call(&fake, "DELETE", "/v1/organization/admin_api_keys/key_admin_sa", ADMIN),
    );
    expect(
        "ErrorResponse",
        404,
        call(&fake, "DELETE", "/v1/organization/admin_api_keys/key_admin_sa", ADMIN),
    );
    expect(
        "ErrorResponse",
        401,
        call(&fake, "GET", "/v1/organization/projects", "sk-admin-wrong"),
    );
    assert_bodies_match_the_spec(&bodies);

    // Archived projects only with include_archived; every known key's answer names its organisation.
    let (_, active, organization) = call(
        &fake,
        "GET",
        "/v1/organization/projects?limit=100&after=proj_0199",
        ADMIN,
    );
    assert!(!active.to_string().contains("proj_old"));
    assert_eq!(organization.as_deref(), Some("org-keyhound-test"));
    let (_, all, _) = call(
        &fake,
        "GET",
        "/v1/organization/projects?limit=100&include_archived=true&after=proj_0199",
        ADMIN,
    );
    assert!(all.to_string().contains("\"archived\""));
    let (_, _, foreign) = call(&fake, "GET", "/v1/models", FOREIGN);
    assert_eq!(foreign.as_deref(), Some("org-someone-else"));
    let (_, _, unknown) = call(&fake, "GET", "/v1/models", "sk-proj-nobody");
    assert_eq!(unknown, None);
}
