//! Listing the OpenAI organisation's projects, their API keys and the admin keys with the admin key, as the
//! Administration API documents them (`tests/openapi/admin-api.json`), as candidates for the flow.
//!
//! OpenAI never returns a key's value, only `redacted_value` (`sk-abc...def`), matched with [`crate::revoke::hint`].

use serde::Deserialize;

use crate::finding::Secret;
use crate::revoke::audit::unix_to_rfc3339;
use crate::revoke::client::{Client, segment};
use crate::revoke::listing::{Credential, Identified, ListBudget, ListError, Listed, clean, clean_opt, list_all};
use crate::revoke::provider::Candidate;

/// Page size for every listing (the API's maximum).
pub const PAGE_LIMIT: u32 = 100;

#[derive(Debug, Clone, Deserialize)]
pub struct Project {
    /// As shown: through the choke point for outside text.
    pub id: String,
    /// `id` exactly as listed, for requests only: never shown.
    #[serde(skip)]
    listed_id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// `active` or `archived`.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub archived_at: Option<i64>,
}

impl Project {
    /// The id to send back in a request path: as listed (an id cleaned for display is another string).
    pub fn request_id(&self) -> &str {
        self.listed_id.as_deref().unwrap_or(&self.id)
    }

    pub fn is_archived(&self) -> bool {
        self.archived_at.is_some() || self.status.as_deref() == Some("archived")
    }
}

impl Identified for Project {
    fn id(&self) -> &str {
        self.request_id()
    }

    fn clean(&mut self) {
        self.listed_id = Some(self.id.clone());
        clean(&mut self.id);
        clean_opt(&mut self.name);
        clean_opt(&mut self.status);
    }
}

/// A user or service account owning a key.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Person {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

/// A key's owner: `type` is `user` or `service_account`, with the matching object. Admin keys describe their
/// owner inline (`id`, `name`, `type`); every field is optional, as OpenAI's own SDKs treat them.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Owner {
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub user: Option<Person>,
    #[serde(default)]
    pub service_account: Option<Person>,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

impl Owner {
    pub fn is_service_account(&self) -> bool {
        self.kind.as_deref() == Some("service_account")
    }

    /// The service account's id, when a service account owns the key.
    pub fn service_account_id(&self) -> Option<&str> {
        if !self.is_service_account() {
            return None;
        }
        self.service_account
            .as_ref()
            .and_then(|sa| sa.id.as_deref())
            .or(self.id.as_deref())
    }

    /// `user Alice Example <alice@example.com> (user_abc)`, `service account "ci" (svc_acct_abc)`.
    pub fn describe(&self) -> String {
        let inline = Person {
            id: self.id.clone(),
            name: self.name.clone(),
            email: self.email.clone(),
        };
        let (label, person) = match self.kind.as_deref() {
            Some("service_account") => ("service account", self.service_account.as_ref().unwrap_or(&inline)),
            Some("user") => ("user", self.user.as_ref().unwrap_or(&inline)),
            Some(other) => (other, &inline),
            None => ("owner", self.user.as_ref().unwrap_or(&inline)),
        };
        let mut text = label.replace('_', " ");
        if let Some(name) = person.name.as_deref().filter(|n| !n.is_empty()) {
            text.push_str(&format!(" \"{name}\""));
        }
        if let Some(email) = person.email.as_deref().filter(|e| !e.is_empty()) {
            text.push_str(&format!(" <{email}>"));
        }
        if let Some(id) = person.id.as_deref() {
            text.push_str(&format!(" ({id})"));
        }
        if person.name.is_none() && person.email.is_none() && person.id.is_none() {
            text.push_str(" (unknown)");
        }
        text
    }
}

/// A key as the Administration API lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct ApiKey {
    /// As shown: through the choke point for outside text.
    pub id: String,
    /// `id` exactly as listed, for requests only: never shown.
    #[serde(skip)]
    listed_id: Option<String>,
    /// The owning service account's id exactly as listed, for requests only: never shown.
    #[serde(skip)]
    listed_service_account_id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// As shown: through the choke point for outside text, which may redact part of it.
    #[serde(default)]
    pub redacted_value: Option<String>,
    /// `redacted_value` exactly as listed, for matching only: never shown. (Redaction for display may cut out a
    /// long shown prefix, which matching needs.)
    #[serde(skip)]
    pub listed_value: Option<String>,
    #[serde(default)]
    pub created_at: Option<i64>,
    #[serde(default)]
    pub last_used_at: Option<i64>,
    #[serde(default)]
    pub owner: Owner,
}

impl ApiKey {
    /// The id to send back in a request path: as listed.
    pub fn request_id(&self) -> &str {
        self.listed_id.as_deref().unwrap_or(&self.id)
    }

    /// The owning service account's id to send back in a request path: as listed.
    pub fn request_service_account_id(&self) -> Option<&str> {
        self.listed_service_account_id
            .as_deref()
            .or_else(|| self.owner.service_account_id())
    }

    /// The redacted value to match leaked keys against: as listed.
    pub fn value_for_matching(&self) -> Option<&str> {
        self.listed_value.as_deref().or(self.redacted_value.as_deref())
    }
}

impl Identified for ApiKey {
    fn id(&self) -> &str {
        self.request_id()
    }

    fn clean(&mut self) {
        self.listed_id = Some(self.id.clone());
        self.listed_service_account_id = self.owner.service_account_id().map(str::to_string);
        clean(&mut self.id);
        clean_opt(&mut self.name);
        self.listed_value = self.redacted_value.clone();
        clean_opt(&mut self.redacted_value);
        let owner = &mut self.owner;
        for text in [&mut owner.kind, &mut owner.id, &mut owner.name, &mut owner.email] {
            clean_opt(text);
        }
        for person in [owner.user.as_mut(), owner.service_account.as_mut()]
            .into_iter()
            .flatten()
        {
            for text in [&mut person.id, &mut person.name, &mut person.email] {
                clean_opt(text);
            }
        }
    }
}

/// A listed key and where it lives.
#[derive(Debug, Clone)]
pub struct ListedKey {
    pub key: ApiKey,
    /// The project, for project keys; `None` for admin keys.
    pub project: Option<Project>,
}

impl ListedKey {
    /// `key_abc "CI" in project proj_1 "Main", owner user "Alice" <a@x> (user_1), last used 2024-…`.
    pub fn describe(&self) -> String {
        let mut text = self.key.id.clone();
        if let Some(name) = self.key.name.as_deref().filter(|n| !n.is_empty()) {
            text.push_str(&format!(" \"{name}\""));
        }
        if let Some(value) = &self.key.redacted_value {
            text.push_str(&format!(" [{value}]"));
        }
        match &self.project {
            Some(project) => {
                text.push_str(&format!(" in project {}", project.id));
                if let Some(name) = project.name.as_deref().filter(|n| !n.is_empty()) {
                    text.push_str(&format!(" \"{name}\""));
                }
                if project.is_archived() {
                    text.push_str(" (archived)");
                }
            }
            None => text.push_str(" (organisation admin key)"),
        }
        text.push_str(&format!(", owner {}", self.key.owner.describe()));
        text.push_str(&format!(
            ", last used {}",
            self.key
                .last_used_at
                .map_or_else(|| "never".to_string(), unix_to_rfc3339)
        ));
        text
    }

    pub fn project_id(&self) -> Option<&str> {
        self.project.as_ref().map(|p| p.id.as_str())
    }

    /// The project's id as listed, for request paths.
    pub fn request_project_id(&self) -> Option<&str> {
        self.project.as_ref().map(Project::request_id)
    }
}

impl ListedKey {
    /// The candidate the flow matches and acts on.
    pub fn candidate(&self) -> Candidate {
        Candidate {
            id: self.key.id.clone(),
            listed_id: self.key.request_id().to_string(),
            hint: self.key.value_for_matching().map(str::to_string),
            pool: if self.project.is_some() { "project" } else { "admin" },
            scope: self.project_id().map(str::to_string),
            listed_scope: self.request_project_id().map(str::to_string),
            // Only a project key belongs to a project service account; an admin key's inline owner of type
            // `service_account` is not one.
            group: self
                .project
                .as_ref()
                .and(self.key.owner.service_account_id())
                .map(str::to_string),
            listed_group: self
                .project
                .as_ref()
                .and(self.key.request_service_account_id())
                .map(str::to_string),
            archived: self.project.as_ref().is_some_and(Project::is_archived),
            description: self.describe(),
        }
    }
}

/// How many of the characters `redacted_value` shows are random: the suffix, and the part of the prefix after its
/// last `-` (`sk-proj-`, `sk-admin-`, a service account's name are not random). The `T3BlbkFJ` marker is not
/// random either. Counted low on purpose: it decides whether a match alone may prove a key.
pub fn random_chars_shown(redacted_value: &str) -> usize {
    let Some((prefix, suffix)) = redacted_value.split_once("...") else {
        return 0;
    };
    // `sk-admin...`: a known family name, even without its dash, is not random.
    let families = ["proj", "svcacct", "admin", "None"];
    let rest = prefix.strip_prefix("sk-").unwrap_or(prefix);
    let rest = families
        .iter()
        .find_map(|family| rest.strip_prefix(family))
        .unwrap_or(rest);
    let random_prefix = rest.rsplit('-').next().unwrap_or_default();
    let count = |part: &str| part.replace("T3BlbkFJ", "").chars().count();
    count(random_prefix) + count(suffix)
}

/// Lists every project, archived ones included, and each project's keys (every owner,
/// `owner_project_access=any`), one request at a time, within `budget`.
pub fn list_project_keys(
    client: &Client,
    admin: &Secret,
    credential: &Credential,
    budget: &mut ListBudget,
) -> Result<Listed<ListedKey>, ListError> {
    const PROJECTS: &str = "/v1/organization/projects";
    let projects: Listed<Project> = list_all(
        client,
        admin,
        credential,
        PAGE_LIMIT,
        PROJECTS,
        "&include_archived=true",
        budget,
    )?;
    let mut listed = Listed {
        items: Vec::new(),
        organization: projects.organization,
    };
    for project in projects.items {
        let id = segment(project.request_id()).map_err(|source| ListError::BadId {
            path: PROJECTS.to_string(),
            source,
        })?;
        let path = format!("{PROJECTS}/{id}/api_keys");
        let keys: Listed<ApiKey> = list_all(
            client,
            admin,
            credential,
            PAGE_LIMIT,
            &path,
            "&owner_project_access=any",
            budget,
        )?;
        listed.organization = listed.organization.or(keys.organization);
        listed.items.extend(keys.items.into_iter().map(|key| ListedKey {
            key,
            project: Some(project.clone()),
        }));
    }
    Ok(listed)
}

/// Lists the organisation's admin keys, within `budget`.
pub fn list_admin_keys(
    client: &Client,
    admin: &Secret,
    credential: &Credential,
    budget: &mut ListBudget,
) -> Result<Listed<ListedKey>, ListError> {
    let keys: Listed<ApiKey> = list_all(
        client,
        admin,
        credential,
        PAGE_LIMIT,
        "/v1/organization/admin_api_keys",
        "",
        budget,
    )?;
    Ok(Listed {
        items: keys
            .items
            .into_iter()
            .map(|key| ListedKey { key, project: None })
            .collect(),
        organization: keys.organization,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_random_characters_count_as_proof() {
        assert_eq!(random_chars_shown("sk-proj-abc...def"), 6);
        assert_eq!(random_chars_shown("sk-admin...xyz"), 3);
        assert_eq!(random_chars_shown("sk-my-service-Ab12...Zz9_"), 8);
        assert_eq!(random_chars_shown("sk-proj-AbCdEfGhIj...KlMnOpQr"), 18);
        assert_eq!(random_chars_shown("no separator"), 0);
    }

    #[test]
    fn owners_are_described() {
        let owner: Owner = serde_json::from_str(
            r#"{"type":"service_account","service_account":{"id":"svc_acct_1","name":"ci","role":"member"}}"#,
        )
        .expect("owner");
        assert_eq!(owner.service_account_id(), Some("svc_acct_1"));
        assert_eq!(owner.describe(), "service account \"ci\" (svc_acct_1)");
        let user: Owner =
            serde_json::from_str(r#"{"type":"user","user":{"id":"user_1","name":"Al","email":"al@example.com"}}"#)
                .expect("owner");
        assert_eq!(user.service_account_id(), None);
        assert_eq!(user.describe(), "user \"Al\" <al@example.com> (user_1)");
    }
}
