//! Reading git objects without trusting them.
//!
//! libgit2 1.9 (vendored by `libgit2-sys` 0.18.8) loops forever on a truncated loose object: its inflate loop
//! retries a zlib stream that can never finish (libgit2 issue 7342, fixed upstream by PR 7346 after 1.9.7; no
//! release of `libgit2-sys` carries the fix yet). Packed objects have their own guard and fail cleanly. So every
//! object keyhound reads goes through [`Objects`]: a loose object is inflated here first (with `flate2`), and only
//! an object whose zlib stream is whole, whose header parses and whose size matches is handed to libgit2. Loose
//! blobs are not read twice: their inflated content is used directly.
//!
//! Remove this once a `libgit2-sys` built on a libgit2 with commit 5254f5dc is released.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use git2::{Blob, Commit, ObjectType, Oid, Repository, Tag, Tree};

use crate::counts::{ErrorKind, ScanError};

/// A git object could not be read: the message names the object and says why.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ObjectError {
    /// `cannot read <kind> <oid>: <reason>`.
    pub message: String,
    pub kind: ErrorKind,
    pub oid: Oid,
    pub reason: String,
}

impl ObjectError {
    fn new(oid: Oid, kind: ErrorKind, reason: impl std::fmt::Display) -> ObjectError {
        let reason = reason.to_string();
        ObjectError {
            message: format!("cannot read {} {oid}: {reason}", kind.as_str()),
            kind,
            oid,
            reason,
        }
    }

    /// The scan error this is, at `place` (the object id, with a path where there is one).
    pub fn scan_error(&self, place: impl Into<String>) -> ScanError {
        ScanError::new(self.kind, place, self.reason.clone())
    }
}

/// The loose objects of a repository (and of its alternates): which object directory holds each.
#[derive(Debug, Default)]
pub struct LooseObjects {
    dirs: Vec<PathBuf>,
    /// Object id to index in `dirs`.
    objects: HashMap<Oid, u16>,
}

impl LooseObjects {
    /// Lists the loose objects of `repo`: one directory listing per fan-out directory.
    pub fn list(repo: &Repository) -> LooseObjects {
        let mut dirs = vec![repo.commondir().join("objects")];
        // Checked when the repository was opened; read with the same bound again, should it have changed since.
        let alternates = dirs[0].join("info").join("alternates");
        if let Ok(text) = crate::input::read_text(&alternates, crate::input::MAX_METADATA_FILE) {
            for line in text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
            {
                let path = Path::new(line);
                dirs.push(if path.is_absolute() {
                    path.to_path_buf()
                } else {
                    dirs[0].join(path)
                });
            }
        }
        let mut objects = HashMap::new();
        for (index, dir) in dirs.iter().enumerate().take(u16::MAX as usize) {
            for fan in super::git_files::fan_out_dirs(dir) {
                // Only git's own lower-case names: `LooseObjects::path` builds them so, and an object in an `AB`
                // directory is not one git or libgit2 would find (the listing takes either case for its checks).
                let Some(fan_hex) = fan
                    .file_name()
                    .and_then(|n| n.to_str())
                    .filter(|n| n.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
                    .map(str::to_string)
                else {
                    continue;
                };
                let Ok(entries) = std::fs::read_dir(&fan) else {
                    continue;
                };
                for entry in entries.flatten() {
                    let name = entry.file_name();
                    let Some(rest) = name.to_str() else { continue };
                    if rest.len() != 38 {
                        continue;
                    }
                    if let Ok(oid) = Oid::from_str(&format!("{fan_hex}{rest}")) {
                        objects.entry(oid).or_insert(index as u16);
                    }
                }
            }
        }
        LooseObjects { dirs, objects }
    }

    /// How many loose objects there are.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    fn path(&self, oid: Oid) -> Option<PathBuf> {
        let dir = &self.dirs[*self.objects.get(&oid)? as usize];
        let hex = oid.to_string();
        Some(dir.join(&hex[..2]).join(&hex[2..]))
    }

    /// Inflates the loose object `oid` (when it is loose) and checks it; `keep` says whether to return the
    /// content.
    fn inflate(&self, oid: Oid, keep: Keep) -> Option<Result<Loose, String>> {
        let path = self.path(oid)?;
        Some(inflate_loose(&path, keep))
    }
}

/// What [`inflate_loose`] keeps of an object's content.
#[derive(Clone, Copy)]
enum Keep {
    /// Nothing: the object is only checked.
    Nothing,
    /// All of it, when it is at most this many bytes; a larger object is not inflated past its header.
    UpTo(u64),
}

/// A loose object, inflated and checked (or only its header read, see [`Keep`]).
struct Loose {
    kind: ObjectType,
    size: usize,
    /// The content, when it was kept.
    content: Option<Vec<u8>>,
}

/// Opens a loose object file if it is a regular file. The open does not wait (`O_NONBLOCK`), so a named pipe put
/// there after the repository was checked is refused, named, instead of blocking the scan.
fn open_regular(path: &Path) -> Result<std::fs::File, String> {
    use std::os::unix::fs::OpenOptionsExt;
    let name = |reason: String| format!("{}: {reason}", path.display());
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| crate::input::describe_io(&e))?;
    let meta = file.metadata().map_err(|e| crate::input::describe_io(&e))?;
    if !meta.is_file() {
        return Err(name(format!(
            "not a regular file ({}), not read",
            crate::input::file_kind(&meta)
        )));
    }
    Ok(file)
}

/// Inflates a loose object file: `<type> <size>\0<content>`, zlib-compressed. The stream must end properly and
/// the content must have the size the header says.
fn inflate_loose(path: &Path, keep: Keep) -> Result<Loose, String> {
    let file = open_regular(path)?;
    let mut decoder = flate2::read::ZlibDecoder::new(std::io::BufReader::new(file));
    let mut header = Vec::with_capacity(32);
    let mut byte = [0u8; 1];
    loop {
        match decoder.read(&mut byte) {
            Ok(0) => return Err("the object's header is cut short".into()),
            Ok(_) if byte[0] == 0 => break,
            Ok(_) if header.len() >= 32 => return Err("the object's header is malformed".into()),
            Ok(_) => header.push(byte[0]),
            Err(e) => return Err(format!("the object is not a valid zlib stream ({e})")),
        }
    }
    let header = String::from_utf8_lossy(&header);
    let (kind, size) = header
        .split_once(' ')
        .and_then(|(kind, size)| Some((ObjectType::from_str(kind)?, size.parse::<usize>().ok()?)))
        .ok_or_else(|| format!("the object's header `{}` is malformed", crate::text::excerpt(&header)))?;
    let mut content = Vec::new();
    let read = match keep {
        Keep::UpTo(max) if size as u64 > max => {
            return Ok(Loose {
                kind,
                size,
                content: None,
            });
        }
        Keep::UpTo(_) => {
            content.reserve(size.min(1 << 30));
            // One byte past the size tells a stream longer than its header says.
            (&mut decoder).take(size as u64 + 1).read_to_end(&mut content)
        }
        Keep::Nothing => std::io::copy(&mut decoder, &mut std::io::sink()).map(|n| n as usize),
    };
    let read = read.map_err(|e| format!("the object is truncated or corrupt ({e})"))?;
    if read != size {
        return Err(format!("the object is truncated or corrupt: {read} of {size} bytes"));
    }
    let content = matches!(keep, Keep::UpTo(_)).then_some(content);
    Ok(Loose { kind, size, content })
}

/// A blob's bytes: inflated here (loose) or read by libgit2 (packed).
pub enum BlobBytes<'r> {
    Loose(Vec<u8>),
    Packed(Blob<'r>),
}

impl BlobBytes<'_> {
    pub fn bytes(&self) -> &[u8] {
        match self {
            BlobBytes::Loose(bytes) => bytes,
            BlobBytes::Packed(blob) => blob.content(),
        }
    }
}

/// Checked access to a repository's objects.
#[derive(Clone, Copy)]
pub struct Objects<'r> {
    pub repo: &'r Repository,
    pub loose: &'r LooseObjects,
}

impl<'r> Objects<'r> {
    pub fn new(repo: &'r Repository, loose: &'r LooseObjects) -> Objects<'r> {
        Objects { repo, loose }
    }

    /// Fails when `oid` is a loose object that libgit2 could not read safely.
    fn check(&self, oid: Oid, kind: ErrorKind) -> Result<(), ObjectError> {
        if self.loose.is_empty() {
            return Ok(());
        }
        match self.loose.inflate(oid, Keep::Nothing) {
            Some(Err(reason)) => Err(ObjectError::new(oid, kind, reason)),
            _ => Ok(()),
        }
    }

    pub fn commit(&self, oid: Oid) -> Result<Commit<'r>, ObjectError> {
        self.check(oid, ErrorKind::Commit)?;
        self.repo
            .find_commit(oid)
            .map_err(|e| ObjectError::new(oid, ErrorKind::Commit, e.message()))
    }

    pub fn tree(&self, oid: Oid) -> Result<Tree<'r>, ObjectError> {
        self.check(oid, ErrorKind::Tree)?;
        self.repo
            .find_tree(oid)
            .map_err(|e| ObjectError::new(oid, ErrorKind::Tree, e.message()))
    }

    pub fn tag(&self, oid: Oid) -> Result<Tag<'r>, ObjectError> {
        self.check(oid, ErrorKind::Tag)?;
        self.repo
            .find_tag(oid)
            .map_err(|e| ObjectError::new(oid, ErrorKind::Tag, e.message()))
    }

    /// The type of the object `oid` (reading only its header). Failing, it is a reference that cannot be followed.
    pub fn kind(&self, oid: Oid) -> Result<ObjectType, ObjectError> {
        let unknown = |reason: String| ObjectError {
            message: format!("cannot read object {oid}: {reason}"),
            kind: ErrorKind::Reference,
            oid,
            reason,
        };
        self.check(oid, ErrorKind::Reference).map_err(|e| unknown(e.reason))?;
        let odb = self.repo.odb().map_err(|e| unknown(e.message().to_string()))?;
        odb.read_header(oid)
            .map(|(_, kind)| kind)
            .map_err(|e| unknown(e.message().to_string()))
    }

    /// Every object id in the object database (loose objects, packs and alternates), each once, and the reason
    /// the listing stopped early, if it did (what was listed before stays usable).
    pub fn all_ids(&self) -> (Vec<Oid>, Option<String>) {
        let odb = match self.repo.odb() {
            Ok(odb) => odb,
            Err(e) => return (Vec::new(), Some(e.message().to_string())),
        };
        let mut ids = Vec::new();
        let stopped = odb
            .foreach(|oid| {
                ids.push(*oid);
                true
            })
            .err()
            .map(|e| e.message().to_string());
        // An object in two packs (or loose and packed) is listed once per copy.
        ids.sort_unstable();
        ids.dedup();
        (ids, stopped)
    }

    /// A blob's size, from its header.
    fn blob_size(&self, oid: Oid) -> Result<u64, ObjectError> {
        let odb = self
            .repo
            .odb()
            .map_err(|e| ObjectError::new(oid, ErrorKind::Blob, e.message()))?;
        // Reading a header inflates only its first bytes, which terminates even on a truncated object.
        odb.read_header(oid)
            .map(|(size, _)| size as u64)
            .map_err(|e| ObjectError::new(oid, ErrorKind::Blob, e.message()))
    }

    /// A blob's content, or `Err(size)` when it is over `max` bytes: such a blob is never read whole (unless it
    /// is at most [`MIN_CEILING`] bytes; it is then read, and dropped).
    pub fn blob_at_most(&self, oid: Oid, max: u64) -> Result<Result<BlobBytes<'r>, u64>, ObjectError> {
        match self.loose.inflate(oid, Keep::UpTo(max)) {
            Some(Ok(Loose {
                kind: ObjectType::Blob,
                size,
                content,
            })) => Ok(content.map(BlobBytes::Loose).ok_or(size as u64)),
            Some(Ok(loose)) => Err(ObjectError::new(
                oid,
                ErrorKind::Blob,
                format!("it is a {} of {} bytes, not a blob", loose.kind, loose.size),
            )),
            Some(Err(reason)) => Err(ObjectError::new(oid, ErrorKind::Blob, reason)),
            None => self.packed_blob_at_most(oid, max),
        }
    }

    /// [`Objects::blob_at_most`] for a packed blob: read in one call, under a ceiling on libgit2's allocations
    /// (see [`super::alloc_ceiling`]); its header is read only when the ceiling was hit, or is not in place.
    fn packed_blob_at_most(&self, oid: Oid, max: u64) -> Result<Result<BlobBytes<'r>, u64>, ObjectError> {
        let failed = |e: git2::Error| ObjectError::new(oid, ErrorKind::Blob, e.message());
        let within = |blob: Blob<'r>| match blob.size() as u64 {
            size if size > max => Err(size),
            _ => Ok(BlobBytes::Packed(blob)),
        };
        if super::alloc_ceiling::install() {
            // The content is allocated with a terminating NUL; below the floor, libgit2's own small
            // allocations (the first read of a pack opens it) would be refused too.
            let ceiling = usize::try_from(max)
                .unwrap_or(usize::MAX)
                .saturating_add(1)
                .max(MIN_CEILING);
            match super::alloc_ceiling::with_ceiling(ceiling, || self.repo.find_blob(oid)) {
                (Ok(blob), _) => return Ok(within(blob)),
                (Err(e), false) => return Err(failed(e)),
                // Refused: the blob is too large, or a delta base it is built from is.
                (Err(_), true) => {}
            }
        }
        let size = self.blob_size(oid)?;
        if size > max {
            return Ok(Err(size));
        }
        self.repo.find_blob(oid).map(within).map_err(failed)
    }
}

/// The smallest ceiling on libgit2's allocations while it reads a blob.
const MIN_CEILING: usize = 1 << 20;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loose_objects_are_listed_only_under_git_s_lower_case_fan_out_names() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let repo = Repository::init_bare(dir.path()).expect("a bare repository");
        let name = "0123456789abcdef0123456789abcdef012345";
        for fan in ["ab", "CD"] {
            std::fs::create_dir_all(dir.path().join("objects").join(fan)).expect("mkdir");
            std::fs::write(dir.path().join("objects").join(fan).join(name), b"x").expect("write");
        }
        let loose = LooseObjects::list(&repo);
        assert_eq!(loose.len(), 1);
        let listed = Oid::from_str(&format!("ab{name}")).expect("an id");
        assert!(loose.path(listed).is_some_and(|p| p.is_file()));
    }

    #[test]
    fn a_loose_object_that_is_a_pipe_is_refused_without_waiting() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo");
        assert!(made.success());
        let error = open_regular(&fifo).expect_err("a named pipe");
        assert!(
            error.ends_with("fifo: not a regular file (a named pipe), not read"),
            "{error}"
        );
    }
}
