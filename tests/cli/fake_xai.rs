//! A fake of xAI for the revoke tests: one HTTP server on 127.0.0.1 (a free port) that plays both of xAI's hosts,
//! and records every request it receives. Tests point `KEYHOUND_XAI_API_BASE` and
//! `KEYHOUND_XAI_MANAGEMENT_API_BASE` at it; the paths tell the hosts apart.
//!
//! - Inference host: `GET /v1/api-key` with `Authorization: Bearer <key>` answers the key's information (every
//!   field `tests/openapi/xai-management.yaml` requires of `ApiKeyInfo`) for a key it knows and has not deleted,
//!   `api_key_disabled: true` for a disabled one, 400 `Incorrect API key provided: xa***xx` for any other key
//!   (dead, deleted, unknown), 401 without authorisation.
//! - Management host: `GET /auth/teams/{teamId}/api-keys` and `DELETE /auth/api-keys/{apiKeyId}` want the
//!   management key as a bearer; a wrong one gets 401 in the gRPC-gateway style (`{"code":16,"message"}`).
//!   Listing another team than the management key's answers 403 (`code` 7). The listing's envelope is
//!   `{"apiKeys": [...], "nextPageToken": "..."}` (seen in third-party clients, not documented), `page_size`
//!   keys a page, and `?pageToken=` continues it. A DELETE of a key it does not hold answers 404 (`code` 5).
//! - Faults (429 with `retry-after`, 500) can be planted on requests, each a given number of times; a key can
//!   stay live for some probes after its deletion, or be deleted by someone else just before keyhound's DELETE
//!   (which then answers 404); the listing can repeat its page token; every error can quote the request's
//!   `Authorization` header back, the way a careless proxy does.

use std::collections::HashSet;
use std::sync::Mutex;

use crate::fake_server::Served;
use serde_json::{Value, json};
use tiny_http::{Header, Request, Response};

/// The management key's team.
pub const TEAM: &str = "5ea6f6bd-7815-4b8a-9135-28b2d7ba6722";
/// Another team, whose keys the management key may not list.
pub const OTHER_TEAM: &str = "0b7e5c1a-other-team-4f2e-9d3c-6a1b2c3d4e5f";

/// A key xAI holds, of any team.
#[derive(Debug, Clone)]
pub struct XaiKey {
    pub id: String,
    /// The raw key.
    pub value: String,
    pub name: String,
    pub team: String,
    /// Disabled by its owner: probes answer 200 with `api_key_disabled: true`.
    pub disabled: bool,
    /// How many probes still answer 200 after it is deleted (propagation delay).
    pub live_probes_after_delete: u32,
    /// Someone else deletes it just before keyhound's DELETE arrives: that DELETE answers 404.
    pub vanishes_before_delete: bool,
}

impl XaiKey {
    pub fn new(id: &str, value: &str, team: &str) -> XaiKey {
        XaiKey {
            id: id.into(),
            value: value.into(),
            name: format!("{id} name"),
            team: team.into(),
            disabled: false,
            live_probes_after_delete: 0,
            vanishes_before_delete: false,
        }
    }

    /// `xai-...` and the last four characters, as xAI shows a key.
    pub fn redacted(&self) -> String {
        format!("xai-...{}", &self.value[self.value.len() - 4..])
    }
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

#[derive(Debug, Clone, Copy)]
pub enum FaultKind {
    /// 429 with `retry-after: 1`.
    RateLimit,
    /// 500.
    ServerError,
}

/// What the fake serves.
#[derive(Debug, Clone)]
pub struct World {
    /// The management key's team.
    pub team: String,
    /// The management key that the Management API accepts.
    pub management_key: String,
    /// Every key xAI holds, of any team, in listing order.
    pub keys: Vec<XaiKey>,
    /// Keys per page of a listing.
    pub page_size: usize,
    pub faults: Vec<Fault>,
    /// Every page of a listing names the same next page token.
    pub repeat_page_token: bool,
    /// Every error quotes the request's `Authorization` header.
    pub echo_authorization: bool,
}

impl World {
    pub fn new(management_key: &str, keys: Vec<XaiKey>) -> World {
        World {
            team: TEAM.into(),
            management_key: management_key.into(),
            keys,
            page_size: 3,
            faults: Vec::new(),
            repeat_page_token: false,
            echo_authorization: false,
        }
    }
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// The `Host` header.
    pub host: Option<String>,
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

#[derive(Debug)]
struct State {
    world: World,
    deleted: HashSet<String>,
    requests: Vec<Recorded>,
}

/// The running server; stops when dropped.
pub struct FakeXai {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    served: Served<State>,
}

impl FakeXai {
    pub fn start(world: World) -> FakeXai {
        let state = State {
            world,
            deleted: HashSet::new(),
            requests: Vec::new(),
        };
        let served = Served::start(state, handle);
        FakeXai {
            base: served.base.clone(),
            served,
        }
    }

    /// Every request received so far, in order of arrival.
    pub fn requests(&self) -> Vec<Recorded> {
        self.served.state().requests.clone()
    }

    /// The ids of the keys deleted so far (by keyhound or by "someone else"), sorted.
    pub fn deleted(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.served.state().deleted.iter().cloned().collect();
        ids.sort();
        ids
    }
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

/// The inference host's error shape: `{"code": "<status text>", "error": "<message>"}`.
fn api_error(status: u16, code: &str, message: &str) -> Reply {
    reply(status, json!({"code": code, "error": message}))
}

/// The management host's (gRPC-gateway) error shape: `{"code": <grpc code>, "message": "...", "details": []}`.
fn grpc_error(status: u16, code: u16, message: &str) -> Reply {
    reply(status, json!({"code": code, "message": message, "details": []}))
}

/// ` (Authorization: <value>)` when the fake echoes it, else nothing.
fn echo(world: &World, authorization: Option<&str>) -> String {
    match authorization {
        Some(value) if world.echo_authorization => format!(" (Authorization: {value})"),
        _ => String::new(),
    }
}

fn handle(mut request: Request, state: &Mutex<State>) {
    let method = request.method().as_str().to_string();
    let url = request.url().to_string();
    let find = |name: &'static str| {
        request
            .headers()
            .iter()
            .find(|h| h.field.equiv(name))
            .map(|h| h.value.as_str().to_string())
    };
    let (authorization, host) = (find("Authorization"), find("Host"));
    let mut body = String::new();
    let _ = std::io::Read::read_to_string(request.as_reader(), &mut body);
    let answer = {
        let mut guard = state.lock().expect("state");
        let state = &mut *guard;
        state.requests.push(Recorded {
            method: method.clone(),
            host,
            url: url.clone(),
            authorization: authorization.clone(),
        });
        let fault = state
            .world
            .faults
            .iter_mut()
            .find(|f| f.times > 0 && f.method == method && url.starts_with(&f.prefix))
            .map(|f| {
                f.times -= 1;
                f.kind
            });
        let echoed = echo(&state.world, authorization.as_deref());
        match fault {
            Some(FaultKind::RateLimit) => {
                let mut r = api_error(
                    429,
                    "Some resource has been exhausted",
                    &format!("Too many requests: try again in 1 second{echoed}"),
                );
                r.headers.push(("retry-after", "1".into()));
                r
            }
            Some(FaultKind::ServerError) => api_error(
                500,
                "Internal error",
                &format!("The service encountered an internal error{echoed}"),
            ),
            None => route(&method, &url, authorization.as_deref(), state),
        }
    };
    let mut response = Response::from_string(answer.body.to_string())
        .with_status_code(answer.status)
        .with_header(header("Content-Type", "application/json"));
    for (name, value) in &answer.headers {
        response.add_header(header(name, value));
    }
    let _ = request.respond(response);
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("a valid header")
}

fn route(method: &str, url: &str, authorization: Option<&str>, state: &mut State) -> Reply {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let token = authorization
        .and_then(|a| a.strip_prefix("Bearer "))
        .unwrap_or_default();
    let echoed = echo(&state.world, authorization);
    match (method, segments.as_slice()) {
        ("GET", ["v1", "api-key"]) => return probe(token, &echoed, state),
        (_, ["auth", ..]) => {}
        _ => return grpc_error(404, 5, &format!("no route for {method} {path}")),
    }
    if token != state.world.management_key {
        return grpc_error(
            401,
            16,
            &format!("Invalid management key: the request is not authenticated{echoed}"),
        );
    }
    match (method, segments.as_slice()) {
        ("GET", ["auth", "teams", team, "api-keys"]) => {
            if *team != state.world.team {
                return grpc_error(
                    403,
                    7,
                    &format!("The management key may not access team {team}{echoed}"),
                );
            }
            listing(query, state)
        }
        ("DELETE", ["auth", "api-keys", id]) => {
            let Some(key) = state
                .world
                .keys
                .iter()
                .find(|k| k.id == *id && !state.deleted.contains(&k.id))
                .cloned()
            else {
                return grpc_error(404, 5, &format!("API key {id} not found"));
            };
            if key.team != state.world.team {
                return grpc_error(
                    403,
                    7,
                    &format!("The management key may not access API key {id}{echoed}"),
                );
            }
            state.deleted.insert(key.id.clone());
            if key.vanishes_before_delete {
                return grpc_error(404, 5, &format!("API key {id} not found"));
            }
            reply(200, json!({}))
        }
        _ => grpc_error(404, 5, &format!("no route for {method} {path}")),
    }
}

/// `GET /v1/api-key`.
fn probe(token: &str, echoed: &str, state: &mut State) -> Reply {
    if token.is_empty() {
        return api_error(
            401,
            "Unauthenticated",
            "No API key provided. You can obtain an API key from https://console.x.ai.",
        );
    }
    let live = match state.world.keys.iter_mut().find(|k| k.value == token) {
        Some(key) if !state.deleted.contains(&key.id) => Some(key.clone()),
        Some(key) if key.live_probes_after_delete > 0 => {
            key.live_probes_after_delete -= 1;
            Some(key.clone())
        }
        _ => None,
    };
    match live {
        Some(key) => reply(200, key_info(&key)),
        None => {
            let chars: Vec<char> = token.chars().collect();
            let masked = if chars.len() > 4 {
                format!(
                    "{}***{}",
                    chars[..2].iter().collect::<String>(),
                    chars[chars.len() - 2..].iter().collect::<String>()
                )
            } else {
                "***".into()
            };
            api_error(
                400,
                "Client specified an invalid argument",
                &format!(
                    "Incorrect API key provided: {masked}. You can obtain an API key from https://console.x.ai.{echoed}"
                ),
            )
        }
    }
}

/// `GET /v1/api-key`'s answer: every field the reference requires of `ApiKeyInfo`.
pub fn key_info(key: &XaiKey) -> Value {
    json!({
        "redacted_api_key": key.redacted(),
        "user_id": "59fbe5f2-040b-46d5-8325-868bb8f23eb2",
        "name": key.name,
        "create_time": "2024-01-01T12:55:18.139305Z",
        "modify_time": "2024-08-28T17:20:12.343321Z",
        "modified_by": "3d38b4dc-4eb7-4785-ae26-c3fa8997ffc7",
        "team_id": key.team,
        "acls": ["api-key:model:*", "api-key:endpoint:*"],
        "api_key_id": key.id,
        "team_blocked": false,
        "api_key_blocked": false,
        "api_key_disabled": key.disabled,
    })
}

/// A key as the Management API lists it (camelCase).
pub fn listed(key: &XaiKey) -> Value {
    json!({
        "apiKeyId": key.id,
        "redactedApiKey": key.redacted(),
        "name": key.name,
        "teamId": key.team,
        "disabled": key.disabled,
        "userId": "59fbe5f2-040b-46d5-8325-868bb8f23eb2",
        "createTime": "2024-01-01T12:55:18.139305Z",
        "modifyTime": "2024-08-28T17:20:12.343321Z",
        "aclStrings": ["api-key:model:*", "api-key:endpoint:*"],
        "qps": 10,
        "qpm": 600,
        "tpm": null,
        "expireTime": null,
    })
}

/// One page of the team's keys not deleted: `page_size` of them from the offset `?pageToken=p<offset>` names,
/// with `nextPageToken` when more follow (always the first page's when the fake repeats its token).
fn listing(query: &str, state: &State) -> Reply {
    let token = query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == "pageToken")
        .map(|(_, v)| v.to_string());
    let start = match &token {
        None => 0,
        Some(token) => match token.strip_prefix('p').and_then(|n| n.parse::<usize>().ok()) {
            Some(n) => n,
            None => return grpc_error(400, 3, &format!("invalid page token {token}")),
        },
    };
    let keys: Vec<&XaiKey> = state
        .world
        .keys
        .iter()
        .filter(|k| k.team == state.world.team && !state.deleted.contains(&k.id))
        .collect();
    let size = state.world.page_size.max(1);
    let end = (start + size).min(keys.len());
    let page: Vec<Value> = keys[start.min(end)..end].iter().map(|k| listed(k)).collect();
    let mut body = json!({ "apiKeys": page });
    if end < keys.len() {
        let next = if state.world.repeat_page_token {
            format!("p{size}")
        } else {
            format!("p{end}")
        };
        body["nextPageToken"] = json!(next);
    }
    reply(200, body)
}
