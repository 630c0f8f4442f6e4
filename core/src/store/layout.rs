//! The OCI image layout implementation of [`Store`]: `oci-layout`, `index.json`, `blobs/ALG/HEX`.
//!
//! Tags are `org.opencontainers.image.ref.name` annotations in `index.json`. Blobs are written to
//! a temporary file, verified, then renamed into place; `index.json` is replaced atomically under
//! an exclusive lock, so concurrent writers never lose each other's tags.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio_util::io::ReaderStream;

use super::{BlobSource, BlobStream, Store, StoreError};
use crate::digest::{self, Digest, Hasher, VerifyingStream};
use crate::manifest::{Descriptor, Index, MAX_MANIFEST_BYTES, Manifest, REF_NAME, RawManifest};
use crate::media_type;
use crate::reference::{DEFAULT_TAG, Location, ManifestTarget};

const LAYOUT_FILE: &str = "oci-layout";
const LAYOUT_VERSION: &str = "1.0.0";
const INDEX_FILE: &str = "index.json";

/// An OCI image layout directory.
#[derive(Debug)]
pub struct LayoutStore {
    dir: PathBuf,
    location: Location,
}

impl LayoutStore {
    pub fn new(dir: PathBuf) -> Self {
        LayoutStore {
            location: Location::Layout(dir.clone()),
            dir,
        }
    }

    fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.dir
            .join("blobs")
            .join(digest.algorithm().to_string())
            .join(digest.digest())
    }

    fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
        move |source| StoreError::Io {
            path: path.to_owned(),
            source,
        }
    }

    fn layout_error(&self, reason: impl Into<String>) -> StoreError {
        StoreError::Layout {
            path: self.dir.clone(),
            reason: reason.into(),
        }
    }

    /// Checks the `oci-layout` marker. `Ok(false)`: the directory holds no layout (yet).
    fn has_layout(&self) -> Result<bool, StoreError> {
        let path = self.dir.join(LAYOUT_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(Self::io_error(&path)(e)),
        };
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Marker {
            image_layout_version: String,
        }
        match serde_json::from_slice::<Marker>(&bytes) {
            Ok(marker) if marker.image_layout_version == LAYOUT_VERSION => Ok(true),
            Ok(marker) => Err(self.layout_error(format!(
                "its {LAYOUT_FILE} says version {}, but only {LAYOUT_VERSION} is supported",
                marker.image_layout_version
            ))),
            Err(e) => Err(self.layout_error(format!("its {LAYOUT_FILE} file is not valid: {e}"))),
        }
    }

    /// Creates the layout skeleton, refusing to write into a directory that holds anything but a
    /// layout (another writer may be creating one at the same moment, so layout entries are fine).
    fn ensure_layout(&self) -> Result<(), StoreError> {
        if self.has_layout()? {
            return Ok(());
        }
        if let Ok(entries) = std::fs::read_dir(&self.dir) {
            let foreign = entries.filter_map(Result::ok).find(|entry| {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                !(name == LAYOUT_FILE
                    || name == INDEX_FILE
                    || name == "blobs"
                    || name.starts_with(".tmp"))
            });
            if let Some(foreign) = foreign {
                return Err(self.layout_error(format!(
                    "it holds other things (such as `{}`) and no `{LAYOUT_FILE}` file; refusing to write an image layout into it",
                    foreign.file_name().to_string_lossy()
                )));
            }
        }
        std::fs::create_dir_all(self.dir.join("blobs")).map_err(Self::io_error(&self.dir))?;
        write_atomically(
            &self.dir,
            LAYOUT_FILE,
            format!("{{\"imageLayoutVersion\":\"{LAYOUT_VERSION}\"}}").as_bytes(),
        )
    }

    fn read_index(&self) -> Result<Index, StoreError> {
        let path = self.dir.join(INDEX_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                self.layout_error(format!("its {INDEX_FILE} is not a valid image index: {e}"))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(empty_index()),
            Err(e) => Err(Self::io_error(&path)(e)),
        }
    }

    /// The `index.json` entry `target` names, if any (none when there is no layout yet).
    fn find(&self, target: &ManifestTarget) -> Result<Option<Descriptor>, StoreError> {
        if !self.has_layout()? {
            return Ok(None);
        }
        let index = self.read_index()?;
        let tagged = |tag: &str| {
            index
                .manifests
                .iter()
                .find(|d| d.annotation(REF_NAME) == Some(tag))
                .cloned()
        };
        Ok(match target {
            ManifestTarget::Digest(digest) => index
                .manifests
                .iter()
                .find(|d| &d.digest == digest)
                .cloned(),
            ManifestTarget::Tag(tag) => tagged(tag),
            // As skopeo does, `oci:DIR` alone also means the only image of a one-image layout.
            ManifestTarget::Default => match tagged(DEFAULT_TAG) {
                Some(found) => Some(found),
                None if index.manifests.len() == 1 => index.manifests.first().cloned(),
                None => None,
            },
        })
    }

    fn tags(&self) -> Vec<String> {
        self.read_index()
            .map(|index| {
                index
                    .manifests
                    .iter()
                    .filter_map(|d| d.annotation(REF_NAME).map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn not_found(&self, target: &ManifestTarget) -> StoreError {
        if !self.has_layout().unwrap_or(false) {
            return StoreError::NoLayout {
                path: self.dir.clone(),
            };
        }
        let tags = self.tags();
        let what = match (target, tags.is_empty()) {
            (ManifestTarget::Digest(_), _) | (_, true) => format!("manifest {target}"),
            (_, false) => format!("manifest {target} (tags here: {})", tags.join(", ")),
        };
        StoreError::NotFound {
            location: self.location.to_string(),
            what,
        }
    }

    /// Adds or moves `descriptor` in `index.json` under an exclusive lock.
    fn record_manifest(
        &self,
        target: &ManifestTarget,
        descriptor: Descriptor,
        children: BTreeSet<String>,
    ) -> Result<(), StoreError> {
        let lock_path = self.dir.join(LAYOUT_FILE);
        let lock = File::open(&lock_path).map_err(Self::io_error(&lock_path))?;
        lock.lock().map_err(Self::io_error(&lock_path))?;
        let mut index = self.read_index()?;
        match target.tag() {
            Some(tag) => {
                // Untagged entries now reachable through the tagged manifest are tidied away.
                index.manifests.retain(|d| match d.annotation(REF_NAME) {
                    Some(name) => name != tag,
                    None => d.digest != descriptor.digest && !children.contains(d.digest.as_ref()),
                });
                let mut tagged = descriptor;
                tagged
                    .annotations
                    .get_or_insert_with(Default::default)
                    .insert(REF_NAME.to_owned(), tag.to_owned());
                index.manifests.push(tagged);
            }
            None => {
                if index
                    .manifests
                    .iter()
                    .any(|d| d.digest == descriptor.digest)
                {
                    return Ok(());
                }
                index.manifests.push(descriptor);
            }
        }
        let bytes = serde_json::to_vec(&index).expect("an index always serialises");
        write_atomically(&self.dir, INDEX_FILE, &bytes)
        // The lock is released when `lock` drops.
    }

    async fn write_blob(
        &self,
        digest: &Digest,
        size: u64,
        mut data: BlobStream,
    ) -> Result<(), StoreError> {
        let path = self.blob_path(digest);
        let parent = path.parent().expect("blob paths have a parent").to_owned();
        tokio::fs::create_dir_all(&parent)
            .await
            .map_err(Self::io_error(&parent))?;
        let temp = tempfile::NamedTempFile::new_in(&parent).map_err(Self::io_error(&parent))?;
        let (std_file, temp_path) = temp.into_parts();
        let mut file = tokio::fs::File::from_std(std_file);
        let mut hasher = Hasher::like(digest);
        while let Some(chunk) = data.next().await {
            let chunk = chunk.map_err(|e| StoreError::Read {
                location: self.location.to_string(),
                what: format!("blob {digest} being written"),
                message: e.to_string(),
            })?;
            hasher.update(&chunk);
            file.write_all(&chunk)
                .await
                .map_err(Self::io_error(&temp_path))?;
        }
        file.flush().await.map_err(Self::io_error(&temp_path))?;
        let written = hasher.len();
        let actual = hasher.finish();
        if &actual != digest || written != size {
            return Err(StoreError::DigestMismatch {
                location: self.location.to_string(),
                what: format!("blob written as {digest} ({size} bytes)"),
                expected: digest.to_string(),
                actual: format!("{actual} ({written} bytes)"),
            });
        }
        file.sync_all().await.map_err(Self::io_error(&temp_path))?;
        drop(file);
        temp_path
            .persist(&path)
            .map_err(|e| Self::io_error(&path)(e.error))?;
        Ok(())
    }
}

fn empty_index() -> Index {
    Index {
        schema_version: 2,
        media_type: Some(media_type::OCI_INDEX.to_owned()),
        artifact_type: None,
        manifests: Vec::new(),
        subject: None,
        annotations: None,
    }
}

/// Writes `dir/name` so that readers see the old content or the new, never a mix.
fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
    let path = dir.join(name);
    let io = LayoutStore::io_error(&path);
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(LayoutStore::io_error(dir))?;
    file.write_all(bytes)
        .map_err(LayoutStore::io_error(&path))?;
    file.as_file()
        .sync_all()
        .map_err(LayoutStore::io_error(&path))?;
    file.persist(&path).map_err(|e| io(e.error))?;
    Ok(())
}

#[async_trait]
impl Store for LayoutStore {
    fn location(&self) -> &Location {
        &self.location
    }

    async fn resolve(&self, target: &ManifestTarget) -> Result<Option<Digest>, StoreError> {
        match target {
            ManifestTarget::Digest(digest) => {
                Ok(self.blob_path(digest).is_file().then(|| digest.clone()))
            }
            tag => Ok(self.find(tag)?.map(|d| d.digest)),
        }
    }

    async fn get_manifest(&self, target: &ManifestTarget) -> Result<RawManifest, StoreError> {
        let entry = self.find(target)?;
        let digest = match (&entry, target) {
            (Some(entry), _) => entry.digest.clone(),
            (None, ManifestTarget::Digest(digest)) if self.has_layout()? => digest.clone(),
            (None, _) => return Err(self.not_found(target)),
        };
        let path = self.blob_path(&digest);
        let size = match std::fs::metadata(&path) {
            Ok(meta) => meta.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(self.not_found(target));
            }
            Err(e) => return Err(Self::io_error(&path)(e)),
        };
        if size > MAX_MANIFEST_BYTES {
            return Err(StoreError::TooLarge {
                location: self.location.to_string(),
                what: format!("manifest {digest}"),
                size,
                limit: MAX_MANIFEST_BYTES,
            });
        }
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(Self::io_error(&path))?;
        let actual = digest::digest_like(&digest, &bytes);
        if actual != digest {
            return Err(StoreError::DigestMismatch {
                location: self.location.to_string(),
                what: format!("manifest {digest}"),
                expected: digest.to_string(),
                actual: actual.to_string(),
            });
        }
        let media_type = match entry {
            Some(entry) => entry.media_type,
            None => media_type::declared_or_implied(&bytes)
                .ok_or_else(|| self.layout_error(format!("blob {digest} is not a manifest")))?,
        };
        Ok(RawManifest {
            bytes: bytes.into(),
            media_type,
            digest,
        })
    }

    async fn put_manifest(
        &self,
        target: &ManifestTarget,
        manifest: &RawManifest,
    ) -> Result<(), StoreError> {
        self.ensure_layout()?;
        let bytes = manifest.bytes.clone();
        let stream: BlobStream = Box::pin(futures_util::stream::once(async move { Ok(bytes) }));
        self.write_blob(&manifest.digest, manifest.size(), stream)
            .await?;
        let children = match manifest.parse() {
            Ok(Manifest::Index(index)) => index
                .manifests
                .iter()
                .map(|d| d.digest.to_string())
                .collect(),
            _ => BTreeSet::new(),
        };
        let descriptor = manifest.descriptor();
        let target = target.clone();
        // Locking and rewriting index.json blocks: keep it off the async threads.
        let store = LayoutStore::new(self.dir.clone());
        tokio::task::spawn_blocking(move || store.record_manifest(&target, descriptor, children))
            .await
            .map_err(|e| self.layout_error(format!("updating {INDEX_FILE} did not finish: {e}")))?
    }

    async fn blob_exists(&self, digest: &Digest) -> Result<bool, StoreError> {
        Ok(self.blob_path(digest).is_file())
    }

    async fn open_blob(&self, digest: &Digest, size: u64) -> Result<BlobStream, StoreError> {
        let path = self.blob_path(digest);
        let file = match tokio::fs::File::open(&path).await {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::NotFound {
                    location: self.location.to_string(),
                    what: format!("blob {digest}"),
                });
            }
            Err(e) => return Err(Self::io_error(&path)(e)),
        };
        Ok(Box::pin(VerifyingStream::new(
            ReaderStream::with_capacity(file, 256 * 1024),
            digest.clone(),
            size,
        )))
    }

    async fn put_blob(
        &self,
        digest: &Digest,
        size: u64,
        source: &dyn BlobSource,
    ) -> Result<(), StoreError> {
        self.ensure_layout()?;
        let data = source.open().await?;
        self.write_blob(digest, size, data).await
    }

    async fn mount_blob(&self, _digest: &Digest, _from: &Location) -> Result<bool, StoreError> {
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(content: &str) -> RawManifest {
        let json = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"{}","digest":"{}","size":2}},"layers":[],"annotations":{{"n":"{content}"}}}}"#,
            media_type::OCI_MANIFEST,
            media_type::OCI_CONFIG,
            digest::sha256(b"{}")
        );
        RawManifest::new(json.into_bytes(), media_type::OCI_MANIFEST)
    }

    fn blob(bytes: &'static [u8]) -> bytes::Bytes {
        bytes::Bytes::from_static(bytes)
    }

    #[tokio::test]
    async fn tags_digests_and_tidy_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = LayoutStore::new(dir.path().join("layout"));
        assert_eq!(
            store
                .resolve(&ManifestTarget::Tag("v1".into()))
                .await
                .unwrap(),
            None
        );

        let m = manifest("a");
        store
            .put_manifest(&ManifestTarget::Digest(m.digest.clone()), &m)
            .await
            .unwrap();
        store
            .put_manifest(&ManifestTarget::Tag("v1".into()), &m)
            .await
            .unwrap();
        let index = store.read_index().unwrap();
        assert_eq!(
            index.manifests.len(),
            1,
            "the untagged entry was replaced by the tagged one"
        );

        let got = store
            .get_manifest(&ManifestTarget::Tag("v1".into()))
            .await
            .unwrap();
        assert_eq!(got, m);
        let by_digest = store
            .get_manifest(&ManifestTarget::Digest(m.digest.clone()))
            .await
            .unwrap();
        assert_eq!(by_digest, m);
        // A one-image layout answers to `oci:DIR` alone, but not to an explicit `latest`.
        assert!(store.get_manifest(&ManifestTarget::Default).await.is_ok());
        assert!(
            store
                .get_manifest(&ManifestTarget::Tag("latest".into()))
                .await
                .is_err()
        );
        assert_eq!(
            store
                .resolve(&ManifestTarget::Tag("latest".into()))
                .await
                .unwrap(),
            None
        );

        let n = manifest("b");
        store
            .put_manifest(&ManifestTarget::Tag("v1".into()), &n)
            .await
            .unwrap();
        store
            .put_manifest(&ManifestTarget::Tag("v2".into()), &m)
            .await
            .unwrap();
        let err = store
            .get_manifest(&ManifestTarget::Tag("v3".into()))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("tags here: v1, v2"), "{err}");
    }

    #[tokio::test]
    async fn blobs_are_verified_on_write_and_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = LayoutStore::new(dir.path().to_path_buf());
        let good = digest::sha256(b"hello");
        store.put_blob(&good, 5, &blob(b"hello")).await.unwrap();
        assert!(store.blob_exists(&good).await.unwrap());
        assert_eq!(&store.read_blob(&good, 5, 100).await.unwrap()[..], b"hello");

        let err = store
            .put_blob(&digest::sha256(b"other"), 5, &blob(b"hello"))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::DigestMismatch { .. }));
        assert!(!store.blob_exists(&digest::sha256(b"other")).await.unwrap());

        std::fs::write(store.blob_path(&good), b"jello").unwrap();
        assert!(store.read_blob(&good, 5, 100).await.is_err());
    }

    #[tokio::test]
    async fn refuses_foreign_directories() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("precious.txt"), b"data").unwrap();
        let store = LayoutStore::new(dir.path().to_path_buf());
        let m = manifest("a");
        let err = store
            .put_manifest(&ManifestTarget::Tag("x".into()), &m)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("refusing to write"), "{err}");
        let err = store
            .get_manifest(&ManifestTarget::Tag("x".into()))
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("no `oci-layout` file); is the path right?"),
            "{err}"
        );
        assert!(err.is_not_found());
    }
}
