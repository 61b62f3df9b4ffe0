//! `--state FILE` over one run of `keyhound git`: what earlier runs scanned and reported, what this one adds, and
//! when the file is written.
//!
//! A repository in which this run found nothing new is recorded as it finishes (at most once a second, so an
//! organisation of thousands does not rewrite the file thousands of times), and a run that stops midway keeps that
//! progress. A repository with new findings is recorded only after the report holding them was written: a state
//! that said "reported" for findings of a report that never came would hide those keys from every later run.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::diag::Diagnostics;
use crate::filter::state::{State, StateError};
use crate::finding::{Finding, Fingerprint};

/// The least time between two writes of the file while the run goes on.
const WRITE_INTERVAL: Duration = Duration::from_secs(1);

pub struct StateRun {
    state: State,
    path: PathBuf,
    /// Repositories with new findings, recorded once the report is written: label, tips, new fingerprints.
    pending: Vec<(String, BTreeSet<String>, Vec<Fingerprint>)>,
    /// Recorded since the file was last written.
    dirty: bool,
    last_write: Option<Instant>,
}

impl StateRun {
    /// The state in `path` (a new one when there is no such file yet).
    pub fn open(path: PathBuf) -> Result<StateRun, StateError> {
        Ok(StateRun {
            state: State::read_or_new(&path)?,
            path,
            pending: Vec::new(),
            dirty: false,
            last_write: None,
        })
    }

    /// The tips an earlier run scanned in the repository `label` (none: scan its whole history).
    pub fn scanned_tips(&self, label: &str) -> Vec<String> {
        self.state
            .repositories
            .get(label)
            .map(|r| r.tips.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Drops from `found` what an earlier run reported, and records the repository as scanned up to `tips`.
    pub fn record(
        &mut self,
        label: &str,
        tips: BTreeSet<String>,
        found: &mut Vec<Finding>,
        diag: &Diagnostics,
    ) -> Result<(), StateError> {
        let before = found.len();
        if let Some(recorded) = self.state.repositories.get(label) {
            found.retain(|f| !recorded.fingerprints.contains(&f.fingerprint));
        }
        if found.len() < before {
            diag.note(format!(
                "{label}: {} finding(s) already reported by an earlier run (--state) are not reported again",
                before - found.len()
            ));
        }
        if !found.is_empty() {
            let fingerprints = found.iter().map(|f| f.fingerprint.clone()).collect();
            self.pending.push((label.to_string(), tips, fingerprints));
            return Ok(());
        }
        let recorded = self.state.repositories.entry(label.to_string()).or_default();
        if recorded.tips != tips {
            recorded.tips = tips;
            self.dirty = true;
        }
        if self.dirty && self.last_write.is_none_or(|at| at.elapsed() >= WRITE_INTERVAL) {
            self.write()?;
        }
        Ok(())
    }

    /// The report was written: every repository scanned is recorded, with what it reported.
    pub fn reported(mut self) -> Result<(), StateError> {
        for (label, tips, fingerprints) in std::mem::take(&mut self.pending) {
            let recorded = self.state.repositories.entry(label).or_default();
            recorded.tips = tips;
            recorded.fingerprints.extend(fingerprints);
            self.dirty = true;
        }
        if self.dirty || !self.path.exists() {
            self.write()?;
        }
        Ok(())
    }

    fn write(&mut self) -> Result<(), StateError> {
        self.state.write(&self.path)?;
        self.dirty = false;
        self.last_write = Some(Instant::now());
        Ok(())
    }
}
