//! A CI build leg: one platform's image, pushed by digest to a repository (or written into an OCI
//! layout), and the record that hands it to the fan-in. Every CI adapter's build job asks exactly
//! this of the core.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{BuildError, Compression, Destination, EngineChoice, Request};
use crate::platform::Platform;
use crate::record::Record;
use crate::reference::{ImageRef, Location};
use crate::store::Registries;
use crate::transfer::{Progress, TransferStats};

/// What a build leg builds and where it goes.
#[derive(Debug, Clone)]
pub struct Leg {
    pub platform: Platform,
    pub context: PathBuf,
    pub dockerfile: PathBuf,
    pub target: Option<String>,
    pub build_args: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub engine: EngineChoice,
    /// The repository the image is pushed to by digest (no tag), or the OCI layout it is
    /// written into.
    pub location: Location,
}

/// What a leg did.
#[derive(Debug, Clone)]
pub struct LegOutcome {
    pub record: Record,
    /// `LOCATION@DIGEST` of the image.
    pub pinned: ImageRef,
    pub transfers: TransferStats,
}

/// Builds `leg` with gzip layers, `SOURCE_DATE_EPOCH` and the default layer cache.
pub async fn leg(
    leg: &Leg,
    registries: &Registries,
    progress: &dyn Progress,
) -> Result<LegOutcome, BuildError> {
    let records = tempfile::tempdir().map_err(|source| BuildError::Io {
        what: "creating a folder for the record".into(),
        source,
    })?;
    let target = ImageRef {
        location: leg.location.clone(),
        tag: None,
        digest: None,
    };
    let destination = match leg.location {
        Location::Registry(_) => Destination::Push(vec![target]),
        Location::Layout(_) => Destination::Layout(target),
    };
    let request = Request {
        platforms: vec![leg.platform.clone()],
        context: leg.context.clone(),
        dockerfile: leg.dockerfile.clone(),
        target: leg.target.clone(),
        build_args: leg.build_args.clone(),
        labels: leg.labels.clone(),
        annotations: leg.annotations.clone(),
        engine: leg.engine,
        destination,
        records: Some(records.path().to_owned()),
        compression: Compression::Gzip,
        epoch: super::source_date_epoch()?,
        cache_dir: super::default_cache_dir(),
        dry_run: false,
    };
    let outcome = super::run(&request, registries, progress).await?;
    let path = outcome.records.first().ok_or_else(|| BuildError::Io {
        what: "reading the record of the build".into(),
        source: std::io::Error::new(std::io::ErrorKind::NotFound, "the build wrote no record"),
    })?;
    let record = Record::read(path)?;
    Ok(LegOutcome {
        pinned: ImageRef::pinned(&leg.location, &record.digest),
        record,
        transfers: outcome.transfers,
    })
}
