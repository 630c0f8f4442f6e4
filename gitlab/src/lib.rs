//! The GitLab CI adapter: the CI/CD components' jobs run `multiarch gitlab build` (one job per
//! platform) and `multiarch gitlab merge` (the fan-in), and this crate translates between
//! GitLab's world and the core's calls. No build or publishing logic lives here, and none in the
//! templates' YAML either: they only set job variables and call the binary.
//!
//! # Contract with the templates
//!
//! Inputs arrive as job variables (`MULTIARCH_*`), next to GitLab's predefined variables
//! (`CI_*`). Lists are JSON arrays (how GitLab renders an array
//! input interpolated into a string) or one entry per line.
//!
//! | Variable                | Job   | Meaning                                                   |
//! |-------------------------|-------|-----------------------------------------------------------|
//! | `MULTIARCH_IMAGE`       | both  | repository without tag or digest; empty: `$CI_REGISTRY_IMAGE` |
//! | `MULTIARCH_PUSH`        | both  | `true` (default) or `false`: build into `multiarch-oci/` under `$CI_PROJECT_DIR` and merge there |
//! | `MULTIARCH_RECORDS_DIR` | both  | default `multiarch-records`: `<platform>.json` per build job (the artifact path) |
//! | `MULTIARCH_DOTENV`      | both  | default `multiarch.env`: the dotenv report                |
//! | `MULTIARCH_TAGS`        | both  | tag names or templates; empty: automatic (the build uses them only for the `version` label) |
//! | `MULTIARCH_PLATFORM`    | build | this job's platform; default the runner's own             |
//! | `MULTIARCH_CONTEXT`     | build | default `.`                                               |
//! | `MULTIARCH_DOCKERFILE`  | build | default `CONTEXT/Dockerfile`                              |
//! | `MULTIARCH_TARGET`      | build | the stage to build; default the last                      |
//! | `MULTIARCH_BUILD_ARGS`  | build | `KEY=VALUE` entries                                       |
//! | `MULTIARCH_ENGINE`      | build | `auto` (default), `native`, `buildah`, `podman`, `docker` |
//! | `MULTIARCH_PLATFORMS`   | merge | required: exactly the platforms of the index              |
//! | `MULTIARCH_ANNOTATIONS` | merge | `KEY=VALUE` entries for the index                         |
//!
//! The dotenv report holds `MULTIARCH_DIGEST` and `MULTIARCH_IMAGE_REF` (`REPO@DIGEST`) after
//! a build, and also `MULTIARCH_TAGS` (the full references, comma-separated) after a merge.
//! Both jobs log in to `$CI_REGISTRY` with `CI_REGISTRY_USER`/`CI_REGISTRY_PASSWORD` when those
//! are set; other registries use the auth files (`DOCKER_CONFIG`, `REGISTRY_AUTH_FILE`, …).
//!
//! Exit codes: 2 for a mistake in the variables, 1 for a failure while building or publishing.

mod build;
mod dotenv;
mod merge;
mod pipeline;
mod records;
mod section;
mod variables;

use anyhow::Result;
use multiarch_core::reference::Location;
use multiarch_core::store::{Registries, RegistryOptions};
use multiarch_core::transfer::Progress;

pub use crate::pipeline::Pipeline;
pub use crate::variables::{BuildVariables, Common, MergeVariables};

pub use multiarch_core::usage::UsageError;

/// A [`UsageError`] as an `anyhow::Error`.
pub(crate) fn usage(message: impl Into<String>) -> anyhow::Error {
    UsageError::new(message).into()
}

/// The process environment, read the way the variables are: by name.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// `multiarch gitlab build`: one platform's image, pushed by digest; its record in
/// `MULTIARCH_RECORDS_DIR` and `MULTIARCH_DIGEST`/`MULTIARCH_IMAGE_REF` in the dotenv report.
pub async fn build(options: RegistryOptions, progress: &dyn Progress) -> Result<()> {
    let vars = BuildVariables::read(env)?;
    let pipeline = Pipeline::read(env)?;
    let registries = connect(&pipeline, &vars.common, options)?;
    build::run(&vars, &pipeline, &registries, progress).await
}

/// `multiarch gitlab merge`: the fan-in of the records of exactly `MULTIARCH_PLATFORMS`; the
/// index's digest, reference and tags in the dotenv report.
pub async fn merge(options: RegistryOptions, progress: &dyn Progress) -> Result<()> {
    let vars = MergeVariables::read(env)?;
    let pipeline = Pipeline::read(env)?;
    let registries = connect(&pipeline, &vars.common, options)?;
    merge::run(&vars, &pipeline, &registries, progress).await
}

/// The registries, with the job's login to `$CI_REGISTRY` (which also serves base images from
/// the project's registry when the image goes elsewhere) and the instance's CA.
fn connect(pipeline: &Pipeline, common: &Common, options: RegistryOptions) -> Result<Registries> {
    let mut options = options;
    if let Some(login) = &pipeline.registry_login {
        let on_it = matches!(&common.target, Location::Registry(repo) if repo.registry.eq_ignore_ascii_case(&login.registry));
        if on_it {
            tracing::info!(
                "logging in to {} as {} (CI_REGISTRY_USER)",
                login.registry,
                login.credential.username
            );
        } else {
            tracing::debug!(
                "CI_REGISTRY_USER is used for {} only; {} uses the auth files",
                login.registry,
                common.target
            );
        }
        options.explicit = Some(login.clone());
    }
    if let Some(ca) = pipeline.server_ca_file.as_ref().filter(|p| p.is_file()) {
        tracing::debug!(
            "trusting the instance's CA certificates in {}",
            ca.display()
        );
        options.ca_files.push(ca.clone());
    }
    Ok(Registries::new(options)?)
}
