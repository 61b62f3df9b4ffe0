//! Turns one piece of content (a file, a blob, stdin) into findings: decoding, the binary policy, matching,
//! locating, inline allow markers and the masked context line.

use std::borrow::Cow;

use crate::finding::{Finding, Fingerprint, Location, Secret, redact};
pub use crate::inspection::{BinaryPolicy, Encoding, Inspection};
use crate::scan::Scanner;
use crate::scan::location::{LineColumn, LineCounter, line_end};

/// Markers that accept the key they stand next to on its line (the nearest one: `KEY=sk-… # keyhound:allow`).
/// `gitleaks:allow` and detect-secrets' pragma are honoured so projects can switch tools without editing files.
pub const ALLOW_MARKERS: &[&str] = &["keyhound:allow", "gitleaks:allow", "pragma: allowlist secret"];

/// How many bytes are inspected to decide whether content is binary (a NUL byte there means binary).
const BINARY_SNIFF_LEN: usize = 8 * 1024;
/// How much of the line to show on either side of a secret in the context.
const CONTEXT_RADIUS: usize = 60;

/// Scans `bytes`, labelling findings with `path`.
///
/// The raw bytes are always scanned. Content that looks like UTF-16 (a byte-order mark, or mostly ASCII with a NUL
/// in every other byte) is also decoded and scanned again: decoding may add findings (at positions in the decoded
/// text, marked with the encoding), never hide those of the raw bytes, so a guess that is wrong costs nothing.
/// Encoded text in text content (base64, percent-encoding, escapes) is decoded to `options.decode_depth`
/// ([`crate::content::decode`]); its keys are reported at the encoded text.
pub fn inspect(scanner: &Scanner, bytes: &[u8], path: &str, options: &crate::content::Options) -> Inspection {
    let decoded = decode_utf16(bytes);
    let raw_is_binary = is_binary(bytes);
    if raw_is_binary && decoded.is_none() && options.binary == BinaryPolicy::Skip {
        return Inspection {
            skipped_binary: true,
            ..Inspection::default()
        };
    }
    // Binary content is not searched for encoded text: a key there is in the clear or not at all.
    let decode_depth = if raw_is_binary { 0 } else { options.decode_depth };
    let anchored = scanner.path_anchors(path);
    let text = Text {
        path,
        keep_allowed: options.keep_allowed,
        keep_honoured: options.keep_honoured,
        anchored: &anchored,
    };
    let mut inspection = inspect_text(scanner, bytes, &text, raw_is_binary, None, decode_depth);
    if let Some((decoded, encoding)) = decoded {
        let more = inspect_text(
            scanner,
            decoded.as_bytes(),
            &text,
            false,
            Some(encoding),
            options.decode_depth,
        );
        inspection.allowed += more.allowed;
        let known: std::collections::HashSet<Fingerprint> =
            inspection.findings.iter().map(|f| f.fingerprint.clone()).collect();
        inspection
            .findings
            .extend(more.findings.into_iter().filter(|f| !known.contains(&f.fingerprint)));
    }
    if !raw_is_binary && let Some(stripped) = crate::invisible::strip(bytes) {
        // Keys broken up by characters that do not show; those found in the clear already are not repeated.
        let more = inspect_text(scanner, &stripped.text, &text, false, None, 0);
        let known: std::collections::HashSet<Fingerprint> =
            inspection.findings.iter().map(|f| f.fingerprint.clone()).collect();
        let hidden = more.findings.into_iter().filter(|f| !known.contains(&f.fingerprint));
        inspection.findings.extend(
            hidden
                .map(|f| at_original_place(f, bytes, &stripped))
                .collect::<Vec<_>>(),
        );
    }
    inspection
}

/// A finding of the stripped text moved to its place in the original `content`, marked `invisible`.
fn at_original_place(mut finding: Finding, content: &[u8], stripped: &crate::invisible::Stripped) -> Finding {
    let start = stripped.start_in_original(finding.location.offset);
    let end = stripped.end_in_original(finding.location.offset + finding.secret.expose().len());
    let line_start = memchr::memrchr(b'\n', &content[..start]).map_or(0, |newline| newline + 1);
    finding.location.offset = start;
    finding.location.column = start - line_start + 1;
    finding.location.end_column = end - line_start + 1;
    finding.decoded = Some(crate::invisible::DECODED.to_string());
    finding
}

/// What is the same for every text of one piece of content.
struct Text<'a> {
    path: &'a str,
    /// Keep the findings an allow marker covers, marked with it ([`crate::content::Options::keep_allowed`]).
    keep_allowed: bool,
    /// Keep the findings an honoured marker covers, marked `allowed` ([`crate::content::Options::keep_honoured`]).
    keep_honoured: bool,
    /// The context rules the path anchors ([`Scanner::path_anchors`]).
    anchored: &'a [usize],
}

/// A key found in content: in the clear (`chain` empty), or in the encoded text at `start..end`.
struct Candidate {
    rule: usize,
    secret: Vec<u8>,
    start: usize,
    end: usize,
    chain: Option<String>,
}

/// One scan of `content` (and of its encoded text, `decode_depth` deep); `binary` content gets no context
/// lines; `encoding` is what `content` was decoded from.
fn inspect_text(
    scanner: &Scanner,
    content: &[u8],
    text: &Text<'_>,
    binary: bool,
    encoding: Option<Encoding>,
    decode_depth: u32,
) -> Inspection {
    let path = text.path;
    let (matches, hints) = if decode_depth > 0 {
        scanner.find_with_hints_anchored(content, text.anchored)
    } else {
        (scanner.find_anchored(content, text.anchored), Vec::new())
    };
    let mut candidates: Vec<Candidate> = matches
        .into_iter()
        .map(|m| Candidate {
            rule: m.rule,
            secret: content[m.start..m.end].to_vec(),
            start: m.start,
            end: m.end,
            chain: None,
        })
        .collect();
    if decode_depth > 0 {
        let decoded = crate::content::decode::decoded_keys(scanner, content, hints, decode_depth, text.anchored);
        // A key in the clear inside encoded text (a percent-encoded URL holding a raw key) is the raw scan's.
        let clear: Vec<(usize, usize, Vec<u8>)> =
            candidates.iter().map(|c| (c.start, c.end, c.secret.clone())).collect();
        candidates.extend(
            decoded
                .into_iter()
                .filter(|d| {
                    !clear
                        .iter()
                        .any(|(s, e, secret)| *s < d.end && *e > d.start && *secret == d.secret)
                })
                .map(|d| Candidate {
                    rule: d.rule,
                    secret: d.secret,
                    start: d.start,
                    end: d.end,
                    chain: Some(d.chain),
                }),
        );
    }
    // In order, so that lines are found going forward and the masks of a line's context come out sorted.
    candidates.sort_by_key(|c| (c.start, c.end));
    let mut inspection = Inspection::default();
    if candidates.is_empty() {
        return inspection;
    }
    // Every key (and every encoded text that holds one) is masked in every context line, so one finding's
    // context never shows another's secret, in the clear or encoded.
    let redacted: Vec<String> = candidates
        .iter()
        .map(|c| {
            let text = String::from_utf8_lossy(&c.secret);
            redact(&text, scanner.rule(c.rule).known_prefix_len(&text))
        })
        .collect();
    let masks = context_masks(&candidates, &redacted);
    let mut lines = LineCounter::new(content);
    let starts: Vec<LineColumn> = candidates.iter().map(|c| lines.locate(c.start)).collect();
    let markers = allow_markers(content, &candidates, &starts);
    // The end of the line last looked up: a line holding many keys is searched for its end once.
    let mut line_stops: (usize, usize) = (usize::MAX, 0);
    for (at, (c, redacted)) in candidates.iter().zip(&redacted).enumerate() {
        let start = starts[at];
        if line_stops.0 != start.line_start {
            line_stops = (start.line_start, line_end(content, start.line_start));
        }
        let line_stop = line_stops.1;
        if markers[at].is_some() && !text.keep_allowed && !text.keep_honoured {
            inspection.allowed += 1;
            continue;
        }
        let end = LineColumn {
            line: start.line + memchr::memchr_iter(b'\n', &content[c.start..c.end]).count(),
            column: match memchr::memrchr(b'\n', &content[c.start..c.end]) {
                Some(newline) => c.end - (c.start + newline + 1) + 1,
                None => start.column + (c.end - c.start),
            },
            line_start: 0,
        };
        let rule = scanner.rule(c.rule);
        let secret = Secret::new(String::from_utf8_lossy(&c.secret).into_owned());
        let context = (!binary).then(|| masked_context(content, start.line_start, line_stop, c.start, c.end, &masks));
        let chain = match (encoding, &c.chain) {
            (Some(encoding), Some(chain)) => Some(format!("{}>{chain}", encoding.name())),
            (Some(encoding), None) => Some(encoding.name().to_string()),
            (None, chain) => chain.clone(),
        };
        inspection.findings.push(Finding {
            rule_id: rule.id.clone(),
            rule_name: rule.name.clone(),
            provider: rule.provider.clone(),
            kind: rule.kind.clone(),
            severity: rule.severity,
            confidence: rule.confidence_of(&c.secret),
            path: path.to_string(),
            location: Location {
                line: start.line,
                column: start.column,
                end_line: end.line,
                end_column: end.column,
                offset: c.start,
            },
            fingerprint: Fingerprint::of(&rule.id, secret.expose()),
            secret,
            redacted: redacted.clone(),
            context,
            decoded: chain,
            allow_marker: markers[at].filter(|_| text.keep_allowed).map(str::to_string),
            repository: None,
            git: None,
            verification: None,
            allowed: markers[at]
                .filter(|_| !text.keep_allowed)
                .map(|marker| format!("inline marker `{marker}`")),
            endpoint: rule.endpoint.as_ref().and_then(|endpoint| {
                let window = rule.context.as_ref().map_or(DEFAULT_ENDPOINT_WINDOW, |c| c.distance);
                nearest_endpoint(content, c.start, c.end, window, endpoint)
            }),
            image: None,
        });
    }
    inspection
}

/// How far from a key its endpoint is looked for when its rule has no context distance, in bytes.
const DEFAULT_ENDPOINT_WINDOW: usize = 200;

/// The match of `endpoint` nearest to the key at `start..end`, within `window` bytes before or after it.
fn nearest_endpoint(
    content: &[u8],
    start: usize,
    end: usize,
    window: usize,
    endpoint: &regex::bytes::Regex,
) -> Option<String> {
    let from = start.saturating_sub(window);
    let to = end.saturating_add(window).min(content.len());
    endpoint
        .find_iter(&content[from..to])
        .map(|m| (from + m.start(), from + m.end()))
        .filter(|&(s, e)| e <= start || s >= end)
        .min_by_key(|&(s, e)| if e <= start { start - e } else { s - end })
        .map(|(s, e)| String::from_utf8_lossy(&content[s..e]).into_owned())
}

/// The allow marker that covers each candidate, if any. A marker covers the one key it stands next to on its
/// line, the nearest by the bytes between them (the key before it when two are as near), and any candidate
/// that overlaps that key (another rule's match of the same text): one marker on a minified line does not hide
/// every key on it. Each line holding a candidate is searched for markers once.
fn allow_markers(content: &[u8], candidates: &[Candidate], starts: &[LineColumn]) -> Vec<Option<&'static str>> {
    let mut covered: Vec<Option<&'static str>> = vec![None; candidates.len()];
    let mut first = 0;
    while first < candidates.len() {
        let line_start = starts[first].line_start;
        let mut last = first;
        while last + 1 < candidates.len() && starts[last + 1].line_start == line_start {
            last += 1;
        }
        let on_line = &candidates[first..=last];
        let stop = line_end(content, line_start).max(on_line.iter().map(|c| c.end).max().unwrap_or(0));
        let line = &content[line_start..stop.min(content.len())];
        for marker in ALLOW_MARKERS {
            for found in memchr::memmem::find_iter(line, marker.as_bytes()) {
                let (m_start, m_end) = (line_start + found, line_start + found + marker.len());
                // The bytes between the key and the marker (0 when they touch or overlap).
                let gap = |c: &Candidate| m_start.saturating_sub(c.end).max(c.start.saturating_sub(m_end));
                // Candidates are sorted by start: the nearest is the last to start before the marker ends, or
                // the first to start after it.
                let after = on_line.partition_point(|c| c.start < m_end);
                let nearest = [after.checked_sub(1), (after < on_line.len()).then_some(after)]
                    .into_iter()
                    .flatten()
                    .min_by_key(|&i| gap(&on_line[i]));
                let Some(nearest) = nearest else { continue };
                // The key, and the matches of other rules (or decodings) that overlap it.
                let key = &on_line[nearest];
                let overlaps = |c: &Candidate| c.start < key.end && c.end > key.start;
                let mut from = nearest;
                while from > 0 && overlaps(&on_line[from - 1]) {
                    from -= 1;
                }
                let mut to = nearest;
                while to + 1 < on_line.len() && overlaps(&on_line[to + 1]) {
                    to += 1;
                }
                for slot in &mut covered[first + from..=first + to] {
                    slot.get_or_insert(marker);
                }
            }
        }
        first = last + 1;
    }
    covered
}

/// The spans a context line must mask, without overlaps: a key in the clear shows as its redacted form, encoded
/// text as `[base64: sk-proj-AbCd…wXyZ]`. Of overlapping spans the first (then the widest) is kept, widened to
/// cover the others.
fn context_masks(candidates: &[Candidate], redacted: &[String]) -> Vec<(usize, usize, String)> {
    let mut masks: Vec<(usize, usize, String)> = Vec::new();
    for (c, redacted) in candidates.iter().zip(redacted) {
        let shown = match &c.chain {
            Some(chain) => format!("[{chain}: {redacted}]"),
            None => redacted.clone(),
        };
        match masks.last_mut() {
            Some(last) if c.start < last.1 => last.1 = last.1.max(c.end),
            _ => masks.push((c.start, c.end, shown)),
        }
    }
    masks
}

/// Is this content binary? A NUL byte in the first 8 KiB says so, as for git and ripgrep.
pub fn is_binary(bytes: &[u8]) -> bool {
    memchr::memchr(0, &bytes[..bytes.len().min(BINARY_SNIFF_LEN)]).is_some()
}

/// How much content is looked at to guess UTF-16 without a byte-order mark.
const UTF16_SNIFF_LEN: usize = 4096;

/// Decodes content that looks like UTF-16: it starts with a byte-order mark (PowerShell writes such files), or,
/// without one, its first 4 KiB are mostly ASCII characters with a NUL byte beside each. `None` otherwise.
pub fn decode_utf16(bytes: &[u8]) -> Option<(String, Encoding)> {
    let (encoding, body) = match bytes {
        [0xFF, 0xFE, rest @ ..] => (Encoding::Utf16Le, rest),
        [0xFE, 0xFF, rest @ ..] => (Encoding::Utf16Be, rest),
        _ => (guess_utf16(bytes)?, bytes),
    };
    Some((decode_as(body, encoding), encoding))
}

/// Decodes `bytes` as UTF-16 in `encoding` (a trailing odd byte is dropped, unpaired surrogates replaced).
pub fn decode_as(bytes: &[u8], encoding: Encoding) -> String {
    let units = bytes.chunks_exact(2).map(|pair| match encoding {
        Encoding::Utf16Le => u16::from_le_bytes([pair[0], pair[1]]),
        Encoding::Utf16Be => u16::from_be_bytes([pair[0], pair[1]]),
    });
    char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// UTF-16 without a byte-order mark: at least 90% of the first 4 KiB's byte pairs are an ASCII text byte and a
/// NUL, in the same order.
fn guess_utf16(bytes: &[u8]) -> Option<Encoding> {
    let sample = &bytes[..bytes.len().min(UTF16_SNIFF_LEN) & !1];
    let pairs = sample.len() / 2;
    // UTF-16 ASCII has a NUL in its first pair; checking that first keeps the guess free for other content.
    if pairs < 8 || (sample[0] != 0 && sample[1] != 0) {
        return None;
    }
    let text = |b: u8| b.is_ascii_graphic() || matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let (mut le, mut be) = (0, 0);
    for pair in sample.chunks_exact(2) {
        match (pair[0], pair[1]) {
            (b, 0) if text(b) => le += 1,
            (0, b) if text(b) => be += 1,
            _ => {}
        }
    }
    if le * 10 >= pairs * 9 {
        Some(Encoding::Utf16Le)
    } else if be * 10 >= pairs * 9 {
        Some(Encoding::Utf16Be)
    } else {
        None
    }
}

/// The secret's line, cut to a readable width around the secret (`start..end`), with every match in `masks`
/// replaced by its redacted form and control characters shown as spaces.
fn masked_context(
    content: &[u8],
    line_start: usize,
    line_stop: usize,
    start: usize,
    end: usize,
    masks: &[(usize, usize, String)],
) -> String {
    let mut from = start.saturating_sub(CONTEXT_RADIUS).max(line_start);
    let mut to = (end + CONTEXT_RADIUS).min(line_stop.max(end));
    // The masks are sorted and do not overlap: only those that reach into the window matter, found by
    // bisection, so a line of a hundred thousand keys costs no more per key than a line of one.
    let first = masks.partition_point(|&(_, e, _)| e <= from);
    let last = masks.partition_point(|&(s, _, _)| s < to);
    let masks = &masks[first..last.max(first)];
    // Widen the window rather than cut a neighbouring secret in half (a half would not be masked).
    for &(s, e, _) in masks {
        if s < from && e > from {
            from = s;
        }
        if s < to && e > to {
            to = e;
        }
    }
    let clean = |bytes: &[u8]| -> String {
        let text: Cow<'_, str> = String::from_utf8_lossy(bytes);
        text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
    };
    let mut out = String::new();
    if from > line_start {
        out.push('…');
    }
    let mut pos = from;
    for (s, e, redacted) in masks.iter().filter(|(s, e, _)| *s >= from && *e <= to) {
        out.push_str(&clean(&content[pos..*s]));
        out.push_str(redacted);
        pos = *e;
    }
    out.push_str(&clean(&content[pos..to]));
    if to < line_stop {
        out.push('…');
    }
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RuleSet;
    use crate::scan::PlaceholderFilter;

    const KEY: &str = "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";

    fn scanner() -> Scanner {
        Scanner::new(RuleSet::builtin().expect("rules"), PlaceholderFilter::default()).expect("scanner")
    }

    fn scan_binary() -> crate::content::Options {
        crate::content::Options::default()
    }

    fn skip_binary() -> crate::content::Options {
        crate::content::Options {
            binary: BinaryPolicy::Skip,
            ..crate::content::Options::default()
        }
    }

    #[test]
    fn utf16_with_bom_is_decoded() {
        let text = format!("$env:OPENAI_API_KEY = \"{KEY}\"\r\n");
        let mut bytes = vec![0xFF, 0xFE];
        for unit in text.encode_utf16() {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }
        let found = inspect(&scanner(), &bytes, "profile.ps1", &scan_binary());
        assert_eq!(found.findings.len(), 1);
        assert_eq!(found.findings[0].secret.expose(), KEY);
        assert_eq!(found.findings[0].location.column, 24);
    }

    #[test]
    fn binary_policy_is_honoured() {
        let bytes = format!("\0\0ELF\0{KEY}\0").into_bytes();
        let scanned = inspect(&scanner(), &bytes, "a.out", &scan_binary());
        assert_eq!(scanned.findings.len(), 1);
        assert!(scanned.findings[0].context.is_none());
        let skipped = inspect(&scanner(), &bytes, "a.out", &skip_binary());
        assert!(skipped.skipped_binary && skipped.findings.is_empty());
    }

    #[test]
    fn allow_markers_suppress_findings() {
        for marker in ALLOW_MARKERS {
            let text = format!("key = \"{KEY}\"  # {marker}\nother = \"{KEY}\"\n");
            let found = inspect(&scanner(), text.as_bytes(), "x", &scan_binary());
            assert_eq!(found.findings.len(), 1, "{marker}");
            assert_eq!(found.findings[0].location.line, 2);
            assert_eq!(found.allowed, 1);
        }
    }

    #[test]
    fn context_masks_every_secret_on_the_line() {
        let text = format!("keys:{KEY},{KEY}\n");
        let found = inspect(&scanner(), text.as_bytes(), "x", &scan_binary());
        assert_eq!(found.findings.len(), 2);
        for finding in &found.findings {
            let context = finding.context.clone().unwrap_or_default();
            assert_eq!(context, "keys:sk-u8jz…KLzd,sk-u8jz…KLzd");
        }
    }

    #[test]
    fn context_masks_the_secret() {
        let text = format!("export OPENAI_API_KEY={KEY}\n");
        let found = inspect(&scanner(), text.as_bytes(), "x", &scan_binary());
        let context = found.findings[0].context.clone().unwrap_or_default();
        assert_eq!(context, "export OPENAI_API_KEY=sk-u8jz…KLzd");
        assert_eq!(found.findings[0].location.column, 23);
        assert_eq!(found.findings[0].location.end_column, 23 + KEY.len());
    }
}
