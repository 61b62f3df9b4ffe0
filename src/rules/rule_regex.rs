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

/// Where every match of a regex holds one of its rule's keywords: in a run of key bytes at least `run` long, or
/// at most `slack` bytes before it (see [`keyword_run`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeywordRun {
    pub run: usize,
    pub slack: usize,
}

/// Where every match of the parsed regex `hir` holds one of `keywords` (as written: case matters): within a
/// run of key bytes ([`is_key_byte`]) that the match holds, or starting at most `slack` bytes before that run
/// and ending in it. The shapes this knows are a regex of key bytes only that holds a keyword in every match
/// (`sk-proj-…`, `sk-[…]{20}T3BlbkFJ[…]{20}`), a literal holding a keyword before key bytes only
/// (`AQ\.Ab8R[…]{46}`), and alternations of those; any other shape, or any look-around, gives `None`.
pub fn keyword_run(hir: &regex_syntax::hir::Hir, keywords: &[String]) -> Option<KeywordRun> {
    // A run of no bytes says nothing of where the keyword is.
    keyword_run_of(hir, keywords).filter(|found| found.run > 0)
}

fn keyword_run_of(hir: &regex_syntax::hir::Hir, keywords: &[String]) -> Option<KeywordRun> {
    use regex_syntax::hir::HirKind;
    if !hir.properties().look_set().is_empty() {
        return None;
    }
    match hir.kind() {
        HirKind::Capture(capture) => keyword_run_of(&capture.sub, keywords),
        HirKind::Alternation(subs) => subs.iter().try_fold(
            KeywordRun {
                run: usize::MAX,
                slack: 0,
            },
            |all, sub| {
                let one = keyword_run_of(sub, keywords)?;
                Some(KeywordRun {
                    run: all.run.min(one.run),
                    slack: all.slack.max(one.slack),
                })
            },
        ),
        _ if only_key_bytes(hir) && holds_keyword(hir, keywords) => Some(KeywordRun {
            run: hir.properties().minimum_len()?,
            slack: 0,
        }),
        HirKind::Concat(subs) => {
            let (first, rest) = subs.split_first()?;
            let HirKind::Literal(literal) = first.kind() else {
                return None;
            };
            let literal = &literal.0;
            if !keywords.iter().any(|k| contains(literal, k.as_bytes())) || !rest.iter().all(only_key_bytes) {
                return None;
            }
            // The run starts after the literal's last byte that is not a key byte.
            let tail = literal.iter().rev().take_while(|&&b| is_key_byte(b)).count();
            let rest_len = rest
                .iter()
                .map(|sub| sub.properties().minimum_len())
                .sum::<Option<usize>>()?;
            Some(KeywordRun {
                run: tail + rest_len,
                slack: literal.len() - tail,
            })
        }
        _ => None,
    }
}

/// Does every match of `hir` hold one of `keywords`? (Sure only: `false` can be wrong, `true` cannot.)
fn holds_keyword(hir: &regex_syntax::hir::Hir, keywords: &[String]) -> bool {
    use regex_syntax::hir::HirKind;
    match hir.kind() {
        HirKind::Literal(literal) => keywords.iter().any(|k| contains(&literal.0, k.as_bytes())),
        HirKind::Capture(capture) => holds_keyword(&capture.sub, keywords),
        HirKind::Repetition(repetition) => repetition.min >= 1 && holds_keyword(&repetition.sub, keywords),
        HirKind::Concat(subs) => subs.iter().any(|sub| holds_keyword(sub, keywords)),
        HirKind::Alternation(subs) => subs.iter().all(|sub| holds_keyword(sub, keywords)),
        HirKind::Empty | HirKind::Class(_) | HirKind::Look(_) => false,
    }
}

fn contains(text: &[u8], word: &[u8]) -> bool {
    !word.is_empty() && memchr::memmem::find(text, word).is_some()
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
    fn a_keyword_run_holds_a_keyword_in_every_match() {
        let run = |pattern: &str, keywords: &[&str]| {
            let hir = regex_syntax::ParserBuilder::new()
                .utf8(false)
                .build()
                .parse(pattern)
                .expect("parses");
            let keywords: Vec<String> = keywords.iter().map(|k| k.to_string()).collect();
            keyword_run(&hir, &keywords).map(|k| (k.run, k.slack))
        };
        /// A regex, its keywords, the shortest run and the slack expected, and why.
        type Case<'a> = (&'a str, &'a [&'a str], Option<(usize, usize)>, &'a str);
        let cases: &[Case] = &[
            (r"sk-proj-[A-Za-z0-9]{48}", &["sk-proj-"], Some((56, 0)), "a prefix"),
            (
                r"sk-(?P<a>[A-Za-z0-9]{20,120})T3BlbkFJ(?P<b>[A-Za-z0-9]{20,120})",
                &["T3BlbkFJ"],
                Some((51, 0)),
                "a keyword in the middle",
            ),
            (
                r"tvly-(?:(?:dev-|prod-)?[A-Za-z0-9]{32}|dev-[A-Za-z0-9]{5,6}-[A-Za-z0-9]{42})",
                &["tvly-"],
                Some((37, 0)),
                "branches after the keyword",
            ),
            (
                r"(?:ab_[a-z]{10}|cd_[a-z]{20})",
                &["ab_", "cd_"],
                Some((13, 0)),
                "a keyword in each branch",
            ),
            (
                r"AQ\.Ab8R[A-Za-z0-9_-]{46}",
                &["AQ.Ab8R"],
                Some((50, 3)),
                "a literal before the run",
            ),
            (r"x\.y[a-z]{10}", &["x.y"], Some((11, 2)), "a literal before the run"),
            (
                r"x\.y[a-z]{0,5}",
                &["x.y"],
                Some((1, 2)),
                "the literal's last byte is the run",
            ),
            (
                r"(?:sk-){1,2}[a-z]{20}",
                &["sk-"],
                Some((23, 0)),
                "a keyword repeated at least once",
            ),
            (
                r"(?:ab_|cd_)?[a-z]{20}",
                &["ab_", "cd_"],
                None,
                "a match without a keyword",
            ),
            (
                r"(?:ab_[a-z]{10}|[a-z]{20})",
                &["ab_"],
                None,
                "a branch without a keyword",
            ),
            (r"sk-[a-z]{20}", &["SK-"], None, "case matters"),
            (r"(?i-u)sk-[a-z]{20}", &["sk-"], None, "a folded keyword is no literal"),
            (r"sk-[a-z]{20}\b", &["sk-"], None, "look-around"),
            (r"sk-[a-z]{20}\.[a-z]{20}", &["sk-"], None, "a dot after the keyword"),
            (r"key = (sk-[a-z]{20})", &["sk-"], None, "a space before it"),
            (
                r"(?:sk-){0,2}[a-z]{20}",
                &["sk-"],
                None,
                "a keyword that may repeat zero times",
            ),
            (r"x\.[a-z]{0,5}", &["x."], None, "no key byte needed after the keyword"),
            (
                r"(?:x\.[a-z]{0,5}|ab_[a-z]{9})",
                &["x.", "ab_"],
                None,
                "nor in one branch",
            ),
        ];
        for &(pattern, keywords, expected, why) in cases {
            assert_eq!(run(pattern, keywords), expected, "{pattern}: {why}");
        }
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
