//! The fan-in: verify every child, stitch them into one index, make the children present in each
//! target repository, then tag the index. Nothing is tagged unless every step before succeeded.

mod resolve;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use futures_util::{FutureExt, StreamExt, TryStreamExt, stream};

use self::resolve::Resolved;
use crate::digest::Digest;
use crate::index::{self, Child, Entries, Format, IndexError};
use crate::manifest::{Index, Manifest, ManifestError, RawManifest};
use crate::platform::Platform;
use crate::record::Record;
use crate::reference::{ImageRef, Location, ManifestTarget};
use crate::store::{self, Registries, Store, StoreError};
use crate::transfer::{Progress, TransferError, TransferStats, Transfers};
use crate::usage::UsageError;

/// Sources read at the same time.
const PARALLEL_SOURCES: usize = 32;

/// What to stitch and where to publish it.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Where the index goes: one or more tags, in one or more repositories.
    pub tags: Vec<ImageRef>,
    pub records: Vec<(PathBuf, Record)>,
    /// Images or indexes, by tag or digest.
    pub references: Vec<ImageRef>,
    /// When set, the index must hold exactly these platforms.
    pub expect: Option<Vec<Platform>>,
    /// With `expect`: publish what arrived when expected platforms are missing (a failed build
    /// leg), and report them in [`Outcome::missing`]. Platforms not expected are still refused.
    pub allow_missing: bool,
    /// Index-level annotations.
    pub annotations: BTreeMap<String, String>,
    pub format: Format,
    /// Merge into the index at the first tag instead of replacing it.
    pub append: bool,
    /// Verify and stitch, but write nothing.
    pub dry_run: bool,
}

/// What the fan-in did.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub manifest: RawManifest,
    pub index: Index,
    pub published: Vec<Published>,
    /// Entries left out because the format cannot carry them.
    pub dropped: Vec<Child>,
    /// Expected platforms the index was published without ([`Request::allow_missing`]).
    pub missing: Vec<Platform>,
    pub transfers: TransferStats,
}

impl Outcome {
    /// What the index left out, for a warning: `linux/s390x: its record is missing`.
    pub fn missing_summary(&self) -> Option<String> {
        let (first, rest) = self.missing.split_first()?;
        let mut list = first.to_string();
        for platform in rest {
            list.push_str(", ");
            list.push_str(&platform.to_string());
        }
        Some(if rest.is_empty() {
            format!("{list}: its record is missing")
        } else {
            format!("{list}: their records are missing")
        })
    }
}

/// The index's state in one target repository.
#[derive(Debug, Clone)]
pub struct Published {
    pub location: Location,
    /// Tags written (or, in a dry run, that would be written).
    pub written: Vec<String>,
    /// Tags that already held this index and were left alone.
    pub unchanged: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum FanInError {
    /// A request that cannot mean anything (a front end's usage error, exit code 2).
    #[error("{0}")]
    Usage(#[source] UsageError),
    #[error(
        "no --tag given: name at least one place to publish the index (e.g. --tag ghcr.io/org/app:1.0)"
    )]
    NoTags,
    #[error(
        "--tag {tag} carries a digest; a tag names where the index goes (drop the @sha256:… part)"
    )]
    TagWithDigest { tag: String },
    #[error("no sources given: pass record files with --records, or image references")]
    NoSources,
    #[error("{origin}: {message}")]
    Record { origin: String, message: String },
    #[error("{origin}: {source}")]
    Store {
        origin: String,
        #[source]
        source: StoreError,
    },
    #[error("{origin}: {source}")]
    Manifest {
        origin: String,
        #[source]
        source: ManifestError,
    },
    #[error(
        "{origin}: the record says {field} is {recorded}, but {location}@{digest} has {actual}; the record does not describe what was pushed"
    )]
    RecordMismatch {
        origin: String,
        location: String,
        digest: String,
        field: String,
        recorded: String,
        actual: String,
    },
    #[error(
        "{claimed} was claimed for {digest} ({origin}), but its config says {actual}; was it built on the wrong runner, or the wrong image recorded?"
    )]
    PlatformMismatch {
        origin: String,
        digest: String,
        claimed: Box<Platform>,
        actual: Box<Platform>,
    },
    #[error(
        "{origin}: {digest} is `{media_type}`, not an image manifest; an index entry must be one platform image"
    )]
    NotAnImage {
        origin: String,
        digest: String,
        media_type: String,
    },
    #[error(
        "{origin}: layer {layer} of {digest} is not in {location}: the image was pushed incompletely or the layer was deleted since; push the image again"
    )]
    MissingLayer {
        origin: String,
        location: String,
        digest: String,
        layer: String,
    },
    #[error(
        "--append: {tag} holds an image manifest, not an index; run without --append to replace it"
    )]
    AppendToImage { tag: String },
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error("publishing to {location}: {source}")]
    Publish {
        location: String,
        #[source]
        source: TransferError,
    },
    #[error("{} sources could not be used:\n  - {}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  - "))]
    Several(Vec<FanInError>),
}

impl FanInError {
    pub(crate) fn store(origin: &str, source: StoreError) -> Self {
        FanInError::Store {
            origin: origin.to_owned(),
            source,
        }
    }

    pub(crate) fn manifest(origin: &str, source: ManifestError) -> Self {
        FanInError::Manifest {
            origin: origin.to_owned(),
            source,
        }
    }
}

/// A target repository with the tags to write there.
struct Target {
    store: Arc<dyn Store>,
    tags: Vec<String>,
}

/// Runs the fan-in.
pub async fn run(
    request: &Request,
    registries: &Registries,
    progress: &dyn Progress,
) -> Result<Outcome, FanInError> {
    if request.allow_missing && request.expect.is_none() {
        return Err(FanInError::Usage(UsageError::new(
            "--allow-missing needs --expect-platforms: it lets some of the expected platforms be \
             missing, so name them (e.g. --expect-platforms linux/amd64,linux/arm64)",
        )));
    }
    let targets = open_targets(&request.tags, registries).await?;
    if request.records.is_empty() && request.references.is_empty() {
        return Err(FanInError::NoSources);
    }

    let count = request.records.len() + request.references.len();
    tracing::info!(
        "verifying {count} source{}",
        if count == 1 { "" } else { "s" }
    );
    let resolved = resolve_all(request, registries).await?;
    let mut images = Vec::new();
    let mut extras = Vec::new();
    let mut found_in: HashMap<Digest, (Arc<dyn Store>, RawManifest)> = HashMap::new();
    for source in resolved {
        for found in source.images.iter().chain(&source.extras) {
            found_in.insert(
                found.manifest.digest.clone(),
                (found.store.clone(), found.manifest.clone()),
            );
        }
        images.extend(source.images.into_iter().map(|f| f.child));
        extras.extend(source.extras.into_iter().map(|f| f.child));
    }

    let primary = &targets[0];
    let (entries, mut annotations) = if request.append {
        existing_entries(primary, images, extras).await?
    } else {
        (
            Entries {
                images: index::dedupe(images)?,
                extras,
            },
            BTreeMap::new(),
        )
    };
    annotations.extend(request.annotations.clone());
    let missing = match &request.expect {
        Some(expected) => index::check_expected(&entries.images, expected, request.allow_missing)?,
        None => Vec::new(),
    };
    let stitched = index::stitch(&entries, &annotations, request.format)?;
    for dropped in &stitched.dropped {
        tracing::warn!(
            "left out {} ({}): a Docker manifest list cannot carry attestations",
            dropped.descriptor.digest,
            dropped.origin
        );
    }
    let manifest = stitched.manifest;
    tracing::info!(
        digest = %manifest.digest,
        "index of {} platform{}",
        entries.images.len(),
        if entries.images.len() == 1 { "" } else { "s" }
    );

    let mut outcome = Outcome {
        manifest: manifest.clone(),
        index: stitched.index,
        published: Vec::new(),
        dropped: stitched.dropped,
        missing,
        transfers: TransferStats::default(),
    };
    if request.dry_run {
        outcome.published = targets
            .iter()
            .map(|t| Published {
                location: t.store.location().clone(),
                written: t.tags.clone(),
                unchanged: Vec::new(),
            })
            .collect();
        return Ok(outcome);
    }

    // Children first, in every target; tags only once all of them are in place. Entries kept
    // from an existing index (--append) are already in the primary target.
    let children: Vec<Source> = outcome
        .index
        .manifests
        .iter()
        .map(|d| match found_in.get(&d.digest) {
            Some((store, manifest)) => Source {
                store: store.clone(),
                digest: d.digest.clone(),
                manifest: Some(manifest.clone()),
            },
            None => Source {
                store: primary.store.clone(),
                digest: d.digest.clone(),
                manifest: None,
            },
        })
        .collect();
    let transfers = Transfers::new(progress);
    for target in &targets {
        outcome.transfers += copy_children(&children, target.store.as_ref(), &transfers).await?;
    }
    for target in &targets {
        outcome.published.push(publish(target, &manifest).await?);
    }
    Ok(outcome)
}

async fn open_targets(
    tags: &[ImageRef],
    registries: &Registries,
) -> Result<Vec<Target>, FanInError> {
    if tags.is_empty() {
        return Err(FanInError::NoTags);
    }
    let mut targets: Vec<(Location, Vec<String>)> = Vec::new();
    for tag in tags {
        // A tag names where the index goes; a digest cannot.
        let Some(name) = tag.target().tag().map(str::to_owned) else {
            return Err(FanInError::TagWithDigest {
                tag: tag.to_string(),
            });
        };
        match targets.iter_mut().find(|(l, _)| l.same_as(&tag.location)) {
            Some((_, names)) if names.contains(&name) => {}
            Some((_, names)) => names.push(name),
            None => targets.push((tag.location.clone(), vec![name])),
        }
    }
    let mut opened = Vec::with_capacity(targets.len());
    for (location, tags) in targets {
        let store = store::open(&location, registries)
            .await
            .map_err(|e| FanInError::store(&location.to_string(), e))?;
        opened.push(Target { store, tags });
    }
    Ok(opened)
}

async fn resolve_all(
    request: &Request,
    registries: &Registries,
) -> Result<Vec<Resolved>, FanInError> {
    let records = request
        .records
        .iter()
        .map(|(path, record)| resolve::record(path, record, registries).boxed());
    let references = request
        .references
        .iter()
        .map(|reference| resolve::reference(reference, registries).boxed());
    let results: Vec<_> = stream::iter(records.chain(references))
        .buffer_unordered(PARALLEL_SOURCES)
        .collect()
        .await;
    let (ok, mut failed): (Vec<_>, Vec<_>) = results.into_iter().partition(Result::is_ok);
    match failed.len() {
        0 => Ok(ok.into_iter().flatten().collect()),
        1 => Err(failed.remove(0).expect_err("partitioned")),
        _ => Err(FanInError::Several(
            failed.into_iter().filter_map(Result::err).collect(),
        )),
    }
}

/// `--append`: the entries of the index at the primary target's first tag, merged with the new.
async fn existing_entries(
    primary: &Target,
    images: Vec<Child>,
    extras: Vec<Child>,
) -> Result<(Entries, BTreeMap<String, String>), FanInError> {
    let tag = ManifestTarget::Tag(primary.tags[0].clone());
    let tag_name = format!("{}:{}", primary.store.location(), primary.tags[0]);
    let new = Entries {
        images: index::dedupe(images)?,
        extras,
    };
    let existing = match primary.store.get_manifest(&tag).await {
        Ok(existing) => existing,
        Err(e) if e.is_not_found() => {
            tracing::info!("{tag_name} does not exist yet; --append starts a new index");
            return Ok((new, BTreeMap::new()));
        }
        Err(e) => return Err(FanInError::store(&tag_name, e)),
    };
    match existing
        .parse()
        .map_err(|e| FanInError::manifest(&tag_name, e))?
    {
        Manifest::Index(index) => {
            let (merged, annotations) =
                index::merge(&index, &format!("the existing index at {tag_name}"), new);
            Ok((
                Entries {
                    images: index::dedupe(merged.images)?,
                    extras: merged.extras,
                },
                annotations,
            ))
        }
        Manifest::Image(_) => Err(FanInError::AppendToImage { tag: tag_name }),
    }
}

/// Where an entry of the index can be copied from.
struct Source {
    store: Arc<dyn Store>,
    digest: Digest,
    /// Already read while verifying; `None` for entries kept from an existing index.
    manifest: Option<RawManifest>,
}

async fn copy_children(
    children: &[Source],
    target: &dyn Store,
    transfers: &Transfers<'_>,
) -> Result<TransferStats, FanInError> {
    let publish_error = |source| FanInError::Publish {
        location: target.location().to_string(),
        source,
    };
    let copies = stream::iter(
        children
            .iter()
            .filter(|c| !c.store.location().same_as(target.location())),
    )
    .map(|child| async move {
        let manifest = match &child.manifest {
            Some(manifest) => manifest.clone(),
            None => {
                child
                    .store
                    .get_manifest(&ManifestTarget::Digest(child.digest.clone()))
                    .await?
            }
        };
        transfers
            .ensure_manifest(child.store.as_ref(), target, &manifest)
            .await
    })
    .buffer_unordered(PARALLEL_SOURCES)
    .try_collect::<Vec<_>>()
    .await
    .map_err(publish_error)?;
    let mut stats = TransferStats::default();
    for copy in copies {
        stats += copy;
    }
    Ok(stats)
}

/// Writes the index under each tag of `target`, leaving alone tags that already hold it.
async fn publish(target: &Target, manifest: &RawManifest) -> Result<Published, FanInError> {
    let location = target.store.location().clone();
    let fail = |e: StoreError| FanInError::Publish {
        location: location.to_string(),
        source: TransferError::Store(e),
    };
    let mut published = Published {
        location: location.clone(),
        written: Vec::new(),
        unchanged: Vec::new(),
    };
    for tag in &target.tags {
        let at = ManifestTarget::Tag(tag.clone());
        if target.store.resolve(&at).await.map_err(fail)? == Some(manifest.digest.clone()) {
            tracing::info!(
                "{location}:{tag} already holds {}; left as is",
                manifest.digest
            );
            published.unchanged.push(tag.clone());
            continue;
        }
        target
            .store
            .put_manifest(&at, manifest)
            .await
            .map_err(fail)?;
        tracing::info!("tagged {location}:{tag}");
        published.written.push(tag.clone());
    }
    Ok(published)
}

/// The records of the platform images `reference` names: one for an image, one per platform
/// image of an index. Each is verified as a fan-in child is (manifest by digest, config platform).
pub async fn records(
    reference: &ImageRef,
    registries: &Registries,
) -> Result<Vec<Record>, FanInError> {
    let resolved = resolve::reference(reference, registries).await?;
    let mut records: Vec<Record> = resolved
        .images
        .into_iter()
        .filter_map(|found| {
            let platform = found.child.descriptor.platform.clone()?;
            Some(Record::new(
                found.store.location(),
                &found.child.descriptor,
                platform,
            ))
        })
        .collect();
    records.sort_by(|a, b| a.platform.cmp(&b.platform));
    Ok(records)
}
