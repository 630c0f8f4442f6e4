//! Plan mode: the build matrix, one entry per platform with the runner that builds it natively.

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use multiarch_core::platform::Platform;
use serde_json::{Value, json};

use crate::Run;

/// Outputs the matrix.
pub fn run(run: &Run<'_>) -> Result<()> {
    let matrix = matrix(&run.inputs.platforms, &run.inputs.runners)?;
    run.files.set_output("matrix", &matrix.to_string())?;
    tracing::info!("matrix: {matrix}");
    Ok(())
}

/// The GitHub-hosted runner for a platform, when there is one.
fn default_runner(platform: &Platform) -> Option<&'static str> {
    match (platform.os.as_str(), platform.architecture.as_str()) {
        ("linux", "amd64" | "386") => Some("ubuntu-24.04"),
        ("linux", "arm64" | "arm") => Some("ubuntu-24.04-arm"),
        _ => None,
    }
}

/// `{"include": [{"platform": "linux/arm64", "runner": "ubuntu-24.04-arm"}, …]}`. A runner with
/// several labels (self-hosted) is a list, which `runs-on` accepts as it is.
pub fn matrix(platforms: &[Platform], runners: &BTreeMap<String, Vec<String>>) -> Result<Value> {
    if platforms.is_empty() {
        bail!(
            "input platforms is empty: list the platforms to build, e.g. linux/amd64,linux/arm64"
        );
    }
    let mut seen = Vec::new();
    let mut include = Vec::new();
    for platform in platforms {
        let normalized = platform.normalized();
        if seen.contains(&normalized) {
            bail!("input platforms names {platform} twice");
        }
        seen.push(normalized.clone());
        let key = normalized.to_string();
        let runner = match runners.get(&key) {
            Some(labels) if labels.len() == 1 => json!(labels[0]),
            Some(labels) => json!(labels),
            None => match default_runner(&normalized) {
                Some(label) => json!(label),
                None => bail!(
                    "no GitHub-hosted runner builds {key} natively: add a line `{key}=LABEL` \
                     (e.g. `{key}=self-hosted,{}`) to the runners input",
                    normalized.architecture
                ),
            },
        };
        include.push(json!({ "platform": key, "runner": runner }));
    }
    Ok(json!({ "include": include }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_and_custom_runners() {
        let platforms =
            Platform::parse_list("linux/amd64,linux/arm64/v8,linux/arm/v7,linux/s390x").unwrap();
        let runners = BTreeMap::from([(
            "linux/s390x".to_owned(),
            vec!["self-hosted".to_owned(), "s390x".to_owned()],
        )]);
        let value = matrix(&platforms, &runners).unwrap();
        assert_eq!(
            value,
            json!({"include": [
                {"platform": "linux/amd64", "runner": "ubuntu-24.04"},
                {"platform": "linux/arm64", "runner": "ubuntu-24.04-arm"},
                {"platform": "linux/arm/v7", "runner": "ubuntu-24.04-arm"},
                {"platform": "linux/s390x", "runner": ["self-hosted", "s390x"]},
            ]})
        );
    }

    #[test]
    fn a_platform_without_a_runner_is_refused_with_a_hint() {
        let platforms = Platform::parse_list("linux/ppc64le").unwrap();
        let error = matrix(&platforms, &BTreeMap::new())
            .unwrap_err()
            .to_string();
        assert!(error.contains("`linux/ppc64le=LABEL`"), "{error}");
        let twice = Platform::parse_list("linux/arm64,linux/arm64/v8").unwrap();
        assert!(matrix(&twice, &BTreeMap::new()).is_err());
    }
}
