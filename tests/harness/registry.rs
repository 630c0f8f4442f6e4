//! A real registry (Debian's `docker-registry`, the reference distribution registry) on a free
//! loopback port with its own storage, optionally with htpasswd auth and TLS.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::tls::{self, Certs};
use super::token::{self, TokenServer};

pub const USER: &str = "ci-bot";
pub const PASSWORD: &str = "s3cr3t-Pa55word-for-tests";

#[derive(Debug, Default, Clone, Copy)]
pub struct Options {
    /// htpasswd basic auth with [`USER`] / [`PASSWORD`].
    pub auth: bool,
    /// TLS with a CA made for this registry (see [`Registry::ca`]).
    pub tls: bool,
    /// Bearer-token auth through a token service that grants [`USER`] / [`PASSWORD`].
    pub token: bool,
}

pub struct Registry {
    /// `127.0.0.1:PORT`
    pub host: String,
    child: Child,
    log: PathBuf,
    certs: Option<Certs>,
    token: Option<TokenServer>,
    _dir: tempfile::TempDir,
}

/// One request from the registry's access log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub status: u16,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

impl Registry {
    pub fn start() -> Self {
        Self::start_with(Options::default())
    }

    pub fn start_with(options: Options) -> Self {
        let dir = tempfile::tempdir().expect("registry dir");
        let port = free_port();
        let host = format!("127.0.0.1:{port}");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {host}\n  secret: multiarch-tests\n",
            dir.path().join("data").display()
        );
        let certs = options.tls.then(|| tls::make(dir.path()));
        if let Some(certs) = &certs {
            config.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                certs.cert.display(),
                certs.key.display()
            ));
        }
        if options.auth {
            let htpasswd = dir.path().join("htpasswd");
            std::fs::write(&htpasswd, tls::htpasswd_line(USER, PASSWORD)).expect("write htpasswd");
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: multiarch-tests\n    path: {}\n",
                htpasswd.display()
            ));
        }
        let token = options.token.then(|| TokenServer::start(dir.path()));
        if let Some(token) = &token {
            config.push_str(&format!(
                "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
                token.realm,
                token::SERVICE,
                token::ISSUER,
                token.certificate.display()
            ));
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).expect("write registry config");
        let log = dir.path().join("registry.log");
        let log_file = std::fs::File::create(&log).expect("registry log");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config_path)
            .stdout(Stdio::from(log_file.try_clone().expect("log handle")))
            .stderr(Stdio::from(log_file))
            .spawn()
            .expect(
                "start docker-registry (the test script installs Debian's docker-registry package)",
            );
        let registry = Registry {
            host,
            child,
            log,
            certs,
            token,
            _dir: dir,
        };
        registry.wait_until_listening();
        registry
    }

    fn wait_until_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if TcpStream::connect(&self.host).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "docker-registry did not start on {}:\n{}",
            self.host,
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }

    /// `HOST/REPO[:TAG]` in this registry.
    pub fn at(&self, repo: &str) -> String {
        format!("{}/{repo}", self.host)
    }

    /// The CA that signed this registry's certificate.
    pub fn ca(&self) -> PathBuf {
        self.certs.as_ref().expect("a TLS registry").ca.clone()
    }

    /// Bearer tokens the token service has issued so far.
    pub fn tokens_issued(&self) -> usize {
        self.token.as_ref().expect("a token-auth registry").issued()
    }

    /// Every request the registry has logged so far, oldest first.
    pub fn requests(&self) -> Vec<Request> {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        log.lines()
            .filter_map(|line| {
                // 127.0.0.1 - - [date] "GET /v2/ HTTP/1.1" 200 2 "" "agent"
                let request = line.split('"').nth(1)?;
                let mut parts = request.split(' ');
                let (method, path) = (parts.next()?, parts.next()?);
                let status = line
                    .split('"')
                    .nth(2)?
                    .split_whitespace()
                    .next()?
                    .parse()
                    .ok()?;
                Some(Request {
                    method: method.to_owned(),
                    path: path.to_owned(),
                    status,
                })
            })
            .collect()
    }

    /// Requests logged after the first `since`, leaving out the clients' `/v2/` checks.
    pub fn requests_since(&self, since: usize) -> Vec<Request> {
        self.requests()
            .into_iter()
            .skip(since)
            .filter(|r| r.path != "/v2/")
            .collect()
    }

    /// Requests after the first `since` that change something (PUT, POST, PATCH, DELETE).
    pub fn writes_since(&self, since: usize) -> Vec<Request> {
        self.requests_since(since)
            .into_iter()
            .filter(|r| matches!(r.method.as_str(), "PUT" | "POST" | "PATCH" | "DELETE"))
            .collect()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
