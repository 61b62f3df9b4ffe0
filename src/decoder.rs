//! The encodings keys hide in ([`Decoder`]): base64, percent-encoding, JSON and JavaScript escapes. A plain value
//! with its decoding, below the matcher (whose keyword pass finds the hints of each) and the content stage
//! ([`crate::content::decode`], which decodes around the hints and scans what comes out).

use base64::Engine as _;

/// The shortest line that a line break may continue: base64 wrapped by `base64` (76), MIME (76), PEM (64) or a
/// YAML folded block has long lines; a line of prose that ends in a word does not join the next.
pub const MIN_WRAPPED_LINE: usize = 40;

/// The first byte after the line break at `at` (`\n` or `\r\n`) and the next line's indentation, when there is
/// one: where the next line of a wrapped encoding would start.
pub fn after_line_break(content: &[u8], at: usize) -> Option<usize> {
    let rest = &content[at..];
    let after_break = if rest.starts_with(b"\r\n") {
        2
    } else if rest.starts_with(b"\n") {
        1
    } else {
        return None;
    };
    let indent = rest[after_break..]
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    Some(at + after_break + indent).filter(|&next| next < content.len())
}

/// A byte of the standard or URL-safe base64 alphabet (padding aside).
pub fn is_base64_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_')
}

/// The encodings recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Decoder {
    // The order gives each decoder its slot in `windows`.
    Base64,
    Percent,
    Escape,
}

impl Decoder {
    pub fn name(self) -> &'static str {
        match self {
            Decoder::Base64 => "base64",
            Decoder::Percent => "percent",
            Decoder::Escape => "escape",
        }
    }

    pub fn from_name(name: &str) -> Option<Decoder> {
        match name {
            "base64" => Some(Decoder::Base64),
            "percent" => Some(Decoder::Percent),
            "escape" => Some(Decoder::Escape),
            _ => None,
        }
    }

    /// Decodes `text`; `None` when it does not decode to something different.
    pub fn decode(self, text: &[u8]) -> Option<Vec<u8>> {
        let decoded = match self {
            Decoder::Base64 => decode_base64(text)?,
            Decoder::Percent => percent_encoding::percent_decode(text).collect(),
            Decoder::Escape => unescape(text),
        };
        (decoded != text && !decoded.is_empty()).then_some(decoded)
    }
}

/// Base64 in either alphabet, padded or not; a trailing partial group is dropped.
fn decode_base64(text: &[u8]) -> Option<Vec<u8>> {
    let mut normalised: Vec<u8> = text
        .iter()
        .filter(|&&b| !matches!(b, b'=' | b'\n' | b'\r' | b' ' | b'\t'))
        .map(|&b| match b {
            b'-' => b'+',
            b'_' => b'/',
            other => other,
        })
        .collect();
    if normalised.len() % 4 == 1 {
        normalised.pop();
    }
    // Lenient about the last character's spare bits: a run can end in a character or two of what follows the
    // encoding (`---` after a YAML value), which then decode to a stray byte at the end, not to no text at all.
    const LENIENT: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireNone),
    );
    LENIENT.decode(&normalised).ok()
}

/// JSON and JavaScript escapes: `\uXXXX` (with surrogate pairs), `\xXX`, and `\` before any other character.
fn unescape(text: &[u8]) -> Vec<u8> {
    let hex = |bytes: &[u8]| -> Option<u32> {
        std::str::from_utf8(bytes)
            .ok()
            .and_then(|s| u32::from_str_radix(s, 16).ok())
    };
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] != b'\\' || i + 1 >= text.len() {
            out.push(text[i]);
            i += 1;
            continue;
        }
        match text[i + 1] {
            b'u' => match text.get(i + 2..i + 6).and_then(hex) {
                Some(high @ 0xD800..=0xDBFF) => {
                    let low = (text.get(i + 6..i + 8) == Some(b"\\u"))
                        .then(|| text.get(i + 8..i + 12).and_then(hex))
                        .flatten()
                        .filter(|low| (0xDC00..=0xDFFF).contains(low));
                    match low.and_then(|low| char::from_u32(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))) {
                        Some(c) => {
                            out.extend_from_slice(c.to_string().as_bytes());
                            i += 12;
                        }
                        None => {
                            out.push(b'?');
                            i += 6;
                        }
                    }
                }
                Some(code) => {
                    let c = char::from_u32(code).unwrap_or('?');
                    out.extend_from_slice(c.to_string().as_bytes());
                    i += 6;
                }
                None => {
                    out.push(b'u');
                    i += 2;
                }
            },
            b'x' => match text.get(i + 2..i + 4).and_then(hex) {
                Some(byte) => {
                    out.push(byte as u8);
                    i += 4;
                }
                None => {
                    out.push(b'x');
                    i += 2;
                }
            },
            other => {
                out.push(other);
                i += 2;
            }
        }
    }
    out
}
