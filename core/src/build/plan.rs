//! Which stages a build needs, in what order, the build arguments in scope, and which engine can
//! build them: the native engine unless a needed stage runs commands.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use super::{BuildError, Request};
use crate::dockerfile::{self, Dockerfile, Instruction, Stage};
use crate::platform::Platform;

/// What `--engine` asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EngineChoice {
    /// Native when every needed stage is RUN-free, else the first of buildah, podman, docker.
    #[default]
    Auto,
    Native,
    Buildah,
    Podman,
    Docker,
}

/// An engine name that is none of `auto`, `native`, `buildah`, `podman`, `docker`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected auto, native, buildah, podman or docker, found {found:?}")]
pub struct UnknownEngine {
    pub found: String,
}

impl std::str::FromStr for EngineChoice {
    type Err = UnknownEngine;

    /// The engine names of `--engine`, the action's `engine` input and the Task's `ENGINE`.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name.trim() {
            "auto" => Ok(EngineChoice::Auto),
            "native" => Ok(EngineChoice::Native),
            "buildah" => Ok(EngineChoice::Buildah),
            "podman" => Ok(EngineChoice::Podman),
            "docker" => Ok(EngineChoice::Docker),
            other => Err(UnknownEngine {
                found: other.to_owned(),
            }),
        }
    }
}

/// The engine that builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Native,
    Buildah,
    Podman,
    Docker,
}

impl Engine {
    /// The program an external engine runs.
    pub fn program(self) -> Option<&'static str> {
        match self {
            Engine::Native => None,
            Engine::Buildah => Some("buildah"),
            Engine::Podman => Some("podman"),
            Engine::Docker => Some("docker"),
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.program().unwrap_or("native"))
    }
}

/// The stages to build for the target, dependencies first.
#[derive(Debug)]
pub struct Plan<'a> {
    pub dockerfile: &'a Dockerfile,
    pub path: &'a Path,
    pub build_args: &'a BTreeMap<String, String>,
    /// Index of the target stage.
    pub target: usize,
    /// Needed stages, each after the stages it uses; the target is last.
    pub order: Vec<usize>,
    /// The first needed instruction the native engine cannot run: its line and keyword.
    pub foreign: Option<(usize, String)>,
    /// True when some needed stage reads the files of a stage (`COPY --from=stage`, or
    /// `--chown=name`), whose layers must then exist on disk.
    pub needs_files: bool,
    /// Needed stages whose commands run on the target platform (not `FROM --platform=$BUILDPLATFORM`).
    pub runs_on_target: bool,
}

impl<'a> Plan<'a> {
    pub fn new(
        dockerfile: &'a Dockerfile,
        request: &'a Request,
        platform: &Platform,
    ) -> Result<Self, BuildError> {
        let target = match &request.target {
            Some(name) => dockerfile
                .stage(name)
                .map(|stage| stage.index)
                .ok_or_else(|| {
                    BuildError::Plan(format!(
                        "--target {name}: {} has no such stage; its stages are {}",
                        request.dockerfile.display(),
                        stage_names(dockerfile)
                    ))
                })?,
            None => dockerfile.stages.len() - 1,
        };
        let mut plan = Plan {
            dockerfile,
            path: &request.dockerfile,
            build_args: &request.build_args,
            target,
            order: Vec::new(),
            foreign: None,
            needs_files: false,
            runs_on_target: false,
        };
        // Stage references may depend on the platform (`FROM base-${TARGETARCH}`), so each
        // platform has its own plan.
        let globals = plan.global_scope(platform)?;
        plan.visit(target, &globals)?;
        let mut on_build_platform = vec![false; dockerfile.stages.len()];
        for &index in &plan.order {
            let stage = &dockerfile.stages[index];
            let from = plan.expand(&stage.from.image, stage.line, &|n| globals.get(n).cloned())?;
            // A stage runs where its FROM --platform says, or where the stage it builds on runs.
            on_build_platform[index] = match &stage.from.platform {
                Some(raw) => raw.contains("BUILDPLATFORM"),
                None => plan
                    .stage_before(&from, index)
                    .is_some_and(|parent| on_build_platform[parent]),
            };
            for instruction in &stage.instructions {
                if let Instruction::Copy(copy) = &instruction.value
                    && copy
                        .chown
                        .as_deref()
                        .is_some_and(|c| !c.chars().all(|ch| ch.is_ascii_digit() || ch == ':'))
                {
                    // `--chown=name` reads the stage's /etc/passwd.
                    plan.needs_files = true;
                }
                let foreign = match &instruction.value {
                    Instruction::Run(_) => Some("RUN".to_owned()),
                    Instruction::Copy(copy)
                        if copy.add && copy.sources.iter().any(|s| is_remote(s)) =>
                    {
                        Some("ADD of a URL".to_owned())
                    }
                    _ => None,
                };
                if let Some(what) = foreign {
                    plan.runs_on_target |= !on_build_platform[index];
                    if plan.foreign.is_none() {
                        plan.foreign = Some((instruction.line, what));
                    }
                }
            }
        }
        plan.warn_unused_build_args();
        Ok(plan)
    }

    /// Docker's warning for `--build-arg`s no ARG declares (often a typo).
    fn warn_unused_build_args(&self) {
        let mut declared: Vec<&str> = self
            .dockerfile
            .global_args
            .iter()
            .map(|a| a.value.name.as_str())
            .collect();
        for stage in &self.dockerfile.stages {
            for instruction in &stage.instructions {
                if let Instruction::Arg(decls) = &instruction.value {
                    declared.extend(decls.iter().map(|d| d.name.as_str()));
                }
            }
        }
        for name in self.build_args.keys() {
            if !declared.contains(&name.as_str()) {
                tracing::warn!(
                    "--build-arg {name} is not used: {} declares no ARG {name}",
                    self.path.display()
                );
            }
        }
    }

    /// Depth-first: a stage's dependencies join `order` before it.
    fn visit(
        &mut self,
        index: usize,
        globals: &BTreeMap<String, String>,
    ) -> Result<(), BuildError> {
        if self.order.contains(&index) {
            return Ok(());
        }
        let stage = &self.dockerfile.stages[index];
        let mut uses = Vec::new();
        let from = self.expand(&stage.from.image, stage.line, &|name| {
            globals.get(name).cloned()
        })?;
        if let Some(base) = self.stage_before(&from, index) {
            uses.push(base);
        }
        for instruction in &stage.instructions {
            if let Instruction::Copy(copy) = &instruction.value
                && let Some(from) = &copy.from
            {
                let from =
                    self.expand(from, instruction.line, &|name| globals.get(name).cloned())?;
                if let Some(source) = self.stage_before(&from, index) {
                    uses.push(source);
                    self.needs_files = true;
                } else if let Ok(number) = from.parse::<usize>() {
                    let message = if number < self.dockerfile.stages.len() {
                        format!(
                            "COPY --from={from} names this stage or a later one; a stage can only copy from stages above it"
                        )
                    } else {
                        format!(
                            "COPY --from={from}: there is no stage {from}; stages are numbered from 0 and this Dockerfile has {}",
                            self.dockerfile.stages.len()
                        )
                    };
                    return Err(BuildError::Instruction {
                        path: self.path.to_owned(),
                        line: instruction.line,
                        message,
                    });
                } else if self.dockerfile.stage(&from).is_some() {
                    return Err(BuildError::Instruction {
                        path: self.path.to_owned(),
                        line: instruction.line,
                        message: format!(
                            "COPY --from={from} names this stage or a later one; a stage can only copy from stages above it"
                        ),
                    });
                }
            }
        }
        // Only stages above this one can be used, so there are no cycles.
        for used in uses {
            self.visit(used, globals)?;
        }
        self.order.push(index);
        Ok(())
    }

    /// The stage `name` (a stage name or a stage number) refers to, if it is above stage `index`.
    pub fn stage_before(&self, name: &str, index: usize) -> Option<usize> {
        let found = match name.parse::<usize>() {
            Ok(number) => self.dockerfile.stages.get(number)?,
            Err(_) => self.dockerfile.stage(&name.to_ascii_lowercase())?,
        };
        (found.index < index).then_some(found.index)
    }

    /// The engine for this build.
    pub fn engine(&self, choice: EngineChoice) -> Result<Engine, BuildError> {
        let explicit = match choice {
            EngineChoice::Auto => None,
            EngineChoice::Native => Some(Engine::Native),
            EngineChoice::Buildah => Some(Engine::Buildah),
            EngineChoice::Podman => Some(Engine::Podman),
            EngineChoice::Docker => Some(Engine::Docker),
        };
        match (explicit, &self.foreign) {
            (Some(Engine::Native), Some((line, what))) => Err(BuildError::Instruction {
                path: self.path.to_owned(),
                line: *line,
                message: format!(
                    "{what} needs an engine that runs commands; the native engine only assembles \
                     files and settings. Use --engine auto (or buildah, podman, docker)"
                ),
            }),
            (Some(Engine::Native), None) | (None, None) => Ok(Engine::Native),
            (Some(engine), _) => {
                super::external::ensure_installed(engine)?;
                Ok(engine)
            }
            (None, Some((line, what))) => {
                super::external::first_installed().ok_or_else(|| {
                    BuildError::Environment(format!(
                        "{} line {line}: {what} needs an engine that runs commands, and none of \
                         buildah, podman or docker (with buildx) is installed; install one, or \
                         make the Dockerfile RUN-free (e.g. COPY binaries built earlier in the job)",
                        self.path.display()
                    ))
                })
            }
        }
    }

    /// The images the needed stages start from (not `scratch`, not other stages), each with the
    /// platform it is read for: `FROM --platform=…` or `platform`.
    pub fn base_images(&self, platform: &Platform) -> Result<Vec<(String, Platform)>, BuildError> {
        let globals = self.global_scope(platform)?;
        let lookup = |name: &str| globals.get(name).cloned();
        let mut bases = Vec::new();
        for &index in &self.order {
            let stage = self.stage(index);
            let from = self.expand(&stage.from.image, stage.line, &lookup)?;
            let stage_platform = match &stage.from.platform {
                Some(raw) => self.stage_platform(raw, stage.line, &lookup)?,
                None => platform.clone(),
            };
            let base = (from, stage_platform);
            if !base.0.eq_ignore_ascii_case("scratch")
                && self.stage_before(&base.0, index).is_none()
                && !bases.contains(&base)
            {
                bases.push(base);
            }
        }
        Ok(bases)
    }

    /// The platform a `FROM --platform=…` names.
    pub fn stage_platform(
        &self,
        raw: &str,
        line: usize,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Platform, BuildError> {
        let expanded = self.expand(raw, line, lookup)?;
        expanded
            .parse::<Platform>()
            .map_err(|e| BuildError::Instruction {
                path: self.path.to_owned(),
                line,
                message: format!("FROM --platform={expanded}: {e}"),
            })
    }

    pub fn stage(&self, index: usize) -> &'a Stage {
        &self.dockerfile.stages[index]
    }

    /// "stage `name`" or "the last stage".
    pub fn describe_target(&self) -> String {
        let stage = self.stage(self.target);
        let name = match &stage.name {
            Some(name) => format!("stage `{name}`"),
            None => format!("stage {}", stage.index),
        };
        format!("{} ({name})", self.path.display())
    }

    /// The global arguments (declared before the first FROM) for `platform`, with the predefined
    /// platform arguments.
    pub fn global_scope(
        &self,
        platform: &Platform,
    ) -> Result<BTreeMap<String, String>, BuildError> {
        let mut scope = platform_args(platform, &Platform::host());
        for arg in &self.dockerfile.global_args {
            let value = match (self.build_args.get(&arg.value.name), &arg.value.default) {
                (Some(given), _) => Some(given.clone()),
                (None, Some(default)) => {
                    Some(self.expand(default, arg.line, &|name| scope.get(name).cloned())?)
                }
                (None, None) => None,
            };
            if let Some(value) = value {
                scope.insert(arg.value.name.clone(), value);
            }
        }
        Ok(scope)
    }

    /// Expands variables in one raw word of the Dockerfile.
    pub fn expand(
        &self,
        raw: &str,
        line: usize,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<String, BuildError> {
        dockerfile::expand(raw, self.dockerfile.escape, lookup).map_err(|e| {
            BuildError::Instruction {
                path: self.path.to_owned(),
                line,
                message: e.to_string(),
            }
        })
    }
}

/// The predefined platform arguments: TARGET* for the image, BUILD* for this machine.
pub fn platform_args(target: &Platform, build: &Platform) -> BTreeMap<String, String> {
    let mut args = BTreeMap::new();
    for (prefix, platform) in [("TARGET", target), ("BUILD", build)] {
        let platform = platform.normalized();
        args.insert(format!("{prefix}PLATFORM"), platform_string(&platform));
        args.insert(format!("{prefix}OS"), platform.os.clone());
        args.insert(format!("{prefix}ARCH"), platform.architecture.clone());
        args.insert(
            format!("{prefix}VARIANT"),
            platform.variant.clone().unwrap_or_default(),
        );
    }
    args
}

/// `os/arch[/variant]`, as `--platform` takes it.
pub fn platform_string(platform: &Platform) -> String {
    match &platform.variant {
        Some(variant) => format!("{}/{}/{variant}", platform.os, platform.architecture),
        None => format!("{}/{}", platform.os, platform.architecture),
    }
}

/// Sources ADD fetches from the network rather than the context.
pub fn is_remote(source: &str) -> bool {
    ["http://", "https://", "git@", "git://"]
        .iter()
        .any(|scheme| source.starts_with(scheme))
}

fn stage_names(dockerfile: &Dockerfile) -> String {
    dockerfile
        .stages
        .iter()
        .map(|stage| match &stage.name {
            Some(name) => format!("`{name}`"),
            None => stage.index.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::build::{Compression, Destination};

    fn request(target: Option<&str>) -> Request {
        Request {
            platforms: Vec::new(),
            context: PathBuf::from("."),
            dockerfile: PathBuf::from("Dockerfile"),
            target: target.map(str::to_owned),
            build_args: BTreeMap::from([("BASE".to_owned(), "alpine".to_owned())]),
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            engine: EngineChoice::Auto,
            destination: Destination::Nowhere,
            records: None,
            compression: Compression::Gzip,
            epoch: 0,
            cache_dir: None,
            dry_run: false,
        }
    }

    const MULTI_STAGE: &str = "\
ARG BASE=scratch
FROM ${BASE} AS tools
COPY tool /tool
FROM golang AS compile
RUN go build
FROM scratch AS assets
COPY site /site
FROM tools
COPY --from=assets /site /site
COPY --from=1 /out /bin/
";

    fn plan_of<'a>(dockerfile: &'a Dockerfile, request: &'a Request) -> Plan<'a> {
        Plan::new(dockerfile, request, &Platform::new("linux", "arm64", None)).unwrap()
    }

    #[test]
    fn needed_stages_come_dependencies_first() {
        let dockerfile = Dockerfile::parse(MULTI_STAGE).unwrap();
        let request = request(None);
        let plan = plan_of(&dockerfile, &request);
        assert_eq!(plan.order, vec![0, 2, 1, 3]);
        assert!(plan.needs_files);
        assert_eq!(plan.foreign, Some((5, "RUN".to_owned())));
        let host = Platform::host();
        let bases: Vec<String> = plan
            .base_images(&host)
            .unwrap()
            .into_iter()
            .map(|b| b.0)
            .collect();
        assert_eq!(bases, vec!["alpine", "golang"]);
    }

    #[test]
    fn a_target_without_run_is_native_even_if_other_stages_run() {
        let dockerfile = Dockerfile::parse(MULTI_STAGE).unwrap();
        let request = request(Some("assets"));
        let plan = plan_of(&dockerfile, &request);
        assert_eq!(plan.order, vec![2]);
        assert_eq!(plan.engine(EngineChoice::Auto).unwrap(), Engine::Native);
    }

    #[test]
    fn native_refuses_run_naming_the_line() {
        let dockerfile = Dockerfile::parse(MULTI_STAGE).unwrap();
        let request = request(Some("compile"));
        let plan = plan_of(&dockerfile, &request);
        let error = plan.engine(EngineChoice::Native).unwrap_err().to_string();
        assert!(error.contains("line 5"), "{error}");
        assert!(error.contains("RUN"), "{error}");
    }

    #[test]
    fn an_unknown_target_lists_the_stages() {
        let dockerfile = Dockerfile::parse(MULTI_STAGE).unwrap();
        let request = request(Some("nope"));
        let error = Plan::new(&dockerfile, &request, &Platform::host()).unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("`tools`, `compile`, `assets`, 3"),
            "{message}"
        );
    }

    #[test]
    fn stage_references_are_resolved_per_platform() {
        let dockerfile = Dockerfile::parse(
            "FROM scratch AS base-amd64\nFROM scratch AS base-arm64\nARG TARGETARCH\nFROM base-${TARGETARCH}\n",
        )
        .unwrap();
        let request = request(None);
        let amd64 = Plan::new(
            &dockerfile,
            &request,
            &Platform::new("linux", "amd64", None),
        );
        let arm64 = Plan::new(
            &dockerfile,
            &request,
            &Platform::new("linux", "arm64", None),
        );
        assert_eq!(amd64.unwrap().order, vec![0, 2]);
        assert_eq!(arm64.unwrap().order, vec![1, 2]);
    }

    #[test]
    fn platform_args_follow_buildkit_names() {
        let args = platform_args(
            &Platform::new("linux", "arm", Some("v7")),
            &Platform::new("linux", "amd64", None),
        );
        assert_eq!(args["TARGETPLATFORM"], "linux/arm/v7");
        assert_eq!(args["TARGETARCH"], "arm");
        assert_eq!(args["TARGETVARIANT"], "v7");
        assert_eq!(args["BUILDPLATFORM"], "linux/amd64");
        assert_eq!(args["BUILDVARIANT"], "");
    }
}
