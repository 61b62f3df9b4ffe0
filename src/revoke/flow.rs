//! What happens to each leaked key of one provider, once probed: skip it, prove it is the organisation's, plan
//! its revocation, or disable it and confirm. The provider supplies only what differs ([`Revoker`]); no provider
//! is named here.
//!
//! Everything the admin API is asked to list is listed before anything is done, so a listing failure (a wrong
//! admin credential, say) stops the run with nothing done. Admin calls go one at a time. Keys are handled in the
//! provider's order (admin keys after others), and the admin credential in use (when it leaked too) last of all.
//!
//! Disabling is done only when the key is proven to be the organisation's: providers name the organisation of
//! a request in a header (`openai-organization`, `anthropic-organization-id`), so the leaked key's probe and the
//! admin credential's listings must name the same one. When either answer does not say, the single match of the
//! key's listed hint is proof only if that hint shows enough random characters ([`MIN_RANDOM_SHOWN`]) to rule
//! out a chance collision with a key of another organisation; otherwise the key is "matched, not proven" and
//! left to a person.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::finding::{Liveness, Secret, Verification};

use super::audit::{AuditError, AuditLog, Entry};
use super::client::{Client, RetryPolicy};
use super::keys::LeakedKey;
use super::listing::{ListBudget, ListError};
use super::provider::{Acting, Candidate, Disabled, Inventory, Provider, Revoker};
use super::verify::{Probe, probe};

/// How many random characters of a key a listed hint must show when no header says whose key it is: without
/// that evidence, a match is proof only if a foreign key could not share so much of it by chance (16 characters
/// of a 64-letter alphabet: 96 bits).
pub const MIN_RANDOM_SHOWN: usize = 16;

/// The first wait between confirmation probes; it doubles up to [`CONFIRM_MAX_WAIT`].
const CONFIRM_FIRST_WAIT: Duration = Duration::from_millis(500);
const CONFIRM_MAX_WAIT: Duration = Duration::from_secs(10);

/// How revocation runs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Really disable or delete (`--yes`); otherwise only plan.
    pub yes: bool,
    /// Delete a service account when the provider refuses to delete its key alone.
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
    /// The provider says it belongs to another organisation than the admin credential's.
    OtherOrganization,
    /// One listed key fits it, but nothing proves it is the same key.
    NotProven,
    /// Deleted, but still accepted when the confirmation time ran out.
    StillLive,
    /// A service account's key that the provider would not delete alone (and `--delete-service-accounts` was not
    /// given).
    ServiceAccount,
    /// The deletion failed.
    Failed,
    /// The key could not be read back from the report.
    Unrecovered,
    /// The provider's API cannot act on this key (no revoker, or a key kind it cannot disable).
    ByHand,
    /// The provider's admin credential was not given.
    NoCredential,
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
            Reason::ByHand => "by hand",
            Reason::NoCredential => "no admin credential",
        }
    }

    /// Does a person have to act (the dashboard), as opposed to nothing being wrong with the organisation?
    pub fn needs_a_person(self) -> bool {
        matches!(
            self,
            Reason::NotProven
                | Reason::StillLive
                | Reason::ServiceAccount
                | Reason::Unrecovered
                | Reason::ByHand
                | Reason::NoCredential
        )
    }
}

/// What became of one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Disabled or deleted; `confirmed` when it was then rejected.
    Revoked {
        confirmed: bool,
    },
    /// Someone removed it first (404), and it is now rejected.
    AlreadyGone,
    /// Dry run: it would be disabled or deleted.
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
    pub fn of(outcome: Outcome) -> KeyResult {
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

/// Everything one provider's run needs.
pub struct Flow<'a> {
    pub provider: &'a dyn Provider,
    pub revoker: &'a dyn Revoker,
    /// The provider's API: probes.
    pub client: &'a Client,
    /// The admin API: listings and the requests that disable keys (often the same as `client`).
    pub admin_client: &'a Client,
    pub admin: &'a Secret,
    pub audit: &'a AuditLog,
    pub settings: &'a Settings,
    pub out: &'a mut dyn Write,
}

/// How a matched key was shown to be the organisation's.
enum Proof {
    /// The key's probe and the admin credential's listings name the same organisation.
    SameOrganization(String),
    /// No organisation was named on one side, but the listed hint shows this many random characters.
    RedactedValue(usize),
    /// The listing itself identifies the whole key (said for people).
    Listed(String),
}

impl Proof {
    fn label(&self) -> &'static str {
        match self {
            Proof::SameOrganization(_) => "same-organization",
            Proof::RedactedValue(_) => "redacted-value",
            Proof::Listed(_) => "listed-digest",
        }
    }

    fn describe(&self, provider: &str) -> String {
        match self {
            Proof::SameOrganization(org) => {
                format!("{provider} names the same organisation ({org}) for the key and for the admin key")
            }
            Proof::RedactedValue(n) => format!(
                "{provider} did not name the key's organisation, but its listed redacted value shows {n} random \
                 characters (at least {MIN_RANDOM_SHOWN}): a key of another organisation cannot match it by chance"
            ),
            Proof::Listed(evidence) => evidence.clone(),
        }
    }
}

impl Flow<'_> {
    /// Handles `keys` (probed as `probes`, in the same order); returns one result per key, in that order.
    pub fn run(&mut self, keys: &[LeakedKey], probes: &[Probe]) -> Result<Vec<KeyResult>, FlowError> {
        let actionable: Vec<(&LeakedKey, &Probe)> = keys
            .iter()
            .zip(probes)
            .filter(|(key, probe)| probe.liveness != Liveness::Dead && self.revoker.by_hand(key).is_none())
            .collect();
        let inventory = if actionable.is_empty() {
            Inventory::default()
        } else {
            let mut budget = ListBudget::new();
            self.revoker
                .inventory(self.admin_client, self.admin, &actionable, &mut budget)?
        };
        // In the provider's order (admin keys last), and the admin credential in use (if it leaked) last of all.
        let mut order: Vec<usize> = (0..keys.len()).collect();
        order.sort_by_key(|&i| (self.revoker.order(&keys[i]), keys[i].secret == *self.admin));
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
        let label = self.provider.label();
        write_key_header(self.out, self.provider, key, probed)?;
        if let Some(why) = self.revoker.by_hand(key) {
            return settle_by_hand(self.out, self.audit, self.provider, key, probed, &why, Reason::ByHand);
        }
        if probed.liveness == Liveness::Dead {
            writeln!(self.out, "    action:  none: the key is already dead")?;
            return Ok(KeyResult::of(Outcome::AlreadyDead));
        }
        let dashboard = self.provider.dashboard(key);
        let variable = self.revoker.admin_variable();
        if key.secret == *self.admin {
            writeln!(
                self.out,
                "    note:    this is the admin key in {variable} itself; it is handled last"
            )?;
        }
        let (key_org, admin_org) = (probed.organization.as_deref(), inventory.organization.as_deref());
        let owner = match (key_org, admin_org) {
            (Some(key_org), Some(admin_org)) if key_org != admin_org => Some(format!(
                "{label} names {key_org} for this key, {admin_org} for {variable}"
            )),
            (Some(key_org), _) if inventory.refused.iter().any(|r| r == key_org) => Some(format!(
                "{label} names {key_org} for this key, and {variable} may not list its keys"
            )),
            _ => None,
        };
        if let Some(owner) = owner {
            self.audit.record(
                Entry::about(key, "match", "other-organization")
                    .organizations(key_org, admin_org)
                    .message(format!(
                        "the key belongs to another organisation: nothing was matched or {}d",
                        self.revoker.verb()
                    )),
            )?;
            writeln!(self.out, "    owner:   another organisation: {owner}")?;
            writeln!(
                self.out,
                "    action:  none: keyhound {}s only the organisation's own keys; tell the key's owner (it is live \
                 and leaked)",
                self.revoker.verb()
            )?;
            return Ok(KeyResult::of(Outcome::NotRevoked(Reason::OtherOrganization)));
        }
        let pool_name = self.revoker.pool(key);
        let pool: Vec<&Candidate> = inventory.candidates.iter().filter(|c| c.pool == pool_name).collect();
        let mut matches: Vec<&Candidate> = pool
            .iter()
            .copied()
            .filter(|c| self.revoker.fits(c, key, probed))
            .collect();
        // A listing that identifies the whole key (a digest of it) settles what its hint alone leaves ambiguous.
        if matches.len() > 1 {
            let proven: Vec<&Candidate> = matches
                .iter()
                .copied()
                .filter(|c| self.revoker.proves(c, key).is_some())
                .collect();
            if proven.len() == 1 {
                matches = proven;
            }
        }
        match matches.as_slice() {
            [] => {
                self.audit.record(
                    Entry::about(key, "match", "no-match")
                        .organizations(key_org, admin_org)
                        .message(format!("none of {} listed keys matches", pool.len())),
                )?;
                writeln!(
                    self.out,
                    "    match:   none of the organisation's {} matches it (a key of another organisation, or one \
                     this admin key cannot see)",
                    self.revoker.searched(key, &pool)
                )?;
                writeln!(
                    self.out,
                    "    action:  none: {} it by hand at {dashboard}",
                    self.revoker.verb()
                )?;
                Ok(KeyResult::of(Outcome::NotRevoked(Reason::NoMatch)))
            }
            [only] => {
                let Some(proof) = self.prove(key, only, key_org, admin_org)? else {
                    return Ok(KeyResult::of(Outcome::NotRevoked(Reason::NotProven)));
                };
                self.act(key, probed, only, &pool, &proof, key_org, admin_org)
            }
            several => {
                let ids: Vec<&str> = several.iter().map(|c| c.id.as_str()).collect();
                self.audit.record(
                    Entry::about(key, "match", "ambiguous")
                        .organizations(key_org, admin_org)
                        .message(format!("{} keys match: {}", several.len(), ids.join(", "))),
                )?;
                writeln!(
                    self.out,
                    "    match:   {} keys in the organisation fit its redacted value; keyhound {}s only a single \
                     match:",
                    several.len(),
                    self.revoker.verb()
                )?;
                for candidate in several {
                    writeln!(self.out, "               - {}", candidate.description)?;
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
        if let Some(evidence) = self.revoker.proves(matched, key) {
            return Ok(Some(Proof::Listed(evidence)));
        }
        let shown = self.revoker.random_shown(matched);
        if shown >= MIN_RANDOM_SHOWN {
            return Ok(Some(Proof::RedactedValue(shown)));
        }
        let missing = match (key_org, admin_org) {
            (None, None) => "for the key nor for the admin key",
            (None, Some(_)) => "for the key",
            _ => "for the admin key",
        };
        let label = self.provider.label();
        self.audit.record(
            Entry::about(key, "match", "not-proven")
                .key_id(&matched.id)
                .project(matched.scope.as_deref())
                .organizations(key_org, admin_org)
                .proof("not-proven")
                .message(format!(
                    "{label} named no organisation {missing}, and the redacted value shows {shown} random characters"
                )),
        )?;
        writeln!(self.out, "    match:   {}", matched.description)?;
        writeln!(
            self.out,
            "    proof:   none: {label} named no organisation {missing} (no {}), and the redacted value shows only \
             {shown} random characters: a key of another organisation could match it by chance",
            self.revoker.organization_evidence()
        )?;
        writeln!(
            self.out,
            "    action:  none: matched, not proven; check it and {} it by hand at {}",
            self.revoker.verb(),
            self.provider.dashboard(key)
        )?;
        Ok(None)
    }

    /// The single, proven match: plan it, or disable it and confirm.
    #[allow(clippy::too_many_arguments)]
    fn act(
        &mut self,
        key: &LeakedKey,
        probed: &Probe,
        matched: &Candidate,
        pool: &[&Candidate],
        proof: &Proof,
        key_org: Option<&str>,
        admin_org: Option<&str>,
    ) -> Result<KeyResult, FlowError> {
        let id = matched.id.as_str();
        let scope = matched.scope.as_deref();
        writeln!(self.out, "    match:   {}", matched.description)?;
        writeln!(self.out, "    proof:   {}", proof.describe(self.provider.label()))?;
        let (what, verb) = (self.revoker.what(key), self.revoker.verb());
        let matched_entry = |outcome: &str| {
            Entry::about(key, "match", outcome)
                .key_id(id)
                .project(scope)
                .organizations(key_org, admin_org)
                .proof(proof.label())
        };
        if !self.settings.yes {
            self.audit
                .record(matched_entry("planned").message(format!("would {verb} {what} {id}")))?;
            writeln!(
                self.out,
                "    plan:    {verb} {what} {id} (dry run: nothing {verb}d; run again with --yes to {verb})"
            )?;
            for note in self.revoker.plan_notes(matched, pool, self.settings) {
                writeln!(self.out, "    note:    {note}")?;
            }
            return Ok(KeyResult::of(Outcome::Planned));
        }
        self.audit.record(matched_entry("matched"))?;
        let mut acting = Acting {
            verb,
            client: self.admin_client,
            admin: self.admin,
            audit: self.audit,
            settings: self.settings,
            out: &mut *self.out,
        };
        match self.revoker.disable(&mut acting, key, matched, pool)? {
            Disabled::Done | Disabled::NoAnswer => self.confirm(key, probed, id, scope, false),
            Disabled::Gone => self.confirm(key, probed, id, scope, true),
            Disabled::NotDone(reason) => Ok(KeyResult::of(Outcome::NotRevoked(reason))),
        }
    }

    /// Probes the disabled key with backoff until it is rejected or `--confirm-timeout` runs out. A key whose
    /// probe gave no verdict before (an IP allow-list's 401, a 403) and gives the same answer after cannot be
    /// confirmed by waiting: that ends the loop at once. `gone` says the request answered 404 (someone removed
    /// the key first): a dead key then counts as already gone.
    fn confirm(
        &mut self,
        key: &LeakedKey,
        before: &Probe,
        id: &str,
        scope: Option<&str>,
        gone: bool,
    ) -> Result<KeyResult, FlowError> {
        let started = Instant::now();
        let deadline = started + self.settings.confirm_timeout;
        let mut wait = CONFIRM_FIRST_WAIT;
        let mut probes = 0;
        let last = loop {
            let found = probe(self.provider, self.client, key, RetryPolicy::ONCE);
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
        let dashboard = self.provider.dashboard(key);
        let dead_answer = self.revoker.dead_answer();
        let verb = self.revoker.verb();
        let (outcome, label, message) = match last.liveness {
            Liveness::Dead if gone => (
                Outcome::AlreadyGone,
                "revoked",
                format!("already gone: someone {verb}d it first, and the key is rejected ({dead_answer})"),
            ),
            Liveness::Dead => (
                Outcome::Revoked { confirmed: true },
                "revoked",
                format!("revoked: the key is now rejected ({dead_answer}), after {elapsed:.1}s"),
            ),
            Liveness::Live => (
                Outcome::NotRevoked(Reason::StillLive),
                "still-live",
                format!(
                    "WARNING: THE KEY IS STILL ACCEPTED {elapsed:.0}s after it was {verb}d ({probes} probes): check \
                     {dashboard} now, and probe again later ({})",
                    last.reason
                ),
            ),
            Liveness::Unknown => (
                Outcome::Revoked { confirmed: false },
                "unconfirmed",
                format!("{verb}d, but not confirmed: {}", last.reason),
            ),
        };
        self.audit.record(
            Entry::about(key, "confirm", label)
                .key_id(id)
                .project(scope)
                .http(last.status, last.request_id.as_deref())
                .message(message.clone()),
        )?;
        writeln!(self.out, "    result:  {message}")?;
        if outcome == Outcome::NotRevoked(Reason::StillLive) && self.settings.warn_on_stderr {
            eprintln!(
                "keyhound: WARNING: {} ({id}) was {verb}d but is STILL ACCEPTED by {}",
                key.redacted,
                self.provider.label()
            );
        }
        let verification = match outcome {
            Outcome::Revoked { confirmed: true } | Outcome::AlreadyGone => Some(Verification {
                status: Liveness::Dead,
                reason: format!("revoked by keyhound: {id} {verb}d, then rejected ({dead_answer})"),
            }),
            _ => Some(last.verification()),
        };
        Ok(KeyResult { outcome, verification })
    }
}

/// The first lines of a key's block: the key, its kind and rule, where it was found, its status.
pub fn write_key_header(
    out: &mut dyn Write,
    provider: &dyn Provider,
    key: &LeakedKey,
    probed: &Probe,
) -> std::io::Result<()> {
    writeln!(
        out,
        "{}  {} {} ({})",
        key.redacted,
        provider.label(),
        provider.kind_label(key),
        key.rule_id
    )?;
    writeln!(out, "    found:   {}", key.place_summary())?;
    writeln!(out, "    status:  {}: {}", probed.liveness, probed.reason)
}

/// What becomes of a key whose provider keyhound cannot revoke with (no revoker, or no admin credential): the
/// block says why and where a person does it. Dead keys need nothing.
pub fn by_hand(
    out: &mut dyn Write,
    audit: &AuditLog,
    provider: &dyn Provider,
    key: &LeakedKey,
    probed: &Probe,
    why: &str,
    reason: Reason,
) -> Result<KeyResult, FlowError> {
    write_key_header(out, provider, key, probed)?;
    let result = settle_by_hand(out, audit, provider, key, probed, why, reason)?;
    writeln!(out)?;
    Ok(result)
}

/// The action line of a key a person must see to, after its header: nothing for a dead key; otherwise why, and
/// where to revoke it, recorded in the audit log.
fn settle_by_hand(
    out: &mut dyn Write,
    audit: &AuditLog,
    provider: &dyn Provider,
    key: &LeakedKey,
    probed: &Probe,
    why: &str,
    reason: Reason,
) -> Result<KeyResult, FlowError> {
    if probed.liveness == Liveness::Dead {
        writeln!(out, "    action:  none: the key is already dead")?;
        return Ok(KeyResult::of(Outcome::AlreadyDead));
    }
    audit.record(Entry::about(key, "match", "by-hand").message(why.to_string()))?;
    writeln!(
        out,
        "    action:  none: {why}; revoke it by hand at {}",
        provider.dashboard(key)
    )?;
    Ok(KeyResult::of(Outcome::NotRevoked(reason)))
}
