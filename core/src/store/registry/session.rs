//! One registry host on the wire: every request goes through [`Host::send`], which adds
//! credentials (answering `401` challenges, fetching and refreshing tokens), bounds the requests
//! in flight, and retries what is worth retrying.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderValue, WWW_AUTHENTICATE};
use reqwest::{RequestBuilder, Response, StatusCode, Url};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::challenge::{self, Challenge};
use super::errors::{self, Operation};
use super::retry::{self, Attempts, RetryPolicy};
use super::token::{Auth, Scope, TokenResponse};
use crate::auth::CredentialSource;
use crate::store::StoreError;

/// A connection to one registry host.
pub(super) struct Host {
    /// The registry as written in references (`ghcr.io`, `127.0.0.1:5000`).
    pub registry: String,
    /// `https://HOST/` (or `http://` for loopback and insecure hosts).
    pub base: Url,
    pub http: reqwest::Client,
    pub auth: Auth,
    pub credential_source: Option<CredentialSource>,
    pub permits: Arc<Semaphore>,
    /// Downloads whose bodies are being read hold a permit for long; they may hold at most
    /// half of them, so that an upload fed by a download from the same host always gets one.
    pub download_slots: Arc<Semaphore>,
    pub retry: RetryPolicy,
    /// Set once the registry refused a whole blob in one request (`413`).
    pub chunked_uploads: AtomicBool,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("registry", &self.registry)
            .field("base", &self.base.as_str())
            .field("auth", &self.auth)
            .field("credential_source", &self.credential_source)
            .finish_non_exhaustive()
    }
}

/// A response, and the permit that counts it against the host's bound until it is read.
pub(super) struct Answer {
    pub response: Response,
    pub permit: OwnedSemaphorePermit,
}

impl Host {
    /// `/v2/…` on this host.
    pub fn url(&self, path: &str) -> Result<Url, StoreError> {
        self.base.join(path).map_err(|e| StoreError::Protocol {
            registry: self.registry.clone(),
            operation: path.to_owned(),
            message: format!("cannot form the request URL: {e}"),
        })
    }

    /// A location the registry sent (an upload session), relative or absolute.
    pub fn resolve(&self, op: &Operation<'_>, location: &str) -> Result<Url, StoreError> {
        let url = self.base.join(location).map_err(|e| StoreError::Protocol {
            registry: self.registry.clone(),
            operation: op.describe(),
            message: format!("its Location `{location}` is not a URL: {e}"),
        })?;
        if url.scheme() != "https" && self.base.scheme() == "https" {
            return Err(StoreError::Protocol {
                registry: self.registry.clone(),
                operation: op.describe(),
                message: format!(
                    "it speaks HTTPS but sent the upload to plain HTTP (`{}`); a proxy in front of it may need to pass on the original scheme (X-Forwarded-Proto)",
                    without_query(&url)
                ),
            });
        }
        Ok(url)
    }

    /// Whether credentials for this host may go to `url` (another host gets none, as Docker
    /// does: an upload Location may point at storage elsewhere).
    pub fn is_own(&self, url: &Url) -> bool {
        url.origin() == self.base.origin()
    }

    pub fn attempts(&self) -> Attempts {
        Attempts::new(self.retry)
    }

    /// Sends the request `build` makes (called again for each try, so its body must be
    /// replayable), with credentials, retrying transient failures within `attempts`. Returns the
    /// first answer that is not worth retrying, whatever its status; the caller reads it.
    pub async fn send(
        &self,
        op: &Operation<'_>,
        scope: &Scope,
        attempts: &mut Attempts,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> Result<Answer, StoreError> {
        let mut auth_rounds = 0;
        loop {
            let sent = self.authorization(scope, attempts).await?;
            let permit = self.permit().await;
            let mut request = build(&self.http);
            if let Some(header) = &sent {
                request = request.header(AUTHORIZATION, header.clone());
            }
            let result = request.send().await;
            match result {
                Err(error) if retry::is_transient_error(&error) => {
                    drop(permit);
                    let last = errors::transport(self, op, &error);
                    self.back_off(op, attempts, None, last).await?;
                }
                Err(error) => return Err(errors::transport(self, op, &error)),
                Ok(response) => {
                    let status = response.status();
                    log_request(self, op, &response);
                    if status == StatusCode::UNAUTHORIZED && auth_rounds < 2 {
                        auth_rounds += 1;
                        let challenge = response
                            .headers()
                            .get(WWW_AUTHENTICATE)
                            .and_then(|v| v.to_str().ok())
                            .and_then(challenge::parse);
                        // Nothing is held while the token cache is touched: another request
                        // may be fetching a token and need a permit.
                        drop(permit);
                        if self.answer_challenge(scope, challenge, sent.as_ref()).await {
                            continue;
                        }
                        // Not worth another round: read the refusal itself.
                        let permit = self.permit().await;
                        return Ok(Answer { response, permit });
                    }
                    if retry::is_transient_status(status) {
                        let asked = retry::retry_after(response.headers());
                        drop(permit);
                        let last = errors::from_response(self, op, response).await;
                        self.back_off(op, attempts, asked, last).await?;
                        continue;
                    }
                    return Ok(Answer { response, permit });
                }
            }
        }
    }

    /// Waits before the next try, or gives up with `last` when the tries or time are spent.
    pub async fn back_off(
        &self,
        op: &Operation<'_>,
        attempts: &mut Attempts,
        asked: Option<Duration>,
        last: StoreError,
    ) -> Result<(), StoreError> {
        match attempts.next_delay(asked) {
            Some(delay) => {
                tracing::debug!(
                    registry = %self.registry,
                    operation = %op.describe(),
                    attempt = attempts.tries + 1,
                    delay_ms = delay.as_millis() as u64,
                    reason = %last,
                    "retrying"
                );
                tokio::time::sleep(delay).await;
                Ok(())
            }
            None => Err(StoreError::GaveUp {
                tries: attempts.tries,
                seconds: attempts.elapsed().as_secs_f64(),
                last: Box::new(last),
            }),
        }
    }

    pub async fn download_slot(&self) -> OwnedSemaphorePermit {
        self.download_slots
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed")
    }

    pub async fn permit(&self) -> OwnedSemaphorePermit {
        self.permits
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed")
    }

    /// The `Authorization` header for `scope`, as far as the host's challenge is known.
    pub async fn authorization(
        &self,
        scope: &Scope,
        attempts: &mut Attempts,
    ) -> Result<Option<HeaderValue>, StoreError> {
        match self.auth.challenge() {
            None => Ok(None),
            Some(Challenge::Basic) => Ok(self.auth.basic()),
            Some(Challenge::Bearer { realm, service, .. }) => {
                let slot = self.auth.slot(scope);
                let mut token = slot.lock().await;
                if let Some(fresh) = Auth::cached_in(&token) {
                    return Ok(Some(fresh));
                }
                let fetched = self
                    .fetch_token(&realm, service.as_deref(), scope, attempts)
                    .await?;
                let header = fetched.header.clone();
                *token = Some(fetched);
                Ok(Some(header))
            }
        }
    }

    /// Learns from a `401`; true when a new try with other credentials is worth it.
    async fn answer_challenge(
        &self,
        scope: &Scope,
        challenge: Option<Challenge>,
        sent: Option<&HeaderValue>,
    ) -> bool {
        let Some(challenge) = challenge else {
            return false;
        };
        let known = self.auth.challenge();
        match (&challenge, sent) {
            // Basic credentials refused: other tries would send the same.
            (Challenge::Basic, Some(_)) => return false,
            (Challenge::Basic, None) if self.auth.credential.is_none() => return false,
            // A token refused: it expired or was revoked early; fetch another once.
            (Challenge::Bearer { .. }, Some(token)) => {
                tracing::debug!(registry = %self.registry, "token refused; fetching a new one");
                self.auth.invalidate(scope, token).await;
            }
            _ => {}
        }
        if known.as_ref() != Some(&challenge) {
            self.auth.learn(challenge);
        }
        true
    }

    /// Fetches a token for `scope` from the token service named in the challenge.
    async fn fetch_token(
        &self,
        realm: &str,
        service: Option<&str>,
        scope: &Scope,
        attempts: &mut Attempts,
    ) -> Result<super::token::Token, StoreError> {
        let op = Operation {
            verb: "GET",
            what: "a token".to_owned(),
            location: realm.to_owned(),
            push: false,
        };
        let mut url = Url::parse(realm).map_err(|e| StoreError::Protocol {
            registry: self.registry.clone(),
            operation: "authentication".to_owned(),
            message: format!("its token service `{realm}` is not a URL: {e}"),
        })?;
        if url.scheme() != "https" && self.base.scheme() == "https" {
            return Err(StoreError::Protocol {
                registry: self.registry.clone(),
                operation: "authentication".to_owned(),
                message: format!(
                    "it speaks HTTPS but sends clients to a token service over plain HTTP (`{realm}`); credentials are not sent there"
                ),
            });
        }
        {
            let mut query = url.query_pairs_mut();
            if let Some(service) = service {
                query.append_pair("service", service);
            }
            for item in scope.items() {
                query.append_pair("scope", item);
            }
            if let Some(credential) = &self.auth.credential {
                query.append_pair("account", &credential.username);
            }
        }
        loop {
            let mut request = self.http.get(url.clone());
            if let Some(basic) = self.auth.basic() {
                request = request.header(AUTHORIZATION, basic);
            }
            let result = {
                let _permit = self.permit().await;
                request.send().await
            };
            let response = match result {
                Ok(response) => response,
                Err(error) if retry::is_transient_error(&error) => {
                    let last = errors::transport(self, &op, &error);
                    self.back_off(&op, attempts, None, last).await?;
                    continue;
                }
                Err(error) => return Err(errors::transport(self, &op, &error)),
            };
            let status = response.status();
            if retry::is_transient_status(status) {
                let asked = retry::retry_after(response.headers());
                let last = errors::from_response(self, &op, response).await;
                self.back_off(&op, attempts, asked, last).await?;
                continue;
            }
            if !status.is_success() {
                let push = scope.items().iter().any(|item| item.ends_with(",push"));
                return Err(errors::token_refused(self, status, push));
            }
            let body = match response.bytes().await {
                Ok(body) => body,
                Err(error) if retry::is_transient_error(&error) => {
                    let last = errors::transport(self, &op, &error);
                    self.back_off(&op, attempts, None, last).await?;
                    continue;
                }
                Err(error) => return Err(errors::transport(self, &op, &error)),
            };
            let answer = serde_json::from_slice::<TokenResponse>(&body).map_err(|error| {
                StoreError::Protocol {
                    registry: self.registry.clone(),
                    operation: format!("GET {realm}"),
                    message: format!(
                        "its token service answered something else than a token: {error}"
                    ),
                }
            })?;
            return answer.into_token().ok_or_else(|| StoreError::Protocol {
                registry: self.registry.clone(),
                operation: format!("GET {realm}"),
                message: "its token service answered without a token".to_owned(),
            });
        }
    }
}

/// Logs one answer, without the query string: redirects to object storage carry signatures there.
pub(super) fn log_request(host: &Host, op: &Operation<'_>, response: &Response) {
    tracing::debug!(
        registry = %host.registry,
        operation = %op.describe(),
        url = %without_query(response.url()),
        status = response.status().as_u16(),
        "registry request"
    );
}

/// A URL for messages and logs: scheme, host and path, no query (signatures, upload state).
pub(super) fn without_query(url: &Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.to_string()
}
