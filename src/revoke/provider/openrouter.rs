//! OpenRouter: the liveness probe (`GET /api/v1/key`), and disabling a leaked key with a management
//! ("provisioning") key from `OPENROUTER_PROVISIONING_KEY`.
//!
//! Reference: OpenRouter's OpenAPI description (as vendored by OpenRouterTeam/typescript-sdk,
//! `.speakeasy/in.openapi.yaml`; the parts relied on are in `tests/openapi/openrouter-keys.json`) and its API
//! reference pages: `GET /api/v1/key` ("information on the API key associated with the current authentication
//! session": `label`, `limit_remaining`, ...; 401 for an invalid key), `GET /api/v1/keys` (the management key's
//! listing: `include_disabled`, `offset`; keys of the default workspace unless `workspace_id` says otherwise;
//! each with `hash`, `name`, `label`, `disabled`), `PATCH /api/v1/keys/{hash}` with `{"disabled": true}`.
//!
//! Matching and proof: a listed key's `label` may show the key's first and last characters
//! (`sk-or-v1-0e6...1c96`), too few to prove anything; its `hash` is documented only as a "unique hash
//! identifier", and public code computes it as the SHA-256 of the key. A listed key whose hash is the SHA-256 of
//! the leaked key is that key, whoever's it is not in doubt; a key matched by its label alone is "matched, not
//! proven", and nothing is done.

use std::collections::HashSet;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::finding::{Liveness, Secret};
use crate::revoke::client::{AuthStyle, Client, Reply, RetryPolicy, segment};
use crate::revoke::flow::FlowError;
use crate::revoke::hint::redacted_matches;
use crate::revoke::keys::LeakedKey;
use crate::revoke::listing::{Credential, ListBudget, ListError, MAX_PAGES, listing_error};
use crate::revoke::verify::Probe;

use super::{Acting, Answers, Api, Candidate, Check, Disabled, Inventory, Provider, Revoker, classify_with};

/// The environment variable holding the management key (never the command line).
pub const ADMIN_KEY_VAR: &str = "OPENROUTER_PROVISIONING_KEY";

/// Where keys are disabled and deleted by hand.
pub const DASHBOARD_URL: &str = "https://openrouter.ai/settings/keys";

/// Page size of the listing, as OpenRouter's guide describes it ("the most recent 100 API keys").
const PAGE: usize = 100;

const CREDENTIAL: Credential = Credential {
    variable: ADMIN_KEY_VAR,
    description: "a management key (Settings > Management API Keys)",
    url: DASHBOARD_URL,
    organization_header: "",
    cursor: "offset",
};

pub struct OpenRouter;

pub static OPENROUTER: OpenRouter = OpenRouter;

const ANSWERS: Answers = Answers {
    dead: |reply| (reply.status == 401).then_some("401"),
    accepted: |_| None,
};

impl Provider for OpenRouter {
    fn name(&self) -> &'static str {
        "openrouter"
    }

    fn label(&self) -> &'static str {
        "OpenRouter"
    }

    fn api(&self) -> Api {
        Api {
            default_base: "https://openrouter.ai",
            auth: AuthStyle::Bearer,
            headers: &[],
            strip: None,
        }
    }

    fn check(&self, _key: &LeakedKey) -> Check {
        Check::Get("/api/v1/key".into())
    }

    fn classify(&self, _key: &LeakedKey, reply: &Reply) -> Probe {
        let mut probe = classify_with(reply, &ANSWERS);
        if reply.is_success() {
            let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap_or_default();
            let spent = body
                .pointer("/data/limit_remaining")
                .and_then(serde_json::Value::as_f64)
                .is_some_and(|left| left <= 0.0);
            if spent {
                probe.liveness = Liveness::Live;
                probe.reason = format!("{}, but its credit limit is spent (limit_remaining <= 0)", probe.reason);
            }
        }
        probe
    }

    fn dashboard(&self, _key: &LeakedKey) -> &'static str {
        DASHBOARD_URL
    }

    fn kind_label(&self, _key: &LeakedKey) -> String {
        "API key".into()
    }

    fn revoker(&self) -> Option<&dyn Revoker> {
        Some(&OpenRouterRevoker)
    }

    fn reference(&self) -> &'static str {
        "https://openrouter.ai/docs/api/api-reference/api-keys/get-current-key (GET /api/v1/key)"
    }
}

pub struct OpenRouterRevoker;

/// A key as `GET /api/v1/keys` lists it.
#[derive(Debug, Deserialize)]
struct ListedKey {
    hash: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    disabled: bool,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    workspace_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Page {
    #[serde(default)]
    data: Vec<ListedKey>,
}

impl ListedKey {
    fn candidate(&self) -> Candidate {
        let shown = |text: &str| crate::text::for_message(text);
        let id = shown(&self.hash);
        let mut description = id.clone();
        if let Some(name) = self.name.as_deref().filter(|n| !n.is_empty()) {
            description.push_str(&format!(" \"{}\"", shown(name)));
        }
        if let Some(label) = self.label.as_deref().filter(|l| !l.is_empty()) {
            description.push_str(&format!(" [{}]", shown(label)));
        }
        if let Some(created) = &self.created_at {
            description.push_str(&format!(", created {}", shown(created)));
        }
        if self.disabled {
            description.push_str(" (disabled)");
        }
        Candidate {
            id,
            listed_id: self.hash.clone(),
            // Only a label that looks like a shortened key is a hint of its value.
            hint: self.label.clone().filter(|l| l.contains("...")),
            pool: "api",
            scope: self.workspace_id.as_deref().map(shown),
            listed_scope: self.workspace_id.clone(),
            group: None,
            listed_group: None,
            archived: self.disabled,
            description,
        }
    }
}

/// The SHA-256 of a key, in lower-case hex.
fn digest(secret: &Secret) -> String {
    Sha256::digest(secret.expose().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Revoker for OpenRouterRevoker {
    fn admin_variable(&self) -> &'static str {
        ADMIN_KEY_VAR
    }

    fn admin_description(&self) -> &'static str {
        "an OpenRouter management (provisioning) key"
    }

    fn admin_keys_url(&self) -> &'static str {
        DASHBOARD_URL
    }

    fn organization_evidence(&self) -> &'static str {
        "organisation in OpenRouter's answers"
    }

    /// Every page of the default workspace's keys, disabled ones included, by `offset`.
    fn inventory(
        &self,
        client: &Client,
        admin: &Secret,
        _keys: &[(&LeakedKey, &Probe)],
        budget: &mut ListBudget,
    ) -> Result<Inventory, ListError> {
        let mut inventory = Inventory::default();
        let mut seen: HashSet<String> = HashSet::new();
        for page in 0..MAX_PAGES {
            let url = format!("/api/v1/keys?include_disabled=true&offset={}", page * PAGE);
            budget.before(&url)?;
            let reply = client.get(&url, admin, RetryPolicy::STANDARD)?;
            budget.spend(&url, reply.body.len())?;
            if !reply.is_success() {
                return Err(listing_error(&reply, &CREDENTIAL));
            }
            let page: Page = reply.json().map_err(ListError::Decode)?;
            let count = page.data.len();
            let mut new = 0;
            for key in page.data {
                if seen.insert(key.hash.clone()) {
                    new += 1;
                    inventory.candidates.push(key.candidate());
                }
            }
            if count < PAGE {
                return Ok(inventory);
            }
            if new == 0 {
                return Err(ListError::Decode(format!(
                    "GET {url}: a full page of keys already listed (a pagination loop): stopped"
                )));
            }
        }
        Err(ListError::TooManyPages {
            path: "/api/v1/keys".into(),
        })
    }

    fn pool(&self, _key: &LeakedKey) -> &'static str {
        "api"
    }

    /// Its hash is the leaked key's SHA-256, or its label's shown characters fit.
    fn fits(&self, candidate: &Candidate, key: &LeakedKey, _probe: &Probe) -> bool {
        candidate.listed_id.eq_ignore_ascii_case(&digest(&key.secret))
            || candidate
                .hint
                .as_deref()
                .is_some_and(|hint| redacted_matches(hint, key.secret.expose()))
    }

    fn random_shown(&self, candidate: &Candidate) -> usize {
        let Some((prefix, suffix)) = candidate.hint.as_deref().and_then(|h| h.split_once("...")) else {
            return 0;
        };
        prefix.strip_prefix("sk-or-v1-").unwrap_or(prefix).chars().count() + suffix.chars().count()
    }

    fn proves(&self, candidate: &Candidate, key: &LeakedKey) -> Option<String> {
        candidate
            .listed_id
            .eq_ignore_ascii_case(&digest(&key.secret))
            .then(|| "the listed key's hash is the SHA-256 of the leaked key: it is that key".to_string())
    }

    fn searched(&self, _key: &LeakedKey, pool: &[&Candidate]) -> String {
        let disabled = pool.iter().filter(|c| c.archived).count();
        format!(
            "{} listed API keys of the default workspace ({disabled} of them disabled)",
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
            Ok(hash) => format!("/api/v1/keys/{hash}"),
            Err(error) => return acting.unsendable(key, candidate, &error, DASHBOARD_URL),
        };
        let body = serde_json::json!({"disabled": true});
        let sent = acting.logged(
            key,
            "disable",
            "disable-attempt",
            &format!("PATCH {path} {{\"disabled\": true}}"),
            candidate,
            None,
            &|client, admin| client.patch(&path, admin, &body, RetryPolicy::STANDARD),
            &disabled_flag,
        )?;
        acting.settle(sent, &disabled_flag, &format!("API key {id}"), DASHBOARD_URL)
    }

    fn dead_answer(&self) -> &'static str {
        "401"
    }
}

/// Does an update's answer say `"disabled": true` (in `data`)?
fn disabled_flag(reply: &Reply) -> bool {
    serde_json::from_str::<serde_json::Value>(&reply.body)
        .ok()
        .and_then(|body| body.pointer("/data/disabled").and_then(serde_json::Value::as_bool))
        == Some(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_is_proof_and_a_label_only_a_hint() {
        let key = "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";
        let listed: ListedKey = serde_json::from_str(&format!(
            r#"{{"hash":"{}","name":"prod","label":"sk-or-v1-0e6...1c96","disabled":false}}"#,
            digest(&Secret::new(key))
        ))
        .expect("a listed key");
        let candidate = listed.candidate();
        assert_eq!(candidate.hint.as_deref(), Some("sk-or-v1-0e6...1c96"));
        assert_eq!(OpenRouterRevoker.random_shown(&candidate), 7);
        let leaked = LeakedKey {
            secret: Secret::new(key),
            provider: "openrouter".into(),
            rule_id: "openrouter-api-key".into(),
            kind: "api".into(),
            redacted: "x".into(),
            fingerprint: crate::finding::Fingerprint::of("openrouter-api-key", key),
            places: vec![],
            endpoint: None,
        };
        assert!(OpenRouterRevoker.proves(&candidate, &leaked).is_some());
        let other = ListedKey {
            hash: "f01d52606dc8f0a8303a7b5cc3fa07109c2e346cec7c0a16b40de462992ce943".into(),
            ..listed
        };
        let other = other.candidate();
        assert!(OpenRouterRevoker.proves(&other, &leaked).is_none());
        assert!(OpenRouterRevoker.fits(&other, &leaked, &Probe::unknown(String::new())));
        // A label that is a name, not a shortened key, is no hint.
        let named: ListedKey =
            serde_json::from_str(r#"{"hash":"abc","label":"Production API Key"}"#).expect("a listed key");
        assert_eq!(named.candidate().hint, None);
    }
}
