//! The job variables the component templates set from their inputs (`MULTIARCH_*`), checked.
//!
//! Templates interpolate inputs into job variables and never into scripts, so every value
//! arrives here as a string. Lists come in either of two forms: a JSON array, which is how
//! GitLab renders an `array` input interpolated into a string (`["linux/amd64", "linux/arm64"]`),
//! or entries one per line (platform and tag lists also take commas). An empty value means the
//! default, as an optional input left at `""` does.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Result;
use multiarch_core::build::EngineChoice;
use multiarch_core::platform::Platform;
use multiarch_core::reference::Location;
use serde_json::Value;

use crate::usage;

/// Where the records go, unless `MULTIARCH_RECORDS_DIR` says otherwise.
pub const DEFAULT_RECORDS_DIR: &str = "multiarch-records";
/// The dotenv report, unless `MULTIARCH_DOTENV` says otherwise.
pub const DEFAULT_DOTENV: &str = "multiarch.env";
/// The OCI layout under the project directory that `MULTIARCH_PUSH: "false"` builds into.
pub const LAYOUT_DIR: &str = "multiarch-oci";

/// What the build and the merge share.
#[derive(Debug, Clone)]
pub struct Common {
    /// `MULTIARCH_IMAGE` (default `$CI_REGISTRY_IMAGE`): the repository, without tag or digest.
    pub image: Location,
    /// `MULTIARCH_PUSH` (default true).
    pub push: bool,
    /// Where images go: `image`, or, when `push` is false, the OCI layout
    /// `$CI_PROJECT_DIR/multiarch-oci` (an `oci:` image is used as it is).
    pub target: Location,
    /// `MULTIARCH_RECORDS_DIR`: the records, one `<platform>.json` each.
    pub records_dir: PathBuf,
    /// `MULTIARCH_DOTENV`: the dotenv report.
    pub dotenv: PathBuf,
    /// `MULTIARCH_TAGS` as a tag spec for the core (entries one per line); empty: automatic.
    pub tags: String,
}

/// Everything `multiarch gitlab build` works with.
#[derive(Debug, Clone)]
pub struct BuildVariables {
    pub common: Common,
    /// `MULTIARCH_PLATFORM`, by default the runner's own.
    pub platform: Platform,
    /// `MULTIARCH_CONTEXT` (default `.`).
    pub context: PathBuf,
    /// `MULTIARCH_DOCKERFILE` (default `CONTEXT/Dockerfile`).
    pub dockerfile: PathBuf,
    /// `MULTIARCH_TARGET`: the stage to build (default the last).
    pub target: Option<String>,
    /// `MULTIARCH_BUILD_ARGS`.
    pub build_args: BTreeMap<String, String>,
    /// `MULTIARCH_ENGINE` (default auto).
    pub engine: EngineChoice,
}

/// Everything `multiarch gitlab merge` works with.
#[derive(Debug, Clone)]
pub struct MergeVariables {
    pub common: Common,
    /// `MULTIARCH_PLATFORMS`: exactly the platforms the index holds; never empty.
    pub platforms: Vec<Platform>,
    /// `MULTIARCH_ANNOTATIONS`: index annotations, on top of the `org.opencontainers.image.*`
    /// ones.
    pub annotations: BTreeMap<String, String>,
    /// `MULTIARCH_ALLOW_MISSING` (default false): publish the platforms whose records arrived
    /// when others did not.
    pub allow_missing: bool,
}

/// A variable's value, trimmed; `None` when unset or blank.
fn var(get: &impl Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    get(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

impl Common {
    pub fn read(get: &impl Fn(&str) -> Option<String>) -> Result<Common> {
        let image = image(get)?;
        let push = match var(get, "MULTIARCH_PUSH") {
            None => true,
            Some(value) => boolean("MULTIARCH_PUSH", &value)?,
        };
        let target = if push || matches!(image, Location::Layout(_)) {
            image.clone()
        } else {
            let project =
                var(get, "CI_PROJECT_DIR").map_or_else(|| PathBuf::from("."), PathBuf::from);
            let dir = project.join(LAYOUT_DIR);
            Location::Layout(std::path::absolute(&dir).unwrap_or(dir))
        };
        let tags = match var(get, "MULTIARCH_TAGS") {
            Some(value) => entries("MULTIARCH_TAGS", &value, true)?.join("\n"),
            None => String::new(),
        };
        Ok(Common {
            image,
            push,
            target,
            records_dir: path(get, "MULTIARCH_RECORDS_DIR", DEFAULT_RECORDS_DIR),
            dotenv: path(get, "MULTIARCH_DOTENV", DEFAULT_DOTENV),
            tags,
        })
    }
}

impl BuildVariables {
    /// Reads the variables through `get` (name → value), so tests need no environment.
    pub fn read(get: impl Fn(&str) -> Option<String>) -> Result<BuildVariables> {
        let common = Common::read(&get)?;
        let platform = match var(&get, "MULTIARCH_PLATFORM") {
            Some(value) => platform("MULTIARCH_PLATFORM", &value)?,
            None => {
                return Err(usage(
                    "MULTIARCH_PLATFORM is not set: each build job names its platform (a \
                     runner-tags entry needs MULTIARCH_PLATFORM as well as MULTIARCH_RUNNER_TAG)",
                ));
            }
        };
        // The multiarch component passes the index's platforms too: a platform the merge would
        // refuse fails here, before anything is pushed.
        if get("MULTIARCH_PLATFORMS").is_some() {
            let expected = platform_list(&get)?;
            if !expected.iter().any(|p| p.matches(&platform)) {
                return Err(usage(format!(
                    "MULTIARCH_PLATFORM {platform} is not in the platforms input ({}): add it \
                     there, or drop this runner-tags entry",
                    expected
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        let context = path(&get, "MULTIARCH_CONTEXT", ".");
        let dockerfile = var(&get, "MULTIARCH_DOCKERFILE")
            .map_or_else(|| context.join("Dockerfile"), PathBuf::from);
        let engine = var(&get, "MULTIARCH_ENGINE")
            .as_deref()
            .unwrap_or("auto")
            .parse::<EngineChoice>()
            .map_err(|e| usage(format!("MULTIARCH_ENGINE: {e}")))?;
        let build_args = match var(&get, "MULTIARCH_BUILD_ARGS") {
            Some(value) => pairs("MULTIARCH_BUILD_ARGS", &value)?,
            None => BTreeMap::new(),
        };
        Ok(BuildVariables {
            common,
            platform,
            context,
            dockerfile,
            target: var(&get, "MULTIARCH_TARGET"),
            build_args,
            engine,
        })
    }
}

impl MergeVariables {
    /// Reads the variables through `get` (name → value), so tests need no environment.
    pub fn read(get: impl Fn(&str) -> Option<String>) -> Result<MergeVariables> {
        let common = Common::read(&get)?;
        let platforms = platform_list(&get)?;
        let annotations = match var(&get, "MULTIARCH_ANNOTATIONS") {
            Some(value) => pairs("MULTIARCH_ANNOTATIONS", &value)?,
            None => BTreeMap::new(),
        };
        let allow_missing = match var(&get, "MULTIARCH_ALLOW_MISSING") {
            Some(value) => boolean("MULTIARCH_ALLOW_MISSING", &value)?,
            None => false,
        };
        Ok(MergeVariables {
            common,
            platforms,
            annotations,
            allow_missing,
        })
    }
}

/// `MULTIARCH_PLATFORMS`: at least one platform, each once.
fn platform_list(get: &impl Fn(&str) -> Option<String>) -> Result<Vec<Platform>> {
    let listed = match var(get, "MULTIARCH_PLATFORMS") {
        Some(value) => entries("MULTIARCH_PLATFORMS", &value, true)?,
        None => Vec::new(),
    };
    if listed.is_empty() {
        return Err(usage(
            "MULTIARCH_PLATFORMS is empty: the merge needs every platform the build jobs \
             built, e.g. [\"linux/amd64\", \"linux/arm64\"] (the merge fails unless a record \
             arrived for each of them)",
        ));
    }
    let mut platforms: Vec<Platform> = Vec::with_capacity(listed.len());
    for entry in &listed {
        let parsed = platform("MULTIARCH_PLATFORMS", entry)?;
        if !platforms.iter().any(|p| p.matches(&parsed)) {
            platforms.push(parsed);
        }
    }
    Ok(platforms)
}

/// `MULTIARCH_IMAGE`, else `CI_REGISTRY_IMAGE`.
fn image(get: &impl Fn(&str) -> Option<String>) -> Result<Location> {
    let given = var(get, "MULTIARCH_IMAGE")
        // The input's default, `$CI_REGISTRY_IMAGE`, reaches us unexpanded when the variable
        // does not exist (GitLab leaves unknown variables as they are).
        .filter(|v| !matches!(v.as_str(), "$CI_REGISTRY_IMAGE" | "${CI_REGISTRY_IMAGE}"));
    let (name, value) = match given {
        Some(value) => ("MULTIARCH_IMAGE", value),
        None => match var(get, "CI_REGISTRY_IMAGE") {
            Some(value) => ("CI_REGISTRY_IMAGE", value),
            None => {
                return Err(usage(
                    "MULTIARCH_IMAGE is empty and CI_REGISTRY_IMAGE is not set (is the project's \
                     container registry turned off?): set the image input to the repository to \
                     push to, e.g. registry.example.com/group/app",
                ));
            }
        },
    };
    if value.starts_with('$') {
        return Err(usage(format!(
            "{name} is {value:?}: a variable GitLab did not expand (is it defined for this job?); \
             set the image input to a repository such as registry.example.com/group/app"
        )));
    }
    // Registries want lowercase repositories; layout paths keep their case.
    let value = if value.starts_with("oci:") {
        value
    } else {
        value.to_lowercase()
    };
    value.parse::<Location>().map_err(|e| {
        usage(format!(
            "{name}: expected a repository without tag or digest, such as \
             registry.example.com/group/app (tags go in the tags input): {e}"
        ))
    })
}

fn path(get: &impl Fn(&str) -> Option<String>, name: &str, default: &str) -> PathBuf {
    PathBuf::from(var(get, name).unwrap_or_else(|| default.to_owned()))
}

fn boolean(name: &str, value: &str) -> Result<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Ok(true),
        "false" | "no" | "0" => Ok(false),
        _ => Err(usage(format!(
            "{name}: expected true or false, found {value:?}"
        ))),
    }
}

/// The entries of a list variable: a JSON array of strings, or one entry per line (and, with
/// `commas`, per comma). Entries are trimmed; empty entries and, in the line form, lines
/// starting with `#` are dropped.
pub fn entries(name: &str, value: &str, commas: bool) -> Result<Vec<String>> {
    let value = value.trim();
    if value.starts_with('[') {
        // GitLab renders array inputs with Ruby's `inspect`, which escapes `#{`, `#$` and `#@`
        // as `\#…`, an escape JSON does not have.
        let value = &value.replace("\\#", "#");
        match serde_json::from_str::<Vec<Value>>(value) {
            Ok(items) => {
                let mut list = Vec::with_capacity(items.len());
                for (i, item) in items.into_iter().enumerate() {
                    let text = match item {
                        Value::String(s) => s,
                        Value::Number(n) => n.to_string(),
                        Value::Bool(b) => b.to_string(),
                        other => {
                            return Err(usage(format!(
                                "{name}[{i}]: expected a string, found {other}"
                            )));
                        }
                    };
                    let text = text.trim();
                    if !text.is_empty() {
                        list.push(text.to_owned());
                    }
                }
                return Ok(list);
            }
            // `[a, b]` (YAML's flow form): a list whose entries cannot hold commas anyway.
            Err(_) if commas && value.ends_with(']') => {
                return Ok(split(&value[1..value.len() - 1], true)
                    .into_iter()
                    .map(|e| e.trim_matches(['"', '\'']).trim().to_owned())
                    .filter(|e| !e.is_empty())
                    .collect());
            }
            Err(e) => {
                return Err(usage(format!(
                    "{name} starts with `[` but is not a JSON array of strings ({e}); write a \
                     JSON array such as [\"A=1\", \"B=2\"], or one entry per line"
                )));
            }
        }
    }
    Ok(split(value, commas))
}

fn split(value: &str, commas: bool) -> Vec<String> {
    value
        .lines()
        .map(str::trim)
        .filter(|line| !line.starts_with('#'))
        .flat_map(|line| {
            if commas {
                line.split(',').collect::<Vec<_>>()
            } else {
                vec![line]
            }
        })
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `KEY=VALUE` entries (a JSON array, or one per line: values may hold commas). The value is
/// kept as written after the first `=`.
pub fn pairs(name: &str, value: &str) -> Result<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    for entry in entries(name, value, false)? {
        let Some((key, value)) = entry
            .split_once('=')
            .filter(|(key, _)| !key.trim().is_empty())
        else {
            return Err(usage(format!(
                "{name}: expected KEY=VALUE entries, found {entry:?}"
            )));
        };
        map.insert(key.trim().to_owned(), value.to_owned());
    }
    Ok(map)
}

const PLATFORM_EXAMPLES: &str = "OS/ARCH[/VARIANT] such as linux/amd64, linux/arm64, linux/arm/v7, linux/s390x or linux/ppc64le";

/// A platform string, checked against the operating systems and architectures OCI knows (the
/// core refuses a typo such as `linux/amd46`, which would label an image with a platform
/// nothing runs), and normalised (`linux/x86_64` is `linux/amd64`).
pub fn platform(name: &str, value: &str) -> Result<Platform> {
    let value = value.trim();
    let parsed: Platform = value.parse().map_err(|e| {
        usage(format!(
            "{name}: unknown platform string {value:?}: {e}; expected {PLATFORM_EXAMPLES}"
        ))
    })?;
    Ok(parsed.normalized())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let mut map: BTreeMap<String, String> = BTreeMap::new();
        map.insert(
            "CI_REGISTRY_IMAGE".into(),
            "registry.example.com/group/app".into(),
        );
        // Every build job names its platform (the matrix or the build component sets it).
        map.insert("MULTIARCH_PLATFORM".into(), "linux/arm64".into());
        for (k, v) in pairs {
            map.insert((*k).to_owned(), (*v).to_owned());
        }
        move |name| map.get(name).cloned()
    }

    fn error(result: Result<impl std::fmt::Debug>) -> String {
        let error = result.expect_err("an error");
        assert!(
            error.chain().any(|c| c.is::<crate::UsageError>()),
            "a usage error: {error:#}"
        );
        format!("{error:#}")
    }

    #[test]
    fn build_defaults() {
        let v = BuildVariables::read(env(&[])).unwrap();
        assert_eq!(v.common.image.to_string(), "registry.example.com/group/app");
        assert_eq!(v.common.target, v.common.image);
        assert!(v.common.push);
        assert_eq!(v.common.records_dir, PathBuf::from("multiarch-records"));
        assert_eq!(v.common.dotenv, PathBuf::from("multiarch.env"));
        assert_eq!(v.common.tags, "");
        assert_eq!(v.platform.to_string(), "linux/arm64");
        assert_eq!(v.context, PathBuf::from("."));
        assert_eq!(v.dockerfile, PathBuf::from("./Dockerfile"));
        assert_eq!(v.engine, EngineChoice::Auto);
        assert!(v.build_args.is_empty());
        assert_eq!(v.target, None);
    }

    #[test]
    fn a_build_names_its_platform_and_it_must_be_one_the_index_expects() {
        let none = BuildVariables::read(|name| {
            (name == "CI_REGISTRY_IMAGE").then(|| "registry.example.com/group/app".to_owned())
        });
        assert!(error(none).contains("MULTIARCH_PLATFORM is not set"));
        let listed = env(&[(
            "MULTIARCH_PLATFORMS",
            "[\"linux/amd64\", \"linux/arm64/v8\"]",
        )]);
        assert!(BuildVariables::read(listed).is_ok());
        let unlisted = env(&[("MULTIARCH_PLATFORMS", "linux/amd64")]);
        assert!(error(BuildVariables::read(unlisted)).contains("is not in the platforms input"));
        let empty = env(&[("MULTIARCH_PLATFORMS", "[]")]);
        assert!(error(BuildVariables::read(empty)).contains("MULTIARCH_PLATFORMS is empty"));
    }

    #[test]
    fn rubys_escaped_hashes_are_read() {
        let got = entries("MULTIARCH_BUILD_ARGS", r#"["A=\#{x}", "B=2"]"#, false).unwrap();
        assert_eq!(got, ["A=#{x}", "B=2"]);
    }

    #[test]
    fn an_empty_image_means_the_projects_registry() {
        for empty in ["", "  ", "$CI_REGISTRY_IMAGE", "${CI_REGISTRY_IMAGE}"] {
            let v = BuildVariables::read(env(&[("MULTIARCH_IMAGE", empty)])).unwrap();
            assert_eq!(v.common.image.to_string(), "registry.example.com/group/app");
        }
        let v = BuildVariables::read(env(&[("MULTIARCH_IMAGE", "Registry.Example.com/G/App")]))
            .unwrap();
        assert_eq!(v.common.image.to_string(), "registry.example.com/g/app");
    }

    #[test]
    fn build_variables_as_given() {
        let v = BuildVariables::read(env(&[
            ("MULTIARCH_IMAGE", "127.0.0.1:5000/g/app"),
            ("MULTIARCH_PLATFORM", "linux/arm/v7"),
            ("MULTIARCH_CONTEXT", "app"),
            ("MULTIARCH_ENGINE", "buildah"),
            ("MULTIARCH_BUILD_ARGS", "[\"A=1\", \"B=x=y, z\", \"C=\"]"),
            ("MULTIARCH_TARGET", "final"),
            ("MULTIARCH_RECORDS_DIR", "out/records"),
            ("MULTIARCH_DOTENV", "build.env"),
        ]))
        .unwrap();
        assert_eq!(v.platform.to_string(), "linux/arm/v7");
        assert_eq!(v.dockerfile, PathBuf::from("app/Dockerfile"));
        assert_eq!(v.engine, EngineChoice::Buildah);
        assert_eq!(v.build_args["A"], "1");
        assert_eq!(v.build_args["B"], "x=y, z");
        assert_eq!(v.build_args["C"], "");
        assert_eq!(v.target.as_deref(), Some("final"));
        assert_eq!(v.common.records_dir, PathBuf::from("out/records"));
        assert_eq!(v.common.dotenv, PathBuf::from("build.env"));

        let v = BuildVariables::read(env(&[
            ("MULTIARCH_BUILD_ARGS", "A=1\n# a comment\n\nB=two, words\n"),
            ("MULTIARCH_DOCKERFILE", "docker/Containerfile"),
            ("MULTIARCH_PLATFORM", "linux/x86_64"),
        ]))
        .unwrap();
        assert_eq!(v.build_args.len(), 2);
        assert_eq!(v.build_args["B"], "two, words");
        assert_eq!(v.dockerfile, PathBuf::from("docker/Containerfile"));
        assert_eq!(v.platform.to_string(), "linux/amd64", "normalised");
    }

    #[test]
    fn push_false_builds_into_a_layout_under_the_project() {
        let v = BuildVariables::read(env(&[
            ("MULTIARCH_PUSH", "false"),
            ("CI_PROJECT_DIR", "/builds/group/app"),
        ]))
        .unwrap();
        assert!(!v.common.push);
        assert_eq!(
            v.common.target,
            Location::Layout(PathBuf::from("/builds/group/app/multiarch-oci"))
        );
        // An oci: image is where images go, whatever push says.
        let v = BuildVariables::read(env(&[
            ("MULTIARCH_PUSH", "False"),
            ("MULTIARCH_IMAGE", "oci:/tmp/Out"),
        ]))
        .unwrap();
        assert_eq!(v.common.target, Location::Layout(PathBuf::from("/tmp/Out")));
    }

    #[test]
    fn platform_lists_take_json_arrays_commas_and_lines() {
        let merge = |value: &str| {
            MergeVariables::read(env(&[("MULTIARCH_PLATFORMS", value)])).map(|v| {
                v.platforms
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
            })
        };
        let expected = ["linux/amd64", "linux/arm64", "linux/arm/v7"];
        assert_eq!(
            merge("[\"linux/amd64\", \"linux/arm64\", \"linux/arm/v7\"]").unwrap(),
            expected
        );
        assert_eq!(
            merge("linux/amd64,linux/arm64\nlinux/arm/v7\n").unwrap(),
            expected
        );
        assert_eq!(
            merge("[linux/amd64, 'linux/arm64', linux/arm/v7]").unwrap(),
            expected
        );
        // The same platform twice counts once.
        assert_eq!(
            merge("linux/amd64, linux/arm64, linux/arm64/v8").unwrap(),
            ["linux/amd64", "linux/arm64"]
        );
    }

    #[test]
    fn tags_and_annotations() {
        let v = MergeVariables::read(env(&[
            ("MULTIARCH_PLATFORMS", "linux/amd64"),
            ("MULTIARCH_TAGS", "[\"{{auto}}\", \"stable\"]"),
            (
                "MULTIARCH_ANNOTATIONS",
                "[\"org.example.team=a, b\", \"org.example.empty=\"]",
            ),
        ]))
        .unwrap();
        assert_eq!(v.common.tags, "{{auto}}\nstable");
        assert_eq!(v.annotations["org.example.team"], "a, b");
        assert_eq!(v.annotations["org.example.empty"], "");
        let v = MergeVariables::read(env(&[
            ("MULTIARCH_PLATFORMS", "linux/amd64"),
            ("MULTIARCH_TAGS", "v1, latest\nedge"),
        ]))
        .unwrap();
        assert_eq!(v.common.tags, "v1\nlatest\nedge");
    }

    #[test]
    fn allow_missing_is_off_unless_set_and_read_as_interpolated() {
        let merge = |pairs: &[(&str, &str)]| {
            let mut all = vec![("MULTIARCH_PLATFORMS", "linux/amd64")];
            all.extend_from_slice(pairs);
            MergeVariables::read(env(&all))
        };
        assert!(!merge(&[]).unwrap().allow_missing);
        // A boolean input interpolated inside a block scalar: `true` and a newline.
        assert!(
            merge(&[("MULTIARCH_ALLOW_MISSING", "true\n")])
                .unwrap()
                .allow_missing
        );
        assert!(
            !merge(&[("MULTIARCH_ALLOW_MISSING", "false\n")])
                .unwrap()
                .allow_missing
        );
        let e = error(merge(&[("MULTIARCH_ALLOW_MISSING", "sometimes")]));
        assert!(
            e.contains("MULTIARCH_ALLOW_MISSING: expected true or false"),
            "{e}"
        );
    }

    #[test]
    fn unknown_platform_strings_are_refused_clearly() {
        let merge =
            |value: &str| error(MergeVariables::read(env(&[("MULTIARCH_PLATFORMS", value)])));
        let e = merge("linux/amd64,linux/amd46");
        assert!(
            e.contains("unknown platform string \"linux/amd46\"")
                && e.contains("`amd46` is not a CPU architecture"),
            "{e}"
        );
        let e = merge("amd64");
        assert!(e.contains("unknown platform string \"amd64\""), "{e}");
        assert!(e.contains("OS/ARCH[/VARIANT]"), "{e}");
        let e = merge("lunix/amd64");
        assert!(e.contains("not an operating system"), "{e}");
        let e = merge("Linux/AMD64");
        assert!(e.contains("unknown platform string"), "{e}");
        let e = error(BuildVariables::read(env(&[(
            "MULTIARCH_PLATFORM",
            "linux",
        )])));
        assert!(
            e.contains("MULTIARCH_PLATFORM: unknown platform string"),
            "{e}"
        );
    }

    #[test]
    fn empty_platforms_are_refused_clearly() {
        for empty in ["", "[]", " , ", "[\"\"]", "\n"] {
            let e = error(MergeVariables::read(env(&[("MULTIARCH_PLATFORMS", empty)])));
            assert!(e.contains("MULTIARCH_PLATFORMS is empty"), "{empty:?}: {e}");
        }
    }

    #[test]
    fn bad_variables_say_what_was_expected() {
        let build = |pairs: &[(&str, &str)]| error(BuildVariables::read(env(pairs)));
        assert!(build(&[("MULTIARCH_PUSH", "maybe")]).contains("expected true or false"));
        assert!(build(&[("MULTIARCH_ENGINE", "kaniko")]).contains("expected auto, native"));
        assert!(build(&[("MULTIARCH_BUILD_ARGS", "NOVALUE")]).contains("expected KEY=VALUE"));
        assert!(build(&[("MULTIARCH_BUILD_ARGS", "[\"A=1\"")]).contains("not a JSON array"));
        assert!(build(&[("MULTIARCH_BUILD_ARGS", "[{\"A\": 1}]")]).contains("[0]"));
        assert!(
            build(&[("MULTIARCH_IMAGE", "registry.example.com/app:1.0")])
                .contains("without tag or digest")
        );
        assert!(build(&[("MULTIARCH_IMAGE", "$MY_IMAGE")]).contains("did not expand"));
        let no_registry = |name: &str| {
            if name == "MULTIARCH_IMAGE" {
                Some(String::new())
            } else {
                None
            }
        };
        let e = error(BuildVariables::read(no_registry));
        assert!(e.contains("CI_REGISTRY_IMAGE is not set"), "{e}");
    }
}
