//! Azure OpenAI (and Azure AI services): the liveness probe at the key's own resource.
//!
//! An Azure key has no prefix and works only at its resource's endpoint, so the rule records the endpoint found
//! next to the key (`https://NAME.openai.azure.com`, `.cognitiveservices.azure.com`, `.services.ai.azure.com`).
//! Reference: Azure OpenAI REST API, "Models - List" (learn.microsoft.com/en-us/rest/api/azureopenai/models/list,
//! `GET {endpoint}/openai/models?api-version=2024-10-21` with the `api-key` header; the spec
//! Azure/azure-rest-api-specs `specification/cognitiveservices/data-plane/AzureOpenAI/authoring/stable/2024-10-21/
//! azureopenai.json`, vendored in `tests/openapi/providers/azure-openai.json`): 200 lists the resource's models;
//! 401 is an invalid key ("Access denied due to invalid subscription key or wrong API endpoint"); 403 is a network
//! rule or a permission (never `dead`); 404 a wrong endpoint.
//!
//! A key goes only to an Azure host: an endpoint that is not `https://<name>.<one of the hosts above>` (a forged
//! report's, say) is not probed. Revocation is by hand: the resource's Keys and Endpoint page regenerates a key.

use crate::revoke::client::{AuthStyle, Reply};
use crate::revoke::keys::LeakedKey;
use crate::revoke::verify::Probe;

use super::{Answers, Api, Check, Provider, classify_with};

pub struct Azure;

pub static AZURE: Azure = Azure;

/// The hosts an Azure OpenAI or AI services resource's endpoint ends in.
const HOSTS: &[&str] = &[
    ".openai.azure.com",
    ".cognitiveservices.azure.com",
    ".services.ai.azure.com",
];

/// The documented check: the resource's models.
const PATH: &str = "/openai/models?api-version=2024-10-21";

const ANSWERS: Answers = Answers {
    dead: |reply| (reply.status == 401).then_some("401"),
    accepted: |_| None,
};

/// `endpoint` as the base of a request, when it is an Azure resource's: `https://`, one DNS label of letters,
/// digits and `-`, then one of [`HOSTS`], nothing after but a `/`.
pub fn resource_base(endpoint: &str) -> Option<String> {
    let rest = endpoint.strip_prefix("https://")?;
    let host = rest.strip_suffix('/').unwrap_or(rest).to_ascii_lowercase();
    let suffix = HOSTS.iter().find(|suffix| host.ends_with(*suffix))?;
    let name = &host[..host.len() - suffix.len()];
    let label_ok = (1..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    label_ok.then(|| format!("https://{host}"))
}

impl Provider for Azure {
    fn name(&self) -> &'static str {
        "azure"
    }

    fn label(&self) -> &'static str {
        "Azure OpenAI"
    }

    fn api(&self) -> Api {
        // No fixed host: each key goes to its resource (Check::GetAt). This base is used only when
        // KEYHOUND_AZURE_API_BASE replaces every resource's.
        Api {
            default_base: "https://openai.azure.com",
            auth: AuthStyle::Header("api-key"),
            headers: &[],
            strip: None,
        }
    }

    fn check(&self, key: &LeakedKey) -> Check {
        match key.endpoint.as_deref().and_then(resource_base) {
            Some(base) => Check::GetAt {
                base,
                path: PATH.into(),
            },
            None if key.endpoint.is_some() => Check::None(
                "the endpoint next to the key is not an Azure OpenAI resource's (https://NAME.openai.azure.com), so \
                 the key is sent nowhere",
            ),
            None => Check::None(
                "an Azure OpenAI key works only at its resource's endpoint, and none was found next to it; \
                 regenerate the key in the Azure portal (the resource's Keys and Endpoint page)",
            ),
        }
    }

    fn classify(&self, _key: &LeakedKey, reply: &Reply) -> Probe {
        classify_with(reply, &ANSWERS)
    }

    fn dashboard(&self, _key: &LeakedKey) -> &'static str {
        "https://portal.azure.com/#view/Microsoft_Azure_ProjectOxford/CognitiveServicesHub/~/OpenAI"
    }

    fn kind_label(&self, _key: &LeakedKey) -> String {
        "API key".into()
    }

    fn reference(&self) -> &'static str {
        "https://learn.microsoft.com/en-us/rest/api/azureopenai/models/list"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_azure_resources_are_bases() {
        let ok = |e: &str| resource_base(e).unwrap_or_else(|| panic!("{e}"));
        assert_eq!(
            ok("https://contoso.openai.azure.com/"),
            "https://contoso.openai.azure.com"
        );
        assert_eq!(
            ok("https://my-res-1.cognitiveservices.azure.com"),
            "https://my-res-1.cognitiveservices.azure.com"
        );
        assert_eq!(
            ok("https://Proj.services.ai.azure.com"),
            "https://proj.services.ai.azure.com"
        );
        for bad in [
            "http://contoso.openai.azure.com",
            "https://evil.example/.openai.azure.com",
            "https://a.b.openai.azure.com",
            "https://.openai.azure.com",
            "https://contoso.openai.azure.com.evil.example",
            "https://contoso.openai.azure.com/openai/deployments",
            "https://user@contoso.openai.azure.com",
            "https://contoso.openai.azure.com:8443",
        ] {
            assert_eq!(resource_base(bad), None, "{bad}");
        }
    }
}
