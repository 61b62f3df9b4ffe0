//! Getting the raw keys back: from findings in memory, or from a report by re-reading the place each
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
use crate::rules::{Rule, RuleSet};
use crate::source::fs::STDIN_LABEL;
use crate::source::git::messages;
use crate::source::git::objects::{LooseObjects, Objects};

/// One unique leaked key and where it was found.
#[derive(Debug, Clone)]
pub struct LeakedKey {
    pub secret: Secret,
    /// The rule's provider (`openai`, `anthropic`): which provider module handles the key.
    pub provider: String,
    pub rule_id: String,
    /// The rule's kind: `project`, `service-account`, `admin`, `none`, `legacy` for OpenAI; `api`, `admin-api`,
    /// `oauth-access` and so on for others.
    pub kind: String,
    /// The key as reports show it.
    pub redacted: String,
    pub fingerprint: Fingerprint,
    /// Where it was found (`path:line:column`, with the commit for history findings).
    pub places: Vec<String>,
    /// The endpoint found next to it, for keys that work only there (as reported: a provider checks it before
    /// sending anything there).
    pub endpoint: Option<String>,
}

impl LeakedKey {
    /// The first place and how many more.
    pub fn place_summary(&self) -> String {
        match self.places.as_slice() {
            [] => "(unknown place)".into(),
            [one] => one.clone(),
            [first, rest @ ..] => format!("{first} (+{} more)", rest.len()),
        }
    }
}

/// A finding whose key could not be recovered from a report.
#[derive(Debug, Clone)]
pub struct Unrecovered {
    pub provider: String,
    pub redacted: String,
    pub kind: String,
    pub fingerprint: Fingerprint,
    /// Why, for each place tried.
    pub reasons: Vec<String>,
}

/// The keys of a set of findings.
#[derive(Debug, Default)]
pub struct Collected {
    pub keys: Vec<LeakedKey>,
    pub unrecovered: Vec<Unrecovered>,
    /// Findings left alone: of a provider keyhound has no module for, or (in a report) of a rule that is not
    /// built in.
    pub other_providers: usize,
}

/// The unique keys among findings held in memory whose provider `known` accepts, in order of first appearance.
pub fn from_findings(findings: &[Finding], known: &dyn Fn(&str) -> bool) -> Collected {
    let mut collected = Collected::default();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for finding in findings {
        if !known(&finding.provider) {
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
                    provider: finding.provider.clone(),
                    rule_id: finding.rule_id.clone(),
                    kind: finding.kind.clone(),
                    redacted: finding.redacted.clone(),
                    fingerprint: finding.fingerprint.clone(),
                    places: vec![place],
                    endpoint: finding.endpoint.clone(),
                });
            }
        }
    }
    collected
}

/// The keys of a JSON or JSON Lines report whose provider `known` accepts, recovered from the places the findings
/// were reported at.
pub fn from_report(path: &Path, known: &dyn Fn(&str) -> bool) -> Result<Collected, ReadReportError> {
    Ok(recover(read_report(path)?.findings, known))
}

/// Recovers the keys of report findings: findings are grouped by fingerprint, and each key is taken from the
/// first of its places whose text still has that fingerprint.
///
/// Nothing in a report is trusted: a finding counts only if its `rule_id` is a built-in rule of a provider `known`
/// accepts (whose provider and kind, not the report's, decide where and how the key is probed), and a key is used
/// only if it is a whole match of that rule with the reported fingerprint.
pub fn recover(findings: Vec<JsonFinding>, known: &dyn Fn(&str) -> bool) -> Collected {
    let mut collected = Collected::default();
    let Ok(rules) = RuleSet::builtin() else {
        return collected;
    };
    let mut group_of: HashMap<Fingerprint, usize> = HashMap::new();
    let mut groups: Vec<(Fingerprint, &Rule, Vec<JsonFinding>)> = Vec::new();
    for finding in findings {
        let Some(rule) = rules.find(&finding.rule_id).filter(|rule| known(&rule.provider)) else {
            collected.other_providers += 1;
            continue;
        };
        match group_of.get(&finding.fingerprint) {
            Some(&i) => groups[i].2.push(finding),
            None => {
                group_of.insert(finding.fingerprint.clone(), groups.len());
                groups.push((finding.fingerprint.clone(), rule, vec![finding]));
            }
        }
    }
    for (fingerprint, rule, group) in groups {
        let places: Vec<String> = group
            .iter()
            .map(|f| place_of(&f.path, f.line, f.column, f.git.as_ref().map(|g| g.commit.as_str())))
            .collect();
        let mut reasons = Vec::new();
        let mut recovered = None;
        for (finding, place) in group.iter().zip(&places) {
            match recover_one(finding, rule) {
                Ok(secret) => {
                    recovered = Some(secret);
                    break;
                }
                Err(reason) => reasons.push(format!("{place}: {reason}")),
            }
        }
        match recovered {
            Some(secret) => collected.keys.push(LeakedKey {
                redacted: redact(&secret, rule.known_prefix_len(&secret)),
                secret: Secret::new(secret),
                provider: rule.provider.clone(),
                rule_id: rule.id.clone(),
                kind: rule.kind.clone(),
                fingerprint,
                places,
                endpoint: group.iter().find_map(|f| f.endpoint.clone()),
            }),
            None => {
                let first = &group[0];
                // The report's own text: redacted by the choke point whatever the report claims it is.
                let shown = if first.redacted {
                    crate::text::for_message(&crate::text::bounded(&first.secret, 40))
                } else {
                    redact(&first.secret, rule.known_prefix_len(&first.secret))
                };
                collected.unrecovered.push(Unrecovered {
                    provider: rule.provider.clone(),
                    redacted: shown,
                    kind: rule.kind.clone(),
                    fingerprint,
                    reasons,
                })
            }
        }
    }
    collected
}

/// The key of one report finding, or why it cannot be had.
fn recover_one(finding: &JsonFinding, rule: &Rule) -> Result<String, String> {
    if !finding.redacted {
        return if is_whole_match(rule, finding.secret.as_bytes())
            && Fingerprint::of(&rule.id, &finding.secret) == finding.fingerprint
        {
            Ok(finding.secret.clone())
        } else {
            Err(
                "the report's secret is not a key of its rule with the report's fingerprint (was the report edited?)"
                    .into(),
            )
        };
    }
    let chain = Chain::parse(finding.decoded.as_deref())?;
    // Encoded text wrapped over lines (base64 -w76, a YAML folded block) spans lines; a key in the clear never.
    let lines_down = finding.end_line.checked_sub(finding.line);
    let spans_lines = lines_down.is_some_and(|n| n > 0);
    if lines_down.is_none()
        || (spans_lines && chain.decoders.is_empty())
        || (!spans_lines && finding.end_column <= finding.column)
    {
        return Err("the report's location is not a span of one line, or of wrapped encoded text".into());
    }
    let len = if spans_lines {
        MAX_ENCODED_SPAN
    } else {
        finding.end_column - finding.column
    };
    let longest = if chain.decoders.is_empty() && !chain.invisible {
        rule.max_match_len.unwrap_or(MAX_ENCODED_SPAN)
    } else {
        MAX_ENCODED_SPAN
    };
    if len > longest {
        return Err(format!(
            "the reported span ({len} bytes) is longer than any key of rule {}",
            rule.id
        ));
    }
    let mut span = read_span(finding, len, !spans_lines, chain.utf16)?;
    if let Some(lines_down) = lines_down.filter(|&n| n > 0) {
        span = wrapped_span(span, lines_down, finding.end_column)
            .ok_or("the text at the reported place no longer spans the reported lines")?;
    }
    if chain.invisible {
        span = crate::invisible::without_invisible(&span);
    }
    // Encoded text is decoded the way the scan did; any key it holds counts only if it is the reported one.
    let candidates: Vec<Vec<u8>> = if chain.decoders.is_empty() {
        vec![span]
    } else {
        decoded_candidates(&span, chain.decoders.len() as u32)
    };
    let mut whole = candidates.into_iter().filter(|c| is_whole_match(rule, c)).peekable();
    if whole.peek().is_none() {
        return Err(format!(
            "the text at the reported place is not a key of rule {} (the content changed since the report, or \
             the report is not from keyhound)",
            rule.id
        ));
    }
    whole
        .filter_map(|c| String::from_utf8(c).ok())
        .find(|text| Fingerprint::of(&rule.id, text) == finding.fingerprint)
        .ok_or_else(|| {
            "the text there no longer has the reported fingerprint (the content changed since the report); scan \
             again and use the new report"
                .to_string()
        })
}

/// The longest encoded span read back: a decoding window is at most a few times the longest key.
const MAX_ENCODED_SPAN: usize = 8 << 10;

/// How a finding's secret was found, from its `decoded` field: the content's UTF-16 encoding (the span is taken
/// in the decoded text), then the decoders of the encoded text at the span.
struct Chain {
    utf16: Option<crate::inspection::Encoding>,
    /// The key was found with invisible characters removed from its span.
    invisible: bool,
    decoders: Vec<crate::content::decode::Decoder>,
}

impl Chain {
    fn parse(text: Option<&str>) -> Result<Chain, String> {
        let mut chain = Chain {
            utf16: None,
            invisible: false,
            decoders: Vec::new(),
        };
        let Some(text) = text else {
            return Ok(chain);
        };
        for (i, name) in text.split('>').enumerate() {
            if i == 0
                && let Some(encoding) = crate::inspection::Encoding::from_name(name)
            {
                chain.utf16 = Some(encoding);
            } else if i == 0 && name == crate::invisible::DECODED {
                chain.invisible = true;
            } else if let Some(decoder) = crate::content::decode::Decoder::from_name(name) {
                chain.decoders.push(decoder);
            } else {
                return Err(format!("unknown `decoded` value `{}`", crate::text::excerpt(text)));
            }
        }
        Ok(chain)
    }
}

/// Every key that encoded text holds, `depth` decodings deep, as the scan finds them.
fn decoded_candidates(span: &[u8], depth: u32) -> Vec<Vec<u8>> {
    static SCANNER: std::sync::OnceLock<Option<crate::scan::Scanner>> = std::sync::OnceLock::new();
    let Some(scanner) = SCANNER.get_or_init(|| {
        RuleSet::builtin()
            .ok()
            .and_then(|rules| crate::scan::Scanner::new(rules, Default::default()).ok())
    }) else {
        return Vec::new();
    };
    let (_, hints) = scanner.find_with_hints(span);
    crate::content::decode::decoded_keys(scanner, span, hints, depth, &[])
        .into_iter()
        .map(|d| d.secret)
        .collect()
}

/// Is `text` in its entirety one match of `rule` (its `secret` group, when it has one)?
fn is_whole_match(rule: &Rule, text: &[u8]) -> bool {
    rule.regex.captures_iter(text).any(|caps| {
        let span = rule
            .secret_group
            .and_then(|group| caps.get(group))
            .or_else(|| caps.get(0));
        span.is_some_and(|m| m.start() == 0 && m.end() == text.len())
    })
}

/// The largest file, blob or archive read whole (a finding in decoded UTF-16 text, whose offset is in the decoded
/// text, or in an archive member); others are read only at the reported offset.
const MAX_WHOLE_READ: u64 = 100 << 20;

/// The `len` bytes at a finding's offset in the file, blob, archive member or message it was reported in (in
/// the text decoded from `utf16`, when given).
/// The part of `text` (read from a span's start) that ends `lines_down` line breaks further, at `end_column`
/// (exclusive, 1-based) of that line.
fn wrapped_span(mut text: Vec<u8>, lines_down: usize, end_column: usize) -> Option<Vec<u8>> {
    let last_line_start = memchr::memchr_iter(b'\n', &text).nth(lines_down - 1)? + 1;
    let end = last_line_start + end_column.checked_sub(1)?;
    (end <= text.len()).then(|| {
        text.truncate(end);
        text
    })
}

/// The `len` bytes at a finding's offset (at most `len` unless `exact`: the rest of the content when shorter).
fn read_span(
    finding: &JsonFinding,
    len: usize,
    exact: bool,
    utf16: Option<crate::inspection::Encoding>,
) -> Result<Vec<u8>, String> {
    let slice = |content: &[u8]| -> Result<Vec<u8>, String> {
        let content = match utf16 {
            Some(encoding) => {
                std::borrow::Cow::Owned(crate::content::inspect::decode_as(strip_bom(content), encoding).into_bytes())
            }
            None => std::borrow::Cow::Borrowed(content),
        };
        finding
            .offset
            .checked_add(len)
            .map(|end| if exact { end } else { end.min(content.len()) })
            .and_then(|end| content.get(finding.offset..end))
            .map(<[u8]>::to_vec)
            .ok_or_else(|| "the reported offset is past the end of the content".to_string())
    };
    if let Some(image) = &finding.image {
        return Err(format!(
            "found in the container image {}, which a redacted report cannot be read back from: run `keyhound image \
             {} --revoke`, or revoke from a report written with --show-secrets",
            crate::text::excerpt(&image.reference),
            crate::text::excerpt(&image.reference)
        ));
    }
    if let Some(label) = &finding.repository {
        let repo = crate::source::git::open(Path::new(label)).map_err(|e| e.to_string())?;
        let loose = LooseObjects::list(&repo);
        let objects = Objects::new(&repo, &loose);
        let oid = match &finding.git {
            Some(git) => git2::Oid::from_str(&git.blob)
                .map_err(|_| format!("bad object id `{}`", crate::text::excerpt(&git.blob)))?,
            None => staged_blob(&repo, finding.path.split('!').next().unwrap_or_default())?,
        };
        if messages::is_message_path(&finding.path) {
            let message = if finding.path == messages::COMMIT_MESSAGE_PATH {
                objects.commit(oid).map(|c| c.message_raw_bytes().to_vec())
            } else {
                objects.tag(oid).map(|t| t.message_bytes().unwrap_or_default().to_vec())
            };
            return slice(&message.map_err(|e| e.message)?);
        }
        let blob = objects
            .blob_at_most(oid, MAX_WHOLE_READ)
            .map_err(|e| e.message)?
            .map_err(|_| format!("the blob is larger than {MAX_WHOLE_READ} bytes"))?;
        let mut parts = finding.path.split('!');
        let outer = parts.next().unwrap_or_default();
        let members: Vec<&str> = parts.collect();
        return slice(&open_members(blob.bytes().to_vec(), outer, &members)?);
    }
    if finding.path == STDIN_LABEL {
        return Err(
            "read from standard input, so it cannot be read again; pipe the content to \
                    `keyhound scan - --revoke` instead"
                .into(),
        );
    }
    let (outer, members) = split_members(&finding.path);
    if members.is_empty() && utf16.is_none() {
        return read_regular_at(Path::new(outer), finding.offset as u64, len, exact);
    }
    let content = crate::input::read_regular(Path::new(outer), MAX_WHOLE_READ).map_err(|e| e.to_string())?;
    slice(&open_members(content, outer, &members)?)
}

/// A file path with archive members (`dist/app.zip!config/.env`): the longest prefix before a `!` that is a
/// file on disk, and the members after it.
fn split_members(path: &str) -> (&str, Vec<&str>) {
    if Path::new(path).is_file() {
        return (path, Vec::new());
    }
    for (i, _) in path.match_indices('!') {
        if Path::new(&path[..i]).is_file() {
            return (&path[..i], path[i + 1..].split('!').collect());
        }
    }
    (path, Vec::new())
}

/// The content of `members` nested in `content` (none: `content` itself), which the scan named `name`, opened
/// as the scan opened them.
fn open_members(mut content: Vec<u8>, name: &str, members: &[&str]) -> Result<Vec<u8>, String> {
    // A path with a `!` in it is a path, not a member, when what it names is no archive.
    if crate::content::archive::kind(&content).is_none() {
        return Ok(content);
    }
    let mut name = name.to_string();
    for member in members {
        let kind = crate::content::archive::kind(&content).ok_or_else(|| "the archive is no longer one".to_string())?;
        let mut budget = crate::content::Options::DEFAULT_MAX_ARCHIVE_SIZE;
        let opened = crate::content::archive::open(&content, kind, &name, &mut budget);
        name = crate::content::member_path(&name, member);
        content = opened
            .members
            .into_iter()
            .find(|(name, _)| name == member)
            .map(|(_, bytes)| bytes.into_owned())
            .ok_or_else(|| format!("the archive holds no member `{}`", crate::text::excerpt(member)))?;
    }
    Ok(content)
}

/// The blob staged at `path`, for a `--staged` finding.
fn staged_blob(repo: &git2::Repository, path: &str) -> Result<git2::Oid, String> {
    let index = repo.index().map_err(|e| e.message().to_string())?;
    index
        .get_path(Path::new(path), 0)
        .map(|entry| entry.id)
        .ok_or_else(|| "no longer staged".to_string())
}

fn strip_bom(bytes: &[u8]) -> &[u8] {
    match bytes {
        [0xFF, 0xFE, rest @ ..] | [0xFE, 0xFF, rest @ ..] => rest,
        _ => bytes,
    }
}

/// `len` bytes at `offset` of the regular file `path` (a FIFO or a device is refused before it is opened).
fn read_regular_at(path: &Path, offset: u64, len: usize, exact: bool) -> Result<Vec<u8>, String> {
    use std::io::{Read, Seek, SeekFrom};
    let describe = |e: std::io::Error| crate::input::describe_io(&e);
    let meta = std::fs::metadata(path).map_err(describe)?;
    if !meta.is_file() {
        return Err(format!(
            "not a regular file ({}), not read",
            crate::input::file_kind(&meta)
        ));
    }
    let mut file = std::fs::File::open(path).map_err(describe)?;
    file.seek(SeekFrom::Start(offset)).map_err(describe)?;
    let mut bytes = Vec::with_capacity(len);
    file.take(len as u64).read_to_end(&mut bytes).map_err(describe)?;
    if bytes.len() != len && (exact || bytes.is_empty()) {
        return Err("the reported offset is past the end of the file".into());
    }
    Ok(bytes)
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
            confidence: crate::rules::Confidence::High,
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
            decoded: None,
            allow_marker_not_honoured: None,
            repository: None,
            git: None,
            verification: None,
            allowed_but_live: None,
            endpoint: None,
            image: None,
        }
    }

    #[test]
    fn keys_are_reread_at_the_reported_place_and_checked() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let path = dir.path().join("a.env");
        std::fs::write(&path, format!("# x\nKEY={KEY}\n")).expect("write");
        let name = path.display().to_string();
        let collected = recover(vec![json_finding(&name, 2, 5, 8)], &any);
        assert_eq!(collected.keys.len(), 1);
        assert_eq!(collected.keys[0].secret.expose(), KEY);
        assert_eq!(collected.keys[0].redacted, "sk-proj-e7nj…vhcH");

        // Only the reported offset is read: a stale or forged one recovers nothing.
        let collected = recover(vec![json_finding(&name, 2, 5, 3)], &any);
        assert!(collected.keys.is_empty());
        assert!(
            collected.unrecovered[0].reasons[0].contains("not a key of rule"),
            "{:?}",
            collected.unrecovered
        );

        // The file changed: nothing is recovered, and the reason says so.
        std::fs::write(&path, format!("# x\nKEY={}\n", KEY.replace('e', "E"))).expect("write");
        let collected = recover(vec![json_finding(&name, 2, 5, 8)], &any);
        assert!(collected.keys.is_empty());
        assert_eq!(collected.unrecovered.len(), 1);
        assert!(collected.unrecovered[0].reasons[0].contains("no longer has the reported fingerprint"));
    }

    #[test]
    fn unredacted_reports_are_used_when_the_fingerprint_agrees() {
        let mut finding = json_finding("nowhere.env", 1, 1, 0);
        finding.secret = KEY.into();
        finding.redacted = false;
        let collected = recover(vec![finding.clone()], &any);
        assert_eq!(collected.keys.len(), 1);
        finding.secret = KEY.replace('e', "E");
        let collected = recover(vec![finding], &any);
        assert!(collected.keys.is_empty());
        assert!(!collected.unrecovered[0].redacted.contains("FbUcguGv1dHS84"));
    }

    fn any(_: &str) -> bool {
        true
    }

    #[test]
    fn unknown_providers_and_rules_are_counted_and_left_alone() {
        let mut other = json_finding("x", 1, 1, 0);
        other.rule_id = "anthropic-api-key".into();
        let collected = recover(vec![other.clone()], &|p| p == "openai");
        assert_eq!(collected.other_providers, 1);
        assert!(collected.keys.is_empty() && collected.unrecovered.is_empty());
        // A rule that is not built in is never trusted, whatever provider the report claims.
        other.rule_id = "my-own-rule".into();
        let collected = recover(vec![other], &any);
        assert_eq!(collected.other_providers, 1);
        assert!(collected.keys.is_empty() && collected.unrecovered.is_empty());
    }
}
