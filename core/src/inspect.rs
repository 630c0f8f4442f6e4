//! `inspect`: any reference, index or image, OCI or Docker, read into a report.
//!
//! The report's JSON form is a public, versioned schema (`docs/schemas/inspect.v1.json`); scripts
//! and the CI adapters read it.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::digest::Digest;
use crate::manifest::{self, Descriptor, MAX_CONFIG_BYTES, Manifest, ManifestError, RawManifest};
use crate::platform::Platform;
use crate::reference::{ImageRef, ManifestTarget};
use crate::store::{Store, StoreError};

pub const INSPECT_SCHEMA: &str = "multiarch.inspect.v1";

/// A manifest as read, and its report.
#[derive(Debug, Clone)]
pub struct Inspected {
    pub raw: RawManifest,
    pub report: Report,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub schema: &'static str,
    /// The reference that was inspected, pinned to the digest read (`REPO@sha256:…`).
    pub reference: String,
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
    #[serde(flatten)]
    pub body: Body,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Body {
    Index(IndexReport),
    Image(Box<ImageReport>),
}

#[derive(Debug, Clone, Serialize)]
pub struct IndexReport {
    pub manifests: Vec<EntryReport>,
    pub annotations: BTreeMap<String, String>,
}

/// What an index entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// A platform image.
    Image,
    /// An attestation manifest (provenance, SBOM): not a platform.
    Attestation,
    /// Anything else without a platform (an artifact, a nested index).
    Other,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryReport {
    pub kind: EntryKind,
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
    /// Absent for attestations and other entries without a platform.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// For attestations, the image they describe.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attestation_for: Option<String>,
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageReport {
    pub platform: Platform,
    pub created: Option<String>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    pub env: Vec<String>,
    pub exposed_ports: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub config: BlobReport,
    pub layers: Vec<BlobReport>,
    /// Config plus layers, compressed, as transferred.
    pub total_size: u64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BlobReport {
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error("{reference} has no image for {wanted}; it has: {available}")]
    NoSuchPlatform {
        reference: String,
        wanted: Platform,
        available: String,
    },
    #[error("{reference} is a single {actual} image, not {wanted}")]
    WrongPlatform {
        reference: String,
        wanted: Platform,
        actual: Platform,
    },
}

/// Reads `reference` from `store`. With `platform`, an index is resolved to that platform's image.
pub async fn inspect(
    store: &dyn Store,
    reference: &ImageRef,
    platform: Option<&Platform>,
) -> Result<Inspected, InspectError> {
    let raw = store.get_manifest(&reference.target()).await?;
    let parsed = raw.parse()?;
    let (raw, parsed) = match (parsed, platform) {
        (Manifest::Index(index), Some(wanted)) => {
            let entry = select(&index, wanted).ok_or_else(|| InspectError::NoSuchPlatform {
                reference: reference.to_string(),
                wanted: wanted.clone(),
                available: available(&index),
            })?;
            let child = store
                .get_manifest(&ManifestTarget::Digest(entry.digest.clone()))
                .await?;
            let parsed = child.parse()?;
            (child, parsed)
        }
        (parsed, _) => (raw, parsed),
    };
    let body = match parsed {
        Manifest::Index(index) => Body::Index(index_report(&index)),
        Manifest::Image(image) => {
            let report = image_report(store, &image).await?;
            if let Some(wanted) = platform.filter(|w| !w.matches(&report.platform)) {
                return Err(InspectError::WrongPlatform {
                    reference: reference.to_string(),
                    wanted: wanted.clone(),
                    actual: report.platform,
                });
            }
            Body::Image(Box::new(report))
        }
    };
    let report = Report {
        schema: INSPECT_SCHEMA,
        reference: ImageRef::pinned(&reference.location, &raw.digest).to_string(),
        digest: raw.digest.clone(),
        media_type: raw.media_type.clone(),
        size: raw.size(),
        body,
    };
    Ok(Inspected { raw, report })
}

fn select<'a>(index: &'a manifest::Index, wanted: &Platform) -> Option<&'a Descriptor> {
    index
        .manifests
        .iter()
        .filter(|d| !d.is_attestation())
        .find(|d| d.platform.as_ref().is_some_and(|p| p.matches(wanted)))
}

fn available(index: &manifest::Index) -> String {
    let platforms: Vec<String> = index
        .manifests
        .iter()
        .filter(|d| !d.is_attestation())
        .filter_map(|d| d.platform.as_ref().map(ToString::to_string))
        .collect();
    if platforms.is_empty() {
        "no platform images".to_owned()
    } else {
        platforms.join(", ")
    }
}

fn index_report(index: &manifest::Index) -> IndexReport {
    let manifests = index
        .manifests
        .iter()
        .map(|d| {
            let kind = match (d.is_attestation(), &d.platform) {
                (true, _) => EntryKind::Attestation,
                (false, Some(_)) => EntryKind::Image,
                (false, None) => EntryKind::Other,
            };
            EntryReport {
                kind,
                digest: d.digest.clone(),
                media_type: d.media_type.clone(),
                size: d.size,
                platform: (kind == EntryKind::Image)
                    .then(|| d.platform.clone())
                    .flatten(),
                attestation_for: d.attestation_for().map(str::to_owned),
                annotations: d.annotations.clone().unwrap_or_default(),
            }
        })
        .collect();
    IndexReport {
        manifests,
        annotations: index.annotations.clone().unwrap_or_default(),
    }
}

async fn image_report(
    store: &dyn Store,
    image: &oci_spec::image::ImageManifest,
) -> Result<ImageReport, InspectError> {
    let config_descriptor = image.config();
    let bytes = store
        .read_blob(
            config_descriptor.digest(),
            config_descriptor.size(),
            MAX_CONFIG_BYTES,
        )
        .await?;
    let config = manifest::parse_config(config_descriptor.digest(), &bytes)?;
    let runtime = config.config().clone().unwrap_or_default();
    let blob = |d: &oci_spec::image::Descriptor| BlobReport {
        digest: d.digest().clone(),
        media_type: d.media_type().to_string(),
        size: d.size(),
    };
    let layers: Vec<BlobReport> = image.layers().iter().map(blob).collect();
    let total_size = config_descriptor.size() + layers.iter().map(|l| l.size).sum::<u64>();
    let mut exposed_ports = runtime.exposed_ports().clone().unwrap_or_default();
    exposed_ports.sort();
    Ok(ImageReport {
        platform: manifest::config_platform(&config),
        created: config.created().clone(),
        entrypoint: runtime.entrypoint().clone(),
        cmd: runtime.cmd().clone(),
        user: runtime.user().clone().filter(|u| !u.is_empty()),
        working_dir: runtime.working_dir().clone().filter(|w| !w.is_empty()),
        env: runtime.env().clone().unwrap_or_default(),
        exposed_ports,
        labels: runtime
            .labels()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        annotations: image
            .annotations()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        config: blob(config_descriptor),
        layers,
        total_size,
    })
}
