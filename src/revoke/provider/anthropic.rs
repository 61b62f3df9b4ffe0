//! Anthropic: the liveness probe (and, in `revoker`, revocation through the Admin API).

use crate::finding::Liveness;
use crate::revoke::client::{AuthStyle, Reply};
use crate::revoke::keys::LeakedKey;
use crate::revoke::verify::Probe;

use super::{Answers, Api, Check, Provider, classify_with};

/// Where API keys are disabled and deleted by hand.
pub const DASHBOARD_URL: &str = "https://console.anthropic.com/settings/keys";

/// Where admin keys are managed by hand (the Admin API cannot disable them).
pub const ADMIN_KEYS_URL: &str = "https://console.anthropic.com/settings/admin-keys";

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
            probe.organization = reply.header("anthropic-organization-id");
            probe.workspace = reply.header("anthropic-workspace-id");
        }
        probe
    }

    fn dashboard(&self, key: &LeakedKey) -> &'static str {
        match key.kind.as_str() {
            "admin-api" => ADMIN_KEYS_URL,
            "oauth-access" | "oauth-refresh" => "https://claude.ai/settings/account",
            _ => DASHBOARD_URL,
        }
    }

    fn kind_label(&self, key: &LeakedKey) -> String {
        match key.kind.as_str() {
            "admin-api" => "admin key".into(),
            "api" => "API key".into(),
            "oauth-access" => "OAuth access token".into(),
            "oauth-refresh" => "OAuth refresh token".into(),
            other => format!("{other} key"),
        }
    }

    fn reference(&self) -> &'static str {
        "https://docs.anthropic.com/en/api/models-list; https://docs.anthropic.com/en/api/errors"
    }
}
