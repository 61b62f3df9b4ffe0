//! Keys hidden in encoded text: base64 (Kubernetes secrets, `.npmrc`, Docker's `config.json`), percent-encoding
//! (URLs), and JSON or JavaScript escapes (`\u002d`, `\x2d`, `\/`).
//!
//! Only text near a hint is decoded, so the cost follows the hints, not the size of the file. The hints come from
//! the scanner's own keyword pass (no pass of their own): a rule keyword as it looks base64-encoded (keywords of
//! five bytes or more), or a key separator percent-encoded or escaped (`%2D`, `%5F`, `\u002d`, `\u005f`). A
//! window spans the run around a hint, as far as the longest key a rule can match. What a window decodes to is scanned like any content, and decoded
//! again, to a bounded depth. A key found this way is reported at the place of the encoded text, with how it
//! was found (`base64`, `percent`, `escape`, chained with `>`).

pub use crate::decoder::{Decoder, MIN_WRAPPED_LINE};
use crate::decoder::{after_line_break, is_base64_byte};
use crate::scan::Scanner;

/// A key found in decoded text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub rule: usize,
    pub secret: Vec<u8>,
    /// The encoded text's span in the content it was found in.
    pub start: usize,
    pub end: usize,
    /// How it was decoded: `base64`, `percent`, `escape`, or a chain such as `base64>percent`.
    pub chain: String,
}

/// How much decoded text one piece of content may produce in all, on top of its own size: a bound on the work
/// that a file full of hints can cause.
const BUDGET_BASE: usize = 1 << 20;

/// Every key in encoded text in `content`, `depth` decodings deep (0: none). `hints` are the signs of encoded
/// text that the scanner's pass over `content` met ([`Scanner::find_with_hints`]).
///
/// `anchored` are the context rules the content's path anchors ([`Scanner::path_anchors`]).
pub fn decoded_keys(
    scanner: &Scanner,
    content: &[u8],
    hints: Vec<(Decoder, usize)>,
    depth: u32,
    anchored: &[usize],
) -> Vec<Decoded> {
    let mut budget = content.len().saturating_mul(2).saturating_add(BUDGET_BASE);
    let mut found = Vec::new();
    let mut search = Search {
        scanner,
        anchored,
        budget: &mut budget,
    };
    search.collect(content, hints, depth, &mut found);
    found.sort_by(|a, b| (a.start, a.end, &a.chain, &a.secret).cmp(&(b.start, b.end, &b.chain, &b.secret)));
    found.dedup_by(|b, a| a.start == b.start && a.end == b.end && a.secret == b.secret && a.rule == b.rule);
    found
}

/// One decoding search: what every level of nesting shares.
struct Search<'a> {
    scanner: &'a Scanner,
    anchored: &'a [usize],
    /// Bytes that may still be decoded: decoding never costs more than a few times the content.
    budget: &'a mut usize,
}

impl Search<'_> {
    fn collect(&mut self, content: &[u8], hints: Vec<(Decoder, usize)>, depth: u32, out: &mut Vec<Decoded>) {
        if depth == 0 || content.is_empty() || hints.is_empty() {
            return;
        }
        let radius = self.scanner.longest_match() * 4 / 3 + 8;
        for (decoder, start, end) in windows(content, hints, radius) {
            // A base64 window may not start at a group boundary of the encoding: each of the four is tried.
            let shifts = if decoder == Decoder::Base64 { 0..4 } else { 0..1 };
            for shift in shifts {
                let from = start + shift;
                if from >= end || *self.budget == 0 {
                    continue;
                }
                let Some(decoded) = decoder.decode(&content[from..end]) else {
                    continue;
                };
                if !looks_like_text(&decoded) {
                    continue;
                }
                *self.budget = self.budget.saturating_sub(decoded.len());
                let (matches, inner_hints) = self.scanner.find_with_hints_anchored(&decoded, self.anchored);
                for m in matches {
                    out.push(Decoded {
                        rule: m.rule,
                        secret: decoded[m.start..m.end].to_vec(),
                        start: from,
                        end,
                        chain: decoder.name().to_string(),
                    });
                }
                let mut inner = Vec::new();
                self.collect(&decoded, inner_hints, depth - 1, &mut inner);
                out.extend(inner.into_iter().map(|d| Decoded {
                    start: from,
                    end,
                    chain: format!("{}>{}", decoder.name(), d.chain),
                    ..d
                }));
            }
        }
    }
}

/// The windows worth decoding: `(decoder, start, end)`, merged where they overlap. Each costs at most a few
/// times `radius` bytes of work, and a hint inside a window already taken adds nothing.
fn windows(content: &[u8], hints: Vec<(Decoder, usize)>, radius: usize) -> Vec<(Decoder, usize, usize)> {
    let mut windows: Vec<(Decoder, usize, usize)> = Vec::new();
    let mut covered = [0usize; 3];
    for (decoder, hint) in hints {
        let slot = decoder as usize;
        if hint < covered[slot] {
            continue;
        }
        let is_char = match decoder {
            Decoder::Base64 => is_base64_byte,
            Decoder::Percent => is_url_char,
            Decoder::Escape => is_escaped_char,
        };
        let (start, end) = if decoder == Decoder::Base64 {
            wrapped_run_around(content, hint, radius)
        } else {
            run_around(content, hint, is_char, radius)
        };
        // A sign in a short word is not a key; nor is a run without the long stretch of letters and digits that
        // every key's random part is. Either way the hints in the rest of this run need no second look.
        if end - start < MIN_RUN || (decoder != Decoder::Base64 && !has_alphanumeric_stretch(&content[start..end])) {
            covered[slot] = end;
            continue;
        }
        covered[slot] = end.saturating_sub(radius / 2).max(hint + 1);
        windows.push((decoder, start, end));
    }
    windows.sort();
    windows.dedup();
    windows
}

/// The shortest run worth decoding: shorter than any key.
const MIN_RUN: usize = 20;
/// Every key has a random part of at least this many letters and digits in a row (escapes and percent signs
/// only ever replace its separators).
const MIN_ALPHANUMERIC_STRETCH: usize = 16;

fn has_alphanumeric_stretch(run: &[u8]) -> bool {
    let mut stretch = 0;
    for &b in run {
        if b.is_ascii_alphanumeric() {
            stretch += 1;
            if stretch >= MIN_ALPHANUMERIC_STRETCH {
                return true;
            }
        } else {
            stretch = 0;
        }
    }
    false
}

/// The run of bytes satisfying `is_char` around `at`, at most `radius` bytes to either side.
fn run_around(content: &[u8], at: usize, is_char: fn(u8) -> bool, radius: usize) -> (usize, usize) {
    let at = at.min(content.len());
    let floor = at.saturating_sub(radius);
    let ceiling = at.saturating_add(radius).min(content.len());
    let start = content[floor..at]
        .iter()
        .rposition(|&b| !is_char(b))
        .map_or(floor, |i| floor + i + 1);
    let end = content[at..ceiling]
        .iter()
        .position(|&b| !is_char(b))
        .map_or(ceiling, |i| at + i);
    (start, end)
}

/// The run of base64 around `at`, at most `radius` bytes to either side, continued across line breaks where the
/// text is wrapped: line after line that holds nothing but base64 after its indentation, each but the last at
/// least [`MIN_WRAPPED_LINE`] characters and without `=` padding (which ends an encoding). A value on a line of
/// its own (`key: value`) is not continued. The run keeps the breaks; [`decode_base64`] drops them.
fn wrapped_run_around(content: &[u8], at: usize, radius: usize) -> (usize, usize) {
    let at = at.min(content.len());
    let floor = at.saturating_sub(radius);
    let ceiling = at.saturating_add(radius).min(content.len());
    let (start, end) = run_around(content, at, is_base64_byte, radius);
    if !is_whole_line(content, start, end) {
        return (start, end);
    }
    let continues =
        |line_start: usize, line_end: usize| line_end - line_start >= MIN_WRAPPED_LINE && content[line_end - 1] != b'=';
    // Forward, while the line goes on to a next line of base64.
    let (mut line_start, mut last_end) = (start, end);
    while last_end < ceiling && continues(line_start, last_end) {
        let Some(next) = after_line_break(content, last_end).filter(|&next| next < ceiling) else {
            break;
        };
        let next_end = run_around(content, next, is_base64_byte, ceiling - next).1;
        if next_end == next || !is_whole_line(content, next, next_end) {
            break;
        }
        (line_start, last_end) = (next, next_end);
    }
    // Backward, while the line before is a full line of base64.
    let mut first = start;
    while first > floor {
        let Some(previous_end) = before_line_break(content, first).filter(|&e| e > floor) else {
            break;
        };
        let previous_start = run_around(content, previous_end - 1, is_base64_byte, previous_end - 1 - floor).0;
        if !is_whole_line(content, previous_start, previous_end) || !continues(previous_start, previous_end) {
            break;
        }
        first = previous_start;
    }
    (first, last_end)
}

/// Is `start..end` all of its line but the indentation?
fn is_whole_line(content: &[u8], start: usize, end: usize) -> bool {
    let indent = content[..start]
        .iter()
        .rev()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    let starts_line = start == indent || content[start - indent - 1] == b'\n';
    let ends_line = matches!(content.get(end..), Some([] | [b'\n', ..] | [b'\r', b'\n', ..]));
    starts_line && ends_line
}

/// The end of the previous line's base64, when `start` begins a line after its indentation and a line break.
fn before_line_break(content: &[u8], start: usize) -> Option<usize> {
    let indent = content[..start]
        .iter()
        .rev()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    let at = start - indent;
    let before = content[..at].strip_suffix(b"\n")?;
    let before = before.strip_suffix(b"\r").unwrap_or(before);
    (!before.is_empty() && is_base64_byte(before[before.len() - 1])).then_some(before.len())
}

fn is_url_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'%' | b'-' | b'_' | b'.' | b'~' | b'+')
}

fn is_escaped_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'\\' | b'-' | b'_' | b'/' | b'.')
}

/// Is decoded text worth scanning: nearly all printable ASCII or whitespace (random bytes from a window that
/// was not really base64 are not)?
fn looks_like_text(bytes: &[u8]) -> bool {
    let printable = bytes
        .iter()
        .filter(|&&b| b.is_ascii_graphic() || matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .count();
    printable * 10 >= bytes.len() * 9
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::*;
    use crate::rules::RuleSet;
    use crate::scan::PlaceholderFilter;

    const KEY: &str = "sk-proj-e7njtS5pFbUcguGv1dHS84ExMaIWYiHaFUX1m1s97mCfvhcH";

    fn scanner() -> Scanner {
        Scanner::new(RuleSet::builtin().expect("rules"), PlaceholderFilter::default()).expect("scanner")
    }

    fn found(text: &str, depth: u32) -> Vec<(String, String)> {
        let s = scanner();
        let (_, hints) = s.find_with_hints(text.as_bytes());
        decoded_keys(&s, text.as_bytes(), hints, depth, &[])
            .into_iter()
            .map(|d| (String::from_utf8_lossy(&d.secret).into_owned(), d.chain))
            .collect()
    }

    #[test]
    fn base64_in_either_alphabet_at_any_alignment_is_decoded() {
        for prefix in ["", "K=", "OPENAI_API_KEY="] {
            let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{prefix}{KEY}\n"));
            let text = format!("data:\n  key: {encoded}\n");
            assert_eq!(found(&text, 1), vec![(KEY.to_string(), "base64".to_string())], "{text}");
            let url_safe = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{prefix}{KEY}"));
            assert_eq!(found(&url_safe, 1).len(), 1, "{url_safe}");
        }
    }

    #[test]
    fn nested_encodings_are_decoded_to_the_depth_asked() {
        // A base64-encoded settings line whose URL holds the key percent-encoded.
        let settings = format!("provider=sk-proj-demo url=https://h/v1?k={}", KEY.replace('-', "%2D"));
        let encoded = base64::engine::general_purpose::STANDARD.encode(&settings);
        assert!(found(&encoded, 1).is_empty(), "one layer is not enough");
        assert_eq!(
            found(&encoded, 2),
            vec![(KEY.to_string(), "base64>percent".to_string())]
        );
    }

    #[test]
    fn percent_and_escaped_keys_are_decoded() {
        let percent = KEY.replace('-', "%2D");
        assert_eq!(
            found(&format!("https://x/?k={percent}&a=1"), 1),
            vec![(KEY.to_string(), "percent".to_string())]
        );
        let escaped = KEY.replace('-', "\\u002d");
        assert_eq!(
            found(&format!("{{\"k\":\"{escaped}\"}}"), 1),
            vec![(KEY.to_string(), "escape".to_string())]
        );
        let underscored = "hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh".replace('_', "%5F");
        assert_eq!(found(&format!("?token={underscored}"), 1).len(), 1);
    }

    #[test]
    fn hex_escaped_separators_are_decoded() {
        let escaped = KEY.replace('-', "\\x2d");
        assert_eq!(
            found(&format!("const k = \"{escaped}\";"), 1),
            vec![(KEY.to_string(), "escape".to_string())]
        );
    }

    #[test]
    fn an_escaped_key_is_decoded_whatever_other_escapes_follow_it() {
        // Hints of one decoder can come from more than one pass over the bytes; one met later in the text must
        // not hide one met earlier.
        let escaped = KEY.replace('-', "\\x2d");
        for later in ["\\u002d", "\\u005f", "%2D", "\\x2d"] {
            let text = format!(
                "const k = \"{escaped}\";\n// {}\nconst sep = \"{later}\";\n",
                "x".repeat(300)
            );
            assert_eq!(
                found(&text, 1),
                vec![(KEY.to_string(), "escape".to_string())],
                "{later}"
            );
        }
    }

    #[test]
    fn wrapped_base64_is_decoded_across_its_line_breaks() {
        let settings = format!("# settings\nservice=billing\nregion=eu-west-1\nOPENAI_API_KEY={KEY}\nretries=3\n");
        let encoded = base64::engine::general_purpose::STANDARD.encode(&settings);
        let lines = |width: usize| -> Vec<String> {
            encoded
                .as_bytes()
                .chunks(width)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect()
        };
        let wrapped = [
            lines(76).join("\n"),
            lines(64).join("\r\n"),
            format!("data:\n  env: >-\n    {}\n", lines(60).join("\n    ")),
        ];
        for text in wrapped {
            assert_eq!(found(&text, 1), vec![(KEY.to_string(), "base64".to_string())], "{text}");
        }
    }

    #[test]
    fn plain_text_costs_no_decoding() {
        assert!(found("just some text with 100% of nothing and a \\n newline", 3).is_empty());
        assert!(
            found(KEY, 3).is_empty(),
            "a raw key is the raw scan's, not a decoded one"
        );
    }
}

#[cfg(test)]
mod every_provider {
    use base64::Engine as _;

    use super::decoded_keys;
    use crate::rules::RuleSet;
    use crate::scan::{PlaceholderFilter, Scanner};

    /// Every built-in key rule's examples, base64-encoded alone (a Kubernetes Secret's value) and after a
    /// variable name of each length modulo 3 (so at each alignment of the encoding), are found decoded. Keys of
    /// three-byte prefixes (`hf_`, `r8_`) decide whole base64 characters at one alignment only.
    #[test]
    fn base64_encoded_keys_of_every_provider_are_found() {
        let rules = RuleSet::builtin().expect("rules");
        let scanner = Scanner::new(rules.clone(), PlaceholderFilter::default()).expect("scanner");
        let mut missed = Vec::new();
        for rule in rules.rules().iter().filter(|r| r.context.is_none()) {
            let short = rule.keywords.iter().all(|k| k.len() < 4);
            for example in &rule.examples {
                let prefixes: &[&str] = if short { &[""] } else { &["", "K=", "KEY="] };
                for prefix in prefixes {
                    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{prefix}{example}\n"));
                    let text = format!("data:\n  token: {encoded}\n");
                    let (_, hints) = scanner.find_with_hints(text.as_bytes());
                    let found = decoded_keys(&scanner, text.as_bytes(), hints, 1, &[]);
                    if !found.iter().any(|d| d.secret == example.as_bytes()) {
                        missed.push(format!("{} {prefix:?}", rule.id));
                    }
                }
            }
        }
        assert!(missed.is_empty(), "not found base64-encoded: {missed:?}");
    }

    /// The keywords, the base64 hints and the context words are looked for only around long runs of key or
    /// base64 bytes (`scan::runs`): on text made of every rule's examples, in the clear, cut short, glued to
    /// other key bytes, after a URL escape, with escaped separators, near context words and base64-encoded
    /// (either alphabet, any alignment, wrapped at any width with a short last line), among keywords alone,
    /// long identifiers, hashes, prose and stray bytes, that finds what looking everywhere finds.
    mod around_long_runs {
        use super::super::decoded_keys;
        use crate::rules::RuleSet;
        use crate::scan::{PlaceholderFilter, Scanner};
        use base64::Engine as _;
        use proptest::prelude::*;
        use std::sync::OnceLock;

        fn scanners() -> &'static (Scanner, Scanner) {
            static SCANNERS: OnceLock<(Scanner, Scanner)> = OnceLock::new();
            SCANNERS.get_or_init(|| {
                let rules = RuleSet::builtin().expect("rules");
                let build = || Scanner::new(rules.clone(), PlaceholderFilter::default()).expect("scanner");
                (build(), build().looking_everywhere())
            })
        }

        fn keys() -> Vec<String> {
            let rules = RuleSet::builtin().expect("rules");
            rules
                .rules()
                .iter()
                .flat_map(|r| r.examples.iter().chain(&r.medium_examples))
                .cloned()
                .collect()
        }

        /// The keywords of the context rules (context words), or of the others (keywords of keys).
        fn keywords(of_context_rules: bool) -> Vec<String> {
            let rules = RuleSet::builtin().expect("rules");
            rules
                .rules()
                .iter()
                .filter(|r| r.context.is_some() == of_context_rules)
                .flat_map(|r| r.keywords.iter().cloned())
                .collect()
        }

        /// A key with its separators escaped as the escape hints know them (and some they do not).
        fn escaped(key: &str, how: usize) -> String {
            let (dash, underscore) = [
                ("%2D", "%5F"),
                ("\\u002d", "\\u005f"),
                ("\\x2d", "_"),
                ("%2d", "%5f"),
                ("\\u002D", "\\x5f"),
            ][how % 5];
            key.replace('-', dash).replace('_', underscore)
        }

        fn encoded(text: &str, url_safe: bool, width: usize, indent: usize) -> String {
            let engine = if url_safe {
                &base64::engine::general_purpose::URL_SAFE
            } else {
                &base64::engine::general_purpose::STANDARD
            };
            let plain = engine.encode(text);
            if width == 0 {
                return plain;
            }
            let lines: Vec<String> = plain
                .as_bytes()
                .chunks(width)
                .map(|line| format!("{}{}", " ".repeat(indent), String::from_utf8_lossy(line)))
                .collect();
            lines.join("\n")
        }

        fn piece() -> impl Strategy<Value = String> {
            let keys = keys();
            let words = keywords(true);
            let keywords = keywords(false);
            prop_oneof![
                prop::sample::select(keywords.clone()),
                (prop::sample::select(keywords), "[A-Za-z0-9_-]{0,60}")
                    .prop_map(|(keyword, tail)| format!("{keyword}{tail}")),
                (prop::sample::select(keys.clone()), any::<prop::sample::Index>())
                    .prop_map(|(key, cut)| key[..cut.index(key.len() + 1)].to_string()),
                (
                    "[A-Za-z0-9_-]{1,12}|%[0-9A-Fa-f]{2}|%",
                    prop::sample::select(keys.clone())
                )
                    .prop_map(|(before, key)| format!("{before}{key}")),
                (prop::sample::select(keys.clone()), "[A-Za-z0-9_-]{1,12}")
                    .prop_map(|(key, after)| format!("{key}{after}")),
                (prop::sample::select(keys.clone()), 0usize..5).prop_map(|(key, how)| escaped(&key, how)),
                prop::sample::select(keys.clone()),
                prop::sample::select(words.clone()),
                (
                    prop::sample::select(words),
                    prop::sample::select(keys.clone()),
                    0usize..260
                )
                    .prop_map(|(word, key, gap)| format!("{word}{}{key}", " ".repeat(gap))),
                (
                    prop::sample::select(keys),
                    "[A-Za-z_ =\n]{0,120}",
                    any::<bool>(),
                    prop_oneof![Just(0usize), 20usize..90],
                    0usize..4
                )
                    .prop_map(|(key, prefix, url_safe, width, indent)| encoded(
                        &format!("{prefix}{key}\n"),
                        url_safe,
                        width,
                        indent
                    )),
                "[a-z_]{1,12}(_[a-z]{2,10}){0,6}",
                "( [a-z]{1,9}[.,]?){5,40}\n?",
                "[0-9a-f]{20,70}",
                "[A-Za-z0-9+/]{10,80}={0,2}",
                "[ \n\t.,:;=\"'(){}-]{1,6}",
                proptest::collection::vec(any::<u8>(), 0..8)
                    .prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
            ]
        }

        /// A key whose only hint (the OpenAI marker, after a prefix too short to be one) is encoded on the
        /// short last line of a wrapped encoding: it is looked for from the full line before it.
        #[test]
        fn a_hint_on_the_short_last_line_of_a_wrapped_encoding_is_found() {
            let (around, everywhere) = scanners();
            let key = "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";
            let mut tried = 0;
            for filler in 0..300 {
                let plain = format!("{}={key}", "x".repeat(filler));
                let text = format!("data: |\n{}\n", encoded(&plain, false, 44, 2));
                let last_line_start = text.trim_end().rfind('\n').map_or(0, |i| i + 1);
                let (_, all_hints) = everywhere.find_with_hints(text.as_bytes());
                let base64_hints: Vec<usize> = all_hints
                    .iter()
                    .filter(|(decoder, _)| *decoder == super::super::Decoder::Base64)
                    .map(|&(_, at)| at)
                    .collect();
                let expected = decoded_keys(everywhere, text.as_bytes(), all_hints, 1, &[]);
                let last_line = text.trim_end()[last_line_start..].trim_start();
                if last_line.len() >= 40
                    || base64_hints.is_empty()
                    || base64_hints.iter().any(|&at| at < last_line_start)
                    || !expected.iter().any(|d| d.secret == key.as_bytes())
                {
                    continue;
                }
                tried += 1;
                let (_, hints) = around.find_with_hints(text.as_bytes());
                assert_eq!(decoded_keys(around, text.as_bytes(), hints, 1, &[]), expected, "{text}");
            }
            assert!(tried > 0, "no filler put the only hint on a short last line");
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(400))]
            #[test]
            fn finds_what_looking_everywhere_finds(pieces in proptest::collection::vec(piece(), 0..24)) {
                let text = pieces.concat();
                let (around, everywhere) = scanners();
                let (found, hints) = around.find_with_hints(text.as_bytes());
                let (expected, all_hints) = everywhere.find_with_hints(text.as_bytes());
                prop_assert_eq!(&found, &expected, "in the clear, in {:?}", text);
                let decoded = decoded_keys(around, text.as_bytes(), hints, 2, &[]);
                let expected_decoded = decoded_keys(everywhere, text.as_bytes(), all_hints, 2, &[]);
                prop_assert_eq!(decoded, expected_decoded, "decoded, in {:?}", text);
                prop_assert_eq!(
                    around.find_key_shaped(text.as_bytes()),
                    everywhere.find_key_shaped(text.as_bytes()),
                    "key-shaped, in {:?}", text
                );
            }
        }
    }

    /// A Kubernetes `dockerconfigjson` Secret: the registry config in base64, whose `auth` is `user:key` in
    /// base64 again.
    #[test]
    fn a_key_encoded_twice_in_a_docker_registry_config_is_found() {
        let key = "sk-proj-e7njtS5pFbUcguGv1dHS84ExMaIWYiHaFUX1m1s97mCfvhcH";
        let b64 = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
        let auth = b64(&format!("ci-bot:{key}"));
        for config in [
            format!(r#"{{"auths":{{"ghcr.io":{{"auth":"{auth}"}}}}}}"#),
            format!(
                "{{\n\t\"auths\": {{\n\t\t\"registry.example.com:5000\": {{\n\t\t\t\"auth\": \"{auth}\"\n\t\t}}\n\t}}\n}}"
            ),
        ] {
            let text = format!(
                "kind: Secret\ntype: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: {}\n",
                b64(&config)
            );
            let scanner =
                Scanner::new(RuleSet::builtin().expect("rules"), PlaceholderFilter::default()).expect("scanner");
            let (_, hints) = scanner.find_with_hints(text.as_bytes());
            let found = decoded_keys(&scanner, text.as_bytes(), hints, 3, &[]);
            assert!(
                found
                    .iter()
                    .any(|d| d.secret == key.as_bytes() && d.chain == "base64>base64"),
                "{config}: {found:?}"
            );
        }
    }
}
