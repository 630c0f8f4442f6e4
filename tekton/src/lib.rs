//! The Tekton adapter: the `multiarch-build` and `multiarch-manifest` Tasks run
//! `multiarch tekton build` and `multiarch tekton manifest`, and this crate translates between
//! Tekton's world and the core's calls. Params arrive as environment variables named like the
//! params (array params as arguments after a section flag, see [`BuildArgs`] and
//! [`ManifestArgs`]); the `dockerconfig` and `sslcertdir` workspaces become auth and CA files;
//! results are written to `$(results.NAME.path)`, all or nothing, within Tekton's size limit.
//! No build or publishing logic lives here.

mod build;
mod manifest;
mod params;
mod results;
mod workspaces;

use anyhow::Result;
use multiarch_core::store::RegistryOptions;
use multiarch_core::transfer::Progress;

pub use crate::params::{BuildArgs, ManifestArgs};
use crate::params::{BuildParams, ManifestParams};

pub use multiarch_core::usage::UsageError;

/// A [`UsageError`] as an `anyhow::Error`.
pub(crate) fn usage(message: impl Into<String>) -> anyhow::Error {
    UsageError::new(message).into()
}

/// The process environment, read the way the params are: by name.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// `multiarch tekton build`: one platform's image, pushed by digest; results `IMAGE_DIGEST`,
/// `IMAGE_URL`, `IMAGE_REF` and `RECORD`.
pub async fn build(
    args: &BuildArgs,
    options: RegistryOptions,
    progress: &dyn Progress,
) -> Result<()> {
    let params = BuildParams::read(env, args)?;
    let limit = results::limit(env)?;
    build::run(&params, limit, options, progress).await
}

/// `multiarch tekton manifest`: the fan-in; results `IMAGE_DIGEST` and `IMAGE_URL`.
pub async fn manifest(
    args: &ManifestArgs,
    options: RegistryOptions,
    progress: &dyn Progress,
) -> Result<()> {
    let params = ManifestParams::read(env, args)?;
    let limit = results::limit(env)?;
    manifest::run(&params, limit, options, progress).await
}
