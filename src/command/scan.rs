//! `keyhound scan`: the working tree (or stdin).

use std::path::Path;
use std::time::Instant;

use crate::cli::ScanArgs;
use crate::diag::Diagnostics;
use crate::exit::ExitStatus;
use crate::report::SourceRoot;
use crate::source::fs::{WalkOptions, scan_paths};

use super::output::{Scanned, Units, finish};
use super::setup::{check_threads, content_options, load_baseline, load_config, max_file_size, scanner};

pub fn run(args: ScanArgs) -> anyhow::Result<ExitStatus> {
    let started = Instant::now();
    check_threads(args.content.threads)?;
    let root = args.paths.first().filter(|p| p.is_dir()).map(|p| p.as_path());
    let config = load_config(&args.rules, root)?;
    let scanner = scanner(&args.rules, &config)?;
    let baseline = load_baseline(&args.output)?;
    let options = WalkOptions {
        no_ignore: args.no_ignore,
        follow_links: args.follow,
        threads: args.content.threads.unwrap_or(0),
        max_file_size: max_file_size(&args.content, &config)?,
        content: crate::content::Options {
            // --verify probes what an allow marker hides too, and reports it when it is live.
            keep_honoured: args.verify.verify || args.verify.revoke,
            ..content_options(&args.content, &config)?
        },
        exclude: config.exclude_set()?,
    };
    let diag = Diagnostics::new(args.output.quiet, crate::progress::bytes_spinner(args.output.quiet));
    let (findings, mut counts) = scan_paths(&scanner, &args.paths, &options, &diag);
    // SARIF paths are relative to the scanned directory when there is one, else to the current directory.
    let source_root = match root {
        Some(dir) if args.paths.len() == 1 => SourceRoot::for_dir(dir),
        _ => SourceRoot::for_dir(Path::new(".")),
    };
    // --verify / --revoke: statuses for the report, the revocation plan on stderr.
    let (findings, allowed_inline) =
        super::revoke::after_scan(findings, &args.verify, &args.output, baseline.as_ref(), &diag);
    counts.allowed += allowed_inline;
    let scanned = Scanned {
        findings,
        repositories: Vec::new(),
        source_root,
        units: Units::FILES,
        baseline,
        counts,
    };
    finish(scanned, &args.output, &config, scanner.rules(), &diag, started)
}
