//! Long runs of base64 bytes and of key bytes: the only places where an encoded key, or the key of a context
//! rule, can be.
//!
//! A base64-encoded key is a run of base64 bytes at least four thirds of the shortest key long, and a context
//! rule's key (Mistral's 32 letters and digits, DeepSeek's `sk-` + 32 hex) is a run of key bytes. Text holds
//! few such runs (2 to 4 % of the 64-byte blocks of source code hold one), so the passes that look only for
//! them, the base64 hints and the context words, need to look only around them (see [`super::Scanner`]).
//! Finding the runs is one classification of every byte, several times cheaper than a pass of the
//! Aho-Corasick searcher: two table look-ups per 32 bytes (`pshufb` on the high and the low half of each
//! byte) give a mask of each 64-byte block; a few shifts of the mask tell whether a run long enough ends in the
//! block, and only then are the runs read off the mask.

// Without AVX2 code (other processors), the runs are never looked for; the portable parts serve the tests.
#![cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]

use crate::decoder::is_base64_byte;
use crate::rules::is_key_byte;

/// The maximal runs, `(start, end)` in order, of at least the lengths asked.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct LongRuns {
    /// Runs of base64 bytes.
    pub base64: Vec<(usize, usize)>,
    /// Runs of key bytes (letters, digits, `-`, `_`).
    pub key: Vec<(usize, usize)>,
}

/// The runs of base64 bytes at least `base64_min` long and of key bytes at least `key_min` long in `hay`
/// (`usize::MAX`: none wanted); `None` where the processor lacks the instructions that make this cheap (then
/// the passes look everywhere).
pub(super) fn long_runs(hay: &[u8], base64_min: usize, key_min: usize) -> Option<LongRuns> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("bmi1")
            && std::arch::is_x86_feature_detected!("lzcnt")
        {
            // SAFETY: the processor has AVX2, BMI1 and LZCNT, checked just above.
            return Some(unsafe { avx2::long_runs(hay, base64_min, key_min) });
        }
    }
    let _ = (hay, base64_min, key_min);
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

/// The runs of one class of bytes, read off the masks of consecutive 64-byte blocks.
struct Tracker {
    min_len: usize,
    /// Bytes of the class right before the current block, in the blocks before it.
    carried: usize,
    runs: Vec<(usize, usize)>,
}

impl Tracker {
    fn new(min_len: usize) -> Tracker {
        Tracker {
            min_len,
            carried: 0,
            runs: Vec::new(),
        }
    }

    /// A block in which no run of the length asked ends and that is not all of the class: only the run that
    /// reaches its end is carried.
    #[inline(always)]
    fn pass_over(&mut self, mask: u64) {
        self.carried = mask.leading_ones() as usize;
    }

    /// The block at `at`: every run of the length asked that ends in it is recorded.
    #[inline(always)]
    fn read_off(&mut self, at: usize, mask: u64) {
        if mask == u64::MAX {
            self.carried += 64;
            return;
        }
        let mut pos = mask.trailing_ones() as usize;
        self.record(at - self.carried, at + pos);
        loop {
            pos += (mask >> pos).trailing_zeros() as usize;
            if pos >= 64 {
                self.carried = 0;
                return;
            }
            let ones = (mask >> pos).trailing_ones() as usize;
            if pos + ones == 64 {
                self.carried = ones;
                return;
            }
            self.record(at + pos, at + pos + ones);
            pos += ones;
        }
    }

    /// The end of the text at `end`: the run that reaches it ends there.
    fn finish(mut self, end: usize) -> Vec<(usize, usize)> {
        self.record(end - self.carried, end);
        self.runs
    }

    fn record(&mut self, start: usize, end: usize) {
        if end - start >= self.min_len {
            self.runs.push((start, end));
        }
    }
}

/// The masks (base64 bytes, key bytes) of the last `tail.len()` (fewer than 64) bytes, byte by byte.
fn tail_masks(tail: &[u8]) -> (u64, u64) {
    tail.iter().enumerate().fold((0, 0), |(base64, key), (i, &b)| {
        (
            base64 | u64::from(is_base64_byte(b)) << i,
            key | u64::from(is_key_byte(b)) << i,
        )
    })
}

/// The runs read off the block masks that `masks` gives (base64 bytes, key bytes, of `hay[at..at + 64]`), the
/// rest byte by byte. Inlined, so that the loop is compiled with the instructions of its caller's masks.
#[inline(always)]
fn runs_with<M: BlockMasks>(hay: &[u8], base64_min: usize, key_min: usize, masks: M) -> LongRuns {
    let mut base64 = Tracker::new(base64_min);
    let mut key = Tracker::new(key_min);
    // Key bytes are base64 bytes: a block where no base64 run as long as the shorter of the two ends has
    // neither kind of run end in it, and is not all base64 (a block that is, is one where a run may end).
    // Only such blocks need their key bytes.
    let gate = base64_min.min(key_min).min(64);
    // The base64 mask of the block before, and whether the trackers read it (else their runs carried into
    // this block are its leading bits, since it was not all of a class).
    let mut before = 0u64;
    let mut read_before = true;
    let mut at = 0;
    while at + 64 <= hay.len() {
        let base64_mask = masks.base64(at);
        let carried = if read_before {
            base64.carried
        } else {
            before.leading_ones() as usize
        };
        let read = carried + base64_mask.trailing_ones() as usize >= gate || has_run(base64_mask, gate);
        if read {
            if !read_before {
                base64.pass_over(before);
                key.pass_over(masks.key(at - 64));
            }
            base64.read_off(at, base64_mask);
            key.read_off(at, masks.key(at));
        }
        (before, read_before) = (base64_mask, read);
        at += 64;
    }
    if !read_before {
        base64.pass_over(before);
        key.pass_over(masks.key(at - 64));
    }
    if at < hay.len() {
        let (base64_mask, key_mask) = tail_masks(&hay[at..]);
        base64.read_off(at, base64_mask);
        key.read_off(at, key_mask);
    }
    LongRuns {
        base64: base64.finish(hay.len()),
        key: key.finish(hay.len()),
    }
}

/// The masks of a 64-byte block at `at`: one bit a byte.
trait BlockMasks {
    /// Its base64 bytes.
    fn base64(&self, at: usize) -> u64;
    /// Its key bytes.
    fn key(&self, at: usize) -> u64;
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    /// Bits that the low and the high half of a byte each allow: a byte is of a class when the two share one
    /// of its bits. Bit 0: `+ /` (high half 2); bit 1: digits (3); bit 2: `A-O` and `a-o` (4, 6); bit 3:
    /// `P-Z` and `p-z` (5, 7); bit 4: `_` (5); bit 5: `-` (2).
    const LOW: [u8; 16] = {
        let mut table = [0u8; 16];
        table[0] = 2 | 8;
        let mut low = 1;
        while low <= 9 {
            table[low] = 2 | 4 | 8;
            low += 1;
        }
        table[0xA] = 4 | 8;
        table[0xB] = 4 | 1;
        table[0xC] = 4;
        table[0xD] = 4 | 32;
        table[0xE] = 4;
        table[0xF] = 4 | 1 | 16;
        table
    };
    const HIGH: [u8; 16] = {
        let mut table = [0u8; 16];
        table[2] = 1 | 32;
        table[3] = 2;
        table[4] = 4;
        table[5] = 8 | 16;
        table[6] = 4;
        table[7] = 8;
        table
    };
    /// The bits of base64 bytes: all.
    const BASE64_BITS: i8 = 1 | 2 | 4 | 8 | 16 | 32;
    /// The bits of key bytes: all but `+ /`.
    const KEY_BITS: i8 = 2 | 4 | 8 | 16 | 32;

    /// The classes of the 32 bytes at `bytes`: the bits of [`LOW`] and [`HIGH`] that each byte has.
    #[target_feature(enable = "avx2,bmi1,lzcnt")]
    #[inline]
    fn classes(bytes: &[u8], low: __m256i, high: __m256i) -> __m256i {
        let bytes = &bytes[..32];
        // SAFETY: `bytes` holds 32 bytes, and the load takes no alignment.
        let v = unsafe { _mm256_loadu_si256(bytes.as_ptr().cast::<__m256i>()) };
        let nibble = _mm256_set1_epi8(0x0f);
        let lows = _mm256_shuffle_epi8(low, _mm256_and_si256(v, nibble));
        let highs = _mm256_shuffle_epi8(high, _mm256_and_si256(_mm256_srli_epi16::<4>(v), nibble));
        _mm256_and_si256(lows, highs)
    }

    /// One bit for each byte of `classes` that has one of the bits of `of`.
    #[target_feature(enable = "avx2,bmi1,lzcnt")]
    #[inline]
    fn mask(classes: __m256i, of: i8) -> u64 {
        let none = _mm256_cmpeq_epi8(_mm256_and_si256(classes, _mm256_set1_epi8(of)), _mm256_setzero_si256());
        u64::from(!(_mm256_movemask_epi8(none) as u32))
    }

    /// The masks of a text's blocks, with the two tables loaded.
    struct Masks<'a> {
        hay: &'a [u8],
        low: __m256i,
        high: __m256i,
    }

    impl Masks<'_> {
        #[target_feature(enable = "avx2,bmi1,lzcnt")]
        #[inline]
        fn of(&self, at: usize, bits: i8) -> u64 {
            let block = &self.hay[at..at + 64];
            mask(classes(&block[..32], self.low, self.high), bits)
                | mask(classes(&block[32..], self.low, self.high), bits) << 32
        }
    }

    impl super::BlockMasks for Masks<'_> {
        #[inline(always)]
        fn base64(&self, at: usize) -> u64 {
            // SAFETY: a `Masks` is only made on a processor with these features (see `long_runs`).
            unsafe { self.of(at, BASE64_BITS) }
        }

        #[inline(always)]
        fn key(&self, at: usize) -> u64 {
            // SAFETY: as above.
            unsafe { self.of(at, KEY_BITS) }
        }
    }

    /// [`super::long_runs`] on a processor with AVX2 (and the bit counts of BMI1 and LZCNT).
    #[target_feature(enable = "avx2,bmi1,lzcnt")]
    pub(super) fn long_runs(hay: &[u8], base64_min: usize, key_min: usize) -> super::LongRuns {
        // SAFETY: both tables hold 16 bytes, and the loads take no alignment.
        let (low, high) = unsafe {
            (
                _mm256_broadcastsi128_si256(_mm_loadu_si128(LOW.as_ptr().cast())),
                _mm256_broadcastsi128_si256(_mm_loadu_si128(HIGH.as_ptr().cast())),
            )
        };
        super::runs_with(hay, base64_min, key_min, Masks { hay, low, high })
    }

    #[cfg(test)]
    #[test]
    fn the_tables_agree_with_the_classes() {
        for b in 0..=255u8 {
            let shared = LOW[usize::from(b & 0x0f)] & HIGH[usize::from(b >> 4)];
            assert_eq!(shared != 0, super::is_base64_byte(b), "base64 byte {b:#04x}");
            assert_eq!(shared & KEY_BITS as u8 != 0, super::is_key_byte(b), "key byte {b:#04x}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{LongRuns, has_run, is_base64_byte, long_runs, runs_with, tail_masks};
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
        fn base64(&self, at: usize) -> u64 {
            tail_masks(&self.0[at..at + 64]).0
        }
        fn key(&self, at: usize) -> u64 {
            tail_masks(&self.0[at..at + 64]).1
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

    /// Text of words and punctuation with runs of both classes of every length, across block boundaries.
    fn text() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            proptest::collection::vec(prop::sample::select(b"aZ09-_".to_vec()), 0..140),
            proptest::collection::vec(prop::sample::select(b"aZ09+/-_".to_vec()), 0..140),
            proptest::collection::vec(prop::sample::select(b" \n.=:\"'{}\xc3\xa9".to_vec()), 1..4),
        ];
        proptest::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
    }

    fn expected(hay: &[u8], base64_min: usize, key_min: usize) -> LongRuns {
        LongRuns {
            base64: runs_by_bytes(hay, base64_min, is_base64_byte),
            key: runs_by_bytes(hay, key_min, is_key_byte),
        }
    }

    proptest! {
        #[test]
        fn the_block_masks_find_the_runs_byte_by_byte_finds(
            hay in text(),
            base64_min in 1usize..=64,
            key_min in 1usize..=64,
        ) {
            if let Some(runs) = long_runs(&hay, base64_min, key_min) {
                prop_assert_eq!(runs, expected(&hay, base64_min, key_min));
            }
            // The same reading of masks, with masks made byte by byte: on any processor.
            let by_bytes = runs_with(&hay, base64_min, key_min, ByBytes(&hay));
            prop_assert_eq!(by_bytes, expected(&hay, base64_min, key_min));
        }
    }
}
