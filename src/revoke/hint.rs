//! Hints of a key's value that providers list in place of the key (`redacted_value`, `partial_key_hint`):
//! a shown prefix, `...`, a shown suffix (`sk-abc...def`). How many characters are shown is not documented, so
//! matching takes the hint apart at `...` and asks only that the leaked key start with the one and end with the
//! other. Several keys can match; the flow acts only when exactly one key in the whole organisation does.

/// Does the leaked `secret` fit `redacted_value` (`sk-abc...def`)? It must start with the part before `...` and
/// end with the part after it, with something hidden between the two. A value without `...`, or one that
/// shows fewer than six characters in all (too little to tell keys apart), matches nothing.
pub fn redacted_matches(redacted_value: &str, secret: &str) -> bool {
    let Some((prefix, suffix)) = redacted_value.split_once("...") else {
        return false;
    };
    if prefix.len() + suffix.len() < 6 || suffix.contains("...") {
        return false;
    }
    secret.len() > prefix.len() + suffix.len() && secret.starts_with(prefix) && secret.ends_with(suffix)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "sk-proj-e7njtS5pFbUcguGv1dHS84ExMaIWYiHaFUX1m1s97mCfvhcH";

    #[test]
    fn a_key_matches_its_shown_prefix_and_suffix() {
        assert!(redacted_matches("sk-proj-e7n...vhcH", KEY));
        assert!(redacted_matches("sk-proj-e7njtS5p...cH", KEY));
        assert!(redacted_matches("sk-p...vhcH", KEY));
        assert!(!redacted_matches("sk-proj-e7n...vhcX", KEY));
        assert!(!redacted_matches("sk-proj-x7n...vhcH", KEY));
    }

    #[test]
    fn the_separator_is_three_dots_and_enough_must_be_shown() {
        assert!(
            !redacted_matches("sk-proj-e7n…vhcH", KEY),
            "a single ellipsis character is not the separator"
        );
        assert!(!redacted_matches("sk-proj-e7nvhcH", KEY));
        assert!(!redacted_matches("...", KEY));
        assert!(!redacted_matches("sk...H", KEY), "too little shown to tell keys apart");
        assert!(
            !redacted_matches("sk-proj-e7n...vhcH", "sk-proj-e7nvhcH"),
            "something must be hidden between prefix and suffix"
        );
    }
}
