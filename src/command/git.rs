//! `keyhound git`: history, ranges and staged changes of one or more repositories.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use git2::Repository;

use crate::cli::{ConfigFrom, GitArgs};
use crate::config::{CONFIG_FILE_NAME, ConfigFiles, LoadedConfig};
use crate::counts::{Counts, ErrorKind, ScanError};
use crate::diag::{Diagnostics, error_chain};
use crate::exit::ExitStatus;
use crate::filter::baseline::Baseline;
use crate::input::MAX_REPORT_FILE;
use crate::report::SourceRoot;
use crate::source::fs::display_path;
use crate::source::git::mirror::{self, FetchOptions, Mirror, RemoteUrl};
use crate::source::git::objects::{LooseObjects, Objects};
use crate::source::git::tree_files::TreeFiles;
use crate::source::git::{self, GitError, HistoryOptions, Selection};

use super::fetch_ahead::{FetchAhead, Fetched};
use super::output::{Scanned, Units, finish};
use super::repo_progress::{FetchDone, RepoProgress};
use super::setup::{configure_threads, content_options, load_baseline, load_config, max_file_size, scanner};
use super::state_run::StateRun;

pub fn run(args: GitArgs) -> anyhow::Result<ExitStatus> {
    let started = Instant::now();
    configure_threads(args.content.threads)?;
    let selection = selection(&args)?;
    let diag = Diagnostics::new(args.output.quiet, None);
    // Each repository is opened once; keyhound.toml is read from the first one. With no repository named, a
    // staged scan opens the one git describes to its hooks (`git commit -a` stages into a temporary index).
    // A remote one is fetched into its mirror first.
    let named = once_each(named_repositories(&args)?, &diag);
    // Remote ones are fetched on their own threads, ahead of the scan, which takes them in order.
    let mut ahead = fetch_options(&args, &named)?.map(|options| {
        let urls = named
            .iter()
            .filter_map(|t| match t {
                Target::Remote(url) => Some(url.clone()),
                Target::Local(_) => None,
            })
            .collect();
        FetchAhead::start(urls, options, usize::from(args.fetch_jobs))
    });
    // The first repository is opened before the others, for its keyhound.toml; the others one at a time in the
    // loop, so that no more than one is open and progress is told as it goes.
    let total = named.len().max(1);
    let mut first_opened = Some(if named.is_empty() {
        let here = Path::new(".");
        let repo = if args.staged {
            git::open_from_env(here)
        } else {
            git::open(here)
        };
        Opened {
            label: display_path(here),
            path: here.to_path_buf(),
            repo: repo.map_err(Into::into),
            fetched: None,
        }
    } else {
        open_target(&named[0], ahead.as_mut(), &diag)
    });
    let first = match &first_opened {
        Some(Opened { repo: Ok(repo), .. }) => Some(repo),
        _ => None,
    };
    // A range scan is CI on commits under review: their keyhound.toml and baseline could switch the scan off, so
    // both come from the base revision.
    let base = match (&selection, args.config_from) {
        (Selection::Range { hide, .. }, ConfigFrom::Base) if args.rules.config.is_none() => Some(hide.as_str()),
        _ => None,
    };
    let (config, baseline) = match (base, first) {
        (Some(rev), Some(repo)) => settings_from_base(repo, rev, &args, &diag)?,
        _ => (
            load_config(&args.rules, first.and_then(Repository::workdir))?,
            load_baseline(&args.output)?,
        ),
    };
    let scanner = scanner(&args.rules, &config)?;
    let options = HistoryOptions {
        selection: selection.clone(),
        all_commits: args.all_commits,
        // What no ref reaches is history too, but not part of a range or of --branch's revisions.
        all_objects: selection == Selection::All
            && !args.staged
            && (args.all_objects || config.config.all_objects == Some(true)),
        max_file_size: max_file_size(&args.content, &config)?,
        content: crate::content::Options {
            // A range's own allow markers are judged against its base (see `source::git::range_allows`).
            keep_allowed: matches!(selection, Selection::Range { .. }) && !args.trust_added_allow_markers,
            // --verify probes what an allow marker hides too, and reports it when it is live.
            keep_honoured: args.verify.verify || args.verify.revoke,
            ..content_options(&args.content, &config)?
        },
        exclude: config.exclude_set()?,
        read_only: args.bench_read_only,
    };
    let mut state = args.state.clone().map(StateRun::open).transpose()?;
    let mut counts = Counts::default();
    let mut findings = Vec::new();
    let mut repositories = Vec::new();
    let mut source_root = None;
    let single = total == 1;
    let mut progress = RepoProgress::new(total, &diag);
    let mut rest = named.iter().skip(1);
    loop {
        let opened = match first_opened.take() {
            Some(opened) => opened,
            None => match rest.next() {
                Some(target) => open_target(target, ahead.as_mut(), &diag),
                None => break,
            },
        };
        let Opened {
            label,
            path,
            repo,
            fetched,
        } = opened;
        progress.fetched(fetched);
        let repo = match repo {
            Ok(repo) => repo,
            Err(err) if single => return Err(err),
            Err(err) => {
                let chain = error_chain(&err);
                let reason = chain.strip_prefix(&format!("{label}: ")).unwrap_or(&chain).to_string();
                counts.fail(&diag, ScanError::new(ErrorKind::Repository, &label, reason));
                progress.failed(&label);
                continue;
            }
        };
        let started = Instant::now();
        let others = git::other_object_dirs(&repo, &path);
        for other in &others {
            diag.note(format!(
                "{label}: also reads the objects of {} (named by {}), and reports what it finds there under this \
                 repository's name",
                other.object_directory, other.named_by
            ));
        }
        // With --state: the tips as they are before the walk (what the next run starts from), and only the
        // commits the last run's tips do not reach.
        let tips = state.as_ref().map(|_| current_tips(&repo));
        let result = if args.staged {
            git::scan_staged(&scanner, &repo, &label, &options, &diag)
        } else if let Some(state) = &state {
            let scanned = state.scanned_tips(&label);
            let options = HistoryOptions {
                selection: if scanned.is_empty() {
                    Selection::All
                } else {
                    Selection::AllSince(scanned)
                },
                ..options.clone()
            };
            git::scan_history(&scanner, &repo, &label, &options, &diag)
        } else {
            git::scan_history(&scanner, &repo, &label, &options, &diag)
        };
        match result {
            Ok((mut found, scanned)) => {
                if let (Some(state), Some(tips)) = (state.as_mut(), tips) {
                    state.record(&label, tips, &mut found, &diag)?;
                }
                progress.scanned(&label, started.elapsed(), found.len());
                findings.extend(found);
                counts.add(scanned);
                let mut info = git::repository_info(&repo);
                info.label = label.clone();
                info.other_objects = others;
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
            Err(err) => {
                counts.fail(&diag, ScanError::new(ErrorKind::Repository, &label, err.to_string()));
                progress.failed(&label);
            }
        }
    }
    progress.finish();
    crate::source::fs::sort_findings(&mut findings);
    // --verify / --revoke: statuses for the report, the revocation plan on stderr.
    let (findings, allowed_inline) =
        super::revoke::after_scan(findings, &args.verify, &args.output, baseline.as_ref(), &diag);
    counts.allowed += allowed_inline;
    let scanned = Scanned {
        findings,
        repositories,
        source_root,
        units: if args.staged { Units::STAGED_FILES } else { Units::BLOBS },
        baseline,
        counts,
    };
    let status = finish(scanned, &args.output, &config, scanner.rules(), &diag, started)?;
    if let Some(state) = state {
        state.reported()?;
    }
    Ok(status)
}

/// `keyhound.toml` (with its rule files) and the `--baseline` of a range scan, read from the base revision `rev`.
/// A baseline outside the repository is read from disk: the commits under review cannot have written it.
fn settings_from_base(
    repo: &Repository,
    rev: &str,
    args: &GitArgs,
    diag: &Diagnostics,
) -> anyhow::Result<(LoadedConfig, Option<Baseline>)> {
    let loose = LooseObjects::list(repo);
    let objects = Objects::new(repo, &loose);
    let label = display_path(repo.workdir().unwrap_or(repo.path()));
    let bad = |message: String| GitError::BadRevision {
        repo: label.clone(),
        rev: rev.to_string(),
        message,
    };
    let object = repo
        .revparse_single(rev)
        .map_err(|e| GitError::unresolved(repo, &label, rev, &e))?;
    let commit = objects
        .commit(
            object
                .peel(git2::ObjectType::Commit)
                .map_err(|e| bad(e.message().to_string()))?
                .id(),
        )
        .map_err(|e| bad(e.message))?;
    let files = TreeFiles::new(&objects, commit.tree_id(), rev);
    let config = LoadedConfig::load_from(&files)?;
    if let Some(workdir) = repo.workdir()
        && workdir.join(CONFIG_FILE_NAME).exists()
    {
        diag.note(format!(
            "{CONFIG_FILE_NAME} is read from {rev}, the base of the range, not from the working tree \
             (--config-from worktree reads the working tree's)"
        ));
    }
    let baseline = match &args.output.baseline {
        None => None,
        Some(path) => match repo_relative(repo, path) {
            None => Some(Baseline::read(path)?),
            Some(rel) => {
                let tree = TreeFiles::new(&objects, commit.tree_id(), rev).with_max(MAX_REPORT_FILE);
                match tree.read(&rel).map_err(anyhow::Error::msg)? {
                    Some(bytes) => Some(Baseline::parse(&bytes, &tree.name(&rel))?),
                    None => {
                        diag.note(format!(
                            "the baseline {} is not in {rev}, the base of the range: no baseline is applied",
                            path.display()
                        ));
                        None
                    }
                }
            }
        },
    };
    Ok((config, baseline))
}

/// `path` (relative to the current directory) relative to the repository's working tree, when it lies inside it.
fn repo_relative(repo: &Repository, path: &Path) -> Option<PathBuf> {
    let workdir = std::fs::canonicalize(repo.workdir()?).ok()?;
    let absolute = std::env::current_dir().ok()?.join(path);
    let parent = std::fs::canonicalize(absolute.parent()?).ok()?;
    let resolved = parent.join(absolute.file_name()?);
    resolved.strip_prefix(&workdir).ok().map(Path::to_path_buf)
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

/// A repository named on the command line or in --repos-from.
enum Target {
    Local(PathBuf),
    Remote(RemoteUrl),
}

/// The repositories named by the arguments and by --repos-from, in that order. An argument that exists as a
/// path is a path, even when it looks like `host:path`.
fn named_repositories(args: &GitArgs) -> anyhow::Result<Vec<Target>> {
    let mut names: Vec<PathBuf> = args.repos.clone();
    if let Some(file) = &args.repos_from {
        let text = if file.as_os_str() == "-" {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin().lock(), &mut text)
                .map_err(|e| anyhow::anyhow!("cannot read the repositories on standard input: {e}"))?;
            text
        } else {
            crate::input::read_text(file, MAX_REPORT_FILE)?
        };
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if line.starts_with('{') {
                let value: serde_json::Value = serde_json::from_str(line).map_err(|e| {
                    anyhow::anyhow!(
                        "{} line {}: not a JSON object of `keyhound org`: {e}",
                        file.display(),
                        number + 1
                    )
                })?;
                let Some(url) = value.get("clone_url").and_then(serde_json::Value::as_str) else {
                    anyhow::bail!(
                        "{} line {}: no `clone_url` in the JSON object",
                        file.display(),
                        number + 1
                    );
                };
                names.push(PathBuf::from(url));
            } else {
                names.push(PathBuf::from(line));
            }
        }
    }
    if names.is_empty()
        && let Some(file) = &args.repos_from
    {
        // An empty list must not fall back to the repository around the current directory: a CI shard with
        // nothing in it would scan the job's own checkout and pass.
        anyhow::bail!("{}: no repositories listed", file.display());
    }
    Ok(names
        .into_iter()
        .map(|name| match name.to_str().and_then(RemoteUrl::parse) {
            Some(url) if !name.exists() => Target::Remote(url),
            _ => Target::Local(name),
        })
        .collect())
}

/// The targets with each remote repository once: one named twice (or with and without userinfo) has one mirror,
/// and two fetches into it at once would trip over each other.
fn once_each(named: Vec<Target>, diag: &Diagnostics) -> Vec<Target> {
    let mut mirrors = std::collections::HashSet::new();
    named
        .into_iter()
        .filter(|target| match target {
            Target::Remote(url) if !mirrors.insert(url.cache_name()) => {
                diag.note(format!("{} is named more than once: it is scanned once", url.shown()));
                false
            }
            _ => true,
        })
        .collect()
}

/// How remote repositories are fetched, when any is named.
fn fetch_options(args: &GitArgs, named: &[Target]) -> anyhow::Result<Option<FetchOptions>> {
    if !named.iter().any(|t| matches!(t, Target::Remote(_))) {
        return Ok(None);
    }
    let cache_dir = match &args.cache_dir {
        Some(dir) => dir.clone(),
        None => mirror::default_cache_dir().ok_or_else(|| {
            anyhow::anyhow!(
                "no cache directory for remote repositories: set --cache-dir (neither XDG_CACHE_HOME nor HOME is set)"
            )
        })?,
    };
    Ok(Some(FetchOptions {
        cache_dir,
        timeout: Duration::from_secs(args.fetch_timeout.max(1)),
        tokens: mirror::tokens_from_env(),
    }))
}

/// A repository opened for the scan, under its label; for a remote one, what its fetch did.
struct Opened {
    label: String,
    path: PathBuf,
    repo: anyhow::Result<Repository>,
    fetched: Option<FetchDone>,
}

/// Opens a local repository, or takes a remote one's mirror from the fetches under way and opens that. Remote
/// targets must be taken in the order they were named.
fn open_target(target: &Target, ahead: Option<&mut FetchAhead>, diag: &Diagnostics) -> Opened {
    match target {
        Target::Local(path) => Opened {
            label: display_path(path),
            path: path.clone(),
            repo: git::open(path).map_err(Into::into),
            fetched: None,
        },
        Target::Remote(url) => {
            let label = url.shown().to_string();
            let fetched = ahead.and_then(|ahead| ahead.take_next());
            let result = match fetched {
                Some(Fetched { result, took }) => result.map(|mirror| (mirror, took)).map_err(anyhow::Error::from),
                None => Err(anyhow::anyhow!("{label}: the fetch did not finish")),
            };
            match result {
                Ok((found, took)) => {
                    note_mirror(diag, &label, &found);
                    Opened {
                        label,
                        repo: git::open(&found.path).map_err(Into::into),
                        fetched: Some(FetchDone {
                            bytes: found.fetched_bytes,
                            took,
                            up_to_date: !found.fetched,
                        }),
                        path: found.path,
                    }
                }
                Err(err) => Opened {
                    label,
                    path: PathBuf::new(),
                    repo: Err(err),
                    fetched: None,
                },
            }
        }
    }
}

/// What is worth saying about a fresh mirror.
fn note_mirror(diag: &Diagnostics, label: &str, found: &Mirror) {
    if found.shallow {
        diag.note(format!(
            "{label}: the server's repository is shallow: history before its cut is not there to scan"
        ));
    }
    if found.partial {
        diag.note(format!(
            "{label}: the mirror is a partial clone: objects the server left out are not scanned"
        ));
    }
}

/// The commits the repository's refs (and HEAD) point at now, as hex ids: what a `--state` run records.
fn current_tips(repo: &Repository) -> std::collections::BTreeSet<String> {
    let mut tips = std::collections::BTreeSet::new();
    if let Ok(references) = repo.references() {
        for reference in references.flatten() {
            if let Ok(commit) = reference.peel_to_commit() {
                tips.insert(commit.id().to_string());
            }
        }
    }
    if let Ok(head) = repo.head()
        && let Ok(commit) = head.peel_to_commit()
    {
        tips.insert(commit.id().to_string());
    }
    tips
}
