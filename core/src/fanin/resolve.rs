//! Turning sources (records, image references) into verified children: every child's manifest is
//! read by digest (so its bytes match it), its config's platform checked against what was claimed
//! for it, and its layers checked to be there.

use std::path::Path;
use std::sync::Arc;

use futures_util::{StreamExt, future, stream};

use super::FanInError;
use crate::digest::Digest;
use crate::index::Child;
use crate::manifest::{self, Descriptor, MAX_CONFIG_BYTES, Manifest, RawManifest};
use crate::platform::Platform;
use crate::record::Record;
use crate::reference::{ImageRef, ManifestTarget};
use crate::store::{self, Registries, Store};
use crate::transfer::is_distributable;

/// Children checked in parallel within one source index.
const PARALLEL_ENTRIES: usize = 8;

/// A verified entry and where its content lives.
#[derive(Debug, Clone)]
pub(super) struct Found {
    pub child: Child,
    pub store: Arc<dyn Store>,
    pub manifest: RawManifest,
}

/// What one source contributes.
#[derive(Debug, Default)]
pub(super) struct Resolved {
    pub images: Vec<Found>,
    pub extras: Vec<Found>,
}

impl Resolved {
    /// A single verified image.
    fn image(
        descriptor: Descriptor,
        origin: String,
        store: Arc<dyn Store>,
        manifest: RawManifest,
    ) -> Self {
        Resolved {
            images: vec![Found {
                child: Child { descriptor, origin },
                store,
                manifest,
            }],
            extras: Vec::new(),
        }
    }
}

/// A record: the manifest must exist, match the record, and be the platform the record claims.
pub(super) async fn record(
    path: &Path,
    record: &Record,
    registries: &Registries,
) -> Result<Resolved, FanInError> {
    let origin = format!("record {}", path.display());
    let location = record.location().map_err(|e| FanInError::Record {
        origin: origin.clone(),
        message: e.to_string(),
    })?;
    let store = store::open(&location, registries)
        .await
        .map_err(|e| FanInError::store(&origin, e))?;
    let manifest = store
        .get_manifest(&ManifestTarget::Digest(record.digest.clone()))
        .await
        .map_err(|e| FanInError::store(&origin, e))?;
    let mismatch = |field: &str, recorded: String, actual: String| FanInError::RecordMismatch {
        origin: origin.clone(),
        location: location.to_string(),
        digest: record.digest.to_string(),
        field: field.to_owned(),
        recorded,
        actual,
    };
    if manifest.media_type != record.media_type {
        return Err(mismatch(
            "mediaType",
            record.media_type.clone(),
            manifest.media_type.clone(),
        ));
    }
    if manifest.size() != record.size {
        return Err(mismatch(
            "size",
            record.size.to_string(),
            manifest.size().to_string(),
        ));
    }
    let platform = verify_image(store.as_ref(), &manifest, Some(&record.platform), &origin).await?;
    let mut descriptor = manifest.descriptor();
    descriptor.platform = Some(platform);
    descriptor.annotations = (!record.annotations.is_empty()).then(|| record.annotations.clone());
    Ok(Resolved::image(descriptor, origin, store, manifest))
}

/// An image reference: an image contributes itself; an index contributes its entries, each
/// verified like a record.
pub(super) async fn reference(
    reference: &ImageRef,
    registries: &Registries,
) -> Result<Resolved, FanInError> {
    let origin = reference.to_string();
    let store = store::open(&reference.location, registries)
        .await
        .map_err(|e| FanInError::store(&origin, e))?;
    let manifest = store
        .get_manifest(&reference.target())
        .await
        .map_err(|e| FanInError::store(&origin, e))?;
    match manifest
        .parse()
        .map_err(|e| FanInError::manifest(&origin, e))?
    {
        Manifest::Image(_) => {
            let platform = verify_image(store.as_ref(), &manifest, None, &origin).await?;
            let mut descriptor = manifest.descriptor();
            descriptor.platform = Some(platform);
            Ok(Resolved::image(descriptor, origin, store, manifest))
        }
        Manifest::Index(index) => {
            let entries = stream::iter(index.manifests)
                .map(|entry| index_entry(store.clone(), entry, &origin))
                .buffer_unordered(PARALLEL_ENTRIES)
                .collect::<Vec<_>>()
                .await;
            let mut resolved = Resolved::default();
            for entry in entries {
                let (found, is_image) = entry?;
                if is_image {
                    resolved.images.push(found);
                } else {
                    resolved.extras.push(found);
                }
            }
            Ok(resolved)
        }
    }
}

async fn index_entry(
    store: Arc<dyn Store>,
    entry: Descriptor,
    index_origin: &str,
) -> Result<(Found, bool), FanInError> {
    let origin = format!("{index_origin} entry {}", entry.digest);
    let manifest = store
        .get_manifest(&ManifestTarget::Digest(entry.digest.clone()))
        .await
        .map_err(|e| FanInError::store(&origin, e))?;
    let is_image = !entry.is_attestation() && entry.platform.is_some();
    let mut descriptor = entry;
    if is_image {
        let platform = verify_image(
            store.as_ref(),
            &manifest,
            descriptor.platform.as_ref(),
            &origin,
        )
        .await?;
        descriptor.platform = Some(platform);
    }
    Ok((
        Found {
            child: Child { descriptor, origin },
            store,
            manifest,
        },
        is_image,
    ))
}

/// Reads the image's config and returns its platform (normalised), after checking it against the
/// claimed one and that every layer is in `store`: an index whose child cannot be pulled in full
/// must never be tagged (children in the target repository are not copied, so not read either).
async fn verify_image(
    store: &dyn Store,
    manifest: &RawManifest,
    claimed: Option<&Platform>,
    origin: &str,
) -> Result<Platform, FanInError> {
    let Manifest::Image(image) = manifest
        .parse()
        .map_err(|e| FanInError::manifest(origin, e))?
    else {
        return Err(FanInError::NotAnImage {
            origin: origin.to_owned(),
            digest: manifest.digest.to_string(),
            media_type: manifest.media_type.clone(),
        });
    };
    let config = image.config();
    let bytes = store
        .read_blob(config.digest(), config.size(), MAX_CONFIG_BYTES)
        .await
        .map_err(|e| FanInError::store(origin, e))?;
    let config = manifest::parse_config(config.digest(), &bytes)
        .map_err(|e| FanInError::manifest(origin, e))?;
    let actual = manifest::config_platform(&config).normalized();
    if let Some(claimed) = claimed
        && !claimed.matches(&actual)
    {
        return Err(FanInError::PlatformMismatch {
            origin: origin.to_owned(),
            digest: manifest.digest.to_string(),
            claimed: Box::new(claimed.clone()),
            actual: Box::new(actual),
        });
    }
    // Foreign (Windows base) layers live elsewhere by design.
    let layers: Vec<_> = image
        .layers()
        .iter()
        .filter(|layer| is_distributable(layer.media_type().as_ref()))
        .map(|layer| layer_present(store, layer.digest(), manifest, origin))
        .collect();
    future::try_join_all(layers).await?;
    Ok(actual)
}

async fn layer_present(
    store: &dyn Store,
    layer: &Digest,
    manifest: &RawManifest,
    origin: &str,
) -> Result<(), FanInError> {
    match store.blob_exists(layer).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(FanInError::MissingLayer {
            origin: origin.to_owned(),
            location: store.location().to_string(),
            digest: manifest.digest.to_string(),
            layer: layer.to_string(),
        }),
        Err(e) => Err(FanInError::store(origin, e)),
    }
}
