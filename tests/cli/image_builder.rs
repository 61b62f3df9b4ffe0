//! Container images written by the tests themselves, in memory, without Docker: layers (tar, tar+gzip,
//! tar+zstd) of files, directories, links, whiteouts, opaque markers and hostile raw entries; an image config
//! (platform, `Env`, `Labels`, `Cmd`, `Entrypoint`, history, `rootfs.diff_ids`); and the four ways an image is
//! stored: an OCI image layout directory, the same layout in a tar, a classic `docker save` archive and the
//! Docker 25+ `docker save` archive (an OCI layout with a `manifest.json`). Every writer returns the digests it
//! wrote ([`Built`]), so a test can assert them, and [`Built::blobs`] feeds the fake registry.
//!
//! The builders are checked independently of keyhound by the tests at the end of this file (GNU tar, the JSON
//! they wrote, the sha256 of every blob).

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::Path;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// `sha256:<hex>` of `bytes`.
pub fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(bytes))
}

/// The lowercase hex sha256 of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The hex part of a `sha256:<hex>` digest.
pub fn hex_of(digest: &str) -> &str {
    digest.strip_prefix("sha256:").expect("a sha256: digest")
}

/// The platform of the machine running the tests, in OCI terms (`linux/amd64`, `linux/arm64`).
pub fn host_platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    };
    format!("linux/{arch}")
}

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    pub fn media_type(self) -> &'static str {
        match self {
            Compression::None => OCI_LAYER,
            Compression::Gzip => OCI_LAYER_GZIP,
            Compression::Zstd => OCI_LAYER_ZSTD,
        }
    }
}

/// A tar header written as given: any name bytes (`..`, control characters, no NUL needed), a size field that
/// may lie about the data that follows, any type flag and link name.
#[derive(Debug, Clone)]
pub struct RawEntry {
    pub name: Vec<u8>,
    pub data: Vec<u8>,
    /// The size written in the header; `None` writes the data's length.
    pub claimed_size: Option<u64>,
    /// The tar type flag: b'0' regular file, b'1' hard link, b'2' symlink, b'5' directory, ...
    pub entry_type: u8,
    pub link_name: Vec<u8>,
    pub mode: u32,
}

impl RawEntry {
    /// A regular file named `name` (raw bytes) holding `data`.
    pub fn file(name: &[u8], data: &[u8]) -> RawEntry {
        RawEntry {
            name: name.to_vec(),
            data: data.to_vec(),
            claimed_size: None,
            entry_type: b'0',
            link_name: Vec::new(),
            mode: 0o644,
        }
    }

    /// The header says `size` whatever the data is.
    pub fn claiming(mut self, size: u64) -> RawEntry {
        self.claimed_size = Some(size);
        self
    }
}

/// One entry of a layer, in order.
#[derive(Debug, Clone)]
pub enum Entry {
    File {
        path: String,
        data: Vec<u8>,
        mode: u32,
    },
    Dir {
        path: String,
    },
    Symlink {
        path: String,
        target: String,
    },
    HardLink {
        path: String,
        target: String,
    },
    /// `PARENT/.wh.NAME`: `path` is deleted from the layers below.
    Whiteout {
        path: String,
    },
    /// `DIR/.wh..wh..opq`: everything the layers below have under `dir` is hidden.
    Opaque {
        dir: String,
    },
    Raw(RawEntry),
    /// Bytes appended to the tar stream as they are (no header, no padding).
    Bytes(Vec<u8>),
}

/// A layer: ordered entries, how its blob is compressed, and the history line that created it.
#[derive(Debug, Clone)]
pub struct Layer {
    pub entries: Vec<Entry>,
    pub compression: Compression,
    pub created_by: Option<String>,
    /// Leave out the two zero blocks that end a tar.
    pub no_end: bool,
    /// A blob given as it is, with its diff_id (see [`Layer::gzip_bomb`]); the entries are then ignored.
    pub blob: Option<(Vec<u8>, String)>,
    /// The `size` written in the descriptor instead of the blob's real size.
    pub claimed_size: Option<u64>,
}

impl Default for Layer {
    fn default() -> Self {
        Layer::new()
    }
}

impl Layer {
    pub fn new() -> Layer {
        Layer {
            entries: Vec::new(),
            compression: Compression::None,
            created_by: None,
            no_end: false,
            blob: None,
            claimed_size: None,
        }
    }

    pub fn file(self, path: &str, data: impl AsRef<[u8]>) -> Layer {
        self.file_mode(path, data, 0o644)
    }

    pub fn file_mode(mut self, path: &str, data: impl AsRef<[u8]>, mode: u32) -> Layer {
        self.entries.push(Entry::File {
            path: path.to_string(),
            data: data.as_ref().to_vec(),
            mode,
        });
        self
    }

    pub fn dir(mut self, path: &str) -> Layer {
        self.entries.push(Entry::Dir { path: path.to_string() });
        self
    }

    pub fn symlink(mut self, path: &str, target: &str) -> Layer {
        self.entries.push(Entry::Symlink {
            path: path.to_string(),
            target: target.to_string(),
        });
        self
    }

    pub fn hard_link(mut self, path: &str, target: &str) -> Layer {
        self.entries.push(Entry::HardLink {
            path: path.to_string(),
            target: target.to_string(),
        });
        self
    }

    /// Deletes `path` (file or directory) of the layers below.
    pub fn whiteout(mut self, path: &str) -> Layer {
        self.entries.push(Entry::Whiteout { path: path.to_string() });
        self
    }

    /// Hides everything the layers below have under `dir`.
    pub fn opaque(mut self, dir: &str) -> Layer {
        self.entries.push(Entry::Opaque { dir: dir.to_string() });
        self
    }

    pub fn raw(mut self, entry: RawEntry) -> Layer {
        self.entries.push(Entry::Raw(entry));
        self
    }

    pub fn bytes(mut self, bytes: &[u8]) -> Layer {
        self.entries.push(Entry::Bytes(bytes.to_vec()));
        self
    }

    pub fn gzip(mut self) -> Layer {
        self.compression = Compression::Gzip;
        self
    }

    pub fn zstd(mut self) -> Layer {
        self.compression = Compression::Zstd;
        self
    }

    pub fn compressed(mut self, compression: Compression) -> Layer {
        self.compression = compression;
        self
    }

    /// The history entry of this layer says `created_by`.
    pub fn created_by(mut self, created_by: &str) -> Layer {
        self.created_by = Some(created_by.to_string());
        self
    }

    pub fn without_end(mut self) -> Layer {
        self.no_end = true;
        self
    }

    /// The descriptor of this layer claims `size` bytes (the blob stays as it is).
    pub fn claiming_size(mut self, size: u64) -> Layer {
        self.claimed_size = Some(size);
        self
    }

    /// A gzip layer: `self`'s entries (without the end of the tar), then a file `name` whose header claims
    /// `mib` MiB of zeros, all there once decompressed: one gzip member per MiB of zeros (RFC 1952 allows
    /// several members; GNU gzip and `flate2::read::MultiGzDecoder` read them all). The blob is about 1 KiB
    /// per MiB. Its diff_id is not computed (it would mean hashing all the zeros): it is the digest of the
    /// entries before the bomb.
    pub fn gzip_bomb(self, name: &str, mib: u64) -> Layer {
        let mut prefix = Layer {
            no_end: true,
            ..self.clone()
        }
        .tar();
        prefix.extend(header(name.as_bytes(), mib << 20, b'0', b"", 0o644));
        let mut blob = gzip(&prefix);
        let member = {
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            encoder.write_all(&vec![0u8; 1 << 20]).expect("gzip");
            encoder.finish().expect("gzip")
        };
        for _ in 0..mib {
            blob.extend_from_slice(&member);
        }
        blob.extend(gzip(&[0u8; 1024]));
        Layer {
            compression: Compression::Gzip,
            blob: Some((blob, digest(&prefix))),
            ..self
        }
    }

    /// The uncompressed tar of this layer.
    pub fn tar(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for entry in &self.entries {
            match entry {
                Entry::File { path, data, mode } => {
                    out.extend(header(path.as_bytes(), data.len() as u64, b'0', b"", *mode));
                    out.extend(padded(data));
                }
                Entry::Dir { path } => {
                    let name = format!("{}/", path.trim_end_matches('/'));
                    out.extend(header(name.as_bytes(), 0, b'5', b"", 0o755));
                }
                Entry::Symlink { path, target } => {
                    out.extend(header(path.as_bytes(), 0, b'2', target.as_bytes(), 0o777));
                }
                Entry::HardLink { path, target } => {
                    out.extend(header(path.as_bytes(), 0, b'1', target.as_bytes(), 0o644));
                }
                Entry::Whiteout { path } => {
                    let path = path.trim_end_matches('/');
                    let name = match path.rsplit_once('/') {
                        Some((parent, base)) => format!("{parent}/.wh.{base}"),
                        None => format!(".wh.{path}"),
                    };
                    out.extend(header(name.as_bytes(), 0, b'0', b"", 0o644));
                }
                Entry::Opaque { dir } => {
                    let name = format!("{}/.wh..wh..opq", dir.trim_end_matches('/'));
                    out.extend(header(name.as_bytes(), 0, b'0', b"", 0o644));
                }
                Entry::Raw(raw) => {
                    let size = raw.claimed_size.unwrap_or(raw.data.len() as u64);
                    out.extend(header(&raw.name, size, raw.entry_type, &raw.link_name, raw.mode));
                    out.extend(padded(&raw.data));
                }
                Entry::Bytes(bytes) => out.extend_from_slice(bytes),
            }
        }
        if !self.no_end {
            out.extend([0u8; 1024]);
        }
        out
    }

    /// (blob, diff_id) of this layer.
    pub fn blob(&self) -> (Vec<u8>, String) {
        if let Some(blob) = &self.blob {
            return blob.clone();
        }
        let tar = self.tar();
        let blob = match self.compression {
            Compression::None => tar.clone(),
            Compression::Gzip => gzip(&tar),
            Compression::Zstd => zstd::encode_all(&tar[..], 3).expect("zstd"),
        };
        (blob, digest(&tar))
    }
}

/// A gzip member holding `data` (mtime 0, so the same data gives the same bytes).
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).expect("gzip");
    encoder.finish().expect("gzip")
}

fn padded(data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    out.resize(data.len().div_ceil(512) * 512, 0);
    out
}

/// A 512-byte GNU tar header with the name written as given (at most 100 bytes: longer names would need a
/// GNU long-name entry, which [`Entry::Bytes`] can write by hand).
fn header(name: &[u8], size: u64, entry_type: u8, link_name: &[u8], mode: u32) -> Vec<u8> {
    assert!(name.len() <= 100, "tar names of at most 100 bytes: {name:?}");
    assert!(link_name.len() <= 100, "link names of at most 100 bytes");
    let mut header = tar::Header::new_gnu();
    header.as_old_mut().name[..name.len()].copy_from_slice(name);
    header.as_old_mut().linkname[..link_name.len()].copy_from_slice(link_name);
    header.set_size(size);
    header.set_mode(mode);
    header.set_mtime(0);
    header.set_uid(0);
    header.set_gid(0);
    header.set_entry_type(tar::EntryType::new(entry_type));
    header.set_cksum();
    header.as_bytes().to_vec()
}

/// An image: its config and its layers.
#[derive(Debug, Clone)]
pub struct Image {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
    pub env: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub cmd: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    /// (created_by, empty_layer), in order; [`Image::layer`] adds one per layer.
    pub history: Vec<(Option<String>, bool)>,
    pub layers: Vec<Layer>,
    /// `docker save` repo tags and OCI ref names: `app:1`.
    pub tags: Vec<String>,
}

impl Default for Image {
    fn default() -> Self {
        Image::new()
    }
}

impl Image {
    /// An empty `linux/amd64` image.
    pub fn new() -> Image {
        Image {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
            env: vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()],
            labels: BTreeMap::new(),
            cmd: None,
            entrypoint: None,
            history: Vec::new(),
            layers: Vec::new(),
            tags: Vec::new(),
        }
    }

    /// `os/arch[/variant]`, e.g. `linux/arm64/v8`.
    pub fn platform(mut self, platform: &str) -> Image {
        let parts: Vec<&str> = platform.split('/').collect();
        assert!(parts.len() == 2 || parts.len() == 3, "os/arch[/variant]: {platform}");
        self.os = parts[0].into();
        self.architecture = parts[1].into();
        self.variant = parts.get(2).map(|v| v.to_string());
        self
    }

    pub fn platform_string(&self) -> String {
        match &self.variant {
            Some(variant) => format!("{}/{}/{variant}", self.os, self.architecture),
            None => format!("{}/{}", self.os, self.architecture),
        }
    }

    pub fn env(mut self, entry: &str) -> Image {
        self.env.push(entry.into());
        self
    }

    pub fn label(mut self, key: &str, value: &str) -> Image {
        self.labels.insert(key.into(), value.into());
        self
    }

    pub fn cmd(mut self, cmd: &[&str]) -> Image {
        self.cmd = Some(cmd.iter().map(|s| s.to_string()).collect());
        self
    }

    pub fn entrypoint(mut self, entrypoint: &[&str]) -> Image {
        self.entrypoint = Some(entrypoint.iter().map(|s| s.to_string()).collect());
        self
    }

    /// A history entry of no layer (`ENV`, `ARG`, `LABEL`...).
    pub fn empty_history(mut self, created_by: &str) -> Image {
        self.history.push((Some(created_by.into()), true));
        self
    }

    /// The next layer, with a history entry of its `created_by` (none when it has none).
    pub fn layer(mut self, layer: Layer) -> Image {
        self.history.push((layer.created_by.clone(), false));
        self.layers.push(layer);
        self
    }

    pub fn tag(mut self, tag: &str) -> Image {
        self.tags.push(tag.into());
        self
    }

    /// The config JSON, given the diff_ids of the layers.
    pub fn config_json(&self, diff_ids: &[String]) -> Value {
        let mut config = serde_json::Map::new();
        config.insert("Env".into(), json!(self.env));
        if !self.labels.is_empty() {
            config.insert("Labels".into(), json!(self.labels));
        }
        if let Some(cmd) = &self.cmd {
            config.insert("Cmd".into(), json!(cmd));
        }
        if let Some(entrypoint) = &self.entrypoint {
            config.insert("Entrypoint".into(), json!(entrypoint));
        }
        let history: Vec<Value> = self
            .history
            .iter()
            .map(|(created_by, empty)| {
                let mut entry = json!({"created": "2024-05-01T12:00:00Z"});
                if let Some(created_by) = created_by {
                    entry["created_by"] = json!(created_by);
                }
                if *empty {
                    entry["empty_layer"] = json!(true);
                }
                entry
            })
            .collect();
        let mut value = json!({
            "created": "2024-05-01T12:00:00Z",
            "architecture": self.architecture,
            "os": self.os,
            "config": config,
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": history,
        });
        if let Some(variant) = &self.variant {
            value["variant"] = json!(variant);
        }
        value
    }

    /// The blobs and digests of this image (nothing written).
    pub fn build(&self) -> Built {
        let layers: Vec<BuiltLayer> = self
            .layers
            .iter()
            .map(|layer| {
                let (blob, diff_id) = layer.blob();
                BuiltLayer {
                    digest: digest(&blob),
                    diff_id,
                    media_type: layer.compression.media_type().to_string(),
                    size: layer.claimed_size.unwrap_or(blob.len() as u64),
                    blob,
                }
            })
            .collect();
        let diff_ids: Vec<String> = layers.iter().map(|l| l.diff_id.clone()).collect();
        let config = serde_json::to_vec(&self.config_json(&diff_ids)).expect("config JSON");
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": digest(&config), "size": config.len()},
            "layers": layers.iter().map(|l| json!({"mediaType": l.media_type, "digest": l.digest, "size": l.size})).collect::<Vec<_>>(),
        });
        let manifest = serde_json::to_vec(&manifest).expect("manifest JSON");
        Built {
            manifest_digest: digest(&manifest),
            manifest,
            config_digest: digest(&config),
            config,
            layers,
            platform: self.platform_string(),
            os: self.os.clone(),
            architecture: self.architecture.clone(),
            variant: self.variant.clone(),
            tags: self.tags.clone(),
        }
    }
}

/// One layer as written.
#[derive(Debug, Clone)]
pub struct BuiltLayer {
    /// `sha256:` of the blob (compressed or not).
    pub digest: String,
    /// `sha256:` of the uncompressed tar.
    pub diff_id: String,
    pub media_type: String,
    /// The size its descriptor states.
    pub size: u64,
    pub blob: Vec<u8>,
}

/// One image as written: the manifest, the config and the layers, with their digests.
#[derive(Debug, Clone)]
pub struct Built {
    pub manifest_digest: String,
    pub manifest: Vec<u8>,
    pub config_digest: String,
    pub config: Vec<u8>,
    pub layers: Vec<BuiltLayer>,
    /// `os/arch[/variant]`
    pub platform: String,
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
    pub tags: Vec<String>,
}

impl Built {
    /// Every blob of the image, manifest included: digest -> bytes.
    pub fn blobs(&self) -> BTreeMap<String, Vec<u8>> {
        let mut blobs = BTreeMap::new();
        blobs.insert(self.manifest_digest.clone(), self.manifest.clone());
        blobs.insert(self.config_digest.clone(), self.config.clone());
        for layer in &self.layers {
            blobs.insert(layer.digest.clone(), layer.blob.clone());
        }
        blobs
    }

    pub fn layer_digests(&self) -> Vec<String> {
        self.layers.iter().map(|l| l.digest.clone()).collect()
    }

    /// The descriptor of the manifest, with its platform when `with_platform`.
    pub fn descriptor(&self, with_platform: bool) -> Value {
        let mut descriptor =
            json!({"mediaType": OCI_MANIFEST, "digest": self.manifest_digest, "size": self.manifest.len()});
        if with_platform {
            let mut platform = json!({"os": self.os, "architecture": self.architecture});
            if let Some(variant) = &self.variant {
                platform["variant"] = json!(variant);
            }
            descriptor["platform"] = platform;
        }
        descriptor
    }
}

/// A multi-platform image: an image index over one manifest per platform.
#[derive(Debug, Clone)]
pub struct BuiltIndex {
    pub digest: String,
    pub bytes: Vec<u8>,
    pub images: Vec<Built>,
}

impl BuiltIndex {
    /// Every blob, the index and each image's included.
    pub fn blobs(&self) -> BTreeMap<String, Vec<u8>> {
        let mut blobs = BTreeMap::new();
        blobs.insert(self.digest.clone(), self.bytes.clone());
        for image in &self.images {
            blobs.extend(image.blobs());
        }
        blobs
    }

    /// The image of `platform` (`linux/arm64`...).
    pub fn image(&self, platform: &str) -> &Built {
        self.images
            .iter()
            .find(|b| b.platform == platform || b.platform.starts_with(&format!("{platform}/")))
            .unwrap_or_else(|| panic!("no {platform} image in the index"))
    }
}

/// The image index of `images` (one manifest each, with its platform).
pub fn build_index(images: &[Image]) -> BuiltIndex {
    let images: Vec<Built> = images.iter().map(Image::build).collect();
    let index = json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": images.iter().map(|b| b.descriptor(true)).collect::<Vec<_>>(),
    });
    let bytes = serde_json::to_vec(&index).expect("index JSON");
    BuiltIndex {
        digest: digest(&bytes),
        bytes,
        images,
    }
}

/// The files of an OCI image layout: path -> contents.
type Files = BTreeMap<String, Vec<u8>>;

fn layout_files(blobs: BTreeMap<String, Vec<u8>>, index: Value) -> Files {
    let mut files = Files::new();
    files.insert("oci-layout".into(), br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec());
    files.insert("index.json".into(), serde_json::to_vec(&index).expect("index.json"));
    for (digest, bytes) in blobs {
        files.insert(format!("blobs/sha256/{}", hex_of(&digest)), bytes);
    }
    files
}

/// The tag part of `app:1` (`1`), or the whole name when it has none.
fn tag_of(tag: &str) -> &str {
    tag.rsplit_once(':').map(|(_, t)| t).unwrap_or(tag)
}

fn single_layout(images: &[Image]) -> (Files, Vec<Built>) {
    let built: Vec<Built> = images.iter().map(Image::build).collect();
    let mut blobs = BTreeMap::new();
    let mut manifests = Vec::new();
    for b in &built {
        blobs.extend(b.blobs());
        let mut descriptor = b.descriptor(false);
        if let Some(tag) = b.tags.first() {
            descriptor["annotations"] = json!({REF_NAME: tag_of(tag)});
        }
        manifests.push(descriptor);
    }
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests});
    (layout_files(blobs, index), built)
}

fn index_layout(images: &[Image], ref_name: &str) -> (Files, BuiltIndex) {
    let built = build_index(images);
    let index = json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_INDEX, "digest": built.digest, "size": built.bytes.len(),
                       "annotations": {REF_NAME: ref_name}}],
    });
    (layout_files(built.blobs(), index), built)
}

fn write_dir(dir: &Path, files: &Files) {
    for (rel, bytes) in files {
        let path = dir.join(rel);
        fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        fs::write(&path, bytes).expect("write");
    }
}

fn write_tar(path: &Path, files: &Files) {
    let mut builder = tar::Builder::new(Vec::new());
    let mut dirs: Vec<String> = Vec::new();
    for rel in files.keys() {
        let mut prefix = String::new();
        for part in rel.split('/').collect::<Vec<_>>().split_last().expect("a name").1 {
            prefix.push_str(part);
            prefix.push('/');
            if !dirs.contains(&prefix) {
                dirs.push(prefix.clone());
            }
        }
    }
    for dir in &dirs {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Directory);
        header.set_mode(0o755);
        header.set_mtime(0);
        header.set_size(0);
        builder.append_data(&mut header, dir, &[][..]).expect("tar dir");
    }
    for (rel, bytes) in files {
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_size(bytes.len() as u64);
        builder.append_data(&mut header, rel, &bytes[..]).expect("tar file");
    }
    fs::write(path, builder.into_inner().expect("tar")).expect("write tar");
}

/// An OCI image layout in `dir` (created if needed): `oci-layout`, `index.json` listing one manifest per image
/// (annotated with `org.opencontainers.image.ref.name` = the tag of the image's first tag), `blobs/sha256/`.
pub fn write_oci_layout(dir: &Path, images: &[Image]) -> Vec<Built> {
    let (files, built) = single_layout(images);
    write_dir(dir, &files);
    built
}

/// An OCI image layout whose `index.json` names one image index (annotated `ref_name`) that lists one manifest
/// per platform.
pub fn write_oci_layout_index(dir: &Path, images: &[Image], ref_name: &str) -> BuiltIndex {
    let (files, built) = index_layout(images, ref_name);
    write_dir(dir, &files);
    built
}

/// [`write_oci_layout`] inside a tar at `path`.
pub fn write_oci_tar(path: &Path, images: &[Image]) -> Vec<Built> {
    let (files, built) = single_layout(images);
    write_tar(path, &files);
    built
}

/// [`write_oci_layout_index`] inside a tar at `path`.
pub fn write_oci_tar_index(path: &Path, images: &[Image], ref_name: &str) -> BuiltIndex {
    let (files, built) = index_layout(images, ref_name);
    write_tar(path, &files);
    built
}

/// Which `docker save` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DockerFormat {
    /// Before Docker 25: `<id>/layer.tar` (+ `VERSION`, `json`), `<config hex>.json`, `manifest.json`,
    /// `repositories`.
    Classic,
    /// Docker 25 and later: an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/`) plus a
    /// `manifest.json` whose `Config` and `Layers` are `blobs/sha256/<hex>` paths, and `repositories`.
    Docker25,
}

/// A `docker save` archive of `images` at `path`; each image's tags are its `RepoTags`.
pub fn write_docker_save(path: &Path, images: &[Image], format: DockerFormat) -> Vec<Built> {
    let built: Vec<Built> = images.iter().map(Image::build).collect();
    let mut files = Files::new();
    let mut manifest = Vec::new();
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    match format {
        DockerFormat::Classic => {
            for b in &built {
                let mut layer_paths = Vec::new();
                let mut parent: Option<String> = None;
                for layer in &b.layers {
                    // A v1 layer id: derived from the chain, as Docker's are (unique per parent + content).
                    let id = hex(format!("{}{}", parent.clone().unwrap_or_default(), layer.diff_id).as_bytes());
                    files.insert(format!("{id}/layer.tar"), layer.blob.clone());
                    files.insert(format!("{id}/VERSION"), b"1.0".to_vec());
                    let mut v1 = json!({"id": id, "created": "2024-05-01T12:00:00Z"});
                    if let Some(parent) = &parent {
                        v1["parent"] = json!(parent);
                    }
                    files.insert(format!("{id}/json"), serde_json::to_vec(&v1).expect("json"));
                    layer_paths.push(format!("{id}/layer.tar"));
                    parent = Some(id);
                }
                files.insert(format!("{}.json", hex_of(&b.config_digest)), b.config.clone());
                manifest.push(json!({"Config": format!("{}.json", hex_of(&b.config_digest)),
                                     "RepoTags": b.tags, "Layers": layer_paths}));
                for tag in &b.tags {
                    if let (Some((repo, t)), Some(top)) = (tag.rsplit_once(':'), &parent) {
                        repositories
                            .entry(repo.into())
                            .or_default()
                            .insert(t.into(), top.clone());
                    }
                }
            }
        }
        DockerFormat::Docker25 => {
            let mut blobs = BTreeMap::new();
            let mut descriptors = Vec::new();
            for b in &built {
                blobs.extend(b.blobs());
                let mut descriptor = b.descriptor(false);
                if let Some(tag) = b.tags.first() {
                    descriptor["annotations"] = json!({
                        "io.containerd.image.name": format!("docker.io/library/{tag}"),
                        REF_NAME: tag_of(tag),
                    });
                }
                descriptors.push(descriptor);
                manifest.push(json!({
                    "Config": format!("blobs/sha256/{}", hex_of(&b.config_digest)),
                    "RepoTags": b.tags,
                    "Layers": b.layers.iter().map(|l| format!("blobs/sha256/{}", hex_of(&l.digest))).collect::<Vec<_>>(),
                }));
                for tag in &b.tags {
                    if let (Some((repo, t)), Some(top)) = (tag.rsplit_once(':'), b.layers.last()) {
                        repositories
                            .entry(repo.into())
                            .or_default()
                            .insert(t.into(), hex_of(&top.digest).into());
                    }
                }
            }
            let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descriptors});
            files = layout_files(blobs, index);
        }
    }
    files.insert(
        "manifest.json".into(),
        serde_json::to_vec(&manifest).expect("manifest.json"),
    );
    files.insert(
        "repositories".into(),
        serde_json::to_vec(&repositories).expect("repositories"),
    );
    write_tar(path, &files);
    built
}

/// An OCI layout whose `index.json` names an image index blob that lists itself: the blob is stored under a
/// digest it names inside (so that blob's content does not hash to its name: no content can). Returns that
/// digest.
pub fn write_self_referencing_layout(dir: &Path) -> String {
    let (bytes, digest) = self_referencing_index();
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX,
                       "manifests": [{"mediaType": OCI_INDEX, "digest": digest, "size": bytes.len(),
                                      "annotations": {REF_NAME: "loop"}}]});
    write_dir(dir, &layout_files(BTreeMap::from([(digest.clone(), bytes)]), index));
    digest
}

/// An image index that lists, as its only manifest, an index of its own size under the returned digest (the
/// digest of the text with a placeholder where the digest goes).
pub fn self_referencing_index() -> (Vec<u8>, String) {
    let placeholder = format!("sha256:{}", "0".repeat(64));
    let text = |digest: &str, size: usize| {
        serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX,
            "manifests": [{"mediaType": OCI_INDEX, "digest": digest, "size": size,
                           "platform": {"os": "linux", "architecture": "amd64"}}]}))
        .expect("JSON")
    };
    let self_digest = digest(&text(&placeholder, 0));
    // The size names the document's own length: grow it until it holds.
    let mut size = 0;
    let mut bytes = text(&self_digest, size);
    while bytes.len() != size {
        size = bytes.len();
        bytes = text(&self_digest, size);
    }
    (bytes, self_digest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::process::Command;
    use tempfile::TempDir;

    use crate::common::{LEGACY_KEY, PROJECT_KEY};

    fn tar_cmd(args: &[&str]) -> Vec<u8> {
        let output = Command::new("tar").args(args).output().expect("GNU tar runs");
        assert!(
            output.status.success(),
            "tar {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    }

    fn list(path: &Path) -> Vec<String> {
        String::from_utf8(tar_cmd(&["-tf", path.to_str().expect("utf-8")]))
            .expect("utf-8 names")
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn decompress(media_type: &str, blob: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        match media_type {
            OCI_LAYER => out = blob.to_vec(),
            OCI_LAYER_GZIP => {
                flate2::read::MultiGzDecoder::new(blob)
                    .read_to_end(&mut out)
                    .expect("gunzip");
            }
            OCI_LAYER_ZSTD => out = zstd::decode_all(blob).expect("unzstd"),
            other => panic!("not a layer media type: {other}"),
        }
        out
    }

    /// Every descriptor under `dir`'s index.json resolves to a blob of that digest and size, recursively;
    /// each layer decompresses to the tar whose sha256 is its diff_id. Returns the manifests seen.
    fn check_layout(dir: &Path) -> Vec<Value> {
        let oci_layout: Value =
            serde_json::from_slice(&fs::read(dir.join("oci-layout")).expect("oci-layout")).expect("JSON");
        assert_eq!(oci_layout["imageLayoutVersion"], "1.0.0");
        let index: Value =
            serde_json::from_slice(&fs::read(dir.join("index.json")).expect("index.json")).expect("JSON");
        assert_eq!(index["schemaVersion"], 2);
        let mut manifests = Vec::new();
        let mut pending: Vec<Value> = index["manifests"].as_array().expect("manifests").clone();
        while let Some(descriptor) = pending.pop() {
            let bytes = blob(dir, &descriptor);
            let doc: Value = serde_json::from_slice(&bytes).expect("JSON");
            assert_eq!(doc["mediaType"], descriptor["mediaType"]);
            if descriptor["mediaType"] == OCI_INDEX {
                pending.extend(doc["manifests"].as_array().expect("manifests").clone());
                continue;
            }
            assert_eq!(descriptor["mediaType"], OCI_MANIFEST);
            let config: Value = serde_json::from_slice(&blob(dir, &doc["config"])).expect("config JSON");
            let diff_ids = config["rootfs"]["diff_ids"].as_array().expect("diff_ids");
            let layers = doc["layers"].as_array().expect("layers");
            assert_eq!(diff_ids.len(), layers.len());
            for (layer, diff_id) in layers.iter().zip(diff_ids) {
                let tar = decompress(layer["mediaType"].as_str().expect("mediaType"), &blob(dir, layer));
                assert_eq!(digest(&tar), diff_id.as_str().expect("diff_id"));
            }
            if let Some(platform) = descriptor.get("platform") {
                assert_eq!(platform["os"], config["os"]);
                assert_eq!(platform["architecture"], config["architecture"]);
            }
            manifests.push(doc);
        }
        manifests
    }

    fn blob(dir: &Path, descriptor: &Value) -> Vec<u8> {
        let digest_text = descriptor["digest"].as_str().expect("digest");
        let bytes = fs::read(dir.join("blobs/sha256").join(hex_of(digest_text))).expect("the blob is there");
        assert_eq!(digest(&bytes), digest_text, "blob content matches its digest");
        assert_eq!(descriptor["size"], bytes.len(), "descriptor size matches");
        bytes
    }

    fn sample() -> Image {
        Image::new()
            .env(&format!("OPENAI_API_KEY={PROJECT_KEY}"))
            .label("maintainer", "alice")
            .cmd(&["python", "app.py"])
            .entrypoint(&["/entry.sh"])
            .empty_history("ARG VERSION=1")
            .layer(
                Layer::new()
                    .dir("app")
                    .file("app/.env", format!("KEY={LEGACY_KEY}\n"))
                    .created_by("COPY . /app"),
            )
            .layer(
                Layer::new()
                    .file("app/big.txt", vec![b'a'; 3000])
                    .symlink("app/link", ".env")
                    .gzip(),
            )
            .layer(
                Layer::new()
                    .whiteout("app/.env")
                    .hard_link("app/hard", "app/big.txt")
                    .opaque("etc")
                    .zstd(),
            )
            .tag("app:1")
    }

    #[test]
    fn layers_are_tars_gnu_tar_reads() {
        let dir = TempDir::new().expect("temp dir");
        let image = sample();
        let path = dir.path().join("layer0.tar");
        fs::write(&path, image.layers[0].tar()).expect("write");
        assert_eq!(list(&path), ["app/", "app/.env"]);
        let content = tar_cmd(&["-xOf", path.to_str().expect("utf-8"), "app/.env"]);
        assert_eq!(content, format!("KEY={LEGACY_KEY}\n").as_bytes());
        let path = dir.path().join("layer2.tar");
        fs::write(&path, image.layers[2].tar()).expect("write");
        assert_eq!(list(&path), ["app/.wh..env", "app/hard", "etc/.wh..wh..opq"]);
        let verbose = String::from_utf8(tar_cmd(&["-tvf", path.to_str().expect("utf-8")])).expect("utf-8");
        assert!(verbose.contains("app/hard link to app/big.txt"), "{verbose}");
        let path = dir.path().join("layer1.tar");
        fs::write(&path, image.layers[1].tar()).expect("write");
        let verbose = String::from_utf8(tar_cmd(&["-tvf", path.to_str().expect("utf-8")])).expect("utf-8");
        assert!(verbose.contains("app/link -> .env"), "{verbose}");
        assert_eq!(
            tar_cmd(&["-xOf", path.to_str().expect("utf-8"), "app/big.txt"]).len(),
            3000
        );
    }

    #[test]
    fn compressed_layers_decompress_to_their_diff_id() {
        for compression in [Compression::None, Compression::Gzip, Compression::Zstd] {
            let layer = Layer::new().file("a.txt", "hello").compressed(compression);
            let (blob, diff_id) = layer.blob();
            let tar = decompress(compression.media_type(), &blob);
            assert_eq!(tar, layer.tar());
            assert_eq!(digest(&tar), diff_id);
            assert_eq!(compression == Compression::None, blob == tar);
        }
    }

    #[test]
    fn hostile_raw_entries_are_written_as_given() {
        let layer = Layer::new()
            .raw(RawEntry::file(b"../../etc/evil\x1b[31m\n", b"x"))
            .raw(RawEntry::file(b"liar", b"short").claiming(1 << 40));
        let tar = layer.clone().bytes(b"trailing junk").tar();
        assert_eq!(&tar[tar.len() - 1024 - 13..tar.len() - 1024], b"trailing junk");
        let tar = layer.tar();
        assert_eq!(&tar[..22], b"../../etc/evil\x1b[31m\n\0\0");
        let second = &tar[1024..1536];
        assert_eq!(&second[..5], b"liar\0");
        let header = tar::Header::from_byte_slice(second);
        assert_eq!(header.size().expect("size"), 1 << 40);
        assert_eq!(&tar[1536..1541], b"short");
        let dir = TempDir::new().expect("temp dir");
        let path = dir.path().join("hostile.tar");
        fs::write(&path, Layer::new().raw(RawEntry::file(b"a/../../b\x07", b"x")).tar()).expect("write");
        let names = tar_cmd(&["-tf", path.to_str().expect("utf-8"), "--quoting-style=c"]);
        assert_eq!(String::from_utf8_lossy(&names).trim(), "\"a/../../b\\a\"");
    }

    #[test]
    fn a_gzip_bomb_is_small_and_decompresses_to_what_it_claims() {
        let layer = Layer::new().file("before.env", PROJECT_KEY).gzip_bomb("zeros.bin", 16);
        let (blob, _) = layer.blob();
        assert!(blob.len() < 64 * 1024, "{} bytes", blob.len());
        let mut tar = Vec::new();
        flate2::read::MultiGzDecoder::new(&blob[..])
            .read_to_end(&mut tar)
            .expect("gunzip");
        assert!(tar.len() > 16 << 20);
        let dir = TempDir::new().expect("temp dir");
        let path = dir.path().join("bomb.tar.gz");
        fs::write(&path, &blob).expect("write");
        let verbose = String::from_utf8(tar_cmd(&["-tvzf", path.to_str().expect("utf-8")])).expect("utf-8");
        assert!(
            verbose.contains("before.env") && verbose.contains("16777216") && verbose.contains("zeros.bin"),
            "{verbose}"
        );
    }

    #[test]
    fn the_config_holds_what_the_image_says() {
        let built = sample().build();
        let config: Value = serde_json::from_slice(&built.config).expect("JSON");
        assert_eq!(config["os"], "linux");
        assert_eq!(config["architecture"], "amd64");
        assert_eq!(config["config"]["Env"][1], format!("OPENAI_API_KEY={PROJECT_KEY}"));
        assert_eq!(config["config"]["Labels"]["maintainer"], "alice");
        assert_eq!(config["config"]["Cmd"], json!(["python", "app.py"]));
        assert_eq!(config["config"]["Entrypoint"], json!(["/entry.sh"]));
        let history = config["history"].as_array().expect("history");
        assert_eq!(history.len(), 4);
        assert_eq!(history[0]["empty_layer"], true);
        assert_eq!(history[1]["created_by"], "COPY . /app");
        assert!(history[2].get("created_by").is_none());
        let diff_ids: Vec<String> = built.layers.iter().map(|l| l.diff_id.clone()).collect();
        assert_eq!(config["rootfs"], json!({"type": "layers", "diff_ids": diff_ids}));
        let manifest: Value = serde_json::from_slice(&built.manifest).expect("JSON");
        let media: Vec<&str> = manifest["layers"]
            .as_array()
            .expect("layers")
            .iter()
            .map(|l| l["mediaType"].as_str().expect("str"))
            .collect();
        assert_eq!(media, [OCI_LAYER, OCI_LAYER_GZIP, OCI_LAYER_ZSTD]);
        assert_eq!(manifest["config"]["digest"], built.config_digest);
        assert_eq!(built.manifest_digest, digest(&built.manifest));
    }

    #[test]
    fn an_oci_layout_is_consistent() {
        let dir = TempDir::new().expect("temp dir");
        let built = write_oci_layout(dir.path(), &[sample()]);
        let manifests = check_layout(dir.path());
        assert_eq!(manifests.len(), 1);
        let index: Value =
            serde_json::from_slice(&fs::read(dir.path().join("index.json")).expect("read")).expect("JSON");
        assert_eq!(index["manifests"][0]["digest"], built[0].manifest_digest);
        assert_eq!(index["manifests"][0]["annotations"][REF_NAME], "1");
        assert_eq!(manifests[0]["layers"][2]["digest"], built[0].layers[2].digest);
    }

    #[test]
    fn a_multi_platform_layout_lists_each_platform() {
        let dir = TempDir::new().expect("temp dir");
        let images = [
            Image::new().layer(Layer::new().file("amd.txt", "a")),
            Image::new()
                .platform("linux/arm64/v8")
                .layer(Layer::new().file("arm.txt", "b").gzip()),
        ];
        let built = write_oci_layout_index(dir.path(), &images, "multi");
        assert_eq!(check_layout(dir.path()).len(), 2);
        let index: Value = serde_json::from_slice(
            &fs::read(dir.path().join("blobs/sha256").join(hex_of(&built.digest))).expect("read"),
        )
        .expect("JSON");
        assert_eq!(
            index["manifests"][1]["platform"],
            json!({"os": "linux", "architecture": "arm64", "variant": "v8"})
        );
        assert_eq!(built.image("linux/arm64").platform, "linux/arm64/v8");
    }

    #[test]
    fn an_oci_tar_holds_the_layout() {
        let dir = TempDir::new().expect("temp dir");
        let path = dir.path().join("image.tar");
        let built = write_oci_tar(&path, &[sample()]);
        let names = list(&path);
        assert!(
            names.contains(&"oci-layout".to_string()) && names.contains(&"index.json".to_string()),
            "{names:?}"
        );
        let out = dir.path().join("out");
        fs::create_dir(&out).expect("mkdir");
        tar_cmd(&["-xf", path.to_str().expect("utf-8"), "-C", out.to_str().expect("utf-8")]);
        let manifests = check_layout(&out);
        assert_eq!(manifests[0]["config"]["digest"], built[0].config_digest);
        let index_path = dir.path().join("multi.tar");
        write_oci_tar_index(&index_path, &[sample(), sample().platform("linux/arm64")], "m");
        let out = dir.path().join("out2");
        fs::create_dir(&out).expect("mkdir");
        tar_cmd(&[
            "-xf",
            index_path.to_str().expect("utf-8"),
            "-C",
            out.to_str().expect("utf-8"),
        ]);
        assert_eq!(check_layout(&out).len(), 2);
    }

    #[test]
    fn a_classic_docker_save_is_consistent() {
        let dir = TempDir::new().expect("temp dir");
        let path = dir.path().join("save.tar");
        let image = Image::new()
            .layer(Layer::new().file("a.txt", "a"))
            .layer(Layer::new().file("b.txt", "b"))
            .tag("app:1");
        let built = write_docker_save(&path, &[image], DockerFormat::Classic);
        let manifest: Value =
            serde_json::from_slice(&tar_cmd(&["-xOf", path.to_str().expect("utf-8"), "manifest.json"])).expect("JSON");
        assert_eq!(manifest[0]["RepoTags"], json!(["app:1"]));
        let config_name = manifest[0]["Config"].as_str().expect("Config");
        assert_eq!(config_name, format!("{}.json", hex_of(&built[0].config_digest)));
        let config = tar_cmd(&["-xOf", path.to_str().expect("utf-8"), config_name]);
        assert_eq!(digest(&config), built[0].config_digest);
        let config: Value = serde_json::from_slice(&config).expect("JSON");
        let layers = manifest[0]["Layers"].as_array().expect("Layers");
        assert_eq!(layers.len(), 2);
        for (layer, diff_id) in layers
            .iter()
            .zip(config["rootfs"]["diff_ids"].as_array().expect("diff_ids"))
        {
            let name = layer.as_str().expect("str");
            assert!(name.ends_with("/layer.tar"), "{name}");
            let tar = tar_cmd(&["-xOf", path.to_str().expect("utf-8"), name]);
            assert_eq!(digest(&tar), diff_id.as_str().expect("str"));
        }
        let repositories: Value =
            serde_json::from_slice(&tar_cmd(&["-xOf", path.to_str().expect("utf-8"), "repositories"])).expect("JSON");
        let top = layers[1].as_str().expect("str").trim_end_matches("/layer.tar");
        assert_eq!(repositories["app"]["1"], top);
    }

    #[test]
    fn a_docker_25_save_is_an_oci_layout_with_a_manifest_json() {
        let dir = TempDir::new().expect("temp dir");
        let path = dir.path().join("save.tar");
        let built = write_docker_save(&path, &[sample()], DockerFormat::Docker25);
        let out = dir.path().join("out");
        fs::create_dir(&out).expect("mkdir");
        tar_cmd(&["-xf", path.to_str().expect("utf-8"), "-C", out.to_str().expect("utf-8")]);
        check_layout(&out);
        let manifest: Value =
            serde_json::from_slice(&fs::read(out.join("manifest.json")).expect("read")).expect("JSON");
        assert_eq!(
            manifest[0]["Config"],
            format!("blobs/sha256/{}", hex_of(&built[0].config_digest))
        );
        for (name, layer) in manifest[0]["Layers"]
            .as_array()
            .expect("Layers")
            .iter()
            .zip(&built[0].layers)
        {
            let bytes = fs::read(out.join(name.as_str().expect("str"))).expect("layer blob");
            assert_eq!(digest(&bytes), layer.digest);
        }
    }

    #[test]
    fn a_claimed_size_is_written_in_the_descriptor_only() {
        let built = Image::new()
            .layer(Layer::new().file("a", "a").claiming_size(8 << 30))
            .build();
        let manifest: Value = serde_json::from_slice(&built.manifest).expect("JSON");
        assert_eq!(manifest["layers"][0]["size"], 8u64 << 30);
        assert!(built.layers[0].blob.len() < 4096);
    }

    #[test]
    fn the_self_referencing_index_names_its_own_digest() {
        let dir = TempDir::new().expect("temp dir");
        let self_digest = write_self_referencing_layout(dir.path());
        let bytes = fs::read(dir.path().join("blobs/sha256").join(hex_of(&self_digest))).expect("read");
        let index: Value = serde_json::from_slice(&bytes).expect("JSON");
        assert_eq!(index["manifests"][0]["digest"], self_digest);
        assert_eq!(index["manifests"][0]["size"], bytes.len());
        assert_ne!(digest(&bytes), self_digest, "no content hashes to a digest it contains");
    }
}
