//! What every scanning command does after the scan: baseline, report, summary, exit status.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::time::Instant;

use anyhow::Context;

use crate::cli::{ColorChoice, OutputArgs};
use crate::config::LoadedConfig;
use crate::diag::{Diagnostics, ScanStats};
use crate::exit::ExitStatus;
use crate::filter::baseline::Baseline;
use crate::finding::Finding;
use crate::report::{Format, ReportContext, RepositoryInfo, SourceRoot, write_report};
use crate::rules::RuleSet;

/// What a scan produced, ready to be filtered and reported.
pub struct Scanned {
    pub findings: Vec<Finding>,
    /// Repositories scanned (history scans), for SARIF provenance.
    pub repositories: Vec<RepositoryInfo>,
    /// What finding paths are relative to.
    pub source_root: Option<SourceRoot>,
    /// What was counted: "files", "blobs", "staged files".
    pub units: &'static str,
}

/// Applies the baseline, writes the report and the summary, and works out the exit status.
pub fn finish(
    scanned: Scanned,
    args: &OutputArgs,
    config: &LoadedConfig,
    rules: &RuleSet,
    diag: &Diagnostics,
    stats: &ScanStats,
    started: Instant,
) -> anyhow::Result<ExitStatus> {
    let Scanned {
        mut findings,
        repositories,
        source_root,
        units,
    } = scanned;
    if let Some(bar) = diag.progress() {
        bar.finish_and_clear();
    }
    crate::filter::dedup(&mut findings);
    if let Some(path) = &args.write_baseline {
        Baseline::from_findings(&findings).write(path)?;
        if !args.quiet {
            eprintln!(
                "keyhound: wrote {} fingerprint(s) to baseline {}",
                findings.len(),
                path.display()
            );
        }
    }
    let mut baselined = 0;
    if let Some(path) = &args.baseline {
        baselined = Baseline::read(path)?.apply(&mut findings);
    }
    let format = args.format.or(config.config.format).unwrap_or(Format::Human);
    let color = match args.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            args.output.is_none() && std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal()
        }
    };
    let context = ReportContext {
        rules,
        show_secrets: args.show_secrets,
        color,
        repositories: &repositories,
        source_root,
    };
    match &args.output {
        Some(path) => {
            let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
            let mut out = BufWriter::new(file);
            write_report(format, &findings, &context, &mut out)
                .and_then(|()| out.flush())
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        None => {
            let stdout = std::io::stdout();
            let mut out = BufWriter::new(stdout.lock());
            write_report(format, &findings, &context, &mut out)?;
            out.flush()?;
        }
    }
    if !args.quiet {
        eprintln!("{}", summary_line(&findings, stats, started, baselined, units));
    }
    Ok(if !findings.is_empty() {
        ExitStatus::Findings(args.exit_code)
    } else if diag.errored() && stats.items.load(std::sync::atomic::Ordering::Relaxed) == 0 {
        ExitStatus::Error
    } else {
        ExitStatus::Clean
    })
}

fn summary_line(findings: &[Finding], stats: &ScanStats, started: Instant, baselined: usize, units: &str) -> String {
    let secs = started.elapsed().as_secs_f64();
    let bytes = ScanStats::get(&stats.bytes);
    let rate = if secs > 0.0 { bytes as f64 / secs } else { 0.0 };
    let mut line = format!(
        "keyhound: {} finding(s) in {} {}",
        findings.len(),
        ScanStats::get(&stats.items),
        units,
    );
    let commits = ScanStats::get(&stats.commits);
    if commits > 0 {
        line.push_str(&format!(" from {commits} commit(s)"));
    }
    line.push_str(&format!(
        ", {} in {secs:.2}s ({}/s)",
        bytesize::ByteSize(bytes).display().iec(),
        bytesize::ByteSize(rate as u64).display().iec()
    ));
    let mut extras = Vec::new();
    if baselined > 0 {
        extras.push(format!("{baselined} in baseline"));
    }
    let allowed = ScanStats::get(&stats.allowed);
    if allowed > 0 {
        extras.push(format!("{allowed} allowed inline"));
    }
    let large = ScanStats::get(&stats.skipped_large);
    if large > 0 {
        extras.push(format!("{large} too large"));
    }
    let binary = ScanStats::get(&stats.skipped_binary);
    if binary > 0 {
        extras.push(format!("{binary} binary skipped"));
    }
    if !extras.is_empty() {
        line.push_str(&format!(" [{}]", extras.join(", ")));
    }
    if !findings.is_empty() {
        let mut by_rule: Vec<(String, usize)> = Vec::new();
        for finding in findings {
            match by_rule.iter_mut().find(|(id, _)| *id == finding.rule_id) {
                Some((_, count)) => *count += 1,
                None => by_rule.push((finding.rule_id.clone(), 1)),
            }
        }
        let parts: Vec<String> = by_rule.iter().map(|(id, n)| format!("{id}: {n}")).collect();
        line.push_str(&format!("\nkeyhound: by rule: {}", parts.join(", ")));
    }
    line
}
