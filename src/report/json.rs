//! JSON and JSON Lines reports, and reading them back (for `revoke --from` and `merge`).
//!
//! The shapes here are a public interface: fields are only ever added, and `format_version` changes when a
//! field changes meaning or disappears.

use std::io::{Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{ReportContext, shown_context, shown_secret};
use crate::counts::ScanError;
use crate::finding::{Finding, Fingerprint, GitProvenance, ImageProvenance, Verification};
use crate::rules::{Confidence, Severity};

/// The version of the JSON and JSON Lines formats.
pub const FORMAT_VERSION: u32 = 1;

/// A whole `--format json` document.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JsonReport {
    pub format_version: u32,
    pub tool: ToolInfo,
    pub findings: Vec<JsonFinding>,
    /// What could not be read: an empty list for a complete scan.
    #[serde(default)]
    pub scan_errors: Vec<ScanError>,
    /// How many more scan errors there were than `scan_errors` lists.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub scan_errors_omitted: u64,
    /// Object directories of other repositories that a scanned repository read as its own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_repositories: Vec<JsonOtherObjects>,
}

/// An object directory of another repository (an alternate, or the git directory a `.git` file names) whose
/// objects were scanned, and their findings reported, under the name of `repository`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsonOtherObjects {
    pub repository: String,
    pub object_directory: String,
    /// The file that names it: `objects/info/alternates`, or the repository's `.git` file.
    pub named_by: String,
}

/// The other repositories' object directories of `context`, their text through the choke point.
fn other_repositories(context: &ReportContext<'_>) -> Vec<JsonOtherObjects> {
    let shown = |text: &str| crate::text::for_report(text, context.show_secrets);
    context
        .repositories
        .iter()
        .flat_map(|repo| {
            repo.other_objects.iter().map(|other| JsonOtherObjects {
                repository: shown(&repo.label),
                object_directory: shown(&other.object_directory),
                named_by: shown(&other.named_by),
            })
        })
        .collect()
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ToolInfo {
    pub name: String,
    pub version: String,
}

impl ToolInfo {
    pub fn current() -> ToolInfo {
        ToolInfo {
            name: env!("CARGO_PKG_NAME").to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// One finding as JSON. In JSON Lines output each line is one of these with `format_version` set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonFinding {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format_version: Option<u32>,
    pub rule_id: String,
    pub rule_name: String,
    pub provider: String,
    pub kind: String,
    pub severity: Severity,
    /// `high` for a known shape, `medium` for one that only looks like it (reports before it existed: `high`).
    #[serde(default)]
    pub confidence: Confidence,
    pub path: String,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    pub offset: usize,
    /// The secret, redacted unless the report was written with `--show-secrets`.
    pub secret: String,
    /// Whether `secret` is redacted.
    pub redacted: bool,
    pub fingerprint: Fingerprint,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// How the secret was found when not in the clear: `utf-16le`/`utf-16be` (line, column and offset are then
    /// positions in the decoded text), `base64`, `percent`, `escape` (they are those of the encoded text), or a
    /// chain such as `base64>percent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decoded: Option<String>,
    /// An inline allow marker (`keyhound:allow`) next to the secret that was not honoured: a `--since`/`--range`
    /// scan honours only the markers its base revision already had, not those the scanned commits add.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_marker_not_honoured: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    #[serde(default, flatten, skip_serializing_if = "Option::is_none")]
    pub git: Option<GitProvenance>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
    /// What would have hidden this finding (`inline marker \`keyhound:allow\``, `the baseline`): with `--verify`,
    /// a suppressed finding whose key is live is reported anyway, marked with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_but_live: Option<String>,
    /// The endpoint the key works at, found next to it (an Azure OpenAI resource), for rules that look for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The image, layer and build step of an image scan's finding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageProvenance>,
}

impl JsonFinding {
    pub fn from_finding(finding: &Finding, show_secrets: bool) -> JsonFinding {
        let context = shown_context(finding, show_secrets);
        JsonFinding {
            format_version: None,
            rule_id: finding.rule_id.clone(),
            rule_name: finding.rule_name.clone(),
            provider: finding.provider.clone(),
            kind: finding.kind.clone(),
            severity: finding.severity,
            confidence: finding.confidence,
            path: finding.path.clone(),
            line: finding.location.line,
            column: finding.location.column,
            end_line: finding.location.end_line,
            end_column: finding.location.end_column,
            offset: finding.location.offset,
            secret: shown_secret(finding, show_secrets),
            redacted: !show_secrets,
            fingerprint: finding.fingerprint.clone(),
            context,
            decoded: finding.decoded.clone(),
            allow_marker_not_honoured: finding.allow_marker.clone(),
            repository: finding.repository.clone(),
            git: finding.git.clone(),
            verification: finding.verification.clone(),
            allowed_but_live: finding.allowed.clone(),
            endpoint: finding.endpoint.clone(),
            image: finding.image.clone(),
        }
    }
}

pub fn write(findings: &[Finding], context: &ReportContext<'_>, out: &mut dyn Write) -> std::io::Result<()> {
    let report = JsonReport {
        format_version: FORMAT_VERSION,
        tool: ToolInfo::current(),
        findings: findings
            .iter()
            .map(|f| JsonFinding::from_finding(f, context.show_secrets))
            .collect(),
        scan_errors: context.shown_errors(),
        scan_errors_omitted: context.scan_errors_omitted,
        other_repositories: other_repositories(context),
    };
    write_json(&report, true, out)
}

/// The last line of a JSON Lines report. It says the report is whole: a reader that does not find it, or finds
/// another number of findings before it, knows the report was cut short.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JsonlSummary {
    pub format_version: u32,
    /// Always `summary`: what tells this line from a finding.
    pub record: String,
    pub tool: ToolInfo,
    /// How many finding lines come before this one.
    pub findings: usize,
    /// What could not be read, as in a JSON report.
    #[serde(default)]
    pub scan_errors: Vec<ScanError>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub scan_errors_omitted: u64,
    /// As in a JSON report.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_repositories: Vec<JsonOtherObjects>,
}

/// The `record` value of a JSON Lines summary line.
pub const SUMMARY_RECORD: &str = "summary";

pub fn write_lines(findings: &[Finding], context: &ReportContext<'_>, out: &mut dyn Write) -> std::io::Result<()> {
    for finding in findings {
        let mut line = JsonFinding::from_finding(finding, context.show_secrets);
        line.format_version = Some(FORMAT_VERSION);
        write_json(&line, false, out)?;
    }
    let summary = JsonlSummary {
        format_version: FORMAT_VERSION,
        record: SUMMARY_RECORD.to_string(),
        tool: ToolInfo::current(),
        findings: findings.len(),
        scan_errors: context.shown_errors(),
        scan_errors_omitted: context.scan_errors_omitted,
        other_repositories: other_repositories(context),
    };
    write_json(&summary, false, out)
}

/// Writes `value` as JSON and a newline, with the characters JSON leaves raw but terminals act on escaped.
pub fn write_json<T: Serialize>(value: &T, pretty: bool, out: &mut dyn Write) -> std::io::Result<()> {
    let text = if pretty {
        serde_json::to_string_pretty(value)?
    } else {
        serde_json::to_string(value)?
    };
    out.write_all(crate::text::escape_json_extras(&text).as_bytes())?;
    writeln!(out)
}

impl JsonFinding {
    /// Turns a finding read back from a report into a [`Finding`]. When the report was redacted, the secret
    /// stays redacted: a report cannot give back what it did not hold. When it was written with
    /// `--show-secrets`, the secret is kept (for `revoke`) but its context line is masked again, so a reader
    /// shows the raw key only if asked to with `--show-secrets` once more.
    pub fn into_finding(self) -> Finding {
        let redacted = if self.redacted {
            self.secret.clone()
        } else {
            crate::finding::redact(&self.secret, known_prefix_len(&self.rule_id, &self.secret))
        };
        let context = match (self.redacted, self.context) {
            (false, Some(line)) if !self.secret.is_empty() => Some(line.replace(self.secret.as_str(), &redacted)),
            (_, context) => context,
        };
        Finding {
            rule_id: self.rule_id,
            rule_name: self.rule_name,
            provider: self.provider,
            kind: self.kind,
            severity: self.severity,
            confidence: self.confidence,
            path: self.path,
            location: crate::finding::Location {
                line: self.line,
                column: self.column,
                end_line: self.end_line,
                end_column: self.end_column,
                offset: self.offset,
            },
            secret: crate::finding::Secret::new(self.secret),
            redacted,
            fingerprint: self.fingerprint,
            context,
            decoded: self.decoded.map(|chain| crate::text::bounded(&chain, 100)),
            allow_marker: self
                .allow_marker_not_honoured
                .map(|marker| crate::text::bounded(&marker, 100)),
            repository: self.repository,
            git: self.git,
            verification: self.verification,
            allowed: self.allowed_but_live.map(|why| crate::text::bounded(&why, 100)),
            endpoint: self.endpoint.map(|endpoint| crate::text::bounded(&endpoint, 200)),
            image: self.image.map(bounded_image),
        }
    }
}

/// An image provenance read from a report, with each text bounded as other read-back fields are.
fn bounded_image(image: ImageProvenance) -> ImageProvenance {
    use crate::text::bounded;
    ImageProvenance {
        reference: bounded(&image.reference, 500),
        digest: bounded(&image.digest, 100),
        platform: image.platform.map(|p| bounded(&p, 100)),
        layer: image.layer.map(|l| bounded(&l, 100)),
        layer_index: image.layer_index,
        created_by: image.created_by.map(|c| bounded(&c, 1000)),
        deleted_in: image.deleted_in.map(|d| crate::finding::DeletedIn {
            layer: bounded(&d.layer, 100),
            layer_index: d.layer_index,
            by: bounded(&d.by, 20),
        }),
    }
}

/// The known prefix (`sk-proj-`) that redaction may show, from the built-in rule of that id.
fn known_prefix_len(rule_id: &str, secret: &str) -> usize {
    static BUILTIN: std::sync::OnceLock<Option<crate::rules::RuleSet>> = std::sync::OnceLock::new();
    BUILTIN
        .get_or_init(|| crate::rules::RuleSet::builtin().ok())
        .as_ref()
        .and_then(|rules| rules.find(rule_id))
        .map_or(0, |rule| rule.known_prefix_len(secret))
}

/// A report that could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum ReadReportError {
    #[error("cannot read report {0}")]
    Read(#[from] crate::input::InputError),
    #[error("{path} is not a keyhound JSON or JSON Lines report: {message}")]
    Format { path: String, message: String },
    #[error("{path} is incomplete ({message}): a report cut short is never read as a clean result")]
    Incomplete { path: String, message: String },
    #[error("cannot read report {path}: {message}")]
    Io { path: String, message: String },
    #[error("{path} has format_version {found}; this keyhound reads version {FORMAT_VERSION}")]
    Version { path: String, found: u32 },
}

/// A report read back: its findings, and what its scan could not read.
#[derive(Debug, Default)]
pub struct ReadReport {
    pub findings: Vec<JsonFinding>,
    pub scan_errors: Vec<ScanError>,
    pub scan_errors_omitted: u64,
}

/// Reads a `--format json` or `--format jsonl` report back, streaming: see [`super::read_back`] for the
/// bounds. An empty, truncated or cut-short report is an error.
pub fn read_report(path: &Path) -> Result<ReadReport, ReadReportError> {
    crate::input::check_regular(path, Some(crate::input::MAX_REPORT_FILE))?;
    let file = std::fs::File::open(path).map_err(|error| crate::input::InputError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    // At most the bound, even if the file grows while it is read: a report cut there is incomplete.
    let reader = std::io::BufReader::with_capacity(64 << 10, file.take(crate::input::MAX_REPORT_FILE));
    super::read_back::read_from(reader, &path.display().to_string())
}

/// Parses report text; `name` labels errors.
pub fn parse_report(text: &str, name: &str) -> Result<ReadReport, ReadReportError> {
    super::read_back::read_from(text.as_bytes(), name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"{"format_version":1,"rule_id":"r","rule_name":"R","provider":"p","kind":"k","severity":"high","path":"a","line":1,"column":1,"end_line":1,"end_column":5,"offset":0,"secret":"ab…","redacted":true,"fingerprint":"00"}"#;

    fn summary(n: usize) -> String {
        format!(
            r#"{{"format_version":1,"record":"summary","tool":{{"name":"keyhound","version":"0"}},"findings":{n}}}"#
        )
    }

    #[test]
    fn json_lines_reports_end_with_their_summary() {
        let one = format!("{LINE}\n{}\n", summary(1));
        assert_eq!(parse_report(&one, "one.jsonl").map(|r| r.findings.len()).ok(), Some(1));
        let two = format!("{LINE}\n{LINE}\n{}\n", summary(2));
        assert_eq!(parse_report(&two, "two.jsonl").map(|r| r.findings.len()).ok(), Some(2));
        assert_eq!(
            parse_report(&summary(0), "none.jsonl").map(|r| r.findings.len()).ok(),
            Some(0)
        );
    }

    #[test]
    fn cut_short_reports_are_errors() {
        for (text, why) in [
            ("", "empty"),
            ("  \n", "empty"),
            (LINE, "summary line is missing"),
            (&format!("{LINE}\n{}", summary(2)) as &str, "says 2 finding(s)"),
            (r#"{"format_version": 1, "tool": {"name": "keyhound", "#, "ends early"),
        ] {
            let err = parse_report(text, "x.json").expect_err(why);
            assert!(matches!(err, ReadReportError::Incomplete { .. }), "{why}: {err}");
            assert!(err.to_string().contains(why), "{err}");
        }
    }

    #[test]
    fn other_json_is_rejected_with_the_file_named() {
        let err = parse_report("{\"hello\": 1}", "x.json").expect_err("not a report");
        assert!(err.to_string().contains("x.json"), "{err}");
    }
}
