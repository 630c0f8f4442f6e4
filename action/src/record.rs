//! Record mode: an image another tool pushed (docker/build-push-action's `digest` output, say)
//! joins the merge like one multiarch built.

use anyhow::{Context as _, Result, bail};
use multiarch_core::fanin;
use multiarch_core::reference::ImageRef;

use crate::{Run, hand_over};

pub async fn run(run: &Run<'_>) -> Result<()> {
    let image = run.inputs.image()?.clone();
    let Some(digest) = &run.inputs.digest else {
        bail!(
            "mode record needs the digest input: the image's manifest digest (sha256:…), e.g. docker/build-push-action's `digest` output"
        );
    };
    let digest = digest
        .parse()
        .with_context(|| format!("input digest: {digest:?} is not a digest such as sha256:…"))?;
    let reference = ImageRef::pinned(&image, &digest);
    let mut records = fanin::records(&reference, run.registries)
        .await
        .with_context(|| format!("recording {reference}"))?;
    let available: Vec<String> = records.iter().map(|r| r.platform.to_string()).collect();
    if let Some(wanted) = &run.inputs.platform {
        records.retain(|r| r.platform.matches(wanted));
    }
    let record = match records.as_slice() {
        [one] => one.clone(),
        [] => bail!(
            "{reference} has no image for {}; it has: {}",
            run.inputs
                .platform
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            available.join(", ")
        ),
        _ => bail!(
            "{reference} is an index of {} images ({}); set the platform input to the one to record",
            records.len(),
            available.join(", ")
        ),
    };
    tracing::info!("recorded {} {reference}", record.platform);
    hand_over(
        run,
        &record,
        &reference,
        &format!("multiarch: recorded `{image}` for `{}`", record.platform),
    )
    .await
}
