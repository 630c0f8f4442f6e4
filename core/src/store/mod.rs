//! The storage seam: one small trait over where images live, a registry repository or an OCI image
//! layout directory. Everything above it (inspect, record, fan-in) is storage-agnostic.

mod layout;
mod registry;

use std::fmt;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};

pub use layout::LayoutStore;
pub use registry::{Registries, RegistryOptions, RetryPolicy};

use crate::auth::AuthError;
use crate::digest::Digest;
use crate::manifest::RawManifest;
use crate::reference::{Location, ManifestTarget};

/// A blob's bytes, streamed.
pub type BlobStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// Where a blob being stored comes from. It can be read again from the start, so an upload that
/// breaks part-way restarts cleanly.
#[async_trait]
pub trait BlobSource: Send + Sync {
    /// The blob's bytes from the first.
    async fn open(&self) -> Result<BlobStream, StoreError>;
}

/// A blob held in memory (an image config).
#[async_trait]
impl BlobSource for Bytes {
    async fn open(&self) -> Result<BlobStream, StoreError> {
        let bytes = self.clone();
        Ok(Box::pin(futures_util::stream::once(
            async move { Ok(bytes) },
        )))
    }
}

/// A blob in a file (a built layer).
#[derive(Debug, Clone)]
pub struct FileBlob(pub PathBuf);

#[async_trait]
impl BlobSource for FileBlob {
    async fn open(&self) -> Result<BlobStream, StoreError> {
        let file = tokio::fs::File::open(&self.0)
            .await
            .map_err(|source| StoreError::Io {
                path: self.0.clone(),
                source,
            })?;
        Ok(Box::pin(tokio_util::io::ReaderStream::with_capacity(
            file,
            256 * 1024,
        )))
    }
}

/// A blob of another store (a base image layer being copied).
#[derive(Debug)]
pub struct StoredBlob<'a> {
    pub store: &'a dyn Store,
    pub digest: &'a Digest,
    pub size: u64,
}

#[async_trait]
impl BlobSource for StoredBlob<'_> {
    async fn open(&self) -> Result<BlobStream, StoreError> {
        self.store.open_blob(self.digest, self.size).await
    }
}

/// Manifests and blobs of one repository (or layout directory).
///
/// Every read is verified: manifests fetched by digest and all blobs must hash to their digest.
#[async_trait]
pub trait Store: Send + Sync + fmt::Debug {
    /// Where this store's content lives.
    fn location(&self) -> &Location;

    /// The digest `target` points at, or `None` when there is no such manifest (a HEAD).
    async fn resolve(&self, target: &ManifestTarget) -> Result<Option<Digest>, StoreError>;

    /// The manifest `target` points at, exactly as stored.
    async fn get_manifest(&self, target: &ManifestTarget) -> Result<RawManifest, StoreError>;

    /// Stores `manifest` under `target`: a tag, or its own digest (push by digest).
    async fn put_manifest(
        &self,
        target: &ManifestTarget,
        manifest: &RawManifest,
    ) -> Result<(), StoreError>;

    async fn blob_exists(&self, digest: &Digest) -> Result<bool, StoreError>;

    /// Streams a blob; the stream fails at its end unless the bytes match `digest` and `size`.
    async fn open_blob(&self, digest: &Digest, size: u64) -> Result<BlobStream, StoreError>;

    /// Stores a blob of `size` bytes that must hash to `digest`, read from `source` (again from
    /// the start if an upload has to restart).
    async fn put_blob(
        &self,
        digest: &Digest,
        size: u64,
        source: &dyn BlobSource,
    ) -> Result<(), StoreError>;

    /// Makes a blob of another location of the same registry available here without copying it.
    /// `Ok(false)` means the caller must copy it.
    async fn mount_blob(&self, digest: &Digest, from: &Location) -> Result<bool, StoreError>;

    /// Reads a small blob (an image config) whole, refusing anything over `limit` bytes.
    async fn read_blob(&self, digest: &Digest, size: u64, limit: u64) -> Result<Bytes, StoreError> {
        if size > limit {
            return Err(StoreError::TooLarge {
                location: self.location().to_string(),
                what: format!("blob {digest}"),
                size,
                limit,
            });
        }
        let mut stream = self.open_blob(digest, size).await?;
        let mut bytes = BytesMut::with_capacity(size as usize);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| StoreError::Read {
                location: self.location().to_string(),
                what: format!("blob {digest}"),
                message: e.to_string(),
            })?;
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes.freeze())
    }
}

/// Opens the store for `location`.
pub async fn open(
    location: &Location,
    registries: &Registries,
) -> Result<Arc<dyn Store>, StoreError> {
    match location {
        Location::Registry(repository) => Ok(Arc::new(registries.repository(repository).await?)),
        Location::Layout(dir) => Ok(Arc::new(LayoutStore::new(dir.clone()))),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{what} was not found in {location}")]
    NotFound { location: String, what: String },
    #[error("{registry} refused access to {location} (HTTP {status}): {hint}")]
    Denied {
        registry: String,
        location: String,
        status: u16,
        hint: String,
    },
    #[error("{registry} answered HTTP {status} to {operation} in {location}: {message}")]
    Status {
        registry: String,
        location: String,
        operation: String,
        status: u16,
        message: String,
    },
    #[error("cannot reach {registry}: {message}")]
    Unreachable { registry: String, message: String },
    #[error("{registry} broke the registry protocol during {operation}: {message}")]
    Protocol {
        registry: String,
        operation: String,
        message: String,
    },
    #[error("{what} from {location} does not match its digest: expected {expected}, got {actual}")]
    DigestMismatch {
        location: String,
        what: String,
        expected: String,
        actual: String,
    },
    #[error("reading {what} from {location} failed: {message}")]
    Read {
        location: String,
        what: String,
        message: String,
    },
    #[error("{what} in {location} is {size} bytes, over the {limit}-byte limit")]
    TooLarge {
        location: String,
        what: String,
        size: u64,
        limit: u64,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("there is no OCI image layout at {path} (no `oci-layout` file); is the path right?")]
    NoLayout { path: PathBuf },
    #[error("{path} is not a usable OCI image layout: {reason}")]
    Layout { path: PathBuf, reason: String },
    #[error("cannot use CA certificate file {path}: {reason}")]
    CaFile { path: PathBuf, reason: String },
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(
        "{last} (gave up after {tries} tries in {seconds:.1} s; --retries and --retry-max-time set the bounds)"
    )]
    GaveUp {
        tries: u32,
        seconds: f64,
        #[source]
        last: Box<StoreError>,
    },
}

impl StoreError {
    /// The manifest or blob (or the whole layout) does not exist.
    pub fn is_not_found(&self) -> bool {
        match self {
            StoreError::NotFound { .. } | StoreError::NoLayout { .. } => true,
            StoreError::GaveUp { last, .. } => last.is_not_found(),
            _ => false,
        }
    }
}
