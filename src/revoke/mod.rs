//! Verifying leaked keys at their own provider, and revoking them through the provider's admin API.
//!
//! The parts, each with one job:
//!
//! - [`keys`] gets the raw keys back: from findings in memory (`scan/git --verify/--revoke`), or from a report
//!   (`revoke --from`) by re-reading each finding's file or blob and checking the text against its fingerprint.
//! - [`client`] sends requests to one base URL with a timeout, no redirects and bounded retries.
//! - [`provider`] holds what differs between providers: each one's read-only check, and for those whose
//!   reference documents key management, the [`provider::Revoker`] that lists, matches and disables keys.
//! - [`verify`] probes whether keys are live (read-only), each at its own provider.
//! - [`listing`] pages through list endpoints within the bounds of a run; [`hint`] matches a leaked key against
//!   the hint of its value that a listing shows.
//! - [`flow`] decides and acts on each key of one provider: skip, prove, plan, disable, confirm. It names no
//!   provider.
//! - [`run`] is a whole run over keys of several providers, with its own [`run::Options`]; the commands call it.
//! - [`audit`] appends one JSON line per action to the audit log.
//!
//! Safety rules, enforced here rather than left to callers:
//!
//! - Raw keys are never printed, logged or written to disk; output shows the redacted form and the fingerprint.
//! - A leaked key is sent only to its own provider's read-only check; an admin credential (from its environment
//!   variable only) only to its provider's admin API; both only to the configured base URL, with redirects
//!   never followed.
//! - Everything a server can send is bounded: at most [`client::MAX_BODY_BYTES`] of an answer, no listing cursor
//!   twice and [`listing::MAX_PAGES`] pages per listing within one [`listing::ListBudget`], all probes within
//!   `--verify-timeout`; server-supplied ids go into paths as one encoded segment ([`client::segment`]).
//! - Nothing is disabled without `--yes`; a key is disabled only when exactly one key in the whole organisation
//!   matches it and it is proven to be the organisation's; a service account is deleted only with
//!   `--delete-service-accounts`.

pub mod audit;
/// The HTTP client lives below the revocation layer ([`crate::http`]), shared with the listing of an
/// organisation's repositories; its old path stays.
pub use crate::http as client;
pub mod flow;
pub mod hint;
pub mod keys;
pub mod listing;
pub mod provider;
pub mod run;
pub mod verify;

pub use run::Options;

/// The environment variable giving OpenAI's API base URL when `--api-base` is not set. It is keyhound's own:
/// `OPENAI_BASE_URL` routinely points at gateways and proxies (LiteLLM, Azure, company relays) that must never
/// receive leaked keys or the admin key, so it is ignored. Every provider has one: `KEYHOUND_<PROVIDER>_API_BASE`.
pub const BASE_URL_VAR: &str = "KEYHOUND_OPENAI_API_BASE";
