//! One client per registry host: protocol (HTTPS, or plain HTTP for loopback and insecure hosts),
//! trusted roots, credentials, and a bound on concurrent requests.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use tokio::sync::{OnceCell, Semaphore};

use super::RegistryStore;
use crate::auth::{self, CredentialSource, ExplicitCredentials};
use crate::reference::{self, Repository};
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
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            insecure: Vec::new(),
            ca_files: Vec::new(),
            explicit: None,
            auth_files: auth::auth_files(),
            max_requests_per_host: 16,
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

/// A connection to one registry host.
pub(super) struct Host {
    pub registry: String,
    pub client: oci_client::Client,
    pub auth: RegistryAuth,
    pub credential_source: Option<CredentialSource>,
    pub permits: Semaphore,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // RegistryAuth's own Debug redacts the password.
        f.debug_struct("Host")
            .field("registry", &self.registry)
            .field("auth", &self.auth)
            .field("credential_source", &self.credential_source)
            .finish_non_exhaustive()
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
            if reqwest::Certificate::from_pem_bundle(&data).map_or(true, |certs| certs.is_empty()) {
                return Err(StoreError::CaFile {
                    path: path.clone(),
                    reason: "it holds no PEM certificate".to_owned(),
                });
            }
            roots.push(Certificate {
                encoding: CertificateEncoding::Pem,
                data,
            });
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
        let config = ClientConfig {
            protocol: if plain_http {
                ClientProtocol::Http
            } else {
                ClientProtocol::Https
            },
            extra_root_certificates: self.roots.clone(),
            use_monolithic_push: true,
            connect_timeout: Some(CONNECT_TIMEOUT),
            read_timeout: Some(READ_TIMEOUT),
            user_agent: USER_AGENT,
            platform_resolver: None,
            ..ClientConfig::default()
        };
        let client = oci_client::Client::try_from(config).map_err(|e| StoreError::Unreachable {
            registry: registry.to_owned(),
            message: format!("cannot set up an HTTP client: {e}"),
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
        let (auth, credential_source) = match found {
            Some(found) => {
                tracing::debug!(registry, source = %found.source, user = %found.credential.username, "using credentials");
                (
                    RegistryAuth::Basic(
                        found.credential.username,
                        found.credential.password.expose().to_owned(),
                    ),
                    Some(found.source),
                )
            }
            None => {
                tracing::debug!(registry, "no credentials found; anonymous access");
                (RegistryAuth::Anonymous, None)
            }
        };
        // Every later request fetches its token (or sends Basic) from the stored credentials,
        // whatever it is: without this, an operation that passes no credentials to oci-client
        // (a blob HEAD, the first request of a push) would go anonymous and get 401.
        let resolved = oci_client::Reference::with_tag(registry.to_owned(), "_".into(), "_".into())
            .resolve_registry()
            .to_owned();
        client.store_auth_if_needed(&resolved, &auth).await;
        Ok(Arc::new(Host {
            registry: registry.to_owned(),
            client,
            auth,
            credential_source,
            permits: Semaphore::new(self.options.max_requests_per_host.max(1)),
        }))
    }

    /// For hosts allowed plain HTTP: should plain HTTP be used? Loopback hosts are tried over
    /// plain HTTP first (nothing leaves the machine, and most local registries speak it); hosts
    /// listed as insecure are tried over HTTPS first, as Docker does, and unlike Docker their
    /// certificate is still verified.
    async fn probe_plain_http(&self, registry: &str) -> Result<bool, StoreError> {
        let mut roots = Vec::new();
        for root in &self.roots {
            roots.extend(reqwest::Certificate::from_pem_bundle(&root.data).unwrap_or_default());
        }
        let probe = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(Duration::from_secs(30))
            .user_agent(USER_AGENT)
            .tls_certs_merge(roots)
            .build()
            .map_err(|e| StoreError::Unreachable {
                registry: registry.to_owned(),
                message: format!("cannot set up an HTTP client: {e}"),
            })?;
        let http = || probe.get(format!("http://{registry}/v2/")).send();
        let https = || probe.get(format!("https://{registry}/v2/")).send();
        // A registry answers /v2/ with 200, or 401 when it wants credentials; a TLS server spoken
        // to in plain HTTP answers 400.
        let is_registry =
            |response: &reqwest::Response| matches!(response.status().as_u16(), 200 | 401);

        if reference::is_loopback(registry) {
            let plain = match http().await {
                Ok(response) if is_registry(&response) => return Ok(true),
                Ok(response) => format!("it answered {} to /v2/", response.status()),
                Err(e) => root_cause(&e),
            };
            return match https().await {
                Ok(_) => Ok(false),
                Err(e) => Err(unreachable(registry, &root_cause(&e), &plain)),
            };
        }
        let secure = match https().await {
            Ok(_) => return Ok(false),
            Err(e) => root_cause(&e),
        };
        // A host that speaks TLS but whose certificate does not verify is never downgraded: that
        // is what an attacker in the middle would arrange.
        if secure.to_ascii_lowercase().contains("certificate") {
            return Err(unreachable(
                registry,
                &secure,
                "not tried, since the host speaks HTTPS",
            ));
        }
        match http().await {
            Ok(response) if is_registry(&response) => Ok(true),
            Ok(response) => Err(unreachable(
                registry,
                &secure,
                &format!("it answered {} to /v2/", response.status()),
            )),
            Err(e) => Err(unreachable(registry, &secure, &root_cause(&e))),
        }
    }
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
