//! Writing the files keyhound is told to write (`-o` reports, `--write-baseline`, the pre-commit hook), whole and
//! without following a symbolic link someone else put in their place.
//!
//! keyhound often runs in a checkout an attacker wrote: a pull request can commit `keyhound.sarif` as a symbolic
//! link to a file outside the repository. Opening that path for writing would write through the link. Instead the
//! content goes to a new file created exclusively beside the destination, which is given its mode and then renamed
//! over the destination: a rename replaces a symbolic link, it never follows it. A destination that is neither a
//! regular file nor a symbolic link (a directory, a named pipe, a device) is refused, never opened.
//!
//! Replacing makes a new file: the old file's mode, owner and hard links are not kept.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

/// Owner read/write only: for files that may hold raw secrets.
pub const PRIVATE: u32 = 0o600;
/// Readable by everyone, writable by the owner: reports with redacted secrets, baselines.
pub const SHARED: u32 = 0o644;
/// Executable: the pre-commit hook.
pub const EXECUTABLE: u32 = 0o755;

/// A file that could not be written. The message names the destination and says why, once.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("{path}: {step}: {}", crate::input::describe_io(.error))]
    Io {
        path: PathBuf,
        step: &'static str,
        error: std::io::Error,
    },
    #[error("{path}: not a regular file ({kind}), not replaced")]
    NotRegular { path: PathBuf, kind: &'static str },
}

/// Directories of devices and kernel files. A symbolic link there (`/dev/stdout`, `/dev/fd/3`) is the system's,
/// not a checkout's: it is written through, as the user who named it meant, and never replaced.
const SYSTEM_DIRS: &[&str] = &["/dev", "/proc", "/sys"];

/// A file being written: a temporary file beside the destination until [`OutputFile::persist`] puts it in place,
/// or, for a device or a system link the user named (`/dev/null`, `/dev/stdout`), that device itself. Dropped
/// without `persist`, the temporary file is removed and the destination is untouched.
#[derive(Debug)]
pub struct OutputFile {
    path: PathBuf,
    target: Target,
    mode: u32,
}

#[derive(Debug)]
enum Target {
    Replace(NamedTempFile),
    Stream(File),
}

impl OutputFile {
    /// Starts writing `path`, to be given `mode` (on unix) once written. Fails, before creating anything, when
    /// `path` exists and is neither a regular file, a symbolic link nor a character device (a directory, a
    /// named pipe).
    pub fn create(path: &Path, mode: u32) -> Result<OutputFile, OutputError> {
        let io = |step, error| OutputError::Io {
            path: path.to_path_buf(),
            step,
            error,
        };
        let target = if streams_through(path)? {
            Target::Stream(
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(|e| io("cannot open it", e))?,
            )
        } else {
            Target::Replace(
                tempfile::Builder::new()
                    .prefix(".keyhound-")
                    .suffix(".tmp")
                    .tempfile_in(parent_dir(path))
                    .map_err(|e| io("cannot create a file in its directory", e))?,
            )
        };
        Ok(OutputFile {
            path: path.to_path_buf(),
            target,
            mode,
        })
    }

    /// The destination.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Gives the written file its mode and renames it over the destination (replacing a symbolic link there,
    /// not following it); a device is only flushed.
    pub fn persist(self) -> Result<(), OutputError> {
        let OutputFile { path, target, mode } = self;
        let io = |step, error| OutputError::Io {
            path: path.clone(),
            step,
            error,
        };
        let temp = match target {
            Target::Stream(mut file) => return file.flush().map_err(|e| io("cannot write", e)),
            Target::Replace(temp) => temp,
        };
        set_mode(temp.as_file(), mode).map_err(|e| io("cannot set its mode", e))?;
        temp.as_file().sync_all().map_err(|e| io("cannot write", e))?;
        // Checked again: the destination may have become a directory or a pipe while the file was written.
        streams_through(&path)?;
        temp.persist(&path)
            .map_err(|e| io("cannot rename the temporary file over it", e.error))?;
        Ok(())
    }

    fn file(&mut self) -> &mut File {
        match &mut self.target {
            Target::Replace(temp) => temp.as_file_mut(),
            Target::Stream(file) => file,
        }
    }
}

impl Write for OutputFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file().write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file().flush()
    }
}

/// Writes `contents` to `path` as a whole, with `mode`, the way [`OutputFile`] does.
pub fn write(path: &Path, contents: &[u8], mode: u32) -> Result<(), OutputError> {
    let mut file = OutputFile::create(path, mode)?;
    file.write_all(contents).map_err(|error| OutputError::Io {
        path: path.to_path_buf(),
        step: "cannot write",
        error,
    })?;
    file.persist()
}

/// Whether `path` is written through rather than replaced: a character device (`/dev/null`), or a symbolic
/// link inside the [`SYSTEM_DIRS`] (`/dev/stdout`). A missing path, a regular file or any other link is
/// replaced. Anything else (a directory, a named pipe: git cannot commit one, but a checkout can hold one) is
/// refused: renaming over a directory fails obscurely, and waiting on a pipe would hang.
fn streams_through(path: &Path) -> Result<bool, OutputError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(error) => {
            return Err(OutputError::Io {
                path: path.to_path_buf(),
                step: "cannot look at it",
                error,
            });
        }
    };
    if meta.is_file() {
        return Ok(false);
    }
    if meta.file_type().is_symlink() {
        return Ok(in_system_dir(path));
    }
    if is_char_device(&meta) {
        return Ok(true);
    }
    Err(OutputError::NotRegular {
        path: path.to_path_buf(),
        kind: crate::input::file_kind(&meta),
    })
}

/// Is `path`'s directory (with its links resolved) one of the [`SYSTEM_DIRS`]?
fn in_system_dir(path: &Path) -> bool {
    parent_dir(path)
        .canonicalize()
        .is_ok_and(|dir| SYSTEM_DIRS.iter().any(|system| dir.starts_with(system)))
}

#[cfg(unix)]
fn is_char_device(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt;
    meta.file_type().is_char_device()
}

#[cfg(not(unix))]
fn is_char_device(_meta: &std::fs::Metadata) -> bool {
    false
}

/// The directory `path` is in: `.` for a bare file name.
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

#[cfg(unix)]
fn set_mode(file: &File, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_file: &File, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};

    use super::*;

    fn mode_of(path: &Path) -> u32 {
        std::fs::symlink_metadata(path).expect("metadata").permissions().mode() & 0o7777
    }

    #[test]
    fn a_symlink_at_the_destination_is_replaced_not_followed() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let outside = dir.path().join("outside");
        std::fs::write(&outside, "keep me\n").expect("write");
        std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let link = dir.path().join("report.sarif");
        std::os::unix::fs::symlink(&outside, &link).expect("symlink");

        write(&link, b"report\n", PRIVATE).expect("written");
        assert_eq!(std::fs::read_to_string(&outside).expect("read"), "keep me\n");
        assert_eq!(mode_of(&outside), 0o755);
        assert!(std::fs::symlink_metadata(&link).expect("metadata").is_file());
        assert_eq!(std::fs::read_to_string(&link).expect("read"), "report\n");
        assert_eq!(mode_of(&link), PRIVATE);

        write(&link, b"again\n", SHARED).expect("replaced");
        assert_eq!(mode_of(&link), SHARED);
        let left: Vec<_> = std::fs::read_dir(dir.path()).expect("list").collect();
        assert_eq!(left.len(), 2, "no temporary file is left behind");
    }

    #[test]
    fn directories_and_pipes_are_refused_and_named() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).expect("mkdir");
        let err = write(&sub, b"x", SHARED).expect_err("a directory");
        assert_eq!(
            err.to_string(),
            format!("{}: not a regular file (a directory), not replaced", sub.display())
        );
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo");
        assert!(made.success());
        let err = write(&fifo, b"x", SHARED).expect_err("a named pipe");
        assert!(
            err.to_string()
                .ends_with("fifo: not a regular file (a named pipe), not replaced"),
            "{err}"
        );
        // The system's devices and links are written through, not replaced.
        write(Path::new("/dev/null"), b"x", SHARED).expect("/dev/null");
        assert!(
            std::fs::symlink_metadata("/dev/null")
                .expect("metadata")
                .file_type()
                .is_char_device()
        );
        let missing = dir.path().join("no/such/dir/file");
        let err = write(&missing, b"x", SHARED).expect_err("no directory");
        assert!(err.to_string().starts_with(&missing.display().to_string()), "{err}");
        assert!(err.to_string().contains("no such file or directory"), "{err}");
    }

    #[test]
    fn a_file_dropped_unpersisted_leaves_nothing() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let path = dir.path().join("out.json");
        let mut file = OutputFile::create(&path, SHARED).expect("create");
        file.write_all(b"partial").expect("write");
        drop(file);
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 0);
    }
}
