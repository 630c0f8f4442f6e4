//! Test images, written straight into OCI layouts with plain JSON (independently of the code under
//! test), then pushed to registries with skopeo.

use std::io::Write;
use std::path::Path;

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// A written manifest.
#[derive(Debug, Clone)]
pub struct Written {
    pub digest: String,
    pub size: u64,
    pub media_type: String,
    pub platform: Option<String>,
}

/// `sha256:HEX` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn write_blob(layout: &Path, bytes: &[u8]) -> String {
    let digest = sha256(bytes);
    let dir = layout.join("blobs/sha256");
    std::fs::create_dir_all(&dir).expect("blob dir");
    std::fs::write(dir.join(&digest["sha256:".len()..]), bytes).expect("write blob");
    digest
}

/// Adds `entry` to the layout's index.json (tagged when `tag` is given).
fn add_to_index(layout: &Path, written: &Written, tag: Option<&str>) {
    std::fs::write(
        layout.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .expect("oci-layout");
    let path = layout.join("index.json");
    let mut index: Value = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_else(|| json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}));
    let mut entry =
        json!({"mediaType": written.media_type, "digest": written.digest, "size": written.size});
    if let Some(tag) = tag {
        entry["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
        index["manifests"]
            .as_array_mut()
            .expect("manifests")
            .retain(|e| e["annotations"]["org.opencontainers.image.ref.name"] != tag);
    }
    index["manifests"]
        .as_array_mut()
        .expect("manifests")
        .push(entry);
    std::fs::write(&path, serde_json::to_vec(&index).expect("index json"))
        .expect("write index.json");
}

fn layer(files: &[(&str, Vec<u8>)]) -> (Vec<u8>, String) {
    let mut tar = tar::Builder::new(Vec::new());
    for (name, content) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o755);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_cksum();
        tar.append_data(&mut header, name, content.as_slice())
            .expect("tar entry");
    }
    let tar = tar.into_inner().expect("tar");
    let diff_id = sha256(&tar);
    let mut gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).expect("gzip");
    (gz.finish().expect("gzip"), diff_id)
}

/// A single-platform image of `files`, written into `layout` (and tagged `tag`).
pub struct Image<'a> {
    pub platform: &'a str,
    pub files: Vec<(&'a str, Vec<u8>)>,
    pub labels: Vec<(&'a str, &'a str)>,
}

impl<'a> Image<'a> {
    /// An image holding `hello.txt`, which says which platform it is for.
    pub fn hello(platform: &'a str) -> Self {
        Image {
            platform,
            files: vec![("hello.txt", format!("hello from {platform}\n").into_bytes())],
            labels: Vec::new(),
        }
    }

    pub fn write(&self, layout: &Path, tag: Option<&str>) -> Written {
        let mut parts = self.platform.split('/');
        let (os, arch, variant) = (
            parts.next().expect("os"),
            parts.next().expect("arch"),
            parts.next(),
        );
        let (layer_bytes, diff_id) = layer(&self.files);
        let layer_digest = write_blob(layout, &layer_bytes);
        let mut config = json!({
            "created": "1970-01-01T00:00:00Z",
            "architecture": arch,
            "os": os,
            "config": {"Cmd": ["/bin/sh"], "Labels": self.labels.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect::<serde_json::Map<_, _>>()},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "multiarch test fixture"}],
        });
        if let Some(variant) = variant {
            config["variant"] = json!(variant);
        }
        let config_bytes = serde_json::to_vec(&config).expect("config");
        let config_digest = write_blob(layout, &config_bytes);
        let (manifest_type, config_type, layer_type) = (
            OCI_MANIFEST,
            "application/vnd.oci.image.config.v1+json",
            "application/vnd.oci.image.layer.v1.tar+gzip",
        );
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": manifest_type,
            "config": {"mediaType": config_type, "digest": config_digest, "size": config_bytes.len()},
            "layers": [{"mediaType": layer_type, "digest": layer_digest, "size": layer_bytes.len()}],
        });
        let manifest_bytes = serde_json::to_vec(&manifest).expect("manifest");
        let written = Written {
            digest: write_blob(layout, &manifest_bytes),
            size: manifest_bytes.len() as u64,
            media_type: manifest_type.to_owned(),
            platform: Some(self.platform.to_owned()),
        };
        add_to_index(layout, &written, tag);
        written
    }
}

/// An attestation manifest as docker buildx makes them (the index entry names its subject).
pub fn attestation(layout: &Path) -> Written {
    let statement = br#"{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://slsa.dev/provenance/v0.2"}"#;
    let layer_digest = write_blob(layout, statement);
    let config = br#"{"architecture":"unknown","os":"unknown","config":{},"rootfs":{"type":"layers","diff_ids":[]}}"#;
    let config_digest = write_blob(layout, config);
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.in-toto+json", "digest": layer_digest, "size": statement.len(),
                    "annotations": {"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"}}],
    });
    let bytes = serde_json::to_vec(&manifest).expect("manifest");
    Written {
        digest: write_blob(layout, &bytes),
        size: bytes.len() as u64,
        media_type: OCI_MANIFEST.to_owned(),
        platform: None,
    }
}

/// An index of `images` (each with its platform) and `attestations` (each for its subject),
/// written into `layout` and tagged `tag`.
pub fn index(
    layout: &Path,
    tag: &str,
    images: &[Written],
    attestations: &[(Written, &Written)],
) -> Written {
    let mut manifests: Vec<Value> = images
        .iter()
        .map(|w| {
            let platform = w.platform.as_deref().expect("platform images");
            let mut parts = platform.split('/');
            let mut p = json!({"os": parts.next(), "architecture": parts.next()});
            if let Some(variant) = parts.next() {
                p["variant"] = json!(variant);
            }
            json!({"mediaType": w.media_type, "digest": w.digest, "size": w.size, "platform": p})
        })
        .collect();
    for (attestation, subject) in attestations {
        manifests.push(json!({
            "mediaType": attestation.media_type, "digest": attestation.digest, "size": attestation.size,
            "platform": {"os": "unknown", "architecture": "unknown"},
            "annotations": {"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": subject.digest},
        }));
    }
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests});
    let bytes = serde_json::to_vec(&index).expect("index");
    let written = Written {
        digest: write_blob(layout, &bytes),
        size: bytes.len() as u64,
        media_type: OCI_INDEX.to_owned(),
        platform: None,
    };
    add_to_index(layout, &written, Some(tag));
    written
}

/// Pushes `oci:LAYOUT:TAG` to `dest` (`HOST/REPO:TAG`) with skopeo. `all` copies an index whole.
pub fn push(layout: &Path, tag: &str, dest: &str, all: bool) {
    push_as(layout, tag, dest, all, None);
}

/// Pushes `oci:LAYOUT:TAG` to `dest` converted to Docker schema 2 (skopeo --format v2s2); returns
/// the Docker manifest as pushed.
pub fn push_docker(layout: &Path, tag: &str, dest: &str) -> Written {
    let source = format!("oci:{}:{tag}", layout.display());
    let dest_ref = format!("docker://{dest}");
    super::tool(
        "skopeo",
        &[
            "copy",
            "--quiet",
            "--dest-tls-verify=false",
            "--format",
            "v2s2",
            &source,
            &dest_ref,
        ],
    )
    .run()
    .success();
    let raw = super::tool(
        "skopeo",
        &["inspect", "--raw", "--tls-verify=false", &dest_ref],
    )
    .run()
    .success();
    Written {
        digest: sha256(raw.stdout.as_bytes()),
        size: raw.stdout.len() as u64,
        media_type: DOCKER_MANIFEST.to_owned(),
        platform: None,
    }
}

/// [`push`], logged in as `user:password`.
pub fn push_as(layout: &Path, tag: &str, dest: &str, all: bool, creds: Option<&str>) {
    let source = format!("oci:{}:{tag}", layout.display());
    let dest = format!("docker://{dest}");
    let mut args = vec![
        "copy",
        "--quiet",
        "--dest-tls-verify=false",
        "--preserve-digests",
    ];
    if all {
        args.push("--all");
    }
    if let Some(creds) = creds {
        args.extend(["--dest-creds", creds]);
    }
    args.extend([source.as_str(), dest.as_str()]);
    super::tool("skopeo", &args).run().success();
}

/// Writes a hello image for each platform and pushes each to `registry_repo:<tag>` where tag is
/// `<arch>[-variant]-latest` (the tutorial's naming). Returns the written manifests.
pub fn push_hello_images(registry_repo: &str, platforms: &[&str]) -> Vec<Written> {
    let layout = tempfile::tempdir().expect("layout");
    platforms
        .iter()
        .map(|platform| {
            let tag = arch_tag(platform);
            let written = Image::hello(platform).write(layout.path(), Some(&tag));
            push(
                layout.path(),
                &tag,
                &format!("{registry_repo}:{tag}"),
                false,
            );
            written
        })
        .collect()
}

/// `linux/arm/v7` → `arm-v7-latest`.
pub fn arch_tag(platform: &str) -> String {
    let parts: Vec<&str> = platform.split('/').skip(1).collect();
    format!("{}-latest", parts.join("-"))
}
