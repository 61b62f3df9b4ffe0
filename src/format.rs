//! The output formats ([`Format`]): a plain value, named by the command line and the configuration file below
//! the reporters that write them ([`crate::report`]).

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
