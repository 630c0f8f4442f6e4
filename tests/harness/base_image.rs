//! A small multi-platform base image, made by buildah (not by multiarch) once per test process
//! into an OCI layout, then pushed whole to each test's registry with skopeo.
//!
//! Every platform image has two layers: a shared one with busybox (Debian's `busybox-static`, the
//! host's binary: tests never run it, only the Go fixture under qemu) as `/bin/busybox`, `/bin/sh`
//! and `/etc/passwd`, `/etc/group`; and its own, holding `/etc/base-platform` with the platform
//! it was made for, so a test can tell which image of the index a build used. Each config says
//! its platform and sets Docker's default PATH and `Cmd ["/bin/sh"]`. The index also carries an
//! attestation manifest (platform unknown/unknown) for the amd64 image, as docker buildx writes.

use std::path::Path;
use std::sync::OnceLock;

use serde_json::Value;

use super::buildah::Buildah;
use super::fixtures::{self, Written};
use super::{Registry, tempdir};

/// The platforms of the base image (the same as the Go fixture's).
pub const PLATFORMS: &[&str] = super::gobin::PLATFORMS;

/// The Env every base config sets: Docker's default PATH.
pub const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The busybox binary put in the image.
const BUSYBOX: &str = "/bin/busybox";

/// The tag of the index in the layout (and in each registry: `base:1`).
const LAYOUT_TAG: &str = "base";

/// One platform image of the base.
#[derive(Debug, Clone)]
pub struct Image {
    pub platform: String,
    /// Layer digests (compressed, as in the manifest), bottom first.
    pub layers: Vec<String>,
}

/// The base as pushed to a registry.
#[derive(Debug, Clone)]
pub struct Base {
    /// `HOST/base:1`
    pub reference: String,
    pub images: Vec<Image>,
    /// The attestation manifest's digest.
    pub attestation: String,
}

impl Base {
    /// The image for `platform`.
    pub fn image(&self, platform: &str) -> &Image {
        self.images
            .iter()
            .find(|i| i.platform == platform)
            .unwrap_or_else(|| panic!("the base has no {platform} image"))
    }

    /// Every layer digest of every platform image (the shared one once).
    pub fn layers(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .images
            .iter()
            .flat_map(|i| i.layers.iter().cloned())
            .collect();
        all.sort();
        all.dedup();
        all
    }
}

struct Layout {
    dir: tempfile::TempDir,
    images: Vec<Image>,
    attestation: String,
}

fn read_blob(layout: &Path, digest: &str) -> Vec<u8> {
    let hex = digest.strip_prefix("sha256:").expect("sha256 digest");
    std::fs::read(layout.join("blobs/sha256").join(hex)).expect("blob in layout")
}

fn make_layout() -> Layout {
    let buildah = Buildah::new();
    let work = tempdir();

    // The shared layer's files.
    let rootfs = work.path().join("rootfs");
    std::fs::create_dir_all(rootfs.join("bin")).expect("bin");
    std::fs::create_dir_all(rootfs.join("etc")).expect("etc");
    std::fs::copy(BUSYBOX, rootfs.join("bin/busybox")).unwrap_or_else(|e| {
        panic!("{BUSYBOX}: {e} (./scripts/test installs Debian's busybox-static package)")
    });
    std::os::unix::fs::symlink("busybox", rootfs.join("bin/sh")).expect("sh symlink");
    std::fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n",
    )
    .expect("passwd");
    std::fs::write(rootfs.join("etc/group"), "root:x:0:\napp:x:1000:\n").expect("group");
    let rootfs = rootfs.to_str().expect("utf-8 path");

    let common = buildah.run(&["from", "scratch"]).stdout.trim().to_owned();
    buildah.run(&["copy", "--quiet", &common, rootfs, "/"]);
    commit(&buildah, &common, "localhost/base-common");

    buildah.run(&["manifest", "create", "localhost/base"]);
    for platform in PLATFORMS {
        let mut parts = platform.split('/');
        let (os, arch, variant) = (
            parts.next().expect("os"),
            parts.next().expect("arch"),
            parts.next(),
        );
        let container = buildah
            .run(&["from", "--pull=never", "localhost/base-common"])
            .stdout
            .trim()
            .to_owned();
        let marker = work
            .path()
            .join(format!("platform-{}", platform.replace('/', "-")));
        std::fs::write(&marker, format!("{platform}\n")).expect("marker");
        buildah.run(&[
            "copy",
            "--quiet",
            &container,
            marker.to_str().expect("utf-8 path"),
            "/etc/base-platform",
        ]);
        let mut config = vec![
            "config", "--os", os, "--arch", arch, "--env", PATH_ENV, "--cmd", "/bin/sh",
        ];
        if let Some(variant) = variant {
            config.extend(["--variant", variant]);
        }
        config.push(&container);
        buildah.run(&config);
        let name = format!("localhost/base-{}", platform.replace('/', "-"));
        commit(&buildah, &container, &name);
        let mut add = vec!["manifest", "add", "--os", os, "--arch", arch];
        if let Some(variant) = variant {
            add.extend(["--variant", variant]);
        }
        add.extend(["localhost/base", name.as_str()]);
        buildah.run(&add);
    }

    let dir = tempdir();
    let target = format!("oci:{}:{LAYOUT_TAG}", dir.path().display());
    buildah.run(&["manifest", "push", "--all", "localhost/base", &target]);

    // Read back what buildah wrote: the index and each platform image's layers.
    let index_json: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("index.json")).expect("index.json"))
            .expect("index.json JSON");
    let top = index_json["manifests"][0]["digest"]
        .as_str()
        .expect("tagged index")
        .to_owned();
    let index: Value = serde_json::from_slice(&read_blob(dir.path(), &top)).expect("index JSON");
    let mut images = Vec::new();
    let mut written = Vec::new();
    for entry in index["manifests"].as_array().expect("manifests") {
        let p = &entry["platform"];
        let mut platform = format!(
            "{}/{}",
            p["os"].as_str().expect("os"),
            p["architecture"].as_str().expect("architecture")
        );
        if let Some(variant) = p["variant"].as_str() {
            platform = format!("{platform}/{variant}");
        }
        let digest = entry["digest"].as_str().expect("digest").to_owned();
        let manifest: Value =
            serde_json::from_slice(&read_blob(dir.path(), &digest)).expect("manifest JSON");
        let layers: Vec<String> = manifest["layers"]
            .as_array()
            .expect("layers")
            .iter()
            .map(|l| l["digest"].as_str().expect("layer digest").to_owned())
            .collect();
        assert_eq!(layers.len(), 2, "shared + own layer: {manifest}");
        written.push(Written {
            digest,
            size: entry["size"].as_u64().expect("size"),
            media_type: entry["mediaType"].as_str().expect("mediaType").to_owned(),
            platform: Some(platform.clone()),
        });
        images.push(Image { platform, layers });
    }
    let mut made: Vec<&str> = images.iter().map(|i| i.platform.as_str()).collect();
    made.sort_unstable();
    let mut wanted = PLATFORMS.to_vec();
    wanted.sort_unstable();
    assert_eq!(made, wanted, "buildah's index holds every platform");

    // Re-stitch the index with an attestation for the amd64 image (buildah cannot add one).
    let attestation = fixtures::attestation(dir.path());
    let amd64 = written
        .iter()
        .find(|w| w.platform.as_deref() == Some("linux/amd64"))
        .expect("amd64 image")
        .clone();
    fixtures::index(
        dir.path(),
        LAYOUT_TAG,
        &written,
        &[(attestation.clone(), &amd64)],
    );
    Layout {
        dir,
        images,
        attestation: attestation.digest,
    }
}

fn layout() -> &'static Layout {
    static LAYOUT: OnceLock<Layout> = OnceLock::new();
    LAYOUT.get_or_init(make_layout)
}

/// Pushes the base index (every platform image, and the attestation) to `registry` as `base:1`.
pub fn push(registry: &Registry) -> Base {
    push_to(registry, "base:1")
}

/// Pushes the base index to `registry` as `repo_tag` (`REPO:TAG`), digests unchanged.
pub fn push_to(registry: &Registry, repo_tag: &str) -> Base {
    let layout = layout();
    let reference = registry.at(repo_tag);
    fixtures::push(layout.dir.path(), LAYOUT_TAG, &reference, true);
    Base {
        reference,
        images: layout.images.clone(),
        attestation: layout.attestation.clone(),
    }
}

/// Commits a working container as a reproducible OCI image (time 0, no buildah label).
fn commit(buildah: &Buildah, container: &str, name: &str) {
    buildah.run(&[
        "commit",
        "--quiet",
        "--format",
        "oci",
        "--timestamp",
        "0",
        "--identity-label=false",
        container,
        name,
    ]);
}
