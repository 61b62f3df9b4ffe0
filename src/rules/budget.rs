//! The memory all rules share.
//!
//! A repository's `keyhound.toml`, and the rule files it names, are written by whoever can open a pull request.
//! The regex crate bounds each regex on its own (10 MiB of automaton), so 200 rules of large counted
//! repetitions of Unicode classes took 2.9 GB and 17 s to compile. Here the rules in force are bounded
//! together: at most [`MAX_RULES`] of them, built-in and user, and at most [`MAX_COMPILED_BYTES`] of compiled
//! regexes (each rule's regex and its `known_shapes`), measured regex by regex as they are compiled. A regex
//! is compiled with what is left of the budget as its size limit, so the one that crosses it stops early.

use regex::bytes::Regex;
use regex_automata::meta;
use regex_automata::util::syntax;

/// The most rules in force at once, built-in and user rules together.
pub const MAX_RULES: usize = 1000;
/// The most memory the compiled regexes of all rules may hold together.
pub const MAX_COMPILED_BYTES: usize = 64 << 20;
/// The most one regex may compile to (the regex crate's own default).
pub(super) const MAX_REGEX_BYTES: usize = 10 << 20;
/// The lazy DFA cache of each regex, in each thread that uses it (the regex crate's default is 2 MiB). The
/// built-in rules' automata fit in it many times over; a regex whose automaton does not is run without one.
pub const DFA_CACHE_BYTES: usize = 256 << 10;

/// What is left of the budget for more rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleBudget {
    rules_left: usize,
    bytes_left: usize,
}

/// Why a regex could not be compiled within the budget.
#[derive(Debug)]
pub enum BudgetError {
    /// The regex is invalid, or larger than one regex may be on its own: the regex crate's reason.
    Regex(String),
    /// The regex does not fit in what is left of the shared budget.
    OverBudget(String),
}

impl Default for RuleBudget {
    fn default() -> RuleBudget {
        RuleBudget::full()
    }
}

impl RuleBudget {
    /// Nothing left.
    pub const EMPTY: RuleBudget = RuleBudget {
        rules_left: 0,
        bytes_left: 0,
    };

    /// The whole budget, before any rule.
    pub fn full() -> RuleBudget {
        RuleBudget {
            rules_left: MAX_RULES,
            bytes_left: MAX_COMPILED_BYTES,
        }
    }

    /// What the built-in rules leave (computed once per process). When they do not load, the whole budget:
    /// that error is reported where they are loaded.
    pub fn after_builtin() -> RuleBudget {
        static LEFT: std::sync::OnceLock<RuleBudget> = std::sync::OnceLock::new();
        *LEFT.get_or_init(|| {
            super::RuleSet::builtin()
                .map(|set| set.budget_left())
                .unwrap_or_else(|_| RuleBudget::full())
        })
    }

    /// What is left after `rules` rules holding `bytes` bytes of compiled regexes; `None` when they are over.
    pub fn left_after(rules: usize, bytes: usize) -> Option<RuleBudget> {
        Some(RuleBudget {
            rules_left: MAX_RULES.checked_sub(rules)?,
            bytes_left: MAX_COMPILED_BYTES.checked_sub(bytes)?,
        })
    }

    /// Counts one more rule; the message says why there is no room.
    pub fn take_rule(&mut self) -> Result<(), String> {
        match self.rules_left.checked_sub(1) {
            Some(left) => {
                self.rules_left = left;
                Ok(())
            }
            None => Err(count_message()),
        }
    }

    /// Compiles `pattern` as a rule regex within what is left of the budget, and charges its size. Returns
    /// the regex and the bytes charged.
    ///
    /// The size is measured on a `regex_automata` regex built with the configuration `regex::bytes` uses, which
    /// is then dropped: `regex` does not tell how much memory its regexes hold. Only one such copy exists at a
    /// time, and compiling twice costs little next to scanning.
    pub fn compile(&mut self, pattern: &str) -> Result<(Regex, usize), BudgetError> {
        let limit = self.bytes_left.min(MAX_REGEX_BYTES);
        let bytes = match measure(pattern, limit) {
            Measured::Bytes(bytes) => bytes,
            // Over the limit only because of the rules before it: the budget's fault, not the regex's.
            Measured::OverLimit if limit < MAX_REGEX_BYTES => {
                return Err(BudgetError::OverBudget(self.size_message()));
            }
            // Other errors (and a regex too large on its own) are described by the regex crate below.
            Measured::OverLimit | Measured::Invalid => 0,
        };
        if bytes > self.bytes_left {
            return Err(BudgetError::OverBudget(self.size_message()));
        }
        let regex = build(pattern, limit).map_err(|e| BudgetError::Regex(super::regex_error(&e)))?;
        self.bytes_left -= bytes;
        Ok((regex, bytes))
    }

    fn size_message(&self) -> String {
        size_message(Some(self.bytes_left))
    }
}

/// The memory `pattern` compiles to as a rule regex, measured on a `regex_automata` regex built with the
/// configuration `regex::bytes` uses (and then dropped), within `limit` bytes of automaton.
fn measure(pattern: &str, limit: usize) -> Measured {
    let built = meta::Builder::new()
        .configure(
            meta::Config::new()
                .match_kind(regex_automata::MatchKind::LeftmostFirst)
                .utf8_empty(false)
                .nfa_size_limit(Some(limit))
                .hybrid_cache_capacity(DFA_CACHE_BYTES),
        )
        .syntax(syntax::Config::new().utf8(false))
        .build(pattern);
    match built {
        Ok(regex) => Measured::Bytes(regex.memory_usage()),
        Err(e) if e.size_limit().is_some() => Measured::OverLimit,
        Err(_) => Measured::Invalid,
    }
}

/// What [`measure`] found.
enum Measured {
    /// The memory the compiled regex holds.
    Bytes(usize),
    /// The regex compiles to more than the limit.
    OverLimit,
    /// The regex does not compile for another reason.
    Invalid,
}

/// What a built-in rule's regexes are charged: their measured size (see [`measure`]), 0 for one that does not
/// compile (the test suite compiles every built-in regex).
pub(super) fn measured_bytes(pattern: &str) -> usize {
    match measure(pattern, MAX_REGEX_BYTES) {
        Measured::Bytes(bytes) => bytes,
        Measured::OverLimit | Measured::Invalid => 0,
    }
}

/// Compiles `pattern` as a rule regex of at most `limit` bytes of automaton.
pub(super) fn build(pattern: &str, limit: usize) -> Result<Regex, regex::Error> {
    regex::bytes::RegexBuilder::new(pattern)
        .size_limit(limit)
        .dfa_size_limit(DFA_CACHE_BYTES)
        .build()
}

/// Why a regex is refused for the size of all rules together; `left`: what was left for it.
pub fn size_message(left: Option<usize>) -> String {
    let left = left.map_or_else(String::new, |left| {
        format!(" ({} KiB were left for this one)", left >> 10)
    });
    format!(
        "the compiled regexes of all rules together (built-in and user) would exceed their budget of {} MiB{left}",
        MAX_COMPILED_BYTES >> 20
    )
}

/// Why one more rule is refused.
pub fn count_message() -> String {
    format!("more than {MAX_RULES} rules in all (built-in and user rules together), the most keyhound loads")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_rules_leave_most_of_the_budget() {
        let set = crate::rules::RuleSet::builtin().expect("built-in rules load");
        let used = set.compiled_bytes();
        assert!(
            used > 0 && used < MAX_COMPILED_BYTES / 4,
            "built-in rules hold {used} bytes"
        );
        assert_eq!(
            RuleBudget::after_builtin(),
            RuleBudget::left_after(set.len(), used).expect("within the budget")
        );
    }

    #[test]
    fn a_regex_that_does_not_fit_in_what_is_left_is_over_budget() {
        let mut budget = RuleBudget::left_after(0, MAX_COMPILED_BYTES - (1 << 20)).expect("within");
        assert!(matches!(budget.compile(r"\w{200}"), Err(BudgetError::OverBudget(_))));
        // Too large on its own: the regex crate's own error, whatever is left.
        assert!(matches!(
            RuleBudget::full().compile(r"\w{2000}"),
            Err(BudgetError::Regex(_))
        ));
        let (_, bytes) = budget.compile("sk-[a-z]{8}").expect("a small regex fits");
        assert!(bytes > 0);
        let mut none = RuleBudget::EMPTY;
        assert!(none.take_rule().is_err());
    }
}
