//! `multiarch build`: Dockerfiles built natively (COPY-only) or through buildah (RUN), pushed to
//! real registries or written to OCI layouts, and judged by tools no one here wrote: skopeo,
//! umoci, qemu-user running the cross-compiled Go fixture, the OCI schemas, and plain tar.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::harness::schema::{self, Kind};
use crate::harness::{Output, Run, gobin, multiarch, oci, skopeo_raw, tempdir, tool};

mod config;
mod cross;
mod engines;
mod errors;
mod layout;
mod publish;
mod stages;

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

/// One entry of a layer tarball.
#[derive(Debug, Clone)]
struct Entry {
    kind: tar::EntryType,
    uid: u64,
    gid: u64,
    mode: u32,
    mtime: u64,
    link: Option<String>,
    data: Vec<u8>,
}

/// `./a/b/` → `a/b`.
fn normalise(path: &str) -> String {
    path.trim_start_matches("./")
        .trim_start_matches('/')
        .trim_end_matches('/')
        .to_owned()
}

/// The entries of an uncompressed layer tarball, by normalised path.
fn tar_entries(tar_bytes: &[u8]) -> BTreeMap<String, Entry> {
    let mut archive = tar::Archive::new(tar_bytes);
    let mut entries = BTreeMap::new();
    for entry in archive.entries().expect("tar entries") {
        let mut entry = entry.expect("tar entry");
        let path = normalise(&entry.path().expect("entry path").to_string_lossy());
        let header = entry.header();
        let kind = header.entry_type();
        let (uid, gid) = (header.uid().expect("uid"), header.gid().expect("gid"));
        let (mode, mtime) = (header.mode().expect("mode"), header.mtime().expect("mtime"));
        let link = entry
            .link_name()
            .expect("link name")
            .map(|l| l.to_string_lossy().into_owned());
        let mut data = Vec::new();
        entry.read_to_end(&mut data).expect("entry data");
        entries.insert(
            path,
            Entry {
                kind,
                uid,
                gid,
                mode,
                mtime,
                link,
                data,
            },
        );
    }
    entries
}

/// An OCI image layout on disk, read with plain JSON, sha256 and tar (not the code under test).
struct Layout {
    dir: PathBuf,
}

impl Layout {
    /// Opens `dir`, checking `oci-layout` and `index.json` against the OCI schemas.
    fn open(dir: &Path) -> Self {
        schema::assert_valid(
            Kind::Layout,
            &std::fs::read(dir.join("oci-layout")).expect("oci-layout file"),
        );
        schema::assert_valid(
            Kind::Index,
            &std::fs::read(dir.join("index.json")).expect("index.json"),
        );
        Layout {
            dir: dir.to_owned(),
        }
    }

    fn index_json(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.dir.join("index.json")).expect("index.json"))
            .expect("index.json JSON")
    }

    /// The blob `digest`; fails unless its bytes hash to it.
    fn blob(&self, digest: &str) -> Vec<u8> {
        let hex = digest.strip_prefix("sha256:").expect("sha256 digest");
        let bytes = std::fs::read(self.dir.join("blobs/sha256").join(hex))
            .unwrap_or_else(|e| panic!("blob {digest} in {}: {e}", self.dir.display()));
        assert_eq!(sha256(&bytes), digest, "blob content matches its digest");
        bytes
    }

    fn json(&self, digest: &str, kind: Kind) -> Value {
        let bytes = self.blob(digest);
        schema::assert_valid(kind, &bytes);
        serde_json::from_slice(&bytes).expect("blob JSON")
    }

    /// The image manifest for `platform` under `digest` (an image manifest, or an index holding it).
    fn image(&self, digest: &str, platform: &str) -> Value {
        let top: Value = serde_json::from_slice(&self.blob(digest)).expect("manifest JSON");
        if top["manifests"].is_array() {
            schema::assert_valid(Kind::Index, &self.blob(digest));
            let entry = top["manifests"]
                .as_array()
                .expect("manifests")
                .iter()
                .find(|m| m["platform"].is_object() && platform_of(&m["platform"]) == platform)
                .unwrap_or_else(|| panic!("no {platform} image in {top}"));
            self.json(entry["digest"].as_str().expect("digest"), Kind::Manifest)
        } else {
            self.json(digest, Kind::Manifest)
        }
    }

    fn config(&self, manifest: &Value) -> Value {
        self.json(
            manifest["config"]["digest"]
                .as_str()
                .expect("config digest"),
            Kind::Config,
        )
    }

    /// Each layer's entries, bottom first. Gzip layers are decompressed and checked against the
    /// config's diff_ids.
    fn layers(&self, manifest: &Value) -> Vec<BTreeMap<String, Entry>> {
        let config = self.config(manifest);
        let diff_ids = config["rootfs"]["diff_ids"].as_array().expect("diff_ids");
        let layers = manifest["layers"].as_array().expect("layers");
        assert_eq!(layers.len(), diff_ids.len(), "one diff_id per layer");
        layers
            .iter()
            .zip(diff_ids)
            .map(|(layer, diff_id)| {
                assert_eq!(layer["mediaType"], OCI_LAYER_GZIP, "{layer}");
                let compressed = self.blob(layer["digest"].as_str().expect("layer digest"));
                assert_eq!(layer["size"], compressed.len(), "descriptor size");
                let mut tar_bytes = Vec::new();
                flate2::read::GzDecoder::new(compressed.as_slice())
                    .read_to_end(&mut tar_bytes)
                    .expect("gunzip layer");
                assert_eq!(sha256(&tar_bytes), diff_id.as_str().expect("diff_id"));
                tar_entries(&tar_bytes)
            })
            .collect()
    }

    /// Every file of the image, later layers over earlier ones (no whiteouts expected).
    fn files(&self, manifest: &Value) -> BTreeMap<String, Entry> {
        let mut all = BTreeMap::new();
        for layer in self.layers(manifest) {
            all.extend(layer);
        }
        all
    }
}

#[track_caller]
fn text(files: &BTreeMap<String, Entry>, path: &str) -> String {
    let entry = files.get(path).unwrap_or_else(|| {
        panic!(
            "{path} missing; have {:?}",
            files.keys().collect::<Vec<_>>()
        )
    });
    String::from_utf8(entry.data.clone()).expect("utf-8 file")
}

/// A context with the Go fixture's binaries under bin/ and [`APP_DOCKERFILE`].
fn app_context() -> tempfile::TempDir {
    let context = tempdir();
    gobin::install(context.path());
    write(context.path(), &[("Dockerfile", APP_DOCKERFILE)]);
    context
}
