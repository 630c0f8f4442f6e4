//! One client per registry host: protocol (HTTPS, or plain HTTP for loopback and insecure hosts),
//! trusted roots, credentials, and a bound on concurrent requests.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::{Certificate, Url};
use tokio::sync::{OnceCell, Semaphore};

use super::RegistryStore;
use super::retry::{Attempts, RetryPolicy};
use super::session::Host;
use super::token::Auth;
use crate::auth::{self, ExplicitCredentials};
use crate::reference::{self, DOCKER_HUB, Repository};
use crate::store::StoreError;

const USER_AGENT: &str = concat!("multiarch/", env!("CARGO_PKG_VERSION"));
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
const READ_TIMEOUT: Duration = Duration::from_secs(120);

/// How to talk to registries.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// Hosts (HOST or HOST:PORT) that may be reached over plain HTTP.
    pub insecure: Vec<String>,
    /// PEM files with extra CA certificates to trust.
    pub ca_files: Vec<PathBuf>,
    /// Credentials given on the command line, for one registry.
    pub explicit: Option<ExplicitCredentials>,
    /// Auth files to consult, in order (see [`auth::auth_files`]).
    pub auth_files: Vec<PathBuf>,
    /// Requests in flight to one host at a time.
    pub max_requests_per_host: usize,
    /// How hard to try each request.
    pub retry: RetryPolicy,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            insecure: Vec::new(),
            ca_files: Vec::new(),
            explicit: None,
            auth_files: auth::auth_files(),
            max_requests_per_host: 16,
            retry: RetryPolicy::default(),
        }
    }
}

impl RegistryOptions {
    /// Plain HTTP is allowed for loopback hosts and for hosts listed as insecure.
    pub fn allows_plain_http(&self, registry: &str) -> bool {
        reference::is_loopback(registry)
            || self
                .insecure
                .iter()
                .any(|h| h == registry || h == reference::host_without_port(registry))
    }
}

/// The registries one run talks to, each set up once on first use.
#[derive(Debug)]
pub struct Registries {
    options: RegistryOptions,
    roots: Vec<Certificate>,
    hosts: Mutex<HashMap<String, Arc<OnceCell<Arc<Host>>>>>,
}

impl Registries {
    /// Reads the CA files now, so that a bad one fails before any work starts.
    pub fn new(options: RegistryOptions) -> Result<Self, StoreError> {
        let mut roots = Vec::new();
        for path in &options.ca_files {
            let data = std::fs::read(path).map_err(|e| StoreError::CaFile {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            match Certificate::from_pem_bundle(&data) {
                Ok(certs) if !certs.is_empty() => roots.extend(certs),
                _ => {
                    return Err(StoreError::CaFile {
                        path: path.clone(),
                        reason: "it holds no PEM certificate".to_owned(),
                    });
                }
            }
        }
        Ok(Registries {
            options,
            roots,
            hosts: Mutex::new(HashMap::new()),
        })
    }

    /// A store for one repository.
    pub(crate) async fn repository(
        &self,
        repository: &Repository,
    ) -> Result<RegistryStore, StoreError> {
        let host = self.host(&repository.registry).await?;
        Ok(RegistryStore::new(host, repository.clone()))
    }

    async fn host(&self, registry: &str) -> Result<Arc<Host>, StoreError> {
        let cell = {
            let mut hosts = self
                .hosts
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            hosts.entry(registry.to_owned()).or_default().clone()
        };
        cell.get_or_try_init(|| self.connect(registry))
            .await
            .cloned()
    }

    async fn connect(&self, registry: &str) -> Result<Arc<Host>, StoreError> {
        let plain_http =
            self.options.allows_plain_http(registry) && self.probe_plain_http(registry).await?;
        tracing::debug!(registry, plain_http, "connecting");
        // Two at least: a copy within one registry reads and writes at once.
        let limit = self.options.max_requests_per_host.max(2);
        let http = self
            .client_builder()
            .read_timeout(READ_TIMEOUT)
            .pool_max_idle_per_host(limit)
            .build()
            .map_err(|e| StoreError::Unreachable {
                registry: registry.to_owned(),
                message: format!("cannot set up an HTTP client: {e}"),
            })?;
        let scheme = if plain_http { "http" } else { "https" };
        let base = Url::parse(&format!("{scheme}://{}/", api_host(registry))).map_err(|e| {
            StoreError::Unreachable {
                registry: registry.to_owned(),
                message: format!("`{registry}` is not a host name: {e}"),
            }
        })?;

        let (registry_owned, explicit, files) = (
            registry.to_owned(),
            self.options.explicit.clone(),
            self.options.auth_files.clone(),
        );
        // Credential helpers are processes: keep them off the async threads.
        let found = tokio::task::spawn_blocking(move || {
            auth::lookup(&registry_owned, explicit.as_ref(), &files)
        })
        .await
        .map_err(|e| StoreError::Unreachable {
            registry: registry.to_owned(),
            message: format!("credential lookup did not finish: {e}"),
        })??;
        let (credential, credential_source) = match found {
            Some(found) => {
                tracing::debug!(registry, source = %found.source, user = %found.credential.username, "using credentials");
                (Some(found.credential), Some(found.source))
            }
            None => {
                tracing::debug!(registry, "no credentials found; anonymous access");
                (None, None)
            }
        };
        Ok(Arc::new(Host {
            registry: registry.to_owned(),
            base,
            http,
            auth: Auth::new(credential),
            credential_source,
            permits: Arc::new(Semaphore::new(limit)),
            download_slots: Arc::new(Semaphore::new(limit / 2)),
            retry: self.options.retry,
            chunked_uploads: AtomicBool::new(false),
        }))
    }

    /// An HTTP client with the trusted roots, timeouts and user agent of every request.
    fn client_builder(&self) -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(USER_AGENT)
            .tls_certs_merge(self.roots.clone())
    }

    /// For hosts allowed plain HTTP: should plain HTTP be used? Loopback hosts are tried over
    /// plain HTTP first (nothing leaves the machine, and most local registries speak it); hosts
    /// listed as insecure are tried over HTTPS first, as Docker does, and unlike Docker their
    /// certificate is still verified. A host that answers neither way (a registry restarting) is
    /// asked again within the retry bounds.
    async fn probe_plain_http(&self, registry: &str) -> Result<bool, StoreError> {
        let mut attempts = Attempts::new(self.options.retry);
        loop {
            match self.probe_once(registry).await {
                Ok(plain) => return Ok(plain),
                Err(Probe { error, transient }) => {
                    if !transient {
                        return Err(error);
                    }
                    match attempts.next_delay(None) {
                        Some(delay) => {
                            tracing::debug!(registry, delay_ms = delay.as_millis() as u64, reason = %error, "retrying");
                            tokio::time::sleep(delay).await;
                        }
                        None => {
                            return Err(StoreError::GaveUp {
                                tries: attempts.tries,
                                seconds: attempts.elapsed().as_secs_f64(),
                                last: Box::new(error),
                            });
                        }
                    }
                }
            }
        }
    }

    async fn probe_once(&self, registry: &str) -> Result<bool, Probe> {
        let probe = self
            .client_builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| Probe {
                error: StoreError::Unreachable {
                    registry: registry.to_owned(),
                    message: format!("cannot set up an HTTP client: {e}"),
                },
                transient: false,
            })?;
        let http = || probe.get(format!("http://{registry}/v2/")).send();
        let https = || probe.get(format!("https://{registry}/v2/")).send();
        // A registry answers /v2/ with 200, or 401 when it wants credentials (or, overloaded,
        // 429 or 5xx, which the requests themselves then retry); a TLS server spoken to in plain
        // HTTP answers 400.
        let is_registry = |response: &reqwest::Response| response.status().as_u16() != 400;

        if reference::is_loopback(registry) {
            let plain = match http().await {
                Ok(response) if is_registry(&response) => return Ok(true),
                Ok(response) => format!("it answered {} to /v2/", response.status()),
                Err(e) => root_cause(&e),
            };
            return match https().await {
                Ok(_) => Ok(false),
                Err(e) => Err(Probe {
                    transient: e.is_connect() || e.is_timeout(),
                    error: unreachable(registry, &root_cause(&e), &plain),
                }),
            };
        }
        let (secure, secure_transient) = match https().await {
            Ok(_) => return Ok(false),
            Err(e) => (root_cause(&e), e.is_connect() || e.is_timeout()),
        };
        // A host that speaks TLS but whose certificate does not verify is never downgraded: that
        // is what an attacker in the middle would arrange.
        if secure.to_ascii_lowercase().contains("certificate") {
            return Err(Probe {
                error: unreachable(registry, &secure, "not tried, since the host speaks HTTPS"),
                transient: false,
            });
        }
        match http().await {
            Ok(response) if is_registry(&response) => Ok(true),
            Ok(response) => Err(Probe {
                error: unreachable(
                    registry,
                    &secure,
                    &format!("it answered {} to /v2/", response.status()),
                ),
                transient: false,
            }),
            Err(e) => Err(Probe {
                transient: secure_transient && (e.is_connect() || e.is_timeout()),
                error: unreachable(registry, &secure, &root_cause(&e)),
            }),
        }
    }
}

/// Why a probe found no way to talk to a host, and whether asking again may help.
struct Probe {
    error: StoreError,
    transient: bool,
}

fn unreachable(registry: &str, over_https: &str, over_http: &str) -> StoreError {
    let hint = if over_https.to_ascii_lowercase().contains("certificate") {
        "for a registry whose certificate comes from a private CA, pass --ca-file"
    } else {
        "is the registry running at this address?"
    };
    StoreError::Unreachable {
        registry: registry.to_owned(),
        message: format!("over HTTPS: {over_https}; over plain HTTP: {over_http} ({hint})"),
    }
}

/// The host that serves a registry's API (Docker Hub's differs from its name).
fn api_host(registry: &str) -> &str {
    match registry {
        DOCKER_HUB | "index.docker.io" => "registry-1.docker.io",
        other => other,
    }
}

/// The innermost cause of an error: for reqwest, the part that says what went wrong
/// ("Connection refused", "invalid peer certificate: UnknownIssuer").
pub(super) fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// An error and its causes on one line (reqwest hides the interesting part in its sources).
pub(super) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_for_loopback_and_listed_hosts() {
        let options = RegistryOptions {
            insecure: vec!["registry.internal".into(), "10.0.0.5:5000".into()],
            auth_files: vec![],
            ..RegistryOptions::default()
        };
        assert!(options.allows_plain_http("127.0.0.1:5000"));
        assert!(options.allows_plain_http("localhost"));
        assert!(options.allows_plain_http("registry.internal:443"));
        assert!(options.allows_plain_http("10.0.0.5:5000"));
        assert!(!options.allows_plain_http("10.0.0.5:6000"));
        assert!(!options.allows_plain_http("ghcr.io"));
    }

    #[test]
    fn bad_ca_files_fail_early() {
        let dir = tempfile::tempdir().unwrap();
        let not_pem = dir.path().join("ca.pem");
        std::fs::write(&not_pem, "hello").unwrap();
        let options = |path: PathBuf| RegistryOptions {
            ca_files: vec![path],
            auth_files: vec![],
            ..RegistryOptions::default()
        };
        let err = Registries::new(options(not_pem)).unwrap_err().to_string();
        assert!(err.contains("no PEM certificate"), "{err}");
        let err = Registries::new(options(dir.path().join("missing.pem")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing.pem"), "{err}");
    }
}
