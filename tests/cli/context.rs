//! Context rules: keys with no distinctive prefix (Cohere, Mistral) or a shared one (DeepSeek's and Moonshot's
//! `sk-`) are found only next to a mention of their provider, or in a file named after it, with `medium`
//! confidence; alone they stay non-findings.

use serde_json::Value;

use crate::common::{
    LEGACY_KEY, Repo, assert_valid_sarif, code, json_findings, keyhound_in, run, stderr, stdout, tree,
};

/// Fake keys of the providers' shapes (the examples of `rules/ai-context.toml`), never real credentials.
const DEEPSEEK_KEY: &str = "sk-927b75aabfafa9459fa8edb0393dd9dc";
const DEEPSEEK_KEY_2: &str = "sk-9680adfbc9b7e4db789b469f650c67ea";
const COHERE_KEY: &str = "ZtbuDCVt5UitZeRG7Kqr8rD6QWINUAWRUaSWc8M6";
const MISTRAL_KEY: &str = "SuibkrmxpJO0DqMz8MG6efZWk3BfYkb0";
const MOONSHOT_KEY: &str = "sk-r78JACZU7ZxEAA3knHLBpPL1wbQR3tSBPavwyxTUmISy4Fl5";

fn scan(dir: &std::path::Path, format: &str) -> (i32, String, String) {
    let output = run(keyhound_in(dir).args(["scan", ".", "--show-secrets", "-f", format]));
    (code(&output), stdout(&output), stderr(&output))
}

fn found(findings: &[Value]) -> Vec<(String, String, String)> {
    let mut found: Vec<(String, String, String)> = findings
        .iter()
        .map(|f| {
            let text = |k: &str| f[k].as_str().unwrap_or_default().to_string();
            (text("path"), text("rule_id"), text("secret"))
        })
        .collect();
    found.sort();
    found
}

#[test]
fn keys_without_a_prefix_are_found_next_to_their_provider() {
    let files = [
        (".env", format!("# Cohere\nCO_API_KEY=\"{COHERE_KEY}\"\n")),
        (
            "app.py",
            format!(
                "client = OpenAI(\n    api_key=\"{DEEPSEEK_KEY}\",\n    base_url=\"https://api.deepseek.com/v1\",\n)\n"
            ),
        ),
        (
            "config/mistral.yaml",
            format!("llm:\n  provider: mistral\n  api_key: {MISTRAL_KEY}\n"),
        ),
        (
            "web/kimi.ts",
            format!(
                "const client = new OpenAI({{ apiKey: \"{MOONSHOT_KEY}\", baseURL: \"https://api.moonshot.ai/v1\" }});\n"
            ),
        ),
        // The path names the provider: nothing in the file has to.
        ("src/deepseek_client.py", format!("KEY = \"{DEEPSEEK_KEY_2}\"\n")),
        // The same shapes with nothing around them are not keys of anyone in particular.
        (
            "plain.txt",
            format!(
                "a = \"{COHERE_KEY}\"\n\n{}\nb = {MISTRAL_KEY}\n{}\nc = {MOONSHOT_KEY}\n{}\nd = {DEEPSEEK_KEY}\n",
                "#".repeat(300),
                "#".repeat(300),
                "#".repeat(300)
            ),
        ),
        // An OpenAI key beside a Moonshot mention stays an OpenAI key.
        ("openai.py", format!("# not moonshot: OPENAI_API_KEY={LEGACY_KEY}\n")),
    ];
    let files: Vec<(&str, &[u8])> = files.iter().map(|(p, t)| (*p, t.as_bytes())).collect();
    let dir = tree(&files);
    let (status, text, err) = scan(dir.path(), "json");
    assert_eq!(status, 1, "{err}");
    let findings = json_findings(&text);
    let s = |x: &str| x.to_string();
    assert_eq!(
        found(&findings),
        vec![
            (s(".env"), s("cohere-api-key"), s(COHERE_KEY)),
            (s("app.py"), s("deepseek-api-key"), s(DEEPSEEK_KEY)),
            (s("config/mistral.yaml"), s("mistral-api-key"), s(MISTRAL_KEY)),
            (s("openai.py"), s("openai-legacy-key"), s(LEGACY_KEY)),
            (s("src/deepseek_client.py"), s("deepseek-api-key"), s(DEEPSEEK_KEY_2)),
            (s("web/kimi.ts"), s("moonshot-api-key"), s(MOONSHOT_KEY)),
        ],
        "{findings:#?}"
    );
    for f in &findings {
        let expected = if f["rule_id"] == "openai-legacy-key" {
            "high"
        } else {
            "medium"
        };
        assert_eq!(f["confidence"], expected, "{f:#?}");
    }
    let (_, sarif, _) = scan(dir.path(), "sarif");
    assert_valid_sarif(&sarif);
    let sarif: Value = serde_json::from_str(&sarif).expect("sarif");
    let cohere = sarif["runs"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["ruleId"] == "cohere-api-key")
        .expect("a Cohere result");
    assert_eq!(cohere["properties"]["confidence"], "medium");
    let (_, human, _) = scan(dir.path(), "human");
    assert!(
        human.contains("cohere-api-key (api, high, medium confidence)"),
        "{human}"
    );
}

#[test]
fn context_words_next_to_what_is_no_key_are_not_findings() {
    let lock = "{\"node_modules/cohere-ai\": {\"version\": \"7.9.0\", \"integrity\": \
                \"sha512-q1Xb/ZtbuDCVt5UitZeRG7Kqr8rD6QWINUAWRUaSWc8M6+k2Lw==\"}}\n";
    let dir = tree(&[
        ("package-lock.json", lock.as_bytes()),
        (
            ".env.example",
            b"MISTRAL_API_KEY=${MISTRAL_API_KEY}\nCO_API_KEY=your-cohere-api-key\n",
        ),
        (
            "requirements.txt",
            b"cohere @ git+https://github.com/cohere-ai/cohere-python@d73c8452240e93c44407bd7341eef6f2432663a8\n",
        ),
        (
            "models.txt",
            b"mistral-7b-instruct-v0.2.Q4_K_M.gguf c5c7787ac186fbde5a188b4275b2696d\n",
        ),
        (
            "docs/deepseek.md",
            b"Set DEEPSEEK_API_KEY=sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx and run.\n",
        ),
    ]);
    let (status, text, err) = scan(dir.path(), "json");
    assert_eq!(status, 0, "{text}\n{err}");
}

#[test]
fn a_file_named_after_the_provider_anchors_keys_in_history_too() {
    let repo = Repo::new();
    repo.commit(
        &[("llm/deepseek.py", &format!("KEY = \"{DEEPSEEK_KEY}\"\n"))],
        "add client",
    );
    let output = run(keyhound_in(repo.path()).args(["git", "-f", "json", "--show-secrets"]));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let findings = json_findings(&stdout(&output));
    assert_eq!(
        found(&findings),
        vec![("llm/deepseek.py".into(), "deepseek-api-key".into(), DEEPSEEK_KEY.into())]
    );
}

/// A context rule's own fields are checked when the rule file loads: each error names the file, the rule and
/// the field.
#[test]
fn invalid_context_fields_are_errors_naming_the_rule() {
    let rule = |extra: &str| {
        format!(
            "provider = \"acme\"\n[[rules]]\nid = \"acme-token\"\nname = \"Acme token\"\ndescription = \"d\"\n\
             kind = \"api\"\nseverity = \"high\"\nregex = '[A-Za-z0-9]{{32}}'\nkeywords = [\"acme\"]\n\
             remediation = \"r\"\nexamples = [\"SuibkrmxpJO0DqMz8MG6efZWk3BfYkb0\"]\nnegative_examples = [\"x\"]\n{extra}"
        )
    };
    for (extra, detail) in [
        ("context_in_path = true\n", "context_in_path needs context_distance"),
        ("context_distance = 5000\n", "context_distance 5000"),
        ("context_distance = 0\n", "context_distance 0"),
        (
            "context_distance = 100\nconfidence = \"high\"\n",
            "confidence is `medium`",
        ),
        ("context_distance = 100\nmust_contain = [\"symbol\"]\n", "symbol"),
    ] {
        let dir = tree(&[("acme.toml", rule(extra).as_bytes())]);
        let output = run(keyhound_in(dir.path()).args(["rules", "list", "--rules", "acme.toml"]));
        let err = stderr(&output);
        assert_eq!(code(&output), 2, "{extra}: {err}");
        assert!(err.contains("acme.toml") && err.contains(detail), "{extra}: {err}");
    }
    // A valid one loads, and `rules test` runs its examples next to the context word.
    let dir = tree(&[(
        "acme.toml",
        rule("context_distance = 100\nmust_contain = [\"digit\"]\n").as_bytes(),
    )]);
    let output = run(keyhound_in(dir.path()).args(["rules", "test", "acme.toml"]));
    assert_eq!(code(&output), 0, "{}{}", stdout(&output), stderr(&output));
}
