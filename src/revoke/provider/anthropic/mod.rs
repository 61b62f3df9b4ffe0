//! Anthropic: the liveness probe, and (in [`revoker`]) disabling keys through the Admin API.
//!
//! Reference: the API overview (authentication headers, response headers), "Errors" (401
//! `authentication_error`: "There's an issue with your API key", 403 `permission_error`, 429 `rate_limit_error`
//! with `retry-after`), "List Models" (`GET /v1/models`) and the Admin API's "Get current organization"
//! (`GET /v1/organizations/me`, the read-only request an admin key can make); the parts relied on are vendored in
//! `tests/openapi/anthropic-admin.json` with their sources.
//!
//! - `live`: 2xx; 402 `billing_error` (accepted, out of credit).
//! - `dead`: 401 `authentication_error`.
//! - `unknown`: 403 `permission_error` (a key without access to the resource), 400 (a multi-workspace key needs a
//!   workspace header), 429 after retries, 5xx (529 `overloaded_error`), no answer.

pub mod revoker;

use crate::finding::Liveness;
use crate::revoke::client::{AuthStyle, Reply};
use crate::revoke::keys::LeakedKey;
use crate::revoke::verify::Probe;

use super::{Answers, Api, Check, Provider, Revoker, classify_with};

/// Where API keys are disabled and deleted by hand.
pub const DASHBOARD_URL: &str = "https://console.anthropic.com/settings/keys";

/// Where admin keys are managed by hand (the Admin API cannot disable them).
pub const ADMIN_KEYS_URL: &str = "https://console.anthropic.com/settings/admin-keys";

/// The response header naming the organisation of the key used in a request.
pub const ORGANIZATION_HEADER: &str = "anthropic-organization-id";

pub struct Anthropic;

pub static ANTHROPIC: Anthropic = Anthropic;

const ANSWERS: Answers = Answers {
    dead: |reply| {
        (reply.status == 401 && reply.error().and_then(|e| e.kind).as_deref() == Some("authentication_error"))
            .then_some("401 authentication_error")
    },
    accepted: |reply| (reply.status == 402).then_some("the organisation's credit is used up (402 billing_error)"),
};

impl Provider for Anthropic {
    fn name(&self) -> &'static str {
        "anthropic"
    }

    fn label(&self) -> &'static str {
        "Anthropic"
    }

    fn api(&self) -> Api {
        Api {
            default_base: "https://api.anthropic.com",
            auth: AuthStyle::Header("x-api-key"),
            headers: &[("anthropic-version", "2023-06-01")],
            strip: None,
        }
    }

    fn check(&self, key: &LeakedKey) -> Check {
        match key.kind.as_str() {
            // Admin keys call only the Admin API; this is its read-only "who am I".
            "admin-api" => Check::Get("/v1/organizations/me".into()),
            "enterprise-admin" => Check::None(
                "Anthropic documents no request that checks a Claude Enterprise admin key without using the \
                 organisation's data",
            ),
            "oauth-access" | "oauth-refresh" => Check::None(
                "Anthropic documents no read-only request for Claude sign-in (OAuth) tokens; sign the account out \
                 of its sessions in claude.ai",
            ),
            _ => Check::Get("/v1/models?limit=1".into()),
        }
    }

    fn classify(&self, _key: &LeakedKey, reply: &Reply) -> Probe {
        let mut probe = classify_with(reply, &ANSWERS);
        // Documented response headers: the organisation and workspace the key used in the request belongs to.
        // Absent when the request fails before authentication, so a 401 names nobody.
        if probe.liveness != Liveness::Dead {
            probe.organization = reply.header(ORGANIZATION_HEADER);
            probe.workspace = reply.header("anthropic-workspace-id");
        }
        probe
    }

    fn dashboard(&self, key: &LeakedKey) -> &'static str {
        match key.kind.as_str() {
            "admin-api" => ADMIN_KEYS_URL,
            "enterprise-admin" => "https://claude.ai/admin-settings/api-keys",
            "oauth-access" | "oauth-refresh" => "https://claude.ai/settings/account",
            _ => DASHBOARD_URL,
        }
    }

    fn kind_label(&self, key: &LeakedKey) -> String {
        match key.kind.as_str() {
            "admin-api" => "admin key".into(),
            "enterprise-admin" => "Claude Enterprise admin key".into(),
            "api" => "API key".into(),
            "oauth-access" => "OAuth access token".into(),
            "oauth-refresh" => "OAuth refresh token".into(),
            other => format!("{other} key"),
        }
    }

    fn revoker(&self) -> Option<&dyn Revoker> {
        Some(&revoker::AnthropicRevoker)
    }

    fn reference(&self) -> &'static str {
        "https://docs.anthropic.com/en/api/models-list; https://docs.anthropic.com/en/api/errors"
    }
}
