//! The registry implementation of [`Store`], over oci-client.
//!
//! oci-client has no retries and reports a refused mount (202) as an error; this layer adds
//! verification, size limits, the mount fallback and errors that name the registry.

mod errors;
mod hosts;

use std::sync::Arc;

use async_trait::async_trait;
use futures_util::TryStreamExt;
use oci_client::Reference;
use oci_client::errors::OciDistributionError;
use oci_client::manifest::OciDescriptor;
use reqwest::header::HeaderValue;
use tokio::sync::SemaphorePermit;

use self::errors::Operation;
use self::hosts::Host;
pub use self::hosts::{Registries, RegistryOptions};
use super::{BlobStream, Store, StoreError};
use crate::digest::{self, Digest, VerifyingStream};
use crate::manifest::{MAX_MANIFEST_BYTES, RawManifest};
use crate::media_type;
use crate::reference::{DEFAULT_TAG, Location, ManifestTarget, Repository};

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

    fn reference(&self, target: &ManifestTarget) -> Reference {
        let (registry, name) = (
            self.repository.registry.clone(),
            self.repository.name.clone(),
        );
        match target {
            ManifestTarget::Digest(digest) => {
                Reference::with_digest(registry, name, digest.to_string())
            }
            tag => Reference::with_tag(registry, name, tag.tag().unwrap_or(DEFAULT_TAG).to_owned()),
        }
    }

    /// The reference to PUT a manifest to. By digest, the digest also stands as the tag: when a
    /// registry (ECR, for one) answers without a `Location`, oci-client rebuilds the URL by
    /// stripping the tag from it, and panics when there is none.
    fn put_reference(&self, target: &ManifestTarget) -> Reference {
        match target {
            ManifestTarget::Digest(digest) => Reference::with_tag_and_digest(
                self.repository.registry.clone(),
                self.repository.name.clone(),
                digest.to_string(),
                digest.to_string(),
            ),
            other => self.reference(other),
        }
    }

    fn blob_reference(&self, digest: &Digest) -> Reference {
        self.reference(&ManifestTarget::Digest(digest.clone()))
    }

    async fn permit(&self) -> SemaphorePermit<'_> {
        self.host
            .permits
            .acquire()
            .await
            .expect("the semaphore is never closed")
    }

    fn operation(&self, verb: &'static str, what: String, push: bool) -> Operation<'static> {
        Operation {
            verb,
            what,
            location: self.location.to_string(),
            push,
        }
    }

    fn fail(&self, op: &Operation<'_>, error: OciDistributionError) -> StoreError {
        errors::map(&self.host, op, error)
    }
}

fn manifest_what(target: &ManifestTarget) -> String {
    format!("manifest {target}")
}

#[async_trait]
impl Store for RegistryStore {
    fn location(&self) -> &Location {
        &self.location
    }

    async fn resolve(&self, target: &ManifestTarget) -> Result<Option<Digest>, StoreError> {
        let op = self.operation("HEAD", manifest_what(target), false);
        let _permit = self.permit().await;
        match self
            .host
            .client
            .fetch_manifest_digest(&self.reference(target), &self.host.auth)
            .await
        {
            Ok(found) => digest::parse(&found)
                .map(Some)
                .map_err(|e| StoreError::Protocol {
                    registry: self.host.registry.clone(),
                    operation: format!("HEAD {}", op.what),
                    message: e.to_string(),
                }),
            Err(e) => match self.fail(&op, e) {
                StoreError::NotFound { .. } => Ok(None),
                other => Err(other),
            },
        }
    }

    async fn get_manifest(&self, target: &ManifestTarget) -> Result<RawManifest, StoreError> {
        let op = self.operation("GET", manifest_what(target), false);
        let (bytes, _) = {
            let _permit = self.permit().await;
            self.host
                .client
                .pull_manifest_raw(
                    &self.reference(target),
                    &self.host.auth,
                    media_type::MANIFEST_TYPES,
                )
                .await
                .map_err(|e| self.fail(&op, e))?
        };
        if bytes.len() as u64 > MAX_MANIFEST_BYTES {
            return Err(StoreError::TooLarge {
                location: op.location,
                what: op.what,
                size: bytes.len() as u64,
                limit: MAX_MANIFEST_BYTES,
            });
        }
        // oci-client does not hand back the Content-Type; the document says what it is.
        let media_type =
            media_type::declared_or_implied(&bytes).ok_or_else(|| StoreError::Protocol {
                registry: self.host.registry.clone(),
                operation: format!("GET {}", op.what),
                message: "the manifest is not JSON with a mediaType".to_owned(),
            })?;
        let manifest = match target {
            ManifestTarget::Digest(expected) => {
                let actual = digest::digest_like(expected, &bytes);
                if &actual != expected {
                    return Err(StoreError::DigestMismatch {
                        location: op.location,
                        what: op.what,
                        expected: expected.to_string(),
                        actual: actual.to_string(),
                    });
                }
                RawManifest {
                    bytes,
                    media_type,
                    digest: actual,
                }
            }
            ManifestTarget::Tag(_) | ManifestTarget::Default => RawManifest::new(bytes, media_type),
        };
        Ok(manifest)
    }

    async fn put_manifest(
        &self,
        target: &ManifestTarget,
        manifest: &RawManifest,
    ) -> Result<(), StoreError> {
        let op = self.operation("PUT", manifest_what(target), true);
        if manifest.size() > MAX_MANIFEST_BYTES {
            return Err(StoreError::TooLarge {
                location: op.location,
                what: op.what,
                size: manifest.size(),
                limit: MAX_MANIFEST_BYTES,
            });
        }
        let content_type =
            HeaderValue::from_str(&manifest.media_type).map_err(|_| StoreError::Protocol {
                registry: self.host.registry.clone(),
                operation: format!("PUT {}", op.what),
                message: format!("`{}` is not a valid media type", manifest.media_type),
            })?;
        let _permit = self.permit().await;
        self.host
            .client
            .push_manifest_raw(
                &self.put_reference(target),
                manifest.bytes.clone(),
                content_type,
            )
            .await
            .map_err(|e| self.fail(&op, e))?;
        Ok(())
    }

    async fn blob_exists(&self, digest: &Digest) -> Result<bool, StoreError> {
        let op = self.operation("HEAD", format!("blob {digest}"), false);
        let _permit = self.permit().await;
        self.host
            .client
            .blob_exists(&self.blob_reference(digest), digest.as_ref())
            .await
            .map_err(|e| self.fail(&op, e))
    }

    async fn open_blob(&self, digest: &Digest, size: u64) -> Result<BlobStream, StoreError> {
        let op = self.operation("GET", format!("blob {digest}"), false);
        let descriptor = OciDescriptor {
            digest: digest.to_string(),
            size: size as i64,
            ..OciDescriptor::default()
        };
        let stream = {
            let _permit = self.permit().await;
            self.host
                .client
                .pull_blob_stream(&self.blob_reference(digest), &descriptor)
                .await
                .map_err(|e| self.fail(&op, e))?
        };
        Ok(Box::pin(VerifyingStream::new(
            stream.stream,
            digest.clone(),
            size,
        )))
    }

    async fn put_blob(
        &self,
        digest: &Digest,
        size: u64,
        data: BlobStream,
    ) -> Result<(), StoreError> {
        let op = self.operation("PUT", format!("blob {digest}"), true);
        let _permit = self.permit().await;
        self.host
            .client
            .push_blob_stream(
                &self.blob_reference(digest),
                data.map_err(OciDistributionError::IoError),
                digest.as_ref(),
                Some(size),
            )
            .await
            .map_err(|e| self.fail(&op, e))?;
        Ok(())
    }

    async fn mount_blob(&self, digest: &Digest, from: &Location) -> Result<bool, StoreError> {
        let Location::Registry(source) = from else {
            return Ok(false);
        };
        if source.registry != self.repository.registry || source.name == self.repository.name {
            return Ok(false);
        }
        let source_ref = Reference::with_digest(
            source.registry.clone(),
            source.name.clone(),
            digest.to_string(),
        );
        let _permit = self.permit().await;
        match self
            .host
            .client
            .mount_blob(&self.blob_reference(digest), &source_ref, digest.as_ref())
            .await
        {
            Ok(()) => Ok(true),
            // A registry may refuse a mount (202, or no access to the source): upload instead.
            Err(e) => {
                tracing::debug!(%digest, from = %from, error = %hosts::error_chain(&e), "mount refused; uploading instead");
                Ok(false)
            }
        }
    }
}
