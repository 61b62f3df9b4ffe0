//! Reading every commit reachable from some tips, on every thread of the pool at once.
//!
//! Which commits there are is only learnt by reading them (a commit names its parents), so the threads share one
//! stack of commits to read. Each thread follows a chain of first parents itself and leaves the other parents of
//! a merge on the shared stack, for whichever thread runs out of work; each commit is claimed by one thread. The
//! result is indexed by id, so that a caller replays its own order over it in memory, whichever thread read what.
//! The threads other than the caller's read through repository handles with pack files of their own (see
//! [`super::open_with_own_packs`]), so that they do not wait on one another's pack locks.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::Path;
use std::sync::{Condvar, Mutex, PoisonError};

use git2::Oid;

use super::objects::{LooseObjects, ObjectError, Objects};
use crate::counts::Counts;
use crate::finding::Finding;

/// Handed each commit as it is read, on the thread that read it, with that thread's counts; what it returns
/// (the findings in the commit's message) is gathered.
pub type OnCommit<'a> = dyn Fn(&git2::Commit<'_>, &mut Counts) -> Vec<Finding> + Sync + 'a;

/// The most threads that read commits. Each helper maps the pack index again, and a history has only so many
/// merges' branches to share out.
const MAX_THREADS: usize = 4;

/// What a history walk needs of a commit.
#[derive(Debug, Clone)]
pub struct ReadCommit {
    pub tree: Oid,
    pub time: i64,
    /// Range into [`ReadCommits::parents`].
    pub parents: Range<u32>,
}

/// Where a commit's outcome is kept.
#[derive(Debug, Clone, Copy)]
pub enum Slot {
    /// Index into [`ReadCommits::read`].
    Read(u32),
    /// Index into [`ReadCommits::failed`].
    Failed(u32),
}

/// Every commit reachable from the tips (not through a hidden commit), read or failed.
#[derive(Debug, Default)]
pub struct ReadCommits {
    pub index: HashMap<Oid, Slot>,
    pub read: Vec<ReadCommit>,
    pub failed: Vec<ObjectError>,
    /// The parent ids of every read commit, flat.
    pub parents: Vec<Oid>,
}

impl ReadCommits {
    pub fn parents_of(&self, commit: &ReadCommit) -> &[Oid] {
        &self.parents[commit.parents.start as usize..commit.parents.end as usize]
    }
}

/// What one thread read.
#[derive(Default)]
struct Part {
    read: Vec<(Oid, ReadCommit)>,
    failed: Vec<(Oid, ObjectError)>,
    parents: Vec<Oid>,
    findings: Vec<Finding>,
    counts: Counts,
}

/// The commits left to read, shared by the threads.
struct Shared {
    stack: Vec<Oid>,
    /// Threads waiting for work; when all are, and the stack is empty, there is none left.
    idle: usize,
    threads: usize,
}

/// Reads every commit reachable from `tips` without going through a commit of `hidden`, on every thread of the
/// pool. Returns them with the findings `on_commit` gave back; counts are added to `counts`.
pub fn read_all(
    objects: &Objects<'_>,
    tips: &[Oid],
    hidden: &HashSet<Oid>,
    on_commit: &OnCommit<'_>,
    counts: &mut Counts,
) -> (ReadCommits, Vec<Finding>) {
    let threads = rayon::current_num_threads().clamp(1, MAX_THREADS);
    let shared = Mutex::new(Shared {
        stack: tips.iter().copied().filter(|tip| !hidden.contains(tip)).collect(),
        idle: 0,
        threads,
    });
    let work = Condvar::new();
    let claimed: Mutex<HashSet<Oid>> = Mutex::new(HashSet::new());
    let reader = Reader {
        shared: &shared,
        work: &work,
        claimed: &claimed,
        hidden,
        on_commit,
    };
    let (git_dir, loose): (&Path, &LooseObjects) = (objects.repo.path(), objects.loose);
    let parts: Vec<Part> = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads)
            .map(|_| {
                let reader = &reader;
                scope.spawn(move || match super::open_with_own_packs(git_dir) {
                    Ok(repo) => reader.run(&Objects::new(&repo, loose)),
                    // This thread reads nothing; the others read what it would have.
                    Err(_) => reader.leave(),
                })
            })
            .collect();
        let mut parts = vec![reader.run(objects)];
        for helper in helpers {
            parts.push(helper.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
        }
        parts
    });
    let mut all = ReadCommits::default();
    let mut findings = Vec::new();
    for part in parts {
        let offset = all.parents.len() as u32;
        all.parents.extend(part.parents);
        for (oid, mut commit) in part.read {
            commit.parents = commit.parents.start + offset..commit.parents.end + offset;
            all.index.insert(oid, Slot::Read(all.read.len() as u32));
            all.read.push(commit);
        }
        for (oid, error) in part.failed {
            all.index.insert(oid, Slot::Failed(all.failed.len() as u32));
            all.failed.push(error);
        }
        findings.extend(part.findings);
        counts.add(part.counts);
    }
    (all, findings)
}

/// What every reading thread shares.
struct Reader<'a, 'c> {
    shared: &'a Mutex<Shared>,
    work: &'a Condvar,
    claimed: &'a Mutex<HashSet<Oid>>,
    hidden: &'a HashSet<Oid>,
    on_commit: &'a OnCommit<'c>,
}

impl Reader<'_, '_> {
    /// Reads commits until none is left to read.
    fn run(&self, objects: &Objects<'_>) -> Part {
        /// Should this thread panic, the others stop waiting for it (its panic is passed on when it is joined).
        struct OnPanic<'r, 'a, 'c>(&'r Reader<'a, 'c>);
        impl Drop for OnPanic<'_, '_, '_> {
            fn drop(&mut self) {
                if std::thread::panicking() {
                    self.0.leave();
                }
            }
        }
        let _on_panic = OnPanic(self);
        let mut part = Part::default();
        let mut next: Option<Oid> = None;
        loop {
            let oid = match next.take() {
                Some(oid) => oid,
                None => match self.take() {
                    Some(oid) => oid,
                    None => return part,
                },
            };
            if !self.claim(oid) {
                continue;
            }
            let commit = match objects.commit(oid) {
                Ok(commit) => commit,
                Err(error) => {
                    part.failed.push((oid, error));
                    continue;
                }
            };
            part.findings.extend((self.on_commit)(&commit, &mut part.counts));
            let start = part.parents.len() as u32;
            let mut others = Vec::new();
            for parent in commit.parent_ids() {
                part.parents.push(parent);
                if self.hidden.contains(&parent) {
                    continue;
                }
                // The first parent is read next, here; the others go to whichever thread is free.
                if next.is_none() {
                    next = Some(parent);
                } else {
                    others.push(parent);
                }
            }
            if !others.is_empty() {
                self.give(others);
            }
            let read = ReadCommit {
                tree: commit.tree_id(),
                time: commit.time().seconds(),
                parents: start..part.parents.len() as u32,
            };
            part.read.push((oid, read));
        }
    }

    /// A thread that cannot read leaves at once (it counts as waiting for good).
    fn leave(&self) -> Part {
        let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        shared.idle += 1;
        self.work.notify_all();
        Part::default()
    }

    /// Whether this thread is the first to claim `oid`.
    fn claim(&self, oid: Oid) -> bool {
        self.claimed.lock().unwrap_or_else(PoisonError::into_inner).insert(oid)
    }

    fn give(&self, oids: Vec<Oid>) {
        let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        shared.stack.extend(oids);
        if shared.idle > 0 {
            self.work.notify_all();
        }
    }

    /// A commit from the shared stack, waiting for one while another thread may still add some; `None` once
    /// every thread is waiting and the stack is empty.
    fn take(&self) -> Option<Oid> {
        let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        shared.idle += 1;
        loop {
            if let Some(oid) = shared.stack.pop() {
                shared.idle -= 1;
                return Some(oid);
            }
            if shared.idle >= shared.threads {
                self.work.notify_all();
                return None;
            }
            shared = self.work.wait(shared).unwrap_or_else(PoisonError::into_inner);
        }
    }
}
