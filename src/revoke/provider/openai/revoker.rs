//! Deleting a leaked OpenAI key through the Administration API: project keys with
//! `DELETE /v1/organization/projects/{project_id}/api_keys/{key_id}`, admin keys with
//! `DELETE /v1/organization/admin_api_keys/{key_id}`, and, only with `--delete-service-accounts`, the service
//! account that owns a key OpenAI will not delete alone (`DELETE .../service_accounts/{id}`).

use crate::finding::Secret;
use crate::revoke::client::{BadSegment, Client, Reply, RetryPolicy, segment};
use crate::revoke::flow::{FlowError, Reason, Settings};
use crate::revoke::hint::redacted_matches;
use crate::revoke::keys::LeakedKey;
use crate::revoke::listing::{Credential, ListBudget, ListError};
use crate::revoke::provider::{Acting, Candidate, Disabled, Inventory, Provider, Revoker};
use crate::revoke::verify::Probe;

use super::listing::{list_admin_keys, list_project_keys, random_chars_shown};
use super::{ADMIN_KEY_VAR, ADMIN_KEYS_URL, DASHBOARD_URL, OPENAI, ORGANIZATION_HEADER, is_admin};

pub struct OpenAiRevoker;

/// Where OpenAI names a key's organisation.
const EVIDENCE: &str = "openai-organization header";

const CREDENTIAL: Credential = Credential {
    variable: ADMIN_KEY_VAR,
    description: "an admin key (sk-admin-...)",
    url: ADMIN_KEYS_URL,
    organization_header: ORGANIZATION_HEADER,
    cursor: "after",
};

impl Revoker for OpenAiRevoker {
    fn admin_variable(&self) -> &'static str {
        ADMIN_KEY_VAR
    }

    fn admin_description(&self) -> &'static str {
        "an OpenAI admin key (sk-admin-...)"
    }

    fn admin_keys_url(&self) -> &'static str {
        ADMIN_KEYS_URL
    }

    fn organization_evidence(&self) -> &'static str {
        EVIDENCE
    }

    fn inventory(
        &self,
        client: &Client,
        admin: &Secret,
        keys: &[(&LeakedKey, &Probe)],
        budget: &mut ListBudget,
    ) -> Result<Inventory, ListError> {
        let mut inventory = Inventory::default();
        if keys.iter().any(|(k, _)| !is_admin(k)) {
            let listed = list_project_keys(client, admin, &CREDENTIAL, budget)?;
            inventory.candidates.extend(listed.items.iter().map(|k| k.candidate()));
            inventory.organization = listed.organization;
        }
        if keys.iter().any(|(k, _)| is_admin(k)) {
            let listed = list_admin_keys(client, admin, &CREDENTIAL, budget)?;
            inventory.candidates.extend(listed.items.iter().map(|k| k.candidate()));
            inventory.organization = inventory.organization.or(listed.organization);
        }
        Ok(inventory)
    }

    fn pool(&self, key: &LeakedKey) -> &'static str {
        if is_admin(key) { "admin" } else { "project" }
    }

    fn fits(&self, candidate: &Candidate, key: &LeakedKey, _probe: &Probe) -> bool {
        candidate
            .hint
            .as_deref()
            .is_some_and(|hint| redacted_matches(hint, key.secret.expose()))
    }

    fn random_shown(&self, candidate: &Candidate) -> usize {
        candidate.hint.as_deref().map_or(0, random_chars_shown)
    }

    fn searched(&self, key: &LeakedKey, pool: &[&Candidate]) -> String {
        if is_admin(key) {
            format!("{} listed admin keys", pool.len())
        } else {
            let archived = pool.iter().filter(|c| c.archived).count();
            format!(
                "{} listed project keys (archived projects included: {archived} of them)",
                pool.len()
            )
        }
    }

    fn what(&self, key: &LeakedKey) -> &'static str {
        if is_admin(key) { "admin key" } else { "project API key" }
    }

    fn order(&self, key: &LeakedKey) -> u8 {
        u8::from(is_admin(key))
    }

    fn plan_notes(&self, candidate: &Candidate, pool: &[&Candidate], settings: &Settings) -> Vec<String> {
        let Some(sa) = &candidate.group else {
            return Vec::new();
        };
        let siblings = siblings(candidate, pool);
        let then = if settings.delete_service_accounts {
            format!("keyhound would then delete service account {sa} with its {siblings} key(s) in this project")
        } else {
            format!(
                "--delete-service-accounts would delete service account {sa} with its {siblings} key(s) in this project"
            )
        };
        vec![format!(
            "a service account owns this key; if OpenAI refuses to delete the key alone, {then}"
        )]
    }

    fn disable(
        &self,
        acting: &mut Acting<'_>,
        key: &LeakedKey,
        candidate: &Candidate,
        pool: &[&Candidate],
    ) -> Result<Disabled, FlowError> {
        let what = self.what(key);
        let id = candidate.id.as_str();
        let dashboard = OPENAI.dashboard(key);
        // Paths carry the ids as listed; `id` and the scope are their forms cleaned for display.
        let path = match &candidate.listed_scope {
            Some(project) => segments(&[project, &candidate.listed_id])
                .map(|s| format!("/v1/organization/projects/{}/api_keys/{}", s[0], s[1])),
            None => segments(&[&candidate.listed_id]).map(|s| format!("/v1/organization/admin_api_keys/{}", s[0])),
        };
        let path = match path {
            Ok(path) => path,
            Err(error) => return acting.unsendable(key, candidate, &error, dashboard),
        };
        let sent = acting.logged(
            key,
            "delete",
            "delete-attempt",
            &format!("DELETE {path}"),
            candidate,
            None,
            &|client, admin| client.delete(&path, admin, RetryPolicy::STANDARD),
            &deleted_flag,
        )?;
        match sent {
            Ok(reply) if reply.status == 400 && candidate.group.is_some() && is_service_account_refusal(&reply) => {
                writeln!(
                    acting.out,
                    "    deleted: no: OpenAI refuses to delete a service account's key alone: {}{}",
                    reply.message(),
                    reply.request_note()
                )?;
                let sa = candidate.group.as_deref().unwrap_or_default();
                let siblings = siblings(candidate, pool);
                if !acting.settings.delete_service_accounts {
                    writeln!(
                        acting.out,
                        "    action:  run again with --delete-service-accounts to delete service account {sa} \
                         (and its {siblings} key(s) in this project), or delete the key at {DASHBOARD_URL}"
                    )?;
                    return Ok(Disabled::NotDone(Reason::ServiceAccount));
                }
                delete_service_account(acting, key, candidate, siblings)
            }
            sent => acting.settle(sent, &deleted_flag, &format!("{what} {id}"), dashboard),
        }
    }

    fn dead_answer(&self) -> &'static str {
        "401 invalid_api_key"
    }
}

/// How many keys of the candidate's project its service account owns.
fn siblings(candidate: &Candidate, pool: &[&Candidate]) -> usize {
    pool.iter()
        .filter(|c| c.scope == candidate.scope && c.group.is_some() && c.group == candidate.group)
        .count()
}

/// Deletes the service account that owns the matched key, with its `siblings` keys.
fn delete_service_account(
    acting: &mut Acting<'_>,
    key: &LeakedKey,
    candidate: &Candidate,
    siblings: usize,
) -> Result<Disabled, FlowError> {
    let (Some(project_id), Some(listed_project), Some(sa), Some(listed_sa)) = (
        candidate.scope.as_deref(),
        candidate.listed_scope.as_deref(),
        candidate.group.as_deref(),
        candidate.listed_group.as_deref(),
    ) else {
        return Ok(Disabled::NotDone(Reason::Failed));
    };
    writeln!(
        acting.out,
        "    service account: deleting {sa} and its {siblings} key(s) in project {project_id} \
         (--delete-service-accounts)"
    )?;
    let path = match segments(&[listed_project, listed_sa]) {
        Ok(s) => format!("/v1/organization/projects/{}/service_accounts/{}", s[0], s[1]),
        Err(error) => return acting.unsendable(key, candidate, &error, DASHBOARD_URL),
    };
    let sent = acting.logged(
        key,
        "service-account-delete",
        "service-account-delete-attempt",
        &format!("DELETE {path}"),
        candidate,
        Some(sa),
        &|client, admin| client.delete(&path, admin, RetryPolicy::STANDARD),
        &deleted_flag,
    )?;
    acting.settle(sent, &deleted_flag, &format!("service account {sa}"), DASHBOARD_URL)
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
