//! Container images as a source (`keyhound image`): `docker save` / `podman save` archives, OCI image layouts (a
//! directory or a tar) and images in a registry. Every layer is read once per run, by digest, however many images
//! share it; its files go through the same content stage as a working tree's. A file that a later layer deletes
//! (a whiteout, an opaque directory) or overwrites is still in the image for everyone who pulls it: its findings
//! say where it was removed. The image config (`Env`, `Labels`, `Cmd`, `Entrypoint`, the history's build steps) is
//! scanned as text.

pub mod config;
mod layer;
pub mod platform;
mod registry;
mod resolve;
mod store;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use globset::GlobSet;
use rayon::prelude::*;

use crate::counts::{Counts, ErrorKind, ScanError};
use crate::diag::Diagnostics;
use crate::finding::{DeletedIn, Finding, ImageProvenance};
use crate::scan::Scanner;
use layer::LayerScan;
pub use platform::{Platform, PlatformChoice};
pub use registry::{PASSWORD_VARIABLE, USERNAME_VARIABLE};
use store::Store;

/// What could not be read of an image, and where.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{place}: {message}")]
pub struct ImageError {
    /// The image as the user named it.
    pub place: String,
    pub message: String,
}

impl ImageError {
    pub fn new(place: &str, message: impl Into<String>) -> ImageError {
        ImageError {
            place: place.to_string(),
            message: message.into(),
        }
    }
}

/// How to read images.
#[derive(Debug, Clone)]
pub struct ImageOptions {
    pub platform: PlatformChoice,
    /// Files larger than this are not scanned (a scan error says so).
    pub max_file_size: u64,
    /// How large one layer may expand when decompressed; past it the layer is given up (a decompression bomb).
    pub max_layer_size: u64,
    pub content: crate::content::Options,
    /// Paths inside layers matching these globs are not scanned.
    pub exclude: Option<GlobSet>,
    /// How long a registry may keep keyhound waiting for one answer.
    pub request_timeout: Duration,
    /// Registries spoken to in plain HTTP (`--insecure-registry`), beside those on this machine.
    pub insecure_registries: Vec<String>,
}

impl ImageOptions {
    pub const DEFAULT_MAX_LAYER_SIZE: u64 = 16 << 30;
}

/// A blob an image names: a layer.
#[derive(Debug, Clone)]
pub struct Blob {
    /// How the store names it: a path in a layout or archive, the digest in a registry.
    pub locator: String,
    /// Its digest, which the bytes must hash to (a classic `docker save` layer: its `diff_id`).
    pub digest: String,
    /// Its size as the manifest says; none where the format does not say.
    pub size: Option<u64>,
    pub media_type: String,
}

/// One image to scan.
#[derive(Debug, Clone)]
pub struct Image {
    /// Which of the run's stores holds it.
    store: usize,
    /// The target as the user named it.
    pub reference: String,
    /// The manifest's digest (a classic `docker save` image: its id, the config's digest).
    pub digest: String,
    pub platform: Option<String>,
    /// The image config, as its blob holds it.
    pub config: Vec<u8>,
    pub layers: Vec<Blob>,
}

/// What a run of `keyhound image` found, and what it could not open at all.
pub struct ImagesScanned {
    pub findings: Vec<Finding>,
    pub counts: Counts,
    /// The targets that could not be opened or resolved to an image.
    pub failed: Vec<ImageError>,
    /// How many images were scanned.
    pub images: usize,
}

/// Scans every target: each a `docker save` archive, an OCI layout (directory or tar), or a registry reference.
pub fn scan_images(scanner: &Scanner, targets: &[String], options: &ImageOptions, diag: &Diagnostics) -> ImagesScanned {
    let mut stores: Vec<Box<dyn Store>> = Vec::new();
    let mut images: Vec<Image> = Vec::new();
    let mut failed = Vec::new();
    let mut runtime = None;
    for target in targets {
        match open_target(target, stores.len(), options, &mut runtime) {
            Ok((store, found)) => {
                stores.push(store);
                images.extend(found);
            }
            Err(err) => failed.push(err),
        }
    }
    // Each layer once, from the first store that has it.
    let mut unique: Vec<(usize, Blob)> = Vec::new();
    let mut seen = HashSet::new();
    for image in &images {
        for blob in &image.layers {
            if seen.insert(blob.digest.clone()) {
                unique.push((image.store, blob.clone()));
            }
        }
    }
    let scans: HashMap<String, LayerScan> = unique
        .par_iter()
        .map(|(store, blob)| {
            let mut scan = layer::scan_layer(scanner, stores[*store].as_ref(), blob, options, diag);
            // Files were scanned in parallel: their findings are put back in a stable order.
            scan.findings.sort_by(|(a, x), (b, y)| {
                (a, &x.path, x.location, &x.rule_id).cmp(&(b, &y.path, y.location, &y.rule_id))
            });
            (blob.digest.clone(), scan)
        })
        .collect();
    let mut counts = Counts::default();
    let mut findings = Vec::new();
    for image in &images {
        findings.extend(config_findings(scanner, image, options, &mut counts, diag));
        findings.extend(layer_findings(image, &scans));
    }
    for scan in scans.into_values() {
        counts.add(scan.counts);
    }
    let scanned = images.len();
    drop(stores);
    if let Some(runtime) = runtime {
        // Streams of layers given up are still winding down: they are not waited for.
        if let Ok(runtime) = Arc::try_unwrap(runtime) {
            runtime.shutdown_background();
        }
    }
    ImagesScanned {
        findings,
        counts,
        failed,
        images: scanned,
    }
}

/// Opens one target and finds its images.
fn open_target(
    target: &str,
    index: usize,
    options: &ImageOptions,
    runtime: &mut Option<Arc<tokio::runtime::Runtime>>,
) -> Result<(Box<dyn Store>, Vec<Image>), ImageError> {
    // The transports skopeo and podman name images with.
    let (named, transport) = match target.split_once(':') {
        Some(("docker-archive" | "oci-archive" | "oci", rest)) => (rest, Some("file")),
        Some(("docker", rest)) if rest.starts_with("//") => (&rest[2..], Some("registry")),
        _ => (target, None),
    };
    let path = Path::new(named);
    if transport == Some("file") && !path.exists() {
        return Err(ImageError::new(target, "no such file or directory"));
    }
    if transport.is_none() && !path.exists() && looks_like_a_path(named) {
        return Err(ImageError::new(
            target,
            "no such file or directory (an image in a registry is named like ghcr.io/org/app:tag)",
        ));
    }
    if transport != Some("registry") && path.is_dir() {
        let store = store::LayoutDir::new(target, path);
        let images = resolve::local_images(&store, index, &options.platform)?;
        return Ok((Box::new(store), images));
    }
    if transport != Some("registry") && path.exists() {
        let store = store::TarArchive::open(target, path)?;
        let images = resolve::local_images(&store, index, &options.platform)?;
        return Ok((Box::new(store), images));
    }
    let runtime = match runtime {
        Some(runtime) => Arc::clone(runtime),
        None => {
            let built = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("keyhound-registry")
                .enable_all()
                .build()
                .map(Arc::new)
                .map_err(|err| ImageError::new(target, format!("cannot start the HTTP client: {err}")))?;
            *runtime = Some(Arc::clone(&built));
            built
        }
    };
    let registry = registry::Registry::new(target, named, runtime, options)?;
    let images = registry.images(index, &options.platform)?;
    Ok((Box::new(registry), images))
}

/// Whether a target that names nothing on disk was meant as a file: a registry reference never starts with `/`,
/// `.` or `~`, and never ends in `.tar`.
fn looks_like_a_path(target: &str) -> bool {
    let lower = target.to_ascii_lowercase();
    target.starts_with(['/', '.', '~', '\\'])
        || target.contains('\\')
        || [".tar", ".tar.gz", ".tgz", ".tar.zst", ".oci"]
            .iter()
            .any(|ending| lower.ends_with(ending))
}

/// The provenance every finding of `image` shares.
fn provenance(image: &Image) -> ImageProvenance {
    ImageProvenance {
        reference: image.reference.clone(),
        digest: image.digest.clone(),
        platform: image.platform.clone(),
        ..ImageProvenance::default()
    }
}

/// The findings in the image config's fields; a key in a named field is not reported again from the whole config.
fn config_findings(
    scanner: &Scanner,
    image: &Image,
    options: &ImageOptions,
    counts: &mut Counts,
    diag: &Diagnostics,
) -> Vec<Finding> {
    let mut findings: Vec<Finding> = Vec::new();
    for (name, text) in config::texts(&image.config) {
        let found = crate::content::scan(scanner, text.as_bytes(), &name, &options.content, counts, diag, None);
        for mut finding in found {
            if name == config::WHOLE && findings.iter().any(|f| f.fingerprint == finding.fingerprint) {
                continue;
            }
            finding.image = Some(provenance(image));
            findings.push(finding);
        }
    }
    findings
}

/// The findings of `image`'s layers, each with its layer, build step and, where a later layer removed the file,
/// that layer.
fn layer_findings(image: &Image, scans: &HashMap<String, LayerScan>) -> Vec<Finding> {
    let steps = config::layer_steps(&image.config);
    let layers: Vec<Option<&LayerScan>> = image.layers.iter().map(|blob| scans.get(&blob.digest)).collect();
    let mut findings = Vec::new();
    for (index, blob) in image.layers.iter().enumerate() {
        let Some(scan) = layers[index] else { continue };
        for (file, finding) in &scan.findings {
            let deleted_in = layers
                .iter()
                .enumerate()
                .skip(index + 1)
                .find_map(|(later, scan)| removal(scan.as_ref()?, file).map(|by| (later, by)))
                .map(|(later, by)| DeletedIn {
                    layer: image.layers[later].digest.clone(),
                    layer_index: later,
                    by: by.to_string(),
                });
            let mut finding = finding.clone();
            finding.image = Some(ImageProvenance {
                layer: Some(blob.digest.clone()),
                layer_index: Some(index),
                created_by: steps.get(index).cloned().flatten(),
                deleted_in,
                ..provenance(image)
            });
            findings.push(finding);
        }
    }
    findings
}

/// How a later layer removes `file` from the image, if it does: a whiteout of it or of a directory above it, an
/// opaque directory above it, or a file written at its path.
fn removal(later: &LayerScan, file: &str) -> Option<&'static str> {
    let mut ancestors = Vec::new();
    let mut at = file;
    while let Some((dir, _)) = at.rsplit_once('/') {
        ancestors.push(dir);
        at = dir;
    }
    if later.whiteouts.contains(file) || ancestors.iter().any(|dir| later.whiteouts.contains(*dir)) {
        return Some("whiteout");
    }
    if later.opaque.contains("") || ancestors.iter().any(|dir| later.opaque.contains(*dir)) {
        return Some("opaque");
    }
    if later.files.contains(file) {
        return Some("overwritten");
    }
    None
}

/// The scan error for a target that could not be opened.
pub fn target_error(err: &ImageError) -> ScanError {
    ScanError::new(ErrorKind::Image, &err.place, &err.message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_layers_remove_files_by_whiteout_opaque_dir_or_overwrite() {
        let mut later = LayerScan::default();
        later.whiteouts.insert("app/.env".to_string());
        later.whiteouts.insert("old".to_string());
        later.opaque.insert("etc/conf".to_string());
        later.files.insert("srv/key.txt".to_string());
        assert_eq!(removal(&later, "app/.env"), Some("whiteout"));
        assert_eq!(removal(&later, "old/deep/file"), Some("whiteout"));
        assert_eq!(removal(&later, "etc/conf/a/b"), Some("opaque"));
        assert_eq!(removal(&later, "srv/key.txt"), Some("overwritten"));
        assert_eq!(removal(&later, "app/.env2"), None);
        assert_eq!(removal(&later, "etc/confx"), None);
    }
}
