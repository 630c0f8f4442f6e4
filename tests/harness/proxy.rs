//! An HTTP proxy in front of a real registry that can rewrite responses, to reproduce registries
//! that behave differently from the reference one (e.g. ECR answering a manifest PUT without a
//! `Location` header). Requests and bodies pass through unchanged, `Host` included.

use std::net::SocketAddr;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};

/// Rewrites a response, given the request's method and path.
pub type Rewrite = fn(&hyper::Method, &str, &mut Response<Incoming>);

pub struct Proxy {
    /// `127.0.0.1:PORT`
    pub host: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Proxy {
    pub fn start(upstream: &str, rewrite: Rewrite) -> Self {
        let upstream = upstream.to_owned();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<SocketAddr>();
        let (shutdown, mut stop) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("proxy port");
                ready_tx.send(listener.local_addr().expect("address")).expect("report address");
                let client: Client<HttpConnector, Incoming> = Client::builder(TokioExecutor::new()).build_http();
                loop {
                    let (stream, _) = tokio::select! {
                        accepted = listener.accept() => match accepted { Ok(a) => a, Err(_) => continue },
                        _ = &mut stop => return,
                    };
                    let (client, upstream) = (client.clone(), upstream.clone());
                    tokio::spawn(async move {
                        let service = service_fn(move |request: Request<Incoming>| {
                            let (client, upstream) = (client.clone(), upstream.clone());
                            async move {
                                let (method, path) = (request.method().clone(), request.uri().path().to_owned());
                                let (mut parts, body) = request.into_parts();
                                let path_and_query = parts.uri.path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
                                parts.uri = format!("http://{upstream}{path_and_query}").parse().expect("upstream uri");
                                let mut response = client.request(Request::from_parts(parts, body)).await?;
                                rewrite(&method, &path, &mut response);
                                Ok::<_, hyper_util::client::legacy::Error>(response)
                            }
                        });
                        let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                    });
                }
            });
        });
        let address = ready_rx.recv().expect("proxy started");
        Proxy {
            host: address.to_string(),
            shutdown: Some(shutdown),
        }
    }

    /// `HOST/REPO[:TAG]` through this proxy.
    pub fn at(&self, repo: &str) -> String {
        format!("{}/{repo}", self.host)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// ECR's habit: a manifest PUT answered `201` with no `Location`.
pub fn strip_manifest_location(
    method: &hyper::Method,
    path: &str,
    response: &mut Response<Incoming>,
) {
    if method == hyper::Method::PUT && path.contains("/manifests/") {
        response.headers_mut().remove(hyper::header::LOCATION);
    }
}
