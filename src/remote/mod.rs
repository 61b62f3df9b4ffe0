//! Listing an organisation's repositories through a forge's REST API ([`github`], [`gitlab`]), and dealing them
//! into shards for a CI fan-out.
//!
//! Every page is followed through the `Link` header, on the API's own origin only (a `next` link elsewhere would
//! carry the token there), at most [`MAX_PAGES`] pages and never the same page twice. Rate limits are obeyed:
//! a 429, or a 403 that says it is a rate limit (GitHub's secondary limit, or `X-RateLimit-Remaining: 0`), waits
//! for `Retry-After`, else the reset time, else a minute, each wait capped by the caller and announced; a page
//! that leaves no request (`X-RateLimit-Remaining: 0`) waits for the reset before the next one.

pub mod github;
pub mod gitlab;
pub mod shard;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::finding::Secret;
use crate::http::{AuthStyle, Client, ConfigError, Reply, RetryPolicy, TransportError};

/// The most pages one listing follows (100 repositories each).
pub const MAX_PAGES: usize = 1000;
/// The most rate-limit waits of one listing.
const MAX_WAITS: u32 = 20;
/// The wait GitHub asks for after a secondary rate limit that names no time ("wait at least one minute").
const SECONDARY_WAIT: Duration = Duration::from_secs(60);

/// One repository of a listing: what `keyhound org` prints, one JSON line each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepoEntry {
    /// `owner/name` (GitHub's `full_name`, GitLab's `path_with_namespace`).
    pub name: String,
    /// The HTTPS clone URL.
    pub clone_url: String,
    pub default_branch: Option<String>,
    pub archived: bool,
    pub fork: bool,
    /// Kilobytes, as the forge reports it (0 when it does not).
    pub size: u64,
    pub pushed_at: Option<String>,
}

/// Which repositories a listing keeps.
#[derive(Debug, Clone, Copy, Default)]
pub struct ListFilter {
    pub exclude_archived: bool,
    pub exclude_forks: bool,
}

impl ListFilter {
    pub fn keeps(&self, repo: &RepoEntry) -> bool {
        !(self.exclude_archived && repo.archived || self.exclude_forks && repo.fork)
    }
}

/// How a listing talks to its forge.
#[derive(Debug, Clone)]
pub struct ListOptions {
    /// The API base (`https://api.github.com`, `https://gitlab.com/api/v4`).
    pub base: String,
    pub token: Option<Secret>,
    /// The variable the token came from, for errors (`GITHUB_TOKEN`).
    pub token_variable: &'static str,
    pub timeout: Duration,
    /// The longest one rate-limit wait may be; a longer one is an error.
    pub max_wait: Duration,
    pub filter: ListFilter,
}

#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("{forge}: {path}: HTTP 401: the token in {variable} was refused (expired, revoked or wrong)")]
    BadToken {
        forge: &'static str,
        path: String,
        variable: &'static str,
    },
    #[error("{forge}: {path}: HTTP 401: authentication is required: set {variable}")]
    NoToken {
        forge: &'static str,
        path: String,
        variable: &'static str,
    },
    #[error("{forge}: {path}: not found (no such organisation, group or user, or the token cannot see it)")]
    NotFound { forge: &'static str, path: String },
    #[error("{forge}: {path}: {message}")]
    Answer {
        forge: &'static str,
        path: String,
        message: String,
    },
    #[error("{forge}: {path}: the rate limit asks for a wait of {} s, longer than --max-wait ({} s)", wait.as_secs(), max.as_secs())]
    WaitTooLong {
        forge: &'static str,
        path: String,
        wait: Duration,
        max: Duration,
    },
    #[error("{forge}: {path}: still rate limited after {MAX_WAITS} waits")]
    TooManyWaits { forge: &'static str, path: String },
    #[error("{forge}: the listing has more than {MAX_PAGES} pages: stopped (a Link loop or an endless listing)")]
    TooManyPages { forge: &'static str },
    #[error("{forge}: {path}: the next page `{next}` was already read: a Link loop, stopped")]
    LinkLoop {
        forge: &'static str,
        path: String,
        next: String,
    },
    #[error("{forge}: {path}: the next page `{next}` is not under the API base {base}: not followed")]
    ForeignLink {
        forge: &'static str,
        path: String,
        next: String,
        base: String,
    },
    #[error("{forge}: {path}: unexpected answer: {message}")]
    Malformed {
        forge: &'static str,
        path: String,
        message: String,
    },
}

/// A listing's HTTP session: one client, the token, the waits so far.
struct Session<'a> {
    forge: &'static str,
    client: Client,
    token: Secret,
    options: &'a ListOptions,
    waits: u32,
    /// Called with each wait's message before it starts.
    on_note: &'a dyn Fn(&str),
}

impl<'a> Session<'a> {
    fn new(
        forge: &'static str,
        options: &'a ListOptions,
        auth: AuthStyle,
        fixed: &[(&'static str, &'static str)],
        on_note: &'a dyn Fn(&str),
    ) -> Result<Session<'a>, ListError> {
        let (auth, token) = match &options.token {
            Some(token) => (auth, token.clone()),
            None => (AuthStyle::Anonymous, Secret::new("")),
        };
        Ok(Session {
            forge,
            client: Client::for_api(&options.base, None, options.timeout, auth, fixed)?,
            token,
            options,
            waits: 0,
            on_note,
        })
    }

    /// Every page from `first` (a path under the base), each page's body parsed as a JSON array.
    fn pages(&mut self, first: &str) -> Result<Vec<serde_json::Value>, ListError> {
        let mut seen = std::collections::HashSet::new();
        let mut items = Vec::new();
        let mut path = first.to_string();
        for _ in 0..MAX_PAGES {
            seen.insert(path.clone());
            let reply = self.get(&path)?;
            let page: Vec<serde_json::Value> = serde_json::from_str(&reply.body).map_err(|e| ListError::Malformed {
                forge: self.forge,
                path: path.clone(),
                message: format!("not a JSON array of repositories: {e}"),
            })?;
            items.extend(page);
            let Some(next) = reply.header("link").as_deref().and_then(next_link) else {
                return Ok(items);
            };
            let Some(next_path) = next.strip_prefix(self.client.base()).filter(|p| p.starts_with('/')) else {
                return Err(ListError::ForeignLink {
                    forge: self.forge,
                    path,
                    next: crate::text::bounded(&next, 200),
                    base: self.client.base().to_string(),
                });
            };
            if seen.contains(next_path) {
                return Err(ListError::LinkLoop {
                    forge: self.forge,
                    path,
                    next: crate::text::bounded(next_path, 200),
                });
            }
            path = next_path.to_string();
            self.pause_if_exhausted(&reply, &path)?;
        }
        Err(ListError::TooManyPages { forge: self.forge })
    }

    /// `GET path`, waiting out rate limits; any other answer but success is an error.
    fn get(&mut self, path: &str) -> Result<Reply, ListError> {
        // 5xx, timeouts and broken connections are retried by the client; rate limits here, with a message.
        let policy = RetryPolicy {
            max_tries: crate::http::MAX_TRIES,
            retry_rate_limits: false,
        };
        loop {
            let reply = self.client.get(path, &self.token, policy)?;
            if reply.is_success() {
                return Ok(reply);
            }
            if let Some(wait) = rate_limit_wait(&reply) {
                self.wait(path, wait, &format!("HTTP {}", reply.status))?;
                continue;
            }
            return Err(match reply.status {
                401 if self.options.token.is_some() => ListError::BadToken {
                    forge: self.forge,
                    path: path.to_string(),
                    variable: self.options.token_variable,
                },
                401 => ListError::NoToken {
                    forge: self.forge,
                    path: path.to_string(),
                    variable: self.options.token_variable,
                },
                404 => ListError::NotFound {
                    forge: self.forge,
                    path: path.to_string(),
                },
                _ => ListError::Answer {
                    forge: self.forge,
                    path: path.to_string(),
                    message: reply.message(),
                },
            });
        }
    }

    /// After a page that used the last request of the window, waits for the window's reset.
    fn pause_if_exhausted(&mut self, reply: &Reply, next: &str) -> Result<(), ListError> {
        let remaining =
            header_number(reply, "x-ratelimit-remaining").or_else(|| header_number(reply, "ratelimit-remaining"));
        if remaining == Some(0)
            && let Some(wait) = reset_wait(reply)
        {
            self.wait(next, wait, "no requests left in this rate-limit window")?;
        }
        Ok(())
    }

    fn wait(&mut self, path: &str, wait: Duration, why: &str) -> Result<(), ListError> {
        if wait > self.options.max_wait {
            return Err(ListError::WaitTooLong {
                forge: self.forge,
                path: path.to_string(),
                wait,
                max: self.options.max_wait,
            });
        }
        self.waits += 1;
        if self.waits > MAX_WAITS {
            return Err(ListError::TooManyWaits {
                forge: self.forge,
                path: path.to_string(),
            });
        }
        (self.on_note)(&format!(
            "{}: rate limited ({why}): waiting {} s before {path}",
            self.forge,
            wait.as_secs_f64().ceil()
        ));
        std::thread::sleep(wait);
        Ok(())
    }
}

/// How long a refused answer asks to wait, when it is a rate limit: a 429, or a 403 with `Retry-After`, with
/// no requests left, or with GitHub's secondary-limit message. `None`: not a rate limit.
fn rate_limit_wait(reply: &Reply) -> Option<Duration> {
    let retry_after = header_number(reply, "retry-after").map(Duration::from_secs);
    let remaining =
        header_number(reply, "x-ratelimit-remaining").or_else(|| header_number(reply, "ratelimit-remaining"));
    let secondary = reply.status == 403 && reply.body.to_ascii_lowercase().contains("secondary rate limit");
    let limited =
        reply.status == 429 || (reply.status == 403 && (retry_after.is_some() || remaining == Some(0) || secondary));
    if !limited {
        return None;
    }
    Some(
        retry_after
            .or_else(|| if remaining == Some(0) { reset_wait(reply) } else { None })
            .unwrap_or(SECONDARY_WAIT),
    )
}

/// The time until the window's reset (`X-RateLimit-Reset` or GitLab's `RateLimit-Reset`, epoch seconds), at
/// least one second.
fn reset_wait(reply: &Reply) -> Option<Duration> {
    let reset = header_number(reply, "x-ratelimit-reset").or_else(|| header_number(reply, "ratelimit-reset"))?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
    Some(Duration::from_secs(reset.saturating_sub(now).max(1)))
}

fn header_number(reply: &Reply, name: &str) -> Option<u64> {
    reply.header(name)?.trim().parse().ok()
}

/// The `rel="next"` target of a `Link` header.
fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| p.trim().replace(' ', "").eq_ignore_ascii_case("rel=\"next\"") || p.trim() == "rel=next");
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| target.to_string())
    })
}

/// The repositories of a listing's `items`, read by `entry`, that the filter keeps. A clone URL that is not
/// HTTPS (or plain HTTP to loopback) is left out with a note: a listing must not make keyhound fetch from a
/// `file://` path or run a transport of the server's choosing.
fn entries(
    items: &[serde_json::Value],
    forge: &'static str,
    path: &str,
    fields: &str,
    entry: fn(&serde_json::Value) -> Option<RepoEntry>,
    options: &ListOptions,
    on_note: &dyn Fn(&str),
) -> Result<Vec<RepoEntry>, ListError> {
    let mut repos = Vec::new();
    for item in items {
        let repo = entry(item).ok_or_else(|| ListError::Malformed {
            forge,
            path: path.to_string(),
            message: format!("a repository without {fields}"),
        })?;
        if crate::http::normalize_base_with(&repo.clone_url, None).is_err()
            || repo.clone_url.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            on_note(&format!(
                "{forge}: {}: the clone URL `{}` is not HTTPS: left out",
                repo.name,
                crate::text::bounded(&repo.clone_url, 200)
            ));
            continue;
        }
        if options.filter.keeps(&repo) {
            repos.push(repo);
        }
    }
    Ok(repos)
}

/// A JSON field as text.
fn text(value: &serde_json::Value, field: &str) -> Option<String> {
    value.get(field).and_then(serde_json::Value::as_str).map(str::to_string)
}

/// A JSON field as a flag (false when absent).
fn flag(value: &serde_json::Value, field: &str) -> bool {
    value.get(field).and_then(serde_json::Value::as_bool).unwrap_or(false)
}

/// Percent-encodes a name for one path segment (GitLab's `group%2Fsubgroup`, GitHub's org names).
fn path_segment(name: &str) -> String {
    percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers() {
        let link = "<https://api.github.com/x?page=2>; rel=\"next\", <https://api.github.com/x?page=9>; rel=\"last\"";
        assert_eq!(next_link(link).as_deref(), Some("https://api.github.com/x?page=2"));
        assert_eq!(next_link("<https://a/x?page=1>; rel=\"prev\""), None);
        assert_eq!(next_link("garbage"), None);
    }
}
