//! `multiarch gitlab build`: one platform's image, pushed by digest (or written into the OCI
//! layout when `MULTIARCH_PUSH` is false), its record written for the merge job and its digest
//! into the dotenv report.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, Result};
use multiarch_core::build::{self, Leg};
use multiarch_core::record::Record;
use multiarch_core::reference::{ImageRef, Location, ManifestTarget};
use multiarch_core::store::{self, Registries};
use multiarch_core::tags;
use multiarch_core::transfer::{Progress, Transfers};

use crate::pipeline::{self, Pipeline};
use crate::section::Section;
use crate::variables::BuildVariables;
use crate::{dotenv, records, usage};

pub async fn run(
    vars: &BuildVariables,
    pipeline: &Pipeline,
    registries: &Registries,
    progress: &dyn Progress,
) -> Result<()> {
    let common = &vars.common;
    let image = &common.target;
    let platform = &vars.platform;
    // The OCI labels of the image config, from the pipeline; `version` from the tags the merge
    // will publish when the template passes them, else from the automatic ones.
    let facts = pipeline.facts(pipeline::now());
    let tag_names =
        tags::expand(&common.tags, &facts).map_err(|e| usage(format!("MULTIARCH_TAGS: {e}")))?;
    let labels: BTreeMap<String, String> = tags::oci_annotations(&facts, &tag_names);

    if let Location::Layout(dir) = image
        && !common.push
    {
        tracing::info!(
            "MULTIARCH_PUSH is false: building into the OCI layout {} instead of {}",
            dir.display(),
            common.image
        );
    }
    let scratch = tempfile::tempdir().context("creating a folder for a staging layout")?;
    // The job's layout (an artifact) lies in the project directory, usually inside the build
    // context, where `COPY .` would take it into the image: build into a layout outside it and
    // copy the image over afterwards.
    let staged = match image {
        Location::Layout(dir) if inside(dir, &vars.context) => {
            Some((dir.clone(), Location::Layout(scratch.path().join("oci"))))
        }
        _ => None,
    };
    let leg = Leg {
        platform: platform.clone(),
        context: vars.context.clone(),
        dockerfile: vars.dockerfile.clone(),
        target: vars.target.clone(),
        build_args: vars.build_args.clone(),
        labels,
        annotations: BTreeMap::new(),
        engine: vars.engine,
        location: staged
            .as_ref()
            .map_or(image, |(_, location)| location)
            .clone(),
    };
    let built = {
        let _section = Section::start("multiarch_build", &format!("Build {platform} for {image}"));
        tracing::info!(
            "building {} (context {}) for {platform} into {image}",
            leg.dockerfile.display(),
            leg.context.display()
        );
        let built = build::leg(&leg, registries, progress)
            .await
            .with_context(|| format!("building {} for {platform}", leg.dockerfile.display()))?;
        tracing::info!("{}", built.transfers.summary());
        built
    };
    let mut record = built.record;
    if let Some((dir, staging)) = &staged {
        record = copy_into_layout(staging, dir, record, registries, progress).await?;
    }
    let pinned = ImageRef::pinned(image, &record.digest);
    tracing::info!("built {}: {pinned}", record.platform);

    let path = records::put(&common.records_dir, &record)?;
    tracing::info!("record written to {}", path.display());
    // No MULTIARCH_TAGS here: dotenv variables override the job variables of the jobs that
    // need this one, and the merge job reads its tags from MULTIARCH_TAGS.
    dotenv::write(
        &common.dotenv,
        &[
            ("MULTIARCH_DIGEST", record.digest.as_ref()),
            ("MULTIARCH_IMAGE_REF", &pinned.to_string()),
        ],
    )
    .with_context(|| format!("{pinned} is built, but its dotenv report cannot be written"))?;
    println!("{pinned}");
    Ok(())
}

/// Whether `dir` is `context` or lies under it (both made absolute; neither need exist yet).
fn inside(dir: &Path, context: &Path) -> bool {
    match (std::path::absolute(dir), std::path::absolute(context)) {
        (Ok(dir), Ok(context)) => dir.starts_with(context),
        _ => true,
    }
}

/// Copies the image `record` names from the `staging` layout into the layout `dir`; returns the
/// record of the copy.
async fn copy_into_layout(
    staging: &Location,
    dir: &Path,
    record: Record,
    registries: &Registries,
    progress: &dyn Progress,
) -> Result<Record> {
    let target = Location::Layout(dir.to_owned());
    let source_store = store::open(staging, registries).await?;
    let target_store = store::open(&target, registries).await?;
    let manifest = source_store
        .get_manifest(&ManifestTarget::Digest(record.digest.clone()))
        .await?;
    Transfers::new(progress)
        .ensure_manifest(source_store.as_ref(), target_store.as_ref(), &manifest)
        .await
        .with_context(|| format!("copying the image into the OCI layout {}", dir.display()))?;
    Ok(Record {
        image: Location::Layout(std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned()))
            .to_string(),
        ..record
    })
}
