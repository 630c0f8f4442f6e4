//! `multiarch build`: Dockerfiles built natively (COPY-only) or through buildah (RUN), pushed to
//! real registries or written to OCI layouts, and judged by tools no one here wrote: skopeo,
//! umoci, qemu-user running the cross-compiled Go fixture, the OCI schemas, and plain tar.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::harness::base_image::{self, PATH_ENV};
use crate::harness::schema::{self, Kind};
use crate::harness::{
    Output, Registry, Run, fixtures, gobin, multiarch, oci, registry_index, skopeo_raw, tempdir,
    tool,
};

// ---------------------------------------------------------------------------------------------
// Helpers

const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";

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

/// Sets the modification time of `path` and everything under it (symlinks themselves excepted).
fn set_mtimes(path: &Path, seconds: u64) {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds);
    let meta = std::fs::symlink_metadata(path).expect("metadata");
    if meta.is_dir() {
        for entry in std::fs::read_dir(path).expect("read dir") {
            set_mtimes(&entry.expect("dir entry").path(), seconds);
        }
    }
    if !meta.file_type().is_symlink() {
        std::fs::File::open(path)
            .and_then(|f| f.set_modified(time))
            .unwrap_or_else(|e| panic!("set mtime of {}: {e}", path.display()));
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

fn sorted(platforms: &[&str]) -> Vec<String> {
    let mut all: Vec<String> = platforms.iter().map(|p| (*p).to_owned()).collect();
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

/// The first word of a history entry's `created_by`: the instruction (Docker's classic builder
/// wrote `/bin/sh -c #(nop) ` before it, BuildKit does not).
fn instruction_of(entry: &Value) -> String {
    let created_by = entry["created_by"].as_str().unwrap_or_default();
    let created_by = created_by
        .trim()
        .strip_prefix("/bin/sh -c #(nop)")
        .unwrap_or(created_by)
        .trim();
    created_by
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_uppercase()
}

// ---------------------------------------------------------------------------------------------
// Cross-builds onto a multi-platform base, pushed and run

#[test]
fn cross_builds_five_platforms_onto_a_multi_platform_base_and_each_binary_runs() {
    let registry = Registry::start();
    let base = base_image::push(&registry);
    let context = app_context();
    let repo = registry.at("app");
    let tag = format!("{repo}:1");
    let build_arg = format!("BASE={}", base.reference);
    let before = registry.requests().len();
    let mut args = vec![
        "--context",
        s(context.path()),
        "--build-arg",
        &build_arg,
        "--push",
        "--tag",
        &tag,
    ];
    for platform in gobin::PLATFORMS {
        args.extend(["--platform", platform]);
    }
    let out = build(&args).run().success();
    assert_eq!(
        out.stdout.lines().count(),
        1,
        "one repository: {}",
        out.stdout
    );
    let digest = pushed(&out, &repo);

    // The tag and the printed digest are the same index, of every platform.
    let by_digest = skopeo_raw(&format!("{repo}@{digest}"));
    assert_eq!(sha256(by_digest.as_bytes()), digest);
    let index = registry_index(&tag);
    assert_eq!(index, serde_json::from_str::<Value>(&by_digest).unwrap());
    assert_eq!(index["mediaType"], fixtures::OCI_INDEX);
    assert_eq!(platforms(&index), sorted(gobin::PLATFORMS));
    assert!(
        !by_digest.contains(&base.attestation),
        "the base's attestation is about the base, not this image: {index}"
    );

    for entry in index["manifests"].as_array().unwrap() {
        let platform = platform_of(&entry["platform"]);
        let child = format!("{repo}@{}", entry["digest"].as_str().unwrap());
        let (manifest, size) = registry_manifest(&child);
        assert_eq!(entry["size"], size, "{platform}: descriptor size");
        assert_eq!(entry["mediaType"], fixtures::OCI_MANIFEST);
        let config = registry_config(&child);
        assert_eq!(
            platform_of(&config),
            platform,
            "the config says the platform"
        );
        assert_eq!(
            config["config"]["Entrypoint"],
            json!(["/usr/local/bin/hello"])
        );
        assert_eq!(
            config["config"]["Env"],
            json!([PATH_ENV]),
            "Env inherited from the base"
        );
        // The base's layers, as they are, then one for the COPY.
        let layers: Vec<String> = manifest["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["digest"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(layers.len(), 3, "{platform}: {manifest}");
        assert_eq!(
            layers[..2],
            base.image(&platform).layers[..],
            "{platform}: the base image of this platform"
        );
        assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), 3);
    }

    // Base layers were mounted from base/ (or found), never uploaded again.
    let requests = registry.requests_since(before);
    for layer in base.layers() {
        let hex = &layer["sha256:".len()..];
        let uploads: Vec<_> = requests
            .iter()
            .filter(|r| r.path.contains(hex))
            .filter(|r| match r.method.as_str() {
                "PUT" | "PATCH" => true,
                "POST" => !r.path.contains("mount="),
                _ => false,
            })
            .collect();
        assert!(
            uploads.is_empty(),
            "base layer {layer} uploaded: {uploads:?}"
        );
        assert!(
            requests.iter().any(|r| r.path.starts_with("/v2/app/")
                && r.path.contains(hex)
                && ((r.method == "POST" && r.path.contains("mount=") && r.status == 201)
                    || (r.method == "HEAD" && r.status == 200))),
            "base layer {layer} neither mounted into app nor found there: {requests:?}"
        );
    }

    // Each platform's image holds that platform's binary on that platform's base.
    let work = tempdir();
    for platform in ["linux/arm64", "linux/s390x", "linux/arm/v7"] {
        let rootfs = unpack(&tag, platform, work.path());
        assert_eq!(
            gobin::run(&rootfs.join("usr/local/bin/hello"), platform),
            gobin::greeting(platform)
        );
        assert_eq!(
            std::fs::read_to_string(rootfs.join("etc/base-platform")).unwrap(),
            format!("{platform}\n"),
            "built on the base image of the same platform"
        );
        assert_eq!(
            std::fs::read_link(rootfs.join("bin/sh")).unwrap(),
            Path::new("busybox")
        );
    }
}

#[test]
fn one_platform_per_job_with_records_then_the_fan_in() {
    let registry = Registry::start();
    let base = base_image::push(&registry);
    let context = app_context();
    let repo = registry.at("team/app");
    let records = tempdir();
    let build_arg = format!("BASE={}", base.reference);
    let mut digests = BTreeMap::new();
    for (platform, tag) in [
        ("linux/arm64", repo.clone()),
        ("linux/arm/v7", repo.clone()),
        ("linux/amd64", format!("{repo}:amd64")),
    ] {
        let out = build(&[
            "--platform",
            platform,
            "--context",
            s(context.path()),
            "--build-arg",
            &build_arg,
            "--push",
            "--tag",
            &tag,
            "--records",
            s(records.path()),
        ])
        .run()
        .success();
        let digest = pushed(&out, &repo);
        let (manifest, size) = registry_manifest(&format!("{repo}@{digest}"));
        assert_eq!(manifest["mediaType"], fixtures::OCI_MANIFEST);
        assert_eq!(
            platform_of(&registry_config(&format!("{repo}@{digest}"))),
            platform
        );

        let name = format!("{}.json", platform.replace('/', "-"));
        let bytes = std::fs::read(records.path().join(&name))
            .unwrap_or_else(|e| panic!("record {name}: {e}"));
        schema::assert_project_schema("record.v1.json", &bytes);
        let record: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(record["schema"], "multiarch.record.v1");
        assert_eq!(record["image"], repo.as_str());
        assert_eq!(record["digest"], digest.as_str());
        assert_eq!(record["size"], size);
        assert_eq!(platform_of(&record["platform"]), platform);
        digests.insert(platform.to_owned(), digest);
    }
    // A tag given: the image is also tagged.
    assert_eq!(
        sha256(skopeo_raw(&format!("{repo}:amd64")).as_bytes()),
        digests["linux/amd64"]
    );

    multiarch(&[
        "manifest",
        "push",
        "--tag",
        &format!("{repo}:1"),
        "--records",
        s(records.path()),
        "--expect-platforms",
        "linux/amd64,linux/arm64,linux/arm/v7",
    ])
    .run()
    .success();
    let index = registry_index(&format!("{repo}:1"));
    assert_eq!(
        platforms(&index),
        ["linux/amd64", "linux/arm/v7", "linux/arm64"]
    );
    for entry in index["manifests"].as_array().unwrap() {
        assert_eq!(
            entry["digest"],
            digests[&platform_of(&entry["platform"])].as_str()
        );
    }
}

#[test]
fn several_tags_in_several_repositories_get_the_same_index() {
    let registry = Registry::start();
    let context = tempdir();
    write(
        context.path(),
        &[
            ("Dockerfile", "FROM scratch\nCOPY hello.txt /hello.txt\n"),
            ("hello.txt", "hello\n"),
        ],
    );
    let (a, b) = (registry.at("app"), registry.at("mirror/app"));
    let out = build(&[
        "--platform",
        "linux/amd64",
        "--platform",
        "linux/riscv64",
        "--context",
        s(context.path()),
        "--push",
        "--tag",
        &format!("{a}:1"),
        "--tag",
        &format!("{a}:latest"),
        "--tag",
        &format!("{b}:1"),
    ])
    .run()
    .success();
    assert_eq!(out.stdout.lines().count(), 2, "one line per repository");
    let digest = pushed(&out, &a);
    assert_eq!(pushed(&out, &b), digest);
    for tag in [format!("{a}:1"), format!("{a}:latest"), format!("{b}:1")] {
        let index = registry_index(&tag);
        assert_eq!(platforms(&index), ["linux/amd64", "linux/riscv64"]);
        assert_eq!(sha256(skopeo_raw(&tag).as_bytes()), digest, "{tag}");
    }
}

// ---------------------------------------------------------------------------------------------
// OCI layouts, reproducibility

#[test]
fn from_scratch_into_a_layout_without_any_registry() {
    let context = tempdir();
    write(
        context.path(),
        &[
            (
                "Dockerfile",
                "FROM scratch\nCOPY hello.txt /hello.txt\nCOPY data/ /data/\n",
            ),
            ("hello.txt", "hello\n"),
            ("data/a.txt", "a\n"),
            ("data/sub/b.txt", "b\n"),
        ],
    );
    let out_dir = tempdir();
    let dir = out_dir.path().join("image");
    let out = build(&[
        "--platform",
        "linux/arm64",
        "--context",
        s(context.path()),
        "--output",
        &format!("oci:{}", dir.display()),
    ])
    .run()
    .success();
    let digest = written(&out, &dir);

    // skopeo and umoci read it; the layout names the printed digest.
    let layout = Layout::open(&dir);
    let index = layout.index_json();
    let entries = index["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{index}");
    assert_eq!(entries[0]["digest"], digest.as_str());
    assert_eq!(
        entries[0]["annotations"]["org.opencontainers.image.ref.name"], "latest",
        "oci:DIR writes tag latest"
    );
    let raw = tool(
        "skopeo",
        &["inspect", "--raw", &format!("oci:{}", dir.display())],
    )
    .run()
    .success();
    assert_eq!(sha256(raw.stdout.as_bytes()), digest);
    let inspected: Value = serde_json::from_str(
        &tool("skopeo", &["inspect", &format!("oci:{}", dir.display())])
            .run()
            .success()
            .stdout,
    )
    .unwrap();
    assert_eq!(inspected["Architecture"], "arm64");
    assert_eq!(inspected["Os"], "linux");
    let bundle = out_dir.path().join("bundle");
    tool(
        "umoci",
        &[
            "unpack",
            "--rootless",
            "--image",
            &format!("{}:latest", dir.display()),
            s(&bundle),
        ],
    )
    .run()
    .success();
    assert_eq!(
        std::fs::read_to_string(bundle.join("rootfs/data/sub/b.txt")).unwrap(),
        "b\n"
    );

    // The image as Docker would write it: platform, created from SOURCE_DATE_EPOCH (default 0),
    // files owned by root with their mtimes clamped.
    let manifest = layout.image(&digest, "linux/arm64");
    let config = layout.config(&manifest);
    assert_eq!(platform_of(&config), "linux/arm64");
    if std::env::var_os("SOURCE_DATE_EPOCH").is_none() {
        assert!(
            config["created"]
                .as_str()
                .is_some_and(|c| c.starts_with("1970-01-01T00:00:00")),
            "{config}"
        );
    }
    let files = layout.files(&manifest);
    assert_eq!(text(&files, "hello.txt"), "hello\n");
    assert_eq!(text(&files, "data/a.txt"), "a\n");
    assert_eq!(text(&files, "data/sub/b.txt"), "b\n");
    for (path, entry) in &files {
        assert_eq!((entry.uid, entry.gid), (0, 0), "{path}");
        assert_eq!(entry.mtime, 0, "{path}: mtime clamped to SOURCE_DATE_EPOCH");
    }

    // Defaults: context `.`, `./Dockerfile`, the host's platform.
    let here = out_dir.path().join("here");
    let out = build(&["--output", &format!("oci:{}", here.display())])
        .current_dir(context.path())
        .run()
        .success();
    let digest = written(&out, &here);
    let layout = Layout::open(&here);
    let manifest = layout.image(&digest, gobin::host_platform());
    assert_eq!(
        platform_of(&layout.config(&manifest)),
        gobin::host_platform()
    );
}

/// Writes the reproducibility context into `dir` (files in reverse order when `reverse`), all with
/// mtime `mtime` (None: left as written, i.e. now).
fn repro_context(dir: &Path, reverse: bool, mtime: Option<u64>) {
    let mut files = vec![
        (
            "Dockerfile",
            "FROM scratch\nCOPY . /srv/\nCOPY --chmod=0755 tool.sh /usr/local/bin/tool\nLABEL built=yes\n",
        ),
        ("a.txt", "alpha\n"),
        ("tool.sh", "#!/bin/sh\necho tool\n"),
        ("dir/b.txt", "bravo\n"),
        ("dir/sub/c.txt", "charlie\n"),
        ("z/last.txt", "zulu\n"),
    ];
    if reverse {
        files.reverse();
    }
    write(dir, &files);
    std::fs::create_dir_all(dir.join("empty")).unwrap();
    std::os::unix::fs::symlink("a.txt", dir.join("link")).unwrap();
    if let Some(mtime) = mtime {
        set_mtimes(dir, mtime);
    }
}

#[test]
fn the_same_inputs_give_the_same_digests() {
    let work = tempdir();
    let (a, b) = (
        work.path().join("ctx-a"),
        work.path().join("elsewhere/ctx-b"),
    );
    repro_context(&a, false, Some(1_750_000_000));
    repro_context(&b, true, None);
    let platform_args = ["--platform", "linux/amd64", "--platform", "linux/arm64"];
    let run = |context: &Path, out: &Path, epoch: Option<&str>| {
        let target = format!("oci:{}:v1", out.display());
        let mut args = platform_args.to_vec();
        args.extend(["--context", s(context), "--output", &target]);
        // A fresh layer cache for each build: equal digests must not come from a cache hit.
        let cache = tempdir();
        let mut run = build(&args).env("MULTIARCH_CACHE_DIR", cache.path());
        if let Some(epoch) = epoch {
            run = run.env("SOURCE_DATE_EPOCH", epoch);
        }
        written(&run.run().success(), out)
    };

    let first = run(&a, &work.path().join("out-a"), None);
    let second = run(&b, &work.path().join("out-b"), None);
    assert_eq!(
        first, second,
        "same inputs, other paths and mtimes: same index"
    );
    let layout = Layout::open(&work.path().join("out-a"));
    let index = layout.json(&first, Kind::Index);
    assert_eq!(platforms(&index), ["linux/amd64", "linux/arm64"]);
    let manifest = layout.image(&first, "linux/arm64");
    let files = layout.files(&manifest);
    assert_eq!(text(&files, "srv/dir/sub/c.txt"), "charlie\n");
    assert_eq!(files["srv/link"].link.as_deref(), Some("a.txt"));
    assert_eq!(files["srv/empty"].kind, tar::EntryType::Directory);
    assert_eq!(files["usr/local/bin/tool"].mode & 0o7777, 0o755);
    assert!(files.values().all(|e| e.mtime == 0));
    if std::env::var_os("SOURCE_DATE_EPOCH").is_none() {
        let config = layout.config(&manifest);
        assert!(
            config["created"]
                .as_str()
                .is_some_and(|c| c.starts_with("1970-01-01T00:00:00")),
            "created from SOURCE_DATE_EPOCH's default, 0: {config}"
        );
    }

    // SOURCE_DATE_EPOCH: the config's created, and mtimes clamped to it (every file is newer).
    let third = run(&a, &work.path().join("out-c"), Some("1700000000"));
    let fourth = run(&b, &work.path().join("out-d"), Some("1700000000"));
    assert_eq!(third, fourth);
    assert_ne!(first, third, "the epoch is an input");
    let layout = Layout::open(&work.path().join("out-c"));
    for platform in ["linux/amd64", "linux/arm64"] {
        let manifest = layout.image(&third, platform);
        let config = layout.config(&manifest);
        let created = config["created"].as_str().expect("created");
        assert!(
            created == "2023-11-14T22:13:20Z" || created.starts_with("2023-11-14T22:13:20"),
            "{created}"
        );
        for (path, entry) in layout.files(&manifest) {
            assert_eq!(entry.mtime, 1_700_000_000, "{path}");
        }
    }
}

#[test]
fn zstd_compression_changes_the_layer_not_its_content() {
    let context = tempdir();
    write(
        context.path(),
        &[
            ("Dockerfile", "FROM scratch\nCOPY . /data/\n"),
            ("a.txt", &"zstd or gzip\n".repeat(1000)),
        ],
    );
    let work = tempdir();
    let run = |compression: &str| {
        let out = work.path().join(compression);
        let output = build(&[
            "--platform",
            "linux/amd64",
            "--context",
            s(context.path()),
            "--compression",
            compression,
            "--output",
            &format!("oci:{}:v1", out.display()),
        ])
        .run()
        .success();
        let digest = written(&output, &out);
        let layout = Layout::open(&out);
        let manifest = layout.image(&digest, "linux/amd64");
        let config = layout.config(&manifest);
        (layout, manifest, config)
    };
    let (_, gzip_manifest, gzip_config) = run("gzip");
    let (zstd_layout, zstd_manifest, zstd_config) = run("zstd");
    assert_eq!(
        gzip_config["rootfs"]["diff_ids"], zstd_config["rootfs"]["diff_ids"],
        "the same tar under either compression"
    );
    assert_eq!(gzip_manifest["layers"][0]["mediaType"], OCI_LAYER_GZIP);
    let layer = &zstd_manifest["layers"][0];
    assert_eq!(layer["mediaType"], OCI_LAYER_ZSTD);
    assert_ne!(layer["digest"], gzip_manifest["layers"][0]["digest"]);
    let blob = zstd_layout.blob(layer["digest"].as_str().unwrap());
    assert_eq!(blob[..4], [0x28, 0xb5, 0x2f, 0xfd], "a zstd frame");
}

// ---------------------------------------------------------------------------------------------
// Dockerfile instructions

#[test]
fn instructions_land_in_the_config_as_docker_writes_them() {
    let registry = Registry::start();
    let base = base_image::push(&registry);
    let context = tempdir();
    write(
        context.path(),
        &[
            (
                "Dockerfile",
                r#"ARG BASE
FROM $BASE
ARG GREETING=hello
LABEL org.example.team="platform" greeting=$GREETING
ENV APP_HOME=/srv/app \
    MODE=production
WORKDIR $APP_HOME
COPY --chown=1000:1000 --chmod=0755 tool.sh ./tool.sh
ADD vendor.tar.gz /opt/vendor/
COPY --link notes.txt /srv/notes.txt
USER 1000:1000
EXPOSE 8080 9090/udp
VOLUME ["/data"]
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s CMD ["/srv/app/tool.sh", "--check"]
SHELL ["/bin/sh", "-eu", "-c"]
ENTRYPOINT ["/srv/app/tool.sh"]
CMD ["--serve"]
"#,
            ),
            ("tool.sh", "#!/bin/sh\necho tool \"$@\"\n"),
            ("notes.txt", "notes\n"),
        ],
    );
    // A local tarball: ADD extracts it.
    let tarball = std::fs::File::create(context.path().join("vendor.tar.gz")).unwrap();
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        tarball,
        flate2::Compression::default(),
    ));
    for (name, content) in [
        ("lib/a.txt", "from the tarball\n"),
        ("README", "vendored\n"),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(1_600_000_000);
        header.set_cksum();
        tar.append_data(&mut header, name, content.as_bytes())
            .unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap();

    let out_dir = tempdir();
    let dir = out_dir.path().join("image");
    let out = build(&[
        "--platform",
        "linux/arm64",
        "--context",
        s(context.path()),
        "--build-arg",
        &format!("BASE={}", base.reference),
        "--build-arg",
        "GREETING=hi",
        "--label",
        "org.opencontainers.image.revision=abc123",
        "--annotation",
        "org.opencontainers.image.source=https://example.test/app",
        "--output",
        &format!("oci:{}:v1", dir.display()),
    ])
    .run()
    .success();
    let digest = written(&out, &dir);
    let layout = Layout::open(&dir);
    let manifest = layout.image(&digest, "linux/arm64");
    assert_eq!(
        manifest["annotations"]["org.opencontainers.image.source"],
        "https://example.test/app"
    );
    let config = layout.config(&manifest);
    assert_eq!(platform_of(&config), "linux/arm64");
    let c = &config["config"];
    assert_eq!(
        c["Env"],
        json!([PATH_ENV, "APP_HOME=/srv/app", "MODE=production"])
    );
    for (key, value) in [
        ("org.example.team", "platform"),
        ("greeting", "hi"),
        ("org.opencontainers.image.revision", "abc123"),
    ] {
        assert_eq!(c["Labels"][key], value, "label {key}: {c}");
    }
    assert_eq!(c["WorkingDir"], "/srv/app");
    assert_eq!(c["User"], "1000:1000");
    assert_eq!(c["ExposedPorts"], json!({"8080/tcp": {}, "9090/udp": {}}));
    assert_eq!(c["Volumes"], json!({"/data": {}}));
    assert_eq!(c["StopSignal"], "SIGTERM");
    assert_eq!(c["Entrypoint"], json!(["/srv/app/tool.sh"]));
    assert_eq!(c["Cmd"], json!(["--serve"]));
    assert_eq!(c["Shell"], json!(["/bin/sh", "-eu", "-c"]));
    assert_eq!(
        c["Healthcheck"]["Test"],
        json!(["CMD", "/srv/app/tool.sh", "--check"])
    );
    assert_eq!(c["Healthcheck"]["Interval"], 30_000_000_000u64);

    // The files: --chown/--chmod, the tarball extracted, --link.
    let files = layout.files(&manifest);
    let tool_sh = &files["srv/app/tool.sh"];
    assert_eq!((tool_sh.uid, tool_sh.gid), (1000, 1000));
    assert_eq!(tool_sh.mode & 0o7777, 0o755);
    assert_eq!(text(&files, "opt/vendor/lib/a.txt"), "from the tarball\n");
    assert_eq!(text(&files, "opt/vendor/README"), "vendored\n");
    assert!(!files.contains_key("opt/vendor/vendor.tar.gz"));
    assert_eq!(text(&files, "srv/notes.txt"), "notes\n");
    assert_eq!(text(&files, "etc/base-platform"), "linux/arm64\n");

    // History: the base's entries, then one per instruction, in order; empty_layer where no layer.
    let history = config["history"].as_array().expect("history");
    let base_history = 2;
    let ours: Vec<&Value> = history[base_history..]
        .iter()
        .filter(|h| instruction_of(h) != "ARG")
        .collect();
    let kinds: Vec<String> = ours.iter().map(|h| instruction_of(h)).collect();
    let expected = [
        "LABEL",
        "ENV",
        "WORKDIR",
        "COPY",
        "ADD",
        "COPY",
        "USER",
        "EXPOSE",
        "VOLUME",
        "STOPSIGNAL",
        "HEALTHCHECK",
        "SHELL",
        "ENTRYPOINT",
        "CMD",
    ];
    assert!(kinds.len() >= expected.len(), "{history:#?}");
    assert_eq!(kinds[..expected.len()], expected, "{history:#?}");
    // Past the Dockerfile's own, at most an entry for the --label given on the command line.
    for extra in &ours[expected.len()..] {
        assert_eq!(instruction_of(extra), "LABEL", "{history:#?}");
        assert_eq!(extra["empty_layer"], true, "{history:#?}");
    }
    for entry in &ours {
        let empty = entry["empty_layer"].as_bool().unwrap_or(false);
        match instruction_of(entry).as_str() {
            "COPY" | "ADD" => assert!(!empty, "{entry}"),
            "WORKDIR" => {}
            _ => assert!(empty, "no layer, so empty_layer: {entry}"),
        }
    }
    let with_layers = history
        .iter()
        .filter(|h| !h["empty_layer"].as_bool().unwrap_or(false))
        .count();
    assert_eq!(
        with_layers,
        manifest["layers"].as_array().unwrap().len(),
        "one non-empty history entry per layer"
    );
}

#[test]
fn platform_args_are_predefined() {
    let context = tempdir();
    write(
        context.path(),
        &[
            (
                "Dockerfile",
                "FROM scratch\n\
                 ARG TARGETPLATFORM TARGETOS TARGETARCH TARGETVARIANT BUILDPLATFORM BUILDOS BUILDARCH\n\
                 LABEL t.platform=$TARGETPLATFORM t.os=$TARGETOS t.arch=$TARGETARCH t.variant=\"$TARGETVARIANT\" \
                 b.platform=$BUILDPLATFORM b.os=$BUILDOS b.arch=$BUILDARCH\n\
                 COPY marker.txt /\n",
            ),
            ("marker.txt", "x\n"),
        ],
    );
    let work = tempdir();
    let dir = work.path().join("image");
    let out = build(&[
        "--platform",
        "linux/arm/v7",
        "--platform",
        "linux/arm64",
        "--context",
        s(context.path()),
        "--output",
        &format!("oci:{}:v1", dir.display()),
    ])
    .run()
    .success();
    let digest = written(&out, &dir);
    let layout = Layout::open(&dir);
    let host = gobin::host_platform();
    let (_, host_arch, _) = split(host);
    for (platform, arch, variant) in [("linux/arm/v7", "arm", "v7"), ("linux/arm64", "arm64", "")] {
        let manifest = layout.image(&digest, platform);
        let config = layout.config(&manifest);
        assert_eq!(platform_of(&config), platform);
        let labels = &config["config"]["Labels"];
        assert_eq!(labels["t.platform"], platform, "{labels}");
        assert_eq!(labels["t.os"], "linux");
        assert_eq!(labels["t.arch"], arch);
        if !variant.is_empty() {
            assert_eq!(labels["t.variant"], variant);
        }
        assert_eq!(labels["b.platform"], host);
        assert_eq!(labels["b.os"], "linux");
        assert_eq!(labels["b.arch"], host_arch);
    }
}

#[test]
fn stages_and_images_as_copy_sources() {
    let registry = Registry::start();
    let base = base_image::push(&registry);
    let context = tempdir();
    let dockerfile = format!(
        r#"ARG BASE
FROM scratch AS assets
COPY assets/ /assets/

FROM --platform=$BUILDPLATFORM $BASE AS build
COPY hello.txt /built/hello.txt

FROM --platform=$TARGETPLATFORM $BASE
COPY --from=assets /assets/ /srv/assets/
COPY --from=build /etc/base-platform /build-platform
COPY --from=build /built/hello.txt /hello.txt
COPY --from={image} /etc/base-platform /copied-base-platform
"#,
        image = base.reference
    );
    write(
        context.path(),
        &[
            ("Dockerfile", &dockerfile),
            ("assets/logo.svg", "<svg/>\n"),
            ("assets/css/site.css", "body{}\n"),
            ("hello.txt", "hello\n"),
        ],
    );
    let build_arg = format!("BASE={}", base.reference);
    let work = tempdir();
    let dir = work.path().join("image");
    let out = build(&[
        "--platform",
        "linux/s390x",
        "--platform",
        "linux/ppc64le",
        "--context",
        s(context.path()),
        "--build-arg",
        &build_arg,
        "--output",
        &format!("oci:{}:v1", dir.display()),
    ])
    .run()
    .success();
    let digest = written(&out, &dir);
    let layout = Layout::open(&dir);
    for platform in ["linux/s390x", "linux/ppc64le"] {
        let manifest = layout.image(&digest, platform);
        assert_eq!(platform_of(&layout.config(&manifest)), platform);
        let files = layout.files(&manifest);
        assert_eq!(text(&files, "srv/assets/logo.svg"), "<svg/>\n");
        assert_eq!(text(&files, "srv/assets/css/site.css"), "body{}\n");
        assert_eq!(text(&files, "hello.txt"), "hello\n");
        assert_eq!(
            text(&files, "build-platform"),
            format!("{}\n", gobin::host_platform()),
            "the build stage is FROM --platform=$BUILDPLATFORM"
        );
        assert_eq!(
            text(&files, "copied-base-platform"),
            format!("{platform}\n"),
            "COPY --from=IMAGE takes the target platform's image"
        );
        assert_eq!(text(&files, "etc/base-platform"), format!("{platform}\n"));
        assert!(!files.contains_key("assets/logo.svg"));
    }

    // --target builds an earlier stage.
    let assets = work.path().join("assets");
    let out = build(&[
        "--platform",
        "linux/s390x",
        "--context",
        s(context.path()),
        "--build-arg",
        &build_arg,
        "--target",
        "assets",
        "--output",
        &format!("oci:{}:v1", assets.display()),
    ])
    .run()
    .success();
    let digest = written(&out, &assets);
    let layout = Layout::open(&assets);
    let manifest = layout.image(&digest, "linux/s390x");
    let files = layout.files(&manifest);
    assert_eq!(text(&files, "assets/logo.svg"), "<svg/>\n");
    assert!(
        !files.contains_key("etc/base-platform"),
        "{:?}",
        files.keys()
    );
}

#[test]
fn dockerignore_keeps_files_out_of_the_context() {
    let context = tempdir();
    write(
        context.path(),
        &[
            ("Dockerfile", "FROM scratch\nCOPY . /ctx/\n"),
            (".dockerignore", "# not for images\nsecret.txt\n**/*.log\n"),
            ("app.txt", "app\n"),
            ("secret.txt", "hunter2\n"),
            ("logs/debug.log", "debug\n"),
            ("sub/x.log", "x\n"),
            ("sub/y.txt", "y\n"),
            (
                "build/Other.Dockerfile",
                "FROM scratch\nCOPY app.txt /\nCOPY secret.txt /secret.txt\n",
            ),
        ],
    );
    let work = tempdir();
    let dir = work.path().join("image");
    let out = build(&[
        "--platform",
        "linux/amd64",
        "--context",
        s(context.path()),
        "--output",
        &format!("oci:{}:v1", dir.display()),
    ])
    .run()
    .success();
    let digest = written(&out, &dir);
    let layout = Layout::open(&dir);
    let files = layout.files(&layout.image(&digest, "linux/amd64"));
    assert_eq!(text(&files, "ctx/app.txt"), "app\n");
    assert_eq!(text(&files, "ctx/sub/y.txt"), "y\n");
    for ignored in ["ctx/secret.txt", "ctx/logs/debug.log", "ctx/sub/x.log"] {
        assert!(!files.contains_key(ignored), "{ignored} was copied");
    }

    // Naming an ignored file (with --file elsewhere in the context) fails and says why.
    fails(
        build(&[
            "--platform",
            "linux/amd64",
            "--context",
            s(context.path()),
            "--file",
            s(&context.path().join("build/Other.Dockerfile")),
            "--output",
            &format!("oci:{}:v1", work.path().join("other").display()),
        ])
        .run(),
        DOCKERFILE_MISTAKE,
        &["secret.txt", ".dockerignore"],
    );
}

// ---------------------------------------------------------------------------------------------
// Engines: RUN goes to buildah (or podman, docker); the native engine does not run anything

/// Environment for a delegated build: buildah with vfs storage in `dir`, isolation chroot, and
/// `registry` marked insecure (plain HTTP) in its registries.conf.
fn engine_env(run: Run, dir: &Path, registry: &Registry) -> Run {
    let storage = dir.join("storage.conf");
    std::fs::write(
        &storage,
        format!(
            "[storage]\ndriver = \"vfs\"\ngraphroot = \"{}\"\nrunroot = \"{}\"\n",
            dir.join("graphroot").display(),
            dir.join("runroot").display()
        ),
    )
    .unwrap();
    let registries = dir.join("registries.conf");
    std::fs::write(
        &registries,
        format!(
            "unqualified-search-registries = []\n\n[[registry]]\nlocation = \"{}\"\ninsecure = true\n",
            registry.host
        ),
    )
    .unwrap();
    run.env("CONTAINERS_STORAGE_CONF", &storage)
        .env("STORAGE_DRIVER", "vfs")
        .env("CONTAINERS_REGISTRIES_CONF", &registries)
        .env("BUILDAH_ISOLATION", "chroot")
}

#[test]
fn run_instructions_are_built_through_buildah() {
    let registry = Registry::start();
    let base = base_image::push(&registry);
    let context = tempdir();
    write(
        context.path(),
        &[
            (
                "Dockerfile",
                "ARG BASE\nFROM $BASE\nRUN echo hi > /greeting\nCOPY note.txt /note.txt\n",
            ),
            ("note.txt", "note\n"),
        ],
    );
    let engine = tempdir();
    let repo = registry.at("app");
    let tag = format!("{repo}:run");
    // The host's platform: RUN of a foreign platform needs qemu registered in binfmt_misc, which
    // containers and CI runners often lack (and multiarch refuses up front without it).
    let platform = gobin::host_platform();
    let out = engine_env(
        build(&[
            "--platform",
            platform,
            "--context",
            s(context.path()),
            "--build-arg",
            &format!("BASE={}", base.reference),
            "--engine",
            "auto",
            "--push",
            "--tag",
            &tag,
        ]),
        engine.path(),
        &registry,
    )
    .run()
    .success();
    let digest = pushed(&out, &repo);
    assert_eq!(sha256(skopeo_raw(&tag).as_bytes()), digest);
    let config = registry_config(&format!("{repo}@{digest}"));
    assert_eq!(platform_of(&config), platform);
    let work = tempdir();
    let rootfs = unpack(&format!("{repo}@{digest}"), platform, work.path());
    assert_eq!(
        std::fs::read_to_string(rootfs.join("greeting")).unwrap(),
        "hi\n"
    );
    assert_eq!(
        std::fs::read_to_string(rootfs.join("note.txt")).unwrap(),
        "note\n"
    );
    assert_eq!(
        std::fs::read_to_string(rootfs.join("etc/base-platform")).unwrap(),
        format!("{platform}\n")
    );
    // buildah did the work, in the storage it was given.
    assert!(
        std::fs::read_dir(engine.path().join("graphroot"))
            .map(|mut d| d.next().is_some())
            .unwrap_or(false),
        "buildah's vfs storage in {} is empty",
        engine.path().display()
    );
}

#[test]
fn engine_choice_and_its_errors() {
    let context = tempdir();
    write(
        context.path(),
        &[
            (
                "Dockerfile",
                "FROM scratch\nCOPY note.txt /note.txt\nRUN echo hi\n",
            ),
            (
                "Unreached.Dockerfile",
                "FROM scratch AS tools\nRUN echo never\n\nFROM scratch\nCOPY note.txt /note.txt\n",
            ),
            ("note.txt", "note\n"),
        ],
    );
    let work = tempdir();
    let no_tools = tempdir();
    let output = |name: &str| format!("oci:{}:v1", work.path().join(name).display());
    let ctx = s(context.path());

    // The native engine runs nothing: RUN is an error naming the line.
    fails(
        build(&[
            "--context",
            ctx,
            "--engine",
            "native",
            "--output",
            &output("native"),
        ])
        .run(),
        DOCKERFILE_MISTAKE,
        &["RUN", "line 3"],
    );

    // auto: no stage reaching the target has RUN, so native, with no engine on PATH.
    let unreached = context.path().join("Unreached.Dockerfile");
    let out = build(&[
        "--context",
        ctx,
        "--file",
        s(&unreached),
        "--engine",
        "auto",
        "--output",
        &output("auto"),
    ])
    .env("PATH", no_tools.path())
    .run()
    .success();
    written(&out, &work.path().join("auto"));

    // auto, RUN reached, no engine on PATH: a clear error (about RUN, or the engines it looked for).
    let out = fails(
        build(&[
            "--context",
            ctx,
            "--file",
            s(&unreached),
            "--target",
            "tools",
            "--engine",
            "auto",
            "--output",
            &output("auto-run"),
        ])
        .env("PATH", no_tools.path())
        .run(),
        &[1, 2],
        &[],
    );
    assert!(
        out.stderr.contains("RUN") || out.stderr.contains("buildah"),
        "{out:?}"
    );

    // An engine that is not installed.
    fails(
        build(&[
            "--context",
            ctx,
            "--engine",
            "podman",
            "--output",
            &output("podman"),
        ])
        .env("PATH", no_tools.path())
        .run(),
        &[1, 2],
        &["podman"],
    );
}

// ---------------------------------------------------------------------------------------------
// Errors

#[test]
fn dockerfile_errors_name_the_line_and_the_culprit() {
    let work = tempdir();
    let context = work.path().join("context");
    write(
        &context,
        &[
            ("Dockerfile", "FROM scratch\nCOPY a.txt /\n"),
            ("a.txt", "a\n"),
            (
                "unknown.Dockerfile",
                "FROM scratch\nCOPY a.txt /\nFROBNICATE now\n",
            ),
            (
                "missing.Dockerfile",
                "FROM scratch\nCOPY a.txt /\nCOPY missing-file.txt /\n",
            ),
            ("escape.Dockerfile", "FROM scratch\nCOPY ../outside.txt /\n"),
            (
                "stages.Dockerfile",
                "FROM scratch AS first\nCOPY a.txt /\nFROM scratch AS second\nCOPY a.txt /\n",
            ),
        ],
    );
    write(work.path(), &[("outside.txt", "not in the context\n")]);
    let ctx = s(&context);
    let output = format!("oci:{}:v1", work.path().join("out").display());
    let with_file = |file: &str, extra: &[&str]| {
        let file = context.join(file);
        let mut args = vec![
            "--platform",
            "linux/amd64",
            "--context",
            ctx,
            "--file",
            s(&file),
            "--output",
            &output,
        ];
        args.extend_from_slice(extra);
        build(&args).run()
    };

    let out = fails(
        with_file("unknown.Dockerfile", &[]),
        DOCKERFILE_MISTAKE,
        &["line 3", "frobnicate"],
    );
    assert!(out.stderr.contains("unknown.Dockerfile"), "{}", out.stderr);
    fails(
        with_file("missing.Dockerfile", &[]),
        DOCKERFILE_MISTAKE,
        &["missing-file.txt"],
    );
    fails(
        with_file("escape.Dockerfile", &[]),
        DOCKERFILE_MISTAKE,
        &["outside.txt"],
    );
    fails(
        with_file("stages.Dockerfile", &["--target", "nosuchstage"]),
        DOCKERFILE_MISTAKE,
        &["nosuchstage"],
    );
    fails(
        with_file("no-such.Dockerfile", &[]),
        DOCKERFILE_MISTAKE,
        &["no-such.Dockerfile"],
    );
    assert!(
        !work.path().join("out/index.json").exists(),
        "nothing written on failure"
    );
}

#[test]
fn option_errors_are_usage_errors() {
    let context = tempdir();
    write(
        context.path(),
        &[
            ("Dockerfile", "FROM scratch\nCOPY a.txt /\n"),
            ("a.txt", "a\n"),
        ],
    );
    let ctx = s(context.path());
    let layout = format!("oci:{}:v1", context.path().join("out").display());
    fails(build(&["--context", ctx, "--push"]).run(), &[2], &["--tag"]);
    fails(
        build(&[
            "--context",
            ctx,
            "--push",
            "--tag",
            "127.0.0.1:1/app:1",
            "--output",
            &layout,
        ])
        .run(),
        &[2],
        &["--push", "--output"],
    );
    fails(
        build(&["--context", ctx, "--engine", "bogus", "--output", &layout]).run(),
        &[2],
        &["bogus"],
    );
    fails(
        build(&[
            "--context",
            ctx,
            "--compression",
            "lz4",
            "--output",
            &layout,
        ])
        .run(),
        &[2],
        &["lz4"],
    );
    fails(
        build(&[
            "--context",
            ctx,
            "--platform",
            "Linux/AMD64",
            "--output",
            &layout,
        ])
        .run(),
        &[2],
        &["Linux/AMD64"],
    );
    let out = multiarch(&["build", "--help"]).run().success();
    for option in [
        "--platform",
        "--context",
        "--file",
        "--target",
        "--build-arg",
        "--label",
        "--annotation",
        "--engine",
        "--tag",
        "--push",
        "--output",
        "--records",
        "--compression",
        "--dry-run",
    ] {
        assert!(
            out.stdout.contains(option),
            "{option} missing:\n{}",
            out.stdout
        );
    }
}

#[test]
fn dry_run_writes_nothing() {
    let registry = Registry::start();
    let base = base_image::push(&registry);
    let context = app_context();
    let repo = registry.at("app");
    let before = registry.requests().len();
    build(&[
        "--platform",
        "linux/amd64",
        "--platform",
        "linux/arm64",
        "--context",
        s(context.path()),
        "--build-arg",
        &format!("BASE={}", base.reference),
        "--push",
        "--tag",
        &format!("{repo}:1"),
        "--dry-run",
    ])
    .run()
    .success();
    let writes: Vec<_> = registry
        .requests_since(before)
        .into_iter()
        .filter(|r| matches!(r.method.as_str(), "PUT" | "POST" | "PATCH" | "DELETE"))
        .collect();
    assert!(writes.is_empty(), "{writes:?}");
}
