//! Untrusted text: the one way from outside strings to any output.
//!
//! File names, author names and e-mails, commit and tag messages, rule names and kinds from user rule files, and
//! anything a server sends back come from outside: a hostile pull request or proxy chooses them. Every printer
//! (the reports, stderr messages, the revocation plan, the audit log) shows such text only through the
//! functions here:
//!
//! - key-shaped substrings are redacted (unless the user asked for `--show-secrets`); the admin key and other
//!   [`protect`]ed secrets are redacted always, and every credential keyhound sent ([`protect_sent`]) whenever
//!   keys are redacted: whole, and any fragment of [`FRAGMENT`] or more characters of one (a server may echo
//!   the `Authorization` header split at the space, or cut into pieces);
//! - on a terminal or in a message, control characters (C0, DEL, C1) and bidirectional-text controls are escaped
//!   visibly (`\x1b`, `\u{202e}`), so text cannot move the cursor, set the window title or forge a line;
//! - in JSON, serde escapes C0 itself and [`escape_json_extras`] escapes what it leaves raw;
//! - excerpts of input in error messages are short, and long runs of key characters in them are cut.
//!
//! "Key-shaped" means any match of a rule in force, without the boundary, entropy and placeholder checks a
//! finding must pass: showing too little is safe, showing a key is not.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt::Write as _;
use std::ops::Range;
use std::sync::{Arc, OnceLock, RwLock};

use crate::finding::{Secret, redact};

/// What says which text is key-shaped. `text` sits below the rules and the matcher, so it holds no scanner of its
/// own: a higher layer hands one in ([`use_key_finder`], [`use_builtin_key_finder`]); `crate::scan` implements
/// it for its `Scanner`.
pub trait KeyFinder: Send + Sync {
    /// Every key-shaped byte span of `text`, sorted by position, each with the index of the rule that found it:
    /// rule matches without the boundary, entropy and placeholder checks a finding must pass.
    fn key_shaped(&self, text: &[u8]) -> Vec<KeySpan>;
    /// How many leading characters of `key`, found by rule `rule`, are its provider's known prefix (shown whole
    /// in the redacted form).
    fn known_prefix_len(&self, rule: usize, key: &str) -> usize;
}

/// A key-shaped span found by a [`KeyFinder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpan {
    pub range: Range<usize>,
    /// The finder's index of the rule that matched.
    pub rule: usize,
}

/// Builds the finder of the built-in rules, used until (or unless) the run's own is installed.
pub type BuiltinKeyFinder = fn() -> Option<Arc<dyn KeyFinder>>;

/// The finder whose rules say what is key-shaped: the run's rules once [`use_key_finder`] is called, else the
/// built-in rules (built on first use by the builder given to [`use_builtin_key_finder`]).
static FINDER: OnceLock<Arc<dyn KeyFinder>> = OnceLock::new();
/// How to build the finder of the built-in rules; installed by the command layer at start.
static BUILTIN_FINDER: OnceLock<BuiltinKeyFinder> = OnceLock::new();
/// Secrets redacted whole and in fragments: see [`protect`] and [`protect_sent`].
static PROTECTED: RwLock<Protected> = RwLock::new(Protected {
    secrets: Vec::new(),
    always_windows: None,
    sent_windows: None,
});

/// A run of this many characters (bytes) of a protected secret is a fragment of it, redacted wherever it
/// appears. Shorter runs are left alone: they occur by chance (every OpenAI key holds `T3BlbkFJ`).
pub const FRAGMENT: usize = 12;

/// What is shown instead of a fragment of a protected secret.
const FRAGMENT_SHOWN: &str = "[redacted]";

/// One protected secret.
struct Secretive {
    raw: String,
    redacted: String,
    /// Redacted even with `--show-secrets` (the admin key); otherwise only where keys are redacted.
    always: bool,
}

/// The protected secrets, and the [`FRAGMENT`]-byte windows of each (of the `always` ones, and of all).
struct Protected {
    secrets: Vec<Secretive>,
    always_windows: Option<HashSet<[u8; FRAGMENT]>>,
    sent_windows: Option<HashSet<[u8; FRAGMENT]>>,
}

impl Protected {
    fn add(&mut self, raw: &str, always: bool) {
        if raw.is_empty() {
            return;
        }
        match self.secrets.iter_mut().find(|s| s.raw == raw) {
            Some(known) if known.always || !always => return,
            Some(known) => known.always = true,
            None => self.secrets.push(Secretive {
                raw: raw.to_string(),
                redacted: redact(raw, 0),
                always,
            }),
        }
        for (set, wanted) in [(&mut self.always_windows, always), (&mut self.sent_windows, true)] {
            if wanted {
                set.get_or_insert_with(HashSet::new).extend(windows(raw));
            }
        }
    }

    fn windows(&self, show_secrets: bool) -> Option<&HashSet<[u8; FRAGMENT]>> {
        if show_secrets {
            self.always_windows.as_ref()
        } else {
            self.sent_windows.as_ref()
        }
    }
}

/// Every [`FRAGMENT`]-byte window of `raw` that starts after its family prefix (`sk-admin-`, `sk-proj-`): a
/// window there would hold only a few random characters, and match another key of the family by chance.
fn windows(raw: &str) -> impl Iterator<Item = [u8; FRAGMENT]> + '_ {
    raw.as_bytes()[family_prefix(raw)..]
        .windows(FRAGMENT)
        .filter_map(|w| <[u8; FRAGMENT]>::try_from(w).ok())
}

/// The length of `raw`'s leading lower-case words, each of 2 to 8 letters followed by `-` or `_` (`sk-admin-`:
/// 9), at most 16 bytes.
fn family_prefix(raw: &str) -> usize {
    let bytes = raw.as_bytes();
    let mut end = 0;
    loop {
        let rest = &bytes[end..];
        let word = rest.iter().take_while(|b| b.is_ascii_lowercase()).count();
        let next = end + word + 1;
        if !(2..=8).contains(&word) || !matches!(rest.get(word), Some(b'-' | b'_')) || next > 16 {
            return end;
        }
        end = next;
    }
}

/// The longest message printed on stderr, in characters; longer ones are cut with `…`.
pub const MAX_MESSAGE_CHARS: usize = 2000;
/// The longest excerpt of input quoted in an error message, in characters.
pub const MAX_EXCERPT_CHARS: usize = 40;
/// In an excerpt, a run of key characters longer than this is cut to its first four characters and `…`.
const MAX_EXCERPT_RUN: usize = 12;

/// Makes the run's rules (built-in and user rules) the ones that decide what is key-shaped. The first call wins;
/// later ones are ignored (one process runs one command).
pub fn use_key_finder(finder: Arc<dyn KeyFinder>) {
    let _ = FINDER.set(finder);
}

/// Says how to build the finder of the built-in rules, the one used when no run's finder is installed (before
/// the rules are loaded, and in commands that load none). The first call wins.
pub fn use_builtin_key_finder(build: BuiltinKeyFinder) {
    let _ = BUILTIN_FINDER.set(build);
}

fn finder() -> Option<&'static dyn KeyFinder> {
    thread_local! {
        /// Set while this thread builds the built-in finder, so that text shown meanwhile does not recurse.
        static BUILDING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    if let Some(finder) = FINDER.get() {
        return Some(finder.as_ref());
    }
    let build = BUILTIN_FINDER.get().copied().or(test_support::BUILTIN)?;
    if BUILDING.with(|b| b.replace(true)) {
        return None;
    }
    let builtin = build();
    BUILDING.with(|b| b.set(false));
    let builtin = builtin?;
    Some(FINDER.get_or_init(|| builtin).as_ref())
}

/// Unit tests run without the command layer that installs the built-in finder: they get it from here.
#[cfg(test)]
mod test_support {
    pub const BUILTIN: Option<super::BuiltinKeyFinder> = Some(crate::scan::builtin_key_finder);
}

#[cfg(not(test))]
mod test_support {
    pub const BUILTIN: Option<super::BuiltinKeyFinder> = None;
}

/// Makes `secret` (the admin key) redacted in every output, even with `--show-secrets` and whatever its shape:
/// whole, and every fragment of [`FRAGMENT`] or more characters of it.
pub fn protect(secret: &Secret) {
    PROTECTED
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .add(secret.expose(), true);
}

/// Makes a credential keyhound sends (in an `Authorization` header) redacted, whole and in fragments, wherever
/// keys are redacted: a server may echo it back split or in pieces, which no rule would recognise.
pub fn protect_sent(secret: &Secret) {
    PROTECTED
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .add(secret.expose(), false);
}

/// Replaces every key-shaped substring of `text` with its redacted form (`sk-proj-AbCd…wXyZ`), and every
/// protected secret with its own.
pub fn redact_keys(text: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(text);
    if let Some(finder) = finder() {
        let matches = finder.key_shaped(text.as_bytes());
        if !matches.is_empty() {
            let mut redacted = String::with_capacity(text.len());
            let mut pos = 0;
            for m in matches {
                // Matches are byte spans of UTF-8 text; a span that does not fall on character boundaries
                // (a rule matching part of a multi-byte character) is widened to the characters it touches.
                let start = floor_char_boundary(text, m.range.start).max(pos);
                let end = ceil_char_boundary(text, m.range.end);
                if start >= end {
                    continue;
                }
                redacted.push_str(&text[pos..start]);
                let key = &text[start..end];
                redacted.push_str(&redact(key, finder.known_prefix_len(m.rule, key)));
                pos = end;
            }
            redacted.push_str(&text[pos..]);
            out = Cow::Owned(redacted);
        }
    }
    protect_known(out, false)
}

/// Replaces protected secrets (which may have no key shape at all), whole and in fragments: with
/// `show_secrets`, only those protected [`protect`]ed always.
fn protect_known(text: Cow<'_, str>, show_secrets: bool) -> Cow<'_, str> {
    let protected = PROTECTED.read().unwrap_or_else(|p| p.into_inner());
    let shown = |s: &&Secretive| s.always || !show_secrets;
    let mut text = text;
    if protected
        .secrets
        .iter()
        .filter(shown)
        .any(|s| text.contains(s.raw.as_str()))
    {
        let mut owned = text.into_owned();
        for secret in protected.secrets.iter().filter(shown) {
            owned = owned.replace(secret.raw.as_str(), &secret.redacted);
        }
        text = Cow::Owned(owned);
    }
    let Some(windows) = protected.windows(show_secrets) else {
        return text;
    };
    let spans: Vec<Range<usize>> = fragment_spans(&text, windows)
        .into_iter()
        .filter(|span| !is_shown_head(&text, span, &protected.secrets))
        .collect();
    if spans.is_empty() {
        return text;
    }
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    for span in spans {
        out.push_str(&text[pos..span.start]);
        out.push_str(FRAGMENT_SHOWN);
        pos = span.end;
    }
    out.push_str(&text[pos..]);
    Cow::Owned(out)
}

/// The byte spans of `text` made of runs of at least [`FRAGMENT`] bytes that also occur in a protected secret
/// (every window of the run is one of `windows`), widened to character boundaries and merged.
fn fragment_spans(text: &str, windows: &HashSet<[u8; FRAGMENT]>) -> Vec<Range<usize>> {
    let mut spans: Vec<Range<usize>> = Vec::new();
    for (start, window) in text.as_bytes().windows(FRAGMENT).enumerate() {
        let Ok(window) = <[u8; FRAGMENT]>::try_from(window) else {
            continue;
        };
        if !windows.contains(&window) {
            continue;
        }
        let (start, end) = (
            floor_char_boundary(text, start),
            ceil_char_boundary(text, start + FRAGMENT),
        );
        match spans.last_mut() {
            Some(last) if last.end >= start => last.end = last.end.max(end),
            _ => spans.push(start..end),
        }
    }
    spans
}

/// Is `span` of `text` the shown head of a redacted form (`sk-admin-feOO…`): a start of a protected secret, at
/// most a third of it (all [`redact`] ever shows), followed by `…`?
fn is_shown_head(text: &str, span: &Range<usize>, secrets: &[Secretive]) -> bool {
    let head = &text[span.clone()];
    text[span.end..].starts_with('…')
        && secrets
            .iter()
            .any(|s| s.raw.starts_with(head) && head.chars().count() <= s.raw.chars().count() / 3)
}

/// Is `c` a character that must not reach a terminal raw: C0, DEL, C1, or a bidirectional-text control
/// (which can make a line read differently from what it holds)?
pub fn is_dangerous_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Escapes control and bidirectional characters visibly: `\n`, `\r`, `\t`, `\x1b`, `\x7f`, `\u{9b}`, `\u{202e}`.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_dangerous_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_dangerous_char(c) && (c as u32) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if is_dangerous_char(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Outside text for a terminal report: keys redacted unless `show_secrets` (protected secrets always), control
/// characters escaped.
pub fn for_terminal(text: &str, show_secrets: bool) -> String {
    let shown = if show_secrets {
        protect_known(Cow::Borrowed(text), true)
    } else {
        redact_keys(text)
    };
    escape_controls(&shown).into_owned()
}

/// Outside text for a JSON or SARIF report: keys redacted unless `show_secrets` (protected secrets always).
/// Control characters are left to JSON's escaping (see [`escape_json_extras`]).
pub fn for_report(text: &str, show_secrets: bool) -> String {
    if show_secrets {
        protect_known(Cow::Borrowed(text), true).into_owned()
    } else {
        redact_keys(text).into_owned()
    }
}

/// A message for stderr (warnings, errors, notes) or for the revocation plan: keys redacted, control characters
/// escaped, at most [`MAX_MESSAGE_CHARS`] characters.
pub fn for_message(text: &str) -> String {
    let shown = escape_controls(&redact_keys(text)).into_owned();
    truncate_chars(&shown, MAX_MESSAGE_CHARS)
}

/// A short excerpt of input for an error message: at most [`MAX_EXCERPT_CHARS`] characters from `text`, long
/// runs of key characters cut (a partial key is not a key to the redactor, so it is cut instead), control
/// characters escaped.
pub fn excerpt(text: &str) -> String {
    let cut = truncate_chars(text, MAX_EXCERPT_CHARS);
    let mut out = String::with_capacity(cut.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.chars().count() > MAX_EXCERPT_RUN {
            out.extend(run.chars().take(4));
            out.push('…');
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in cut.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    escape_controls(&out).into_owned()
}

/// Escapes, in serialised JSON, the characters JSON allows raw but a terminal would act on: DEL, C1 and the
/// bidirectional-text controls. They can only occur inside strings, where `\uXXXX` means the same character.
pub fn escape_json_extras(json: &str) -> Cow<'_, str> {
    // C0 characters are escaped by JSON itself inside strings; outside them they are the layout's newlines.
    let extra = |c: char| is_dangerous_char(c) && c >= ' ';
    if !json.chars().any(extra) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if extra(c) {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Outside text cut to at most `max` characters for a message, keys redacted first (cutting first could leave
/// part of a key that the redactor no longer recognises).
pub fn bounded(text: &str, max: usize) -> String {
    truncate_chars(&redact_keys(text), max)
}

/// `text` cut to `max` characters, with `…` when something was cut.
pub fn truncate_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    index = index.min(text.len());
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

fn ceil_char_boundary(text: &str, mut index: usize) -> usize {
    index = index.min(text.len());
    while !text.is_char_boundary(index) {
        index += 1;
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEGACY: &str = "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";

    #[test]
    fn keys_are_redacted_even_inside_longer_runs() {
        assert_eq!(
            redact_keys(&format!("old key was {LEGACY}")),
            "old key was sk-u8jz…KLzd"
        );
        let text = format!("task{LEGACY}x");
        let inside = redact_keys(&text);
        assert!(!inside.contains("T3BlbkFJ"), "{inside}");
        assert_eq!(redact_keys("nothing here"), "nothing here");
    }

    #[test]
    fn show_secrets_shows_keys_but_never_protected_ones() {
        let admin = Secret::new("not-key-shaped-admin-secret-value-0123");
        protect(&admin);
        let text = format!("{LEGACY} {}", admin.expose());
        let shown = for_report(&text, true);
        assert!(shown.contains(LEGACY));
        assert!(!shown.contains(admin.expose()), "{shown}");
        assert!(!for_report(&text, false).contains(LEGACY));
    }

    #[test]
    fn fragments_of_a_protected_secret_are_redacted_but_its_redacted_forms_are_kept() {
        let admin = Secret::new("sk-admin-Zq8fKw2LmN4pR7tV9xB1cD3eF5gH6jK8mN0pQ2rS4tU6vW8xY0zA2bC4dE6fG8hJ0kL");
        protect(&admin);
        let raw = admin.expose();
        let echoed = format!(
            "auth was: Bearer | {} | {} and {}",
            &raw[..30],
            &raw[30..60],
            &raw[60..]
        );
        let shown = for_message(&echoed);
        for window in raw.as_bytes().windows(FRAGMENT) {
            let window = std::str::from_utf8(window).unwrap_or_default();
            assert!(!shown.contains(window), "{window} in {shown}");
        }
        assert!(
            shown.contains("auth was: Bearer | sk-admin-[redacted] | [redacted] and [redacted]"),
            "{shown}"
        );
        // Its own redacted form, and the redacted form a rule gives it, stay as they are.
        let whole = for_report(&format!("key {raw} and {}", admin.redacted(9)), true);
        assert_eq!(whole, format!("key {} and {}", redact(raw, 0), admin.redacted(9)));
        // Short runs shared by chance, and the family prefix, are not fragments.
        assert_eq!(for_message("sk-admin-Zq8 T3BlbkFJ"), "sk-admin-Zq8 T3BlbkFJ");
        assert_eq!(family_prefix(raw), 9);
        assert_eq!(family_prefix("sk-proj-abc"), 8);
        assert_eq!(family_prefix("sk-None-abc"), 3);
        assert_eq!(family_prefix("opaque"), 0);
    }

    #[test]
    fn fragments_of_a_sent_key_are_redacted_unless_secrets_are_shown() {
        let sent = Secret::new("Opaque0Token1Without2Any3Key4Shape5-0123456789abcdef");
        protect_sent(&sent);
        let piece = &sent.expose()[7..40];
        assert_eq!(for_message(&format!("echo {piece}")), "echo [redacted]");
        assert_eq!(
            for_report(piece, true),
            piece,
            "--show-secrets shows the user's own keys"
        );
    }

    #[test]
    fn controls_are_escaped_visibly() {
        assert_eq!(escape_controls("e\u{1b}]0;pwned\u{7}.env"), "e\\x1b]0;pwned\\x07.env");
        assert_eq!(escape_controls("a\nb\r\tc\u{7f}"), "a\\nb\\r\\tc\\x7f");
        assert_eq!(escape_controls("\u{9b}2J \u{202e}txt"), "\\u{9b}2J \\u{202e}txt");
        assert_eq!(escape_controls("plain é"), "plain é");
    }

    #[test]
    fn json_extras_are_escaped_as_json() {
        let json = serde_json::to_string("a\u{1b}b\u{7f}c\u{9b}d\u{202e}").expect("json");
        let escaped = escape_json_extras(&json);
        assert!(!escaped.chars().any(is_dangerous_char), "{escaped}");
        let back: String = serde_json::from_str(&escaped).expect("still JSON");
        assert_eq!(back, "a\u{1b}b\u{7f}c\u{9b}d\u{202e}");
    }

    #[test]
    fn excerpts_are_short_and_cut_key_runs() {
        let text = format!("rules = [\"{LEGACY}\"] and much more text after it");
        let shown = excerpt(&text);
        assert!(shown.chars().count() <= MAX_EXCERPT_CHARS + 2, "{shown}");
        assert!(!shown.contains("u8jzPde0"), "{shown}");
        assert_eq!(excerpt("a = 1\n"), "a = 1\\n");
    }

    #[test]
    fn messages_are_bounded() {
        let long = "x ".repeat(MAX_MESSAGE_CHARS);
        assert_eq!(for_message(&long).chars().count(), MAX_MESSAGE_CHARS + 1);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn no_output_of_outside_text_holds_a_key_or_a_control_character(
                before in "\\PC{0,40}|[\\x00-\\x1f\\x7f\\u{80}-\\u{9f}\\u{202a}-\\u{202e}]{0,8}",
                after in "\\PC{0,40}|[\\x00-\\x1f\\x7f\\u{80}-\\u{9f}]{0,8}",
                random in "[A-Za-z0-9]{40}",
            ) {
                let key = format!("sk-{}T3BlbkFJ{}", &random[..20], &random[20..]);
                let text = format!("{before}{key}{after}");
                for shown in [for_terminal(&text, false), for_message(&text)] {
                    prop_assert!(!shown.contains(&key), "{}", shown);
                    prop_assert!(!shown.chars().any(is_dangerous_char), "{}", shown);
                }
                let report = for_report(&text, false);
                prop_assert!(!report.contains(&key));
                let json = serde_json::to_string(&report).unwrap_or_default();
                prop_assert!(!escape_json_extras(&json).chars().any(is_dangerous_char));
            }
        }
    }
}
