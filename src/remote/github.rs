//! GitHub's REST API: the repositories of an organisation (`GET /orgs/{org}/repos?type=all`), or of a user when
//! no organisation has that name (`GET /users/{user}/repos?type=all`), every page through `Link`. The
//! references followed are vendored in `tests/openapi/github/` (pagination, rate limits, the repository fields).

use super::{ListError, ListOptions, RepoEntry, Session, flag, path_segment, text};
use crate::http::AuthStyle;

/// The public API base; GitHub Enterprise Server's is `https://HOST/api/v3`.
pub const DEFAULT_API_BASE: &str = "https://api.github.com";
/// The variable that moves the API base.
pub const BASE_VARIABLE: &str = "KEYHOUND_GITHUB_API_BASE";
/// The variable the token is read from.
pub const TOKEN_VARIABLE: &str = "GITHUB_TOKEN";

/// Headers GitHub asks every client to send.
const HEADERS: &[(&str, &str)] = &[
    ("accept", "application/vnd.github+json"),
    ("x-github-api-version", "2022-11-28"),
];

/// The repositories of the organisation (or user) `owner`, archived ones and forks included unless the filter
/// drops them.
pub fn list(owner: &str, options: &ListOptions, on_note: &dyn Fn(&str)) -> Result<Vec<RepoEntry>, ListError> {
    let mut session = Session::new("GitHub", options, AuthStyle::Bearer, HEADERS, on_note)?;
    let owner = path_segment(owner);
    let items = match session.pages(&format!("/orgs/{owner}/repos?per_page=100&type=all")) {
        Err(ListError::NotFound { .. }) => session.pages(&format!("/users/{owner}/repos?per_page=100&type=all"))?,
        other => other?,
    };
    super::entries(
        &items,
        "GitHub",
        &format!("/orgs/{owner}/repos"),
        "`full_name` or `clone_url`",
        entry,
        options,
        on_note,
    )
}

fn entry(item: &serde_json::Value) -> Option<RepoEntry> {
    Some(RepoEntry {
        name: text(item, "full_name")?,
        clone_url: text(item, "clone_url")?,
        default_branch: text(item, "default_branch"),
        archived: flag(item, "archived"),
        fork: flag(item, "fork"),
        size: item.get("size").and_then(serde_json::Value::as_u64).unwrap_or(0),
        pushed_at: text(item, "pushed_at"),
    })
}
