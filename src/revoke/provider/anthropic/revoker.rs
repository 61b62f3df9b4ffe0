//! Disabling a leaked Anthropic API key through the Admin API, with an admin key from `ANTHROPIC_ADMIN_KEY`.
//!
//! Reference (the parts relied on are vendored in `tests/openapi/anthropic-admin.json`, with their sources):
//!
//! - `GET /v1/organizations/me`: the organisation of the admin key (`id`).
//! - `GET /v1/organizations/api_keys?limit=1000[&after_id=...]`: every key, no filter (so every status and every
//!   workspace), paged with `has_more` and `last_id`. A key shows `partial_key_hint` (the published example,
//!   `sk-ant-api03-R2D...igAA`, shows 16 leading and 4 trailing characters: about 5 random ones, enough to find a
//!   candidate, never to prove one) and its workspace (`scope.workspace_id`, or the older `workspace_id`).
//! - `POST /v1/organizations/api_keys/{api_key_id}` with `{"status": "inactive"}`: the Admin API has no delete.
//! - Every response carries `anthropic-organization-id`, "the ID of the organization that the API key ... used in
//!   the request belongs to", and (for keys that resolve to one) `anthropic-workspace-id`: the leaked key's probe
//!   says whose it is, and in which workspace.
//!
//! Admin keys (`sk-ant-admin01-`) cannot be disabled through the Admin API, nor can Claude sign-in tokens: those
//! are left to a person with the Console's link.

use serde::Deserialize;

use crate::finding::Secret;
use crate::revoke::client::{Client, Reply, RetryPolicy, segment};
use crate::revoke::flow::FlowError;
use crate::revoke::hint::redacted_matches;
use crate::revoke::keys::LeakedKey;
use crate::revoke::listing::{
    Credential, Identified, ListBudget, ListError, Listed, clean_opt, list_all, listing_error,
};
use crate::revoke::provider::{Acting, Candidate, Disabled, Inventory, Revoker};
use crate::revoke::verify::Probe;

use super::{ADMIN_KEYS_URL, DASHBOARD_URL, ORGANIZATION_HEADER};

/// The environment variable holding the admin key (never the command line).
pub const ADMIN_KEY_VAR: &str = "ANTHROPIC_ADMIN_KEY";

/// Page size for the listing (the documented maximum).
const PAGE_LIMIT: u32 = 1000;

const CREDENTIAL: Credential = Credential {
    variable: ADMIN_KEY_VAR,
    description: "an Admin API key (sk-ant-admin01-...)",
    url: ADMIN_KEYS_URL,
    organization_header: ORGANIZATION_HEADER,
    cursor: "after_id",
};

pub struct AnthropicRevoker;

/// Where Anthropic names a key's organisation.
const EVIDENCE: &str = "anthropic-organization-id header";

/// `scope`: the key's workspace (`{"type": "workspace", "workspace_id": ...}`), or the organisation.
#[derive(Debug, Clone, Default, Deserialize)]
struct Scope {
    #[serde(default)]
    workspace_id: Option<String>,
}

/// `created_by`: who made the key.
#[derive(Debug, Clone, Default, Deserialize)]
struct Actor {
    #[serde(default)]
    id: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

/// An API key as the Admin API lists it. Every field but `id` is optional, and enums are open.
#[derive(Debug, Clone, Deserialize)]
struct ApiKey {
    /// As listed: for request paths only, never shown.
    id: String,
    /// `id` through the choke point for outside text: for people.
    #[serde(skip)]
    shown_id: String,
    #[serde(default)]
    name: Option<String>,
    /// `active`, `inactive`, `archived`, `expired`.
    #[serde(default)]
    status: Option<String>,
    /// Deprecated: `null` for the default workspace.
    #[serde(default)]
    workspace_id: Option<String>,
    #[serde(default)]
    scope: Option<Scope>,
    #[serde(default)]
    partial_key_hint: Option<String>,
    #[serde(skip)]
    listed_hint: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    created_by: Option<Actor>,
}

impl ApiKey {
    /// The workspace, as listed: `scope.workspace_id`, else `workspace_id`.
    fn listed_workspace(&self) -> Option<&str> {
        self.scope
            .as_ref()
            .and_then(|s| s.workspace_id.as_deref())
            .or(self.workspace_id.as_deref())
    }

    fn candidate(&self) -> Candidate {
        let shown_workspace = self.listed_workspace().map(crate::text::for_message);
        let mut description = self.shown_id.clone();
        if let Some(name) = self.name.as_deref().filter(|n| !n.is_empty()) {
            description.push_str(&format!(" \"{name}\""));
        }
        if let Some(hint) = &self.partial_key_hint {
            description.push_str(&format!(" [{hint}]"));
        }
        match &shown_workspace {
            Some(workspace) => description.push_str(&format!(" in workspace {workspace}")),
            None => description.push_str(" in the default workspace"),
        }
        description.push_str(&format!(", status {}", self.status.as_deref().unwrap_or("unknown")));
        if let Some(actor) = &self.created_by {
            let kind = actor.kind.as_deref().unwrap_or("actor").replace('_', " ");
            description.push_str(&format!(
                ", created by {kind} {}",
                actor.id.as_deref().unwrap_or("(unknown)")
            ));
        }
        if let Some(created) = &self.created_at {
            description.push_str(&format!(" at {created}"));
        }
        Candidate {
            id: self.shown_id.clone(),
            listed_id: self.id.clone(),
            hint: self.listed_hint.clone(),
            pool: "api",
            scope: shown_workspace,
            listed_scope: self.listed_workspace().map(str::to_string),
            group: None,
            listed_group: None,
            archived: self.status.as_deref().is_some_and(|s| s != "active"),
            description,
        }
    }
}

impl Identified for ApiKey {
    fn id(&self) -> &str {
        &self.id
    }

    fn clean(&mut self) {
        self.shown_id = crate::text::for_message(&self.id);
        self.listed_hint = self.partial_key_hint.clone();
        for text in [
            &mut self.name,
            &mut self.status,
            &mut self.partial_key_hint,
            &mut self.created_at,
        ] {
            clean_opt(text);
        }
        if let Some(actor) = self.created_by.as_mut() {
            clean_opt(&mut actor.id);
            clean_opt(&mut actor.kind);
        }
    }
}

/// `GET /v1/organizations/me`.
#[derive(Debug, Deserialize)]
struct Organization {
    #[serde(default)]
    id: Option<String>,
}

/// How many random characters an Anthropic key hint shows: the part of the prefix after the key's family
/// (`sk-ant-api03-`), and the suffix without the `AA` every key ends with.
pub fn random_chars_shown(hint: &str) -> usize {
    let Some((prefix, suffix)) = hint.split_once("...") else {
        return 0;
    };
    let random_prefix = prefix
        .strip_prefix("sk-ant-")
        .and_then(|rest| rest.split_once('-').map(|(_, random)| random))
        .unwrap_or(prefix);
    let random_suffix = suffix.strip_suffix("AA").unwrap_or(suffix);
    random_prefix.chars().count() + random_suffix.chars().count()
}

impl Revoker for AnthropicRevoker {
    fn admin_variable(&self) -> &'static str {
        ADMIN_KEY_VAR
    }

    fn admin_description(&self) -> &'static str {
        "an Anthropic Admin API key (sk-ant-admin01-...)"
    }

    fn admin_keys_url(&self) -> &'static str {
        ADMIN_KEYS_URL
    }

    fn organization_evidence(&self) -> &'static str {
        EVIDENCE
    }

    fn by_hand(&self, key: &LeakedKey) -> Option<String> {
        match key.kind.as_str() {
            "api" => None,
            "admin-api" => {
                Some("the Admin API cannot disable admin keys: an organisation admin deletes it in the Console".into())
            }
            "enterprise-admin" => Some(
                "a Claude Enterprise admin key is managed only by the organisation's primary owner in claude.ai".into(),
            ),
            _ => Some("the Admin API manages API keys only; sign the account out of its Claude sessions".into()),
        }
    }

    fn inventory(
        &self,
        client: &Client,
        admin: &Secret,
        _keys: &[(&LeakedKey, &Probe)],
        budget: &mut ListBudget,
    ) -> Result<Inventory, ListError> {
        const ME: &str = "/v1/organizations/me";
        let reply = client.get(ME, admin, RetryPolicy::STANDARD)?;
        if !reply.is_success() {
            return Err(listing_error(&reply, &CREDENTIAL));
        }
        let me: Organization = reply.json().map_err(ListError::Decode)?;
        let listed: Listed<ApiKey> = list_all(
            client,
            admin,
            &CREDENTIAL,
            PAGE_LIMIT,
            "/v1/organizations/api_keys",
            "",
            budget,
        )?;
        Ok(Inventory {
            candidates: listed.items.iter().map(ApiKey::candidate).collect(),
            // The header, as on the leaked key's probe; the body of /me where a server sends no header.
            organization: reply.header(ORGANIZATION_HEADER).or(listed.organization).or_else(|| {
                me.id
                    .map(|id| crate::text::for_message(id.trim()))
                    .filter(|id| !id.is_empty())
            }),
            refused: Vec::new(),
        })
    }

    fn pool(&self, _key: &LeakedKey) -> &'static str {
        "api"
    }

    /// The hint fits, and where the probe named the key's workspace, the listed key is in that workspace.
    fn fits(&self, candidate: &Candidate, key: &LeakedKey, probe: &Probe) -> bool {
        let hint_fits = candidate
            .hint
            .as_deref()
            .is_some_and(|hint| redacted_matches(hint, key.secret.expose()));
        let workspace_fits = match (probe.workspace.as_deref(), candidate.scope.as_deref()) {
            (Some(probed), Some(listed)) => probed == listed,
            _ => true,
        };
        hint_fits && workspace_fits
    }

    fn random_shown(&self, candidate: &Candidate) -> usize {
        candidate.hint.as_deref().map_or(0, random_chars_shown)
    }

    fn searched(&self, _key: &LeakedKey, pool: &[&Candidate]) -> String {
        let inactive = pool.iter().filter(|c| c.archived).count();
        format!(
            "{} listed API keys (every workspace and status: {inactive} of them not active)",
            pool.len()
        )
    }

    fn what(&self, _key: &LeakedKey) -> &'static str {
        "API key"
    }

    fn verb(&self) -> &'static str {
        "disable"
    }

    fn disable(
        &self,
        acting: &mut Acting<'_>,
        key: &LeakedKey,
        candidate: &Candidate,
        _pool: &[&Candidate],
    ) -> Result<Disabled, FlowError> {
        let id = candidate.id.as_str();
        let path = match segment(&candidate.listed_id) {
            Ok(id) => format!("/v1/organizations/api_keys/{id}"),
            Err(error) => return acting.unsendable(key, candidate, &error, DASHBOARD_URL),
        };
        let body = serde_json::json!({"status": "inactive"});
        let sent = acting.logged(
            key,
            "disable",
            "disable-attempt",
            &format!("POST {path} {{\"status\": \"inactive\"}}"),
            candidate,
            None,
            &|client, admin| client.post(&path, admin, &body, RetryPolicy::STANDARD),
            &inactive,
        )?;
        acting.settle(
            sent,
            &inactive,
            &format!("API key {id} (status inactive)"),
            DASHBOARD_URL,
        )
    }

    fn dead_answer(&self) -> &'static str {
        "401 authentication_error"
    }
}

/// Does an update's answer say the key is now `inactive`?
fn inactive(reply: &Reply) -> bool {
    serde_json::from_str::<serde_json::Value>(&reply.body)
        .ok()
        .and_then(|body| body.get("status").and_then(|s| s.as_str().map(str::to_string)))
        .as_deref()
        == Some("inactive")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_show_few_random_characters() {
        assert_eq!(random_chars_shown("sk-ant-api03-R2D...igAA"), 5);
        assert_eq!(random_chars_shown("sk-ant-api03-R2DxxxxxxxxxxxxxxxY...igAA"), 21);
        assert_eq!(random_chars_shown("no hint"), 0);
    }

    #[test]
    fn listed_keys_become_candidates() {
        let mut key: ApiKey = serde_json::from_str(
            r#"{"id":"apikey_01","type":"api_key","name":"CI","status":"active","workspace_id":null,
                "scope":{"type":"workspace","workspace_id":"wrkspc_01"},"partial_key_hint":"sk-ant-api03-R2D...igAA",
                "created_at":"2024-10-30T23:58:27Z","created_by":{"id":"user_01","type":"user"}}"#,
        )
        .expect("an api key");
        key.clean();
        let candidate = key.candidate();
        assert_eq!(candidate.scope.as_deref(), Some("wrkspc_01"));
        assert_eq!(candidate.hint.as_deref(), Some("sk-ant-api03-R2D...igAA"));
        assert!(!candidate.archived);
        assert!(
            candidate.description.starts_with("apikey_01 \"CI\" [sk-ant-api0"),
            "{}",
            candidate.description
        );
        assert!(
            candidate
                .description
                .contains("in workspace wrkspc_01, status active, created by user user_01")
        );
        // The older shape: no scope, workspace_id null for the default workspace; unknown fields are ignored.
        let old: ApiKey =
            serde_json::from_str(r#"{"id":"apikey_02","workspace_id":null,"status":"archived","principal":null}"#)
                .expect("an old api key");
        assert_eq!(old.listed_workspace(), None);
        assert!(old.candidate().archived);
    }
}
