//! The layer cache: what a set of files (keyed by [`layer::fingerprint`](super::layer::fingerprint),
//! a stat-based key like git's index) compressed to last time. A rebuild whose inputs are
//! unchanged finds the digest here and, when the destination already holds that blob, skips
//! tarring and compressing altogether. Within one build, layers shared by several platforms
//! (`COPY . /app`) are written once.
//!
//! Only digests are cached, never layer bytes: a miss at the destination rebuilds the layer.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::layer::Layer;
use crate::digest::Digest;

/// A layer built before, by digest only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Known {
    pub digest: Digest,
    pub diff_id: Digest,
    pub size: u64,
}

#[derive(Debug)]
pub struct LayerCache {
    dir: Option<PathBuf>,
    built: Mutex<HashMap<String, Arc<Layer>>>,
}

impl LayerCache {
    /// A cache kept in `dir` (created on first use), or only in memory when `None`.
    pub fn new(dir: Option<PathBuf>) -> Self {
        LayerCache {
            dir: dir.map(|d| d.join("layers-v1")),
            built: Mutex::new(HashMap::new()),
        }
    }

    /// A layer this build already wrote for `key`.
    pub fn built(&self, key: &str) -> Option<Arc<Layer>> {
        self.built.lock().ok()?.get(key).cloned()
    }

    /// What `key` compressed to in an earlier build.
    pub fn known(&self, key: &str) -> Option<Known> {
        let path = self.dir.as_ref()?.join(format!("{key}.json"));
        let bytes = std::fs::read(path).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Remembers a layer for this build and for later ones. A cache that cannot be written only
    /// costs time, so failures are logged, not raised.
    pub fn remember(&self, key: &str, layer: Arc<Layer>) {
        if let Some(dir) = &self.dir {
            let known = Known {
                digest: layer.digest.clone(),
                diff_id: layer.diff_id.clone(),
                size: layer.size,
            };
            if let Err(e) = write_atomically(dir, key, &known) {
                tracing::debug!("layer cache {} not updated: {e}", dir.display());
            }
        }
        if let Ok(mut built) = self.built.lock() {
            built.insert(key.to_owned(), layer);
        }
    }
}

fn write_atomically(dir: &PathBuf, key: &str, known: &Known) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    serde_json::to_writer(&mut file, known)?;
    file.persist(dir.join(format!("{key}.json")))
        .map_err(|e| e.error)?;
    Ok(())
}
