//! The readable terminal report.

use std::io::Write;

use anstyle::{AnsiColor, Style};

use super::{ReportContext, shown_context, shown_secret};
use crate::finding::Finding;
use crate::text::escape_controls;

const PATH: Style = AnsiColor::Magenta.on_default();
const POSITION: Style = AnsiColor::Green.on_default();
const RULE: Style = Style::new().bold();
const SECRET: Style = AnsiColor::Red.on_default().bold();
const DIM: Style = Style::new().dimmed();

/// Writes the report. The findings' outside text is already redacted ([`super::shown_finding`]); here every piece
/// of it also has its control characters escaped, since this report goes to a terminal.
pub fn write(findings: &[Finding], context: &ReportContext<'_>, out: &mut dyn Write) -> std::io::Result<()> {
    let esc = |text: &str| escape_controls(text).into_owned();
    let paint = |style: Style, text: &str| -> String {
        let text = escape_controls(text);
        if context.color {
            format!("{style}{text}{style:#}")
        } else {
            text.into_owned()
        }
    };
    // Label findings with their repository only when the report spans several.
    let several_repos = findings
        .iter()
        .filter_map(|f| f.repository.as_deref())
        .any(|r| Some(r) != findings.first().and_then(|f| f.repository.as_deref()));
    for finding in findings {
        let repo = match (&finding.repository, several_repos) {
            (Some(r), true) => format!("{}: ", esc(r)),
            _ => String::new(),
        };
        let confidence = match finding.confidence {
            crate::rules::Confidence::High => "",
            crate::rules::Confidence::Medium => ", medium confidence",
        };
        writeln!(
            out,
            "{}{}:{} {} ({}, {}{}) {}",
            repo,
            paint(PATH, &finding.path),
            paint(
                POSITION,
                &format!("{}:{}", finding.location.line, finding.location.column)
            ),
            paint(RULE, &finding.rule_id),
            esc(&finding.kind),
            finding.severity,
            confidence,
            paint(SECRET, &shown_secret(finding, context.show_secrets)),
        )?;
        if let Some(git) = &finding.git {
            let short = git.commit.get(..12).unwrap_or(&git.commit);
            let more = match git.other_occurrences {
                0 => String::new(),
                n => format!(" (+{n} more commit/path places)"),
            };
            let reach = match (git.unreachable, &git.reflog) {
                (false, _) => String::new(),
                (true, Some(reflog)) => format!(" [unreachable: only the reflog of {} reaches it]", esc(reflog)),
                (true, None) => " [unreachable]".to_string(),
            };
            let is_tag = finding.path == crate::source::git::messages::TAG_MESSAGE_PATH;
            match (&git.reference, git.commit.is_empty() && !is_tag) {
                // A blob only a ref to a tree or a blob reaches: no commit, no author.
                (Some(reference), true) => {
                    writeln!(out, "    {} {}{}{}", paint(DIM, "ref"), esc(reference), more, reach)?;
                }
                // An unreachable tree's or blob's object: no commit, no ref.
                (None, true) => {
                    let short = git.blob.get(..12).unwrap_or(&git.blob);
                    writeln!(out, "    {} {}{}{}", paint(DIM, "object"), esc(short), more, reach)?;
                }
                // A tag message shows the tag's ref (or id) and tagger; anything else the commit and its author.
                (reference, false) => {
                    let (label, name) = match (reference, is_tag) {
                        (Some(reference), _) => ("tag", reference.as_str()),
                        (None, true) => ("tag", git.blob.get(..12).unwrap_or(&git.blob)),
                        (None, false) => ("commit", short),
                    };
                    writeln!(
                        out,
                        "    {} {} {} <{}> {}: {}{}{}",
                        paint(DIM, label),
                        esc(name),
                        esc(&git.author_name),
                        esc(&git.author_email),
                        esc(&git.date),
                        esc(&git.summary),
                        more,
                        reach
                    )?;
                }
            }
        }
        if let Some(image) = &finding.image {
            let short = |digest: &str| digest.get(..19).unwrap_or(digest).to_string();
            let platform = image
                .platform
                .as_deref()
                .map(|p| format!(" {}", esc(p)))
                .unwrap_or_default();
            let layer = match (image.layer_index, &image.layer) {
                (Some(index), Some(layer)) => format!(", layer {index} ({})", esc(&short(layer))),
                _ => ", image config".to_string(),
            };
            writeln!(
                out,
                "    {} {}@{}{}{}",
                paint(DIM, "image"),
                esc(&image.reference),
                esc(&short(&image.digest)),
                platform,
                layer
            )?;
            if let Some(step) = &image.created_by {
                writeln!(
                    out,
                    "    {} {}",
                    paint(DIM, "built by"),
                    esc(&crate::text::bounded(step, 200))
                )?;
            }
            if let Some(deleted) = &image.deleted_in {
                let (label, how) = match deleted.by.as_str() {
                    "overwritten" => ("replaced", "by a file of the same path"),
                    "opaque" => ("deleted", "with its directory (made opaque)"),
                    _ => ("deleted", "by a whiteout"),
                };
                writeln!(
                    out,
                    "    {} {how} in layer {} ({}); anyone who pulls the image still has it",
                    paint(DIM, label),
                    deleted.layer_index,
                    esc(&short(&deleted.layer))
                )?;
            }
        }
        if let Some(marker) = &finding.allow_marker {
            writeln!(
                out,
                "    {} `{}` stands next to it, but the scanned commits added it: not honoured in a range scan",
                paint(DIM, "allow"),
                esc(marker)
            )?;
        }
        if let Some(endpoint) = &finding.endpoint {
            writeln!(out, "    {} {}", paint(DIM, "endpoint"), esc(endpoint))?;
        }
        if let Some(allowed) = &finding.allowed {
            writeln!(
                out,
                "    {} hidden by {}, but the key is LIVE: reported anyway (the suppression is stale)",
                paint(DIM, "allow"),
                esc(allowed)
            )?;
        }
        if let Some(verification) = &finding.verification {
            writeln!(
                out,
                "    {} {} ({})",
                paint(DIM, "status"),
                verification.status,
                esc(&verification.reason)
            )?;
        }
        if let Some(line) = shown_context(finding, context.show_secrets) {
            writeln!(out, "    {} {}", paint(DIM, "│"), esc(&line))?;
        }
    }
    Ok(())
}
