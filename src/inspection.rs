//! What inspecting one piece of content yields ([`Inspection`]) and the value types that steer and label it
//! ([`BinaryPolicy`], [`Encoding`]): plain values, below the content stage ([`crate::content::inspect`]) that
//! produces them and the counts, sources and commands that read them.

use crate::finding::Finding;

/// What to do with binary content (content with a NUL byte in its first 8 KiB).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum BinaryPolicy {
    /// Scan it like text (keys end up in build artefacts); findings show no context line.
    #[default]
    Scan,
    /// Skip it.
    Skip,
}

/// The outcome of inspecting one piece of content.
#[derive(Debug, Default)]
pub struct Inspection {
    pub findings: Vec<Finding>,
    /// The content was binary and skipped by policy.
    pub skipped_binary: bool,
    /// Findings dropped because their line holds an allow marker.
    pub allowed: usize,
}

/// A text encoding that content was decoded from before a scan of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf16Le,
    Utf16Be,
}

impl Encoding {
    /// The name findings carry in their `decoded` field.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Utf16Le => "utf-16le",
            Encoding::Utf16Be => "utf-16be",
        }
    }

    pub fn from_name(name: &str) -> Option<Encoding> {
        match name {
            "utf-16le" => Some(Encoding::Utf16Le),
            "utf-16be" => Some(Encoding::Utf16Be),
            _ => None,
        }
    }
}
