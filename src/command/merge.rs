//! `keyhound merge`: several JSON / JSON Lines reports into one.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::cli::MergeArgs;
use crate::diag::{Diagnostics, ScanStats};
use crate::exit::ExitStatus;
use crate::report::SourceRoot;
use crate::report::json::read_report;

use super::output::{Scanned, Units, finish};
use super::setup::{load_baseline, load_config, rule_set};

pub fn run(args: MergeArgs) -> anyhow::Result<ExitStatus> {
    let started = Instant::now();
    let config = load_config(&args.rules, None)?;
    let rules = rule_set(&args.rules, &config)?;
    let baseline = load_baseline(&args.output)?;
    let diag = Diagnostics::new(args.output.quiet, None);
    let stats = ScanStats::default();
    let mut findings = Vec::new();
    for path in &args.reports {
        let read = read_report(path)?;
        stats.items.fetch_add(1, Ordering::Relaxed);
        findings.extend(read.into_iter().map(|f| f.into_finding()));
    }
    crate::source::fs::sort_findings(&mut findings);
    let scanned = Scanned {
        findings,
        repositories: Vec::new(),
        source_root: SourceRoot::for_dir(Path::new(".")),
        units: Units::REPORTS,
        baseline,
    };
    finish(scanned, &args.output, &config, &rules, &diag, &stats, started)
}
