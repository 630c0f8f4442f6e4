//! Credentials on the wire: Basic, or bearer tokens fetched from the registry's token service
//! per scope and cached until they expire. A token the registry stops accepting is dropped and
//! fetched again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::prelude::BASE64_STANDARD;
use reqwest::header::HeaderValue;
use serde::Deserialize;

use super::challenge::Challenge;
use crate::auth::Credential;

/// Tokens are used until this long before they expire.
const EXPIRY_MARGIN: Duration = Duration::from_secs(10);
/// The lifetime the token specification gives tokens that don't state one.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(60);

/// The access one request needs: `repository:NAME:pull` or `…:pull,push`, plus
/// `repository:SOURCE:pull` for a cross-repository mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Scope(Vec<String>);

impl Scope {
    pub fn pull(name: &str) -> Self {
        Scope(vec![format!("repository:{name}:pull")])
    }

    pub fn push(name: &str) -> Self {
        Scope(vec![format!("repository:{name}:pull,push")])
    }

    pub fn mount(name: &str, from: &str) -> Self {
        Scope(vec![
            format!("repository:{name}:pull,push"),
            format!("repository:{from}:pull"),
        ])
    }

    fn key(&self) -> String {
        self.0.join(" ")
    }

    pub fn items(&self) -> &[String] {
        &self.0
    }
}

/// A token, kept until shortly before it expires.
#[derive(Clone)]
pub(super) struct Token {
    pub header: HeaderValue,
    expires: Instant,
}

impl Token {
    pub fn new(value: &str, lifetime: Option<Duration>) -> Option<Self> {
        let mut header = HeaderValue::from_str(&format!("Bearer {value}")).ok()?;
        header.set_sensitive(true);
        let lifetime = lifetime.unwrap_or(DEFAULT_LIFETIME);
        Some(Token {
            header,
            expires: Instant::now() + lifetime.saturating_sub(EXPIRY_MARGIN),
        })
    }

    fn is_fresh(&self) -> bool {
        Instant::now() < self.expires
    }
}

/// The answer of a token service (`token`, or OAuth2's `access_token`).
#[derive(Deserialize)]
pub(super) struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl TokenResponse {
    pub fn into_token(self) -> Option<Token> {
        let value = self.token.or(self.access_token).filter(|t| !t.is_empty())?;
        Token::new(&value, self.expires_in.map(Duration::from_secs))
    }
}

type Slot = Arc<tokio::sync::Mutex<Option<Token>>>;

/// One host's credentials and what it asked for.
pub(super) struct Auth {
    pub credential: Option<Credential>,
    challenge: Mutex<Option<Challenge>>,
    tokens: Mutex<HashMap<String, Slot>>,
}

impl Auth {
    pub fn new(credential: Option<Credential>) -> Self {
        Auth {
            credential,
            challenge: Mutex::new(None),
            tokens: Mutex::new(HashMap::new()),
        }
    }

    pub fn challenge(&self) -> Option<Challenge> {
        self.challenge
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Remembers how the registry wants to be authenticated (from a 401).
    pub fn learn(&self, challenge: Challenge) {
        let mut known = self
            .challenge
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // A request-specific scope is not part of what the host wants in general.
        let challenge = match challenge {
            Challenge::Bearer { realm, service, .. } => Challenge::Bearer {
                realm,
                service,
                scope: None,
            },
            basic => basic,
        };
        *known = Some(challenge);
    }

    /// The `Authorization: Basic` value, when there are credentials.
    pub fn basic(&self) -> Option<HeaderValue> {
        let credential = self.credential.as_ref()?;
        let encoded = BASE64_STANDARD.encode(format!(
            "{}:{}",
            credential.username,
            credential.password.expose()
        ));
        let mut header = HeaderValue::from_str(&format!("Basic {encoded}")).ok()?;
        header.set_sensitive(true);
        Some(header)
    }

    /// The cache slot for a scope; callers hold its lock while fetching, so that concurrent
    /// requests for one scope wait for one token instead of each fetching their own.
    pub fn slot(&self, scope: &Scope) -> Slot {
        self.tokens
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(scope.key())
            .or_default()
            .clone()
    }

    /// The cached token in a slot, if it is still fresh.
    pub fn cached_in(token: &Option<Token>) -> Option<HeaderValue> {
        token
            .as_ref()
            .filter(|t| t.is_fresh())
            .map(|t| t.header.clone())
    }

    /// Forgets the token for `scope` if it is still `sent` (the registry refused it).
    pub async fn invalidate(&self, scope: &Scope, sent: &HeaderValue) {
        let slot = self.slot(scope);
        let mut token = slot.lock().await;
        if token.as_ref().is_some_and(|t| t.header == *sent) {
            *token = None;
        }
    }
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field(
                "user",
                &self.credential.as_ref().map(|c| c.username.as_str()),
            )
            .field("challenge", &self.challenge())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Secret;

    #[test]
    fn basic_credentials_are_sensitive() {
        let auth = Auth::new(Some(Credential {
            username: "user".into(),
            password: Secret::new("pa ss"),
        }));
        let header = auth.basic().unwrap();
        assert_eq!(header.to_str().unwrap(), "Basic dXNlcjpwYSBzcw==");
        assert!(header.is_sensitive());
        assert!(!format!("{auth:?}").contains("pa ss"));
        assert!(Auth::new(None).basic().is_none());
    }

    #[test]
    fn token_answers() {
        let parse = |json: &str| {
            serde_json::from_str::<TokenResponse>(json)
                .unwrap()
                .into_token()
                .map(|t| t.header.to_str().unwrap().to_owned())
        };
        assert_eq!(parse(r#"{"token":"abc"}"#).as_deref(), Some("Bearer abc"));
        assert_eq!(
            parse(r#"{"access_token":"xyz","expires_in":300}"#).as_deref(),
            Some("Bearer xyz")
        );
        assert_eq!(parse(r#"{"token":""}"#), None);
        assert_eq!(parse(r#"{}"#), None);
    }

    #[test]
    fn scopes() {
        assert_eq!(Scope::pull("a/b").items(), ["repository:a/b:pull"]);
        assert_eq!(Scope::push("a").items(), ["repository:a:pull,push"]);
        assert_eq!(
            Scope::mount("a", "b").items(),
            ["repository:a:pull,push", "repository:b:pull"]
        );
    }

    #[tokio::test]
    async fn a_refused_token_is_dropped_once() {
        let auth = Auth::new(None);
        let scope = Scope::pull("app");
        let slot = auth.slot(&scope);
        let token = Token::new("t1", Some(Duration::from_secs(300))).unwrap();
        *slot.lock().await = Some(token.clone());
        assert_eq!(
            Auth::cached_in(&*slot.lock().await),
            Some(token.header.clone())
        );
        let other = Token::new("t2", None).unwrap();
        auth.invalidate(&scope, &other.header).await;
        assert!(
            Auth::cached_in(&*slot.lock().await).is_some(),
            "another token is not this one"
        );
        auth.invalidate(&scope, &token.header).await;
        assert!(Auth::cached_in(&*slot.lock().await).is_none());
        let expired = Token::new("t3", Some(Duration::from_secs(5))).unwrap();
        *slot.lock().await = Some(expired);
        assert!(
            Auth::cached_in(&*slot.lock().await).is_none(),
            "inside the expiry margin"
        );
    }
}
