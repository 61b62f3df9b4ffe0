//! The working-tree source: paths on the command line, walked in parallel with the `ignore` crate.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::Ordering;

use globset::GlobSet;
use ignore::{WalkBuilder, WalkState};

use crate::diag::{Diagnostics, ScanStats};
use crate::finding::Finding;
use crate::input::describe_io;
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

/// What every walker thread shares.
struct Walk<'a> {
    scanner: &'a Scanner,
    options: &'a WalkOptions,
    diag: &'a Diagnostics,
    stats: &'a ScanStats,
    progress: Option<indicatif::ProgressBar>,
    found: Mutex<Vec<Finding>>,
}

/// Scans every path (file, directory or `-` for stdin) and returns the findings in a stable order.
pub fn scan_paths(
    scanner: &Scanner,
    paths: &[PathBuf],
    options: &WalkOptions,
    diag: &Diagnostics,
    stats: &ScanStats,
) -> Vec<Finding> {
    let walk = Walk {
        scanner,
        options,
        diag,
        stats,
        progress: diag.progress(),
        found: Mutex::new(Vec::new()),
    };
    let mut roots = Vec::new();
    for path in paths {
        if path.as_os_str() == STDIN_PATH {
            walk.scan_stdin();
        } else if let Err(err) = std::fs::symlink_metadata(path) {
            diag.error(format!("{}: {}", path.display(), describe_io(&err)));
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
            let walk = &walk;
            Box::new(move |entry| {
                match entry {
                    Ok(entry) => walk.visit(&entry, &mut buffer),
                    Err(err) => walk.diag.warn(walk_error_message(&err)),
                }
                WalkState::Continue
            })
        });
    }
    let mut findings = walk.found.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner());
    sort_findings(&mut findings);
    findings
}

/// Sorts by repository, path, position, then rule: reports are the same from run to run whatever the
/// thread timing.
pub fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        (&a.repository, &a.path, a.location, &a.rule_id).cmp(&(&b.repository, &b.path, b.location, &b.rule_id))
    });
}

impl Walk<'_> {
    fn visit(&self, entry: &ignore::DirEntry, buffer: &mut Vec<u8>) {
        let path = entry.path();
        let Some(file_type) = entry.file_type() else { return };
        if file_type.is_dir() {
            return;
        }
        let label = display_path(path);
        if let Some(exclude) = &self.options.exclude
            && exclude.is_match(relative_to_root(path, entry.depth()))
        {
            self.stats.excluded.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if file_type.is_symlink() {
            // Not following links: a link's target is scanned where it lives. A dangling link is worth a word.
            match std::fs::metadata(path) {
                Err(_) => self.diag.warn(format!("{label}: broken symbolic link, skipped")),
                Ok(meta) if entry.depth() == 0 && meta.is_file() => self.read_and_scan(path, &label, buffer),
                Ok(_) => {}
            }
            return;
        }
        if !file_type.is_file() {
            self.diag
                .warn(format!("{label}: not a regular file (device, socket or pipe), skipped"));
            return;
        }
        self.read_and_scan(path, &label, buffer);
    }

    /// Opens the file once and takes its size from the open handle (no second path lookup).
    fn read_and_scan(&self, path: &Path, label: &str, buffer: &mut Vec<u8>) {
        let mut file = match File::open(path) {
            Ok(file) => file,
            Err(err) => {
                self.diag.warn(format!("{label}: {}", describe_io(&err)));
                return;
            }
        };
        let size = match file.metadata() {
            Ok(meta) => meta.len(),
            Err(err) => {
                self.diag.warn(format!("{label}: {}", describe_io(&err)));
                return;
            }
        };
        if size > self.options.max_file_size {
            self.stats.skipped_large.fetch_add(1, Ordering::Relaxed);
            self.diag.note(format!(
                "{label}: skipped, {} is over --max-file-size {}",
                bytesize::ByteSize(size).display().iec(),
                bytesize::ByteSize(self.options.max_file_size).display().iec()
            ));
            return;
        }
        buffer.clear();
        if let Err(err) = file.read_to_end(buffer) {
            self.diag.warn(format!("{label}: {}", describe_io(&err)));
            return;
        }
        self.record(buffer, label);
        if let Some(bar) = &self.progress {
            bar.inc(buffer.len() as u64);
        }
    }

    /// Reads standard input, at most `--max-file-size` of it: a pipe has no size to check beforehand, so a
    /// larger input is read up to the limit, then refused with a warning (nothing of it is reported as clean).
    fn scan_stdin(&self) {
        let mut buffer = Vec::new();
        let max = self.options.max_file_size;
        match std::io::stdin()
            .lock()
            .take(max.saturating_add(1))
            .read_to_end(&mut buffer)
        {
            Ok(_) if buffer.len() as u64 > max => {
                self.stats.skipped_large.fetch_add(1, Ordering::Relaxed);
                self.diag.warn(format!(
                    "{STDIN_LABEL}: not scanned, it is larger than --max-file-size {} (raise the limit to scan it)",
                    bytesize::ByteSize(max).display().iec()
                ));
            }
            Ok(_) => self.record(&buffer, STDIN_LABEL),
            Err(err) => self
                .diag
                .error(format!("cannot read standard input: {}", describe_io(&err))),
        }
    }

    fn record(&self, bytes: &[u8], label: &str) {
        self.stats.add_item(bytes.len() as u64);
        let inspection = inspect(self.scanner, bytes, label, self.options.binary);
        self.stats.record(&inspection);
        if !inspection.findings.is_empty() {
            let mut found = self.found.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            found.extend(inspection.findings);
        }
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
