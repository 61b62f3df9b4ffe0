//! Where an image's files and blobs are read from: an OCI image layout directory, a tar archive (`docker save`,
//! or an OCI layout in a tar), or a registry ([`super::registry`]).

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::ImageError;

/// A source of an image's files (`index.json`, `manifest.json`) and blobs.
pub trait Store: Send + Sync {
    /// What the user named, for messages.
    fn label(&self) -> &str;
    /// Whether the store has the file at `path` (a file of a layout or an archive; a registry has none).
    fn has(&self, path: &str) -> bool;
    /// Reads the file at `path` whole; more than `limit` bytes is an error.
    fn read(&self, path: &str, limit: u64) -> Result<Vec<u8>, ImageError>;
    /// Opens the file at `path` to stream it.
    fn open(&self, path: &str) -> Result<Box<dyn Read + Send + '_>, ImageError>;
}

/// Reads at most `limit` bytes of `reader`, failing past that.
pub fn read_limited(mut reader: impl Read, limit: u64, what: &str, label: &str) -> Result<Vec<u8>, ImageError> {
    let mut bytes = Vec::new();
    reader
        .by_ref()
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|err| ImageError::new(label, format!("cannot read {what}: {err}")))?;
    if bytes.len() as u64 > limit {
        return Err(ImageError::new(
            label,
            format!("{what} is larger than {limit} bytes: not an image file keyhound reads"),
        ));
    }
    Ok(bytes)
}

/// The path of a blob in an OCI layout: `blobs/ALGORITHM/HEX`. A digest that is not `ALGORITHM:HEX` of safe
/// characters is refused, so that a manifest cannot name a path outside the layout.
pub fn blob_path(digest: &str, label: &str) -> Result<String, ImageError> {
    let bad = || ImageError::new(label, format!("`{digest}` is not a digest"));
    let (algorithm, hex) = digest.split_once(':').ok_or_else(bad)?;
    let safe_algorithm = !algorithm.is_empty()
        && algorithm
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+._-".contains(c));
    let safe_hex = !hex.is_empty() && hex.len() <= 128 && hex.chars().all(|c| c.is_ascii_alphanumeric());
    if !(safe_algorithm && safe_hex) || algorithm.starts_with('.') {
        return Err(bad());
    }
    Ok(format!("blobs/{algorithm}/{hex}"))
}

/// An OCI image layout directory.
pub struct LayoutDir {
    label: String,
    root: PathBuf,
}

impl LayoutDir {
    pub fn new(label: &str, root: &Path) -> LayoutDir {
        LayoutDir {
            label: label.to_string(),
            root: root.to_path_buf(),
        }
    }

    /// The file at `path` inside the layout; paths come from [`blob_path`] or are fixed names, never `..`.
    fn file(&self, path: &str) -> Result<PathBuf, ImageError> {
        if path.split('/').any(|part| part == ".." || part.is_empty()) {
            return Err(ImageError::new(
                &self.label,
                format!("`{path}` is not a path inside the layout"),
            ));
        }
        Ok(self.root.join(path))
    }
}

impl Store for LayoutDir {
    fn label(&self) -> &str {
        &self.label
    }

    fn has(&self, path: &str) -> bool {
        self.file(path).is_ok_and(|file| file.is_file())
    }

    fn read(&self, path: &str, limit: u64) -> Result<Vec<u8>, ImageError> {
        read_limited(self.open(path)?, limit, path, &self.label)
    }

    fn open(&self, path: &str) -> Result<Box<dyn Read + Send + '_>, ImageError> {
        let file = File::open(self.file(path)?)
            .map_err(|err| ImageError::new(&self.label, format!("cannot open {path}: {err}")))?;
        Ok(Box::new(file))
    }
}

/// Where a member's bytes sit in a tar archive.
#[derive(Debug, Clone, Copy)]
struct Member {
    offset: u64,
    size: u64,
}

/// A tar archive of an image (`docker save`, `podman save`, an OCI layout in a tar), read in place: its members
/// are found once, then each is read by seeking to it, so layers are streamed, never copied out.
pub struct TarArchive {
    label: String,
    path: PathBuf,
    members: HashMap<String, Member>,
    /// Symbolic links between members (old `docker save` links a repeated layer to its first copy).
    links: HashMap<String, String>,
}

/// More members than any image archive holds: past it the file is not read as one.
const MAX_MEMBERS: usize = 1_000_000;

impl TarArchive {
    /// Lists the members of the archive at `path`.
    pub fn open(label: &str, path: &Path) -> Result<TarArchive, ImageError> {
        let fail = |message: String| ImageError::new(label, message);
        let mut file = File::open(path).map_err(|err| fail(format!("cannot open: {err}")))?;
        let mut magic = [0u8; 4];
        let got = file
            .read(&mut magic)
            .map_err(|err| fail(format!("cannot read: {err}")))?;
        if magic[..got].starts_with(&[0x1f, 0x8b]) || magic[..got].starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            return Err(fail(
                "a compressed archive: decompress it first (`gunzip`, `zstd -d`); keyhound reads image archives \
                 in place, as `docker save` writes them"
                    .to_string(),
            ));
        }
        file.seek(SeekFrom::Start(0))
            .map_err(|err| fail(format!("cannot read: {err}")))?;
        let mut archive = tar::Archive::new(file);
        let mut members = HashMap::new();
        let mut links = HashMap::new();
        let entries = archive
            .entries_with_seek()
            .map_err(|err| fail(format!("not a tar archive: {err}")))?;
        for entry in entries {
            let entry = entry.map_err(|err| fail(format!("not a readable tar archive: {err}")))?;
            if members.len() + links.len() >= MAX_MEMBERS {
                return Err(fail(format!("more than {MAX_MEMBERS} members: not an image archive")));
            }
            let name = normal_name(&String::from_utf8_lossy(&entry.path_bytes()));
            match entry.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let member = Member {
                        offset: entry.raw_file_position(),
                        size: entry.size(),
                    };
                    members.insert(name, member);
                }
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    if let Some(target) = entry.link_name_bytes() {
                        let target = String::from_utf8_lossy(&target).into_owned();
                        let target = if entry.header().entry_type() == tar::EntryType::Symlink {
                            resolve_relative(&name, &target)
                        } else {
                            normal_name(&target)
                        };
                        links.insert(name, target);
                    }
                }
                _ => {}
            }
        }
        Ok(TarArchive {
            label: label.to_string(),
            path: path.to_path_buf(),
            members,
            links,
        })
    }

    /// The member at `path`, through at most a few links.
    fn member(&self, path: &str) -> Option<Member> {
        let mut name = normal_name(path);
        for _ in 0..8 {
            if let Some(member) = self.members.get(&name) {
                return Some(*member);
            }
            name = self.links.get(&name)?.clone();
        }
        None
    }
}

impl Store for TarArchive {
    fn label(&self) -> &str {
        &self.label
    }

    fn has(&self, path: &str) -> bool {
        self.member(path).is_some()
    }

    fn read(&self, path: &str, limit: u64) -> Result<Vec<u8>, ImageError> {
        read_limited(self.open(path)?, limit, path, &self.label)
    }

    fn open(&self, path: &str) -> Result<Box<dyn Read + Send + '_>, ImageError> {
        let fail = |message: String| ImageError::new(&self.label, message);
        let member = self
            .member(path)
            .ok_or_else(|| fail(format!("the archive has no member {path}")))?;
        let mut file = File::open(&self.path).map_err(|err| fail(format!("cannot open: {err}")))?;
        file.seek(SeekFrom::Start(member.offset))
            .map_err(|err| fail(format!("cannot read {path}: {err}")))?;
        Ok(Box::new(file.take(member.size)))
    }
}

/// A tar member's name without `./`, a leading `/` or empty components; every other component is kept as written
/// (`..` and control characters included: nothing is written to disk, and the reports escape them). Members of an
/// image archive and files of a layer are named this way.
pub fn normal_name(name: &str) -> String {
    name.split('/')
        .filter(|part| !part.is_empty() && *part != ".")
        .collect::<Vec<_>>()
        .join("/")
}

/// The member a symbolic link at `link` pointing to `target` names, inside the archive.
fn resolve_relative(link: &str, target: &str) -> String {
    let mut parts: Vec<&str> = if target.starts_with('/') {
        Vec::new()
    } else {
        let mut dir: Vec<&str> = link.split('/').collect();
        dir.pop();
        dir
    };
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_paths_stay_inside_the_layout() {
        assert_eq!(blob_path("sha256:abc123", "x").unwrap(), "blobs/sha256/abc123");
        for bad in [
            "sha256:../../etc/passwd",
            "abc",
            ":abc",
            "sha256:",
            "../x:abc",
            "sha256:a/b",
            ".x:ab",
        ] {
            assert!(blob_path(bad, "x").is_err(), "{bad}");
        }
    }

    #[test]
    fn links_resolve_inside_the_archive() {
        assert_eq!(resolve_relative("abc/layer.tar", "../def/layer.tar"), "def/layer.tar");
        assert_eq!(resolve_relative("abc/layer.tar", "/def/layer.tar"), "def/layer.tar");
        assert_eq!(resolve_relative("a", "../../../x"), "x");
        assert_eq!(normal_name("./blobs//sha256/ab"), "blobs/sha256/ab");
    }
}
