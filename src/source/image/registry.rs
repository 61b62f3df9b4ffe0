//! Images pulled from a registry through the OCI distribution API (the `oci-client` crate: bearer-token and basic
//! authentication, digests checked). Credentials come from `KEYHOUND_REGISTRY_USERNAME` and
//! `KEYHOUND_REGISTRY_PASSWORD`, else from the user's docker config (`$DOCKER_CONFIG/config.json`, else
//! `~/.docker/config.json`, with its credential helpers), never from the command line. Layers stream from the
//! client's runtime to the scanning threads through a small channel: nothing is written to disk, and a registry
//! that stalls, trickles or sends more than the manifest says is cut off.

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::manifest::{
    IMAGE_MANIFEST_LIST_MEDIA_TYPE, IMAGE_MANIFEST_MEDIA_TYPE, OCI_IMAGE_INDEX_MEDIA_TYPE, OCI_IMAGE_MEDIA_TYPE,
};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

use super::platform::PlatformChoice;
use super::resolve::{MAX_MANIFEST, Manifests, manifest_images};
use super::store::{Store, read_limited};
use super::{Image, ImageError, ImageOptions};

/// The variables registry credentials are read from.
pub const USERNAME_VARIABLE: &str = "KEYHOUND_REGISTRY_USERNAME";
pub const PASSWORD_VARIABLE: &str = "KEYHOUND_REGISTRY_PASSWORD";

/// The manifest types keyhound asks for: OCI and Docker, images and indexes.
const ACCEPTED: [&str; 4] = [
    OCI_IMAGE_MEDIA_TYPE,
    OCI_IMAGE_INDEX_MEDIA_TYPE,
    IMAGE_MANIFEST_MEDIA_TYPE,
    IMAGE_MANIFEST_LIST_MEDIA_TYPE,
];

/// How often a request that met a 429, a 5xx or a broken connection is sent, in all.
const ATTEMPTS: u32 = 3;

/// Below this many bytes a second (after the first request timeout), a blob is taken to be trickled on purpose.
const MIN_RATE: u64 = 16 << 10;

/// An image reference that the user did not name as a file: `HOST[:PORT]/NAME[:TAG][@DIGEST]`.
pub struct Registry {
    label: String,
    reference: Reference,
    auth: RegistryAuth,
    client: Client,
    runtime: Arc<tokio::runtime::Runtime>,
    timeout: Duration,
}

impl Registry {
    /// Parses `target` as a reference and prepares a client for its registry (nothing is sent yet); `label` is
    /// the image as the user named it (`docker://` included).
    pub fn new(
        label: &str,
        target: &str,
        runtime: Arc<tokio::runtime::Runtime>,
        options: &ImageOptions,
    ) -> Result<Registry, ImageError> {
        let timeout = options.request_timeout;
        let reference: Reference = target.parse().map_err(|err| {
            ImageError::new(
                label,
                format!(
                    "no such file or directory, and not an image reference either ({err}): name a `docker save` \
                     archive, an OCI layout, or an image such as ghcr.io/org/app:tag"
                ),
            )
        })?;
        let registry = reference.resolve_registry().to_string();
        let protocol = if crate::http::is_loopback(&registry) || options.insecure_registries.contains(&registry) {
            // A registry on this machine is spoken to in plain HTTP, as docker does; others when the user says so.
            ClientProtocol::HttpsExcept(vec![registry.clone()])
        } else {
            ClientProtocol::Https
        };
        let config = ClientConfig {
            protocol,
            platform_resolver: None,
            read_timeout: Some(timeout),
            connect_timeout: Some(timeout),
            user_agent: concat!("keyhound/", env!("CARGO_PKG_VERSION")),
            ..ClientConfig::default()
        };
        Ok(Registry {
            label: label.to_string(),
            auth: credentials(&registry),
            reference,
            client: Client::new(config),
            runtime,
            timeout,
        })
    }

    /// The images the reference names (one platform of an index, or all).
    pub fn images(&self, store_index: usize, choice: &PlatformChoice) -> Result<Vec<Image>, ImageError> {
        let (bytes, digest) = self.pull_manifest(&self.reference)?;
        manifest_images(self, self, store_index, choice, &bytes, &digest)
    }

    fn fail(&self, message: String) -> ImageError {
        ImageError::new(&self.label, message)
    }

    /// A manifest, with its digest (checked by the client), no larger than the spec's limit.
    fn pull_manifest(&self, reference: &Reference) -> Result<(Vec<u8>, String), ImageError> {
        let pull = || async {
            tokio::time::timeout(
                self.timeout * 2,
                self.client.pull_manifest_raw(reference, &self.auth, &ACCEPTED),
            )
            .await
            .unwrap_or_else(|_| {
                Err(OciDistributionError::GenericError(Some(
                    "the registry took too long".into(),
                )))
            })
        };
        let (bytes, digest) = self
            .runtime
            .block_on(retrying(pull))
            .map_err(|err| self.fail(format!("cannot pull the manifest {reference}: {err}")))?;
        if bytes.len() as u64 > MAX_MANIFEST {
            return Err(self.fail(format!(
                "the manifest {digest} is larger than the {MAX_MANIFEST} bytes a registry may serve"
            )));
        }
        Ok((bytes.to_vec(), digest))
    }
}

impl Manifests for Registry {
    fn manifest(&self, digest: &str) -> Result<Vec<u8>, ImageError> {
        let reference = self.reference.clone_with_digest(digest.to_string());
        Ok(self.pull_manifest(&reference)?.0)
    }

    fn locate(&self, digest: &str) -> Result<String, ImageError> {
        Ok(digest.to_string())
    }
}

impl Store for Registry {
    fn label(&self) -> &str {
        &self.label
    }

    fn has(&self, _path: &str) -> bool {
        false
    }

    fn read(&self, path: &str, limit: u64) -> Result<Vec<u8>, ImageError> {
        read_limited(self.open(path)?, limit, path, &self.label)
    }

    /// Streams the blob `digest` (the client checks it against its digest as it arrives).
    fn open(&self, digest: &str) -> Result<Box<dyn Read + Send + '_>, ImageError> {
        let (sender, receiver) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(16);
        let client = self.client.clone();
        let reference = self.reference.clone();
        let digest = digest.to_string();
        let timeout = self.timeout;
        self.runtime.spawn(async move {
            let pull = || async {
                tokio::time::timeout(timeout, client.pull_blob_stream(&reference, digest.as_str()))
                    .await
                    .unwrap_or_else(|_| {
                        Err(OciDistributionError::GenericError(Some(
                            "the registry took too long".into(),
                        )))
                    })
            };
            let mut stream = match retrying(pull).await {
                Ok(stream) => stream.stream,
                Err(err) => {
                    let _ = sender
                        .send(Err(std::io::Error::other(format!(
                            "cannot pull the blob {digest}: {err}"
                        ))))
                        .await;
                    return;
                }
            };
            let started = Instant::now();
            let mut received = 0u64;
            loop {
                let next = match tokio::time::timeout(timeout, stream.next()).await {
                    Err(_) => Err(std::io::Error::other(format!(
                        "the registry sent nothing for {} s",
                        timeout.as_secs()
                    ))),
                    Ok(None) => break,
                    Ok(Some(chunk)) => chunk,
                };
                let next = next.and_then(|chunk| {
                    received += chunk.len() as u64;
                    let elapsed = started.elapsed();
                    if elapsed > timeout && received < MIN_RATE.saturating_mul(elapsed.as_secs()) {
                        return Err(std::io::Error::other(format!(
                            "the registry sends under {} KiB/s: given up",
                            MIN_RATE >> 10
                        )));
                    }
                    Ok(chunk)
                });
                let failed = next.is_err();
                if sender.send(next).await.is_err() || failed {
                    // The reader is gone (the layer was given up), or the stream failed: stop pulling.
                    break;
                }
            }
        });
        Ok(Box::new(ChannelReader {
            receiver,
            chunk: bytes::Bytes::new(),
        }))
    }
}

/// The reading end of a blob's stream, for the scanning threads (outside the runtime).
struct ChannelReader {
    receiver: tokio::sync::mpsc::Receiver<std::io::Result<bytes::Bytes>>,
    chunk: bytes::Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.chunk.is_empty() {
            match self.receiver.blocking_recv() {
                None => return Ok(0),
                Some(chunk) => self.chunk = chunk?,
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk.split_to(n));
        Ok(n)
    }
}

/// Runs `request` again after a 429, a 5xx, a timeout or a broken connection, [`ATTEMPTS`] times in all, waiting
/// a second, then two.
async fn retrying<T, F, Fut>(request: F) -> Result<T, OciDistributionError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, OciDistributionError>>,
{
    let mut attempt = 1;
    loop {
        match request().await {
            Err(err) if attempt < ATTEMPTS && passing(&err) => {
                tokio::time::sleep(Duration::from_secs(u64::from(attempt))).await;
                attempt += 1;
            }
            result => return result,
        }
    }
}

/// Whether an error may pass if the request is sent again.
fn passing(err: &OciDistributionError) -> bool {
    match err {
        OciDistributionError::ServerError { code, .. } => *code == 429 || *code >= 500,
        OciDistributionError::RequestError(err) => err.is_timeout() || err.is_connect(),
        OciDistributionError::RegistryError { envelope, .. } => {
            format!("{envelope:?}").to_ascii_uppercase().contains("TOOMANYREQUESTS")
        }
        OciDistributionError::GenericError(_) => true,
        _ => false,
    }
}

/// The credentials for `registry`: the environment's, else the docker config's, else none.
fn credentials(registry: &str) -> RegistryAuth {
    if let (Ok(user), Ok(password)) = (std::env::var(USERNAME_VARIABLE), std::env::var(PASSWORD_VARIABLE)) {
        return RegistryAuth::Basic(user, password);
    }
    // Docker keeps Docker Hub's credentials under its old index address.
    let keys: Vec<&str> = if registry == "index.docker.io" || registry == "docker.io" {
        vec!["https://index.docker.io/v1/", "index.docker.io", "docker.io"]
    } else {
        vec![registry]
    };
    for key in keys {
        match docker_credential::get_credential(key) {
            Ok(docker_credential::DockerCredential::UsernamePassword(user, password)) => {
                return RegistryAuth::Basic(user, password);
            }
            Ok(docker_credential::DockerCredential::IdentityToken(token)) => return RegistryAuth::Bearer(token),
            Err(_) => {}
        }
    }
    RegistryAuth::Anonymous
}
