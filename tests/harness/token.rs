//! A token service for the registry's bearer-token auth (`auth: token:`), the flow Docker Hub,
//! GHCR and most hosted registries use. Debian packages no token server, so this one stands in;
//! the registry itself verifies every token it issues (signature, issuer, audience, expiry,
//! access). Only [`super::registry::USER`] with [`super::registry::PASSWORD`] gets access.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use super::base64;
use super::registry::{PASSWORD, USER};

pub const ISSUER: &str = "multiarch-test-issuer";
pub const SERVICE: &str = "multiarch-test-registry";

pub struct TokenServer {
    pub realm: String,
    pub certificate: PathBuf,
    issued: Arc<AtomicUsize>,
}

impl TokenServer {
    pub fn start(dir: &Path) -> Self {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, ISSUER);
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = params.self_signed(&key).expect("certificate");
        let certificate = dir.join("token-issuer.pem");
        std::fs::write(&certificate, cert.pem()).expect("write certificate");
        let encoding =
            EncodingKey::from_ec_pem(key.serialize_pem().as_bytes()).expect("encoding key");
        let mut header = Header::new(Algorithm::ES256);
        header.x5c = Some(vec![base64(cert.der())]);

        let listener = TcpListener::bind("127.0.0.1:0").expect("token server port");
        let realm = format!("http://{}/token", listener.local_addr().expect("address"));
        let issued = Arc::new(AtomicUsize::new(0));
        let counter = issued.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (header, encoding, counter) =
                    (header.clone(), encoding.clone(), counter.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().expect("stream"));
                    let mut request_line = String::new();
                    let _ = reader.read_line(&mut request_line);
                    let mut authorized = false;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                            break;
                        }
                        if let Some(value) = line
                            .strip_prefix("Authorization: Basic ")
                            .or_else(|| line.strip_prefix("authorization: Basic "))
                        {
                            authorized =
                                value.trim() == base64(format!("{USER}:{PASSWORD}").as_bytes());
                        }
                    }
                    let path = request_line.split(' ').nth(1).unwrap_or_default();
                    let response = if authorized {
                        counter.fetch_add(1, Ordering::SeqCst);
                        let token = issue(&header, &encoding, path);
                        let body =
                            json!({"token": token, "access_token": token, "expires_in": 300})
                                .to_string();
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        )
                    } else {
                        "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned()
                    };
                    let mut stream = reader.into_inner();
                    let _ = stream.write_all(response.as_bytes());
                });
            }
        });
        TokenServer {
            realm,
            certificate,
            issued,
        }
    }

    /// Tokens issued so far.
    pub fn issued(&self) -> usize {
        self.issued.load(Ordering::SeqCst)
    }
}

/// A token granting every scope asked for in the query (`scope=repository:NAME:pull,push`).
fn issue(header: &Header, key: &EncodingKey, path: &str) -> String {
    let query = path.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let access: Vec<serde_json::Value> = query
        .split('&')
        .filter_map(|pair| pair.strip_prefix("scope="))
        .map(|scope| scope.replace("%3A", ":").replace("%2C", ",").replace("%2F", "/"))
        .filter_map(|scope| {
            let mut parts = scope.splitn(3, ':');
            let (kind, name, actions) = (parts.next()?, parts.next()?, parts.next()?);
            Some(json!({"type": kind, "name": name, "actions": actions.split(',').collect::<Vec<_>>()}))
        })
        .collect();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let claims = json!({
        "iss": ISSUER, "sub": USER, "aud": SERVICE,
        "exp": now + 300, "nbf": now - 10, "iat": now, "jti": format!("{now}-{}", rand_suffix()),
        "access": access,
    });
    jsonwebtoken::encode(header, &claims, key).expect("sign token")
}

fn rand_suffix() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_nanos()
}
