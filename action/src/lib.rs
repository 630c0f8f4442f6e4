//! The GitHub Actions adapter: `action.yml` runs `multiarch github-action prepare` and
//! `multiarch github-action run`, and this crate translates between GitHub's world (inputs,
//! context, outputs, summary, annotations, artifacts) and the core's calls. No build or
//! publishing logic lives here.

mod build;
mod comment;
mod context;
mod handoff;
mod inputs;
mod merge;
mod plan;
mod record;
mod summary;
mod workflow;

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use multiarch_core::auth::{Credential, ExplicitCredentials, Secret};
use multiarch_core::record::Record;
use multiarch_core::reference::{ImageRef, Location};
use multiarch_core::store::{Registries, RegistryOptions};
use multiarch_core::transfer::Progress;

pub use crate::context::Context;
pub use crate::handoff::Handoff;
pub use crate::inputs::{Inputs, Mode};
pub use crate::workflow::Files;

/// The step that runs before any artifact is downloaded: tells `action.yml` what to download
/// (merge mode, on GitHub).
pub fn prepare() -> Result<()> {
    let inputs = Inputs::from_env().map_err(usage)?;
    let ctx = Context::from_env()?;
    let files = Files::from_env();
    let download = inputs.mode == Mode::Merge && !ctx.act && inputs.push.unwrap_or(true);
    if download {
        let handoff = Handoff::new(&ctx, inputs.image()?);
        files.set_output(
            "download-pattern",
            &handoff.download_pattern(&inputs.platforms),
        )?;
        files.set_output("download-path", &handoff.dir.to_string_lossy())?;
    }
    files.set_output("download", if download { "true" } else { "false" })?;
    Ok(())
}

/// The main step: the work of the mode.
pub async fn run(options: RegistryOptions, progress: &dyn Progress) -> Result<()> {
    let inputs = Inputs::from_env().map_err(usage)?;
    let ctx = Context::from_env()?;
    let files = Files::from_env();
    mask_secrets(&inputs);
    let registries = Registries::new(RegistryOptions {
        explicit: credentials(&inputs, &ctx)?,
        ..options
    })?;
    let run = Run {
        inputs,
        ctx,
        files,
        registries: &registries,
        progress,
    };
    match run.inputs.mode {
        Mode::Build => build::run(&run).await,
        Mode::Merge => merge::run(&run).await,
        Mode::Record => record::run(&run).await,
        Mode::Plan => plan::run(&run),
    }
}

/// Shows an error the way GitHub presents them: an annotation on the run's page.
pub fn annotate_error(message: &str) {
    workflow::error("multiarch", message);
}

/// Everything a mode works with.
pub(crate) struct Run<'a> {
    pub inputs: Inputs,
    pub ctx: Context,
    pub files: Files,
    pub registries: &'a Registries,
    pub progress: &'a dyn Progress,
}

impl Run<'_> {
    /// Whether images go to the registry: the push input, by default true except under act.
    pub fn publishes(&self) -> bool {
        self.inputs.push.unwrap_or(!self.ctx.act)
    }

    pub fn handoff(&self) -> Result<Handoff> {
        Ok(Handoff::new(&self.ctx, self.inputs.image()?))
    }

    /// Where images go: the image input, or, when not publishing, an OCI layout (under act,
    /// one shared by the jobs of the run, so the merge can stitch it locally).
    pub fn target_image(&self) -> Result<Location> {
        let image = self.inputs.image()?;
        if self.publishes() || matches!(image, Location::Layout(_)) {
            return Ok(image.clone());
        }
        let dir: PathBuf = if self.ctx.act {
            self.handoff()?.dir.join("oci")
        } else {
            self.ctx.runner_temp.join("multiarch-oci")
        };
        tracing::info!(
            "push is false: writing to the OCI layout {} instead of {image}",
            dir.display()
        );
        Ok(Location::Layout(dir))
    }
}

/// The end of a build or record step: the record handed over, the step's outputs and the
/// summary row of the image `pinned` (`REPO@DIGEST`).
pub(crate) async fn hand_over(
    run: &Run<'_>,
    record: &Record,
    pinned: &ImageRef,
    heading: &str,
) -> Result<()> {
    publish_record(run, record)?;
    run.files.set_output("digest", record.digest.as_ref())?;
    run.files.set_output("image-ref", &pinned.to_string())?;
    run.files
        .set_output("platform", &record.platform.to_string())?;
    run.files.set_output("tags", "")?;
    let size = summary::image_size(pinned, run.registries).await;
    run.files.summary(&summary::table(
        heading,
        &[summary::Row {
            platform: record.platform.to_string(),
            digest: record.digest.to_string(),
            size,
        }],
        &[],
    ))
}

/// Hands a record to the merge job: an artifact folder on GitHub (uploaded by the next step of
/// `action.yml`), the local hand-off folder under act.
fn publish_record(run: &Run<'_>, record: &Record) -> Result<()> {
    let json = serde_json::to_string(record).context("serialising the record")?;
    run.files.set_output("record", &json)?;
    if !run.publishes() && !run.ctx.act {
        // Nothing was pushed: there is nothing for a merge job to stitch.
        run.files.set_output("upload-name", "")?;
        return Ok(());
    }
    let handoff = run.handoff()?;
    let dir = handoff.put(record)?;
    if handoff.local {
        tracing::info!("record handed over in {}", dir.display());
        run.files.set_output("upload-name", "")?;
    } else {
        run.files
            .set_output("upload-name", &handoff.artifact_name(&record.platform))?;
        run.files
            .set_output("upload-path", &dir.to_string_lossy())?;
    }
    Ok(())
}

/// The registry login: the username/password inputs, or, for ghcr.io, the workflow's actor and
/// token.
fn credentials(inputs: &Inputs, ctx: &Context) -> Result<Option<ExplicitCredentials>> {
    let Some(registry) = inputs.image.as_ref().and_then(Location::registry) else {
        return Ok(None);
    };
    let on_ghcr = registry == "ghcr.io";
    let password = match (&inputs.password, &inputs.github_token) {
        (Some(password), _) => password.clone(),
        (None, Some(token)) if on_ghcr => token.clone(),
        _ => return Ok(None),
    };
    let username = match &inputs.username {
        Some(username) => username.clone(),
        None if on_ghcr && !ctx.actor.is_empty() => ctx.actor.clone(),
        None => anyhow::bail!(
            "input password is set but username is not: set username to the account the password belongs to"
        ),
    };
    Ok(Some(ExplicitCredentials {
        registry: registry.to_owned(),
        credential: Credential {
            username,
            password: Secret::new(password),
        },
    }))
}

/// An input mistake: the binary exits with 2 for it, as for a bad argument.
fn usage(error: anyhow::Error) -> anyhow::Error {
    multiarch_core::usage::UsageError::new(format!("{error:#}")).into()
}

fn mask_secrets(inputs: &Inputs) {
    for secret in [&inputs.password, &inputs.github_token]
        .into_iter()
        .flatten()
    {
        workflow::mask(secret);
    }
}
