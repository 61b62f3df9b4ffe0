//! The matching engine: a shared, immutable [`Scanner`] that finds rule matches in a byte buffer.
//!
//! One Aho-Corasick pass finds every rule keyword; each rule's regex then runs only in windows around its
//! keyword hits (a window spans the longest text the regex can match on either side of the hit). Candidates go
//! through boundary, entropy and placeholder checks done in code, since the regex crate has no look-around.
//! Where the rules allow it, the passes look only around long runs of key or base64 bytes (see [`runs`]).

mod entropy;
pub mod examples;
mod key_finder;
pub mod location;
mod placeholder;
mod runs;

use std::ops::Range;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use crate::decoder::{Decoder, MIN_WRAPPED_LINE, after_line_break};
use crate::rules::{KeywordRun, Rule, RuleSet, is_key_byte};
pub use entropy::shannon_entropy;
pub use key_finder::builtin_key_finder;
pub use placeholder::PlaceholderFilter;

/// A rule match in a buffer: the byte span of the secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleMatch {
    /// Index of the rule in the scanner's [`RuleSet`].
    pub rule: usize,
    pub start: usize,
    pub end: usize,
}

/// Which of the checks done in code apply to regex matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Checks {
    /// Boundaries, entropy and placeholders: what a finding must pass.
    All,
    /// None: every text of a key's shape.
    None,
}

/// Builds a scanner from rules; holds no per-scan state, so one value serves every worker thread.
#[derive(Debug)]
pub struct Scanner {
    rules: RuleSet,
    /// The keywords of keys (every keyword but the context words).
    prefilter: AhoCorasick,
    /// What each prefilter pattern stands for.
    patterns: Vec<Pattern>,
    keywords: Vec<String>,
    /// For each keyword, the rules that list it.
    keyword_rules: Vec<Vec<usize>>,
    placeholders: PlaceholderFilter,
    /// The context words that anchor their rules where a file's path holds them (in any case), and the rule
    /// each stands for; `None` when no rule is anchored by a path.
    path_words: Option<(AhoCorasick, Vec<usize>)>,
    /// The passes after the keyword pass: the context words, then the base64 hints.
    more_passes: Vec<(AhoCorasick, Vec<Pattern>)>,
    /// Which passes need to look only around long runs (see [`runs`]).
    run_passes: RunPasses,
}

/// The passes whose finds matter only around long runs of key or base64 bytes, with how long a run must be.
/// Passes are numbered as [`Scanner::scan`] runs them: the keyword pass (0), then the later passes. The escapes
/// ([`ESCAPE_HINTS`]) are looked for apart.
#[derive(Debug, Default)]
struct RunPasses {
    /// The escapes, when some rule has a shortest match: an escaped key is a run of key bytes, `%` and `\\`
    /// at least as long as the shortest key (an escape is longer than the byte it stands for) that holds a `%`
    /// or `\\` (its escapes), and every escape is all such bytes.
    escapes: Option<usize>,
    /// The keyword pass, when each rule its keywords wake holds one of them in every match, in or at most
    /// `slack` bytes before a run of key bytes at least `run` long (see [`KeywordRun`]):
    /// the shortest such run and the longest slack. This holds for what a finding must pass; text of a key's
    /// shape anywhere ([`Scanner::find_key_shaped`]) is looked for everywhere.
    keywords: Option<KeywordRun>,
    /// The pass of base64 hints alone, and the shortest run (standard or URL-safe alphabet) that can encode a
    /// key: four thirds of the shortest match of any rule, and at most the shortest line that a wrapped
    /// encoding continues past (a hint on the short last line of a wrapped encoding is found from the full
    /// line before it).
    base64: Option<(usize, usize)>,
    /// The pass of context words alone, when every context rule's match is a run of key bytes.
    context: Option<ContextPass>,
}

/// Where the pass of context words looks: around the runs of key bytes that can be a context rule's key.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ContextPass {
    /// The pass's number.
    pass: usize,
    /// The shortest run that can be a context rule's key.
    run: usize,
    /// How far from a run a context word can stand and its window still reach it: the longest context
    /// distance and the longest context word.
    reach: usize,
    /// For each length of run up to the longest a bounded context rule's key can be (and two), whether a
    /// context key can be a run that long; `longer`: whether a longer one can. A match that passes every check
    /// is a whole run of key bytes (none may touch it), or that run less the two hex digits of a `%XX` escape
    /// just before it: only runs of those lengths need the pass. A table, as every long run is looked up.
    run_lengths: Vec<bool>,
    longer: bool,
}

/// The longest run length [`ContextPass::run_lengths`] holds; a rule whose key can be longer counts as one
/// whose key can be any length from its shortest.
const MAX_CONTEXT_RUN_TABLE: usize = 4096;

impl ContextPass {
    /// The lengths of runs that the context rules' keys can be, from the `(shortest, longest)` of their
    /// matches (`None`: no longest).
    fn run_lengths(matches: &[(usize, Option<usize>)]) -> (Vec<bool>, bool) {
        let bounded = |longest: Option<usize>| longest.filter(|&longest| longest < MAX_CONTEXT_RUN_TABLE);
        let table_len = (matches.iter())
            .map(|&(shortest, longest)| bounded(longest).unwrap_or(shortest.min(MAX_CONTEXT_RUN_TABLE)) + 3)
            .max()
            .unwrap_or(0);
        let mut run_lengths = vec![false; table_len];
        let mut longer = false;
        for &(shortest, longest) in matches {
            let longest = bounded(longest).unwrap_or_else(|| {
                longer = true;
                table_len
            });
            // The key alone, and the key after the two hex digits of an escape.
            for extra in [0, 2] {
                let lengths = (shortest + extra)..=(longest + extra).min(table_len - 1);
                for slot in run_lengths.get_mut(lengths).into_iter().flatten() {
                    *slot = true;
                }
            }
        }
        (run_lengths, longer)
    }

    /// Whether a run of key bytes `len` long can be a context rule's key that passes every check.
    fn can_be_key(&self, len: usize) -> bool {
        self.run_lengths.get(len).copied().unwrap_or(self.longer)
    }
}

/// Six base64 characters that a keyword alone decides, at each of the three alignments it can have in an
/// encoded stream (standard and URL-safe alphabets); a short keyword (`hf_`, `gsk_`, `AIza`) decides fewer, and
/// its part is all of them, down to four (one chance in 16 million at a position of random base64). A keyword
/// that decides fewer than four characters at an alignment has no part there: shorter parts occur by chance too
/// often to be a signal.
fn base64_keyword_parts(keyword: &[u8]) -> Vec<String> {
    use base64::Engine as _;
    let mut parts = Vec::new();
    for shift in 0..3usize {
        let mut bytes = vec![0u8; shift];
        bytes.extend_from_slice(keyword);
        let encoded = base64::engine::general_purpose::STANDARD_NO_PAD.encode(&bytes);
        // Character i carries bits 6i..6i+6 of the stream; the keyword's bits are 8*shift..8*(shift+len).
        let (first_bit, end_bit) = (8 * shift, 8 * (shift + keyword.len()));
        let stable: Vec<char> = encoded
            .char_indices()
            .filter(|(i, _)| 6 * i >= first_bit && 6 * i + 6 <= end_bit)
            .map(|(_, c)| c)
            .collect();
        // Of the six-character windows, the one whose first three characters are the rarest in text (upper case
        // and digits): the SIMD searcher screens positions by a pattern's first bytes.
        let rarity = |w: &[char]| {
            w[..3]
                .iter()
                .filter(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
                .count()
        };
        if stable.len() < 4 {
            continue;
        }
        let best = stable.windows(stable.len().min(6)).max_by_key(|w| rarity(w));
        let stable: String = best.map(|w| w.iter().collect()).unwrap_or_default();
        parts.push(stable.replace('+', "-").replace('/', "_"));
        parts.push(stable);
    }
    parts.sort();
    parts.dedup();
    parts
}

/// Signs of a key's separator (`-` or `_`) percent-encoded or escaped, which break its keyword in the clear
/// (in the canonical spellings: RFC 3986 upper-case percent escapes, JSON's lower-case `\u` escapes, and
/// JavaScript's and Python's hex escape of a dash, `sk\x2dproj\x2d…`). Each starts with `%` or `\`: they are
/// found by a search for those two bytes ([`escape_hints`]), not by a keyword pass.
const ESCAPE_HINTS: &[(&str, Decoder)] = &[
    ("%2D", Decoder::Percent),
    ("%5F", Decoder::Percent),
    ("\\u002d", Decoder::Escape),
    ("\\u005f", Decoder::Escape),
    ("\\x2d", Decoder::Escape),
];

/// Every place in `range` of `hay` where one of [`ESCAPE_HINTS`] starts.
fn escape_hints(hay: &[u8], range: Range<usize>, hints: &mut Vec<(Decoder, usize)>) {
    let start = range.start;
    for at in memchr::memchr2_iter(b'%', b'\\', &hay[range]) {
        let at = start + at;
        if let Some((_, decoder)) = ESCAPE_HINTS
            .iter()
            .find(|(hint, _)| hay[at..].starts_with(hint.as_bytes()))
        {
            hints.push((*decoder, at));
        }
    }
}

/// What a pattern of the prefilter stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pattern {
    /// A rule keyword (index into the keyword list).
    Keyword(usize),
    /// A sign of encoded text that may hold a key.
    Hint(Decoder),
}

/// The most patterns of the base64 hints' pass: what Aho-Corasick's SIMD searcher (Fat Teddy) still takes.
const BASE64_PASS_PATTERNS: usize = 64;

/// The words that a Docker registry config (`config.json`, a Kubernetes `dockerconfigjson` Secret) starts with:
/// its base64 form is the outer layer of a key encoded twice (`"auth": base64("user:key")`, all in base64).
const CONTAINER_WORDS: &[&str] = &["\"auths\""];

/// The hints of base64-encoded text in order of worth, as groups that are taken or left whole: the base64 parts
/// of each keyword of the most severe rules, and among those of the keywords that the most rule examples hold
/// (the OpenAI marker `T3BlbkFJ` first: every OpenAI key has it), longer keywords before shorter; then the
/// base64 parts of the container words.
fn base64_hint_groups(rules: &RuleSet, keywords: &[String]) -> Vec<Hints> {
    let mut groups = Vec::new();
    let examples: Vec<&String> = rules.rules().iter().flat_map(|r| &r.examples).collect();
    let severity = |k: &str| {
        rules
            .rules()
            .iter()
            .filter(|r| r.keywords.iter().any(|kw| kw == k))
            .map(|r| r.severity)
            .max()
    };
    // Context words are not part of any key: their encoded forms say nothing of a key.
    let in_keys = |k: &str| {
        rules
            .rules()
            .iter()
            .any(|r| r.context.is_none() && r.keywords.iter().any(|kw| kw == k))
    };
    let mut ranked: Vec<&str> = keywords.iter().map(String::as_str).filter(|k| in_keys(k)).collect();
    ranked.sort_by_key(|k| {
        let holders = examples.iter().filter(|e| e.contains(k)).count();
        (
            std::cmp::Reverse(severity(k)),
            std::cmp::Reverse(holders),
            std::cmp::Reverse(k.len()),
        )
    });
    let mut seen: Vec<String> = Vec::new();
    let base64_group = |word: &str, seen: &mut Vec<String>| -> Option<Hints> {
        let parts: Hints = base64_keyword_parts(word.as_bytes())
            .into_iter()
            .filter(|p| !keywords.contains(p) && !seen.contains(p))
            .map(|p| (p, Decoder::Base64))
            .collect();
        seen.extend(parts.iter().map(|(p, _)| p.clone()));
        (!parts.is_empty()).then_some(parts)
    };
    for keyword in ranked {
        groups.extend(base64_group(keyword, &mut seen));
    }
    for word in CONTAINER_WORDS {
        groups.extend(base64_group(word, &mut seen));
    }
    groups
}

/// Hint patterns and the decoder each is a sign for.
type Hints = Vec<(String, Decoder)>;

/// The hint groups that fit in a pass of `room` patterns, in order of worth (a group too large is passed over
/// for smaller ones after it).
fn fitting_hints(groups: Vec<Hints>, room: usize) -> Hints {
    let mut taken = Vec::new();
    for group in groups {
        if taken.len() + group.len() <= room {
            taken.extend(group);
        }
    }
    taken
}

/// Is `bytes[..start]` ending in a `%XX` URL escape (as in `?q=%20sk-...`)?
fn ends_with_percent_escape(before: &[u8]) -> bool {
    matches!(before, [.., b'%', h, l] if h.is_ascii_hexdigit() && l.is_ascii_hexdigit())
}

impl Scanner {
    pub fn new(rules: RuleSet, placeholders: PlaceholderFilter) -> Result<Scanner, aho_corasick::BuildError> {
        let mut keywords: Vec<String> = Vec::new();
        let mut keyword_rules: Vec<Vec<usize>> = Vec::new();
        for (index, rule) in rules.rules().iter().enumerate() {
            for keyword in &rule.keywords {
                match keywords.iter().position(|k| k == keyword) {
                    Some(pos) => keyword_rules[pos].push(index),
                    None => {
                        keywords.push(keyword.clone());
                        keyword_rules.push(vec![index]);
                    }
                }
            }
        }
        // The search reports only the longest keyword starting at a position, so a hit of `sk-ant-api03-`
        // must also wake the rules of any keyword it starts with.
        let direct = keyword_rules.clone();
        for (long, rules_of_long) in keyword_rules.iter_mut().enumerate() {
            for (short, rules_of_short) in direct.iter().enumerate() {
                if short != long && keywords[long].starts_with(keywords[short].as_str()) {
                    rules_of_long.extend(rules_of_short.iter().copied());
                }
            }
            rules_of_long.sort_unstable();
            rules_of_long.dedup();
        }
        // Context words (keywords only context rules use) get a pass of their own: they are many spellings of
        // common-looking words, and would crowd the keys' keywords and the hints off the fastest searcher.
        let is_context_word = |k: &String| {
            rules
                .rules()
                .iter()
                .all(|r| r.context.is_some() || !r.keywords.contains(k))
        };
        let (context_words, key_words): (Vec<usize>, Vec<usize>) =
            (0..keywords.len()).partition(|&i| is_context_word(&keywords[i]));
        // Three passes over the bytes, each on an Aho-Corasick SIMD searcher (Teddy) that stays fast because its
        // patterns are few and alike: the keys' keywords (Slim Teddy while they are at most 32), the context
        // words, and the base64 forms of the keywords (Fat Teddy, at most BASE64_PASS_PATTERNS). On 300 MB of
        // crate sources: 37 + 32 + 48 ms, against 64 + 80 ms for two passes that mixed base64 hints into both.
        // Each looks only around long runs where the rules allow (`RunPasses`); the escaped separators are
        // found apart, by their first bytes. No pass holds both keywords and hints (`Scanner::pass` counts on it).
        let base64_hints = fitting_hints(base64_hint_groups(&rules, &keywords), BASE64_PASS_PATTERNS);
        let patterns: Vec<&String> = key_words.iter().map(|&i| &keywords[i]).collect();
        let kinds: Vec<Pattern> = key_words.iter().map(|&i| Pattern::Keyword(i)).collect();
        let prefilter = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&patterns)?;
        let second: Vec<(String, Pattern)> = context_words
            .iter()
            .map(|&i| (keywords[i].clone(), Pattern::Keyword(i)))
            .collect();
        let third: Vec<(String, Pattern)> = base64_hints.into_iter().map(|(p, d)| (p, Pattern::Hint(d))).collect();
        let mut more_passes = Vec::new();
        for pass in [second, third] {
            if !pass.is_empty() {
                let ac = AhoCorasickBuilder::new()
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(pass.iter().map(|(p, _)| p))?;
                more_passes.push((ac, pass.into_iter().map(|(_, kind)| kind).collect()));
            }
        }
        let (words, word_rules): (Vec<&String>, Vec<usize>) = (rules.rules().iter().enumerate())
            .flat_map(|(index, rule)| {
                rule.context
                    .iter()
                    .flat_map(move |c| c.path_words.iter().map(move |w| (w, index)))
            })
            .unzip();
        let path_words = match words.is_empty() {
            true => None,
            false => Some((
                AhoCorasickBuilder::new().ascii_case_insensitive(true).build(words)?,
                word_rules,
            )),
        };
        let run_passes = RunPasses::new(&rules, &kinds, &keyword_rules, &more_passes);
        Ok(Scanner {
            path_words,
            more_passes,
            run_passes,
            rules,
            prefilter,
            patterns: kinds,
            keywords,
            keyword_rules,
            placeholders,
        })
    }

    /// Every accepted match in `hay` (as [`Scanner::find`]) and the signs of encoded text met on the way:
    /// `(decoder, position)`, in order of position per decoder.
    pub fn find_with_hints(&self, hay: &[u8]) -> (Vec<RuleMatch>, Vec<(Decoder, usize)>) {
        self.find_with_hints_anchored(hay, &[])
    }

    /// As [`Scanner::find_with_hints`], with the context rules in `anchored` (from [`Scanner::path_anchors`])
    /// anchored everywhere in `hay`.
    pub fn find_with_hints_anchored(&self, hay: &[u8], anchored: &[usize]) -> (Vec<RuleMatch>, Vec<(Decoder, usize)>) {
        self.scan(hay, Checks::All, anchored, true)
    }

    /// The context rules that a file's path anchors: those with `context_in_path` whose context word the path
    /// holds, in any case (`src/deepseek_client.py`).
    pub fn path_anchors(&self, path: &str) -> Vec<usize> {
        let Some((words, word_rules)) = &self.path_words else {
            return Vec::new();
        };
        // Most paths hold no word: the search that finds one at all is the fast one.
        if !words.is_match(path) {
            return Vec::new();
        }
        // Every word, overlapping ones too (`azure_openai` and `openai`), as each names its own rules.
        let mut anchored: Vec<usize> = words
            .find_overlapping_iter(path)
            .map(|hit| word_rules[hit.pattern().as_usize()])
            .collect();
        anchored.sort_unstable();
        anchored.dedup();
        anchored
    }

    /// The longest text any rule can match (bounded rules only): how much around a hint of a key is worth
    /// decoding.
    pub fn longest_match(&self) -> usize {
        self.rules
            .rules()
            .iter()
            .filter_map(|r| r.max_match_len)
            .max()
            .unwrap_or(256)
            .min(1024)
    }

    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// This scanner with every later pass looking everywhere, for the tests that check that looking only
    /// around long runs finds the same.
    #[cfg(test)]
    pub(crate) fn looking_everywhere(mut self) -> Scanner {
        self.run_passes = RunPasses::default();
        self
    }

    pub fn rule(&self, index: usize) -> &Rule {
        self.rules.get(index)
    }

    /// Finds every accepted match in `hay`, sorted by position, at most one per span of text.
    pub fn find(&self, hay: &[u8]) -> Vec<RuleMatch> {
        self.find_with(hay, Checks::All)
    }

    /// Finds every rule match in `hay` without the boundary, entropy and placeholder checks: every text of a key's
    /// shape, even inside a longer run. This is for redacting outside text, where showing too little is safe and
    /// showing a key is not.
    pub fn find_key_shaped(&self, hay: &[u8]) -> Vec<RuleMatch> {
        self.find_with(hay, Checks::None)
    }

    /// As [`Scanner::find`], with the context rules in `anchored` anchored everywhere in `hay`.
    pub fn find_anchored(&self, hay: &[u8], anchored: &[usize]) -> Vec<RuleMatch> {
        self.scan(hay, Checks::All, anchored, false).0
    }

    fn find_with(&self, hay: &[u8], checks: Checks) -> Vec<RuleMatch> {
        self.scan(hay, checks, &[], false).0
    }

    /// The prefilter pass: the rule matches, and the hints it met (when `want_hints`). The rules in `anchored`
    /// are searched in the whole of `hay`.
    fn scan(
        &self,
        hay: &[u8],
        checks: Checks,
        anchored: &[usize],
        want_hints: bool,
    ) -> (Vec<RuleMatch>, Vec<(Decoder, usize)>) {
        let mut windows: Vec<Vec<(usize, usize)>> = Vec::new();
        let mut hints = Vec::new();
        if !anchored.is_empty() {
            windows = vec![Vec::new(); self.rules.len()];
            for &rule_index in anchored {
                push_window(&mut windows[rule_index], 0, hay.len());
            }
        }
        let passes = std::iter::once((&self.prefilter, &self.patterns))
            .chain(self.more_passes.iter().map(|(ac, kinds)| (ac, kinds)));
        let looks = self
            .run_passes
            .looks(hay, 1 + self.more_passes.len(), want_hints, checks == Checks::All);
        for ((ac, kinds), ranges) in passes.zip(looks.passes) {
            match ranges {
                None => self.pass(ac, kinds, hay, 0..hay.len(), &mut windows, &mut hints),
                Some(ranges) => {
                    for (start, end) in ranges {
                        self.pass(ac, kinds, hay, start..end, &mut windows, &mut hints);
                    }
                }
            }
        }
        match looks.escapes {
            None => escape_hints(hay, 0..hay.len(), &mut hints),
            Some(ranges) => {
                for (start, end) in ranges {
                    escape_hints(hay, start..end, &mut hints);
                }
            }
        }
        // Each pass gives its hints in order; a decoder's hints can come from more than one pass, and the
        // windows around them are made in one sweep that skips what it has covered: one order for all.
        hints.sort_by_key(|&(_, at)| at);
        if windows.is_empty() {
            return (Vec::new(), hints);
        }
        let mut found = Vec::new();
        for (rule_index, rule_windows) in windows.iter().enumerate() {
            for &(start, end) in rule_windows {
                self.find_in_window(rule_index, hay, start, end, checks, &mut found);
            }
        }
        (resolve_overlaps(found), hints)
    }

    /// One pass of `ac` (whose patterns stand for `kinds`) over the patterns wholly in `range` of `hay`: the
    /// windows its keywords open, and the hints it meets.
    fn pass(
        &self,
        ac: &AhoCorasick,
        kinds: &[Pattern],
        hay: &[u8],
        range: Range<usize>,
        windows: &mut Vec<Vec<(usize, usize)>>,
        hints: &mut Vec<(Decoder, usize)>,
    ) {
        // A non-overlapping search restarted one byte past each hit's start: it keeps the SIMD prefilter (an
        // overlapping search cannot use it) and still sees every position where a pattern starts. (No pass holds
        // both keywords and hints, see `Scanner::new`, so a hint never hides a keyword at its position.)
        let mut from = range.start;
        while let Some(hit) = ac.find(aho_corasick::Input::new(hay).range(from..range.end)) {
            from = hit.start() + 1;
            match kinds[hit.pattern().as_usize()] {
                Pattern::Keyword(keyword) => self.keyword_windows(windows, keyword, hit.start(), hay.len()),
                Pattern::Hint(decoder) => hints.push((decoder, hit.start())),
            }
        }
    }

    /// Adds the windows that a hit of `keyword` at `at` opens for its rules.
    fn keyword_windows(&self, windows: &mut Vec<Vec<(usize, usize)>>, keyword: usize, at: usize, len: usize) {
        if windows.is_empty() {
            *windows = vec![Vec::new(); self.rules.len()];
        }
        let keyword_end = at + self.keywords[keyword].len();
        for &rule_index in &self.keyword_rules[keyword] {
            let rule = self.rules.get(rule_index);
            // A context word anchors the key within the rule's distance on either side of it.
            let reach = rule.context.as_ref().map(|c| c.distance).or(rule.max_match_len);
            let (start, end) = match reach {
                Some(max) => (at.saturating_sub(max), keyword_end.saturating_add(max).min(len)),
                None => (0, len),
            };
            push_window(&mut windows[rule_index], start, end);
        }
    }

    fn find_in_window(
        &self,
        rule_index: usize,
        hay: &[u8],
        start: usize,
        end: usize,
        checks: Checks,
        out: &mut Vec<RuleMatch>,
    ) {
        let rule = self.rules.get(rule_index);
        let window = &hay[..end];
        let mut pos = start;
        let needs_captures = rule.secret_group.is_some() || !rule.equal_length_groups.is_empty();
        while pos < end {
            let (match_start, span, balanced) = if needs_captures {
                let Some(caps) = rule.regex.captures_at(window, pos) else {
                    break;
                };
                let whole = caps.get(0).map_or((pos, pos), |m| (m.start(), m.end()));
                let span = match rule.secret_group.and_then(|group| caps.get(group)) {
                    Some(secret) => (secret.start(), secret.end()),
                    None => whole,
                };
                // Groups that must be of one length (the two random parts around a marker): an over-long or
                // cut run has them unequal.
                let mut lengths = rule
                    .equal_length_groups
                    .iter()
                    .filter_map(|&g| caps.get(g).map(|m| m.len()));
                let balanced = match lengths.next() {
                    Some(first) => lengths.all(|len| len == first),
                    None => true,
                };
                (whole.0, span, balanced)
            } else {
                let Some(m) = rule.regex.find_at(window, pos) else {
                    break;
                };
                (m.start(), (m.start(), m.end()), true)
            };
            let balanced = balanced || checks == Checks::None;
            if span.0 < span.1 && balanced && (checks == Checks::None || self.accept(rule, hay, span.0, span.1)) {
                out.push(RuleMatch {
                    rule: rule_index,
                    start: span.0,
                    end: span.1,
                });
                pos = span.1.max(match_start + 1);
            } else {
                // Retry one byte later: a rejected candidate may overlap a real key.
                pos = match_start + 1;
            }
        }
    }

    /// The checks the regex cannot express: boundaries, entropy, placeholders.
    fn accept(&self, rule: &Rule, hay: &[u8], start: usize, end: usize) -> bool {
        let before_ok = start == 0 || !is_key_byte(hay[start - 1]) || ends_with_percent_escape(&hay[..start]);
        let after_ok = end == hay.len() || !is_key_byte(hay[end]);
        if !(before_ok && after_ok) {
            return false;
        }
        // A key with no prefix of its own, between base64 characters, is a piece of base64 (an integrity hash).
        if rule.context.is_some()
            && (start > 0 && matches!(hay[start - 1], b'+' | b'/')
                || end < hay.len() && matches!(hay[end], b'+' | b'/' | b'='))
        {
            return false;
        }
        let secret = &hay[start..end];
        if rule.allowed_values.contains(secret) {
            return false;
        }
        if let Some(min) = rule.min_entropy
            && shannon_entropy(secret) < min
        {
            return false;
        }
        if !rule
            .must_contain
            .iter()
            .all(|class| secret.iter().any(|&b| class.holds(b)))
        {
            return false;
        }
        if rule.not_uuid && is_dashless_uuid_v4(secret) {
            return false;
        }
        !self.placeholders.is_placeholder(secret)
    }
}

/// Is `text` a random (version 4, RFC 9562 variant) UUID written without dashes: 32 hexadecimal digits whose 13th
/// is `4` and whose 17th is one of `8`, `9`, `a`, `b`? A random 32-digit key reads as one by chance once in 64.
fn is_dashless_uuid_v4(text: &[u8]) -> bool {
    text.len() == 32
        && text.iter().all(u8::is_ascii_hexdigit)
        && text[12] == b'4'
        && matches!(text[16].to_ascii_lowercase(), b'8' | b'9' | b'a' | b'b')
}

impl RunPasses {
    /// The passes that may look only around long runs: the keyword pass (whose patterns stand for `kinds`),
    /// when every rule its keywords wake (`keyword_rules`) holds one where [`KeywordRun`] says; and the later
    /// passes of `more_passes` that hold only base64 hints or only context words, when the rules allow looking
    /// for those around long runs only. (The only later pass with keywords is the context words' pass:
    /// [`Scanner::new`] puts every other keyword in the first.)
    fn new(
        rules: &RuleSet,
        kinds: &[Pattern],
        keyword_rules: &[Vec<usize>],
        more_passes: &[(AhoCorasick, Vec<Pattern>)],
    ) -> RunPasses {
        let keywords = kinds
            .iter()
            .flat_map(|kind| match *kind {
                Pattern::Keyword(keyword) => keyword_rules[keyword].as_slice(),
                Pattern::Hint(_) => &[],
            })
            .map(|&rule| rules.get(rule).keyword_run)
            .try_fold(None::<KeywordRun>, |all, one| {
                let one = one?;
                Some(Some(all.map_or(one, |all| KeywordRun {
                    run: all.run.min(one.run),
                    slack: all.slack.max(one.slack),
                })))
            })
            .flatten();
        let only = |kinds: &[Pattern], wanted: &dyn Fn(&Pattern) -> bool| !kinds.is_empty() && kinds.iter().all(wanted);
        let is_base64_hint = |kind: &Pattern| *kind == Pattern::Hint(Decoder::Base64);
        let is_word = |kind: &Pattern| matches!(kind, Pattern::Keyword(_));
        let shortest_match = rules.rules().iter().map(|r| r.min_match_len).min().flatten();
        let base64 = more_passes
            .iter()
            .position(|(_, kinds)| only(kinds, &is_base64_hint))
            .zip(shortest_match)
            .map(|(pass, shortest)| (1 + pass, (shortest * 4).div_ceil(3).clamp(1, MIN_WRAPPED_LINE)));
        let context_rules: Vec<&Rule> = rules.rules().iter().filter(|r| r.context.is_some()).collect();
        let context_run = context_rules
            .iter()
            .map(|r| r.key_run)
            .collect::<Option<Vec<usize>>>()
            .and_then(|runs| runs.into_iter().min())
            .map(|run| run.clamp(1, 64));
        let reach = context_rules
            .iter()
            .filter_map(|r| r.context.as_ref())
            .map(|c| c.distance)
            .max();
        let longest_word = context_rules
            .iter()
            .flat_map(|r| &r.keywords)
            .map(String::len)
            .max()
            .unwrap_or(0);
        let matches: Vec<(usize, Option<usize>)> = context_rules
            .iter()
            .map(|r| (r.min_match_len.unwrap_or(0), r.max_match_len))
            .collect();
        let (run_lengths, longer) = ContextPass::run_lengths(&matches);
        let context = more_passes
            .iter()
            .position(|(_, kinds)| only(kinds, &is_word))
            .zip(context_run.zip(reach))
            .map(|(pass, (run, reach))| ContextPass {
                pass: 1 + pass,
                run,
                reach: reach + longest_word,
                run_lengths,
                longer,
            });
        RunPasses {
            escapes: shortest_match.map(|shortest| shortest.max(1)),
            keywords,
            base64,
            context,
        }
    }

    /// Where each of `passes` passes (the keyword pass first) and the search for escapes look in `hay`. The
    /// keyword pass looks only around runs when what is looked for must pass every check (`all_checks`); no
    /// hints wanted, neither the base64 pass nor the escapes look anywhere.
    fn looks(&self, hay: &[u8], passes: usize, want_hints: bool, all_checks: bool) -> Looks {
        let mut looks = Looks {
            passes: vec![None; passes],
            escapes: if want_hints { None } else { Some(Vec::new()) },
        };
        if let (Some((pass, _)), false) = (self.base64, want_hints) {
            looks.passes[pass] = Some(Vec::new());
        }
        let base64 = self.base64.filter(|_| want_hints);
        let escapes = self.escapes.filter(|_| want_hints);
        let keywords = self.keywords.filter(|_| all_checks);
        if base64.is_none() && self.context.is_none() && keywords.is_none() && escapes.is_none() {
            return looks;
        }
        let min = runs::MinRuns {
            base64: base64.map_or(usize::MAX, |(_, run)| run),
            key: (self.context.as_ref().map(|context| context.run).into_iter())
                .chain(keywords.map(|k| k.run))
                .min()
                .unwrap_or(usize::MAX),
            escaped: escapes.unwrap_or(usize::MAX),
        };
        let Some(long_runs) = runs::long_runs(hay, min) else {
            return looks;
        };
        let key_runs = |min_run: usize| {
            long_runs
                .key
                .iter()
                .filter(move |&&(start, end)| end - start >= min_run)
        };
        // Where the runs are most of the text, one pass over all of it costs less than many short ones.
        let worth = |around: &mut dyn Iterator<Item = (usize, usize)>| {
            let mut list = Vec::new();
            for (start, end) in around {
                push_window(&mut list, start, end);
            }
            let covered: usize = list.iter().map(|(start, end)| end - start).sum();
            (covered <= hay.len() / 2).then_some(list)
        };
        if let Some((pass, min_run)) = base64 {
            let mut around = long_runs
                .base64
                .iter()
                .map(|&(start, end)| (start, next_line_reach(hay, end, min_run)));
            looks.passes[pass] = worth(&mut around);
        }
        if let Some(context) = &self.context {
            // What need not pass every check (text of a key's shape) can be inside a longer run.
            let reach = context.reach;
            let mut around = key_runs(context.run)
                .filter(|&&(start, end)| !all_checks || context.can_be_key(end - start))
                .map(|&(start, end)| (start.saturating_sub(reach), end.saturating_add(reach).min(hay.len())));
            looks.passes[context.pass] = worth(&mut around);
        }
        if let Some(KeywordRun { run, slack }) = keywords {
            let mut around = key_runs(run).map(|&(start, end)| (start.saturating_sub(slack), end));
            looks.passes[0] = worth(&mut around);
        }
        if escapes.is_some() {
            looks.escapes = worth(&mut long_runs.escaped.iter().copied());
        }
        looks
    }
}

/// Where each pass, and the search for escapes, looks in a text: `None` everywhere, `Some(ranges)` there only.
#[derive(Debug, PartialEq, Eq)]
struct Looks {
    /// The keyword pass first, then the later passes.
    passes: Vec<Option<Vec<(usize, usize)>>>,
    escapes: Option<Vec<(usize, usize)>>,
}

/// Past a run of base64 that ends its line at `end`, the start of the next line's text and `min_run` bytes of
/// it: where a short last line of a wrapped encoding can hold a hint.
fn next_line_reach(hay: &[u8], end: usize, min_run: usize) -> usize {
    after_line_break(hay, end).map_or(end, |next| next.saturating_add(min_run).min(hay.len()))
}

/// Adds a window to a list (a rule's windows, or where a later pass looks), merging it with the previous one when
/// they touch.
/// Hits arrive in increasing order of start position, so window starts never decrease and only the last window
/// can overlap.
fn push_window(windows: &mut Vec<(usize, usize)>, start: usize, end: usize) {
    if let Some(last) = windows.last_mut()
        && start <= last.1
    {
        last.0 = last.0.min(start);
        last.1 = last.1.max(end);
        return;
    }
    windows.push((start, end));
}

/// Keeps one match per span of text: of overlapping matches the longest wins, then the rule listed first.
fn resolve_overlaps(mut matches: Vec<RuleMatch>) -> Vec<RuleMatch> {
    matches.sort_by(|a, b| {
        a.start
            .cmp(&b.start)
            .then((b.end - b.start).cmp(&(a.end - a.start)))
            .then(a.rule.cmp(&b.rule))
    });
    let mut kept: Vec<RuleMatch> = Vec::with_capacity(matches.len());
    for m in matches {
        match kept.last() {
            Some(last) if m.start < last.end => {
                if m.end - m.start > last.end - last.start
                    && let Some(slot) = kept.last_mut()
                {
                    *slot = m;
                }
            }
            _ => kept.push(m),
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scanner() -> Scanner {
        Scanner::new(
            RuleSet::builtin().expect("built-in rules"),
            PlaceholderFilter::default(),
        )
        .expect("scanner")
    }

    const LEGACY: &str = "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";

    fn secrets(scanner: &Scanner, text: &str) -> Vec<String> {
        scanner
            .find(text.as_bytes())
            .iter()
            .map(|m| text[m.start..m.end].to_string())
            .collect()
    }

    #[test]
    fn finds_keys_touching_other_text() {
        let s = scanner();
        assert_eq!(secrets(&s, &format!("OPENAI_API_KEY={LEGACY}")), vec![LEGACY]);
        assert_eq!(secrets(&s, &format!("\"{LEGACY}\"")), vec![LEGACY]);
        assert_eq!(secrets(&s, &format!("key:{LEGACY},{LEGACY}")), vec![LEGACY, LEGACY]);
        assert_eq!(secrets(&s, &format!("https://x/?q=%20{LEGACY}&a=1")), vec![LEGACY]);
    }

    #[test]
    fn rejects_keys_inside_longer_runs() {
        let s = scanner();
        assert!(secrets(&s, &format!("ta{LEGACY}")).is_empty());
        assert!(secrets(&s, &format!("{LEGACY}Z")).is_empty());
        assert!(secrets(&s, &format!("{LEGACY}-x")).is_empty());
    }

    #[test]
    fn overlapping_rules_report_one_finding() {
        let s = scanner();
        let key = "sk-proj-u8jzPde0IgxLd6GncfBAT3BlbkFJepfJBd0Kh8oOOL8dKLzd";
        let found = s.find(key.as_bytes());
        assert_eq!(found.len(), 1);
        assert_eq!(s.rule(found[0].rule).id, "openai-project-key");
    }

    #[test]
    fn keywords_are_known_base64_encoded_at_every_alignment() {
        use base64::Engine as _;
        let s = scanner();
        let base64_hints = |text: &[u8]| {
            s.find_with_hints(text)
                .1
                .into_iter()
                .filter(|(d, _)| *d == Decoder::Base64)
                .count()
        };
        for prefix in ["", "x", "xy"] {
            let text = format!("{prefix}OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwxyz0123456789");
            let encoded = base64::engine::general_purpose::STANDARD.encode(text);
            assert!(base64_hints(encoded.as_bytes()) > 0, "{prefix:?}: {encoded}");
        }
        assert_eq!(base64_hints(b"nothing to see here"), 0);
        // Encoded text too short to hold any rule's key gives no hint: it is not worth decoding.
        let short = base64::engine::general_purpose::STANDARD.encode("OPENAI_API_KEY=sk-proj-abc");
        assert_eq!(base64_hints(short.as_bytes()), 0, "{short}");
        assert!(
            !scanner()
                .looking_everywhere()
                .find_with_hints(short.as_bytes())
                .1
                .is_empty()
        );
    }

    #[test]
    fn every_builtin_hint_rides_in_a_pass_on_the_fast_searchers() {
        let s = scanner();
        assert!(s.patterns.iter().all(|k| matches!(k, Pattern::Keyword(_))));
        assert!(
            s.patterns.len() <= 32,
            "the keyword pass stays on the fastest searcher (Slim Teddy takes 32 patterns)"
        );
        assert_eq!(s.more_passes.len(), 2, "the context words' pass and the base64 pass");
        assert!(s.more_passes[0].1.iter().all(|k| matches!(k, Pattern::Keyword(_))));
        let base64_pass = &s.more_passes[1].1;
        assert!(base64_pass.len() <= BASE64_PASS_PATTERNS);
        assert!(base64_pass.iter().all(|k| *k == Pattern::Hint(Decoder::Base64)));
        let all: usize = base64_hint_groups(&s.rules, &s.keywords).iter().map(Vec::len).sum();
        assert_eq!(base64_pass.len(), all, "no hint of the built-in rules is left out");
    }

    #[test]
    fn escape_hints_are_found_by_their_first_bytes() {
        assert!(ESCAPE_HINTS.iter().all(|(hint, _)| hint.starts_with(['%', '\\'])));
        let text = b"sk%2Dproj%2dx %5F \\u002d \\u005f \\x2d \\n %20 \\u002D %";
        let mut hints = Vec::new();
        escape_hints(text, 0..text.len(), &mut hints);
        let at = |needle: &str| {
            text.windows(needle.len())
                .position(|w| w == needle.as_bytes())
                .expect("in text")
        };
        assert_eq!(
            hints,
            vec![
                (Decoder::Percent, at("%2D")),
                (Decoder::Percent, at("%5F")),
                (Decoder::Escape, at("\\u002d")),
                (Decoder::Escape, at("\\u005f")),
                (Decoder::Escape, at("\\x2d")),
            ],
            "the canonical spellings only"
        );
        let s = scanner().looking_everywhere();
        assert_eq!(s.find_with_hints(text).1, hints, "hints are what the scanner gives");
        assert!(s.find(text).is_empty());
    }

    /// An escaped key is a run of key bytes, `%` and `\\` at least as long as the shortest key: escapes are
    /// looked for there only.
    #[test]
    fn escapes_are_looked_for_in_runs_as_long_as_a_key() {
        let (s, everywhere) = (scanner(), scanner().looking_everywhere());
        let escaped = [
            "sk%2Dproj%2DAbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEfGhIjKlMn",
            "sk\\u002dproj\\u002dAbCdEfGhIjKl\\u005fMnOpQrStUvWxYz0123456789",
            "sk\\x2dproj\\x2dAbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
            "hf%5FAbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh",
        ];
        for key in escaped {
            let text = format!(
                "printf(\"%s\\n\", x); // {}\n\"{key}\"\nlet y = \"%2D\";\n",
                "words ".repeat(30)
            );
            let (_, hints) = s.find_with_hints(text.as_bytes());
            let (_, all) = everywhere.find_with_hints(text.as_bytes());
            let in_key = text.find(key).expect("key in text");
            assert!(
                !hints.is_empty() && hints.iter().all(|&(_, at)| at >= in_key && at < in_key + key.len()),
                "{key}: {hints:?}"
            );
            assert!(all.len() > hints.len(), "looking everywhere finds the lone escape too");
        }
    }

    /// The built-in rules let every pass look only around long runs: every key holds its keyword in a run of
    /// key bytes (Google's `AQ.` just before it), every context rule's key is a run of key bytes, and the
    /// shortest key encodes to a run no base64 line of a wrapped encoding is shorter than.
    #[test]
    fn builtin_keywords_context_words_and_base64_hints_are_looked_for_around_long_runs() {
        let s = scanner();
        assert_eq!(
            s.run_passes.keywords,
            Some(KeywordRun { run: 37, slack: 3 }),
            "Hugging Face's `hf_` and 34 letters; Google's `AQ.Ab8R` starts 3 bytes before its run"
        );
        assert_eq!(s.run_passes.base64, Some((2, MIN_WRAPPED_LINE)));
        let context = s.run_passes.context.clone().expect("context words around runs");
        assert_eq!(context.pass, 1);
        assert_eq!(context.run, 32, "Mistral's and Azure's 32 characters");
        assert!(
            context.reach >= 200,
            "DeepSeek's and Moonshot's distance: {}",
            context.reach
        );
        // Every built-in context rule's key has one length: runs of others (or of them and a `%XX` escape
        // before them) need no context words.
        let lengths: Vec<usize> = (30..60).filter(|&len| context.can_be_key(len)).collect();
        assert_eq!(
            lengths,
            [32, 34, 35, 37, 40, 42, 51, 53],
            "Mistral, Azure, DeepSeek, Cohere, Moonshot"
        );
        assert_eq!(
            s.run_passes.escapes,
            Some(32),
            "Mistral's 32 characters are the shortest key"
        );
        // Plain text of short words has no run: no pass looks anywhere, nor do the escapes.
        let prose = b"let mistral = client(); // no key here, only words and a cohere mention: %s\\n\n".repeat(50);
        let looks = s.run_passes.looks(&prose, 3, true, true);
        let no_runs = runs::MinRuns {
            base64: 40,
            key: 32,
            escaped: 32,
        };
        if runs::long_runs(&prose, no_runs).is_some() {
            let nowhere = Looks {
                passes: vec![Some(Vec::new()), Some(Vec::new()), Some(Vec::new())],
                escapes: Some(Vec::new()),
            };
            assert_eq!(looks, nowhere);
            // Text of a key's shape (for redaction) is looked for everywhere.
            assert_eq!(s.run_passes.looks(&prose, 3, true, false).passes[0], None);
        }
        // No hints wanted: no base64 pass and no escapes at all.
        let looks = s.run_passes.looks(&prose, 3, false, true);
        assert_eq!(
            (&looks.passes[2], &looks.escapes),
            (&Some(Vec::new()), &Some(Vec::new()))
        );
    }

    /// The run lengths a context key can be: its own lengths and two more (a `%XX` escape before it); a rule
    /// with no longest match, or a longest past the table, lets every run from its shortest through.
    #[test]
    fn context_keys_are_runs_of_their_own_lengths_or_two_more() {
        let pass = |matches: &[(usize, Option<usize>)]| {
            let (run_lengths, longer) = ContextPass::run_lengths(matches);
            let pass = ContextPass {
                pass: 1,
                run: 1,
                reach: 1,
                run_lengths,
                longer,
            };
            move |len: usize| pass.can_be_key(len)
        };
        let fixed = pass(&[(32, Some(32)), (40, Some(44))]);
        let lengths: Vec<usize> = (0..100).filter(|&len| fixed(len)).collect();
        assert_eq!(lengths, [32, 34, 40, 41, 42, 43, 44, 45, 46]);
        assert!(!fixed(usize::MAX));
        for unbounded in [pass(&[(20, Some(32)), (10, None)]), pass(&[(10, Some(100_000))])] {
            assert!(!unbounded(9));
            assert!([10, 11, 33, 5000, 100_000, usize::MAX].into_iter().all(&unbounded));
        }
        assert!(!pass(&[])(32));
    }

    /// A user rule whose key need not hold its keyword (here the keyword names the key) makes the keyword pass
    /// look everywhere again, and its key is found; one of the built-in shape keeps the pass around runs.
    #[test]
    fn a_user_rule_of_another_shape_makes_the_keyword_pass_look_everywhere() {
        let with_rule = |regex: &str, keyword: &str| {
            let text = format!(
                "provider = \"acme\"\n[[rules]]\nid = \"acme-token\"\nname = \"Acme\"\ndescription = \"test\"\nkind = \"api\"\n\
                 severity = \"high\"\nregex = '{regex}'\nkeywords = [\"{keyword}\"]\nremediation = \"test\"\n"
            );
            let rules = crate::rules::parse_rule_file(
                &text,
                crate::rules::RuleOrigin::File("acme.toml".into()),
                &mut crate::rules::RuleBudget::full(),
            )
            .expect("rule file loads");
            let mut set = RuleSet::builtin().expect("built-in rules");
            set.extend(rules).expect("extends");
            Scanner::new(set, PlaceholderFilter::default()).expect("scanner")
        };
        let named = with_rule(r"acme_token = \x22(?P<secret>[a-f0-9]{40})\x22", "acme_token");
        assert_eq!(named.run_passes.keywords, None);
        let text = format!(
            "{}acme_token = \"3f9c1e7a5b2d4c6e8f0a1b3c5d7e9f2a4b6c8d0e\"\n{}",
            "some words here. ".repeat(40),
            "more words. ".repeat(40)
        );
        let found = named.find(text.as_bytes());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            &text[found[0].start..found[0].end],
            "3f9c1e7a5b2d4c6e8f0a1b3c5d7e9f2a4b6c8d0e"
        );
        let prefixed = with_rule(r"acme_[a-f0-9]{20}", "acme_");
        assert_eq!(prefixed.run_passes.keywords, Some(KeywordRun { run: 25, slack: 3 }));
    }

    /// A path anchors every context rule with `context_in_path` whose word it holds, in any case.
    #[test]
    fn a_path_anchors_the_rules_whose_context_words_it_holds() {
        let s = scanner();
        let by_words = |path: &str| -> Vec<usize> {
            let path = path.to_ascii_lowercase();
            (s.rules.rules().iter().enumerate())
                .filter(|(_, r)| (r.context.iter()).any(|c| c.path_words.iter().any(|w| path.contains(w.as_str()))))
                .map(|(index, _)| index)
                .collect()
        };
        let paths = [
            "src/deepseek_client.py",
            "config/DeepSeek/MISTRAL.env",
            "lib/azure_openai/moonshot-kimi.ts",
            "a/b/c.txt",
            "",
            "cohere",
            "services/MoonShotKimi/cognitiveservices.azure.com.json",
        ];
        let mut anchoring = 0;
        for path in paths {
            assert_eq!(s.path_anchors(path), by_words(path), "{path}");
            anchoring += usize::from(!s.path_anchors(path).is_empty());
        }
        assert_eq!(anchoring, 4, "DeepSeek's and Moonshot's rules are anchored by paths");
        assert_eq!(
            s.path_anchors("deepseek/Kimi.txt").len(),
            2,
            "DeepSeek's rule and Moonshot's"
        );
    }

    #[test]
    fn windows_merge_when_they_touch() {
        let mut w = Vec::new();
        push_window(&mut w, 0, 10);
        push_window(&mut w, 5, 20);
        push_window(&mut w, 30, 40);
        assert_eq!(w, vec![(0, 20), (30, 40)]);
    }

    mod properties {
        use super::*;
        use crate::content::inspect::inspect;
        use proptest::prelude::*;

        /// A legacy key or a 164-character project key, random in the parts that are random.
        fn key() -> impl Strategy<Value = String> {
            let legacy = ("[A-Za-z0-9]{20}", "[A-Za-z0-9]{20}").prop_map(|(a, b)| format!("sk-{a}T3BlbkFJ{b}"));
            let project =
                ("[A-Za-z0-9_-]{74}", "[A-Za-z0-9_-]{74}").prop_map(|(a, b)| format!("sk-proj-{a}T3BlbkFJ{b}"));
            prop_oneof![legacy, project]
        }

        /// Bytes that cannot be part of a key.
        fn non_key_bytes() -> impl Strategy<Value = Vec<u8>> {
            proptest::collection::vec(any::<u8>().prop_filter("not a key byte", |b| !is_key_byte(*b)), 0..64)
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
                let s = scanner();
                let _ = s.find(&bytes);
                let _ = s.find_key_shaped(&bytes);
                let _ = inspect(&s, &bytes, "x", &crate::content::Options::default());
            }

            #[test]
            fn arbitrary_text_around_keywords_never_panics(
                parts in proptest::collection::vec(prop_oneof![
                    Just("sk-".to_string()), Just("T3BlbkFJ".to_string()), Just("sk-proj-".to_string()),
                    Just("%2".to_string()), "[A-Za-z0-9_\\-]{0,80}".prop_map(String::from), ".{0,8}".prop_map(String::from),
                ], 0..24)
            ) {
                let text = parts.concat();
                let s = scanner();
                for m in s.find(text.as_bytes()) {
                    prop_assert!(m.start < m.end && m.end <= text.len());
                }
            }

            #[test]
            fn a_key_among_non_key_bytes_is_found_once_with_its_exact_span(
                key in key(),
                before in non_key_bytes(),
                after in non_key_bytes(),
            ) {
                let s = scanner();
                prop_assume!(!PlaceholderFilter::default().is_placeholder(key.as_bytes()));
                prop_assume!(shannon_entropy(key.as_bytes()) >= 3.5);
                let mut hay = before.clone();
                hay.extend_from_slice(key.as_bytes());
                hay.extend_from_slice(&after);
                let found = s.find(&hay);
                prop_assert_eq!(found.len(), 1, "{:?}", found);
                prop_assert_eq!((found[0].start, found[0].end), (before.len(), before.len() + key.len()));
            }
        }
    }
}
