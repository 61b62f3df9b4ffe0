//! `keyhound revoke --from REPORT`, and the hook `scan` and `git` call after their scan for `--verify` and
//! `--revoke`.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use anyhow::Context;

use crate::cli::{OutputArgs, RevokeArgs, RevokeOptions, VerifyArgs};
use crate::diag::Diagnostics;
use crate::exit::ExitStatus;
use crate::filter::baseline::Baseline;
use crate::finding::{Finding, Secret};

use super::audit::AuditLog;
use super::client::{Client, DEFAULT_API_BASE};
use super::flow::{KeyResult, Outcome, Reason, Revoker, Settings, dashboard_for};
use super::keys::{self, Collected, LeakedKey, Unrecovered};
use super::verify::probe_all;
use super::{ADMIN_KEY_VAR, ADMIN_KEYS_URL, BASE_URL_VAR};

/// Errors of the revoke command's setup.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(
        "{ADMIN_KEY_VAR} is not set: revoking needs an OpenAI admin key (sk-admin-...) in the environment \
         variable {ADMIN_KEY_VAR} (never on the command line); create one at {ADMIN_KEYS_URL}"
    )]
    MissingAdminKey,
}

/// `keyhound revoke --from REPORT`.
///
/// Exit codes:
/// - 0: every OpenAI key of the report was handled: deleted (with `--yes`), planned (dry run), or dead
///   already; also when the report holds no OpenAI key.
/// - 1: some key could not be revoked: several or no keys of the organisation match it, it is a legacy user
///   key (no revoke API), it is still accepted after its deletion, its deletion failed, OpenAI would not delete
///   a service account's key alone (without `--delete-service-accounts`), or it could not be read back from
///   the report's file or blob (the content changed).
/// - 2: an error stopped the run before any deletion: an unreadable report, `OPENAI_ADMIN_KEY` missing or
///   rejected, a listing that failed, a bad `--api-base`, an audit log that cannot be written.
pub fn run(args: RevokeArgs) -> anyhow::Result<ExitStatus> {
    let collected = keys::from_report(&args.from)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let options = &args.options;
    if !args.quiet {
        writeln!(
            out,
            "keyhound: {} OpenAI key(s) in {}{}; {}",
            collected.keys.len() + collected.unrecovered.len(),
            args.from.display(),
            others(collected.other_providers),
            mode(options.yes)
        )?;
    }
    write_unrecovered(&mut out, &collected.unrecovered)?;
    if collected.keys.is_empty() {
        if !args.quiet {
            write!(out, "{}", closing_table(&[], &[], &collected.unrecovered, options.yes))?;
            writeln!(out, "{}", summary(&[], &collected.unrecovered, options.yes))?;
        }
        return Ok(exit_status(&[], &collected.unrecovered));
    }
    let admin = admin_key()?;
    let client = client(options)?;
    let audit = audit_log(options)?;
    let probes = probe_all(&client, &collected.keys, &audit, verify_budget(options)?)?;
    let settings = settings(options, true);
    let results = Revoker {
        client: &client,
        admin: &admin,
        audit: &audit,
        settings: &settings,
        out: &mut out,
    }
    .run(&collected.keys, &probes)?;
    if !args.quiet {
        write!(
            out,
            "{}",
            closing_table(&collected.keys, &results, &collected.unrecovered, options.yes)
        )?;
        writeln!(out, "{}", summary(&results, &collected.unrecovered, options.yes))?;
    }
    out.flush()?;
    Ok(exit_status(&results, &collected.unrecovered))
}

/// Runs `--verify` and `--revoke` on the findings of a scan, before they are reported; returns them with
/// their `verification` filled in (with either flag). The revocation plan goes to stderr so that stdout stays
/// the report. Problems are printed and do not change the scan's exit code. Findings in the `--baseline` are
/// left alone.
pub fn after_scan(
    mut findings: Vec<Finding>,
    args: &VerifyArgs,
    output: &OutputArgs,
    baseline: Option<&Baseline>,
    diag: &Diagnostics,
) -> Vec<Finding> {
    if !args.verify && !args.revoke {
        return findings;
    }
    if let Some(bar) = diag.progress() {
        bar.finish_and_clear();
    }
    if let Err(err) = verify_and_revoke(&mut findings, args, output, baseline) {
        eprintln!(
            "keyhound: error: {}",
            crate::text::for_message(&crate::diag::error_chain(&err))
        );
    }
    findings
}

fn verify_and_revoke(
    findings: &mut [Finding],
    args: &VerifyArgs,
    output: &OutputArgs,
    baseline: Option<&Baseline>,
) -> anyhow::Result<()> {
    let considered: Vec<Finding> = findings
        .iter()
        .filter(|f| !baseline.is_some_and(|b| b.contains(&f.fingerprint)))
        .cloned()
        .collect();
    let collected: Collected = keys::from_findings(&considered);
    if collected.other_providers > 0 && !output.quiet {
        eprintln!(
            "keyhound: note: {} finding(s) of other providers are left alone: only OpenAI keys are verified \
             and revoked",
            collected.other_providers
        );
    }
    if collected.keys.is_empty() {
        return Ok(());
    }
    let options = &args.revoke_options;
    // Without the admin key there is nothing to revoke with: say so before sending any key anywhere.
    let admin = if args.revoke { Some(admin_key()) } else { None };
    if let Some(Err(_)) = &admin
        && !args.verify
    {
        return Err(SetupError::MissingAdminKey.into());
    }
    let client = client(options)?;
    let audit = audit_log(options)?;
    let probes = probe_all(&client, &collected.keys, &audit, verify_budget(options)?)?;
    let mut status: HashMap<&str, crate::finding::Verification> = collected
        .keys
        .iter()
        .zip(&probes)
        .map(|(key, probe)| (key.secret.expose(), probe.verification()))
        .collect();
    let outcome = match admin {
        None => Ok(()),
        Some(Err(err)) => Err(err.into()),
        Some(Ok(admin)) => {
            revoke_after_scan(&client, &admin, &audit, options, output.quiet, &collected, &probes).map(|results| {
                for (key, result) in collected.keys.iter().zip(results) {
                    if let Some(verification) = result.verification {
                        status.insert(key.secret.expose(), verification);
                    }
                }
            })
        }
    };
    for finding in findings.iter_mut() {
        if let Some(verification) = status.get(finding.secret.expose()) {
            finding.verification = Some(verification.clone());
        }
    }
    outcome
}

/// The revocation flow after a scan, printing to stderr.
fn revoke_after_scan(
    client: &Client,
    admin: &Secret,
    audit: &AuditLog,
    options: &RevokeOptions,
    quiet: bool,
    collected: &Collected,
    probes: &[super::verify::Probe],
) -> anyhow::Result<Vec<KeyResult>> {
    let stderr = std::io::stderr();
    let mut out = stderr.lock();
    if !quiet {
        writeln!(
            out,
            "keyhound: revoking {} OpenAI key(s) found; {}",
            collected.keys.len(),
            mode(options.yes)
        )?;
    }
    let settings = settings(options, false);
    let results = Revoker {
        client,
        admin,
        audit,
        settings: &settings,
        out: &mut out,
    }
    .run(&collected.keys, probes)?;
    if !quiet {
        write!(out, "{}", closing_table(&collected.keys, &results, &[], options.yes))?;
        writeln!(out, "{}", summary(&results, &[], options.yes))?;
    }
    Ok(results)
}

/// The admin key from the environment.
/// The admin key from the environment. From here on it is redacted in every output, whatever a server echoes.
fn admin_key() -> Result<Secret, SetupError> {
    let admin = std::env::var(ADMIN_KEY_VAR)
        .ok()
        .map(|value| value.trim().to_string())
        .filter(|value| !value.is_empty())
        .map(Secret::new)
        .ok_or(SetupError::MissingAdminKey)?;
    crate::text::protect(&admin);
    Ok(admin)
}

/// `--verify-timeout`: the time for probing all the keys.
fn verify_budget(options: &RevokeOptions) -> anyhow::Result<Duration> {
    if options.verify_timeout == 0 {
        anyhow::bail!("--verify-timeout must be at least 1 second");
    }
    Ok(Duration::from_secs(options.verify_timeout))
}

/// The client for `--api-base`, else `KEYHOUND_OPENAI_API_BASE`, else the default. Any endpoint but OpenAI's is
/// named on stderr, in every mode, before the first request.
fn client(options: &RevokeOptions) -> anyhow::Result<Client> {
    let base = options
        .api_base
        .clone()
        .or_else(|| std::env::var(BASE_URL_VAR).ok().filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| DEFAULT_API_BASE.to_string());
    if options.request_timeout == 0 {
        anyhow::bail!("--request-timeout must be at least 1 second");
    }
    let client = Client::new(&base, Duration::from_secs(options.request_timeout))?;
    if client.base() != DEFAULT_API_BASE {
        eprintln!(
            "keyhound: note: OpenAI API requests go to {}, not {DEFAULT_API_BASE}",
            crate::text::for_message(client.base())
        );
    }
    Ok(client)
}

fn audit_log(options: &RevokeOptions) -> anyhow::Result<AuditLog> {
    match &options.audit_log {
        Some(path) => AuditLog::open(path, !options.yes).context("--audit-log"),
        None => Ok(AuditLog::disabled(!options.yes)),
    }
}

fn settings(options: &RevokeOptions, warn_on_stderr: bool) -> Settings {
    Settings {
        yes: options.yes,
        delete_service_accounts: options.delete_service_accounts,
        confirm_timeout: Duration::from_secs(options.confirm_timeout),
        warn_on_stderr,
    }
}

fn mode(yes: bool) -> &'static str {
    if yes {
        "--yes: matched keys are deleted"
    } else {
        "dry run: nothing will be deleted (add --yes to delete)"
    }
}

fn others(count: usize) -> String {
    if count == 0 {
        String::new()
    } else {
        format!(" ({count} finding(s) of other providers left alone: only OpenAI keys are revoked)")
    }
}

/// A block for each key that could not be read back from the report.
fn write_unrecovered(out: &mut dyn Write, unrecovered: &[Unrecovered]) -> std::io::Result<()> {
    for key in unrecovered {
        writeln!(out, "{}  OpenAI {} key", key.redacted, key.kind)?;
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

/// The closing table: how many keys ended how, and for each key a person must see to, where to do it.
fn closing_table(keys: &[LeakedKey], results: &[KeyResult], unrecovered: &[Unrecovered], yes: bool) -> String {
    let count = |wanted: &dyn Fn(&Outcome) -> bool| results.iter().filter(|r| wanted(&r.outcome)).count();
    let not_revoked = |reason: Reason| count(&|o| *o == Outcome::NotRevoked(reason));
    let mut rows: Vec<(&str, usize)> = vec![
        (
            "deleted, confirmed dead",
            count(&|o| matches!(o, Outcome::Revoked { confirmed: true })),
        ),
        (
            "deleted, not confirmed",
            count(&|o| matches!(o, Outcome::Revoked { confirmed: false })),
        ),
        (
            "already gone (deleted by someone else)",
            count(&|o| *o == Outcome::AlreadyGone),
        ),
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
    let mut table = String::from("keyhound: what became of each OpenAI key:\n");
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
                    key.kind_label(),
                    reason.label(),
                    dashboard_for(key)
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

/// The final line: how many keys ended how.
fn summary(results: &[KeyResult], unrecovered: &[Unrecovered], yes: bool) -> String {
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
    if !unrecovered.is_empty() {
        reasons.push((Reason::Unrecovered, unrecovered.len()));
    }
    let not_revoked: usize = reasons.iter().map(|(_, n)| n).sum();
    let mut line = format!(
        "keyhound: revoke summary: {} OpenAI key(s): {revoked} revoked, {planned} planned, {dead} already dead, \
         {not_revoked} not revoked",
        results.len() + unrecovered.len()
    );
    if !reasons.is_empty() {
        let parts: Vec<String> = reasons.iter().map(|(r, n)| format!("{}: {n}", r.label())).collect();
        line.push_str(&format!(" ({})", parts.join(", ")));
    }
    if !yes {
        line.push_str("; dry run: nothing was deleted");
    }
    line
}

/// 0 when every key was handled, 1 otherwise (see [`run`]).
fn exit_status(results: &[KeyResult], unrecovered: &[Unrecovered]) -> ExitStatus {
    if unrecovered.is_empty() && results.iter().all(|r| r.outcome.handled()) {
        ExitStatus::Clean
    } else {
        ExitStatus::Findings(1)
    }
}
