//! Providers whose only part is a read-only check: one `GET` with the key, and the answers their references
//! document. Each entry cites the reference it follows; the excerpts relied on are vendored in
//! `tests/openapi/providers/` (see its README for sources and commits).
//!
//! Common ground, from the references: a 2xx is `live`; `dead` only on the answer a reference documents for a
//! missing, invalid or revoked key (almost always 401; Google's is a 400 `API_KEY_INVALID`, xAI's a 400 "Incorrect
//! API key"); a 403 is never `dead` (restrictions, permissions, IP allow-lists) except where documented; 429 and
//! 5xx are retried and then `unknown`.

use crate::finding::Liveness;
use crate::revoke::client::{AuthStyle, Reply};
use crate::revoke::keys::LeakedKey;
use crate::revoke::verify::Probe;

use super::{Answers, Api, Check, Provider, Region, classify_with};

/// A provider known by its check alone.
pub struct Simple {
    pub name: &'static str,
    pub label: &'static str,
    pub api: Api,
    /// The check's path and query.
    pub path: &'static str,
    /// Rule kinds the provider documents no read-only check for, and why.
    pub unchecked: &'static [(&'static str, &'static str)],
    pub answers: Answers,
    /// What a 2xx body says beyond "accepted": a key that exists but is disabled, an account out of credit.
    pub on_success: fn(&Reply) -> Option<(Liveness, &'static str)>,
    /// For providers whose keys are bound to one of several regions: the other regions, where a rejected key is
    /// probed again ([`Provider::regions`]).
    pub regions: &'static [Region],
    pub dashboard: &'static str,
    /// The reference the check follows.
    pub reference: &'static str,
}

impl Provider for Simple {
    fn name(&self) -> &'static str {
        self.name
    }

    fn label(&self) -> &'static str {
        self.label
    }

    fn api(&self) -> Api {
        self.api
    }

    fn check(&self, key: &LeakedKey) -> Check {
        match self.unchecked.iter().find(|(kind, _)| *kind == key.kind) {
            Some((_, why)) => Check::None(why),
            None => Check::Get(self.path.to_string()),
        }
    }

    fn classify(&self, _key: &LeakedKey, reply: &Reply) -> Probe {
        let mut probe = classify_with(reply, &self.answers);
        if probe.liveness == Liveness::Live
            && reply.is_success()
            && let Some((liveness, what)) = (self.on_success)(reply)
        {
            probe.liveness = liveness;
            probe.reason = format!("{}, but {what}", probe.reason);
        }
        probe
    }

    fn dashboard(&self, _key: &LeakedKey) -> &'static str {
        self.dashboard
    }

    fn reference(&self) -> &'static str {
        self.reference
    }

    fn regions(&self) -> &'static [Region] {
        self.regions
    }
}

/// 401, whatever the body: the references below document 401 for a missing or invalid key and nothing else.
fn unauthorized(reply: &Reply) -> Option<&'static str> {
    (reply.status == 401).then_some("401")
}

fn never(_: &Reply) -> Option<&'static str> {
    None
}

fn nothing_more(_: &Reply) -> Option<(Liveness, &'static str)> {
    None
}

/// A JSON body's value at a path of object keys.
fn field<'a>(body: &'a serde_json::Value, path: &[&str]) -> Option<&'a serde_json::Value> {
    path.iter().try_fold(body, |value, key| value.get(key))
}

fn body(reply: &Reply) -> serde_json::Value {
    serde_json::from_str(&reply.body).unwrap_or(serde_json::Value::Null)
}

/// Google: 400 `INVALID_ARGUMENT` with `details[].reason` `API_KEY_INVALID` (or `API_KEY_EXPIRED`) is an invalid
/// key; 403 "reported as leaked" is a key Google has blocked. Other 400s and 403s (restrictions, the API not
/// enabled, the standard-key policy) are no verdict.
fn google_dead(reply: &Reply) -> Option<&'static str> {
    let error = reply.error()?;
    let reason = |r: &str| error.reasons.iter().any(|x| x == r);
    match reply.status {
        400 if reason("API_KEY_INVALID") => Some("400 API_KEY_INVALID"),
        400 if reason("API_KEY_EXPIRED") => Some("400 API_KEY_EXPIRED"),
        403 if error
            .message
            .as_deref()
            .is_some_and(|m| m.to_ascii_lowercase().contains("reported as leaked")) =>
        {
            Some("403: blocked by Google as a leaked key")
        }
        _ => None,
    }
}

fn google_accepted(reply: &Reply) -> Option<&'static str> {
    (reply.status == 402).then_some("the billing account's prepaid credits are used up (402)")
}

/// DeepSeek's balance: `is_available: false` means the balance cannot pay for calls.
fn deepseek_balance(reply: &Reply) -> Option<(Liveness, &'static str)> {
    (body(reply).get("is_available").and_then(serde_json::Value::as_bool) == Some(false))
        .then_some((Liveness::Live, "its balance cannot pay for calls (is_available: false)"))
}

/// Moonshot's balance: `available_balance` at or below 0 means inference cannot be called.
fn moonshot_balance(reply: &Reply) -> Option<(Liveness, &'static str)> {
    field(&body(reply), &["data", "available_balance"])
        .and_then(serde_json::Value::as_f64)
        .is_some_and(|left| left <= 0.0)
        .then_some((Liveness::Live, "its balance is used up (available_balance <= 0)"))
}

/// Cohere: 401, or 498 (`InvalidToken` in its error list).
fn cohere_dead(reply: &Reply) -> Option<&'static str> {
    match reply.status {
        401 => Some("401"),
        498 => Some("498 invalid token"),
        _ => None,
    }
}

/// Tavily: 401 is an invalid key; 432 and 433 are plan limits of a key that was accepted.
fn tavily_accepted(reply: &Reply) -> Option<&'static str> {
    matches!(reply.status, 432 | 433).then_some("its plan's limit is reached (432/433)")
}

const fn bearer(default_base: &'static str) -> Api {
    Api {
        default_base,
        auth: AuthStyle::Bearer,
        headers: &[],
        strip: None,
    }
}

/// The check-only providers, by the rules' `provider` names.
pub static ALL: [Simple; 12] = [
    Simple {
        name: "google",
        label: "Google",
        api: Api {
            default_base: "https://generativelanguage.googleapis.com",
            auth: AuthStyle::Header("x-goog-api-key"),
            headers: &[],
            strip: None,
        },
        path: "/v1beta/models?pageSize=1",
        unchecked: &[],
        answers: Answers {
            dead: google_dead,
            accepted: google_accepted,
        },
        on_success: nothing_more,
        regions: &[],
        dashboard: "https://console.cloud.google.com/apis/credentials",
        reference: "https://ai.google.dev/api/models#method:-models.list; errors: https://ai.google.dev/gemini-api/docs/troubleshooting",
    },
    Simple {
        name: "huggingface",
        label: "Hugging Face",
        api: bearer("https://huggingface.co"),
        path: "/api/whoami-v2",
        unchecked: &[],
        answers: Answers {
            dead: unauthorized,
            accepted: never,
        },
        on_success: nothing_more,
        regions: &[],
        dashboard: "https://huggingface.co/settings/tokens",
        reference: "https://huggingface.co/docs/hub/api (GET /api/whoami-v2)",
    },
    Simple {
        name: "groq",
        label: "Groq",
        api: bearer("https://api.groq.com"),
        path: "/openai/v1/models",
        unchecked: &[],
        answers: Answers {
            dead: unauthorized,
            accepted: never,
        },
        on_success: nothing_more,
        regions: &[],
        dashboard: "https://console.groq.com/keys",
        reference: "https://console.groq.com/docs/api-reference#models-list; https://console.groq.com/docs/errors",
    },
    Simple {
        name: "mistral",
        label: "Mistral",
        api: bearer("https://api.mistral.ai"),
        path: "/v1/models",
        unchecked: &[],
        answers: Answers {
            dead: unauthorized,
            accepted: never,
        },
        on_success: nothing_more,
        regions: &[],
        dashboard: "https://console.mistral.ai/api-keys",
        reference: "https://docs.mistral.ai/api/#tag/models (GET /v1/models)",
    },
    Simple {
        name: "deepseek",
        label: "DeepSeek",
        api: bearer("https://api.deepseek.com"),
        path: "/user/balance",
        unchecked: &[],
        answers: Answers {
            dead: unauthorized,
            accepted: never,
        },
        on_success: deepseek_balance,
        regions: &[],
        dashboard: "https://platform.deepseek.com/api_keys",
        reference: "https://api-docs.deepseek.com/api/get-user-balance; https://api-docs.deepseek.com/quick_start/error_codes",
    },
    Simple {
        name: "cohere",
        label: "Cohere",
        api: bearer("https://api.cohere.com"),
        path: "/v1/models?page_size=1",
        unchecked: &[],
        answers: Answers {
            dead: cohere_dead,
            accepted: never,
        },
        on_success: nothing_more,
        regions: &[],
        dashboard: "https://dashboard.cohere.com/api-keys",
        reference: "https://docs.cohere.com/reference/list-models; https://docs.cohere.com/reference/errors",
    },
    Simple {
        name: "moonshot",
        label: "Moonshot",
        api: bearer("https://api.moonshot.ai"),
        path: "/v1/users/me/balance",
        unchecked: &[],
        answers: Answers {
            dead: unauthorized,
            accepted: never,
        },
        on_success: moonshot_balance,
        regions: &[Region {
            name: "cn",
            default_base: "https://api.moonshot.cn",
        }],
        dashboard: "https://platform.moonshot.ai/console/api-keys",
        reference: "https://platform.moonshot.ai/docs/api/balance",
    },
    Simple {
        name: "perplexity",
        label: "Perplexity",
        api: bearer("https://api.perplexity.ai"),
        path: "/async/chat/completions",
        unchecked: &[],
        answers: Answers {
            dead: unauthorized,
            accepted: never,
        },
        on_success: nothing_more,
        regions: &[],
        dashboard: "https://www.perplexity.ai/settings/api",
        reference: "perplexityai/perplexity-py src/perplexity/resources/async_/chat/completions.py (GET /async/chat/completions)",
    },
    Simple {
        name: "replicate",
        label: "Replicate",
        api: bearer("https://api.replicate.com"),
        path: "/v1/account",
        unchecked: &[],
        answers: Answers {
            dead: unauthorized,
            accepted: never,
        },
        on_success: nothing_more,
        regions: &[],
        dashboard: "https://replicate.com/account/api-tokens",
        reference: "https://replicate.com/docs/reference/http#account.get",
    },
    Simple {
        name: "together",
        label: "Together AI",
        api: bearer("https://api.together.ai"),
        path: "/v1/models",
        unchecked: &[],
        answers: Answers {
            dead: unauthorized,
            accepted: never,
        },
        on_success: nothing_more,
        regions: &[],
        dashboard: "https://api.together.ai/settings/api-keys",
        reference: "togethercomputer/openapi openapi.yaml (GET /models, ErrorData); https://docs.together.ai/reference/models-1",
    },
    Simple {
        name: "tavily",
        label: "Tavily",
        api: bearer("https://api.tavily.com"),
        path: "/usage",
        unchecked: &[],
        answers: Answers {
            dead: unauthorized,
            accepted: tavily_accepted,
        },
        on_success: nothing_more,
        regions: &[],
        dashboard: "https://app.tavily.com/home",
        reference: "https://docs.tavily.com/documentation/api-reference/endpoint/usage",
    },
    Simple {
        name: "langsmith",
        label: "LangSmith",
        api: Api {
            default_base: "https://api.smith.langchain.com",
            auth: AuthStyle::Header("x-api-key"),
            headers: &[],
            strip: None,
        },
        path: "/api/v1/workspaces",
        unchecked: &[],
        answers: Answers {
            dead: unauthorized,
            accepted: never,
        },
        on_success: nothing_more,
        regions: &[Region {
            name: "eu",
            default_base: "https://eu.api.smith.langchain.com",
        }],
        dashboard: "https://smith.langchain.com/settings",
        reference: "https://docs.langchain.com/langsmith/manage-organization-by-api (X-Api-Key; GET /api/v1/workspaces)",
    },
];
