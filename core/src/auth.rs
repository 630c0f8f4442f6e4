//! Registry credentials: command-line, containers' `auth.json`, Docker's `config.json` and
//! credential helpers. Secrets live in [`Secret`], which never prints.
//!
//! Lookup order, first match wins (as podman and skopeo do):
//! 1. `--username` + `--password-stdin` (or `MULTIARCH_PASSWORD`), for the registry they were given for;
//! 2. `$REGISTRY_AUTH_FILE`;
//! 3. `$XDG_RUNTIME_DIR/containers/auth.json`;
//! 4. `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json` (with `credsStore`/`credHelpers`).

use std::fmt;
use std::path::{Path, PathBuf};

use docker_credential::{CredentialRetrievalError, DockerCredential};

/// A secret string. Its `Debug` and `Display` print `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A username and password for one registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub username: String,
    pub password: Secret,
}

/// Credentials given on the command line, for one registry.
#[derive(Debug, Clone)]
pub struct ExplicitCredentials {
    pub registry: String,
    pub credential: Credential,
}

/// Where a credential came from, for messages ("refused the credentials from …").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    CommandLine,
    File(PathBuf),
}

impl fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialSource::CommandLine => f.write_str("--username/--password-stdin"),
            CredentialSource::File(path) => write!(f, "{}", path.display()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Found {
    pub credential: Credential,
    pub source: CredentialSource,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("cannot read auth file {path}: {reason}; fix the file or remove it")]
    Unreadable { path: PathBuf, reason: String },
    #[error(
        "the credential helper for {registry} (configured in {path}) failed: {message}; run it by hand (`echo {registry} | docker-credential-{helper} get`) to see why"
    )]
    Helper {
        registry: String,
        path: PathBuf,
        /// The helper's name, as configured (`docker-credential-NAME`).
        helper: String,
        message: String,
    },
    #[error(
        "{path} holds an identity token for {registry}, which multiarch cannot use; log in with a username and password, or pass --username and --password-stdin"
    )]
    IdentityToken { registry: String, path: PathBuf },
}

/// The auth files to consult, in order. Files that do not exist are skipped by [`lookup`].
pub fn auth_files() -> Vec<PathBuf> {
    let env = |name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let mut files = Vec::new();
    files.extend(env("REGISTRY_AUTH_FILE"));
    files.extend(env("XDG_RUNTIME_DIR").map(|d| d.join("containers/auth.json")));
    match env("DOCKER_CONFIG") {
        Some(dir) => files.push(dir.join("config.json")),
        None => files.extend(env("HOME").map(|h| h.join(".docker/config.json"))),
    }
    files
}

/// The key auth files use for a registry (Docker Hub's is historical).
fn auth_key(registry: &str) -> &str {
    match registry {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => "https://index.docker.io/v1/",
        other => other,
    }
}

/// Finds the credential for `registry`. `Ok(None)` means anonymous access.
pub fn lookup(
    registry: &str,
    explicit: Option<&ExplicitCredentials>,
    files: &[PathBuf],
) -> Result<Option<Found>, AuthError> {
    if let Some(explicit) = explicit.filter(|e| e.registry == registry) {
        return Ok(Some(Found {
            credential: explicit.credential.clone(),
            source: CredentialSource::CommandLine,
        }));
    }
    for path in files {
        if let Some(found) = lookup_in_file(registry, path)? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

fn lookup_in_file(registry: &str, path: &Path) -> Result<Option<Found>, AuthError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(AuthError::Unreadable {
                path: path.to_owned(),
                reason: e.to_string(),
            });
        }
    };
    // docker_credential reports any parse failure as "unable to read config"; say where instead.
    let config = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(config) => config,
        Err(e) => {
            return Err(AuthError::Unreadable {
                path: path.to_owned(),
                reason: format!("not valid JSON ({e})"),
            });
        }
    };
    let key = auth_key(registry);
    let helper = config["credHelpers"][key]
        .as_str()
        .or(config["credsStore"].as_str())
        .unwrap_or("NAME")
        .to_owned();
    match docker_credential::get_credential_from_reader(bytes.as_slice(), key) {
        Ok(DockerCredential::UsernamePassword(username, password)) => Ok(Some(Found {
            credential: Credential {
                username,
                password: Secret::new(password),
            },
            source: CredentialSource::File(path.to_owned()),
        })),
        Ok(DockerCredential::IdentityToken(_)) => Err(AuthError::IdentityToken {
            registry: registry.to_owned(),
            path: path.to_owned(),
        }),
        Err(CredentialRetrievalError::NoCredentialConfigured) => Ok(None),
        // Helpers answer "credentials not found" for registries they hold nothing for.
        Err(CredentialRetrievalError::HelperFailure { stdout, .. })
            if stdout
                .to_ascii_lowercase()
                .contains("credentials not found") =>
        {
            Ok(None)
        }
        Err(CredentialRetrievalError::HelperFailure {
            helper: program,
            stderr,
            ..
        }) => Err(AuthError::Helper {
            registry: registry.to_owned(),
            path: path.to_owned(),
            helper,
            message: format!("{program} exited with an error: {}", stderr.trim()),
        }),
        Err(CredentialRetrievalError::HelperCommunicationError) => Err(AuthError::Helper {
            registry: registry.to_owned(),
            path: path.to_owned(),
            message: format!(
                "could not run it, or it exited before reading the request (is docker-credential-{helper} on PATH and executable?)"
            ),
            helper,
        }),
        Err(CredentialRetrievalError::MalformedHelperResponse) => Err(AuthError::Helper {
            registry: registry.to_owned(),
            path: path.to_owned(),
            helper,
            message: "its answer was not the expected JSON".to_owned(),
        }),
        Err(other) => Err(AuthError::Unreadable {
            path: path.to_owned(),
            reason: other.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    #[test]
    fn secrets_never_print() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?} {secret}"), "<redacted> <redacted>");
        let credential = Credential {
            username: "u".into(),
            password: secret,
        };
        assert!(!format!("{credential:?}").contains("hunter2"));
    }

    #[test]
    fn first_file_with_an_entry_wins() {
        let dir = tempfile::tempdir().unwrap();
        // "user:pass" and "other:secret", base64.
        let a = write(
            dir.path(),
            "a.json",
            r#"{"auths":{"ghcr.io":{"auth":"dXNlcjpwYXNz"}}}"#,
        );
        let b = write(
            dir.path(),
            "b.json",
            r#"{"auths":{"ghcr.io":{"auth":"b3RoZXI6c2VjcmV0"},"quay.io":{"auth":"b3RoZXI6c2VjcmV0"}}}"#,
        );
        let missing = dir.path().join("missing.json");
        let files = [missing, a.clone(), b.clone()];
        let found = lookup("ghcr.io", None, &files).unwrap().unwrap();
        assert_eq!(found.credential.username, "user");
        assert_eq!(found.credential.password.expose(), "pass");
        assert_eq!(found.source, CredentialSource::File(a));
        let found = lookup("quay.io", None, &files).unwrap().unwrap();
        assert_eq!(found.source, CredentialSource::File(b));
        assert!(lookup("docker.io", None, &files).unwrap().is_none());
    }

    #[test]
    fn docker_hub_uses_its_historical_key() {
        let dir = tempfile::tempdir().unwrap();
        let f = write(
            dir.path(),
            "c.json",
            r#"{"auths":{"https://index.docker.io/v1/":{"auth":"dXNlcjpwYXNz"}}}"#,
        );
        assert!(lookup("docker.io", None, &[f]).unwrap().is_some());
    }

    #[test]
    fn explicit_credentials_apply_to_their_registry_only() {
        let explicit = ExplicitCredentials {
            registry: "ghcr.io".into(),
            credential: Credential {
                username: "me".into(),
                password: Secret::new("pw"),
            },
        };
        let found = lookup("ghcr.io", Some(&explicit), &[]).unwrap().unwrap();
        assert_eq!(found.source, CredentialSource::CommandLine);
        assert!(lookup("quay.io", Some(&explicit), &[]).unwrap().is_none());
    }

    #[test]
    fn broken_files_and_helpers_are_errors_not_anonymous() {
        let dir = tempfile::tempdir().unwrap();
        let bad = write(dir.path(), "bad.json", "{not json");
        let err = lookup("ghcr.io", None, &[bad]).unwrap_err().to_string();
        assert!(err.contains("not valid JSON"), "{err}");
        let helper = write(
            dir.path(),
            "h.json",
            r#"{"credHelpers":{"ghcr.io":"definitely-not-installed"}}"#,
        );
        let err = lookup("ghcr.io", None, &[helper]).unwrap_err().to_string();
        assert!(err.contains("credential helper for ghcr.io"), "{err}");
        assert!(
            err.contains("docker-credential-definitely-not-installed get"),
            "the helper is named: {err}"
        );
    }
}
