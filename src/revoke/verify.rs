//! Liveness probes: one read-only request made with the leaked key itself.
//!
//! Ordinary keys call `GET /v1/models`; admin keys, which cannot call it, call
//! `GET /v1/organization/admin_api_keys?limit=1`. The answer decides:
//!
//! - `live`: 200, or 429 `insufficient_quota` (the key was accepted; its organisation is out of quota);
//! - `dead`: 401 with error code `invalid_api_key`;
//! - `unknown`, with the reason: a 429 rate limit still there after the retries (a rate limit is not a verdict),
//!   any other 401 (an IP allow-list, say), 403, other statuses, 5xx after retries, no answer in time, or the
//!   time budget of all the probes (`--verify-timeout`) ran out first.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::finding::{Liveness, Verification};

use super::audit::{AuditError, AuditLog, Entry};
use super::client::{Client, Reply, RetryPolicy};
use super::keys::LeakedKey;

/// How many probes run at once.
pub const PROBE_THREADS: usize = 4;

/// The default time budget for probing all the keys of a run (`--verify-timeout`).
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(crate::cli::DEFAULT_VERIFY_TIMEOUT_SECS);

/// What a probe found.
#[derive(Debug, Clone)]
pub struct Probe {
    pub liveness: Liveness,
    pub reason: String,
    pub status: Option<u16>,
    pub request_id: Option<String>,
    /// The organisation OpenAI said the key belongs to (`openai-organization`), when it said.
    pub organization: Option<String>,
}

impl Probe {
    pub fn verification(&self) -> Verification {
        Verification {
            status: self.liveness,
            reason: self.reason.clone(),
        }
    }
}

/// The path a key is probed at.
pub fn probe_path(key: &LeakedKey) -> &'static str {
    if key.is_admin() {
        "/v1/organization/admin_api_keys?limit=1"
    } else {
        "/v1/models"
    }
}

/// Probes `key` once (5xx and timeouts retried under `policy`).
pub fn probe(client: &Client, key: &LeakedKey, policy: RetryPolicy) -> Probe {
    probe_until(client, key, policy, None)
}

/// Probes `key`, sending nothing and waiting for nothing past `deadline`, when there is one.
fn probe_until(client: &Client, key: &LeakedKey, policy: RetryPolicy, deadline: Option<Instant>) -> Probe {
    let path = probe_path(key);
    let answer = match deadline {
        Some(deadline) => client.get_until(path, &key.secret, policy, deadline),
        None => client.get(path, &key.secret, policy),
    };
    match answer {
        Ok(reply) => classify(&reply),
        Err(error) => Probe {
            liveness: Liveness::Unknown,
            reason: format!("GET {path}: {} ({} tries)", error.message, error.tries),
            status: None,
            request_id: None,
            organization: None,
        },
    }
}

/// The liveness an answer says.
pub fn classify(reply: &Reply) -> Probe {
    let endpoint = format!("{} {}", reply.method, reply.path);
    let code = reply.error_code();
    let no_verdict = if reply.out_of_time {
        "no verdict: the time budget (--verify-timeout) ran out before another try"
    } else {
        "no verdict"
    };
    let (liveness, reason) = match reply.status {
        200..=299 => (Liveness::Live, format!("accepted by {endpoint} ({})", reply.status)),
        429 if code.as_deref() == Some("insufficient_quota") => (
            Liveness::Live,
            format!("accepted by {endpoint}, but the organisation is out of quota (429 insufficient_quota)"),
        ),
        429 => (
            Liveness::Unknown,
            format!(
                "rate limited by {endpoint} (429) after {} tries: {no_verdict}: {}",
                reply.tries,
                reply.message()
            ),
        ),
        401 if code.as_deref() == Some("invalid_api_key") => (
            Liveness::Dead,
            format!("rejected by {endpoint} as invalid (401 invalid_api_key)"),
        ),
        status if status >= 500 => (
            Liveness::Unknown,
            format!(
                "{endpoint} answered {status} after {} tries: {no_verdict}: {}",
                reply.tries,
                reply.message()
            ),
        ),
        status => (
            Liveness::Unknown,
            format!("{endpoint} answered {status}: {}", reply.message()),
        ),
    };
    Probe {
        liveness,
        reason,
        status: Some(reply.status),
        request_id: reply.request_id.clone(),
        // An answer names the organisation the request was associated with; a key OpenAI does not know has none.
        organization: (liveness != Liveness::Dead)
            .then(|| reply.organization.clone())
            .flatten(),
    }
}

/// Probes every key once, [`PROBE_THREADS`] at a time, within `budget` in all, recording each probe in the
/// audit log. A key not probed when the budget runs out is `unknown`, and says so. The result is in the order
/// of `keys`.
pub fn probe_all(
    client: &Client,
    keys: &[LeakedKey],
    audit: &AuditLog,
    budget: Duration,
) -> Result<Vec<Probe>, AuditError> {
    let deadline = Instant::now() + budget;
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Probe>>> = Mutex::new(vec![None; keys.len()]);
    let failure: Mutex<Option<AuditError>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..PROBE_THREADS.min(keys.len()) {
            scope.spawn(|| {
                while Instant::now() < deadline {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(key) = keys.get(i) else { break };
                    let found = probe_until(client, key, RetryPolicy::PROBE, Some(deadline));
                    let entry = Entry::about(key, "probe", found.liveness.to_string())
                        .http(found.status, found.request_id.as_deref())
                        .organizations(found.organization.as_deref(), None)
                        .message(found.reason.clone());
                    if let Err(err) = audit.record(entry) {
                        failure.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(err);
                        break;
                    }
                    results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(found);
                }
            });
        }
    });
    if let Some(err) = failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(err);
    }
    let mut probes = Vec::with_capacity(keys.len());
    for (key, probed) in keys.iter().zip(results.into_inner().unwrap_or_else(|p| p.into_inner())) {
        let probed = match probed {
            Some(probed) => probed,
            None => {
                let skipped = not_probed(budget);
                audit
                    .record(Entry::about(key, "probe", skipped.liveness.to_string()).message(skipped.reason.clone()))?;
                skipped
            }
        };
        probes.push(probed);
    }
    Ok(probes)
}

/// The probe of a key the time budget left no time for.
fn not_probed(budget: Duration) -> Probe {
    Probe {
        liveness: Liveness::Unknown,
        reason: format!(
            "not probed: the time budget for verification ({} s, --verify-timeout) ran out first",
            budget.as_secs()
        ),
        status: None,
        request_id: None,
        organization: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            method: "GET",
            path: "/v1/models".into(),
            status,
            request_id: Some("req_1".into()),
            location: None,
            organization: None,
            body: body.into(),
            tries: 1,
            out_of_time: false,
        }
    }

    fn error(code: &str) -> String {
        format!(r#"{{"error":{{"message":"m","type":"invalid_request_error","param":null,"code":"{code}"}}}}"#)
    }

    #[test]
    fn answers_are_classified() {
        assert_eq!(classify(&reply(200, "{}")).liveness, Liveness::Live);
        let limited = classify(&reply(429, &error("rate_limit_exceeded")));
        assert_eq!(limited.liveness, Liveness::Unknown);
        assert!(limited.reason.contains("rate limited"), "{}", limited.reason);
        assert_eq!(
            classify(&reply(429, &error("insufficient_quota"))).liveness,
            Liveness::Live
        );
        assert_eq!(
            classify(&reply(401, &error("invalid_api_key"))).liveness,
            Liveness::Dead
        );
        let allow_list = classify(&reply(401, &error("ip_not_authorized")));
        assert_eq!(allow_list.liveness, Liveness::Unknown);
        assert!(allow_list.reason.contains("401"), "{}", allow_list.reason);
        assert_eq!(classify(&reply(403, &error("x"))).liveness, Liveness::Unknown);
        assert_eq!(classify(&reply(503, "")).liveness, Liveness::Unknown);
        assert_eq!(classify(&reply(302, "")).liveness, Liveness::Unknown);
    }
}
