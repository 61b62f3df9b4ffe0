//! One layer, streamed: its blob (checked against its digest as it is read), decompressed (gzip, zstd or none,
//! told by its first bytes), read as a tar, each file handed to the content stage. What the layer deletes from
//! the layers below (whiteouts, opaque directories) and which files it writes are kept, so that findings of lower
//! layers can say the final image no longer has them.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};
use std::sync::{Arc, Mutex, MutexGuard};

use sha2::{Digest, Sha256};

use super::store::{Store, normal_name};
use super::{Blob, ImageOptions};
use crate::counts::{Counts, ErrorKind, Oversize, ScanError};
use crate::diag::Diagnostics;
use crate::finding::Finding;
use crate::scan::Scanner;

/// What scanning one layer found.
#[derive(Default)]
pub struct LayerScan {
    /// Each finding with the path of the layer file it is in (a finding's own path may go on into an archive).
    pub findings: Vec<(String, Finding)>,
    /// The regular files (and links) the layer writes.
    pub files: HashSet<String>,
    /// The paths the layer's whiteouts delete from the layers below.
    pub whiteouts: HashSet<String>,
    /// The directories the layer makes opaque: everything below them in lower layers is gone.
    pub opaque: HashSet<String>,
    pub counts: Counts,
}

/// How many bytes of files may wait for a scanning thread while the layer is read on; past that a file is
/// scanned on the reading thread itself (never waiting, so no two threads wait on each other).
const IN_FLIGHT: usize = 64 << 20;

/// More members than any real layer holds (a layer of node_modules has a few hundred thousand): past it the layer
/// is given up, so that a tar bomb of empty files cannot fill memory with their paths.
const MAX_MEMBERS: usize = 2_000_000;

/// Scans the layer `blob` of `store`.
pub fn scan_layer(
    scanner: &Scanner,
    store: &dyn Store,
    blob: &Blob,
    options: &ImageOptions,
    diag: &Diagnostics,
) -> LayerScan {
    let results = Mutex::new(LayerScan::default());
    let in_flight = Arc::new(Mutex::new(0usize));
    let fail = |results: &Mutex<LayerScan>, reason: String| {
        let mut results = lock(results);
        results
            .counts
            .fail(diag, ScanError::new(ErrorKind::Layer, layer_place(store, blob), reason));
    };
    let reader = match store.open(&blob.locator) {
        Ok(reader) => reader,
        Err(err) => {
            fail(&results, err.message);
            return results.into_inner().unwrap_or_else(|p| p.into_inner());
        }
    };
    let check = Arc::new(Mutex::new(BlobCheck::new(blob)));
    let checked = Checked {
        inner: reader,
        check: Arc::clone(&check),
        progress: diag.progress(),
    };
    rayon::scope(|scope| {
        let mut buffered = BufReader::with_capacity(256 << 10, checked);
        let magic = buffered.fill_buf().map(|b| b.get(..4).unwrap_or(b).to_vec());
        let magic = match magic {
            Ok(magic) => magic,
            Err(err) => return fail(&results, format!("cannot read the layer: {err}")),
        };
        let decoded: Box<dyn Read + Send> = if magic.starts_with(&[0x1f, 0x8b]) {
            Box::new(flate2::read::MultiGzDecoder::new(buffered))
        } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            match zstd::stream::read::Decoder::with_buffer(buffered) {
                Ok(decoder) => Box::new(decoder),
                Err(err) => return fail(&results, format!("cannot start reading the zstd layer: {err}")),
            }
        } else {
            Box::new(buffered)
        };
        let limited = Expanded::new(decoded, options.max_layer_size);
        let mut archive = tar::Archive::new(limited);
        let entries = match archive.entries_with_seek() {
            Ok(entries) => entries,
            Err(err) => return fail(&results, format!("not a tar layer: {err}")),
        };
        for (count, entry) in entries.enumerate() {
            if count == MAX_MEMBERS {
                return fail(
                    &results,
                    format!("the layer has more than {MAX_MEMBERS} members: the rest is not scanned (a tar bomb?)"),
                );
            }
            let mut entry = match entry {
                Ok(entry) => entry,
                Err(err) => {
                    return fail(
                        &results,
                        format!("the layer cannot be read on (files after this point are not scanned): {err}"),
                    );
                }
            };
            let path = layer_path(&entry.path_bytes());
            let kind = entry.header().entry_type();
            let name = path.rsplit('/').next().unwrap_or(&path);
            if let Some(deleted) = name.strip_prefix(".wh.") {
                let dir = path.rsplit_once('/').map_or("", |(dir, _)| dir);
                let mut results = lock(&results);
                if deleted == ".wh..opq" {
                    results.opaque.insert(dir.to_string());
                } else {
                    results.whiteouts.insert(join(dir, deleted));
                }
                continue;
            }
            if !matches!(
                kind,
                tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::Link | tar::EntryType::Symlink
            ) {
                continue;
            }
            lock(&results).files.insert(path.clone());
            if !matches!(kind, tar::EntryType::Regular | tar::EntryType::Continuous) {
                continue;
            }
            if options.exclude.as_ref().is_some_and(|set| set.is_match(&path)) {
                lock(&results).counts.excluded += 1;
                continue;
            }
            let size = entry.size();
            if size > options.max_file_size {
                let mut results = lock(&results);
                results.counts.too_large += 1;
                let reason = crate::counts::over_max_file_size(Oversize::Of(size), options.max_file_size);
                results.counts.fail(
                    diag,
                    ScanError::new(ErrorKind::Layer, file_place(store, blob, &path), reason),
                );
                continue;
            }
            // The size is the header's word: a lying header cannot make this allocate more than the stream holds.
            let mut bytes = Vec::with_capacity((size as usize).min(1 << 20));
            if let Err(err) = entry.read_to_end(&mut bytes) {
                return fail(
                    &results,
                    format!("the layer ends inside {path} (files after it are not scanned): {err}"),
                );
            }
            let len = bytes.len();
            let queued = {
                let mut waiting = lock(&in_flight);
                if *waiting + len <= IN_FLIGHT {
                    *waiting += len;
                    true
                } else {
                    false
                }
            };
            let results = &results;
            let scan_file = move |bytes: Vec<u8>, path: String| {
                let mut counts = Counts::default();
                let found = crate::content::scan(scanner, &bytes, &path, &options.content, &mut counts, diag, None);
                let mut results = lock(results);
                results.counts.add(counts);
                results.findings.extend(found.into_iter().map(|f| (path.clone(), f)));
            };
            if queued {
                let in_flight = Arc::clone(&in_flight);
                scope.spawn(move |_| {
                    scan_file(bytes, path);
                    *lock(&in_flight) -= len;
                });
            } else {
                scan_file(bytes, path);
            }
        }
        // The rest of the stream (the tar's end blocks, the compressor's trailer) is read so that the digest is
        // checked over the whole blob.
        match std::io::copy(&mut archive.into_inner(), &mut std::io::sink()) {
            Ok(_) => {
                // Read whole: now its digest and length can be judged.
                let verdict = lock(&check).verdict();
                if let Err(reason) = verdict {
                    fail(&results, reason);
                }
            }
            Err(err) => fail(&results, format!("cannot read the end of the layer: {err}")),
        }
    });
    results.into_inner().unwrap_or_else(|p| p.into_inner())
}

/// The value behind `mutex`, also after a thread that held it panicked (what it holds stays usable).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How a layer is named in scan errors: its digest, in the image it came from.
fn layer_place(store: &dyn Store, blob: &Blob) -> String {
    format!("{} layer {}", store.label(), blob.digest)
}

/// A file of a layer, in scan errors.
fn file_place(store: &dyn Store, blob: &Blob, path: &str) -> String {
    format!("{}!{path}", layer_place(store, blob))
}

/// A tar member's path as findings show it (see [`normal_name`]).
pub fn layer_path(raw: &[u8]) -> String {
    normal_name(&String::from_utf8_lossy(raw))
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// What reading a blob showed about it: its digest and length against what the manifest says.
struct BlobCheck {
    hasher: Option<Sha256>,
    expected: String,
    declared: Option<u64>,
    read: u64,
}

impl BlobCheck {
    fn new(blob: &Blob) -> BlobCheck {
        BlobCheck {
            hasher: blob.digest.starts_with("sha256:").then(Sha256::new),
            expected: blob.digest.clone(),
            declared: blob.size,
            read: 0,
        }
    }

    fn verdict(&mut self) -> Result<(), String> {
        if let Some(declared) = self.declared
            && self.read != declared
        {
            return Err(format!(
                "the layer blob holds {} bytes, its manifest says {declared}: the image is corrupt or was tampered with",
                self.read
            ));
        }
        if let Some(hasher) = self.hasher.take() {
            let digest = format!("sha256:{:x}", hasher.finalize());
            if digest != self.expected {
                return Err(format!(
                    "the layer blob's digest is {digest}, not {}: the image is corrupt or was tampered with \
                     (what was found in it is still reported)",
                    self.expected
                ));
            }
        }
        Ok(())
    }
}

/// A blob's reader that hashes and counts what passes, and stops at the size the manifest declares.
struct Checked<R> {
    inner: R,
    check: Arc<Mutex<BlobCheck>>,
    progress: Option<indicatif::ProgressBar>,
}

impl<R: Read> Read for Checked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut check = lock(&self.check);
        check.read += n as u64;
        if let Some(declared) = check.declared
            && check.read > declared
        {
            return Err(std::io::Error::other(format!(
                "the layer blob holds more than the {declared} bytes its manifest says"
            )));
        }
        if let Some(hasher) = check.hasher.as_mut() {
            hasher.update(&buf[..n]);
        }
        if let Some(bar) = &self.progress {
            bar.inc(n as u64);
        }
        Ok(n)
    }
}

/// A decompressed layer's reader that stops at `--max-layer-size` (a decompression bomb).
struct Expanded<R> {
    inner: R,
    left: u64,
    max: u64,
    /// Where bytes passed over are read to (see the `Seek` implementation).
    discard: Vec<u8>,
}

impl<R> Expanded<R> {
    fn new(inner: R, max: u64) -> Expanded<R> {
        Expanded {
            inner,
            left: max,
            max,
            discard: Vec::new(),
        }
    }
}

/// Seeks forward only, by reading on and dropping what is read: how the tar reader passes over a member's
/// padding and what of it was not read. (Without a seek, it reads them into a 32 KiB buffer that it zeroes
/// each time: most of the time spent on a layer of many small files.) The position is the bytes read so far.
impl<R: Read> std::io::Seek for Expanded<R> {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        let std::io::SeekFrom::Current(ahead @ 0..) = pos else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "a layer is read forward only",
            ));
        };
        let mut discard = std::mem::take(&mut self.discard);
        discard.resize(32 * 1024, 0);
        let mut left = ahead.unsigned_abs();
        let mut result = Ok(());
        while left > 0 {
            let chunk = usize::try_from(left).map_or(discard.len(), |left| left.min(discard.len()));
            match self.read(&mut discard[..chunk]) {
                Ok(0) => {
                    // As the tar reader says it when it reads on itself.
                    result = Err(std::io::Error::other("unexpected EOF during skip"));
                    break;
                }
                Ok(n) => left -= n as u64,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                Err(err) => {
                    result = Err(err);
                    break;
                }
            }
        }
        self.discard = discard;
        result.map(|()| self.max - self.left)
    }
}

impl<R: Read> Read for Expanded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            // One byte more tells a layer of exactly the limit from a larger one.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(std::io::Error::other(format!(
                    "the layer expands past --max-layer-size {} (a decompression bomb?)",
                    bytesize::ByteSize(self.max)
                ))),
            };
        }
        let want = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_paths_are_relative_and_keep_what_they_say() {
        assert_eq!(layer_path(b"./app/.env"), "app/.env");
        assert_eq!(layer_path(b"/etc//passwd"), "etc/passwd");
        assert_eq!(layer_path(b"../../x"), "../../x");
        assert_eq!(layer_path(b"a\x1b[31m"), "a\x1b[31m");
    }

    #[test]
    fn expansion_stops_at_the_limit() {
        let data = [0u8; 100];
        let mut reader = Expanded::new(&data[..], 100);
        assert_eq!(std::io::copy(&mut reader, &mut std::io::sink()).unwrap(), 100);
        let mut reader = Expanded::new(&data[..], 99);
        assert!(std::io::copy(&mut reader, &mut std::io::sink()).is_err());
    }

    #[test]
    fn a_layer_seeks_forward_by_reading_on_within_the_limit() {
        use std::io::{Seek, SeekFrom};
        let data: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
        let mut reader = Expanded::new(&data[..], 100_000);
        assert_eq!(reader.seek(SeekFrom::Current(70_000)).expect("forward"), 70_000);
        let mut byte = [0u8];
        reader.read_exact(&mut byte).expect("read");
        assert_eq!(byte[0], data[70_000]);
        assert_eq!(reader.stream_position().expect("where"), 70_001);
        for backwards in [SeekFrom::Current(-1), SeekFrom::Start(0), SeekFrom::End(0)] {
            let err = reader.seek(backwards).expect_err("forward only");
            assert_eq!(err.kind(), std::io::ErrorKind::Unsupported);
        }
        let past = reader.seek(SeekFrom::Current(40_000)).expect_err("past the end");
        assert_eq!(past.to_string(), "unexpected EOF during skip");
        // Seeking counts against the limit as reading does.
        let mut reader = Expanded::new(&data[..], 50_000);
        let bomb = reader.seek(SeekFrom::Current(60_000)).expect_err("past the limit");
        assert!(bomb.to_string().contains("--max-layer-size"), "{bomb}");
    }
}
