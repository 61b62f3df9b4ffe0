//! What a scan produces: [`Finding`]s with their location, fingerprint, redacted secret and provenance.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::severity::{Confidence, Severity};

/// A secret's raw text. `Debug` and `Display` never show it; use [`Secret::expose`] deliberately.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Secret(String);

impl Secret {
    pub fn new(text: impl Into<String>) -> Secret {
        Secret(text.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The secret redacted with only its first `prefix_len` bytes treated as a known prefix; see [`redact`].
    pub fn redacted(&self, prefix_len: usize) -> String {
        redact(&self.0, prefix_len)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({})", self.redacted(0))
    }
}

/// `sk-proj-AbCd…wXyZ`: the known prefix (`prefix_len` bytes, such as `sk-proj-`; when 0, a short lower-case
/// lead such as `sk-` or `hf_`), four more characters, an ellipsis and the last four. Never more than a third
/// of the secret is shown, and short secrets show only two characters.
pub fn redact(secret: &str, prefix_len: usize) -> String {
    let chars: Vec<char> = secret.chars().collect();
    let n = chars.len();
    if n < 12 {
        let shown: String = chars.iter().take(2.min(n)).collect();
        return format!("{shown}…");
    }
    let prefix_len = if prefix_len > 0 && prefix_len < n {
        prefix_len
    } else {
        // `sk-`, `hf_`, `xai-`, `r8_`: lower-case letters or digits and a separator within the first four.
        chars
            .iter()
            .take(4)
            .position(|c| *c == '-' || *c == '_')
            .filter(|&i| i > 0 && chars[..i].iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
            .map_or(0, |i| i + 1)
    };
    let head = (prefix_len + 4).min(n / 3).max(2);
    let tail = 4.min(n / 6);
    let head: String = chars[..head].iter().collect();
    let tail: String = chars[n - tail..].iter().collect();
    format!("{head}…{tail}")
}

/// A stable identifier of a leak: SHA-256 of the rule id and the secret, in hex. It does not depend on where
/// the secret was found, so it survives moves between lines, files and commits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fingerprint(pub String);

impl Fingerprint {
    pub fn of(rule_id: &str, secret: &str) -> Fingerprint {
        let mut hasher = Sha256::new();
        hasher.update(rule_id.as_bytes());
        hasher.update(b":");
        hasher.update(secret.as_bytes());
        let digest = hasher.finalize();
        Fingerprint(digest.iter().map(|b| format!("{b:02x}")).collect())
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where in a file or blob a secret sits. Lines and columns are 1-based; columns count bytes;
/// `end_column` is exclusive (the column just past the secret), as in SARIF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Location {
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    /// Byte offset of the secret in the (decoded) content.
    pub offset: usize,
}

/// The commit that introduced a blob holding a finding.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitProvenance {
    /// The introducing commit; empty for a blob that only a ref to a tree or a blob reaches (see `reference`).
    pub commit: String,
    pub author_name: String,
    pub author_email: String,
    /// Author date, RFC 3339.
    pub date: String,
    pub summary: String,
    /// The id of the object holding the text: the blob, or the commit or tag for a message.
    pub blob: String,
    /// The ref that reaches the object without a commit (a ref to a tree or a blob), or the ref of an annotated
    /// tag whose message holds the finding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// No ref reaches the object (`git --all-objects`): a rebase, force-push, amend, dropped stash or deleted
    /// branch left it behind. Only a reflog still reaches it when `reflog` is set.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unreachable: bool,
    /// The reflog (`HEAD`, `refs/heads/main`, `refs/stash`) whose entry reaches the commit, for an unreachable one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reflog: Option<String>,
    /// How many other places hold this secret at this path, beyond the introducing one: other (commit, path)
    /// places (the same blob, or later versions of the file that still contain it), and other lines of the
    /// introducing blob. A history scan reports a key once per file; a tree scan reports each line.
    pub other_occurrences: usize,
    /// Other lines of the introducing blob that hold the same secret.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_lines: Vec<usize>,
    /// Later blob versions of the same path that still hold the secret (history scans collapse them into the
    /// first finding).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub later_blobs: Vec<String>,
    /// Every (commit, path) place, when asked for with `--all-commits`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub occurrences: Vec<Occurrence>,
}

/// One (commit, path) place where a blob appears.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Occurrence {
    pub commit: String,
    pub path: String,
}

/// Where in a container image a finding sits (`keyhound image`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageProvenance {
    /// The image as the user named it: an archive or layout path, or a registry reference.
    pub reference: String,
    /// The digest of the image's manifest (`sha256:...`).
    pub digest: String,
    /// `linux/amd64`, `linux/arm64/v8`; absent when the image does not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// The digest of the layer blob holding the file; absent for findings in the image config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
    /// The layer's position in the image, 0 for the base layer; absent for findings in the image config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer_index: Option<usize>,
    /// The build instruction that created the layer (its history entry's `created_by`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// The later layer that removed the file from the final image. Anyone who pulls the image still has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_in: Option<DeletedIn>,
}

/// The layer that deleted (or replaced) a file that an earlier layer added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletedIn {
    pub layer: String,
    pub layer_index: usize,
    /// `whiteout` (`.wh.NAME`), `opaque` (its directory was made opaque) or `overwritten` (a later layer wrote a
    /// file of the same path).
    pub by: String,
}

/// The outcome of checking whether a key is live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Liveness {
    Live,
    Dead,
    Unknown,
}

impl fmt::Display for Liveness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Liveness::Live => "live",
            Liveness::Dead => "dead",
            Liveness::Unknown => "unknown",
        })
    }
}

/// A liveness status with the reason behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    pub status: Liveness,
    pub reason: String,
}

/// One leaked secret at one place.
#[derive(Debug, Clone)]
pub struct Finding {
    pub rule_id: String,
    pub rule_name: String,
    pub provider: String,
    pub kind: String,
    pub severity: Severity,
    /// `high` for a known shape, `medium` for a shape that only looks like one.
    pub confidence: Confidence,
    /// The file's path as the user named it (`fixtures/demo/.env`), `<stdin>`, or the path inside a commit's tree.
    pub path: String,
    pub location: Location,
    pub secret: Secret,
    /// The secret as reports show it: `sk-proj-AbCd…wXyZ`.
    pub redacted: String,
    pub fingerprint: Fingerprint,
    /// The line holding the secret, with the secret masked; `None` for binary content.
    pub context: Option<String>,
    /// How the secret was found when not in the clear: `utf-16le`/`utf-16be` (its location is then in the
    /// decoded text), `base64`, `percent`, `escape` (its location is that of the encoded text), or a chain of
    /// them such as `base64>percent`. `None` for a key in the clear.
    pub decoded: Option<String>,
    /// The inline allow marker next to the secret, on a finding reported in spite of it: in a `--since`/`--range`
    /// scan a marker that the scanned commits add themselves does not allow their key.
    pub allow_marker: Option<String>,
    /// The repository, for history scans.
    pub repository: Option<String>,
    pub git: Option<GitProvenance>,
    pub verification: Option<Verification>,
    /// What would hide this finding (`inline marker \`keyhound:allow\``, `the baseline`), on a finding that
    /// `--verify` kept to probe it: such a finding is reported only when its key is live, so that a stale
    /// suppression cannot hide a working key.
    pub allowed: Option<String>,
    /// The endpoint the key works at, found next to it (an Azure OpenAI resource's `https://NAME.openai.azure.com`),
    /// for rules that look for one.
    pub endpoint: Option<String>,
    /// The image, layer and build step, for image scans.
    pub image: Option<ImageProvenance>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_keeps_prefix_and_ends() {
        assert_eq!(
            redact("sk-proj-k_CdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefghijwXyZ", 8),
            "sk-proj-k_Cd…wXyZ"
        );
        assert_eq!(
            redact("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", 0),
            "sk-u8jz…KLzd"
        );
        assert_eq!(redact("AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY", 4), "AIzaSyD-…MBWY");
        assert_eq!(redact("hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGhIj", 0), "hf_AbCd…GhIj");
        assert_eq!(redact("short", 0), "sh…");
        let secret = Secret::new("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");
        assert!(!format!("{secret:?}").contains("T3BlbkFJ"));
    }

    #[test]
    fn fingerprint_depends_on_rule_and_secret_only() {
        let a = Fingerprint::of("openai-legacy-key", "sk-abc");
        assert_eq!(a, Fingerprint::of("openai-legacy-key", "sk-abc"));
        assert_ne!(a, Fingerprint::of("openai-project-key", "sk-abc"));
        assert_eq!(a.0.len(), 64);
    }
}
