//! The working-tree source: paths on the command line, walked in parallel with the `ignore` crate.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use globset::GlobSet;
use ignore::{WalkBuilder, WalkState};

use crate::counts::{Counts, ErrorKind, Oversize, ScanError};
use crate::diag::Diagnostics;
use crate::finding::Finding;
use crate::input::{InputError, describe_io};
pub use crate::paths::display_path;
use crate::scan::Scanner;
use crate::source::ignore_files;
use crate::source::read_buffer::ReadBuffer;

/// The path that means standard input.
pub const STDIN_PATH: &str = "-";
/// How findings read from standard input are labelled.
pub const STDIN_LABEL: &str = "<stdin>";

/// How to walk and what to read.
#[derive(Debug, Clone)]
pub struct WalkOptions {
    /// Scan files that `.gitignore`, `.ignore` and git's excludes would hide.
    pub no_ignore: bool,
    /// Follow symbolic links.
    pub follow_links: bool,
    /// Worker threads (0: one per core, at most 12: the `ignore` crate's default).
    pub threads: usize,
    /// Files larger than this many bytes are skipped with a note.
    pub max_file_size: u64,
    /// Binary policy, decoding and archives.
    pub content: crate::content::Options,
    /// Paths matching these globs (relative to the scanned root) are not scanned.
    pub exclude: Option<GlobSet>,
}

/// What every walker thread shares.
struct Walk<'a> {
    scanner: &'a Scanner,
    options: &'a WalkOptions,
    diag: &'a Diagnostics,
    progress: Option<indicatif::ProgressBar>,
    /// Each thread's findings and counts, handed in when the thread is done.
    results: Mutex<(Vec<Finding>, Counts)>,
}

/// One walker thread's findings and counts; handed to the [`Walk`] when dropped.
struct Visitor<'w, 'a> {
    walk: &'w Walk<'a>,
    /// How far below the roots named this walk's roots are (see [`Rules`]).
    depth: usize,
    found: Vec<Finding>,
    counts: Counts,
    buffer: ReadBuffer,
}

impl Drop for Visitor<'_, '_> {
    fn drop(&mut self) {
        let mut results = self.walk.results.lock().unwrap_or_else(|p| p.into_inner());
        results.0.append(&mut self.found);
        results.1.add(std::mem::take(&mut self.counts));
    }
}

/// Scans every path (file, directory or `-` for stdin); returns the findings in a stable order, and the counts.
pub fn scan_paths(
    scanner: &Scanner,
    paths: &[PathBuf],
    options: &WalkOptions,
    diag: &Diagnostics,
) -> (Vec<Finding>, Counts) {
    let walk = Walk {
        scanner,
        options,
        diag,
        progress: diag.progress(),
        results: Mutex::new((Vec::new(), Counts::default())),
    };
    let use_ignores = !options.no_ignore;
    let mut roots = Vec::new();
    // Directories scanned without ignore rules (see `ignore_files`), with their depth below the root named.
    let mut unruled = Vec::new();
    {
        let mut visitor = walk.visitor(0);
        for path in paths {
            if path.as_os_str() == STDIN_PATH {
                visitor.scan_stdin();
            } else if let Err(err) = std::fs::symlink_metadata(path) {
                visitor.counts.fail(
                    diag,
                    ScanError::new(ErrorKind::File, display_path(path), describe_io(&err)),
                );
            } else if let Err(error) = root_ignore_files(path, use_ignores) {
                warn_unruled(diag, path, &error);
                unruled.push((path.clone(), 0));
            } else {
                roots.push(path.clone());
            }
        }
    }
    let rules = if use_ignores {
        Rules::All {
            global: global_excludes_usable(diag),
            unruled: Arc::default(),
        }
    } else {
        Rules::None
    };
    walk_roots(&walk, &roots, &rules, 0);
    if let Rules::All { unruled: found, .. } = &rules {
        let mut found = std::mem::take(&mut *found.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
        found.sort_by(|a, b| a.0.cmp(&b.0));
        for (dir, depth, error) in found {
            warn_unruled(diag, &dir, &error);
            unruled.push((dir, depth));
        }
    }
    for (dir, depth) in unruled {
        walk_roots(&walk, &[dir], &Rules::None, depth);
    }
    let (mut findings, counts) = walk
        .results
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    sort_findings(&mut findings);
    (findings, counts)
}

/// Which ignore rules a walk follows.
enum Rules {
    /// None: no ignore file is read.
    None,
    /// `.gitignore`, `.ignore`, git's excludes (the global ones when `global`), in the roots and above them. A
    /// directory whose ignore files are not regular files of bounded size is not entered; it goes to `unruled`
    /// (with its depth) to be walked again without rules.
    All {
        global: bool,
        unruled: Arc<Mutex<Vec<(PathBuf, usize, InputError)>>>,
    },
}

/// Walks `roots` in parallel, `depth` levels below the roots named on the command line.
fn walk_roots(walk: &Walk<'_>, roots: &[PathBuf], rules: &Rules, depth: usize) {
    let Some((first, rest)) = roots.split_first() else {
        return;
    };
    let mut builder = WalkBuilder::new(first);
    for root in rest {
        builder.add(root);
    }
    let (use_ignores, global) = match rules {
        Rules::None => (false, false),
        Rules::All { global, .. } => (true, *global),
    };
    let unruled = match rules {
        Rules::All { unruled, .. } => Some(Arc::clone(unruled)),
        Rules::None => None,
    };
    builder
        .hidden(false)
        .ignore(use_ignores)
        .git_ignore(use_ignores)
        .git_global(global)
        .git_exclude(use_ignores)
        .parents(use_ignores)
        .require_git(false)
        .follow_links(walk.options.follow_links)
        .threads(walk.options.threads)
        // Called for each directory before the walker reads its ignore files.
        .filter_entry(move |entry| {
            if entry.file_name() == ".git" {
                return false;
            }
            let Some(unruled) = &unruled else { return true };
            if !entry.file_type().is_some_and(|kind| kind.is_dir()) {
                return true;
            }
            match ignore_files::check_dir(entry.path()) {
                Ok(()) => true,
                Err(error) => {
                    let mut unruled = unruled.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                    unruled.push((entry.path().to_path_buf(), depth + entry.depth(), error));
                    false
                }
            }
        });
    builder.build_parallel().run(|| {
        let mut visitor = walk.visitor(depth);
        Box::new(move |entry| {
            match entry {
                Ok(entry) => visitor.visit(&entry),
                Err(err) => visitor.walk_error(&err),
            }
            WalkState::Continue
        })
    });
}

/// Checks the ignore files the walk would read for the root `path` and the directories above it.
fn root_ignore_files(path: &Path, use_ignores: bool) -> Result<(), InputError> {
    if use_ignores && path.is_dir() {
        ignore_files::check_root_and_parents(path)
    } else {
        Ok(())
    }
}

/// Says that `dir` is scanned without ignore rules, and why.
fn warn_unruled(diag: &Diagnostics, dir: &Path, error: &InputError) {
    diag.warn(format!(
        "{error}; {} is scanned without ignore rules",
        display_path(dir)
    ));
}

/// Are the global git configs and excludes file safe for the `ignore` crate to read? If not, a warning says which
/// and the walk goes on without the global excludes.
fn global_excludes_usable(diag: &Diagnostics) -> bool {
    match ignore_files::check_global() {
        Ok(()) => true,
        Err(error) => {
            diag.warn(format!("{error}; the global git excludes are not used"));
            false
        }
    }
}

/// Sorts by repository, path, position, then rule: reports are the same from run to run whatever the
/// thread timing.
pub fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        (&a.repository, &a.path, a.location, &a.rule_id).cmp(&(&b.repository, &b.path, b.location, &b.rule_id))
    });
}

impl<'a> Walk<'a> {
    /// A visitor for a walk whose roots are `depth` levels below the roots named.
    fn visitor(&self, depth: usize) -> Visitor<'_, 'a> {
        Visitor {
            walk: self,
            depth,
            found: Vec::new(),
            counts: Counts::default(),
            buffer: ReadBuffer::default(),
        }
    }
}

impl Visitor<'_, '_> {
    fn visit(&mut self, entry: &ignore::DirEntry) {
        let walk = self.walk;
        let path = entry.path();
        let Some(file_type) = entry.file_type() else { return };
        if file_type.is_dir() {
            return;
        }
        let label = display_path(path);
        if let Some(exclude) = &walk.options.exclude
            && exclude.is_match(relative_to_root(path, self.depth + entry.depth()))
        {
            self.counts.excluded += 1;
            return;
        }
        if file_type.is_symlink() {
            // Not following links: a link's target is scanned where it lives. A dangling link has nothing to
            // read (it is not a scan error), but is worth a warning.
            match std::fs::metadata(path) {
                Err(_) => walk.diag.warn(format!("{label}: broken symbolic link, skipped")),
                Ok(meta) if self.depth + entry.depth() == 0 && meta.is_file() => self.read_and_scan(path, &label),
                Ok(_) => {}
            }
            return;
        }
        if !file_type.is_file() {
            walk.diag
                .warn(format!("{label}: not a regular file (device, socket or pipe), skipped"));
            return;
        }
        self.read_and_scan(path, &label);
    }

    /// A directory that could not be listed, a symbolic-link loop: a file-kind scan error.
    fn walk_error(&mut self, err: &ignore::Error) {
        let (place, reason) = walk_error_parts(err);
        self.counts
            .fail(self.walk.diag, ScanError::new(ErrorKind::File, place, reason));
    }

    /// Opens the file once and takes its size from the open handle (no second path lookup).
    fn read_and_scan(&mut self, path: &Path, label: &str) {
        let walk = self.walk;
        let unreadable = |counts: &mut Counts, err: std::io::Error| {
            counts.fail(walk.diag, ScanError::new(ErrorKind::File, label, describe_io(&err)));
        };
        let mut file = match File::open(path) {
            Ok(file) => file,
            Err(err) => return unreadable(&mut self.counts, err),
        };
        let size = match file.metadata() {
            Ok(meta) => meta.len(),
            Err(err) => return unreadable(&mut self.counts, err),
        };
        let too_large = |counts: &mut Counts, oversize: Oversize| {
            counts.too_large += 1;
            let reason = crate::counts::over_max_file_size(oversize, walk.options.max_file_size);
            counts.fail(walk.diag, ScanError::new(ErrorKind::File, label, reason));
        };
        if size > walk.options.max_file_size {
            return too_large(&mut self.counts, Oversize::Of(size));
        }
        let mut buffer = std::mem::take(&mut self.buffer);
        match buffer.read_file(&mut file, size, walk.options.max_file_size) {
            Ok(Some(bytes)) => {
                self.record(bytes, label);
                if let Some(bar) = &walk.progress {
                    bar.inc(bytes.len() as u64);
                }
            }
            Ok(None) => too_large(&mut self.counts, Oversize::Grew),
            Err(err) => unreadable(&mut self.counts, err),
        }
        self.buffer = buffer;
    }

    /// Reads standard input, at most `--max-file-size` of it: a pipe has no size to check beforehand, so a
    /// larger input is read up to the limit, then refused (nothing of it is reported as clean).
    fn scan_stdin(&mut self) {
        let mut buffer = ReadBuffer::default();
        let max = self.walk.options.max_file_size;
        match buffer.read_stream(std::io::stdin().lock(), max) {
            Ok(None) => {
                self.counts.too_large += 1;
                let reason = crate::counts::over_max_file_size(Oversize::Stream, max);
                self.counts
                    .fail(self.walk.diag, ScanError::new(ErrorKind::Input, STDIN_LABEL, reason));
            }
            Ok(Some(bytes)) => self.record(bytes, STDIN_LABEL),
            Err(err) => self.counts.fail(
                self.walk.diag,
                ScanError::new(ErrorKind::Input, STDIN_LABEL, describe_io(&err)),
            ),
        }
    }

    fn record(&mut self, bytes: &[u8], label: &str) {
        let walk = self.walk;
        let found = crate::content::scan(
            walk.scanner,
            bytes,
            label,
            &walk.options.content,
            &mut self.counts,
            walk.diag,
            None,
        );
        self.found.extend(found);
    }
}

/// The last `depth` components of `path`: the path relative to the root it was found under.
fn relative_to_root(path: &Path, depth: usize) -> PathBuf {
    let components: Vec<_> = path.components().collect();
    let keep = depth.min(components.len()).max(1);
    components[components.len() - keep..].iter().collect()
}

/// Where a walk error happened and why. ignore's messages read "IO error for operation on X: ...".
fn walk_error_parts(err: &ignore::Error) -> (String, String) {
    let mut inner = err;
    let mut path = None;
    loop {
        match inner {
            ignore::Error::WithPath { path: p, err } => {
                path = Some(display_path(p));
                inner = err;
            }
            ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => inner = err,
            ignore::Error::Io(io) => return (path.unwrap_or_default(), describe_io(io)),
            ignore::Error::Loop { child, .. } => {
                return (
                    display_path(child),
                    "a symbolic link loop (it leads back to a directory above it), not followed".into(),
                );
            }
            other => return (path.unwrap_or_default(), other.to_string()),
        }
    }
}
