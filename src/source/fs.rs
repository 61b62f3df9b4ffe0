//! The working-tree source: paths on the command line, walked in parallel with the `ignore` crate.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use globset::GlobSet;
use ignore::{WalkBuilder, WalkState};

use crate::diag::{Diagnostics, ScanStats};
use crate::finding::Finding;
use crate::inspect::{BinaryPolicy, inspect};
use crate::scan::Scanner;

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
    /// Worker threads (0: one per core).
    pub threads: usize,
    /// Files larger than this many bytes are skipped with a note.
    pub max_file_size: u64,
    pub binary: BinaryPolicy,
    /// Paths matching these globs (relative to the scanned root) are not scanned.
    pub exclude: Option<GlobSet>,
}

/// Scans every path (file, directory or `-` for stdin) and returns the findings in a stable order.
pub fn scan_paths(
    scanner: &Scanner,
    paths: &[PathBuf],
    options: &WalkOptions,
    diag: &Diagnostics,
    stats: &ScanStats,
) -> Vec<Finding> {
    let found = Mutex::new(Vec::new());
    let mut roots = Vec::new();
    for path in paths {
        if path.as_os_str() == STDIN_PATH {
            scan_stdin(scanner, options, diag, stats, &found);
        } else if std::fs::symlink_metadata(path).is_err() {
            diag.error(format!("{}: no such file or directory", path.display()));
        } else {
            roots.push(path.clone());
        }
    }
    if let Some((first, rest)) = roots.split_first() {
        let mut builder = WalkBuilder::new(first);
        for root in rest {
            builder.add(root);
        }
        let use_ignores = !options.no_ignore;
        builder
            .hidden(false)
            .ignore(use_ignores)
            .git_ignore(use_ignores)
            .git_global(use_ignores)
            .git_exclude(use_ignores)
            .parents(use_ignores)
            .require_git(false)
            .follow_links(options.follow_links)
            .threads(options.threads)
            .filter_entry(|entry| entry.file_name() != ".git");
        builder.build_parallel().run(|| {
            let mut buffer = Vec::new();
            let found = &found;
            Box::new(move |entry| {
                match entry {
                    Ok(entry) => visit(scanner, &entry, options, diag, stats, &mut buffer, found),
                    Err(err) => diag.warn(walk_error_message(&err)),
                }
                WalkState::Continue
            })
        });
    }
    let mut findings = found.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner());
    sort_findings(&mut findings);
    findings
}

/// Sorts by path, then position, then rule: reports are the same from run to run whatever the thread timing.
pub fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        (&a.repository, &a.path, a.location, &a.rule_id).cmp(&(&b.repository, &b.path, b.location, &b.rule_id))
    });
}

fn visit(
    scanner: &Scanner,
    entry: &ignore::DirEntry,
    options: &WalkOptions,
    diag: &Diagnostics,
    stats: &ScanStats,
    buffer: &mut Vec<u8>,
    found: &Mutex<Vec<Finding>>,
) {
    let path = entry.path();
    let Some(file_type) = entry.file_type() else { return };
    if file_type.is_dir() {
        return;
    }
    let label = display_path(path);
    if let Some(exclude) = &options.exclude
        && exclude.is_match(relative_to_root(path, entry.depth()))
    {
        return;
    }
    if file_type.is_symlink() {
        // Not following links: a link's target is scanned where it lives. A dangling link is worth a word.
        match std::fs::metadata(path) {
            Err(_) => diag.warn(format!("{label}: broken symbolic link, skipped")),
            Ok(meta) if entry.depth() == 0 && meta.is_file() => {
                read_and_scan(scanner, path, &label, meta.len(), options, diag, stats, buffer, found)
            }
            Ok(_) => {}
        }
        return;
    }
    if !file_type.is_file() {
        diag.warn(format!("{label}: not a regular file (device, socket or pipe), skipped"));
        return;
    }
    let size = match entry.metadata() {
        Ok(meta) => meta.len(),
        Err(err) => {
            diag.warn(format!("{label}: {err}"));
            return;
        }
    };
    read_and_scan(scanner, path, &label, size, options, diag, stats, buffer, found);
}

#[allow(clippy::too_many_arguments)]
fn read_and_scan(
    scanner: &Scanner,
    path: &Path,
    label: &str,
    size: u64,
    options: &WalkOptions,
    diag: &Diagnostics,
    stats: &ScanStats,
    buffer: &mut Vec<u8>,
    found: &Mutex<Vec<Finding>>,
) {
    if size > options.max_file_size {
        stats.skipped_large.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        diag.note(format!(
            "{label}: skipped, {} is over --max-file-size {}",
            bytesize::ByteSize(size).display().iec(),
            bytesize::ByteSize(options.max_file_size).display().iec()
        ));
        return;
    }
    buffer.clear();
    let read = File::open(path).and_then(|mut file| file.read_to_end(buffer));
    if let Err(err) = read {
        diag.warn(format!("{label}: {err}"));
        return;
    }
    record(scanner, buffer, label, options, stats, found);
    if let Some(bar) = diag.progress() {
        bar.inc(buffer.len() as u64);
    }
}

fn scan_stdin(
    scanner: &Scanner,
    options: &WalkOptions,
    diag: &Diagnostics,
    stats: &ScanStats,
    found: &Mutex<Vec<Finding>>,
) {
    let mut buffer = Vec::new();
    match std::io::stdin().lock().read_to_end(&mut buffer) {
        Ok(_) => record(scanner, &buffer, STDIN_LABEL, options, stats, found),
        Err(err) => diag.error(format!("cannot read standard input: {err}")),
    }
}

fn record(
    scanner: &Scanner,
    bytes: &[u8],
    label: &str,
    options: &WalkOptions,
    stats: &ScanStats,
    found: &Mutex<Vec<Finding>>,
) {
    stats.add_item(bytes.len() as u64);
    let inspection = inspect(scanner, bytes, label, options.binary);
    if inspection.skipped_binary {
        stats.skipped_binary.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    if inspection.allowed > 0 {
        stats
            .allowed
            .fetch_add(inspection.allowed as u64, std::sync::atomic::Ordering::Relaxed);
    }
    if !inspection.findings.is_empty() {
        let mut found = found.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        found.extend(inspection.findings);
    }
}

/// The path as the user would write it: `src/main.rs` rather than `./src/main.rs`.
pub fn display_path(path: &Path) -> String {
    let text = path.to_string_lossy();
    text.strip_prefix("./")
        .map(str::to_string)
        .unwrap_or_else(|| text.into_owned())
}

/// The last `depth` components of `path`: the path relative to the root it was found under.
fn relative_to_root(path: &Path, depth: usize) -> PathBuf {
    let components: Vec<_> = path.components().collect();
    let keep = depth.min(components.len()).max(1);
    components[components.len() - keep..].iter().collect()
}

fn walk_error_message(err: &ignore::Error) -> String {
    // ignore's messages already name the path ("IO error for operation on X: ...").
    let text = err.to_string();
    if text.contains("File system loop") {
        format!("{text} (symbolic link loop), skipped")
    } else {
        text
    }
}
