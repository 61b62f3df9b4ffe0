//! xAI: the liveness probe (`GET https://api.x.ai/v1/api-key`), and deleting a leaked key through the
//! Management API with a management key from `XAI_MANAGEMENT_KEY`.
//!
//! Reference: xAI's REST API reference (docs.x.ai/developers/rest-api-reference, its `openapi.json`: `GET
//! /v1/api-key` answers `api_key_id`, `team_id`, `redacted_api_key`, `api_key_disabled`, `api_key_blocked`,
//! `team_blocked`; 400 "an invalid API key is provided"), its debugging page (400 "An incorrect API key is
//! supplied", 401 no or invalid authorisation) and the Management API reference
//! (docs.x.ai/developers/rest-api-reference/management/auth: base `https://management-api.x.ai`, `GET
//! /auth/teams/{teamId}/api-keys`, `DELETE /auth/api-keys/{apiKeyId}`, the key object's camelCase fields). The
//! parts relied on are vendored in `tests/openapi/xai-management.yaml`.
//!
//! The leaked key's own probe names its id and its team, so matching is exact and the proof is the team: the
//! key is deleted only when the management key lists the key in that team. Not documented, and read leniently:
//! the listing's envelope (`apiKeys`; `data` or a bare array are accepted too) and its pagination (a
//! `nextPageToken` is followed as `pageToken` when there is one).

use std::collections::HashSet;

use serde::Deserialize;
use serde_json::Value;

use crate::finding::{Liveness, Secret};
use crate::revoke::client::{AuthStyle, Client, Reply, RetryPolicy, query_value, segment};
use crate::revoke::flow::FlowError;
use crate::revoke::keys::LeakedKey;
use crate::revoke::listing::{Credential, ListBudget, ListError, MAX_PAGES, listing_error};
use crate::revoke::verify::Probe;

use super::{Acting, Answers, Api, Candidate, Check, Disabled, Inventory, Provider, Revoker, classify_with};

/// The environment variable holding the management key (never the command line).
pub const ADMIN_KEY_VAR: &str = "XAI_MANAGEMENT_KEY";

/// The variable that replaces the Management API's base.
pub const MANAGEMENT_BASE_VAR: &str = "KEYHOUND_XAI_MANAGEMENT_API_BASE";

/// Where keys are deleted by hand.
pub const DASHBOARD_URL: &str = "https://console.x.ai";

pub struct Xai;

pub static XAI: Xai = Xai;

const CREDENTIAL: Credential = Credential {
    variable: ADMIN_KEY_VAR,
    description: "a management key (Console > Settings > Management Keys)",
    url: DASHBOARD_URL,
    organization_header: "",
    cursor: "pageToken",
};

/// 401, or 400 whose error says "Incorrect API key".
fn dead(reply: &Reply) -> Option<&'static str> {
    if reply.status == 401 {
        return Some("401");
    }
    let said = reply
        .error()
        .and_then(|e| e.message)
        .is_some_and(|m| m.contains("Incorrect API key"));
    (reply.status == 400 && said).then_some("400 Incorrect API key")
}

const ANSWERS: Answers = Answers {
    dead,
    accepted: |_| None,
};

/// `GET /v1/api-key`'s answer.
#[derive(Debug, Default, Deserialize)]
struct KeyInfo {
    #[serde(default)]
    api_key_id: Option<String>,
    #[serde(default)]
    team_id: Option<String>,
    #[serde(default)]
    api_key_disabled: bool,
    #[serde(default)]
    api_key_blocked: bool,
    #[serde(default)]
    team_blocked: bool,
}

impl Provider for Xai {
    fn name(&self) -> &'static str {
        "xai"
    }

    fn label(&self) -> &'static str {
        "xAI"
    }

    fn api(&self) -> Api {
        Api {
            default_base: "https://api.x.ai",
            auth: AuthStyle::Bearer,
            headers: &[],
            strip: None,
        }
    }

    fn check(&self, key: &LeakedKey) -> Check {
        if key.kind == "admin-api" {
            return Check::None(
                "xAI documents no read-only request that takes a management key alone (every documented one needs \
                 the team's id)",
            );
        }
        Check::Get("/v1/api-key".into())
    }

    fn classify(&self, _key: &LeakedKey, reply: &Reply) -> Probe {
        let mut probe = classify_with(reply, &ANSWERS);
        if !reply.is_success() {
            return probe;
        }
        let info: KeyInfo = serde_json::from_str(&reply.body).unwrap_or_default();
        let flag = if info.api_key_disabled {
            Some("xAI says the key is disabled (api_key_disabled)")
        } else if info.api_key_blocked {
            Some("xAI says the key is blocked (api_key_blocked)")
        } else if info.team_blocked {
            Some("xAI says the key's team is blocked (team_blocked)")
        } else {
            None
        };
        if let Some(flag) = flag {
            probe.liveness = Liveness::Dead;
            probe.reason = format!("{}, but {flag}", probe.reason);
        }
        let clean = |id: Option<String>| {
            id.map(|id| crate::text::for_message(id.trim()))
                .filter(|id| !id.is_empty())
        };
        probe.organization = clean(info.team_id);
        probe.key_id = clean(info.api_key_id);
        probe
    }

    fn dashboard(&self, _key: &LeakedKey) -> &'static str {
        DASHBOARD_URL
    }

    fn kind_label(&self, key: &LeakedKey) -> String {
        match key.kind.as_str() {
            "admin-api" => "management key".into(),
            "api" => "API key".into(),
            other => format!("{other} key"),
        }
    }

    fn revoker(&self) -> Option<&dyn Revoker> {
        Some(&XaiRevoker)
    }

    fn reference(&self) -> &'static str {
        "https://docs.x.ai/developers/rest-api-reference (GET /v1/api-key); https://docs.x.ai/developers/debugging"
    }
}

pub struct XaiRevoker;

/// A key as the Management API lists it (camelCase).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListedKey {
    api_key_id: String,
    #[serde(default)]
    redacted_api_key: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    team_id: Option<String>,
    #[serde(default)]
    disabled: bool,
}

impl ListedKey {
    fn candidate(&self, team: &str) -> Candidate {
        let shown = |text: &str| crate::text::for_message(text);
        let id = shown(&self.api_key_id);
        let team = self.team_id.as_deref().unwrap_or(team);
        let mut description = id.clone();
        if let Some(name) = self.name.as_deref().filter(|n| !n.is_empty()) {
            description.push_str(&format!(" \"{}\"", shown(name)));
        }
        if let Some(redacted) = &self.redacted_api_key {
            description.push_str(&format!(" [{}]", shown(redacted)));
        }
        description.push_str(&format!(" in team {}", shown(team)));
        if self.disabled {
            description.push_str(" (disabled)");
        }
        Candidate {
            id,
            listed_id: self.api_key_id.clone(),
            hint: self.redacted_api_key.clone(),
            pool: "api",
            scope: Some(shown(team)),
            listed_scope: Some(team.to_string()),
            group: None,
            listed_group: None,
            archived: self.disabled,
            description,
        }
    }
}

/// A page of `GET /auth/teams/{teamId}/api-keys`, read leniently: the envelope is not documented.
fn page_of(body: &str) -> Result<(Vec<ListedKey>, Option<String>), String> {
    let value: Value = serde_json::from_str(body).map_err(|e| format!("unexpected response body: {e}"))?;
    let items = match &value {
        Value::Array(items) => items.clone(),
        Value::Object(map) => map
            .get("apiKeys")
            .or_else(|| map.get("api_keys"))
            .or_else(|| map.get("data"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        _ => return Err("unexpected response body: not a listing".into()),
    };
    let keys = items
        .into_iter()
        .map(serde_json::from_value::<ListedKey>)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("unexpected key in the listing: {e}"))?;
    let next = value
        .get("nextPageToken")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    Ok((keys, next))
}

impl Revoker for XaiRevoker {
    fn admin_variable(&self) -> &'static str {
        ADMIN_KEY_VAR
    }

    fn admin_description(&self) -> &'static str {
        "an xAI management key (Console > Settings > Management Keys)"
    }

    fn admin_keys_url(&self) -> &'static str {
        DASHBOARD_URL
    }

    fn admin_api(&self) -> Option<(Api, &'static str)> {
        Some((
            Api {
                default_base: "https://management-api.x.ai",
                auth: AuthStyle::Bearer,
                headers: &[],
                strip: None,
            },
            MANAGEMENT_BASE_VAR,
        ))
    }

    fn organization_evidence(&self) -> &'static str {
        "team_id in the key's own information"
    }

    fn by_hand(&self, key: &LeakedKey) -> Option<String> {
        (key.kind != "api").then(|| {
            "the Management API does not delete management keys: delete it in the Console (Settings > Management \
             Keys)"
                .to_string()
        })
    }

    /// Lists the keys of each team the leaked keys' probes named. A team the management key may not list (403,
    /// 404) is not the management key's: its keys end as another organisation's. A rejected management key (401)
    /// stops the run.
    fn inventory(
        &self,
        client: &Client,
        admin: &Secret,
        keys: &[(&LeakedKey, &Probe)],
        budget: &mut ListBudget,
    ) -> Result<Inventory, ListError> {
        let mut inventory = Inventory::default();
        let mut teams: Vec<&str> = Vec::new();
        for (_, probe) in keys {
            if let Some(team) = probe.organization.as_deref()
                && !teams.contains(&team)
            {
                teams.push(team);
            }
        }
        for team in teams {
            let path = match segment(team) {
                Ok(team) => format!("/auth/teams/{team}/api-keys"),
                Err(source) => {
                    return Err(ListError::BadId {
                        path: "/v1/api-key".into(),
                        source,
                    });
                }
            };
            match list_team(client, admin, &path, team, budget)? {
                Some(candidates) => {
                    inventory.candidates.extend(candidates);
                    inventory.organization.get_or_insert_with(|| team.to_string());
                }
                None => inventory.refused.push(team.to_string()),
            }
        }
        Ok(inventory)
    }

    fn pool(&self, _key: &LeakedKey) -> &'static str {
        "api"
    }

    /// The listed key whose id the leaked key's own probe named.
    fn fits(&self, candidate: &Candidate, _key: &LeakedKey, probe: &Probe) -> bool {
        probe.key_id.as_deref() == Some(candidate.id.as_str())
    }

    fn random_shown(&self, _candidate: &Candidate) -> usize {
        0
    }

    fn searched(&self, _key: &LeakedKey, pool: &[&Candidate]) -> String {
        format!("{} listed API keys of the key's team", pool.len())
    }

    fn what(&self, _key: &LeakedKey) -> &'static str {
        "API key"
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
            Ok(id) => format!("/auth/api-keys/{id}"),
            Err(error) => return acting.unsendable(key, candidate, &error, DASHBOARD_URL),
        };
        let sent = acting.logged(
            key,
            "delete",
            "delete-attempt",
            &format!("DELETE {path}"),
            candidate,
            None,
            &|client, admin| client.delete(&path, admin, RetryPolicy::STANDARD),
            &|_| true,
        )?;
        acting.settle(sent, &|_| true, &format!("API key {id}"), DASHBOARD_URL)
    }

    fn dead_answer(&self) -> &'static str {
        "400 Incorrect API key"
    }
}

/// Every key of one team, or `None` when the management key may not list that team (403, 404). Bounded like
/// every listing: [`MAX_PAGES`] pages, no page token twice, the run's budget.
fn list_team(
    client: &Client,
    admin: &Secret,
    path: &str,
    team: &str,
    budget: &mut ListBudget,
) -> Result<Option<Vec<Candidate>>, ListError> {
    let mut candidates = Vec::new();
    let mut token: Option<String> = None;
    let mut seen: HashSet<String> = HashSet::new();
    for _ in 0..MAX_PAGES {
        let url = match &token {
            Some(token) => format!("{path}?{}={}", CREDENTIAL.cursor, query_value(token)),
            None => path.to_string(),
        };
        budget.before(&url)?;
        let reply = client.get(&url, admin, RetryPolicy::STANDARD)?;
        budget.spend(&url, reply.body.len())?;
        if matches!(reply.status, 403 | 404) {
            return Ok(None);
        }
        if !reply.is_success() {
            return Err(listing_error(&reply, &CREDENTIAL));
        }
        let (keys, next) = page_of(&reply.body).map_err(|e| ListError::Decode(format!("GET {url}: {e}")))?;
        candidates.extend(keys.iter().map(|k| k.candidate(team)));
        let Some(next) = next else {
            return Ok(Some(candidates));
        };
        if !seen.insert(next.clone()) {
            return Err(ListError::CursorRepeated {
                path: url,
                cursor: crate::text::for_message(&next),
            });
        }
        token = Some(next);
    }
    Err(ListError::TooManyPages { path: path.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listings_are_read_leniently() {
        let (keys, next) = page_of(
            r#"{"apiKeys":[{"apiKeyId":"k1","redactedApiKey":"xai-...b14o","teamId":"t1","disabled":false,"qps":5}],
                "nextPageToken":"p2"}"#,
        )
        .expect("a page");
        assert_eq!((keys.len(), next.as_deref()), (1, Some("p2")));
        assert_eq!(keys[0].candidate("t1").description, "k1 [xai-...b14o] in team t1");
        let (keys, next) = page_of(r#"[{"apiKeyId":"k2"}]"#).expect("a bare array");
        assert_eq!((keys.len(), next), (1, None));
        assert!(page_of(r#"{"apiKeys":[{"name":"no id"}]}"#).is_err());
        assert!(page_of("<html>").is_err());
    }
}
