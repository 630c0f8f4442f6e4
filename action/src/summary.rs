//! The job summary: a Markdown table of what was published, and the image sizes it shows.

use multiarch_core::inspect::{self, Body};
use multiarch_core::reference::ImageRef;
use multiarch_core::store::{self, Registries};

/// One row: an image of one platform.
#[derive(Debug, Clone)]
pub struct Row {
    pub platform: String,
    pub digest: String,
    /// Config plus layers, compressed; `None` when it could not be read.
    pub size: Option<u64>,
}

/// A heading and a table of rows, with the tags they are published under.
pub fn table(heading: &str, rows: &[Row], tags: &[String]) -> String {
    let tags = if tags.is_empty() {
        "(by digest)".to_owned()
    } else {
        tags.iter()
            .map(|t| format!("`{t}`"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut text =
        format!("### {heading}\n\n| Platform | Digest | Size | Tags |\n|---|---|---|---|\n");
    for row in rows {
        let size = row.size.map_or_else(|| "?".to_owned(), human);
        text.push_str(&format!(
            "| `{}` | `{}` | {size} | {tags} |\n",
            row.platform, row.digest
        ));
    }
    text.push('\n');
    text
}

/// Reads an image's total size (config plus layers); `None`, logged, if it cannot be read.
pub async fn image_size(reference: &ImageRef, registries: &Registries) -> Option<u64> {
    let store = match store::open(&reference.location, registries).await {
        Ok(store) => store,
        Err(error) => {
            tracing::debug!("size of {reference}: {error}");
            return None;
        }
    };
    match inspect::inspect(store.as_ref(), reference, None).await {
        Ok(inspected) => match inspected.report.body {
            Body::Image(image) => Some(image.total_size),
            Body::Index(_) => None,
        },
        Err(error) => {
            tracing::debug!("size of {reference}: {error}");
            None
        }
    }
}

/// Sizes as people read them: `12.3 MiB`.
fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_table() {
        let rows = [Row {
            platform: "linux/arm64".into(),
            digest: "sha256:abc".into(),
            size: Some(3 * 1024 * 1024 + 300 * 1024),
        }];
        let text = table("Image", &rows, &["1.2.3".into(), "latest".into()]);
        assert!(
            text.contains("| `linux/arm64` | `sha256:abc` | 3.3 MiB | `1.2.3` `latest` |"),
            "{text}"
        );
        assert!(table("x", &rows, &[]).contains("(by digest)"));
        assert_eq!(human(512), "512 B");
    }
}
