//! Turns registry answers and transport failures into [`StoreError`]s that say which registry, what operation and
//! what to do.

use super::hosts::{error_chain, root_cause};
use super::session::Host;
use crate::store::StoreError;

/// What was being done, for messages: `("GET manifest", "tag `latest`")`.
pub(super) struct Operation<'a> {
    pub verb: &'a str,
    pub what: String,
    pub location: String,
    /// Whether the operation writes (for the "may they push?" hint).
    pub push: bool,
}

impl Operation<'_> {
    /// `GET manifest tag `latest``, for messages and logs.
    pub fn describe(&self) -> String {
        format!("{} {}", self.verb, self.what)
    }
}

/// A request that got no answer: the host is unreachable, or the connection broke.
pub(super) fn transport(host: &Host, op: &Operation<'_>, error: &reqwest::Error) -> StoreError {
    if error.is_connect() || error.is_timeout() {
        StoreError::Unreachable {
            registry: host.registry.clone(),
            message: format!("{}: {}", op.describe(), root_cause(error)),
        }
    } else {
        StoreError::Read {
            location: op.location.clone(),
            what: op.what.clone(),
            message: error_chain(error),
        }
    }
}

/// The error an unexpected answer stands for, with the registry's own words from its body.
pub(super) async fn from_response(
    host: &Host,
    op: &Operation<'_>,
    response: reqwest::Response,
) -> StoreError {
    let status = response.status().as_u16();
    let body = read_some(response).await;
    let message = match serde_json::from_slice::<Envelope>(&body) {
        Ok(envelope) if !envelope.errors.is_empty() => envelope
            .errors
            .iter()
            .map(|e| match e.message.as_deref() {
                Some(message) if !message.is_empty() => format!("{}: {message}", e.code),
                _ => e.code.clone(),
            })
            .collect::<Vec<_>>()
            .join("; "),
        _ => String::from_utf8_lossy(&body).into_owned(),
    };
    classify(host, op, status, message)
}

/// The token service refused the credentials (or anonymous access).
pub(super) fn token_refused(host: &Host, status: reqwest::StatusCode, push: bool) -> StoreError {
    let hint = match &host.credential_source {
        None => no_credentials(host),
        Some(_) => format!(
            "{} did not let {} {} (its token service answered HTTP {status}; check the password or token, and its scopes)",
            host.registry,
            credentials(host),
            if push { "push here" } else { "pull from here" }
        ),
    };
    StoreError::Denied {
        registry: host.registry.clone(),
        location: host.registry.clone(),
        status: status.as_u16(),
        hint,
    }
}

fn no_credentials(host: &Host) -> String {
    format!(
        "no credentials were found for {}; log in (docker login / podman login) or pass --username and --password-stdin",
        host.registry
    )
}

/// The registry's error body (`{"errors":[{"code":…,"message":…}]}`).
#[derive(serde::Deserialize)]
struct Envelope {
    #[serde(default)]
    errors: Vec<EnvelopeError>,
}

#[derive(serde::Deserialize)]
struct EnvelopeError {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: Option<String>,
}

/// The start of an error body: enough for a message, never a whole page.
async fn read_some(mut response: reqwest::Response) -> Vec<u8> {
    const LIMIT: usize = 16 * 1024;
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() >= LIMIT {
            body.truncate(LIMIT);
            break;
        }
    }
    body
}

fn classify(host: &Host, op: &Operation<'_>, status: u16, message: String) -> StoreError {
    let said = short(&message);
    let said = if said.is_empty() {
        String::new()
    } else {
        format!("; it said: {said}")
    };
    match status {
        // A write refused with 404 is about the repository, not the content (ECR and Harbor
        // answer so for a repository or project that doesn't exist).
        404 if op.push => StoreError::Status {
            registry: host.registry.clone(),
            location: op.location.clone(),
            operation: op.describe(),
            status,
            message: format!(
                "{} (does the repository exist? some registries want it created before the first push)",
                short(&message)
            ),
        },
        404 => StoreError::NotFound {
            location: op.location.clone(),
            what: op.what.clone(),
        },
        401 | 403 => StoreError::Denied {
            registry: host.registry.clone(),
            location: op.location.clone(),
            status,
            hint: match &host.credential_source {
                None => format!("{}{said}", no_credentials(host)),
                Some(_) => format!(
                    "{} did not let {} {} (check the password or token, and its scopes){said}",
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
