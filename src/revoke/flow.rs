//! What happens to each leaked key, once probed: skip it, plan its deletion, or delete it and confirm.
//!
//! Everything the Administration API is asked to list is listed before anything is deleted, so a listing
//! failure (a wrong admin key, say) stops the run with nothing done. Admin calls go one at a time. Admin keys
//! are handled after project keys, and the admin key in use (when it leaked too) last of all.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::finding::{Liveness, Secret, Verification};

use super::audit::{AuditError, AuditLog, Entry};
use super::client::{Client, Reply, RetryPolicy, TransportError, encode};
use super::keys::LeakedKey;
use super::plan::{Candidate, ListError, find_matches, list_admin_keys, list_project_keys};
use super::verify::{Probe, probe};
use super::{ADMIN_KEYS_URL, DASHBOARD_URL};

/// The first wait between confirmation probes; it doubles up to [`CONFIRM_MAX_WAIT`].
const CONFIRM_FIRST_WAIT: Duration = Duration::from_millis(500);
const CONFIRM_MAX_WAIT: Duration = Duration::from_secs(10);

/// How revocation runs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Really delete (`--yes`); otherwise only plan.
    pub yes: bool,
    /// Delete a service account when its key cannot be deleted alone.
    pub delete_service_accounts: bool,
    /// How long to keep probing a deleted key until it is rejected.
    pub confirm_timeout: Duration,
    /// Also print loud warnings to stderr (when the blocks go to stdout).
    pub warn_on_stderr: bool,
}

/// Why a key was not revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Several keys in the organisation fit its redacted value.
    Ambiguous,
    /// No listed key fits it.
    NoMatch,
    /// Legacy user keys have no revoke API.
    Legacy,
    /// Deleted, but still accepted when the confirmation time ran out.
    StillLive,
    /// A service account's key that OpenAI would not delete alone (and `--delete-service-accounts` was not given).
    ServiceAccount,
    /// The deletion failed.
    Failed,
    /// The key could not be read back from the report.
    Unrecovered,
}

impl Reason {
    pub fn label(self) -> &'static str {
        match self {
            Reason::Ambiguous => "ambiguous",
            Reason::NoMatch => "no match",
            Reason::Legacy => "legacy",
            Reason::StillLive => "still live",
            Reason::ServiceAccount => "service account",
            Reason::Failed => "failed",
            Reason::Unrecovered => "not recovered",
        }
    }
}

/// What became of one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Deleted; `confirmed` when it then answered 401.
    Revoked {
        confirmed: bool,
    },
    /// Dry run: it would be deleted.
    Planned,
    /// It probed dead: nothing to do.
    AlreadyDead,
    NotRevoked(Reason),
}

impl Outcome {
    /// Was the key handled (exit code 0)?
    pub fn handled(self) -> bool {
        !matches!(self, Outcome::NotRevoked(_))
    }
}

/// A key's outcome and, after a deletion, its new status.
#[derive(Debug, Clone)]
pub struct KeyResult {
    pub outcome: Outcome,
    pub verification: Option<Verification>,
}

/// A failure that stops the whole run.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error(transparent)]
    List(#[from] ListError),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error("cannot write the revocation plan: {0}")]
    Output(#[from] std::io::Error),
}

/// Everything one run needs.
pub struct Revoker<'a> {
    pub client: &'a Client,
    pub admin: &'a Secret,
    pub audit: &'a AuditLog,
    pub settings: &'a Settings,
    pub out: &'a mut dyn Write,
}

/// The listed keys, fetched once.
#[derive(Default)]
struct Inventory {
    project_keys: Vec<Candidate>,
    admin_keys: Vec<Candidate>,
}

impl Revoker<'_> {
    /// Handles `keys` (probed as `probes`, in the same order); returns one result per key, in that order.
    pub fn run(&mut self, keys: &[LeakedKey], probes: &[Probe]) -> Result<Vec<KeyResult>, FlowError> {
        let actionable = |i: usize| probes.get(i).is_some_and(|p| p.liveness != Liveness::Dead) && !keys[i].is_legacy();
        let need_projects = (0..keys.len()).any(|i| actionable(i) && !keys[i].is_admin());
        let need_admin = (0..keys.len()).any(|i| actionable(i) && keys[i].is_admin());
        let inventory = Inventory {
            project_keys: if need_projects {
                list_project_keys(self.client, self.admin)?
            } else {
                Vec::new()
            },
            admin_keys: if need_admin {
                list_admin_keys(self.client, self.admin)?
            } else {
                Vec::new()
            },
        };
        // Project keys first, then admin keys, and the admin key in use (if it leaked) last.
        let mut order: Vec<usize> = (0..keys.len()).collect();
        order.sort_by_key(|&i| (keys[i].is_admin(), keys[i].secret == *self.admin));
        let mut results: Vec<Option<KeyResult>> = vec![None; keys.len()];
        for i in order {
            let result = self.handle(&keys[i], &probes[i], &inventory)?;
            writeln!(self.out)?;
            results[i] = Some(result);
        }
        Ok(results
            .into_iter()
            .map(|r| {
                r.unwrap_or(KeyResult {
                    outcome: Outcome::NotRevoked(Reason::Failed),
                    verification: None,
                })
            })
            .collect())
    }

    fn handle(&mut self, key: &LeakedKey, probed: &Probe, inventory: &Inventory) -> Result<KeyResult, FlowError> {
        writeln!(
            self.out,
            "{}  OpenAI {} ({})",
            key.redacted,
            key.kind_label(),
            key.rule_id
        )?;
        writeln!(self.out, "    found:   {}", key.place_summary())?;
        writeln!(self.out, "    status:  {}: {}", probed.liveness, probed.reason)?;
        let not_revoked = |reason| KeyResult {
            outcome: Outcome::NotRevoked(reason),
            verification: None,
        };
        if probed.liveness == Liveness::Dead {
            writeln!(self.out, "    action:  none: the key is already dead")?;
            return Ok(KeyResult {
                outcome: Outcome::AlreadyDead,
                verification: None,
            });
        }
        if key.is_legacy() {
            writeln!(
                self.out,
                "    action:  none: legacy user keys have no revoke API; delete it by hand at {DASHBOARD_URL}"
            )?;
            return Ok(not_revoked(Reason::Legacy));
        }
        if key.secret == *self.admin {
            writeln!(
                self.out,
                "    note:    this is the admin key in OPENAI_ADMIN_KEY itself; it is handled last"
            )?;
        }
        let candidates = if key.is_admin() {
            &inventory.admin_keys
        } else {
            &inventory.project_keys
        };
        let matches = find_matches(candidates, &key.secret);
        let dashboard = if key.is_admin() { ADMIN_KEYS_URL } else { DASHBOARD_URL };
        match matches.as_slice() {
            [] => {
                self.audit.record(
                    Entry::about(key, "match", "no-match")
                        .message(format!("none of {} listed keys matches", candidates.len())),
                )?;
                writeln!(
                    self.out,
                    "    match:   none of the organisation's {} listed {} matches it (a key of another \
                     organisation, or one this admin key cannot see)",
                    candidates.len(),
                    if key.is_admin() { "admin keys" } else { "project keys" }
                )?;
                writeln!(self.out, "    action:  none: delete it by hand at {dashboard}")?;
                Ok(not_revoked(Reason::NoMatch))
            }
            [only] => self.act(key, probed, only, candidates),
            several => {
                let ids: Vec<&str> = several.iter().map(|c| c.key.id.as_str()).collect();
                self.audit
                    .record(Entry::about(key, "match", "ambiguous").message(format!(
                        "{} keys match: {}",
                        several.len(),
                        ids.join(", ")
                    )))?;
                writeln!(
                    self.out,
                    "    match:   {} keys in the organisation fit its redacted value; keyhound deletes only a \
                     single match:",
                    several.len()
                )?;
                for candidate in several {
                    writeln!(self.out, "               - {}", candidate.describe())?;
                }
                writeln!(
                    self.out,
                    "    action:  none: find the leaked one among them at {dashboard}"
                )?;
                Ok(not_revoked(Reason::Ambiguous))
            }
        }
    }

    /// The single match: plan it, or delete it and confirm.
    fn act(
        &mut self,
        key: &LeakedKey,
        probed: &Probe,
        matched: &Candidate,
        candidates: &[Candidate],
    ) -> Result<KeyResult, FlowError> {
        let id = matched.key.id.as_str();
        let project = matched.project_id();
        writeln!(self.out, "    match:   {}", matched.describe())?;
        let what = if key.is_admin() { "admin key" } else { "project API key" };
        let service_account = matched.key.owner.service_account_id().map(|sa| {
            let siblings = candidates
                .iter()
                .filter(|c| c.project_id() == project && c.key.owner.service_account_id() == Some(sa))
                .count();
            (sa.to_string(), siblings)
        });
        if !self.settings.yes {
            self.audit.record(
                Entry::about(key, "match", "planned")
                    .key_id(id)
                    .project(project)
                    .message(format!("would delete {what} {id}")),
            )?;
            writeln!(
                self.out,
                "    plan:    delete {what} {id} (dry run: nothing deleted; run again with --yes to delete)"
            )?;
            if let Some((sa, siblings)) = &service_account {
                let then = if self.settings.delete_service_accounts {
                    format!(
                        "keyhound would then delete service account {sa} with its {siblings} key(s) in this project"
                    )
                } else {
                    format!(
                        "--delete-service-accounts would delete service account {sa} with its {siblings} key(s) \
                         in this project"
                    )
                };
                writeln!(
                    self.out,
                    "    note:    a service account owns this key; if OpenAI refuses to delete the key alone, {then}"
                )?;
            }
            return Ok(KeyResult {
                outcome: Outcome::Planned,
                verification: None,
            });
        }
        self.audit
            .record(Entry::about(key, "match", "matched").key_id(id).project(project))?;
        let path = match project {
            Some(project) => format!("/v1/organization/projects/{}/api_keys/{}", encode(project), encode(id)),
            None => format!("/v1/organization/admin_api_keys/{}", encode(id)),
        };
        let reply = self.delete(key, "delete", &path, id, project, None)?;
        match reply {
            Ok(reply) if reply.is_success() && deleted_flag(&reply) => {
                writeln!(self.out, "    deleted: {what} {id}{}", request(&reply))?;
                self.confirm(key, probed, id, project)
            }
            Ok(reply) if reply.status == 400 && service_account.is_some() => {
                writeln!(
                    self.out,
                    "    deleted: no: OpenAI refuses to delete a service account's key alone: {}{}",
                    reply.message(),
                    request(&reply)
                )?;
                let Some((sa, siblings)) = service_account else {
                    return Ok(self.failed());
                };
                if !self.settings.delete_service_accounts {
                    writeln!(
                        self.out,
                        "    action:  run again with --delete-service-accounts to delete service account {sa} \
                         (and its {siblings} key(s) in this project), or delete the key at {DASHBOARD_URL}"
                    )?;
                    return Ok(KeyResult {
                        outcome: Outcome::NotRevoked(Reason::ServiceAccount),
                        verification: None,
                    });
                }
                self.delete_service_account(key, probed, id, project, &sa, siblings)
            }
            Ok(reply) if reply.status == 404 && reply.tries > 1 => {
                writeln!(
                    self.out,
                    "    deleted: probably: the key is gone (404) after an earlier try got no answer{}",
                    request(&reply)
                )?;
                self.confirm(key, probed, id, project)
            }
            Ok(reply) => {
                writeln!(
                    self.out,
                    "    deleted: no: HTTP {}: {}{}",
                    reply.status,
                    reply.message(),
                    request(&reply)
                )?;
                writeln!(self.out, "    action:  delete it by hand at {DASHBOARD_URL}")?;
                Ok(self.failed())
            }
            Err(error) => {
                writeln!(
                    self.out,
                    "    deleted: unknown: {error}; checking whether the key still works"
                )?;
                self.confirm(key, probed, id, project)
            }
        }
    }

    fn delete_service_account(
        &mut self,
        key: &LeakedKey,
        probed: &Probe,
        id: &str,
        project: Option<&str>,
        sa: &str,
        siblings: usize,
    ) -> Result<KeyResult, FlowError> {
        let Some(project_id) = project else {
            return Ok(self.failed());
        };
        writeln!(
            self.out,
            "    service account: deleting {sa} and its {siblings} key(s) in project {project_id} \
             (--delete-service-accounts)"
        )?;
        let path = format!(
            "/v1/organization/projects/{}/service_accounts/{}",
            encode(project_id),
            encode(sa)
        );
        match self.delete(key, "service-account-delete", &path, id, project, Some(sa))? {
            Ok(reply) if reply.is_success() && deleted_flag(&reply) => {
                writeln!(self.out, "    deleted: service account {sa}{}", request(&reply))?;
                self.confirm(key, probed, id, project)
            }
            Ok(reply) => {
                writeln!(
                    self.out,
                    "    deleted: no: HTTP {}: {}{}",
                    reply.status,
                    reply.message(),
                    request(&reply)
                )?;
                Ok(self.failed())
            }
            Err(error) => {
                writeln!(
                    self.out,
                    "    deleted: unknown: {error}; checking whether the key still works"
                )?;
                self.confirm(key, probed, id, project)
            }
        }
    }

    /// Sends one DELETE with the admin key, logging an `<action>-attempt` line before and an `<action>` line
    /// after, so an interrupted run leaves a log that says what may have happened.
    fn delete(
        &mut self,
        key: &LeakedKey,
        action: &'static str,
        path: &str,
        id: &str,
        project: Option<&str>,
        sa: Option<&str>,
    ) -> Result<Result<Reply, TransportError>, FlowError> {
        let attempt: &'static str = if action == "delete" {
            "delete-attempt"
        } else {
            "service-account-delete-attempt"
        };
        let with_sa = |entry: Entry| match sa {
            Some(sa) => entry.service_account(sa),
            None => entry,
        };
        self.audit.record(with_sa(
            Entry::about(key, attempt, "sent")
                .key_id(id)
                .project(project)
                .message(format!("DELETE {path}")),
        ))?;
        let result = self.client.delete(path, self.admin, RetryPolicy::STANDARD);
        let entry = match &result {
            Ok(reply) => {
                let outcome = if reply.is_success() && deleted_flag(reply) {
                    "deleted"
                } else {
                    "failed"
                };
                Entry::about(key, action, outcome)
                    .http(Some(reply.status), reply.request_id.as_deref())
                    .message(if outcome == "deleted" {
                        format!("DELETE {path}")
                    } else {
                        reply.message()
                    })
            }
            Err(error) => Entry::about(key, action, "no-answer").message(error.to_string()),
        };
        self.audit.record(with_sa(entry.key_id(id).project(project)))?;
        Ok(result)
    }

    /// Probes the deleted key with backoff until it is rejected or `--confirm-timeout` runs out. A key whose
    /// probe gave no verdict before the deletion (an IP allow-list's 401, a 403) and gives the same answer
    /// after it cannot be confirmed by waiting: that ends the loop at once.
    fn confirm(
        &mut self,
        key: &LeakedKey,
        before: &Probe,
        id: &str,
        project: Option<&str>,
    ) -> Result<KeyResult, FlowError> {
        let started = Instant::now();
        let deadline = started + self.settings.confirm_timeout;
        let mut wait = CONFIRM_FIRST_WAIT;
        let mut probes = 0;
        let last = loop {
            let found = probe(self.client, key, RetryPolicy::ONCE);
            probes += 1;
            let now = Instant::now();
            let same_refusal = before.liveness == Liveness::Unknown
                && found.liveness == Liveness::Unknown
                && found.status.is_some_and(|s| (400..500).contains(&s) && s != 429)
                && found.status == before.status;
            if found.liveness == Liveness::Dead || same_refusal || now >= deadline {
                break found;
            }
            std::thread::sleep(wait.min(deadline - now));
            wait = (wait * 2).min(CONFIRM_MAX_WAIT);
        };
        let elapsed = started.elapsed().as_secs_f64();
        let (outcome, label, message) = match last.liveness {
            Liveness::Dead => (
                Outcome::Revoked { confirmed: true },
                "revoked",
                format!("revoked: the key is now rejected (401 invalid_api_key), after {elapsed:.1}s"),
            ),
            Liveness::Live => (
                Outcome::NotRevoked(Reason::StillLive),
                "still-live",
                format!(
                    "WARNING: THE KEY IS STILL ACCEPTED {elapsed:.0}s after its deletion ({probes} probes): check \
                     {DASHBOARD_URL} now, and probe again later ({})",
                    last.reason
                ),
            ),
            Liveness::Unknown => (
                Outcome::Revoked { confirmed: false },
                "unconfirmed",
                format!("deleted, but not confirmed: {}", last.reason),
            ),
        };
        self.audit.record(
            Entry::about(key, "confirm", label)
                .key_id(id)
                .project(project)
                .http(last.status, last.request_id.as_deref())
                .message(message.clone()),
        )?;
        writeln!(self.out, "    result:  {message}")?;
        if outcome == Outcome::NotRevoked(Reason::StillLive) && self.settings.warn_on_stderr {
            eprintln!(
                "keyhound: WARNING: {} ({id}) was deleted but is STILL ACCEPTED by OpenAI",
                key.redacted
            );
        }
        let verification = match outcome {
            Outcome::Revoked { confirmed: true } => Some(Verification {
                status: Liveness::Dead,
                reason: format!("revoked by keyhound: {id} deleted, then rejected (401 invalid_api_key)"),
            }),
            _ => Some(last.verification()),
        };
        Ok(KeyResult { outcome, verification })
    }

    fn failed(&self) -> KeyResult {
        KeyResult {
            outcome: Outcome::NotRevoked(Reason::Failed),
            verification: None,
        }
    }
}

/// Does a deletion reply say `"deleted": true`?
fn deleted_flag(reply: &Reply) -> bool {
    serde_json::from_str::<serde_json::Value>(&reply.body)
        .ok()
        .and_then(|body| body.get("deleted").and_then(serde_json::Value::as_bool))
        .unwrap_or(false)
}

/// ` (request req_abc)`, or nothing.
fn request(reply: &Reply) -> String {
    reply
        .request_id
        .as_deref()
        .map(|id| format!(" (request {id})"))
        .unwrap_or_default()
}
