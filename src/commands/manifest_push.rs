//! `multiarch manifest push --tag REF… [--records PATH]… [SOURCE_REF…] …` — the fan-in.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use multiarch_core::fanin::{self, Request};
use multiarch_core::index::Format;
use multiarch_core::record;
use multiarch_core::reference::ImageRef;

use crate::cli::{GlobalArgs, IndexFormat, ManifestPushArgs};
use crate::{progress, registries};

pub async fn run(global: &GlobalArgs, args: &ManifestPushArgs) -> Result<()> {
    let records = record::read_all(&args.records)?;
    let primary = &args.tags[0].location;
    let registries = registries::connect(global, primary)?;
    let request = Request {
        tags: args.tags.clone(),
        records,
        references: args.sources.clone(),
        expect: args.expect_platforms.clone().map(|list| list.0),
        allow_missing: args.allow_missing,
        annotations: args.annotations.iter().cloned().collect::<BTreeMap<_, _>>(),
        format: match args.format {
            IndexFormat::Oci => Format::Oci,
            IndexFormat::Docker => Format::Docker,
        },
        append: args.append,
        dry_run: args.dry_run,
    };
    let progress = progress::for_stderr();
    let outcome = fanin::run(&request, &registries, progress.as_ref())
        .await
        .with_context(|| format!("publishing {}", args.tags[0]))?;

    if outcome.transfers.manifests_written > 0 {
        tracing::info!("{}", outcome.transfers.summary());
    }
    // stdout stays the published references (or the index); what was left out is a warning.
    if let Some(missing) = outcome.missing_summary() {
        if args.dry_run {
            eprintln!("warning: dry run: would publish without {missing}");
        } else {
            eprintln!("warning: published without {missing}");
        }
    }
    if args.dry_run {
        for published in &outcome.published {
            tracing::info!(
                "dry run: would push {} to {} as {}",
                outcome.manifest.digest,
                published.location,
                published.written.join(", ")
            );
        }
        println!("{}", String::from_utf8_lossy(&outcome.manifest.bytes));
        return Ok(());
    }
    for published in &outcome.published {
        println!(
            "{}",
            ImageRef::pinned(&published.location, &outcome.manifest.digest)
        );
    }
    Ok(())
}
