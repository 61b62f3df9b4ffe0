//! Listing an organisation's keys with an admin credential, for every provider: the pagination of list
//! endpoints that answer `data`, `has_more` and `last_id` (OpenAI's and Anthropic's), and the bounds on what a
//! run's listings may spend (pages, cursors, time, bytes).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::finding::Secret;

use super::client::{BadSegment, Client, Reply, RetryPolicy, TransportError, query_value};

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
        "{variable} was rejected ({status} on GET {path}): {message}\n\
         It must be {description} of the organisation, from {admin_url}"
    )]
    AdminKeyRejected {
        variable: &'static str,
        description: &'static str,
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
    pub fn before(&self, path: &str) -> Result<(), ListError> {
        if Instant::now() >= self.deadline {
            return Err(ListError::OutOfTime {
                path: path.to_string(),
                budget: self.time,
            });
        }
        Ok(())
    }

    /// Spends `bytes` of answer from `path`.
    pub fn spend(&mut self, path: &str, bytes: usize) -> Result<(), ListError> {
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
pub struct Page<T> {
    #[serde(default = "Vec::new")]
    pub data: Vec<T>,
    #[serde(default)]
    pub has_more: bool,
    #[serde(default)]
    pub last_id: Option<String>,
}

/// Listed objects: an id for the cursor, and text from the server to make safe to show.
pub trait Identified {
    fn id(&self) -> &str;
    /// Passes every string the server sent through the choke point for outside text, once, as it arrives.
    fn clean(&mut self);
}

pub fn clean(text: &mut String) {
    *text = crate::text::for_message(text);
}

pub fn clean_opt(text: &mut Option<String>) {
    if let Some(text) = text.as_mut() {
        clean(text);
    }
}

/// What a listing found, and the organisation the provider named for the admin credential's requests.
#[derive(Debug, Default)]
pub struct Listed<T> {
    pub items: Vec<T>,
    pub organization: Option<String>,
}

/// The admin credential a listing uses, for the error when it is rejected.
#[derive(Debug, Clone, Copy)]
pub struct Credential {
    /// `OPENAI_ADMIN_KEY`.
    pub variable: &'static str,
    /// `an admin key (sk-admin-...)`.
    pub description: &'static str,
    /// Where one is made.
    pub url: &'static str,
    /// The header naming the organisation of the request (`openai-organization`).
    pub organization_header: &'static str,
    /// The cursor's query parameter (`after`, `after_id`).
    pub cursor: &'static str,
}

/// Every item of a list endpoint: `path?limit=<limit>` plus `filter` (`&name=value`), then with
/// `&<cursor>=<last id>` while `has_more`. Bounded: at most [`MAX_PAGES`] pages, no cursor twice, and what is left
/// of `budget`.
#[allow(clippy::too_many_arguments)]
pub fn list_all<T>(
    client: &Client,
    admin: &Secret,
    credential: &Credential,
    limit: u32,
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
        let mut url = format!("{path}?limit={limit}{filter}");
        if let Some(cursor) = &after {
            url.push_str(&format!("&{}={}", credential.cursor, query_value(cursor)));
        }
        budget.before(&url)?;
        let reply = client.get(&url, admin, RetryPolicy::STANDARD)?;
        budget.spend(&url, reply.body.len())?;
        if !reply.is_success() {
            return Err(listing_error(&reply, credential));
        }
        listed.organization = listed
            .organization
            .or_else(|| reply.header(credential.organization_header));
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
        path: format!("{path}?limit={limit}{filter}"),
    })
}

/// The error for a listing request that was answered with a failure: a rejected admin credential (401, 403), or
/// another status.
pub fn listing_error(reply: &Reply, credential: &Credential) -> ListError {
    if reply.status == 401 || reply.status == 403 {
        return ListError::AdminKeyRejected {
            variable: credential.variable,
            description: credential.description,
            status: reply.status,
            path: reply.path.clone(),
            message: reply.message(),
            admin_url: credential.url,
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
}
