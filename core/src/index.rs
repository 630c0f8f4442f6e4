//! Index stitching: verified children in, canonical index bytes and digest out.
//!
//! Pure: no I/O, no async. The same children (in any order) always give the same bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::manifest::{self, Descriptor, Index, RawManifest};
use crate::media_type;
use crate::platform::Platform;

/// The document written for the index.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Format {
    /// An OCI image index (the default).
    #[default]
    Oci,
    /// A Docker manifest list, for registries and clients that predate OCI.
    Docker,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Oci => "oci",
            Format::Docker => "docker",
        })
    }
}

/// One entry of the index to be, with where it came from (for error messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Child {
    pub descriptor: Descriptor,
    pub origin: String,
}

impl Child {
    /// The entry's platform; children without one are not platform images.
    pub fn platform(&self) -> Option<&Platform> {
        self.descriptor.platform.as_ref()
    }
}

/// The index to be: platform images plus entries carried along (attestations, artifacts).
#[derive(Debug, Clone, Default)]
pub struct Entries {
    pub images: Vec<Child>,
    pub extras: Vec<Child>,
}

/// What stitching produced.
#[derive(Debug, Clone)]
pub struct Stitched {
    pub manifest: RawManifest,
    pub index: Index,
    /// Entries that the chosen format cannot carry (attestations in a Docker list).
    pub dropped: Vec<Child>,
}

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("there is nothing to put in the index: no sources gave a platform image")]
    Empty,
    #[error(
        "two different images claim {platform}: {first_digest} from {first} and {second_digest} from {second}; each platform may appear once (remove one source, or check that two legs did not build for the same runner)"
    )]
    Duplicate {
        platform: String,
        first: String,
        first_digest: String,
        second: String,
        second_digest: String,
    },
    #[error("{}", expected_message(expected, missing, unexpected))]
    Expected {
        expected: Vec<Platform>,
        missing: Vec<Platform>,
        unexpected: Vec<Platform>,
    },
    #[error(
        "a Docker manifest list cannot carry annotations, and these would be lost: {}; drop them or use --format oci",
        keys.join(", ")
    )]
    DockerAnnotations { keys: Vec<String> },
    #[error(
        "a Docker manifest list can only hold Docker schema 2 images, but {digest} ({platform}, from {origin}) is `{media_type}`; use --format oci, or push that image in Docker format"
    )]
    DockerChild {
        digest: String,
        platform: String,
        origin: String,
        media_type: String,
    },
}

fn expected_message(
    expected: &[Platform],
    missing: &[Platform],
    unexpected: &[Platform],
) -> String {
    let list = |ps: &[Platform]| {
        ps.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut message = format!("the index must hold exactly {}", list(expected));
    if !missing.is_empty() {
        message.push_str(&format!("; missing: {}", list(missing)));
    }
    if !unexpected.is_empty() {
        message.push_str(&format!("; not expected: {}", list(unexpected)));
    }
    message.push_str(
        " (a build leg failed or its record did not arrive? fix the matrix, or change the expected platforms: --expect-platforms, the action's platforms input, the Task's EXPECT_PLATFORMS)",
    );
    message
}

/// The key platforms are compared and sorted by.
fn platform_key(platform: &Platform) -> (String, String, String, String) {
    let p = platform.normalized();
    (
        p.os,
        p.architecture,
        p.variant.unwrap_or_default(),
        p.os_version.unwrap_or_default(),
    )
}

/// Sorts by platform, then digest, then the whole descriptor, so that which of two sources
/// naming the same image arrived first never changes the result.
fn sort_by_platform(images: &mut [Child]) {
    images.sort_by_cached_key(|c| {
        (
            c.platform().map(platform_key),
            c.descriptor.digest.to_string(),
            manifest::canonical_json(&c.descriptor),
        )
    });
}

/// Sorts images by platform, removes exact repeats (the same digest twice) and refuses two
/// different images for one platform.
pub fn dedupe(mut images: Vec<Child>) -> Result<Vec<Child>, IndexError> {
    sort_by_platform(&mut images);
    let mut unique: Vec<Child> = Vec::with_capacity(images.len());
    for child in images {
        if let Some(previous) = unique.last()
            && previous.platform().map(platform_key) == child.platform().map(platform_key)
        {
            if previous.descriptor.digest == child.descriptor.digest {
                continue;
            }
            return Err(IndexError::Duplicate {
                platform: child
                    .platform()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                first: previous.origin.clone(),
                first_digest: previous.descriptor.digest.to_string(),
                second: child.origin,
                second_digest: child.descriptor.digest.to_string(),
            });
        }
        unique.push(child);
    }
    Ok(unique)
}

/// Fails unless the images' platforms are exactly `expected` (after normalisation). With
/// `allow_missing`, expected platforms may be absent (a failed build leg) and are returned; a
/// platform not expected is still an error, and so is an index with none of them.
pub fn check_expected(
    images: &[Child],
    expected: &[Platform],
    allow_missing: bool,
) -> Result<Vec<Platform>, IndexError> {
    // `matches` ignores `os.version` unless both sides state one: `windows/amd64` expects any.
    let platforms: Vec<&Platform> = images.iter().filter_map(Child::platform).collect();
    let missing: Vec<Platform> = expected
        .iter()
        .filter(|want| !platforms.iter().any(|have| have.matches(want)))
        .cloned()
        .collect();
    let unexpected: Vec<Platform> = platforms
        .iter()
        .filter(|have| !expected.iter().any(|want| have.matches(want)))
        .map(|p| (*p).clone())
        .collect();
    let none_arrived = missing.len() == expected.len();
    if unexpected.is_empty() && (missing.is_empty() || (allow_missing && !none_arrived)) {
        return Ok(missing);
    }
    Err(IndexError::Expected {
        expected: expected.to_vec(),
        missing,
        unexpected,
    })
}

/// `--append`: the existing index's entries, except the platforms `new` replaces, plus `new`.
/// Existing index annotations are kept unless `annotations` sets the same key.
pub fn merge(existing: &Index, origin: &str, new: Entries) -> (Entries, BTreeMap<String, String>) {
    let replaced: BTreeSet<_> = new
        .images
        .iter()
        .filter_map(Child::platform)
        .map(platform_key)
        .collect();
    let mut merged = new;
    for descriptor in &existing.manifests {
        let child = Child {
            descriptor: descriptor.clone(),
            origin: origin.to_owned(),
        };
        match descriptor.platform.as_ref() {
            _ if descriptor.is_attestation() => merged.extras.push(child),
            Some(platform) if !replaced.contains(&platform_key(platform)) => {
                merged.images.push(child)
            }
            Some(_) => {}
            None => merged.extras.push(child),
        }
    }
    (merged, existing.annotations.clone().unwrap_or_default())
}

/// Builds the index document. `entries.images` must already be deduplicated (see [`dedupe`]).
pub fn stitch(
    entries: &Entries,
    annotations: &BTreeMap<String, String>,
    format: Format,
) -> Result<Stitched, IndexError> {
    if entries.images.is_empty() {
        return Err(IndexError::Empty);
    }
    let mut images = entries.images.clone();
    sort_by_platform(&mut images);

    // Extras are kept only while what they describe is in the index; each appears once.
    let present: BTreeSet<String> = images
        .iter()
        .map(|c| c.descriptor.digest.to_string())
        .collect();
    let mut extras: Vec<Child> = entries
        .extras
        .iter()
        .filter(|c| {
            c.descriptor
                .attestation_for()
                .is_none_or(|d| present.contains(d))
        })
        .cloned()
        .collect();
    extras.sort_by_cached_key(|c| {
        (
            c.descriptor.attestation_for().map(str::to_owned),
            c.descriptor.digest.to_string(),
            manifest::canonical_json(&c.descriptor),
        )
    });
    extras.dedup_by(|a, b| a.descriptor.digest == b.descriptor.digest);

    let mut dropped = Vec::new();
    let media_type = match format {
        Format::Oci => media_type::OCI_INDEX,
        Format::Docker => {
            check_docker(&images, annotations)?;
            dropped = std::mem::take(&mut extras);
            media_type::DOCKER_MANIFEST_LIST
        }
    };

    let index = Index {
        schema_version: 2,
        media_type: Some(media_type.to_owned()),
        artifact_type: None,
        manifests: images
            .into_iter()
            .chain(extras)
            .map(|c| c.descriptor)
            .collect(),
        subject: None,
        annotations: (!annotations.is_empty()).then(|| annotations.clone()),
    };
    let manifest = RawManifest::new(manifest::canonical_json(&index), media_type);
    Ok(Stitched {
        manifest,
        index,
        dropped,
    })
}

fn check_docker(
    images: &[Child],
    annotations: &BTreeMap<String, String>,
) -> Result<(), IndexError> {
    let mut keys: BTreeSet<String> = annotations.keys().map(|k| format!("index `{k}`")).collect();
    for child in images {
        for key in child
            .descriptor
            .annotations
            .iter()
            .flatten()
            .map(|(k, _)| k)
        {
            keys.insert(format!("`{key}` on {}", child.descriptor.digest));
        }
    }
    if !keys.is_empty() {
        return Err(IndexError::DockerAnnotations {
            keys: keys.into_iter().collect(),
        });
    }
    if let Some(child) = images
        .iter()
        .find(|c| c.descriptor.media_type != media_type::DOCKER_MANIFEST)
    {
        return Err(IndexError::DockerChild {
            digest: child.descriptor.digest.to_string(),
            platform: child
                .platform()
                .map(ToString::to_string)
                .unwrap_or_default(),
            origin: child.origin.clone(),
            media_type: child.descriptor.media_type.clone(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest;
    use crate::manifest::{REFERENCE_DIGEST, REFERENCE_TYPE, REFERENCE_TYPE_ATTESTATION};

    fn child(platform: &str, content: &str, media_type: &str) -> Child {
        let mut descriptor = Descriptor::new(media_type, digest::sha256(content.as_bytes()), 100);
        descriptor.platform = Some(platform.parse::<Platform>().unwrap().normalized());
        Child {
            descriptor,
            origin: format!("record {platform}"),
        }
    }

    fn oci(platform: &str) -> Child {
        child(platform, platform, media_type::OCI_MANIFEST)
    }

    fn attestation_for(subject: &Child) -> Child {
        let mut descriptor = Descriptor::new(media_type::OCI_MANIFEST, digest::sha256(b"att"), 10);
        descriptor.platform = Some(Platform::new("unknown", "unknown", None));
        descriptor.annotations = Some(BTreeMap::from([
            (
                REFERENCE_TYPE.to_owned(),
                REFERENCE_TYPE_ATTESTATION.to_owned(),
            ),
            (
                REFERENCE_DIGEST.to_owned(),
                subject.descriptor.digest.to_string(),
            ),
        ]));
        Child {
            descriptor,
            origin: "source index".into(),
        }
    }

    fn entries(images: Vec<Child>) -> Entries {
        Entries {
            images,
            extras: vec![],
        }
    }

    #[test]
    fn order_of_arrival_does_not_change_the_digest() {
        let a = vec![oci("linux/arm64"), oci("linux/amd64"), oci("linux/s390x")];
        let mut b = a.clone();
        b.reverse();
        let none = BTreeMap::new();
        let sa = stitch(&entries(a), &none, Format::Oci).unwrap();
        let sb = stitch(&entries(b), &none, Format::Oci).unwrap();
        assert_eq!(sa.manifest, sb.manifest);
        let platforms: Vec<_> = sa
            .index
            .manifests
            .iter()
            .map(|d| d.platform.as_ref().unwrap().to_string())
            .collect();
        assert_eq!(platforms, ["linux/amd64", "linux/arm64", "linux/s390x"]);
        assert!(sa.manifest.bytes.starts_with(br#"{"manifests":["#));
    }

    #[test]
    fn duplicates_are_refused_but_exact_repeats_collapse() {
        let repeated = dedupe(vec![oci("linux/amd64"), oci("linux/amd64")]).unwrap();
        assert_eq!(repeated.len(), 1);
        let clash = vec![
            child("linux/arm64", "one", media_type::OCI_MANIFEST),
            child("linux/arm64/v8", "two", media_type::OCI_MANIFEST),
        ];
        let err = dedupe(clash).unwrap_err().to_string();
        assert!(
            err.contains("two different images claim linux/arm64"),
            "{err}"
        );
    }

    #[test]
    fn expected_platforms_are_enforced() {
        let images = vec![oci("linux/amd64"), oci("linux/arm64")];
        let expected = Platform::parse_list("linux/amd64,linux/arm64/v8").unwrap();
        assert!(
            check_expected(&images, &expected, false)
                .unwrap()
                .is_empty()
        );
        let expected = Platform::parse_list("linux/amd64,linux/arm64,linux/s390x").unwrap();
        let err = check_expected(&images, &expected, false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing: linux/s390x"), "{err}");
        let expected = Platform::parse_list("linux/amd64").unwrap();
        let err = check_expected(&images, &expected, false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not expected: linux/arm64"), "{err}");
    }

    #[test]
    fn allow_missing_lets_expected_platforms_be_absent_but_never_extra_ones() {
        let images = vec![oci("linux/amd64"), oci("linux/arm64")];
        let expected = Platform::parse_list("linux/amd64,linux/arm64,linux/s390x").unwrap();
        let missing = check_expected(&images, &expected, true).unwrap();
        assert_eq!(missing, Platform::parse_list("linux/s390x").unwrap());

        let expected = Platform::parse_list("linux/amd64,linux/s390x").unwrap();
        let err = check_expected(&images, &expected, true)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not expected: linux/arm64"), "{err}");

        let err = check_expected(&[], &expected, true)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("missing: linux/amd64, linux/s390x"),
            "nothing arrived: {err}"
        );
    }

    #[test]
    fn windows_os_versions_are_distinct_but_any_one_is_expected() {
        let mut ltsc2019 = child("windows/amd64", "2019", media_type::OCI_MANIFEST);
        ltsc2019.descriptor.platform.as_mut().unwrap().os_version = Some("10.0.17763.1".into());
        let mut ltsc2022 = child("windows/amd64", "2022", media_type::OCI_MANIFEST);
        ltsc2022.descriptor.platform.as_mut().unwrap().os_version = Some("10.0.20348.1".into());
        let images = dedupe(vec![ltsc2019, ltsc2022, oci("linux/amd64")]).unwrap();
        assert_eq!(images.len(), 3);
        check_expected(
            &images,
            &Platform::parse_list("windows/amd64,linux/amd64").unwrap(),
            false,
        )
        .unwrap();
        let err = check_expected(
            &images,
            &Platform::parse_list("linux/amd64").unwrap(),
            false,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("not expected: windows/amd64 (10.0.17763.1)"),
            "{err}"
        );
    }

    #[test]
    fn the_same_image_from_two_sources_gives_one_result_in_any_order() {
        let plain = oci("linux/arm64");
        let mut annotated = plain.clone();
        annotated.descriptor.annotations = Some(BTreeMap::from([("k".to_owned(), "v".to_owned())]));
        let none = BTreeMap::new();
        let a = dedupe(vec![plain.clone(), annotated.clone()]).unwrap();
        let b = dedupe(vec![annotated, plain]).unwrap();
        let sa = stitch(&entries(a), &none, Format::Oci).unwrap();
        let sb = stitch(&entries(b), &none, Format::Oci).unwrap();
        assert_eq!(sa.manifest, sb.manifest);
    }

    #[test]
    fn attestations_follow_their_subject() {
        let amd = oci("linux/amd64");
        let orphan = attestation_for(&oci("linux/ppc64le"));
        let kept = attestation_for(&amd);
        let e = Entries {
            images: vec![amd.clone()],
            extras: vec![orphan, kept.clone(), kept.clone()],
        };
        let stitched = stitch(&e, &BTreeMap::new(), Format::Oci).unwrap();
        assert_eq!(stitched.index.manifests.len(), 2);
        assert!(stitched.index.manifests[1].is_attestation());
    }

    #[test]
    fn docker_lists_refuse_annotations_and_oci_children() {
        let docker = child("linux/amd64", "d", media_type::DOCKER_MANIFEST);
        let annotations =
            BTreeMap::from([("org.opencontainers.image.source".to_owned(), "x".to_owned())]);
        let err = stitch(&entries(vec![docker.clone()]), &annotations, Format::Docker)
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot carry annotations"), "{err}");
        let err = stitch(
            &entries(vec![oci("linux/arm64")]),
            &BTreeMap::new(),
            Format::Docker,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("can only hold Docker schema 2 images"),
            "{err}"
        );
        let ok = stitch(&entries(vec![docker]), &BTreeMap::new(), Format::Docker).unwrap();
        assert_eq!(ok.manifest.media_type, media_type::DOCKER_MANIFEST_LIST);
    }

    #[test]
    fn merge_replaces_same_platform_and_keeps_the_rest() {
        let old_amd = child("linux/amd64", "old", media_type::OCI_MANIFEST);
        let existing = Index {
            schema_version: 2,
            media_type: Some(media_type::OCI_INDEX.into()),
            artifact_type: None,
            manifests: vec![old_amd.descriptor.clone(), oci("linux/s390x").descriptor],
            subject: None,
            annotations: Some(BTreeMap::from([("a".to_owned(), "1".to_owned())])),
        };
        let new_amd = child("linux/amd64", "new", media_type::OCI_MANIFEST);
        let (merged, annotations) =
            merge(&existing, "existing index", entries(vec![new_amd.clone()]));
        assert_eq!(annotations.get("a").map(String::as_str), Some("1"));
        let digests: Vec<_> = merged
            .images
            .iter()
            .map(|c| c.descriptor.digest.clone())
            .collect();
        assert!(digests.contains(&new_amd.descriptor.digest));
        assert!(!digests.contains(&old_amd.descriptor.digest));
        assert_eq!(merged.images.len(), 2);
    }

    #[test]
    fn empty_is_an_error() {
        assert!(matches!(
            stitch(&Entries::default(), &BTreeMap::new(), Format::Oci),
            Err(IndexError::Empty)
        ));
    }
}
