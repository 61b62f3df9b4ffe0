//! Long runs of base64 bytes, of key bytes and of escaped key bytes: the only places where a key can be.
//!
//! A key is a run of key bytes (letters, digits, `-`, `_`; Google's `AQ.` stands just before one), a
//! base64-encoded key a run of base64 bytes at least four thirds of the shortest key long, and a key with
//! escaped or percent-encoded bytes (`sk%2Dproj…`, `sk\u002dproj…`) a run of key bytes, `%` and `\` that holds a
//! `%` or `\` (only such runs are kept for that class: most runs of it are identifiers, with no escape). Text
//! holds few such runs (2 to 4 % of the 64-byte blocks of source code hold one), so the passes that look for
//! keywords, base64 hints, escapes and context words need to look only around them (see
//! [`super::Scanner`]). Finding the runs is one classification of every byte, several times cheaper than a
//! pass of the Aho-Corasick searcher: two table look-ups per 32 bytes (`pshufb` on the high and the low half
//! of each byte) give a mask of each 64-byte block; a few shifts of the mask tell whether a run long enough
//! ends in the block, and only then are the runs read off the masks of each class.

// Without AVX2 code (other processors), the runs are never looked for; the portable parts serve the tests.
#![cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]

// The classes byte by byte: what the tables are checked against.
#[cfg(test)]
use crate::decoder::is_base64_byte;
#[cfg(test)]
use crate::rules::is_key_byte;

/// The maximal runs, `(start, end)` in order, of at least the lengths asked.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct LongRuns {
    /// Runs of base64 bytes.
    pub base64: Vec<(usize, usize)>,
    /// Runs of key bytes (letters, digits, `-`, `_`).
    pub key: Vec<(usize, usize)>,
    /// Runs of key bytes, `%` and `\\` that hold a `%` or a `\\`.
    pub escaped: Vec<(usize, usize)>,
}

/// The shortest runs of each class wanted (`usize::MAX`: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct MinRuns {
    pub base64: usize,
    pub key: usize,
    pub escaped: usize,
}

/// A byte that an escaped key can hold: a key byte, or the `%` and `\\` that start its escapes. (The definition the
/// tables are checked against.)
#[cfg(test)]
pub(super) fn is_escaped_key_byte(b: u8) -> bool {
    is_key_byte(b) || b == b'%' || b == b'\\'
}

/// The runs of each class in `hay` at least as long as `min` asks; `None` where the processor lacks the
/// instructions that make this cheap (then the passes look everywhere).
pub(super) fn long_runs(hay: &[u8], min: MinRuns) -> Option<LongRuns> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("bmi1")
            && std::arch::is_x86_feature_detected!("lzcnt")
        {
            // SAFETY: the processor has AVX2, BMI1 and LZCNT, checked just above.
            return Some(unsafe { avx2::long_runs(hay, min) });
        }
    }
    let _ = (hay, min);
    None
}

/// Whether a run of `min_len` set bits (`min_len` in 1..=64) lies in `mask`.
#[inline(always)]
fn has_run(mask: u64, min_len: usize) -> bool {
    if min_len >= 32 {
        // A run of 32 bits or more in 64 holds bit 31 or bit 32: the run through the middle is the longest.
        let up = (mask >> 32).trailing_ones() as usize;
        let down = (mask << 32).leading_ones() as usize;
        return up + down >= min_len;
    }
    let mut bits = mask;
    let mut covered = 1;
    // After each step, bit i is set when bits i..i+2*covered were all set.
    while covered * 2 <= min_len {
        bits &= bits >> covered;
        covered *= 2;
    }
    if covered < min_len {
        bits &= bits >> (min_len - covered);
    }
    bits != 0
}

/// The runs of one class of bytes, read off the masks of consecutive 64-byte blocks. With `MARKED`, only the
/// runs that hold a marked byte are kept (the escaped class: a run of key bytes alone holds no escape).
struct Tracker<const MARKED: bool> {
    min_len: usize,
    /// Bytes of the class right before the current block, in the blocks before it.
    carried: usize,
    /// Whether a marked byte is among them (with `MARKED` only).
    carried_marked: bool,
    runs: Vec<(usize, usize)>,
}

/// The `n` lowest bits of `bits` (`n` in 0..=64).
#[inline(always)]
fn low_bits(bits: u64, n: usize) -> u64 {
    if n >= 64 { bits } else { bits & ((1u64 << n) - 1) }
}

/// The `n` highest bits of `bits`, shifted down (`n` in 0..=64).
#[inline(always)]
fn high_bits(bits: u64, n: usize) -> u64 {
    if n == 0 { 0 } else { bits >> (64 - n) }
}

impl<const MARKED: bool> Tracker<MARKED> {
    fn new(min_len: usize) -> Tracker<MARKED> {
        Tracker {
            min_len,
            carried: 0,
            carried_marked: false,
            runs: Vec::new(),
        }
    }

    /// A block in which no run of the length asked ends and that is not all of the class: only the run that
    /// reaches its end is carried. `marks`: the block's marked bytes (with `MARKED`).
    #[inline(always)]
    fn pass_over(&mut self, mask: u64, marks: u64) {
        self.carried = mask.leading_ones() as usize;
        if MARKED {
            self.carried_marked = high_bits(marks, self.carried) != 0;
        }
    }

    /// The block at `at`: every run of the length asked that ends in it is recorded.
    #[inline(always)]
    fn read_off(&mut self, at: usize, mask: u64, marks: u64) {
        if mask == u64::MAX {
            self.carried += 64;
            if MARKED {
                self.carried_marked |= marks != 0;
            }
            return;
        }
        let mut pos = mask.trailing_ones() as usize;
        let marked = self.carried_marked || low_bits(marks, pos) != 0;
        self.record(at - self.carried, at + pos, marked);
        // The runs between the first and the last (that one is carried on) are read only when one of them
        // is long enough: in most blocks read for another class's run, none of this class's is.
        let last = mask.leading_ones();
        let inner = mask & !((1u64 << pos) - 1) & (u64::MAX >> last);
        if self.min_len > 62 || !has_run(inner, self.min_len) {
            self.carry(last as usize, marks);
            return;
        }
        loop {
            pos += (mask >> pos).trailing_zeros() as usize;
            if pos >= 64 {
                self.carry(0, marks);
                return;
            }
            let ones = (mask >> pos).trailing_ones() as usize;
            if pos + ones == 64 {
                self.carry(ones, marks);
                return;
            }
            self.record(at + pos, at + pos + ones, low_bits(marks >> pos, ones) != 0);
            pos += ones;
        }
    }

    /// The run of the last `len` bytes of a block, whose marked bytes are `marks`, goes on into the next.
    #[inline(always)]
    fn carry(&mut self, len: usize, marks: u64) {
        self.carried = len;
        if MARKED {
            self.carried_marked = high_bits(marks, len) != 0;
        }
    }

    /// The end of the text at `end`: the run that reaches it ends there.
    fn finish(mut self, end: usize) -> Vec<(usize, usize)> {
        self.record(end - self.carried, end, self.carried_marked);
        self.runs
    }

    #[inline(always)]
    fn record(&mut self, start: usize, end: usize, marked: bool) {
        if end - start >= self.min_len && (marked || !MARKED) {
            self.runs.push((start, end));
        }
    }
}

/// The masks of the last `tail.len()` (fewer than 64) bytes, byte by byte: what the tables must give.
#[cfg(test)]
fn tail_masks(tail: &[u8]) -> Masks {
    let of = |class: fn(u8) -> bool| {
        tail.iter()
            .enumerate()
            .fold(0, |mask, (i, &b)| mask | u64::from(class(b)) << i)
    };
    Masks {
        base64: of(is_base64_byte),
        key: of(is_key_byte),
        escaped: of(is_escaped_key_byte),
    }
}

/// One bit a byte of a block, for each class.
#[derive(Debug, Clone, Copy)]
struct Masks {
    base64: u64,
    key: u64,
    escaped: u64,
}

/// The three trackers, one a class. The escaped class keeps only its runs that hold a `%` or `\\` (an escaped
/// byte of it that is not a key byte): the others hold no escape.
struct Trackers {
    base64: Tracker<false>,
    key: Tracker<false>,
    escaped: Tracker<true>,
}

impl Trackers {
    #[inline(always)]
    fn pass_over(&mut self, masks: Masks) {
        self.base64.pass_over(masks.base64, 0);
        self.key.pass_over(masks.key, 0);
        self.escaped.pass_over(masks.escaped, masks.escaped & !masks.key);
    }

    #[inline(always)]
    fn read_off(&mut self, at: usize, masks: Masks) {
        self.base64.read_off(at, masks.base64, 0);
        self.key.read_off(at, masks.key, 0);
        self.escaped.read_off(at, masks.escaped, masks.escaped & !masks.key);
    }
}

/// The runs read off the block masks that `masks` gives (of `hay[at..at + 64]`, then of the last bytes).
/// Inlined, so that the loop is compiled with the instructions of its caller's masks.
#[inline(always)]
fn runs_with<M: BlockMasks>(hay: &[u8], min: MinRuns, masks: M) -> LongRuns {
    let mut trackers = Trackers {
        base64: Tracker::new(min.base64),
        key: Tracker::new(min.key),
        escaped: Tracker::new(min.escaped),
    };
    // Every class is within "any": a block where no run of "any" as long as the shortest asked ends has no
    // run of a class end in it, and is not all of a class (a block that is, is one where a run may end).
    // Only such blocks need the masks of each class.
    let gate = min.base64.min(min.key).min(min.escaped).min(64);
    // The "any" run reaching the end of the block before, and whether the trackers read that block (else
    // their runs carried into this block are its leading bits, since it was not all of a class).
    let mut carried = 0usize;
    let mut read_before = true;
    let mut at = 0;
    while at + 64 <= hay.len() {
        let any = masks.any(at);
        let read = carried + any.trailing_ones() as usize >= gate || has_run(any, gate);
        if read {
            if !read_before {
                trackers.pass_over(masks.all(at - 64));
            }
            trackers.read_off(at, masks.all(at));
        }
        carried = if any == u64::MAX {
            carried + 64
        } else {
            any.leading_ones() as usize
        };
        read_before = read;
        at += 64;
    }
    if !read_before {
        trackers.pass_over(masks.all(at - 64));
    }
    if at < hay.len() {
        trackers.read_off(at, masks.tail(at));
    }
    LongRuns {
        base64: trackers.base64.finish(hay.len()),
        key: trackers.key.finish(hay.len()),
        escaped: trackers.escaped.finish(hay.len()),
    }
}

/// The masks of a 64-byte block at `at`: one bit a byte.
trait BlockMasks {
    /// Its bytes of any class: base64 or escaped key bytes (key bytes are both).
    fn any(&self, at: usize) -> u64;
    /// Its bytes of each class.
    fn all(&self, at: usize) -> Masks;
    /// The bytes of each class of the last bytes, from `at` (fewer than 64).
    fn tail(&self, at: usize) -> Masks;
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    /// Bits that the low and the high half of a byte each allow: a byte is of a class when the two share one
    /// of its bits. Bit 0: `+ /` (high half 2); bit 1: digits (3); bit 2: `A-O` and `a-o` (4, 6); bit 3:
    /// `P-Z` and `p-z` (5, 7); bit 4: `_` (5); bit 5: `-` (2); bit 6: `%` (2); bit 7: `\\` (5).
    const LOW: [u8; 16] = {
        let mut table = [0u8; 16];
        table[0] = 2 | 8;
        let mut low = 1;
        while low <= 9 {
            table[low] = 2 | 4 | 8;
            low += 1;
        }
        table[5] |= 64;
        table[0xA] = 4 | 8;
        table[0xB] = 4 | 1;
        table[0xC] = 4 | 128;
        table[0xD] = 4 | 32;
        table[0xE] = 4;
        table[0xF] = 4 | 1 | 16;
        table
    };
    const HIGH: [u8; 16] = {
        let mut table = [0u8; 16];
        table[2] = 1 | 32 | 64;
        table[3] = 2;
        table[4] = 4;
        table[5] = 8 | 16 | 128;
        table[6] = 4;
        table[7] = 8;
        table
    };
    /// The bits of base64 bytes.
    const BASE64_BITS: u8 = 1 | 2 | 4 | 8 | 16 | 32;
    /// The bits of key bytes: those of base64 but `+ /`.
    const KEY_BITS: u8 = 2 | 4 | 8 | 16 | 32;
    /// The bits of escaped key bytes: key bytes, `%` and `\\`.
    const ESCAPED_BITS: u8 = KEY_BITS | 64 | 128;

    /// The classes of the 32 bytes at `bytes`: the bits of [`LOW`] and [`HIGH`] that each byte has.
    #[target_feature(enable = "avx2,bmi1,lzcnt")]
    #[inline]
    fn classes(bytes: &[u8], low: __m256i, high: __m256i) -> __m256i {
        let bytes = &bytes[..32];
        // SAFETY: `bytes` holds 32 bytes, and the load takes no alignment.
        let v = unsafe { _mm256_loadu_si256(bytes.as_ptr().cast::<__m256i>()) };
        let nibble = _mm256_set1_epi8(0x0f);
        // `pshufb` looks up by a byte's low half, or gives 0 where its top bit is set: no byte from 0x80 up is
        // of any class, so the low half needs no masking.
        let lows = _mm256_shuffle_epi8(low, v);
        let highs = _mm256_shuffle_epi8(high, _mm256_and_si256(_mm256_srli_epi16::<4>(v), nibble));
        _mm256_and_si256(lows, highs)
    }

    /// One bit for each byte of `classes` that has one of the bits of `of`.
    #[target_feature(enable = "avx2,bmi1,lzcnt")]
    #[inline]
    fn mask(classes: __m256i, of: u8) -> u64 {
        let none = _mm256_cmpeq_epi8(
            _mm256_and_si256(classes, _mm256_set1_epi8(of as i8)),
            _mm256_setzero_si256(),
        );
        u64::from(!(_mm256_movemask_epi8(none) as u32))
    }

    /// The masks of a text's blocks, with the two tables loaded.
    struct TableMasks<'a> {
        hay: &'a [u8],
        low: __m256i,
        high: __m256i,
    }

    impl TableMasks<'_> {
        /// The classes of the two halves of the block at `at`.
        #[target_feature(enable = "avx2,bmi1,lzcnt")]
        #[inline]
        fn classes_of(&self, at: usize) -> (__m256i, __m256i) {
            self.classes_of_block(&self.hay[at..at + 64])
        }

        /// The classes of the two halves of a block of 64 bytes.
        #[target_feature(enable = "avx2,bmi1,lzcnt")]
        #[inline]
        fn classes_of_block(&self, block: &[u8]) -> (__m256i, __m256i) {
            (
                classes(&block[..32], self.low, self.high),
                classes(&block[32..], self.low, self.high),
            )
        }

        #[target_feature(enable = "avx2,bmi1,lzcnt")]
        #[inline]
        fn of((low, high): (__m256i, __m256i), bits: u8) -> u64 {
            mask(low, bits) | mask(high, bits) << 32
        }

        /// The masks of each class from the classes of a block's two halves.
        #[target_feature(enable = "avx2,bmi1,lzcnt")]
        #[inline]
        fn masks_of(classes: (__m256i, __m256i)) -> super::Masks {
            super::Masks {
                base64: Self::of(classes, BASE64_BITS),
                key: Self::of(classes, KEY_BITS),
                escaped: Self::of(classes, ESCAPED_BITS),
            }
        }
    }

    impl super::BlockMasks for TableMasks<'_> {
        #[inline(always)]
        fn any(&self, at: usize) -> u64 {
            // SAFETY: a `TableMasks` is only made on a processor with these features (see `long_runs`).
            unsafe { Self::of(self.classes_of(at), u8::MAX) }
        }

        #[inline(always)]
        fn all(&self, at: usize) -> super::Masks {
            // SAFETY: as above.
            unsafe { Self::masks_of(self.classes_of(at)) }
        }

        #[inline(always)]
        fn tail(&self, at: usize) -> super::Masks {
            // The last bytes in a block of NULs, which are of no class: one look-up instead of one a byte.
            let mut block = [0u8; 64];
            let tail = &self.hay[at..];
            block[..tail.len()].copy_from_slice(tail);
            // SAFETY: as above; `block` holds 64 bytes.
            unsafe { Self::masks_of(self.classes_of_block(&block)) }
        }
    }

    /// [`super::long_runs`] on a processor with AVX2 (and the bit counts of BMI1 and LZCNT).
    #[target_feature(enable = "avx2,bmi1,lzcnt")]
    pub(super) fn long_runs(hay: &[u8], min: super::MinRuns) -> super::LongRuns {
        // SAFETY: both tables hold 16 bytes, and the loads take no alignment.
        let (low, high) = unsafe {
            (
                _mm256_broadcastsi128_si256(_mm_loadu_si128(LOW.as_ptr().cast())),
                _mm256_broadcastsi128_si256(_mm_loadu_si128(HIGH.as_ptr().cast())),
            )
        };
        super::runs_with(hay, min, TableMasks { hay, low, high })
    }

    #[cfg(test)]
    #[test]
    fn the_tables_agree_with_the_classes() {
        for b in 0..=255u8 {
            let shared = LOW[usize::from(b & 0x0f)] & HIGH[usize::from(b >> 4)];
            let escaped = super::is_escaped_key_byte(b);
            assert_eq!(shared != 0, super::is_base64_byte(b) || escaped, "byte {b:#04x}");
            assert_eq!(
                shared & BASE64_BITS != 0,
                super::is_base64_byte(b),
                "base64 byte {b:#04x}"
            );
            assert_eq!(shared & KEY_BITS != 0, super::is_key_byte(b), "key byte {b:#04x}");
            assert_eq!(shared & ESCAPED_BITS != 0, escaped, "escaped key byte {b:#04x}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{LongRuns, MinRuns, has_run, is_base64_byte, is_escaped_key_byte, long_runs, runs_with, tail_masks};
    use crate::rules::is_key_byte;
    use proptest::prelude::*;

    #[test]
    fn a_run_of_set_bits_is_seen_at_every_length_and_place() {
        for len in 1..=64usize {
            for shift in 0..=(64 - len) {
                let run = if len == 64 {
                    u64::MAX
                } else {
                    ((1u64 << len) - 1) << shift
                };
                assert!(has_run(run, len), "{len} bits at {shift}");
                if len > 1 {
                    assert!(!has_run(run, len + 1), "{len} bits at {shift} are not {}", len + 1);
                }
            }
        }
        assert!(!has_run(0x5555_5555_5555_5555, 2));
    }

    /// Block masks made byte by byte.
    struct ByBytes<'a>(&'a [u8]);

    impl super::BlockMasks for ByBytes<'_> {
        fn any(&self, at: usize) -> u64 {
            let masks = tail_masks(&self.0[at..at + 64]);
            masks.base64 | masks.escaped
        }
        fn all(&self, at: usize) -> super::Masks {
            tail_masks(&self.0[at..at + 64])
        }
        fn tail(&self, at: usize) -> super::Masks {
            tail_masks(&self.0[at..])
        }
    }

    /// The maximal runs of bytes of a class, byte by byte.
    fn runs_by_bytes(hay: &[u8], min_len: usize, class: fn(u8) -> bool) -> Vec<(usize, usize)> {
        let mut runs = Vec::new();
        let mut start = 0;
        for at in 0..=hay.len() {
            if at == hay.len() || !class(hay[at]) {
                if at - start >= min_len {
                    runs.push((start, at));
                }
                start = at + 1;
            }
        }
        runs
    }

    /// The last bytes after the whole blocks (a tail of 1 to 63 bytes, read from a copy padded with NULs):
    /// runs that reach the end, that stop just before it, and NULs and high bytes in the text itself.
    #[test]
    fn runs_that_end_in_the_last_bytes_are_found() {
        let min = MinRuns {
            base64: 40,
            key: 37,
            escaped: 32,
        };
        for len in 1..=200usize {
            for end in [&b""[..], b" ", b"\0", b"\xff"] {
                for run in [&b"aZ09-_"[..], b"aZ09+/", b"aZ%5F\\"] {
                    let mut hay = b"x = ".to_vec();
                    hay.extend(run.iter().cycle().take(len));
                    hay.extend_from_slice(end);
                    if let Some(runs) = long_runs(&hay, min) {
                        assert_eq!(runs, expected(&hay, min), "a run of {len} before {end:?}");
                    }
                    assert_eq!(runs_with(&hay, min, ByBytes(&hay)), expected(&hay, min));
                }
            }
        }
    }

    /// An escaped run is kept wherever its one escape byte is: in the block where the run starts (passed over
    /// until the run ends in a later one), in a block it fills, in the block where it ends, in the last bytes.
    #[test]
    fn an_escaped_run_is_kept_wherever_its_escape_is() {
        let min = MinRuns {
            base64: usize::MAX,
            key: 32,
            escaped: 32,
        };
        for start in (0..70).step_by(3) {
            for len in [32usize, 33, 63, 64, 65, 100, 140] {
                for mark in 0..=len {
                    let mut hay = vec![b' '; start];
                    hay.extend((0..len).map(|i| if i == mark { b'%' } else { b'a' }));
                    hay.extend_from_slice(b" tail");
                    if let Some(runs) = long_runs(&hay, min) {
                        assert_eq!(runs, expected(&hay, min), "{len} bytes at {start}, escape at {mark}");
                    }
                    assert_eq!(runs_with(&hay, min, ByBytes(&hay)), expected(&hay, min));
                }
            }
        }
    }

    /// Text of words, punctuation and any bytes, with runs of every class of every length, across block
    /// boundaries.
    fn text() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            proptest::collection::vec(prop::sample::select(b"aZ09-_".to_vec()), 0..140),
            proptest::collection::vec(prop::sample::select(b"aZ09+/-_".to_vec()), 0..140),
            proptest::collection::vec(prop::sample::select(b"aZ09-_%\\".to_vec()), 0..140),
            proptest::collection::vec(prop::sample::select(b" \n.=:\"'{}\xc3\xa9".to_vec()), 1..4),
            proptest::collection::vec(any::<u8>(), 1..6),
        ];
        proptest::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
    }

    fn expected(hay: &[u8], min: MinRuns) -> LongRuns {
        LongRuns {
            base64: runs_by_bytes(hay, min.base64, is_base64_byte),
            key: runs_by_bytes(hay, min.key, is_key_byte),
            // Only those that hold an escape's first byte.
            escaped: runs_by_bytes(hay, min.escaped, is_escaped_key_byte)
                .into_iter()
                .filter(|&(start, end)| hay[start..end].iter().any(|&b| b == b'%' || b == b'\\'))
                .collect(),
        }
    }

    /// A shortest run of 1..=64 bytes, or none wanted.
    fn min_run() -> impl Strategy<Value = usize> {
        prop_oneof![4 => 1usize..=64, 1 => Just(usize::MAX)]
    }

    proptest! {
        #[test]
        fn the_block_masks_find_the_runs_byte_by_byte_finds(
            hay in text(),
            base64 in min_run(),
            key in min_run(),
            escaped in min_run(),
        ) {
            let min = MinRuns { base64, key, escaped };
            if let Some(runs) = long_runs(&hay, min) {
                prop_assert_eq!(runs, expected(&hay, min));
            }
            // The same reading of masks, with masks made byte by byte: on any processor.
            let by_bytes = runs_with(&hay, min, ByBytes(&hay));
            prop_assert_eq!(by_bytes, expected(&hay, min));
        }
    }
}
