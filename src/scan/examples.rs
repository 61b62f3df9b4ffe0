//! Checks every rule against its own examples with the matcher: `keyhound rules test` and the test suite both use
//! this. It lives with the matcher, not the rules, because it runs a [`Scanner`].

use crate::rules::{Confidence, Rule, RuleSet};
use crate::scan::{PlaceholderFilter, Scanner};

/// One example that does not behave as its rule file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExampleFailure {
    pub rule_id: String,
    pub example: String,
    pub problem: String,
}

/// Ways a key is written in real files; each positive example must be found whole in every one of them.
const WRAPPINGS: &[(&str, &str)] = &[
    ("", ""),
    ("OPENAI_API_KEY=", "\n"),
    ("api_key = \"", "\"\n"),
    ("'", "'"),
    ("curl -H 'Authorization: Bearer ", "' https://api.example.com\r\n"),
    ("https://host/path?key=%20", "&x=1"),
    ("{\"key\":\"", "\"}"),
];

/// Runs every rule's examples. Positive examples are scanned with the whole set (so a rule listed earlier that
/// claims the same text is caught); negative examples with the rule alone.
pub fn check(rules: &RuleSet) -> Vec<ExampleFailure> {
    let mut failures = Vec::new();
    let whole = match Scanner::new(rules.clone(), PlaceholderFilter::default()) {
        Ok(scanner) => scanner,
        Err(err) => {
            failures.push(ExampleFailure {
                rule_id: "*".into(),
                example: String::new(),
                problem: format!("cannot build the keyword prefilter: {err}"),
            });
            return failures;
        }
    };
    for rule in rules.rules() {
        if rule.examples.is_empty() {
            failures.push(failure(rule, "", "the rule has no examples"));
        }
        for example in &rule.examples {
            check_positive(&whole, rule, example, rule.confidence, &mut failures);
        }
        for example in &rule.medium_examples {
            check_positive(&whole, rule, example, Confidence::Medium, &mut failures);
        }
        if rule.negative_examples.is_empty() {
            failures.push(failure(rule, "", "the rule has no negative examples"));
        }
        let alone = RuleSet::from_rules(vec![rule.clone()])
            .ok()
            .and_then(|set| Scanner::new(set, PlaceholderFilter::default()).ok());
        if let Some(alone) = alone {
            for example in &rule.negative_examples {
                let found = alone.find(example.as_bytes());
                if let Some(m) = found.first() {
                    failures.push(failure(
                        rule,
                        example,
                        &format!("negative example matches: `{}`", &example[m.start..m.end]),
                    ));
                }
            }
            check_allowed_values(&alone, rule, &mut failures);
        }
    }
    failures
}

fn check_positive(
    scanner: &Scanner,
    rule: &Rule,
    example: &str,
    confidence: Confidence,
    failures: &mut Vec<ExampleFailure>,
) {
    let got = rule.confidence_of(example.as_bytes());
    if got != confidence {
        failures.push(failure(
            rule,
            example,
            &format!("the example has {got} confidence, not {confidence}"),
        ));
    }
    if let Some(context) = &rule.context {
        check_context(scanner, rule, context, example, failures);
        return;
    }
    if !rule.keywords.iter().any(|k| example.contains(k.as_str())) {
        failures.push(failure(
            rule,
            example,
            "the example contains none of the rule's keywords",
        ));
        return;
    }
    let mut texts: Vec<(String, usize)> = WRAPPINGS
        .iter()
        .map(|(before, after)| (format!("{before}{example}{after}"), 1))
        .collect();
    texts.push((format!("key:{example},{example}"), 2));
    expect_exact(scanner, rule, example, texts, failures);
}

/// A context rule's example is a key of the shape alone: it must be found whole next to each context word (before
/// it, after it, on the line above), and nowhere else: not alone, not past the rule's distance.
fn check_context(
    scanner: &Scanner,
    rule: &Rule,
    context: &crate::rules::Context,
    example: &str,
    failures: &mut Vec<ExampleFailure>,
) {
    let mut texts: Vec<(String, usize)> = Vec::new();
    for word in &rule.keywords {
        for (before, after) in WRAPPINGS {
            texts.push((format!("{word} {before}{example}{after}"), 1));
            texts.push((format!("{before}{example}{after} # {word}"), 1));
        }
        texts.push((format!("# {word}\nkey = \"{example}\"\n"), 1));
        texts.push((format!("{word}:{example},{example}"), 2));
    }
    expect_exact(scanner, rule, example, texts, failures);
    let far = " ".repeat(context.distance + 1);
    let mut alone: Vec<String> = WRAPPINGS
        .iter()
        .map(|(before, after)| format!("{before}{example}{after}"))
        .collect();
    alone.extend(rule.keywords.iter().map(|word| format!("{word}{far}{example}")));
    alone.extend(rule.keywords.iter().map(|word| format!("{example}{far}{word}")));
    for text in alone {
        if scanner
            .find(text.as_bytes())
            .iter()
            .any(|m| scanner.rule(m.rule).id == rule.id)
        {
            failures.push(failure(
                rule,
                example,
                &format!("found without its context (none, or farther than context_distance) in {text:?}"),
            ));
            return;
        }
    }
    if let Some(word) = context.path_words.first() {
        let path = format!("src/{word}_client.py");
        let anchored = scanner.path_anchors(&path);
        let text = format!("key = \"{example}\"\n");
        let found = scanner.find_anchored(text.as_bytes(), &anchored);
        if !found
            .iter()
            .any(|m| &text[m.start..m.end] == example && scanner.rule(m.rule).id == rule.id)
        {
            failures.push(failure(rule, example, &format!("not found in a file named {path}")));
        }
    }
}

/// Each text must hold exactly `expected` findings, each of exactly the example, by `rule`.
fn expect_exact(
    scanner: &Scanner,
    rule: &Rule,
    example: &str,
    texts: Vec<(String, usize)>,
    failures: &mut Vec<ExampleFailure>,
) {
    for (text, expected) in texts {
        let found = scanner.find(text.as_bytes());
        let exact = found.len() == expected
            && found
                .iter()
                .all(|m| &text[m.start..m.end] == example && scanner.rule(m.rule).id == rule.id);
        if !exact {
            let got: Vec<String> = found
                .iter()
                .map(|m| format!("{} `{}`", scanner.rule(m.rule).id, &text[m.start..m.end]))
                .collect();
            failures.push(failure(
                rule,
                example,
                &format!(
                    "in {text:?} expected {expected} finding(s) of exactly the example, got [{}]",
                    got.join(", ")
                ),
            ));
            return;
        }
    }
}

/// Every allowed value must have the rule's shape (else it is dead data, or a typo hiding the real value) and
/// must not be reported, however it is written.
fn check_allowed_values(scanner: &Scanner, rule: &Rule, failures: &mut Vec<ExampleFailure>) {
    let mut values: Vec<&Vec<u8>> = rule.allowed_values.iter().collect();
    values.sort();
    for value in values {
        let shown = String::from_utf8_lossy(value).into_owned();
        let whole = rule
            .regex
            .find(value)
            .is_some_and(|m| m.start() == 0 && m.end() == value.len());
        if !whole {
            failures.push(failure(
                rule,
                &shown,
                "the allowed value does not have the rule's shape",
            ));
            continue;
        }
        for (before, after) in WRAPPINGS {
            let text = format!("{before}{shown}{after}");
            if let Some(m) = scanner.find(text.as_bytes()).first() {
                failures.push(failure(
                    rule,
                    &shown,
                    &format!("the allowed value is reported in {text:?}: `{}`", &text[m.start..m.end]),
                ));
                break;
            }
        }
    }
}

fn failure(rule: &Rule, example: &str, problem: &str) -> ExampleFailure {
    ExampleFailure {
        rule_id: rule.id.clone(),
        example: example.to_string(),
        problem: problem.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::parse_rule_file;

    /// Every built-in rule file's examples behave as documented.
    #[test]
    fn builtin_rule_examples_hold() {
        let rules = RuleSet::builtin().expect("built-in rules load");
        let failures = check(&rules);
        assert!(failures.is_empty(), "{failures:#?}");
    }

    fn rule_file(allowed: &str) -> RuleSet {
        let text = format!(
            r#"provider = "acme"
[[rules]]
id = "acme-api-key"
name = "Acme API key"
description = "test"
kind = "api"
severity = "high"
regex = 'acme_[A-Za-z0-9]{{32}}'
keywords = ["acme_"]
remediation = "test"
examples = ["acme_xW3uxBryACywLj5MfwwxhNsEqYiEIIxU"]
negative_examples = ["acme_short"]
[[rules.allowed_values]]
value = "{allowed}"
source = "test"
"#
        );
        let rules = parse_rule_file(
            &text,
            crate::rules::RuleOrigin::Builtin("test.toml"),
            &mut crate::rules::RuleBudget::full(),
        )
        .expect("rule file loads");
        RuleSet::from_rules(rules).expect("rule set")
    }

    #[test]
    fn allowed_values_of_the_rules_shape_pass() {
        assert!(check(&rule_file("acme_PubL1cSampleKey0fTheAcmeDocs0123")).is_empty());
    }

    #[test]
    fn an_allowed_value_of_another_shape_fails() {
        let failures = check(&rule_file("acme_tooShort"));
        assert_eq!(failures.len(), 1, "{failures:#?}");
        assert_eq!(failures[0].example, "acme_tooShort");
        assert!(failures[0].problem.contains("shape"), "{failures:#?}");
    }
}
