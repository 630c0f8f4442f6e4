//! Writing built images into their destination: blobs first (each skipped when present, base
//! layers mounted when the registry allows), the manifest by digest last, so the destination
//! never holds a manifest whose blobs are missing. Then tags: a single image's, or those of the
//! index the fan-in stitches from several.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt, stream};

use super::cache::Known;
use super::layer::Layer;
use super::{BuildError, Destination, Outcome, Request};
use crate::digest::Digest;
use crate::fanin;
use crate::index::Format;
use crate::manifest::{Descriptor, RawManifest};
use crate::reference::{DEFAULT_TAG, ImageRef, Location, ManifestTarget};
use crate::store::{self, FileBlob, Registries, Store, StoreError};
use crate::transfer::{Progress, TransferError, TransferStats, Transfers};

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
            stats += transfers
                .ensure_uploaded(target, digest, bytes.len() as u64, bytes)
                .await
                .map_err(|e| fail(e.into()))?;
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
        // Foreign (Windows base) layers are fetched by clients from their URLs, not copied.
        LayerBlob::Base { descriptor, .. }
            if !crate::transfer::is_distributable(&descriptor.media_type) =>
        {
            Ok(TransferStats::default())
        }
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
            let file = FileBlob(layer.file.to_path_buf());
            transfers
                .ensure_uploaded(target, &layer.digest, layer.size, &file)
                .await
        }
    }
}

/// One platform: the image goes by digest into every repository named, then gets its tags.
pub(super) async fn single(
    request: &Request,
    registries: &Registries,
    primary: Arc<dyn Store>,
    image: &Image,
    transfers: &Transfers<'_>,
    outcome: &mut Outcome,
) -> Result<(), BuildError> {
    let manifest = image.manifest();
    let wanted: Vec<(Location, Option<String>)> = match &request.destination {
        Destination::Push(tags) => tags
            .iter()
            .map(|t| (t.location.clone(), t.tag.clone()))
            .collect(),
        // An OCI layout always gets a tag: `latest` unless one is given.
        Destination::Layout(layout) => vec![(
            layout.location.clone(),
            Some(layout.tag.clone().unwrap_or_else(|| DEFAULT_TAG.to_owned())),
        )],
        Destination::Nowhere => Vec::new(),
    };
    let mut stores: Vec<(Location, Arc<dyn Store>)> =
        vec![(primary.location().clone(), primary.clone())];
    for (location, tag) in &wanted {
        let store = match stores.iter().find(|(l, _)| l.same_as(location)) {
            Some((_, store)) => store.clone(),
            None => {
                let store = store::open(location, registries).await.map_err(|source| {
                    BuildError::Store {
                        reference: location.to_string(),
                        source: Box::new(source),
                    }
                })?;
                outcome.transfers += transfers
                    .ensure_manifest(primary.as_ref(), store.as_ref(), manifest)
                    .await
                    .map_err(|source| BuildError::Publish {
                        location: location.to_string(),
                        source: Box::new(source),
                    })?;
                stores.push((location.clone(), store.clone()));
                store
            }
        };
        if let Some(tag) = tag {
            store
                .put_manifest(&ManifestTarget::Tag(tag.clone()), manifest)
                .await
                .map_err(|source| BuildError::Publish {
                    location: location.to_string(),
                    source: Box::new(TransferError::Store(source)),
                })?;
            tracing::info!("tagged {location}:{tag}");
        }
    }
    outcome.published = stores
        .iter()
        .map(|(location, _)| ImageRef::pinned(location, &manifest.digest))
        .collect();
    Ok(())
}

/// Several platforms: the children are in the primary repository by digest; the fan-in stitches
/// them exactly as `manifest push` would, copies them into any other repository and tags.
pub(super) async fn index(
    request: &Request,
    registries: &Registries,
    primary: &Location,
    progress: &dyn Progress,
    outcome: &mut Outcome,
) -> Result<(), BuildError> {
    let tags = match &request.destination {
        Destination::Push(tags) => tags.clone(),
        Destination::Layout(layout) => vec![layout.clone()],
        Destination::Nowhere => return Ok(()),
    };
    let fanin = fanin::Request {
        tags,
        references: outcome
            .images
            .iter()
            .map(|built| ImageRef::pinned(primary, &built.descriptor.digest))
            .collect(),
        expect: Some(outcome.images.iter().map(|b| b.platform.clone()).collect()),
        annotations: request.annotations.clone(),
        format: Format::Oci,
        ..fanin::Request::default()
    };
    let published = fanin::run(&fanin, registries, progress).await?;
    outcome.transfers += published.transfers;
    outcome.published = published
        .published
        .iter()
        .map(|p| ImageRef::pinned(&p.location, &published.manifest.digest))
        .collect();
    outcome.index = Some(published.manifest);
    Ok(())
}
