//! Characters that do not show but can sit inside a key and break its match: a zero-width space pasted from a
//! chat, a soft hyphen from a word processor, a byte-order mark in the middle of a file. Content holding any is
//! scanned once more with them removed ([`crate::content::inspect`]); a key found only then is marked
//! `decoded: invisible` and reported at its place in the original content.

/// The `decoded` value of a key found with invisible characters removed.
pub const DECODED: &str = "invisible";

/// The UTF-8 forms of the characters removed: zero-width space, non-joiner and joiner (U+200B-U+200D), word
/// joiner and the invisible operators (U+2060-U+2064), the byte-order mark or zero-width no-break space
/// (U+FEFF), and the soft hyphen (U+00AD).
const INVISIBLE: &[&[u8]] = &[
    "\u{200B}".as_bytes(),
    "\u{200C}".as_bytes(),
    "\u{200D}".as_bytes(),
    "\u{2060}".as_bytes(),
    "\u{2061}".as_bytes(),
    "\u{2062}".as_bytes(),
    "\u{2063}".as_bytes(),
    "\u{2064}".as_bytes(),
    "\u{FEFF}".as_bytes(),
    "\u{AD}".as_bytes(),
];

/// Content with the invisible characters removed, and where they were.
#[derive(Debug)]
pub struct Stripped {
    pub text: Vec<u8>,
    /// For each run removed: its offset in `text`, and how many bytes were removed up to and including it.
    removed: Vec<(usize, usize)>,
}

/// The length of the invisible character at the start of `bytes`, if one is there.
fn invisible_at(bytes: &[u8]) -> Option<usize> {
    INVISIBLE.iter().find(|c| bytes.starts_with(c)).map(|c| c.len())
}

/// `content` without its invisible characters; `None` when it has none (a byte-order mark at the very start
/// does not count: no key holds it). One pass for the first bytes of their UTF-8 forms finds them.
pub fn strip(content: &[u8]) -> Option<Stripped> {
    let body_start = if content.starts_with("\u{FEFF}".as_bytes()) {
        3
    } else {
        0
    };
    let first = memchr::memchr3_iter(0xE2, 0xEF, 0xC2, &content[body_start..])
        .map(|at| body_start + at)
        .find(|&at| invisible_at(&content[at..]).is_some())?;
    let mut text = Vec::with_capacity(content.len());
    let mut removed = Vec::new();
    let mut total = 0;
    text.extend_from_slice(&content[..first]);
    let mut at = first;
    while at < content.len() {
        let next = memchr::memchr3(0xE2, 0xEF, 0xC2, &content[at..]).map_or(content.len(), |i| at + i);
        text.extend_from_slice(&content[at..next]);
        at = next;
        if at >= content.len() {
            break;
        }
        match invisible_at(&content[at..]) {
            Some(len) => {
                total += len;
                match removed.last_mut() {
                    Some((offset, so_far)) if *offset == text.len() => *so_far = total,
                    _ => removed.push((text.len(), total)),
                }
                at += len;
            }
            None => {
                text.push(content[at]);
                at += 1;
            }
        }
    }
    Some(Stripped { text, removed })
}

impl Stripped {
    /// The offset in the original content of the character at `offset` of the stripped text (the first byte
    /// of a key: invisible characters just before it are not part of it).
    pub fn start_in_original(&self, offset: usize) -> usize {
        offset + self.removed_up_to(|at| at <= offset)
    }

    /// The offset in the original content just past the stripped text's `end` (the end of a key: invisible
    /// characters just after it are not part of it).
    pub fn end_in_original(&self, end: usize) -> usize {
        end + self.removed_up_to(|at| at < end)
    }

    fn removed_up_to(&self, before: impl Fn(usize) -> bool) -> usize {
        let runs = self.removed.partition_point(|&(at, _)| before(at));
        runs.checked_sub(1).map_or(0, |last| self.removed[last].1)
    }
}

/// `span` without its invisible characters.
pub fn without_invisible(span: &[u8]) -> Vec<u8> {
    strip(span).map_or_else(|| span.to_vec(), |stripped| stripped.text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_characters_are_removed_and_offsets_map_back() {
        let content = "a=sk-pro\u{200B}j-abc\u{AD}\u{200D}def;".as_bytes();
        let stripped = strip(content).expect("has some");
        assert_eq!(stripped.text, b"a=sk-proj-abcdef;");
        // `sk-` starts at 2 in both; `def` starts after the two removed characters.
        assert_eq!(stripped.start_in_original(2), 2);
        let def = stripped.text.windows(3).position(|w| w == b"def").expect("def");
        assert_eq!(&content[stripped.start_in_original(def)..][..3], b"def");
        // The end of `abc` in the stripped text is before the removed characters, in the original too.
        let abc_end = def;
        assert_eq!(
            &content[..stripped.end_in_original(abc_end)],
            "a=sk-pro\u{200B}j-abc".as_bytes()
        );
        assert_eq!(without_invisible("x\u{FEFF}y".as_bytes()), b"xy");
    }

    #[test]
    fn content_without_them_costs_no_copy() {
        assert!(strip(b"plain ascii").is_none());
        assert!(
            strip("caf\u{e9} \u{2014} na\u{ef}ve".as_bytes()).is_none(),
            "other non-ASCII text"
        );
        assert!(strip("\u{FEFF}a leading byte-order mark".as_bytes()).is_none());
    }
}
