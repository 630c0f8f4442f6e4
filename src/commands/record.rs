//! `multiarch record REF [--out DIR] [--platform P]`

use anyhow::{Context, Result, bail};
use multiarch_core::fanin;

use crate::cli::{GlobalArgs, RecordArgs};
use crate::registries;

pub async fn run(global: &GlobalArgs, args: &RecordArgs) -> Result<()> {
    let registries = registries::connect(global, &args.reference.location)?;
    let mut records = fanin::records(&args.reference, &registries)
        .await
        .with_context(|| format!("recording {}", args.reference))?;
    if let Some(wanted) = &args.platform {
        let available: Vec<String> = records.iter().map(|r| r.platform.to_string()).collect();
        records.retain(|r| r.platform.matches(wanted));
        if records.is_empty() {
            bail!(
                "{} has no image for {wanted}; it has: {}",
                args.reference,
                available.join(", ")
            );
        }
    }
    match &args.out {
        Some(dir) => {
            for record in &records {
                let path = record.write(dir)?;
                tracing::info!(
                    "recorded {} {}@{}",
                    record.platform,
                    record.image,
                    record.digest
                );
                println!("{}", path.display());
            }
        }
        None if records.len() == 1 => {
            print!("{}", String::from_utf8_lossy(&records[0].to_json()));
        }
        None => bail!(crate::UsageError::new(format!(
            "{} is an index of {} images; pass --out DIR to write one record each, or --platform to pick one",
            args.reference,
            records.len()
        ))),
    }
    Ok(())
}
