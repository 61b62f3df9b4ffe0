//! Reporters: turn findings into human, JSON, JSON Lines or SARIF output. They only print; they never scan.

pub mod human;
pub mod json;
pub mod sarif;

use std::io::Write;

use crate::finding::Finding;
use crate::rules::RuleSet;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Readable report: location, rule, redacted key and the masked line.
    Human,
    /// One JSON document: `{"format_version": 1, "tool": …, "findings": […]}`.
    Json,
    /// One JSON object per finding per line.
    Jsonl,
    /// SARIF 2.1.0, for GitHub code scanning and other SARIF consumers.
    Sarif,
}

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
        let prefix = crate::source::fs::display_path(dir);
        let prefix = if prefix == "." { String::new() } else { prefix };
        Some(SourceRoot { prefix, uri })
    }
}

impl ReportContext<'_> {
    /// A finding path as a SARIF URI: relative to `%SRCROOT%` when it lies under the root (the bool says so),
    /// else as it is.
    pub fn artifact_uri(&self, path: &str) -> (String, bool) {
        if path.starts_with('/') {
            return (format!("file://{}", sarif::path_to_uri(path)), false);
        }
        match &self.source_root {
            Some(root) => {
                let relative = if root.prefix.is_empty() {
                    Some(path)
                } else {
                    path.strip_prefix(root.prefix.as_str())
                        .and_then(|rest| rest.strip_prefix('/'))
                };
                match relative {
                    Some(rel) => (sarif::path_to_uri(rel), true),
                    None => (sarif::path_to_uri(path), false),
                }
            }
            None => (sarif::path_to_uri(path), false),
        }
    }
}

/// A scanned repository, as SARIF's `versionControlProvenance` wants it.
#[derive(Debug, Clone, Default)]
pub struct RepositoryInfo {
    pub uri: Option<String>,
    pub revision: Option<String>,
    pub branch: Option<String>,
    /// The repository's working tree is the report's `%SRCROOT%`.
    pub workdir_is_root: bool,
}

/// Writes `findings` in `format`.
pub fn write_report(
    format: Format,
    findings: &[Finding],
    context: &ReportContext<'_>,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    match format {
        Format::Human => human::write(findings, context, out),
        Format::Json => json::write(findings, context, out),
        Format::Jsonl => json::write_lines(findings, context, out),
        Format::Sarif => sarif::write(findings, context, out),
    }
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
