//! The registry client against a stand-in server, for answers the reference registry never
//! gives on its own: transient failures, `Retry-After`, expired tokens, `413`, bad digests.
//! (The real registry, and faults injected in front of it, are in the integration tests.)

use std::time::{Duration, Instant};

use wiremock::matchers::{body_bytes, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use super::*;
use crate::reference::ImageRef;

const MANIFEST: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;

fn policy(retries: u32) -> RetryPolicy {
    RetryPolicy {
        retries,
        max_time: Duration::from_secs(30),
        first_delay: Duration::from_millis(1),
    }
}

/// A stand-in registry that answers `/v2/` (so the client speaks plain HTTP to it).
async fn server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    server
}

async fn store(server: &MockServer, retry: RetryPolicy) -> RegistryStore {
    let registries = Registries::new(RegistryOptions {
        auth_files: vec![],
        retry,
        ..RegistryOptions::default()
    })
    .unwrap();
    let reference: ImageRef = format!("{}/app:1", server.address()).parse().unwrap();
    let Location::Registry(repository) = reference.location else {
        panic!("a registry reference")
    };
    registries.repository(&repository).await.unwrap()
}

fn tag() -> ManifestTarget {
    ManifestTarget::Tag("1".into())
}

fn manifest_ok() -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("content-type", media_type::OCI_MANIFEST)
        .set_body_string(MANIFEST)
}

async fn requests_to(server: &MockServer, wanted: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path() == wanted)
        .collect()
}

#[tokio::test]
async fn transient_statuses_are_retried() {
    let server = server().await;
    for status in [503, 502, 500, 408] {
        Mock::given(method("GET"))
            .and(path("/v2/app/manifests/1"))
            .respond_with(ResponseTemplate::new(status))
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/v2/app/manifests/1"))
        .respond_with(manifest_ok())
        .mount(&server)
        .await;
    let manifest = store(&server, policy(5))
        .await
        .get_manifest(&tag())
        .await
        .unwrap();
    assert_eq!(manifest.bytes, MANIFEST.as_bytes());
    assert_eq!(requests_to(&server, "/v2/app/manifests/1").await.len(), 5);
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let server = server().await;
    Mock::given(method("HEAD"))
        .and(path("/v2/app/manifests/1"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("HEAD"))
        .and(path("/v2/app/manifests/1"))
        .respond_with(ResponseTemplate::new(200).insert_header(
            "docker-content-digest",
            digest::sha256(MANIFEST.as_bytes()).to_string(),
        ))
        .mount(&server)
        .await;
    let started = Instant::now();
    let found = store(&server, policy(5))
        .await
        .resolve(&tag())
        .await
        .unwrap();
    assert_eq!(found, Some(digest::sha256(MANIFEST.as_bytes())));
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited as asked, not the 1 ms back-off"
    );
}

#[tokio::test]
async fn giving_up_names_the_registry_the_last_status_and_the_tries() {
    let server = server().await;
    Mock::given(method("PUT"))
        .and(path("/v2/app/manifests/1"))
        .respond_with(ResponseTemplate::new(503).set_body_string("overloaded"))
        .mount(&server)
        .await;
    let manifest = RawManifest::new(MANIFEST.as_bytes().to_vec(), media_type::OCI_MANIFEST);
    let err = store(&server, policy(3))
        .await
        .put_manifest(&tag(), &manifest)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::GaveUp { tries: 4, .. }),
        "{err:?}"
    );
    let message = err.to_string();
    let address = server.address().to_string();
    for needle in [address.as_str(), "HTTP 503", "overloaded", "4 tries"] {
        assert!(message.contains(needle), "{needle}: {message}");
    }
    assert_eq!(requests_to(&server, "/v2/app/manifests/1").await.len(), 4);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/v2/app/manifests/1"))
        .respond_with(ResponseTemplate::new(400).set_body_string(
            r#"{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid"}]}"#,
        ))
        .mount(&server)
        .await;
    let err = store(&server, policy(5))
        .await
        .get_manifest(&tag())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("MANIFEST_INVALID"), "{err}");
    assert_eq!(requests_to(&server, "/v2/app/manifests/1").await.len(), 1);
}

#[tokio::test]
async fn a_refused_token_is_replaced() {
    let server = MockServer::start().await;
    let challenge = format!(
        r#"Bearer realm="http://{}/token",service="test""#,
        server.address()
    );
    Mock::given(method("GET"))
        .and(path("/v2/"))
        .respond_with(
            ResponseTemplate::new(401).insert_header("www-authenticate", challenge.as_str()),
        )
        .mount(&server)
        .await;
    // The first token "expires" early: the registry stops accepting it.
    Mock::given(method("GET"))
        .and(path("/token"))
        .and(query_param("scope", "repository:app:pull"))
        .respond_with(
            ResponseTemplate::new(200).set_body_string(r#"{"token":"old","expires_in":300}"#),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/token"))
        .respond_with(
            ResponseTemplate::new(200).set_body_string(r#"{"token":"new","expires_in":300}"#),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/app/manifests/1"))
        .and(header("authorization", "Bearer new"))
        .respond_with(manifest_ok())
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/app/manifests/1"))
        .respond_with(
            ResponseTemplate::new(401).insert_header("www-authenticate", challenge.as_str()),
        )
        .mount(&server)
        .await;
    let manifest = store(&server, policy(0))
        .await
        .get_manifest(&tag())
        .await
        .unwrap();
    assert_eq!(manifest.bytes, MANIFEST.as_bytes());
    assert_eq!(requests_to(&server, "/token").await.len(), 2);
}

/// An upload session at `/upload/N`.
fn session(n: u32) -> ResponseTemplate {
    ResponseTemplate::new(202).insert_header("location", format!("/upload/{n}").as_str())
}

#[tokio::test]
async fn a_refused_whole_blob_goes_in_chunks() {
    let server = server().await;
    let blob = bytes::Bytes::from_static(b"layer content");
    let digest = digest::sha256(&blob);
    Mock::given(method("POST"))
        .and(path("/v2/app/blobs/uploads/"))
        .respond_with(session(1))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/upload/1"))
        .and(body_bytes(blob.to_vec()))
        .respond_with(ResponseTemplate::new(413))
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/upload/1"))
        .and(header("content-range", "0-12"))
        .and(body_bytes(blob.to_vec()))
        .respond_with(session(2))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/upload/2"))
        .and(query_param("digest", digest.as_ref()))
        .respond_with(ResponseTemplate::new(201))
        .mount(&server)
        .await;
    store(&server, policy(0))
        .await
        .put_blob(&digest, blob.len() as u64, &blob)
        .await
        .unwrap();
    assert_eq!(requests_to(&server, "/upload/2").await.len(), 1);
}

/// A 502, or a 404 for a session the registry lost (expired, or another node behind a load
/// balancer): the blob goes again in a new session.
#[tokio::test]
async fn a_broken_upload_restarts_in_a_new_session() {
    for status in [502, 404] {
        broken_upload_restarts(status).await;
    }
}

async fn broken_upload_restarts(status: u16) {
    let server = server().await;
    let blob = bytes::Bytes::from_static(b"layer content");
    let digest = digest::sha256(&blob);
    Mock::given(method("POST"))
        .and(path("/v2/app/blobs/uploads/"))
        .respond_with(session(1))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/app/blobs/uploads/"))
        .respond_with(session(2))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/upload/1"))
        .respond_with(ResponseTemplate::new(status))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/upload/2"))
        .and(body_bytes(blob.to_vec()))
        .respond_with(ResponseTemplate::new(201))
        .mount(&server)
        .await;
    store(&server, policy(2))
        .await
        .put_blob(&digest, blob.len() as u64, &blob)
        .await
        .unwrap();
    assert_eq!(
        requests_to(&server, "/v2/app/blobs/uploads/").await.len(),
        2
    );
}

#[tokio::test]
async fn manifests_that_do_not_match_or_are_too_large_are_refused() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/v2/app/manifests/1"))
        .respond_with(manifest_ok().insert_header(
            "docker-content-digest",
            digest::sha256(b"something else").to_string(),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/app/manifests/big"))
        .respond_with(
            ResponseTemplate::new(200).set_body_string(" ".repeat(MAX_MANIFEST_BYTES as usize + 1)),
        )
        .mount(&server)
        .await;
    let store = store(&server, policy(0)).await;
    let err = store.get_manifest(&tag()).await.unwrap_err();
    assert!(matches!(err, StoreError::DigestMismatch { .. }), "{err:?}");
    let err = store
        .get_manifest(&ManifestTarget::Tag("big".into()))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::TooLarge { .. }), "{err:?}");
    assert!(err.to_string().contains("4194304-byte limit"), "{err}");
}
