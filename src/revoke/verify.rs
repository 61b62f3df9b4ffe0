//! Liveness probes: one read-only request made with the leaked key itself, to its own provider's API, as the
//! provider's module says ([`Provider::check`], [`Provider::classify`]). The verdict is honest: `live` only on an
//! answer that shows the key was accepted, `dead` only on the answer the provider documents for an invalid or
//! revoked key, `unknown` with the reason for everything else (a rate limit still there after the retries, 5xx, no
//! answer in time, the time budget of all the probes (`--verify-timeout`) ran out first, or no read-only check
//! exists).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::finding::{Liveness, Verification};

use super::audit::{AuditError, AuditLog, Entry};
use super::client::{Client, RetryPolicy};
use super::keys::LeakedKey;
use super::provider::{Check, Provider};

/// How many probes of one provider run at once.
pub const PROBE_THREADS: usize = 4;

/// What a probe found.
#[derive(Debug, Clone)]
pub struct Probe {
    pub liveness: Liveness,
    pub reason: String,
    pub status: Option<u16>,
    pub request_id: Option<String>,
    /// The organisation the provider said the key belongs to (`openai-organization`,
    /// `anthropic-organization-id`), when it said.
    pub organization: Option<String>,
    /// The workspace (project) the provider said the key belongs to, when it said.
    pub workspace: Option<String>,
    /// The provider's own id for the key, when the answer said (xAI's `api_key_id`).
    pub key_id: Option<String>,
}

impl Probe {
    pub fn verification(&self) -> Verification {
        Verification {
            status: self.liveness,
            reason: self.reason.clone(),
        }
    }

    /// `unknown`, with `reason`, and no answer.
    pub fn unknown(reason: String) -> Probe {
        Probe {
            liveness: Liveness::Unknown,
            reason,
            status: None,
            request_id: None,
            organization: None,
            workspace: None,
            key_id: None,
        }
    }
}

/// Probes `key` once (5xx and timeouts retried under `policy`).
pub fn probe(provider: &dyn Provider, client: &Client, key: &LeakedKey, policy: RetryPolicy) -> Probe {
    probe_until(provider, client, key, policy, None)
}

/// Probes `key`, sending nothing and waiting for nothing past `deadline`, when there is one.
fn probe_until(
    provider: &dyn Provider,
    client: &Client,
    key: &LeakedKey,
    policy: RetryPolicy,
    deadline: Option<Instant>,
) -> Probe {
    let at_base;
    let (client, path) = match provider.check(key) {
        Check::Get(path) => (client, path),
        // A key that works only at its own endpoint, unless the provider's base variable replaces every one.
        Check::GetAt { base, path } if client.base() == provider.api().default_base => match client.at(&base) {
            Ok(other) => {
                at_base = other;
                (&at_base, path)
            }
            Err(error) => return Probe::unknown(format!("not probed: {error}")),
        },
        Check::GetAt { path, .. } => (client, path),
        Check::None(why) => return Probe::unknown(format!("not probed: {why}")),
    };
    let answer = match deadline {
        Some(deadline) => client.get_until(&path, &key.secret, policy, deadline),
        None => client.get(&path, &key.secret, policy),
    };
    match answer {
        Ok(reply) => provider.classify(key, &reply),
        Err(error) => Probe::unknown(format!("GET {path}: {} ({} tries)", error.message, error.tries)),
    }
}

/// Where one provider's keys are probed: its API, and its other regions' (by their hosts, for reasons).
pub struct Target<'a> {
    pub provider: &'a dyn Provider,
    pub client: &'a Client,
    pub regions: Vec<(String, &'a Client)>,
}

/// Probes `key` at `target`'s API and, while every answer so far rejects it, at each of its other regions: a key
/// is `dead` only when every region rejects it; the first region that does not decides.
fn probe_regions(target: &Target<'_>, key: &LeakedKey, policy: RetryPolicy, deadline: Option<Instant>) -> Probe {
    let first = probe_until(target.provider, target.client, key, policy, deadline);
    if first.liveness != Liveness::Dead || target.regions.is_empty() {
        return first;
    }
    let mut rejected_by = vec![crate::text::for_message(target.client.base())];
    for (host, client) in &target.regions {
        let mut found = probe_until(target.provider, client, key, policy, deadline);
        if found.liveness != Liveness::Dead {
            found.reason = format!(
                "{}, at {host} (another region: {} rejected it)",
                found.reason,
                rejected_by.join(", ")
            );
            return found;
        }
        rejected_by.push(host.clone());
    }
    Probe {
        reason: format!("{} in every region ({})", first.reason, rejected_by.join(", ")),
        ..first
    }
}

/// Probes every key once, each at its own provider (`targets`, by provider name; a key of a provider not there is
/// `unknown`), [`PROBE_THREADS`] at a time per provider, within `budget` in all, recording each probe in the audit
/// log. A key not probed when the budget runs out is `unknown`, and says so. The result is in the order of
/// `keys`.
pub fn probe_all(
    targets: &HashMap<&str, Target<'_>>,
    keys: &[LeakedKey],
    audit: &AuditLog,
    budget: Duration,
) -> Result<Vec<Probe>, AuditError> {
    let deadline = Instant::now() + budget;
    let results: Mutex<Vec<Option<Probe>>> = Mutex::new(vec![None; keys.len()]);
    let failure: Mutex<Option<AuditError>> = Mutex::new(None);
    // Each provider's keys, in order, with a cursor its threads share.
    let mut queues: Vec<(&Target<'_>, Vec<usize>, AtomicUsize)> = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let Some(target) = targets.get(key.provider.as_str()) else {
            continue;
        };
        match queues
            .iter_mut()
            .find(|(t, _, _)| t.provider.name() == target.provider.name())
        {
            Some((_, queue, _)) => queue.push(i),
            None => queues.push((target, vec![i], AtomicUsize::new(0))),
        }
    }
    std::thread::scope(|scope| {
        for (target, queue, next) in &queues {
            for _ in 0..PROBE_THREADS.min(queue.len()) {
                scope.spawn(|| {
                    while Instant::now() < deadline {
                        let Some(&i) = queue.get(next.fetch_add(1, Ordering::Relaxed)) else {
                            break;
                        };
                        let key = &keys[i];
                        let found = probe_regions(target, key, RetryPolicy::PROBE, Some(deadline));
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
        }
    });
    if let Some(err) = failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(err);
    }
    let mut probes = Vec::with_capacity(keys.len());
    for (key, probed) in keys.iter().zip(results.into_inner().unwrap_or_else(|p| p.into_inner())) {
        let probed = match probed {
            Some(probed) => probed,
            None if !targets.contains_key(key.provider.as_str()) => Probe::unknown(format!(
                "not probed: keyhound has no check for provider {}",
                key.provider
            )),
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
    Probe::unknown(format!(
        "not probed: the time budget for verification ({} s, --verify-timeout) ran out first",
        budget.as_secs()
    ))
}
