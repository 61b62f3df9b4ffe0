//! The rule files compiled into the binary: every file in the repository's `rules/` directory.

/// `(path in the repository, contents)` for each built-in rule file, in priority order.
pub const BUILTIN_RULE_FILES: &[(&str, &str)] = &[
    ("rules/openai.toml", include_str!("../../rules/openai.toml")),
    ("rules/ai-providers.toml", include_str!("../../rules/ai-providers.toml")),
    ("rules/ai-context.toml", include_str!("../../rules/ai-context.toml")),
];
