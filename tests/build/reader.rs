//! Reading what a build wrote: OCI layouts and layer tarballs, with plain JSON, sha256 and tar
//! (not the code under test).

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{OCI_LAYER_GZIP, platform_of, sha256};
use crate::harness::schema::{self, Kind};

/// One entry of a layer tarball.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub(super) kind: tar::EntryType,
    pub(super) uid: u64,
    pub(super) gid: u64,
    pub(super) mode: u32,
    pub(super) mtime: u64,
    pub(super) link: Option<String>,
    pub(super) data: Vec<u8>,
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
pub(super) struct Layout {
    dir: PathBuf,
}

impl Layout {
    /// Opens `dir`, checking `oci-layout` and `index.json` against the OCI schemas.
    pub(super) fn open(dir: &Path) -> Self {
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

    pub(super) fn index_json(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.dir.join("index.json")).expect("index.json"))
            .expect("index.json JSON")
    }

    /// The blob `digest`; fails unless its bytes hash to it.
    pub(super) fn blob(&self, digest: &str) -> Vec<u8> {
        let hex = digest.strip_prefix("sha256:").expect("sha256 digest");
        let bytes = std::fs::read(self.dir.join("blobs/sha256").join(hex))
            .unwrap_or_else(|e| panic!("blob {digest} in {}: {e}", self.dir.display()));
        assert_eq!(sha256(&bytes), digest, "blob content matches its digest");
        bytes
    }

    pub(super) fn json(&self, digest: &str, kind: Kind) -> Value {
        let bytes = self.blob(digest);
        schema::assert_valid(kind, &bytes);
        serde_json::from_slice(&bytes).expect("blob JSON")
    }

    /// The image manifest for `platform` under `digest` (an image manifest, or an index holding it).
    pub(super) fn image(&self, digest: &str, platform: &str) -> Value {
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

    pub(super) fn config(&self, manifest: &Value) -> Value {
        self.json(
            manifest["config"]["digest"]
                .as_str()
                .expect("config digest"),
            Kind::Config,
        )
    }

    /// Each layer's entries, bottom first. Gzip layers are decompressed and checked against the
    /// config's diff_ids.
    pub(super) fn layers(&self, manifest: &Value) -> Vec<BTreeMap<String, Entry>> {
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
    pub(super) fn files(&self, manifest: &Value) -> BTreeMap<String, Entry> {
        let mut all = BTreeMap::new();
        for layer in self.layers(manifest) {
            all.extend(layer);
        }
        all
    }
}

#[track_caller]
pub(super) fn text(files: &BTreeMap<String, Entry>, path: &str) -> String {
    let entry = files.get(path).unwrap_or_else(|| {
        panic!(
            "{path} missing; have {:?}",
            files.keys().collect::<Vec<_>>()
        )
    });
    String::from_utf8(entry.data.clone()).expect("utf-8 file")
}
