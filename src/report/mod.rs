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
}

/// A scanned repository, as SARIF's `versionControlProvenance` wants it.
#[derive(Debug, Clone, Default)]
pub struct RepositoryInfo {
    pub uri: Option<String>,
    pub revision: Option<String>,
    pub branch: Option<String>,
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

/// The text to show for a finding's secret under the show/hide choice.
pub fn shown_secret(finding: &Finding, show_secrets: bool) -> String {
    if show_secrets {
        finding.secret.expose().to_string()
    } else {
        finding.redacted.clone()
    }
}
