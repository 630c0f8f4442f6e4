//! Build mode: one platform's image, pushed by digest, and its record handed to the merge job.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use multiarch_core::build::{self, Compression, Destination, Request};
use multiarch_core::record::Record;
use multiarch_core::reference::{ImageRef, Location};
use multiarch_core::tags;

use crate::workflow::Group;
use crate::{Run, hand_over};

pub async fn run(run: &Run<'_>) -> Result<()> {
    let inputs = &run.inputs;
    let image = run.target_image()?;
    let platform = inputs
        .platform
        .clone()
        .unwrap_or_else(|| run.ctx.runner_platform());
    let facts = run.ctx.facts(run.ctx.created());
    let tag_names = tags::expand(&inputs.tags, &facts).context("input tags")?;

    // OCI labels from the GitHub context; the labels input overrides them.
    let mut labels: BTreeMap<String, String> = tags::oci_annotations(&facts, &tag_names);
    labels.extend(inputs.labels.clone());

    let records = tempfile::tempdir().context("creating a folder for the record")?;
    let destination = match &image {
        Location::Registry(_) => Destination::Push(vec![ImageRef {
            location: image.clone(),
            tag: None,
            digest: None,
        }]),
        Location::Layout(_) => Destination::Layout(ImageRef {
            location: image.clone(),
            tag: None,
            digest: None,
        }),
    };
    let request = Request {
        platforms: vec![platform.clone()],
        context: inputs.context.clone(),
        dockerfile: inputs
            .file
            .clone()
            .unwrap_or_else(|| inputs.context.join("Dockerfile")),
        target: inputs.target.clone(),
        build_args: inputs.build_args.clone(),
        labels,
        annotations: inputs.annotations.clone(),
        engine: inputs.engine,
        destination,
        records: Some(records.path().to_owned()),
        compression: Compression::Gzip,
        epoch: build::source_date_epoch()?,
        cache_dir: build::default_cache_dir(),
        dry_run: false,
    };
    let outcome = {
        let _group = Group::start(&format!("Build {platform} for {image}"));
        build::run(&request, run.registries, run.progress)
            .await
            .with_context(|| format!("building {} for {platform}", request.dockerfile.display()))?
    };
    let record_path: &PathBuf = outcome
        .records
        .first()
        .context("the build wrote no record")?;
    let record = Record::read(record_path)?;
    let pinned = ImageRef::pinned(&image, &record.digest);
    tracing::info!("built {platform}: {pinned}");

    hand_over(
        run,
        &record,
        &pinned,
        &format!("multiarch: built `{image}` for `{platform}`"),
    )
    .await
}
