//! The action's inputs. `action.yml` hands each input to the binary as `INPUT_<NAME>` in the
//! environment (never spliced into a script), and this module checks them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use multiarch_core::build::EngineChoice;
use multiarch_core::platform::Platform;
use multiarch_core::reference::Location;

/// What the step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Build one platform's image and hand its record to the merge job.
    Build,
    /// Stitch the records of every platform into an index and tag it.
    Merge,
    /// Emit the build matrix (platform → runner) for a later job's `strategy.matrix`.
    Plan,
    /// Record an image built by another tool so that it can join the merge.
    Record,
}

/// Every input, read from the environment.
#[derive(Debug, Clone)]
pub struct Inputs {
    pub mode: Mode,
    /// The repository, without tag or digest (`ghcr.io/org/app`).
    pub image: Option<Location>,
    pub platform: Option<Platform>,
    pub platforms: Vec<Platform>,
    pub context: PathBuf,
    pub file: Option<PathBuf>,
    pub target: Option<String>,
    pub build_args: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub engine: EngineChoice,
    /// `None`: the default (push, except under act).
    pub push: Option<bool>,
    /// The `tags` input as written (entries and templates, see the core's tag rules).
    pub tags: String,
    pub runners: BTreeMap<String, Vec<String>>,
    pub digest: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub github_token: Option<String>,
    pub comment: bool,
    /// merge: publish the platforms whose records arrived when others did not.
    pub allow_missing: bool,
}

impl Inputs {
    pub fn from_env() -> Result<Inputs> {
        Inputs::read(|name| {
            let key = format!("INPUT_{}", name.to_uppercase().replace('-', "_"));
            std::env::var(key).ok()
        })
    }

    /// Reads the inputs through `get` (input name → value), so tests need no environment.
    pub fn read(get: impl Fn(&str) -> Option<String>) -> Result<Inputs> {
        let input = |name: &str| {
            get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mode = match input("mode").as_deref().unwrap_or("build") {
            "build" => Mode::Build,
            "merge" => Mode::Merge,
            "plan" => Mode::Plan,
            "record" => Mode::Record,
            other => bail!("input mode: expected build, merge, plan or record, found {other:?}"),
        };
        let image = input("image").map(|v| parse_image(&v)).transpose()?;
        let platform = input("platform")
            .map(|v| {
                v.parse::<Platform>().with_context(|| {
                    format!("input platform: {v:?} is not a platform such as linux/arm64")
                })
            })
            .transpose()?;
        let platforms = match input("platforms") {
            Some(list) => Platform::parse_list(&list.replace('\n', ","))
                .with_context(|| format!("input platforms: {list:?}"))?,
            None => Vec::new(),
        };
        let engine = input("engine")
            .as_deref()
            .unwrap_or("auto")
            .parse::<EngineChoice>()
            .context("input engine")?;
        Ok(Inputs {
            mode,
            image,
            platform,
            platforms,
            context: PathBuf::from(input("context").unwrap_or_else(|| ".".into())),
            file: input("file").map(PathBuf::from),
            target: input("target"),
            build_args: pairs("build-args", input("build-args"))?,
            labels: pairs("labels", input("labels"))?,
            annotations: pairs("annotations", input("annotations"))?,
            engine,
            push: input("push").map(|v| boolean("push", &v)).transpose()?,
            tags: get("tags").unwrap_or_default(),
            runners: runners(input("runners"))?,
            digest: input("digest"),
            username: input("username"),
            password: get("password").filter(|p| !p.is_empty()),
            github_token: get("github-token").filter(|t| !t.is_empty()),
            comment: input("comment")
                .map(|v| boolean("comment", &v))
                .transpose()?
                .unwrap_or(false),
            allow_missing: input("allow-missing")
                .map(|v| boolean("allow-missing", &v))
                .transpose()?
                .unwrap_or(false),
        })
    }

    /// The `image` input, required by every mode but plan.
    pub fn image(&self) -> Result<&Location> {
        self.image.as_ref().with_context(|| {
            "input image is required: the repository to push to, e.g. ghcr.io/${{ github.repository }}"
        })
    }
}

/// `image`: a repository, with neither tag nor digest (tags come from `tags`).
fn parse_image(value: &str) -> Result<Location> {
    // Registries want lowercase repositories, and `ghcr.io/${{ github.repository }}` often is
    // not (`Org/App`); layout paths keep their case.
    let value = if value.starts_with("oci:") {
        value.to_owned()
    } else {
        value.to_lowercase()
    };
    value.parse::<Location>().with_context(|| {
        format!(
            "input image: expected a repository without tag or digest, such as ghcr.io/org/app \
             (tag names go in the tags input), found {value:?}"
        )
    })
}

/// `KEY=VALUE` entries, one per line (commas are part of values: labels often contain them).
fn pairs(name: &str, value: Option<String>) -> Result<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    for line in value.iter().flat_map(|v| v.lines()) {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            bail!("input {name}: expected KEY=VALUE on each line, found {line:?}");
        };
        if key.trim().is_empty() {
            bail!("input {name}: the line {line:?} has an empty key");
        }
        map.insert(key.trim().to_owned(), value.to_owned());
    }
    Ok(map)
}

/// `runners`: `PLATFORM=LABEL[,LABEL…]` per line, e.g. `linux/s390x=self-hosted,s390x`.
fn runners(value: Option<String>) -> Result<BTreeMap<String, Vec<String>>> {
    let mut map = BTreeMap::new();
    for (platform, labels) in pairs("runners", value)? {
        let parsed: Platform = platform.parse().with_context(|| {
            format!("input runners: {platform:?} is not a platform such as linux/s390x")
        })?;
        let labels: Vec<String> = labels
            .split(',')
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty())
            .collect();
        if labels.is_empty() {
            bail!("input runners: {platform} has no runner label after '='");
        }
        map.insert(parsed.normalized().to_string(), labels);
    }
    Ok(map)
}

fn boolean(name: &str, value: &str) -> Result<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Ok(true),
        "false" | "no" | "0" => Ok(false),
        _ => bail!("input {name}: expected true or false, found {value:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<Inputs> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Inputs::read(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults() {
        let inputs = read(&[]).unwrap();
        assert_eq!(inputs.mode, Mode::Build);
        assert_eq!(inputs.context, PathBuf::from("."));
        assert_eq!(inputs.push, None);
        assert!(!inputs.comment);
        assert!(!inputs.allow_missing);
        assert!(inputs.image().is_err());
    }

    #[test]
    fn lists_and_pairs() {
        let inputs = read(&[
            ("platforms", "linux/amd64,linux/arm64\nlinux/arm/v7"),
            ("build-args", "A=1\n# comment\nB=x=y\n"),
            ("labels", "org.opencontainers.image.title=a, b"),
            (
                "runners",
                "linux/s390x=self-hosted, s390x\nlinux/arm64=ubuntu-24.04-arm",
            ),
        ])
        .unwrap();
        let platforms: Vec<String> = inputs.platforms.iter().map(|p| p.to_string()).collect();
        assert_eq!(platforms, ["linux/amd64", "linux/arm64", "linux/arm/v7"]);
        assert_eq!(inputs.build_args["B"], "x=y");
        assert_eq!(inputs.labels["org.opencontainers.image.title"], "a, b");
        assert_eq!(inputs.runners["linux/s390x"], ["self-hosted", "s390x"]);
    }

    #[test]
    fn bad_inputs_say_what_was_expected() {
        let error = |pairs: &[(&str, &str)]| format!("{:#}", read(pairs).unwrap_err());
        assert!(error(&[("mode", "deploy")]).contains("expected build, merge, plan or record"));
        assert!(error(&[("push", "maybe")]).contains("expected true or false"));
        assert!(error(&[("allow-missing", "sometimes")]).contains("input allow-missing"));
        assert!(error(&[("build-args", "NOVALUE")]).contains("expected KEY=VALUE"));
        assert!(error(&[("image", "ghcr.io/org/app:1.0")]).contains("without tag or digest"));
        assert!(error(&[("platforms", "linux/")]).contains("input platforms"));
        assert!(error(&[("engine", "kaniko")]).contains("expected auto, native"));
    }

    #[test]
    fn image_repositories_are_lowercased() {
        let inputs = read(&[("image", "ghcr.io/Org/App")]).unwrap();
        assert_eq!(inputs.image().unwrap().to_string(), "ghcr.io/org/app");
    }
}
