//! The HTTP client for an outside API (a provider's, GitHub's, GitLab's): one base URL, one way of sending the
//! credential ([`AuthStyle`]), a timeout on every request, no redirects, bounded retries with exponential backoff and jitter, and at most
//! [`MAX_BODY_BYTES`] read of any answer.
//!
//! The client returns every HTTP answer as a [`Reply`], whatever its status, once retries are over: what a 401
//! or a 400 means depends on the call, and callers decide. Only the absence of a (usable) answer is an error.
//!
//! A caller with a time budget (`--verify-timeout`) passes its deadline: no request then runs past it, and no
//! `Retry-After` wait is begun that would end after it.

use std::io::Read;
use std::time::{Duration, Instant};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};

use crate::finding::Secret;

/// How a request carries its credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthStyle {
    /// `Authorization: Bearer <key>`.
    Bearer,
    /// The key alone in the named header (`x-api-key`, `x-goog-api-key`, `api-key`, `PRIVATE-TOKEN`).
    Header(&'static str),
    /// No credential: the request goes out anonymous (a public organisation's listing).
    Anonymous,
}

/// The most response headers an answer keeps, and the longest value kept: a server cannot grow memory through
/// them.
const MAX_HEADERS: usize = 64;
const MAX_HEADER_VALUE: usize = 512;

/// How many times one request is sent at most (the first try included).
pub const MAX_TRIES: u32 = 4;
/// The first backoff delay; it doubles with each retry.
pub const BASE_DELAY: Duration = Duration::from_millis(200);
/// No wait between tries is longer than this, whatever `Retry-After` asks for.
pub const MAX_DELAY: Duration = Duration::from_secs(10);

/// The most of an answer's body keyhound reads. OpenAI's largest answers (a page of 100 keys) are tens of
/// kilobytes; a longer body, or a `Content-Length` announcing one, is an error naming the endpoint, and the rest
/// is never read.
pub const MAX_BODY_BYTES: u64 = 4 * 1024 * 1024;

/// Characters left as they are in a path segment or a query value: ids are `proj_abc`, `key_abc`. Everything
/// else is percent-encoded, `/`, `?`, `#` and `%` included, so a server-supplied id is always one segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'_').remove(b'-').remove(b'.');

/// A server-supplied id that cannot be sent as one path segment.
///
/// `.` and `..` are dot segments, which URL parsing removes, taking the segment before with them; so are their
/// percent-encoded forms (`%2E%2E`, as the URL standard says), so no encoding can carry them. An empty id
/// would leave `//`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the id `{0}` cannot be sent as a path segment (an empty, `.` or `..` segment would change the path)")]
pub struct BadSegment(pub String);

/// Encodes a server-supplied id as one path segment: every character but letters, digits, `_`, `-` and `.` is
/// percent-encoded; ids that are dot segments (or empty) are refused.
pub fn segment(id: &str) -> Result<String, BadSegment> {
    if matches!(id, "" | "." | "..") {
        return Err(BadSegment(crate::text::for_message(id)));
    }
    Ok(utf8_percent_encode(id, SEGMENT).to_string())
}

/// Encodes a server-supplied value (an `after` cursor) for a query string.
pub fn query_value(value: &str) -> String {
    utf8_percent_encode(value, SEGMENT).to_string()
}

/// Problems with the client's configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("the API base URL `{0}` is not a valid URL")]
    BadUrl(String),
    #[error(
        "the API base URL `{0}` is not HTTPS: keys would travel in clear text \
         (plain http is allowed only for localhost)"
    )]
    NotHttps(String),
    #[error("the API base URL `{0}` must not hold a user name, password, query or fragment")]
    Extra(String),
    #[error("cannot build the HTTP client: {0}")]
    Build(String),
}

/// Why a request got no usable answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No answer within the request timeout.
    Timeout,
    /// The connection could not be made, or broke.
    Connection,
    /// The body was longer than [`MAX_BODY_BYTES`]: not read.
    TooLarge,
    /// The caller's time budget ran out before the request could be (re)sent.
    OutOfTime,
    /// Anything else (a key that cannot be sent in a header, say).
    Other,
}

/// A request that got no usable HTTP answer, after all its tries.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{method} {path}: {message} ({tries} tries)")]
pub struct TransportError {
    pub method: &'static str,
    pub path: String,
    pub message: String,
    pub failure: Failure,
    pub tries: u32,
}

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub method: &'static str,
    /// The path and query the request went to (never holding a key).
    pub path: String,
    pub status: u16,
    /// The `x-request-id` (or `request-id`) header, which providers' support asks for. Shown: cleaned.
    pub request_id: Option<String>,
    /// `Location`, for a (never followed) redirect.
    pub location: Option<String>,
    /// The answer's headers as sent (names lower-case), at most [`MAX_HEADERS`], each value at most
    /// [`MAX_HEADER_VALUE`] bytes; raw, so read them with [`Reply::header`], which cleans them.
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// How many times the request was sent.
    pub tries: u32,
    /// The answer called for another try, but the caller's time budget ran out first.
    pub out_of_time: bool,
}

/// The error object most providers send: `{"error": {"message", "type", "param", "code"}}` (OpenAI, Anthropic,
/// Groq, ...), or Google's `{"error": {"code": 400, "message", "status", "details": [{"reason"}]}}`. Fields of
/// another type than expected (a numeric `code`) are read as text; a missing one is `None`.
#[derive(Debug, Clone, Default)]
pub struct ApiErrorBody {
    pub message: Option<String>,
    pub kind: Option<String>,
    pub param: Option<String>,
    pub code: Option<String>,
    /// Google's `status` (`INVALID_ARGUMENT`).
    pub status: Option<String>,
    /// Google's `details[].reason` (`API_KEY_INVALID`).
    pub reasons: Vec<String>,
}

impl Reply {
    /// The header `name` (lower-case), trimmed and through the choke point for outside text; `None` when absent or
    /// empty. Provider modules read the headers that say whose key it is (`openai-organization`,
    /// `anthropic-organization-id`) with it.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| crate::text::for_message(v.trim()))
            .filter(|v| !v.is_empty())
    }

    /// ` (request req_abc)`, or nothing: the request id providers' support asks for, for messages.
    pub fn request_note(&self) -> String {
        self.request_id
            .as_deref()
            .map(|id| format!(" (request {id})"))
            .unwrap_or_default()
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The error object in the body, when there is one.
    pub fn error(&self) -> Option<ApiErrorBody> {
        parse_error(&self.body)
    }

    /// The error's `code` (`invalid_api_key`, `insufficient_quota`), when there is one.
    pub fn error_code(&self) -> Option<String> {
        self.error().and_then(|e| e.code)
    }

    /// What went wrong, for people: OpenAI's message when it sent one, else the status (and redirect target).
    /// The server chooses this text, so it comes through the choke point for outside text (a proxy may echo the
    /// Authorization header).
    pub fn message(&self) -> String {
        crate::text::for_message(&self.raw_message())
    }

    fn raw_message(&self) -> String {
        if let Some(message) = self.error().and_then(|e| e.message).filter(|m| !m.trim().is_empty()) {
            return crate::text::bounded(&message, 500);
        }
        if (300..400).contains(&self.status) {
            return match &self.location {
                Some(to) => format!("HTTP {} redirect to {to} (not followed)", self.status),
                None => format!("HTTP {} redirect (not followed)", self.status),
            };
        }
        let snippet: String = self.body.chars().take(200).collect();
        if snippet.trim().is_empty() {
            format!("HTTP {}", self.status)
        } else {
            format!("HTTP {}: {}", self.status, snippet.trim())
        }
    }

    /// The body as `T`.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, String> {
        serde_json::from_str(&self.body)
            .map_err(|e| format!("{} {}: unexpected response body: {e}", self.method, self.path))
    }
}

/// Parses a provider's error envelope: an object with an `error` object (or, as some providers send, an
/// `error` string beside a `message`).
pub fn parse_error(body: &str) -> Option<ApiErrorBody> {
    use serde_json::Value;
    let value: Value = serde_json::from_str(body).ok()?;
    let text = |v: Option<&Value>| -> Option<String> {
        match v? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    };
    match value.get("error")? {
        Value::Object(error) => Some(ApiErrorBody {
            message: text(error.get("message")),
            kind: text(error.get("type")),
            param: text(error.get("param")),
            code: text(error.get("code")),
            status: text(error.get("status")),
            reasons: error
                .get("details")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|d| text(d.get("reason")))
                .collect(),
        }),
        Value::String(error) => Some(ApiErrorBody {
            message: text(value.get("message")).or_else(|| Some(error.clone())),
            code: Some(error.clone()),
            ..ApiErrorBody::default()
        }),
        _ => None,
    }
}

/// What one try produced, as far as retrying is concerned.
#[derive(Debug, Clone, PartialEq)]
pub enum Attempt<'a> {
    /// An HTTP answer, with the error code from its body and its `Retry-After`.
    Answer {
        status: u16,
        code: Option<&'a str>,
        retry_after: Option<Duration>,
    },
    /// No answer in time.
    Timeout,
    /// The connection could not be made or broke.
    Connection,
    /// Any other failure (a malformed request, say): retrying would not help.
    Other,
}

/// Which answers are worth another try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_tries: u32,
    /// Retry 429s. Liveness probes do not: a 429 already says the key was accepted.
    pub retry_rate_limits: bool,
}

impl RetryPolicy {
    /// The policy for Administration API calls.
    pub const STANDARD: RetryPolicy = RetryPolicy {
        max_tries: MAX_TRIES,
        retry_rate_limits: true,
    };
    /// Liveness probes: like every call, a 429 is retried (it is not a verdict); `insufficient_quota` is not
    /// (it already says the key was accepted).
    pub const PROBE: RetryPolicy = RetryPolicy {
        max_tries: MAX_TRIES,
        retry_rate_limits: true,
    };
    /// One try only (the confirmation loop retries on its own schedule).
    pub const ONCE: RetryPolicy = RetryPolicy {
        max_tries: 1,
        retry_rate_limits: false,
    };
}

/// What to do after a try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Keep this outcome.
    Stop,
    /// Wait this long, then send the request again.
    RetryAfter(Duration),
}

/// Decides whether to try again after try number `tries` (1 for the first), and how long to wait.
///
/// Retried: 429 (except `insufficient_quota`, which waiting does not cure), 5xx, timeouts and broken
/// connections. Never retried: other 4xx, success, redirects. `Retry-After` is honoured, capped at
/// [`MAX_DELAY`]; otherwise the wait is exponential from [`BASE_DELAY`] with up to 25 % added jitter
/// (`jitter` in 0..=1 picks where in that range).
pub fn decide(attempt: &Attempt<'_>, tries: u32, policy: RetryPolicy, jitter: f64) -> Decision {
    if tries >= policy.max_tries {
        return Decision::Stop;
    }
    let retry_after = match attempt {
        Attempt::Answer {
            status: 429,
            code,
            retry_after,
        } => {
            if !policy.retry_rate_limits || *code == Some("insufficient_quota") {
                return Decision::Stop;
            }
            *retry_after
        }
        Attempt::Answer {
            status, retry_after, ..
        } if *status >= 500 => *retry_after,
        Attempt::Answer { .. } | Attempt::Other => return Decision::Stop,
        Attempt::Timeout | Attempt::Connection => None,
    };
    let delay = match retry_after {
        Some(asked) => asked.min(MAX_DELAY),
        None => backoff(tries, jitter),
    };
    Decision::RetryAfter(delay)
}

/// The wait after try number `tries`: [`BASE_DELAY`] × 2^(tries-1), plus up to 25 % jitter, capped.
pub fn backoff(tries: u32, jitter: f64) -> Duration {
    let exponent = tries.saturating_sub(1).min(16);
    let base = BASE_DELAY.saturating_mul(1 << exponent);
    let jitter = jitter.clamp(0.0, 1.0);
    base.mul_f64(1.0 + 0.25 * jitter).min(MAX_DELAY)
}

/// `Retry-After` as seconds (OpenAI sends seconds; an HTTP date is ignored), or `retry-after-ms`.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(ms) = header("retry-after-ms").and_then(|v| v.parse::<f64>().ok())
        && ms.is_finite()
        && ms >= 0.0
    {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    header("retry-after")
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s.min(86_400.0)))
}

/// Whether `host` (as a URL or a registry reference writes it: `localhost`, `127.0.0.1:8080`, `[::1]:5000`, with or
/// without a port) names this machine: plain HTTP is spoken only to such hosts.
pub fn is_loopback(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        // One colon is a port; more are a bare IPv6 address.
        None => match host.split_once(':') {
            Some((name, port)) if !port.contains(':') => name,
            _ => host,
        },
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Normalises an API base: no trailing `/`, nor `strip` (OpenAI's `/v1`, which its paths carry themselves);
/// only HTTPS, except plain HTTP to the loopback interface.
pub fn normalize_base_with(base: &str, strip: Option<&str>) -> Result<String, ConfigError> {
    let mut text = base.trim().trim_end_matches('/').to_string();
    if let Some(stripped) = strip.and_then(|suffix| text.strip_suffix(suffix)) {
        text = stripped.trim_end_matches('/').to_string();
    }
    let url = reqwest::Url::parse(&text).map_err(|_| ConfigError::BadUrl(base.to_string()))?;
    if !url.username().is_empty() || url.password().is_some() || url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigError::Extra(base.to_string()));
    }
    match url.scheme() {
        "https" => {}
        "http" => {
            if !is_loopback(url.host_str().unwrap_or_default()) {
                return Err(ConfigError::NotHttps(base.to_string()));
            }
        }
        _ => return Err(ConfigError::BadUrl(base.to_string())),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ConfigError::BadUrl(base.to_string()));
    }
    Ok(text)
}

/// The client. Cheap to share between threads.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::blocking::Client,
    base: String,
    timeout: Duration,
    auth: AuthStyle,
    /// Headers every request carries (`anthropic-version`).
    fixed: Vec<(&'static str, &'static str)>,
}

impl Client {
    /// A client for a provider at `base` (normalised with [`normalize_base_with`] and `strip`), sending the
    /// credential as `auth` and the `fixed` headers on every request.
    pub fn for_api(
        base: &str,
        strip: Option<&str>,
        timeout: Duration,
        auth: AuthStyle,
        fixed: &[(&'static str, &'static str)],
    ) -> Result<Client, ConfigError> {
        Client::build(normalize_base_with(base, strip)?, timeout, auth, fixed)
    }

    fn build(
        base: String,
        timeout: Duration,
        auth: AuthStyle,
        fixed: &[(&'static str, &'static str)],
    ) -> Result<Client, ConfigError> {
        let http = reqwest::blocking::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .retry(reqwest::retry::never())
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("keyhound/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConfigError::Build(e.to_string()))?;
        Ok(Client {
            http,
            base,
            timeout,
            auth,
            fixed: fixed.to_vec(),
        })
    }

    /// The same client (credential style, fixed headers, timeout) at another base.
    pub fn at(&self, base: &str) -> Result<Client, ConfigError> {
        Ok(Client {
            base: normalize_base_with(base, None)?,
            ..self.clone()
        })
    }

    /// The normalised base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn get(&self, path: &str, bearer: &Secret, policy: RetryPolicy) -> Result<Reply, TransportError> {
        self.send(reqwest::Method::GET, path, bearer, policy, None, None)
    }

    /// Like [`Client::get`], but nothing runs past `deadline`: each try's timeout is cut to the time left, and
    /// a retry whose wait would end after it is not made (the reply says `out_of_time`).
    pub fn get_until(
        &self,
        path: &str,
        bearer: &Secret,
        policy: RetryPolicy,
        deadline: Instant,
    ) -> Result<Reply, TransportError> {
        self.send(reqwest::Method::GET, path, bearer, policy, Some(deadline), None)
    }

    pub fn delete(&self, path: &str, bearer: &Secret, policy: RetryPolicy) -> Result<Reply, TransportError> {
        self.send(reqwest::Method::DELETE, path, bearer, policy, None, None)
    }

    /// `POST path` with a JSON body.
    pub fn post(
        &self,
        path: &str,
        bearer: &Secret,
        body: &serde_json::Value,
        policy: RetryPolicy,
    ) -> Result<Reply, TransportError> {
        self.send(reqwest::Method::POST, path, bearer, policy, None, Some(body))
    }

    /// `PATCH path` with a JSON body.
    pub fn patch(
        &self,
        path: &str,
        bearer: &Secret,
        body: &serde_json::Value,
        policy: RetryPolicy,
    ) -> Result<Reply, TransportError> {
        self.send(reqwest::Method::PATCH, path, bearer, policy, None, Some(body))
    }

    /// Sends `method path` with the credential (as the client's [`AuthStyle`] says) until an answer is final
    /// under `policy` (or `deadline` leaves no time for another try).
    fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        bearer: &Secret,
        policy: RetryPolicy,
        deadline: Option<Instant>,
        body: Option<&serde_json::Value>,
    ) -> Result<Reply, TransportError> {
        let method_name: &'static str = match method {
            reqwest::Method::DELETE => "DELETE",
            reqwest::Method::POST => "POST",
            reqwest::Method::PATCH => "PATCH",
            _ => "GET",
        };
        let failed = |failure: Failure, message: &str, tries: u32| TransportError {
            method: method_name,
            path: path.to_string(),
            message: message.to_string(),
            failure,
            tries,
        };
        // Whatever a server echoes of the credential, whole or in pieces, is redacted from here on.
        if self.auth != AuthStyle::Anonymous {
            crate::text::protect_sent(bearer);
        }
        let url = format!("{}{path}", self.base);
        let credential = match self.auth {
            AuthStyle::Bearer => format!("Bearer {}", bearer.expose()),
            AuthStyle::Header(_) | AuthStyle::Anonymous => bearer.expose().to_string(),
        };
        let mut auth = HeaderValue::from_str(&credential).map_err(|_| {
            failed(
                Failure::Other,
                "the key holds characters that cannot be sent in a header",
                0,
            )
        })?;
        auth.set_sensitive(true);
        let mut tries = 0;
        loop {
            let timeout = match deadline {
                Some(deadline) => deadline.saturating_duration_since(Instant::now()).min(self.timeout),
                None => self.timeout,
            };
            if timeout.is_zero() {
                return Err(failed(
                    Failure::OutOfTime,
                    "not sent: the time budget ran out first",
                    tries,
                ));
            }
            tries += 1;
            let outcome = self.try_once(&method, method_name, &url, path, &auth, body, tries, timeout);
            let decision = match &outcome {
                Ok((reply, wait)) => {
                    let code = reply.error_code();
                    let attempt = Attempt::Answer {
                        status: reply.status,
                        code: code.as_deref(),
                        retry_after: *wait,
                    };
                    decide(&attempt, tries, policy, fastrand::f64())
                }
                Err((_, attempt)) => decide(attempt, tries, policy, fastrand::f64()),
            };
            match decision {
                Decision::Stop => return outcome.map(|(reply, _)| reply).map_err(|(error, _)| error),
                Decision::RetryAfter(delay) if deadline.is_some_and(|d| Instant::now() + delay >= d) => {
                    return out_of_time(outcome);
                }
                Decision::RetryAfter(delay) => std::thread::sleep(delay),
            }
        }
    }

    /// Sends the request once, with `timeout` for all of it: the reply and its `Retry-After`, or why there was
    /// none.
    #[allow(clippy::too_many_arguments)]
    fn try_once(
        &self,
        method: &reqwest::Method,
        method_name: &'static str,
        url: &str,
        path: &str,
        auth: &HeaderValue,
        body: Option<&serde_json::Value>,
        tries: u32,
        timeout: Duration,
    ) -> Result<(Reply, Option<Duration>), (TransportError, Attempt<'static>)> {
        let failed = |failure: Failure, message: String, attempt: Attempt<'static>| {
            let error = TransportError {
                method: method_name,
                path: path.to_string(),
                message,
                failure,
                tries,
            };
            (error, attempt)
        };
        // A try cut short by the caller's deadline that times out ran out of the caller's time, not the server's.
        let timed_out = || {
            if timeout < self.timeout {
                let message = "no answer before the time budget ran out".to_string();
                failed(Failure::OutOfTime, message, Attempt::Timeout)
            } else {
                let message = "no answer within the request timeout".to_string();
                failed(Failure::Timeout, message, Attempt::Timeout)
            }
        };
        let mut request = self.http.request(method.clone(), url).timeout(timeout);
        request = match self.auth {
            AuthStyle::Bearer => request.header(AUTHORIZATION, auth.clone()),
            AuthStyle::Header(name) => request.header(name, auth.clone()),
            AuthStyle::Anonymous => request,
        };
        for (name, value) in &self.fixed {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let sent = request.send();
        let mut response = match sent {
            Ok(response) => response,
            Err(err) if err.is_timeout() => return Err(timed_out()),
            Err(err) => {
                let (failure, attempt) = if err.is_connect() || err.is_request() || err.is_body() {
                    (Failure::Connection, Attempt::Connection)
                } else {
                    (Failure::Other, Attempt::Other)
                };
                return Err(failed(failure, describe(err), attempt));
            }
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = match read_body(&mut response) {
            Ok(body) => body,
            Err(BodyError::TooLarge(announced)) => {
                let bound = MAX_BODY_BYTES / (1024 * 1024);
                let message = match announced {
                    Some(n) => format!(
                        "the answer's body is larger than the {bound} MiB keyhound reads (Content-Length: {n}): \
                         not read"
                    ),
                    None => {
                        format!("the answer's body is larger than the {bound} MiB keyhound reads: not read past that")
                    }
                };
                return Err(failed(Failure::TooLarge, message, Attempt::Other));
            }
            Err(BodyError::Read(err)) if err.kind() == std::io::ErrorKind::TimedOut => return Err(timed_out()),
            Err(BodyError::Read(err)) => {
                let message = crate::text::for_message(&format!("reading the answer failed: {err}"));
                return Err(failed(Failure::Connection, message, Attempt::Connection));
            }
        };
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let reply = Reply {
            method: method_name,
            path: path.to_string(),
            status,
            request_id: header("x-request-id")
                .or_else(|| header("request-id"))
                .map(|id| crate::text::for_message(&id)),
            location: header("location"),
            headers: kept_headers(&headers),
            body: String::from_utf8_lossy(&body).into_owned(),
            tries,
            out_of_time: false,
        };
        Ok((reply, retry_after(&headers)))
    }
}

/// Ends a request whose next try would start after the deadline: the last answer, marked `out_of_time`, or the
/// last error, saying so.
fn out_of_time(
    outcome: Result<(Reply, Option<Duration>), (TransportError, Attempt<'static>)>,
) -> Result<Reply, TransportError> {
    match outcome {
        Ok((mut reply, _)) => {
            reply.out_of_time = true;
            Ok(reply)
        }
        Err((mut error, _)) => {
            if error.failure != Failure::OutOfTime {
                error.message.push_str("; the time budget ran out before another try");
            }
            Err(error)
        }
    }
}

/// The headers an answer keeps: at most [`MAX_HEADERS`], values cut at [`MAX_HEADER_VALUE`] bytes, values that
/// are not text dropped.
fn kept_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter_map(|(name, value)| {
            let value = value.to_str().ok()?;
            Some((
                name.as_str().to_string(),
                crate::text::truncate_chars(value, MAX_HEADER_VALUE),
            ))
        })
        .take(MAX_HEADERS)
        .collect()
}

/// Why a body was not read.
enum BodyError {
    /// Longer than [`MAX_BODY_BYTES`], with the length `Content-Length` announced, if it did.
    TooLarge(Option<u64>),
    Read(std::io::Error),
}

/// The body, read through a limit: a `Content-Length` over [`MAX_BODY_BYTES`] is refused before reading, and
/// reading stops one byte past the bound whatever the server announced.
fn read_body(response: &mut reqwest::blocking::Response) -> Result<Vec<u8>, BodyError> {
    let announced = response.content_length();
    if announced.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(BodyError::TooLarge(announced));
    }
    let mut body = Vec::new();
    response
        .take(MAX_BODY_BYTES + 1)
        .read_to_end(&mut body)
        .map_err(BodyError::Read)?;
    if body.len() as u64 > MAX_BODY_BYTES {
        return Err(BodyError::TooLarge(None));
    }
    Ok(body)
}

/// A transport error's message with its causes, without the URL (it says nothing secret, but it is noise).
fn describe(err: reqwest::Error) -> String {
    let err = err.without_url();
    let mut parts = vec![err.to_string()];
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    crate::text::for_message(&parts.join(": "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_are_told_apart() {
        assert!(is_loopback("localhost:5000"));
        assert!(is_loopback("127.0.0.1:8080"));
        assert!(is_loopback("[::1]:5000"));
        assert!(!is_loopback("ghcr.io"));
        assert!(!is_loopback("10.0.0.1:5000"));
        assert!(!is_loopback("localhost.example.com"));
        assert!(is_loopback("LOCALHOST"));
        assert!(is_loopback("::1"));
        assert!(!is_loopback("[::2]:80"));
    }

    fn answer(status: u16) -> Attempt<'static> {
        Attempt::Answer {
            status,
            code: None,
            retry_after: None,
        }
    }

    #[test]
    fn server_errors_timeouts_and_rate_limits_are_retried() {
        let p = RetryPolicy::STANDARD;
        assert!(matches!(decide(&answer(500), 1, p, 0.0), Decision::RetryAfter(_)));
        assert!(matches!(decide(&answer(503), 3, p, 0.0), Decision::RetryAfter(_)));
        assert!(matches!(decide(&answer(429), 1, p, 0.0), Decision::RetryAfter(_)));
        assert!(matches!(decide(&Attempt::Timeout, 1, p, 0.0), Decision::RetryAfter(_)));
        assert!(matches!(
            decide(&Attempt::Connection, 2, p, 0.0),
            Decision::RetryAfter(_)
        ));
    }

    #[test]
    fn the_number_of_tries_is_bounded() {
        let p = RetryPolicy::STANDARD;
        assert_eq!(decide(&answer(500), MAX_TRIES, p, 0.0), Decision::Stop);
        assert_eq!(decide(&Attempt::Timeout, MAX_TRIES, p, 0.0), Decision::Stop);
        assert_eq!(decide(&answer(500), 1, RetryPolicy::ONCE, 0.0), Decision::Stop);
    }

    #[test]
    fn client_errors_success_and_quota_are_not_retried() {
        let p = RetryPolicy::STANDARD;
        for status in [200, 201, 301, 400, 401, 403, 404, 409, 422] {
            assert_eq!(decide(&answer(status), 1, p, 0.0), Decision::Stop, "{status}");
        }
        let quota = Attempt::Answer {
            status: 429,
            code: Some("insufficient_quota"),
            retry_after: Some(Duration::from_secs(1)),
        };
        assert_eq!(decide(&quota, 1, p, 0.0), Decision::Stop);
        assert_eq!(decide(&Attempt::Other, 1, p, 0.0), Decision::Stop);
    }

    #[test]
    fn probes_retry_a_rate_limit_but_not_an_exhausted_quota() {
        assert!(matches!(
            decide(&answer(429), 1, RetryPolicy::PROBE, 0.0),
            Decision::RetryAfter(_)
        ));
        let quota = Attempt::Answer {
            status: 429,
            code: Some("insufficient_quota"),
            retry_after: None,
        };
        assert_eq!(decide(&quota, 1, RetryPolicy::PROBE, 0.0), Decision::Stop);
        assert!(matches!(
            decide(&answer(502), 1, RetryPolicy::PROBE, 0.0),
            Decision::RetryAfter(_)
        ));
        assert_eq!(decide(&answer(429), 1, RetryPolicy::ONCE, 0.0), Decision::Stop);
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        let p = RetryPolicy::STANDARD;
        let asked = |secs| Attempt::Answer {
            status: 429,
            code: Some("rate_limit_exceeded"),
            retry_after: Some(Duration::from_secs(secs)),
        };
        assert_eq!(
            decide(&asked(1), 1, p, 0.9),
            Decision::RetryAfter(Duration::from_secs(1))
        );
        assert_eq!(decide(&asked(3600), 1, p, 0.0), Decision::RetryAfter(MAX_DELAY));
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        assert_eq!(backoff(1, 0.0), BASE_DELAY);
        assert_eq!(backoff(2, 0.0), BASE_DELAY * 2);
        assert_eq!(backoff(3, 0.0), BASE_DELAY * 4);
        assert_eq!(backoff(1, 1.0), BASE_DELAY.mul_f64(1.25));
        assert!(backoff(2, 0.5) > backoff(2, 0.0) && backoff(2, 0.5) < backoff(3, 0.0));
        assert_eq!(backoff(40, 1.0), MAX_DELAY);
    }

    #[test]
    fn retry_after_headers_are_read() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert("retry-after-ms", HeaderValue::from_static("150"));
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(150)));
        let mut dated = HeaderMap::new();
        dated.insert("retry-after", HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(retry_after(&dated), None);
    }

    #[test]
    fn the_base_url_is_normalised() {
        let ok = |s: &str| normalize_base_with(s, Some("/v1")).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(ok("https://api.openai.com"), "https://api.openai.com");
        assert_eq!(ok("https://api.openai.com/"), "https://api.openai.com");
        assert_eq!(ok("https://api.openai.com/v1"), "https://api.openai.com");
        assert_eq!(ok("https://api.openai.com/v1/"), "https://api.openai.com");
        assert_eq!(ok("https://proxy.example/openai/v1"), "https://proxy.example/openai");
        assert_eq!(ok("http://127.0.0.1:8080/v1"), "http://127.0.0.1:8080");
        assert_eq!(ok("http://localhost:1234"), "http://localhost:1234");
        assert!(matches!(
            normalize_base_with("http://api.openai.com", Some("/v1")),
            Err(ConfigError::NotHttps(_))
        ));
        assert!(matches!(
            normalize_base_with("api.openai.com", Some("/v1")),
            Err(ConfigError::BadUrl(_))
        ));
        assert!(matches!(
            normalize_base_with("https://user:pw@api.openai.com", Some("/v1")),
            Err(ConfigError::Extra(_))
        ));
        assert!(matches!(
            normalize_base_with("ftp://x", Some("/v1")),
            Err(ConfigError::BadUrl(_))
        ));
        // Other providers' paths are kept whole: only OpenAI's module strips its `/v1`.
        assert_eq!(
            normalize_base_with("http://127.0.0.1:9000/v1/", None).as_deref().ok(),
            Some("http://127.0.0.1:9000/v1")
        );
    }

    #[test]
    fn openai_error_bodies_are_parsed() {
        let body = concat!(
            r#"{"error":{"message":"Incorrect API key provided: sk-VKMIs***wjh3.","#,
            r#""type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#
        );
        let error = parse_error(body).expect("an error body");
        assert_eq!(error.code.as_deref(), Some("invalid_api_key"));
        assert_eq!(error.kind.as_deref(), Some("invalid_request_error"));
        assert!(error.message.unwrap_or_default().starts_with("Incorrect API key"));
        assert!(parse_error("<html>bad gateway</html>").is_none());
    }

    #[test]
    fn other_providers_error_bodies_are_parsed() {
        // Google: a numeric code, a status, and the reason in `details`.
        let google = concat!(
            r#"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","#,
            r#""status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","#,
            r#""reason":"API_KEY_INVALID","domain":"googleapis.com"}]}}"#
        );
        let error = parse_error(google).expect("google's error");
        assert_eq!(error.code.as_deref(), Some("400"));
        assert_eq!(error.status.as_deref(), Some("INVALID_ARGUMENT"));
        assert_eq!(error.reasons, ["API_KEY_INVALID"]);
        // Anthropic: the type beside the message.
        let anthropic = r#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#;
        assert_eq!(
            parse_error(anthropic).and_then(|e| e.kind).as_deref(),
            Some("authentication_error")
        );
        // xAI: the error is a string, beside a code.
        let xai = r#"{"code":"Client specified an invalid argument","error":"Incorrect API key provided: xa***xx."}"#;
        assert!(
            parse_error(xai)
                .and_then(|e| e.message)
                .is_some_and(|m| m.starts_with("Incorrect API key"))
        );
        assert!(parse_error(r#"{"detail":"Unauthorized"}"#).is_none());
    }

    #[test]
    fn ids_are_encoded_as_one_path_segment() {
        assert_eq!(segment("proj_abc-1.2").as_deref(), Ok("proj_abc-1.2"));
        assert_eq!(segment("a/b?c#d").as_deref(), Ok("a%2Fb%3Fc%23d"));
        assert_eq!(segment("%2e%2e").as_deref(), Ok("%252e%252e"));
        assert_eq!(segment("...").as_deref(), Ok("..."));
        for dots in ["", ".", ".."] {
            assert!(segment(dots).is_err(), "{dots:?}");
        }
        assert_eq!(query_value("a&b=c"), "a%26b%3Dc");
    }

    /// What the URL parser that sends every request does to each encoded segment: nothing.
    #[test]
    fn encoded_segments_survive_url_parsing() {
        for id in ["a/b", "%2e%2e", "%2E%2E", ".%2e", "...", "a?b", "a#b", "a\\b"] {
            let encoded = segment(id).unwrap_or_else(|e| panic!("{id}: {e}"));
            let url = reqwest::Url::parse(&format!("http://127.0.0.1/v1/projects/{encoded}/api_keys"))
                .unwrap_or_else(|e| panic!("{id}: {e}"));
            assert_eq!(url.path(), format!("/v1/projects/{encoded}/api_keys"), "{id}");
        }
        // Why `..` is refused rather than encoded: its encoded form is a dot segment too.
        let url = reqwest::Url::parse("http://127.0.0.1/v1/projects/%2E%2E/api_keys").expect("url");
        assert_eq!(url.path(), "/v1/api_keys");
    }
}
