//! The [`Scanner`] as [`crate::text`]'s [`KeyFinder`]: its rules decide what outside text is key-shaped.

use std::sync::Arc;

use super::{PlaceholderFilter, Scanner};
use crate::rules::RuleSet;
use crate::text::{KeyFinder, KeySpan};

impl KeyFinder for Scanner {
    fn key_shaped(&self, text: &[u8]) -> Vec<KeySpan> {
        self.find_key_shaped(text)
            .into_iter()
            .map(|m| KeySpan {
                range: m.start..m.end,
                rule: m.rule,
            })
            .collect()
    }

    fn known_prefix_len(&self, rule: usize, key: &str) -> usize {
        self.rule(rule).known_prefix_len(key)
    }
}

/// The finder of the built-in rules, for [`crate::text::use_builtin_key_finder`]; `None` if they fail to build.
pub fn builtin_key_finder() -> Option<Arc<dyn KeyFinder>> {
    let rules = RuleSet::builtin().ok()?;
    let scanner = Scanner::new(rules, PlaceholderFilter::default()).ok()?;
    Some(Arc::new(scanner))
}
