//! `multiarch inspect REF [--format table|json|raw] [--platform P]`

use std::fmt::Write as _;
use std::io::Write as _;

use anyhow::{Context, Result};
use indicatif::HumanBytes;
use multiarch_core::inspect::{self, Body, EntryKind, ImageReport, IndexReport, Report};
use multiarch_core::store;

use crate::cli::{GlobalArgs, InspectArgs, InspectFormat};
use crate::registries;

pub async fn run(global: &GlobalArgs, args: &InspectArgs) -> Result<()> {
    let registries = registries::connect(global, &args.reference.location)?;
    let inspected = async {
        let store = store::open(&args.reference.location, &registries).await?;
        inspect::inspect(store.as_ref(), &args.reference, args.platform.as_ref())
            .await
            .map_err(anyhow::Error::from)
    }
    .await
    .with_context(|| format!("inspecting {}", args.reference))?;
    let mut stdout = std::io::stdout().lock();
    match args.format {
        InspectFormat::Raw => stdout.write_all(&inspected.raw.bytes)?,
        InspectFormat::Json => {
            serde_json::to_writer_pretty(&mut stdout, &inspected.report)?;
            writeln!(stdout)?;
        }
        InspectFormat::Table => stdout.write_all(table(&inspected.report).as_bytes())?,
    }
    stdout.flush()?;
    Ok(())
}

/// The human-readable form of a report.
pub fn table(report: &Report) -> String {
    let mut out = String::new();
    field(&mut out, "Name", &report.reference);
    field(&mut out, "MediaType", &report.media_type);
    field(&mut out, "Digest", report.digest.as_ref());
    match &report.body {
        Body::Index(index) => index_table(&mut out, index),
        Body::Image(image) => image_table(&mut out, image),
    }
    out
}

fn field(out: &mut String, name: &str, value: &str) {
    let _ = writeln!(out, "{:<12}{value}", format!("{name}:"));
}

fn list(out: &mut String, title: &str, pairs: impl IntoIterator<Item = (String, String)>) {
    let pairs: Vec<_> = pairs.into_iter().collect();
    if pairs.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n{title}:");
    for (key, value) in pairs {
        let _ = writeln!(out, "  {key}={value}");
    }
}

fn rows(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.len());
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len() - 1;
        let mut text = String::new();
        for (i, cell) in cells.into_iter().enumerate() {
            if i == last {
                text.push_str(cell);
            } else {
                let _ = write!(text, "{cell:<width$}  ", width = widths[i]);
            }
        }
        text
    };
    let _ = writeln!(out, "{}", line(header.to_vec()));
    for row in rows {
        let _ = writeln!(out, "{}", line(row.iter().map(String::as_str).collect()));
    }
}

fn index_table(out: &mut String, index: &IndexReport) {
    let entries: Vec<Vec<String>> = index
        .manifests
        .iter()
        .map(|entry| {
            let what = match (entry.kind, &entry.platform) {
                (EntryKind::Image, Some(platform)) => platform.to_string(),
                (EntryKind::Attestation, _) => "attestation".to_owned(),
                _ => "(no platform)".to_owned(),
            };
            let note = entry
                .attestation_for
                .as_ref()
                .map(|d| format!("  (for {d})"))
                .unwrap_or_default();
            vec![
                what,
                entry.digest.to_string(),
                HumanBytes(entry.size).to_string(),
                format!("{}{note}", entry.media_type),
            ]
        })
        .collect();
    let images = index
        .manifests
        .iter()
        .filter(|e| e.kind == EntryKind::Image)
        .count();
    field(out, "Platforms", &images.to_string());
    out.push('\n');
    rows(out, &["PLATFORM", "DIGEST", "SIZE", "MEDIA TYPE"], &entries);
    list(out, "Annotations", index.annotations.clone());
}

fn image_table(out: &mut String, image: &ImageReport) {
    let json = |v: &Option<Vec<String>>| {
        v.as_ref()
            .map(|v| serde_json::to_string(v).unwrap_or_default())
    };
    field(out, "Platform", &image.platform.to_string());
    let optional = [
        ("Created", image.created.clone()),
        ("Entrypoint", json(&image.entrypoint)),
        ("Cmd", json(&image.cmd)),
        ("User", image.user.clone()),
        ("WorkingDir", image.working_dir.clone()),
        (
            "Ports",
            (!image.exposed_ports.is_empty()).then(|| image.exposed_ports.join(", ")),
        ),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            field(out, name, &value);
        }
    }
    field(
        out,
        "Size",
        &format!(
            "{} in {} layer(s)",
            HumanBytes(image.total_size),
            image.layers.len()
        ),
    );
    out.push('\n');
    let layers: Vec<Vec<String>> = image
        .layers
        .iter()
        .map(|l| {
            vec![
                l.digest.to_string(),
                HumanBytes(l.size).to_string(),
                l.media_type.clone(),
            ]
        })
        .collect();
    rows(out, &["LAYER", "SIZE", "MEDIA TYPE"], &layers);
    list(
        out,
        "Env",
        image.env.iter().map(|e| match e.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (e.clone(), String::new()),
        }),
    );
    list(out, "Labels", image.labels.clone());
    list(out, "Annotations", image.annotations.clone());
}
