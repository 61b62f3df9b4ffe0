//! SARIF 2.1.0 for GitHub code scanning and other SARIF consumers (built with `serde-sarif`).
//!
//! One run; every rule in force appears once in `tool.driver.rules`; each finding is one result whose message
//! names the key kind and shows only the redacted key. `partialFingerprints` carry the finding's fingerprint
//! (rule + secret), so a leak keeps its alert when it moves to another line.

use std::collections::BTreeMap;
use std::io::Write;

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde_json::{Value, json};
use serde_sarif::sarif::{
    ArtifactContent, ArtifactLocation, Invocation, Location, LogicalLocation, Message, MultiformatMessageString,
    Notification, PhysicalLocation, PropertyBag, Region, ReportingConfiguration, ReportingDescriptor,
    Result as SarifResult, ResultLevel, Run, RunAutomationDetails, Sarif, Tool, ToolComponent, VersionControlDetails,
};

use super::ReportContext;
use crate::counts::ErrorKind;
use crate::finding::{Finding, Liveness};
use crate::rules::{Rule, Severity};

/// The `$schema` written into reports.
pub const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";
/// The base id that result URIs are relative to.
pub const SRCROOT: &str = "%SRCROOT%";
/// The `partialFingerprints` key holding keyhound's own fingerprint.
pub const FINGERPRINT_KEY: &str = "keyhound/v1";

/// Characters escaped in a URI path segment (RFC 3986: everything but unreserved, sub-delims, ':' and '@').
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}')
    .add(b'/');

/// GitHub's severity score for a rule: over 9.0 is critical, 7.0–8.9 high, 4.0–6.9 medium, below low.
fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
    }
}

fn default_level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
    }
}

/// A result's level: verified-live keys are errors, verified dead or unknown ones warnings, unverified ones
/// follow the rule's severity.
fn result_level(finding: &Finding) -> ResultLevel {
    match finding.verification.as_ref().map(|v| v.status) {
        Some(Liveness::Live) => ResultLevel::Error,
        Some(Liveness::Dead | Liveness::Unknown) => ResultLevel::Warning,
        None => match default_level(finding.severity) {
            "error" => ResultLevel::Error,
            "warning" => ResultLevel::Warning,
            _ => ResultLevel::Note,
        },
    }
}

/// Percent-encodes a relative path segment by segment, with forward slashes.
///
/// A ':' in the first segment is escaped too (RFC 3986 section 4.2): `a:b/c` would read as a URI of scheme `a`.
pub fn path_to_uri(path: &str) -> String {
    path.replace('\\', "/")
        .split('/')
        .enumerate()
        .map(|(index, segment)| {
            let encoded = utf8_percent_encode(segment, SEGMENT).to_string();
            if index == 0 {
                encoded.replace(':', "%3A")
            } else {
                encoded
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// A rule's entry in `tool.driver.rules`. User rule files are outside text: their strings are redacted.
fn descriptor(rule: &Rule) -> ReportingDescriptor {
    let clean = |text: &str| crate::text::for_report(text, false);
    let (name, description, remediation) = (clean(&rule.name), clean(&rule.description), clean(&rule.remediation));
    let help_text = format!(
        "{}\n\nA key that was ever committed must be treated as leaked: revoke it first, then remove it from the \
         code and from git history (git filter-repo or BFG), because every clone keeps old commits.",
        remediation
    );
    let help_markdown = format!(
        "{}\n\n**Revoke the key first**, then remove it from the code and from git history \
         (`git filter-repo`, BFG): every clone keeps old commits.\n\nIf this is not a real key, add \
         `keyhound:allow` to the line or accept it with a baseline (`--write-baseline`).",
        remediation
    );
    let mut extra = BTreeMap::new();
    extra.insert("security-severity".to_string(), json!(security_severity(rule.severity)));
    // A rule whose matches can be of unknown shape, or that finds keys by their context, is less precise.
    let precise = rule.confidence == crate::rules::Confidence::High && rule.known_shapes.is_empty();
    extra.insert(
        "precision".to_string(),
        json!(if precise { "very-high" } else { "high" }),
    );
    extra.insert("provider".to_string(), json!(clean(&rule.provider)));
    extra.insert("kind".to_string(), json!(clean(&rule.kind)));
    ReportingDescriptor::builder()
        .id(rule.id.clone())
        .name(name.clone())
        .short_description(MultiformatMessageString::builder().text(name).build())
        .full_description(MultiformatMessageString::builder().text(description).build())
        .help(
            MultiformatMessageString::builder()
                .text(help_text)
                .markdown(help_markdown)
                .build(),
        )
        .default_configuration(
            ReportingConfiguration::builder()
                .level(json!(default_level(rule.severity)))
                .build(),
        )
        .properties(
            PropertyBag::builder()
                .tags(vec![
                    "security".to_string(),
                    "secret".to_string(),
                    "external/cwe/cwe-798".to_string(),
                ])
                .additional_properties(extra)
                .build(),
        )
        .build()
}

fn result(finding: &Finding, rule_index: Option<usize>, occurrence: usize, context: &ReportContext<'_>) -> SarifResult {
    let mut message = format!(
        "{} ({} key) found: {}",
        finding.rule_name, finding.kind, finding.redacted
    );
    if let Some(verification) = &finding.verification {
        message.push_str(&format!(". Status: {} ({})", verification.status, verification.reason));
    }
    if let Some(marker) = &finding.allow_marker {
        message.push_str(&format!(
            ". The `{marker}` next to it was added by the scanned commits and is not honoured"
        ));
    }
    if let Some(allowed) = &finding.allowed {
        message.push_str(&format!(". Hidden by {allowed}, but the key is live: reported anyway"));
    }
    // A path inside an image is no file of the checkout: it keeps no base, and the image is its logical location.
    let (uri, base) = match &finding.image {
        Some(_) => (path_to_uri(&finding.path), false),
        None => context.artifact_uri(&finding.path),
    };
    let mut artifact = ArtifactLocation::builder().uri(uri).build();
    if base {
        artifact.uri_base_id = Some(SRCROOT.to_string());
    }
    let mut region = Region::builder()
        .start_line(finding.location.line as i64)
        .start_column(finding.location.column as i64)
        .end_line(finding.location.end_line as i64)
        .end_column(finding.location.end_column as i64)
        .build();
    if let Some(text) = super::shown_context(finding, context.show_secrets) {
        region.snippet = Some(ArtifactContent::builder().text(text).build());
    }
    let mut location = Location::builder()
        .physical_location(
            PhysicalLocation::builder()
                .artifact_location(artifact)
                .region(region)
                .build(),
        )
        .build();
    if let Some(image) = &finding.image {
        location.logical_locations = Some(vec![image_location(finding, image)]);
    }
    let mut fingerprints = BTreeMap::new();
    fingerprints.insert(FINGERPRINT_KEY.to_string(), finding.fingerprint.0.clone());
    // GitHub tracks alerts by this key only; "hash:n" as its own upload action writes it, n counting repeats of
    // the same leak in the same file.
    fingerprints.insert(
        "primaryLocationLineHash".to_string(),
        format!(
            "{}:{occurrence}",
            &finding.fingerprint.0[..16.min(finding.fingerprint.0.len())]
        ),
    );
    let mut properties = BTreeMap::new();
    properties.insert("kind".to_string(), json!(finding.kind));
    properties.insert("provider".to_string(), json!(finding.provider));
    properties.insert("severity".to_string(), json!(finding.severity.as_str()));
    properties.insert("confidence".to_string(), json!(finding.confidence.as_str()));
    if let Some(repo) = &finding.repository {
        properties.insert("repository".to_string(), json!(repo));
    }
    if let Some(git) = &finding.git {
        let value = serde_json::to_value(git).unwrap_or(Value::Null);
        if let Value::Object(map) = value {
            properties.extend(map);
        }
    }
    if let Some(verification) = &finding.verification {
        properties.insert("verification".to_string(), json!(verification));
    }
    if let Some(marker) = &finding.allow_marker {
        properties.insert("allow_marker_not_honoured".to_string(), json!(marker));
    }
    if let Some(allowed) = &finding.allowed {
        properties.insert("allowed_but_live".to_string(), json!(allowed));
    }
    if let Some(endpoint) = &finding.endpoint {
        properties.insert("endpoint".to_string(), json!(endpoint));
    }
    if let Some(image) = &finding.image {
        properties.insert("image".to_string(), json!(image));
    }
    let mut builder_result = SarifResult::builder()
        .rule_id(finding.rule_id.clone())
        .level(result_level(finding))
        .message(Message::builder().text(message).build())
        .locations(vec![location])
        .partial_fingerprints(fingerprints)
        .properties(PropertyBag::builder().additional_properties(properties).build())
        .build();
    builder_result.rule_index = rule_index.map(|i| i as i64);
    builder_result
}

/// Where in an image a finding is, as a SARIF logical location: `REFERENCE@DIGEST/layers/N/PATH`, or
/// `REFERENCE@DIGEST/config/FIELD` for the image config.
fn image_location(finding: &Finding, image: &crate::finding::ImageProvenance) -> LogicalLocation {
    let within = match image.layer_index {
        Some(index) => format!("layers/{index}/{}", finding.path),
        None => format!(
            "config/{}",
            finding
                .path
                .trim_start_matches("<config")
                .trim_start_matches(':')
                .trim_end_matches('>')
        ),
    };
    let mut location = LogicalLocation::builder()
        .name(finding.path.clone())
        .fully_qualified_name(format!("{}@{}/{within}", image.reference, image.digest))
        .kind("resource")
        .build();
    location.index = None;
    location
}

/// The run's invocation: `executionSuccessful` is false when anything could not be read, and each scan error is
/// a `toolExecutionNotifications` entry, so a consumer can tell a clean repository from an incomplete scan.
fn invocation(context: &ReportContext<'_>) -> Invocation {
    let mut notifications: Vec<Notification> = context
        .shown_errors()
        .into_iter()
        .map(|error| {
            let mut notification = Notification::builder()
                .message(Message::builder().text(error.to_string()).build())
                .level(json!("error"))
                .build();
            if error.kind == ErrorKind::File || error.kind == ErrorKind::Input {
                let (uri, base) = context.artifact_uri(&error.place);
                let mut artifact = ArtifactLocation::builder().uri(uri).build();
                if base {
                    artifact.uri_base_id = Some(SRCROOT.to_string());
                }
                notification.locations = Some(vec![
                    Location::builder()
                        .physical_location(PhysicalLocation::builder().artifact_location(artifact).build())
                        .build(),
                ]);
            }
            let mut properties = BTreeMap::new();
            properties.insert("kind".to_string(), json!(error.kind.as_str()));
            if let Some(repository) = &error.repository {
                properties.insert("repository".to_string(), json!(repository));
            }
            notification.properties = Some(PropertyBag::builder().additional_properties(properties).build());
            notification
        })
        .collect();
    if context.scan_errors_omitted > 0 {
        notifications.push(
            Notification::builder()
                .message(
                    Message::builder()
                        .text(format!("{} more scan errors, not listed", context.scan_errors_omitted))
                        .build(),
                )
                .level(json!("error"))
                .build(),
        );
    }
    let successful = notifications.is_empty();
    notifications.extend(other_objects_notes(context));
    let mut invocation = Invocation::builder().execution_successful(successful).build();
    if !notifications.is_empty() {
        invocation.tool_execution_notifications = Some(notifications);
    }
    invocation
}

/// The object directories of other repositories that `repo` read as its own, as SARIF properties.
fn other_objects_json(repo: &super::RepositoryInfo, context: &ReportContext<'_>) -> serde_json::Value {
    let shown = |text: &str| crate::text::for_report(text, context.show_secrets);
    json!(
        repo.other_objects
            .iter()
            .map(|other| json!({
                "objectDirectory": shown(&other.object_directory),
                "namedBy": shown(&other.named_by),
            }))
            .collect::<Vec<_>>()
    )
}

/// A `note` notification for each repository that read the objects of others: their findings are reported under
/// its name. (Its `versionControlProvenance` entry, when it has one, lists them too.)
fn other_objects_notes(context: &ReportContext<'_>) -> Vec<Notification> {
    let shown = |text: &str| crate::text::for_report(text, context.show_secrets);
    context
        .repositories
        .iter()
        .filter(|repo| !repo.other_objects.is_empty())
        .map(|repo| {
            let dirs: Vec<String> = repo.other_objects.iter().map(|o| shown(&o.object_directory)).collect();
            let mut notification = Notification::builder()
                .message(
                    Message::builder()
                        .text(format!(
                            "{}: also read the objects of other repositories, and reported what it found there under \
                             its own name: {}",
                            shown(&repo.label),
                            dirs.join(", ")
                        ))
                        .build(),
                )
                .level(json!("note"))
                .build();
            let mut properties = BTreeMap::new();
            properties.insert("kind".to_string(), json!("other-repositories"));
            properties.insert("repository".to_string(), json!(shown(&repo.label)));
            properties.insert("otherObjectDirectories".to_string(), other_objects_json(repo, context));
            notification.properties = Some(PropertyBag::builder().additional_properties(properties).build());
            notification
        })
        .collect()
}

pub fn write(findings: &[Finding], context: &ReportContext<'_>, out: &mut dyn Write) -> std::io::Result<()> {
    let rules = context.rules.rules();
    let driver = ToolComponent::builder()
        .name(env!("CARGO_PKG_NAME"))
        .version(env!("CARGO_PKG_VERSION"))
        .semantic_version(env!("CARGO_PKG_VERSION"))
        .information_uri(env!("CARGO_PKG_REPOSITORY"))
        .rules(rules.iter().map(descriptor).collect::<Vec<_>>())
        .build();
    let mut seen: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    let results: Vec<SarifResult> = findings
        .iter()
        .map(|finding| {
            let occurrence = seen
                .entry((finding.path.as_str(), finding.fingerprint.0.as_str()))
                .and_modify(|n| *n += 1)
                .or_insert(1);
            let index = rules.iter().position(|r| r.id == finding.rule_id);
            result(finding, index, *occurrence, context)
        })
        .collect();
    let mut run = Run::builder()
        .tool(Tool::builder().driver(driver).build())
        .results(results)
        .automation_details(RunAutomationDetails::builder().id("keyhound/").build())
        .build();
    if let Some(root) = &context.source_root {
        let mut bases = BTreeMap::new();
        bases.insert(
            SRCROOT.to_string(),
            ArtifactLocation::builder().uri(root.uri.clone()).build(),
        );
        run.original_uri_base_ids = Some(bases);
    }
    let provenance: Vec<VersionControlDetails> = context
        .repositories
        .iter()
        .filter_map(|repo| {
            let uri = repo.uri.clone()?;
            let mut details = VersionControlDetails::builder().repository_uri(uri).build();
            details.revision_id = repo.revision.clone();
            details.branch = repo.branch.clone();
            if repo.workdir_is_root {
                details.mapped_to = Some(ArtifactLocation::builder().uri_base_id(SRCROOT).build());
            }
            if !repo.other_objects.is_empty() {
                let mut properties = BTreeMap::new();
                properties.insert("otherObjectDirectories".to_string(), other_objects_json(repo, context));
                details.properties = Some(PropertyBag::builder().additional_properties(properties).build());
            }
            Some(details)
        })
        .collect();
    if !provenance.is_empty() {
        run.version_control_provenance = Some(provenance);
    }
    run.invocations = Some(vec![invocation(context)]);
    let sarif = Sarif::builder()
        .schema(SCHEMA_URI)
        .version("2.1.0")
        .runs(vec![run])
        .build();
    super::json::write_json(&sarif, true, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_percent_encoded_per_segment() {
        assert_eq!(path_to_uri("src/main.rs"), "src/main.rs");
        assert_eq!(path_to_uri("my dir/a#b.env"), "my%20dir/a%23b.env");
        assert_eq!(path_to_uri("dir\\file"), "dir/file");
        assert_eq!(path_to_uri("é.txt"), "%C3%A9.txt");
    }
}
