//! Remote repositories fetched on a few threads ahead of the scan, which takes them one at a time in the order
//! they were named. Fetching is mostly waiting on the network and on the server, so several at once cost little;
//! scanning uses every core on its own.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use crate::source::git::mirror::{self, FetchOptions, Mirror, MirrorError, RemoteUrl};

/// What one fetch gave, and how long it took.
pub struct Fetched {
    pub result: Result<Mirror, MirrorError>,
    pub took: Duration,
}

/// Fetches the URLs given to [`FetchAhead::start`] on `jobs` threads; [`FetchAhead::take_next`] hands each back
/// in order. Dropping it stops the threads from starting more fetches (a fetch under way runs to its end).
pub struct FetchAhead {
    received: Receiver<(usize, Fetched)>,
    ready: BTreeMap<usize, Fetched>,
    /// The index the next `take_next` hands back.
    taken: usize,
    stop: Arc<AtomicBool>,
}

impl FetchAhead {
    /// Starts fetching `urls`, the first ones first.
    pub fn start(urls: Vec<RemoteUrl>, options: FetchOptions, jobs: usize) -> FetchAhead {
        let (send, received) = channel();
        let stop = Arc::new(AtomicBool::new(false));
        let next = Arc::new(AtomicUsize::new(0));
        let urls = Arc::new(urls);
        let options = Arc::new(options);
        for _ in 0..jobs.clamp(1, urls.len().max(1)) {
            let (urls, options, stop, next, send) =
                (urls.clone(), options.clone(), stop.clone(), next.clone(), send.clone());
            // Detached: a fetch under way when the run ends is stopped with the process.
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(url) = urls.get(index) else { break };
                    let started = Instant::now();
                    let result = mirror::sync(url, &options);
                    let fetched = Fetched {
                        result,
                        took: started.elapsed(),
                    };
                    if send.send((index, fetched)).is_err() {
                        break;
                    }
                }
            });
        }
        FetchAhead {
            received,
            ready: BTreeMap::new(),
            taken: 0,
            stop,
        }
    }

    /// The fetch of the next URL, waiting for it if it is not done yet. `None` when every one was taken (or a
    /// thread died).
    pub fn take_next(&mut self) -> Option<Fetched> {
        let index = self.taken;
        self.taken += 1;
        loop {
            if let Some(fetched) = self.ready.remove(&index) {
                return Some(fetched);
            }
            let (done, fetched) = self.received.recv().ok()?;
            self.ready.insert(done, fetched);
        }
    }
}

impl Drop for FetchAhead {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
