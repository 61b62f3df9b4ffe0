//! Recognises text that has a key's shape but is not a key: `sk-xxxx…`, `sk-your-key-here`, `AAAA…`, `abcdef…`.

use regex::bytes::Regex;

/// Words that mark a documentation placeholder. Each is long enough (five or more characters, or with a
/// separator) that it practically never occurs by chance inside a random key.
const BUILTIN_STOPWORDS: &[&str] = &[
    "example",
    "placeholder",
    "your-",
    "your_",
    "yourkey",
    "yourapikey",
    "redacted",
    "dummy",
    "sample",
    "insert",
    "replace",
    "changeme",
];

/// Identical bytes in a row that make a secret a placeholder (`xxxxxx`, `000000`).
const MAX_REPEAT: usize = 6;
/// Consecutive ascending or descending bytes in a row that make a secret a placeholder (`abcdef`, `123456`).
const MAX_SEQUENCE: usize = 6;

/// The placeholder check: built-in heuristics plus stopwords and regexes from the user's config.
#[derive(Debug, Clone, Default)]
pub struct PlaceholderFilter {
    extra_stopwords: Vec<String>,
    extra_patterns: Vec<Regex>,
}

impl PlaceholderFilter {
    /// Adds user stopwords (case-insensitive substrings) and regexes; a secret matching any is a placeholder.
    pub fn with_extra(stopwords: Vec<String>, patterns: Vec<Regex>) -> PlaceholderFilter {
        PlaceholderFilter {
            extra_stopwords: stopwords.into_iter().map(|w| w.to_ascii_lowercase()).collect(),
            extra_patterns: patterns,
        }
    }

    pub fn is_placeholder(&self, secret: &[u8]) -> bool {
        let lower = secret.to_ascii_lowercase();
        let contains = |word: &str| memchr::memmem::find(&lower, word.as_bytes()).is_some();
        BUILTIN_STOPWORDS.iter().any(|w| contains(w))
            || self.extra_stopwords.iter().any(|w| contains(w))
            || self.extra_patterns.iter().any(|re| re.is_match(secret))
            || has_run(secret, MAX_REPEAT, |a, b| a == b)
            || has_run(secret, MAX_SEQUENCE, |a, b| {
                b == a.wrapping_add(1) && b.is_ascii_alphanumeric()
            })
            || has_run(secret, MAX_SEQUENCE, |a, b| {
                a == b.wrapping_add(1) && b.is_ascii_alphanumeric()
            })
            || memchr::memmem::find(secret, b"...").is_some()
    }
}

/// Is there a run of `len` bytes in which each neighbouring pair satisfies `step`?
fn has_run(bytes: &[u8], len: usize, step: impl Fn(u8, u8) -> bool) -> bool {
    let mut run = 1;
    for pair in bytes.windows(2) {
        if step(pair[0], pair[1]) {
            run += 1;
            if run >= len {
                return true;
            }
        } else {
            run = 1;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_recognised() {
        let f = PlaceholderFilter::default();
        assert!(f.is_placeholder(b"sk-xxxxxxxxxxxxxxxx"));
        assert!(f.is_placeholder(b"sk-proj-YOUR_KEY_1234"));
        assert!(f.is_placeholder(b"sk-abcdefgh"));
        assert!(f.is_placeholder(b"sk-987654"));
        assert!(f.is_placeholder(b"sk-EXAMPLEKEY"));
        assert!(!f.is_placeholder(b"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"));
    }

    #[test]
    fn user_stopwords_and_patterns_apply() {
        let f = PlaceholderFilter::with_extra(vec!["FAKE".into()], vec![Regex::new("^sk-test").expect("valid regex")]);
        assert!(f.is_placeholder(b"sk-thisisfakekey"));
        assert!(f.is_placeholder(b"sk-test9Zq"));
        assert!(!f.is_placeholder(b"sk-9Zq8Yt"));
    }
}
