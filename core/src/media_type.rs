//! The media types this project reads and writes, in one place.
//!
//! oci-client's constant names mislead (its `IMAGE_MANIFEST_MEDIA_TYPE` is Docker's), so the
//! project keeps its own names and never spells a media type anywhere else.

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker's schema 1 manifests: deprecated and not supported.
pub const DOCKER_SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";

pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
const OCI_LAYER_NONDISTRIBUTABLE_GZIP: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
const DOCKER_LAYER_FOREIGN_GZIP: &str = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

/// The OCI name of a layer or config media type, so an OCI manifest built on a Docker-typed base
/// image never mixes the two families (the bytes are the same; only the name differs).
pub fn to_oci(media_type: &str) -> &str {
    match media_type {
        DOCKER_LAYER_GZIP => OCI_LAYER_GZIP,
        DOCKER_LAYER_FOREIGN_GZIP => OCI_LAYER_NONDISTRIBUTABLE_GZIP,
        DOCKER_CONFIG => OCI_CONFIG,
        other => other,
    }
}

/// Every manifest media type the project understands, for `Accept` headers.
pub const MANIFEST_TYPES: &[&str] = &[
    OCI_INDEX,
    OCI_MANIFEST,
    DOCKER_MANIFEST_LIST,
    DOCKER_MANIFEST,
];

/// What a manifest media type describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An OCI image index or a Docker manifest list.
    Index,
    /// A single-platform image manifest (OCI or Docker schema 2).
    Image,
}

/// The kind of a manifest media type, or `None` for types the project does not handle.
pub fn kind(media_type: &str) -> Option<Kind> {
    match media_type {
        OCI_INDEX | DOCKER_MANIFEST_LIST => Some(Kind::Index),
        OCI_MANIFEST | DOCKER_MANIFEST => Some(Kind::Image),
        _ => None,
    }
}

/// The media type a manifest declares in its own `mediaType` field, or, for OCI manifests that
/// omit it, the type its shape implies (`manifests` → index; `config` + `layers` → image).
pub fn declared_or_implied(bytes: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        media_type: Option<String>,
        manifests: Option<serde::de::IgnoredAny>,
        config: Option<serde::de::IgnoredAny>,
        layers: Option<serde::de::IgnoredAny>,
    }
    let probe: Probe = serde_json::from_slice(bytes).ok()?;
    if let Some(media_type) = probe.media_type {
        return Some(media_type);
    }
    match (probe.manifests, probe.config, probe.layers) {
        (Some(_), None, _) => Some(OCI_INDEX.to_owned()),
        (None, Some(_), Some(_)) => Some(OCI_MANIFEST.to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(kind(OCI_INDEX), Some(Kind::Index));
        assert_eq!(kind(DOCKER_MANIFEST_LIST), Some(Kind::Index));
        assert_eq!(kind(OCI_MANIFEST), Some(Kind::Image));
        assert_eq!(kind(DOCKER_MANIFEST), Some(Kind::Image));
        assert_eq!(kind(DOCKER_SCHEMA1_SIGNED), None);
    }

    #[test]
    fn implied_types() {
        assert_eq!(
            declared_or_implied(br#"{"schemaVersion":2,"manifests":[]}"#).as_deref(),
            Some(OCI_INDEX)
        );
        assert_eq!(
            declared_or_implied(br#"{"schemaVersion":2,"config":{},"layers":[]}"#).as_deref(),
            Some(OCI_MANIFEST)
        );
        assert_eq!(
            declared_or_implied(br#"{"mediaType":"x/y","manifests":[]}"#).as_deref(),
            Some("x/y")
        );
        assert_eq!(declared_or_implied(b"not json"), None);
    }
}
