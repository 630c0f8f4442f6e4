//! The Tasks' params. A step's `env` hands each string param to the binary as an environment
//! variable named exactly like the param (never spliced into the script); array params, which
//! `env` cannot carry, arrive as arguments after a section flag (`--build-args`, `--tags`, …),
//! because Tekton expands `$(params.NAME[*])` in `args` into zero or more whole arguments.
//! Workspaces arrive as `WORKSPACE_<NAME>_BOUND` and `WORKSPACE_<NAME>_PATH`, results as
//! `RESULT_<NAME>` holding `$(results.NAME.path)`.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use anyhow::Result;
use multiarch_core::build::EngineChoice;
use multiarch_core::platform::Platform;
use multiarch_core::record::Record;
use multiarch_core::reference::Location;
use multiarch_core::tags;

use crate::results::ResultFile;
use crate::usage;

/// The array params of `multiarch tekton build`, one entry per argument.
#[derive(Debug, Clone, Default)]
pub struct BuildArgs {
    /// `BUILD_ARGS`: `KEY=VALUE` each.
    pub build_args: Vec<String>,
}

/// The array params of `multiarch tekton manifest`, one entry per argument.
#[derive(Debug, Clone, Default)]
pub struct ManifestArgs {
    /// `TAGS`: one tag each (not a full reference). None: `latest`.
    pub tags: Vec<String>,
    /// `RECORDS`: one record's JSON each (`$(tasks.build.results.RECORD[*])`).
    pub records: Vec<String>,
    /// `EXPECT_PLATFORMS`: none, or exactly the platforms the index must hold.
    pub expect_platforms: Vec<String>,
    /// `ANNOTATIONS`: `KEY=VALUE` each, for the index.
    pub annotations: Vec<String>,
}

/// What both Tasks share: where the image goes and how to reach its registry.
#[derive(Debug, Clone)]
pub struct Common {
    /// `IMAGE`: the repository, without tag or digest.
    pub image: Location,
    /// `TLSVERIFY`: false lets the image's registry be reached over plain HTTP.
    pub tls_verify: bool,
    /// The `dockerconfig` workspace's path, when it is bound.
    pub dockerconfig: Option<PathBuf>,
    /// The `sslcertdir` workspace's path, when it is bound.
    pub sslcertdir: Option<PathBuf>,
}

/// Everything `multiarch tekton build` works with.
#[derive(Debug, Clone)]
pub struct BuildParams {
    pub common: Common,
    /// `CONTEXT` under the `source` workspace.
    pub context: PathBuf,
    /// `DOCKERFILE` under the `source` workspace.
    pub dockerfile: PathBuf,
    /// `PLATFORM`, by default the node's own.
    pub platform: Platform,
    pub engine: EngineChoice,
    pub build_args: BTreeMap<String, String>,
    pub image_digest: ResultFile,
    pub image_url: ResultFile,
    pub image_ref: ResultFile,
    pub record: ResultFile,
}

/// Everything `multiarch tekton manifest` works with.
#[derive(Debug, Clone)]
pub struct ManifestParams {
    pub common: Common,
    /// Valid tag names, in order, without duplicates; never empty.
    pub tags: Vec<String>,
    /// Each record with the name it is reported under (`RECORDS[0]`, …).
    pub records: Vec<(PathBuf, Record)>,
    pub expect: Option<Vec<Platform>>,
    /// `ALLOW_MISSING` (default false): publish when some of `expect` have no record.
    pub allow_missing: bool,
    pub annotations: BTreeMap<String, String>,
    pub image_digest: ResultFile,
    pub image_url: ResultFile,
    pub missing_platforms: ResultFile,
}

/// A string param: trimmed, and `None` when unset or blank (Tekton passes unset optional params
/// as their default, often "").
fn param(get: &impl Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    get(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

impl Common {
    pub fn read(get: &impl Fn(&str) -> Option<String>) -> Result<Common> {
        let image = param(get, "IMAGE").ok_or_else(|| {
            usage(
                "param IMAGE is required: the repository to push to, without tag or digest \
                 (e.g. registry.example.com/team/app)",
            )
        })?;
        let image = image.parse::<Location>().map_err(|e| {
            usage(format!(
                "param IMAGE: expected a repository without tag or digest, such as \
                 registry.example.com/team/app (tags go in the manifest Task's TAGS): {e}"
            ))
        })?;
        let tls_verify = boolean(get, "TLSVERIFY", true)?;
        Ok(Common {
            image,
            tls_verify,
            dockerconfig: workspace(get, "dockerconfig")?,
            sslcertdir: workspace(get, "sslcertdir")?,
        })
    }
}

/// A `"true"`/`"false"` param (Tekton params are strings), `default` when unset or blank.
fn boolean(get: &impl Fn(&str) -> Option<String>, name: &str, default: bool) -> Result<bool> {
    match param(get, name).map(|v| v.to_ascii_lowercase()).as_deref() {
        None => Ok(default),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(v) => Err(usage(format!(
            "param {name}: expected true or false, found {v:?}"
        ))),
    }
}

/// An optional workspace's path when it is bound (`$(workspaces.NAME.bound)` and
/// `$(workspaces.NAME.path)`).
fn workspace(get: &impl Fn(&str) -> Option<String>, name: &str) -> Result<Option<PathBuf>> {
    let upper = name.to_ascii_uppercase();
    let bound_var = format!("WORKSPACE_{upper}_BOUND");
    let path_var = format!("WORKSPACE_{upper}_PATH");
    let bound = match param(get, &bound_var).map(|v| v.to_ascii_lowercase()) {
        None => false,
        Some(v) if v == "true" => true,
        Some(v) if v == "false" => false,
        Some(v) => {
            return Err(usage(format!(
                "{bound_var}: expected true or false ($(workspaces.{name}.bound)), found {v:?}"
            )));
        }
    };
    if !bound {
        return Ok(None);
    }
    let path = param(get, &path_var).ok_or_else(|| {
        usage(format!(
            "the {name} workspace is bound but {path_var} is not set: the step must set it to \
             $(workspaces.{name}.path)"
        ))
    })?;
    Ok(Some(PathBuf::from(path)))
}

/// `path` under `dir` (an absolute `path` stands alone), without `.` components.
fn under(dir: &Path, path: &str) -> PathBuf {
    let joined: PathBuf = dir
        .join(path)
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect();
    if joined.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        joined
    }
}

/// A result's file (`RESULT_<NAME>`, set to `$(results.NAME.path)`), required.
fn result(get: &impl Fn(&str) -> Option<String>, name: &'static str) -> Result<ResultFile> {
    let var = format!("RESULT_{name}");
    let path = param(get, &var).ok_or_else(|| {
        usage(format!(
            "{var} is not set: the step must set it to $(results.{name}.path), where the \
             {name} result is written"
        ))
    })?;
    Ok(ResultFile {
        name,
        path: PathBuf::from(path),
    })
}

impl BuildParams {
    /// Reads the params through `get` (environment variable name → value), so tests need no
    /// environment.
    pub fn read(get: impl Fn(&str) -> Option<String>, args: &BuildArgs) -> Result<BuildParams> {
        let common = Common::read(&get)?;
        let source =
            PathBuf::from(param(&get, "WORKSPACE_SOURCE_PATH").unwrap_or_else(|| ".".into()));
        // Both relative to the source workspace, like the catalog's buildah Task (an absolute
        // path replaces it).
        let context = under(
            &source,
            &param(&get, "CONTEXT").unwrap_or_else(|| ".".into()),
        );
        let dockerfile = under(
            &source,
            &param(&get, "DOCKERFILE").unwrap_or_else(|| "./Dockerfile".into()),
        );
        let platform = match param(&get, "PLATFORM") {
            Some(v) => platform_param(&v).map_err(|e| {
                usage(format!(
                    "param PLATFORM: {v:?} is not a platform such as linux/arm64 (or a node's \
                     architecture, arm64): {e}"
                ))
            })?,
            None => Platform::host(),
        };
        let engine = param(&get, "ENGINE")
            .as_deref()
            .unwrap_or("native")
            .parse::<EngineChoice>()
            .map_err(|e| usage(format!("param ENGINE: {e}")))?;
        Ok(BuildParams {
            common,
            context,
            dockerfile,
            platform,
            engine,
            build_args: pairs("BUILD_ARGS", &args.build_args)?,
            image_digest: result(&get, "IMAGE_DIGEST")?,
            image_url: result(&get, "IMAGE_URL")?,
            image_ref: result(&get, "IMAGE_REF")?,
            record: result(&get, "RECORD")?,
        })
    }
}

impl ManifestParams {
    /// Reads the params through `get` (environment variable name → value).
    pub fn read(
        get: impl Fn(&str) -> Option<String>,
        args: &ManifestArgs,
    ) -> Result<ManifestParams> {
        let common = Common::read(&get)?;
        let mut tags: Vec<String> = Vec::new();
        for (i, tag) in args.tags.iter().enumerate() {
            let tag = tag.trim();
            if !tags::is_valid_tag(tag) {
                return Err(usage(format!(
                    "param TAGS[{i}]: {tag:?} is not a valid tag: expected 1 to 128 letters, \
                     digits, `_`, `.` or `-`, not starting with `.` or `-` (a tag name, not a \
                     full reference)"
                )));
            }
            if !tags.iter().any(|t| t == tag) {
                tags.push(tag.to_owned());
            }
        }
        if tags.is_empty() {
            tags.push("latest".to_owned());
        }
        if args.records.is_empty() {
            return Err(usage(
                "param RECORDS is empty: pass the build Tasks' records, e.g. \
                 $(tasks.build.results.RECORD[*])",
            ));
        }
        let allow_missing = boolean(&get, "ALLOW_MISSING", false)?;
        let mut records = Vec::with_capacity(args.records.len());
        for (i, json) in args.records.iter().enumerate() {
            let origin = PathBuf::from(format!("RECORDS[{i}]"));
            if json.trim().is_empty() {
                if allow_missing {
                    // A leg without a record: the fan-in names the platform it lacks.
                    tracing::info!("{}: empty, left out (ALLOW_MISSING)", origin.display());
                    continue;
                }
                return Err(usage(format!(
                    "param {}: the record is empty; did its build leg write its RECORD result? \
                     (ALLOW_MISSING \"true\" publishes the legs that did)",
                    origin.display()
                )));
            }
            let record = Record::parse(json.trim().as_bytes(), Path::new(&origin))?;
            records.push((origin, record));
        }
        let mut expect = Vec::new();
        for (i, list) in args.expect_platforms.iter().enumerate() {
            let platforms = platform_list(list).map_err(|e| {
                usage(format!(
                    "param EXPECT_PLATFORMS[{i}]: {list:?} is not a platform such as \
                     linux/arm64: {e}"
                ))
            })?;
            expect.extend(platforms);
        }
        if allow_missing && expect.is_empty() {
            return Err(usage(
                "param ALLOW_MISSING is \"true\" but EXPECT_PLATFORMS is empty: name the \
                 platforms the index should hold, some of which may then be missing",
            ));
        }
        if records.is_empty() {
            return Err(usage(format!(
                "param RECORDS holds {} empty record(s) and nothing else: no build leg wrote \
                 its RECORD result, so there is nothing to publish",
                args.records.len()
            )));
        }
        Ok(ManifestParams {
            common,
            tags,
            records,
            expect: (!expect.is_empty()).then_some(expect),
            allow_missing,
            annotations: pairs("ANNOTATIONS", &args.annotations)?,
            image_digest: result(&get, "IMAGE_DIGEST")?,
            image_url: result(&get, "IMAGE_URL")?,
            missing_platforms: result(&get, "MISSING_PLATFORMS")?,
        })
    }
}

/// `KEY=VALUE` entries, one per array element (the value is kept as is, `=` and all).
fn pairs(param: &str, entries: &[String]) -> Result<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    for (i, entry) in entries.iter().enumerate() {
        let Some((key, value)) = entry
            .split_once('=')
            .filter(|(key, _)| !key.trim().is_empty())
        else {
            return Err(usage(format!(
                "param {param}[{i}]: expected KEY=VALUE, found {entry:?}"
            )));
        };
        map.insert(key.trim().to_owned(), value.to_owned());
    }
    Ok(map)
}

/// A platform param: `OS/ARCH[/VARIANT]`, or a bare architecture as nodes label themselves
/// (`kubernetes.io/arch`: `amd64`, `arm64`, `arm`, `s390x`, `ppc64le`) meaning Linux, so one
/// matrix value can both name the platform and place the leg on a node of it.
fn platform_param(value: &str) -> Result<Platform, multiarch_core::platform::PlatformError> {
    let value = value.trim();
    if value.contains('/') {
        value.parse()
    } else {
        Ok(format!("linux/{value}").parse::<Platform>()?.normalized())
    }
}

/// Platforms separated by commas or whitespace, each as [`platform_param`] reads it.
fn platform_list(list: &str) -> Result<Vec<Platform>, multiarch_core::platform::PlatformError> {
    let platforms = list
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(platform_param)
        .collect::<Result<Vec<_>, _>>()?;
    if platforms.is_empty() {
        return Err(multiarch_core::platform::PlatformError::EmptyList);
    }
    Ok(platforms)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An environment of `pairs`, with the result variables unless `pairs` names them.
    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let mut map: BTreeMap<String, String> = [
            "IMAGE_DIGEST",
            "IMAGE_URL",
            "IMAGE_REF",
            "RECORD",
            "MISSING_PLATFORMS",
        ]
        .iter()
        .map(|n| (format!("RESULT_{n}"), format!("/tekton/results/{n}")))
        .collect();
        map.insert("IMAGE".into(), "registry.example.com/team/app".into());
        for (k, v) in pairs {
            map.insert((*k).to_owned(), (*v).to_owned());
        }
        move |name| map.get(name).cloned()
    }

    fn build(pairs: &[(&str, &str)], build_args: &[&str]) -> Result<BuildParams> {
        let args = BuildArgs {
            build_args: build_args.iter().map(|s| (*s).to_owned()).collect(),
        };
        BuildParams::read(env(pairs), &args)
    }

    fn error(result: Result<impl std::fmt::Debug>) -> String {
        let error = result.expect_err("an error");
        assert!(
            error.chain().any(|c| c.is::<crate::UsageError>())
                || error
                    .chain()
                    .any(|c| c.is::<multiarch_core::record::RecordError>()),
            "a usage error: {error:#}"
        );
        format!("{error:#}")
    }

    #[test]
    fn build_defaults() {
        let p = build(&[], &[]).unwrap();
        assert_eq!(p.common.image.to_string(), "registry.example.com/team/app");
        assert!(p.common.tls_verify);
        assert_eq!(p.common.dockerconfig, None);
        assert_eq!(p.common.sslcertdir, None);
        assert_eq!(p.context, PathBuf::from("."));
        assert_eq!(p.dockerfile, PathBuf::from("Dockerfile"));
        assert_eq!(p.platform, Platform::host());
        assert_eq!(p.engine, EngineChoice::Native);
        assert!(p.build_args.is_empty());
        assert_eq!(p.record.name, "RECORD");
        assert_eq!(p.record.path, PathBuf::from("/tekton/results/RECORD"));
    }

    #[test]
    fn build_params_as_given() {
        let p = build(
            &[
                ("WORKSPACE_SOURCE_PATH", "/workspace/source"),
                ("CONTEXT", "app"),
                ("DOCKERFILE", "/elsewhere/Containerfile"),
                ("PLATFORM", "linux/arm/v7"),
                ("ENGINE", "buildah"),
                ("TLSVERIFY", "false"),
                ("WORKSPACE_DOCKERCONFIG_BOUND", "true"),
                ("WORKSPACE_DOCKERCONFIG_PATH", "/workspace/dockerconfig"),
                ("WORKSPACE_SSLCERTDIR_BOUND", "false"),
                ("WORKSPACE_SSLCERTDIR_PATH", "/workspace/sslcertdir"),
            ],
            &["A=1", "B=x=y", "C="],
        )
        .unwrap();
        assert_eq!(p.context, PathBuf::from("/workspace/source/app"));
        assert_eq!(p.dockerfile, PathBuf::from("/elsewhere/Containerfile"));
        assert_eq!(p.platform.to_string(), "linux/arm/v7");
        assert_eq!(p.engine, EngineChoice::Buildah);
        assert!(!p.common.tls_verify);
        assert_eq!(
            p.common.dockerconfig,
            Some(PathBuf::from("/workspace/dockerconfig"))
        );
        assert_eq!(p.common.sslcertdir, None, "not bound");
        assert_eq!(p.build_args["B"], "x=y");
        assert_eq!(p.build_args["C"], "");
    }

    #[test]
    fn paths_are_under_the_source_workspace() {
        let source = Path::new("/workspace/source");
        assert_eq!(under(source, "."), PathBuf::from("/workspace/source"));
        assert_eq!(
            under(source, "./app/./Dockerfile"),
            PathBuf::from("/workspace/source/app/Dockerfile")
        );
        assert_eq!(under(source, "/abs/ctx"), PathBuf::from("/abs/ctx"));
        assert_eq!(
            under(Path::new("."), "./Dockerfile"),
            PathBuf::from("Dockerfile")
        );
        assert_eq!(under(Path::new("src"), "../x"), PathBuf::from("src/../x"));
    }

    #[test]
    fn image_names_are_taken_exactly() {
        let msg = error(build(&[("IMAGE", "registry.example.com/Team/App")], &[]));
        assert!(msg.contains("lowercase"), "{msg}");
        let msg = error(build(
            &[("IMAGE", "registry.example.com/team/app:1.0")],
            &[],
        ));
        assert!(msg.contains("without tag or digest"), "{msg}");
        let msg = error(build(
            &[(
                "IMAGE",
                "registry.example.com/team/app@sha256:0000000000000000000000000000000000000000000000000000000000000000",
            )],
            &[],
        ));
        assert!(msg.contains("without tag or digest"), "{msg}");
        let msg = error(build(&[("IMAGE", " ")], &[]));
        assert!(msg.contains("param IMAGE is required"), "{msg}");
    }

    #[test]
    fn a_bare_architecture_is_a_linux_platform() {
        assert_eq!(platform_param("arm64").unwrap().to_string(), "linux/arm64");
        assert_eq!(platform_param("arm").unwrap().to_string(), "linux/arm/v7");
        assert_eq!(
            platform_param("linux/s390x").unwrap().to_string(),
            "linux/s390x"
        );
        assert_eq!(platform_list("amd64, linux/ppc64le").unwrap().len(), 2);
        assert!(platform_param("Arm64!").is_err());
    }

    #[test]
    fn bad_build_params_say_what_was_expected() {
        let e = |pairs: &[(&str, &str)]| error(build(pairs, &[]));
        assert!(e(&[("ENGINE", "kaniko")]).contains("expected auto, native"));
        assert!(e(&[("TLSVERIFY", "maybe")]).contains("TLSVERIFY: expected true or false"));
        assert!(e(&[("PLATFORM", "linux/")]).contains("param PLATFORM"));
        assert!(
            e(&[("WORKSPACE_SSLCERTDIR_BOUND", "true")])
                .contains("WORKSPACE_SSLCERTDIR_PATH is not set")
        );
        assert!(e(&[("RESULT_RECORD", "")]).contains("RESULT_RECORD is not set"));
        let msg = error(build(&[], &["A=1", "NOVALUE"]));
        assert!(
            msg.contains("param BUILD_ARGS[1]: expected KEY=VALUE"),
            "{msg}"
        );
        assert!(error(build(&[], &["=x"])).contains("BUILD_ARGS[0]"));
    }

    fn record_json(platform: &str) -> String {
        format!(
            r#"{{"schema":"multiarch.record.v1","image":"registry.example.com/team/app","digest":"sha256:{}","mediaType":"application/vnd.oci.image.manifest.v1+json","size":500,"platform":{{"os":"linux","architecture":"{platform}"}}}}"#,
            "a".repeat(64)
        )
    }

    fn manifest(args: ManifestArgs) -> Result<ManifestParams> {
        ManifestParams::read(env(&[]), &args)
    }

    #[test]
    fn manifest_params() {
        let p = manifest(ManifestArgs {
            tags: vec!["v1".into(), "latest".into(), "v1".into()],
            records: vec![
                record_json("amd64"),
                format!("\n{}\n", record_json("arm64")),
            ],
            expect_platforms: vec!["linux/amd64".into(), "linux/arm64".into()],
            annotations: vec!["org.opencontainers.image.source=https://x/y?a=b".into()],
        })
        .unwrap();
        assert_eq!(p.tags, ["v1", "latest"]);
        assert_eq!(p.records.len(), 2);
        assert_eq!(p.records[1].0, PathBuf::from("RECORDS[1]"));
        assert_eq!(p.records[1].1.platform.to_string(), "linux/arm64");
        assert_eq!(p.expect.as_ref().map(Vec::len), Some(2));
        assert_eq!(
            p.annotations["org.opencontainers.image.source"],
            "https://x/y?a=b"
        );
    }

    #[test]
    fn manifest_defaults() {
        let p = manifest(ManifestArgs {
            records: vec![record_json("amd64")],
            ..ManifestArgs::default()
        })
        .unwrap();
        assert_eq!(p.tags, ["latest"]);
        assert_eq!(p.expect, None, "an empty EXPECT_PLATFORMS checks nothing");
        assert!(p.annotations.is_empty());
        assert!(!p.allow_missing);
    }

    #[test]
    fn allow_missing_leaves_out_empty_records_and_needs_expected_platforms() {
        let args = || ManifestArgs {
            records: vec![record_json("amd64"), String::new()],
            expect_platforms: vec!["amd64".into(), "arm64".into()],
            ..ManifestArgs::default()
        };
        let read = |allow: &str, args: ManifestArgs| {
            ManifestParams::read(env(&[("ALLOW_MISSING", allow)]), &args)
        };
        let p = read("true", args()).unwrap();
        assert!(p.allow_missing);
        assert_eq!(p.records.len(), 1);
        assert_eq!(p.records[0].0, PathBuf::from("RECORDS[0]"));
        assert_eq!(p.missing_platforms.name, "MISSING_PLATFORMS");

        let msg = error(read("false", args()));
        assert!(msg.contains("RECORDS[1]: the record is empty"), "{msg}");
        let msg = error(read("yes", args()));
        assert!(
            msg.contains("param ALLOW_MISSING: expected true or false"),
            "{msg}"
        );
        let msg = error(read(
            "true",
            ManifestArgs {
                expect_platforms: Vec::new(),
                ..args()
            },
        ));
        assert!(msg.contains("EXPECT_PLATFORMS is empty"), "{msg}");
        let msg = error(read(
            "true",
            ManifestArgs {
                records: vec![String::new(), " ".into()],
                ..args()
            },
        ));
        assert!(msg.contains("nothing to publish"), "{msg}");
    }

    #[test]
    fn bad_manifest_params_say_what_was_expected() {
        let one = || vec![record_json("amd64")];
        let msg = error(manifest(ManifestArgs::default()));
        assert!(msg.contains("param RECORDS is empty"), "{msg}");
        for bad in [
            "",
            "v1:latest",
            ".hidden",
            "registry.example.com/team/app:v1",
        ] {
            let msg = error(manifest(ManifestArgs {
                tags: vec!["ok".into(), bad.into()],
                records: one(),
                ..ManifestArgs::default()
            }));
            assert!(
                msg.contains("param TAGS[1]") && msg.contains("not a valid tag"),
                "{msg}"
            );
        }
        let msg = error(manifest(ManifestArgs {
            tags: vec!["x".repeat(129)],
            records: one(),
            ..ManifestArgs::default()
        }));
        assert!(msg.contains("TAGS[0]"), "{msg}");
        let msg = error(manifest(ManifestArgs {
            annotations: vec!["a=b".into(), "no-equals-sign".into()],
            records: one(),
            ..ManifestArgs::default()
        }));
        assert!(
            msg.contains("param ANNOTATIONS[1]: expected KEY=VALUE"),
            "{msg}"
        );
        let msg = error(manifest(ManifestArgs {
            records: vec![record_json("amd64"), "{\"schema\":\"x\"}".into()],
            ..ManifestArgs::default()
        }));
        assert!(msg.contains("RECORDS[1]"), "{msg}");
        let msg = error(manifest(ManifestArgs {
            records: vec![" ".into()],
            ..ManifestArgs::default()
        }));
        assert!(msg.contains("RECORDS[0]: the record is empty"), "{msg}");
        let msg = error(manifest(ManifestArgs {
            records: one(),
            expect_platforms: vec!["linux/".into()],
            ..ManifestArgs::default()
        }));
        assert!(msg.contains("EXPECT_PLATFORMS[0]"), "{msg}");
    }
}
