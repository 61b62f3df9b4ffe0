//! Getting the raw OpenAI keys back: from findings in memory, or from a report by re-reading the place each
//! finding was reported at.
//!
//! Reports are redacted, so `revoke --from` re-reads each finding's file (its path is relative to the current
//! directory) or git blob (history findings) at the reported offset (or line and column) and uses the text
//! there only if it has the reported fingerprint. A report written with `--show-secrets` holds the keys; they
//! too must match their fingerprints.

use std::collections::HashMap;
use std::path::Path;

use crate::finding::{Finding, Fingerprint, Secret, redact};
use crate::report::json::{JsonFinding, ReadReportError, read_report};
use crate::rules::RuleSet;
use crate::source::fs::STDIN_LABEL;

use super::PROVIDER;

/// One unique leaked OpenAI key and where it was found.
#[derive(Debug, Clone)]
pub struct LeakedKey {
    pub secret: Secret,
    pub rule_id: String,
    /// The rule's kind: `project`, `service-account`, `admin`, `none`, `legacy`.
    pub kind: String,
    /// The key as reports show it.
    pub redacted: String,
    pub fingerprint: Fingerprint,
    /// Where it was found (`path:line:column`, with the commit for history findings).
    pub places: Vec<String>,
}

impl LeakedKey {
    pub fn is_admin(&self) -> bool {
        self.kind == "admin"
    }

    pub fn is_legacy(&self) -> bool {
        self.kind == "legacy"
    }

    /// The kind for people: "project key", "admin key".
    pub fn kind_label(&self) -> String {
        match self.kind.as_str() {
            "admin" => "admin key".into(),
            "project" => "project key".into(),
            "service-account" => "service account key".into(),
            "none" => "user key (sk-None)".into(),
            "legacy" => "legacy user key".into(),
            other => format!("{other} key"),
        }
    }

    /// The first place and how many more.
    pub fn place_summary(&self) -> String {
        match self.places.as_slice() {
            [] => "(unknown place)".into(),
            [one] => one.clone(),
            [first, rest @ ..] => format!("{first} (+{} more)", rest.len()),
        }
    }
}

/// An OpenAI finding whose key could not be recovered from a report.
#[derive(Debug, Clone)]
pub struct Unrecovered {
    pub redacted: String,
    pub kind: String,
    pub fingerprint: Fingerprint,
    /// Why, for each place tried.
    pub reasons: Vec<String>,
}

/// The OpenAI keys of a set of findings.
#[derive(Debug, Default)]
pub struct Collected {
    pub keys: Vec<LeakedKey>,
    pub unrecovered: Vec<Unrecovered>,
    /// Findings of other providers, left alone.
    pub other_providers: usize,
}

/// Is this an OpenAI finding (the only ones verified and revoked)?
pub fn is_openai(provider: &str) -> bool {
    provider == PROVIDER
}

/// The unique OpenAI keys among findings held in memory, in order of first appearance.
pub fn from_findings(findings: &[Finding]) -> Collected {
    let mut collected = Collected::default();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for finding in findings {
        if !is_openai(&finding.provider) {
            collected.other_providers += 1;
            continue;
        }
        let place = place_of(
            &finding.path,
            finding.location.line,
            finding.location.column,
            finding.git.as_ref().map(|g| g.commit.as_str()),
        );
        match index.get(finding.secret.expose()) {
            Some(&i) => collected.keys[i].places.push(place),
            None => {
                index.insert(finding.secret.expose(), collected.keys.len());
                collected.keys.push(LeakedKey {
                    secret: finding.secret.clone(),
                    rule_id: finding.rule_id.clone(),
                    kind: finding.kind.clone(),
                    redacted: finding.redacted.clone(),
                    fingerprint: finding.fingerprint.clone(),
                    places: vec![place],
                });
            }
        }
    }
    collected
}

/// The OpenAI keys of a JSON or JSON Lines report, recovered from the places the findings were reported at.
pub fn from_report(path: &Path) -> Result<Collected, ReadReportError> {
    Ok(recover(read_report(path)?))
}

/// Recovers the keys of report findings: findings are grouped by fingerprint, and each key is taken from the
/// first of its places whose text still has that fingerprint.
pub fn recover(findings: Vec<JsonFinding>) -> Collected {
    let mut collected = Collected::default();
    // The built-in rules know each key's prefix (`sk-proj-`), which redaction keeps.
    let rules = RuleSet::builtin().ok();
    let prefix_len = |rule_id: &str, secret: &str| {
        rules
            .as_ref()
            .and_then(|set| set.find(rule_id))
            .map_or(0, |rule| rule.known_prefix_len(secret))
    };
    let mut group_of: HashMap<Fingerprint, usize> = HashMap::new();
    let mut groups: Vec<(Fingerprint, Vec<JsonFinding>)> = Vec::new();
    for finding in findings {
        if !is_openai(&finding.provider) {
            collected.other_providers += 1;
            continue;
        }
        match group_of.get(&finding.fingerprint) {
            Some(&i) => groups[i].1.push(finding),
            None => {
                group_of.insert(finding.fingerprint.clone(), groups.len());
                groups.push((finding.fingerprint.clone(), vec![finding]));
            }
        }
    }
    for (fingerprint, group) in groups {
        let places: Vec<String> = group
            .iter()
            .map(|f| place_of(&f.path, f.line, f.column, f.git.as_ref().map(|g| g.commit.as_str())))
            .collect();
        let mut reasons = Vec::new();
        let mut recovered = None;
        for (finding, place) in group.iter().zip(&places) {
            match recover_one(finding) {
                Ok(secret) => {
                    recovered = Some(secret);
                    break;
                }
                Err(reason) => reasons.push(format!("{place}: {reason}")),
            }
        }
        let first = &group[0];
        let redacted = if first.redacted {
            first.secret.clone()
        } else {
            redact(&first.secret, prefix_len(&first.rule_id, &first.secret))
        };
        match recovered {
            Some(secret) => collected.keys.push(LeakedKey {
                redacted: redact(&secret, prefix_len(&first.rule_id, &secret)),
                secret: Secret::new(secret),
                rule_id: first.rule_id.clone(),
                kind: first.kind.clone(),
                fingerprint,
                places,
            }),
            None => collected.unrecovered.push(Unrecovered {
                redacted,
                kind: first.kind.clone(),
                fingerprint,
                reasons,
            }),
        }
    }
    collected
}

/// The key of one report finding, or why it cannot be had.
fn recover_one(finding: &JsonFinding) -> Result<String, String> {
    if !finding.redacted {
        return if Fingerprint::of(&finding.rule_id, &finding.secret) == finding.fingerprint {
            Ok(finding.secret.clone())
        } else {
            Err("the report's secret does not have the report's fingerprint (was the report edited?)".into())
        };
    }
    let content = read_content(finding)?;
    let content = match crate::inspect::decode_utf16(&content) {
        Some(text) => text.into_bytes(),
        None => content,
    };
    text_at(&content, finding)
        .into_iter()
        .find(|text| Fingerprint::of(&finding.rule_id, text) == finding.fingerprint)
        .ok_or_else(|| {
            "the text there no longer has the reported fingerprint (the content changed since the report); \
             scan again and use the new report"
                .to_string()
        })
}

/// The bytes of the file or blob a finding was reported in.
fn read_content(finding: &JsonFinding) -> Result<Vec<u8>, String> {
    if let Some(label) = &finding.repository {
        let repo = crate::source::git::open(Path::new(label)).map_err(|e| e.to_string())?;
        if let Some(git) = &finding.git {
            let oid =
                git2::Oid::from_str(&git.blob).map_err(|e| format!("bad blob id {}: {}", git.blob, e.message()))?;
            let blob = repo
                .find_blob(oid)
                .map_err(|e| format!("cannot read blob {} in {label}: {}", git.blob, e.message()))?;
            return Ok(blob.content().to_vec());
        }
        // A staged finding: the blob in the index, else the file in the working tree.
        if let Ok(index) = repo.index()
            && let Some(entry) = index.get_path(Path::new(&finding.path), 0)
            && let Ok(blob) = repo.find_blob(entry.id)
        {
            return Ok(blob.content().to_vec());
        }
        let workdir = repo.workdir().ok_or_else(|| format!("{label} has no working tree"))?;
        return std::fs::read(workdir.join(&finding.path)).map_err(|e| format!("cannot read: {e}"));
    }
    if finding.path == STDIN_LABEL {
        return Err(
            "read from standard input, so it cannot be read again; pipe the content to \
                    `keyhound scan - --revoke` instead"
                .into(),
        );
    }
    std::fs::read(&finding.path).map_err(|e| format!("cannot read: {e}"))
}

/// The candidate texts at a finding's location: at its byte offset, then at its line and column.
fn text_at(content: &[u8], finding: &JsonFinding) -> Vec<String> {
    let mut texts = Vec::new();
    if finding.end_line != finding.line || finding.end_column <= finding.column {
        return texts;
    }
    let len = finding.end_column - finding.column;
    let mut push = |start: usize| {
        if let Some(bytes) = start.checked_add(len).and_then(|end| content.get(start..end))
            && let Ok(text) = std::str::from_utf8(bytes)
            && !texts.iter().any(|t| t == text)
        {
            texts.push(text.to_string());
        }
    };
    push(finding.offset);
    if let Some(line_start) = line_start(content, finding.line) {
        push(line_start + finding.column.saturating_sub(1));
    }
    texts
}

/// The byte offset where 1-based line `line` starts.
fn line_start(content: &[u8], line: usize) -> Option<usize> {
    if line == 0 {
        return None;
    }
    if line == 1 {
        return Some(0);
    }
    memchr::memchr_iter(b'\n', content).nth(line - 2).map(|i| i + 1)
}

/// `path:line:column`, with the short commit for history findings. The path is outside text.
fn place_of(path: &str, line: usize, column: usize, commit: Option<&str>) -> String {
    let path = crate::text::for_message(path);
    match commit {
        Some(commit) => format!("{path}:{line}:{column} (commit {})", commit.get(..12).unwrap_or(commit)),
        None => format!("{path}:{line}:{column}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Severity;

    const KEY: &str = "sk-proj-e7njtS5pFbUcguGv1dHS84ExMaIWYiHaFUX1m1s97mCfvhcH";

    fn json_finding(path: &str, line: usize, column: usize, offset: usize) -> JsonFinding {
        JsonFinding {
            format_version: None,
            rule_id: "openai-project-key".into(),
            rule_name: "OpenAI project API key".into(),
            provider: "openai".into(),
            kind: "project".into(),
            severity: Severity::Critical,
            path: path.into(),
            line,
            column,
            end_line: line,
            end_column: column + KEY.len(),
            offset,
            secret: redact(KEY, 8),
            redacted: true,
            fingerprint: Fingerprint::of("openai-project-key", KEY),
            context: None,
            repository: None,
            git: None,
            verification: None,
        }
    }

    #[test]
    fn keys_are_reread_at_the_reported_place_and_checked() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let path = dir.path().join("a.env");
        std::fs::write(&path, format!("# x\nKEY={KEY}\n")).expect("write");
        let name = path.display().to_string();
        let collected = recover(vec![json_finding(&name, 2, 5, 8)]);
        assert_eq!(collected.keys.len(), 1);
        assert_eq!(collected.keys[0].secret.expose(), KEY);
        assert_eq!(collected.keys[0].redacted, "sk-proj-e7nj…vhcH");

        // A stale offset: the line and column still find it.
        let collected = recover(vec![json_finding(&name, 2, 5, 3)]);
        assert_eq!(collected.keys.len(), 1);

        // The file changed: nothing is recovered, and the reason says so.
        std::fs::write(&path, format!("# x\nKEY={}\n", KEY.replace('e', "E"))).expect("write");
        let collected = recover(vec![json_finding(&name, 2, 5, 8)]);
        assert!(collected.keys.is_empty());
        assert_eq!(collected.unrecovered.len(), 1);
        assert!(collected.unrecovered[0].reasons[0].contains("no longer has the reported fingerprint"));
    }

    #[test]
    fn unredacted_reports_are_used_when_the_fingerprint_agrees() {
        let mut finding = json_finding("nowhere.env", 1, 1, 0);
        finding.secret = KEY.into();
        finding.redacted = false;
        let collected = recover(vec![finding.clone()]);
        assert_eq!(collected.keys.len(), 1);
        finding.secret = KEY.replace('e', "E");
        let collected = recover(vec![finding]);
        assert!(collected.keys.is_empty());
        assert!(!collected.unrecovered[0].redacted.contains("FbUcguGv1dHS84"));
    }

    #[test]
    fn other_providers_are_counted_and_left_alone() {
        let mut other = json_finding("x", 1, 1, 0);
        other.provider = "anthropic".into();
        let collected = recover(vec![other]);
        assert_eq!(collected.other_providers, 1);
        assert!(collected.keys.is_empty() && collected.unrecovered.is_empty());
    }

    #[test]
    fn line_starts_are_found() {
        let text = b"a\nbc\n\nd";
        assert_eq!(line_start(text, 1), Some(0));
        assert_eq!(line_start(text, 2), Some(2));
        assert_eq!(line_start(text, 4), Some(6));
        assert_eq!(line_start(text, 5), None);
    }
}
