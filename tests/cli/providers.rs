//! `scan --verify` against every check-only provider at once, each played by the generic fake of
//! `fake_providers.rs` on its own port: the verdicts their references document, retries of rate limits and server
//! errors, where each key goes (its own provider, the documented path and header, never a URL), the kinds that have
//! no check, servers that echo the key, the SARIF and human reports, and the vendored excerpts the fake follows.
//!
//! The keys are fake: generated here in the shape of each rule (`rules/ai-providers.toml`, `rules/ai-context.toml`)
//! from a fixed seed, or taken from the rules' `examples`; none is a real credential.

use std::collections::HashMap;
use std::fs;
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{assert_valid_sarif, code, json_findings, keyhound_in, root, run, stderr, stdout, tree};
use crate::fake_providers::{
    Answer, Auth, Canned, FOREVER, FakeProvider, Fault, Plan, Profile, deepseek_balance, google_error, google_leaked,
    google_service_disabled, moonshot_balance, openrouter_key, openrouter_unlimited, profile, profiles, xai_key,
};

const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const LETTERS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const HEX: &str = "0123456789abcdef";

/// A piece of a key's shape: literal text, or so many characters drawn from an alphabet.
#[derive(Debug, Clone, Copy)]
enum Part {
    Lit(&'static str),
    Rand(&'static str, usize),
}

/// One check-only provider under test.
#[derive(Debug, Clone, Copy)]
struct Case {
    provider: &'static str,
    /// The shape of its keys (a subset of its rule's regex: letters and digits only in the random parts).
    shape: &'static [Part],
    /// How a key is written in a file: `{}` is the key (context rules need their context word next to it).
    line: &'static str,
    /// The verdict on the documented invalid-key answer, and what its reason must say.
    dead: (&'static str, &'static str),
}

/// Every check-only provider (all of `simple.rs` but Azure, whose keys are not probed): adding one here adds its
/// cases to every table-driven test below.
const CASES: &[Case] = &[
    Case {
        provider: "google",
        shape: &[Part::Lit("AIza"), Part::Rand(ALNUM, 35)],
        line: "GEMINI_API_KEY={}",
        dead: ("dead", "as invalid (400 API_KEY_INVALID)"),
    },
    Case {
        provider: "huggingface",
        shape: &[Part::Lit("hf_"), Part::Rand(LETTERS, 34)],
        line: "HF_TOKEN={}",
        dead: ("dead", "as invalid (401)"),
    },
    Case {
        provider: "groq",
        shape: &[Part::Lit("gsk_"), Part::Rand(ALNUM, 52)],
        line: "GROQ_API_KEY={}",
        dead: ("dead", "as invalid (401)"),
    },
    Case {
        provider: "openrouter",
        shape: &[Part::Lit("sk-or-v1-"), Part::Rand(HEX, 64)],
        line: "OPENROUTER_API_KEY={}",
        dead: ("dead", "as invalid (401)"),
    },
    Case {
        provider: "xai",
        shape: &[Part::Lit("xai-"), Part::Rand(ALNUM, 80)],
        line: "XAI_API_KEY={}",
        dead: ("dead", "as invalid (400 Incorrect API key)"),
    },
    Case {
        provider: "mistral",
        shape: &[Part::Rand(ALNUM, 32)],
        line: "MISTRAL_API_KEY={}",
        dead: ("dead", "as invalid (401)"),
    },
    Case {
        provider: "deepseek",
        shape: &[Part::Lit("sk-"), Part::Rand(HEX, 32)],
        line: "DEEPSEEK_API_KEY={}",
        dead: ("dead", "as invalid (401)"),
    },
    Case {
        provider: "cohere",
        shape: &[Part::Rand(ALNUM, 40)],
        line: "COHERE_API_KEY={}",
        dead: ("dead", "as invalid (401)"),
    },
    // Keys are bound to a region (api.moonshot.ai or api.moonshot.cn): dead only when both reject it.
    Case {
        provider: "moonshot",
        shape: &[Part::Lit("sk-"), Part::Rand(ALNUM, 48)],
        line: "MOONSHOT_API_KEY={}",
        dead: ("dead", "(401) in every region"),
    },
    Case {
        provider: "perplexity",
        shape: &[Part::Lit("pplx-"), Part::Rand(ALNUM, 48)],
        line: "PERPLEXITY_API_KEY={}",
        dead: ("dead", "as invalid (401)"),
    },
    Case {
        provider: "replicate",
        shape: &[Part::Lit("r8_"), Part::Rand(ALNUM, 37)],
        line: "REPLICATE_API_TOKEN={}",
        dead: ("dead", "as invalid (401)"),
    },
    Case {
        provider: "together",
        shape: &[Part::Lit("tgp_v1_"), Part::Rand(ALNUM, 43)],
        line: "TOGETHER_API_KEY={}",
        dead: ("dead", "as invalid (401)"),
    },
    Case {
        provider: "tavily",
        shape: &[Part::Lit("tvly-dev-"), Part::Rand(ALNUM, 32)],
        line: "TAVILY_API_KEY={}",
        dead: ("dead", "as invalid (401)"),
    },
    // US and EU keys are separate; a 401 from the US host is no verdict.
    Case {
        provider: "langsmith",
        shape: &[
            Part::Lit("lsv2_pt_"),
            Part::Rand(HEX, 32),
            Part::Lit("_"),
            Part::Rand(HEX, 10),
        ],
        line: "LANGSMITH_API_KEY={}",
        dead: ("dead", "(401) in every region"),
    },
];

fn case(provider: &str) -> Case {
    *CASES
        .iter()
        .find(|c| c.provider == provider)
        .unwrap_or_else(|| panic!("no case for {provider}"))
}

/// A fake key of `case`'s shape, the same for the same `label` on every run: FNV-1a of the provider and label
/// seeds a SplitMix64 stream. Drawn again until it holds every character class its alphabets offer (the context
/// rules require digits, lower and upper case).
fn fake_key(case: &Case, label: &str) -> String {
    let mut seed = format!("{}/{label}", case.provider)
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    let mut next = move || {
        seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    loop {
        let mut key = String::new();
        let mut classes = (false, false, false);
        let mut offered = (false, false, false);
        for part in case.shape {
            match part {
                Part::Lit(text) => key.push_str(text),
                Part::Rand(alphabet, n) => {
                    let chars: Vec<char> = alphabet.chars().collect();
                    offered.0 |= chars.iter().any(char::is_ascii_digit);
                    offered.1 |= chars.iter().any(char::is_ascii_lowercase);
                    offered.2 |= chars.iter().any(char::is_ascii_uppercase);
                    for _ in 0..*n {
                        let c = chars[(next() % chars.len() as u64) as usize];
                        classes.0 |= c.is_ascii_digit();
                        classes.1 |= c.is_ascii_lowercase();
                        classes.2 |= c.is_ascii_uppercase();
                        key.push(c);
                    }
                }
            }
        }
        if (classes.0 || !offered.0) && (classes.1 || !offered.1) && (classes.2 || !offered.2) {
            return key;
        }
    }
}

/// The file text holding `key` as `case` writes it.
fn line(case: &Case, key: &str) -> String {
    format!("{}\n", case.line.replace("{}", key))
}

/// `keyhound scan . --verify` in `dir` with each fake's provider pointed at it (the others stay at the closed
/// port), with `--format format` (none for `default`) and generous timeouts: nothing in these fakes is slow, so no
/// verdict depends on them.
fn scan_verify(dir: &std::path::Path, fakes: &[&FakeProvider], format: &str) -> Output {
    let mut cmd = keyhound_in(dir);
    for fake in fakes {
        cmd.env(fake.variable(), &fake.base);
        // A provider's other regions (Moonshot's China platform, LangSmith's EU instance) are the same fake here.
        for region in region_variables(fake.profile.provider) {
            cmd.env(region, &fake.base);
        }
    }
    // A generous request timeout: on a loaded machine (the whole suite on two cores) a reply can come later
    // than a short one allows, and the retry that follows would add a request these tests count.
    cmd.args([
        "scan",
        ".",
        "--verify",
        "--request-timeout",
        "30",
        "--verify-timeout",
        "40",
    ]);
    if format != "default" {
        cmd.args(["--format", format]);
    }
    run(&mut cmd)
}

/// The variables of `provider`'s other regions.
fn region_variables(provider: &str) -> Vec<String> {
    use keyhound::revoke::provider::{find, region_variable};
    let provider = find(provider).unwrap_or_else(|| panic!("no provider {provider}"));
    provider
        .regions()
        .iter()
        .map(|r| region_variable(provider, r))
        .collect()
}

/// The verification of the one finding at `path`.
fn verification_at(findings: &[Value], path: &str) -> (String, String) {
    let found: Vec<&Value> = findings.iter().filter(|f| f["path"] == path).collect();
    assert_eq!(found.len(), 1, "one finding in {path}: {findings:#?}");
    let verification = &found[0]["verification"];
    (
        verification["status"].as_str().unwrap_or_default().to_string(),
        verification["reason"].as_str().unwrap_or_default().to_string(),
    )
}

/// No key appears whole in `text`, nor any 12-character run of the part of it a redacted form never shows (the
/// middle third onwards, less the last four).
fn assert_no_raw_keys(text: &str, keys: &[String], what: &str) {
    for key in keys {
        assert!(!text.contains(key.as_str()), "{what} holds the raw key {key}:\n{text}");
        let chars: Vec<char> = key.chars().collect();
        let hidden = &chars[chars.len() / 3 + 1..chars.len() - 4];
        for window in hidden.windows(12) {
            let piece: String = window.iter().collect();
            assert!(
                !text.contains(&piece),
                "{what} holds a piece of {key} ({piece}):\n{text}"
            );
        }
    }
}

/// Checks where each request went: every request to `fake` is its documented `GET`, with a key of `own` in the
/// documented header and in no other header, and no key of `others` anywhere.
fn assert_routing(fake: &FakeProvider, own: &[String], others: &[String]) {
    let profile = &fake.profile;
    for request in fake.requests() {
        assert_eq!(
            (request.method.as_str(), request.url.as_str()),
            ("GET", profile.path),
            "{}: only the documented probe is sent: {request:?}",
            profile.provider
        );
        assert_ne!(request.status, 404, "{}: {request:?}", profile.provider);
        let credential = request
            .credential(profile.auth)
            .unwrap_or_else(|| panic!("{}: no key in {}: {request:?}", profile.provider, profile.auth.header()));
        assert!(
            own.iter().any(|k| k == credential),
            "{}: a key not of this provider arrived: {request:?}",
            profile.provider
        );
        assert_eq!(
            request.carriers(credential),
            vec![profile.auth.header()],
            "{}: the key travels in {} only",
            profile.provider,
            profile.auth.header()
        );
        if profile.auth == Auth::Bearer {
            assert_eq!(
                request.header("authorization"),
                Some(format!("Bearer {credential}").as_str())
            );
        }
        let dump = format!("{request:?}");
        for other in others {
            assert!(
                !dump.contains(other.as_str()),
                "{}: another provider's key arrived: {dump}",
                profile.provider
            );
        }
    }
}

/// The behaviours every check-only provider is driven through: (label, plan, verdict, what the reason says, how
/// many requests the key gets).
fn behaviours() -> Vec<(&'static str, Plan, &'static str, &'static str, usize)> {
    vec![
        ("live", Plan::live(), "live", "(200)", 1),
        ("dead", Plan::dead(), "", "", 1),
        ("restricted", Plan::restricted(), "unknown", "answered 403", 1),
        (
            "rate-limited-twice",
            Plan::live().after(Fault::RateLimit, 2),
            "live",
            "(200)",
            3,
        ),
        (
            "unavailable-once",
            Plan::live().after(Fault::ServerError(503), 1),
            "live",
            "(200)",
            2,
        ),
        (
            "rate-limited",
            Plan::live().after(Fault::RateLimit, FOREVER),
            "unknown",
            "rate limited by GET",
            4,
        ),
        (
            "server-error",
            Plan::live().after(Fault::ServerError(500), FOREVER),
            "unknown",
            "answered 500 after 4 tries",
            4,
        ),
    ]
}

#[test]
fn providers_every_check_only_provider_is_covered_by_the_table_and_the_fake() {
    // Every provider with a plain check: all but OpenAI and Anthropic (their own fakes test them) and Azure (no
    // check). xAI and OpenRouter revoke too, in modules of their own; their checks are of the same kind.
    let mut simple: Vec<&str> = keyhound::revoke::provider::all()
        .iter()
        .map(|p| p.name())
        .filter(|name| !["openai", "anthropic", "azure"].contains(name))
        .collect();
    simple.sort_unstable();
    let mut cased: Vec<&str> = CASES.iter().map(|c| c.provider).collect();
    cased.sort_unstable();
    assert_eq!(cased, simple, "CASES lists every provider with a plain check but Azure");
    for provider in keyhound::revoke::provider::simple::ALL.iter() {
        let fake = profile(provider.name);
        if provider.name != "azure" {
            assert_eq!(
                fake.path, provider.path,
                "{}: the fake serves the path the research notes document",
                provider.name
            );
        }
    }
}

/// Every check-only provider at once: live, dead, a 403 restriction, 429 twice then 200, 429 and 500 forever; one
/// request per distinct key (retries aside) even when a key is in two files; each key only at its own provider.
#[test]
fn providers_each_answer_gets_its_documented_verdict() {
    let behaviours = behaviours();
    let mut files: Vec<(String, String)> = Vec::new();
    let mut fakes = Vec::new();
    let mut keys_of: HashMap<&str, Vec<String>> = HashMap::new();
    for case in CASES {
        let mut table = Vec::new();
        for (label, plan, ..) in &behaviours {
            let key = fake_key(case, label);
            files.push((format!("{}/{label}.env", case.provider), line(case, &key)));
            table.push((key.clone(), plan.clone()));
            keys_of.entry(case.provider).or_default().push(key);
        }
        // The live key again, elsewhere: still one probe.
        files.push((
            format!("copies/{}.env", case.provider),
            line(case, &fake_key(case, "live")),
        ));
        fakes.push(FakeProvider::start(profile(case.provider), table));
    }
    let files: Vec<(&str, &[u8])> = files.iter().map(|(p, t)| (p.as_str(), t.as_bytes())).collect();
    let dir = tree(&files);
    let started = Instant::now();
    let output = scan_verify(dir.path(), &fakes.iter().collect::<Vec<_>>(), "json");
    let elapsed = started.elapsed();
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    eprintln!(
        "providers: {} keys of {} providers verified in {elapsed:?}",
        files.len(),
        CASES.len()
    );
    // Retries run side by side: 4 probes at a time per provider, every provider at once. The slowest key waits
    // 3 s (three `retry-after: 1`); a key waits for at most one other on its thread.
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");

    let findings = json_findings(&stdout(&output));
    assert_eq!(
        findings.len(),
        files.len(),
        "every planted key is found:\n{}",
        stdout(&output)
    );
    let all_keys: Vec<String> = keys_of.values().flatten().cloned().collect();
    assert_no_raw_keys(&format!("{}{}", stdout(&output), stderr(&output)), &all_keys, "output");
    for (case, fake) in CASES.iter().zip(&fakes) {
        let path = fake.profile.path;
        for (label, _, status, says, requests) in &behaviours {
            let (status, says) = if *label == "dead" { case.dead } else { (*status, *says) };
            let (got, reason) = verification_at(&findings, &format!("{}/{label}.env", case.provider));
            assert_eq!(got, status, "{} {label}: {reason}", case.provider);
            assert!(
                reason.contains(says),
                "{} {label}: {reason:?} should say {says:?}",
                case.provider
            );
            assert!(
                reason.contains(&format!("GET {path}")),
                "{} {label}: the reason names the endpoint: {reason}",
                case.provider
            );
            match *label {
                "rate-limited" => assert!(reason.contains("(429) after 4 tries"), "{reason}"),
                "live" | "rate-limited-twice" | "unavailable-once" => {
                    assert_eq!(reason, format!("accepted by GET {path} (200)"));
                }
                _ => {}
            }
            let key = fake_key(case, label);
            // A rejected key of a provider with other regions is probed once more in each (the same fake here).
            let regions = region_variables(case.provider).len();
            let expected = if *label == "dead" {
                requests * (1 + regions)
            } else {
                *requests
            };
            assert_eq!(
                fake.requests_with(&key).len(),
                expected,
                "{} {label}: one probe per distinct key and region, plus the retries",
                case.provider
            );
        }
        let (status, _) = verification_at(&findings, &format!("copies/{}.env", case.provider));
        assert_eq!(
            status, "live",
            "{}: the copy of the live key has its verdict",
            case.provider
        );
        let own = &keys_of[case.provider];
        let others: Vec<String> = all_keys.iter().filter(|k| !own.contains(k)).cloned().collect();
        assert_routing(fake, own, &others);
    }
}

/// Verdicts read from the body, and the other answers the references document: what a 200, a 400, a 403 or a
/// provider's own status means beyond "accepted" or "rejected".
#[test]
fn providers_body_based_verdicts() {
    let google = case("google");
    let xai = case("xai");
    let deepseek = case("deepseek");
    let openrouter = case("openrouter");
    let moonshot = case("moonshot");
    let cohere = case("cohere");
    let tavily = case("tavily");
    let planted = [
        (
            google,
            "leaked",
            Plan::answer(Answer::Canned(google_leaked())),
            "dead",
            "(403: blocked by Google as a leaked key)",
        ),
        (
            google,
            "service-disabled",
            Plan::answer(Answer::Canned(google_service_disabled())),
            "unknown",
            "answered 403: Generative Language API has not been used",
        ),
        (
            xai,
            "disabled",
            Plan::answer(Answer::LiveBody(xai_key(true))),
            "dead",
            "disabled (api_key_disabled)",
        ),
        (
            deepseek,
            "unavailable",
            Plan::answer(Answer::LiveBody(deepseek_balance(false))),
            "live",
            "is_available: false",
        ),
        (
            openrouter,
            "limit-spent",
            Plan::answer(Answer::LiveBody(openrouter_key(0.0))),
            "live",
            "limit_remaining",
        ),
        (moonshot, "rejected", Plan::dead(), "dead", "in every region"),
        (
            moonshot,
            "no-balance",
            Plan::answer(Answer::LiveBody(moonshot_balance(0.0))),
            "live",
            "available_balance <= 0",
        ),
        (
            openrouter,
            "no-limit",
            Plan::answer(Answer::LiveBody(openrouter_unlimited())),
            "live",
            "accepted by GET /api/v1/key (200)",
        ),
        // Other answers the references document.
        (
            google,
            "expired",
            Plan::answer(Answer::Canned(Canned::json(
                400,
                google_error(
                    400,
                    "INVALID_ARGUMENT",
                    "API key expired. Please renew the API key.",
                    Some("API_KEY_EXPIRED"),
                ),
            ))),
            "dead",
            "(400 API_KEY_EXPIRED)",
        ),
        (
            google,
            "region",
            Plan::answer(Answer::Canned(Canned::json(
                400,
                google_error(
                    400,
                    "FAILED_PRECONDITION",
                    "User location is not supported for the API use.",
                    None,
                ),
            ))),
            "unknown",
            "answered 400: User location is not supported",
        ),
        (
            google,
            "prepaid",
            Plan::answer(Answer::Canned(Canned::json(
                402,
                google_error(402, "RESOURCE_EXHAUSTED", "Your prepayment credits are depleted.", None),
            ))),
            "live",
            "prepaid credits are used up (402)",
        ),
        (
            xai,
            "unauthorized",
            Plan::answer(Answer::Canned(Canned::json(
                401,
                json!({"code": "Unauthenticated", "error": "No authorization header or an invalid authorization token is provided."}),
            ))),
            "dead",
            "as invalid (401)",
        ),
        (
            xai,
            "bad-request",
            Plan::answer(Answer::Canned(Canned::json(
                400,
                json!({"code": "Client specified an invalid argument", "error": "Unsupported header value"}),
            ))),
            "unknown",
            "answered 400",
        ),
        (
            cohere,
            "invalid-token",
            Plan::answer(Answer::Canned(Canned::json(
                498,
                json!({"id": "3f9a0c1e-0000-4000-8000-000000000005", "message": "invalid token"}),
            ))),
            "dead",
            "(498 invalid token)",
        ),
        (
            tavily,
            "plan-limit",
            Plan::answer(Answer::Canned(Canned::json(
                432,
                json!({"detail": {"error": "This request exceeds your plan's set usage limit."}}),
            ))),
            "live",
            "its plan's limit is reached (432/433)",
        ),
    ];
    let mut tables: HashMap<&str, Vec<(String, Plan)>> = HashMap::new();
    let mut files = Vec::new();
    for (case, label, plan, ..) in &planted {
        let key = fake_key(case, label);
        files.push((format!("{}/{label}.env", case.provider), line(case, &key)));
        tables.entry(case.provider).or_default().push((key, plan.clone()));
    }
    let fakes: Vec<FakeProvider> = tables
        .into_iter()
        .map(|(provider, table)| FakeProvider::start(profile(provider), table))
        .collect();
    let files: Vec<(&str, &[u8])> = files.iter().map(|(p, t)| (p.as_str(), t.as_bytes())).collect();
    let dir = tree(&files);
    let output = scan_verify(dir.path(), &fakes.iter().collect::<Vec<_>>(), "json");
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let findings = json_findings(&stdout(&output));
    for (case, label, _, status, says) in &planted {
        let (got, reason) = verification_at(&findings, &format!("{}/{label}.env", case.provider));
        assert_eq!(&got, status, "{} {label}: {reason}", case.provider);
        assert!(
            reason.contains(says),
            "{} {label}: {reason:?} should say {says:?}",
            case.provider
        );
    }
    for fake in &fakes {
        for request in fake.requests() {
            assert_eq!(request.url, fake.profile.path, "{request:?}");
        }
    }
}

/// A rate limit that outlasts the time budget: `retry-after` is honoured, so no try is begun that would end past
/// `--verify-timeout`, and the reason says the budget ran out.
#[test]
fn providers_a_rate_limit_longer_than_the_budget_is_unknown_at_once() {
    let groq = case("groq");
    let key = fake_key(&groq, "budget");
    let fake = FakeProvider::start(
        profile("groq"),
        vec![(key.clone(), Plan::live().after(Fault::RateLimit, FOREVER))],
    );
    let dir = tree(&[("groq.env", line(&groq, &key).as_bytes())]);
    let started = Instant::now();
    let output = run(keyhound_in(dir.path()).env(fake.variable(), &fake.base).args([
        "scan",
        ".",
        "--verify",
        "--format",
        "json",
        "--request-timeout",
        "5",
        "--verify-timeout",
        "1",
    ]));
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    let (status, reason) = verification_at(&json_findings(&stdout(&output)), "groq.env");
    assert_eq!(status, "unknown", "{reason}");
    assert!(
        reason.contains("rate limited by GET /openai/v1/models (429) after 1 tries")
            && reason.contains("the time budget (--verify-timeout) ran out before another try"),
        "{reason}"
    );
    assert_eq!(fake.requests().len(), 1, "no retry begun past the budget");
}

/// The fake itself: only the documented probe is served; a key in the query string or another path is a 404, a
/// key in another header is no key; planted faults come first, with `retry-after: 1`; everything is recorded.
#[test]
fn providers_the_fake_serves_only_the_documented_probe() {
    let google = case("google");
    let key = fake_key(&google, "self-test");
    let fake = FakeProvider::start(
        profile("google"),
        vec![(key.clone(), Plan::live().after(Fault::RateLimit, 1))],
    );
    let client = reqwest::blocking::Client::new();
    let get = |url: &str, header: Option<(&str, String)>| {
        let mut request = client.get(format!("{}{url}", fake.base));
        if let Some((name, value)) = header {
            request = request.header(name, value);
        }
        let response = request.send().expect("the fake answers");
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap_or_default().to_string());
        let body: Value = response.json().expect("a JSON body");
        (status, retry_after, body)
    };
    let goog = || Some(("x-goog-api-key", key.clone()));
    assert_eq!(get(&format!("/v1beta/models?pageSize=1&key={key}"), None).0, 404);
    assert_eq!(get(&format!("/v1beta/models?pageSize=1&x={key}"), goog()).0, 404);
    assert_eq!(get("/v1beta/models", goog()).0, 404);
    assert_eq!(get("/v1/models?pageSize=1", goog()).0, 404);
    let (status, _, body) = get(
        "/v1beta/models?pageSize=1",
        Some(("authorization", format!("Bearer {key}"))),
    );
    assert_eq!(
        (status, &body["error"]["details"][0]["reason"]),
        (400, &Value::from("API_KEY_INVALID"))
    );
    let (status, retry_after, _) = get("/v1beta/models?pageSize=1", goog());
    assert_eq!((status, retry_after.as_deref()), (429, Some("1")));
    let (status, _, body) = get("/v1beta/models?pageSize=1", goog());
    assert_eq!(status, 200);
    assert!(body["models"].is_array(), "{body}");
    let requests = fake.requests();
    let statuses: Vec<u16> = requests.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [404, 404, 404, 404, 400, 429, 200]);
    assert_eq!(requests[4].carriers(&key), ["authorization"]);
    assert_eq!(requests[6].carriers(&key), ["x-goog-api-key"]);
    assert_eq!(fake.requests_with(&key).len(), 5);
}

/// Kinds no provider documents a read-only check for (and an Azure key with no endpoint next to it): `unknown`,
/// `not probed: ...`, and nothing sent.
#[test]
fn providers_kinds_without_a_check_are_not_probed() {
    // From the rules' examples.
    let oauth =
        "sk-ant-oat01-OhDGaCY1PwF0WrnzfEBcW30wielqDqE1tMOaptceXHM2sr8pUJwWbD1FL_Ryw-qrT4j51WpIe_Unc2psMKu_6Btm1E0rTAA";
    let management = "xai-token-mvdGyG8BcVFQHGtEc83mM1pljgtGb1KwlakdzOmi7RtvdSt3SahPFvBFnKmnEIGAW6TnD1uxf86ydi64";
    let azure = "751c3dc9560e29871e0dbd9b8e71a1b6";
    let dir = tree(&[
        (
            "claude/.credentials",
            format!("CLAUDE_CODE_OAUTH_TOKEN={oauth}\n").as_bytes(),
        ),
        ("xai/admin.env", format!("XAI_MANAGEMENT_KEY={management}\n").as_bytes()),
        // No endpoint next to the key: there is nowhere to check it.
        ("azure/.env", format!("AZURE_OPENAI_API_KEY={azure}\n").as_bytes()),
    ]);
    let fakes: Vec<FakeProvider> = ["anthropic", "xai", "azure"]
        .into_iter()
        .map(|p| FakeProvider::start(profile(p), Vec::new()))
        .collect();
    let output = scan_verify(dir.path(), &fakes.iter().collect::<Vec<_>>(), "json");
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let findings = json_findings(&stdout(&output));
    assert_eq!(findings.len(), 3, "{findings:#?}");
    for (path, rule) in [
        ("claude/.credentials", "anthropic-oauth-access-token"),
        ("xai/admin.env", "xai-management-key"),
        ("azure/.env", "azure-openai-api-key"),
    ] {
        let finding = findings.iter().find(|f| f["path"] == path).expect(path);
        assert_eq!(finding["rule_id"], rule);
        let (status, reason) = verification_at(&findings, path);
        assert_eq!(status, "unknown", "{path}: {reason}");
        assert!(reason.starts_with("not probed: "), "{path}: {reason}");
    }
    for fake in &fakes {
        assert!(
            fake.requests().is_empty(),
            "{}: nothing is sent: {:?}",
            fake.profile.provider,
            fake.requests()
        );
    }
    let keys = [oauth.to_string(), management.to_string(), azure.to_string()];
    assert_no_raw_keys(&format!("{}{}", stdout(&output), stderr(&output)), &keys, "output");
}

/// A broken proxy or provider that quotes the key back (in the message, `x-request-id`, another header): the key
/// appears nowhere in keyhound's output, in JSON or in the human report.
#[test]
fn providers_a_server_echoing_the_key_leaks_nothing() {
    let planted = [
        ("groq", "echo-403", Answer::Echo(403)),
        ("groq", "echo-401", Answer::Echo(401)),
        ("google", "echo-401", Answer::Echo(401)),
        ("huggingface", "echo-400", Answer::Echo(400)),
        ("langsmith", "echo-403", Answer::Echo(403)),
        ("tavily", "echo-402", Answer::Echo(402)),
    ];
    let mut tables: HashMap<&str, Vec<(String, Plan)>> = HashMap::new();
    let mut files = Vec::new();
    let mut keys = Vec::new();
    for (provider, label, answer) in &planted {
        let case = case(provider);
        let key = fake_key(&case, label);
        files.push((format!("{provider}/{label}.env"), line(&case, &key)));
        tables
            .entry(provider)
            .or_default()
            .push((key.clone(), Plan::answer(answer.clone())));
        keys.push(key);
    }
    let fakes: Vec<FakeProvider> = tables
        .into_iter()
        .map(|(provider, table)| FakeProvider::start(profile(provider), table))
        .collect();
    let files: Vec<(&str, &[u8])> = files.iter().map(|(p, t)| (p.as_str(), t.as_bytes())).collect();
    let dir = tree(&files);
    for format in ["json", "human"] {
        let output = scan_verify(dir.path(), &fakes.iter().collect::<Vec<_>>(), format);
        assert_eq!(code(&output), 1, "{}", stderr(&output));
        let text = format!("{}{}", stdout(&output), stderr(&output));
        assert_no_raw_keys(&text, &keys, &format!("the {format} report"));
        if format == "json" {
            let findings = json_findings(&stdout(&output));
            let (status, reason) = verification_at(&findings, "groq/echo-403.env");
            assert_eq!(status, "unknown", "{reason}");
            assert!(
                reason.contains("Incorrect API key provided"),
                "the message is kept, redacted: {reason}"
            );
            assert_eq!(verification_at(&findings, "groq/echo-401.env").0, "dead");
        }
    }
}

/// `--format sarif --verify`: a live and a dead key of a non-OpenAI provider carry their verdict the way the SARIF
/// reporter shows it (in the message, in `properties.verification`, and in the level: error when live, warning
/// otherwise).
#[test]
fn providers_sarif_carries_the_verdicts() {
    let groq = case("groq");
    let live = fake_key(&groq, "sarif-live");
    let dead = fake_key(&groq, "sarif-dead");
    let fake = FakeProvider::start(
        profile("groq"),
        vec![(live.clone(), Plan::live()), (dead.clone(), Plan::dead())],
    );
    let dir = tree(&[
        ("live.env", line(&groq, &live).as_bytes()),
        ("dead.env", line(&groq, &dead).as_bytes()),
    ]);
    let output = scan_verify(dir.path(), &[&fake], "sarif");
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let text = stdout(&output);
    assert_valid_sarif(&text);
    assert_no_raw_keys(&format!("{text}{}", stderr(&output)), &[live, dead], "SARIF");
    let sarif: Value = serde_json::from_str(&text).expect("SARIF is JSON");
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    assert_eq!(results.len(), 2, "{text}");
    let result = |file: &str| {
        results
            .iter()
            .find(|r| r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == file)
            .unwrap_or_else(|| panic!("no result for {file}: {text}"))
    };
    for (file, status, level, reason) in [
        ("live.env", "live", "error", "accepted by GET /openai/v1/models (200)"),
        (
            "dead.env",
            "dead",
            "warning",
            "rejected by GET /openai/v1/models as invalid (401)",
        ),
    ] {
        let result = result(file);
        assert_eq!(result["level"], level, "{result:#}");
        assert_eq!(result["properties"]["verification"]["status"], status, "{result:#}");
        assert_eq!(result["properties"]["verification"]["reason"], reason, "{result:#}");
        let message = result["message"]["text"].as_str().unwrap_or_default();
        assert!(message.contains(&format!("Status: {status} ({reason})")), "{message}");
    }
}

/// The human report (the default format) shows each finding's verdict and its reason.
#[test]
fn providers_the_human_report_shows_the_verdicts() {
    let tavily = case("tavily");
    let live = fake_key(&tavily, "human-live");
    let dead = fake_key(&tavily, "human-dead");
    let fake = FakeProvider::start(
        profile("tavily"),
        vec![(live.clone(), Plan::live()), (dead.clone(), Plan::dead())],
    );
    let dir = tree(&[
        ("live.env", line(&tavily, &live).as_bytes()),
        ("dead.env", line(&tavily, &dead).as_bytes()),
    ]);
    let output = scan_verify(dir.path(), &[&fake], "default");
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let text = stdout(&output);
    assert_no_raw_keys(&format!("{text}{}", stderr(&output)), &[live, dead], "the human report");
    for (file, shown) in [
        ("live.env", "status live (accepted by GET /usage (200))"),
        ("dead.env", "status dead (rejected by GET /usage as invalid (401))"),
    ] {
        // The status line follows its finding's header line, before the next finding.
        let at = text.find(file).unwrap_or_else(|| panic!("{file} not in:\n{text}"));
        let block: String = text[at..]
            .lines()
            .take_while(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            block.contains(shown),
            "{file}: {shown:?} not in:\n{block}\n\nwhole report:\n{text}"
        );
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The vendored excerpts (tests/openapi/providers/) and the fake's invalid-key answers

/// What an excerpt documents of the invalid-key answer, and how to read it.
enum Documented {
    /// A JSON excerpt: the status at this JSON pointer (a number, or a string starting with it).
    JsonStatus(&'static str),
    /// A JSON excerpt holding the whole answer at this pointer (the observed body): the fake sends that body.
    JsonBody(&'static str, u16),
    /// A YAML description: under this path's `responses:`, this status is documented (with the description
    /// containing the words).
    YamlResponse(&'static str, u16, &'static str),
    /// Text: this string appears, stating the status.
    Text(&'static str, u16),
    /// The excerpt documents the endpoint and the auth only; the status comes from elsewhere (the README says
    /// where).
    EndpointOnly,
}

/// Each check-only provider's vendored excerpt and what it documents.
const EXCERPTS: &[(&str, &str, Documented)] = &[
    (
        "google",
        "google.json",
        Documented::JsonStatus("/error_response_example_400_invalid_key/error/code"),
    ),
    (
        "huggingface",
        "huggingface.py.txt",
        Documented::Text("e.response.status_code == 401", 401),
    ),
    ("groq", "groq.md", Documented::Text("401 Unauthorized", 401)),
    (
        "openrouter",
        "openrouter.yaml",
        Documented::YamlResponse("/key", 401, "invalid credentials"),
    ),
    (
        "xai",
        "xai.yaml",
        Documented::YamlResponse("/v1/api-key", 400, "invalid API key"),
    ),
    ("mistral", "mistral.py.txt", Documented::Text("\"4XX\"", 401)),
    ("deepseek", "deepseek.json", Documented::JsonStatus("/error_codes")),
    ("cohere", "cohere.md", Documented::Text("401 Unauthorized", 401)),
    (
        "moonshot",
        "moonshot.json",
        Documented::JsonBody("/_observed_401_body", 401),
    ),
    ("perplexity", "perplexity.py.txt", Documented::EndpointOnly),
    ("replicate", "replicate.py.txt", Documented::EndpointOnly),
    (
        "together",
        "together.yaml",
        Documented::YamlResponse("/models", 401, "Unauthorized"),
    ),
    (
        "tavily",
        "tavily.py.txt",
        Documented::Text("response.status_code == 401", 401),
    ),
    (
        "langsmith",
        "langsmith.md",
        Documented::Text("401 or 403 -> not verified", 401),
    ),
];

/// The lines of the block under the line `key:` (at any indentation) in a YAML text: the lines indented deeper.
fn yaml_block<'a>(text: &'a str, key: &str) -> Vec<&'a str> {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.trim() == format!("{key}:") || l.trim() == format!("'{key}':"))
        .unwrap_or_else(|| panic!("no `{key}:` in the YAML excerpt"));
    let indent = |l: &str| l.len() - l.trim_start().len();
    let own = indent(lines[start]);
    lines[start + 1..]
        .iter()
        .copied()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .take_while(|l| indent(l) > own)
        .collect()
}

#[test]
fn providers_the_fake_answers_invalid_keys_with_the_vendored_status() {
    let dir = root().join("tests/openapi/providers");
    let readme = fs::read_to_string(dir.join("README.md")).expect("tests/openapi/providers/README.md");
    let mut excerpted: Vec<&str> = EXCERPTS.iter().map(|(p, ..)| *p).collect();
    excerpted.sort_unstable();
    let mut cased: Vec<&str> = CASES.iter().map(|c| c.provider).collect();
    cased.sort_unstable();
    assert_eq!(excerpted, cased, "every check-only provider has a vendored excerpt");
    for (provider, file, documented) in EXCERPTS {
        let profile: Profile = profile(provider);
        let text = fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let head: String = text.chars().take(600).collect();
        assert!(
            head.contains("commit") || head.contains("https://"),
            "{file} keeps its provenance header (source, path, commit or URL)"
        );
        assert!(readme.contains(&format!("`{file}`")), "the README cites {file}");
        let dead = (profile.dead)("not-a-real-key-0000");
        match documented {
            Documented::JsonStatus(pointer) => {
                let json: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
                let at = json.pointer(pointer).unwrap_or_else(|| panic!("{file}: no {pointer}"));
                let status = match at {
                    Value::Number(n) => n.as_u64().expect("a status") as u16,
                    // DeepSeek's error codes: the one whose cause is a wrong API key.
                    Value::Object(codes) => codes
                        .iter()
                        .find(|(_, cause)| cause.as_str().is_some_and(|c| c.contains("wrong API key")))
                        .and_then(|(code, _)| code.split_whitespace().next()?.parse().ok())
                        .unwrap_or_else(|| panic!("{file}: no code for a wrong API key")),
                    other => panic!("{file}: {pointer} is {other}"),
                };
                assert_eq!(
                    dead.status, status,
                    "{provider}: the fake's invalid-key status is {file}'s"
                );
                if *provider == "google" {
                    let documented = &json["error_response_example_400_invalid_key"];
                    assert_eq!(
                        dead.body, *documented,
                        "google: the fake sends the documented body verbatim"
                    );
                }
            }
            Documented::JsonBody(pointer, status) => {
                let json: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
                let body = json.pointer(pointer).unwrap_or_else(|| panic!("{file}: no {pointer}"));
                assert_eq!(dead.status, *status, "{provider}");
                assert_eq!(dead.body, *body, "{provider}: the fake sends {file}'s body");
            }
            Documented::YamlResponse(path, status, words) => {
                let block = yaml_block(&text, path);
                let responses = block
                    .iter()
                    .position(|l| l.trim() == "responses:")
                    .unwrap_or_else(|| panic!("{file}: no responses under {path}"));
                let wanted = format!("'{status}':");
                let at = block[responses..]
                    .iter()
                    .position(|l| l.trim() == wanted)
                    .unwrap_or_else(|| panic!("{file}: {path} documents no {status}"));
                // The status's own block: the lines indented deeper than its key.
                let own = &block[responses + at];
                let indent = |l: &str| l.len() - l.trim_start().len();
                let rest = block[responses + at + 1..]
                    .iter()
                    .copied()
                    .take_while(|l| indent(l) > indent(own))
                    .collect::<Vec<_>>()
                    .join("\n");
                assert!(
                    rest.to_lowercase().contains(&words.to_lowercase()),
                    "{file}: {status} under {path} says {words:?}: {rest}"
                );
                assert_eq!(
                    dead.status, *status,
                    "{provider}: the fake's invalid-key status is {file}'s"
                );
            }
            Documented::Text(needle, status) => {
                assert!(text.contains(needle), "{file} states {needle:?}");
                assert_eq!(
                    dead.status, *status,
                    "{provider}: the fake's invalid-key status is {file}'s"
                );
            }
            Documented::EndpointOnly => {
                let path = profile.path.split('?').next().unwrap_or_default();
                assert!(text.contains(path), "{file} documents {path}");
                assert!(text.contains("Bearer"), "{file} documents the bearer header");
                assert_eq!(dead.status, 401, "{provider}: the status the research notes give");
            }
        }
    }
    // The research notes' other promise about each profile: the key travels in the documented header.
    for profile in profiles() {
        let expected = match profile.provider {
            "google" => "x-goog-api-key",
            "langsmith" | "anthropic" => "x-api-key",
            "azure" => "api-key",
            _ => "authorization",
        };
        assert_eq!(profile.auth.header(), expected, "{}", profile.provider);
    }
}

/// Keys bound to a region: a key the first region rejects is probed at the other region, and is `dead` only when
/// every region rejects it. The other region's answer decides otherwise; an unreachable region is no verdict.
#[test]
fn providers_a_key_rejected_in_one_region_is_probed_in_the_other() {
    for provider in ["moonshot", "langsmith"] {
        let case = case(provider);
        let (home, other_region) = (fake_key(&case, "home"), fake_key(&case, "abroad"));
        let first = FakeProvider::start(
            profile(provider),
            vec![(home.clone(), Plan::live()), (other_region.clone(), Plan::dead())],
        );
        let second = FakeProvider::start(profile(provider), vec![(other_region.clone(), Plan::live())]);
        let files = [
            (format!("{provider}/home.env"), line(&case, &home)),
            (format!("{provider}/abroad.env"), line(&case, &other_region)),
        ];
        let files: Vec<(&str, &[u8])> = files.iter().map(|(p, t)| (p.as_str(), t.as_bytes())).collect();
        let dir = tree(&files);
        let region = region_variables(provider).pop().expect("another region");
        let verify = |region_base: &str| {
            let output = run(keyhound_in(dir.path())
                .env(first.variable(), &first.base)
                .env(&region, region_base)
                .args(["scan", ".", "--verify", "--format", "json", "--verify-timeout", "20"]));
            assert_eq!(code(&output), 1, "{}", stderr(&output));
            json_findings(&stdout(&output))
        };
        let findings = verify(&second.base);
        assert_eq!(verification_at(&findings, &format!("{provider}/home.env")).0, "live");
        let (status, reason) = verification_at(&findings, &format!("{provider}/abroad.env"));
        assert_eq!(status, "live", "{provider}: {reason}");
        assert!(
            reason.contains(&format!(
                "at {} (another region: {} rejected it)",
                second.base, first.base
            )),
            "{provider}: {reason}"
        );
        // The home key never went abroad: only a rejected key is probed again.
        assert!(second.requests_with(&home).is_empty(), "{:?}", second.requests());
        // The other region unreachable: no verdict.
        let findings = verify(crate::common::CLOSED_PORT);
        let (status, reason) = verification_at(&findings, &format!("{provider}/abroad.env"));
        assert_eq!(status, "unknown", "{provider}: {reason}");
    }
}

/// An Azure OpenAI key works only at its resource: the endpoint found next to it is recorded with the finding and
/// the key is checked there (`api-key` header, the documented models listing); a report whose endpoint is not an
/// Azure resource's sends the key nowhere.
#[test]
fn providers_an_azure_key_is_checked_at_its_own_endpoint() {
    let (live, dead) = ("751c3dc9560e29871e0dbd9b8e71a1b6", "16f3193554c870d1f04386b6b4882aa5");
    let fake = FakeProvider::start(
        profile("azure"),
        vec![(live.to_string(), Plan::live()), (dead.to_string(), Plan::dead())],
    );
    let dir = tree(&[
        (
            "live/.env",
            format!("AZURE_OPENAI_ENDPOINT=https://contoso.openai.azure.com/\nAZURE_OPENAI_API_KEY={live}\n")
                .as_bytes(),
        ),
        (
            "dead/client.py",
            format!(
                "client = AzureOpenAI(\n    azure_endpoint=\"https://fabrikam-ai.cognitiveservices.azure.com\",\n    \
                 api_key=\"{dead}\",\n)\n"
            )
            .as_bytes(),
        ),
    ]);
    let output = scan_verify(dir.path(), &[&fake], "json");
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let findings = json_findings(&stdout(&output));
    let endpoint = |path: &str| {
        findings
            .iter()
            .find(|f| f["path"] == path)
            .map(|f| f["endpoint"].clone())
            .expect(path)
    };
    assert_eq!(endpoint("live/.env"), "https://contoso.openai.azure.com");
    assert_eq!(
        endpoint("dead/client.py"),
        "https://fabrikam-ai.cognitiveservices.azure.com"
    );
    assert_eq!(verification_at(&findings, "live/.env").0, "live");
    let (status, reason) = verification_at(&findings, "dead/client.py");
    assert_eq!(
        (status.as_str(), reason.contains("as invalid (401)")),
        ("dead", true),
        "{reason}"
    );
    for request in fake.requests() {
        assert_eq!(request.url, "/openai/models?api-version=2024-10-21", "{request:?}");
    }
    assert_eq!(fake.requests_with(live).len(), 1);
    assert_eq!(fake.requests_with(dead).len(), 1);

    // A report is not trusted: an endpoint that is not an Azure resource's (here edited into the report) sends the
    // key nowhere, whatever the base variable says.
    let report = run(keyhound_in(dir.path()).args(["scan", ".", "--format", "json", "-o", "report.json"]));
    assert_eq!(code(&report), 1, "{}", stderr(&report));
    let path = dir.path().join("report.json");
    let text = std::fs::read_to_string(&path).expect("report");
    std::fs::write(
        &path,
        text.replace("https://contoso.openai.azure.com", "https://contoso.evil.example"),
    )
    .expect("edit the report");
    let before = fake.requests().len();
    let output = run(keyhound_in(dir.path())
        .env(fake.variable(), &fake.base)
        .env("OPENAI_ADMIN_KEY", "sk-admin-unused")
        .args(["revoke", "--from", "report.json"]));
    let out = stdout(&output);
    assert!(
        out.contains("not probed: the endpoint next to the key is not an Azure OpenAI resource's"),
        "{out}"
    );
    assert_eq!(
        fake.requests().len(),
        before + 1,
        "only the key with an Azure endpoint was probed: {:?}",
        fake.requests()
    );
}
