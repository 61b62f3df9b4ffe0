//! One fake that plays any provider whose only part is a read-only check (`src/revoke/provider/simple.rs`, and
//! Anthropic's and Azure's profiles for the tests that check nothing is sent to them): a real HTTP server on
//! 127.0.0.1 (a free port), serving one provider's documented probe the way its reference says, and recording
//! every request it receives.
//!
//! - A [`Profile`] says which path (and query) the provider documents for the probe, which header carries the key
//!   (`Authorization: Bearer`, `x-goog-api-key`, `x-api-key`, `api-key`), and the provider's answers: the body of
//!   a live key, the answer to an invalid key, a 403 restriction, the shape of its 429 and 5xx bodies. Each is
//!   taken from `/work/research/probes.md` and the excerpts vendored in `tests/openapi/providers/` (see its
//!   README); where a body is only observed in public threads, the profile says so.
//! - The fake is started with a table of keys and a [`Plan`] for each: the answer ([`Answer`]), after planted
//!   faults (429 with `retry-after: 1`, or a 5xx, each a number of times or [`FOREVER`]).
//! - A key the table does not hold, or a request without the key in the documented header, gets the provider's
//!   invalid-key answer, as the provider would give.
//! - Any other method or path, or a request with a key in its query string (or a `key=` parameter), answers 404
//!   and is recorded, so tests can assert nothing else was called.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::fake_server::Served;
use serde_json::{Value, json};
use tiny_http::{Header, Request, Response};

/// How a provider's requests carry the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Bearer <key>`.
    Bearer,
    /// The key alone in this header (lower-case name).
    Header(&'static str),
}

impl Auth {
    /// The header's name, lower-case.
    pub fn header(self) -> &'static str {
        match self {
            Auth::Bearer => "authorization",
            Auth::Header(name) => name,
        }
    }
}

/// A canned answer: status, body, content type, extra headers.
#[derive(Debug, Clone)]
pub struct Canned {
    pub status: u16,
    pub body: Value,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
}

impl Canned {
    pub fn json(status: u16, body: Value) -> Canned {
        Canned {
            status,
            body,
            content_type: "application/json",
            headers: Vec::new(),
        }
    }

    fn with_header(mut self, name: &'static str, value: &str) -> Canned {
        self.headers.push((name, value.to_string()));
        self
    }
}

/// What one provider documents for its probe, and how it answers.
#[derive(Clone)]
pub struct Profile {
    /// The rules' `provider` name (`groq`); the base variable is `KEYHOUND_<NAME>_API_BASE`.
    pub provider: &'static str,
    /// The documented probe: `GET` this path and query.
    pub path: &'static str,
    pub auth: Auth,
    /// The body of a 200 to a live key, in the documented shape.
    pub live: fn() -> Value,
    /// The documented (or, where marked in the README, observed) answer to an invalid key; the argument is the
    /// credential received, which some providers quote masked.
    pub dead: fn(&str) -> Canned,
    /// A 403 that says the key exists but is restricted (permissions, a disabled API, a missing tenant).
    pub restricted: fn() -> Canned,
    /// The body of the provider's 429.
    pub rate_limited: fn() -> Value,
    /// The body of the provider's 5xx with this status.
    pub server_error: fn(u16) -> Value,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Profile({} GET {})", self.provider, self.path)
    }
}

/// `{"error": {"message", "type", "code"}}`, the OpenAI-style envelope several providers use.
fn openai_style(message: &str, kind: &str, code: Value) -> Value {
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}

/// Google's error envelope (`google.rpc.Status`), with one `ErrorInfo` reason when given.
pub fn google_error(code: u16, status: &str, message: &str, reason: Option<&str>) -> Value {
    let mut details = Vec::new();
    if let Some(reason) = reason {
        details.push(json!({
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": reason,
            "domain": "googleapis.com",
            "metadata": {"service": "generativelanguage.googleapis.com"}
        }));
    }
    json!({"error": {"code": code, "message": message, "status": status, "details": details}})
}

/// The last `n` characters of `key`.
fn tail(key: &str, n: usize) -> String {
    let chars: Vec<char> = key.chars().collect();
    chars[chars.len().saturating_sub(n)..].iter().collect()
}

/// Every profile, by provider name: the check-only providers of `simple.rs`, Anthropic and Azure.
pub fn profiles() -> Vec<Profile> {
    vec![
        // Google: models.list with `x-goog-api-key` (never `?key=`); an invalid key is the documented 400
        // INVALID_ARGUMENT with `details[].reason: API_KEY_INVALID` (vendored google.json, verbatim).
        Profile {
            provider: "google",
            path: "/v1beta/models?pageSize=1",
            auth: Auth::Header("x-goog-api-key"),
            live: || {
                json!({"models": [{"name": "models/gemini-2.5-flash", "version": "001", "displayName": "Gemini 2.5 Flash",
                        "inputTokenLimit": 1048576, "outputTokenLimit": 65536,
                        "supportedGenerationMethods": ["generateContent", "countTokens"]}],
                       "nextPageToken": "Cg5nZW1pbmktMi41LWZsYXNo"})
            },
            dead: |_| {
                let mut body = google_error(
                    400,
                    "INVALID_ARGUMENT",
                    "API key not valid. Please pass a valid API key.",
                    Some("API_KEY_INVALID"),
                );
                body["error"]["details"].as_array_mut().expect("details").push(json!({
                    "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                    "locale": "en-US",
                    "message": "API key not valid. Please pass a valid API key."
                }));
                Canned::json(400, body)
            },
            restricted: google_service_disabled,
            rate_limited: || {
                let mut body = google_error(
                    429,
                    "RESOURCE_EXHAUSTED",
                    "You exceeded your current quota, please check your plan and billing details.",
                    None,
                );
                body["error"]["details"] =
                    json!([{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"}]);
                body
            },
            server_error: |status| {
                let name = if status == 503 { "UNAVAILABLE" } else { "INTERNAL" };
                google_error(status, name, "An internal error has occurred. Please retry.", None)
            },
        },
        // Hugging Face: whoami-v2; 401 with `{"error": "Invalid credentials in Authorization header"}` and the same
        // text in `X-Error-Message` (observed; huggingface_hub checks that string).
        Profile {
            provider: "huggingface",
            path: "/api/whoami-v2",
            auth: Auth::Bearer,
            live: || {
                json!({"type": "user", "id": "6530f0a1b2c3d4e5f6a7b8c9", "name": "keyhound-test", "fullname": "Keyhound Test",
                       "email": null, "orgs": [],
                       "auth": {"type": "access_token", "accessToken": {"displayName": "ci", "role": "read"}}})
            },
            dead: |_| {
                Canned::json(401, json!({"error": "Invalid credentials in Authorization header"}))
                    .with_header("X-Error-Message", "Invalid credentials in Authorization header")
            },
            restricted: || {
                Canned::json(
                    403,
                    json!({"error": "This token does not have the permissions this request needs"}),
                )
            },
            rate_limited: || json!({"error": "You've hit the rate limit for the /whoami-v2 endpoint"}),
            server_error: |_| json!({"error": "Internal Error"}),
        },
        // Groq: the OpenAI-compatible model list; 401 with the documented `{"error": {"message", "type"}}` shape
        // (the `code` field is observed, not documented); 403 "not allowed due to permission restrictions".
        Profile {
            provider: "groq",
            path: "/openai/v1/models",
            auth: Auth::Bearer,
            live: || {
                json!({"object": "list", "data": [{"id": "llama-3.3-70b-versatile", "object": "model", "created": 1733447754,
                        "owned_by": "Meta", "active": true, "context_window": 131072}]})
            },
            dead: |_| {
                Canned::json(
                    401,
                    openai_style("Invalid API Key", "invalid_request_error", json!("invalid_api_key")),
                )
            },
            restricted: || {
                Canned::json(
                    403,
                    openai_style(
                        "The request is not allowed due to permission restrictions.",
                        "permissions_error",
                        json!("permission_denied"),
                    ),
                )
            },
            rate_limited: || {
                openai_style(
                    "Rate limit reached for model `llama-3.3-70b-versatile` on requests per minute (RPM). Please try again in 1s.",
                    "requests",
                    json!("rate_limit_exceeded"),
                )
            },
            server_error: |_| openai_style("Internal Server Error", "internal_server_error", Value::Null),
        },
        // OpenRouter: the current key; 401 `UnauthorizedResponse` `{"error": {"code": 401, "message"}}` (spec; the
        // message a wrong key gets is observed).
        Profile {
            provider: "openrouter",
            path: "/api/v1/key",
            auth: Auth::Bearer,
            live: || openrouter_key(74.5),
            dead: |_| Canned::json(401, json!({"error": {"code": 401, "message": "User not found."}})),
            restricted: || {
                Canned::json(
                    403,
                    json!({"error": {"code": 403, "message": "Forbidden: insufficient permissions"}}),
                )
            },
            rate_limited: || json!({"error": {"code": 429, "message": "Rate limit exceeded"}}),
            server_error: |status| json!({"error": {"code": status, "message": "Internal Server Error"}}),
        },
        // xAI: `GET /v1/api-key`; the reference documents 400 for an invalid key, with the observed body
        // `{"code": ..., "error": "Incorrect API key provided: xa***xx. ..."}`.
        Profile {
            provider: "xai",
            path: "/v1/api-key",
            auth: Auth::Bearer,
            live: || xai_key(false),
            dead: |key| {
                Canned::json(
                    400,
                    json!({"code": "Client specified an invalid argument",
                           "error": format!("Incorrect API key provided: xa***{}. You can obtain an API key from https://console.x.ai.", tail(key, 2))}),
                )
            },
            restricted: || {
                Canned::json(
                    403,
                    json!({"code": "The caller does not have permission to execute the specified operation",
                           "error": "Your API key doesn't have permission to perform the action."}),
                )
            },
            rate_limited: || json!({"code": "Some resource has been exhausted", "error": "Too many requests"}),
            server_error: |_| json!({"code": "Internal error", "error": "Internal server error"}),
        },
        // Mistral: the model list; the reference documents only "4XX"; 401 `{"message": "Unauthorized",
        // "request_id"}` is observed.
        Profile {
            provider: "mistral",
            path: "/v1/models",
            auth: Auth::Bearer,
            live: || {
                json!({"object": "list", "data": [{"id": "mistral-small-latest", "object": "model", "created": 1733447754,
                        "owned_by": "mistralai", "capabilities": {"completion_chat": true}}]})
            },
            dead: |_| {
                Canned::json(
                    401,
                    json!({"message": "Unauthorized", "request_id": "5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b"}),
                )
            },
            restricted: || Canned::json(403, json!({"message": "Forbidden", "request_id": "0b1c2d3e4f"})),
            rate_limited: || json!({"message": "Requests rate limit exceeded"}),
            server_error: |_| json!({"message": "Internal server error"}),
        },
        // DeepSeek: the balance; "401 - Authentication Fails" (error codes page), body observed.
        Profile {
            provider: "deepseek",
            path: "/user/balance",
            auth: Auth::Bearer,
            live: || deepseek_balance(true),
            dead: |key| {
                Canned::json(
                    401,
                    json!({"error": {"message": format!("Authentication Fails, Your api key: ****{} is invalid", tail(key, 4)),
                                     "type": "authentication_error", "param": null, "code": "invalid_request_error"}}),
                )
            },
            restricted: || {
                Canned::json(
                    403,
                    openai_style("Access denied for this API key", "permission_error", Value::Null),
                )
            },
            rate_limited: || openai_style("Rate Limit Reached", "rate_limit_error", Value::Null),
            server_error: |status| {
                let message = if status == 503 {
                    "Server Overloaded"
                } else {
                    "Server Error"
                };
                openai_style(message, "server_error", Value::Null)
            },
        },
        // Cohere: the model list (GET; the documented checker is a POST); 401 with the documented `message` and
        // `id` fields.
        Profile {
            provider: "cohere",
            path: "/v1/models?page_size=1",
            auth: Auth::Bearer,
            live: || {
                json!({"models": [{"name": "command-r-plus", "endpoints": ["generate", "chat"], "finetuned": false,
                        "context_length": 128000}], "next_page_token": "Y29tbWFuZC1y"})
            },
            dead: |_| {
                Canned::json(
                    401,
                    json!({"id": "3f9a0c1e-0000-4000-8000-000000000001", "message": "invalid api token"}),
                )
            },
            restricted: || {
                Canned::json(
                    403,
                    json!({"id": "3f9a0c1e-0000-4000-8000-000000000002", "message": "this API key cannot list models"}),
                )
            },
            rate_limited: || json!({"id": "3f9a0c1e-0000-4000-8000-000000000003", "message": "You are using a Trial key, which is limited to 20 API calls / minute."}),
            server_error: |_| json!({"id": "3f9a0c1e-0000-4000-8000-000000000004", "message": "internal server error"}),
        },
        // Moonshot: the balance (international host); 401 `invalid_authentication_error` (observed on both hosts).
        Profile {
            provider: "moonshot",
            path: "/v1/users/me/balance",
            auth: Auth::Bearer,
            live: || moonshot_balance(49.58894),
            dead: |_| {
                Canned::json(
                    401,
                    json!({"error": {"message": "Invalid Authentication", "type": "invalid_authentication_error"}}),
                )
            },
            restricted: || {
                Canned::json(
                    403,
                    json!({"error": {"message": "permission denied", "type": "permission_denied_error"}}),
                )
            },
            rate_limited: || json!({"error": {"message": "rate limit reached", "type": "rate_limit_reached_error"}}),
            server_error: |_| json!({"error": {"message": "server error", "type": "server_error"}}),
        },
        // Perplexity: the async completions list; 401 (status only documented; the body is unverified).
        Profile {
            provider: "perplexity",
            path: "/async/chat/completions",
            auth: Auth::Bearer,
            live: || json!({"requests": [], "next_token": null}),
            dead: |_| {
                Canned::json(
                    401,
                    json!({"error": {"message": "Invalid API key", "type": "authentication_error", "code": 401}}),
                )
            },
            restricted: || {
                Canned::json(
                    403,
                    json!({"error": {"message": "This API key cannot use the async API", "type": "permission_error", "code": 403}}),
                )
            },
            rate_limited: || json!({"error": {"message": "Rate limit exceeded", "type": "rate_limit_error", "code": 429}}),
            server_error: |status| json!({"error": {"message": "Internal server error", "type": "server_error", "code": status}}),
        },
        // Replicate: the account; 401 problem+json (the detail string is asserted in replicate-python's tests).
        Profile {
            provider: "replicate",
            path: "/v1/account",
            auth: Auth::Bearer,
            live: || json!({"type": "user", "username": "keyhound-test", "name": "Keyhound Test", "github_url": null}),
            dead: |_| Canned {
                content_type: "application/problem+json",
                ..Canned::json(
                    401,
                    json!({"title": "Unauthenticated", "detail": "You did not pass a valid authentication token", "status": 401}),
                )
            },
            restricted: || Canned {
                content_type: "application/problem+json",
                ..Canned::json(
                    403,
                    json!({"title": "Forbidden", "detail": "You do not have permission to view this account", "status": 403}),
                )
            },
            rate_limited: || json!({"title": "Too Many Requests", "detail": "Request was throttled. Expected available in 1 second.", "status": 429}),
            server_error: |status| json!({"title": "Internal Server Error", "detail": "Something went wrong", "status": status}),
        },
        // Together: the model list, a bare array; 401 `ErrorData` (the message is observed).
        Profile {
            provider: "together",
            path: "/v1/models",
            auth: Auth::Bearer,
            live: || {
                json!([{"id": "meta-llama/Llama-3.3-70B-Instruct-Turbo", "object": "model", "created": 1733447754,
                        "type": "chat", "display_name": "Llama 3.3 70B Instruct Turbo", "organization": "Meta"}])
            },
            dead: |_| {
                Canned::json(
                    401,
                    openai_style(
                        "Invalid API key provided. You can find your API key at https://api.together.ai/settings/api-keys.",
                        "invalid_request_error",
                        json!("invalid_api_key"),
                    ),
                )
            },
            restricted: || {
                Canned::json(
                    403,
                    openai_style(
                        "Access to this resource is forbidden",
                        "invalid_request_error",
                        Value::Null,
                    ),
                )
            },
            rate_limited: || openai_style("rate limit exceeded", "rate_limit_error", Value::Null),
            server_error: |_| openai_style("internal server error", "server_error", Value::Null),
        },
        // Tavily: the usage; 401 `{"detail": {"error": "Unauthorized: missing or invalid API key."}}`.
        Profile {
            provider: "tavily",
            path: "/usage",
            auth: Auth::Bearer,
            live: || {
                json!({"key": {"usage": 150, "limit": 1000},
                       "account": {"current_plan": "Researcher", "plan_usage": 150, "plan_limit": 1000}})
            },
            dead: |_| {
                Canned::json(
                    401,
                    json!({"detail": {"error": "Unauthorized: missing or invalid API key."}}),
                )
            },
            restricted: || {
                Canned::json(
                    403,
                    json!({"detail": {"error": "Forbidden: this key cannot read usage."}}),
                )
            },
            rate_limited: || json!({"detail": {"error": "Rate limit exceeded."}}),
            server_error: |_| json!({"detail": {"error": "Internal server error."}}),
        },
        // LangSmith: the workspaces visible to the key, with `X-Api-Key`; 401 (status only, from a scanner); 403 is
        // the documented answer to an organisation-scoped key without `X-Tenant-Id`.
        Profile {
            provider: "langsmith",
            path: "/api/v1/workspaces",
            auth: Auth::Header("x-api-key"),
            live: || {
                json!([{"id": "0a1b2c3d-0000-4000-8000-00000000000a", "organization_id": "0a1b2c3d-0000-4000-8000-00000000000b",
                        "display_name": "Workspace 1", "tenant_handle": "ws-1"}])
            },
            dead: |_| Canned::json(401, json!({"detail": "Invalid token"})),
            restricted: || {
                Canned::json(
                    403,
                    json!({"detail": "Forbidden: X-Tenant-Id is required for organization-scoped API keys"}),
                )
            },
            rate_limited: || json!({"detail": "Too many requests"}),
            server_error: |_| json!({"detail": "Internal server error"}),
        },
        // Anthropic: the model list with `x-api-key`; 401 `authentication_error` (documented shape).
        Profile {
            provider: "anthropic",
            path: "/v1/models?limit=1",
            auth: Auth::Header("x-api-key"),
            live: || {
                json!({"data": [{"type": "model", "id": "claude-sonnet-4-5", "display_name": "Claude Sonnet 4.5",
                        "created_at": "2025-09-29T00:00:00Z"}], "has_more": true,
                       "first_id": "claude-sonnet-4-5", "last_id": "claude-sonnet-4-5"})
            },
            dead: |_| {
                Canned::json(
                    401,
                    json!({"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"},
                           "request_id": "req_011CKeyhoundTest"}),
                )
            },
            restricted: || {
                Canned::json(
                    403,
                    json!({"type": "error", "error": {"type": "permission_error", "message": "Your API key does not have permission to use the specified resource."}}),
                )
            },
            rate_limited: || json!({"type": "error", "error": {"type": "rate_limit_error", "message": "Number of requests has exceeded your rate limit"}}),
            server_error: |_| json!({"type": "error", "error": {"type": "api_error", "message": "Internal server error"}}),
        },
        // Azure OpenAI: the resource's model list with `api-key` (keyhound does not probe it: the resource's
        // endpoint is not recorded with the finding).
        Profile {
            provider: "azure",
            path: "/openai/models?api-version=2024-10-21",
            auth: Auth::Header("api-key"),
            live: || json!({"object": "list", "data": []}),
            dead: |_| {
                Canned::json(
                    401,
                    json!({"error": {"code": "401", "message": "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource."}}),
                )
            },
            restricted: || {
                Canned::json(
                    403,
                    json!({"error": {"code": "forbidden", "message": "Public access is disabled."}}),
                )
            },
            rate_limited: || json!({"error": {"code": "429", "message": "Rate limit is exceeded."}}),
            server_error: |_| json!({"error": {"code": "InternalServerError", "message": "Internal server error"}}),
        },
    ]
}

/// The profile of `provider`.
pub fn profile(provider: &str) -> Profile {
    profiles()
        .into_iter()
        .find(|p| p.provider == provider)
        .unwrap_or_else(|| panic!("no fake profile for provider {provider}"))
}

/// Google's 403 for a key whose project has not enabled the API (`SERVICE_DISABLED`): the key exists.
pub fn google_service_disabled() -> Canned {
    Canned::json(
        403,
        google_error(
            403,
            "PERMISSION_DENIED",
            "Generative Language API has not been used in project 123456789012 before or it is disabled. Enable it by \
             visiting https://console.developers.google.com/apis/api/generativelanguage.googleapis.com/overview?project=123456789012 \
             then retry.",
            Some("SERVICE_DISABLED"),
        ),
    )
}

/// Google's 403 for a key it has blocked as publicly exposed (troubleshooting page).
pub fn google_leaked() -> Canned {
    Canned::json(
        403,
        google_error(
            403,
            "PERMISSION_DENIED",
            "Your API key was reported as leaked. Please use another API key.",
            None,
        ),
    )
}

/// xAI's key information, `api_key_disabled` as given (the reference's example otherwise).
pub fn xai_key(disabled: bool) -> Value {
    json!({"redacted_api_key": "xai-...b14o", "user_id": "59fbe5f2-040b-46d5-8325-868bb8f23eb2", "name": "My API Key",
           "create_time": "2024-01-01T12:55:18.139305Z", "modify_time": "2024-08-28T17:20:12.343321Z",
           "modified_by": "3d38b4dc-4eb7-4785-ae26-c3fa8997ffc7", "team_id": "5ea6f6bd-7815-4b8a-9135-28b2d7ba6722",
           "acls": ["api-key:model:*", "api-key:endpoint:*"], "api_key_id": "ae1e1841-4326-4b36-a8a9-8a1a7237db11",
           "team_blocked": false, "api_key_blocked": false, "api_key_disabled": disabled})
}

/// DeepSeek's balance, `is_available` as given.
pub fn deepseek_balance(available: bool) -> Value {
    let total = if available { "110.00" } else { "0.00" };
    json!({"is_available": available, "balance_infos": [{"currency": "CNY", "total_balance": total,
           "granted_balance": "0.00", "topped_up_balance": total}]})
}

/// OpenRouter's current key, with `limit_remaining` as given.
pub fn openrouter_key(limit_remaining: f64) -> Value {
    json!({"data": {"label": "sk-or-v1-au7...890", "limit": 100, "limit_remaining": limit_remaining,
           "limit_reset": "monthly", "usage": 100.0 - limit_remaining, "usage_daily": 0.0, "usage_weekly": 0.0,
           "usage_monthly": 0.0, "byok_usage": 0.0, "byok_usage_daily": 0.0, "byok_usage_weekly": 0.0,
           "byok_usage_monthly": 0.0, "is_free_tier": false, "is_management_key": false,
           "is_provisioning_key": false, "include_byok_in_limit": false, "creator_user_id": "user_2dHFtVWx2n56w6HkM0000000000",
           "expires_at": null, "rate_limit": {"interval": "1h", "note": "This field is deprecated and safe to ignore.",
           "requests": 1000}}})
}

/// OpenRouter's current key without a credit limit of its own (`limit` and `limit_remaining` null).
pub fn openrouter_unlimited() -> Value {
    let mut key = openrouter_key(0.0);
    key["data"]["limit"] = Value::Null;
    key["data"]["limit_remaining"] = Value::Null;
    key
}

/// Moonshot's balance, with `available_balance` as given.
pub fn moonshot_balance(available: f64) -> Value {
    json!({"code": 0, "data": {"available_balance": available, "voucher_balance": 0.0, "cash_balance": available},
           "scode": "0x0", "status": true})
}

/// Faults planted before a key's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The provider's 429, with `retry-after: 1`.
    RateLimit,
    /// The provider's 5xx with this status.
    ServerError(u16),
}

/// A fault count that never runs out.
pub const FOREVER: u32 = u32::MAX;

/// What the fake answers to a key once its faults are spent.
#[derive(Debug, Clone)]
pub enum Answer {
    /// 200 with the profile's documented body.
    Live,
    /// 200 with this body (a key that exists but is disabled, an account out of credit).
    LiveBody(Value),
    /// The profile's invalid-key answer.
    Dead,
    /// The profile's 403 restriction.
    Restricted,
    /// A planted answer.
    Canned(Canned),
    /// A broken proxy: this status, with the credential as received quoted in the error's message (whole, and cut
    /// in two) and in the `x-request-id` and `x-echo` headers.
    Echo(u16),
}

/// A key's faults (in order, each a number of times) and its answer.
#[derive(Debug, Clone)]
pub struct Plan {
    pub faults: Vec<(Fault, u32)>,
    pub answer: Answer,
}

impl Plan {
    pub fn answer(answer: Answer) -> Plan {
        Plan {
            faults: Vec::new(),
            answer,
        }
    }

    pub fn live() -> Plan {
        Plan::answer(Answer::Live)
    }

    pub fn dead() -> Plan {
        Plan::answer(Answer::Dead)
    }

    pub fn restricted() -> Plan {
        Plan::answer(Answer::Restricted)
    }

    /// `fault` `times` times first.
    pub fn after(mut self, fault: Fault, times: u32) -> Plan {
        self.faults.push((fault, times));
        self
    }
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path and query as sent.
    pub url: String,
    /// Every header, names lower-case.
    pub headers: Vec<(String, String)>,
    /// The status the fake answered.
    pub status: u16,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The credential in the header `auth` names (without `Bearer `).
    pub fn credential(&self, auth: Auth) -> Option<&str> {
        let value = self.header(auth.header())?;
        match auth {
            Auth::Bearer => value.strip_prefix("Bearer "),
            Auth::Header(_) => Some(value),
        }
    }

    /// The names of the headers whose value holds `key`.
    pub fn carriers(&self, key: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(_, v)| v.contains(key))
            .map(|(n, _)| n.as_str())
            .collect()
    }
}

struct State {
    plans: HashMap<String, Plan>,
    requests: Vec<Recorded>,
}

/// A running fake of one provider; stops when dropped.
pub struct FakeProvider {
    pub profile: Profile,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    served: Served<State>,
}

impl FakeProvider {
    /// Serves `profile` with `table` (key, plan).
    pub fn start(profile: Profile, table: Vec<(String, Plan)>) -> FakeProvider {
        let state = State {
            plans: table.into_iter().collect(),
            requests: Vec::new(),
        };
        let served = {
            let profile = profile.clone();
            Served::start(state, move |request, state| handle(request, &profile, state))
        };
        FakeProvider {
            profile,
            base: served.base.clone(),
            served,
        }
    }

    /// `KEYHOUND_<PROVIDER>_API_BASE`.
    pub fn variable(&self) -> String {
        format!("KEYHOUND_{}_API_BASE", self.profile.provider.to_ascii_uppercase())
    }

    /// Every request received so far, in order of arrival.
    pub fn requests(&self) -> Vec<Recorded> {
        self.served.state().requests.clone()
    }

    /// The requests that carried `key` in the documented header.
    pub fn requests_with(&self, key: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.credential(self.profile.auth) == Some(key))
            .collect()
    }
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("a valid header")
}

/// Does the query string hold a key: one of the table's, the one in the header, or any `key=` parameter?
fn key_in_query(url: &str, credential: Option<&str>, plans: &HashMap<String, Plan>) -> bool {
    let Some((_, query)) = url.split_once('?') else {
        return false;
    };
    query
        .split('&')
        .any(|pair| pair.starts_with("key=") || pair.starts_with("api_key="))
        || plans.keys().any(|k| query.contains(k.as_str()))
        || credential.is_some_and(|c| !c.is_empty() && query.contains(c))
}

fn handle(mut request: Request, profile: &Profile, state: &Mutex<State>) {
    let method = request.method().as_str().to_string();
    let url = request.url().to_string();
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|h| {
            (
                h.field.as_str().as_str().to_ascii_lowercase(),
                h.value.as_str().to_string(),
            )
        })
        .collect();
    let mut body = String::new();
    let _ = std::io::Read::read_to_string(request.as_reader(), &mut body);
    let mut recorded = Recorded {
        method,
        url,
        headers,
        status: 0,
    };
    let credential = recorded.credential(profile.auth).map(str::to_string);
    let answer = {
        let mut state = state.lock().expect("state");
        let answer = if recorded.method != "GET"
            || recorded.url != profile.path
            || key_in_query(&recorded.url, credential.as_deref(), &state.plans)
        {
            Canned::json(
                404,
                json!({"error": {"message": format!("no route for {} {}", recorded.method, recorded.url.split('?').next().unwrap_or_default())}}),
            )
        } else {
            let credential = credential.clone().unwrap_or_default();
            match state.plans.get_mut(&credential) {
                None => (profile.dead)(&credential),
                Some(plan) => answer_of(profile, plan, &credential),
            }
        };
        recorded.status = answer.status;
        state.requests.push(recorded);
        answer
    };
    let mut response = Response::from_string(answer.body.to_string())
        .with_status_code(answer.status)
        .with_header(header("Content-Type", answer.content_type));
    for (name, value) in &answer.headers {
        response.add_header(header(name, value));
    }
    let _ = request.respond(response);
}

/// The next answer to a key of the table: its next planted fault, else its answer.
fn answer_of(profile: &Profile, plan: &mut Plan, credential: &str) -> Canned {
    if let Some((fault, times)) = plan.faults.iter_mut().find(|(_, times)| *times > 0) {
        if *times != FOREVER {
            *times -= 1;
        }
        return match *fault {
            Fault::RateLimit => Canned::json(429, (profile.rate_limited)()).with_header("retry-after", "1"),
            Fault::ServerError(status) => Canned::json(status, (profile.server_error)(status)),
        };
    }
    match &plan.answer {
        Answer::Live => Canned::json(200, (profile.live)()),
        Answer::LiveBody(body) => Canned::json(200, body.clone()),
        Answer::Dead => (profile.dead)(credential),
        Answer::Restricted => (profile.restricted)(),
        Answer::Canned(canned) => canned.clone(),
        Answer::Echo(status) => {
            let (head, rest) = credential.split_at(credential.len() / 2);
            Canned::json(
                *status,
                json!({"error": {"message": format!("Incorrect API key provided: {credential} (Authorization: Bearer {credential}; in pieces: {head} {rest})"),
                                 "type": "invalid_request_error", "code": null}}),
            )
            .with_header("x-request-id", credential)
            .with_header("x-echo", &format!("Bearer {credential}"))
        }
    }
}
