//! `keyhound org`: the repositories of an organisation or group, as JSON lines, one shard of them, or a matrix.

use std::io::Write;
use std::time::Duration;

use crate::cli::{Forge, OrgArgs};
use crate::diag::Diagnostics;
use crate::exit::ExitStatus;
use crate::finding::Secret;
use crate::remote::{ListFilter, ListOptions, github, gitlab, shard};

pub fn run(args: OrgArgs) -> anyhow::Result<ExitStatus> {
    let (default_base, base_variable, token_variable) = match args.forge {
        Forge::Github => (github::DEFAULT_API_BASE, github::BASE_VARIABLE, github::TOKEN_VARIABLE),
        Forge::Gitlab => (gitlab::DEFAULT_API_BASE, gitlab::BASE_VARIABLE, gitlab::TOKEN_VARIABLE),
    };
    let base = args
        .api_base
        .clone()
        .or_else(|| std::env::var(base_variable).ok().filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| default_base.to_string());
    let token = std::env::var(token_variable)
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .map(Secret::new);
    if let Some(token) = &token {
        crate::text::protect_sent(token);
    }
    let shard = shard_selection(&args)?;
    let options = ListOptions {
        base,
        token,
        token_variable,
        timeout: Duration::from_secs(args.request_timeout.max(1)),
        max_wait: Duration::from_secs(args.max_wait),
        filter: ListFilter {
            exclude_archived: args.exclude_archived,
            exclude_forks: args.exclude_forks,
        },
    };
    let diag = Diagnostics::new(args.quiet, None);
    // A rate-limit wait is announced even with --quiet: a silent pause of minutes looks like a hang.
    let on_note = |message: &str| {
        eprintln!("{}", crate::text::for_message(&format!("keyhound: note: {message}")));
    };
    let repos = match args.forge {
        Forge::Github => github::list(&args.owner, &options, &on_note)?,
        Forge::Gitlab => gitlab::list(&args.owner, &options, &on_note)?,
    };
    let total = repos.len();
    let mut out = std::io::stdout().lock();
    if let Some(count) = args.matrix {
        let matrix = shard::matrix(&repos, usize::from(count));
        let json = serde_json::to_string(&matrix)?;
        writeln!(out, "{}", crate::text::escape_json_extras(&json))?;
        diag.note(format!("{total} repositories in {} shards", matrix.include.len()));
        return Ok(ExitStatus::Clean);
    }
    let repos = match shard {
        Some((index, count)) => {
            let kept = shard::select(repos, index, count);
            diag.note(format!(
                "shard {index} of {count}: {} of {total} repositories",
                kept.len()
            ));
            kept
        }
        None => repos,
    };
    for repo in &repos {
        let json = serde_json::to_string(repo)?;
        writeln!(out, "{}", crate::text::escape_json_extras(&json))?;
    }
    out.flush()?;
    Ok(ExitStatus::Clean)
}

/// The shard to print, 0-based, and the shard count: from the flags, else a Kubernetes Indexed Job's
/// `JOB_COMPLETION_INDEX` (the count from --shard-count), else GitLab's `CI_NODE_INDEX` (1-based) and
/// `CI_NODE_TOTAL`. `None`: every repository.
fn shard_selection(args: &OrgArgs) -> anyhow::Result<Option<(usize, usize)>> {
    if args.matrix.is_some() {
        return Ok(None);
    }
    let variable = |name: &str| -> anyhow::Result<Option<usize>> {
        match std::env::var(name) {
            Ok(value) if !value.trim().is_empty() => value
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| anyhow::anyhow!("{name} is `{value}`, not a number")),
            _ => Ok(None),
        }
    };
    let flag_count = args.shard_count.map(|n| n as usize);
    let (index, count, from) = if let Some(index) = args.shard_index {
        (index, flag_count, "--shard-index")
    } else if let Some(index) = variable("JOB_COMPLETION_INDEX")? {
        (index, flag_count, "JOB_COMPLETION_INDEX")
    } else if let Some(node) = variable("CI_NODE_INDEX")? {
        let count = flag_count.or(variable("CI_NODE_TOTAL")?);
        let Some(index) = node.checked_sub(1) else {
            anyhow::bail!("CI_NODE_INDEX is 0: GitLab numbers its parallel jobs from 1");
        };
        (index, count, "CI_NODE_INDEX")
    } else if let Some(count) = flag_count {
        anyhow::bail!("--shard-count {count} needs --shard-index (or JOB_COMPLETION_INDEX, or CI_NODE_INDEX)");
    } else {
        return Ok(None);
    };
    let Some(count) = count.filter(|&n| n > 0) else {
        anyhow::bail!("the shard index comes from {from}, but no shard count is given: pass --shard-count");
    };
    if index >= count {
        anyhow::bail!("the shard index {index} (from {from}) is not below the shard count {count}");
    }
    Ok(Some((index, count)))
}
