//! Commit and annotated-tag messages: people paste keys into them too ("old key was sk-…"), and no later commit
//! removes a key from a message. Each message is scanned as text of its own, under the path `<commit message>` or
//! `<tag message>`, with the commit (or tag) as its provenance.

use git2::Oid;

use super::enumerate::Enumeration;
use super::objects::Objects;
use super::{HistoryOptions, format_git_time};
use crate::content::inspect::inspect;
use crate::counts::Counts;
use crate::diag::Diagnostics;
use crate::finding::{Finding, GitProvenance};
use crate::scan::Scanner;

/// The path findings in a commit message are reported under.
pub const COMMIT_MESSAGE_PATH: &str = "<commit message>";
/// The path findings in an annotated tag's message are reported under.
pub const TAG_MESSAGE_PATH: &str = "<tag message>";

/// Is `path` one of the message paths (not a file)?
pub fn is_message_path(path: &str) -> bool {
    path == COMMIT_MESSAGE_PATH || path == TAG_MESSAGE_PATH
}

/// Scans the message of one commit; findings carry the commit as provenance (author fields are filled later,
/// as for blobs).
pub fn scan_commit_message(
    scanner: &Scanner,
    objects: &Objects<'_>,
    commit: Oid,
    options: &HistoryOptions,
    counts: &mut Counts,
) -> Result<Vec<Finding>, String> {
    let commit_object = objects.commit(commit).map_err(|e| e.reason)?;
    Ok(scan_message_of(scanner, &commit_object, options, counts))
}

/// Scans the message of a commit already read.
pub fn scan_message_of(
    scanner: &Scanner,
    commit: &git2::Commit<'_>,
    options: &HistoryOptions,
    counts: &mut Counts,
) -> Vec<Finding> {
    let message = commit.message_raw_bytes();
    let inspection = inspect(scanner, message, COMMIT_MESSAGE_PATH, &options.content);
    counts.message(message.len(), &inspection);
    let id = commit.id().to_string();
    inspection
        .findings
        .into_iter()
        .map(|mut finding| {
            finding.git = Some(GitProvenance {
                commit: id.clone(),
                blob: id.clone(),
                ..GitProvenance::default()
            });
            finding
        })
        .collect()
}

/// Scans the messages of the annotated tags on the selected refs. Their provenance is the tag: the tagger, the
/// tag's date and first line, and the commit it names (when it names one).
pub fn scan_tag_messages(
    scanner: &Scanner,
    objects: &Objects<'_>,
    enumeration: &Enumeration,
    label: &str,
    options: &HistoryOptions,
    diag: &Diagnostics,
    counts: &mut Counts,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    for tag_ref in &enumeration.tags {
        let tag = match objects.tag(tag_ref.tag) {
            Ok(tag) => tag,
            Err(err) => {
                let place = match tag_ref.unreachable {
                    true => format!("{} (unreachable tag)", tag_ref.tag),
                    false => format!("{} ({})", tag_ref.tag, tag_ref.reference),
                };
                counts.fail(diag, err.scan_error(place).in_repository(label));
                continue;
            }
        };
        let message = tag.message_bytes().unwrap_or_default();
        let inspection = inspect(scanner, message, TAG_MESSAGE_PATH, &options.content);
        counts.message(message.len(), &inspection);
        let tagger = tag.tagger();
        let summary = message
            .split(|&b| b == b'\n')
            .find(|line| !line.iter().all(u8::is_ascii_whitespace))
            .map(|line| String::from_utf8_lossy(line).trim().to_string())
            .unwrap_or_default();
        let target = (tag.target_type() == Some(git2::ObjectType::Commit)).then(|| tag.target_id().to_string());
        for mut finding in inspection.findings {
            finding.repository = Some(label.to_string());
            finding.git = Some(GitProvenance {
                commit: target.clone().unwrap_or_default(),
                author_name: tagger
                    .as_ref()
                    .map(|t| String::from_utf8_lossy(t.name_bytes()).into_owned())
                    .unwrap_or_default(),
                author_email: tagger
                    .as_ref()
                    .map(|t| String::from_utf8_lossy(t.email_bytes()).into_owned())
                    .unwrap_or_default(),
                date: tagger.as_ref().map(|t| format_git_time(t.when())).unwrap_or_default(),
                summary: summary.clone(),
                blob: tag_ref.tag.to_string(),
                reference: (!tag_ref.unreachable).then(|| tag_ref.reference.clone()),
                unreachable: tag_ref.unreachable,
                ..GitProvenance::default()
            });
            findings.push(finding);
        }
    }
    findings
}
