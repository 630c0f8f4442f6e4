//! Blob downloads that survive a broken connection: when the body stops short, the download
//! asks again for the rest (`Range: bytes=N-`), or for all of it and skips what it already has.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::{self, BoxStream};
use futures_util::{Stream, StreamExt};
use reqwest::header::RANGE;
use reqwest::{StatusCode, Url};
use tokio::sync::OwnedSemaphorePermit;

use super::errors::{self, Operation};
use super::retry::{self, Attempts};
use super::session::{Answer, Host};
use super::token::Scope;
use crate::store::StoreError;

/// A download slot and a request permit.
type Held = (OwnedSemaphorePermit, OwnedSemaphorePermit);

/// A blob download in progress.
struct Download {
    host: Arc<Host>,
    op: Operation<'static>,
    scope: Scope,
    url: Url,
    size: u64,
    attempts: Attempts,
    /// Bytes handed on so far.
    offset: u64,
    /// Bytes still to drop from the current body (a server that ignored `Range`).
    skip: u64,
    /// The body being read, and its places among the host's downloads and requests in flight.
    body: Option<(BoxStream<'static, reqwest::Result<Bytes>>, Held)>,
}

/// Starts downloading a blob of `size` bytes. The stream is not verified here (the caller
/// wraps it), only kept going.
pub(super) async fn open(
    host: Arc<Host>,
    op: Operation<'static>,
    scope: Scope,
    url: Url,
    size: u64,
) -> Result<impl Stream<Item = std::io::Result<Bytes>> + Send + Unpin + 'static, StoreError> {
    let attempts = host.attempts();
    let mut download = Download {
        host,
        op,
        scope,
        url,
        size,
        attempts,
        offset: 0,
        skip: 0,
        body: None,
    };
    download.request().await?;
    Ok(Box::pin(stream::unfold(
        download,
        |mut download| async move { download.next().await.map(|item| (item, download)) },
    )))
}

impl Download {
    /// Asks for the bytes from `offset` on.
    async fn request(&mut self) -> Result<(), StoreError> {
        let (url, offset) = (self.url.clone(), self.offset);
        let slot = self.host.download_slot().await;
        let Answer { response, permit } = self
            .host
            .send(&self.op, &self.scope, &mut self.attempts, |http| {
                let request = http.get(url.clone());
                if offset > 0 {
                    request.header(RANGE, format!("bytes={offset}-"))
                } else {
                    request
                }
            })
            .await?;
        self.skip = match response.status() {
            StatusCode::PARTIAL_CONTENT if offset > 0 => 0,
            StatusCode::OK => offset,
            _ => return Err(errors::from_response(&self.host, &self.op, response).await),
        };
        self.body = Some((response.bytes_stream().boxed(), (slot, permit)));
        Ok(())
    }

    async fn next(&mut self) -> Option<std::io::Result<Bytes>> {
        loop {
            let (body, _) = self.body.as_mut()?;
            let failure = match body.next().await {
                Some(Ok(mut chunk)) => {
                    if self.skip > 0 {
                        let drop = (self.skip as usize).min(chunk.len());
                        self.skip -= drop as u64;
                        chunk = chunk.slice(drop..);
                        if chunk.is_empty() {
                            continue;
                        }
                    }
                    self.offset += chunk.len() as u64;
                    if self.attempts.tries > 0 {
                        self.attempts.progressed();
                    }
                    return Some(Ok(chunk));
                }
                Some(Err(error)) if retry::is_transient_error(&error) => {
                    errors::transport(&self.host, &self.op, &error)
                }
                Some(Err(error)) => {
                    self.body = None;
                    return Some(Err(std::io::Error::other(
                        errors::transport(&self.host, &self.op, &error).to_string(),
                    )));
                }
                // A body that ends short without an error (a proxy that closed cleanly).
                None if self.offset < self.size => StoreError::Read {
                    location: self.op.location.clone(),
                    what: self.op.what.clone(),
                    message: format!(
                        "the body ended after {} of {} bytes",
                        self.offset, self.size
                    ),
                },
                None => {
                    self.body = None;
                    return None;
                }
            };
            self.body = None;
            let resumed = match self
                .host
                .back_off(&self.op, &mut self.attempts, None, failure)
                .await
            {
                Ok(()) => self.request().await,
                Err(e) => Err(e),
            };
            if let Err(e) = resumed {
                return Some(Err(std::io::Error::other(e.to_string())));
            }
        }
    }
}
