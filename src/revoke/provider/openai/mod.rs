//! OpenAI: the liveness probe, and revocation through the Administration API.
//!
//! Reference: OpenAI's published API description (github.com/openai/openai-openapi), the parts relied on vendored
//! in `tests/openapi/admin-api.json`; error codes from the API reference's "Error codes" page; the
//! `openai-organization` header from its "Debugging requests" section ("the organization associated with the
//! request").
//!
//! Ordinary keys are probed with `GET /v1/models`; admin keys, which cannot call it, with
//! `GET /v1/organization/admin_api_keys?limit=1`. The answers:
//!
//! - `live`: 200, or 429 `insufficient_quota` (the key was accepted; its organisation is out of quota);
//! - `dead`: 401 with error code `invalid_api_key`;
//! - `unknown`, with the reason: a 429 rate limit still there after the retries, any other 401 (an IP
//!   allow-list, say), 403, other statuses, 5xx after retries, no answer in time.

pub mod listing;
pub mod revoker;

use crate::finding::Liveness;
use crate::revoke::client::{AuthStyle, Reply};
use crate::revoke::keys::LeakedKey;
use crate::revoke::verify::Probe;

use super::{Answers, Api, Check, Provider, Revoker, classify_with};

/// Where OpenAI requests go unless `--api-base` or `KEYHOUND_OPENAI_API_BASE` say otherwise.
pub const DEFAULT_API_BASE: &str = "https://api.openai.com";

/// The environment variable holding the admin key. It is never accepted on the command line, where it would
/// end up in shell history and process listings.
pub const ADMIN_KEY_VAR: &str = "OPENAI_ADMIN_KEY";

/// Where people delete keys by hand when keyhound cannot.
pub const DASHBOARD_URL: &str = "https://platform.openai.com/api-keys";

/// Where admin keys are managed by hand.
pub const ADMIN_KEYS_URL: &str = "https://platform.openai.com/settings/organization/admin-keys";

/// The header naming the organisation of a request.
pub const ORGANIZATION_HEADER: &str = "openai-organization";

pub struct OpenAi;

pub static OPENAI: OpenAi = OpenAi;

/// Is `key` an admin key (`sk-admin-`)?
pub fn is_admin(key: &LeakedKey) -> bool {
    key.kind == "admin"
}

const ANSWERS: Answers = Answers {
    dead: |reply| {
        (reply.status == 401 && reply.error_code().as_deref() == Some("invalid_api_key"))
            .then_some("401 invalid_api_key")
    },
    accepted: |reply| {
        (reply.status == 429 && reply.error_code().as_deref() == Some("insufficient_quota"))
            .then_some("the organisation is out of quota (429 insufficient_quota)")
    },
};

impl Provider for OpenAi {
    fn name(&self) -> &'static str {
        "openai"
    }

    fn label(&self) -> &'static str {
        "OpenAI"
    }

    fn api(&self) -> Api {
        Api {
            default_base: DEFAULT_API_BASE,
            auth: AuthStyle::Bearer,
            headers: &[],
            strip: Some("/v1"),
        }
    }

    fn check(&self, key: &LeakedKey) -> Check {
        Check::Get(if is_admin(key) {
            "/v1/organization/admin_api_keys?limit=1".into()
        } else {
            "/v1/models".into()
        })
    }

    fn classify(&self, _key: &LeakedKey, reply: &Reply) -> Probe {
        let mut probe = classify_with(reply, &ANSWERS);
        // An answer names the organisation the request was associated with; a key OpenAI does not know has none.
        if probe.liveness != Liveness::Dead {
            probe.organization = reply.header(ORGANIZATION_HEADER);
        }
        probe
    }

    fn dashboard(&self, key: &LeakedKey) -> &'static str {
        if is_admin(key) { ADMIN_KEYS_URL } else { DASHBOARD_URL }
    }

    fn kind_label(&self, key: &LeakedKey) -> String {
        match key.kind.as_str() {
            "admin" => "admin key".into(),
            "project" => "project key".into(),
            "service-account" => "service account key".into(),
            "none" => "user key (sk-None)".into(),
            "legacy" => "legacy user key".into(),
            other => format!("{other} key"),
        }
    }

    fn revoker(&self) -> Option<&dyn Revoker> {
        Some(&revoker::OpenAiRevoker)
    }

    fn reference(&self) -> &'static str {
        "github.com/openai/openai-openapi (vendored: tests/openapi/admin-api.json); https://platform.openai.com/docs/guides/error-codes"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Fingerprint, Secret};

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            method: "GET",
            path: "/v1/models".into(),
            status,
            request_id: Some("req_1".into()),
            location: None,
            headers: vec![],
            body: body.into(),
            tries: 1,
            out_of_time: false,
        }
    }

    fn error(code: &str) -> String {
        format!(r#"{{"error":{{"message":"m","type":"invalid_request_error","param":null,"code":"{code}"}}}}"#)
    }

    fn key() -> LeakedKey {
        LeakedKey {
            secret: Secret::new("x"),
            provider: "openai".into(),
            rule_id: "openai-project-key".into(),
            kind: "project".into(),
            redacted: "x".into(),
            fingerprint: Fingerprint::of("openai-project-key", "x"),
            places: vec![],
            endpoint: None,
        }
    }

    #[test]
    fn answers_are_classified() {
        let classify = |status, body: &str| OPENAI.classify(&key(), &reply(status, body));
        assert_eq!(classify(200, "{}").liveness, Liveness::Live);
        let limited = classify(429, &error("rate_limit_exceeded"));
        assert_eq!(limited.liveness, Liveness::Unknown);
        assert!(limited.reason.contains("rate limited"), "{}", limited.reason);
        assert_eq!(classify(429, &error("insufficient_quota")).liveness, Liveness::Live);
        assert_eq!(classify(401, &error("invalid_api_key")).liveness, Liveness::Dead);
        let allow_list = classify(401, &error("ip_not_authorized"));
        assert_eq!(allow_list.liveness, Liveness::Unknown);
        assert!(allow_list.reason.contains("401"), "{}", allow_list.reason);
        assert_eq!(classify(403, &error("x")).liveness, Liveness::Unknown);
        assert_eq!(classify(503, "").liveness, Liveness::Unknown);
        assert_eq!(classify(302, "").liveness, Liveness::Unknown);
    }

    #[test]
    fn the_organisation_is_read_from_its_header_unless_the_key_is_dead() {
        let mut live = reply(200, "{}");
        live.headers = vec![(ORGANIZATION_HEADER.into(), " org-abc ".into())];
        assert_eq!(OPENAI.classify(&key(), &live).organization.as_deref(), Some("org-abc"));
        let mut dead = reply(401, &error("invalid_api_key"));
        dead.headers = live.headers.clone();
        assert_eq!(OPENAI.classify(&key(), &dead).organization, None);
    }
}
