//! Moving an image between stores: each blob is skipped when the target has it, mounted when it
//! lives in another repository of the same registry, and otherwise streamed (never held whole in
//! memory). The manifest is written by digest last, so a target never references a missing blob.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use futures_util::{StreamExt, TryStreamExt, stream};
use tokio::sync::Semaphore;

use crate::digest::Digest;
use crate::manifest::{Manifest, ManifestError, RawManifest};
use crate::reference::ManifestTarget;
use crate::store::{BlobSource, BlobStream, Store, StoreError, StoredBlob};

/// Blobs checked (HEAD, mount) at once for one image.
const PARALLEL_BLOBS: usize = 4;
/// Blobs streamed at once across a whole run: each holds a download open while it uploads.
const PARALLEL_COPIES: usize = 8;

/// Watches blob copies (a progress bar on a terminal, log lines in CI).
pub trait Progress: Send + Sync + fmt::Debug {
    fn start(&self, digest: &Digest, size: u64) -> Arc<dyn BlobProgress>;
}

/// One blob being copied.
pub trait BlobProgress: Send + Sync {
    fn advance(&self, bytes: u64);
    /// The upload broke and starts again from the first byte.
    fn restart(&self) {}
    fn finish(&self);
}

/// A [`Progress`] that shows nothing.
#[derive(Debug, Clone, Copy)]
pub struct Quiet;

impl Progress for Quiet {
    fn start(&self, _: &Digest, _: u64) -> Arc<dyn BlobProgress> {
        Arc::new(Quiet)
    }
}

impl BlobProgress for Quiet {
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
}

/// What a transfer did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransferStats {
    pub manifests_written: usize,
    pub blobs_present: usize,
    pub blobs_mounted: usize,
    pub blobs_copied: usize,
    pub bytes_copied: u64,
}

impl TransferStats {
    /// The blob line the commands log: `blobs: 2 uploaded (1234 bytes), 1 mounted, 3 already
    /// present`, preceded by the manifests copied when there were any.
    pub fn summary(&self) -> String {
        let blobs = format!(
            "blobs: {} uploaded ({} bytes), {} mounted, {} already present",
            self.blobs_copied, self.bytes_copied, self.blobs_mounted, self.blobs_present
        );
        if self.manifests_written > 0 {
            format!(
                "{} manifest(s) copied into place; {blobs}",
                self.manifests_written
            )
        } else {
            blobs
        }
    }

    /// Whether any blob or manifest was looked at (a dry run or a cached no-op looks at none).
    pub fn is_empty(&self) -> bool {
        *self == TransferStats::default()
    }
}

impl std::ops::AddAssign for TransferStats {
    fn add_assign(&mut self, other: Self) {
        self.manifests_written += other.manifests_written;
        self.blobs_present += other.blobs_present;
        self.blobs_mounted += other.blobs_mounted;
        self.blobs_copied += other.blobs_copied;
        self.bytes_copied += other.bytes_copied;
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
}

/// What a blob already in place counts as.
const PRESENT: TransferStats = TransferStats {
    manifests_written: 0,
    blobs_present: 1,
    blobs_mounted: 0,
    blobs_copied: 0,
    bytes_copied: 0,
};

/// Held while one blob is made present in one repository.
type BlobLock = Arc<tokio::sync::Mutex<()>>;

/// The transfers of one run: where progress goes, a bound on blobs streamed at once, and the
/// blobs being made present right now.
#[derive(Debug)]
pub struct Transfers<'a> {
    progress: &'a dyn Progress,
    copies: Semaphore,
    /// One lock per (target, blob): images of one index often share layers, and two requests
    /// writing the same blob into one repository at once (a mount racing a mount) can leave the
    /// registry without it. The second waits, then finds the blob present.
    in_flight: Mutex<HashMap<(String, Digest), BlobLock>>,
}

impl<'a> Transfers<'a> {
    pub fn new(progress: &'a dyn Progress) -> Self {
        Transfers {
            progress,
            copies: Semaphore::new(PARALLEL_COPIES),
            in_flight: Mutex::new(HashMap::new()),
        }
    }

    /// The right to write a blob into `target`, or `None` when it is there already.
    async fn claim(
        &self,
        target: &dyn Store,
        digest: &Digest,
    ) -> Result<Option<tokio::sync::OwnedMutexGuard<()>>, StoreError> {
        let lock: BlobLock = self
            .in_flight
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry((target.location().to_string(), digest.clone()))
            .or_default()
            .clone();
        let writing = lock.lock_owned().await;
        if target.blob_exists(digest).await? {
            return Ok(None);
        }
        Ok(Some(writing))
    }

    /// Makes `manifest` (an image, or an index and everything under it) present in `target`,
    /// taking what is missing from `source`.
    pub async fn ensure_manifest(
        &self,
        source: &dyn Store,
        target: &dyn Store,
        manifest: &RawManifest,
    ) -> Result<TransferStats, TransferError> {
        let by_digest = ManifestTarget::Digest(manifest.digest.clone());
        if target.resolve(&by_digest).await?.is_some() {
            return Ok(TransferStats::default());
        }
        let mut stats = TransferStats::default();
        match manifest.parse()? {
            Manifest::Index(index) => {
                for child in &index.manifests {
                    let child = source
                        .get_manifest(&ManifestTarget::Digest(child.digest.clone()))
                        .await?;
                    stats += Box::pin(self.ensure_manifest(source, target, &child)).await?;
                }
            }
            Manifest::Image(image) => {
                let blobs = std::iter::once(image.config()).chain(image.layers().iter());
                let copies =
                    stream::iter(blobs.filter(|blob| is_distributable(blob.media_type().as_ref())))
                        .map(|blob| self.ensure_blob(source, target, blob.digest(), blob.size()))
                        .buffer_unordered(PARALLEL_BLOBS)
                        .try_collect::<Vec<TransferStats>>()
                        .await?;
                for copy in copies {
                    stats += copy;
                }
            }
        }
        target.put_manifest(&by_digest, manifest).await?;
        stats.manifests_written += 1;
        Ok(stats)
    }

    /// Makes one blob present in `target`: skipped when there, mounted from `source` when the
    /// registry allows, copied otherwise.
    pub async fn ensure_blob(
        &self,
        source: &dyn Store,
        target: &dyn Store,
        digest: &Digest,
        size: u64,
    ) -> Result<TransferStats, StoreError> {
        let Some(_writing) = self.claim(target, digest).await? else {
            return Ok(PRESENT);
        };
        if target.mount_blob(digest, source.location()).await? {
            tracing::debug!(%digest, from = %source.location(), "mounted");
            return Ok(TransferStats {
                blobs_mounted: 1,
                ..TransferStats::default()
            });
        }
        // The download is opened only once this copy may run, so no response sits unread.
        let _slot = self
            .copies
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let blob = StoredBlob {
            store: source,
            digest,
            size,
        };
        self.upload(target, digest, size, &blob).await
    }

    /// Makes one blob present in `target`, uploading it from `source` unless it is there.
    pub async fn ensure_uploaded(
        &self,
        target: &dyn Store,
        digest: &Digest,
        size: u64,
        source: &dyn BlobSource,
    ) -> Result<TransferStats, StoreError> {
        let Some(_writing) = self.claim(target, digest).await? else {
            return Ok(PRESENT);
        };
        self.upload(target, digest, size, source).await
    }

    /// Streams a blob into `target`, showing its progress.
    async fn upload(
        &self,
        target: &dyn Store,
        digest: &Digest,
        size: u64,
        source: &dyn BlobSource,
    ) -> Result<TransferStats, StoreError> {
        let watch = self.progress.start(digest, size);
        let watched = Watched {
            source,
            watch: watch.clone(),
            opened: std::sync::atomic::AtomicBool::new(false),
        };
        let result = target.put_blob(digest, size, &watched).await;
        watch.finish();
        result?;
        Ok(TransferStats {
            blobs_copied: 1,
            bytes_copied: size,
            ..TransferStats::default()
        })
    }
}

/// A blob source whose bytes advance a progress bar (back to zero when an upload restarts).
struct Watched<'a> {
    source: &'a dyn BlobSource,
    watch: Arc<dyn BlobProgress>,
    opened: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl BlobSource for Watched<'_> {
    async fn open(&self) -> Result<BlobStream, StoreError> {
        if self.opened.swap(true, std::sync::atomic::Ordering::Relaxed) {
            self.watch.restart();
        }
        let data = self.source.open().await?;
        let counter = self.watch.clone();
        Ok(Box::pin(data.inspect_ok(move |chunk| {
            counter.advance(chunk.len() as u64)
        })))
    }
}

/// Foreign (Windows base) and non-distributable layers are fetched by clients from elsewhere.
pub(crate) fn is_distributable(media_type: &str) -> bool {
    !(media_type.contains("foreign") || media_type.contains("nondistributable"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest;
    use crate::media_type;
    use crate::store::LayoutStore;

    async fn put_blob(store: &LayoutStore, bytes: &'static [u8]) -> (Digest, usize) {
        let digest = digest::sha256(bytes);
        store
            .put_blob(
                &digest,
                bytes.len() as u64,
                &bytes::Bytes::from_static(bytes),
            )
            .await
            .unwrap();
        (digest, bytes.len())
    }

    #[tokio::test]
    async fn copies_an_image_between_layouts_then_skips_it() {
        let dir = tempfile::tempdir().unwrap();
        let source = LayoutStore::new(dir.path().join("a"));
        let target = LayoutStore::new(dir.path().join("b"));
        let (config, config_size) = put_blob(
            &source,
            br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#,
        )
        .await;
        let (layer, layer_size) = put_blob(&source, b"layer bytes").await;
        let json = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"{}","digest":"{config}","size":{config_size}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer}","size":{layer_size}}}]}}"#,
            media_type::OCI_MANIFEST,
            media_type::OCI_CONFIG,
        );
        let manifest = RawManifest::new(json.into_bytes(), media_type::OCI_MANIFEST);
        source
            .put_manifest(&ManifestTarget::Digest(manifest.digest.clone()), &manifest)
            .await
            .unwrap();

        let transfers = Transfers::new(&Quiet);
        let stats = transfers
            .ensure_manifest(&source, &target, &manifest)
            .await
            .unwrap();
        assert_eq!(stats.blobs_copied, 2);
        assert_eq!(stats.manifests_written, 1);
        let copied = target
            .get_manifest(&ManifestTarget::Digest(manifest.digest.clone()))
            .await
            .unwrap();
        assert_eq!(copied, manifest);

        let again = transfers
            .ensure_manifest(&source, &target, &manifest)
            .await
            .unwrap();
        assert_eq!(again, TransferStats::default());
    }
}
