//! A fake of OpenAI's API for the revoke tests: a real HTTP server on 127.0.0.1 (a free port), answering the
//! way OpenAI documents its Administration API and `/v1/models`, and recording every request it receives.
//!
//! - Admin endpoints want `Authorization: Bearer <admin key>`; a wrong key gets 401 with an OpenAI-style error
//!   body (`invalid_api_key`, the key masked in the message as OpenAI does).
//! - `/v1/models` answers 200 for live keys, 401 `invalid_api_key` for unknown or deleted ones, 403 for admin
//!   keys, 401 with another code for keys behind an IP allow-list, and sleeps past any timeout for "slow" keys.
//! - Lists honour `limit` (1 to 100, default 20) and `after`, and answer `first_id`, `last_id`, `has_more`.
//! - Deleting a key that a service account owns is refused with 400, as the published description documents
//!   ("an error if the key belonged to a service account"); deleting the service account works.
//! - Every answer to a key OpenAI knows carries `openai-organization` (the organisation of the request, as OpenAI
//!   documents it): the fake organisation's id, or another organisation's for a foreign key; `send_organization`
//!   turns it off.
//! - Archived projects are listed only with `include_archived=true`.
//! - Objects have the fields the published description requires (`tests/openapi/admin-api.json`, checked by a
//!   test): project keys carry `owner_project_access`, admin keys an inline owner and `expires_at`.
//! - Faults (429 with `Retry-After`, 500, a slow reply) can be planted on requests, each a given number of
//!   times, and `rate_limit_every` answers every n-th request with a 429.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use crate::fake_server::Served;
use serde_json::{Value, json};
use tiny_http::{Header, Request, Response};

/// Who owns a key.
#[derive(Debug, Clone)]
pub enum Owner {
    User { id: String, name: String, email: String },
    ServiceAccount { id: String, name: String },
}

impl Owner {
    pub fn user(id: &str, name: &str, email: &str) -> Owner {
        Owner::User {
            id: id.into(),
            name: name.into(),
            email: email.into(),
        }
    }

    pub fn service_account(id: &str, name: &str) -> Owner {
        Owner::ServiceAccount {
            id: id.into(),
            name: name.into(),
        }
    }

    fn json(&self) -> Value {
        match self {
            Owner::User { id, name, email } => json!({
                "type": "user",
                "user": {"id": id, "name": name, "email": email, "role": "owner", "created_at": 1711471533}
            }),
            Owner::ServiceAccount { id, name } => json!({
                "type": "service_account",
                "service_account": {"id": id, "name": name, "role": "member", "created_at": 1711471533}
            }),
        }
    }

    /// The inline owner of an admin key: `type`, `object`, `id`, `name`, `created_at`, `role`.
    fn inline_json(&self) -> Value {
        match self {
            Owner::User { id, name, .. } => json!({
                "type": "user", "object": "organization.user", "id": id, "name": name,
                "created_at": 1711471533, "role": "owner"
            }),
            Owner::ServiceAccount { id, name } => json!({
                "type": "service_account", "object": "organization.service_account", "id": id, "name": name,
                "created_at": 1711471533, "role": "member"
            }),
        }
    }

    fn service_account_id(&self) -> Option<&str> {
        match self {
            Owner::ServiceAccount { id, .. } => Some(id),
            Owner::User { .. } => None,
        }
    }
}

/// A key the fake organisation holds.
#[derive(Debug, Clone)]
pub struct FakeKey {
    pub id: String,
    pub name: String,
    /// The raw key.
    pub value: String,
    /// `redacted_value` as listed: `head` characters, `...`, `tail` characters.
    pub redacted: String,
    /// The project; `None` for an admin key.
    pub project: Option<String>,
    pub owner: Owner,
    pub last_used_at: Option<i64>,
    /// How many probes still answer 200 after the key is deleted (propagation delay).
    pub live_probes_after_delete: u32,
    /// Someone else deletes it just before keyhound's DELETE arrives: that DELETE answers 404.
    pub vanishes_before_delete: bool,
}

impl FakeKey {
    /// A project key listed as `value[..head]...value[len-tail..]`.
    pub fn project(id: &str, value: &str, project: &str, owner: Owner, head: usize, tail: usize) -> FakeKey {
        FakeKey {
            id: id.into(),
            name: format!("{id} name"),
            value: value.into(),
            redacted: redact(value, head, tail),
            project: Some(project.into()),
            owner,
            last_used_at: Some(1714557600),
            live_probes_after_delete: 0,
            vanishes_before_delete: false,
        }
    }

    /// An admin key listed as `sk-admin...` plus its last `tail` characters.
    pub fn admin(id: &str, value: &str, tail: usize) -> FakeKey {
        FakeKey {
            id: id.into(),
            name: format!("{id} name"),
            value: value.into(),
            redacted: redact(value, 8, tail),
            project: None,
            owner: Owner::user("user_owner", "Org Owner", "owner@example.com"),
            last_used_at: None,
            live_probes_after_delete: 0,
            vanishes_before_delete: false,
        }
    }
}

fn redact(value: &str, head: usize, tail: usize) -> String {
    format!("{}...{}", &value[..head], &value[value.len() - tail..])
}

/// A fault planted on requests whose method is `method` and whose path-and-query starts with `prefix`.
#[derive(Debug, Clone)]
pub struct Fault {
    pub method: &'static str,
    pub prefix: String,
    pub kind: FaultKind,
    /// How many more requests it hits.
    pub times: u32,
}

#[derive(Debug, Clone, Copy)]
pub enum FaultKind {
    /// 429 `rate_limit_exceeded` with `Retry-After: <seconds>`.
    RateLimit { retry_after: u64 },
    /// 500 `server_error`.
    ServerError,
    /// Answer normally, but only after this long.
    Slow(Duration),
    /// 400 `invalid_request_error` with this message.
    BadRequest(&'static str),
}

/// The organisation the fake serves.
#[derive(Debug, Clone, Default)]
pub struct Org {
    /// Its id, sent as `openai-organization` (`org-keyhound-test` when empty).
    pub id: String,
    /// Send `openai-organization` at all.
    pub send_organization: bool,
    pub admin_key: String,
    /// (id, name), in listing order.
    pub projects: Vec<(String, String)>,
    /// Ids of archived projects (listed only with `include_archived=true`).
    pub archived: Vec<String>,
    pub keys: Vec<FakeKey>,
    /// Live keys of some other organisation: `/v1/models` accepts them; no listing shows them.
    pub foreign_live: Vec<String>,
    /// Live keys of this organisation that no listing shows (a project this admin key cannot see).
    pub unlisted_live: Vec<String>,
    /// Keys behind an IP allow-list: `/v1/models` answers 401 with a code other than `invalid_api_key`.
    pub ip_restricted: Vec<String>,
    /// Keys whose `/v1/models` probe never answers in time.
    pub slow_probes: Vec<String>,
    /// Keys whose organisation is out of quota: `/v1/models` answers 429 `insufficient_quota`.
    pub out_of_quota: Vec<String>,
    /// Keys whose probes always answer 429 `rate_limit_exceeded`.
    pub always_rate_limited: Vec<String>,
    pub faults: Vec<Fault>,
    /// Answer every n-th request (counting all) with 429 `rate_limit_exceeded`, `Retry-After: 0`.
    pub rate_limit_every: Option<usize>,
}

/// The organisation id a foreign live key belongs to.
pub const OTHER_ORGANIZATION: &str = "org-someone-else";

impl Org {
    pub fn organization_id(&self) -> String {
        if self.id.is_empty() {
            "org-keyhound-test".to_string()
        } else {
            self.id.clone()
        }
    }
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path and query.
    pub url: String,
    pub authorization: Option<String>,
}

impl Recorded {
    /// The bearer token, if any.
    pub fn bearer(&self) -> Option<&str> {
        self.authorization.as_deref().and_then(|a| a.strip_prefix("Bearer "))
    }

    pub fn path(&self) -> &str {
        self.url.split('?').next().unwrap_or_default()
    }
}

#[derive(Debug, Default)]
struct State {
    org: Org,
    deleted_keys: HashSet<String>,
    deleted_service_accounts: HashSet<String>,
    requests: Vec<Recorded>,
}

/// The running server; stops when dropped.
pub struct FakeOpenAi {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    served: Served<State>,
}

impl FakeOpenAi {
    pub fn start(org: Org) -> FakeOpenAi {
        let state = State {
            org,
            ..State::default()
        };
        let served = Served::start(state, handle);
        FakeOpenAi {
            base: served.base.clone(),
            served,
        }
    }

    /// Every request received so far, in order of arrival.
    pub fn requests(&self) -> Vec<Recorded> {
        self.served.state().requests.clone()
    }

    /// The ids of the keys deleted so far (directly or with their service account).
    pub fn deleted_keys(&self) -> Vec<String> {
        let state = self.served.state();
        let mut ids: Vec<String> = state
            .org
            .keys
            .iter()
            .filter(|k| is_deleted(&state, k))
            .map(|k| k.id.clone())
            .collect();
        ids.sort();
        ids
    }
}

fn is_deleted(state: &State, key: &FakeKey) -> bool {
    state.deleted_keys.contains(&key.id)
        || key
            .owner
            .service_account_id()
            .is_some_and(|sa| key.project.is_some() && state.deleted_service_accounts.contains(sa))
}

/// A reply: status, JSON body, extra headers.
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

fn error(status: u16, message: &str, kind: &str, code: Option<&str>) -> Reply {
    reply(
        status,
        json!({"error": {"message": message, "type": kind, "param": null, "code": code}}),
    )
}

/// OpenAI's 401 for a key it does not know, the key masked as OpenAI masks it.
fn invalid_key(token: &str) -> Reply {
    let shown_head: String = token.chars().take(8).collect();
    let tail: String = token
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let masked = if token.len() > 12 {
        format!("{shown_head}{}{tail}", "*".repeat(token.len() - 12))
    } else {
        "***".to_string()
    };
    error(
        401,
        &format!(
            "Incorrect API key provided: {masked}. \
             You can find your API key at https://platform.openai.com/account/api-keys."
        ),
        "invalid_request_error",
        Some("invalid_api_key"),
    )
}

fn handle(mut request: Request, state: &Mutex<State>) {
    let method = request.method().as_str().to_string();
    let url = request.url().to_string();
    let authorization = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("Authorization"))
        .map(|h| h.value.as_str().to_string());
    let mut body = String::new();
    let _ = std::io::Read::read_to_string(request.as_reader(), &mut body);
    let (request_number, fault) = {
        let mut state = state.lock().expect("state");
        state.requests.push(Recorded {
            method: method.clone(),
            url: url.clone(),
            authorization: authorization.clone(),
        });
        let number = state.requests.len();
        let fault = state
            .org
            .faults
            .iter_mut()
            .find(|f| f.times > 0 && f.method == method && url.starts_with(&f.prefix))
            .map(|f| {
                f.times -= 1;
                f.kind
            })
            .or_else(|| {
                state
                    .org
                    .rate_limit_every
                    .filter(|every| *every > 0 && number.is_multiple_of(*every))
                    .map(|_| FaultKind::RateLimit { retry_after: 0 })
            });
        (number, fault)
    };
    let token = authorization
        .as_deref()
        .and_then(|a| a.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_string();
    let answer = match fault {
        Some(FaultKind::RateLimit { retry_after }) => {
            let mut r = error(
                429,
                "Rate limit reached for requests. Please try again in 1s.",
                "requests",
                Some("rate_limit_exceeded"),
            );
            r.headers.push(("Retry-After", retry_after.to_string()));
            r
        }
        Some(FaultKind::ServerError) => error(
            500,
            "The server had an error while processing your request. Sorry about that!",
            "server_error",
            None,
        ),
        Some(FaultKind::BadRequest(message)) => error(400, message, "invalid_request_error", None),
        Some(FaultKind::Slow(delay)) => {
            std::thread::sleep(delay);
            route(&method, &url, &token, state)
        }
        None => route(&method, &url, &token, state),
    };
    let mut response = Response::from_string(answer.body.to_string())
        .with_status_code(answer.status)
        .with_header(header("Content-Type", "application/json"))
        .with_header(header("x-request-id", &format!("req_{request_number:04}")));
    if let Some(organization) = organization_of(&token, state) {
        response.add_header(header("openai-organization", &organization));
    }
    for (name, value) in &answer.headers {
        response.add_header(header(name, value));
    }
    let _ = request.respond(response);
}

/// The organisation OpenAI would name for a request made with `token`: the fake organisation for its admin key
/// and its listed keys, another one for a foreign live key, none for a key it does not know (or when the fake
/// is told not to say).
fn organization_of(token: &str, state: &Mutex<State>) -> Option<String> {
    let state = state.lock().expect("state");
    let org = &state.org;
    if !org.send_organization || token.is_empty() {
        return None;
    }
    if token == org.admin_key
        || org.keys.iter().any(|k| k.value == token)
        || org.unlisted_live.iter().any(|k| k == token)
    {
        return Some(org.organization_id());
    }
    org.foreign_live
        .iter()
        .any(|k| k == token)
        .then(|| OTHER_ORGANIZATION.to_string())
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("a valid header")
}

fn route(method: &str, url: &str, token: &str, state: &Mutex<State>) -> Reply {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    if segments.as_slice() == ["v1", "models"] && method == "GET" {
        return models(token, state);
    }
    if segments.len() < 2 || segments[..2] != ["v1", "organization"] {
        return error(
            404,
            &format!("Invalid URL ({method} {path})"),
            "invalid_request_error",
            None,
        );
    }
    let mut guard = state.lock().expect("state");
    let state = &mut *guard;
    if !admin_accepted(state, token) {
        return invalid_key(token);
    }
    match (method, &segments[2..]) {
        ("GET", ["projects"]) => {
            let include_archived = query.split('&').any(|pair| pair == "include_archived=true");
            let items: Vec<(String, Value)> = state
                .org
                .projects
                .iter()
                .filter(|(id, _)| include_archived || !state.org.archived.contains(id))
                .map(|(id, name)| {
                    let archived = state.org.archived.contains(id);
                    (
                        id.clone(),
                        json!({"id": id, "object": "organization.project", "name": name,
                               "created_at": 1711471533,
                               "archived_at": if archived { json!(1714557600) } else { Value::Null },
                               "status": if archived { "archived" } else { "active" }}),
                    )
                })
                .collect();
            page(items, query)
        }
        ("GET", ["projects", project, "api_keys"]) => {
            if !state.org.projects.iter().any(|(id, _)| id == project) {
                return error(
                    404,
                    &format!("No such project: {project}"),
                    "invalid_request_error",
                    None,
                );
            }
            let items: Vec<(String, Value)> = state
                .org
                .keys
                .iter()
                .filter(|k| k.project.as_deref() == Some(*project) && !is_deleted(state, k))
                .map(|k| (k.id.clone(), key_json(k)))
                .collect();
            page(items, query)
        }
        ("DELETE", ["projects", project, "api_keys", key_id]) => {
            let Some(key) = state
                .org
                .keys
                .iter()
                .find(|k| k.id == *key_id && k.project.as_deref() == Some(*project) && !is_deleted(state, k))
                .cloned()
            else {
                return error(
                    404,
                    &format!("No such API key: {key_id}"),
                    "invalid_request_error",
                    None,
                );
            };
            if key.vanishes_before_delete {
                state.deleted_keys.insert(key.id.clone());
                return error(
                    404,
                    &format!("No such API key: {key_id}"),
                    "invalid_request_error",
                    None,
                );
            }
            if key.owner.service_account_id().is_some() {
                return error(
                    400,
                    "API keys owned by a service account cannot be deleted on their own; delete the service account.",
                    "invalid_request_error",
                    None,
                );
            }
            state.deleted_keys.insert(key.id.clone());
            reply(
                200,
                json!({"object": "organization.project.api_key.deleted", "id": key.id, "deleted": true}),
            )
        }
        ("DELETE", ["projects", project, "service_accounts", sa]) => {
            let exists = state
                .org
                .keys
                .iter()
                .any(|k| k.project.as_deref() == Some(*project) && k.owner.service_account_id() == Some(*sa));
            if !exists || state.deleted_service_accounts.contains(*sa) {
                return error(
                    404,
                    &format!("No such service account: {sa}"),
                    "invalid_request_error",
                    None,
                );
            }
            state.deleted_service_accounts.insert(sa.to_string());
            reply(
                200,
                json!({"object": "organization.project.service_account.deleted", "id": sa, "deleted": true}),
            )
        }
        ("GET", ["admin_api_keys"]) => {
            let items: Vec<(String, Value)> = state
                .org
                .keys
                .iter()
                .filter(|k| k.project.is_none() && !is_deleted(state, k))
                .map(|k| (k.id.clone(), key_json(k)))
                .collect();
            page(items, query)
        }
        ("DELETE", ["admin_api_keys", key_id]) => {
            let Some(key) = state
                .org
                .keys
                .iter()
                .find(|k| k.id == *key_id && k.project.is_none() && !is_deleted(state, k))
                .cloned()
            else {
                return error(
                    404,
                    &format!("No such admin key: {key_id}"),
                    "invalid_request_error",
                    None,
                );
            };
            state.deleted_keys.insert(key.id.clone());
            reply(
                200,
                json!({"id": key.id, "object": "organization.admin_api_key.deleted", "deleted": true}),
            )
        }
        _ => error(
            404,
            &format!("Invalid URL ({method} {path})"),
            "invalid_request_error",
            None,
        ),
    }
}

/// Is `token` a working admin key: the configured one (unless deleted as a listed key), or a listed admin key
/// not yet deleted (or still propagating its deletion)?
fn admin_accepted(state: &mut State, token: &str) -> bool {
    if token.is_empty() {
        return false;
    }
    match state
        .org
        .keys
        .iter()
        .position(|k| k.project.is_none() && k.value == token)
    {
        Some(i) => still_accepted(state, i),
        None => {
            token == state.org.admin_key
                || (token.starts_with("sk-admin-") && state.org.unlisted_live.iter().any(|k| k == token))
        }
    }
}

/// Is listed key `i` accepted: not deleted, or deleted with probes left before the deletion shows?
fn still_accepted(state: &mut State, i: usize) -> bool {
    if !is_deleted(state, &state.org.keys[i]) {
        return true;
    }
    let key = &mut state.org.keys[i];
    if key.live_probes_after_delete > 0 {
        key.live_probes_after_delete -= 1;
        return true;
    }
    false
}

fn models(token: &str, state: &Mutex<State>) -> Reply {
    let slow = {
        let mut guard = state.lock().expect("state");
        let state = &mut *guard;
        if state.org.slow_probes.iter().any(|k| k == token) {
            true
        } else {
            if state.org.out_of_quota.iter().any(|k| k == token) {
                return error(
                    429,
                    "You exceeded your current quota, please check your plan and billing details.",
                    "insufficient_quota",
                    Some("insufficient_quota"),
                );
            }
            if state.org.always_rate_limited.iter().any(|k| k == token) {
                let mut r = error(
                    429,
                    "Rate limit reached for requests. Please try again in 1s.",
                    "requests",
                    Some("rate_limit_exceeded"),
                );
                r.headers.push(("Retry-After", "0".to_string()));
                return r;
            }
            if state.org.ip_restricted.iter().any(|k| k == token) {
                return error(
                    401,
                    "You are not allowed to use this API key from this IP address.",
                    "invalid_request_error",
                    Some("ip_not_authorized"),
                );
            }
            if token == state.org.admin_key || state.org.keys.iter().any(|k| k.project.is_none() && k.value == token) {
                return error(
                    403,
                    "Admin API keys cannot be used for non-administration endpoints.",
                    "invalid_request_error",
                    None,
                );
            }
            let accepted = match state.org.keys.iter().position(|k| k.value == token) {
                Some(i) => still_accepted(state, i),
                None => state
                    .org
                    .foreign_live
                    .iter()
                    .chain(&state.org.unlisted_live)
                    .any(|k| k == token),
            };
            if !accepted {
                return invalid_key(token);
            }
            false
        }
    };
    if slow {
        std::thread::sleep(Duration::from_secs(5));
    }
    reply(
        200,
        json!({"object": "list", "data": [
            {"id": "gpt-4o-mini", "object": "model", "created": 1721172741, "owned_by": "system"}
        ]}),
    )
}

/// A key as the published description has it: a project key with a nested owner and
/// `owner_project_access`; an admin key with an inline owner and `expires_at`.
fn key_json(key: &FakeKey) -> Value {
    match key.project {
        Some(_) => json!({
            "object": "organization.project.api_key",
            "id": key.id,
            "name": key.name,
            "redacted_value": key.redacted,
            "created_at": 1711471533,
            "last_used_at": key.last_used_at,
            "owner_project_access": "active",
            "owner": key.owner.json(),
        }),
        None => json!({
            "object": "organization.admin_api_key",
            "id": key.id,
            "name": key.name,
            "redacted_value": key.redacted,
            "created_at": 1711471533,
            "expires_at": null,
            "last_used_at": key.last_used_at,
            "owner": key.owner.inline_json(),
        }),
    }
}

/// One page of a list: `limit` (1 to 100, default 20) items after the `after` id.
fn page(items: Vec<(String, Value)>, query: &str) -> Reply {
    let param = |name: &str| {
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    };
    let limit = match param("limit").map(|v| v.parse::<usize>()) {
        None => 20,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        Some(_) => {
            return error(
                400,
                "Invalid 'limit': must be between 1 and 100.",
                "invalid_request_error",
                None,
            );
        }
    };
    let start = match param("after") {
        None => 0,
        Some(after) => match items.iter().position(|(id, _)| *id == after) {
            Some(i) => i + 1,
            None => return error(400, &format!("Invalid 'after': {after}"), "invalid_request_error", None),
        },
    };
    let end = (start + limit).min(items.len());
    let slice = &items[start.min(end)..end];
    reply(
        200,
        json!({
            "object": "list",
            "data": slice.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>(),
            "first_id": slice.first().map(|(id, _)| id.clone()),
            "last_id": slice.last().map(|(id, _)| id.clone()),
            "has_more": end < items.len(),
        }),
    )
}
