//! Filters applied to findings after scanning: the baseline and de-duplication.
//! (Inline allow markers are applied while inspecting content, where the line is at hand.)

pub mod baseline;

use crate::finding::Finding;

/// Drops findings that repeat an earlier one at the same place with the same rule (a file named twice on the
/// command line, say). `findings` must be sorted.
pub fn dedup(findings: &mut Vec<Finding>) {
    findings.dedup_by(|b, a| {
        a.rule_id == b.rule_id && a.path == b.path && a.location == b.location && a.repository == b.repository
    });
}
