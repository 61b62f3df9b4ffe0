//! `keyhound rules list` and `keyhound rules test`.

use std::io::Write;

use crate::cli::RulesCommand;
use crate::config::LoadedConfig;
use crate::exit::ExitStatus;
use crate::rules::{RuleSet, load_rule_path};
use crate::scan::examples;
use crate::text::{escape_controls, for_terminal};

use super::setup::rule_set;

pub fn run(command: RulesCommand) -> anyhow::Result<ExitStatus> {
    match command {
        RulesCommand::List { rules } => {
            let config = LoadedConfig::load(rules.config.as_deref(), None)?;
            let set = rule_set(&rules, &config)?;
            let mut out = std::io::stdout().lock();
            // User rule files are outside text.
            let shown = |text: &str| for_terminal(text, false);
            for rule in set.rules() {
                writeln!(
                    out,
                    "{:<36} {:<10} {:<16} {:<9} {}",
                    rule.id,
                    shown(&rule.provider),
                    shown(&rule.kind),
                    rule.severity,
                    shown(&rule.name)
                )?;
                writeln!(out, "{:<36} {}", "", shown(&rule.description))?;
            }
            eprintln!("keyhound: {} rule(s) in force", set.len());
            Ok(ExitStatus::Clean)
        }
        RulesCommand::Test { paths } => {
            let set = if paths.is_empty() {
                RuleSet::builtin()?
            } else {
                let mut rules = Vec::new();
                let mut budget = crate::rules::RuleBudget::full();
                for path in &paths {
                    rules.extend(load_rule_path(path, &mut budget)?);
                }
                RuleSet::from_rules(rules)?
            };
            let failures = examples::check(&set);
            let examples: usize = set
                .rules()
                .iter()
                .map(|r| r.examples.len() + r.medium_examples.len() + r.negative_examples.len())
                .sum();
            let mut out = std::io::stdout().lock();
            for failure in &failures {
                // Examples are fake keys, shown as they are so the rule's author can find them; their control
                // characters are escaped like any outside text.
                writeln!(out, "FAIL {}: {}", failure.rule_id, escape_controls(&failure.problem))?;
                if !failure.example.is_empty() {
                    writeln!(out, "     example: {}", escape_controls(&failure.example))?;
                }
            }
            writeln!(
                out,
                "{} rule(s), {} example(s): {} passed, {} failed",
                set.len(),
                examples,
                examples.saturating_sub(failures.len()),
                failures.len()
            )?;
            Ok(if failures.is_empty() {
                ExitStatus::Clean
            } else {
                ExitStatus::Findings(1)
            })
        }
    }
}
