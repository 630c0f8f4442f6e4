//! The record hand-off from the build jobs to the merge job.
//!
//! On GitHub each build leg uploads its record as an artifact named
//! `multiarch-record-RUN-IMAGE-PLATFORM-attemptN`: unique per run, image, platform and attempt,
//! so a re-run never overwrites what another attempt uploaded. The merge job downloads exactly
//! the expected names with one brace pattern (`…-{linux-amd64,linux-arm64}-attempt+([0-9])`),
//! each artifact into its own folder, and takes per platform the newest attempt not newer than
//! its own (a "re-run failed jobs" keeps the legs that passed in an earlier attempt).
//!
//! Under act there is no artifact service: records go to a folder on the machine instead, keyed
//! on the run id, the commit, and act's per-run cache URL (act gives every run the id 1).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use multiarch_core::platform::Platform;
use multiarch_core::record::Record;
use multiarch_core::reference::Location;
use sha2::{Digest, Sha256};

use crate::context::Context;

const PREFIX: &str = "multiarch-record";

/// Where records are handed over in this run.
#[derive(Debug, Clone)]
pub struct Handoff {
    /// Artifacts on GitHub; a local folder under act.
    pub local: bool,
    /// The folder holding one sub-folder per artifact.
    pub dir: PathBuf,
    run_id: String,
    attempt: u32,
    image: String,
}

impl Handoff {
    pub fn new(ctx: &Context, image: &Location) -> Handoff {
        let image = slug(&image.to_string());
        let dir = if ctx.act {
            act_dir(ctx)
        } else {
            ctx.runner_temp
                .join(format!("multiarch-records-{}-{}", ctx.run_id, image))
        };
        Handoff {
            local: ctx.act,
            dir,
            run_id: ctx.run_id.clone(),
            attempt: ctx.run_attempt,
            image,
        }
    }

    /// The artifact (and folder) name of `platform`'s record in this attempt.
    pub fn artifact_name(&self, platform: &Platform) -> String {
        self.name(&platform.normalized().file_stem(), self.attempt)
    }

    fn name(&self, platform_stem: &str, attempt: u32) -> String {
        format!(
            "{PREFIX}-{}-{}-{platform_stem}-attempt{attempt}",
            self.run_id, self.image
        )
    }

    /// The download-artifact pattern that matches the records of exactly these platforms, in
    /// any attempt of this run (minimatch syntax: braces and an extglob for the number).
    pub fn download_pattern(&self, platforms: &[Platform]) -> String {
        let stems: Vec<String> = platforms
            .iter()
            .map(|p| p.normalized().file_stem())
            .collect();
        let alternatives = match stems.as_slice() {
            [one] => one.clone(),
            many => format!("{{{}}}", many.join(",")),
        };
        format!(
            "{PREFIX}-{}-{}-{alternatives}-attempt+([0-9])",
            self.run_id, self.image
        )
    }

    /// Writes `record` where this attempt's artifact for its platform is uploaded from (or, under
    /// act, read by the merge job); returns the artifact's folder.
    pub fn put(&self, record: &Record) -> Result<PathBuf> {
        let name = self.artifact_name(&record.platform);
        let dir = if self.local {
            self.dir.join(&name)
        } else {
            self.dir.join("upload").join(&name)
        };
        if dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
        }
        record
            .write(&dir)
            .with_context(|| format!("writing the record into {}", dir.display()))?;
        Ok(dir)
    }

    /// Removes the record folders of this run's hand-off (under act, once merged), keeping
    /// anything else there (the OCI layout of a run that does not push).
    pub fn clear_records(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(PREFIX) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }

    /// The records of `expected`, one per platform (newest attempt first), or an error naming
    /// every platform whose record did not arrive.
    pub fn collect(&self, expected: &[Platform]) -> Result<Vec<(PathBuf, Record)>> {
        let mut found = Vec::new();
        let mut missing = Vec::new();
        for platform in expected {
            let stem = platform.normalized().file_stem();
            // The newest attempt's folder holds the record; its file is named after the
            // platform as the image states it (`linux-arm64-v8.json` from buildx, say).
            let newest = (1..=self.attempt)
                .rev()
                .map(|attempt| self.dir.join(self.name(&stem, attempt)))
                .find(|dir| dir.is_dir());
            match newest {
                Some(dir) => {
                    let records = multiarch_core::record::read_all(std::slice::from_ref(&dir))?;
                    match records
                        .into_iter()
                        .find(|(_, r)| r.platform.matches(platform))
                    {
                        Some(found_record) => found.push(found_record),
                        None => bail!(
                            "{} holds no record for {platform}; was it uploaded by a build of \
                             another platform?",
                            dir.display()
                        ),
                    }
                }
                None => missing.push(platform.to_string()),
            }
        }
        if !missing.is_empty() {
            bail!(
                "no record arrived for {} (looked in {} for {}); did those build jobs run and \
                 succeed with the same image input? The merge publishes nothing until every \
                 platform in `platforms` has its record",
                missing.join(", "),
                self.dir.display(),
                self.download_pattern(expected)
            );
        }
        Ok(found)
    }
}

/// The hand-off folder of a local run under act. `MULTIARCH_ACT_HANDOFF` names it; otherwise it
/// is keyed on what tells runs apart (act gives every run the id 1, so the id alone is not
/// enough): the commit, the repository and the cache server URL act makes afresh for each run.
fn act_dir(ctx: &Context) -> PathBuf {
    if let Some(dir) = std::env::var_os("MULTIARCH_ACT_HANDOFF").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let key = format!(
        "{}\n{}\n{}\n{}",
        ctx.run_id,
        ctx.sha,
        ctx.repository,
        std::env::var("ACTIONS_CACHE_URL").unwrap_or_default()
    );
    let hash = hex::encode(&Sha256::digest(key.as_bytes())[..8]);
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("multiarch").join("act").join(hash)
}

/// An artifact-name-safe form of the image: `ghcr.io/org/app` → `ghcr.io_org_app`.
fn slug(image: &str) -> String {
    image
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use multiarch_core::digest::Digest as OciDigest;

    fn handoff(dir: &Path, attempt: u32) -> Handoff {
        Handoff {
            local: true,
            dir: dir.to_owned(),
            run_id: "77".into(),
            attempt,
            image: slug("ghcr.io/org/app"),
        }
    }

    fn platforms(list: &str) -> Vec<Platform> {
        Platform::parse_list(list).unwrap()
    }

    fn record(platform: &str, hex_char: char) -> Record {
        Record {
            schema: multiarch_core::record::RECORD_SCHEMA.into(),
            image: "ghcr.io/org/app".into(),
            digest: format!("sha256:{}", hex_char.to_string().repeat(64))
                .parse::<OciDigest>()
                .unwrap(),
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            size: 100,
            platform: platform.parse().unwrap(),
            annotations: Default::default(),
        }
    }

    #[test]
    fn names_and_pattern() {
        let h = handoff(Path::new("/x"), 2);
        let arm = "linux/arm/v7".parse().unwrap();
        assert_eq!(
            h.artifact_name(&arm),
            "multiarch-record-77-ghcr.io_org_app-linux-arm-v7-attempt2"
        );
        assert_eq!(
            h.download_pattern(&platforms("linux/amd64,linux/arm64")),
            "multiarch-record-77-ghcr.io_org_app-{linux-amd64,linux-arm64}-attempt+([0-9])"
        );
        // One platform: no braces (minimatch would take `{a}` literally).
        assert_eq!(
            h.download_pattern(&platforms("linux/amd64")),
            "multiarch-record-77-ghcr.io_org_app-linux-amd64-attempt+([0-9])"
        );
    }

    #[test]
    fn the_newest_attempt_not_after_this_one_wins() {
        let dir = tempfile::tempdir().unwrap();
        handoff(dir.path(), 1)
            .put(&record("linux/amd64", 'a'))
            .unwrap();
        handoff(dir.path(), 1)
            .put(&record("linux/arm64", 'b'))
            .unwrap();
        handoff(dir.path(), 2)
            .put(&record("linux/arm64", 'c'))
            .unwrap();
        handoff(dir.path(), 3)
            .put(&record("linux/amd64", 'd'))
            .unwrap();

        let got = handoff(dir.path(), 2)
            .collect(&platforms("linux/amd64,linux/arm64"))
            .unwrap();
        let digests: Vec<String> = got
            .iter()
            .map(|(_, r)| r.digest.digest()[..1].to_owned())
            .collect();
        assert_eq!(digests, ["a", "c"]);
    }

    #[test]
    fn a_record_named_after_another_spelling_of_the_platform_is_found() {
        let dir = tempfile::tempdir().unwrap();
        // buildx states arm64 images as linux/arm64/v8: the file is linux-arm64-v8.json.
        handoff(dir.path(), 1)
            .put(&record("linux/arm64/v8", 'e'))
            .unwrap();
        let got = handoff(dir.path(), 1)
            .collect(&platforms("linux/arm64"))
            .unwrap();
        assert!(got[0].0.ends_with("linux-arm64-v8.json"), "{:?}", got[0].0);
    }

    #[test]
    fn missing_platforms_are_named() {
        let dir = tempfile::tempdir().unwrap();
        handoff(dir.path(), 1)
            .put(&record("linux/amd64", 'a'))
            .unwrap();
        let error = handoff(dir.path(), 1)
            .collect(&platforms("linux/amd64,linux/s390x,linux/ppc64le"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("no record arrived for linux/s390x, linux/ppc64le"),
            "{error}"
        );
    }
}
