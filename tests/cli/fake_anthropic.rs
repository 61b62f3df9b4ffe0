//! A fake of Anthropic's API for the revoke tests: a real HTTP server on 127.0.0.1 (a free port), answering the
//! way Anthropic documents its Admin API and `/v1/models` (the parts vendored in
//! `tests/openapi/anthropic-admin.json`, which a test checks the fake against), and recording every request.
//!
//! - Every request needs `anthropic-version`; without it: 400 `invalid_request_error`.
//! - Keys travel in `x-api-key`. A key the fake does not know, or a disabled one (`inactive`, `archived`,
//!   `expired`), gets 401 `authentication_error`, without any `anthropic-organization-id` header (the request
//!   fails before authentication).
//! - `GET /v1/models` answers 200 for the organisation's active keys, with `anthropic-organization-id` (the
//!   organisation) and `anthropic-workspace-id` (the key's workspace, the default workspace's real id included);
//!   and for foreign live keys, with another organisation's id.
//! - `GET /v1/organizations/me` answers the organisation (`id`, `type`, `name`) to its admin keys (the one in
//!   `ANTHROPIC_ADMIN_KEY` and leaked ones alike).
//! - `GET /v1/organizations/api_keys` lists every key (every status and workspace) to an admin key, honouring
//!   `limit` (1 to 1000, default 20), `after_id`, `status` and `workspace_id`, with `data`, `has_more`,
//!   `first_id`, `last_id`. Listed keys carry both generations' fields: `workspace_id` (null for the default
//!   workspace) and `scope`.
//! - `POST /v1/organizations/api_keys/{id}` updates `status` (only `active`, `inactive`, `archived`; anything
//!   else is a 400) and `name`, and answers the updated key.
//! - Every answer carries `request-id`; error bodies are `{"type": "error", "error": {"type", "message"},
//!   "request_id"}`.
//! - Planted faults: 429 `rate_limit_error` with `retry-after`, 500 `api_error`, 529 `overloaded_error`, each a
//!   given number of times on requests of a method, a path prefix and (optionally) one key; a key that stays live
//!   for some probes after it is disabled; a key that someone else deletes just before keyhound's update (which
//!   then answers 404); no `anthropic-organization-id` at all; a listing that repeats its cursor forever; error
//!   messages that echo the `x-api-key` they were sent.

use std::collections::HashSet;
use std::sync::Mutex;

use crate::fake_server::Served;
use serde_json::{Value, json};
use tiny_http::{Header, Request, Response};

/// The fake organisation's id (a uuid, as `GET /v1/organizations/me` documents it) and name.
pub const ORGANIZATION: &str = "5b0e6a52-7f0c-4c1e-9d4b-3a8f2e61c0d7";
pub const ORGANIZATION_NAME: &str = "Keyhound Test Org";
/// The organisation a foreign live key belongs to.
pub const OTHER_ORGANIZATION: &str = "c41f09d8-2e5a-4b77-8f10-6d9e3b2a5f88";
/// The real id of the organisation's default workspace (what `anthropic-workspace-id` and `scope` name).
pub const DEFAULT_WORKSPACE: &str = "wrkspc_01DefaultWorkspace000000";
/// The workspace of foreign keys.
pub const OTHER_WORKSPACE: &str = "wrkspc_01SomeoneElsesWorkspace0";

/// An API key of the fake organisation.
#[derive(Debug, Clone)]
pub struct AntKey {
    pub id: String,
    pub name: String,
    /// The raw key.
    pub value: String,
    /// `partial_key_hint`: the first 16 characters, `...`, the last 4.
    pub hint: String,
    /// The workspace; `None` for the default workspace.
    pub workspace: Option<String>,
    /// `active`, `inactive`, `archived`, `expired`.
    pub status: String,
    /// `created_by`: (id, type).
    pub created_by: (String, String),
    /// How many probes still answer 200 after it is disabled (propagation delay).
    pub live_probes_after_disable: u32,
    /// Someone else deletes it (in the Console) just before keyhound's update arrives: that update answers 404.
    pub vanishes_before_update: bool,
}

impl AntKey {
    /// An active key made by `user_01Alice`, listed with the documented hint.
    pub fn new(id: &str, value: &str, workspace: Option<&str>) -> AntKey {
        AntKey {
            id: id.into(),
            name: format!("{id} name"),
            value: value.into(),
            hint: hint(value),
            workspace: workspace.map(str::to_string),
            status: "active".into(),
            created_by: ("user_01Alice".into(), "user".into()),
            live_probes_after_disable: 0,
            vanishes_before_update: false,
        }
    }

    pub fn with_status(mut self, status: &str) -> AntKey {
        self.status = status.into();
        self
    }
}

/// The documented hint of a key: its first 16 characters, `...`, its last 4 (`sk-ant-api03-R2D...igAA`).
pub fn hint(value: &str) -> String {
    format!("{}...{}", &value[..16], &value[value.len() - 4..])
}

/// A fault planted on requests of `method` whose path and query start with `prefix` (and, with `key`, that carry
/// that `x-api-key`).
#[derive(Debug, Clone)]
pub struct Fault {
    pub method: &'static str,
    pub prefix: String,
    pub key: Option<String>,
    pub kind: FaultKind,
    /// How many more requests it hits.
    pub times: u32,
}

impl Fault {
    pub fn new(method: &'static str, prefix: &str, kind: FaultKind, times: u32) -> Fault {
        Fault {
            method,
            prefix: prefix.into(),
            key: None,
            kind,
            times,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub enum FaultKind {
    /// 429 `rate_limit_error` with `retry-after: <seconds>`.
    RateLimit { retry_after: u64 },
    /// 500 `api_error`.
    ServerError,
    /// 529 `overloaded_error`.
    Overloaded,
}

/// The organisation the fake serves.
#[derive(Debug, Clone)]
pub struct AntOrg {
    /// The admin key keyhound is given (`ANTHROPIC_ADMIN_KEY`).
    pub admin_key: String,
    /// Other admin keys of the organisation (leaked ones): `/v1/organizations/me` accepts them.
    pub other_admin_keys: Vec<String>,
    pub keys: Vec<AntKey>,
    /// Live keys of another organisation: `/v1/models` accepts them, naming [`OTHER_ORGANIZATION`].
    pub foreign_live: Vec<String>,
    /// Send `anthropic-organization-id` at all.
    pub send_organization: bool,
    /// Error messages end with the `x-api-key` the request carried, as a careless proxy might.
    pub echo_key: bool,
    /// The listing ignores `after_id`: every page is the first, with the same `last_id` and `has_more: true`.
    pub repeat_cursor: bool,
    /// List keys in the older documented shape: `workspace_id` (null for the default workspace), no `scope`, no
    /// `expires_at`.
    pub legacy_shape: bool,
    pub faults: Vec<Fault>,
}

impl AntOrg {
    pub fn new(admin_key: &str) -> AntOrg {
        AntOrg {
            admin_key: admin_key.into(),
            other_admin_keys: Vec::new(),
            keys: Vec::new(),
            foreign_live: Vec::new(),
            send_organization: true,
            echo_key: false,
            repeat_cursor: false,
            legacy_shape: false,
            faults: Vec::new(),
        }
    }
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path and query.
    pub url: String,
    /// The `x-api-key` header.
    pub api_key: Option<String>,
    /// The `anthropic-version` header.
    pub version: Option<String>,
    pub body: String,
}

impl Recorded {
    pub fn path(&self) -> &str {
        self.url.split('?').next().unwrap_or_default()
    }

    pub fn key(&self) -> &str {
        self.api_key.as_deref().unwrap_or_default()
    }
}

#[derive(Debug)]
struct State {
    org: AntOrg,
    /// Ids of keys someone deleted in the Console: no longer listed, updated or accepted.
    deleted: HashSet<String>,
    requests: Vec<Recorded>,
}

/// The running server; stops when dropped.
pub struct FakeAnthropic {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    served: Served<State>,
}

impl FakeAnthropic {
    pub fn start(org: AntOrg) -> FakeAnthropic {
        let state = State {
            org,
            deleted: HashSet::new(),
            requests: Vec::new(),
        };
        let served = Served::start(state, handle);
        FakeAnthropic {
            base: served.base.clone(),
            served,
        }
    }

    /// Every request received so far, in order of arrival.
    pub fn requests(&self) -> Vec<Recorded> {
        self.served.state().requests.clone()
    }

    /// The updates (`POST`s) received so far.
    pub fn posts(&self) -> Vec<Recorded> {
        self.requests().into_iter().filter(|r| r.method == "POST").collect()
    }

    /// The status of key `id` now (`deleted` when someone deleted it).
    pub fn status(&self, id: &str) -> String {
        let state = self.served.state();
        if state.deleted.contains(id) {
            return "deleted".into();
        }
        state
            .org
            .keys
            .iter()
            .find(|k| k.id == id)
            .map(|k| k.status.clone())
            .unwrap_or_else(|| panic!("no key {id}"))
    }
}

/// An answer: status, JSON body, whose organisation and workspace it names (headers).
struct Reply {
    status: u16,
    body: Value,
    organization: Option<String>,
    workspace: Option<String>,
    headers: Vec<(&'static str, String)>,
}

fn reply(status: u16, body: Value) -> Reply {
    Reply {
        status,
        body,
        organization: None,
        workspace: None,
        headers: Vec::new(),
    }
}

/// An authenticated answer of the organisation.
fn ours(status: u16, body: Value) -> Reply {
    Reply {
        organization: Some(ORGANIZATION.into()),
        ..reply(status, body)
    }
}

fn error(status: u16, kind: &str, message: &str) -> Reply {
    reply(
        status,
        json!({"type": "error", "error": {"type": kind, "message": message}}),
    )
}

fn invalid_key() -> Reply {
    error(401, "authentication_error", "invalid x-api-key")
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("a valid header")
}

fn handle(mut request: Request, state: &Mutex<State>) {
    let method = request.method().as_str().to_string();
    let url = request.url().to_string();
    let find = |request: &Request, name: &'static str| {
        request
            .headers()
            .iter()
            .find(|h| h.field.equiv(name))
            .map(|h| h.value.as_str().to_string())
    };
    let (api_key, version) = (find(&request, "x-api-key"), find(&request, "anthropic-version"));
    let mut body = String::new();
    let _ = std::io::Read::read_to_string(request.as_reader(), &mut body);
    let key = api_key.clone().unwrap_or_default();
    let (number, fault, send_organization, echo_key) = {
        let mut state = state.lock().expect("state");
        state.requests.push(Recorded {
            method: method.clone(),
            url: url.clone(),
            api_key: api_key.clone(),
            version: version.clone(),
            body: body.clone(),
        });
        let fault = state
            .org
            .faults
            .iter_mut()
            .find(|f| {
                f.times > 0
                    && f.method == method
                    && url.starts_with(&f.prefix)
                    && f.key.as_deref().is_none_or(|k| k == key)
            })
            .map(|f| {
                f.times -= 1;
                f.kind
            });
        (
            state.requests.len(),
            fault,
            state.org.send_organization,
            state.org.echo_key,
        )
    };
    let mut answer = match (fault, version.as_deref()) {
        (Some(FaultKind::RateLimit { retry_after }), _) => {
            let mut r = error(
                429,
                "rate_limit_error",
                "Number of request tokens has exceeded your per-minute rate limit",
            );
            r.headers.push(("retry-after", retry_after.to_string()));
            r
        }
        (Some(FaultKind::ServerError), _) => error(500, "api_error", "Internal server error"),
        (Some(FaultKind::Overloaded), _) => error(529, "overloaded_error", "Overloaded"),
        (None, None) => error(400, "invalid_request_error", "anthropic-version: header is required"),
        (None, Some(_)) => route(&method, &url, &key, &body, state),
    };
    let request_id = format!("req_01Fake{number:06}");
    if let Some(object) = answer.body.as_object_mut()
        && object.get("type") == Some(&json!("error"))
    {
        if echo_key && let Some(message) = object["error"]["message"].as_str() {
            object["error"]["message"] = json!(format!("{message} (x-api-key: {key})"));
        }
        object.insert("request_id".into(), json!(request_id));
    }
    let mut response = Response::from_string(answer.body.to_string())
        .with_status_code(answer.status)
        .with_header(header("content-type", "application/json"))
        .with_header(header("request-id", &request_id));
    if send_organization && let Some(organization) = &answer.organization {
        response.add_header(header("anthropic-organization-id", organization));
    }
    if let Some(workspace) = &answer.workspace {
        response.add_header(header("anthropic-workspace-id", workspace));
    }
    for (name, value) in &answer.headers {
        response.add_header(header(name, value));
    }
    let _ = request.respond(response);
}

/// Who a key is to the fake.
enum Who {
    Admin,
    OrgKey(usize),
    Foreign,
    Unknown,
}

fn who(state: &State, key: &str) -> Who {
    let org = &state.org;
    if key.is_empty() {
        return Who::Unknown;
    }
    if key == org.admin_key || org.other_admin_keys.iter().any(|k| k == key) {
        return Who::Admin;
    }
    if let Some(i) = org.keys.iter().position(|k| k.value == key) {
        return Who::OrgKey(i);
    }
    if org.foreign_live.iter().any(|k| k == key) {
        return Who::Foreign;
    }
    Who::Unknown
}

fn route(method: &str, url: &str, key: &str, body: &str, state: &Mutex<State>) -> Reply {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let mut guard = state.lock().expect("state");
    let state = &mut *guard;
    let who = who(state, key);
    match (method, segments.as_slice()) {
        ("GET", ["v1", "models"]) => match who {
            Who::OrgKey(i) => {
                let deleted = state.deleted.contains(&state.org.keys[i].id);
                let k = &mut state.org.keys[i];
                let live = if k.status == "active" && !deleted {
                    true
                } else if k.status != "expired" && k.live_probes_after_disable > 0 {
                    k.live_probes_after_disable -= 1;
                    true
                } else {
                    false
                };
                if !live {
                    return invalid_key();
                }
                Reply {
                    workspace: Some(k.workspace.clone().unwrap_or_else(|| DEFAULT_WORKSPACE.into())),
                    ..ours(200, models())
                }
            }
            Who::Foreign => Reply {
                organization: Some(OTHER_ORGANIZATION.into()),
                workspace: Some(OTHER_WORKSPACE.into()),
                ..reply(200, models())
            },
            Who::Admin | Who::Unknown => invalid_key(),
        },
        (_, ["v1", "organizations", ..]) if !matches!(who, Who::Admin) => invalid_key(),
        ("GET", ["v1", "organizations", "me"]) => ours(
            200,
            json!({"id": ORGANIZATION, "type": "organization", "name": ORGANIZATION_NAME}),
        ),
        ("GET", ["v1", "organizations", "api_keys"]) => list(state, query),
        ("GET", ["v1", "organizations", "api_keys", id]) => {
            match state
                .org
                .keys
                .iter()
                .find(|k| k.id == *id && !state.deleted.contains(&k.id))
            {
                Some(k) => ours(200, key_json(k, state.org.legacy_shape)),
                None => not_found(id),
            }
        }
        ("POST", ["v1", "organizations", "api_keys", id]) => update(state, id, body),
        _ => error(404, "not_found_error", &format!("Not found: {method} {path}")),
    }
}

fn not_found(id: &str) -> Reply {
    Reply {
        organization: Some(ORGANIZATION.into()),
        ..error(404, "not_found_error", &format!("API key {id} not found"))
    }
}

/// `POST /v1/organizations/api_keys/{id}`: `status` (active, inactive, archived) and `name`.
fn update(state: &mut State, id: &str, body: &str) -> Reply {
    let bad = |message: &str| Reply {
        organization: Some(ORGANIZATION.into()),
        ..error(400, "invalid_request_error", message)
    };
    let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(body) else {
        return bad("the request body is not a JSON object");
    };
    let status = match fields.get("status") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if ["active", "inactive", "archived"].contains(&s.as_str()) => Some(s.clone()),
        Some(other) => {
            return bad(&format!(
                "status: Input should be 'active', 'inactive' or 'archived' (got {other})"
            ));
        }
    };
    let name = match fields.get("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if (1..=500).contains(&s.chars().count()) => Some(s.clone()),
        Some(_) => return bad("name: must be a string of 1 to 500 characters"),
    };
    if let Some(k) = state.org.keys.iter().find(|k| k.id == id)
        && k.vanishes_before_update
    {
        state.deleted.insert(k.id.clone());
    }
    let (deleted, legacy) = (&state.deleted, state.org.legacy_shape);
    let Some(k) = state
        .org
        .keys
        .iter_mut()
        .find(|k| k.id == id && !deleted.contains(&k.id))
    else {
        return not_found(id);
    };
    if let Some(status) = status {
        k.status = status;
    }
    if let Some(name) = name {
        k.name = name;
    }
    ours(200, key_json(k, legacy))
}

/// A page of `/v1/models`.
fn models() -> Value {
    json!({
        "data": [{"type": "model", "id": "claude-sonnet-4-5", "display_name": "Claude Sonnet 4.5",
                  "created_at": "2025-09-29T00:00:00Z"}],
        "has_more": true,
        "first_id": "claude-sonnet-4-5",
        "last_id": "claude-sonnet-4-5",
    })
}

/// A listed key, with both generations' fields: `workspace_id` (null for the default workspace) and `scope`
/// (the workspace's real id, the default one's included); with `legacy`, only the older generation's.
fn key_json(k: &AntKey, legacy: bool) -> Value {
    let mut key = json!({
        "id": k.id,
        "type": "api_key",
        "name": k.name,
        "status": k.status,
        "workspace_id": k.workspace,
        "partial_key_hint": k.hint,
        "created_at": "2024-10-30T23:58:27.427722Z",
        "created_by": {"id": k.created_by.0, "type": k.created_by.1},
    });
    if !legacy {
        key["scope"] =
            json!({"type": "workspace", "workspace_id": k.workspace.as_deref().unwrap_or(DEFAULT_WORKSPACE)});
        key["expires_at"] = Value::Null;
    }
    key
}

/// `GET /v1/organizations/api_keys`: `limit` (1 to 1000, default 20) keys after `after_id`, filtered by `status`
/// and `workspace_id` when given.
fn list(state: &State, query: &str) -> Reply {
    let param = |name: &str| {
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    };
    let bad = |message: String| Reply {
        organization: Some(ORGANIZATION.into()),
        ..error(400, "invalid_request_error", &message)
    };
    let limit = match param("limit").map(|v| v.parse::<usize>()) {
        None => 20,
        Some(Ok(n)) if (1..=1000).contains(&n) => n,
        Some(_) => return bad("limit: Input should be between 1 and 1000".into()),
    };
    let items: Vec<&AntKey> = state
        .org
        .keys
        .iter()
        .filter(|k| !state.deleted.contains(&k.id))
        .filter(|k| param("status").is_none_or(|s| k.status == s))
        .filter(|k| param("workspace_id").is_none_or(|w| k.workspace.as_deref().unwrap_or(DEFAULT_WORKSPACE) == w))
        .collect();
    let after = param("after_id").filter(|_| !state.org.repeat_cursor);
    let start = match after {
        None => 0,
        Some(after) => match items.iter().position(|k| k.id == after) {
            Some(i) => i + 1,
            None => return bad(format!("after_id: no API key {after}")),
        },
    };
    let end = (start + limit).min(items.len());
    let slice = &items[start.min(end)..end];
    ours(
        200,
        json!({
            "data": slice.iter().map(|k| key_json(k, state.org.legacy_shape)).collect::<Vec<_>>(),
            "has_more": end < items.len(),
            "first_id": slice.first().map(|k| k.id.clone()),
            "last_id": slice.last().map(|k| k.id.clone()),
        }),
    )
}
