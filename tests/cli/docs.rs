//! The README and `docs/`: every relative link leads to a file that exists and, with `#anchor`, to a heading
//! that file has; the README stays short.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use crate::common::root;

/// The README and every page under `docs/`.
fn pages() -> Vec<PathBuf> {
    let mut pages = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = fs::read_dir(root().join("docs"))
        .expect("docs/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    assert!(!docs.is_empty(), "docs/ has pages");
    pages.extend(docs);
    pages
}

/// The lines of a page outside fenced code blocks.
fn prose(text: &str) -> Vec<&str> {
    let mut fenced = false;
    text.lines()
        .filter(|line| {
            if line.starts_with("```") {
                fenced = !fenced;
                return false;
            }
            !fenced
        })
        .collect()
}

/// A heading's anchor as GitHub makes it: lower case, punctuation other than `-` and `_` dropped, spaces as `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ' '))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a page's headings (a repeated heading gets `-1`, `-2`, as on GitHub).
fn anchors(text: &str) -> HashSet<String> {
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut anchors = HashSet::new();
    for line in prose(text) {
        let hashes = line.chars().take_while(|&c| c == '#').count();
        if (1..=6).contains(&hashes) && line[hashes..].starts_with(' ') {
            let slug = slug(&line[hashes + 1..]);
            let n = seen.entry(slug.clone()).or_insert(0);
            anchors.insert(if *n == 0 { slug.clone() } else { format!("{slug}-{n}") });
            *n += 1;
        }
    }
    anchors
}

/// Every `](target)` of a page's prose.
fn links(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in prose(text) {
        let mut rest = line;
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else { break };
            found.push(after[..end].to_string());
            rest = &after[end..];
        }
    }
    found
}

#[test]
fn every_link_of_the_readme_and_docs_leads_somewhere() {
    let mut broken = Vec::new();
    for page in pages() {
        let text = fs::read_to_string(&page).expect("read a page");
        let dir = page.parent().unwrap_or(Path::new("."));
        for target in links(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (file, anchor) = target.split_once('#').unwrap_or((target.as_str(), ""));
            let linked = if file.is_empty() { page.clone() } else { dir.join(file) };
            if !linked.exists() {
                broken.push(format!("{}: {target}: no such file", page.display()));
                continue;
            }
            if !anchor.is_empty() {
                let linked_text = fs::read_to_string(&linked).unwrap_or_default();
                if !anchors(&linked_text).contains(anchor) {
                    broken.push(format!("{}: {target}: no such heading", page.display()));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_readme_stays_short_and_names_the_two_setup_commands() {
    let text = fs::read_to_string(root().join("README.md")).expect("README.md");
    let lines = text.lines().count();
    assert!(lines <= 250, "the README has {lines} lines: move detail to docs/");
    let ci = fs::read_to_string(root().join(".ci/run")).expect(".ci/run");
    assert!(text.contains("cargo test --locked") && ci.contains("cargo test --locked"));
    assert!(text.contains("scan fixtures/demo"));
}

#[test]
fn slugs_follow_githubs_rules() {
    assert_eq!(slug("Saying \"this one is fine\""), "saying-this-one-is-fine");
    assert_eq!(
        slug("Unreachable objects (`git --all-objects`)"),
        "unreachable-objects-git---all-objects"
    );
    assert_eq!(slug("Git history: how it works"), "git-history-how-it-works");
}
