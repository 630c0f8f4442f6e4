//! `multiarch gitlab merge`: the fan-in. Exactly the expected records (or, with
//! `MULTIARCH_ALLOW_MISSING`, those that arrived), stitched into one index, tagged, and the result
//! in the dotenv report.

use std::path::Path;

use anyhow::{Context as _, Result};
use multiarch_core::fanin::{self, Request};
use multiarch_core::index::Format;
use multiarch_core::platform::Platform;
use multiarch_core::record::{self, Record};
use multiarch_core::reference::{ImageRef, Location};
use multiarch_core::store::Registries;
use multiarch_core::tags::{self, GitRef};
use multiarch_core::transfer::Progress;

use crate::pipeline::{self, Pipeline};
use crate::section::Section;
use crate::variables::MergeVariables;
use crate::{dotenv, records, usage};

pub async fn run(
    vars: &MergeVariables,
    pipeline: &Pipeline,
    registries: &Registries,
    progress: &dyn Progress,
) -> Result<()> {
    let common = &vars.common;
    let image = &common.target;
    // Every record first: a missing platform fails the job before anything is written, unless
    // missing ones are allowed (then at least one must have arrived).
    let arrived = if vars.allow_missing {
        arrived(&common.records_dir, &vars.platforms)
    } else {
        Vec::new()
    };
    let wanted = if arrived.is_empty() {
        &vars.platforms
    } else {
        &arrived
    };
    let mut records = records::collect(&common.records_dir, wanted, image)?;
    if let Location::Layout(dir) = image {
        for (path, record) in &mut records {
            relocate(path, record, dir);
        }
    }

    let facts = pipeline.facts(pipeline::now());
    let tag_names =
        tags::expand(&common.tags, &facts).map_err(|e| usage(format!("MULTIARCH_TAGS: {e}")))?;
    if tag_names.is_empty() {
        return Err(usage(format!(
            "no tag to publish: MULTIARCH_TAGS ({}) gives none in {}; add a literal tag",
            if common.tags.is_empty() {
                "empty: the automatic tags".to_owned()
            } else {
                common.tags.replace('\n', ", ")
            },
            match &facts.git_ref {
                GitRef::Branch(slug) => format!("a pipeline for the branch {slug}"),
                GitRef::Tag(tag) => format!("a pipeline for the tag {tag}"),
                GitRef::PullRequest { number, .. } =>
                    format!("a pipeline for the merge request !{number}"),
                GitRef::Other => "a pipeline for no branch, tag or merge request".to_owned(),
            }
        )));
    }
    let mut annotations = tags::oci_annotations(&facts, &tag_names);
    annotations.extend(vars.annotations.clone());
    let targets: Vec<ImageRef> = tag_names
        .iter()
        .map(|tag| ImageRef::tagged(image, tag))
        .collect();
    let full_tags = targets
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",");
    // The report must be writable once the index is published: check it now, with a digest
    // as long as the real one.
    let placeholder = format!("sha256:{}", "0".repeat(64));
    dotenv::render(&report(
        &placeholder,
        &format!("{}@{placeholder}", image),
        &full_tags,
        &platform_list(&vars.platforms),
    ))
    .context("the results would not fit in the dotenv report; nothing was published")?;

    let request = Request {
        tags: targets.clone(),
        records,
        references: Vec::new(),
        expect: Some(vars.platforms.clone()),
        allow_missing: vars.allow_missing,
        annotations,
        format: Format::Oci,
        append: false,
        dry_run: false,
    };
    let outcome = {
        let _section = Section::start(
            "multiarch_merge",
            &format!("Merge {} platforms into {image}", vars.platforms.len()),
        );
        tracing::info!(
            "stitching {} record(s) into {image} as {}",
            request.records.len(),
            tag_names.join(", ")
        );
        let outcome = fanin::run(&request, registries, progress)
            .await
            .with_context(|| format!("publishing {}", targets[0]))?;
        if outcome.transfers.manifests_written > 0 {
            tracing::info!("{}", outcome.transfers.summary());
        }
        for published in &outcome.published {
            if !published.unchanged.is_empty() {
                tracing::info!(
                    "{} already held this index: {}",
                    published.location,
                    published.unchanged.join(", ")
                );
            }
        }
        outcome
    };
    let digest = outcome.manifest.digest.to_string();
    let pinned = ImageRef::pinned(image, &outcome.manifest.digest);
    for child in &outcome.index.manifests {
        if let Some(platform) = &child.platform {
            tracing::info!("  {platform}: {}", child.digest);
        }
    }
    tracing::info!("published {pinned} as {}", tag_names.join(", "));
    if let Some(missing) = outcome.missing_summary() {
        eprintln!("warning: published {pinned} without {missing}");
    }
    dotenv::write(
        &common.dotenv,
        &report(
            &digest,
            &pinned.to_string(),
            &full_tags,
            &platform_list(&outcome.missing),
        ),
    )
    .with_context(|| format!("{pinned} is published, but its dotenv report cannot be written"))?;
    println!("{pinned}");
    Ok(())
}

fn report<'a>(
    digest: &'a str,
    image_ref: &'a str,
    tags: &'a str,
    missing: &'a str,
) -> [(&'static str, &'a str); 4] {
    [
        ("MULTIARCH_DIGEST", digest),
        ("MULTIARCH_IMAGE_REF", image_ref),
        ("MULTIARCH_TAGS", tags),
        ("MULTIARCH_MISSING_PLATFORMS", missing),
    ]
}

fn platform_list(platforms: &[Platform]) -> String {
    platforms
        .iter()
        .map(|p| p.normalized().to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// The expected platforms with a record in `dir`; none when it cannot be read (the collection
/// then reports why).
fn arrived(dir: &Path, expected: &[Platform]) -> Vec<Platform> {
    let Ok(available) = record::read_all(&[dir.to_owned()]) else {
        return Vec::new();
    };
    expected
        .iter()
        .filter(|p| available.iter().any(|(_, r)| r.platform.matches(p)))
        .cloned()
        .collect()
}

/// With `MULTIARCH_PUSH: "false"`, build jobs write into an OCI layout at their own project
/// directory and their records name it by absolute path. When that path does not exist here (the
/// build ran in another directory or on another machine, and its layout arrived as an artifact
/// under this job's `multiarch-oci/`), the record's image is read from this job's layout
/// instead, provided it holds the image.
fn relocate(path: &Path, record: &mut Record, layout: &Path) {
    let Ok(Location::Layout(source)) = record.location() else {
        return;
    };
    if source.join("oci-layout").is_file() {
        return;
    }
    let blob = layout
        .join("blobs")
        .join(record.digest.algorithm().to_string())
        .join(record.digest.digest());
    if blob.is_file() {
        let here =
            Location::Layout(std::path::absolute(layout).unwrap_or_else(|_| layout.to_owned()));
        tracing::info!(
            "{}: {} is not here; reading the image from {here}",
            path.display(),
            source.display()
        );
        record.image = here.to_string();
    }
}
