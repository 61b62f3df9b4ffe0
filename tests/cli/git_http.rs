//! A smart-HTTP git server on 127.0.0.1 for the remote-repository tests: `git http-backend` (a CGI) run once per
//! request under a [`Served`] HTTP server, serving the repositories under one directory. It can require an
//! `Authorization` header, and records the ones it was sent.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use tiny_http::{Header, Request, Response};

use super::fake_server::Served;

#[derive(Default)]
pub struct State {
    pub root: PathBuf,
    /// When set, a request without exactly this `Authorization` header is answered 401.
    pub require_authorization: Option<String>,
    /// Every `Authorization` header received.
    pub authorizations: Vec<String>,
    /// Requests received (method and URL).
    pub requests: Vec<String>,
    /// The protocol v2 commands asked for (`ls-refs`, `fetch`), in order (`?` for a body it could not read).
    pub commands: Vec<String>,
}

pub struct GitHttp {
    pub served: Served<State>,
}

impl GitHttp {
    /// Serves the bare repositories under `root` at `http://127.0.0.1:PORT/NAME`.
    pub fn start(root: &Path) -> GitHttp {
        let state = State {
            root: root.to_path_buf(),
            ..State::default()
        };
        GitHttp {
            served: Served::start(state, handle),
        }
    }

    pub fn url(&self, name: &str) -> String {
        format!("{}/{name}", self.served.base)
    }
}

fn handle(mut request: Request, state: &Mutex<State>) {
    let header = |name: &'static str| {
        request
            .headers()
            .iter()
            .find(|h| h.field.equiv(name))
            .map(|h| h.value.as_str().to_string())
    };
    let authorization = header("Authorization");
    let content_type = header("Content-Type").unwrap_or_default();
    let content_encoding = header("Content-Encoding").unwrap_or_default();
    let git_protocol = header("Git-Protocol").unwrap_or_default();
    let (root, required) = {
        let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
        state.requests.push(format!("{} {}", request.method(), request.url()));
        if let Some(value) = &authorization {
            state.authorizations.push(value.clone());
        }
        (state.root.clone(), state.require_authorization.clone())
    };
    if let Some(required) = required
        && authorization.as_deref() != Some(required.as_str())
    {
        let www = Header::from_bytes("WWW-Authenticate", "Basic realm=\"test\"").expect("a header");
        let _ = request.respond(Response::from_string("no").with_status_code(401).with_header(www));
        return;
    }
    let url = request.url().to_string();
    let (path, query) = url.split_once('?').unwrap_or((&url, ""));
    let mut body = Vec::new();
    let _ = request.as_reader().read_to_end(&mut body);
    if request.method().as_str() == "POST" {
        // The first pkt-line of a v2 request: `0014command=ls-refs\n` (the newline optional). git compresses only
        // large bodies.
        let command = body
            .get(4..)
            .and_then(|rest| rest.strip_prefix(b"command="))
            .map_or("?".to_string(), |rest| {
                let end = rest
                    .iter()
                    .position(|b| !(b.is_ascii_lowercase() || *b == b'-'))
                    .unwrap_or(rest.len());
                String::from_utf8_lossy(&rest[..end]).into_owned()
            });
        state.lock().unwrap_or_else(|p| p.into_inner()).commands.push(command);
    }
    let mut child = Command::new("git")
        .arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_PROJECT_ROOT", &root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", request.method().as_str())
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("CONTENT_TYPE", content_type)
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("HTTP_CONTENT_ENCODING", content_encoding)
        .env("GIT_PROTOCOL", git_protocol)
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("git http-backend runs");
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(&body);
    }
    let output = child.wait_with_output().expect("git http-backend ends");
    let out = output.stdout;
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").map(|p| (p, 4));
    let split = split.or_else(|| out.windows(2).position(|w| w == b"\n\n").map(|p| (p, 2)));
    let Some((end, gap)) = split else {
        let _ = request.respond(Response::from_string("bad CGI output").with_status_code(500));
        return;
    };
    let head = String::from_utf8_lossy(&out[..end]).into_owned();
    let mut status = 200;
    let mut headers = Vec::new();
    for line in head.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("Status") {
            status = value.split(' ').next().and_then(|s| s.parse().ok()).unwrap_or(500);
        } else if let Ok(h) = Header::from_bytes(name.trim(), value) {
            headers.push(h);
        }
    }
    let mut response = Response::from_data(out[end + gap..].to_vec()).with_status_code(status);
    for h in headers {
        response.add_header(h);
    }
    let _ = request.respond(response);
}
