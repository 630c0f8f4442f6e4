//! Base images (`FROM`, `COPY --from=image`): the platform's image is picked from the base's index
//! (normalised platforms, attestations skipped), and only its manifest and config are read; its
//! layers stay where they are until something needs them.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use super::BuildError;
use crate::manifest::{Descriptor, MAX_CONFIG_BYTES, Manifest, RawManifest};
use crate::media_type;
use crate::platform::Platform;
use crate::reference::{ImageRef, Location, ManifestTarget};
use crate::store::{self, Registries, Store};

/// One platform's image of a base.
#[derive(Debug, Clone)]
pub struct BaseImage {
    /// The reference as resolved (`docker.io/library/alpine:3.20`).
    pub reference: ImageRef,
    pub store: Arc<dyn Store>,
    /// The platform image's manifest digest.
    pub manifest: RawManifest,
    /// Its layers, with OCI media types.
    pub layers: Vec<Descriptor>,
    /// Its config, as JSON.
    pub config: serde_json::Value,
}

/// Parses a FROM (or `COPY --from`) image name. `oci:DIR[:TAG]` names an OCI layout, relative to
/// the build context.
pub fn reference(name: &str, context: &Path) -> Result<ImageRef, String> {
    let mut reference = ImageRef::from_str(name).map_err(|e| e.to_string())?;
    if let Location::Layout(dir) = &reference.location
        && dir.is_relative()
    {
        reference.location = Location::Layout(context.join(dir));
    }
    Ok(reference)
}

/// The image of `reference` for `platform`.
pub async fn resolve(
    reference: &ImageRef,
    platform: &Platform,
    registries: &Registries,
) -> Result<BaseImage, BuildError> {
    let fail = |message: String| BuildError::Base {
        reference: reference.to_string(),
        message,
    };
    let store = store::open(&reference.location, registries)
        .await
        .map_err(|e| fail(e.to_string()))?;
    let top = store
        .get_manifest(&reference.target())
        .await
        .map_err(|e| fail(e.to_string()))?;
    let manifest = match top.parse().map_err(|e| fail(e.to_string()))? {
        Manifest::Image(_) => top,
        Manifest::Index(index) => {
            let images: Vec<&Descriptor> = index
                .manifests
                .iter()
                .filter(|d| !d.is_attestation())
                .collect();
            let chosen = images
                .iter()
                .find(|d| d.platform.as_ref().is_some_and(|p| p.matches(platform)))
                .ok_or_else(|| {
                    let offered: Vec<String> = images
                        .iter()
                        .filter_map(|d| d.platform.as_ref().map(ToString::to_string))
                        .collect();
                    fail(format!(
                        "has no {platform} image; it offers {}. Pick a base that supports \
                         {platform}, or drop that platform",
                        if offered.is_empty() {
                            "no platforms".to_owned()
                        } else {
                            offered.join(", ")
                        }
                    ))
                })?;
            store
                .get_manifest(&ManifestTarget::Digest(chosen.digest.clone()))
                .await
                .map_err(|e| fail(e.to_string()))?
        }
    };
    let Manifest::Image(image) = manifest.parse().map_err(|e| fail(e.to_string()))? else {
        return Err(fail(format!(
            "{} is an index inside an index; expected a platform image",
            manifest.digest
        )));
    };
    let config_bytes = store
        .read_blob(
            image.config().digest(),
            image.config().size(),
            MAX_CONFIG_BYTES,
        )
        .await
        .map_err(|e| fail(e.to_string()))?;
    let config: serde_json::Value = serde_json::from_slice(&config_bytes)
        .map_err(|e| fail(format!("its config is not JSON: {e}")))?;
    let actual = config_platform(&config);
    if !actual.matches(platform) {
        return Err(fail(format!(
            "is a {actual} image, not {platform}; use a multi-platform base, or one for {platform}"
        )));
    }
    let layers = image
        .layers()
        .iter()
        .map(|layer| {
            let mut descriptor = Descriptor::new(
                media_type::to_oci(layer.media_type().as_ref()),
                layer.digest().clone(),
                layer.size(),
            );
            descriptor.urls = layer.urls().clone();
            descriptor.annotations = layer
                .annotations()
                .as_ref()
                .map(|a| a.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
            descriptor
        })
        .collect();
    Ok(BaseImage {
        reference: reference.clone(),
        store,
        manifest,
        layers,
        config,
    })
}

/// The platform an image config (as JSON) declares.
pub fn config_platform(config: &serde_json::Value) -> Platform {
    let field = |name: &str| config.get(name).and_then(serde_json::Value::as_str);
    let mut platform = Platform::new(
        field("os").unwrap_or("unknown"),
        field("architecture").unwrap_or("unknown"),
        field("variant"),
    );
    platform.os_version = field("os.version").map(str::to_owned);
    platform
}
