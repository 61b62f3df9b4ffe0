//! Rules as data: the TOML schema, loading (built-in and user files), validation and selection.
//!
//! A rule file holds one provider's rules. Each rule keeps its positive and negative examples next to its
//! regex, so the file documents itself and `keyhound rules test` (and the test suite) can check it.

mod budget;
mod builtin;
mod rule_regex;

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use std::sync::OnceLock;

use serde::Deserialize;

/// The value types live in [`crate::severity`], below the findings; re-exported so `rules::Severity` keeps working.
pub use crate::severity::{Confidence, Severity};
pub use budget::{DFA_CACHE_BYTES, MAX_COMPILED_BYTES, MAX_RULES, RuleBudget};
pub use builtin::BUILTIN_RULE_FILES;
pub use rule_regex::{KeywordRun, RuleRegex, is_key_byte};

/// Where a rule was loaded from, for error messages and `rules list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleOrigin {
    /// Compiled into the binary; the name is the file's path in the repository (`rules/openai.toml`).
    Builtin(&'static str),
    /// Loaded from a user-supplied file.
    File(PathBuf),
}

impl fmt::Display for RuleOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleOrigin::Builtin(name) => write!(f, "{name} (built-in)"),
            RuleOrigin::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// A problem with a rule file. Every variant names the file and, where there is one, the rule.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("cannot read rule file {0}")]
    Read(#[from] crate::input::InputError),
    #[error("malformed rule file {origin}: {message}")]
    Parse { origin: RuleOrigin, message: String },
    #[error("rule file {origin}, rule `{id}`: regex does not compile: {message}")]
    Regex {
        origin: RuleOrigin,
        id: String,
        message: String,
    },
    #[error("rule file {origin}, rule `{id}`: {message}")]
    Invalid {
        origin: RuleOrigin,
        id: String,
        message: String,
    },
    /// The rules in force together are over their shared budget (count or compiled size).
    #[error("rule file {origin}, rule `{id}`: {message}")]
    OverBudget {
        origin: RuleOrigin,
        id: String,
        message: String,
    },
    #[error("rule `{id}` is defined twice: in {first} and in {second}")]
    Duplicate {
        id: String,
        first: RuleOrigin,
        second: RuleOrigin,
    },
    #[error("no rule has the id `{0}` (see `keyhound rules list`)")]
    UnknownId(String),
    #[error("{path} holds no rule files (*.toml)")]
    EmptyDir { path: PathBuf },
}

/// The on-disk shape of a rule file. Rules are kept as tables at first, so that an error in one rule can
/// name that rule's id.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    provider: String,
    #[serde(default)]
    rules: Vec<toml::Table>,
}

/// The on-disk shape of one rule.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    id: String,
    name: String,
    description: String,
    /// Overrides the file's provider for this rule.
    provider: Option<String>,
    kind: String,
    severity: Severity,
    regex: String,
    keywords: Vec<String>,
    min_entropy: Option<f64>,
    remediation: String,
    /// The confidence of a match (default `high`; `medium` for context rules, which cannot be `high`).
    confidence: Option<Confidence>,
    /// For keys with no prefix of their own: the `keywords` are context words (`DEEPSEEK_API_KEY`, `cohere`),
    /// and a match counts only when it lies whole within this many bytes before or after one of them.
    context_distance: Option<usize>,
    /// With `context_distance`: a file whose path holds a context word (in any case) anchors every match in it.
    #[serde(default)]
    context_in_path: bool,
    /// Character classes the secret must hold at least one of each: `digit`, `lower`, `upper`.
    #[serde(default)]
    must_contain: Vec<CharClass>,
    /// Regexes of the shapes known to be real: when given, a match that is none of them in full has `medium`
    /// confidence.
    #[serde(default)]
    known_shapes: Vec<String>,
    /// Names of capture groups that must match texts of one length when they take part in a match (the random
    /// parts on either side of a marker): a run cut or extended on one side is not a key.
    #[serde(default)]
    equal_length_groups: Vec<String>,
    #[serde(default)]
    examples: Vec<String>,
    /// Examples that must be found with `medium` confidence (shapes that only look like the known ones).
    #[serde(default)]
    medium_examples: Vec<String>,
    #[serde(default)]
    negative_examples: Vec<String>,
    /// Public example values that are not leaks (a vendor's published sample keys), each with its source.
    #[serde(default)]
    allowed_values: Vec<AllowedValue>,
    /// For keys that work only at one endpoint (an Azure OpenAI resource): the endpoint's regex, looked for within
    /// the rule's context distance of the key (200 bytes without one); the nearest match is recorded with the
    /// finding, and a provider's check may use it.
    #[serde(default)]
    endpoint: Option<String>,
    /// A match that is a random (version 4) UUID written without dashes is not a key: for keys of 32 hexadecimal
    /// characters, whose shape such ids share.
    #[serde(default)]
    not_uuid: bool,
}

/// The farthest a context word may be from the key it anchors, in bytes.
pub const MAX_CONTEXT_DISTANCE: usize = 1000;

/// A class of characters a secret must hold (`must_contain`): random keys have all of them, words and hex
/// hashes do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CharClass {
    Digit,
    Lower,
    Upper,
}

impl CharClass {
    pub fn holds(self, byte: u8) -> bool {
        match self {
            CharClass::Digit => byte.is_ascii_digit(),
            CharClass::Lower => byte.is_ascii_lowercase(),
            CharClass::Upper => byte.is_ascii_uppercase(),
        }
    }
}

/// What anchors the matches of a rule whose keys have no prefix of their own.
#[derive(Debug, Clone)]
pub struct Context {
    /// How far (bytes) a match may lie from a context word (one of the rule's keywords).
    pub distance: usize,
    /// The context words in lower case, when a file's path may anchor the rule (`context_in_path`).
    pub path_words: Vec<String>,
}

/// A value of a key's shape that is public on purpose, and where it is published.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AllowedValue {
    value: String,
    /// Where the value is published, as evidence that it is public on purpose.
    source: String,
}

/// One compiled detection rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub name: String,
    pub description: String,
    pub provider: String,
    /// The kind of key (for OpenAI: legacy, project, service-account, admin, none).
    pub kind: String,
    pub severity: Severity,
    pub pattern: String,
    /// Compiled at load for user rules, at first use for built-in ones ([`RuleRegex`]).
    pub regex: RuleRegex,
    /// Case-sensitive literals, one of which every match contains.
    pub keywords: Vec<String>,
    pub min_entropy: Option<f64>,
    pub remediation: String,
    pub confidence: Confidence,
    /// Set for context rules: their keywords are context words near the key, not part of it.
    pub context: Option<Context>,
    /// Character classes the secret must each hold at least once.
    pub must_contain: Vec<CharClass>,
    /// Known shapes, anchored at both ends.
    pub known_shapes: Vec<RuleRegex>,
    /// Indexes of the capture groups whose texts must be of one length.
    pub equal_length_groups: Vec<usize>,
    pub examples: Vec<String>,
    pub medium_examples: Vec<String>,
    pub negative_examples: Vec<String>,
    /// Public example values that are never findings.
    pub allowed_values: std::collections::HashSet<Vec<u8>>,
    pub origin: RuleOrigin,
    /// Index of the `secret` capture group, when the regex has one.
    pub secret_group: Option<usize>,
    /// The longest text the regex can match, when bounded: how far around a keyword hit the regex must look.
    pub max_match_len: Option<usize>,
    /// The shortest text the regex can match.
    pub min_match_len: Option<usize>,
    /// When every match is a run of key bytes (letters, digits, `-`, `_`): the shortest (see
    /// [`rule_regex::key_run`]).
    pub key_run: Option<usize>,
    /// For a rule that is no context rule: where every match holds one of its keywords, in or just before a
    /// long run of key bytes (see [`rule_regex::keyword_run`]).
    pub keyword_run: Option<rule_regex::KeywordRun>,
    /// The memory its compiled regexes hold (its regex, endpoint and known shapes), charged to the
    /// [`RuleBudget`]: known at load for user rules, measured when first asked for built-in ones.
    compiled_bytes: OnceLock<usize>,
    /// The endpoint a key works at, looked for near it (`endpoint`).
    pub endpoint: Option<RuleRegex>,
    /// A dashless version-4 UUID is not a key of this rule (`not_uuid`).
    pub not_uuid: bool,
}

impl Rule {
    fn compile(
        spec: RuleSpec,
        file_provider: &str,
        origin: &RuleOrigin,
        budget: &mut RuleBudget,
    ) -> Result<Rule, RuleError> {
        let invalid = |message: String| RuleError::Invalid {
            origin: origin.clone(),
            id: spec.id.clone(),
            message,
        };
        let over_budget = |message: String| RuleError::OverBudget {
            origin: origin.clone(),
            id: crate::text::bounded(&spec.id, 64),
            message,
        };
        budget.take_rule().map_err(over_budget)?;
        if spec.id.is_empty()
            || !spec
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(invalid(
                "the id must be non-empty and made of lower-case letters, digits and '-'".into(),
            ));
        }
        if spec.keywords.is_empty() || spec.keywords.iter().any(|k| k.is_empty()) {
            return Err(invalid(
                "`keywords` must list at least one non-empty literal that every match contains".into(),
            ));
        }
        if let Some(e) = spec.min_entropy
            && !(0.0..=8.0).contains(&e)
        {
            return Err(invalid(format!("min_entropy {e} is outside 0.0..=8.0 bits per byte")));
        }
        // Built-in rules are compiled at first use (see `rule_regex`); user rules now, within the budget.
        let deferred = matches!(origin, RuleOrigin::Builtin(_));
        let hir = parse_regex(&spec.regex);
        let mut compiled_bytes = 0;
        let regex_failure = |what: &str, message: String| match what {
            "" => RuleError::Regex {
                origin: origin.clone(),
                id: spec.id.clone(),
                message,
            },
            _ => invalid(format!("{what}{message}")),
        };
        let mut compile = |pattern: &str, what: &str| -> Result<RuleRegex, RuleError> {
            if deferred {
                return match parse_regex(pattern) {
                    Ok(_) => Ok(RuleRegex::deferred(pattern)),
                    Err(message) => Err(regex_failure(what, message)),
                };
            }
            let (regex, bytes) = budget.compile(pattern).map_err(|e| match e {
                budget::BudgetError::Regex(message) => regex_failure(what, message),
                budget::BudgetError::OverBudget(message) => over_budget(format!("{what}{message}")),
            })?;
            compiled_bytes += bytes;
            Ok(RuleRegex::compiled(pattern, regex))
        };
        let regex = compile(&spec.regex, "")?;
        let max_match_len = hir.as_ref().ok().and_then(|hir| hir.properties().maximum_len());
        let min_match_len = hir.as_ref().ok().and_then(|hir| hir.properties().minimum_len());
        let key_run = hir.as_ref().ok().and_then(rule_regex::key_run);
        let context = match (spec.context_distance, spec.context_in_path) {
            (Some(distance), in_path) if (1..=MAX_CONTEXT_DISTANCE).contains(&distance) => Some(Context {
                distance,
                path_words: if in_path {
                    spec.keywords.iter().map(|k| k.to_ascii_lowercase()).collect()
                } else {
                    Vec::new()
                },
            }),
            (Some(distance), _) => {
                return Err(invalid(format!(
                    "context_distance {distance} is outside 1..={MAX_CONTEXT_DISTANCE} bytes"
                )));
            }
            (None, true) => return Err(invalid("context_in_path needs context_distance".into())),
            (None, false) => None,
        };
        // A context rule's keywords are words near its key, not in it.
        let keyword_run = match &context {
            Some(_) => None,
            None => hir
                .as_ref()
                .ok()
                .and_then(|hir| rule_regex::keyword_run(hir, &spec.keywords)),
        };
        let confidence = match (spec.confidence, &context) {
            (Some(Confidence::High), Some(_)) => {
                return Err(invalid(
                    "a context rule (context_distance) finds keys by what is near them: its confidence is `medium`"
                        .into(),
                ));
            }
            (Some(confidence), _) => confidence,
            (None, Some(_)) => Confidence::Medium,
            (None, None) => Confidence::High,
        };
        if spec.allowed_values.iter().any(|a| a.source.trim().is_empty()) {
            return Err(invalid("allowed_values: every value needs its `source`".into()));
        }
        // Group numbers come from the syntax, which a regex compiled later numbers the same way.
        let group = |name: &str| hir.as_ref().ok().and_then(|hir| rule_regex::capture_index(hir, name));
        let secret_group = group("secret");
        let mut equal_length_groups = Vec::new();
        for name in &spec.equal_length_groups {
            match group(name) {
                Some(index) => equal_length_groups.push(index),
                None => {
                    return Err(invalid(format!(
                        "equal_length_groups: the regex has no group named `{}`",
                        crate::text::bounded(name, 40)
                    )));
                }
            }
        }
        let endpoint = spec
            .endpoint
            .as_deref()
            .map(|pattern| compile(pattern, "endpoint: "))
            .transpose()?;
        let known_shapes = spec
            .known_shapes
            .iter()
            .map(|shape| compile(&format!("^(?:{shape})$"), "known_shapes: "))
            .collect::<Result<Vec<_>, _>>()?;
        let compiled_bytes = if deferred {
            OnceLock::new()
        } else {
            OnceLock::from(compiled_bytes)
        };
        Ok(Rule {
            provider: spec.provider.unwrap_or_else(|| file_provider.to_string()),
            id: spec.id,
            name: spec.name,
            description: spec.description,
            kind: spec.kind,
            severity: spec.severity,
            pattern: spec.regex,
            regex,
            keywords: spec.keywords,
            min_entropy: spec.min_entropy,
            remediation: spec.remediation,
            confidence,
            context,
            must_contain: spec.must_contain,
            known_shapes,
            equal_length_groups,
            examples: spec.examples,
            medium_examples: spec.medium_examples,
            negative_examples: spec.negative_examples,
            allowed_values: spec
                .allowed_values
                .into_iter()
                .map(|allowed| allowed.value.into_bytes())
                .collect(),
            origin: origin.clone(),
            secret_group,
            max_match_len,
            min_match_len,
            key_run,
            keyword_run,
            endpoint,
            not_uuid: spec.not_uuid,
            compiled_bytes,
        })
    }
}

impl Rule {
    /// The memory its compiled regexes hold (its regex, endpoint and known shapes). A built-in rule's are
    /// measured on the first call (the regexes are compiled to measure them, then dropped).
    pub fn compiled_bytes(&self) -> usize {
        *self.compiled_bytes.get_or_init(|| {
            std::iter::once(&self.regex)
                .chain(&self.endpoint)
                .chain(&self.known_shapes)
                .map(|regex| budget::measured_bytes(regex.pattern()))
                .sum()
        })
    }

    /// The confidence of a match of this rule: the rule's own, lowered to `medium` when the rule lists known
    /// shapes and the secret is none of them.
    pub fn confidence_of(&self, secret: &[u8]) -> Confidence {
        if self.known_shapes.is_empty() || self.known_shapes.iter().any(|shape| shape.is_match(secret)) {
            self.confidence
        } else {
            Confidence::Medium
        }
    }

    /// The length of the keyword the secret starts with (`sk-proj-`): a known prefix that redaction may show in
    /// full. 0 when the secret starts with none of the rule's keywords.
    pub fn known_prefix_len(&self, secret: &str) -> usize {
        self.keywords
            .iter()
            .filter(|k| secret.len() > k.len() && secret.starts_with(k.as_str()))
            .map(|k| k.len())
            .max()
            .unwrap_or(0)
    }
}

/// Parses a rule's regex as `regex::bytes` does (any bytes may match, not only UTF-8).
fn parse_regex(pattern: &str) -> Result<regex_syntax::hir::Hir, String> {
    regex_syntax::ParserBuilder::new()
        .utf8(false)
        .build()
        .parse(pattern)
        .map_err(|e| crate::text::bounded(&e.to_string(), 200))
}

/// A regex error as one line. The regex crate's own message quotes the whole pattern over several lines; the
/// pattern comes from a rule or config file, so only the reason is kept.
pub fn regex_error(error: &regex::Error) -> String {
    let text = error.to_string();
    let reason = text
        .lines()
        .rev()
        .find(|line| line.trim_start().starts_with("error:"))
        .map(|line| line.trim_start().trim_start_matches("error:").trim())
        .unwrap_or_else(|| text.lines().next().unwrap_or_default());
    crate::text::bounded(reason, 200)
}

/// Parses one rule file's text; its rules are charged to `budget`.
pub fn parse_rule_file(text: &str, origin: RuleOrigin, budget: &mut RuleBudget) -> Result<Vec<Rule>, RuleError> {
    let file: RuleFile = toml::from_str(text).map_err(|e| RuleError::Parse {
        origin: origin.clone(),
        message: crate::input::toml_error(text, &e),
    })?;
    if file.rules.is_empty() {
        return Err(RuleError::Parse {
            origin,
            message: "the file defines no [[rules]]".into(),
        });
    }
    file.rules
        .into_iter()
        .enumerate()
        .map(|(index, table)| {
            let id = match table.get("id").and_then(|v| v.as_str()) {
                Some(id) => id.to_string(),
                None => format!("#{} (no id)", index + 1),
            };
            // The message may quote the file (an unknown field's name): bounded, keys redacted.
            let spec = RuleSpec::deserialize(toml::Value::Table(table)).map_err(|e| RuleError::Invalid {
                origin: origin.clone(),
                id: crate::text::bounded(&id, 64),
                message: crate::text::bounded(e.message(), 200),
            })?;
            Rule::compile(spec, &file.provider, &origin, budget)
        })
        .collect()
}

/// Loads a rule file, or every `*.toml` file in a directory (sorted by name), charging its rules to `budget`.
/// Only regular files are read.
pub fn load_rule_path(path: &Path, budget: &mut RuleBudget) -> Result<Vec<Rule>, RuleError> {
    if path.is_dir() {
        let entries = std::fs::read_dir(path).map_err(|error| crate::input::InputError::Io {
            path: path.to_path_buf(),
            error,
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|ext| ext == "toml"))
            .collect();
        if files.is_empty() {
            return Err(RuleError::EmptyDir {
                path: path.to_path_buf(),
            });
        }
        files.sort();
        let mut rules = Vec::new();
        for file in files {
            rules.extend(load_rule_path(&file, budget)?);
        }
        return Ok(rules);
    }
    let text = crate::input::read_text(path, crate::input::MAX_CONFIG_FILE)?;
    parse_rule_file(&text, RuleOrigin::File(path.to_path_buf()), budget)
}

/// The rules in force, in priority order: when two rules match the same text, the earlier one wins.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
}

impl RuleSet {
    /// The rules compiled into the binary.
    pub fn builtin() -> Result<RuleSet, RuleError> {
        let mut set = RuleSet::default();
        let mut budget = RuleBudget::full();
        for (name, text) in BUILTIN_RULE_FILES {
            set.extend(parse_rule_file(text, RuleOrigin::Builtin(name), &mut budget)?)?;
        }
        Ok(set)
    }

    /// Builds a set from rules, rejecting duplicate ids.
    pub fn from_rules(rules: Vec<Rule>) -> Result<RuleSet, RuleError> {
        let mut set = RuleSet::default();
        set.extend(rules)?;
        Ok(set)
    }

    /// Adds rules; an id that is already in the set is an error naming both files, and so is a rule that takes
    /// the set over the shared budget (however the rule was compiled).
    pub fn extend(&mut self, rules: Vec<Rule>) -> Result<(), RuleError> {
        for rule in rules {
            // The built-in rules come first and fit (a test checks it): their size is measured only when a user
            // rule joins them.
            let builtin = matches!(rule.origin, RuleOrigin::Builtin(_));
            let over = if self.rules.len() >= MAX_RULES {
                Some(budget::count_message())
            } else if !builtin && self.compiled_bytes().saturating_add(rule.compiled_bytes()) > MAX_COMPILED_BYTES {
                Some(budget::size_message(None))
            } else {
                None
            };
            if let Some(message) = over {
                return Err(RuleError::OverBudget {
                    origin: rule.origin,
                    id: rule.id,
                    message,
                });
            }
            if let Some(existing) = self.rules.iter().find(|r| r.id == rule.id) {
                return Err(RuleError::Duplicate {
                    id: rule.id,
                    first: existing.origin.clone(),
                    second: rule.origin,
                });
            }
            self.rules.push(rule);
        }
        Ok(())
    }

    /// Keeps only the listed ids (when `only` is non-empty) and drops the disabled ones.
    /// Unknown ids are an error, so a typo does not silently disable nothing.
    pub fn select(&mut self, only: &[String], disable: &[String]) -> Result<(), RuleError> {
        let known: HashSet<&str> = self.rules.iter().map(|r| r.id.as_str()).collect();
        if let Some(unknown) = only.iter().chain(disable).find(|id| !known.contains(id.as_str())) {
            return Err(RuleError::UnknownId(unknown.clone()));
        }
        if !only.is_empty() {
            self.rules.retain(|r| only.contains(&r.id));
        }
        self.rules.retain(|r| !disable.contains(&r.id));
        Ok(())
    }

    /// The memory the compiled regexes of the set hold together.
    pub fn compiled_bytes(&self) -> usize {
        self.rules.iter().map(Rule::compiled_bytes).sum()
    }

    /// What the set leaves of the shared budget, for more rules.
    pub fn budget_left(&self) -> RuleBudget {
        RuleBudget::left_after(self.rules.len(), self.compiled_bytes()).unwrap_or(RuleBudget::EMPTY)
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn get(&self, index: usize) -> &Rule {
        &self.rules[index]
    }

    pub fn find(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}
