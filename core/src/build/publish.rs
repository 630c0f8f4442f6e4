//! Writing a built image into its destination: blobs first (each skipped when present, base layers
//! mounted when the registry allows), the manifest by digest last, so the destination never holds
//! a manifest whose blobs are missing.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt, stream};
use tokio_util::io::ReaderStream;

use super::BuildError;
use super::cache::Known;
use super::layer::Layer;
use crate::digest::Digest;
use crate::manifest::{Descriptor, RawManifest};
use crate::reference::ManifestTarget;
use crate::store::{BlobStream, Store, StoreError};
use crate::transfer::{TransferError, TransferStats, Transfers};

/// Blobs of one image written at once.
const PARALLEL_BLOBS: usize = 4;

/// A built image and where its blobs are.
#[derive(Debug)]
pub enum Image {
    /// Assembled by the native engine.
    Native(Assembled),
    /// Exported by an external engine into an OCI layout.
    Layout {
        store: Arc<dyn Store>,
        manifest: RawManifest,
    },
}

impl Image {
    pub fn manifest(&self) -> &RawManifest {
        match self {
            Image::Native(assembled) => &assembled.manifest,
            Image::Layout { manifest, .. } => manifest,
        }
    }
}

/// The native engine's image: manifest, config and the blobs of its layers.
#[derive(Debug)]
pub struct Assembled {
    pub manifest: RawManifest,
    pub config: (Digest, Bytes),
    pub layers: Vec<LayerBlob>,
}

/// Where a layer's bytes are.
#[derive(Debug, Clone)]
pub enum LayerBlob {
    /// Written by this build, in a temporary file.
    Built(Arc<Layer>),
    /// Found in the layer cache and already present at the destination.
    Present(Known),
    /// A base image's layer, in the base's store.
    Base {
        store: Arc<dyn Store>,
        descriptor: Box<Descriptor>,
    },
}

/// Makes `image` present in `target` by digest.
pub async fn image(
    image: &Image,
    target: &dyn Store,
    transfers: &Transfers<'_>,
) -> Result<TransferStats, BuildError> {
    let fail = |source: TransferError| BuildError::Publish {
        location: target.location().to_string(),
        source: Box::new(source),
    };
    match image {
        Image::Layout { store, manifest } => transfers
            .ensure_manifest(store.as_ref(), target, manifest)
            .await
            .map_err(fail),
        Image::Native(assembled) => {
            let layers = stream::iter(&assembled.layers)
                .map(|blob| layer(blob, target, transfers))
                .buffer_unordered(PARALLEL_BLOBS)
                .try_collect::<Vec<_>>()
                .await
                .map_err(|e| fail(TransferError::Store(e)))?;
            let mut stats = TransferStats::default();
            for copied in layers {
                stats += copied;
            }
            let (digest, bytes) = &assembled.config;
            if !target
                .blob_exists(digest)
                .await
                .map_err(|e| fail(e.into()))?
            {
                let data = bytes.clone();
                let data: BlobStream = Box::pin(stream::once(async move { Ok(data) }));
                target
                    .put_blob(digest, bytes.len() as u64, data)
                    .await
                    .map_err(|e| fail(e.into()))?;
            }
            target
                .put_manifest(
                    &ManifestTarget::Digest(assembled.manifest.digest.clone()),
                    &assembled.manifest,
                )
                .await
                .map_err(|e| fail(e.into()))?;
            stats.manifests_written += 1;
            Ok(stats)
        }
    }
}

async fn layer(
    blob: &LayerBlob,
    target: &dyn Store,
    transfers: &Transfers<'_>,
) -> Result<TransferStats, StoreError> {
    match blob {
        LayerBlob::Base { store, descriptor } => {
            transfers
                .ensure_blob(store.as_ref(), target, &descriptor.digest, descriptor.size)
                .await
        }
        LayerBlob::Present(known) => {
            // Checked when the cache was consulted; checked again so a blob deleted in between
            // is reported rather than referenced.
            if target.blob_exists(&known.digest).await? {
                Ok(TransferStats {
                    blobs_present: 1,
                    ..TransferStats::default()
                })
            } else {
                Err(StoreError::NotFound {
                    location: target.location().to_string(),
                    what: format!(
                        "layer {} (present a moment ago; run the build again)",
                        known.digest
                    ),
                })
            }
        }
        LayerBlob::Built(layer) => {
            if target.blob_exists(&layer.digest).await? {
                return Ok(TransferStats {
                    blobs_present: 1,
                    ..TransferStats::default()
                });
            }
            let file =
                tokio::fs::File::open(&layer.file)
                    .await
                    .map_err(|source| StoreError::Io {
                        path: layer.file.to_path_buf(),
                        source,
                    })?;
            let data: BlobStream = Box::pin(ReaderStream::with_capacity(file, 256 * 1024));
            transfers
                .upload(target, &layer.digest, layer.size, data)
                .await
        }
    }
}
