//! `keyhound revoke --from REPORT`, and `--verify` / `--revoke` after `scan` and `git`: arguments to the
//! revocation library's own options.

use std::collections::HashMap;
use std::time::Duration;

use crate::cli::{OutputArgs, RevokeArgs, RevokeOptions, VerifyArgs};
use crate::diag::Diagnostics;
use crate::exit::ExitStatus;
use crate::filter::baseline::Baseline;
use crate::finding::{Finding, Liveness, Verification};
use crate::revoke::Options;

/// The library's options from the command line's.
fn options(args: &RevokeOptions, quiet: bool) -> Options {
    Options {
        yes: args.yes,
        delete_service_accounts: args.delete_service_accounts,
        audit_log: args.audit_log.clone(),
        // --api-base is OpenAI's (KEYHOUND_<PROVIDER>_API_BASE sets the others).
        api_bases: args
            .api_base
            .iter()
            .map(|base| ("openai".to_string(), base.clone()))
            .collect(),
        confirm_timeout: Duration::from_secs(args.confirm_timeout),
        request_timeout: Duration::from_secs(args.request_timeout),
        verify_timeout: Duration::from_secs(args.verify_timeout),
        quiet,
    }
}

/// `keyhound revoke --from REPORT`.
///
/// Exit codes:
/// - 0: every key of the report was handled: revoked (with `--yes`), planned (dry run), or dead already; also
///   when the report holds no key keyhound can check.
/// - 1: some key could not be revoked: several or no keys of the organisation match it, it is a kind the
///   provider's API cannot revoke (a legacy OpenAI user key, an admin key), its provider has no revoker or its
///   admin credential was not set, it is still accepted after its revocation, the revocation failed, OpenAI
///   would not delete a service account's key alone (without `--delete-service-accounts`), or it could not be
///   read back from the report's file or blob (the content changed).
/// - 2: an error stopped the run before anything was revoked: an unreadable report, no admin credential set at
///   all, one rejected, a listing that failed, a bad API base, an audit log that cannot be written.
pub fn run(args: RevokeArgs) -> anyhow::Result<ExitStatus> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    crate::revoke::run::from_report(&args.from, &options(&args.options, args.quiet), &mut out)
}

/// Runs `--verify` and `--revoke` on the findings of a scan, before they are reported; returns them with their
/// `verification` filled in (with either flag), and how many findings an inline allow marker hid after all. The
/// revocation plan goes to stderr so that stdout stays the report. Problems are printed and do not change the
/// scan's exit code.
///
/// An allow never hides a live key: findings an inline marker covers (kept by the scan, marked `allowed`) and
/// those in the `--baseline` are probed too, never revoked; a live one is reported anyway, still marked, and the
/// others are hidden as they would have been.
pub fn after_scan(
    mut findings: Vec<Finding>,
    args: &VerifyArgs,
    output: &OutputArgs,
    baseline: Option<&Baseline>,
    diag: &Diagnostics,
) -> (Vec<Finding>, u64) {
    if !args.verify && !args.revoke {
        return (findings, 0);
    }
    if let Some(bar) = diag.progress() {
        bar.finish_and_clear();
    }
    const BASELINE: &str = "the baseline";
    if let Some(baseline) = baseline {
        for finding in findings.iter_mut().filter(|f| f.allowed.is_none()) {
            if baseline.contains(&finding.fingerprint) {
                finding.allowed = Some(BASELINE.to_string());
            }
        }
    }
    let (open, allowed): (Vec<Finding>, Vec<Finding>) = findings.iter().cloned().partition(|f| f.allowed.is_none());
    let options = options(&args.revoke_options, output.quiet);
    // One round of probes for all; what something allows is probed only, never revoked.
    let status = verify_or_revoke(&open, &allowed, &options, args.verify, args.revoke);
    for finding in findings.iter_mut() {
        if let Some(verification) = status.get(finding.secret.expose()) {
            finding.verification = Some(verification.clone());
        }
    }
    let mut hidden_inline = 0;
    findings.retain_mut(|finding| {
        let live = finding
            .verification
            .as_ref()
            .is_some_and(|v| v.status == Liveness::Live);
        match finding.allowed.as_deref() {
            None => true,
            Some(_) if live => true,
            // Not live: the baseline hides it when the report is written, and counts it.
            Some(BASELINE) => {
                finding.allowed = None;
                true
            }
            Some(_) => {
                hidden_inline += 1;
                false
            }
        }
    });
    (findings, hidden_inline)
}

/// The status of each key of `findings` and `probe_only`, by key: probed, and with `revoke` those of `findings`
/// revoked. A missing admin credential with `verify` too still lets the keys be verified; other errors are printed.
fn verify_or_revoke(
    findings: &[Finding],
    probe_only: &[Finding],
    options: &Options,
    verify: bool,
    revoke: bool,
) -> HashMap<String, Verification> {
    let mut outcome = crate::revoke::run::after_scan(findings, probe_only, options, revoke);
    if verify
        && revoke
        && let Err(err) = &outcome
        && err.is::<crate::revoke::run::SetupError>()
    {
        eprintln!(
            "keyhound: error: {}",
            crate::text::for_message(&crate::diag::error_chain(err))
        );
        outcome = crate::revoke::run::after_scan(findings, probe_only, options, false);
    }
    outcome.unwrap_or_else(|err| {
        eprintln!(
            "keyhound: error: {}",
            crate::text::for_message(&crate::diag::error_chain(&err))
        );
        HashMap::new()
    })
}
