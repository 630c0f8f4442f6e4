//! The registry implementation of [`Store`]: the distribution API over HTTP.
//!
//! Every request goes through [`session::Host::send`] (credentials, a bound on requests in
//! flight, retries); reads are verified against their digests, manifests are size-capped, blob
//! downloads resume where they broke and blob uploads restart in a new session.

mod challenge;
mod download;
mod errors;
mod hosts;
mod retry;
mod session;
mod token;
mod upload;

use std::sync::Arc;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, HeaderMap};

use self::errors::Operation;
pub use self::hosts::{Registries, RegistryOptions};
pub use self::retry::RetryPolicy;
use self::session::{Answer, Host};
use self::token::Scope;
use super::{BlobSource, BlobStream, Store, StoreError};
use crate::digest::{self, Digest, VerifyingStream};
use crate::manifest::{MAX_MANIFEST_BYTES, RawManifest};
use crate::media_type;
use crate::reference::{DEFAULT_TAG, Location, ManifestTarget, Repository};

/// The error code of a manifest that references a blob the repository does not hold.
const BLOB_UNKNOWN: &str = "MANIFEST_BLOB_UNKNOWN";
/// Second looks at a manifest refused for an unknown blob.
const BLOB_RECHECKS: u32 = 2;

/// The registry's own digest of what it served.
const CONTENT_DIGEST: &str = "docker-content-digest";

/// One repository of a registry.
#[derive(Debug)]
pub struct RegistryStore {
    host: Arc<Host>,
    repository: Repository,
    location: Location,
}

impl RegistryStore {
    fn new(host: Arc<Host>, repository: Repository) -> Self {
        let location = Location::Registry(repository.clone());
        RegistryStore {
            host,
            repository,
            location,
        }
    }

    fn operation(&self, verb: &'static str, what: String, push: bool) -> Operation<'static> {
        Operation {
            verb,
            what,
            location: self.location.to_string(),
            push,
        }
    }

    fn manifest_path(&self, target: &ManifestTarget) -> String {
        let reference = match target {
            ManifestTarget::Digest(digest) => digest.to_string(),
            tag => tag.tag().unwrap_or(DEFAULT_TAG).to_owned(),
        };
        format!("/v2/{}/manifests/{reference}", self.repository.name)
    }

    fn blob_path(&self, digest: &Digest) -> String {
        format!("/v2/{}/blobs/{digest}", self.repository.name)
    }

    fn scope(&self, push: bool) -> Scope {
        if push {
            Scope::push(&self.repository.name)
        } else {
            Scope::pull(&self.repository.name)
        }
    }

    /// Reads a manifest body whole (retrying a body cut short), refusing one over the cap.
    async fn fetch_manifest(
        &self,
        op: &Operation<'_>,
        target: &ManifestTarget,
    ) -> Result<(Bytes, HeaderMap), StoreError> {
        let url = self.host.url(&self.manifest_path(target))?;
        let scope = self.scope(false);
        let mut attempts = self.host.attempts();
        loop {
            let answer = self
                .host
                .send(op, &scope, &mut attempts, |http| {
                    http.get(url.clone())
                        .header(ACCEPT, media_type::MANIFEST_TYPES.join(", "))
                })
                .await?;
            let Answer {
                mut response,
                permit,
            } = answer;
            if response.status() != StatusCode::OK {
                return Err(errors::from_response(&self.host, op, response).await);
            }
            let declared = response
                .headers()
                .get(CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if let Some(size) = declared.filter(|size| *size > MAX_MANIFEST_BYTES) {
                return Err(too_large(op, size));
            }
            let headers = response.headers().clone();
            let mut body = BytesMut::new();
            let read = loop {
                match response.chunk().await {
                    Ok(Some(chunk)) => {
                        body.extend_from_slice(&chunk);
                        if body.len() as u64 > MAX_MANIFEST_BYTES {
                            return Err(too_large(op, body.len() as u64));
                        }
                    }
                    Ok(None) => break Ok(()),
                    Err(error) => break Err(error),
                }
            };
            match read {
                Ok(()) => return Ok((body.freeze(), headers)),
                Err(error) if retry::is_transient_error(&error) => {
                    drop(permit);
                    let last = errors::transport(&self.host, op, &error);
                    self.host.back_off(op, &mut attempts, None, last).await?;
                }
                Err(error) => return Err(errors::transport(&self.host, op, &error)),
            }
        }
    }
}

fn too_large(op: &Operation<'_>, size: u64) -> StoreError {
    StoreError::TooLarge {
        location: op.location.clone(),
        what: op.what.clone(),
        size,
        limit: MAX_MANIFEST_BYTES,
    }
}

fn manifest_what(target: &ManifestTarget) -> String {
    format!("manifest {target}")
}

fn content_digest(headers: &HeaderMap) -> Option<Digest> {
    headers
        .get(CONTENT_DIGEST)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| digest::parse(v.trim()).ok())
}

#[async_trait]
impl Store for RegistryStore {
    fn location(&self) -> &Location {
        &self.location
    }

    async fn resolve(&self, target: &ManifestTarget) -> Result<Option<Digest>, StoreError> {
        let op = self.operation("HEAD", manifest_what(target), false);
        let url = self.host.url(&self.manifest_path(target))?;
        let answer = self
            .host
            .send(&op, &self.scope(false), &mut self.host.attempts(), |http| {
                http.head(url.clone())
                    .header(ACCEPT, media_type::MANIFEST_TYPES.join(", "))
            })
            .await?;
        match answer.response.status() {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => return Ok(None),
            _ => return Err(errors::from_response(&self.host, &op, answer.response).await),
        }
        if let Some(found) = content_digest(answer.response.headers()) {
            return Ok(Some(found));
        }
        drop(answer);
        // Some registries send no digest on HEAD: read the manifest and hash it.
        match self.get_manifest(target).await {
            Ok(manifest) => Ok(Some(manifest.digest)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn get_manifest(&self, target: &ManifestTarget) -> Result<RawManifest, StoreError> {
        let op = self.operation("GET", manifest_what(target), false);
        let (bytes, headers) = self.fetch_manifest(&op, target).await?;
        let content_type = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned())
            .filter(|v| media_type::kind(v).is_some());
        let media_type = media_type::declared_or_implied(&bytes)
            .or(content_type)
            .ok_or_else(|| StoreError::Protocol {
                registry: self.host.registry.clone(),
                operation: op.describe(),
                message: "the manifest is not JSON with a mediaType".to_owned(),
            })?;
        // By digest, the bytes must hash to it; by tag, to the digest the registry says it served.
        let expected = match target {
            ManifestTarget::Digest(expected) => Some(expected.clone()),
            ManifestTarget::Tag(_) | ManifestTarget::Default => content_digest(&headers),
        };
        if let Some(expected) = expected {
            let actual = digest::digest_like(&expected, &bytes);
            if actual != expected {
                return Err(StoreError::DigestMismatch {
                    location: op.location,
                    what: op.what,
                    expected: expected.to_string(),
                    actual: actual.to_string(),
                });
            }
        }
        Ok(RawManifest::new(bytes, media_type))
    }

    async fn put_manifest(
        &self,
        target: &ManifestTarget,
        manifest: &RawManifest,
    ) -> Result<(), StoreError> {
        let op = self.operation("PUT", manifest_what(target), true);
        if manifest.size() > MAX_MANIFEST_BYTES {
            return Err(too_large(&op, manifest.size()));
        }
        let url = self.host.url(&self.manifest_path(target))?;
        let mut attempts = self.host.attempts();
        let mut rechecks = 0;
        loop {
            let answer = self
                .host
                .send(&op, &self.scope(true), &mut attempts, |http| {
                    http.put(url.clone())
                        .header(CONTENT_TYPE, manifest.media_type.as_str())
                        .body(manifest.bytes.clone())
                })
                .await?;
            let Answer { response, permit } = answer;
            if response.status().is_success() {
                return Ok(());
            }
            let status = response.status();
            let error = errors::from_response(&self.host, &op, response).await;
            drop(permit);
            // The reference registry can report a blob written a moment ago by another client
            // as unknown while that client rewrites its link (two fan-ins sharing layers); the
            // blob is there on a second look.
            if status == StatusCode::BAD_REQUEST
                && error.to_string().contains(BLOB_UNKNOWN)
                && rechecks < BLOB_RECHECKS
            {
                rechecks += 1;
                self.host.back_off(&op, &mut attempts, None, error).await?;
                continue;
            }
            return Err(error);
        }
    }

    async fn blob_exists(&self, digest: &Digest) -> Result<bool, StoreError> {
        let op = self.operation("HEAD", format!("blob {digest}"), false);
        let url = self.host.url(&self.blob_path(digest))?;
        let answer = self
            .host
            .send(&op, &self.scope(false), &mut self.host.attempts(), |http| {
                http.head(url.clone())
            })
            .await?;
        match answer.response.status() {
            StatusCode::OK => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(errors::from_response(&self.host, &op, answer.response).await),
        }
    }

    async fn open_blob(&self, digest: &Digest, size: u64) -> Result<BlobStream, StoreError> {
        let op = self.operation("GET", format!("blob {digest}"), false);
        let url = self.host.url(&self.blob_path(digest))?;
        let stream = download::open(self.host.clone(), op, self.scope(false), url, size).await?;
        Ok(Box::pin(VerifyingStream::new(stream, digest.clone(), size)))
    }

    async fn put_blob(
        &self,
        digest: &Digest,
        size: u64,
        source: &dyn BlobSource,
    ) -> Result<(), StoreError> {
        let op = self.operation("PUT", format!("blob {digest}"), true);
        let upload = upload::Upload {
            host: &self.host,
            op: &op,
            scope: self.scope(true),
            start: self
                .host
                .url(&format!("/v2/{}/blobs/uploads/", self.repository.name))?,
            digest,
            size,
        };
        upload.run(source).await
    }

    async fn mount_blob(&self, digest: &Digest, from: &Location) -> Result<bool, StoreError> {
        let Location::Registry(source) = from else {
            return Ok(false);
        };
        if source.registry != self.repository.registry || source.name == self.repository.name {
            return Ok(false);
        }
        let op = self.operation("POST", format!("mount of blob {digest}"), true);
        let mut url = self
            .host
            .url(&format!("/v2/{}/blobs/uploads/", self.repository.name))?;
        url.query_pairs_mut()
            .append_pair("mount", digest.as_ref())
            .append_pair("from", &source.name);
        let scope = Scope::mount(&self.repository.name, &source.name);
        let answer = self
            .host
            .send(&op, &scope, &mut self.host.attempts(), |http| {
                http.post(url.clone()).header(CONTENT_LENGTH, 0)
            })
            .await;
        match answer.map(|a| a.response.status()) {
            Ok(StatusCode::CREATED) => Ok(true),
            // 202: the registry opened an upload session instead (no access to the source, or
            // no cross-repository mounts); the caller uploads.
            Ok(status) => {
                tracing::debug!(%digest, from = %from, status = status.as_u16(), "mount refused; uploading instead");
                Ok(false)
            }
            Err(e) => {
                tracing::debug!(%digest, from = %from, error = %e, "mount failed; uploading instead");
                Ok(false)
            }
        }
    }
}

#[cfg(test)]
mod tests;
