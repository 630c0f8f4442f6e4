//! The `multiarch` binary: parse arguments, set up logging, call the core, print, exit.
//!
//! Exit codes: 0 success, 1 failure, 2 usage error (bad arguments or input files).

mod cli;
mod commands;
mod logging;
mod progress;
mod registries;

use std::process::ExitCode;

use clap::Parser;
use multiarch_core::build::BuildError;
use multiarch_core::fanin::FanInError;
use multiarch_core::record::RecordError;
use multiarch_core::store::StoreError;

use crate::cli::{Cli, Command, GithubActionStep, GitlabStep, ManifestCommand, TektonStep};

pub use multiarch_core::usage::UsageError;

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.global.verbose, cli.global.debug);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match &cli.command {
            Command::Build(args) => commands::build::run(&cli.global, args).await,
            Command::Inspect(args) => commands::inspect::run(&cli.global, args).await,
            Command::Record(args) => commands::record::run(&cli.global, args).await,
            Command::Manifest(ManifestCommand::Push(args)) => {
                commands::manifest_push::run(&cli.global, args).await
            }
            Command::GithubAction(GithubActionStep::Prepare) => multiarch_action::prepare(),
            Command::GithubAction(GithubActionStep::Run) => {
                let progress = progress::for_stderr();
                multiarch_action::run(registries::options(&cli.global), progress.as_ref()).await
            }
            Command::Tekton(TektonStep::Build(args)) => {
                let progress = progress::for_stderr();
                let args = multiarch_tekton::BuildArgs {
                    build_args: args.build_args.clone(),
                };
                multiarch_tekton::build(&args, registries::options(&cli.global), progress.as_ref())
                    .await
            }
            Command::Tekton(TektonStep::Manifest(args)) => {
                let progress = progress::for_stderr();
                let args = multiarch_tekton::ManifestArgs {
                    tags: args.tags.clone(),
                    records: args.records.clone(),
                    expect_platforms: args.expect_platforms.clone(),
                    annotations: args.annotations.clone(),
                };
                multiarch_tekton::manifest(
                    &args,
                    registries::options(&cli.global),
                    progress.as_ref(),
                )
                .await
            }
            Command::Gitlab(GitlabStep::Build) => {
                let progress = progress::for_stderr();
                multiarch_gitlab::build(registries::options(&cli.global), progress.as_ref()).await
            }
            Command::Gitlab(GitlabStep::Merge) => {
                let progress = progress::for_stderr();
                multiarch_gitlab::merge(registries::options(&cli.global), progress.as_ref()).await
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let text = message(&error);
            if matches!(cli.command, Command::GithubAction(_)) {
                multiarch_action::annotate_error(&text);
            }
            eprintln!("error: {text}");
            ExitCode::from(if is_usage(&error) { 2 } else { 1 })
        }
    }
}

/// The error and its causes on one line, each cause once (core errors often quote their source).
fn message(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

fn is_usage(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.is::<UsageError>()
            || cause.is::<RecordError>()
            || cause
                .downcast_ref::<BuildError>()
                .is_some_and(BuildError::is_usage)
            || matches!(
                cause.downcast_ref::<StoreError>(),
                Some(StoreError::CaFile { .. })
            )
            || matches!(
                cause.downcast_ref::<FanInError>(),
                Some(FanInError::NoTags | FanInError::TagWithDigest { .. } | FanInError::NoSources)
            )
    })
}
