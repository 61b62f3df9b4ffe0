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

#[cfg(test)]
mod tests {
    use super::*;

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
