//! The state of incremental runs (`keyhound git --state FILE`): per repository, the ref tips already scanned and
//! the fingerprints already reported. The next run walks only the commits those tips do not reach, and reports as
//! new only what was not reported before. The file is written whole, beside itself, and renamed over it; when it
//! is written during a run is `command::state_run`'s business.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::finding::Fingerprint;

/// The `kind` of a state file: what tells it from a report.
pub const STATE_KIND: &str = "keyhound-state";
const STATE_VERSION: u32 = 1;

/// What earlier runs scanned, by repository label (the path or URL as reports name it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub format_version: u32,
    pub kind: String,
    pub repositories: BTreeMap<String, RepositoryState>,
}

/// One repository's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositoryState {
    /// The commits the refs pointed at when it was last scanned (hex object ids).
    pub tips: BTreeSet<String>,
    /// Every fingerprint reported in it so far.
    pub fingerprints: BTreeSet<Fingerprint>,
}

/// A state file that cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read the state file: {0}")]
    Read(#[from] crate::input::InputError),
    #[error("{path} is not a keyhound state file: {message}")]
    Format { path: String, message: String },
    #[error("cannot write the state file {path}: {message}")]
    Write { path: String, message: String },
}

impl State {
    pub fn new() -> State {
        State {
            format_version: STATE_VERSION,
            kind: STATE_KIND.to_string(),
            repositories: BTreeMap::new(),
        }
    }

    /// The state in `path`, or an empty one when there is no such file yet (the first run).
    pub fn read_or_new(path: &Path) -> Result<State, StateError> {
        match crate::input::read_regular(path, crate::input::MAX_REPORT_FILE) {
            Ok(bytes) => State::parse(&bytes, &path.display().to_string()),
            Err(err) if err.is_not_found() => Ok(State::new()),
            Err(err) => Err(err.into()),
        }
    }

    /// Parses a state file's bytes; `name` labels errors.
    pub fn parse(bytes: &[u8], name: &str) -> Result<State, StateError> {
        let format = |message: String| StateError::Format {
            path: name.to_string(),
            message,
        };
        let state: State =
            serde_json::from_slice(bytes).map_err(|e| format(crate::text::bounded(&e.to_string(), 200)))?;
        if state.kind != STATE_KIND {
            return Err(format(format!("its kind is not `{STATE_KIND}`")));
        }
        if state.format_version != STATE_VERSION {
            return Err(format(format!(
                "format_version {} is not {STATE_VERSION}",
                state.format_version
            )));
        }
        for (label, repo) in &state.repositories {
            if let Some(bad) = repo.tips.iter().find(|tip| git2::Oid::from_str(tip).is_err()) {
                return Err(format(format!(
                    "{}: `{}` is not an object id",
                    crate::text::excerpt(label),
                    crate::text::excerpt(bad)
                )));
            }
        }
        Ok(state)
    }

    /// Whether a file that begins with `head` (its first few KiB) is a state file rather than a report, for
    /// `keyhound merge`: it says `"kind": "keyhound-state"`. A report never does: the word may stand in a finding's
    /// path or context, but not as the value of a `kind` (a rule's kind is a short word of its own).
    pub fn starts_like_state(head: &[u8]) -> bool {
        static KIND: std::sync::OnceLock<Option<regex::bytes::Regex>> = std::sync::OnceLock::new();
        KIND.get_or_init(|| regex::bytes::Regex::new(&format!(r#""kind"\s*:\s*"{STATE_KIND}""#)).ok())
            .as_ref()
            .is_some_and(|kind| kind.is_match(head))
    }

    /// Adds what `other` records: tips and fingerprints of each repository, united.
    pub fn merge(&mut self, other: State) {
        for (label, repo) in other.repositories {
            let mine = self.repositories.entry(label).or_default();
            mine.tips.extend(repo.tips);
            mine.fingerprints.extend(repo.fingerprints);
        }
    }

    /// Writes the state to `path`, replacing the file whole (never a half-written state).
    pub fn write(&self, path: &Path) -> Result<(), StateError> {
        let text = serde_json::to_string_pretty(self).map_err(|e| StateError::Write {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        crate::output_file::write(path, format!("{text}\n").as_bytes(), 0o644).map_err(|e| StateError::Write {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_merge_and_refuse_what_they_are_not() {
        let mut a = State::new();
        let repo = a.repositories.entry("r".into()).or_default();
        repo.tips.insert("0123456789012345678901234567890123456789".into());
        repo.fingerprints.insert(Fingerprint("f1".into()));
        let text = serde_json::to_vec(&a).unwrap();
        assert!(State::starts_like_state(&text));
        assert_eq!(State::parse(&text, "x").unwrap(), a);
        let mut b = State::new();
        b.repositories
            .entry("r".into())
            .or_default()
            .fingerprints
            .insert(Fingerprint("f2".into()));
        b.repositories.entry("s".into()).or_default();
        a.merge(b);
        assert_eq!(a.repositories["r"].fingerprints.len(), 2);
        assert_eq!(a.repositories.len(), 2);
        assert!(State::parse(br#"{"format_version":1,"kind":"other","repositories":{}}"#, "x").is_err());
        assert!(State::parse(br#"{"format_version":1,"kind":"keyhound-state","repositories":{"r":{"tips":["../x"],"fingerprints":[]}}}"#, "x").is_err());
        assert!(!State::starts_like_state(br#"{"format_version":1,"findings":[]}"#));
        assert!(!State::starts_like_state(
            br#"{"findings":[{"kind":"project","path":"keyhound-state.json"}]}"#
        ));
    }
}
