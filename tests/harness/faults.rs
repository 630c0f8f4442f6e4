//! A fault-injecting HTTP proxy in front of a real registry: a share of the requests is answered
//! with an error status (without reaching the registry), cut off mid-response-body, or dropped
//! mid-request-body, and every request can be delayed. `Host` is forwarded unchanged, so the
//! registry's `Location` URLs keep pointing at the proxy.
//!
//! Faults are drawn from a seeded generator, so a run is reproducible for a given seed and a given
//! order of arrival (requests that race each other may arrive in another order). The proxy counts
//! requests, faults by kind and the peak number of requests in flight at once.

use std::error::Error;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::BodyExt as _;
use hyper::body::{Body as HttpBody, Bytes, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};

type BoxError = Box<dyn Error + Send + Sync>;

/// One kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `503 Service Unavailable`, answered by the proxy.
    Status503,
    /// `429 Too Many Requests` with `Retry-After: 0`, answered by the proxy.
    Status429,
    /// `500 Internal Server Error`, answered by the proxy.
    Status500,
    /// `502 Bad Gateway`, answered by the proxy.
    Status502,
    /// The request is forwarded; the response's headers and the first half of its body are sent,
    /// then the connection is dropped. Only for GET (the requests whose responses have bodies).
    ResetResponseBody,
    /// Part of the request's body is read, then the connection is dropped without forwarding.
    /// Only for requests with a body (uploads, manifest PUTs).
    ResetRequestBody,
}

impl Fault {
    pub const ALL: [Fault; 6] = [
        Fault::Status503,
        Fault::Status429,
        Fault::Status500,
        Fault::Status502,
        Fault::ResetResponseBody,
        Fault::ResetRequestBody,
    ];

    fn index(self) -> usize {
        Fault::ALL
            .iter()
            .position(|f| *f == self)
            .expect("every fault is in ALL")
    }

    fn status(self) -> Option<StatusCode> {
        match self {
            Fault::Status503 => Some(StatusCode::SERVICE_UNAVAILABLE),
            Fault::Status429 => Some(StatusCode::TOO_MANY_REQUESTS),
            Fault::Status500 => Some(StatusCode::INTERNAL_SERVER_ERROR),
            Fault::Status502 => Some(StatusCode::BAD_GATEWAY),
            Fault::ResetResponseBody | Fault::ResetRequestBody => None,
        }
    }

    fn applies_to(self, method: &Method, has_body: bool) -> bool {
        match self {
            Fault::ResetResponseBody => method == Method::GET,
            Fault::ResetRequestBody => has_body,
            _ => true,
        }
    }
}

/// What the proxy does.
#[derive(Debug, Clone)]
pub struct Config {
    /// Share of requests that get a fault, 0.0 to 1.0.
    pub rate: f64,
    /// The kinds of faults to draw from (each request draws among those that apply to it).
    pub faults: Vec<Fault>,
    /// Added before each request is handled.
    pub latency: Duration,
    pub seed: u64,
}

impl Config {
    /// Every kind of fault at `rate`, no latency.
    pub fn all(rate: f64, seed: u64) -> Self {
        Config {
            rate,
            faults: Fault::ALL.to_vec(),
            latency: Duration::ZERO,
            seed,
        }
    }

    /// No faults at all: a plain proxy that counts (and may delay).
    pub fn none() -> Self {
        Config::all(0.0, 1)
    }
}

/// xorshift64*: tiny, seedable, good enough to pick faults.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        // Zero is xorshift's one fixed point.
        Rng(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Default)]
struct Counters {
    requests: AtomicUsize,
    faults: [AtomicUsize; Fault::ALL.len()],
    in_flight: AtomicUsize,
    peak_in_flight: AtomicUsize,
}

/// Counts one request as in flight until dropped.
struct InFlight(Arc<Counters>);

impl InFlight {
    fn enter(counters: &Arc<Counters>) -> Self {
        let now = counters.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        counters.peak_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(counters.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

struct Shared {
    config: Config,
    rng: Mutex<Rng>,
    counters: Arc<Counters>,
    upstream: String,
    client: Client<HttpConnector, Incoming>,
}

impl Shared {
    fn draw(&self, method: &Method, has_body: bool) -> Option<Fault> {
        let mut rng = self.rng.lock().expect("rng lock");
        if rng.unit() >= self.config.rate {
            return None;
        }
        let applicable: Vec<Fault> = self
            .config
            .faults
            .iter()
            .copied()
            .filter(|f| f.applies_to(method, has_body))
            .collect();
        if applicable.is_empty() {
            return None;
        }
        Some(applicable[(rng.next() % applicable.len() as u64) as usize])
    }

    fn count(&self, fault: Fault) {
        self.counters.faults[fault.index()].fetch_add(1, Ordering::SeqCst);
    }
}

/// A response body: the registry's, or the proxy's own. It may be cut off after `limit` bytes,
/// and it ends the request's time in flight when it ends (before its last bytes are written, so a
/// client cannot see the end before the count drops).
struct ProxyBody {
    inner: Inner,
    limit: Option<u64>,
    sent: u64,
    flushed: bool,
    in_flight: Option<InFlight>,
}

enum Inner {
    Own(Option<Bytes>),
    Upstream(Incoming),
}

impl HttpBody for ProxyBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if this.limit.is_some_and(|limit| this.sent >= limit) {
            this.in_flight = None;
            // hyper drops what it has not written yet when a body fails: pause once, so the
            // headers and the first part of the body are flushed before the connection drops.
            if !this.flushed {
                this.flushed = true;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            return Poll::Ready(Some(
                Err("fault injected: connection reset mid-body".into()),
            ));
        }
        let frame = match &mut this.inner {
            Inner::Own(bytes) => bytes.take().map(|b| Ok(Frame::data(b))),
            Inner::Upstream(incoming) => match Pin::new(incoming).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(frame) => frame.map(|f| f.map_err(BoxError::from)),
            },
        };
        let frame = match (frame, this.limit) {
            (Some(Ok(frame)), Some(limit)) => Some(Ok(match frame.into_data() {
                Ok(mut data) => {
                    let room = usize::try_from(limit - this.sent).unwrap_or(usize::MAX);
                    data.truncate(room);
                    this.sent += data.len() as u64;
                    Frame::data(data)
                }
                Err(frame) => frame,
            })),
            (frame, _) => frame,
        };
        if !matches!(frame, Some(Ok(_))) || this.inner_ended() {
            this.in_flight = None;
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.limit.is_none() && self.inner_ended()
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Inner::Own(Some(bytes)) => SizeHint::with_exact(bytes.len() as u64),
            Inner::Own(None) => SizeHint::with_exact(0),
            Inner::Upstream(incoming) => incoming.size_hint(),
        }
    }
}

impl ProxyBody {
    fn inner_ended(&self) -> bool {
        match &self.inner {
            Inner::Own(bytes) => bytes.is_none(),
            Inner::Upstream(incoming) => incoming.is_end_stream(),
        }
    }
}

pub struct FaultProxy {
    /// `127.0.0.1:PORT`
    pub host: String,
    counters: Arc<Counters>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl FaultProxy {
    /// A proxy on a free loopback port in front of `upstream` (`127.0.0.1:PORT`).
    pub fn start(upstream: &str, config: Config) -> Self {
        assert!(
            (0.0..=1.0).contains(&config.rate),
            "fault rate {} is not within 0.0 to 1.0",
            config.rate
        );
        let counters = Arc::new(Counters::default());
        let shared = Arc::new(Shared {
            rng: Mutex::new(Rng::new(config.seed)),
            config,
            counters: counters.clone(),
            upstream: upstream.to_owned(),
            client: Client::builder(TokioExecutor::new()).build_http(),
        });
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<SocketAddr>();
        let (shutdown, mut stop) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("proxy port");
                ready_tx
                    .send(listener.local_addr().expect("address"))
                    .expect("report address");
                loop {
                    let (stream, _) = tokio::select! {
                        accepted = listener.accept() => match accepted { Ok(a) => a, Err(_) => continue },
                        _ = &mut stop => return,
                    };
                    let shared = shared.clone();
                    tokio::spawn(async move {
                        let service = service_fn(move |request| handle(shared.clone(), request));
                        let _ = http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
        });
        let address = ready_rx.recv().expect("fault proxy started");
        FaultProxy {
            host: address.to_string(),
            counters,
            shutdown: Some(shutdown),
        }
    }

    /// `HOST/REPO[:TAG]` through this proxy.
    pub fn at(&self, repo: &str) -> String {
        format!("{}/{repo}", self.host)
    }

    /// Requests received so far.
    pub fn requests(&self) -> usize {
        self.counters.requests.load(Ordering::SeqCst)
    }

    /// Faults of `kind` injected so far.
    pub fn faults(&self, kind: Fault) -> usize {
        self.counters.faults[kind.index()].load(Ordering::SeqCst)
    }

    /// Faults of every kind injected so far.
    pub fn faults_total(&self) -> usize {
        Fault::ALL.iter().map(|f| self.faults(*f)).sum()
    }

    /// The most requests that were in flight at once (from the arrival of the request's headers
    /// to the end of its response), whatever the number of connections they came on.
    pub fn peak_in_flight(&self) -> usize {
        self.counters.peak_in_flight.load(Ordering::SeqCst)
    }

    /// What was injected, for failure messages.
    pub fn report(&self) -> String {
        let faults: Vec<String> = Fault::ALL
            .iter()
            .map(|f| format!("{f:?}: {}", self.faults(*f)))
            .collect();
        format!(
            "{} requests, peak {} in flight, faults: {}",
            self.requests(),
            self.peak_in_flight(),
            faults.join(", ")
        )
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// The registry's error body for an injected status.
fn fault_response(fault: Fault, status: StatusCode, in_flight: InFlight) -> Response<ProxyBody> {
    let body = format!(
        r#"{{"errors":[{{"code":"UNAVAILABLE","message":"fault injected by the test proxy: {fault:?}"}}]}}"#
    );
    let mut response = Response::new(ProxyBody {
        inner: Inner::Own(Some(Bytes::from(body))),
        limit: None,
        sent: 0,
        flushed: false,
        in_flight: Some(in_flight),
    });
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    if fault == Fault::Status429 {
        headers.insert(
            hyper::header::RETRY_AFTER,
            hyper::header::HeaderValue::from_static("0"),
        );
    }
    response
}

async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<ProxyBody>, BoxError> {
    shared.counters.requests.fetch_add(1, Ordering::SeqCst);
    let in_flight = InFlight::enter(&shared.counters);
    if !shared.config.latency.is_zero() {
        tokio::time::sleep(shared.config.latency).await;
    }
    let declared = request.body().size_hint();
    let has_body = declared.upper() != Some(0);
    let fault = shared.draw(request.method(), has_body);

    if let Some(fault) = fault
        && let Some(status) = fault.status()
    {
        // Read the request's body first, so the client sees the status and not a broken pipe.
        request.into_body().collect().await?;
        shared.count(fault);
        return Ok(fault_response(fault, status, in_flight));
    }
    if fault == Some(Fault::ResetRequestBody) {
        let half = declared.lower() / 2;
        let mut body = request.into_body();
        let mut read = 0u64;
        while let Some(frame) = body.frame().await {
            read += frame?.data_ref().map_or(0, |d| d.len() as u64);
            if read > half {
                break;
            }
        }
        shared.count(fault.expect("a fault"));
        return Err("fault injected: connection reset mid-request-body".into());
    }

    let (mut parts, body) = request.into_parts();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    parts.uri = format!("http://{}{path_and_query}", shared.upstream).parse()?;
    let response = shared
        .client
        .request(Request::from_parts(parts, body))
        .await?;
    let (parts, body) = response.into_parts();
    let length = body.size_hint().exact();
    // A body of 0 or 1 byte cannot be cut in the middle: it passes whole and counts no fault.
    let limit = match (fault, length) {
        (Some(Fault::ResetResponseBody), Some(length)) if length >= 2 => Some(length / 2),
        (Some(Fault::ResetResponseBody), None) => Some(1),
        _ => None,
    };
    if limit.is_some() {
        shared.count(Fault::ResetResponseBody);
    }
    Ok(Response::from_parts(
        parts,
        ProxyBody {
            inner: Inner::Upstream(body),
            limit,
            sent: 0,
            flushed: false,
            in_flight: Some(in_flight),
        },
    ))
}

#[cfg(test)]
mod tests {
    //! The proxy itself, with a plain HTTP client, so that the fault tests' failures can be
    //! trusted to be the client's.

    use std::io::{Read, Write};
    use std::net::TcpStream;

    use super::*;
    use crate::harness::{Registry, fixtures, multiarch, repo_root, tempdir};

    /// Sends one HTTP/1.1 request on a fresh connection; returns everything read until the proxy
    /// closed it (or the read failed).
    fn raw(host: &str, request: &str) -> String {
        let mut stream = TcpStream::connect(host).expect("connect to the proxy");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        stream.write_all(request.as_bytes()).expect("send");
        let mut bytes = Vec::new();
        let _ = stream.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// One whole response (headers and a Content-Length body) from a kept-alive connection.
    fn read_response(stream: &mut TcpStream) -> String {
        let mut bytes = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).expect("read a response");
            assert!(n > 0, "the proxy closed the connection");
            bytes.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&bytes).into_owned();
            if let Some((_, rest)) = text.split_once("\r\n\r\n")
                && rest.len() >= content_length(&text)
            {
                return text;
            }
        }
    }

    fn get(host: &str, path: &str) -> String {
        raw(
            host,
            &format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
        )
    }

    fn only(fault: Fault, rate: f64) -> Config {
        Config {
            rate,
            faults: vec![fault],
            latency: Duration::ZERO,
            seed: 7,
        }
    }

    fn content_length(response: &str) -> usize {
        response
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length: ")
                    .map(str::to_owned)
            })
            .expect("a Content-Length")
            .trim()
            .parse()
            .expect("a number")
    }

    fn body(response: &str) -> &str {
        response.split_once("\r\n\r\n").expect("headers end").1
    }

    #[test]
    fn no_faults_forward_everything_with_the_host_unchanged() {
        let registry = Registry::start();
        fixtures::push_hello_images(&registry.at("app"), &["linux/amd64"]);
        let proxy = FaultProxy::start(&registry.host, Config::none());
        let response = get(&proxy.host, "/v2/app/tags/list");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(body(&response).contains("amd64-latest"), "{response}");
        // A blob upload's Location is built from Host: it must name the proxy.
        let response = raw(
            &proxy.host,
            &format!(
                "POST /v2/app/blobs/uploads/ HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                proxy.host
            ),
        );
        assert!(response.starts_with("HTTP/1.1 202"), "{response}");
        assert!(
            response.to_ascii_lowercase().contains(&format!(
                "location: http://{}/v2/app/blobs/uploads/",
                proxy.host
            )),
            "{response}"
        );
        assert_eq!(proxy.requests(), 2);
        assert_eq!(proxy.faults_total(), 0);
    }

    /// With no faults, the proxy changes nothing a push depends on: `build --push` and
    /// `manifest push` through it print the digests they print without it.
    #[test]
    fn the_binary_pushes_through_the_proxy_as_without_it() {
        let (direct, behind) = (Registry::start(), Registry::start());
        let proxy = FaultProxy::start(&behind.host, Config::none());
        let context = repo_root().join("examples/build");
        let digest = |out: crate::harness::Output| {
            let line = out.success().stdout_line().to_owned();
            line.split_once('@').expect("REPO@DIGEST").1.to_owned()
        };
        let build = |host: &str| {
            let cache = tempdir();
            digest(
                multiarch(&[
                    "build",
                    "--platform",
                    "linux/amd64,linux/arm64",
                    "--context",
                    context.to_str().unwrap(),
                    "--push",
                    "--tag",
                    &format!("{host}/site:1"),
                ])
                .env("MULTIARCH_CACHE_DIR", cache.path())
                .run(),
            )
        };
        assert_eq!(build(&proxy.host), build(&direct.host));

        for registry in [&direct, &behind] {
            fixtures::push_hello_images(&registry.at("src"), &["linux/amd64", "linux/arm64"]);
        }
        let fan_in = |host: &str| {
            digest(
                multiarch(&[
                    "manifest",
                    "push",
                    "--tag",
                    &format!("{host}/app:1"),
                    &format!("{host}/src:amd64-latest"),
                    &format!("{host}/src:arm64-latest"),
                ])
                .run(),
            )
        };
        assert_eq!(fan_in(&proxy.host), fan_in(&direct.host));
        assert!(proxy.requests() > 0);
        assert_eq!(proxy.faults_total(), 0);
    }

    #[test]
    fn status_faults_are_answered_without_reaching_the_registry() {
        let registry = Registry::start();
        for (fault, status) in [
            (Fault::Status503, "503"),
            (Fault::Status429, "429"),
            (Fault::Status500, "500"),
            (Fault::Status502, "502"),
        ] {
            let before = registry.requests().len();
            let proxy = FaultProxy::start(&registry.host, only(fault, 1.0));
            for _ in 0..3 {
                let response = get(&proxy.host, "/v2/");
                assert!(
                    response.starts_with(&format!("HTTP/1.1 {status}")),
                    "{response}"
                );
                assert_eq!(
                    response.to_ascii_lowercase().contains("retry-after: 0"),
                    fault == Fault::Status429,
                    "{response}"
                );
            }
            assert_eq!(proxy.faults(fault), 3);
            assert_eq!(
                registry.requests().len(),
                before,
                "nothing reached the registry"
            );
        }
    }

    #[test]
    fn a_response_body_is_cut_in_the_middle() {
        let registry = Registry::start();
        fixtures::push_hello_images(&registry.at("app"), &["linux/amd64"]);
        let proxy = FaultProxy::start(&registry.host, only(Fault::ResetResponseBody, 1.0));
        let manifest = |method: &str| {
            raw(
                &proxy.host,
                &format!(
                    "{method} /v2/app/manifests/amd64-latest HTTP/1.1\r\nHost: {}\r\nAccept: {}\r\nConnection: close\r\n\r\n",
                    proxy.host,
                    fixtures::OCI_MANIFEST
                ),
            )
        };
        let response = manifest("GET");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        let (declared, received) = (content_length(&response), body(&response).len());
        assert!(
            received > 0 && received < declared,
            "{received} of {declared} bytes: {response}"
        );
        assert_eq!(proxy.faults(Fault::ResetResponseBody), 1);
        // HEAD has no body to cut: it passes.
        let response = manifest("HEAD");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert_eq!(proxy.faults_total(), 1);
    }

    #[test]
    fn an_upload_is_dropped_part_way_without_being_forwarded() {
        let registry = Registry::start();
        let proxy = FaultProxy::start(&registry.host, only(Fault::ResetRequestBody, 1.0));
        let before = registry.requests().len();
        let mut stream = TcpStream::connect(&proxy.host).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        let body = vec![b'x'; 64 * 1024];
        write!(
            stream,
            "PUT /v2/app/blobs/uploads/x?digest=sha256:00 HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n\r\n",
            proxy.host,
            body.len()
        )
        .expect("headers");
        // The proxy may drop the connection before all of it is sent.
        let _ = stream.write_all(&body);
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response);
        assert!(
            response.is_empty(),
            "no response: {}",
            String::from_utf8_lossy(&response)
        );
        assert_eq!(proxy.faults(Fault::ResetRequestBody), 1);
        assert_eq!(
            registry.requests().len(),
            before,
            "nothing reached the registry"
        );
        // A GET has no body to cut and passes.
        assert!(get(&proxy.host, "/v2/").starts_with("HTTP/1.1 200"));
    }

    #[test]
    fn the_rate_is_kept_and_a_seed_repeats_its_faults() {
        let registry = Registry::start();
        let pattern = |seed| {
            let proxy = FaultProxy::start(&registry.host, Config::all(0.3, seed));
            let statuses: Vec<String> = (0..200)
                .map(|_| get(&proxy.host, "/v2/")[9..12].to_owned())
                .collect();
            (statuses, proxy.faults_total())
        };
        let (first, faults) = pattern(42);
        let (again, _) = pattern(42);
        let (other, _) = pattern(43);
        assert_eq!(first, again, "the same seed gives the same faults");
        assert_ne!(first, other, "another seed gives other faults");
        assert!((30..=90).contains(&faults), "about 60 of 200: {faults}");
    }

    #[test]
    fn requests_in_flight_are_counted_at_their_peak() {
        let registry = Registry::start();
        // Held for a minute each: three requests on three connections are in flight together once
        // the proxy has seen all three.
        let slow = FaultProxy::start(
            &registry.host,
            Config {
                latency: Duration::from_secs(60),
                ..Config::none()
            },
        );
        let _held: Vec<TcpStream> = (0..3)
            .map(|_| {
                let mut stream = TcpStream::connect(&slow.host).expect("connect");
                write!(stream, "GET /v2/ HTTP/1.1\r\nHost: {}\r\n\r\n", slow.host).expect("send");
                stream
            })
            .collect();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while slow.requests() < 3 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(slow.peak_in_flight(), 3, "{}", slow.report());

        // Requests one after the other on one connection never overlap: each leaves the count
        // when its response ends.
        let proxy = FaultProxy::start(&registry.host, Config::none());
        let mut stream = TcpStream::connect(&proxy.host).expect("connect");
        for _ in 0..3 {
            write!(stream, "GET /v2/ HTTP/1.1\r\nHost: {}\r\n\r\n", proxy.host).expect("send");
            let response = read_response(&mut stream);
            assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        }
        assert_eq!(proxy.requests(), 3);
        assert_eq!(proxy.peak_in_flight(), 1, "{}", proxy.report());
    }
}
