//! Turns oci-client's errors into [`StoreError`]s that say which registry, what operation and
//! what to do.

use oci_client::errors::{OciDistributionError, OciErrorCode};

use super::hosts::{Host, error_chain, root_cause};
use crate::store::StoreError;

/// What was being done, for messages: `("GET manifest", "tag `latest`")`.
pub(super) struct Operation<'a> {
    pub verb: &'a str,
    pub what: String,
    pub location: String,
    /// Whether the operation writes (for the "may they push?" hint).
    pub push: bool,
}

pub(super) fn map(host: &Host, op: &Operation<'_>, error: OciDistributionError) -> StoreError {
    let status = |status: u16, message: String| classify(host, op, status, message);
    match error {
        OciDistributionError::UnauthorizedError { .. } => status(401, String::new()),
        OciDistributionError::AuthenticationFailure(reason) => StoreError::Denied {
            registry: host.registry.clone(),
            location: op.location.clone(),
            status: 401,
            hint: format!(
                "its token service refused {}: {}",
                credentials(host),
                short(&reason)
            ),
        },
        OciDistributionError::RegistryError { envelope, .. } => {
            let code = envelope.errors.first().map(|e| &e.code);
            let message = envelope
                .errors
                .iter()
                .map(|e| e.message.clone())
                .collect::<Vec<_>>()
                .join("; ");
            let status_code = match code {
                Some(
                    OciErrorCode::ManifestUnknown
                    | OciErrorCode::BlobUnknown
                    | OciErrorCode::NameUnknown
                    | OciErrorCode::NotFound,
                ) => 404,
                Some(OciErrorCode::Unauthorized) => 401,
                Some(OciErrorCode::Denied) => 403,
                Some(OciErrorCode::Toomanyrequests) => 429,
                _ => 400,
            };
            status(status_code, message)
        }
        OciDistributionError::ServerError { code, message, .. } => status(code, message),
        OciDistributionError::RequestError(e) if e.is_connect() || e.is_timeout() => {
            StoreError::Unreachable {
                registry: host.registry.clone(),
                message: format!("{} {}: {}", op.verb, op.what, root_cause(&e)),
            }
        }
        OciDistributionError::RequestError(e) => StoreError::Read {
            location: op.location.clone(),
            what: op.what.clone(),
            message: error_chain(&e),
        },
        OciDistributionError::DigestError(e) => StoreError::DigestMismatch {
            location: op.location.clone(),
            what: op.what.clone(),
            expected: String::new(),
            actual: e.to_string(),
        },
        other => StoreError::Protocol {
            registry: host.registry.clone(),
            operation: format!("{} {}", op.verb, op.what),
            message: error_chain(&other),
        },
    }
}

fn classify(host: &Host, op: &Operation<'_>, status: u16, message: String) -> StoreError {
    match status {
        404 => StoreError::NotFound {
            location: op.location.clone(),
            what: op.what.clone(),
        },
        401 | 403 => StoreError::Denied {
            registry: host.registry.clone(),
            location: op.location.clone(),
            status,
            hint: match &host.credential_source {
                None => format!(
                    "no credentials were found for {}; log in (docker login / podman login) or pass --username and --password-stdin",
                    host.registry
                ),
                Some(_) => format!(
                    "{} did not let {} {} (check the password or token, and its scopes)",
                    host.registry,
                    credentials(host),
                    if op.push {
                        "push here"
                    } else {
                        "pull from here"
                    }
                ),
            },
        },
        _ => StoreError::Status {
            registry: host.registry.clone(),
            location: op.location.clone(),
            operation: format!("{} {}", op.verb, op.what),
            status,
            message: short(&message),
        },
    }
}

fn credentials(host: &Host) -> String {
    match &host.credential_source {
        Some(source) => format!("the credentials from {source}"),
        None => "anonymous access".to_owned(),
    }
}

/// Registry error bodies can be whole HTML pages; keep the start.
fn short(message: &str) -> String {
    let message = message.trim();
    match message.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &message[..cut]),
        None => message.to_owned(),
    }
}
