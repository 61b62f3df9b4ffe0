//! From what the user named to the images to scan: an OCI layout's `index.json` (through nested indexes, one
//! platform or all), a `docker save` archive's `manifest.json`, or a registry's manifest; each image's config and
//! layer blobs.

use std::collections::HashSet;

use oci_client::manifest::{OciImageIndex, OciImageManifest};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::platform::{Platform, PlatformChoice};
use super::store::{Store, blob_path};
use super::{Blob, Image, ImageError};

/// The OCI distribution spec's limit for manifests registries must accept; keyhound reads none larger.
pub const MAX_MANIFEST: u64 = 4 << 20;
/// Image configs are a few KiB; one of megabytes is not an image config.
pub const MAX_CONFIG: u64 = 8 << 20;
/// Docker allows 127 layers; an image of more is refused.
const MAX_LAYERS: usize = 1000;
/// How deep indexes may nest (an OCI layout's index, a multi-platform index, one more for good measure).
const MAX_INDEX_DEPTH: usize = 4;

/// Where an image's manifests come from, beside the [`Store`] its blobs come from.
pub trait Manifests {
    /// The manifest or index with this digest, whose bytes must hash to it.
    fn manifest(&self, digest: &str) -> Result<Vec<u8>, ImageError>;
    /// How [`Store::open`] names the blob with this digest.
    fn locate(&self, digest: &str) -> Result<String, ImageError>;
    /// Whether the manifest with this digest is there to read: an archive may hold only some platforms' images
    /// of an index (`docker save` with the containerd image store keeps the host's).
    fn has(&self, _digest: &str) -> bool {
        true
    }
}

/// A layout or archive: manifests are blobs, checked against their digest.
pub struct LocalManifests<'a>(pub &'a dyn Store);

impl Manifests for LocalManifests<'_> {
    fn manifest(&self, digest: &str) -> Result<Vec<u8>, ImageError> {
        let bytes = self.0.read(&blob_path(digest, self.0.label())?, MAX_MANIFEST)?;
        check_digest(&bytes, digest, self.0.label())?;
        Ok(bytes)
    }

    fn locate(&self, digest: &str) -> Result<String, ImageError> {
        blob_path(digest, self.0.label())
    }

    fn has(&self, digest: &str) -> bool {
        blob_path(digest, self.0.label()).is_ok_and(|path| self.0.has(&path))
    }
}

/// `sha256:HEX` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// Fails unless `bytes` hash to `digest` (sha256 digests; others are taken as they are).
fn check_digest(bytes: &[u8], digest: &str, label: &str) -> Result<(), ImageError> {
    if digest.starts_with("sha256:") && sha256_digest(bytes) != digest {
        return Err(ImageError::new(
            label,
            format!("the blob {digest} does not match its digest: the image is corrupt or was tampered with"),
        ));
    }
    Ok(())
}

/// The images of a layout or archive.
pub fn local_images(store: &dyn Store, store_index: usize, choice: &PlatformChoice) -> Result<Vec<Image>, ImageError> {
    let label = store.label();
    if store.has("index.json") {
        let bytes = store.read("index.json", MAX_MANIFEST)?;
        let manifests = LocalManifests(store);
        let mut walk = Walk::new(store, &manifests, store_index, choice);
        walk.index(&bytes, "index.json", 0)?;
        return walk.finish();
    }
    if store.has("manifest.json") {
        return docker_save_images(store, store_index);
    }
    let hint = if std::path::Path::new(label).is_dir() {
        " (for a directory of files, such as an unpacked root filesystem, use `keyhound scan`)"
    } else {
        ""
    };
    Err(ImageError::new(
        label,
        format!("neither an OCI image layout (no index.json) nor a `docker save` archive (no manifest.json){hint}"),
    ))
}

/// The images a registry's manifest (an image manifest or an index) stands for.
pub fn manifest_images(
    store: &dyn Store,
    manifests: &dyn Manifests,
    store_index: usize,
    choice: &PlatformChoice,
    bytes: &[u8],
    digest: &str,
) -> Result<Vec<Image>, ImageError> {
    let mut walk = Walk::new(store, manifests, store_index, choice);
    walk.above.push(digest.to_string());
    walk.manifest_or_index(bytes, digest, None, 0)?;
    walk.finish()
}

/// A walk through indexes down to image manifests.
struct Walk<'a> {
    store: &'a dyn Store,
    manifests: &'a dyn Manifests,
    store_index: usize,
    choice: &'a PlatformChoice,
    /// The digests from the top down to where the walk is: an index that names itself, or one above it, is
    /// refused.
    above: Vec<String>,
    /// The manifests already walked (an image tagged twice is scanned once).
    done: HashSet<String>,
    images: Vec<Image>,
    /// Platforms of index entries passed over, for the message when nothing was chosen.
    passed_over: Vec<String>,
    /// Platforms whose images the archive does not hold.
    absent: Vec<String>,
}

impl<'a> Walk<'a> {
    fn new(
        store: &'a dyn Store,
        manifests: &'a dyn Manifests,
        store_index: usize,
        choice: &'a PlatformChoice,
    ) -> Walk<'a> {
        Walk {
            store,
            manifests,
            store_index,
            choice,
            above: Vec::new(),
            done: HashSet::new(),
            images: Vec::new(),
            passed_over: Vec::new(),
            absent: Vec::new(),
        }
    }

    fn fail(&self, message: String) -> ImageError {
        ImageError::new(self.store.label(), message)
    }

    fn finish(self) -> Result<Vec<Image>, ImageError> {
        if self.images.is_empty() {
            let had = if self.passed_over.is_empty() {
                "it holds no image".to_string()
            } else {
                let mut platforms = self.passed_over.clone();
                platforms.sort();
                platforms.dedup();
                format!(
                    "it has {} (choose with --platform, or --all-platforms)",
                    platforms.join(", ")
                )
            };
            let absent = if self.absent.is_empty() {
                String::new()
            } else {
                format!("; the archive lacks the images of {}", self.absent.join(", "))
            };
            return Err(self.fail(format!("no image for {}: {had}{absent}", self.choice.describe())));
        }
        Ok(self.images)
    }

    /// Bytes that are either an image manifest or an index.
    fn manifest_or_index(
        &mut self,
        bytes: &[u8],
        digest: &str,
        platform: Option<Platform>,
        depth: usize,
    ) -> Result<(), ImageError> {
        let probe: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|err| self.fail(format!("the manifest {digest} is not JSON: {err}")))?;
        if probe.get("manifests").is_some() {
            self.index(bytes, digest, depth + 1)
        } else if probe.get("layers").is_some() {
            self.image(bytes, digest, platform)
        } else if probe.get("fsLayers").is_some() {
            Err(self.fail(format!(
                "{digest} is a Docker schema 1 manifest, which registries stopped serving in 2020: not read"
            )))
        } else {
            Err(self.fail(format!("{digest} is neither an image manifest nor an index")))
        }
    }

    fn index(&mut self, bytes: &[u8], name: &str, depth: usize) -> Result<(), ImageError> {
        if depth > MAX_INDEX_DEPTH {
            return Err(self.fail(format!("indexes nest deeper than {MAX_INDEX_DEPTH} at {name}")));
        }
        let index: OciImageIndex =
            serde_json::from_slice(bytes).map_err(|err| self.fail(format!("{name} is not an image index: {err}")))?;
        for entry in &index.manifests {
            let platform = entry.platform.as_ref().map(|p| Platform {
                os: p.os.to_string(),
                architecture: p.architecture.to_string(),
                variant: p.variant.clone(),
            });
            if let Some(platform) = &platform
                && !self.choice.takes(platform)
            {
                if !platform.is_unknown() {
                    self.passed_over.push(platform.to_string());
                }
                continue;
            }
            if self.above.contains(&entry.digest) {
                return Err(self.fail(format!(
                    "the index {name} names {}, an index above it: an index that refers to itself is not an image",
                    entry.digest
                )));
            }
            if !self.done.insert(entry.digest.clone()) {
                continue;
            }
            if let Some(platform) = &platform
                && !self.manifests.has(&entry.digest)
            {
                self.absent.push(platform.to_string());
                continue;
            }
            let bytes = self.manifests.manifest(&entry.digest)?;
            self.above.push(entry.digest.clone());
            let walked = self.manifest_or_index(&bytes, &entry.digest, platform, depth);
            self.above.pop();
            walked?;
        }
        Ok(())
    }

    fn image(&mut self, bytes: &[u8], digest: &str, platform: Option<Platform>) -> Result<(), ImageError> {
        let manifest: OciImageManifest = serde_json::from_slice(bytes)
            .map_err(|err| self.fail(format!("{digest} is not an image manifest: {err}")))?;
        if manifest.layers.len() > MAX_LAYERS {
            return Err(self.fail(format!(
                "{digest} has {} layers, more than the {MAX_LAYERS} keyhound reads",
                manifest.layers.len()
            )));
        }
        let config_path = self.manifests.locate(&manifest.config.digest)?;
        let config = self.store.read(&config_path, MAX_CONFIG)?;
        check_digest(&config, &manifest.config.digest, self.store.label())?;
        let layers = manifest
            .layers
            .iter()
            .map(|layer| {
                Ok(Blob {
                    locator: self.manifests.locate(&layer.digest)?,
                    digest: layer.digest.clone(),
                    size: u64::try_from(layer.size).ok(),
                    media_type: layer.media_type.clone(),
                })
            })
            .collect::<Result<Vec<_>, ImageError>>()?;
        let platform = platform.or_else(|| config_platform(&config));
        self.images.push(Image {
            store: self.store_index,
            reference: self.store.label().to_string(),
            digest: digest.to_string(),
            platform: platform.map(|p| p.to_string()),
            config,
            layers,
        });
        Ok(())
    }
}

/// The platform an image config names (`os`, `architecture`, `variant`).
fn config_platform(config: &[u8]) -> Option<Platform> {
    let value: serde_json::Value = serde_json::from_slice(config).ok()?;
    let text = |key: &str| value.get(key).and_then(|v| v.as_str()).map(str::to_string);
    Some(Platform {
        os: text("os")?,
        architecture: text("architecture")?,
        variant: text("variant"),
    })
}

/// One image of a `docker save` archive's `manifest.json`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerSaveEntry {
    config: String,
    #[serde(default)]
    layers: Vec<String>,
}

/// The images of a classic `docker save` archive: each named by its image id (the config's digest), its layers
/// by their `diff_ids` (the digests of the uncompressed tars the archive holds).
fn docker_save_images(store: &dyn Store, store_index: usize) -> Result<Vec<Image>, ImageError> {
    let label = store.label();
    let fail = |message: String| ImageError::new(label, message);
    let bytes = store.read("manifest.json", MAX_MANIFEST)?;
    let entries: Vec<DockerSaveEntry> = serde_json::from_slice(&bytes)
        .map_err(|err| fail(format!("manifest.json is not a docker save manifest: {err}")))?;
    if entries.is_empty() {
        return Err(fail("manifest.json lists no image".to_string()));
    }
    let mut images = Vec::new();
    for entry in entries {
        if entry.layers.len() > MAX_LAYERS {
            return Err(fail(format!(
                "{} has {} layers, more than the {MAX_LAYERS} keyhound reads",
                entry.config,
                entry.layers.len()
            )));
        }
        let config = store.read(&entry.config, MAX_CONFIG)?;
        let value: serde_json::Value = serde_json::from_slice(&config).unwrap_or_default();
        let diff_ids: Vec<String> = value
            .pointer("/rootfs/diff_ids")
            .and_then(|ids| ids.as_array())
            .map(|ids| ids.iter().filter_map(|id| id.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        let layers = entry
            .layers
            .iter()
            .enumerate()
            .map(|(i, path)| Blob {
                locator: path.clone(),
                // A layer a newer archive keeps as a blob is named by its digest; an old one by its diff_id.
                digest: path
                    .strip_prefix("blobs/sha256/")
                    .map(|hex| format!("sha256:{hex}"))
                    .or_else(|| diff_ids.get(i).cloned())
                    .unwrap_or_else(|| format!("{label}!{path}")),
                size: None,
                media_type: String::new(),
            })
            .collect();
        images.push(Image {
            store: store_index,
            reference: label.to_string(),
            digest: sha256_digest(&config),
            platform: config_platform(&config).map(|p| p.to_string()),
            config,
            layers,
        });
    }
    Ok(images)
}
