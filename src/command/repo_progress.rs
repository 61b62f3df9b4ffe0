//! Progress over the repositories of one run (an organisation's, say): on a terminal a bar (repositories
//! done/total, bytes fetched, the slowest so far), elsewhere (CI logs, files) one line per repository as it is
//! done; at the end the bytes fetched in all and the slowest repository. Nothing for a single repository or with
//! `--quiet`.

use std::time::Duration;

use indicatif::ProgressBar;

use crate::diag::Diagnostics;

/// What bringing a mirror up to date took: the bytes that came and the time; nothing came when it was up to date.
#[derive(Clone, Copy, Debug)]
pub struct FetchDone {
    pub bytes: u64,
    pub took: Duration,
    pub up_to_date: bool,
}

pub struct RepoProgress<'a> {
    total: usize,
    done: usize,
    /// The current repository's fetch, if it is a remote one.
    fetch: Option<FetchDone>,
    fetched_bytes: u64,
    up_to_date: usize,
    slowest: Option<(String, Duration)>,
    bar: Option<ProgressBar>,
    diag: &'a Diagnostics,
}

impl<'a> RepoProgress<'a> {
    pub fn new(total: usize, diag: &'a Diagnostics) -> RepoProgress<'a> {
        let bar = if total > 1 {
            crate::progress::items_bar(diag.quiet(), total as u64, "repositories")
        } else {
            None
        };
        if let Some(bar) = &bar {
            diag.set_outer_progress(bar.clone());
        }
        RepoProgress {
            total,
            done: 0,
            fetch: None,
            fetched_bytes: 0,
            up_to_date: 0,
            slowest: None,
            bar,
            diag,
        }
    }

    fn active(&self) -> bool {
        self.total > 1 && !self.diag.quiet()
    }

    /// The next repository's fetch, or none (a local one).
    pub fn fetched(&mut self, fetch: Option<FetchDone>) {
        self.fetch = fetch;
        self.fetched_bytes += fetch.map_or(0, |f| f.bytes);
        self.up_to_date += usize::from(fetch.is_some_and(|f| f.up_to_date));
    }

    /// One repository done: the bar moves, or (without a bar) a line is printed.
    fn done_one(&mut self, text: &str) {
        self.done += 1;
        if !self.active() {
            return;
        }
        match &self.bar {
            Some(bar) => {
                bar.set_position(self.done as u64);
                bar.set_message(crate::text::for_message(&self.summary()));
            }
            None => eprintln!(
                "{}",
                crate::text::for_message(&format!("keyhound: [{}/{}] {text}", self.done, self.total))
            ),
        }
    }

    pub fn scanned(&mut self, label: &str, scan: Duration, findings: usize) {
        let time = scan + self.fetch.map_or(Duration::ZERO, |f| f.took);
        if self.slowest.as_ref().is_none_or(|(_, slowest)| time > *slowest) {
            self.slowest = Some((label.to_string(), time));
        }
        let fetched = match self.fetch {
            None => String::new(),
            Some(f) if f.up_to_date => format!(", up to date (asked in {:.1} s)", f.took.as_secs_f64()),
            Some(f) => format!(
                ", fetched {} in {:.1} s",
                bytesize::ByteSize::b(f.bytes),
                f.took.as_secs_f64()
            ),
        };
        let plural = if findings == 1 { "" } else { "s" };
        self.done_one(&format!(
            "{label}: {findings} finding{plural} in {:.1} s{fetched}",
            time.as_secs_f64()
        ));
    }

    pub fn failed(&mut self, label: &str) {
        self.done_one(&format!("{label}: failed"));
    }

    /// Bytes fetched, mirrors already up to date, the slowest repository.
    fn summary(&self) -> String {
        let slowest = self.slowest.as_ref().map_or(String::new(), |(label, time)| {
            format!("; slowest: {label} ({:.1} s)", time.as_secs_f64())
        });
        let up_to_date = if self.up_to_date > 0 {
            format!(" ({} already up to date)", self.up_to_date)
        } else {
            String::new()
        };
        format!(
            "{} fetched{up_to_date}{slowest}",
            bytesize::ByteSize::b(self.fetched_bytes)
        )
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
            self.diag.clear_outer_progress();
        }
        if self.active() {
            self.diag
                .note(format!("{} repositories, {}", self.total, self.summary()));
        }
    }
}
