//! Building what every scanning command needs from its arguments: config, rules, scanner.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;

use crate::cli::{ContentArgs, OutputArgs, RuleArgs};
use crate::config::LoadedConfig;
use crate::filter::baseline::Baseline;
use crate::rules::{RuleSet, load_rule_path};
use crate::scan::{PlaceholderFilter, Scanner};

/// The default `--max-file-size`.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 100 * 1024 * 1024;

/// Loads `--config FILE`, or `keyhound.toml` in `root` when there is one.
pub fn load_config(args: &RuleArgs, root: Option<&Path>) -> anyhow::Result<LoadedConfig> {
    Ok(LoadedConfig::load(args.config.as_deref(), root)?)
}

/// The rules in force: built-in, then the config's rule files, then `--rules`, narrowed by the selections.
pub fn rule_set(args: &RuleArgs, config: &LoadedConfig) -> anyhow::Result<RuleSet> {
    let mut rules = RuleSet::builtin().context("the built-in rules are broken")?;
    rules.extend(config.rules.clone())?;
    for path in &args.rule_paths {
        let mut budget = rules.budget_left();
        rules.extend(load_rule_path(path, &mut budget)?)?;
    }
    let mut disabled = args.disable_rules.clone();
    disabled.extend(config.config.disable_rules.iter().cloned());
    rules.select(&args.only_rules, &disabled)?;
    if rules.is_empty() {
        anyhow::bail!("no rules are left in force (check --only-rules / --disable-rules)");
    }
    Ok(rules)
}

/// The run's scanner. Its rules also decide what outside text counts as key-shaped ([`crate::text`]), so a key
/// of a user rule is redacted in paths and messages too.
pub fn scanner(args: &RuleArgs, config: &LoadedConfig) -> anyhow::Result<Arc<Scanner>> {
    let rules = rule_set(args, config)?;
    let placeholders =
        PlaceholderFilter::with_extra(config.config.placeholder_words.clone(), config.placeholder_regexes()?);
    let scanner = Arc::new(Scanner::new(rules, placeholders).context("cannot build the keyword prefilter")?);
    crate::text::use_key_finder(Arc::clone(&scanner) as Arc<dyn crate::text::KeyFinder>);
    Ok(scanner)
}

/// `--max-file-size`, else the config's, else the default.
pub fn max_file_size(args: &ContentArgs, config: &LoadedConfig) -> anyhow::Result<u64> {
    Ok(args
        .max_file_size
        .or(config.max_file_size()?)
        .unwrap_or(DEFAULT_MAX_FILE_SIZE))
}

/// `--baseline FILE`, read before the scan so that a bad one stops the run before any work.
pub fn load_baseline(args: &OutputArgs) -> anyhow::Result<Option<Baseline>> {
    Ok(args.baseline.as_deref().map(Baseline::read).transpose()?)
}

/// Binary policy, decoding and archives: the flags, else the config's, else the defaults.
pub fn content_options(args: &ContentArgs, config: &LoadedConfig) -> anyhow::Result<crate::content::Options> {
    use crate::content::Options;
    Ok(Options {
        binary: args.binary,
        decode_depth: args
            .decode_depth
            .or(config.config.decode_depth)
            .unwrap_or(Options::DEFAULT_DECODE_DEPTH),
        archive_depth: args
            .archive_depth
            .or(config.config.archive_depth)
            .unwrap_or(Options::DEFAULT_ARCHIVE_DEPTH),
        max_archive_size: args
            .max_archive_size
            .or(config.max_archive_size()?)
            .unwrap_or(Options::DEFAULT_MAX_ARCHIVE_SIZE),
        keep_allowed: false,
        keep_honoured: false,
    })
}

/// The most worker threads `--threads` may ask for. More only cost: the working-tree walker's idle threads
/// steal work from one another, which costs on the order of the square of their number (a one-file tree took
/// 1.3 s of waiting with 512 threads, about 10 s with 1,024), and a number such as 99,999,999 would start
/// threads until the system refuses.
pub const MAX_THREADS: usize = 512;

/// Refuses `--threads 0` and more than [`MAX_THREADS`].
pub fn check_threads(threads: Option<usize>) -> anyhow::Result<()> {
    match threads {
        Some(0) => anyhow::bail!("--threads must be at least 1"),
        Some(n) if n > MAX_THREADS => anyhow::bail!("--threads must be at most {MAX_THREADS} (not {n})"),
        _ => Ok(()),
    }
}

/// Sizes rayon's pool (history and image scans). The working-tree walk takes the number itself and never uses
/// rayon: it only checks it ([`check_threads`]), since a pool built there would start idle threads that spin
/// for nothing.
pub fn configure_threads(threads: Option<usize>) -> anyhow::Result<()> {
    check_threads(threads)?;
    if let Some(n) = threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .context("cannot start the worker threads")?;
    }
    Ok(())
}
