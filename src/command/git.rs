//! `keyhound git`: history, ranges and staged changes of one or more repositories.

use std::time::Instant;

use git2::Repository;

use crate::cli::GitArgs;
use crate::diag::{Diagnostics, ScanStats};
use crate::exit::ExitStatus;
use crate::report::SourceRoot;
use crate::source::fs::display_path;
use crate::source::git::{self, GitError, HistoryOptions, Selection};

use super::output::{Scanned, finish};
use super::setup::{configure_threads, load_config, max_file_size, scanner};

pub fn run(args: GitArgs) -> anyhow::Result<ExitStatus> {
    let started = Instant::now();
    configure_threads(args.content.threads)?;
    let selection = selection(&args)?;
    // Each repository is opened once; keyhound.toml is read from the first one's working tree, when it has one.
    let opened: Vec<(String, Result<Repository, GitError>)> = args
        .repos
        .iter()
        .map(|path| (display_path(path), git::open(path)))
        .collect();
    let first_workdir = match opened.first() {
        Some((_, Ok(repo))) => repo.workdir(),
        _ => None,
    };
    let config = load_config(&args.rules, first_workdir)?;
    let scanner = scanner(&args.rules, &config)?;
    let options = HistoryOptions {
        selection,
        all_commits: args.all_commits,
        max_file_size: max_file_size(&args.content, &config)?,
        binary: args.content.binary,
        exclude: config.exclude_set()?,
    };
    let diag = Diagnostics::new(args.output.quiet, None);
    let stats = ScanStats::default();
    let mut findings = Vec::new();
    let mut repositories = Vec::new();
    let mut source_root = None;
    let single = args.repos.len() == 1;
    for (label, repo) in opened {
        let repo = match repo {
            Ok(repo) => repo,
            Err(err) if single => return Err(err.into()),
            Err(err) => {
                diag.error(err);
                continue;
            }
        };
        let result = if args.staged {
            git::scan_staged(&scanner, &repo, &label, &options, &diag, &stats)
        } else {
            git::scan_history(&scanner, &repo, &label, &options, &diag, &stats)
        };
        match result {
            Ok(found) => {
                findings.extend(found);
                let mut info = git::repository_info(&repo);
                if single && let Some(workdir) = repo.workdir() {
                    info.workdir_is_root = true;
                    source_root = SourceRoot::for_dir(workdir).map(|root| SourceRoot {
                        prefix: String::new(),
                        ..root
                    });
                }
                repositories.push(info);
            }
            Err(err) if single => return Err(err.into()),
            Err(err) => diag.error(err),
        }
    }
    crate::source::fs::sort_findings(&mut findings);
    // --verify / --revoke: statuses for the report, the revocation plan on stderr.
    let findings = crate::revoke::after_scan(findings, &args.verify, &args.output, &diag);
    let scanned = Scanned {
        findings,
        repositories,
        source_root,
        units: if args.staged { "staged files" } else { "blobs" },
    };
    finish(scanned, &args.output, &config, scanner.rules(), &diag, &stats, started)
}

fn selection(args: &GitArgs) -> anyhow::Result<Selection> {
    if let Some(since) = &args.since {
        return Ok(Selection::Range {
            hide: since.clone(),
            show: "HEAD".into(),
        });
    }
    if let Some(range) = &args.range {
        let Some((hide, show)) = range.split_once("..") else {
            anyhow::bail!("--range `{range}` is not of the form A..B");
        };
        if hide.is_empty() || show.trim_start_matches('.').is_empty() || show.starts_with('.') {
            anyhow::bail!("--range `{range}` is not of the form A..B (both ends are needed; A...B is not supported)");
        }
        return Ok(Selection::Range {
            hide: hide.to_string(),
            show: show.to_string(),
        });
    }
    if !args.branch.is_empty() {
        return Ok(Selection::Revisions(args.branch.clone()));
    }
    Ok(Selection::All)
}
