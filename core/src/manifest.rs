//! Manifests as stored (exact bytes + media type + digest) and as parsed.
//!
//! Image manifests and configs use oci-spec's types. Index documents use this module's own
//! `Index`/`Descriptor`, because they carry [`Platform`], which keeps `os.version` and
//! `os.features` (oci-spec 0.10's descriptor platform loses both on deserialisation).

use std::collections::BTreeMap;

use bytes::Bytes;
use oci_spec::image::{ImageConfiguration, ImageManifest};
use serde::{Deserialize, Serialize};

use crate::digest::{self, Digest};
use crate::media_type::{self, Kind};
use crate::platform::Platform;

/// The largest manifest this project reads or writes (the limit registries commonly enforce).
pub const MAX_MANIFEST_BYTES: u64 = 4 * 1024 * 1024;
/// The largest image config this project reads.
pub const MAX_CONFIG_BYTES: u64 = 16 * 1024 * 1024;

/// Annotation Docker (buildx) puts on attestation manifests in an index.
pub const REFERENCE_TYPE: &str = "vnd.docker.reference.type";
pub const REFERENCE_TYPE_ATTESTATION: &str = "attestation-manifest";
/// Annotation naming the image an attestation manifest describes.
pub const REFERENCE_DIGEST: &str = "vnd.docker.reference.digest";
/// The tag annotation of OCI image layouts.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// A manifest exactly as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawManifest {
    pub bytes: Bytes,
    pub media_type: String,
    pub digest: Digest,
}

impl RawManifest {
    /// Wraps bytes, computing their sha256 digest.
    pub fn new(bytes: impl Into<Bytes>, media_type: impl Into<String>) -> Self {
        let bytes = bytes.into();
        let digest = digest::sha256(&bytes);
        RawManifest {
            bytes,
            media_type: media_type.into(),
            digest,
        }
    }

    pub fn size(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// A descriptor pointing at this manifest.
    pub fn descriptor(&self) -> Descriptor {
        Descriptor::new(&self.media_type, self.digest.clone(), self.size())
    }

    pub fn parse(&self) -> Result<Manifest, ManifestError> {
        let json_error = |source| ManifestError::Json {
            digest: self.digest.clone(),
            media_type: self.media_type.clone(),
            source,
        };
        match media_type::kind(&self.media_type) {
            Some(Kind::Index) => serde_json::from_slice(&self.bytes)
                .map(|index| Manifest::Index(Box::new(index)))
                .map_err(json_error),
            Some(Kind::Image) => serde_json::from_slice(&self.bytes)
                .map(|m| Manifest::Image(Box::new(m)))
                .map_err(json_error),
            None => Err(ManifestError::Unsupported {
                digest: self.digest.clone(),
                media_type: self.media_type.clone(),
            }),
        }
    }
}

/// A parsed manifest.
#[derive(Debug, Clone)]
pub enum Manifest {
    Index(Box<Index>),
    Image(Box<ImageManifest>),
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("manifest {digest} ({media_type}) is not valid JSON of its type: {source}")]
    Json {
        digest: Digest,
        media_type: String,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "manifest {digest} has media type `{media_type}`, which is neither an image manifest nor an index (Docker schema 1 images must be re-pushed with a current tool)"
    )]
    Unsupported { digest: Digest, media_type: String },
    #[error("config {digest} is not an image configuration: {source}")]
    Config {
        digest: Digest,
        #[source]
        source: serde_json::Error,
    },
}

/// An OCI image index or Docker manifest list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// A content descriptor, as found in an index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

impl Descriptor {
    pub fn new(media_type: &str, digest: Digest, size: u64) -> Self {
        Descriptor {
            media_type: media_type.to_owned(),
            digest,
            size,
            urls: None,
            annotations: None,
            platform: None,
            artifact_type: None,
            data: None,
        }
    }

    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.as_ref()?.get(key).map(String::as_str)
    }

    /// For an attestation manifest (Docker's `unknown/unknown` entries), the digest of the image it
    /// describes, when it names one.
    pub fn attestation_for(&self) -> Option<&str> {
        self.is_attestation()
            .then(|| self.annotation(REFERENCE_DIGEST))
            .flatten()
    }

    /// True for attestation manifests: not a platform, and not to be counted as one.
    pub fn is_attestation(&self) -> bool {
        self.annotation(REFERENCE_TYPE) == Some(REFERENCE_TYPE_ATTESTATION)
            || self.platform.as_ref().is_some_and(Platform::is_unknown)
    }
}

/// The platform an image config declares.
pub fn config_platform(config: &ImageConfiguration) -> Platform {
    let mut platform = Platform::new(
        &config.os().to_string(),
        &config.architecture().to_string(),
        config.variant().as_deref(),
    );
    platform.os_version = config.os_version().clone();
    platform.os_features = config.os_features().clone();
    platform
}

/// Parses an image config blob.
pub fn parse_config(digest: &Digest, bytes: &[u8]) -> Result<ImageConfiguration, ManifestError> {
    serde_json::from_slice(bytes).map_err(|source| ManifestError::Config {
        digest: digest.clone(),
        source,
    })
}

/// Serialises a document as canonical JSON (sorted keys, no insignificant white space), so the
/// same content always gives the same bytes and digest.
pub fn canonical_json<T: Serialize>(value: &T) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut serializer =
        serde_json::Serializer::with_formatter(&mut bytes, olpc_cjson::CanonicalFormatter::new());
    value
        .serialize(&mut serializer)
        .expect("documents made of strings, maps and integers always serialise");
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_index_with_attestations_and_os_version() {
        let json = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
            {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,"digest":"sha256:0000000000000000000000000000000000000000000000000000000000000001","platform":{"os":"windows","architecture":"amd64","os.version":"10.0.17763.1"}},
            {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,"digest":"sha256:0000000000000000000000000000000000000000000000000000000000000002","platform":{"os":"unknown","architecture":"unknown"},
             "annotations":{"vnd.docker.reference.type":"attestation-manifest","vnd.docker.reference.digest":"sha256:0000000000000000000000000000000000000000000000000000000000000001"}}]}"#;
        let raw = RawManifest::new(json.to_vec(), media_type::OCI_INDEX);
        let Manifest::Index(index) = raw.parse().unwrap() else {
            panic!("not an index")
        };
        assert_eq!(
            index.manifests[0]
                .platform
                .as_ref()
                .unwrap()
                .os_version
                .as_deref(),
            Some("10.0.17763.1")
        );
        assert!(!index.manifests[0].is_attestation());
        assert!(index.manifests[1].is_attestation());
        assert_eq!(
            index.manifests[1].attestation_for(),
            Some("sha256:0000000000000000000000000000000000000000000000000000000000000001")
        );
    }

    #[test]
    fn canonical_json_sorts_keys() {
        let mut map = BTreeMap::new();
        map.insert("b", 1);
        map.insert("a", 2);
        assert_eq!(canonical_json(&map), br#"{"a":2,"b":1}"#);
    }

    #[test]
    fn refuses_unknown_media_types() {
        let raw = RawManifest::new(b"{}".to_vec(), media_type::DOCKER_SCHEMA1_SIGNED);
        assert!(matches!(
            raw.parse(),
            Err(ManifestError::Unsupported { .. })
        ));
    }
}
