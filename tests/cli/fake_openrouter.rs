//! A fake of OpenRouter's API for the revoke tests: a real HTTP server on 127.0.0.1 (a free port), answering the
//! way OpenRouter documents its key endpoints (the parts vendored in `tests/openapi/openrouter-keys.json`, which a
//! test checks the fake against), and recording every request.
//!
//! - Keys travel in `Authorization: Bearer <key>`.
//! - `GET /api/v1/key` (the current key) answers 200 `{"data": {label, limit, usage, ...}}` to the account's
//!   enabled keys, to the management key (`is_management_key: true`) and to live keys of another account; 401 `{"error":{"code":401,"message":"User not found."}}`
//!   to a disabled, deleted or unknown key.
//! - The management key (and only it) may use `/api/v1/keys...`; any other bearer gets 401
//!   `{"error":{"code":401,"message":"Invalid management key"}}`.
//! - `GET /api/v1/keys` lists the default workspace's keys (or `workspace_id`'s), 100 a page from `offset`,
//!   disabled ones only with `include_disabled=true`. Each listed key has `hash` (the SHA-256 of the key in
//!   lower-case hex, unless a test lists it with another) and `label` (`sk-or-v1-` + the first 3 hex characters +
//!   `...` + the last 4).
//! - `GET`/`PATCH`/`DELETE /api/v1/keys/{hash}` read, update (`disabled`, `name`, `limit`, `limit_reset`,
//!   `include_byok_in_limit`) and delete a key of any workspace: `{"data": <key>}`, `{"deleted": true}`, or 404.
//! - Errors are `{"error": {"code": <int>, "message": "..."}}`.
//! - Planted faults: 429 with `Retry-After` and 500, each a given number of times on requests of a method and a
//!   path prefix; a key that stays live for some probes after it is disabled; a key someone deletes just before
//!   keyhound's update (which then answers 404); a listing that ignores `offset` and serves the same full page
//!   forever; error messages that echo the `Authorization` header they were sent.

use std::sync::Mutex;

use crate::fake_server::Served;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tiny_http::{Header, Request, Response};

/// The account's default workspace (a uuid, as the listing's `workspace_id` is).
pub const DEFAULT_WORKSPACE: &str = "0df9e665-d932-5740-b2c7-b52af166bc11";
/// Another workspace of the account: its keys are listed only with `workspace_id`.
pub const OTHER_WORKSPACE: &str = "7c1e2d4a-8b3f-4e6a-9d0c-5f2b1a3e4c6d";
/// The user who made the account's keys.
pub const CREATOR: &str = "user_2dHFtVWx2n56w6HkM0000000000";
/// Keys of the listing's pages.
pub const PAGE: usize = 100;

/// The SHA-256 of a key, in lower-case hex: the hash OpenRouter lists a key with.
pub fn sha256_hex(value: &str) -> String {
    Sha256::digest(value.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The label OpenRouter shows for a key: `sk-or-v1-` and the first 3 hex characters, `...`, the last 4.
pub fn label(value: &str) -> String {
    format!("{}...{}", &value[..12], &value[value.len() - 4..])
}

/// An API key of the fake account.
#[derive(Debug, Clone)]
pub struct OrKey {
    /// The raw key.
    pub value: String,
    /// The listed `hash`: the SHA-256 of `value` unless set otherwise.
    pub hash: String,
    pub name: String,
    pub label: String,
    pub disabled: bool,
    pub workspace: String,
    /// `limit_remaining` (and `limit` 100); `None` for a key without a credit limit.
    pub limit_remaining: Option<f64>,
    /// How many probes still answer 200 after it is disabled (propagation delay).
    pub live_probes_after_disable: u32,
    /// Someone else deletes it just before keyhound's update arrives: that update answers 404.
    pub vanishes_before_update: bool,
}

impl OrKey {
    /// An enabled key of the default workspace, listed with its SHA-256 and the documented label.
    pub fn new(name: &str, value: &str) -> OrKey {
        OrKey {
            value: value.into(),
            hash: sha256_hex(value),
            name: name.into(),
            label: label(value),
            disabled: false,
            workspace: DEFAULT_WORKSPACE.into(),
            limit_remaining: Some(74.5),
            live_probes_after_disable: 0,
            vanishes_before_update: false,
        }
    }

    /// Listed with `hash`, which is not its SHA-256 (the undocumented case).
    pub fn with_hash(mut self, hash: &str) -> OrKey {
        self.hash = hash.into();
        self
    }

    pub fn disabled(mut self) -> OrKey {
        self.disabled = true;
        self
    }

    pub fn in_workspace(mut self, workspace: &str) -> OrKey {
        self.workspace = workspace.into();
        self
    }
}

/// A fault planted on requests of `method` whose path and query start with `prefix`, at a boundary (`/api/v1/key`
/// is not a prefix of `/api/v1/keys`).
#[derive(Debug, Clone)]
pub struct Fault {
    pub method: &'static str,
    pub prefix: String,
    pub kind: FaultKind,
    /// How many more requests it hits.
    pub times: u32,
}

impl Fault {
    pub fn new(method: &'static str, prefix: &str, kind: FaultKind, times: u32) -> Fault {
        Fault {
            method,
            prefix: prefix.into(),
            kind,
            times,
        }
    }
}

impl Fault {
    fn hits(&self, url: &str) -> bool {
        url.strip_prefix(self.prefix.as_str())
            .is_some_and(|rest| rest.is_empty() || self.prefix.ends_with(['/', '?']) || rest.starts_with(['/', '?']))
    }
}

#[derive(Debug, Clone, Copy)]
pub enum FaultKind {
    /// 429 "Rate limit exceeded" with `Retry-After: <seconds>`.
    RateLimit { retry_after: u64 },
    /// 500 "Internal Server Error".
    ServerError,
}

/// The account the fake serves.
#[derive(Debug, Clone)]
pub struct OrAccount {
    /// The management key keyhound is given (`OPENROUTER_PROVISIONING_KEY`).
    pub management_key: String,
    pub keys: Vec<OrKey>,
    /// Live keys of another account: `GET /api/v1/key` accepts them; they are never listed.
    pub foreign_live: Vec<String>,
    /// Error messages end with the `Authorization` header the request carried, as a careless proxy might.
    pub echo_key: bool,
    /// The listing ignores `offset`: every page is the first, a full one.
    pub repeat_page: bool,
    pub faults: Vec<Fault>,
}

impl OrAccount {
    pub fn new(management_key: &str) -> OrAccount {
        OrAccount {
            management_key: management_key.into(),
            keys: Vec::new(),
            foreign_live: Vec::new(),
            echo_key: false,
            repeat_page: false,
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
    /// The `Authorization` header.
    pub authorization: Option<String>,
    pub body: String,
}

impl Recorded {
    pub fn path(&self) -> &str {
        self.url.split('?').next().unwrap_or_default()
    }

    /// The bearer token (empty without one).
    pub fn bearer(&self) -> &str {
        self.authorization
            .as_deref()
            .and_then(|a| a.strip_prefix("Bearer "))
            .unwrap_or_default()
    }
}

#[derive(Debug)]
struct State {
    account: OrAccount,
    requests: Vec<Recorded>,
}

/// The running server; stops when dropped.
pub struct FakeOpenRouter {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    served: Served<State>,
}

impl FakeOpenRouter {
    pub fn start(account: OrAccount) -> FakeOpenRouter {
        let state = State {
            account,
            requests: Vec::new(),
        };
        let served = Served::start(state, handle);
        FakeOpenRouter {
            base: served.base.clone(),
            served,
        }
    }

    /// Every request received so far, in order of arrival.
    pub fn requests(&self) -> Vec<Recorded> {
        self.served.state().requests.clone()
    }

    /// The requests that change something (`PATCH`, `DELETE`, `POST`) received so far.
    pub fn changes(&self) -> Vec<Recorded> {
        self.requests().into_iter().filter(|r| r.method != "GET").collect()
    }

    /// Is the key with this value disabled now? `None` once deleted.
    pub fn disabled(&self, value: &str) -> Option<bool> {
        let state = self.served.state();
        state.account.keys.iter().find(|k| k.value == value).map(|k| k.disabled)
    }
}

/// An answer: status, JSON body, extra headers.
struct Reply {
    status: u16,
    body: Value,
    headers: Vec<(&'static str, String)>,
}

fn reply(status: u16, body: Value) -> Reply {
    Reply {
        status,
        body,
        headers: Vec::new(),
    }
}

fn error(status: u16, message: &str) -> Reply {
    reply(status, json!({"error": {"code": status, "message": message}}))
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("a valid header")
}

fn handle(mut request: Request, state: &Mutex<State>) {
    let method = request.method().as_str().to_string();
    let url = request.url().to_string();
    let authorization = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("authorization"))
        .map(|h| h.value.as_str().to_string());
    let mut body = String::new();
    let _ = std::io::Read::read_to_string(request.as_reader(), &mut body);
    let (fault, echo_key) = {
        let mut state = state.lock().expect("state");
        state.requests.push(Recorded {
            method: method.clone(),
            url: url.clone(),
            authorization: authorization.clone(),
            body: body.clone(),
        });
        let fault = state
            .account
            .faults
            .iter_mut()
            .find(|f| f.times > 0 && f.method == method && f.hits(&url))
            .map(|f| {
                f.times -= 1;
                f.kind
            });
        (fault, state.account.echo_key)
    };
    let bearer = authorization
        .as_deref()
        .and_then(|a| a.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_string();
    let mut answer = match fault {
        Some(FaultKind::RateLimit { retry_after }) => {
            let mut r = error(429, "Rate limit exceeded");
            r.headers.push(("retry-after", retry_after.to_string()));
            r
        }
        Some(FaultKind::ServerError) => error(500, "Internal Server Error"),
        None if authorization.is_none() => error(401, "Missing Authentication header"),
        None => route(&method, &url, &bearer, &body, state),
    };
    if echo_key && let Some(message) = answer.body.pointer("/error/message").and_then(Value::as_str) {
        let echoed = format!(
            "{message} (Authorization: {})",
            authorization.as_deref().unwrap_or_default()
        );
        answer.body["error"]["message"] = json!(echoed);
    }
    let mut response = Response::from_string(answer.body.to_string())
        .with_status_code(answer.status)
        .with_header(header("content-type", "application/json"));
    for (name, value) in &answer.headers {
        response.add_header(header(name, value));
    }
    let _ = request.respond(response);
}

fn route(method: &str, url: &str, bearer: &str, body: &str, state: &Mutex<State>) -> Reply {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let mut guard = state.lock().expect("state");
    let state = &mut *guard;
    match (method, segments.as_slice()) {
        ("GET", ["api", "v1", "key"]) => current_key(state, bearer),
        (_, ["api", "v1", "keys", ..]) if bearer != state.account.management_key => {
            error(401, "Invalid management key")
        }
        ("GET", ["api", "v1", "keys"]) => list(state, query),
        ("GET", ["api", "v1", "keys", hash]) => match state.account.keys.iter().find(|k| k.hash == *hash) {
            Some(k) => reply(200, json!({"data": key_json(k)})),
            None => not_found(),
        },
        ("PATCH", ["api", "v1", "keys", hash]) => update(state, hash, body),
        ("DELETE", ["api", "v1", "keys", hash]) => match state.account.keys.iter().position(|k| k.hash == *hash) {
            Some(i) => {
                state.account.keys.remove(i);
                reply(200, json!({"deleted": true}))
            }
            None => not_found(),
        },
        _ => error(404, &format!("Not found: {method} {path}")),
    }
}

fn not_found() -> Reply {
    error(404, "Resource not found")
}

/// `GET /api/v1/key`: the key's own information, or 401 for a key that is disabled, deleted or unknown.
fn current_key(state: &mut State, bearer: &str) -> Reply {
    if bearer == state.account.management_key {
        let mut answer = current_json(&label(bearer), None, CREATOR);
        answer["data"]["is_management_key"] = json!(true);
        answer["data"]["is_provisioning_key"] = json!(true);
        return reply(200, answer);
    }
    if state.account.foreign_live.iter().any(|k| k == bearer) {
        return reply(
            200,
            current_json(&label(bearer), Some(12.0), "user_2zForeignAccount00000000"),
        );
    }
    let Some(k) = state.account.keys.iter_mut().find(|k| k.value == bearer) else {
        return error(401, "User not found.");
    };
    let live = if !k.disabled {
        true
    } else if k.live_probes_after_disable > 0 {
        k.live_probes_after_disable -= 1;
        true
    } else {
        false
    };
    if !live {
        return error(401, "User not found.");
    }
    reply(200, current_json(&k.label, k.limit_remaining, CREATOR))
}

/// The current key's answer, with every field the description requires.
fn current_json(label: &str, limit_remaining: Option<f64>, creator: &str) -> Value {
    let limit = limit_remaining.map(|_| 100.0);
    let usage = limit_remaining.map_or(3.25, |left| 100.0 - left);
    json!({"data": {
        "label": label, "limit": limit, "limit_remaining": limit_remaining, "limit_reset": "monthly",
        "usage": usage, "usage_daily": 0.5, "usage_weekly": 1.5, "usage_monthly": usage,
        "byok_usage": 0.0, "byok_usage_daily": 0.0, "byok_usage_weekly": 0.0, "byok_usage_monthly": 0.0,
        "is_free_tier": false, "is_management_key": false, "is_provisioning_key": false,
        "include_byok_in_limit": false, "creator_user_id": creator, "expires_at": null,
        "rate_limit": {"interval": "1h", "note": "This field is deprecated and safe to ignore.", "requests": -1},
    }})
}

/// A listed key (`ApiKeyObject`).
fn key_json(k: &OrKey) -> Value {
    let limit = k.limit_remaining.map(|_| 100.0);
    let usage = k.limit_remaining.map_or(3.25, |left| 100.0 - left);
    json!({
        "hash": k.hash,
        "name": k.name,
        "label": k.label,
        "disabled": k.disabled,
        "limit": limit,
        "limit_remaining": k.limit_remaining,
        "limit_reset": "monthly",
        "include_byok_in_limit": false,
        "usage": usage,
        "usage_daily": 0.5,
        "usage_weekly": 1.5,
        "usage_monthly": usage,
        "byok_usage": 0.0,
        "byok_usage_daily": 0.0,
        "byok_usage_weekly": 0.0,
        "byok_usage_monthly": 0.0,
        "created_at": "2025-08-24T10:30:00Z",
        "updated_at": "2025-08-24T15:45:00Z",
        "expires_at": null,
        "creator_user_id": CREATOR,
        "workspace_id": k.workspace,
    })
}

/// `GET /api/v1/keys`: up to [`PAGE`] keys of the workspace (`workspace_id`, else the default one) from
/// `offset`, disabled ones only with `include_disabled=true`.
fn list(state: &State, query: &str) -> Reply {
    let param = |name: &str| {
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    };
    let offset = match param("offset").map(|v| v.parse::<usize>()) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => return error(400, "Invalid request parameters"),
    };
    let include_disabled = match param("include_disabled").as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return error(400, "Invalid request parameters"),
    };
    let workspace = param("workspace_id").unwrap_or_else(|| DEFAULT_WORKSPACE.into());
    let items: Vec<&OrKey> = state
        .account
        .keys
        .iter()
        .filter(|k| k.workspace == workspace)
        .filter(|k| include_disabled || !k.disabled)
        .collect();
    let start = if state.account.repeat_page {
        0
    } else {
        offset.min(items.len())
    };
    let end = (start + PAGE).min(items.len());
    reply(
        200,
        json!({"data": items[start..end].iter().map(|k| key_json(k)).collect::<Vec<_>>()}),
    )
}

/// `PATCH /api/v1/keys/{hash}`: `disabled`, `name`, `limit`, `limit_reset`, `include_byok_in_limit`.
fn update(state: &mut State, hash: &str, body: &str) -> Reply {
    let bad = || error(400, "Invalid request parameters");
    let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(body) else {
        return bad();
    };
    let well_typed = fields.iter().all(|(name, value)| match name.as_str() {
        "disabled" | "include_byok_in_limit" => value.is_boolean(),
        "name" => value.is_string(),
        "limit" => value.is_number() || value.is_null(),
        "limit_reset" => value.is_null() || ["daily", "weekly", "monthly"].iter().any(|r| value == r),
        _ => true,
    });
    if !well_typed {
        return bad();
    }
    if let Some(i) = state
        .account
        .keys
        .iter()
        .position(|k| k.hash == hash && k.vanishes_before_update)
    {
        state.account.keys.remove(i);
    }
    let Some(k) = state.account.keys.iter_mut().find(|k| k.hash == hash) else {
        return not_found();
    };
    if let Some(disabled) = fields.get("disabled").and_then(Value::as_bool) {
        k.disabled = disabled;
    }
    if let Some(name) = fields.get("name").and_then(Value::as_str) {
        k.name = name.into();
    }
    reply(200, json!({"data": key_json(k)}))
}
