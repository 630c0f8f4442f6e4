//! External engines for Dockerfiles that run commands: buildah, podman, or docker with buildx.
//! Each builds one platform and exports an OCI layout; the caller publishes it by digest itself,
//! so records and checks are the same whatever built the image. The engine's own output goes to
//! stderr, keeping stdout for results.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;

use serde_json::Value;

use super::plan::{Engine, Plan};
use super::{BuildError, Request};
use crate::manifest::{MAX_CONFIG_BYTES, Manifest, RawManifest};
use crate::platform::Platform;
use crate::reference::{ImageRef, ManifestTarget, is_loopback};
use crate::store::{LayoutStore, Store};

const ENGINES: [Engine; 3] = [Engine::Buildah, Engine::Podman, Engine::Docker];

/// The first engine installed, in the order buildah, podman, docker.
pub fn first_installed() -> Option<Engine> {
    ENGINES.into_iter().find(|engine| installed(*engine))
}

/// Fails unless `engine` can run here.
pub fn ensure_installed(engine: Engine) -> Result<(), BuildError> {
    if installed(engine) {
        return Ok(());
    }
    let program = engine.program().unwrap_or_default();
    let what = if engine == Engine::Docker && which(program).is_some() {
        "docker is installed but its buildx plugin is not (`docker buildx version` failed)"
            .to_owned()
    } else {
        format!("{program} was not found on PATH")
    };
    Err(BuildError::Environment(format!(
        "--engine {program}: {what}; install it, or pick another engine (--engine auto picks the \
         first of buildah, podman, docker that is installed)"
    )))
}

fn installed(engine: Engine) -> bool {
    let Some(program) = engine.program() else {
        return true;
    };
    if which(program).is_none() {
        return false;
    }
    engine != Engine::Docker
        || std::process::Command::new(program)
            .args(["buildx", "version"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| {
            std::fs::metadata(candidate).is_ok_and(|m| {
                m.is_file()
                    && std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0
            })
        })
}

/// RUN steps of a foreign platform run under emulation: say so before starting when the machine
/// has no emulator registered (the classic `exec format error`).
pub fn check_emulation(plan: &Plan<'_>, platform: &Platform) -> Result<(), BuildError> {
    let host = Platform::host();
    let platform = platform.normalized();
    if !plan.runs_on_target || runs_natively(&host, &platform) {
        return Ok(());
    }
    let binfmt = Path::new("/proc/sys/fs/binfmt_misc");
    if !binfmt.join("status").exists() {
        tracing::warn!(
            "cannot tell whether {platform} programs can run here ({} is not mounted); RUN \
             steps may fail with `exec format error`",
            binfmt.display()
        );
        return Ok(());
    }
    let qemu = qemu_name(&platform.architecture);
    let registered = binfmt
        .read_dir()
        .map(|entries| {
            entries.flatten().any(|entry| {
                entry.file_name().to_string_lossy().contains(qemu)
                    && std::fs::read_to_string(entry.path())
                        .is_ok_and(|status| status.starts_with("enabled"))
            })
        })
        .unwrap_or(false);
    if registered {
        return Ok(());
    }
    Err(BuildError::Environment(format!(
        "building {platform} on this {host} machine runs the Dockerfile's RUN steps as {platform} \
         programs, but no emulator for {} is registered (/proc/sys/fs/binfmt_misc has no enabled \
         qemu-{qemu} entry), so they would fail with `exec format error`. Build on a native \
         {platform} runner (one job per platform), register emulators (e.g. the qemu-user-static \
         package, or docker/setup-qemu-action), or make the Dockerfile RUN-free for the native \
         engine",
        platform.architecture
    )))
}

/// The host runs `platform`'s programs itself (same architecture, or 386 on amd64).
fn runs_natively(host: &Platform, platform: &Platform) -> bool {
    platform.os == host.os
        && (platform.architecture == host.architecture
            || (host.architecture == "amd64" && platform.architecture == "386"))
}

fn qemu_name(architecture: &str) -> &str {
    match architecture {
        "amd64" => "x86_64",
        "arm64" => "aarch64",
        "386" => "i386",
        "loong64" => "loongarch64",
        "mips64le" => "mips64el",
        "mipsle" => "mipsel",
        other => other,
    }
}

/// Builds `platform` with `engine` and returns the exported layout and the image manifest in it.
pub async fn build(
    engine: Engine,
    plan: &Plan<'_>,
    request: &Request,
    platform: &Platform,
    scratch: &Path,
) -> Result<(Arc<dyn Store>, RawManifest), BuildError> {
    let program = engine.program().expect("external engines have a program");
    let layout = tempfile::Builder::new()
        .prefix("export-")
        .tempdir_in(scratch)
        .map_err(BuildError::io("creating a scratch directory"))?
        .keep();
    let name = format!(
        "localhost/multiarch-build-{}:{}",
        std::process::id(),
        platform.file_stem()
    );
    let platform_arg = super::plan::platform_string(platform);
    let mut build: Vec<String> = match engine {
        Engine::Docker => vec!["buildx".into(), "build".into()],
        Engine::Buildah => vec!["bud".into()],
        _ => vec!["build".into()],
    };
    build.extend(["--platform".into(), platform_arg.clone()]);
    build.extend(["--file".into(), request.dockerfile.display().to_string()]);
    if let Some(target) = &request.target {
        build.extend(["--target".into(), target.clone()]);
    }
    for (key, value) in &request.build_args {
        build.extend(["--build-arg".into(), format!("{key}={value}")]);
    }
    for (key, value) in &request.labels {
        build.extend(["--label".into(), format!("{key}={value}")]);
    }
    if engine != Engine::Docker && loopback_bases_only(plan, platform)? {
        // Loopback registries may speak plain HTTP (as multiarch allows them to); buildah and
        // podman only allow it for all registries of a build at once.
        build.push("--tls-verify=false".into());
    }
    let archive = layout.join("image.tar");
    match engine {
        Engine::Docker => build.extend([
            "--provenance=false".into(),
            "--output".into(),
            format!("type=oci,dest={}", archive.display()),
        ]),
        _ => build.extend([
            "--timestamp".into(),
            request.epoch.to_string(),
            "--tag".into(),
            name.clone(),
        ]),
    }
    build.push(request.context.display().to_string());
    tracing::info!("{platform}: {program} {}", shown(&build));
    run(engine, &build, request.epoch).await?;

    match engine {
        Engine::Docker => unpack_archive(&archive, &layout)?,
        _ => {
            let destination = format!("oci:{}:latest", layout.display());
            let pushed = run(
                engine,
                &["push".into(), name.clone(), destination],
                request.epoch,
            )
            .await;
            // The image is only an intermediate: remove it whatever happened.
            let _ = run(engine, &["rmi".into(), name.clone()], request.epoch).await;
            pushed?;
        }
    }
    let (store, manifest) = exported(engine, &layout, platform).await?;
    let manifest = annotate(manifest, &request.annotations)
        .map_err(|message| BuildError::Engine { engine, message })?;
    Ok((store, manifest))
}

/// The manifest with `--annotation`s added (a new digest; the blobs are the same).
fn annotate(
    manifest: RawManifest,
    annotations: &std::collections::BTreeMap<String, String>,
) -> Result<RawManifest, String> {
    if annotations.is_empty() {
        return Ok(manifest);
    }
    let mut document: Value = serde_json::from_slice(&manifest.bytes)
        .map_err(|e| format!("its manifest is not JSON: {e}"))?;
    let Some(object) = document.as_object_mut() else {
        return Err("its manifest is not a JSON object".to_owned());
    };
    let existing = object
        .entry("annotations")
        .or_insert_with(|| Value::Object(serde_json::Map::new()));
    if let Some(existing) = existing.as_object_mut() {
        for (key, value) in annotations {
            existing.insert(key.clone(), Value::from(value.clone()));
        }
    }
    Ok(RawManifest::new(
        crate::manifest::canonical_json(&document),
        manifest.media_type,
    ))
}

/// True when the build pulls images, all from loopback registries (`localhost`, `127.0.0.1`, …).
fn loopback_bases_only(plan: &Plan<'_>, platform: &Platform) -> Result<bool, BuildError> {
    let bases = plan.base_images(platform)?;
    let loopback = |name: &str| {
        name.parse::<ImageRef>()
            .ok()
            .and_then(|r| r.location.registry().map(is_loopback))
            .unwrap_or(false)
    };
    Ok(!bases.is_empty() && bases.iter().all(|(name, _)| loopback(name)))
}

/// Runs the engine with its output on our stderr.
async fn run(engine: Engine, args: &[String], epoch: u64) -> Result<(), BuildError> {
    let program = engine.program().expect("external engines have a program");
    let stderr = || -> Result<Stdio, BuildError> {
        let fd = std::io::stderr()
            .as_fd()
            .try_clone_to_owned()
            .map_err(BuildError::io("duplicating stderr"))?;
        Ok(Stdio::from(fd))
    };
    let status = tokio::process::Command::new(program)
        .args(args)
        .env("SOURCE_DATE_EPOCH", epoch.to_string())
        .stdin(Stdio::null())
        .stdout(stderr()?)
        .stderr(stderr()?)
        .status()
        .await
        .map_err(|e| BuildError::Engine {
            engine,
            message: format!("cannot start {program}: {e}"),
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(BuildError::Engine {
            engine,
            message: format!(
                "`{program} {}` exited with {status}; its output is above",
                args.first().map(String::as_str).unwrap_or_default()
            ),
        })
    }
}

fn unpack_archive(archive: &Path, layout: &Path) -> Result<(), BuildError> {
    let file = std::fs::File::open(archive).map_err(BuildError::io(format!(
        "reading the exported image {}",
        archive.display()
    )))?;
    tar::Archive::new(file)
        .unpack(layout)
        .map_err(BuildError::io(format!("unpacking {}", archive.display())))?;
    Ok(())
}

/// The platform image in the exported layout, checked to be `platform`.
async fn exported(
    engine: Engine,
    layout: &Path,
    platform: &Platform,
) -> Result<(Arc<dyn Store>, RawManifest), BuildError> {
    let store: Arc<dyn Store> = Arc::new(LayoutStore::new(layout.to_owned()));
    let fail = |message: String| BuildError::Engine { engine, message };
    let store_error = |e: crate::store::StoreError| fail(format!("reading its export: {e}"));
    let mut manifest = store
        .get_manifest(&ManifestTarget::Default)
        .await
        .map_err(store_error)?;
    if let Manifest::Index(index) = manifest.parse().map_err(|e| fail(e.to_string()))? {
        let child = index
            .manifests
            .iter()
            .find(|d| !d.is_attestation())
            .ok_or_else(|| fail("its export holds no image".to_owned()))?;
        manifest = store
            .get_manifest(&ManifestTarget::Digest(child.digest.clone()))
            .await
            .map_err(store_error)?;
    }
    let Manifest::Image(image) = manifest.parse().map_err(|e| fail(e.to_string()))? else {
        return Err(fail("its export is not an image".to_owned()));
    };
    let config = store
        .read_blob(
            image.config().digest(),
            image.config().size(),
            MAX_CONFIG_BYTES,
        )
        .await
        .map_err(store_error)?;
    let config: Value = serde_json::from_slice(&config)
        .map_err(|e| fail(format!("its config is not JSON: {e}")))?;
    let actual = super::base::config_platform(&config);
    if !actual.matches(platform) {
        return Err(BuildError::WrongPlatform {
            engine,
            requested: Box::new(platform.clone()),
            actual: Box::new(actual),
        });
    }
    Ok((store, manifest))
}

/// The command line as logged: build-argument values left out, since people pass secrets that
/// way (`--build-arg TOKEN=…`) although they end up in the image's history.
fn shown(args: &[String]) -> String {
    let mut shown = Vec::with_capacity(args.len());
    let mut value_of_build_arg = false;
    for arg in args {
        if value_of_build_arg {
            let key = arg.split_once('=').map_or(arg.as_str(), |(key, _)| key);
            shown.push(format!("{key}=…"));
        } else {
            shown.push(arg.clone());
        }
        value_of_build_arg = arg == "--build-arg";
    }
    shown.join(" ")
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    fn build_argument_values_are_not_logged() {
        let args: Vec<String> = ["bud", "--build-arg", "TOKEN=s3cret", "--tag", "x", "."]
            .map(String::from)
            .to_vec();
        assert_eq!(shown(&args), "bud --build-arg TOKEN=… --tag x .");
    }
}
