//! Hostile servers: what an API endpoint (a compromised proxy, a wrong `--api-base`, a bug at the provider)
//! could answer to `--verify` and `revoke`.
//!
//! Each test follows one point of the security model (README, "Security model", and the revocation "Safety
//! rules"): every answer, listing and verification is bounded; no credential leaks, whole or in pieces; a
//! server-supplied id is one path segment. Every run has a timeout, so a hang fails the test, not the suite.

use std::fs;
use std::io::Read;
use std::process::Output;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tempfile::TempDir;
use tiny_http::{Header, Response, Server, StatusCode};

use crate::common::{code, json_findings, run, stderr, stdout};
use crate::revoke::{ADMIN, UNIQUE, assert_no_raw_keys, keyhound_clean, tree_with, write_report};

/// No hostile case may take longer than this: a hang fails the test instead of the suite.
const TIMEOUT: Duration = Duration::from_secs(60);

/// The organisation every answer names (`openai-organization`), so a single match is proven.
const ORGANIZATION: &str = "org-hostile";

/// What the scripted server answers to one request.
enum Answer {
    /// A status, a JSON body and extra headers.
    Json(u16, Value, Vec<(&'static str, String)>),
    /// A plain-text body.
    Text(u16, String, Vec<(&'static str, String)>),
    /// A body of `x` that never ends, with `Content-Length: n` when `Some(n)` (else chunked).
    Endless(Option<usize>),
}

fn ok(body: Value) -> Answer {
    Answer::Json(200, body, vec![("openai-organization", ORGANIZATION.to_string())])
}

fn list(items: Vec<Value>, has_more: bool, last_id: Option<&str>) -> Answer {
    ok(json!({"object": "list", "data": items, "has_more": has_more, "last_id": last_id}))
}

fn project(id: &str) -> Value {
    json!({"id": id, "object": "organization.project", "name": "Hostile", "created_at": 1711471533, "status": "active"})
}

/// A project key the leaked `UNIQUE` key matches, under `id`.
fn unique_key(id: &str) -> Value {
    let redacted = format!("{}...{}", &UNIQUE[..11], &UNIQUE[UNIQUE.len() - 4..]);
    json!({"object": "organization.project.api_key", "id": id, "name": "leaked", "redacted_value": redacted,
           "created_at": 1711471533, "owner": {"type": "user", "user": {"id": "user_1", "name": "U"}}})
}

fn not_found(url: &str) -> Answer {
    Answer::Json(
        404,
        json!({"error": {"message": format!("Invalid URL {url}"), "type": "invalid_request_error", "param": null, "code": null}}),
        Vec::new(),
    )
}

/// One request as received: method, path and query exactly as sent, `Authorization`.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    url: String,
}

type Script = dyn Fn(&str, &str, &str) -> Answer + Send + Sync;

/// A server on 127.0.0.1 answering every request with `script(method, url, authorization)`, each on its own
/// thread; it records what it received, and how many bytes of endless bodies it produced.
struct Scripted {
    base: String,
    server: Arc<Server>,
    seen: Arc<Mutex<Vec<Seen>>>,
    streamed: Arc<AtomicUsize>,
}

impl Scripted {
    fn start(script: impl Fn(&str, &str, &str) -> Answer + Send + Sync + 'static) -> Scripted {
        let server = Arc::new(Server::http("127.0.0.1:0").expect("bind"));
        let port = server.server_addr().to_ip().expect("ip").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let streamed = Arc::new(AtomicUsize::new(0));
        let script: Arc<Script> = Arc::new(script);
        let (s, recorded, counter) = (Arc::clone(&server), Arc::clone(&seen), Arc::clone(&streamed));
        std::thread::spawn(move || {
            for request in s.incoming_requests() {
                let (script, recorded, counter) = (Arc::clone(&script), Arc::clone(&recorded), Arc::clone(&counter));
                std::thread::spawn(move || {
                    let method = request.method().as_str().to_string();
                    let url = request.url().to_string();
                    let auth = request
                        .headers()
                        .iter()
                        .find(|h| h.field.equiv("Authorization"))
                        .map(|h| h.value.as_str().to_string())
                        .unwrap_or_default();
                    recorded.lock().expect("seen").push(Seen {
                        method: method.clone(),
                        url: url.clone(),
                    });
                    let _ = match script(&method, &url, &auth) {
                        Answer::Json(status, body, headers) => {
                            request.respond(with_headers(Response::from_string(body.to_string()), status, &headers))
                        }
                        Answer::Text(status, body, headers) => {
                            request.respond(with_headers(Response::from_string(body), status, &headers))
                        }
                        // Announced: sent with that Content-Length (not chunked, as tiny_http would).
                        Answer::Endless(announced) => request.respond(
                            Response::new(
                                StatusCode(200),
                                vec![header("Content-Type", "application/json")],
                                Endless(counter),
                                announced,
                                None,
                            )
                            .with_chunked_threshold(usize::MAX),
                        ),
                    };
                });
            }
        });
        Scripted {
            base: format!("http://127.0.0.1:{port}"),
            server,
            seen,
            streamed,
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("seen").clone()
    }

    fn urls(&self) -> Vec<String> {
        self.seen().into_iter().map(|s| s.url).collect()
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("header")
}

fn with_headers<R: Read>(response: Response<R>, status: u16, headers: &[(&'static str, String)]) -> Response<R> {
    let mut response = response
        .with_status_code(status)
        .with_header(header("Content-Type", "application/json"));
    for (name, value) in headers {
        response.add_header(header(name, value));
    }
    response
}

/// An endless body, counting what it produced.
struct Endless(Arc<AtomicUsize>);

impl Read for Endless {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        buf.fill(b'x');
        self.0.fetch_add(buf.len(), Ordering::Relaxed);
        Ok(buf.len())
    }
}

/// A tree holding the `UNIQUE` key, and its redacted report `report.json`.
fn leaked() -> TempDir {
    let dir = tree_with(&[UNIQUE]);
    write_report(dir.path());
    dir
}

/// `keyhound revoke --from report.json --api-base <server> --audit-log audit.jsonl EXTRA`, with the admin key.
fn revoke(dir: &TempDir, server: &Scripted, extra: &[&str]) -> Output {
    run(keyhound_clean(dir.path())
        .timeout(TIMEOUT)
        .env("OPENAI_ADMIN_KEY", ADMIN)
        .args([
            "revoke",
            "--from",
            "report.json",
            "--api-base",
            &server.base,
            "--audit-log",
            "audit.jsonl",
            "--confirm-timeout",
            "5",
        ])
        .args(extra))
}

/// The run's stdout, stderr and audit log, checked for raw keys.
fn everything(dir: &TempDir, output: &Output) -> String {
    let audit = fs::read_to_string(dir.path().join("audit.jsonl")).unwrap_or_default();
    let all = format!("{}\n{}\n{audit}", stdout(output), stderr(output));
    assert_no_raw_keys(&all, "stdout, stderr and the audit log");
    all
}

// ---------------------------------------------------------------------------------------------------------------
// Every answer has a size bound.

#[test]
fn an_oversize_body_is_an_error_naming_the_endpoint_and_is_not_read() {
    const PROJECTS: &str = "GET /v1/organization/projects?limit=100&include_archived=true";
    // Announced (3 GiB) and refused unread; or chunked, without end, and cut at the bound.
    for announced in [Some(3usize << 30), None] {
        let server = Scripted::start(move |_, url, _| {
            if url.starts_with("/v1/models") {
                ok(json!({"object": "list", "data": []}))
            } else {
                Answer::Endless(announced)
            }
        });
        let dir = leaked();
        let started = Instant::now();
        let output = revoke(&dir, &server, &[]);
        assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
        assert_eq!(code(&output), 2, "an error stopped the run: {}", stderr(&output));
        let err = stderr(&output);
        assert!(
            err.contains(&format!(
                "{PROJECTS}: the answer's body is larger than the 4 MiB keyhound reads"
            )),
            "{announced:?}: {err}"
        );
        let said = if announced.is_some() {
            "(Content-Length: 3221225472): not read (1 tries)"
        } else {
            ": not read past that (1 tries)"
        };
        assert!(err.contains(said), "{err}");
        let streamed = server.streamed.load(Ordering::Relaxed);
        assert!(
            streamed < 64 << 20,
            "{announced:?}: keyhound read at most the bound and hung up ({streamed} bytes streamed)"
        );
        everything(&dir, &output);
    }

    // A probe whose answer is too large gives no verdict, and says why.
    let server = Scripted::start(|_, _, _| Answer::Endless(None));
    let dir = tree_with(&[UNIQUE]);
    let output = run(keyhound_clean(dir.path()).timeout(TIMEOUT).args([
        "scan",
        ".",
        "--verify",
        "-f",
        "json",
        "--api-base",
        &server.base,
    ]));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let findings = json_findings(&stdout(&output));
    assert_eq!(findings[0]["verification"]["status"], "unknown");
    let reason = findings[0]["verification"]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("GET /v1/models: the answer's body is larger than the 4 MiB keyhound reads"),
        "{reason}"
    );
    assert_eq!(server.seen().len(), 1, "an oversize answer is not retried");
}

// ---------------------------------------------------------------------------------------------------------------
// Every listing has a bound on pages, and no cursor is followed twice.

#[test]
fn a_pagination_loop_is_an_error_naming_the_repeated_cursor() {
    let server = Scripted::start(|_, url, _| {
        if url.starts_with("/v1/models") {
            return ok(json!({"object": "list", "data": []}));
        }
        // Two ids, each naming the other as the next page, forever.
        let (id, next) = if url.ends_with("after=proj_a") {
            ("proj_b", "proj_b")
        } else {
            ("proj_a", "proj_a")
        };
        list(vec![project(id)], true, Some(next))
    });
    let dir = leaked();
    let started = Instant::now();
    let output = revoke(&dir, &server, &["--yes"]);
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains(
            "GET /v1/organization/projects?limit=100&include_archived=true&after=proj_b: the server sent the \
             cursor `proj_a` a second time in one listing (a pagination loop): stopped"
        ),
        "{err}"
    );
    let listings = server
        .urls()
        .iter()
        .filter(|u| u.starts_with("/v1/organization/"))
        .count();
    assert_eq!(listings, 3, "{:?}", server.urls());
    assert!(server.seen().iter().all(|s| s.method == "GET"), "nothing deleted");
    everything(&dir, &output);
}

#[test]
fn endless_pages_stop_at_the_page_bound() {
    const KEYS: &str = "/v1/organization/projects/proj_1/api_keys";
    let server = Scripted::start(|_, url, _| {
        if url.starts_with("/v1/models") {
            return ok(json!({"object": "list", "data": []}));
        }
        if url.starts_with("/v1/organization/projects?") {
            return list(vec![project("proj_1")], false, Some("proj_1"));
        }
        if !url.starts_with(KEYS) {
            return not_found(url);
        }
        // A new key id on every page, and always more.
        let n: u64 = url
            .split("after=key_")
            .nth(1)
            .and_then(|n| n.parse().ok())
            .map_or(0, |n: u64| n + 1);
        let id = format!("key_{n}");
        list(
            vec![json!({"object": "organization.project.api_key", "id": id, "redacted_value": "sk-proj-abc...wxyz"})],
            true,
            Some(&id),
        )
    });
    let dir = leaked();
    let started = Instant::now();
    let output = revoke(&dir, &server, &["--yes"]);
    assert!(started.elapsed() < Duration::from_secs(50), "{:?}", started.elapsed());
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains(&format!(
            "GET {KEYS}?limit=100&owner_project_access=any: more than 1000 pages in one listing, and has_more is \
             still true: stopped"
        )),
        "{err}"
    );
    let pages = server.urls().iter().filter(|u| u.starts_with(KEYS)).count();
    assert_eq!(pages, 1000);
    assert!(server.seen().iter().all(|s| s.method == "GET"), "nothing deleted");
    everything(&dir, &output);
}

// ---------------------------------------------------------------------------------------------------------------
// Verification has an overall time budget.

/// `n` fake legacy keys (`sk-` + 20 + `T3BlbkFJ` + 20 random letters and digits), never issued by anyone.
fn fake_legacy_keys(n: usize) -> Vec<String> {
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        char::from(ALNUM[(state % 62) as usize])
    };
    (0..n)
        .map(|_| {
            let head: String = (0..20).map(|_| next()).collect();
            let tail: String = (0..20).map(|_| next()).collect();
            format!("sk-{head}T3BlbkFJ{tail}")
        })
        .collect()
}

#[test]
fn verification_ends_within_its_time_budget_whatever_retry_after_asks() {
    let server = Scripted::start(|_, _, _| {
        // Slow enough that the budget ends before every key is probed.
        std::thread::sleep(Duration::from_millis(300));
        Answer::Json(
            429,
            json!({"error": {"message": "Rate limit reached for requests.", "type": "requests", "param": null,
                             "code": "rate_limit_exceeded"}}),
            vec![("Retry-After", "10".to_string())],
        )
    });
    let keys = fake_legacy_keys(40);
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let dir = tree_with(&refs);
    let started = Instant::now();
    let output = run(keyhound_clean(dir.path()).timeout(TIMEOUT).args([
        "scan",
        ".",
        "--verify",
        "--verify-timeout",
        "2",
        "-f",
        "json",
        "--api-base",
        &server.base,
    ]));
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(10),
        "the budget of 2 s was kept: {elapsed:?}"
    );
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let findings = json_findings(&stdout(&output));
    assert_eq!(findings.len(), 40);
    let (mut limited, mut cut, mut skipped) = (0, 0, 0);
    for finding in &findings {
        assert_eq!(finding["verification"]["status"], "unknown", "{finding}");
        let reason = finding["verification"]["reason"].as_str().unwrap_or_default();
        if reason.starts_with("not probed") {
            skipped += 1;
            assert!(
                reason.contains("time budget for verification (2 s, --verify-timeout) ran out"),
                "{reason}"
            );
        } else if reason.contains("(429)") {
            limited += 1;
            assert!(
                reason.contains("(429) after 1 tries: no verdict: the time budget (--verify-timeout) ran out"),
                "{reason}"
            );
        } else {
            // In flight when the budget ran out.
            cut += 1;
            assert_eq!(
                reason,
                "GET /v1/models: no answer before the time budget ran out (1 tries)"
            );
        }
    }
    assert!(
        limited > 0 && skipped > 0,
        "{limited} rate limited, {cut} cut short, {skipped} not probed"
    );
    let probed = limited + cut;
    assert_eq!(
        server.seen().len(),
        probed,
        "no retry was made: Retry-After would pass the deadline"
    );
    let text = format!("{}{}", stdout(&output), stderr(&output));
    for key in &keys {
        assert!(!text.contains(key.as_str()), "a raw key in the output");
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Credentials are redacted as they were sent, and in every part.

/// Fails when `text` holds 12 or more characters in a row of `secret` after its family prefix (`sk-admin-`),
/// other than the head of a redacted form (`sk-admin-feOO…`).
fn assert_no_fragment(text: &str, secret: &str, what: &str) {
    let mut text = text.to_string();
    for shown in (1..=secret.len() / 3).rev() {
        text = text.replace(&format!("{}…", &secret[..shown]), "<head>…");
    }
    let random = secret[..12].rfind('-').map_or(0, |i| i + 1);
    for start in random..=secret.len() - 12 {
        let window = &secret[start..start + 12];
        assert!(
            !text.contains(window),
            "{what} holds {window}, a fragment of {}…:\n{text}",
            &secret[..12]
        );
    }
}

/// The bearer token cut into pieces of 16 characters.
fn pieces(auth: &str) -> (String, Vec<String>) {
    let (scheme, token) = auth.split_once(' ').unwrap_or((auth, ""));
    let chars: Vec<char> = token.chars().collect();
    let pieces = chars.chunks(16).map(|c| c.iter().collect()).collect();
    (scheme.to_string(), pieces)
}

#[test]
fn a_credential_echoed_split_or_in_pieces_is_redacted_everywhere() {
    type Echo = fn(&str, &str) -> Answer;
    let cases: Vec<(&str, Echo)> = vec![
        ("split at the space, pieces in the message and headers", |_, auth| {
            let (scheme, pieces) = pieces(auth);
            let message = format!("denied: scheme {scheme}; token {}", pieces.join(" | "));
            Answer::Json(
                401,
                json!({"error": {"message": message, "type": scheme, "param": null, "code": "ip_not_authorized"}}),
                vec![
                    ("x-request-id", pieces.get(1).cloned().unwrap_or_default()),
                    ("openai-organization", pieces.get(2).cloned().unwrap_or_default()),
                ],
            )
        }),
        ("halves on lines of a text body", |_, auth| {
            let (scheme, token) = auth.split_once(' ').unwrap_or((auth, ""));
            let half = token.len() / 2;
            Answer::Text(
                500,
                format!("{scheme}\n{}\n{}", &token[..half], &token[half..]),
                Vec::new(),
            )
        }),
        ("a redirect to a URL holding it", |base, auth| {
            let (_, token) = auth.split_once(' ').unwrap_or((auth, ""));
            Answer::Json(
                302,
                json!({}),
                vec![(
                    "Location",
                    format!("{base}/stolen/{}?rest={}", &token[..20], &token[20..]),
                )],
            )
        }),
    ];
    for (what, echo) in cases {
        let base = Arc::new(Mutex::new(String::new()));
        let shared = Arc::clone(&base);
        let server = Scripted::start(move |_, _, auth| echo(&shared.lock().expect("base"), auth));
        *base.lock().expect("base") = server.base.clone();
        let dir = leaked();
        let output = revoke(&dir, &server, &[]);
        assert_eq!(code(&output), 2, "{what}: {}", stderr(&output));
        let all = everything(&dir, &output);
        assert_no_fragment(&all, ADMIN, what);
        assert_no_fragment(&all, UNIQUE, what);
        assert!(
            server.urls().iter().all(|u| !u.starts_with("/stolen")),
            "{what}: a redirect was followed"
        );

        let output = run(keyhound_clean(dir.path()).timeout(TIMEOUT).args([
            "scan",
            ".",
            "--verify",
            "-f",
            "json",
            "--api-base",
            &server.base,
        ]));
        let all = format!("{}\n{}", stdout(&output), stderr(&output));
        assert_no_raw_keys(&all, what);
        assert_no_fragment(&all, UNIQUE, &format!("{what}, scan --verify"));
    }
}

// ---------------------------------------------------------------------------------------------------------------
// A server-supplied id is one path segment.

/// A fake organisation with `projects`, whose first project holds the leaked key under `key_id`; the key dies
/// when deleted. The leaked key's probe says `live` until then.
fn org_with_ids(projects: &'static [&'static str], key_id: &'static str) -> Scripted {
    let deleted = Arc::new(AtomicBool::new(false));
    Scripted::start(move |method, url, _| {
        let (path, _) = url.split_once('?').unwrap_or((url, ""));
        if path == "/v1/models" {
            if deleted.load(Ordering::Relaxed) {
                return Answer::Json(
                    401,
                    json!({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error",
                                     "param": null, "code": "invalid_api_key"}}),
                    Vec::new(),
                );
            }
            return ok(json!({"object": "list", "data": []}));
        }
        if path == "/v1/organization/projects" {
            return list(projects.iter().map(|id| project(id)).collect(), false, None);
        }
        if method == "DELETE" {
            deleted.store(true, Ordering::Relaxed);
            return ok(json!({"object": "organization.project.api_key.deleted", "id": key_id, "deleted": true}));
        }
        if path.ends_with("/api_keys") && path.starts_with("/v1/organization/projects/") {
            let first = path.starts_with(&format!("/v1/organization/projects/{}/", encoded(projects[0])));
            let keys = if first { vec![unique_key(key_id)] } else { Vec::new() };
            return list(keys, false, None);
        }
        not_found(url)
    })
}

/// How these tests expect an id to be encoded in a path (what the server must receive).
fn encoded(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[test]
fn server_ids_stay_one_encoded_path_segment() {
    // Ids with `/`, `?`, `#` and percent-encoded dots are sent encoded, and the deletion reaches them.
    let server = org_with_ids(&["a/b", "%2e%2e"], "%2E%2E/x?y#z");
    let dir = leaked();
    let output = revoke(&dir, &server, &["--yes"]);
    assert_eq!(code(&output), 0, "{}\n{}", stdout(&output), stderr(&output));
    let urls: Vec<String> = server
        .urls()
        .into_iter()
        .map(|u| u.split('?').next().unwrap_or_default().to_string())
        .collect();
    for expected in [
        "/v1/organization/projects/a%2Fb/api_keys",
        "/v1/organization/projects/%252e%252e/api_keys",
        "/v1/organization/projects/a%2Fb/api_keys/%252E%252E%2Fx%3Fy%23z",
    ] {
        assert!(urls.iter().any(|u| u == expected), "{expected} not in {urls:?}");
    }
    let deletes: Vec<Seen> = server.seen().into_iter().filter(|s| s.method == "DELETE").collect();
    assert_eq!(deletes.len(), 1, "{deletes:?}");
    everything(&dir, &output);

    // `..` (or `.`) cannot be one segment in any encoding (`%2E%2E` is a dot segment too): a listing that names
    // such a project stops the run before anything is deleted; a key with such an id is not deleted.
    let server = org_with_ids(&["a/b", ".."], "key_1");
    let output = revoke(&dir, &server, &["--yes"]);
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    assert!(
        stderr(&output).contains(
            "GET /v1/organization/projects: the id `..` cannot be sent as a path segment (an empty, `.` or `..` \
             segment would change the path)"
        ),
        "{}",
        stderr(&output)
    );
    assert!(server.seen().iter().all(|s| s.method == "GET"), "nothing deleted");
    assert!(
        server
            .urls()
            .iter()
            .all(|u| !u.contains("/..") && !u.starts_with("/v1/organization/api_keys")),
        "{:?}",
        server.urls()
    );

    let server = org_with_ids(&["proj_1"], "..");
    let output = revoke(&dir, &server, &["--yes"]);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    assert!(
        stdout(&output).contains("deleted: no: not sent: the id `..` cannot be sent as a path segment"),
        "{}",
        stdout(&output)
    );
    assert!(server.seen().iter().all(|s| s.method == "GET"), "nothing deleted");
    everything(&dir, &output);
}

#[test]
fn ids_are_sent_back_as_listed_not_as_shown() {
    // A project id and a key id with a terminal escape: shown escaped, but the requests name them as listed (one
    // encoded segment each), so the deletion reaches the listed key and no other.
    let server = org_with_ids(&["proj_\u{1b}[2J"], "key_\u{1b}]0;x\u{7}");
    let dir = leaked();
    let output = revoke(&dir, &server, &["--yes"]);
    assert_eq!(code(&output), 0, "{}\n{}", stdout(&output), stderr(&output));
    let deletes: Vec<String> = server
        .seen()
        .into_iter()
        .filter(|s| s.method == "DELETE")
        .map(|s| s.url)
        .collect();
    assert_eq!(
        deletes,
        ["/v1/organization/projects/proj_%1B%5B2J/api_keys/key_%1B%5D0%3Bx%07"],
        "{}",
        stdout(&output)
    );
    assert!(!stdout(&output).contains('\u{1b}'), "the ids are shown escaped");
    everything(&dir, &output);
}

// ---------------------------------------------------------------------------------------------------------------
// Malformed JSON is a clear error.

#[test]
fn a_malformed_listing_is_a_clear_error() {
    let server = Scripted::start(|_, url, _| {
        if url.starts_with("/v1/models") {
            return ok(json!({"object": "list", "data": []}));
        }
        Answer::Text(
            200,
            "{\"object\": \"list\", \"data\": [".to_string(),
            vec![("openai-organization", ORGANIZATION.to_string())],
        )
    });
    let dir = leaked();
    let output = revoke(&dir, &server, &["--yes"]);
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    assert!(
        stderr(&output)
            .contains("GET /v1/organization/projects?limit=100&include_archived=true: unexpected response body"),
        "{}",
        stderr(&output)
    );
    everything(&dir, &output);
}
