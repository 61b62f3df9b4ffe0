//! A fake OCI distribution registry on 127.0.0.1, serving images written by `image_builder`: the pull side of
//! the OCI distribution specification and the Docker token authentication flow, as vendored under
//! `tests/openapi/oci-distribution/` (see its README).
//!
//! - `GET /v2/`: 200, or 401 with a `WWW-Authenticate` challenge (Bearer or Basic).
//! - `GET`/`HEAD /v2/<name>/manifests/<tag|digest>`: the manifest with `Content-Type` = its media type and
//!   `Docker-Content-Digest`; 404 `MANIFEST_UNKNOWN` when the `Accept` header excludes its media type.
//! - `GET`/`HEAD /v2/<name>/blobs/<digest>`: the blob, or a 307 to `/storage/<name>/<digest>` on the same
//!   server (as registries redirect to storage) when [`FakeRegistry::redirect_blobs`] is on.
//! - `GET /token?service=fake&scope=...`: `{"token": ..., "access_token": ...}`, checking HTTP Basic
//!   credentials when the registry has some.
//! - Errors: `{"errors":[{"code": ..., "message": ..., "detail": ...}]}`.
//!
//! Every request is recorded ([`FakeRegistry::requests`]). Fault modes: a status once (429 with
//! `Retry-After: 1`, 500...), a blob whose bytes do not match its digest, an index that lists itself, a slow
//! blob, an endless blob.

use std::collections::{BTreeMap, HashMap};
use std::io::{Cursor, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use tiny_http::{Header, Request, Response};

use crate::fake_server::Served;
use crate::image_builder::{Built, BuiltIndex, OCI_INDEX, OCI_MANIFEST, digest, self_referencing_index};

/// The token the fake's token endpoint hands out.
pub const TOKEN: &str = "fake-registry-token-4f2b";

/// How the registry wants clients to authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// Everything is readable without credentials.
    Anonymous,
    /// `401 WWW-Authenticate: Bearer realm=".../token",service="fake",scope="repository:NAME:pull"`; the token
    /// endpoint checks these Basic credentials when `Some` (else it hands tokens to anyone, as Docker Hub
    /// does for public images); then `Authorization: Bearer TOKEN` is required.
    Bearer(Option<(String, String)>),
    /// `401 WWW-Authenticate: Basic realm="fake"`; then `Authorization: Basic base64(user:pass)` is required.
    Basic(String, String),
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Logged {
    pub method: String,
    /// Path and query.
    pub path: String,
    /// The `Authorization` header, as sent.
    pub authorization: Option<String>,
    pub accept: Option<String>,
}

#[derive(Debug, Clone)]
struct Stored {
    media_type: String,
    bytes: Vec<u8>,
    digest: String,
}

#[derive(Debug, Default)]
struct Repository {
    /// tag or digest -> manifest
    manifests: HashMap<String, Stored>,
    blobs: HashMap<String, Vec<u8>>,
}

pub struct State {
    base: String,
    auth: Auth,
    repositories: BTreeMap<String, Repository>,
    redirect: bool,
    log: Vec<Logged>,
    /// (path fragment, status): the next request whose path holds the fragment gets the status, once.
    fail_once: Vec<(String, u16)>,
    corrupt: Vec<String>,
    slow: HashMap<String, Duration>,
    endless: HashMap<String, Duration>,
}

/// The fake registry. Stops when dropped.
pub struct FakeRegistry {
    served: Served<State>,
    /// `127.0.0.1:PORT`, the host part of image references.
    pub host: String,
}

impl FakeRegistry {
    pub fn start(auth: Auth) -> FakeRegistry {
        let state = State {
            base: String::new(),
            auth,
            repositories: BTreeMap::new(),
            redirect: false,
            log: Vec::new(),
            fail_once: Vec::new(),
            corrupt: Vec::new(),
            slow: HashMap::new(),
            endless: HashMap::new(),
        };
        let served = Served::start(state, handle);
        served.state().base = served.base.clone();
        let host = served.base.trim_start_matches("http://").to_string();
        FakeRegistry { served, host }
    }

    /// `http://127.0.0.1:PORT`
    pub fn base(&self) -> &str {
        &self.served.base
    }

    /// `127.0.0.1:PORT/NAME:TAG`
    pub fn reference(&self, name: &str, tag: &str) -> String {
        format!("{}/{name}:{tag}", self.host)
    }

    /// `127.0.0.1:PORT/NAME@DIGEST`
    pub fn reference_by_digest(&self, name: &str, digest: &str) -> String {
        format!("{}/{name}@{digest}", self.host)
    }

    /// Serves `image` as `NAME:TAG` (and its manifest by digest), with its config and layer blobs.
    pub fn push(&self, name: &str, tag: &str, image: &Built) {
        let mut state = self.served.state();
        let repository = state.repositories.entry(name.to_string()).or_default();
        put_image(repository, image);
        repository
            .manifests
            .insert(tag.to_string(), stored(OCI_MANIFEST, &image.manifest));
    }

    /// Serves a multi-platform image as `NAME:TAG`: the index (by tag and digest) and every image of it.
    pub fn push_index(&self, name: &str, tag: &str, index: &BuiltIndex) {
        let mut state = self.served.state();
        let repository = state.repositories.entry(name.to_string()).or_default();
        for image in &index.images {
            put_image(repository, image);
        }
        let manifest = stored(OCI_INDEX, &index.bytes);
        repository.manifests.insert(index.digest.clone(), manifest.clone());
        repository.manifests.insert(tag.to_string(), manifest);
    }

    /// Serves `bytes` as the manifest `NAME:REFERENCE` with this media type and `Docker-Content-Digest`, true
    /// or not.
    pub fn push_manifest(&self, name: &str, reference: &str, media_type: &str, bytes: &[u8], digest: &str) {
        let mut state = self.served.state();
        let repository = state.repositories.entry(name.to_string()).or_default();
        let manifest = Stored {
            media_type: media_type.to_string(),
            bytes: bytes.to_vec(),
            digest: digest.to_string(),
        };
        repository.manifests.insert(reference.to_string(), manifest);
    }

    /// Serves under `NAME:TAG` an image index whose only entry is its own digest, and serves it under that
    /// digest too. Returns the digest.
    pub fn push_self_referencing(&self, name: &str, tag: &str) -> String {
        let (bytes, self_digest) = self_referencing_index();
        self.push_manifest(name, tag, OCI_INDEX, &bytes, &self_digest);
        self.push_manifest(name, &self_digest, OCI_INDEX, &bytes, &self_digest);
        self_digest
    }

    /// Blob reads answer with a 307 to `/storage/NAME/DIGEST` on this server.
    pub fn redirect_blobs(&self) {
        self.served.state().redirect = true;
    }

    /// The next request whose path contains `fragment` gets `status` (429 with `Retry-After: 1`), once.
    pub fn fail_once(&self, fragment: &str, status: u16) {
        self.served.state().fail_once.push((fragment.to_string(), status));
    }

    /// The blob `digest` is served with its last byte changed (same length).
    pub fn corrupt_blob(&self, digest: &str) {
        self.served.state().corrupt.push(digest.to_string());
    }

    /// The blob `digest` is served as headers (its true `Content-Length`) and its first 16 bytes, then nothing
    /// for `stall`, then the rest.
    pub fn slow_blob(&self, digest: &str, stall: Duration) {
        self.served.state().slow.insert(digest.to_string(), stall);
    }

    /// The blob `digest` is served chunked: its bytes, then `A`s without end, until the client hangs up or
    /// `limit` has passed (the fake's own bound, so that no thread outlives the test for long).
    pub fn endless_blob(&self, digest: &str, limit: Duration) {
        self.served.state().endless.insert(digest.to_string(), limit);
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Logged> {
        self.served.state().log.clone()
    }

    /// How many times the bytes of blob `digest` were sent (GETs of `/v2/.../blobs/DIGEST` or of its storage
    /// location answered with the blob, HEADs and redirects not counted).
    pub fn blob_gets(&self, digest: &str) -> usize {
        let redirect = self.served.state().redirect;
        self.requests()
            .iter()
            .filter(|r| r.method == "GET" && r.path.ends_with(digest))
            .filter(|r| r.path.starts_with(if redirect { "/storage/" } else { "/v2/" }))
            .filter(|r| r.path.contains("/blobs/") || redirect)
            .count()
    }
}

fn stored(media_type: &str, bytes: &[u8]) -> Stored {
    Stored {
        media_type: media_type.to_string(),
        bytes: bytes.to_vec(),
        digest: digest(bytes),
    }
}

fn put_image(repository: &mut Repository, image: &Built) {
    repository
        .manifests
        .insert(image.manifest_digest.clone(), stored(OCI_MANIFEST, &image.manifest));
    repository
        .blobs
        .insert(image.config_digest.clone(), image.config.clone());
    for layer in &image.layers {
        repository.blobs.insert(layer.digest.clone(), layer.blob.clone());
    }
}

type Reply = Response<Cursor<Vec<u8>>>;

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("a valid header")
}

fn error(status: u16, code: &str, message: &str, detail: Value) -> Reply {
    let body = json!({"errors": [{"code": code, "message": message, "detail": detail}]});
    Response::from_data(serde_json::to_vec(&body).expect("JSON"))
        .with_status_code(status)
        .with_header(header("Content-Type", "application/json"))
}

fn request_header(request: &Request, name: &str) -> Option<String> {
    let values: Vec<String> = request
        .headers()
        .iter()
        .filter(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str().to_string())
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

/// What the handler decided to send.
enum Answer {
    Reply(Reply),
    /// A blob, with the digest it is served under.
    Blob(String, Vec<u8>),
}

fn handle(request: Request, state: &Mutex<State>) {
    let method = request.method().as_str().to_string();
    let path = request.url().to_string();
    let authorization = request_header(&request, "Authorization");
    let accept = request_header(&request, "Accept");
    let answer = {
        let mut state = state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        state.log.push(Logged {
            method: method.clone(),
            path: path.clone(),
            authorization: authorization.clone(),
            accept: accept.clone(),
        });
        route(&mut state, &method, &path, authorization.as_deref(), accept.as_deref())
    };
    match answer {
        Answer::Reply(reply) => {
            let _ = request.respond(reply);
        }
        Answer::Blob(blob_digest, bytes) => {
            let (slow, endless, corrupt) = {
                let state = state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                (
                    state.slow.get(&blob_digest).copied(),
                    state.endless.get(&blob_digest).copied(),
                    state.corrupt.contains(&blob_digest),
                )
            };
            let mut bytes = bytes;
            if corrupt && let Some(last) = bytes.last_mut() {
                *last ^= 0x55;
            }
            if method == "HEAD" {
                let _ = request.respond(blob_reply(&blob_digest, bytes));
            } else if let Some(stall) = slow {
                send_slowly(request, &blob_digest, &bytes, stall);
            } else if let Some(limit) = endless {
                send_endlessly(request, &blob_digest, &bytes, limit);
            } else {
                let _ = request.respond(blob_reply(&blob_digest, bytes));
            }
        }
    }
}

fn blob_reply(blob_digest: &str, bytes: Vec<u8>) -> Reply {
    Response::from_data(bytes)
        .with_header(header("Content-Type", "application/octet-stream"))
        .with_header(header("Docker-Content-Digest", blob_digest))
}

fn send_slowly(request: Request, blob_digest: &str, bytes: &[u8], stall: Duration) {
    let mut writer = request.into_writer();
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nDocker-Content-Digest: {blob_digest}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        bytes.len()
    );
    let first = bytes.len().min(16);
    if writer.write_all(head.as_bytes()).is_err() || writer.write_all(&bytes[..first]).is_err() {
        return;
    }
    let _ = writer.flush();
    std::thread::sleep(stall);
    let _ = writer.write_all(&bytes[first..]);
    let _ = writer.flush();
}

fn send_endlessly(request: Request, blob_digest: &str, bytes: &[u8], limit: Duration) {
    let started = Instant::now();
    let mut writer = request.into_writer();
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nDocker-Content-Digest: {blob_digest}\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    let chunk = |data: &[u8]| {
        let mut out = format!("{:x}\r\n", data.len()).into_bytes();
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
        out
    };
    if writer.write_all(head.as_bytes()).is_err() || (!bytes.is_empty() && writer.write_all(&chunk(bytes)).is_err()) {
        return;
    }
    let filler = chunk(&[b'A'; 64 * 1024]);
    while started.elapsed() < limit {
        if writer.write_all(&filler).is_err() || writer.flush().is_err() {
            return;
        }
    }
}

fn challenge(state: &State, scope_name: Option<&str>) -> Reply {
    let value = match &state.auth {
        Auth::Basic(..) => "Basic realm=\"fake\"".to_string(),
        _ => {
            let mut value = format!("Bearer realm=\"{}/token\",service=\"fake\"", state.base);
            if let Some(name) = scope_name {
                value.push_str(&format!(",scope=\"repository:{name}:pull\""));
            }
            value
        }
    };
    error(401, "UNAUTHORIZED", "authentication required", Value::Null).with_header(header("WWW-Authenticate", &value))
}

fn basic(user: &str, pass: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

fn authorized(state: &State, authorization: Option<&str>) -> bool {
    match &state.auth {
        Auth::Anonymous => true,
        Auth::Bearer(_) => authorization == Some(&format!("Bearer {TOKEN}")),
        Auth::Basic(user, pass) => authorization == Some(&basic(user, pass)),
    }
}

/// `/v2/<name>/<kind>/<reference>` -> (name, kind, reference); kind is `manifests` or `blobs`.
fn split(path: &str) -> Option<(&str, &str, &str)> {
    let rest = path.strip_prefix("/v2/")?;
    for kind in ["manifests", "blobs"] {
        if let Some((name, reference)) = rest.rsplit_once(&format!("/{kind}/")) {
            return Some((name, kind, reference));
        }
    }
    None
}

fn route(state: &mut State, method: &str, url: &str, authorization: Option<&str>, accept: Option<&str>) -> Answer {
    let path = url.split('?').next().unwrap_or(url);
    if let Some(at) = state
        .fail_once
        .iter()
        .position(|(fragment, _)| path.contains(fragment.as_str()))
    {
        let (_, status) = state.fail_once.remove(at);
        let reply = if status == 429 {
            error(429, "TOOMANYREQUESTS", "too many requests", Value::Null).with_header(header("Retry-After", "1"))
        } else {
            error(status, "UNKNOWN", "injected failure", Value::Null)
        };
        return Answer::Reply(reply);
    }
    if method != "GET" && method != "HEAD" {
        return Answer::Reply(error(405, "UNSUPPORTED", "the operation is unsupported", Value::Null));
    }
    if path == "/token" {
        return Answer::Reply(token(state, authorization));
    }
    if let Some(rest) = path.strip_prefix("/storage/") {
        // Storage behind a redirect: no credentials needed (the location is the credential).
        let Some((name, blob_digest)) = rest.rsplit_once('/') else {
            return Answer::Reply(error(404, "BLOB_UNKNOWN", "blob unknown to registry", Value::Null));
        };
        return match state.repositories.get(name).and_then(|r| r.blobs.get(blob_digest)) {
            Some(bytes) => Answer::Blob(blob_digest.to_string(), bytes.clone()),
            None => Answer::Reply(error(
                404,
                "BLOB_UNKNOWN",
                "blob unknown to registry",
                json!({"digest": blob_digest}),
            )),
        };
    }
    if path == "/v2/" || path == "/v2" {
        if !authorized(state, authorization) {
            return Answer::Reply(challenge(state, None));
        }
        return Answer::Reply(
            Response::from_data(b"{}".to_vec())
                .with_header(header("Content-Type", "application/json"))
                .with_header(header("Docker-Distribution-API-Version", "registry/2.0")),
        );
    }
    let Some((name, kind, reference)) = split(path) else {
        return Answer::Reply(error(
            404,
            "NAME_UNKNOWN",
            "repository name not known to registry",
            Value::Null,
        ));
    };
    if !authorized(state, authorization) {
        return Answer::Reply(challenge(state, Some(name)));
    }
    let Some(repository) = state.repositories.get(name) else {
        return Answer::Reply(error(
            404,
            "NAME_UNKNOWN",
            "repository name not known to registry",
            json!({"name": name}),
        ));
    };
    if kind == "manifests" {
        let Some(manifest) = repository.manifests.get(reference) else {
            return Answer::Reply(error(
                404,
                "MANIFEST_UNKNOWN",
                "manifest unknown to registry",
                json!({"reference": reference}),
            ));
        };
        if let Some(accept) = accept {
            let accepted = accept
                .split(',')
                .map(|t| t.split(';').next().unwrap_or("").trim())
                .any(|t| t == manifest.media_type || t == "*/*");
            if !accepted {
                return Answer::Reply(error(
                    404,
                    "MANIFEST_UNKNOWN",
                    "manifest unknown to registry",
                    json!({"reason": format!("not in the accepted media types: {}", manifest.media_type)}),
                ));
            }
        }
        return Answer::Reply(
            Response::from_data(manifest.bytes.clone())
                .with_header(header("Content-Type", &manifest.media_type))
                .with_header(header("Docker-Content-Digest", &manifest.digest)),
        );
    }
    let Some(bytes) = repository.blobs.get(reference) else {
        return Answer::Reply(error(
            404,
            "BLOB_UNKNOWN",
            "blob unknown to registry",
            json!({"digest": reference}),
        ));
    };
    if state.redirect {
        let location = format!("{}/storage/{name}/{reference}", state.base);
        return Answer::Reply(
            Response::from_data(Vec::new())
                .with_status_code(307)
                .with_header(header("Location", &location)),
        );
    }
    Answer::Blob(reference.to_string(), bytes.clone())
}

fn token(state: &State, authorization: Option<&str>) -> Reply {
    let Auth::Bearer(credentials) = &state.auth else {
        return error(404, "UNSUPPORTED", "no token service", Value::Null);
    };
    if let Some((user, pass)) = credentials
        && authorization != Some(&basic(user, pass))
    {
        return error(401, "UNAUTHORIZED", "authentication required", Value::Null)
            .with_header(header("WWW-Authenticate", "Basic realm=\"fake-token\""));
    }
    let body = json!({"token": TOKEN, "access_token": TOKEN, "expires_in": 300, "issued_at": "2024-05-01T12:00:00Z"});
    Response::from_data(serde_json::to_vec(&body).expect("JSON"))
        .with_header(header("Content-Type", "application/json"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpStream;

    use crate::image_builder::{Image, Layer};

    fn image() -> Built {
        Image::new()
            .layer(Layer::new().file("a.txt", "hello"))
            .layer(Layer::new().file("b.txt", "world").gzip())
            .build()
    }

    fn client() -> reqwest::blocking::Client {
        reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
    }

    fn get(registry: &FakeRegistry, path: &str, authorization: Option<&str>) -> reqwest::blocking::Response {
        let mut request = client().get(format!("{}{path}", registry.base()));
        if let Some(authorization) = authorization {
            request = request.header("Authorization", authorization);
        }
        request.send().expect("the fake answers")
    }

    fn error_code(response: reqwest::blocking::Response) -> String {
        let body: Value = response.json().expect("JSON error body");
        body["errors"][0]["code"].as_str().expect("code").to_string()
    }

    #[test]
    fn anonymous_pull_serves_manifests_and_blobs() {
        let registry = FakeRegistry::start(Auth::Anonymous);
        let built = image();
        registry.push("team/app", "1", &built);
        assert_eq!(get(&registry, "/v2/", None).status(), 200);
        for reference in ["1", built.manifest_digest.as_str()] {
            let response = get(&registry, &format!("/v2/team/app/manifests/{reference}"), None);
            assert_eq!(response.status(), 200);
            assert_eq!(response.headers()["content-type"], OCI_MANIFEST);
            assert_eq!(
                response.headers()["docker-content-digest"],
                built.manifest_digest.as_str()
            );
            assert_eq!(response.bytes().expect("body").to_vec(), built.manifest);
        }
        let head = client()
            .head(format!("{}/v2/team/app/manifests/1", registry.base()))
            .send()
            .expect("HEAD");
        assert_eq!(head.status(), 200);
        assert_eq!(head.headers()["docker-content-digest"], built.manifest_digest.as_str());
        assert_eq!(
            head.headers()["content-length"],
            built.manifest.len().to_string().as_str()
        );
        for layer in &built.layers {
            let response = get(&registry, &format!("/v2/team/app/blobs/{}", layer.digest), None);
            assert_eq!(response.status(), 200);
            assert_eq!(digest(&response.bytes().expect("body")), layer.digest);
        }
        assert_eq!(registry.blob_gets(&built.layers[0].digest), 1);
        let missing = get(&registry, "/v2/team/app/manifests/2", None);
        assert_eq!(missing.status(), 404);
        assert_eq!(error_code(missing), "MANIFEST_UNKNOWN");
        let missing = get(
            &registry,
            &format!("/v2/team/app/blobs/sha256:{}", "1".repeat(64)),
            None,
        );
        assert_eq!(missing.status(), 404);
        assert_eq!(error_code(missing), "BLOB_UNKNOWN");
        assert_eq!(
            error_code(get(&registry, "/v2/other/manifests/1", None)),
            "NAME_UNKNOWN"
        );
    }

    #[test]
    fn accept_is_honoured() {
        let registry = FakeRegistry::start(Auth::Anonymous);
        registry.push("app", "1", &image());
        let only_index = client()
            .get(format!("{}/v2/app/manifests/1", registry.base()))
            .header("Accept", OCI_INDEX)
            .send()
            .expect("answer");
        assert_eq!(only_index.status(), 404);
        assert_eq!(error_code(only_index), "MANIFEST_UNKNOWN");
        let both = client()
            .get(format!("{}/v2/app/manifests/1", registry.base()))
            .header("Accept", format!("{OCI_INDEX}, {OCI_MANIFEST}"))
            .send()
            .expect("answer");
        assert_eq!(both.status(), 200);
        assert_eq!(registry.requests()[0].accept.as_deref(), Some(OCI_INDEX));
    }

    #[test]
    fn the_bearer_flow_challenges_then_takes_the_token() {
        let registry = FakeRegistry::start(Auth::Bearer(Some(("alice".into(), "s3cret-pass".into()))));
        registry.push("app", "1", &image());
        let response = get(&registry, "/v2/app/manifests/1", None);
        assert_eq!(response.status(), 401);
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .expect("ASCII")
            .to_string();
        assert_eq!(
            challenge,
            format!(
                "Bearer realm=\"{}/token\",service=\"fake\",scope=\"repository:app:pull\"",
                registry.base()
            )
        );
        assert_eq!(error_code(response), "UNAUTHORIZED");
        let v2 = get(&registry, "/v2/", None);
        assert_eq!(v2.status(), 401);
        assert!(
            v2.headers()["www-authenticate"]
                .to_str()
                .expect("ASCII")
                .starts_with("Bearer realm=")
        );
        let path = "/token?service=fake&scope=repository:app:pull";
        assert_eq!(get(&registry, path, None).status(), 401);
        assert_eq!(get(&registry, path, Some(&basic("alice", "wrong"))).status(), 401);
        let token: Value = get(&registry, path, Some(&basic("alice", "s3cret-pass")))
            .json()
            .expect("JSON");
        assert_eq!(token["token"], TOKEN);
        assert_eq!(token["access_token"], TOKEN);
        let bearer = format!("Bearer {TOKEN}");
        assert_eq!(get(&registry, "/v2/app/manifests/1", Some(&bearer)).status(), 200);
        assert_eq!(
            get(&registry, "/v2/app/manifests/1", Some("Bearer other")).status(),
            401
        );
        let log = registry.requests();
        assert_eq!(
            log.last().expect("logged").authorization.as_deref(),
            Some("Bearer other")
        );
        assert!(log[0].authorization.is_none());
    }

    #[test]
    fn anonymous_bearer_hands_tokens_to_anyone() {
        let registry = FakeRegistry::start(Auth::Bearer(None));
        registry.push("app", "1", &image());
        assert_eq!(get(&registry, "/v2/app/manifests/1", None).status(), 401);
        let token: Value = get(&registry, "/token?service=fake&scope=repository:app:pull", None)
            .json()
            .expect("JSON");
        assert_eq!(token["token"], TOKEN);
        assert_eq!(
            get(&registry, "/v2/app/manifests/1", Some(&format!("Bearer {TOKEN}"))).status(),
            200
        );
    }

    #[test]
    fn basic_auth_is_required_when_configured() {
        let registry = FakeRegistry::start(Auth::Basic("bob".into(), "pa55".into()));
        registry.push("app", "1", &image());
        let response = get(&registry, "/v2/", None);
        assert_eq!(response.status(), 401);
        assert_eq!(response.headers()["www-authenticate"], "Basic realm=\"fake\"");
        assert_eq!(get(&registry, "/v2/", Some(&basic("bob", "pa55"))).status(), 200);
        assert_eq!(
            get(&registry, "/v2/app/manifests/1", Some(&basic("bob", "nope"))).status(),
            401
        );
        assert_eq!(
            get(&registry, "/v2/app/manifests/1", Some(&basic("bob", "pa55"))).status(),
            200
        );
    }

    #[test]
    fn blobs_can_be_redirected_to_storage() {
        let registry = FakeRegistry::start(Auth::Anonymous);
        let built = image();
        registry.push("app", "1", &built);
        registry.redirect_blobs();
        let layer = &built.layers[1];
        let response = get(&registry, &format!("/v2/app/blobs/{}", layer.digest), None);
        assert_eq!(response.status(), 307);
        let location = response.headers()["location"].to_str().expect("ASCII").to_string();
        assert_eq!(location, format!("{}/storage/app/{}", registry.base(), layer.digest));
        let followed =
            reqwest::blocking::get(format!("{}/v2/app/blobs/{}", registry.base(), layer.digest)).expect("answer");
        assert_eq!(digest(&followed.bytes().expect("body")), layer.digest);
        assert_eq!(registry.blob_gets(&layer.digest), 1);
    }

    #[test]
    fn a_failure_happens_once() {
        let registry = FakeRegistry::start(Auth::Anonymous);
        let built = image();
        registry.push("app", "1", &built);
        registry.fail_once("/manifests/1", 429);
        registry.fail_once(&built.layers[0].digest, 500);
        let throttled = get(&registry, "/v2/app/manifests/1", None);
        assert_eq!(throttled.status(), 429);
        assert_eq!(throttled.headers()["retry-after"], "1");
        assert_eq!(error_code(throttled), "TOOMANYREQUESTS");
        assert_eq!(get(&registry, "/v2/app/manifests/1", None).status(), 200);
        let path = format!("/v2/app/blobs/{}", built.layers[0].digest);
        assert_eq!(get(&registry, &path, None).status(), 500);
        assert_eq!(get(&registry, &path, None).status(), 200);
    }

    #[test]
    fn a_corrupt_blob_does_not_match_its_digest() {
        let registry = FakeRegistry::start(Auth::Anonymous);
        let built = image();
        registry.push("app", "1", &built);
        registry.corrupt_blob(&built.layers[0].digest);
        let bytes = get(&registry, &format!("/v2/app/blobs/{}", built.layers[0].digest), None)
            .bytes()
            .expect("body");
        assert_eq!(bytes.len(), built.layers[0].blob.len());
        assert_ne!(digest(&bytes), built.layers[0].digest);
    }

    #[test]
    fn the_self_referencing_index_lists_itself() {
        let registry = FakeRegistry::start(Auth::Anonymous);
        let self_digest = registry.push_self_referencing("app", "loop");
        let by_tag = get(&registry, "/v2/app/manifests/loop", None);
        assert_eq!(by_tag.headers()["content-type"], OCI_INDEX);
        assert_eq!(by_tag.headers()["docker-content-digest"], self_digest.as_str());
        let index: Value = by_tag.json().expect("JSON");
        assert_eq!(index["manifests"][0]["digest"], self_digest);
        let by_digest: Value = get(&registry, &format!("/v2/app/manifests/{self_digest}"), None)
            .json()
            .expect("JSON");
        assert_eq!(by_digest, index);
    }

    #[test]
    fn a_slow_blob_stalls_after_a_few_bytes() {
        let registry = FakeRegistry::start(Auth::Anonymous);
        let built = image();
        registry.push("app", "1", &built);
        registry.slow_blob(&built.layers[0].digest, Duration::from_secs(3));
        let mut stream = TcpStream::connect(&registry.host).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_millis(1500)))
            .expect("timeout");
        write!(
            stream,
            "GET /v2/app/blobs/{} HTTP/1.1\r\nHost: {}\r\n\r\n",
            built.layers[0].digest, registry.host
        )
        .expect("send");
        let mut received = Vec::new();
        let mut buffer = [0u8; 4096];
        let started = Instant::now();
        loop {
            match stream.read(&mut buffer) {
                Ok(0) => panic!("the fake closed the connection early"),
                Ok(n) => received.extend_from_slice(&buffer[..n]),
                Err(_) => break,
            }
        }
        assert!(started.elapsed() >= Duration::from_millis(1400), "it stalled");
        let text = String::from_utf8_lossy(&received);
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
        let body = &received[received.windows(4).position(|w| w == b"\r\n\r\n").expect("headers end") + 4..];
        assert_eq!(body, &built.layers[0].blob[..16]);
    }

    #[test]
    fn an_endless_blob_streams_until_the_client_hangs_up() {
        let registry = FakeRegistry::start(Auth::Anonymous);
        let built = image();
        registry.push("app", "1", &built);
        registry.endless_blob(&built.layers[0].digest, Duration::from_secs(30));
        let mut response = get(&registry, &format!("/v2/app/blobs/{}", built.layers[0].digest), None);
        assert_eq!(response.status(), 200);
        let mut buffer = vec![0u8; 1 << 20];
        let mut total = 0usize;
        while total < 8 << 20 {
            let n = response.read(&mut buffer).expect("more bytes");
            assert!(n > 0, "the blob ended after {total} bytes");
            total += n;
        }
        drop(response);
    }
}
