//! GitLab's REST API: the projects of a group and its subgroups (`GET /groups/{id}/projects?include_subgroups=true`),
//! every page through `Link` (keyset pagination is not offered on that endpoint). The references followed are
//! vendored in `tests/openapi/gitlab/` (pagination, rate limits, the project fields).

use super::{ListError, ListOptions, RepoEntry, Session, flag, path_segment, text};
use crate::http::AuthStyle;

/// GitLab.com's API base; a self-hosted instance's is `https://HOST/api/v4`.
pub const DEFAULT_API_BASE: &str = "https://gitlab.com/api/v4";
/// The variable that moves the API base.
pub const BASE_VARIABLE: &str = "KEYHOUND_GITLAB_API_BASE";
/// The variable the token is read from.
pub const TOKEN_VARIABLE: &str = "GITLAB_TOKEN";

/// The projects of the group `group` (a numeric id or a full path such as `org/team`) and its subgroups.
pub fn list(group: &str, options: &ListOptions, on_note: &dyn Fn(&str)) -> Result<Vec<RepoEntry>, ListError> {
    let mut session = Session::new("GitLab", options, AuthStyle::Header("private-token"), &[], on_note)?;
    let id = path_segment(group);
    // Repository sizes are in `statistics`, which GitLab shows to members (Reporter and up): asked for with a
    // token only.
    let statistics = if options.token.is_some() {
        "&statistics=true"
    } else {
        ""
    };
    // `with_shared=false`: the group's own projects, not those other groups share with it.
    let path = format!(
        "/groups/{id}/projects?include_subgroups=true&with_shared=false&per_page=100&order_by=id&sort=asc{statistics}"
    );
    let items = session.pages(&path)?;
    super::entries(
        &items,
        "GitLab",
        &format!("/groups/{id}/projects"),
        "`path_with_namespace` or `http_url_to_repo`",
        entry,
        options,
        on_note,
    )
}

fn entry(item: &serde_json::Value) -> Option<RepoEntry> {
    let bytes = item
        .get("statistics")
        .and_then(|s| s.get("repository_size"))
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0);
    Some(RepoEntry {
        name: text(item, "path_with_namespace")?,
        clone_url: text(item, "http_url_to_repo")?,
        default_branch: text(item, "default_branch"),
        archived: flag(item, "archived"),
        fork: item.get("forked_from_project").is_some_and(|f| !f.is_null()),
        size: bytes.div_ceil(1024),
        pushed_at: text(item, "last_activity_at"),
    })
}
