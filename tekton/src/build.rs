//! `multiarch tekton build`: one platform's image, pushed by digest, and its record as a result
//! for the manifest Task.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};
use multiarch_core::build::{self, Leg};
use multiarch_core::store::{Registries, RegistryOptions};
use multiarch_core::transfer::Progress;

use crate::params::BuildParams;
use crate::{results, usage, workspaces};

pub async fn run(
    params: &BuildParams,
    limit: usize,
    options: RegistryOptions,
    progress: &dyn Progress,
) -> Result<()> {
    results::check_paths(&[
        &params.image_digest,
        &params.image_url,
        &params.image_ref,
        &params.record,
    ])?;
    check_dockerfile(params)?;
    let image = &params.common.image;
    let hosts: Vec<&str> = image.registry().into_iter().collect();
    let registries = Registries::new(workspaces::registry_options(
        &params.common,
        options,
        &hosts,
    )?)?;

    let leg = Leg {
        platform: params.platform.clone(),
        context: params.context.clone(),
        dockerfile: params.dockerfile.clone(),
        target: None,
        build_args: params.build_args.clone(),
        labels: BTreeMap::new(),
        annotations: BTreeMap::new(),
        engine: params.engine,
        location: image.clone(),
    };
    tracing::info!(
        "building {} (context {}) for {} into {image}",
        leg.dockerfile.display(),
        leg.context.display(),
        params.platform
    );
    let built = build::leg(&leg, &registries, progress)
        .await
        .with_context(|| {
            format!(
                "building {} for {}",
                leg.dockerfile.display(),
                params.platform
            )
        })?;
    tracing::info!("{}", built.transfers.summary());
    let (record, pinned) = (built.record, built.pinned);
    tracing::info!("built {}: {pinned}", record.platform);

    let json = serde_json::to_string(&record).context("serialising the record")?;
    results::write(
        &[
            (&params.image_digest, record.digest.to_string()),
            (&params.image_url, image.to_string()),
            (&params.image_ref, pinned.to_string()),
            (&params.record, json),
        ],
        limit,
    )
    .with_context(|| format!("{pinned} is pushed, but its results cannot be handed on"))?;
    println!("{pinned}");
    Ok(())
}

/// A missing Dockerfile next to a `Dockerfile` in the context is the usual slip (DOCKERFILE is
/// relative to the source workspace, as in the catalog's buildah Task, not to CONTEXT): say so.
/// Other problems with the Dockerfile are the core's to report.
fn check_dockerfile(params: &BuildParams) -> Result<()> {
    let in_context = params.context.join("Dockerfile");
    if !params.dockerfile.exists() && in_context.is_file() && in_context != params.dockerfile {
        return Err(usage(format!(
            "the Dockerfile {} does not exist, but {} does: DOCKERFILE is relative to the \
             source workspace, not to CONTEXT; set DOCKERFILE to the path of the Dockerfile \
             in the workspace",
            params.dockerfile.display(),
            in_context.display()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::BuildArgs;

    fn params(source: &std::path::Path, pairs: &[(&str, &str)]) -> BuildParams {
        let mut env: std::collections::BTreeMap<String, String> = [
            ("IMAGE", "registry.example.com/team/app"),
            ("RESULT_IMAGE_DIGEST", "/r/a"),
            ("RESULT_IMAGE_URL", "/r/b"),
            ("RESULT_IMAGE_REF", "/r/c"),
            ("RESULT_RECORD", "/r/d"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        env.insert("WORKSPACE_SOURCE_PATH".into(), source.display().to_string());
        for (k, v) in pairs {
            env.insert((*k).to_owned(), (*v).to_owned());
        }
        BuildParams::read(|name| env.get(name).cloned(), &BuildArgs::default()).unwrap()
    }

    #[test]
    fn a_dockerfile_in_the_context_but_not_where_dockerfile_points_is_explained() {
        let source = tempfile::tempdir().unwrap();
        std::fs::create_dir(source.path().join("app")).unwrap();
        std::fs::write(source.path().join("app/Dockerfile"), "FROM scratch\n").unwrap();
        let error = check_dockerfile(&params(source.path(), &[("CONTEXT", "app")])).unwrap_err();
        assert!(error.chain().any(|c| c.is::<crate::UsageError>()));
        assert!(
            format!("{error}").contains("DOCKERFILE is relative to the source workspace"),
            "{error}"
        );
        check_dockerfile(&params(
            source.path(),
            &[("CONTEXT", "app"), ("DOCKERFILE", "app/Dockerfile")],
        ))
        .unwrap();
        // Nothing anywhere: the core says the Dockerfile is missing.
        check_dockerfile(&params(source.path(), &[])).unwrap();
    }
}
