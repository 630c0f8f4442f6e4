//! `multiarch build`: a Dockerfile becomes one single-platform image per requested platform,
//! pushed by digest (or written to an OCI layout), recorded, and, for several platforms, stitched
//! into an index by the same fan-in as `manifest push`.
//!
//! Two kinds of engine build the images. The native engine ([`native`]) assembles RUN-free
//! Dockerfiles directly (base image + new layers + config): no daemon, no root, no emulation, and
//! reproducible digests. External engines ([`external`]: buildah, podman, docker) build anything
//! else and export an OCI layout that this module then publishes itself, so records and checks are
//! the same whatever built the image.

mod base;
mod cache;
mod config;
mod environment;
mod external;
mod leg;
mod native;
mod plan;
mod publish;

pub mod compress;
pub mod context;
pub mod copy;
pub mod fs;
pub mod layer;
mod pattern;
pub mod rootfs;
mod tarball;
mod unpack;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use self::compress::Compression;
pub use self::environment::{default_cache_dir, source_date_epoch};
pub use self::leg::{Leg, LegOutcome, leg};
pub use self::plan::{Engine, EngineChoice, UnknownEngine};
use crate::dockerfile::{self, Dockerfile};
use crate::fanin::FanInError;
use crate::manifest::{Descriptor, RawManifest};
use crate::platform::Platform;
use crate::record::{Record, RecordError};
use crate::reference::{ImageRef, Location};
use crate::store::{self, Registries, Store, StoreError};
use crate::transfer::{Progress, TransferError, TransferStats, Transfers};

/// A Dockerfile larger than this is refused before parsing.
const MAX_DOCKERFILE_BYTES: u64 = 1024 * 1024;

/// Where built images go.
#[derive(Debug, Clone, Default)]
pub enum Destination {
    /// Build only: digests are computed and printed, nothing is written.
    #[default]
    Nowhere,
    /// Push by digest to each repository; tags are written where given.
    Push(Vec<ImageRef>),
    /// Write into an OCI image layout, tagged with the reference's tag (`latest` by default).
    Layout(ImageRef),
}

/// What to build.
#[derive(Debug, Clone)]
pub struct Request {
    /// Empty: the host's platform.
    pub platforms: Vec<Platform>,
    pub context: PathBuf,
    pub dockerfile: PathBuf,
    pub target: Option<String>,
    pub build_args: BTreeMap<String, String>,
    /// Image config labels (`org.opencontainers.image.*` and any other).
    pub labels: BTreeMap<String, String>,
    /// Manifest annotations (and index annotations when several platforms are built).
    pub annotations: BTreeMap<String, String>,
    pub engine: EngineChoice,
    pub destination: Destination,
    /// Write one record per platform image into this directory.
    pub records: Option<PathBuf>,
    pub compression: Compression,
    /// Seconds since the Unix epoch for file times and `created` (`SOURCE_DATE_EPOCH`).
    pub epoch: u64,
    /// Where the layer cache lives; `None` turns it off.
    pub cache_dir: Option<PathBuf>,
    /// Plan (parse, pick the engine, resolve base images) but build and write nothing.
    pub dry_run: bool,
}

/// One platform image that was built.
#[derive(Debug, Clone)]
pub struct Built {
    pub platform: Platform,
    /// The image manifest's descriptor (digest, size, media type).
    pub descriptor: Descriptor,
    pub engine: Engine,
}

/// What the build did.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub images: Vec<Built>,
    /// The index stitched from several platforms.
    pub index: Option<RawManifest>,
    /// `REPO@DIGEST` (or `oci:DIR@DIGEST`) of what was published: the image for one platform,
    /// the index for several; one per repository.
    pub published: Vec<ImageRef>,
    pub records: Vec<PathBuf>,
    pub transfers: TransferStats,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("cannot read the Dockerfile {path}: {source}")]
    ReadDockerfile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is {size} bytes; a Dockerfile over {MAX_DOCKERFILE_BYTES} bytes is refused")]
    DockerfileTooLarge { path: PathBuf, size: u64 },
    #[error("{path}: {source}")]
    Dockerfile {
        path: PathBuf,
        #[source]
        source: dockerfile::ParseError,
    },
    #[error("the build context {path} is not a directory; pass --context DIR")]
    NoContext { path: PathBuf },
    #[error(
        "SOURCE_DATE_EPOCH={value}: expected whole seconds since 1970-01-01 (e.g. the last \
         commit's `git log -1 --format=%ct`)"
    )]
    SourceDateEpoch { value: String },
    #[error("{0}")]
    Plan(String),
    /// Something this machine lacks (an engine, an emulator): not a usage error.
    #[error("{0}")]
    Environment(String),
    #[error("{path} line {line}: {message}")]
    Instruction {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("build context: {0}")]
    Context(Box<fs::FsError>),
    #[error("{path} line {line}: {source}")]
    Files {
        path: PathBuf,
        line: usize,
        #[source]
        source: Box<fs::FsError>,
    },
    #[error("base image {reference}: {message}")]
    Base { reference: String, message: String },
    #[error("{reference}: {source}")]
    Store {
        reference: String,
        #[source]
        source: Box<StoreError>,
    },
    #[error("{engine} failed: {message}")]
    Engine { engine: Engine, message: String },
    #[error(
        "the {engine} build produced a {actual} image, but {requested} was requested; the Dockerfile's FROM --platform or the base image decides the platform"
    )]
    WrongPlatform {
        engine: Engine,
        requested: Box<Platform>,
        actual: Box<Platform>,
    },
    #[error("publishing to {location}: {source}")]
    Publish {
        location: String,
        #[source]
        source: Box<TransferError>,
    },
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error(transparent)]
    FanIn(Box<FanInError>),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

impl From<FanInError> for BuildError {
    fn from(error: FanInError) -> Self {
        BuildError::FanIn(Box::new(error))
    }
}

impl BuildError {
    fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BuildError {
        let what = what.into();
        move |source| BuildError::Io { what, source }
    }

    /// True for mistakes in what the user asked (exit code 2), as opposed to failures.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            BuildError::Dockerfile { .. }
                | BuildError::DockerfileTooLarge { .. }
                | BuildError::NoContext { .. }
                | BuildError::SourceDateEpoch { .. }
                | BuildError::Plan(_)
                | BuildError::Instruction { .. }
        )
    }
}

/// Builds and publishes.
pub async fn run(
    request: &Request,
    registries: &Registries,
    progress: &dyn Progress,
) -> Result<Outcome, BuildError> {
    if !request.context.is_dir() {
        return Err(BuildError::NoContext {
            path: request.context.clone(),
        });
    }
    let dockerfile = read_dockerfile(&request.dockerfile)?;
    let platforms = platforms(request);
    let plans = platforms
        .iter()
        .map(|platform| plan::Plan::new(&dockerfile, request, platform))
        .collect::<Result<Vec<_>, _>>()?;
    // The engine builds every platform, so the platform whose stages need most decides.
    let deciding = plans
        .iter()
        .find(|p| p.foreign.is_some())
        .unwrap_or(&plans[0]);
    let engine = deciding.engine(request.engine)?;
    tracing::info!(
        "building {} for {} with the {engine} engine",
        deciding.describe_target(),
        platforms
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    );
    if engine != Engine::Native {
        for (plan, platform) in plans.iter().zip(&platforms) {
            external::check_emulation(plan, platform)?;
        }
        if request.compression != Compression::Gzip {
            tracing::warn!(
                "--compression applies to the native engine; {engine} compresses as it is configured to"
            );
        }
    }
    check_outside_context(request)?;

    if request.dry_run {
        for (plan, platform) in plans.iter().zip(&platforms) {
            for (base, base_platform) in plan.base_images(platform)? {
                let reference = base::reference(&base, &request.context)
                    .map_err(|message| BuildError::Plan(format!("FROM {base}: {message}")))?;
                let image = base::resolve(&reference, &base_platform, registries).await?;
                tracing::info!("{platform}: FROM {base} → {}", image.manifest.digest);
            }
        }
        return Ok(Outcome::default());
    }
    let target = open_destination(&request.destination, registries).await?;
    let scratch = tempfile::Builder::new()
        .prefix("multiarch-build-")
        .tempdir()
        .map_err(BuildError::io("creating a scratch directory"))?;
    let cache = cache::LayerCache::new(request.cache_dir.clone());
    let transfers = Transfers::new(progress);
    let mut outcome = Outcome::default();
    let mut children = Vec::new();
    let build = native::Build {
        request,
        registries,
        scratch: scratch.path(),
        cache: &cache,
        target: target.as_deref(),
    };
    // Every platform is built before anything is written: a platform that fails leaves no
    // image of another behind in the destination.
    for (plan, platform) in plans.iter().zip(&platforms) {
        let image = match engine {
            Engine::Native => publish::Image::Native(build.run(plan, platform).await?),
            external => {
                let (store, manifest) =
                    external::build(external, plan, request, platform, scratch.path()).await?;
                publish::Image::Layout { store, manifest }
            }
        };
        let manifest = image.manifest().clone();
        tracing::info!("{platform}: image {}", manifest.digest);
        outcome.images.push(Built {
            platform: platform.clone(),
            descriptor: manifest.descriptor(),
            engine,
        });
        children.push(image);
    }
    if let Some(target) = &target {
        for image in &children {
            outcome.transfers += publish::image(image, target.as_ref(), &transfers).await?;
        }
    }
    let Some(target) = target else {
        return Ok(outcome);
    };
    if outcome.images.len() == 1 {
        publish::single(
            request,
            registries,
            target,
            &children[0],
            &transfers,
            &mut outcome,
        )
        .await?;
    } else {
        publish::index(
            request,
            registries,
            target.location(),
            progress,
            &mut outcome,
        )
        .await?;
    }
    if let Some(dir) = &request.records {
        for built in &outcome.images {
            let record = Record::new(
                target_location(request),
                &built.descriptor,
                built.platform.clone(),
            );
            outcome.records.push(record.write(dir)?);
        }
    }
    Ok(outcome)
}

/// An `--output` layout or `--records` directory inside the context would be copied into the next
/// platform's image by `COPY .`; refuse that unless .dockerignore leaves it out.
fn check_outside_context(request: &Request) -> Result<(), BuildError> {
    let Ok(context) = request.context.canonicalize() else {
        return Ok(());
    };
    let mut written = Vec::new();
    if let Destination::Layout(layout) = &request.destination
        && let Location::Layout(dir) = &layout.location
    {
        written.push(("--output", dir.clone()));
    }
    if let Some(dir) = &request.records {
        written.push(("--records", dir.clone()));
    }
    let ignore = context::Context::open(&request.context, &request.dockerfile).ok();
    for (flag, dir) in written {
        let absolute = std::path::absolute(&dir).unwrap_or(dir.clone());
        // The nearest existing ancestor, resolved, with the rest of the path appended.
        let mut existing = absolute.as_path();
        let mut rest = Vec::new();
        while !existing.exists() {
            match (existing.parent(), existing.file_name()) {
                (Some(parent), Some(name)) => {
                    rest.push(name.to_owned());
                    existing = parent;
                }
                _ => break,
            }
        }
        let mut resolved = existing.canonicalize().unwrap_or(existing.to_owned());
        resolved.extend(rest.iter().rev());
        let Ok(inside) = resolved.strip_prefix(&context) else {
            continue;
        };
        let relative = inside.to_string_lossy();
        let ignored = ignore.as_ref().is_some_and(|c| c.is_ignored(&relative));
        if !ignored {
            return Err(BuildError::Plan(format!(
                "{flag} {} is inside the build context {}, so COPY would copy it into the \
                 images; write it outside the context, or add `{relative}` to .dockerignore",
                dir.display(),
                request.context.display()
            )));
        }
    }
    Ok(())
}

fn read_dockerfile(path: &Path) -> Result<Dockerfile, BuildError> {
    let read = |source| BuildError::ReadDockerfile {
        path: path.to_owned(),
        source,
    };
    let size = std::fs::metadata(path).map_err(read)?.len();
    if size > MAX_DOCKERFILE_BYTES {
        return Err(BuildError::DockerfileTooLarge {
            path: path.to_owned(),
            size,
        });
    }
    let text = std::fs::read_to_string(path).map_err(read)?;
    Dockerfile::parse(&text).map_err(|source| BuildError::Dockerfile {
        path: path.to_owned(),
        source,
    })
}

/// The requested platforms, normalised and without repeats; the host's when none was given.
fn platforms(request: &Request) -> Vec<Platform> {
    let mut platforms: Vec<Platform> = Vec::new();
    for platform in &request.platforms {
        let platform = platform.normalized();
        if !platforms.contains(&platform) {
            platforms.push(platform);
        }
    }
    if platforms.is_empty() {
        platforms.push(Platform::host());
    }
    platforms
}

async fn open_destination(
    destination: &Destination,
    registries: &Registries,
) -> Result<Option<Arc<dyn Store>>, BuildError> {
    let location = match destination {
        Destination::Nowhere => return Ok(None),
        Destination::Push(tags) => match tags.first() {
            Some(tag) => &tag.location,
            None => return Err(BuildError::Plan("--push needs --tag REPO[:TAG]".to_owned())),
        },
        Destination::Layout(layout) => &layout.location,
    };
    let store = store::open(location, registries)
        .await
        .map_err(|source| BuildError::Store {
            reference: location.to_string(),
            source: Box::new(source),
        })?;
    Ok(Some(store))
}

/// The repository (or layout) images are pushed to first.
fn target_location(request: &Request) -> &Location {
    match &request.destination {
        Destination::Push(tags) => &tags[0].location,
        Destination::Layout(layout) => &layout.location,
        Destination::Nowhere => unreachable!("records are only written for a destination"),
    }
}
