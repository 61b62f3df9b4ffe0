use super::ReportContext;
use crate::finding::Finding;
use std::io::Write;
pub fn write(_f: &[Finding], _c: &ReportContext<'_>, _o: &mut dyn Write) -> std::io::Result<()> {
    Ok(())
}
