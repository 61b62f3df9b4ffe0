//! What happens to each leaked key, once probed: skip it, prove it is the organisation's, plan its deletion, or
//! delete it and confirm.
//!
//! Everything the Administration API is asked to list is listed before anything is deleted, so a listing
//! failure (a wrong admin key, say) stops the run with nothing done. Admin calls go one at a time. Admin keys
//! are handled after project keys, and the admin key in use (when it leaked too) last of all.
//!
//! A deletion is irreversible, so a key is deleted only when it is proven to be the organisation's: OpenAI names
//! the organisation of every request (`openai-organization`), so the leaked key's probe and the admin key's
//! listings must name the same one. When either answer does not say, the single match of the key's redacted
//! value is proof only if that value shows enough random characters ([`MIN_RANDOM_SHOWN`]) to rule out a chance
//! collision with a key of another organisation; otherwise the key is "matched, not proven" and left to a person.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::finding::{Liveness, Secret, Verification};

use super::audit::{AuditError, AuditLog, Entry};
use super::client::{BadSegment, Client, Reply, RetryPolicy, TransportError, segment};
use super::keys::LeakedKey;
use super::plan::{
    Candidate, ListBudget, ListError, MIN_RANDOM_SHOWN, find_matches, list_admin_keys, list_project_keys,
    random_chars_shown,
};
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
    /// Delete a service account when OpenAI refuses to delete its key alone.
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
    /// OpenAI says it belongs to another organisation than the admin key's.
    OtherOrganization,
    /// One listed key fits it, but nothing proves it is the same key.
    NotProven,
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
            Reason::OtherOrganization => "another organisation",
            Reason::NotProven => "not proven",
            Reason::StillLive => "still live",
            Reason::ServiceAccount => "service account",
            Reason::Failed => "failed",
            Reason::Unrecovered => "not recovered",
        }
    }

    /// Does a person have to act (the dashboard), as opposed to nothing being wrong with the organisation?
    pub fn needs_a_person(self) -> bool {
        matches!(
            self,
            Reason::NotProven | Reason::StillLive | Reason::ServiceAccount | Reason::Unrecovered
        )
    }
}

/// What became of one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Deleted; `confirmed` when it then answered 401.
    Revoked {
        confirmed: bool,
    },
    /// Someone deleted it first (404 on DELETE), and it is now rejected.
    AlreadyGone,
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

impl KeyResult {
    fn of(outcome: Outcome) -> KeyResult {
        KeyResult {
            outcome,
            verification: None,
        }
    }
}

/// A failure that stops the whole run.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error(transparent)]
    List(#[from] ListError),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error("cannot write the revocation plan: {}", crate::input::describe_io(.0))]
    Output(std::io::Error),
}

impl From<std::io::Error> for FlowError {
    fn from(error: std::io::Error) -> FlowError {
        FlowError::Output(error)
    }
}

/// Everything one run needs.
pub struct Revoker<'a> {
    pub client: &'a Client,
    pub admin: &'a Secret,
    pub audit: &'a AuditLog,
    pub settings: &'a Settings,
    pub out: &'a mut dyn Write,
}

/// The listed keys, fetched once, and the organisation OpenAI named for the admin key.
#[derive(Default)]
struct Inventory {
    project_keys: Vec<Candidate>,
    admin_keys: Vec<Candidate>,
    organization: Option<String>,
}

/// How a matched key was shown to be the organisation's.
enum Proof {
    /// The key's probe and the admin key's listings name the same organisation.
    SameOrganization(String),
    /// No organisation was named on one side, but the redacted value shows this many random characters.
    RedactedValue(usize),
}

impl Proof {
    fn label(&self) -> &'static str {
        match self {
            Proof::SameOrganization(_) => "same-organization",
            Proof::RedactedValue(_) => "redacted-value",
        }
    }

    fn describe(&self) -> String {
        match self {
            Proof::SameOrganization(org) => {
                format!("OpenAI names the same organisation ({org}) for the key and for the admin key")
            }
            Proof::RedactedValue(n) => format!(
                "OpenAI did not name the key's organisation, but its listed redacted value shows {n} random characters \
                 (at least {MIN_RANDOM_SHOWN}): a key of another organisation cannot match it by chance"
            ),
        }
    }
}

/// Where a person deletes a key of this kind by hand.
pub fn dashboard_for(key: &LeakedKey) -> &'static str {
    if key.is_admin() { ADMIN_KEYS_URL } else { DASHBOARD_URL }
}

impl Revoker<'_> {
    /// Handles `keys` (probed as `probes`, in the same order); returns one result per key, in that order.
    pub fn run(&mut self, keys: &[LeakedKey], probes: &[Probe]) -> Result<Vec<KeyResult>, FlowError> {
        let actionable = |i: usize| probes.get(i).is_some_and(|p| p.liveness != Liveness::Dead);
        let need_projects = (0..keys.len()).any(|i| actionable(i) && !keys[i].is_admin());
        let need_admin = (0..keys.len()).any(|i| actionable(i) && keys[i].is_admin());
        let mut inventory = Inventory::default();
        let mut budget = ListBudget::new();
        if need_projects {
            let listed = list_project_keys(self.client, self.admin, &mut budget)?;
            inventory.project_keys = listed.items;
            inventory.organization = listed.organization;
        }
        if need_admin {
            let listed = list_admin_keys(self.client, self.admin, &mut budget)?;
            inventory.admin_keys = listed.items;
            inventory.organization = inventory.organization.or(listed.organization);
        }
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
            .map(|r| r.unwrap_or(KeyResult::of(Outcome::NotRevoked(Reason::Failed))))
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
        if probed.liveness == Liveness::Dead {
            writeln!(self.out, "    action:  none: the key is already dead")?;
            return Ok(KeyResult::of(Outcome::AlreadyDead));
        }
        if key.secret == *self.admin {
            writeln!(
                self.out,
                "    note:    this is the admin key in OPENAI_ADMIN_KEY itself; it is handled last"
            )?;
        }
        let dashboard = dashboard_for(key);
        let (key_org, admin_org) = (probed.organization.as_deref(), inventory.organization.as_deref());
        if let (Some(key_org), Some(admin_org)) = (key_org, admin_org)
            && key_org != admin_org
        {
            self.audit.record(
                Entry::about(key, "match", "other-organization")
                    .organizations(Some(key_org), Some(admin_org))
                    .message("the key belongs to another organisation: nothing was matched or deleted"),
            )?;
            writeln!(
                self.out,
                "    owner:   another organisation: OpenAI names {key_org} for this key, {admin_org} for \
                 OPENAI_ADMIN_KEY"
            )?;
            writeln!(
                self.out,
                "    action:  none: keyhound deletes only the organisation's own keys; tell the key's owner (it is \
                 live and leaked)"
            )?;
            return Ok(KeyResult::of(Outcome::NotRevoked(Reason::OtherOrganization)));
        }
        let candidates = if key.is_admin() {
            &inventory.admin_keys
        } else {
            &inventory.project_keys
        };
        let matches = find_matches(candidates, &key.secret);
        match matches.as_slice() {
            [] => {
                let archived = candidates
                    .iter()
                    .filter(|c| c.project.as_ref().is_some_and(|p| p.is_archived()))
                    .count();
                self.audit.record(
                    Entry::about(key, "match", "no-match")
                        .organizations(key_org, admin_org)
                        .message(format!("none of {} listed keys matches", candidates.len())),
                )?;
                let searched = if key.is_admin() {
                    format!("{} listed admin keys", candidates.len())
                } else {
                    format!(
                        "{} listed project keys (archived projects included: {archived} of them)",
                        candidates.len()
                    )
                };
                writeln!(
                    self.out,
                    "    match:   none of the organisation's {searched} matches it (a key of another \
                     organisation, or one this admin key cannot see)"
                )?;
                writeln!(self.out, "    action:  none: delete it by hand at {dashboard}")?;
                Ok(KeyResult::of(Outcome::NotRevoked(Reason::NoMatch)))
            }
            [only] => {
                let Some(proof) = self.prove(key, only, key_org, admin_org)? else {
                    return Ok(KeyResult::of(Outcome::NotRevoked(Reason::NotProven)));
                };
                self.act(key, probed, only, candidates, &proof, key_org, admin_org)
            }
            several => {
                let ids: Vec<&str> = several.iter().map(|c| c.key.id.as_str()).collect();
                self.audit.record(
                    Entry::about(key, "match", "ambiguous")
                        .organizations(key_org, admin_org)
                        .message(format!("{} keys match: {}", several.len(), ids.join(", "))),
                )?;
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
                Ok(KeyResult::of(Outcome::NotRevoked(Reason::Ambiguous)))
            }
        }
    }

    /// Shows that the single match is the leaked key (see the module's documentation), or says why not.
    fn prove(
        &mut self,
        key: &LeakedKey,
        matched: &Candidate,
        key_org: Option<&str>,
        admin_org: Option<&str>,
    ) -> Result<Option<Proof>, FlowError> {
        if let (Some(key_org), Some(_)) = (key_org, admin_org) {
            return Ok(Some(Proof::SameOrganization(key_org.to_string())));
        }
        let shown = matched.key.value_for_matching().map_or(0, random_chars_shown);
        if shown >= MIN_RANDOM_SHOWN {
            return Ok(Some(Proof::RedactedValue(shown)));
        }
        let missing = match (key_org, admin_org) {
            (None, None) => "for the key nor for the admin key",
            (None, Some(_)) => "for the key",
            _ => "for the admin key",
        };
        self.audit.record(
            Entry::about(key, "match", "not-proven")
                .key_id(&matched.key.id)
                .project(matched.project_id())
                .organizations(key_org, admin_org)
                .proof("not-proven")
                .message(format!(
                    "OpenAI named no organisation {missing}, and the redacted value shows {shown} random characters"
                )),
        )?;
        writeln!(self.out, "    match:   {}", matched.describe())?;
        writeln!(
            self.out,
            "    proof:   none: OpenAI named no organisation {missing} (no openai-organization header), and the \
             redacted value shows only {shown} random characters: a key of another organisation could match it by \
             chance"
        )?;
        writeln!(
            self.out,
            "    action:  none: matched, not proven; check it and delete it by hand at {}",
            dashboard_for(key)
        )?;
        Ok(None)
    }

    /// The single, proven match: plan it, or delete it and confirm.
    #[allow(clippy::too_many_arguments)]
    fn act(
        &mut self,
        key: &LeakedKey,
        probed: &Probe,
        matched: &Candidate,
        candidates: &[Candidate],
        proof: &Proof,
        key_org: Option<&str>,
        admin_org: Option<&str>,
    ) -> Result<KeyResult, FlowError> {
        let id = matched.key.id.as_str();
        let project = matched.project_id();
        writeln!(self.out, "    match:   {}", matched.describe())?;
        writeln!(self.out, "    proof:   {}", proof.describe())?;
        let what = if key.is_admin() { "admin key" } else { "project API key" };
        // Only a project key belongs to a project service account; an admin key's inline owner of type
        // `service_account` is not one.
        let service_account = project.and(matched.key.owner.service_account_id()).map(|sa| {
            let siblings = candidates
                .iter()
                .filter(|c| c.project_id() == project && c.key.owner.service_account_id() == Some(sa))
                .count();
            (sa.to_string(), siblings)
        });
        let matched_entry = |outcome: &str| {
            Entry::about(key, "match", outcome)
                .key_id(id)
                .project(project)
                .organizations(key_org, admin_org)
                .proof(proof.label())
        };
        if !self.settings.yes {
            self.audit
                .record(matched_entry("planned").message(format!("would delete {what} {id}")))?;
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
            return Ok(KeyResult::of(Outcome::Planned));
        }
        self.audit.record(matched_entry("matched"))?;
        let dashboard = dashboard_for(key);
        // Paths carry the ids as listed; `id` and `project` are their forms cleaned for display.
        let listed_id = matched.key.request_id();
        let path = match matched.request_project_id() {
            Some(project) => {
                segments(&[project, listed_id]).map(|s| format!("/v1/organization/projects/{}/api_keys/{}", s[0], s[1]))
            }
            None => segments(&[listed_id]).map(|s| format!("/v1/organization/admin_api_keys/{}", s[0])),
        };
        let path = match path {
            Ok(path) => path,
            Err(error) => return self.unsendable(key, id, project, &error, dashboard),
        };
        match self.delete(key, "delete", &path, id, project, None)? {
            Ok(reply) if reply.is_success() && deleted_flag(&reply) => {
                writeln!(self.out, "    deleted: {what} {id}{}", request(&reply))?;
                self.confirm(key, probed, id, project, false)
            }
            Ok(reply) if reply.status == 400 && service_account.is_some() && is_service_account_refusal(&reply) => {
                writeln!(
                    self.out,
                    "    deleted: no: OpenAI refuses to delete a service account's key alone: {}{}",
                    reply.message(),
                    request(&reply)
                )?;
                let Some((sa, siblings)) = service_account else {
                    return Ok(KeyResult::of(Outcome::NotRevoked(Reason::Failed)));
                };
                if !self.settings.delete_service_accounts {
                    writeln!(
                        self.out,
                        "    action:  run again with --delete-service-accounts to delete service account {sa} \
                         (and its {siblings} key(s) in this project), or delete the key at {DASHBOARD_URL}"
                    )?;
                    return Ok(KeyResult::of(Outcome::NotRevoked(Reason::ServiceAccount)));
                }
                self.delete_service_account(key, probed, matched, &sa, siblings)
            }
            Ok(reply) if reply.status == 404 => {
                writeln!(
                    self.out,
                    "    deleted: already gone (404: {}){}; checking that the key is dead",
                    reply.message(),
                    request(&reply)
                )?;
                self.confirm(key, probed, id, project, true)
            }
            Ok(reply) => {
                writeln!(
                    self.out,
                    "    deleted: no: HTTP {}: {}{}",
                    reply.status,
                    reply.message(),
                    request(&reply)
                )?;
                writeln!(self.out, "    action:  delete it by hand at {dashboard}")?;
                Ok(KeyResult::of(Outcome::NotRevoked(Reason::Failed)))
            }
            Err(error) => {
                writeln!(
                    self.out,
                    "    deleted: unknown: {error}; checking whether the key still works"
                )?;
                self.confirm(key, probed, id, project, false)
            }
        }
    }

    /// Deletes the service account `sa` (as shown) that owns the matched key, with its `siblings` keys.
    fn delete_service_account(
        &mut self,
        key: &LeakedKey,
        probed: &Probe,
        matched: &Candidate,
        sa: &str,
        siblings: usize,
    ) -> Result<KeyResult, FlowError> {
        let (id, project) = (matched.key.id.as_str(), matched.project_id());
        let (Some(project_id), Some(listed_project), Some(listed_sa)) = (
            project,
            matched.request_project_id(),
            matched.key.request_service_account_id(),
        ) else {
            return Ok(KeyResult::of(Outcome::NotRevoked(Reason::Failed)));
        };
        writeln!(
            self.out,
            "    service account: deleting {sa} and its {siblings} key(s) in project {project_id} \
             (--delete-service-accounts)"
        )?;
        let path = match segments(&[listed_project, listed_sa]) {
            Ok(s) => format!("/v1/organization/projects/{}/service_accounts/{}", s[0], s[1]),
            Err(error) => return self.unsendable(key, id, project, &error, DASHBOARD_URL),
        };
        match self.delete(key, "service-account-delete", &path, id, project, Some(sa))? {
            Ok(reply) if reply.is_success() && deleted_flag(&reply) => {
                writeln!(self.out, "    deleted: service account {sa}{}", request(&reply))?;
                self.confirm(key, probed, id, project, false)
            }
            Ok(reply) => {
                writeln!(
                    self.out,
                    "    deleted: no: HTTP {}: {}{}",
                    reply.status,
                    reply.message(),
                    request(&reply)
                )?;
                Ok(KeyResult::of(Outcome::NotRevoked(Reason::Failed)))
            }
            Err(error) => {
                writeln!(
                    self.out,
                    "    deleted: unknown: {error}; checking whether the key still works"
                )?;
                self.confirm(key, probed, id, project, false)
            }
        }
    }

    /// A deletion that cannot be sent: an id from the listing is not a path segment. Nothing is sent.
    fn unsendable(
        &mut self,
        key: &LeakedKey,
        id: &str,
        project: Option<&str>,
        error: &BadSegment,
        dashboard: &str,
    ) -> Result<KeyResult, FlowError> {
        self.audit.record(
            Entry::about(key, "delete", "failed")
                .key_id(id)
                .project(project)
                .message(format!("not sent: {error}")),
        )?;
        writeln!(self.out, "    deleted: no: not sent: {error}")?;
        writeln!(self.out, "    action:  delete it by hand at {dashboard}")?;
        Ok(KeyResult::of(Outcome::NotRevoked(Reason::Failed)))
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
                } else if reply.status == 404 {
                    "gone"
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
    /// after it cannot be confirmed by waiting: that ends the loop at once. `gone` says the DELETE answered 404
    /// (someone deleted the key first): a dead key then counts as already gone.
    fn confirm(
        &mut self,
        key: &LeakedKey,
        before: &Probe,
        id: &str,
        project: Option<&str>,
        gone: bool,
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
        let dashboard = dashboard_for(key);
        let (outcome, label, message) = match last.liveness {
            Liveness::Dead if gone => (
                Outcome::AlreadyGone,
                "revoked",
                "already gone: someone deleted it first, and the key is rejected (401 invalid_api_key)".to_string(),
            ),
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
                     {dashboard} now, and probe again later ({})",
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
            Outcome::Revoked { confirmed: true } | Outcome::AlreadyGone => Some(Verification {
                status: Liveness::Dead,
                reason: format!("revoked by keyhound: {id} deleted, then rejected (401 invalid_api_key)"),
            }),
            _ => Some(last.verification()),
        };
        Ok(KeyResult { outcome, verification })
    }
}

/// Each server-supplied id as one path segment, or the first that cannot be one.
fn segments(ids: &[&str]) -> Result<Vec<String>, BadSegment> {
    ids.iter().map(|id| segment(id)).collect()
}

/// Is a 400 on a project key's DELETE the refusal OpenAI's published description documents ("an error if the
/// key belonged to a service account")? Only an error that says so leads to `--delete-service-accounts`; any
/// other 400 is a failure to report.
fn is_service_account_refusal(reply: &Reply) -> bool {
    let Some(error) = reply.error() else {
        return false;
    };
    [error.message, error.code, error.param]
        .into_iter()
        .flatten()
        .map(|text| text.to_ascii_lowercase().replace('_', " "))
        .any(|text| text.contains("service account"))
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
