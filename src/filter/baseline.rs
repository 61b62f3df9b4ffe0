//! Baselines: the fingerprints of accepted findings. With `--baseline FILE` only findings not in it are reported.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::finding::{Finding, Fingerprint};

/// The version of the baseline file format.
pub const BASELINE_VERSION: u32 = 1;

/// The baseline file: fingerprints plus where each was seen, so people can review what they accept.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    pub format_version: u32,
    pub findings: Vec<BaselineEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineEntry {
    pub fingerprint: Fingerprint,
    pub rule_id: String,
    /// The secret, redacted.
    pub secret: String,
    pub path: String,
    pub line: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("cannot read baseline {0}")]
    Read(#[from] crate::input::InputError),
    #[error("cannot write baseline {0}")]
    Write(#[from] crate::output_file::OutputError),
    #[error("cannot write baseline {path}: {message}")]
    Serialize { path: PathBuf, message: String },
    #[error("{path} is not a keyhound baseline: {message}")]
    Format { path: String, message: String },
}

impl Baseline {
    pub fn from_findings(findings: &[Finding]) -> Baseline {
        let mut seen = HashSet::new();
        let findings = findings
            .iter()
            .filter(|f| seen.insert(f.fingerprint.clone()))
            .map(|f| BaselineEntry {
                fingerprint: f.fingerprint.clone(),
                rule_id: f.rule_id.clone(),
                secret: f.redacted.clone(),
                path: f.path.clone(),
                line: f.location.line,
            })
            .collect();
        Baseline {
            format_version: BASELINE_VERSION,
            findings,
        }
    }

    pub fn read(path: &Path) -> Result<Baseline, BaselineError> {
        let bytes = crate::input::read_regular(path, crate::input::MAX_REPORT_FILE)?;
        Baseline::parse(&bytes, &path.display().to_string())
    }

    /// Parses a baseline's bytes; `name` labels errors.
    pub fn parse(bytes: &[u8], name: &str) -> Result<Baseline, BaselineError> {
        let format = |message: String| BaselineError::Format {
            path: name.to_string(),
            message,
        };
        let baseline: Baseline =
            serde_json::from_slice(bytes).map_err(|e| format(crate::text::bounded(&e.to_string(), 200)))?;
        if baseline.format_version != BASELINE_VERSION {
            return Err(format(format!(
                "format_version {} is not {BASELINE_VERSION}",
                baseline.format_version
            )));
        }
        Ok(baseline)
    }

    /// Does the baseline accept this fingerprint?
    pub fn contains(&self, fingerprint: &Fingerprint) -> bool {
        self.findings.iter().any(|e| &e.fingerprint == fingerprint)
    }

    /// Writes the baseline to `path`, replacing what is there (a symbolic link is replaced, not followed). It
    /// holds fingerprints and redacted values only, so it is readable by all (0644).
    pub fn write(&self, path: &Path) -> Result<(), BaselineError> {
        let mut text = serde_json::to_string_pretty(self).map_err(|e| BaselineError::Serialize {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        text.push('\n');
        crate::output_file::write(path, text.as_bytes(), crate::output_file::SHARED)?;
        Ok(())
    }

    /// Removes the findings this baseline accepts; returns how many were removed.
    pub fn apply(&self, findings: &mut Vec<Finding>) -> usize {
        let known: HashSet<&Fingerprint> = self.findings.iter().map(|e| &e.fingerprint).collect();
        let before = findings.len();
        // A finding kept as allowed was probed live (`--verify`): a baseline does not hide a working key.
        findings.retain(|f| f.allowed.is_some() || !known.contains(&f.fingerprint));
        before - findings.len()
    }
}
