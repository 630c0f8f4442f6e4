//! Progress for blob copies: a bar per blob on a terminal, plain log lines elsewhere (CI logs).

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Instant;

use indicatif::{HumanBytes, MultiProgress, ProgressBar, ProgressStyle};
use multiarch_core::digest::Digest;
use multiarch_core::transfer::{BlobProgress, Progress};

/// Blobs smaller than this are logged at debug level only.
const NOTEWORTHY: u64 = 1024 * 1024;

/// Picks bars for an interactive terminal and log lines for everything else.
pub fn for_stderr() -> Arc<dyn Progress> {
    let interactive = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
    if interactive {
        Arc::new(Bars(MultiProgress::new()))
    } else {
        Arc::new(Lines)
    }
}

fn short(digest: &Digest) -> String {
    let hex = digest.digest();
    format!("{}:{}", digest.algorithm(), &hex[..hex.len().min(12)])
}

#[derive(Debug)]
struct Bars(MultiProgress);

impl Progress for Bars {
    fn start(&self, digest: &Digest, size: u64) -> Arc<dyn BlobProgress> {
        let bar = self.0.add(ProgressBar::new(size));
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
                .expect("static template")
                .progress_chars("=> "),
        );
        bar.set_message(format!("copying {}", short(digest)));
        Arc::new(Bar(bar))
    }
}

struct Bar(ProgressBar);

impl BlobProgress for Bar {
    fn advance(&self, bytes: u64) {
        self.0.inc(bytes);
    }

    fn restart(&self) {
        self.0.set_position(0);
    }

    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

#[derive(Debug)]
struct Lines;

impl Progress for Lines {
    fn start(&self, digest: &Digest, size: u64) -> Arc<dyn BlobProgress> {
        if size >= NOTEWORTHY {
            tracing::info!("copying {} ({})", short(digest), HumanBytes(size));
        } else {
            tracing::debug!("copying {} ({})", short(digest), HumanBytes(size));
        }
        Arc::new(Line {
            digest: short(digest),
            size,
            started: Instant::now(),
        })
    }
}

struct Line {
    digest: String,
    size: u64,
    started: Instant,
}

impl BlobProgress for Line {
    fn advance(&self, _: u64) {}

    fn finish(&self) {
        let seconds = self.started.elapsed().as_secs_f64();
        if self.size >= NOTEWORTHY {
            let rate = HumanBytes((self.size as f64 / seconds.max(0.001)) as u64);
            tracing::info!(
                "copied {} ({}) in {seconds:.1} s, {rate}/s",
                self.digest,
                HumanBytes(self.size)
            );
        }
    }
}
