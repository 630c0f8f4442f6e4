//! `multiarch build`: Dockerfiles built natively (COPY-only) or through buildah (RUN), pushed to
//! real registries or written to OCI layouts, and judged by tools no one here wrote: skopeo,
//! umoci, qemu-user running the cross-compiled Go fixture, the OCI schemas, and plain tar.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest as _, Sha256};
use tempfile::TempDir;

use crate::harness::base_image::{self, Base};
use crate::harness::schema::{self, Kind};
use crate::harness::{Output, Registry, Run, gobin, multiarch, oci, skopeo_raw, tempdir, tool};

mod config;
mod cross;
mod engines;
mod errors;
mod layout;
mod publish;
mod reader;
mod stages;

use reader::{Layout, text};

// ---------------------------------------------------------------------------------------------
// Helpers shared by the test files (child modules see these private items)

const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// The Dockerfile of the cross-build: the Go fixture's binary for the target platform, on the base.
const APP_DOCKERFILE: &str = r#"ARG BASE
FROM $BASE
ARG TARGETOS TARGETARCH
COPY bin/${TARGETOS}-${TARGETARCH}/hello /usr/local/bin/hello
ENTRYPOINT ["/usr/local/bin/hello"]
"#;

fn build(args: &[&str]) -> Run {
    let mut all = vec!["build"];
    all.extend_from_slice(args);
    multiarch(&all)
}

/// `build` for each of `platforms` (none: the host's) on `context`, then `extra`.
fn build_on(context: &Path, platforms: &[&str], extra: &[&str]) -> Run {
    let mut args = Vec::new();
    for platform in platforms {
        args.extend(["--platform", platform]);
    }
    args.extend(["--context", s(context)]);
    args.extend_from_slice(extra);
    build(&args)
}

/// A successful build into a layout: the temporary directory holding it, the digest it printed,
/// and the layout, open.
struct Built {
    work: TempDir,
    digest: String,
    layout: Layout,
}

/// Builds `context` for `platforms` with `extra` into `oci:DIR:v1` (DIR new under a temporary
/// directory); fails unless the build succeeds and prints the digest.
#[track_caller]
fn build_to_layout(context: &Path, platforms: &[&str], extra: &[&str]) -> Built {
    let work = tempdir();
    let dir = work.path().join("image");
    let target = format!("oci:{}:v1", dir.display());
    let mut args = extra.to_vec();
    args.extend(["--output", &target]);
    let out = build_on(context, platforms, &args).run().success();
    let digest = written(&out, &dir);
    let layout = Layout::open(&dir);
    Built {
        work,
        digest,
        layout,
    }
}

/// `build --push` of `context` for `platforms` with `extra`, a `--tag` for each of `tags`.
fn build_and_push(context: &Path, platforms: &[&str], tags: &[&str], extra: &[&str]) -> Run {
    let mut args = extra.to_vec();
    args.push("--push");
    for tag in tags {
        args.extend(["--tag", tag]);
    }
    build_on(context, platforms, &args)
}

fn s(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn is_digest(digest: &str) -> bool {
    digest.len() == 71
        && digest.starts_with("sha256:")
        && digest[7..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Writes `files` (path relative to `dir`, content) into `dir`, making directories.
fn write(dir: &Path, files: &[(&str, &str)]) {
    for (name, content) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("create dirs");
        std::fs::write(&path, content).expect("write file");
    }
}

/// The `REPO@sha256:…` line `build --push` printed for `repo`; returns the digest.
#[track_caller]
fn pushed(out: &Output, repo: &str) -> String {
    let prefix = format!("{repo}@");
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no {prefix}sha256:… line on stdout:\n{}", out.stdout));
    let digest = line[prefix.len()..].trim();
    assert!(is_digest(digest), "not a digest: {line}");
    digest.to_owned()
}

/// The `oci:DIR@sha256:…` line `build --output oci:DIR[:TAG]` printed; returns the digest.
#[track_caller]
fn written(out: &Output, dir: &Path) -> String {
    let line = out.stdout_line();
    let prefix = format!("oci:{}@", dir.display());
    let digest = line
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("expected {prefix}sha256:… on stdout, got:\n{}", out.stdout));
    assert!(is_digest(digest), "not a digest: {line}");
    digest.to_owned()
}

/// Exit codes for a mistake in the Dockerfile or in what it names (a line, a file, a stage):
/// a failure (1) or a usage error (2), either is fine as long as the message names the culprit.
const DOCKERFILE_MISTAKE: &[i32] = &[1, 2];

/// Fails unless the command exited with one of `codes`, said every needle on stderr
/// (case-insensitively) and did not panic.
#[track_caller]
fn fails(out: Output, codes: &[i32], needles: &[&str]) -> Output {
    assert!(
        codes.contains(&out.code),
        "expected exit code in {codes:?}\n{out:?}"
    );
    let stderr = out.stderr.to_lowercase();
    for needle in needles {
        assert!(
            stderr.contains(&needle.to_lowercase()),
            "expected stderr to contain {needle:?}\n{out:?}"
        );
    }
    assert!(
        !out.stderr.contains("panicked"),
        "a panic reached the user\n{out:?}"
    );
    out
}

fn split(platform: &str) -> (&str, &str, Option<&str>) {
    let mut parts = platform.split('/');
    (
        parts.next().expect("os"),
        parts.next().expect("arch"),
        parts.next(),
    )
}

/// `os/arch[/variant]` of a platform object (an index entry's) or of an image config.
fn platform_of(value: &Value) -> String {
    let mut platform = format!(
        "{}/{}",
        value["os"].as_str().expect("os"),
        value["architecture"].as_str().expect("architecture")
    );
    if let Some(variant) = value["variant"].as_str().filter(|v| !v.is_empty()) {
        platform = format!("{platform}/{variant}");
    }
    platform
}

/// The platforms of an index's images (attestations left out), sorted.
fn platforms(index: &Value) -> Vec<String> {
    let mut all: Vec<String> = index["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .filter(|m| m["platform"]["os"] != "unknown")
        .map(|m| platform_of(&m["platform"]))
        .collect();
    all.sort();
    all
}

/// The image manifest at `reference` in a registry, checked against the OCI schema.
fn registry_manifest(reference: &str) -> (Value, usize) {
    let raw = skopeo_raw(reference);
    schema::assert_valid(Kind::Manifest, raw.as_bytes());
    (
        serde_json::from_str(&raw).expect("manifest JSON"),
        raw.len(),
    )
}

/// The config of the image manifest at `reference` in a registry, checked against the OCI schema.
fn registry_config(reference: &str) -> Value {
    let raw = tool(
        "skopeo",
        &[
            "inspect",
            "--raw",
            "--config",
            "--tls-verify=false",
            &format!("docker://{reference}"),
        ],
    )
    .run()
    .success()
    .stdout;
    schema::assert_valid(Kind::Config, raw.as_bytes());
    serde_json::from_str(&raw).expect("config JSON")
}

/// Copies `platform`'s image out of `reference` (registry, index or image) with skopeo, unpacks it
/// with umoci, and returns its root filesystem.
fn unpack(reference: &str, platform: &str, work: &Path) -> PathBuf {
    let (os, arch, variant) = split(platform);
    let name = platform.replace('/', "-");
    let layout = work.join(format!("layout-{name}"));
    let source = format!("docker://{reference}");
    let target = oci(&layout, "x");
    let mut args = vec![
        "copy",
        "--quiet",
        "--src-tls-verify=false",
        "--override-os",
        os,
        "--override-arch",
        arch,
    ];
    if let Some(variant) = variant {
        args.extend(["--override-variant", variant]);
    }
    args.extend([source.as_str(), target.as_str()]);
    tool("skopeo", &args).run().success();
    let bundle = work.join(format!("bundle-{name}"));
    tool(
        "umoci",
        &[
            "unpack",
            "--rootless",
            "--image",
            &format!("{}:x", layout.display()),
            s(&bundle),
        ],
    )
    .run()
    .success();
    bundle.join("rootfs")
}

/// A registry with the base image pushed to it, and the build argument naming it (`BASE=…`).
fn registry_with_base() -> (Registry, Base, String) {
    let registry = Registry::start();
    let base = base_image::push(&registry);
    let build_arg = format!("BASE={}", base.reference);
    (registry, base, build_arg)
}

/// A context with the Go fixture's binaries under bin/ and [`APP_DOCKERFILE`].
fn app_context() -> TempDir {
    let context = tempdir();
    gobin::install(context.path());
    write(context.path(), &[("Dockerfile", APP_DOCKERFILE)]);
    context
}
