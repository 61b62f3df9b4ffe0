//! JSON and JSON Lines reports, and reading them back (for `revoke --from` and `merge`).
//!
//! The shapes here are a public interface: fields are only ever added, and `format_version` changes when a
//! field changes meaning or disappears.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{ReportContext, shown_context, shown_secret};
use crate::finding::{Finding, Fingerprint, GitProvenance, Verification};
use crate::rules::Severity;

/// The version of the JSON and JSON Lines formats.
pub const FORMAT_VERSION: u32 = 1;

/// A whole `--format json` document.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JsonReport {
    pub format_version: u32,
    pub tool: ToolInfo,
    pub findings: Vec<JsonFinding>,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    #[serde(default, flatten, skip_serializing_if = "Option::is_none")]
    pub git: Option<GitProvenance>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
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
            repository: finding.repository.clone(),
            git: finding.git.clone(),
            verification: finding.verification.clone(),
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
    };
    write_json(&report, true, out)
}

pub fn write_lines(findings: &[Finding], context: &ReportContext<'_>, out: &mut dyn Write) -> std::io::Result<()> {
    for finding in findings {
        let mut line = JsonFinding::from_finding(finding, context.show_secrets);
        line.format_version = Some(FORMAT_VERSION);
        write_json(&line, false, out)?;
    }
    Ok(())
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
    /// stays redacted: a report cannot give back what it did not hold.
    pub fn into_finding(self) -> Finding {
        let redacted = if self.redacted {
            self.secret.clone()
        } else {
            crate::finding::redact(&self.secret, 0)
        };
        Finding {
            rule_id: self.rule_id,
            rule_name: self.rule_name,
            provider: self.provider,
            kind: self.kind,
            severity: self.severity,
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
            context: self.context,
            repository: self.repository,
            git: self.git,
            verification: self.verification,
        }
    }
}

/// A report that could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum ReadReportError {
    #[error("cannot read report {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a keyhound JSON or JSON Lines report: {message}")]
    Format { path: String, message: String },
    #[error("{path} has format_version {found}; this keyhound reads version {FORMAT_VERSION}")]
    Version { path: String, found: u32 },
}

/// Reads a `--format json` or `--format jsonl` report back.
pub fn read_report(path: &Path) -> Result<Vec<JsonFinding>, ReadReportError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ReadReportError::Io {
        path: name.clone(),
        source,
    })?;
    parse_report(&text, &name)
}

/// Parses report text; `name` labels errors.
pub fn parse_report(text: &str, name: &str) -> Result<Vec<JsonFinding>, ReadReportError> {
    let format_error = |message: String| ReadReportError::Format {
        path: name.to_string(),
        message,
    };
    let trimmed = text.trim_start();
    // A JSON document has a `findings` array; a one-line JSON Lines report is a lone finding object.
    let document = trimmed
        .starts_with('{')
        .then(|| serde_json::from_str::<serde_json::Value>(text).ok())
        .flatten()
        .filter(|value| value.get("findings").is_some());
    if let Some(document) = document {
        let report: JsonReport = serde_json::from_value(document).map_err(|e| format_error(e.to_string()))?;
        if report.format_version != FORMAT_VERSION {
            return Err(ReadReportError::Version {
                path: name.to_string(),
                found: report.format_version,
            });
        }
        return Ok(report.findings);
    }
    let mut findings = Vec::new();
    for (index, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let finding: JsonFinding =
            serde_json::from_str(line).map_err(|e| format_error(format!("line {}: {e}", index + 1)))?;
        if let Some(found) = finding.format_version
            && found != FORMAT_VERSION
        {
            return Err(ReadReportError::Version {
                path: name.to_string(),
                found,
            });
        }
        findings.push(finding);
    }
    if findings.is_empty() && !trimmed.is_empty() {
        return Err(format_error("no findings could be read".into()));
    }
    Ok(findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"{"format_version":1,"rule_id":"r","rule_name":"R","provider":"p","kind":"k","severity":"high","path":"a","line":1,"column":1,"end_line":1,"end_column":5,"offset":0,"secret":"ab…","redacted":true,"fingerprint":"00"}"#;

    #[test]
    fn a_one_line_jsonl_report_is_read_as_jsonl() {
        let findings = parse_report(LINE, "one.jsonl").expect("one finding");
        assert_eq!(findings.len(), 1);
        let two = format!("{LINE}\n{LINE}\n");
        assert_eq!(parse_report(&two, "two.jsonl").map(|f| f.len()).ok(), Some(2));
    }

    #[test]
    fn other_json_is_rejected_with_the_file_named() {
        let err = parse_report("{\"hello\": 1}", "x.json").expect_err("not a report");
        assert!(err.to_string().contains("x.json"), "{err}");
    }
}
