//! `keyhound revoke --from REPORT`, and `--verify` / `--revoke` after `scan` and `git`: arguments to the
//! revocation library's own options.

use std::time::Duration;

use crate::cli::{OutputArgs, RevokeArgs, RevokeOptions, VerifyArgs};
use crate::diag::Diagnostics;
use crate::exit::ExitStatus;
use crate::filter::baseline::Baseline;
use crate::finding::Finding;
use crate::revoke::Options;

/// The library's options from the command line's.
fn options(args: &RevokeOptions, quiet: bool) -> Options {
    Options {
        yes: args.yes,
        delete_service_accounts: args.delete_service_accounts,
        audit_log: args.audit_log.clone(),
        openai_api_base: args.api_base.clone(),
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
/// `verification` filled in (with either flag). The revocation plan goes to stderr so that stdout stays the
/// report. Problems are printed and do not change the scan's exit code. Findings in the `--baseline` are left
/// alone.
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
    let considered: Vec<Finding> = findings
        .iter()
        .filter(|f| !baseline.is_some_and(|b| b.contains(&f.fingerprint)))
        .cloned()
        .collect();
    let options = options(&args.revoke_options, output.quiet);
    let mut outcome = crate::revoke::run::after_scan(&considered, &options, args.revoke);
    // With --verify too, a missing admin credential still lets the keys be verified: say so, then verify.
    if args.verify
        && args.revoke
        && let Err(err) = &outcome
        && err.is::<crate::revoke::run::SetupError>()
    {
        eprintln!(
            "keyhound: error: {}",
            crate::text::for_message(&crate::diag::error_chain(err))
        );
        outcome = crate::revoke::run::after_scan(&considered, &options, false);
    }
    match outcome {
        Ok(status) => {
            for finding in findings.iter_mut() {
                if let Some(verification) = status.get(finding.secret.expose()) {
                    finding.verification = Some(verification.clone());
                }
            }
        }
        Err(err) => eprintln!(
            "keyhound: error: {}",
            crate::text::for_message(&crate::diag::error_chain(&err))
        ),
    }
    findings
}
