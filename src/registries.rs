//! Turns the global options into the core's registry settings: insecure hosts, CA files,
//! credentials, retries and the bound on requests in flight. Passwords come from stdin or
//! MULTIARCH_PASSWORD, never from arguments.

use std::io::Read;
use std::time::Duration;

use anyhow::{Context, Result};
use multiarch_core::auth::{self, Credential, ExplicitCredentials, Secret};
use multiarch_core::reference::Location;
use multiarch_core::store::{Registries, RegistryOptions, RetryPolicy};

use crate::UsageError;
use crate::cli::GlobalArgs;

const PASSWORD_ENV: &str = "MULTIARCH_PASSWORD";

/// Builds the registries for a command whose main registry is that of `primary` (where
/// --username applies).
pub fn connect(global: &GlobalArgs, primary: &Location) -> Result<Registries> {
    let options = RegistryOptions {
        explicit: explicit_credentials(global, primary)?,
        ..options(global)
    };
    Ok(Registries::new(options)?)
}

/// The registry settings of the global options, without explicit credentials (the CI adapters
/// take those from their own inputs).
pub fn options(global: &GlobalArgs) -> RegistryOptions {
    let mut ca_files = global.ca_files.clone();
    if let Some(path) = std::env::var_os("SSL_CERT_FILE").filter(|p| !p.is_empty()) {
        ca_files.push(path.into());
    }
    RegistryOptions {
        insecure: global
            .insecure_registries
            .iter()
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .collect(),
        ca_files,
        explicit: None,
        auth_files: auth::auth_files(),
        max_requests_per_host: global.max_connections as usize,
        retry: RetryPolicy {
            retries: global.retries,
            max_time: Duration::from_secs(global.retry_max_time),
            first_delay: Duration::from_millis(global.retry_delay),
        },
    }
}

fn explicit_credentials(
    global: &GlobalArgs,
    primary: &Location,
) -> Result<Option<ExplicitCredentials>> {
    let from_env = std::env::var(PASSWORD_ENV).ok().filter(|p| !p.is_empty());
    let username = match (&global.username, global.password_stdin) {
        (None, false) => return Ok(None),
        (None, true) => {
            return Err(UsageError::new(
                "--password-stdin needs --username (or MULTIARCH_USERNAME)",
            )
            .into());
        }
        (Some(username), _) => username.clone(),
    };
    let password = if global.password_stdin {
        let mut password = String::new();
        std::io::stdin()
            .read_to_string(&mut password)
            .context("reading the password from standard input")?;
        password.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        from_env.ok_or_else(|| {
            UsageError::new(format!(
                "--username {username} needs a password: pipe it to --password-stdin, or set {PASSWORD_ENV}"
            ))
        })?
    };
    if password.is_empty() {
        return Err(UsageError::new("the password read for --username is empty").into());
    }
    let Some(registry) = primary.registry() else {
        tracing::warn!("--username is ignored: {primary} is an OCI layout, not a registry");
        return Ok(None);
    };
    Ok(Some(ExplicitCredentials {
        registry: registry.to_owned(),
        credential: Credential {
            username,
            password: Secret::new(password),
        },
    }))
}
