//! Remote repositories: a URL becomes a bare mirror in a cache directory, created on first use and fetched
//! (every ref, pruned) on later runs; the history scan then reads the mirror as it reads any bare repository.
//!
//! libgit2 is built here without HTTPS or SSH, so the system `git` fetches, as a subprocess that nothing from the
//! remote can steer: no hooks (an empty `core.hooksPath`), no `ext::` transport, no fsmonitor, no prompt (no
//! terminal, no askpass), no checkout (a bare mirror has no working tree, so no filters or attributes run), and a
//! time limit. Credentials come from git's own mechanisms (credential helpers, the ssh agent) or from
//! `GITHUB_TOKEN` / `GITLAB_TOKEN`, handed to git through its environment (`GIT_CONFIG_COUNT`), never on a command
//! line; every URL keyhound shows has its userinfo removed, and the tokens are redacted wherever keys are.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use sha2::{Digest, Sha256};
use wait_timeout::ChildExt as _;

use crate::finding::Secret;

/// How long one `git` run may take before it is stopped [default of `--fetch-timeout`].
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// How much of git's stderr is kept for an error message.
const MAX_STDERR: usize = 64 * 1024;

/// How much of git's stdout is kept: `ls-remote` of a repository with a million refs. Past it the refs read do
/// not match the mirror's, and the mirror is fetched: the bound costs time, never a missed commit.
const MAX_STDOUT: usize = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    #[error("{url}: cannot create the mirror directory {}: {message}", path.display())]
    CacheDir {
        url: String,
        path: PathBuf,
        message: String,
    },
    #[error("{url}: cannot run git: {message}")]
    Spawn { url: String, message: String },
    #[error("{url}: git fetch failed ({status}): {stderr}")]
    Fetch {
        url: String,
        status: String,
        stderr: String,
    },
    #[error("{url}: git took longer than {} s (--fetch-timeout) and was stopped", timeout.as_secs())]
    Timeout { url: String, timeout: Duration },
}

/// Does `arg` name a remote repository rather than a local path? `scheme://...` for the schemes git fetches
/// from, or scp-style `[user@]host:path` (a colon before any slash, as git itself decides).
pub fn is_remote(arg: &str) -> bool {
    if let Some((scheme, _)) = arg.split_once("://") {
        return ["https", "http", "ssh", "git", "file", "git+ssh", "ssh+git"]
            .contains(&scheme.to_ascii_lowercase().as_str());
    }
    scp_like(arg).is_some()
}

/// `[user@]host:path` split as (userinfo with its `@`, host, path); `None` for anything else (a path with a
/// slash before the colon, a Windows drive letter, no colon).
fn scp_like(arg: &str) -> Option<(&str, &str, &str)> {
    let colon = arg.find(':')?;
    if arg[..colon].contains('/') || colon == 0 || arg.starts_with('-') {
        return None;
    }
    let (userinfo, host) = match arg[..colon].rfind('@') {
        Some(at) => (&arg[..=at], &arg[at + 1..colon]),
        None => ("", &arg[..colon]),
    };
    // `C:\path` and `C:path`: one letter before the colon is a drive on Windows, a host nowhere.
    if host.len() < 2 && cfg!(windows) || host.is_empty() {
        return None;
    }
    Some((userinfo, host, &arg[colon + 1..]))
}

/// A remote repository's URL, as given (for git) and as shown (userinfo removed).
#[derive(Debug, Clone)]
pub struct RemoteUrl {
    given: String,
    shown: String,
    /// `scheme`, lower case (`ssh` for scp-style).
    scheme: String,
    host: String,
    path: String,
}

impl RemoteUrl {
    pub fn parse(arg: &str) -> Option<RemoteUrl> {
        if let Some((scheme, rest)) = arg.split_once("://") {
            let scheme = scheme.to_ascii_lowercase();
            if !is_remote(arg) {
                return None;
            }
            let (authority, path) = match rest.find('/') {
                Some(slash) => (&rest[..slash], &rest[slash..]),
                None => (rest, ""),
            };
            let (userinfo, host) = match authority.rfind('@') {
                Some(at) => (&authority[..=at], &authority[at + 1..]),
                None => ("", authority),
            };
            // A password in the URL is redacted wherever keys are, should git or a server echo it.
            if let Some((_, password)) = userinfo.trim_end_matches('@').split_once(':')
                && !password.is_empty()
            {
                crate::text::protect_sent(&Secret::new(password));
            }
            let shown = format!("{scheme}://{host}{path}");
            return Some(RemoteUrl {
                given: arg.to_string(),
                shown,
                scheme,
                host: host.to_ascii_lowercase(),
                path: path.to_string(),
            });
        }
        let (_, host, path) = scp_like(arg)?;
        Some(RemoteUrl {
            given: arg.to_string(),
            shown: format!("{host}:{path}"),
            scheme: "ssh".into(),
            host: host.to_ascii_lowercase(),
            path: path.to_string(),
        })
    }

    /// The URL with its userinfo removed: what keyhound prints and labels findings with.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// The mirror's directory name under the cache directory: `host/path` made safe (letters, digits, `-`,
    /// `_`, `.`; at most 80 characters) and the first 12 hex digits of the SHA-256 of the shown URL, so two
    /// URLs never share a mirror and one URL always finds its own.
    pub fn cache_name(&self) -> String {
        let mut readable: String = format!("{}/{}", self.host, self.path.trim_end_matches('/'))
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        while readable.contains("__") {
            readable = readable.replace("__", "_");
        }
        let readable = readable.trim_matches(|c| c == '_' || c == '.');
        let readable: String = readable.chars().take(80).collect();
        let digest = Sha256::digest(self.shown.as_bytes());
        let hash: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
        format!("{readable}-{hash}.git")
    }

    fn is_http(&self) -> bool {
        self.scheme == "https" || self.scheme == "http"
    }
}

/// The default cache directory: `$XDG_CACHE_HOME/keyhound/repos`, else `~/.cache/keyhound/repos`
/// (`%LOCALAPPDATA%\keyhound\repos` on Windows).
pub fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            if cfg!(windows) {
                std::env::var_os("LOCALAPPDATA").map(PathBuf::from)
            } else {
                std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .map(|home| PathBuf::from(home).join(".cache"))
            }
        })?;
    Some(base.join("keyhound").join("repos"))
}

/// A token for the hosts of one forge, sent as HTTP basic authentication to those hosts only.
#[derive(Debug, Clone)]
pub struct HostToken {
    pub host: String,
    /// The user name the forge expects beside a token (`x-access-token` on GitHub, `oauth2` on GitLab).
    pub user: &'static str,
    pub token: Secret,
}

/// The tokens in the environment: `GITHUB_TOKEN` for github.com (and the host of `KEYHOUND_GITHUB_API_BASE`),
/// `GITLAB_TOKEN` for gitlab.com (and the host of `KEYHOUND_GITLAB_API_BASE`).
pub fn tokens_from_env() -> Vec<HostToken> {
    let mut tokens = Vec::new();
    for (variable, user, default_host, base_variable) in [
        (
            "GITHUB_TOKEN",
            "x-access-token",
            "github.com",
            "KEYHOUND_GITHUB_API_BASE",
        ),
        ("GITLAB_TOKEN", "oauth2", "gitlab.com", "KEYHOUND_GITLAB_API_BASE"),
    ] {
        let Some(token) = std::env::var(variable).ok().filter(|t| !t.trim().is_empty()) else {
            continue;
        };
        let token = Secret::new(token.trim());
        crate::text::protect_sent(&token);
        let mut hosts = vec![default_host.to_string()];
        if let Some(host) = std::env::var(base_variable).ok().as_deref().and_then(host_of) {
            // GitHub Enterprise serves its API at HOST/api/v3 or api.HOST; the repositories live at HOST.
            hosts.push(host.strip_prefix("api.").unwrap_or(&host).to_string());
            hosts.push(host);
        }
        hosts.dedup();
        for host in hosts {
            tokens.push(HostToken {
                host,
                user,
                token: token.clone(),
            });
        }
    }
    tokens
}

/// The host (and port) of an `http(s)://` URL, lower case.
fn host_of(url: &str) -> Option<String> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split('/').next()?;
    let host = authority.rsplit('@').next()?;
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// What a fetch left: a mirror to scan, and what is worth a note.
#[derive(Debug)]
pub struct Mirror {
    pub path: PathBuf,
    /// Created by this run (a first clone) rather than updated.
    pub created: bool,
    /// The server's repository is shallow: history before its cut is missing.
    pub shallow: bool,
    /// The mirror is a partial clone: some objects are missing.
    pub partial: bool,
    /// Bytes the mirror's object directory grew by.
    pub fetched_bytes: u64,
    /// Something was fetched: the remote's refs differed from the mirror's (or the mirror is new).
    pub fetched: bool,
}

/// How to fetch.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    pub cache_dir: PathBuf,
    pub timeout: Duration,
    pub tokens: Vec<HostToken>,
}

/// Creates or updates the mirror of `url` under the cache directory. A failed fetch is an error: the mirror is
/// left as it was, but not scanned (a report must not pass a repository on what an old mirror held).
///
/// The remote is asked first for its refs and its default branch (`git ls-remote --symref`, one round trip). When
/// an existing mirror already holds exactly those refs, nothing is fetched: a nightly run over an organisation
/// where little changed costs one question a repository.
pub fn sync(url: &RemoteUrl, options: &FetchOptions) -> Result<Mirror, MirrorError> {
    let path = options.cache_dir.join(url.cache_name());
    let cache_error = |e: std::io::Error| MirrorError::CacheDir {
        url: url.shown.clone(),
        path: path.clone(),
        message: e.to_string(),
    };
    std::fs::create_dir_all(&options.cache_dir).map_err(cache_error)?;
    let hooks = options.cache_dir.join(".no-hooks");
    std::fs::create_dir_all(&hooks).map_err(cache_error)?;
    let created = !path.join("HEAD").is_file();
    if created {
        std::fs::create_dir_all(&path).map_err(cache_error)?;
    }
    let (remote, fetched_bytes, fetched) = match update(url, options, &hooks, &path, created) {
        Ok(updated) => updated,
        Err(err) => {
            if created {
                // A first clone that failed leaves nothing behind: the next run starts afresh.
                let _ = std::fs::remove_dir_all(&path);
            }
            return Err(err);
        }
    };
    // HEAD names the remote's default branch when the remote says which it is.
    if let Some(target) = &remote.head
        && local_head(&path).as_deref() != Some(target.as_str())
    {
        let _ = run_git(url, options, &hooks, &path, &["symbolic-ref", "HEAD", target]);
    }
    let config = std::fs::read_to_string(path.join("config")).unwrap_or_default();
    Ok(Mirror {
        shallow: path.join("shallow").exists(),
        partial: config.to_ascii_lowercase().contains("partialclone"),
        fetched_bytes,
        fetched,
        created,
        path,
    })
}

/// Brings the mirror at `path` (just made, when `created`) up to date with the remote: asks for its refs and
/// fetches only when the mirror's differ. Returns what the remote said, the bytes fetched, and whether anything
/// was fetched.
fn update(
    url: &RemoteUrl,
    options: &FetchOptions,
    hooks: &Path,
    path: &Path,
    created: bool,
) -> Result<(RemoteRefs, u64, bool), MirrorError> {
    if created {
        run_git(url, options, hooks, path, &["init", "--quiet", "--bare"])?;
    }
    let remote = RemoteRefs::parse(&run_git(
        url,
        options,
        hooks,
        path,
        &["ls-remote", "--symref", "--", &url.given],
    )?);
    if !created && remote.refs == local_refs(path) {
        return Ok((remote, 0, false));
    }
    let before = dir_size(&path.join("objects"));
    run_git(
        url,
        options,
        hooks,
        path,
        &[
            // What comes stays one pack, however little (loose objects cost a scan a file each), and git's
            // automatic upkeep after the fetch finishes before the scan reads the mirror, not behind it.
            "-c",
            "fetch.unpackLimit=1",
            "-c",
            "gc.autoDetach=false",
            "-c",
            "maintenance.autoDetach=false",
            "fetch",
            "--quiet",
            "--prune",
            "--no-tags",
            "--no-recurse-submodules",
            "--no-write-fetch-head",
            // A shallow server repository: take what it has, and record its cut in the mirror's `shallow` file.
            "--update-shallow",
            "--",
            &url.given,
            "+refs/*:refs/*",
        ],
    )?;
    let fetched_bytes = dir_size(&path.join("objects")).saturating_sub(before);
    Ok((remote, fetched_bytes, true))
}

/// What `git ls-remote --symref` said: every ref under `refs/` with the object it names, and the branch HEAD
/// points at (when it is a well-formed branch name).
#[derive(Debug, Default, PartialEq)]
struct RemoteRefs {
    refs: BTreeMap<String, String>,
    head: Option<String>,
}

impl RemoteRefs {
    /// Reads `OID<TAB>NAME` lines and `ref: TARGET<TAB>HEAD`; peeled tags (`NAME^{}`) and anything else are passed
    /// over. The text is the server's: it is only compared and, for HEAD, checked before use.
    fn parse(out: &str) -> RemoteRefs {
        let mut parsed = RemoteRefs::default();
        for line in out.lines() {
            if let Some(rest) = line.strip_prefix("ref: ") {
                if let Some((target, "HEAD")) = rest.split_once('\t')
                    && target.starts_with("refs/heads/")
                    && target.len() > "refs/heads/".len()
                    && target.bytes().all(|b| b.is_ascii_graphic())
                {
                    parsed.head = Some(target.to_string());
                }
                continue;
            }
            let Some((oid, name)) = line.split_once('\t') else {
                continue;
            };
            if name.starts_with("refs/") && !name.ends_with("^{}") {
                parsed.refs.insert(name.to_string(), oid.to_string());
            }
        }
        parsed
    }
}

/// The mirror's refs under `refs/` and the objects they name (empty when it cannot be read: then it is fetched).
fn local_refs(path: &Path) -> BTreeMap<String, String> {
    let mut refs = BTreeMap::new();
    let Ok(repo) = git2::Repository::open_bare(path) else {
        return refs;
    };
    let Ok(references) = repo.references() else {
        return refs;
    };
    for reference in references.flatten() {
        if let (Ok(name), Some(oid)) = (reference.name(), reference.target()) {
            refs.insert(name.to_string(), oid.to_string());
        }
    }
    refs
}

/// The branch the mirror's HEAD points at.
fn local_head(path: &Path) -> Option<String> {
    let head = std::fs::read_to_string(path.join("HEAD")).ok()?;
    Some(head.strip_prefix("ref: ")?.trim_end().to_string())
}

/// The total size of the files under `dir`.
fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => stack.push(entry.path()),
                Ok(kind) if kind.is_file() => total += entry.metadata().map(|m| m.len()).unwrap_or(0),
                _ => {}
            }
        }
    }
    total
}

/// Runs `git ARGS` on the mirror at `path`, hardened (see the module comment), and returns its stdout.
fn run_git(
    url: &RemoteUrl,
    options: &FetchOptions,
    hooks: &Path,
    path: &Path,
    args: &[&str],
) -> Result<String, MirrorError> {
    let mut cmd = Command::new("git");
    let hooks_setting = format!("core.hooksPath={}", hooks.display());
    cmd.arg("--git-dir")
        .arg(path)
        .args(["-c", &hooks_setting])
        .args(["-c", "protocol.ext.allow=never"])
        .args(["-c", "protocol.file.allow=always"])
        .args(["-c", "core.fsmonitor=false"])
        .args(["-c", "core.askPass="])
        .args(["-c", "credential.interactive=never"])
        .args(["-c", "submodule.recurse=false"])
        .args(["-c", "fetch.recurseSubmodules=false"])
        .args(args)
        .current_dir(path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "")
        .env("SSH_ASKPASS", "")
        .env("SSH_ASKPASS_REQUIRE", "never")
        .env("GCM_INTERACTIVE", "never")
        .env("LC_ALL", "C");
    // What a hook that runs keyhound would pass down must not point git at another repository.
    for variable in [
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_COMMON_DIR",
        "GIT_NAMESPACE",
        "GIT_EXTERNAL_DIFF",
    ] {
        cmd.env_remove(variable);
    }
    if std::env::var_os("GIT_SSH_COMMAND").is_none() && std::env::var_os("GIT_SSH").is_none() {
        // ssh never asks for a password or a host key: an unknown host fails instead of waiting.
        cmd.env("GIT_SSH_COMMAND", "ssh -o BatchMode=yes");
    }
    if url.is_http() {
        let mut index: usize = std::env::var("GIT_CONFIG_COUNT")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        // A token goes over HTTPS only, or plain HTTP to this machine (a test server, a local proxy).
        let loopback = url.scheme == "https" || crate::http::is_loopback(&url.host);
        for token in options.tokens.iter().filter(|t| loopback && t.host == url.host) {
            let credentials =
                base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", token.user, token.token.expose()));
            let header = Secret::new(format!("Authorization: Basic {credentials}"));
            crate::text::protect_sent(&Secret::new(credentials));
            cmd.env(
                format!("GIT_CONFIG_KEY_{index}"),
                format!("http.{}://{}/.extraHeader", url.scheme, url.host),
            )
            .env(format!("GIT_CONFIG_VALUE_{index}"), header.expose());
            index += 1;
        }
        cmd.env("GIT_CONFIG_COUNT", index.to_string());
    }
    let shown = || url.shown.clone();
    let mut child = cmd.spawn().map_err(|e| MirrorError::Spawn {
        url: shown(),
        message: e.to_string(),
    })?;
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let read_out = std::thread::spawn(move || read_bounded(stdout, MAX_STDOUT));
    let read_err = std::thread::spawn(move || read_bounded(stderr, MAX_STDERR));
    let status = match child.wait_timeout(options.timeout) {
        Ok(Some(status)) => status,
        Ok(None) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(MirrorError::Timeout {
                url: shown(),
                timeout: options.timeout,
            });
        }
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(MirrorError::Spawn {
                url: shown(),
                message: e.to_string(),
            });
        }
    };
    let out = read_out.join().unwrap_or_default();
    let err = read_err.join().unwrap_or_default();
    if !status.success() {
        return Err(MirrorError::Fetch {
            url: shown(),
            status: status
                .code()
                .map_or_else(|| "killed".to_string(), |c| format!("exit code {c}")),
            stderr: scrub(&err, url),
        });
    }
    Ok(out)
}

/// Reads a child's pipe, keeping at most `max` bytes (and draining the rest, so the child never blocks).
fn read_bounded(pipe: Option<impl Read>, max: usize) -> String {
    let Some(mut pipe) = pipe else {
        return String::new();
    };
    let mut kept = Vec::new();
    let mut buf = [0u8; 8192];
    while let Ok(n) = pipe.read(&mut buf) {
        if n == 0 {
            break;
        }
        let room = max.saturating_sub(kept.len());
        kept.extend_from_slice(&buf[..n.min(room)]);
    }
    String::from_utf8_lossy(&kept).into_owned()
}

/// git's stderr as one line for an error message: the URL as given replaced by the URL as shown, and any other
/// `scheme://user@` userinfo removed. (Tokens and passwords are redacted later, with keys.)
fn scrub(stderr: &str, url: &RemoteUrl) -> String {
    let text = stderr.replace(&url.given, &url.shown);
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(at) = rest.find("://") {
        out.push_str(&rest[..at + 3]);
        rest = &rest[at + 3..];
        let end = rest
            .find(|c: char| c == '/' || c.is_whitespace() || c == '\'' || c == '"')
            .unwrap_or(rest.len());
        if let Some(userinfo_end) = rest[..end].rfind('@') {
            rest = &rest[userinfo_end + 1..];
        }
    }
    out.push_str(rest);
    out.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_or_local() {
        for remote in [
            "https://github.com/o/r.git",
            "http://127.0.0.1:8080/r.git",
            "ssh://git@example.com/o/r.git",
            "git@github.com:o/r.git",
            "file:///srv/r.git",
            "example.com:r.git",
        ] {
            assert!(is_remote(remote), "{remote}");
        }
        for local in ["repo", "./a:b", "/srv/r.git", "dir/x:y", "", ":x", "ftp://x/y", "-c:x"] {
            assert!(!is_remote(local), "{local}");
        }
    }

    #[test]
    fn userinfo_is_never_shown() {
        let url = RemoteUrl::parse("https://user:s3cret-pass@example.com:8443/o/r.git").expect("a URL");
        assert_eq!(url.shown(), "https://example.com:8443/o/r.git");
        assert!(!url.cache_name().contains("s3cret"));
        let scp = RemoteUrl::parse("git@github.com:o/r.git").expect("scp-style");
        assert_eq!(scp.shown(), "github.com:o/r.git");
    }

    #[test]
    fn cache_names_are_stable_safe_and_distinct() {
        let a = RemoteUrl::parse("https://github.com/o/r.git").expect("a URL");
        let b = RemoteUrl::parse("https://me:pw@github.com/o/r.git").expect("a URL");
        let c = RemoteUrl::parse("https://github.com/o/r2.git").expect("a URL");
        assert_eq!(a.cache_name(), b.cache_name());
        assert_ne!(a.cache_name(), c.cache_name());
        assert!(a.cache_name().starts_with("github.com_o_r.git-"));
        let odd = RemoteUrl::parse("file:///../../etc/passwd").expect("a URL");
        assert!(!odd.cache_name().contains('/') && !odd.cache_name().starts_with('.'));
    }

    #[test]
    fn the_remote_refs_are_read_and_only_a_plain_branch_becomes_head() {
        let said = "ref: refs/heads/main\tHEAD\n1111111111111111111111111111111111111111\tHEAD\n\
                    1111111111111111111111111111111111111111\trefs/heads/main\n\
                    2222222222222222222222222222222222222222\trefs/tags/v1\n\
                    3333333333333333333333333333333333333333\trefs/tags/v1^{}\n\
                    4444444444444444444444444444444444444444\trefs/pull/1/head\n\
                    garbage without a tab\n";
        let refs = RemoteRefs::parse(said);
        assert_eq!(refs.head.as_deref(), Some("refs/heads/main"));
        let names: Vec<&str> = refs.refs.keys().map(String::as_str).collect();
        assert_eq!(names, ["refs/heads/main", "refs/pull/1/head", "refs/tags/v1"]);
        assert_eq!(refs.refs["refs/tags/v1"], "2222222222222222222222222222222222222222");
        for hostile in [
            "ref: refs/tags/v1\tHEAD\n",
            "ref: refs/heads/\tHEAD\n",
            "ref: refs/heads/a b\tHEAD\n",
            "ref: refs/heads/x\u{1b}[2J\tHEAD\n",
            "ref: --upload-pack=evil\tHEAD\n",
            "ref: refs/heads/main\trefs/heads/other\n",
        ] {
            assert_eq!(RemoteRefs::parse(hostile).head, None, "{hostile:?}");
        }
    }

    #[test]
    fn git_stderr_loses_userinfo() {
        let url = RemoteUrl::parse("https://u:pw@h.example/r.git").expect("a URL");
        let said = "fatal: unable to access 'https://u:pw@h.example/r.git/': 403\nsee http://x:y@other/z\n";
        let scrubbed = scrub(said, &url);
        assert!(!scrubbed.contains("pw") && !scrubbed.contains("x:y"), "{scrubbed}");
        assert!(scrubbed.contains("https://h.example/r.git/"));
    }
}
