//! `multiarch tekton manifest`: the fan-in. Exactly the expected records (or, with
//! `ALLOW_MISSING`, those that arrived), stitched into one index, tagged.

use anyhow::{Context as _, Result};
use multiarch_core::fanin::{self, Request};
use multiarch_core::index::Format;
use multiarch_core::reference::ImageRef;
use multiarch_core::store::{Registries, RegistryOptions};
use multiarch_core::transfer::Progress;

use crate::params::ManifestParams;
use crate::{results, workspaces};

pub async fn run(
    params: &ManifestParams,
    limit: usize,
    options: RegistryOptions,
    progress: &dyn Progress,
) -> Result<()> {
    results::check_paths(&[
        &params.image_digest,
        &params.image_url,
        &params.missing_platforms,
    ])?;
    let image = &params.common.image;
    // TLSVERIFY applies to every registry this Task talks to: the image's, and those the
    // records name (usually the same).
    let record_locations: Vec<_> = params
        .records
        .iter()
        .filter_map(|(_, record)| record.location().ok())
        .collect();
    let mut hosts: Vec<&str> = image.registry().into_iter().collect();
    for host in record_locations.iter().filter_map(|l| l.registry()) {
        if !hosts.contains(&host) {
            hosts.push(host);
        }
    }
    let registries = Registries::new(workspaces::registry_options(
        &params.common,
        options,
        &hosts,
    )?)?;

    let targets: Vec<ImageRef> = params
        .tags
        .iter()
        .map(|tag| ImageRef::tagged(image, tag))
        .collect();
    let request = Request {
        tags: targets.clone(),
        records: params.records.clone(),
        references: Vec::new(),
        expect: params.expect.clone(),
        allow_missing: params.allow_missing,
        annotations: params.annotations.clone(),
        format: Format::Oci,
        append: false,
        dry_run: false,
    };
    tracing::info!(
        "stitching {} record(s) into {image} as {}",
        params.records.len(),
        params.tags.join(", ")
    );
    let outcome = fanin::run(&request, &registries, progress)
        .await
        .with_context(|| format!("publishing {}", targets[0]))?;
    if outcome.transfers.manifests_written > 0 {
        tracing::info!("{}", outcome.transfers.summary());
    }
    let pinned = ImageRef::pinned(image, &outcome.manifest.digest);
    for published in &outcome.published {
        if !published.unchanged.is_empty() {
            tracing::info!(
                "{} already held this index: {}",
                published.location,
                published.unchanged.join(", ")
            );
        }
    }
    tracing::info!("published {pinned} as {}", params.tags.join(", "));
    if let Some(missing) = outcome.missing_summary() {
        eprintln!("warning: published {pinned} without {missing}");
    }
    let missing = outcome
        .missing
        .iter()
        .map(|p| p.normalized().to_string())
        .collect::<Vec<_>>()
        .join(",");

    results::write(
        &[
            (&params.image_digest, outcome.manifest.digest.to_string()),
            (&params.image_url, targets[0].to_string()),
            (&params.missing_platforms, missing),
        ],
        limit,
    )
    .with_context(|| format!("{pinned} is published, but its results cannot be handed on"))?;
    println!("{pinned}");
    Ok(())
}
