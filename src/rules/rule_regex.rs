//! A rule's regex, compiled when it is first used.
//!
//! Compiling every built-in rule's regexes took about half the instructions of a `keyhound git --staged` run,
//! whose few small blobs hit the keywords of one or two rules at most. A regex runs only around a hit of its
//! rule's keywords, so a built-in rule's regexes are compiled at their first use instead (syntax is checked at
//! load, by the parser). User rules are still compiled at load: their size is charged to the shared budget
//! then, so a config that is too large is refused before any scan. The compiled regex is the same either way.

use std::ops::Deref;
use std::sync::OnceLock;

use regex::bytes::Regex;

/// A compiled regex, or the pattern of a built-in one and the regex once something used it.
#[derive(Debug, Clone)]
pub struct RuleRegex {
    pattern: String,
    compiled: OnceLock<Regex>,
}

impl RuleRegex {
    /// A regex compiled already.
    pub fn compiled(pattern: &str, regex: Regex) -> RuleRegex {
        RuleRegex {
            pattern: pattern.to_string(),
            compiled: OnceLock::from(regex),
        }
    }

    /// A built-in regex, compiled when first used. Its syntax must have been checked by the caller.
    pub fn deferred(pattern: &str) -> RuleRegex {
        RuleRegex {
            pattern: pattern.to_string(),
            compiled: OnceLock::new(),
        }
    }

    /// The pattern the regex is compiled from.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }
}

impl Deref for RuleRegex {
    type Target = Regex;

    fn deref(&self) -> &Regex {
        self.compiled.get_or_init(|| {
            // Only built-in patterns are deferred, and the test suite compiles every one of them (each rule's
            // examples run through it): a failure here is a bug in keyhound, not in its input.
            super::budget::build(&self.pattern, super::budget::MAX_REGEX_BYTES)
                .unwrap_or_else(|e| panic!("built-in rule regex `{}` does not compile: {e}", self.pattern))
        })
    }
}

/// The index of the capture group named `name` in the parsed regex `hir`, as `Regex::capture_names` numbers
/// it (the whole match is 0).
pub fn capture_index(hir: &regex_syntax::hir::Hir, name: &str) -> Option<usize> {
    use regex_syntax::hir::HirKind;
    match hir.kind() {
        HirKind::Capture(capture) if capture.name.as_deref() == Some(name) => Some(capture.index as usize),
        HirKind::Capture(capture) => capture_index(&capture.sub, name),
        HirKind::Repetition(repetition) => capture_index(&repetition.sub, name),
        HirKind::Concat(subs) | HirKind::Alternation(subs) => subs.iter().find_map(|sub| capture_index(sub, name)),
        HirKind::Empty | HirKind::Literal(_) | HirKind::Class(_) | HirKind::Look(_) => None,
    }
}

/// A byte that can be part of a key: letters, digits, `-` and `_`.
pub fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// The shortest run of key bytes ([`is_key_byte`]) that every match of the parsed regex `hir` is: its shortest
/// match, when every byte any match can hold is a key byte; `None` when some match can hold another byte.
pub fn key_run(hir: &regex_syntax::hir::Hir) -> Option<usize> {
    only_key_bytes(hir).then(|| hir.properties().minimum_len()).flatten()
}

fn only_key_bytes(hir: &regex_syntax::hir::Hir) -> bool {
    use regex_syntax::hir::{Class, HirKind};
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => true,
        HirKind::Literal(literal) => literal.0.iter().all(|&b| is_key_byte(b)),
        HirKind::Class(Class::Bytes(class)) => class
            .ranges()
            .iter()
            .all(|range| (range.start()..=range.end()).all(is_key_byte)),
        HirKind::Class(Class::Unicode(class)) => class.ranges().iter().all(|range| {
            u8::try_from(u32::from(range.end())).is_ok_and(|end| (range.start() as u8..=end).all(is_key_byte))
        }),
        HirKind::Capture(capture) => only_key_bytes(&capture.sub),
        HirKind::Repetition(repetition) => only_key_bytes(&repetition.sub),
        HirKind::Concat(subs) | HirKind::Alternation(subs) => subs.iter().all(only_key_bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_run_is_the_shortest_match_of_a_regex_of_key_bytes_only() {
        let run = |pattern: &str| {
            let hir = regex_syntax::ParserBuilder::new()
                .utf8(false)
                .build()
                .parse(pattern)
                .expect("parses");
            key_run(&hir)
        };
        assert_eq!(run(r"\b[A-Za-z0-9]{32}\b"), Some(32));
        assert_eq!(run(r"sk-(?P<secret>[a-f0-9]{32}|[A-Z_]{40,})"), Some(35));
        assert_eq!(
            run(r"(?i-u)key_[a-z]{20}"),
            Some(24),
            "ASCII case folding stays within letters"
        );
        assert_eq!(
            run(r"(?i)key_[a-z]{20}"),
            None,
            "Unicode case folding takes in the Kelvin sign"
        );
        assert_eq!(run(r"[A-Za-z0-9]{20}\.[A-Za-z0-9]{20}"), None, "a dot is no key byte");
        assert_eq!(run(r"[A-Za-z0-9+/]{40}"), None, "nor is a slash or a plus");
        assert_eq!(run(r"\w{32}"), None, "\\w holds letters beyond ASCII");
        assert_eq!(run(r"(?-u:\w){32}"), Some(32));
        assert_eq!(run(r"[a-z]{10}\s?[a-z]{10}"), None);
    }

    #[test]
    fn capture_indexes_from_the_syntax_match_the_compiled_regex() {
        let pattern = r"(a)(?:(?P<left>b+)|c)(?P<secret>(?P<right>d)e)*";
        let hir = regex_syntax::ParserBuilder::new()
            .utf8(false)
            .build()
            .parse(pattern)
            .expect("parses");
        let regex = Regex::new(pattern).expect("compiles");
        for name in ["left", "secret", "right", "missing"] {
            assert_eq!(
                capture_index(&hir, name),
                regex.capture_names().position(|n| n == Some(name)),
                "{name}"
            );
        }
    }

    #[test]
    fn a_deferred_regex_compiles_on_first_use() {
        let regex = RuleRegex::deferred("sk-[a-z]{4}");
        assert!(regex.compiled.get().is_none());
        assert!(regex.is_match(b"x sk-abcd"));
        assert_eq!(regex.pattern(), "sk-[a-z]{4}");
    }
}
