//! Build mode: one platform's image, pushed by digest, and its record handed to the merge job.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};
use multiarch_core::build::{self, Leg};
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

    let leg = Leg {
        platform: platform.clone(),
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
        location: image.clone(),
    };
    let built = {
        let _group = Group::start(&format!("Build {platform} for {image}"));
        build::leg(&leg, run.registries, run.progress)
            .await
            .with_context(|| format!("building {} for {platform}", leg.dockerfile.display()))?
    };
    let (record, pinned) = (built.record, built.pinned);
    tracing::info!("built {platform}: {pinned}");

    hand_over(
        run,
        &record,
        &pinned,
        &format!("multiarch: built `{image}` for `{platform}`"),
    )
    .await
}
