//! The native engine: builds RUN-free Dockerfiles without a daemon, root or emulation, as ko and
//! apko do: base image + new layers + config. Each needed stage is evaluated in order; the target
//! stage becomes the image.

mod files;
mod settings;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::json;

use super::base::{self, BaseImage};
use super::cache::LayerCache;
use super::config::ImageConfig;
use super::context::Context;
use super::plan::Plan;
use super::publish::{Assembled, LayerBlob};
use super::rootfs::RootFs;
use super::{BuildError, Request};
use crate::digest::{self, Digest};
use crate::manifest::{Descriptor, RawManifest};
use crate::media_type;
use crate::platform::Platform;
use crate::reference::{DEFAULT_TAG, Location};
use crate::store::{Registries, Store};

/// The OCI annotations naming the base image, as buildah writes them.
const BASE_NAME: &str = "org.opencontainers.image.base.name";
const BASE_DIGEST: &str = "org.opencontainers.image.base.digest";

/// One native build (all platforms share it).
#[derive(Debug)]
pub struct Build<'a> {
    pub request: &'a Request,
    pub registries: &'a Registries,
    pub scratch: &'a Path,
    pub cache: &'a LayerCache,
    /// Where the image will go, to skip layers it already holds.
    pub target: Option<&'a dyn Store>,
}

/// A stage as evaluated so far.
#[derive(Debug, Clone)]
struct StageImage {
    platform: Platform,
    config: ImageConfig,
    layers: Vec<(LayerBlob, Descriptor)>,
    /// The base image as named in FROM (not for OCI layouts: a local path means nothing to
    /// whoever pulls the image, and would make digests depend on directories), and its digest.
    base: Option<(Option<String>, Digest)>,
    /// ARGs in scope at the end of the stage: a stage built `FROM` this one inherits them.
    args: BTreeMap<String, String>,
}

/// The per-platform state of a build: stages done so far and filesystems materialised for
/// `COPY --from`.
struct Run<'a, 'b> {
    build: &'b Build<'a>,
    plan: &'b Plan<'a>,
    platform: &'b Platform,
    globals: BTreeMap<String, String>,
    context: Context,
    created: String,
    stages: HashMap<usize, StageImage>,
    filesystems: HashMap<String, Arc<RootFs>>,
    /// Base images resolved so far, by name and platform (FROM and `COPY --from=image` may
    /// name the same one).
    bases: HashMap<String, BaseImage>,
}

impl Build<'_> {
    /// Builds the image for `platform`, following its `plan`.
    pub async fn run(&self, plan: &Plan<'_>, platform: &Platform) -> Result<Assembled, BuildError> {
        let context = Context::open(&self.request.context, &self.request.dockerfile)
            .map_err(|source| BuildError::Context(Box::new(source)))?;
        let created = rfc3339(self.request.epoch);
        let mut run = Run {
            build: self,
            plan,
            platform,
            globals: plan.global_scope(platform)?,
            context,
            created: created.clone(),
            stages: HashMap::new(),
            filesystems: HashMap::new(),
            bases: HashMap::new(),
        };
        for &index in &plan.order {
            let stage = run.stage(index).await?;
            run.stages.insert(index, stage);
        }
        let target = run
            .stages
            .remove(&plan.target)
            .expect("the target is the last stage built");
        self.assemble(target, platform, &created)
    }

    fn assemble(
        &self,
        mut stage: StageImage,
        platform: &Platform,
        created: &str,
    ) -> Result<Assembled, BuildError> {
        if stage.layers.is_empty() {
            // The OCI schema wants at least one layer (as do some registries): an empty one.
            let empty = tokio::task::block_in_place(|| {
                super::layer::write(&Default::default(), self.request.compression, self.scratch)
            })
            .map_err(|source| BuildError::Context(Box::new(source)))?;
            stage.config.push_diff_id(&empty.diff_id);
            stage.config.push_history(
                created,
                "multiarch: an empty layer (an image needs one)",
                false,
            );
            let descriptor = Descriptor::new(
                self.request.compression.media_type(),
                empty.digest.clone(),
                empty.size,
            );
            stage
                .layers
                .push((LayerBlob::Built(Arc::new(empty)), descriptor));
        }
        let mut config = stage.config;
        for (key, value) in &self.request.labels {
            config.insert("Labels", key, Some(value));
        }
        if !stage.platform.matches(platform) {
            return Err(BuildError::WrongPlatform {
                engine: super::Engine::Native,
                requested: Box::new(platform.clone()),
                actual: Box::new(stage.platform),
            });
        }
        let config = Bytes::from(config.finish(created));
        let config_digest = digest::sha256(&config);
        let mut annotations = self.request.annotations.clone();
        if let Some((name, digest)) = &stage.base {
            if let Some(name) = name {
                annotations
                    .entry(BASE_NAME.to_owned())
                    .or_insert_with(|| name.clone());
            }
            annotations
                .entry(BASE_DIGEST.to_owned())
                .or_insert_with(|| digest.to_string());
        }
        let mut manifest = json!({
            "schemaVersion": 2,
            "mediaType": media_type::OCI_MANIFEST,
            "config": Descriptor::new(media_type::OCI_CONFIG, config_digest.clone(), config.len() as u64),
            "layers": stage.layers.iter().map(|(_, d)| d).collect::<Vec<_>>(),
        });
        if !annotations.is_empty() {
            manifest["annotations"] = json!(annotations);
        }
        let manifest = RawManifest::new(
            crate::manifest::canonical_json(&manifest),
            media_type::OCI_MANIFEST,
        );
        Ok(Assembled {
            manifest,
            config: (config_digest, config),
            layers: stage.layers.into_iter().map(|(blob, _)| blob).collect(),
        })
    }
}

impl<'a, 'b> Run<'a, 'b> {
    fn plan(&self) -> &'b Plan<'a> {
        self.plan
    }

    /// Evaluates stage `index`: its base, then each instruction.
    async fn stage(&mut self, index: usize) -> Result<StageImage, BuildError> {
        let stage = self.plan().stage(index);
        let globals = self.globals.clone();
        let lookup = |name: &str| globals.get(name).cloned();
        let stage_platform = match &stage.from.platform {
            Some(raw) => self.plan().stage_platform(raw, stage.line, &lookup)?,
            None => self.platform.clone(),
        };
        let from = self.plan().expand(&stage.from.image, stage.line, &lookup)?;
        let mut image = if from.eq_ignore_ascii_case("scratch") {
            StageImage {
                platform: stage_platform.clone(),
                config: ImageConfig::scratch(&stage_platform),
                layers: Vec::new(),
                base: None,
                args: BTreeMap::new(),
            }
        } else if let Some(parent) = self.plan().stage_before(&from, index) {
            let parent = self
                .stages
                .get(&parent)
                .cloned()
                .expect("stages are built in dependency order");
            if parent
                .config
                .get("OnBuild")
                .is_some_and(|t| t.as_array().is_some_and(|t| !t.is_empty()))
            {
                return Err(BuildError::Instruction {
                    path: self.plan().path.to_owned(),
                    line: stage.line,
                    message: format!(
                        "FROM {from}: that stage has ONBUILD triggers, which run here as commands; \
                         build with --engine buildah, podman or docker"
                    ),
                });
            }
            parent
        } else {
            let base = self.base_image(&from, &stage_platform, stage.line).await?;
            if base
                .config
                .pointer("/config/OnBuild")
                .and_then(|t| t.as_array())
                .is_some_and(|t| !t.is_empty())
            {
                return Err(BuildError::Instruction {
                    path: self.plan().path.to_owned(),
                    line: stage.line,
                    message: format!(
                        "FROM {from}: the image has ONBUILD triggers, which run commands; build \
                         with --engine buildah, podman or docker"
                    ),
                });
            }
            tracing::info!("{}: FROM {from} → {}", self.platform, base.manifest.digest);
            StageImage {
                platform: stage_platform.clone(),
                config: ImageConfig::from_base(&base.config, &stage_platform),
                layers: base
                    .layers
                    .iter()
                    .map(|d| {
                        let blob = LayerBlob::Base {
                            store: base.store.clone(),
                            descriptor: Box::new(d.clone()),
                        };
                        (blob, d.clone())
                    })
                    .collect(),
                base: Some((
                    matches!(base.reference.location, Location::Registry(_)).then(|| {
                        let mut named = base.reference.clone();
                        if named.tag.is_none() && named.digest.is_none() {
                            named.tag = Some(DEFAULT_TAG.to_owned());
                        }
                        named.to_string()
                    }),
                    base.manifest.digest.clone(),
                )),
                args: BTreeMap::new(),
            }
        };
        let mut state = settings::State::new(&image.config, &stage_platform, image.args.clone());
        for instruction in &stage.instructions {
            self.instruction(&mut image, &mut state, &stage_platform, instruction)
                .await?;
        }
        image.args = state.args;
        Ok(image)
    }

    async fn base_image(
        &mut self,
        name: &str,
        platform: &Platform,
        line: usize,
    ) -> Result<BaseImage, BuildError> {
        let key = format!("{name} {platform}");
        if let Some(base) = self.bases.get(&key) {
            return Ok(base.clone());
        }
        let reference = base::reference(name, &self.build.request.context).map_err(|message| {
            BuildError::Instruction {
                path: self.plan().path.to_owned(),
                line,
                message: format!("`{name}` is not an image reference: {message}"),
            }
        })?;
        let base = base::resolve(&reference, platform, self.build.registries).await?;
        self.bases.insert(key, base.clone());
        Ok(base)
    }
}

/// `created` and history times: the epoch as RFC 3339 (`1970-01-01T00:00:00Z`).
pub fn rfc3339(epoch: u64) -> String {
    let seconds = i64::try_from(epoch).unwrap_or(i64::MAX);
    chrono::DateTime::from_timestamp(seconds, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_formats_as_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
