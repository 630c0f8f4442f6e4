//! `multiarch build [--platform P]… [--context DIR] [--file PATH] … [--push] [--output oci:DIR]`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use multiarch_core::build::{self, Compression, Destination, EngineChoice, Request};
use multiarch_core::reference::{ImageRef, Location};

use crate::UsageError;
use crate::cli::{BuildArgs, CompressionArg, EngineArg, GlobalArgs};
use crate::{progress, registries};

pub async fn run(global: &GlobalArgs, args: &BuildArgs) -> Result<()> {
    let request = request(args)?;
    let primary = match &request.destination {
        Destination::Push(tags) => tags[0].location.clone(),
        Destination::Layout(layout) => layout.location.clone(),
        Destination::Nowhere => Location::Layout(PathBuf::from(".")),
    };
    let registries = registries::connect(global, &primary)?;
    let progress = progress::for_stderr();
    let outcome = build::run(&request, &registries, progress.as_ref())
        .await
        .with_context(|| format!("building {}", request.dockerfile.display()))?;

    if !outcome.transfers.is_empty() {
        tracing::info!("{}", outcome.transfers.summary());
    }
    for record in &outcome.records {
        tracing::info!("wrote record {}", record.display());
    }
    if args.dry_run {
        tracing::info!("dry run: nothing was built or written");
        return Ok(());
    }
    if outcome.published.is_empty() {
        // Nothing published: the image digests (with their platform when there are several).
        for image in &outcome.images {
            if outcome.images.len() == 1 {
                println!("{}", image.descriptor.digest);
            } else {
                println!("{} {}", image.descriptor.digest, image.platform);
            }
        }
        tracing::info!("nothing was pushed or written: add --push --tag REPO, or --output oci:DIR");
        return Ok(());
    }
    for published in &outcome.published {
        println!("{published}");
    }
    Ok(())
}

fn request(args: &BuildArgs) -> Result<Request> {
    let destination = match (&args.output, args.push) {
        (Some(_), true) => unreachable!("clap refuses --push with --output"),
        (Some(output), false) => {
            if !matches!(output.location, Location::Layout(_)) || output.digest.is_some() {
                return Err(UsageError::new(format!(
                    "--output {output}: expected oci:DIR or oci:DIR:TAG (an OCI image layout); \
                     to push to a registry use --push --tag {output}"
                ))
                .into());
            }
            if !args.tags.is_empty() {
                return Err(UsageError::new(
                    "--tag names registry repositories for --push; with --output, put the tag in \
                     the layout reference (oci:DIR:TAG)",
                )
                .into());
            }
            Destination::Layout(output.clone())
        }
        (None, true) => {
            check_tags(&args.tags)?;
            Destination::Push(args.tags.clone())
        }
        (None, false) => {
            if !args.tags.is_empty() {
                return Err(UsageError::new(
                    "--tag is given without --push: add --push to publish, or drop --tag",
                )
                .into());
            }
            Destination::Nowhere
        }
    };
    if args.records.is_some() && matches!(destination, Destination::Nowhere) {
        return Err(UsageError::new(
            "--records needs somewhere the images go: --push --tag REPO, or --output oci:DIR",
        )
        .into());
    }
    let file = args
        .file
        .clone()
        .unwrap_or_else(|| args.context.join("Dockerfile"));
    Ok(Request {
        platforms: args.platforms.iter().flat_map(|l| l.0.clone()).collect(),
        context: args.context.clone(),
        dockerfile: file,
        target: args.target.clone(),
        build_args: args
            .build_args
            .iter()
            .filter_map(|(key, value)| Some((key.clone(), value.clone()?)))
            .collect(),
        labels: args.labels.iter().cloned().collect(),
        annotations: args.annotations.iter().cloned().collect(),
        engine: match args.engine {
            EngineArg::Auto => EngineChoice::Auto,
            EngineArg::Native => EngineChoice::Native,
            EngineArg::Buildah => EngineChoice::Buildah,
            EngineArg::Podman => EngineChoice::Podman,
            EngineArg::Docker => EngineChoice::Docker,
        },
        destination,
        records: args.records.clone(),
        compression: match args.compression {
            CompressionArg::Gzip => Compression::Gzip,
            CompressionArg::Zstd => Compression::Zstd,
        },
        epoch: build::source_date_epoch()?,
        cache_dir: if args.no_cache {
            None
        } else {
            build::default_cache_dir()
        },
        dry_run: args.dry_run,
    })
}

fn check_tags(tags: &[ImageRef]) -> Result<()> {
    for tag in tags {
        if tag.digest.is_some() {
            return Err(UsageError::new(format!(
                "--tag {tag}: a digest names an existing image; give REPO or REPO:TAG"
            ))
            .into());
        }
        if matches!(tag.location, Location::Layout(_)) {
            return Err(UsageError::new(format!(
                "--tag {tag}: an OCI layout is written with --output {tag}, not --push --tag"
            ))
            .into());
        }
    }
    Ok(())
}
