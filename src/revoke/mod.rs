//! Verifying and revoking leaked OpenAI keys through OpenAI's API.
//!
//! The parts, each with one job:
//!
//! - [`keys`] gets the raw keys back: from findings in memory (`scan/git --verify/--revoke`), or from a report
//!   (`revoke --from`) by re-reading each finding's file or blob and checking the text against its fingerprint.
//! - [`client`] sends requests to one base URL with a timeout, no redirects and bounded retries.
//! - [`verify`] probes whether a key is live (read-only).
//! - [`plan`] lists the organisation's projects and keys with the admin key and matches leaked keys against the
//!   listed redacted values.
//! - [`flow`] decides and acts on each key: skip, plan, delete, confirm.
//! - [`audit`] appends one JSON line per action to the audit log.
//! - [`command`] is `keyhound revoke` and the hook that `scan` and `git` call after their scan.
//!
//! Safety rules, enforced here rather than left to callers:
//!
//! - Raw keys are never printed, logged or written to disk; output shows the redacted form and the fingerprint.
//! - A leaked key is sent only to the liveness probe (`GET /v1/models`, or `GET /v1/organization/admin_api_keys`
//!   for admin keys); the admin key (from `OPENAI_ADMIN_KEY` only) only to the Administration API; both only to
//!   the configured base URL, with redirects never followed.
//! - Everything a server can send is bounded: at most [`client::MAX_BODY_BYTES`] of an answer, no listing cursor
//!   twice and [`plan::MAX_PAGES`] pages per listing within one [`plan::ListBudget`], all probes within
//!   `--verify-timeout`; server-supplied ids go into paths as one encoded segment ([`client::segment`]).
//! - Nothing is deleted without `--yes`; a key is deleted only when exactly one key in the whole organisation
//!   matches it; a service account is deleted only with `--delete-service-accounts`.

pub mod audit;
pub mod client;
pub mod command;
pub mod flow;
pub mod keys;
pub mod plan;
pub mod verify;

pub use command::after_scan;

/// The environment variable holding the admin key. It is never accepted on the command line, where it would
/// end up in shell history and process listings.
pub const ADMIN_KEY_VAR: &str = "OPENAI_ADMIN_KEY";

/// The environment variable giving the API base URL when `--api-base` is not set. It is keyhound's own:
/// `OPENAI_BASE_URL` routinely points at gateways and proxies (LiteLLM, Azure, company relays) that must never
/// receive leaked keys or the admin key, so it is ignored.
pub const BASE_URL_VAR: &str = "KEYHOUND_OPENAI_API_BASE";

/// Where people delete keys by hand when keyhound cannot.
pub const DASHBOARD_URL: &str = "https://platform.openai.com/api-keys";

/// Where admin keys are managed by hand.
pub const ADMIN_KEYS_URL: &str = "https://platform.openai.com/settings/organization/admin-keys";

/// The provider name of the findings this module acts on.
pub const PROVIDER: &str = "openai";
