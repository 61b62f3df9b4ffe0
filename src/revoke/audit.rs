//! The audit log (`--audit-log FILE`): one JSON object per line per action, appended and flushed as it
//! happens, so an interrupted run leaves a log that says exactly what was done.
//!
//! Fields of every line (absent values are `null`):
//!
//! - `time`: RFC 3339, UTC.
//! - `action`: `probe`, `match`, `delete-attempt`, `delete`, `service-account-delete-attempt`,
//!   `service-account-delete`, `confirm`.
//! - `dry_run`: `true` unless `--yes`.
//! - `provider`: the key's provider, as in reports (`openai`, `anthropic`).
//! - `fingerprint`: the leaked key's fingerprint, as in reports.
//! - `key`: the leaked key, redacted (`sk-proj-AbCd…wXyZ`).
//! - `kind`: the key's kind, as its rule says: `project`, `service-account`, `admin`, `none`, `legacy` for
//!   OpenAI; `api`, `admin-api`, ... for others.
//! - `key_id`, `project_id`: the matched key and its project (OpenAI) or workspace (Anthropic);
//!   `service_account_id` for service-account deletions.
//! - `http_status`, `request_id`: the response's status and `x-request-id` header.
//! - `key_organization`, `admin_organization`: the organisations the provider named (`openai-organization`,
//!   `anthropic-organization-id`) for the leaked key's probe and for the admin key's requests: the evidence of
//!   whose key it is.
//! - `proof`: on `match` lines, `same-organization`, `redacted-value` or `not-proven`.
//! - `outcome`: `live`/`dead`/`unknown` (probe); `matched`/`planned`/`ambiguous`/`no-match`/
//!   `other-organization`/`not-proven`/`by-hand` (match); `sent` (attempts); `deleted`/`disabled`/`gone`/
//!   `failed`/`no-answer` (deletions, and `disable` for providers that disable rather than delete);
//!   `revoked`/`still-live`/`unconfirmed` (confirm).
//! - `message`: details for people (the provider's error message, the candidates of an ambiguous match).
//!
//! The key itself and the admin key are never written.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;

use super::keys::LeakedKey;
use crate::text::for_message;

/// The audit log could not be opened or written. Writing failures stop the run: acting without the record
/// the user asked for is not an option.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("cannot open the audit log {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open the audit log {path}: not a regular file ({kind}); symbolic links are not followed")]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error("cannot write the audit log {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// One line of the log.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Entry {
    pub time: String,
    pub action: &'static str,
    pub dry_run: bool,
    pub provider: Option<String>,
    pub fingerprint: Option<String>,
    pub key: Option<String>,
    pub kind: Option<String>,
    pub key_id: Option<String>,
    pub project_id: Option<String>,
    pub service_account_id: Option<String>,
    pub http_status: Option<u16>,
    pub request_id: Option<String>,
    /// The organisation OpenAI named for the leaked key (`openai-organization` on its probe).
    pub key_organization: Option<String>,
    /// The organisation OpenAI named for the admin key's requests.
    pub admin_organization: Option<String>,
    /// How the key was shown to be the organisation's before a deletion: `same-organization`,
    /// `redacted-value` (enough of it shown to rule out a collision), or `not-proven`.
    pub proof: Option<String>,
    pub outcome: String,
    pub message: Option<String>,
}

impl Entry {
    /// An entry about `key`, with the time left to [`AuditLog::record`].
    pub fn about(key: &LeakedKey, action: &'static str, outcome: impl Into<String>) -> Entry {
        Entry {
            action,
            provider: Some(key.provider.clone()),
            fingerprint: Some(key.fingerprint.0.clone()),
            key: Some(key.redacted.clone()),
            kind: Some(key.kind.clone()),
            outcome: outcome.into(),
            ..Entry::default()
        }
    }

    // Ids, request ids and messages come from the server or from the scanned content: every one goes through
    // the choke point for outside text on its way into the log.

    pub fn key_id(mut self, id: &str) -> Entry {
        self.key_id = Some(for_message(id));
        self
    }

    pub fn project(mut self, id: Option<&str>) -> Entry {
        self.project_id = id.map(for_message);
        self
    }

    pub fn service_account(mut self, id: &str) -> Entry {
        self.service_account_id = Some(for_message(id));
        self
    }

    pub fn http(mut self, status: Option<u16>, request_id: Option<&str>) -> Entry {
        self.http_status = status;
        self.request_id = request_id.map(for_message);
        self
    }

    /// The evidence of whose key it is.
    pub fn organizations(mut self, key: Option<&str>, admin: Option<&str>) -> Entry {
        self.key_organization = key.map(for_message);
        self.admin_organization = admin.map(for_message);
        self
    }

    pub fn proof(mut self, proof: &str) -> Entry {
        self.proof = Some(proof.to_string());
        self
    }

    pub fn message(mut self, message: impl Into<String>) -> Entry {
        self.message = Some(for_message(&message.into()));
        self
    }
}

/// The log, or nothing when `--audit-log` was not given. Shared by the probe threads.
#[derive(Debug)]
pub struct AuditLog {
    file: Option<(PathBuf, Mutex<File>)>,
    dry_run: bool,
}

impl AuditLog {
    /// A log that records nothing.
    pub fn disabled(dry_run: bool) -> AuditLog {
        AuditLog { file: None, dry_run }
    }

    /// Opens `path` for appending, creating it readable by its owner only (0600); an existing log keeps its mode.
    /// A symbolic link is not followed and a named pipe or a device is not opened: the log must land where it was
    /// asked to, and must not block the run.
    pub fn open(path: &Path, dry_run: bool) -> Result<AuditLog, AuditError> {
        let not_regular = |kind| AuditError::NotRegular {
            path: path.to_path_buf(),
            kind,
        };
        // A clear message for the common cases; the flags below close the race.
        if let Ok(meta) = std::fs::symlink_metadata(path)
            && !meta.is_file()
        {
            return Err(not_regular(crate::input::file_kind(&meta)));
        }
        let file = open_append(path).map_err(|source| {
            if is_symlink_refusal(&source) {
                not_regular("a symbolic link")
            } else {
                AuditError::Open {
                    path: path.to_path_buf(),
                    source,
                }
            }
        })?;
        let meta = file.metadata().map_err(|source| AuditError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        if !meta.is_file() {
            return Err(not_regular(crate::input::file_kind(&meta)));
        }
        Ok(AuditLog {
            file: Some((path.to_path_buf(), Mutex::new(file))),
            dry_run,
        })
    }

    /// Appends `entry` as one line and flushes it to the operating system before returning.
    pub fn record(&self, mut entry: Entry) -> Result<(), AuditError> {
        let Some((path, file)) = &self.file else {
            return Ok(());
        };
        entry.time = now_rfc3339();
        entry.dry_run = self.dry_run;
        let write_error = |source| AuditError::Write {
            path: path.clone(),
            source,
        };
        let line = serde_json::to_string(&entry).map_err(|e| write_error(e.into()))?;
        let mut line = crate::text::escape_json_extras(&line).into_owned();
        line.push('\n');
        let mut file = file.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // One write per line: with O_APPEND, lines of concurrent writers never interleave.
        file.write_all(line.as_bytes()).map_err(write_error)?;
        file.flush().map_err(write_error)?;
        file.sync_data().map_err(write_error)
    }
}

/// Opens `path` for appending, creating it 0600, without following a symbolic link (`O_NOFOLLOW`) and without
/// waiting for a reader when it is a named pipe (`O_NONBLOCK`, which changes nothing for a regular file).
#[cfg(unix)]
fn open_append(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
fn open_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// Did `open_append` fail because `path` is a symbolic link (`O_NOFOLLOW` gives `ELOOP`)?
#[cfg(unix)]
fn is_symlink_refusal(error: &std::io::Error) -> bool {
    error.raw_os_error() == Some(libc::ELOOP)
}

#[cfg(not(unix))]
fn is_symlink_refusal(_error: &std::io::Error) -> bool {
    false
}

/// The current time, RFC 3339 in UTC.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A unix timestamp as an RFC 3339 UTC date (for `last_used_at`), or the number when out of range.
pub fn unix_to_rfc3339(seconds: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| seconds.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Fingerprint, Secret};

    #[test]
    fn entries_are_appended_as_json_lines_without_the_key() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let path = dir.path().join("audit.jsonl");
        let raw = "sk-proj-e7njtS5pFbUcguGv1dHS84ExMaIWYiHaFUX1m1s97mCfvhcH";
        let key = LeakedKey {
            secret: Secret::new(raw),
            provider: "openai".into(),
            rule_id: "openai-project-key".into(),
            kind: "project".into(),
            redacted: "sk-proj-e7nj…vhcH".into(),
            fingerprint: Fingerprint::of("openai-project-key", raw),
            places: vec![],
            endpoint: None,
        };
        for _ in 0..2 {
            let log = AuditLog::open(&path, true).expect("open");
            log.record(Entry::about(&key, "probe", "live").http(Some(200), Some("req_1")))
                .expect("record");
        }
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(!text.contains(raw));
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON line"))
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["action"], "probe");
        assert_eq!(lines[0]["dry_run"], true);
        assert_eq!(lines[0]["request_id"], "req_1");
        assert_eq!(lines[0]["key_id"], serde_json::Value::Null);
        assert!(lines[0]["time"].as_str().is_some_and(|t| t.ends_with('Z')));
    }

    #[cfg(unix)]
    #[test]
    fn the_log_is_created_private_and_never_through_a_link() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::TempDir::new().expect("temp dir");
        let path = dir.path().join("audit.jsonl");
        AuditLog::open(&path, true).expect("open");
        let mode = std::fs::metadata(&path).expect("metadata").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);

        let link = dir.path().join("link.jsonl");
        std::os::unix::fs::symlink(&path, &link).expect("symlink");
        let err = AuditLog::open(&link, true).expect_err("a symbolic link");
        assert_eq!(
            err.to_string(),
            format!(
                "cannot open the audit log {}: not a regular file (a symbolic link); symbolic links are not followed",
                link.display()
            )
        );
        let err = AuditLog::open(dir.path(), true).expect_err("a directory");
        assert!(err.to_string().contains("not a regular file (a directory)"), "{err}");
    }

    #[test]
    fn unix_times_are_dates() {
        assert_eq!(unix_to_rfc3339(1711471533), "2024-03-26T16:45:33Z");
    }
}
