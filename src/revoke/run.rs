//! A whole verification or revocation run over keys of several providers: a client per provider, every key
//! probed once at its own provider, then, per provider, the revocation flow (when the provider has a revoker and
//! its admin credential is set) or a block that says a person must do it and where; a closing table and a
//! summary line per provider.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use crate::exit::ExitStatus;
use crate::finding::{Finding, Secret, Verification};

use super::audit::AuditLog;
use super::client::Client;
use super::flow::{Flow, KeyResult, Outcome, Reason, Settings, by_hand};
use super::keys::{self, Collected, LeakedKey, Unrecovered};
use super::provider::{self, Provider};
use super::verify::{Probe, Target, probe_all};

/// How a run goes: the library's own options (the commands build them from their arguments).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Really disable or delete (`--yes`); otherwise a dry run.
    pub yes: bool,
    /// Delete a whole service account when its key cannot be deleted alone.
    pub delete_service_accounts: bool,
    pub audit_log: Option<PathBuf>,
    /// Base URLs given by the command (`--api-base` is OpenAI's), by provider name, over the base variables.
    pub api_bases: Vec<(String, String)>,
    /// How long to keep probing a disabled key until it is rejected.
    pub confirm_timeout: Duration,
    /// Timeout of each HTTP request.
    pub request_timeout: Duration,
    /// Time for the probes of all keys together.
    pub verify_timeout: Duration,
    /// No progress or summary lines.
    pub quiet: bool,
}

/// Errors of a run's setup: nothing was sent.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("{0}")]
    MissingAdminKey(String),
    #[error("--verify-timeout must be at least 1 second")]
    VerifyTimeout,
    #[error("--request-timeout must be at least 1 second")]
    RequestTimeout,
}

/// The sentence for a missing admin credential.
fn missing(revoker: &dyn provider::Revoker) -> String {
    let variable = revoker.admin_variable();
    format!(
        "{variable} is not set: revoking needs {} in the environment variable {variable} (never on the command \
         line); create one at {}",
        revoker.admin_description(),
        revoker.admin_keys_url()
    )
}

/// Is `name` a provider keyhound has a module for?
pub fn known(name: &str) -> bool {
    provider::find(name).is_some()
}

/// The providers of `keys` and `unrecovered`, in order of first appearance.
fn providers_of(keys: &[LeakedKey], unrecovered: &[Unrecovered]) -> Vec<&'static dyn Provider> {
    let mut seen: Vec<&'static dyn Provider> = Vec::new();
    let names = keys
        .iter()
        .map(|k| &k.provider)
        .chain(unrecovered.iter().map(|u| &u.provider));
    for name in names {
        if let Some(p) = provider::find(name)
            && !seen.iter().any(|s| s.name() == p.name())
        {
            seen.push(p);
        }
    }
    seen
}

/// The clients of each provider: its API at `--api-base` (OpenAI only), else `KEYHOUND_<PROVIDER>_API_BASE`, else
/// the documented host; then its other regions' (`KEYHOUND_<PROVIDER>_<REGION>_API_BASE`, else theirs). Any
/// endpoint but the documented one is named on stderr before the first request.
fn clients(
    providers: &[&'static dyn Provider],
    options: &Options,
) -> anyhow::Result<HashMap<&'static str, Vec<Client>>> {
    if options.request_timeout.is_zero() {
        return Err(SetupError::RequestTimeout.into());
    }
    let mut clients = HashMap::new();
    for provider in providers {
        let api = provider.api();
        let given = options
            .api_bases
            .iter()
            .find(|(name, _)| name == provider.name())
            .map(|(_, base)| base.clone());
        let mut made = vec![client_for(
            *provider,
            "API",
            &api,
            api.default_base,
            given,
            &provider::base_variable(*provider),
            options,
        )?];
        for region in provider.regions() {
            let variable = provider::region_variable(*provider, region);
            made.push(client_for(
                *provider,
                "API",
                &api,
                region.default_base,
                None,
                &variable,
                options,
            )?);
        }
        clients.insert(provider.name(), made);
    }
    Ok(clients)
}

/// A client for `api` at the base the command gave, else at `variable`'s, else at `default_base`; any base but
/// the default is named on stderr (`what`: `API`, `admin API`).
fn client_for(
    provider: &dyn Provider,
    what: &str,
    api: &provider::Api,
    default_base: &str,
    given: Option<String>,
    variable: &str,
    options: &Options,
) -> anyhow::Result<Client> {
    let base = given
        .or_else(|| std::env::var(variable).ok().filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| default_base.to_string());
    let client = Client::for_api(&base, api.strip, options.request_timeout, api.auth, api.headers)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .map_err(|e| e.context(format!("{} {what} base ({variable})", provider.label())))?;
    if client.base() != default_base {
        eprintln!(
            "keyhound: note: {} {what} requests go to {}, not {default_base}",
            provider.label(),
            crate::text::for_message(client.base()),
        );
    }
    Ok(client)
}

/// The client of a revoker's own admin API (`Revoker::admin_api`), for the providers that have one: its variable,
/// else the documented host; any other endpoint is named on stderr.
fn admin_clients(
    providers: &[&'static dyn Provider],
    options: &Options,
) -> anyhow::Result<HashMap<&'static str, Client>> {
    let mut clients = HashMap::new();
    for provider in providers {
        let Some((api, variable)) = provider.revoker().and_then(|r| r.admin_api()) else {
            continue;
        };
        let client = client_for(*provider, "admin API", &api, api.default_base, None, variable, options)?;
        clients.insert(provider.name(), client);
    }
    Ok(clients)
}

/// The admin credential of `revoker` from the environment. From here on it is redacted in every output,
/// whatever a server echoes.
fn admin_key(revoker: &dyn provider::Revoker) -> Option<Secret> {
    let admin = std::env::var(revoker.admin_variable())
        .ok()
        .map(|value| value.trim().to_string())
        .filter(|value| !value.is_empty())
        .map(Secret::new)?;
    crate::text::protect(&admin);
    Some(admin)
}

fn audit_log(options: &Options) -> anyhow::Result<AuditLog> {
    use anyhow::Context;
    match &options.audit_log {
        Some(path) => AuditLog::open(path, !options.yes).context("--audit-log"),
        None => Ok(AuditLog::disabled(!options.yes)),
    }
}

/// The admin credentials of the providers that have a revoker: `Some` when set. Errors when keys need one and
/// none is set at all (nothing is sent then).
fn credentials(providers: &[&'static dyn Provider]) -> Result<HashMap<&'static str, Secret>, SetupError> {
    let revocable: Vec<&dyn provider::Revoker> = providers.iter().filter_map(|p| p.revoker()).collect();
    let found: HashMap<&'static str, Secret> = providers
        .iter()
        .filter_map(|p| Some((p.name(), admin_key(p.revoker()?)?)))
        .collect();
    if found.is_empty() && !revocable.is_empty() {
        let sentences: Vec<String> = revocable.iter().map(|r| missing(*r)).collect();
        return Err(SetupError::MissingAdminKey(sentences.join("\n")));
    }
    Ok(found)
}

/// What a run did for each key.
pub struct Done {
    pub keys: Vec<LeakedKey>,
    pub probes: Vec<Probe>,
    /// With revocation: one per key, `None` for a key only probed (not revocable).
    pub results: Option<Vec<Option<KeyResult>>>,
}

/// Probes every key at its provider, and with `revoke`, runs each provider's revocation, writing the blocks,
/// closing tables and summaries to `out`.
fn probe_and_revoke(
    collected: &Collected,
    revocable: &dyn Fn(&LeakedKey) -> bool,
    options: &Options,
    revoke: bool,
    warn_on_stderr: bool,
    out: &mut dyn Write,
) -> anyhow::Result<Done> {
    let providers = providers_of(&collected.keys, &collected.unrecovered);
    let to_revoke: Vec<LeakedKey> = collected.keys.iter().filter(|k| revocable(k)).cloned().collect();
    // Without any admin credential there is nothing to revoke with: say so before sending any key anywhere.
    let credentials = if revoke {
        credentials(&providers_of(&to_revoke, &collected.unrecovered))?
    } else {
        HashMap::new()
    };
    if options.verify_timeout.is_zero() {
        return Err(SetupError::VerifyTimeout.into());
    }
    let clients = clients(&providers, options)?;
    let audit = audit_log(options)?;
    let targets: HashMap<&str, Target<'_>> = providers
        .iter()
        .filter_map(|p| {
            let (client, regions) = clients.get(p.name())?.split_first()?;
            let regions = regions
                .iter()
                .map(|c| (crate::text::for_message(c.base()), c))
                .collect();
            Some((
                p.name(),
                Target {
                    provider: *p,
                    client,
                    regions,
                },
            ))
        })
        .collect();
    let probes = probe_all(&targets, &collected.keys, &audit, options.verify_timeout)?;
    let admin_clients = if revoke {
        admin_clients(&providers, options)?
    } else {
        HashMap::new()
    };
    if !revoke {
        return Ok(Done {
            keys: collected.keys.clone(),
            probes,
            results: None,
        });
    }
    let settings = Settings {
        yes: options.yes,
        delete_service_accounts: options.delete_service_accounts,
        confirm_timeout: options.confirm_timeout,
        warn_on_stderr,
    };
    let mut results: Vec<Option<KeyResult>> = vec![None; collected.keys.len()];
    for provider in &providers {
        let indices: Vec<usize> = (0..collected.keys.len())
            .filter(|&i| collected.keys[i].provider == provider.name() && revocable(&collected.keys[i]))
            .collect();
        let keys: Vec<LeakedKey> = indices.iter().map(|&i| collected.keys[i].clone()).collect();
        let key_probes: Vec<Probe> = indices.iter().map(|&i| probes[i].clone()).collect();
        let unrecovered: Vec<Unrecovered> = collected
            .unrecovered
            .iter()
            .filter(|u| u.provider == provider.name())
            .cloned()
            .collect();
        if indices.is_empty() && unrecovered.is_empty() {
            continue;
        }
        let client = clients.get(provider.name()).and_then(|c| c.first());
        let provider_results = match (provider.revoker(), credentials.get(provider.name()), client) {
            (Some(revoker), Some(admin), Some(client)) => Flow {
                provider: *provider,
                revoker,
                client,
                admin_client: admin_clients.get(provider.name()).unwrap_or(client),
                admin,
                audit: &audit,
                settings: &settings,
                out: &mut *out,
            }
            .run(&keys, &key_probes)?,
            (revoker, _, _) => {
                let (why, reason) = match revoker {
                    Some(revoker) => (
                        format!("{} is not set, so keyhound cannot revoke it", revoker.admin_variable()),
                        Reason::NoCredential,
                    ),
                    None => (
                        format!("{}'s API offers no way for keyhound to revoke a key", provider.label()),
                        Reason::ByHand,
                    ),
                };
                let mut done = Vec::new();
                for (key, probed) in keys.iter().zip(&key_probes) {
                    done.push(by_hand(&mut *out, &audit, *provider, key, probed, &why, reason)?);
                }
                done
            }
        };
        if !options.quiet {
            write!(
                out,
                "{}",
                closing_table(*provider, &keys, &provider_results, &unrecovered, options.yes)
            )?;
            writeln!(
                out,
                "{}",
                summary(*provider, &provider_results, &unrecovered, options.yes)
            )?;
        }
        for (i, result) in indices.into_iter().zip(provider_results) {
            results[i] = Some(result);
        }
    }
    Ok(Done {
        keys: collected.keys.clone(),
        probes,
        results: Some(results),
    })
}

/// `keyhound revoke --from REPORT`: see the command for the exit codes.
pub fn from_report(report: &std::path::Path, options: &Options, out: &mut dyn Write) -> anyhow::Result<ExitStatus> {
    let collected = keys::from_report(report, &known)?;
    if !options.quiet {
        writeln!(
            out,
            "keyhound: {} in {}{}; {}",
            count_keys(&collected.keys, &collected.unrecovered),
            report.display(),
            others(collected.other_providers),
            mode(options.yes, &providers_of(&collected.keys, &collected.unrecovered))
        )?;
    }
    write_unrecovered(out, &collected.unrecovered)?;
    if collected.keys.is_empty() {
        if !options.quiet {
            for provider in providers_of(&[], &collected.unrecovered) {
                write!(
                    out,
                    "{}",
                    closing_table(provider, &[], &[], &collected.unrecovered, options.yes)
                )?;
                writeln!(out, "{}", summary(provider, &[], &collected.unrecovered, options.yes))?;
            }
        }
        return Ok(exit_status(&[], &collected.unrecovered));
    }
    let done = probe_and_revoke(&collected, &|_| true, options, true, true, out)?;
    out.flush()?;
    let results: Vec<KeyResult> = done.results.into_iter().flatten().flatten().collect();
    Ok(exit_status(&results, &collected.unrecovered))
}

/// `--verify` and `--revoke` on the findings of a scan: probes the keys of `considered` and of `probe_only` (in one
/// round), and with `revoke` revokes those of `considered`, with the plan on stderr so that stdout stays the report.
/// Returns the status of each key found, by key.
pub fn after_scan(
    considered: &[Finding],
    probe_only: &[Finding],
    options: &Options,
    revoke: bool,
) -> anyhow::Result<HashMap<String, Verification>> {
    let all: Vec<Finding> = considered.iter().chain(probe_only).cloned().collect();
    let collected = keys::from_findings(&all, &known);
    if collected.other_providers > 0 && !options.quiet {
        eprintln!(
            "keyhound: note: {} finding(s) of providers keyhound has no check for are left alone",
            collected.other_providers
        );
    }
    if collected.keys.is_empty() {
        return Ok(HashMap::new());
    }
    let open: std::collections::HashSet<&str> = considered.iter().map(|f| f.secret.expose()).collect();
    let revocable = |key: &LeakedKey| open.contains(key.secret.expose());
    let stderr = std::io::stderr();
    let mut err = stderr.lock();
    if revoke && !options.quiet {
        let to_revoke: Vec<LeakedKey> = collected.keys.iter().filter(|k| revocable(k)).cloned().collect();
        writeln!(
            err,
            "keyhound: revoking {} found; {}",
            count_keys(&to_revoke, &[]),
            mode(options.yes, &providers_of(&to_revoke, &[]))
        )?;
    }
    let done = probe_and_revoke(&collected, &revocable, options, revoke, false, &mut err)?;
    let mut status: HashMap<String, Verification> = done
        .keys
        .iter()
        .zip(&done.probes)
        .map(|(key, probe)| (key.secret.expose().to_string(), probe.verification()))
        .collect();
    if let Some(results) = done.results {
        for (key, result) in done.keys.iter().zip(results) {
            if let Some(verification) = result.and_then(|r| r.verification) {
                status.insert(key.secret.expose().to_string(), verification);
            }
        }
    }
    Ok(status)
}

/// `3 OpenAI key(s)`, or `4 key(s) (3 OpenAI, 1 Anthropic)`.
fn count_keys(keys: &[LeakedKey], unrecovered: &[Unrecovered]) -> String {
    let total = keys.len() + unrecovered.len();
    let providers = providers_of(keys, unrecovered);
    match providers.as_slice() {
        [only] => format!("{total} {} key(s)", only.label()),
        _ => {
            let parts: Vec<String> = providers
                .iter()
                .map(|p| {
                    let n = keys.iter().filter(|k| k.provider == p.name()).count()
                        + unrecovered.iter().filter(|u| u.provider == p.name()).count();
                    format!("{n} {}", p.label())
                })
                .collect();
            format!("{total} key(s) ({})", parts.join(", "))
        }
    }
}

/// What `--yes` does, in the verbs of `providers`' revokers (`deleted`, `disabled`).
fn mode(yes: bool, providers: &[&'static dyn Provider]) -> String {
    let mut verbs: Vec<&str> = providers.iter().filter_map(|p| p.revoker()).map(|r| r.verb()).collect();
    verbs.sort_unstable();
    verbs.dedup();
    let (done, act) = match verbs.as_slice() {
        [] | ["delete"] => ("deleted".to_string(), "delete"),
        [only] => (format!("{only}d"), *only),
        _ => ("deleted or disabled".to_string(), "act"),
    };
    if yes {
        format!("--yes: matched keys are {done}")
    } else {
        format!("dry run: nothing will be {done} (add --yes to {act})")
    }
}

fn others(count: usize) -> String {
    if count == 0 {
        String::new()
    } else {
        format!(" ({count} finding(s) of other providers left alone: keyhound has no check for them)")
    }
}

/// A block for each key that could not be read back from the report.
fn write_unrecovered(out: &mut dyn Write, unrecovered: &[Unrecovered]) -> std::io::Result<()> {
    for key in unrecovered {
        let label = provider::find(&key.provider).map_or("", |p| p.label());
        writeln!(out, "{}  {label} {} key", key.redacted, key.kind)?;
        writeln!(
            out,
            "    skipped: the key could not be read back, so nothing was done with it:"
        )?;
        for reason in &key.reasons {
            writeln!(out, "               - {reason}")?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// The closing table of one provider: how many keys ended how, and for each key a person must see to, where to
/// do it.
fn closing_table(
    provider: &dyn Provider,
    keys: &[LeakedKey],
    results: &[KeyResult],
    unrecovered: &[Unrecovered],
    yes: bool,
) -> String {
    let unrecovered: Vec<&Unrecovered> = unrecovered.iter().filter(|u| u.provider == provider.name()).collect();
    let count = |wanted: &dyn Fn(&Outcome) -> bool| results.iter().filter(|r| wanted(&r.outcome)).count();
    let not_revoked = |reason: Reason| count(&|o| *o == Outcome::NotRevoked(reason));
    let done = provider.revoker().map_or("delete", |r| r.verb());
    let (confirmed, unconfirmed, gone) = (
        format!("{done}d, confirmed dead"),
        format!("{done}d, not confirmed"),
        format!("already gone ({done}d by someone else)"),
    );
    let mut rows: Vec<(&str, usize)> = vec![
        (
            &confirmed,
            count(&|o| matches!(o, Outcome::Revoked { confirmed: true })),
        ),
        (
            &unconfirmed,
            count(&|o| matches!(o, Outcome::Revoked { confirmed: false })),
        ),
        (&gone, count(&|o| *o == Outcome::AlreadyGone)),
        ("already dead", count(&|o| *o == Outcome::AlreadyDead)),
        (
            "belongs to another organisation",
            not_revoked(Reason::OtherOrganization),
        ),
        ("ambiguous (several keys match)", not_revoked(Reason::Ambiguous)),
        ("not found in the organisation", not_revoked(Reason::NoMatch)),
        (
            "needs a person",
            results
                .iter()
                .filter(|r| matches!(r.outcome, Outcome::NotRevoked(reason) if reason.needs_a_person()))
                .count()
                + unrecovered.len(),
        ),
        ("failed", not_revoked(Reason::Failed)),
    ];
    if !yes {
        rows.insert(0, ("planned (dry run)", count(&|o| *o == Outcome::Planned)));
    }
    let mut table = format!("keyhound: what became of each {} key:\n", provider.label());
    for (label, n) in rows.iter().filter(|(_, n)| *n > 0) {
        table.push_str(&format!("    {label:<40} {n}\n"));
    }
    for (key, result) in keys.iter().zip(results) {
        match result.outcome {
            Outcome::NotRevoked(reason)
                if reason.needs_a_person() || reason == Reason::NoMatch || reason == Reason::Ambiguous =>
            {
                table.push_str(&format!(
                    "    - {} ({}): {}: see to it at {}\n",
                    key.redacted,
                    provider.kind_label(key),
                    reason.label(),
                    provider.dashboard(key)
                ));
            }
            _ => {}
        }
    }
    for key in unrecovered {
        table.push_str(&format!(
            "    - {} ({} key): not recovered from the report: scan again\n",
            key.redacted, key.kind
        ));
    }
    table
}

/// The final line of one provider: how many keys ended how.
fn summary(provider: &dyn Provider, results: &[KeyResult], unrecovered: &[Unrecovered], yes: bool) -> String {
    let unrecovered = unrecovered.iter().filter(|u| u.provider == provider.name()).count();
    let count = |wanted: fn(&Outcome) -> bool| results.iter().filter(|r| wanted(&r.outcome)).count();
    let revoked = count(|o| matches!(o, Outcome::Revoked { .. } | Outcome::AlreadyGone));
    let planned = count(|o| matches!(o, Outcome::Planned));
    let dead = count(|o| matches!(o, Outcome::AlreadyDead));
    let mut reasons: Vec<(Reason, usize)> = Vec::new();
    for result in results {
        if let Outcome::NotRevoked(reason) = result.outcome {
            match reasons.iter_mut().find(|(r, _)| *r == reason) {
                Some((_, n)) => *n += 1,
                None => reasons.push((reason, 1)),
            }
        }
    }
    if unrecovered > 0 {
        reasons.push((Reason::Unrecovered, unrecovered));
    }
    let not_revoked: usize = reasons.iter().map(|(_, n)| n).sum();
    let mut line = format!(
        "keyhound: revoke summary: {} {} key(s): {revoked} revoked, {planned} planned, {dead} already dead, \
         {not_revoked} not revoked",
        results.len() + unrecovered,
        provider.label()
    );
    if !reasons.is_empty() {
        let parts: Vec<String> = reasons.iter().map(|(r, n)| format!("{}: {n}", r.label())).collect();
        line.push_str(&format!(" ({})", parts.join(", ")));
    }
    if !yes {
        line.push_str(&format!(
            "; dry run: nothing was {}d",
            provider.revoker().map_or("delete", |r| r.verb())
        ));
    }
    line
}

/// 0 when every key was handled, 1 otherwise.
fn exit_status(results: &[KeyResult], unrecovered: &[Unrecovered]) -> ExitStatus {
    if unrecovered.is_empty() && results.iter().all(|r| r.outcome.handled()) {
        ExitStatus::Clean
    } else {
        ExitStatus::Findings(1)
    }
}
