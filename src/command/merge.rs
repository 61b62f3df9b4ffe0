//! `keyhound merge`: several JSON / JSON Lines reports into one.

use std::path::Path;
use std::time::Instant;

use crate::cli::MergeArgs;
use crate::counts::Counts;
use crate::diag::Diagnostics;
use crate::exit::ExitStatus;
use crate::filter::state::State;
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
    if let Some(status) = merge_states(&args)? {
        return Ok(status);
    }
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

/// State files of `keyhound git --state` (one per CI job, say) united into one, written to `-o` or stdout; `None`
/// when the inputs are reports. Reports and state files are not merged together.
fn merge_states(args: &MergeArgs) -> anyhow::Result<Option<ExitStatus>> {
    let mut states = Vec::new();
    for path in &args.reports {
        // A named pipe or a device is refused before it is opened, never waited on.
        crate::input::check_regular(path, Some(crate::input::MAX_REPORT_FILE))?;
        let mut head = Vec::new();
        std::fs::File::open(path)
            .and_then(|file| std::io::Read::read_to_end(&mut std::io::Read::take(file, 4096), &mut head))
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        states.push(
            State::starts_like_state(&head)
                .then(|| State::read_or_new(path))
                .transpose()?,
        );
    }
    if states.iter().all(Option::is_none) {
        return Ok(None);
    }
    if states.iter().any(Option::is_none) {
        anyhow::bail!("merge takes reports or state files (--state), not both at once");
    }
    let mut merged = State::new();
    for state in states.into_iter().flatten() {
        merged.merge(state);
    }
    match &args.output.output {
        Some(path) => merged.write(path)?,
        None => println!("{}", serde_json::to_string_pretty(&merged)?),
    }
    Ok(Some(ExitStatus::Clean))
}
