//! Content digests: parsing with clear errors, hashing, and verification of what was read.
//!
//! The digest type itself is oci-spec's; this module restricts it to the algorithms registries use
//! (sha256, sha512) and adds a streaming verifier so every byte read from a store is checked.

use std::pin::Pin;
use std::str::FromStr;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
pub use oci_spec::image::Digest;
use oci_spec::image::DigestAlgorithm;
use sha2::{Digest as _, Sha256, Sha512};

#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error(
        "`{input}` is not a valid digest ({reason}); expected `sha256:` followed by 64 lowercase hex digits"
    )]
    Invalid { input: String, reason: String },
    #[error(
        "`{input}` uses the `{algorithm}` algorithm; only sha256 and sha512 digests are supported"
    )]
    UnsupportedAlgorithm { input: String, algorithm: String },
}

/// Parses a digest, accepting only sha256 and sha512.
pub fn parse(input: &str) -> Result<Digest, DigestError> {
    let digest = Digest::from_str(input).map_err(|e| DigestError::Invalid {
        input: input.to_owned(),
        reason: e.to_string().trim_start_matches("Other(").to_owned(),
    })?;
    match digest.algorithm() {
        DigestAlgorithm::Sha256 | DigestAlgorithm::Sha512 => Ok(digest),
        other => Err(DigestError::UnsupportedAlgorithm {
            input: input.to_owned(),
            algorithm: other.to_string(),
        }),
    }
}

/// The sha256 digest of `bytes`.
pub fn sha256(bytes: &[u8]) -> Digest {
    let hex = hex::encode(Sha256::digest(bytes));
    Digest::from_str(&format!("sha256:{hex}")).expect("a sha256 hex string is a valid digest")
}

/// Incremental hasher using the algorithm of an expected digest.
#[derive(Debug, Clone)]
pub struct Hasher {
    state: HasherState,
    bytes: u64,
}

#[derive(Debug, Clone)]
enum HasherState {
    Sha256(Sha256),
    Sha512(Sha512),
}

impl Hasher {
    /// A hasher for the algorithm `digest` uses (sha512 for sha512, sha256 otherwise).
    pub fn like(digest: &Digest) -> Self {
        let state = match digest.algorithm() {
            DigestAlgorithm::Sha512 => HasherState::Sha512(Sha512::new()),
            _ => HasherState::Sha256(Sha256::new()),
        };
        Hasher { state, bytes: 0 }
    }

    pub fn update(&mut self, data: &[u8]) {
        self.bytes += data.len() as u64;
        match &mut self.state {
            HasherState::Sha256(h) => h.update(data),
            HasherState::Sha512(h) => h.update(data),
        }
    }

    /// Number of bytes hashed so far.
    pub fn len(&self) -> u64 {
        self.bytes
    }

    pub fn is_empty(&self) -> bool {
        self.bytes == 0
    }

    pub fn finish(self) -> Digest {
        let (algorithm, hex) = match self.state {
            HasherState::Sha256(h) => ("sha256", hex::encode(h.finalize())),
            HasherState::Sha512(h) => ("sha512", hex::encode(h.finalize())),
        };
        Digest::from_str(&format!("{algorithm}:{hex}")).expect("a hex string is a valid digest")
    }
}

/// The digest of `bytes`, computed with the algorithm of `like`.
pub fn digest_like(like: &Digest, bytes: &[u8]) -> Digest {
    let mut hasher = Hasher::like(like);
    hasher.update(bytes);
    hasher.finish()
}

/// Wraps a byte stream and fails it at the end unless the bytes hash to `expected` and number
/// exactly `size`. A stream that runs past `size` fails as soon as it does.
pub struct VerifyingStream<S> {
    inner: S,
    hasher: Option<Hasher>,
    expected: Digest,
    size: u64,
}

impl<S> std::fmt::Debug for VerifyingStream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingStream")
            .field("expected", &self.expected)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl<S> VerifyingStream<S> {
    pub fn new(inner: S, expected: Digest, size: u64) -> Self {
        let hasher = Some(Hasher::like(&expected));
        VerifyingStream {
            inner,
            hasher,
            expected,
            size,
        }
    }
}

impl<S> Stream for VerifyingStream<S>
where
    S: Stream<Item = std::io::Result<Bytes>> + Unpin,
{
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let Some(hasher) = this.hasher.as_mut() else {
            return Poll::Ready(None);
        };
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                hasher.update(&chunk);
                if hasher.len() > this.size {
                    this.hasher = None;
                    return Poll::Ready(Some(Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!(
                            "blob {} is longer than the {} bytes its descriptor declares",
                            this.expected, this.size
                        ),
                    ))));
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(None) => {
                let hasher = this.hasher.take().expect("checked above");
                let read = hasher.len();
                let actual = hasher.finish();
                if read != this.size {
                    return Poll::Ready(Some(Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        format!(
                            "blob {} ended after {read} of its {} bytes",
                            this.expected, this.size
                        ),
                    ))));
                }
                if actual != this.expected {
                    return Poll::Ready(Some(Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!(
                            "blob content hashes to {actual}, not to its digest {}",
                            this.expected
                        ),
                    ))));
                }
                Poll::Ready(None)
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    #[test]
    fn parses_sha256_and_refuses_other_algorithms() {
        let hex = "a".repeat(64);
        assert!(parse(&format!("sha256:{hex}")).is_ok());
        let err = parse("md5:abc").unwrap_err().to_string();
        assert!(err.contains("only sha256 and sha512"), "{err}");
        let err = parse("sha256:abc").unwrap_err().to_string();
        assert!(err.contains("64 lowercase hex digits"), "{err}");
        let err = parse(&format!("sha256:{}", "A".repeat(64)))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a valid digest"), "{err}");
    }

    #[test]
    fn sha256_matches_known_value() {
        assert_eq!(
            sha256(b"{}").to_string(),
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }

    fn chunks(data: &'static [u8]) -> impl Stream<Item = std::io::Result<Bytes>> + Unpin {
        futures_util::stream::iter(data.chunks(3).map(|c| Ok(Bytes::from_static(c))))
    }

    #[tokio::test]
    async fn verifying_stream_accepts_matching_content() {
        let data: &'static [u8] = b"hello world";
        let mut s = VerifyingStream::new(chunks(data), sha256(data), data.len() as u64);
        let mut out = Vec::new();
        while let Some(chunk) = s.next().await {
            out.extend_from_slice(&chunk.unwrap());
        }
        assert_eq!(out, data);
    }

    #[tokio::test]
    async fn verifying_stream_refuses_wrong_content_and_length() {
        let data: &'static [u8] = b"hello world";
        let mut s = VerifyingStream::new(chunks(data), sha256(b"other"), data.len() as u64);
        let mut last = None;
        while let Some(chunk) = s.next().await {
            last = Some(chunk);
        }
        assert!(last.unwrap().unwrap_err().to_string().contains("hashes to"));

        let mut s = VerifyingStream::new(chunks(data), sha256(data), 4);
        let mut failed = false;
        while let Some(chunk) = s.next().await {
            failed |= chunk.is_err();
        }
        assert!(failed);

        let mut s = VerifyingStream::new(chunks(data), sha256(data), 100);
        let mut last = None;
        while let Some(chunk) = s.next().await {
            last = Some(chunk);
        }
        assert!(
            last.unwrap()
                .unwrap_err()
                .to_string()
                .contains("ended after 11")
        );
    }
}
