//! Finding a leaked key in the organisation: listing projects, their API keys and the admin keys with the
//! admin key, and matching leaked keys against the listed redacted values.
//!
//! OpenAI never returns a key's value, only `redacted_value`: a shown prefix, `...`, a shown suffix
//! (`sk-abc...def`). How many characters are shown is not documented, so matching takes the value apart at
//! `...` and asks only that the leaked key start with the one and end with the other. Several keys can match;
//! callers act only when exactly one key in the whole organisation does.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::finding::Secret;

use super::audit::unix_to_rfc3339;
use super::client::{BadSegment, Client, Reply, RetryPolicy, TransportError, query_value, segment};

/// Page size for every listing (the API's maximum).
pub const PAGE_LIMIT: u32 = 100;
/// At most this many pages per listing (100,000 projects, or keys in one project), against a server that never
/// says `has_more: false`.
pub const MAX_PAGES: usize = 1_000;
/// All the listings of one run together take at most this long.
pub const LIST_TIME: Duration = Duration::from_secs(10 * 60);
/// All the listings of one run together read at most this many bytes of answers (what is listed is kept in
/// memory until the run ends).
pub const MAX_LISTED_BYTES: usize = 256 * 1024 * 1024;

/// A listing failed: the run stops before anything is deleted.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error(
        "OPENAI_ADMIN_KEY was rejected ({status} on GET {path}): {message}\n\
         It must be an admin key (sk-admin-...) of the organisation, from {admin_url}"
    )]
    AdminKeyRejected {
        status: u16,
        path: String,
        message: String,
        admin_url: &'static str,
    },
    #[error("GET {path} failed with HTTP {status}: {message}{request}")]
    Status {
        path: String,
        status: u16,
        message: String,
        request: String,
    },
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("{0}")]
    Decode(String),
    #[error(
        "GET {path}: the server sent the cursor `{cursor}` a second time in one listing (a pagination loop): \
         stopped"
    )]
    CursorRepeated { path: String, cursor: String },
    #[error("GET {path}: more than {MAX_PAGES} pages in one listing, and has_more is still true: stopped")]
    TooManyPages { path: String },
    #[error("GET {path}: the listings took more than {} s in all: stopped", .budget.as_secs())]
    OutOfTime { path: String, budget: Duration },
    #[error("GET {path}: the listings' answers came to more than {} MiB in all: stopped", MAX_LISTED_BYTES / (1024 * 1024))]
    TooMuchData { path: String },
    #[error("GET {path}: {source}")]
    BadId {
        path: String,
        #[source]
        source: BadSegment,
    },
}

/// What all the listings of one run may still spend: time and bytes of answers.
#[derive(Debug, Clone)]
pub struct ListBudget {
    deadline: Instant,
    time: Duration,
    bytes_left: usize,
}

impl ListBudget {
    /// The budget of one run: [`LIST_TIME`] from now, [`MAX_LISTED_BYTES`].
    pub fn new() -> ListBudget {
        ListBudget::with(LIST_TIME, MAX_LISTED_BYTES)
    }

    pub fn with(time: Duration, bytes: usize) -> ListBudget {
        ListBudget {
            deadline: Instant::now() + time,
            time,
            bytes_left: bytes,
        }
    }

    /// Checks, before requesting `path`, that there is time left.
    fn before(&self, path: &str) -> Result<(), ListError> {
        if Instant::now() >= self.deadline {
            return Err(ListError::OutOfTime {
                path: path.to_string(),
                budget: self.time,
            });
        }
        Ok(())
    }

    /// Spends `bytes` of answer from `path`.
    fn spend(&mut self, path: &str, bytes: usize) -> Result<(), ListError> {
        self.bytes_left = self
            .bytes_left
            .checked_sub(bytes)
            .ok_or_else(|| ListError::TooMuchData { path: path.to_string() })?;
        Ok(())
    }
}

impl Default for ListBudget {
    fn default() -> ListBudget {
        ListBudget::new()
    }
}

/// One page of a list endpoint.
#[derive(Debug, Deserialize)]
struct Page<T> {
    #[serde(default = "Vec::new")]
    data: Vec<T>,
    #[serde(default)]
    has_more: bool,
    #[serde(default)]
    last_id: Option<String>,
}

/// Listed objects: an id for the `after` cursor, and text from the server to make safe to show.
trait Identified {
    fn id(&self) -> &str;
    /// Passes every string the server sent through the choke point for outside text, once, as it arrives.
    fn clean(&mut self);
}

fn clean(text: &mut String) {
    *text = crate::text::for_message(text);
}

fn clean_opt(text: &mut Option<String>) {
    if let Some(text) = text.as_mut() {
        clean(text);
    }
}

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
pub struct Candidate {
    pub key: ApiKey,
    /// The project, for project keys; `None` for admin keys.
    pub project: Option<Project>,
}

impl Candidate {
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

/// Does the leaked `secret` fit `redacted_value` (`sk-abc...def`)? It must start with the part before `...` and
/// end with the part after it, with something hidden between the two. A value without `...`, or one that
/// shows fewer than six characters in all (too little to tell keys apart), matches nothing.
pub fn redacted_matches(redacted_value: &str, secret: &str) -> bool {
    let Some((prefix, suffix)) = redacted_value.split_once("...") else {
        return false;
    };
    if prefix.len() + suffix.len() < 6 || suffix.contains("...") {
        return false;
    }
    secret.len() > prefix.len() + suffix.len() && secret.starts_with(prefix) && secret.ends_with(suffix)
}

/// How many random characters of a key a redacted value shows when no header says whose key it is: without
/// that evidence, a match is proof only if a foreign key could not share so much of it by chance (16 characters
/// of a 64-letter alphabet: 96 bits).
pub const MIN_RANDOM_SHOWN: usize = 16;

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

/// The candidates whose redacted value fits `secret`.
pub fn find_matches<'a>(candidates: &'a [Candidate], secret: &Secret) -> Vec<&'a Candidate> {
    candidates
        .iter()
        .filter(|c| {
            c.key
                .value_for_matching()
                .is_some_and(|value| redacted_matches(value, secret.expose()))
        })
        .collect()
}

/// What a listing found, and the organisation OpenAI named for the admin key's requests (`openai-organization`).
#[derive(Debug, Default)]
pub struct Listed<T> {
    pub items: Vec<T>,
    pub organization: Option<String>,
}

/// Lists every project, archived ones included, and each project's keys (every owner,
/// `owner_project_access=any`), one request at a time, within `budget`.
pub fn list_project_keys(
    client: &Client,
    admin: &Secret,
    budget: &mut ListBudget,
) -> Result<Listed<Candidate>, ListError> {
    const PROJECTS: &str = "/v1/organization/projects";
    let projects: Listed<Project> = list_all(client, admin, PROJECTS, "&include_archived=true", budget)?;
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
        let keys: Listed<ApiKey> = list_all(client, admin, &path, "&owner_project_access=any", budget)?;
        listed.organization = listed.organization.or(keys.organization);
        listed.items.extend(keys.items.into_iter().map(|key| Candidate {
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
    budget: &mut ListBudget,
) -> Result<Listed<Candidate>, ListError> {
    let keys: Listed<ApiKey> = list_all(client, admin, "/v1/organization/admin_api_keys", "", budget)?;
    Ok(Listed {
        items: keys
            .items
            .into_iter()
            .map(|key| Candidate { key, project: None })
            .collect(),
        organization: keys.organization,
    })
}

/// Every item of a list endpoint: `path?limit=100` plus `filter` (`&name=value`), then with `&after=<last id>`
/// while `has_more`. Bounded: at most [`MAX_PAGES`] pages, no cursor twice, and what is left of `budget`.
fn list_all<T>(
    client: &Client,
    admin: &Secret,
    path: &str,
    filter: &str,
    budget: &mut ListBudget,
) -> Result<Listed<T>, ListError>
where
    T: Identified + serde::de::DeserializeOwned,
{
    let mut listed = Listed {
        items: Vec::new(),
        organization: None,
    };
    let mut after: Option<String> = None;
    let mut seen: HashSet<String> = HashSet::new();
    for _ in 0..MAX_PAGES {
        let mut url = format!("{path}?limit={PAGE_LIMIT}{filter}");
        if let Some(cursor) = &after {
            url.push_str(&format!("&after={}", query_value(cursor)));
        }
        budget.before(&url)?;
        let reply = client.get(&url, admin, RetryPolicy::STANDARD)?;
        budget.spend(&url, reply.body.len())?;
        if !reply.is_success() {
            return Err(listing_error(&reply));
        }
        listed.organization = listed.organization.or_else(|| reply.organization.clone());
        let mut page: Page<T> = reply.json().map_err(ListError::Decode)?;
        page.data.iter_mut().for_each(Identified::clean);
        let next = page
            .last_id
            .clone()
            .filter(|id| !id.is_empty())
            .or_else(|| page.data.last().map(|item| item.id().to_string()));
        let empty = page.data.is_empty();
        listed.items.extend(page.data);
        if !page.has_more || empty {
            return Ok(listed);
        }
        let Some(cursor) = next else {
            return Err(ListError::Decode(format!(
                "GET {url}: has_more is true but the page gives no cursor"
            )));
        };
        if !seen.insert(cursor.clone()) {
            return Err(ListError::CursorRepeated {
                path: url,
                cursor: crate::text::for_message(&cursor),
            });
        }
        after = Some(cursor);
    }
    Err(ListError::TooManyPages {
        path: format!("{path}?limit={PAGE_LIMIT}{filter}"),
    })
}

fn listing_error(reply: &Reply) -> ListError {
    if reply.status == 401 || reply.status == 403 {
        return ListError::AdminKeyRejected {
            status: reply.status,
            path: reply.path.clone(),
            message: reply.message(),
            admin_url: super::ADMIN_KEYS_URL,
        };
    }
    ListError::Status {
        path: reply.path.clone(),
        status: reply.status,
        message: reply.message(),
        request: reply
            .request_id
            .as_deref()
            .map(|id| format!(" (request {id})"))
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "sk-proj-e7njtS5pFbUcguGv1dHS84ExMaIWYiHaFUX1m1s97mCfvhcH";

    fn candidate(id: &str, redacted: &str) -> Candidate {
        Candidate {
            key: ApiKey {
                id: id.into(),
                listed_id: None,
                listed_service_account_id: None,
                name: None,
                redacted_value: Some(redacted.into()),
                listed_value: None,
                created_at: None,
                last_used_at: None,
                owner: Owner::default(),
            },
            project: Some(Project {
                id: "proj_1".into(),
                listed_id: None,
                name: None,
                status: None,
                archived_at: None,
            }),
        }
    }

    #[test]
    fn a_key_matches_its_shown_prefix_and_suffix() {
        assert!(redacted_matches("sk-proj-e7n...vhcH", KEY));
        assert!(redacted_matches("sk-proj-e7njtS5p...cH", KEY));
        assert!(redacted_matches("sk-p...vhcH", KEY));
        assert!(!redacted_matches("sk-proj-e7n...vhcX", KEY));
        assert!(!redacted_matches("sk-proj-x7n...vhcH", KEY));
    }

    #[test]
    fn the_separator_is_three_dots_and_enough_must_be_shown() {
        assert!(
            !redacted_matches("sk-proj-e7n…vhcH", KEY),
            "a single ellipsis character is not the separator"
        );
        assert!(!redacted_matches("sk-proj-e7nvhcH", KEY));
        assert!(!redacted_matches("...", KEY));
        assert!(!redacted_matches("sk...H", KEY), "too little shown to tell keys apart");
        assert!(
            !redacted_matches("sk-proj-e7n...vhcH", "sk-proj-e7nvhcH"),
            "something must be hidden between prefix and suffix"
        );
    }

    #[test]
    fn only_random_characters_count_as_proof() {
        assert_eq!(random_chars_shown("sk-proj-abc...def"), 6);
        assert_eq!(random_chars_shown("sk-admin...xyz"), 3);
        assert_eq!(random_chars_shown("sk-my-service-Ab12...Zz9_"), 8);
        assert_eq!(random_chars_shown("sk-proj-AbCdEfGhIj...KlMnOpQr"), 18);
        assert_eq!(random_chars_shown("no separator"), 0);
    }

    #[test]
    fn several_matching_keys_are_all_returned() {
        let candidates = vec![
            candidate("key_a", "sk-proj-e7n...vhcH"),
            candidate("key_b", "sk-proj-e7n...vhcH"),
            candidate("key_c", "sk-proj-abc...wxyz"),
        ];
        let found = find_matches(&candidates, &Secret::new(KEY));
        let ids: Vec<&str> = found.iter().map(|c| c.key.id.as_str()).collect();
        assert_eq!(ids, vec!["key_a", "key_b"]);
        assert!(find_matches(&candidates[2..], &Secret::new(KEY)).is_empty());
    }

    #[test]
    fn the_listing_budget_runs_out_of_time_and_bytes() {
        let mut budget = ListBudget::with(Duration::from_secs(60), 10);
        assert!(budget.before("/v1/x").is_ok());
        assert!(budget.spend("/v1/x", 10).is_ok());
        let error = budget.spend("/v1/x", 1).map(|_| ()).expect_err("over");
        assert!(
            error
                .to_string()
                .contains("GET /v1/x: the listings' answers came to more than"),
            "{error}"
        );
        let spent = ListBudget::with(Duration::ZERO, 10);
        let error = spent.before("/v1/y").map(|_| ()).expect_err("late");
        assert!(
            error
                .to_string()
                .starts_with("GET /v1/y: the listings took more than 0 s"),
            "{error}"
        );
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
