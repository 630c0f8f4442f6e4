//! Merge mode: the fan-in. Exactly the expected records (or, with `allow-missing`, those that
//! arrived), stitched into one index, tagged.

use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use multiarch_core::fanin::{self, Request};
use multiarch_core::index::Format;
use multiarch_core::platform::Platform;
use multiarch_core::record::Record;
use multiarch_core::reference::{ImageRef, Location};
use multiarch_core::tags;

use crate::summary::{self, Row};
use crate::workflow::{self, Group};
use crate::{Handoff, Run, comment};

pub async fn run(run: &Run<'_>) -> Result<()> {
    let inputs = &run.inputs;
    let image = run.target_image()?;
    if inputs.platforms.is_empty() {
        bail!(
            "mode merge needs the platforms input: every platform the build jobs built (e.g. \
             linux/amd64,linux/arm64); the merge fails unless exactly these arrived"
        );
    }
    if !run.publishes() && !run.ctx.act {
        workflow::notice(
            "push is false: the build jobs checked that the image builds; nothing was published",
        );
        run.files.set_output("digest", "")?;
        run.files.set_output("tags", "")?;
        run.files.set_output("missing-platforms", "")?;
        return Ok(());
    }
    let handoff = run.handoff()?;
    let records = if inputs.allow_missing {
        arrived_records(&handoff, &inputs.platforms)?
    } else {
        handoff.collect(&inputs.platforms)?
    };
    let facts = run.ctx.facts(run.ctx.created());
    let tag_names = tags::expand(&inputs.tags, &facts).context("input tags")?;
    if tag_names.is_empty() {
        bail!(
            "no tag to publish: the tags input gave none in this run ({} on {}); add a literal tag",
            inputs.tags.trim(),
            run.ctx.git_ref
        );
    }
    let mut annotations = tags::oci_annotations(&facts, &tag_names);
    annotations.extend(inputs.annotations.clone());
    let targets: Vec<ImageRef> = tag_names
        .iter()
        .map(|tag| ImageRef::tagged(&image, tag))
        .collect();
    let request = Request {
        tags: targets.clone(),
        records,
        references: Vec::new(),
        expect: Some(inputs.platforms.clone()),
        allow_missing: inputs.allow_missing,
        annotations,
        format: Format::Oci,
        append: false,
        dry_run: false,
    };
    let outcome = {
        let _group = Group::start(&format!(
            "Merge {} platforms into {image}",
            inputs.platforms.len()
        ));
        fanin::run(&request, run.registries, run.progress)
            .await
            .with_context(|| format!("publishing {}", targets[0]))?
    };
    let digest = outcome.manifest.digest.to_string();
    let pinned = ImageRef::pinned(&image, &outcome.manifest.digest);
    let full_tags: Vec<String> = targets.iter().map(ToString::to_string).collect();
    tracing::info!("published {pinned} as {}", tag_names.join(", "));
    if let Some(missing) = outcome.missing_summary() {
        workflow::warning(&format!("published {pinned} without {missing}"));
    }
    let (missing, merged): (Vec<&Platform>, Vec<&Platform>) = inputs
        .platforms
        .iter()
        .partition(|p| outcome.missing.iter().any(|m| m.matches(p)));
    let list = |platforms: &[&Platform]| {
        platforms
            .iter()
            .map(|p| p.normalized().to_string())
            .collect::<Vec<_>>()
            .join(",")
    };

    run.files.set_output("digest", &digest)?;
    run.files.set_output("image-ref", &pinned.to_string())?;
    run.files.set_output("tags", &full_tags.join("\n"))?;
    run.files.set_output("platform", &list(&merged))?;
    run.files.set_output("missing-platforms", &list(&missing))?;

    let mut rows = Vec::new();
    for child in &outcome.index.manifests {
        let Some(platform) = &child.platform else {
            continue;
        };
        let reference = ImageRef::pinned(&image, &child.digest);
        rows.push(Row {
            platform: platform.to_string(),
            digest: child.digest.to_string(),
            size: summary::image_size(&reference, run.registries).await,
        });
    }
    run.files.summary(&summary::table(
        &format!("multiarch: published `{pinned}`"),
        &rows,
        &tag_names,
    ))?;

    if inputs.comment
        && let Err(error) = comment_on_pull_request(run, &image, &digest, &full_tags, &rows).await
    {
        // The index is published: a comment that cannot be written (a fork's read-only token,
        // a missing permission) is worth a warning, not a failed run.
        workflow::warning(&format!("{error:#}"));
    }
    if run.ctx.act {
        // The records are consumed: a later local run starts clean.
        run.handoff()?.clear_records();
        if let Location::Layout(dir) = &image {
            tracing::info!(
                "push is false: the index is in the OCI layout {} (multiarch inspect oci:{}:{})",
                dir.display(),
                dir.display(),
                tag_names[0]
            );
        }
    }
    Ok(())
}

/// `allow-missing`: the records of the platforms whose artifact arrived. An artifact that arrived
/// without a usable record is still an error, and so is none arriving at all.
fn arrived_records(handoff: &Handoff, platforms: &[Platform]) -> Result<Vec<(PathBuf, Record)>> {
    let arrived: Vec<Platform> = platforms
        .iter()
        .filter(|p| has_artifact(handoff, p))
        .cloned()
        .collect();
    if arrived.is_empty() {
        // Names every platform whose record did not arrive.
        return handoff.collect(platforms);
    }
    handoff.collect(&arrived)
}

/// Whether the hand-off folder holds an artifact of `platform`'s record, from any attempt
/// (`…-linux-s390x-attemptN`, named as [`Handoff::artifact_name`] names this attempt's).
fn has_artifact(handoff: &Handoff, platform: &Platform) -> bool {
    let name = handoff.artifact_name(platform);
    let prefix = name.trim_end_matches(|c: char| c.is_ascii_digit());
    let Ok(entries) = std::fs::read_dir(&handoff.dir) else {
        return false;
    };
    entries.flatten().any(|entry| {
        entry.path().is_dir()
            && entry
                .file_name()
                .to_str()
                .and_then(|n| n.strip_prefix(prefix))
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    })
}

async fn comment_on_pull_request(
    run: &Run<'_>,
    image: &Location,
    digest: &str,
    tags: &[String],
    rows: &[Row],
) -> Result<()> {
    let Some(number) = run.ctx.pull_request() else {
        tracing::info!("comment: this run is not for a pull request; no comment");
        return Ok(());
    };
    let Some(token) = &run.inputs.github_token else {
        bail!(
            "comment: true needs a token: the github-token input (default: the job's GITHUB_TOKEN)"
        );
    };
    let Some((owner, repo)) = run.ctx.repository.split_once('/') else {
        bail!(
            "comment: GITHUB_REPOSITORY {:?} is not owner/name",
            run.ctx.repository
        );
    };
    let children: Vec<(String, String)> = rows
        .iter()
        .map(|r| (r.platform.clone(), r.digest.clone()))
        .collect();
    let body = comment::render(&image.to_string(), digest, tags, &children);
    let target = comment::Target {
        api_url: run.ctx.api_url.clone(),
        token: token.clone(),
        owner: owner.to_owned(),
        repo: repo.to_owned(),
        number,
    };
    let marker = format!("multiarch:{}:{image}", run.ctx.workflow);
    let upserted = comment::upsert(&target, &marker, &body).await?;
    tracing::info!("comment on pull request #{number}: {upserted:?}");
    Ok(())
}
