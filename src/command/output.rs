//! What every scanning command does after the scan: baseline, report, summary, exit status.

use std::io::{BufWriter, IsTerminal, Write};
use std::time::Instant;

use anyhow::Context;

use crate::cli::{ColorChoice, OutputArgs};
use crate::config::LoadedConfig;
use crate::counts::Counts;
use crate::diag::Diagnostics;
use crate::exit::ExitStatus;
use crate::filter::baseline::Baseline;
use crate::finding::Finding;
use crate::output_file::{self, OutputFile};
use crate::report::{Format, ReportContext, RepositoryInfo, SourceRoot, write_report};
use crate::rules::RuleSet;

/// What a scan produced, ready to be filtered and reported.
pub struct Scanned {
    pub findings: Vec<Finding>,
    /// Repositories scanned (history scans), for SARIF provenance.
    pub repositories: Vec<RepositoryInfo>,
    /// What finding paths are relative to.
    pub source_root: Option<SourceRoot>,
    /// What was counted.
    pub units: Units,
    /// The baseline in force (`--baseline`, read before the scan).
    pub baseline: Option<Baseline>,
    /// What the sources scanned, skipped and could not read, added up.
    pub counts: Counts,
}

/// Applies the baseline, writes the report and the summary, and works out the exit status.
pub fn finish(
    scanned: Scanned,
    args: &OutputArgs,
    config: &LoadedConfig,
    rules: &RuleSet,
    diag: &Diagnostics,
    started: Instant,
) -> anyhow::Result<ExitStatus> {
    let Scanned {
        mut findings,
        repositories,
        source_root,
        units,
        baseline,
        counts,
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
    let baselined = baseline.as_ref().map_or(0, |baseline| baseline.apply(&mut findings));
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
        scan_errors: &counts.errors,
        scan_errors_omitted: counts.errors_omitted,
    };
    match &args.output {
        Some(path) => {
            // Raw secrets are for the owner's eyes only.
            let mode = if args.show_secrets {
                output_file::PRIVATE
            } else {
                output_file::SHARED
            };
            let mut file = OutputFile::create(path, mode).context("cannot write the report")?;
            let mut out = BufWriter::new(&mut file);
            write_report(format, &findings, &context, &mut out)
                .and_then(|()| out.flush())
                .with_context(|| format!("cannot write {}", path.display()))?;
            drop(out);
            file.persist().context("cannot write the report")?;
        }
        None => {
            let stdout = std::io::stdout();
            let mut out = BufWriter::new(stdout.lock());
            write_report(format, &findings, &context, &mut out)?;
            out.flush()?;
        }
    }
    let fail_on_errors = args.fail_on_scan_errors || config.config.fail_on_scan_errors.unwrap_or(false);
    if !args.quiet {
        let summary = Summary::new(&findings, &counts, started.elapsed().as_secs_f64(), baselined, config);
        eprintln!("{}", summary.line(units));
    }
    if counts.error_count() > 0 {
        // Said even with --quiet: a scan that could not read part of its input must not look complete.
        eprintln!(
            "keyhound: warning: the scan is incomplete: {} could not be read ({}){}",
            counts.error_count(),
            counts.errors_by_kind(),
            if fail_on_errors {
                "; --fail-on-scan-errors: exit code 2"
            } else {
                "; --fail-on-scan-errors makes this exit code 2"
            }
        );
    }
    Ok(exit_status(
        findings.len(),
        &counts,
        fail_on_errors,
        diag.errored(),
        args.exit_code,
    ))
}

/// The exit status: 2 for scan errors under `--fail-on-scan-errors`, or when nothing at all could be scanned;
/// else `--exit-code` for findings, 0 for none.
fn exit_status(findings: usize, counts: &Counts, fail_on_errors: bool, errored: bool, exit_code: u8) -> ExitStatus {
    let scanned_nothing = counts.items == 0 && counts.messages == 0;
    if fail_on_errors && counts.error_count() > 0 {
        ExitStatus::Error
    } else if findings > 0 {
        ExitStatus::Findings(exit_code)
    } else if errored && scanned_nothing {
        ExitStatus::Error
    } else {
        ExitStatus::Clean
    }
}

/// What was counted: "file"/"files", "blob"/"blobs".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Units {
    pub one: &'static str,
    pub many: &'static str,
}

impl Units {
    pub const FILES: Units = Units {
        one: "file",
        many: "files",
    };
    pub const BLOBS: Units = Units {
        one: "blob",
        many: "blobs",
    };
    pub const STAGED_FILES: Units = Units {
        one: "staged file",
        many: "staged files",
    };
    pub const REPORTS: Units = Units {
        one: "report",
        many: "reports",
    };

    fn of(self, n: u64) -> String {
        format!("{n} {}", if n == 1 { self.one } else { self.many })
    }
}

/// The numbers the summary line shows.
#[derive(Debug, Clone, Default)]
struct Summary {
    findings: usize,
    items: u64,
    commits: u64,
    bytes: u64,
    secs: f64,
    baselined: usize,
    allowed: u64,
    too_large: u64,
    binary: u64,
    lfs_pointers: u64,
    members: u64,
    excluded: u64,
    /// What could not be read: how many, and by kind.
    unreadable: u64,
    unreadable_kinds: String,
    /// The config that excluded paths, when it has `exclude_paths`.
    excluding_config: Option<String>,
    /// Findings per rule id, in order of first appearance.
    by_rule: Vec<(String, usize)>,
}

impl Summary {
    fn new(findings: &[Finding], counts: &Counts, secs: f64, baselined: usize, config: &LoadedConfig) -> Summary {
        let mut by_rule: Vec<(String, usize)> = Vec::new();
        for finding in findings {
            match by_rule.iter_mut().find(|(id, _)| *id == finding.rule_id) {
                Some((_, count)) => *count += 1,
                None => by_rule.push((finding.rule_id.clone(), 1)),
            }
        }
        Summary {
            findings: findings.len(),
            items: counts.items,
            commits: counts.commits,
            bytes: counts.bytes,
            secs,
            baselined,
            allowed: counts.allowed,
            too_large: counts.too_large,
            binary: counts.binary,
            lfs_pointers: counts.lfs_pointers,
            members: counts.members,
            excluded: counts.excluded,
            unreadable: counts.error_count(),
            unreadable_kinds: counts.errors_by_kind(),
            excluding_config: config.path.clone().filter(|_| !config.config.exclude_paths.is_empty()),
            by_rule,
        }
    }

    fn line(&self, units: Units) -> String {
        let rate = if self.secs > 0.0 {
            self.bytes as f64 / self.secs
        } else {
            0.0
        };
        let mut line = format!(
            "keyhound: {} finding{} in {}",
            self.findings,
            if self.findings == 1 { "" } else { "s" },
            units.of(self.items)
        );
        if self.commits > 0 {
            line.push_str(&format!(
                " from {} commit{}",
                self.commits,
                if self.commits == 1 { "" } else { "s" }
            ));
        }
        line.push_str(&format!(
            ", {} in {:.2}s ({}/s)",
            bytesize::ByteSize(self.bytes).display().iec(),
            self.secs,
            bytesize::ByteSize(rate as u64).display().iec()
        ));
        let mut extras = Vec::new();
        if self.members > 0 {
            extras.push(format!(
                "{} archive member{}",
                self.members,
                if self.members == 1 { "" } else { "s" }
            ));
        }
        if self.baselined > 0 {
            extras.push(format!("{} in baseline", self.baselined));
        }
        if self.allowed > 0 {
            extras.push(format!("{} allowed inline", self.allowed));
        }
        if self.too_large > 0 {
            extras.push(format!("{} too large", self.too_large));
        }
        if self.binary > 0 {
            extras.push(format!("{} binary skipped", self.binary));
        }
        if self.lfs_pointers > 0 {
            extras.push(format!(
                "{} LFS pointer{} skipped",
                self.lfs_pointers,
                if self.lfs_pointers == 1 { "" } else { "s" }
            ));
        }
        if self.unreadable > 0 {
            extras.push(format!(
                "{} could not be read: {}",
                self.unreadable, self.unreadable_kinds
            ));
        }
        // What a config excluded is always said, even when it is nothing: a config can switch a scan off.
        if let Some(config) = &self.excluding_config {
            extras.push(format!("{} excluded by {config}", self.excluded));
        }
        if !extras.is_empty() {
            line.push_str(&format!(" [{}]", extras.join(", ")));
        }
        if !self.by_rule.is_empty() {
            let parts: Vec<String> = self.by_rule.iter().map(|(id, n)| format!("{id}: {n}")).collect();
            line.push_str(&format!("\nkeyhound: by rule: {}", parts.join(", ")));
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counts::{ErrorKind, ScanError};

    #[test]
    fn scan_errors_decide_the_exit_code_only_when_asked() {
        let mut counts = Counts {
            items: 3,
            ..Counts::default()
        };
        assert_eq!(exit_status(0, &counts, true, false, 1), ExitStatus::Clean);
        counts.fail(
            &Diagnostics::new(true, None),
            ScanError::new(ErrorKind::Blob, "b", "gone"),
        );
        assert_eq!(exit_status(0, &counts, false, true, 1), ExitStatus::Clean);
        assert_eq!(exit_status(1, &counts, false, true, 1), ExitStatus::Findings(1));
        assert_eq!(exit_status(0, &counts, true, true, 1), ExitStatus::Error);
        assert_eq!(exit_status(1, &counts, true, true, 1), ExitStatus::Error);
        counts.items = 0;
        assert_eq!(
            exit_status(0, &counts, false, true, 1),
            ExitStatus::Error,
            "nothing could be scanned"
        );
    }

    #[test]
    fn the_summary_line_counts_in_words() {
        let mut summary = Summary {
            items: 1,
            bytes: 2048,
            secs: 0.5,
            ..Summary::default()
        };
        assert_eq!(
            summary.line(Units::FILES),
            "keyhound: 0 findings in 1 file, 2.0 KiB in 0.50s (4.0 KiB/s)"
        );
        summary.findings = 1;
        summary.items = 3;
        summary.commits = 1;
        summary.binary = 2;
        summary.unreadable = 2;
        summary.unreadable_kinds = "1 blob, 1 tree".into();
        summary.excluding_config = Some("keyhound.toml".into());
        summary.by_rule = vec![("openai-legacy-key".into(), 1)];
        assert_eq!(
            summary.line(Units::BLOBS),
            "keyhound: 1 finding in 3 blobs from 1 commit, 2.0 KiB in 0.50s (4.0 KiB/s) [2 binary skipped, 2 could not \
             be read: 1 blob, 1 tree, 0 excluded by keyhound.toml]\nkeyhound: by rule: openai-legacy-key: 1"
        );
    }
}
