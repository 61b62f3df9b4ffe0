//! `keyhound merge`: several JSON / JSON Lines reports into one.

use std::path::Path;
use std::time::Instant;

use crate::cli::MergeArgs;
use crate::counts::Counts;
use crate::diag::Diagnostics;
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
    let mut counts = Counts::default();
    let mut findings = Vec::new();
    for path in &args.reports {
        let read = read_report(path)?;
        counts.items += 1;
        findings.extend(read.findings.into_iter().map(|f| f.into_finding()));
        // What the inputs' scans could not read stays in the merged report.
        counts.add(Counts {
            errors: read.scan_errors,
            errors_omitted: read.scan_errors_omitted,
            ..Counts::default()
        });
    }
    crate::source::fs::sort_findings(&mut findings);
    let scanned = Scanned {
        findings,
        repositories: Vec::new(),
        source_root: SourceRoot::for_dir(Path::new(".")),
        units: Units::REPORTS,
        baseline,
        counts,
    };
    finish(scanned, &args.output, &config, &rules, &diag, started)
}
