//! Reading a JSON or JSON Lines report back (`merge`, `revoke --from`), streaming and bounded.
//!
//! A report handed to keyhound may be forged: a 3 GB sparse file, a line without end. So nothing is read whole:
//! the first byte that is not whitespace must open a JSON object (a NUL byte or any other start is an error at
//! once); a JSON document is parsed from the stream as it is read; a JSON Lines report is read line by line, each
//! line at most [`MAX_REPORT_LINE`] bytes. A report holds at most [`MAX_REPORT_FINDINGS`] findings, and the file
//! at most [`crate::input::MAX_REPORT_FILE`] bytes.

use std::fmt;
use std::io::{BufRead, Cursor, Read};
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::json::{FORMAT_VERSION, JsonFinding, JsonlSummary, ReadReport, ReadReportError, SUMMARY_RECORD, ToolInfo};
use crate::counts::ScanError;

/// The most findings (and, apart, scan errors) a report read back may hold.
pub const MAX_REPORT_FINDINGS: usize = 1_000_000;
/// The longest line of a JSON Lines report read back.
pub const MAX_REPORT_LINE: usize = 64 << 20;

/// Reads a report from `reader`; `name` labels errors.
pub fn read_from(mut reader: impl BufRead, name: &str) -> Result<ReadReport, ReadReportError> {
    let errors = Errors { name };
    let (first, blank_lines) = match skip_whitespace(&mut reader).map_err(|e| errors.io(&e))? {
        Some(start) => start,
        None => return Err(errors.incomplete("it is empty".into())),
    };
    if first != b'{' {
        return Err(errors.format(format!(
            "it starts with {}, not with a JSON object",
            describe_byte(first)
        )));
    }
    let number = blank_lines + 1;
    let mut line = Vec::new();
    let end = read_line(&mut reader, &mut line, MAX_REPORT_LINE).map_err(|e| errors.io(&e))?;
    if end == LineEnd::Nul {
        return Err(errors.format(format!("line {number}: a NUL byte, not JSON")));
    }
    // A whole first line that is a finding or a summary (and not a whole report) starts a JSON Lines report.
    if end != LineEnd::TooLong
        && let Ok(value) = serde_json::from_slice::<serde_json::Value>(&line)
        && !value.get("findings").is_some_and(serde_json::Value::is_array)
        && (value.get("rule_id").is_some() || value.get("record").is_some())
    {
        return read_lines(value, number, reader, &errors);
    }
    // Anything else is read as one JSON document, from its first line on.
    if end == LineEnd::Newline {
        line.push(b'\n');
    }
    read_document(Cursor::new(line).chain(reader), &errors)
}

/// Builds the errors of one report.
struct Errors<'a> {
    name: &'a str,
}

impl Errors<'_> {
    fn format(&self, message: String) -> ReadReportError {
        ReadReportError::Format {
            path: self.name.to_string(),
            message,
        }
    }

    fn incomplete(&self, message: String) -> ReadReportError {
        ReadReportError::Incomplete {
            path: self.name.to_string(),
            message,
        }
    }

    fn io(&self, error: &std::io::Error) -> ReadReportError {
        ReadReportError::Io {
            path: self.name.to_string(),
            message: crate::input::describe_io(error),
        }
    }

    fn version(&self, found: u64) -> ReadReportError {
        ReadReportError::Version {
            path: self.name.to_string(),
            found: found.min(u64::from(u32::MAX)) as u32,
        }
    }
}

/// A parse error of report text, bounded: serde's message can quote the input.
fn json_error(error: &serde_json::Error) -> String {
    crate::text::bounded(&error.to_string(), 200)
}

/// A byte as an error message shows it.
fn describe_byte(byte: u8) -> String {
    match byte {
        0 => "a NUL byte".to_string(),
        b if b.is_ascii_graphic() => format!("`{}`", char::from(b)),
        b => format!("the byte 0x{b:02x}"),
    }
}

/// Skips JSON whitespace. Returns the first other byte (left unread) and how many newlines came before it;
/// `None` at the end.
fn skip_whitespace(reader: &mut impl BufRead) -> std::io::Result<Option<(u8, usize)>> {
    let mut newlines = 0;
    loop {
        let buffer = reader.fill_buf()?;
        if buffer.is_empty() {
            return Ok(None);
        }
        match buffer.iter().position(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n')) {
            Some(at) => {
                let byte = buffer[at];
                newlines += buffer[..at].iter().filter(|&&b| b == b'\n').count();
                reader.consume(at);
                return Ok(Some((byte, newlines)));
            }
            None => {
                let len = buffer.len();
                newlines += buffer.iter().filter(|&&b| b == b'\n').count();
                reader.consume(len);
            }
        }
    }
}

/// How a line read by [`read_line`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineEnd {
    /// At a newline (consumed, not kept).
    Newline,
    /// At the end of the input.
    Eof,
    /// At `max` bytes without a newline: the rest of the line is unread.
    TooLong,
    /// At a NUL byte, which no JSON text holds.
    Nul,
}

/// Reads up to a newline into `line` (cleared first), at most `max` bytes.
fn read_line(reader: &mut impl BufRead, line: &mut Vec<u8>, max: usize) -> std::io::Result<LineEnd> {
    line.clear();
    loop {
        let buffer = reader.fill_buf()?;
        if buffer.is_empty() {
            return Ok(LineEnd::Eof);
        }
        let room = max - line.len();
        let window = &buffer[..buffer.len().min(room)];
        match memchr::memchr2(b'\n', 0, window) {
            Some(at) => {
                let end = if window[at] == 0 {
                    LineEnd::Nul
                } else {
                    LineEnd::Newline
                };
                line.extend_from_slice(&window[..at]);
                reader.consume(at + 1);
                return Ok(end);
            }
            None => {
                let len = window.len();
                line.extend_from_slice(window);
                reader.consume(len);
                if line.len() >= max {
                    return Ok(LineEnd::TooLong);
                }
            }
        }
    }
}

/// Reads the JSON Lines report whose first line (number `number`) is `first`: finding lines, then the summary
/// line that says how many there were.
fn read_lines(
    first: serde_json::Value,
    mut number: usize,
    mut reader: impl BufRead,
    errors: &Errors<'_>,
) -> Result<ReadReport, ReadReportError> {
    let mut findings = Vec::new();
    let mut summary: Option<JsonlSummary> = None;
    let mut line = Vec::new();
    let mut value = Some(first);
    loop {
        if let Some(value) = value.take() {
            if summary.is_some() {
                return Err(errors.format(format!("line {number}: a line after the summary line")));
            }
            match read_line_value(value, number, errors)? {
                Record::Summary(line) => summary = Some(line),
                Record::Finding(_) if findings.len() >= MAX_REPORT_FINDINGS => {
                    return Err(errors.format(format!(
                        "line {number}: more than {MAX_REPORT_FINDINGS} findings, the most keyhound reads back"
                    )));
                }
                Record::Finding(finding) => findings.push(*finding),
            }
        }
        number += 1;
        let end = read_line(&mut reader, &mut line, MAX_REPORT_LINE).map_err(|e| errors.io(&e))?;
        match end {
            LineEnd::Nul => return Err(errors.format(format!("line {number}: a NUL byte, not JSON"))),
            LineEnd::TooLong => {
                return Err(errors.format(format!(
                    "line {number}: longer than {} MiB, the longest line keyhound reads back",
                    MAX_REPORT_LINE >> 20
                )));
            }
            LineEnd::Newline | LineEnd::Eof => {}
        }
        if !line.iter().all(u8::is_ascii_whitespace) {
            value = Some(serde_json::from_slice(&line).map_err(|e| {
                if e.is_eof() {
                    errors.incomplete(format!("line {number} is cut short"))
                } else {
                    errors.format(format!("line {number}: {}", json_error(&e)))
                }
            })?);
        } else if end == LineEnd::Eof {
            break;
        }
    }
    match summary {
        None => Err(errors.incomplete("its summary line is missing".into())),
        Some(summary) if summary.findings != findings.len() => Err(errors.incomplete(format!(
            "its summary line says {} finding(s), {} were read",
            summary.findings,
            findings.len()
        ))),
        Some(summary) => Ok(ReadReport {
            findings,
            scan_errors: summary.scan_errors,
            scan_errors_omitted: summary.scan_errors_omitted,
        }),
    }
}

/// One line of a JSON Lines report.
enum Record {
    Finding(Box<JsonFinding>),
    Summary(JsonlSummary),
}

/// Checks one line's version and reads it as a finding or the summary.
fn read_line_value(value: serde_json::Value, number: usize, errors: &Errors<'_>) -> Result<Record, ReadReportError> {
    if let Some(found) = value.get("format_version").and_then(serde_json::Value::as_u64)
        && found != u64::from(FORMAT_VERSION)
    {
        return Err(errors.version(found));
    }
    let format = |e: serde_json::Error| errors.format(format!("line {number}: {}", json_error(&e)));
    if value.get("record").is_some() {
        let line: JsonlSummary = serde_json::from_value(value).map_err(format)?;
        if line.record != SUMMARY_RECORD {
            return Err(errors.format(format!("line {number}: unknown record")));
        }
        if line.scan_errors.len() > MAX_REPORT_FINDINGS {
            return Err(errors.format(format!("line {number}: more than {MAX_REPORT_FINDINGS} scan errors")));
        }
        Ok(Record::Summary(line))
    } else {
        Ok(Record::Finding(Box::new(
            serde_json::from_value(value).map_err(format)?,
        )))
    }
}

/// Parses a whole JSON report from the stream, without holding more than its findings.
fn read_document(reader: impl Read, errors: &Errors<'_>) -> Result<ReadReport, ReadReportError> {
    let mut fields = ReportFields::default();
    let mut de = serde_json::Deserializer::from_reader(reader);
    let parsed = (&mut de)
        .deserialize_map(ReportVisitor { fields: &mut fields })
        .and_then(|()| de.end());
    if let Err(error) = parsed {
        return Err(match fields.version {
            Some(found) if found != u64::from(FORMAT_VERSION) => errors.version(found),
            _ if error.is_io() => ReadReportError::Io {
                path: errors.name.to_string(),
                message: json_error(&error),
            },
            _ if error.is_eof() => errors.incomplete(format!("the JSON document ends early: {}", json_error(&error))),
            _ => errors.format(json_error(&error)),
        });
    }
    let Some(findings) = fields.findings else {
        return Err(errors.format("a JSON value without `findings`".into()));
    };
    match (fields.version, fields.tool) {
        (None, _) => Err(errors.format("missing field `format_version`".into())),
        (_, false) => Err(errors.format("missing field `tool`".into())),
        (Some(_), true) => Ok(ReadReport {
            findings,
            scan_errors: fields.scan_errors,
            scan_errors_omitted: fields.scan_errors_omitted,
        }),
    }
}

/// The fields of a JSON report, filled in as they are read.
#[derive(Default)]
struct ReportFields {
    version: Option<u64>,
    tool: bool,
    findings: Option<Vec<JsonFinding>>,
    scan_errors: Vec<ScanError>,
    scan_errors_omitted: u64,
}

/// The keys of a JSON report; others are skipped, as `JsonReport` skips them.
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Field {
    FormatVersion,
    Tool,
    Findings,
    ScanErrors,
    ScanErrorsOmitted,
    #[serde(other)]
    Other,
}

/// Reads a JSON report's top-level object into [`ReportFields`]. A wrong `format_version` stops the parse
/// where it is read (before the findings in keyhound's reports), so it is reported as such.
struct ReportVisitor<'a> {
    fields: &'a mut ReportFields,
}

impl<'de> Visitor<'de> for ReportVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a keyhound report object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(field) = map.next_key::<Field>()? {
            match field {
                Field::FormatVersion => {
                    let found: u64 = map.next_value()?;
                    self.fields.version = Some(found);
                    if found != u64::from(FORMAT_VERSION) {
                        return Err(de::Error::custom("unsupported format_version"));
                    }
                }
                Field::Tool => {
                    map.next_value::<ToolInfo>()?;
                    self.fields.tool = true;
                }
                Field::Findings => {
                    let mut findings = Vec::new();
                    map.next_value_seed(Bounded::new(&mut findings, "findings"))?;
                    self.fields.findings = Some(findings);
                }
                Field::ScanErrors => {
                    self.fields.scan_errors.clear();
                    map.next_value_seed(Bounded::new(&mut self.fields.scan_errors, "scan errors"))?;
                }
                Field::ScanErrorsOmitted => self.fields.scan_errors_omitted = map.next_value()?,
                Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// An array read into `out`, at most [`MAX_REPORT_FINDINGS`] items.
struct Bounded<'a, T> {
    out: &'a mut Vec<T>,
    what: &'static str,
    item: PhantomData<T>,
}

impl<'a, T> Bounded<'a, T> {
    fn new(out: &'a mut Vec<T>, what: &'static str) -> Bounded<'a, T> {
        Bounded {
            out,
            what,
            item: PhantomData,
        }
    }
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Bounded<'_, T> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Bounded<'_, T> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an array of {}", self.what)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(item) = seq.next_element()? {
            if self.out.len() >= MAX_REPORT_FINDINGS {
                return Err(de::Error::custom(format!(
                    "more than {MAX_REPORT_FINDINGS} {}, the most keyhound reads back",
                    self.what
                )));
            }
            self.out.push(item);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_bounded_and_a_nul_byte_ends_them() {
        let mut line = Vec::new();
        let mut input: &[u8] = b"abc\ndef";
        assert_eq!(read_line(&mut input, &mut line, 10).ok(), Some(LineEnd::Newline));
        assert_eq!(line, b"abc");
        assert_eq!(read_line(&mut input, &mut line, 10).ok(), Some(LineEnd::Eof));
        assert_eq!(line, b"def");
        let mut input: &[u8] = b"abcdefgh\n";
        assert_eq!(read_line(&mut input, &mut line, 4).ok(), Some(LineEnd::TooLong));
        let mut input: &[u8] = b"ab\0cd\n";
        assert_eq!(read_line(&mut input, &mut line, 10).ok(), Some(LineEnd::Nul));
    }

    #[test]
    fn a_report_that_does_not_start_as_one_is_refused_at_once() {
        let nuls = std::io::repeat(0).take(1 << 40);
        let err = read_from(std::io::BufReader::new(nuls), "sparse.json").expect_err("not a report");
        assert!(err.to_string().contains("starts with a NUL byte"), "{err}");
        let start_then_nuls = Cursor::new(b"{".to_vec()).chain(std::io::repeat(0).take(1 << 40));
        let err = read_from(std::io::BufReader::new(start_then_nuls), "x.json").expect_err("not a report");
        assert!(err.to_string().contains("NUL byte"), "{err}");
        let err = read_from(&b"[1, 2]"[..], "x.json").expect_err("not a report");
        assert!(err.to_string().contains("starts with `[`"), "{err}");
    }

    #[test]
    fn a_wrong_version_is_named() {
        let text = br#"{"format_version": 7, "tool": {"name": "keyhound", "version": "9"}, "findings": [1]}"#;
        let err = read_from(&text[..], "x.json").expect_err("version 7");
        assert!(matches!(err, ReadReportError::Version { found: 7, .. }), "{err}");
    }
}
