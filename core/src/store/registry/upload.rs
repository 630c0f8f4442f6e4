//! Blob uploads: one session per try (`POST …/blobs/uploads/`, then the bytes). A try that breaks
//! part-way is abandoned and the blob is sent again from its first byte in a new session; a
//! registry that refuses a whole blob in one request (`413`) gets it in chunks.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use reqwest::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, LOCATION};
use reqwest::{RequestBuilder, StatusCode, Url};

use super::errors::{self, Operation};
use super::retry::{self, Attempts};
use super::session::{self, Host};
use super::token::Scope;
use crate::digest::Digest;
use crate::store::{BlobSource, StoreError};

/// The size of each chunk for registries that refuse whole blobs (the limit many of those
/// registries put on one request body).
const CHUNK_BYTES: usize = 4 * 1024 * 1024;

/// One blob to upload into one repository.
pub(super) struct Upload<'a> {
    pub host: &'a Host,
    pub op: &'a Operation<'a>,
    pub scope: Scope,
    /// `…/v2/NAME/blobs/uploads/`
    pub start: Url,
    pub digest: &'a Digest,
    pub size: u64,
}

/// Why a try did not finish.
enum Broke {
    /// Worth another try in a new session (after the wait the registry asked for, if any).
    Retry(StoreError, Option<Duration>),
    /// The registry refused the whole blob in one request.
    TooLarge,
    Fatal(StoreError),
}

impl Upload<'_> {
    pub async fn run(&self, source: &dyn BlobSource) -> Result<(), StoreError> {
        let mut attempts = self.host.attempts();
        loop {
            let chunked = self.host.chunked_uploads.load(Ordering::Relaxed);
            match self.once(source, &mut attempts, chunked).await {
                Ok(()) => return Ok(()),
                Err(Broke::Retry(last, asked)) => {
                    self.host
                        .back_off(self.op, &mut attempts, asked, last)
                        .await?;
                }
                Err(Broke::TooLarge) if !chunked => {
                    tracing::debug!(registry = %self.host.registry, digest = %self.digest, "whole-blob upload refused (413); sending chunks");
                    self.host.chunked_uploads.store(true, Ordering::Relaxed);
                }
                Err(Broke::TooLarge) => {
                    return Err(StoreError::Protocol {
                        registry: self.host.registry.clone(),
                        operation: self.op.describe(),
                        message: format!(
                            "it refused even {CHUNK_BYTES}-byte chunks as too large (HTTP 413); a proxy in front of it may limit request bodies (nginx: client_max_body_size)"
                        ),
                    });
                }
                Err(Broke::Fatal(e)) => return Err(e),
            }
        }
    }

    /// One try: a new session, then the bytes.
    async fn once(
        &self,
        source: &dyn BlobSource,
        attempts: &mut Attempts,
        chunked: bool,
    ) -> Result<(), Broke> {
        let mut location = self.session(attempts).await.map_err(Broke::Fatal)?;
        let mut data = source.open().await.map_err(Broke::Fatal)?;
        if !chunked {
            let url = self.with_digest(location);
            let request = self
                .host
                .http
                .put(url.clone())
                .header(CONTENT_TYPE, "application/octet-stream")
                .header(CONTENT_LENGTH, self.size)
                .body(reqwest::Body::wrap_stream(data));
            return self.finish(&url, request, attempts).await;
        }
        let mut sent = 0u64;
        let mut chunk = BytesMut::with_capacity(CHUNK_BYTES);
        loop {
            let next = data.next().await;
            let end = next.is_none();
            if let Some(bytes) = next {
                let bytes = bytes.map_err(|e| Broke::Fatal(self.source_failed(e)))?;
                chunk.extend_from_slice(&bytes);
            }
            while chunk.len() >= CHUNK_BYTES || (end && !chunk.is_empty()) {
                let take = chunk.len().min(CHUNK_BYTES);
                let part = chunk.split_to(take).freeze();
                location = self.patch(location, sent, part, attempts).await?;
                sent += take as u64;
            }
            if end {
                break;
            }
        }
        let url = self.with_digest(location);
        let request = self.host.http.put(url.clone()).header(CONTENT_LENGTH, 0);
        self.finish(&url, request, attempts).await
    }

    /// Opens an upload session; its URL.
    async fn session(&self, attempts: &mut Attempts) -> Result<Url, StoreError> {
        let answer = self
            .host
            .send(self.op, &self.scope, attempts, |http| {
                http.post(self.start.clone()).header(CONTENT_LENGTH, 0)
            })
            .await?;
        if answer.response.status() != StatusCode::ACCEPTED {
            return Err(errors::from_response(self.host, self.op, answer.response).await);
        }
        self.location(&answer.response)
    }

    /// Sends one chunk; the session's next URL.
    async fn patch(
        &self,
        location: Url,
        offset: u64,
        part: Bytes,
        attempts: &mut Attempts,
    ) -> Result<Url, Broke> {
        let end = offset + part.len() as u64 - 1;
        let request = self
            .host
            .http
            .patch(location.clone())
            .header(CONTENT_TYPE, "application/octet-stream")
            .header(CONTENT_RANGE, format!("{offset}-{end}"))
            .header(CONTENT_LENGTH, part.len())
            .body(part);
        let response = self.send_once(&location, request, attempts).await?;
        if response.status() != StatusCode::ACCEPTED {
            return Err(self.failure(response).await);
        }
        self.location(&response).map_err(Broke::Fatal)
    }

    /// Sends the request that completes the upload.
    async fn finish(
        &self,
        url: &Url,
        request: RequestBuilder,
        attempts: &mut Attempts,
    ) -> Result<(), Broke> {
        let response = self.send_once(url, request, attempts).await?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(self.failure(response).await)
        }
    }

    /// Sends a request whose body can be read only once: a failure abandons the session.
    /// Credentials go only to the registry's own origin (a Location may point elsewhere).
    async fn send_once(
        &self,
        url: &Url,
        request: RequestBuilder,
        attempts: &mut Attempts,
    ) -> Result<reqwest::Response, Broke> {
        let sent = if self.host.is_own(url) {
            self.host
                .authorization(&self.scope, attempts)
                .await
                .map_err(Broke::Fatal)?
        } else {
            None
        };
        let request = match &sent {
            Some(header) => request.header(AUTHORIZATION, header.clone()),
            None => request,
        };
        let permit = self.host.permit().await;
        let result = request.send().await;
        drop(permit);
        match result {
            Ok(response) => {
                session::log_request(self.host, self.op, &response);
                if response.status() == StatusCode::UNAUTHORIZED {
                    if let Some(token) = &sent {
                        // Expired mid-upload: the next session fetches a new one.
                        self.host.auth.invalidate(&self.scope, token).await;
                    }
                    let last = errors::from_response(self.host, self.op, response).await;
                    return Err(Broke::Retry(last, None));
                }
                Ok(response)
            }
            Err(error) if is_source_failure(&error) => Err(Broke::Fatal(self.source_failed(
                std::io::Error::other(errors::transport(self.host, self.op, &error).to_string()),
            ))),
            Err(error) if retry::is_transient_error(&error) => Err(Broke::Retry(
                errors::transport(self.host, self.op, &error),
                None,
            )),
            Err(error) => Err(Broke::Fatal(errors::transport(self.host, self.op, &error))),
        }
    }

    async fn failure(&self, response: reqwest::Response) -> Broke {
        let status = response.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            return Broke::TooLarge;
        }
        let asked = retry::retry_after(response.headers());
        let error = errors::from_response(self.host, self.op, response).await;
        // 404 inside a session: it expired, or a load balancer sent the request to a node that
        // doesn't know it (BLOB_UPLOAD_UNKNOWN); a new session fixes both.
        if retry::is_transient_status(status) || status == StatusCode::NOT_FOUND {
            Broke::Retry(error, asked)
        } else {
            Broke::Fatal(error)
        }
    }

    fn location(&self, response: &reqwest::Response) -> Result<Url, StoreError> {
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| StoreError::Protocol {
                registry: self.host.registry.clone(),
                operation: self.op.describe(),
                message: "the upload session came without a Location".to_owned(),
            })?;
        self.host.resolve(self.op, location)
    }

    fn with_digest(&self, mut location: Url) -> Url {
        location
            .query_pairs_mut()
            .append_pair("digest", self.digest.as_ref());
        location
    }

    fn source_failed(&self, error: std::io::Error) -> StoreError {
        StoreError::Read {
            location: format!("its source (uploading to {})", self.op.location),
            what: format!("blob {}", self.digest),
            message: error.to_string(),
        }
    }
}

/// The blob's own bytes were wrong (they don't hash to the digest, or run long): sending them
/// again would not help.
fn is_source_failure(error: &reqwest::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::InvalidData
        {
            return true;
        }
        cause = e.source();
    }
    false
}
