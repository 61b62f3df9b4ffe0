//! `keyhound image`: container images from archives, OCI layouts and registries.

use std::time::{Duration, Instant};

use crate::cli::ImageArgs;
use crate::diag::Diagnostics;
use crate::exit::ExitStatus;
use crate::report::SourceRoot;
use crate::source::image::{ImageOptions, PlatformChoice, scan_images, target_error};

use super::output::{Scanned, Units, finish};
use super::setup::{configure_threads, content_options, load_baseline, load_config, max_file_size, scanner};

pub fn run(args: ImageArgs) -> anyhow::Result<ExitStatus> {
    let started = Instant::now();
    configure_threads(args.content.threads)?;
    let config = load_config(&args.rules, None)?;
    let scanner = scanner(&args.rules, &config)?;
    let baseline = load_baseline(&args.output)?;
    let platform = match (args.platform, args.all_platforms) {
        (_, true) => PlatformChoice::All,
        (Some(platform), false) => PlatformChoice::One(platform),
        (None, false) => PlatformChoice::Host,
    };
    let options = ImageOptions {
        platform,
        max_file_size: max_file_size(&args.content, &config)?,
        max_layer_size: args.max_layer_size.unwrap_or(ImageOptions::DEFAULT_MAX_LAYER_SIZE),
        content: crate::content::Options {
            // --verify probes what an allow marker hides too, and reports it when it is live.
            keep_honoured: args.verify.verify || args.verify.revoke,
            ..content_options(&args.content, &config)?
        },
        exclude: config.exclude_set()?,
        request_timeout: Duration::from_secs(args.verify.revoke_options.request_timeout.max(1)),
        insecure_registries: args.insecure_registry.clone(),
    };
    let diag = Diagnostics::new(args.output.quiet, crate::progress::bytes_spinner(args.output.quiet));
    let mut scanned = scan_images(&scanner, &args.targets, &options, &diag);
    if scanned.images == 0
        && let Some(first) = scanned.failed.first()
    {
        // Nothing could be opened: an error, not a clean scan.
        return Err(first.clone().into());
    }
    for failed in &scanned.failed {
        scanned.counts.fail(&diag, target_error(failed));
    }
    let mut counts = scanned.counts;
    let (findings, allowed_inline) =
        super::revoke::after_scan(scanned.findings, &args.verify, &args.output, baseline.as_ref(), &diag);
    counts.allowed += allowed_inline;
    let scanned = Scanned {
        findings,
        repositories: Vec::new(),
        source_root: SourceRoot::for_dir(std::path::Path::new(".")),
        units: Units::FILES,
        baseline,
        counts,
    };
    finish(scanned, &args.output, &config, scanner.rules(), &diag, started)
}
