//! Reporters: turn findings into human, JSON, JSON Lines or SARIF output. They only print; they never scan.

pub mod human;
pub mod json;
pub mod read_back;
pub mod sarif;

use std::io::Write;

use crate::finding::Finding;
pub use crate::format::Format;
use crate::rules::RuleSet;
pub use crate::source::git::{OtherObjects, RepositoryInfo};

/// What a reporter needs besides the findings.
#[derive(Debug)]
pub struct ReportContext<'a> {
    pub rules: &'a RuleSet,
    /// Print raw secrets instead of redacted ones.
    pub show_secrets: bool,
    /// Use colour (human format only).
    pub color: bool,
    /// Repositories scanned, for SARIF's version-control provenance (history scans).
    pub repositories: &'a [RepositoryInfo],
    /// What finding paths are relative to, for SARIF's `%SRCROOT%`.
    pub source_root: Option<SourceRoot>,
    /// What could not be read (at most [`crate::counts::MAX_LISTED_ERRORS`]), and how many more there were.
    pub scan_errors: &'a [crate::counts::ScanError],
    pub scan_errors_omitted: u64,
}

impl ReportContext<'_> {
    /// The scan errors with their outside text through the choke point (redacted, bounded).
    pub fn shown_errors(&self) -> Vec<crate::counts::ScanError> {
        self.scan_errors
            .iter()
            .map(|error| crate::counts::ScanError {
                kind: error.kind,
                place: crate::text::bounded(&error.place, 1000),
                reason: crate::text::bounded(&error.reason, 1000),
                repository: error.repository.as_deref().map(|r| crate::text::bounded(r, 1000)),
            })
            .collect()
    }
}

/// The scanned root: finding paths start with `prefix` (as displayed); `uri` is its absolute `file://` URI,
/// ending in `/`.
#[derive(Debug, Clone)]
pub struct SourceRoot {
    pub prefix: String,
    pub uri: String,
}

impl SourceRoot {
    /// The root for a scanned directory (`.` or `fixtures/demo`), or `None` when it cannot be resolved.
    pub fn for_dir(dir: &std::path::Path) -> Option<SourceRoot> {
        let absolute = std::fs::canonicalize(dir).ok()?;
        let mut uri = String::from("file://");
        for component in absolute.to_string_lossy().split('/').filter(|c| !c.is_empty()) {
            uri.push('/');
            uri.push_str(&sarif::path_to_uri(component));
        }
        uri.push('/');
        let prefix = crate::paths::display_path(dir);
        let prefix = if prefix == "." { String::new() } else { prefix };
        Some(SourceRoot { prefix, uri })
    }
}

impl ReportContext<'_> {
    /// A finding path as a SARIF URI: relative to `%SRCROOT%` when it lies under the root (the bool says so),
    /// else as it is.
    pub fn artifact_uri(&self, path: &str) -> (String, bool) {
        if let Some(root) = &self.source_root {
            let relative = if root.prefix.is_empty() {
                (!path.starts_with('/')).then_some(path)
            } else {
                path.strip_prefix(root.prefix.trim_end_matches('/'))
                    .and_then(|rest| rest.strip_prefix('/'))
            };
            if let Some(rel) = relative {
                return (sarif::path_to_uri(rel), true);
            }
        }
        if path.starts_with('/') {
            return (format!("file://{}", sarif::path_to_uri(path)), false);
        }
        (sarif::path_to_uri(path), false)
    }
}

/// Writes `findings` in `format`. Every reporter gets the findings with their outside text already through
/// [`shown_finding`].
pub fn write_report(
    format: Format,
    findings: &[Finding],
    context: &ReportContext<'_>,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let shown: Vec<Finding> = findings
        .iter()
        .map(|finding| shown_finding(finding, context.show_secrets))
        .collect();
    match format {
        Format::Human => human::write(&shown, context, out),
        Format::Json => json::write(&shown, context, out),
        Format::Jsonl => json::write_lines(&shown, context, out),
        Format::Sarif => sarif::write(&shown, context, out),
    }
}

/// A copy of `finding` whose outside text (path, rule name, provider and kind from rule files, context, repository,
/// author, e-mail, commit summary, ref and reflog names, occurrence paths, verification reason) went through [`crate::text::for_report`]:
/// key-shaped text redacted unless `show_secrets`. The context line is redacted in any case (its own secret is
/// unmasked later by [`shown_context`]), so it never shows another key.
pub fn shown_finding(finding: &Finding, show_secrets: bool) -> Finding {
    use crate::text::for_report;
    let clean = |text: &str| for_report(text, show_secrets);
    let mut shown = finding.clone();
    shown.path = clean(&finding.path);
    shown.rule_name = clean(&finding.rule_name);
    shown.provider = clean(&finding.provider);
    shown.kind = clean(&finding.kind);
    shown.context = finding.context.as_deref().map(|line| for_report(line, false));
    shown.repository = finding.repository.as_deref().map(clean);
    shown.allow_marker = finding.allow_marker.as_deref().map(clean);
    shown.allowed = finding.allowed.as_deref().map(clean);
    shown.endpoint = finding.endpoint.as_deref().map(clean);
    if let Some(git) = shown.git.as_mut() {
        git.author_name = clean(&git.author_name);
        git.author_email = clean(&git.author_email);
        git.summary = clean(&git.summary);
        git.reference = git.reference.as_deref().map(clean);
        git.reflog = git.reflog.as_deref().map(clean);
        for occurrence in &mut git.occurrences {
            occurrence.path = clean(&occurrence.path);
        }
    }
    if let Some(verification) = shown.verification.as_mut() {
        verification.reason = for_report(&verification.reason, false);
    }
    if let Some(image) = shown.image.as_mut() {
        image.reference = clean(&image.reference);
        image.digest = clean(&image.digest);
        image.platform = image.platform.as_deref().map(clean);
        image.layer = image.layer.as_deref().map(clean);
        image.created_by = image.created_by.as_deref().map(clean);
        if let Some(deleted) = image.deleted_in.as_mut() {
            deleted.layer = clean(&deleted.layer);
        }
    }
    shown
}

/// The finding's context line under the show/hide choice: with `--show-secrets` its own secret is unmasked
/// (other secrets on the line stay masked: each has its own finding).
pub fn shown_context(finding: &Finding, show_secrets: bool) -> Option<String> {
    finding.context.as_ref().map(|line| {
        if show_secrets {
            line.replace(finding.redacted.as_str(), finding.secret.expose())
        } else {
            line.clone()
        }
    })
}

/// The text to show for a finding's secret under the show/hide choice.
pub fn shown_secret(finding: &Finding, show_secrets: bool) -> String {
    if show_secrets {
        finding.secret.expose().to_string()
    } else {
        finding.redacted.clone()
    }
}
