//! Filters applied to findings after scanning: the baseline, de-duplication, and the state of incremental runs.
//! (Inline allow markers are applied while inspecting content, where the line is at hand.)

pub mod baseline;
pub mod state;

use crate::finding::Finding;

/// Drops findings that repeat an earlier one: the same secret, by the same rule, at the same place of the same
/// object (a file named twice on the command line, say). Findings at one position of different blob versions
/// (a key rotated in place) are different findings and all stay, and so are a shared layer's findings in each
/// image that has it.
pub fn dedup(findings: &mut Vec<Finding>) {
    let mut seen = std::collections::HashSet::new();
    findings.retain(|f| {
        let git = f.git.as_ref().map(|g| (g.commit.clone(), g.blob.clone()));
        // A layer two images share is one place in each of them.
        let image = f
            .image
            .as_ref()
            .map(|i| (i.reference.clone(), i.digest.clone(), i.layer_index));
        seen.insert((
            f.rule_id.clone(),
            f.path.clone(),
            f.location,
            f.repository.clone(),
            f.fingerprint.clone(),
            git,
            image,
        ))
    });
}
