//! `keyhound org`: listing a GitHub organisation and a GitLab group from fake APIs on 127.0.0.1 (pagination, rate
//! limits, bad tokens, hostile servers), the shards and the matrix, and a listing fed to `keyhound git`. The fakes
//! answer as the excerpts vendored in `tests/openapi/forges/` say: `link` headers with `rel="next"`, GitHub's
//! `x-ratelimit-*` and secondary limits, GitLab's `RateLimit-*`, and the repository fields named there.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tempfile::TempDir;
use tiny_http::{Header, Request, Response};

use super::common::{PROJECT_KEY, Repo, code, git_ok, keyhound, run, stderr, stdout};
use super::fake_server::Served;
use super::git_http::GitHttp;
use super::remote::git_from_stdin;

/// A fake token of a GitHub token's shape, never a real credential.
const FAKE_TOKEN: &str = "ghp_FAKEfakeFAKEfakeFAKEfakeFAKEorg00000";

/// What a fake forge saw: each request's path and query, and its credential headers.
#[derive(Default)]
struct Seen {
    requests: Vec<String>,
    credentials: Vec<String>,
    /// Per path, how many times it was asked for.
    hits: std::collections::HashMap<String, u32>,
}

fn header(request: &Request, name: &'static str) -> Option<String> {
    request
        .headers()
        .iter()
        .find(|h| h.field.equiv(name))
        .map(|h| h.value.as_str().to_string())
}

/// Records the request; returns its URL and how many times it was asked for before.
fn record(request: &Request, seen: &Mutex<Seen>) -> (String, u32) {
    let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
    let url = request.url().to_string();
    seen.requests.push(url.clone());
    for name in ["Authorization", "PRIVATE-TOKEN"] {
        if let Some(value) = header(request, name) {
            seen.credentials.push(format!("{name}: {value}"));
        }
    }
    let hits = seen.hits.entry(url.clone()).or_insert(0);
    *hits += 1;
    (url, *hits - 1)
}

fn respond(request: Request, status: u16, headers: &[(&str, String)], body: String) {
    let mut response = Response::from_string(body).with_status_code(status);
    response.add_header(Header::from_bytes("Content-Type", "application/json").expect("a header"));
    for (name, value) in headers {
        response.add_header(Header::from_bytes(*name, value.as_str()).expect("a header"));
    }
    let _ = request.respond(response);
}

/// The `page` query parameter of a request URL (1 when absent).
fn page_of(url: &str) -> u32 {
    url.split(['?', '&'])
        .find_map(|p| p.strip_prefix("page="))
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn gh_repo(name: &str, size: u64, archived: bool, fork: bool) -> Value {
    json!({
        "full_name": format!("acme/{name}"),
        "clone_url": format!("https://github.example/acme/{name}.git"),
        "default_branch": "main",
        "archived": archived,
        "fork": fork,
        "size": size,
        "pushed_at": "2026-11-30T10:00:00Z",
        "private": false,
    })
}

/// A fake GitHub with 250 repositories of organisation `acme` in pages of 100, and rate limits on the way: page
/// 1 spends the window (`X-RateLimit-Remaining: 0`, reset a second away), page 2 first answers a secondary rate
/// limit (403, `retry-after: 1`), page 3 first a 429.
fn fake_github() -> Served<Seen> {
    Served::start(Seen::default(), |request: Request, seen: &Mutex<Seen>| {
        let (url, before) = record(&request, seen);
        if !url.starts_with("/orgs/acme/repos?") {
            respond(request, 404, &[], json!({"message": "Not Found"}).to_string());
            return;
        }
        let page = page_of(&url);
        if page == 2 && before == 0 {
            let body = json!({"message": "You have exceeded a secondary rate limit. Please wait a few minutes."});
            respond(request, 403, &[("retry-after", "1".into())], body.to_string());
            return;
        }
        if page == 3 && before == 0 {
            respond(request, 429, &[("Retry-After", "1".into())], "{}".into());
            return;
        }
        let repos: Vec<Value> = ((page - 1) * 100..(page * 100).min(250))
            .map(|i| gh_repo(&format!("r{i:03}"), u64::from(i), i % 50 == 0, i % 40 == 1))
            .collect();
        let mut headers = Vec::new();
        let base = header(&request, "Host")
            .map(|h| format!("http://{h}"))
            .unwrap_or_default();
        if page < 3 {
            headers.push((
                "Link",
                format!(
                    "<{base}/orgs/acme/repos?per_page=100&type=all&page={}>; rel=\"next\", \
                     <{base}/orgs/acme/repos?per_page=100&type=all&page=3>; rel=\"last\"",
                    page + 1
                ),
            ));
        }
        if page == 1 {
            headers.push(("X-RateLimit-Remaining", "0".into()));
            headers.push(("X-RateLimit-Reset", (now() + 1).to_string()));
        }
        respond(request, 200, &headers, Value::Array(repos).to_string());
    })
}

fn org(args: &[&str], envs: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = keyhound();
    cmd.arg("org").args(args);
    for (name, value) in envs {
        cmd.env(name, value);
    }
    let output = run(&mut cmd);
    (code(&output), stdout(&output), stderr(&output))
}

fn lines(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line: {l}: {e}")))
        .collect()
}

#[test]
fn github_every_page_is_listed_through_rate_limits() {
    let server = fake_github();
    let started = std::time::Instant::now();
    let (status, out, err) = org(
        &["github", "acme", "--api-base", &server.base],
        &[("GITHUB_TOKEN", FAKE_TOKEN)],
    );
    assert_eq!(status, 0, "{err}");
    let repos = lines(&out);
    assert_eq!(repos.len(), 250, "{err}");
    assert_eq!(repos[0]["name"], "acme/r000");
    assert_eq!(repos[0]["clone_url"], "https://github.example/acme/r000.git");
    assert_eq!(repos[0]["default_branch"], "main");
    assert_eq!(repos[0]["archived"], true);
    assert_eq!(repos[1]["fork"], true);
    assert_eq!(repos[7]["size"], 7);
    assert_eq!(repos[7]["pushed_at"], "2026-11-30T10:00:00Z");
    // Three waits of about a second each: the spent window, the secondary limit, the 429; each announced.
    assert!(started.elapsed().as_secs_f64() >= 2.5, "the waits were made");
    assert_eq!(err.matches("rate limited").count(), 3, "{err}");
    assert!(err.contains("waiting 1 s"), "{err}");
    let seen = server.state();
    assert!(
        seen.credentials
            .iter()
            .all(|c| c == &format!("Authorization: Bearer {FAKE_TOKEN}"))
    );
    assert!(seen.requests[0].contains("per_page=100") && seen.requests[0].contains("type=all"));
    assert!(!out.contains(FAKE_TOKEN) && !err.contains(FAKE_TOKEN));
}

#[test]
fn archived_repositories_and_forks_can_be_left_out() {
    let server = fake_github();
    let (status, out, err) = org(
        &["github", "acme", "--exclude-archived", "--exclude-forks"],
        &[("KEYHOUND_GITHUB_API_BASE", &server.base)],
    );
    assert_eq!(status, 0, "{err}");
    let repos = lines(&out);
    assert!(repos.iter().all(|r| r["archived"] == false && r["fork"] == false));
    // 250, less 5 archived (every 50th) and 7 forks (every 40th from 1), none both.
    assert_eq!(repos.len(), 250 - 5 - 7);
    assert!(server.state().credentials.is_empty(), "no token, no credential");
}

#[test]
fn a_user_is_listed_when_no_organisation_has_the_name() {
    let server = Served::start(Seen::default(), |request: Request, seen: &Mutex<Seen>| {
        let (url, _) = record(&request, seen);
        if url.starts_with("/users/alice/repos?") {
            respond(
                request,
                200,
                &[],
                json!([gh_repo("dotfiles", 1, false, false)]).to_string(),
            );
        } else {
            respond(request, 404, &[], json!({"message": "Not Found"}).to_string());
        }
    });
    let (status, out, err) = org(&["github", "alice", "--api-base", &server.base], &[]);
    assert_eq!(status, 0, "{err}");
    assert_eq!(lines(&out).len(), 1);
    let (status, _, err) = org(&["github", "nobody", "--api-base", &server.base], &[]);
    assert_eq!(status, 2);
    assert!(err.contains("not found"), "{err}");
}

#[test]
fn an_expired_token_is_a_clear_error_that_names_the_variable_not_the_token() {
    let server = Served::start(Seen::default(), |request: Request, seen: &Mutex<Seen>| {
        record(&request, seen);
        respond(request, 401, &[], json!({"message": "Bad credentials"}).to_string());
    });
    let (status, out, err) = org(
        &["github", "acme", "--api-base", &server.base],
        &[("GITHUB_TOKEN", FAKE_TOKEN)],
    );
    assert_eq!(status, 2);
    assert!(out.is_empty());
    assert!(err.contains("GITHUB_TOKEN") && err.contains("401"), "{err}");
    assert!(!err.contains(FAKE_TOKEN) && !err.contains("FAKEfake"), "{err}");
    let (status, _, err) = org(&["gitlab", "acme", "--api-base", &server.base], &[]);
    assert_eq!(status, 2);
    assert!(err.contains("set GITLAB_TOKEN"), "{err}");
}

#[test]
fn gitlab_groups_with_subgroups_every_page_and_its_rate_limit_headers() {
    let server = Served::start(Seen::default(), |request: Request, seen: &Mutex<Seen>| {
        let (url, before) = record(&request, seen);
        let Some(query) = url.strip_prefix("/api/v4/groups/acme%2Fplatform/projects?") else {
            respond(request, 404, &[], json!({"message": "404 Group Not Found"}).to_string());
            return;
        };
        let page = page_of(&url);
        if page == 2 && before == 0 {
            let headers = [
                ("RateLimit-Remaining", "0".to_string()),
                ("RateLimit-Reset", (now() + 1).to_string()),
            ];
            respond(request, 429, &headers, json!({"message": "Retry later"}).to_string());
            return;
        }
        let projects: Vec<Value> = (0..3)
            .map(|i| {
                json!({
                    "path_with_namespace": format!("acme/platform/sub/p{page}{i}"),
                    "http_url_to_repo": format!("https://gitlab.example/acme/platform/sub/p{page}{i}.git"),
                    "default_branch": "main",
                    "archived": false,
                    "forked_from_project": if i == 2 { json!({"id": 1}) } else { Value::Null },
                    "last_activity_at": "2026-11-01T00:00:00Z",
                    "statistics": {"repository_size": 2048 * (i + 1)},
                })
            })
            .collect();
        let host = header(&request, "Host").unwrap_or_default();
        let headers: Vec<(&str, String)> = if page < 2 {
            vec![(
                "Link",
                format!("<http://{host}/api/v4/groups/acme%2Fplatform/projects?{query}&page=2>; rel=\"next\""),
            )]
        } else {
            Vec::new()
        };
        respond(request, 200, &headers, Value::Array(projects).to_string());
    });
    let base = format!("{}/api/v4", server.base);
    let (status, out, err) = org(
        &["gitlab", "acme/platform", "--api-base", &base],
        &[("GITLAB_TOKEN", "glpat-FAKEfakeFAKEfake0000")],
    );
    assert_eq!(status, 0, "{err}");
    let repos = lines(&out);
    assert_eq!(repos.len(), 6, "{err}");
    assert_eq!(repos[0]["name"], "acme/platform/sub/p10");
    assert_eq!(repos[1]["size"], 4);
    assert_eq!(repos[2]["fork"], true);
    assert_eq!(repos[0]["pushed_at"], "2026-11-01T00:00:00Z");
    assert!(err.contains("rate limited") && err.contains("waiting"), "{err}");
    let seen = server.state();
    for parameter in [
        "include_subgroups=true",
        "with_shared=false",
        "per_page=100",
        "statistics=true",
    ] {
        assert!(
            seen.requests[0].contains(parameter),
            "{parameter} in {}",
            seen.requests[0]
        );
    }
    assert!(
        seen.credentials
            .iter()
            .all(|c| c == "PRIVATE-TOKEN: glpat-FAKEfakeFAKEfake0000")
    );
    assert!(!err.contains("glpat-FAKE"));
}

/// An answer of a fake forge: status, headers, body.
type Answer = (u16, Vec<(&'static str, String)>, String);

/// A fake forge that answers every request with `answer(host, page)`.
fn hostile(answer: fn(&str, u32) -> Answer) -> Served<Seen> {
    Served::start(Seen::default(), move |request: Request, seen: &Mutex<Seen>| {
        let (url, _) = record(&request, seen);
        let page = page_of(&url);
        let host = header(&request, "Host").unwrap_or_default();
        let (status, headers, body) = answer(&host, page);
        respond(request, status, &headers, body);
    })
}

#[test]
fn hostile_servers_are_bounded_and_their_text_escaped() {
    // A Link loop: page 2 links back to page 1.
    let server = hostile(|host, page| {
        let next = if page == 1 { 2 } else { 1 };
        let link = format!("<http://{host}/orgs/acme/repos?per_page=100&type=all&page={next}>; rel=\"next\"");
        (200, vec![("Link", link)], "[]".into())
    });
    let (status, _, err) = org(&["github", "acme", "--api-base", &server.base], &[]);
    assert_eq!(status, 2);
    assert!(err.contains("Link loop"), "{err}");
    assert!(server.state().requests.len() <= 3);

    // Endless pages: stopped at the page bound.
    let server = hostile(|host, page| {
        let link = format!("<http://{host}/x?page={}>; rel=\"next\"", page + 1);
        (200, vec![("Link", link)], "[]".into())
    });
    let (status, _, err) = org(&["github", "acme", "--api-base", &server.base], &[]);
    assert_eq!(status, 2);
    assert!(err.contains("more than 1000 pages"), "{err}");

    // A next link to another host would carry the token there: not followed.
    let server = hostile(|_, _| {
        let link = "<http://127.0.0.2:1/steal?page=2>; rel=\"next\"".to_string();
        (200, vec![("Link", link)], "[]".into())
    });
    let (status, _, err) = org(
        &["github", "acme", "--api-base", &server.base],
        &[("GITHUB_TOKEN", FAKE_TOKEN)],
    );
    assert_eq!(status, 2);
    assert!(err.contains("not under the API base"), "{err}");

    // Huge and malformed bodies.
    let server = hostile(|_, _| (200, Vec::new(), format!("[{}]", " ".repeat(5 * 1024 * 1024))));
    let (status, _, err) = org(&["github", "acme", "--api-base", &server.base], &[]);
    assert_eq!(status, 2);
    assert!(err.contains("larger than"), "{err}");
    let server = hostile(|_, _| (200, Vec::new(), "{\"not\": \"an array\"".into()));
    let (status, _, err) = org(&["github", "acme", "--api-base", &server.base], &[]);
    assert_eq!(status, 2);
    assert!(err.contains("not a JSON array"), "{err}");

    // Control characters in names are escaped; a clone URL that is not HTTPS is left out.
    let server = hostile(|_, _| {
        let mut evil = gh_repo("evil\u{1b}]0;pwned\u{7}\u{202e}", 1, false, false);
        evil["clone_url"] = json!("https://github.example/acme/evil.git");
        let mut local = gh_repo("local", 1, false, false);
        local["clone_url"] = json!("file:///etc");
        (200, Vec::new(), json!([evil, local]).to_string())
    });
    let (status, out, err) = org(&["github", "acme", "--api-base", &server.base], &[]);
    assert_eq!(status, 0, "{err}");
    assert!(
        !out.contains('\u{1b}') && !out.contains('\u{7}') && !out.contains('\u{202e}'),
        "{out:?}"
    );
    assert_eq!(lines(&out).len(), 1);
    assert!(
        lines(&out)[0]["name"].as_str().is_some_and(|n| n.contains('\u{1b}')),
        "the JSON keeps the name"
    );
    assert!(
        err.contains("not HTTPS: left out") && !err.contains('\u{1b}'),
        "{err:?}"
    );
}

#[test]
fn a_rate_limit_wait_longer_than_max_wait_is_an_error() {
    let server = hostile(|_, _| (429, vec![("Retry-After", "3600".to_string())], "{}".into()));
    let (status, _, err) = org(&["github", "acme", "--api-base", &server.base, "--max-wait", "5"], &[]);
    assert_eq!(status, 2);
    assert!(err.contains("3600 s") && err.contains("--max-wait"), "{err}");
}

#[test]
fn shards_cover_every_repository_once_from_flags_or_ci_variables() {
    let server = fake_github();
    let base = server.base.clone();
    let all: Vec<String> = {
        let (_, out, _) = org(&["github", "acme", "--api-base", &base], &[]);
        let mut names: Vec<String> = lines(&out).iter().map(|r| r["name"].to_string()).collect();
        names.sort();
        names
    };
    let mut dealt = Vec::new();
    for index in 0..3 {
        let index = index.to_string();
        let by_flag = org(
            &[
                "github",
                "acme",
                "--api-base",
                &base,
                "--shard-index",
                &index,
                "--shard-count",
                "3",
            ],
            &[],
        );
        let by_k8s = org(
            &["github", "acme", "--api-base", &base, "--shard-count", "3"],
            &[("JOB_COMPLETION_INDEX", &index)],
        );
        let node = (index.parse::<u32>().unwrap_or(0) + 1).to_string();
        let by_gitlab = org(
            &["github", "acme", "--api-base", &base],
            &[("CI_NODE_INDEX", &node), ("CI_NODE_TOTAL", "3")],
        );
        assert_eq!(by_flag.0, 0, "{}", by_flag.2);
        assert_eq!(by_flag.1, by_k8s.1);
        assert_eq!(by_flag.1, by_gitlab.1);
        dealt.extend(lines(&by_flag.1).iter().map(|r| r["name"].to_string()));
    }
    dealt.sort();
    assert_eq!(dealt, all);
    let (status, _, err) = org(
        &["github", "acme", "--api-base", &base],
        &[("JOB_COMPLETION_INDEX", "1")],
    );
    assert_eq!(status, 2);
    assert!(err.contains("--shard-count"), "{err}");
}

/// GitHub Actions' `fromJSON` hands `strategy.matrix` an object; `include` must be an array of objects whose
/// values are scalars (strings, numbers), each becoming `matrix.<key>` in a job.
fn check_matrix_shape(matrix: &Value) {
    let object = matrix.as_object().expect("a JSON object");
    assert_eq!(object.keys().collect::<Vec<_>>(), ["include"], "only `include`");
    let include = object["include"].as_array().expect("include is an array");
    assert!(!include.is_empty() && include.len() <= 256, "1 to 256 jobs");
    for entry in include {
        let entry = entry.as_object().expect("each entry an object");
        for key in ["shard", "count", "size", "repos"] {
            assert!(entry.contains_key(key), "{key} in {entry:?}");
        }
        assert!(entry.values().all(|v| v.is_string() || v.is_number()), "scalars only");
    }
}

#[test]
fn the_matrix_has_the_shape_from_json_needs_and_balances_sizes() {
    let server = fake_github();
    let (status, out, err) = org(&["github", "acme", "--api-base", &server.base, "--matrix", "4"], &[]);
    assert_eq!(status, 0, "{err}");
    assert_eq!(out.lines().count(), 1, "one line, for $GITHUB_OUTPUT");
    let matrix: Value = serde_json::from_str(&out).expect("JSON");
    check_matrix_shape(&matrix);
    let include = matrix["include"].as_array().expect("array");
    assert_eq!(include.len(), 4);
    let sizes: Vec<u64> = include.iter().map(|s| s["size"].as_u64().unwrap_or(0)).collect();
    let (min, max) = (
        sizes.iter().min().copied().unwrap_or(0),
        sizes.iter().max().copied().unwrap_or(0),
    );
    assert!(max - min <= 249, "balanced: {sizes:?}");
    let total: usize = include
        .iter()
        .map(|s| s["repos"].as_str().unwrap_or("").lines().count())
        .sum();
    assert_eq!(total, 250);
    let again = org(&["github", "acme", "--api-base", &server.base, "--matrix", "4"], &[]);
    assert_eq!(again.1, out, "deterministic");
}

#[test]
fn a_listing_feeds_keyhound_git_through_a_matrix_shard() {
    // Two repositories served over smart HTTP, listed by a fake GitHub whose clone URLs point at them.
    let work = Repo::new();
    work.commit(&[("app.env", &format!("OPENAI_API_KEY={PROJECT_KEY}\n"))], "leak");
    let served = TempDir::new().expect("temp dir");
    for name in ["a.git", "b.git"] {
        git_ok(
            served.path(),
            &["clone", "-q", "--bare", &work.path().display().to_string(), name],
        );
    }
    let git = GitHttp::start(served.path());
    let urls = [git.url("a.git"), git.url("b.git")];
    let api = Served::start(urls.clone(), |request: Request, urls: &Mutex<[String; 2]>| {
        let urls = urls.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let repos: Vec<Value> = urls
            .iter()
            .enumerate()
            .map(|(i, url)| {
                let mut repo = gh_repo(&format!("r{i}"), 10, false, false);
                repo["clone_url"] = json!(url);
                repo
            })
            .collect();
        respond(request, 200, &[], Value::Array(repos).to_string());
    });
    let (status, out, err) = org(&["github", "acme", "--api-base", &api.base, "--matrix", "1"], &[]);
    assert_eq!(status, 0, "{err}");
    let matrix: Value = serde_json::from_str(&out).expect("JSON");
    check_matrix_shape(&matrix);
    let repos = matrix["include"][0]["repos"].as_str().expect("repos").to_string();
    let cache = TempDir::new().expect("temp dir");
    let output = git_from_stdin(cache.path(), format!("{repos}\n"));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let report: Value = serde_json::from_str(&stdout(&output)).expect("a JSON report");
    let labels: Vec<&str> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["repository"].as_str())
        .collect();
    assert_eq!(labels.len(), 2);
    assert!(urls.iter().all(|u| labels.contains(&u.as_str())), "{labels:?}");
    // And the JSON lines of `keyhound org` are read the same way.
    let (_, lines_out, _) = org(&["github", "acme", "--api-base", &api.base], &[]);
    let output = git_from_stdin(cache.path(), lines_out);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
}
