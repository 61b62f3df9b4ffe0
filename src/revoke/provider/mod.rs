//! What differs between providers, behind two traits, so that the verification and revocation flows never name
//! one.
//!
//! - [`Provider`]: where the provider's API is and how it takes a key ([`Api`]), the documented read-only request
//!   that tells whether a key is live ([`Provider::check`]) and what its answers mean ([`Provider::classify`]),
//!   and where a person revokes a key by hand.
//! - [`Revoker`]: for providers whose published reference documents listing and disabling keys with an admin
//!   credential: the credential's variable, the listing, matching, and the request that disables one key.
//!
//! Every provider module cites the reference it follows beside the code; the parts of machine-readable
//! descriptions it relies on are vendored in `tests/openapi/` and checked against the tests' fake servers.

use std::io::Write;

use crate::finding::{Liveness, Secret};

use super::audit::{AuditLog, Entry};
use super::client::{AuthStyle, BadSegment, Client, Reply, TransportError};
use super::flow::{FlowError, Settings};
use super::keys::LeakedKey;
use super::listing::{ListBudget, ListError};
use super::verify::Probe;

pub mod anthropic;
pub mod azure;
pub mod openai;
pub mod openrouter;
pub mod simple;
pub mod xai;

/// Where a provider's API is, and how it takes a credential.
#[derive(Debug, Clone, Copy)]
pub struct Api {
    /// The scheme and host of the documented endpoints (`https://api.groq.com`).
    pub default_base: &'static str,
    /// How requests carry the key.
    pub auth: AuthStyle,
    /// Headers every request carries (`anthropic-version: 2023-06-01`).
    pub headers: &'static [(&'static str, &'static str)],
    /// A suffix taken off a configured base (OpenAI's `/v1`, which its paths carry themselves).
    pub strip: Option<&'static str>,
}

/// Another region of a provider whose keys are bound to one region (Moonshot's China platform, LangSmith's EU
/// instance): a key of that region is rejected elsewhere as any unknown key is, so a key is `dead` only when every
/// region rejects it.
#[derive(Debug, Clone, Copy)]
pub struct Region {
    /// Its name in the base variable: `KEYHOUND_<PROVIDER>_<NAME>_API_BASE`.
    pub name: &'static str,
    pub default_base: &'static str,
}

/// The read-only request that tells whether a key is live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// `GET` this path (and query) with the key.
    Get(String),
    /// `GET` this path at this base: a key that works only at its own endpoint (an Azure resource's). A base
    /// variable set for the provider still wins (a test's fake, a proxy).
    GetAt { base: String, path: String },
    /// The provider documents no request that reads without spending or changing anything: why.
    None(&'static str),
}

/// One provider keyhound can verify keys of (and perhaps revoke them).
pub trait Provider: Sync {
    /// The rules' `provider` field (`openai`, `anthropic`); the base URL variable is
    /// `KEYHOUND_<NAME>_API_BASE`, whose value replaces the scheme and host of the documented endpoints (the
    /// documented paths are kept).
    fn name(&self) -> &'static str;
    /// For people: `OpenAI`, `Hugging Face`.
    fn label(&self) -> &'static str;
    fn api(&self) -> Api;
    /// The read-only check for `key`.
    fn check(&self, key: &LeakedKey) -> Check;
    /// What an answer to the check says. Providers read their own headers for the key's owner.
    fn classify(&self, key: &LeakedKey, reply: &Reply) -> Probe;
    /// Where a person disables or deletes `key` by hand.
    fn dashboard(&self, key: &LeakedKey) -> &'static str;
    /// The kind of `key` for people: `project key`, `API key`.
    fn kind_label(&self, key: &LeakedKey) -> String {
        format!("{} key", key.kind)
    }
    /// The revoker, when the provider documents key management.
    fn revoker(&self) -> Option<&dyn Revoker> {
        None
    }
    /// The reference the check follows, for the documentation's table.
    fn reference(&self) -> &'static str;
    /// The provider's other regions, where a key rejected by [`Api::default_base`] is probed again.
    fn regions(&self) -> &'static [Region] {
        &[]
    }
}

/// Every provider keyhound has a module for.
pub fn all() -> &'static [&'static dyn Provider] {
    static ALL: std::sync::OnceLock<Vec<&'static dyn Provider>> = std::sync::OnceLock::new();
    ALL.get_or_init(|| {
        let mut all: Vec<&'static dyn Provider> = vec![
            &openai::OPENAI,
            &anthropic::ANTHROPIC,
            &xai::XAI,
            &openrouter::OPENROUTER,
            &azure::AZURE,
        ];
        all.extend(simple::ALL.iter().map(|p| p as &dyn Provider));
        all
    })
}

/// The provider module for a rule's `provider` field.
pub fn find(name: &str) -> Option<&'static dyn Provider> {
    all().iter().copied().find(|p| p.name() == name)
}

/// `KEYHOUND_<NAME>_<REGION>_API_BASE`: the base of another region.
pub fn region_variable(provider: &dyn Provider, region: &Region) -> String {
    format!(
        "KEYHOUND_{}_{}_API_BASE",
        provider.name().to_ascii_uppercase(),
        region.name.to_ascii_uppercase()
    )
}

/// Every variable that names a base URL keyhound may send a request to: each provider's, its regions', and its
/// revoker's admin API's.
pub fn base_variables() -> Vec<String> {
    let mut variables = Vec::new();
    for provider in all() {
        variables.push(base_variable(*provider));
        variables.extend(provider.regions().iter().map(|r| region_variable(*provider, r)));
        if let Some((_, variable)) = provider.revoker().and_then(|r| r.admin_api()) {
            variables.push(variable.to_string());
        }
    }
    variables
}

/// `KEYHOUND_<NAME>_API_BASE`.
///
/// Its value replaces the scheme and host of the documented endpoints; the documented paths are kept.
pub fn base_variable(provider: &dyn Provider) -> String {
    format!("KEYHOUND_{}_API_BASE", provider.name().to_ascii_uppercase())
}

/// A listed key of the organisation: what matching, proof, people and requests need of it.
#[derive(Debug, Clone, Default)]
pub struct Candidate {
    /// As shown: through the choke point for outside text.
    pub id: String,
    /// `id` exactly as listed, for request paths only: never shown.
    pub listed_id: String,
    /// The listed hint of the key's value (`redacted_value`, `partial_key_hint`) exactly as listed, for matching
    /// only: never shown as is.
    pub hint: Option<String>,
    /// Which pool of the provider it belongs to (`project`, `admin`): a leaked key is matched within its pool.
    pub pool: &'static str,
    /// The project or workspace, as shown and as listed.
    pub scope: Option<String>,
    pub listed_scope: Option<String>,
    /// The group that owns the key (an OpenAI service account), as shown and as listed.
    pub group: Option<String>,
    pub listed_group: Option<String>,
    /// The key is no longer usable as listed (archived project, inactive status): for descriptions.
    pub archived: bool,
    /// For people: id, name, hint, scope, owner, last use.
    pub description: String,
}

/// The organisation's keys, listed once before anything is done, and the organisation the provider named for
/// the admin credential's requests.
#[derive(Debug, Default)]
pub struct Inventory {
    pub candidates: Vec<Candidate>,
    pub organization: Option<String>,
    /// Organisations the admin credential may not list (xAI's 403 on another team): a key whose probe names one
    /// of them is another organisation's, even when no listing named the admin credential's own.
    pub refused: Vec<String>,
}

/// What a revoker's request to disable a key came to.
#[derive(Debug)]
pub enum Disabled {
    /// Disabled or deleted (the line already written): confirm.
    Done,
    /// Someone else removed it first (404): confirm, and count it as already gone.
    Gone,
    /// No answer: confirm, to learn whether it happened.
    NoAnswer,
    /// Refused or failed, with the reason (the lines already written).
    NotDone(super::flow::Reason),
}

/// What a revoker's request may use: the admin API's client, the admin credential, the audit log, the output,
/// the settings.
pub struct Acting<'a> {
    /// The revoker's verb (`delete`, `disable`), for messages.
    pub verb: &'static str,
    pub client: &'a Client,
    pub admin: &'a Secret,
    pub audit: &'a AuditLog,
    pub settings: &'a Settings,
    pub out: &'a mut dyn Write,
}

impl Acting<'_> {
    /// Sends one disabling request with the admin credential, logging an `<action>-attempt` line before and an
    /// `<action>` line after, so an interrupted run leaves a log that says what may have happened. `send` makes
    /// the request; `done` says whether an answer means it was done.
    #[allow(clippy::too_many_arguments)]
    pub fn logged(
        &mut self,
        key: &LeakedKey,
        action: &'static str,
        attempt: &'static str,
        request: &str,
        candidate: &Candidate,
        group: Option<&str>,
        send: &dyn Fn(&Client, &Secret) -> Result<Reply, TransportError>,
        done: &dyn Fn(&Reply) -> bool,
    ) -> Result<Result<Reply, TransportError>, FlowError> {
        let with_group = |entry: Entry| match group {
            Some(group) => entry.service_account(group),
            None => entry,
        };
        let scope = candidate.scope.as_deref();
        self.audit.record(with_group(
            Entry::about(key, attempt, "sent")
                .key_id(&candidate.id)
                .project(scope)
                .message(request.to_string()),
        ))?;
        let result = send(self.client, self.admin);
        let entry = match &result {
            Ok(reply) => {
                let outcome = if reply.is_success() && done(reply) {
                    action_outcome(action)
                } else if reply.status == 404 {
                    "gone"
                } else {
                    "failed"
                };
                Entry::about(key, action, outcome)
                    .http(Some(reply.status), reply.request_id.as_deref())
                    .message(if outcome == "failed" || outcome == "gone" {
                        reply.message()
                    } else {
                        request.to_string()
                    })
            }
            Err(error) => Entry::about(key, action, "no-answer").message(error.to_string()),
        };
        self.audit
            .record(with_group(entry.key_id(&candidate.id).project(scope)))?;
        Ok(result)
    }

    /// What the answer to a disabling request comes to, said the same way for every provider: done (`done(reply)`;
    /// the line says `done_text`), already gone (404), refused (any other answer: a person does it at
    /// `dashboard`), or no answer. The flow confirms the key dead after all but a refusal.
    pub fn settle(
        &mut self,
        sent: Result<Reply, TransportError>,
        done: &dyn Fn(&Reply) -> bool,
        done_text: &str,
        dashboard: &str,
    ) -> Result<Disabled, FlowError> {
        let verb = self.verb;
        match sent {
            Ok(reply) if reply.is_success() && done(&reply) => {
                writeln!(self.out, "    {verb}d: {done_text}{}", reply.request_note())?;
                Ok(Disabled::Done)
            }
            Ok(reply) if reply.status == 404 => {
                writeln!(
                    self.out,
                    "    {verb}d: already gone (404: {}){}; checking that the key is dead",
                    reply.message(),
                    reply.request_note()
                )?;
                Ok(Disabled::Gone)
            }
            Ok(reply) => {
                let said = if reply.is_success() {
                    format!("the answer does not say the key is {verb}d")
                } else {
                    format!("HTTP {}: {}", reply.status, reply.message())
                };
                writeln!(self.out, "    {verb}d: no: {said}{}", reply.request_note())?;
                writeln!(self.out, "    action:  {verb} it by hand at {dashboard}")?;
                Ok(Disabled::NotDone(super::flow::Reason::Failed))
            }
            Err(error) => {
                writeln!(
                    self.out,
                    "    {verb}d: unknown: {error}; checking whether the key still works"
                )?;
                Ok(Disabled::NoAnswer)
            }
        }
    }

    /// A request that cannot be sent: an id from the listing is not a path segment. Nothing is sent.
    pub fn unsendable(
        &mut self,
        key: &LeakedKey,
        candidate: &Candidate,
        error: &BadSegment,
        dashboard: &str,
    ) -> Result<Disabled, FlowError> {
        self.audit.record(
            Entry::about(key, self.verb, "failed")
                .key_id(&candidate.id)
                .project(candidate.scope.as_deref())
                .message(format!("not sent: {error}")),
        )?;
        writeln!(self.out, "    {}d: no: not sent: {error}", self.verb)?;
        writeln!(self.out, "    action:  {} it by hand at {dashboard}", self.verb)?;
        Ok(Disabled::NotDone(super::flow::Reason::Failed))
    }
}

/// The audit outcome of a done action: `delete` → `deleted`, `disable` → `disabled`.
fn action_outcome(action: &str) -> &'static str {
    match action {
        "disable" => "disabled",
        _ => "deleted",
    }
}

/// A provider's key management: listing the organisation's keys with an admin credential, matching a leaked key
/// against them, and disabling one. The flow ([`super::flow`]) does the rest: proof, dry run, confirmation,
/// audit log, closing table.
pub trait Revoker: Sync {
    /// The environment variable holding the admin credential (never the command line).
    fn admin_variable(&self) -> &'static str;
    /// What the credential is, for the error when it is missing: `an OpenAI admin key (sk-admin-...)`.
    fn admin_description(&self) -> &'static str;
    /// Where such a credential is made.
    fn admin_keys_url(&self) -> &'static str;
    /// The API the admin credential goes to, when it is not the provider's own (xAI's Management API), with
    /// the name of the variable that replaces its base (`KEYHOUND_XAI_MANAGEMENT_API_BASE`).
    fn admin_api(&self) -> Option<(Api, &'static str)> {
        None
    }
    /// Where the provider names a key's organisation, for messages: `openai-organization header`.
    fn organization_evidence(&self) -> &'static str;
    /// `Some(why)` when the API cannot act on this key and a person must (an admin key the Admin API cannot
    /// disable).
    fn by_hand(&self, _key: &LeakedKey) -> Option<String> {
        None
    }
    /// Lists what matching `keys` (the live or unknown ones) needs, within `budget`. A failure stops the run
    /// before anything is done.
    fn inventory(
        &self,
        client: &Client,
        admin: &Secret,
        keys: &[(&LeakedKey, &Probe)],
        budget: &mut ListBudget,
    ) -> Result<Inventory, ListError>;
    /// The pool of listed keys a leaked key is matched in (`project`, `admin`).
    fn pool(&self, key: &LeakedKey) -> &'static str;
    /// Could `candidate` be `key` (its hint fits, its scope is the one the probe named)?
    fn fits(&self, candidate: &Candidate, key: &LeakedKey, probe: &Probe) -> bool;
    /// How many random characters of the key the candidate's hint shows: a single match proves the key only if a
    /// key of another organisation could not share them by chance (see [`super::flow`]).
    fn random_shown(&self, candidate: &Candidate) -> usize;
    /// Evidence from the listing itself that `candidate` is `key` (a listed digest of the whole key), said for
    /// people; `None` when the listing holds none.
    fn proves(&self, _candidate: &Candidate, _key: &LeakedKey) -> Option<String> {
        None
    }
    /// How the searched pool is described when nothing matches: `12 listed project keys (...)`.
    fn searched(&self, key: &LeakedKey, pool: &[&Candidate]) -> String;
    /// What is disabled, for people: `project API key`, `API key`.
    fn what(&self, key: &LeakedKey) -> &'static str;
    /// The verb of the action: `delete` or `disable`.
    fn verb(&self) -> &'static str {
        "delete"
    }
    /// The order keys are handled in (lower first): admin keys after others.
    fn order(&self, _key: &LeakedKey) -> u8 {
        0
    }
    /// Notes for the dry run's plan (what a refusal would lead to).
    fn plan_notes(&self, _candidate: &Candidate, _pool: &[&Candidate], _settings: &Settings) -> Vec<String> {
        Vec::new()
    }
    /// Disables `candidate` (the proven match of `key`), writing what happened; `pool` is every listed key of its
    /// pool.
    fn disable(
        &self,
        acting: &mut Acting<'_>,
        key: &LeakedKey,
        candidate: &Candidate,
        pool: &[&Candidate],
    ) -> Result<Disabled, FlowError>;
    /// The answer that confirms a key dead, for messages: `401 invalid_api_key`.
    fn dead_answer(&self) -> &'static str;
}

/// What most providers' answers mean, as their references document them. A provider module supplies `dead`, the
/// answers it documents for an invalid or revoked key (a description of the answer, for the reason), and
/// `accepted`, the non-2xx answers that still show the key was accepted (out of credit).
pub struct Answers {
    pub dead: fn(&Reply) -> Option<&'static str>,
    pub accepted: fn(&Reply) -> Option<&'static str>,
}

/// Classifies an answer with `answers`: `live` on 2xx or an `accepted` answer; `dead` on a `dead` one; `unknown`
/// with the reason for everything else (rate limits after the retries, 5xx, other statuses).
pub fn classify_with(reply: &Reply, answers: &Answers) -> Probe {
    let endpoint = format!("{} {}", reply.method, reply.path);
    let no_verdict = if reply.out_of_time {
        "no verdict: the time budget (--verify-timeout) ran out before another try"
    } else {
        "no verdict"
    };
    let (liveness, reason) = if reply.is_success() {
        (Liveness::Live, format!("accepted by {endpoint} ({})", reply.status))
    } else if let Some(what) = (answers.accepted)(reply) {
        (Liveness::Live, format!("accepted by {endpoint}, but {what}"))
    } else if let Some(what) = (answers.dead)(reply) {
        (Liveness::Dead, format!("rejected by {endpoint} as invalid ({what})"))
    } else if reply.status == 429 {
        (
            Liveness::Unknown,
            format!(
                "rate limited by {endpoint} (429) after {} tries: {no_verdict}: {}",
                reply.tries,
                reply.message()
            ),
        )
    } else if reply.status >= 500 {
        (
            Liveness::Unknown,
            format!(
                "{endpoint} answered {} after {} tries: {no_verdict}: {}",
                reply.status,
                reply.tries,
                reply.message()
            ),
        )
    } else {
        (
            Liveness::Unknown,
            format!("{endpoint} answered {}: {}", reply.status, reply.message()),
        )
    };
    Probe {
        liveness,
        reason,
        status: Some(reply.status),
        request_id: reply.request_id.clone(),
        organization: None,
        workspace: None,
        key_id: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every provider the built-in rules name has a module: a check, or a stated reason why there is none.
    #[test]
    fn every_rules_provider_has_a_module() {
        let rules = crate::rules::RuleSet::builtin().expect("built-in rules");
        for rule in rules.rules() {
            assert!(
                find(&rule.provider).is_some(),
                "rule {} names provider {} that has no module in revoke::provider",
                rule.id,
                rule.provider
            );
        }
        let mut names: Vec<&str> = all().iter().map(|p| p.name()).collect();
        names.sort_unstable();
        let count = names.len();
        names.dedup();
        assert_eq!(names.len(), count, "provider names are unique");
    }
}
