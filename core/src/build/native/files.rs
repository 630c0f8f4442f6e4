//! COPY and ADD: files from the context, another stage or another image become one reproducible
//! layer. Layers whose inputs are unchanged since the last build, and which the destination
//! already holds, are not written again.

use std::sync::Arc;

use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use super::settings::{State, join_path};
use super::{Run, StageImage};
use crate::build::BuildError;
use crate::build::context::Context;
use crate::build::copy::{self, CopySpec, Source};
use crate::build::layer;
use crate::build::publish::LayerBlob;
use crate::build::rootfs::RootFs;
use crate::dockerfile::{self, Copy};
use crate::manifest::Descriptor;
use crate::platform::Platform;

impl Run<'_, '_> {
    pub(super) async fn copy(
        &mut self,
        image: &mut StageImage,
        state: &State,
        stage_platform: &Platform,
        copy: &Copy,
        line: usize,
    ) -> Result<(), BuildError> {
        let lookup = state.lookup(&image.config);
        let expand = |raw: &str| self.plan().expand(raw, line, &lookup);
        let mut sources = Vec::new();
        for raw in &copy.sources {
            sources.push(expand(raw)?);
        }
        sources.extend(copy.heredocs.iter().map(|h| h.name.clone()));
        let raw_dest = expand(&copy.dest)?;
        let dest_is_dir = raw_dest.ends_with('/') || raw_dest == "." || sources.len() > 1;
        if let Some(url) = sources.iter().find(|s| crate::build::plan::is_remote(s)) {
            return Err(BuildError::Instruction {
                path: self.plan().path.to_owned(),
                line,
                message: format!(
                    "{} {url}: fetching from the network needs an engine that does it; use \
                     --engine buildah, podman or docker, or download it before the build and COPY it",
                    if copy.add { "ADD" } else { "COPY" }
                ),
            });
        }
        let dest = join_path(&state.workdir, &raw_dest);
        let chown = match &copy.chown {
            Some(raw) => Some(self.owner(image, &expand(raw)?, line).await?),
            None => None,
        };
        let chmod = match &copy.chmod {
            Some(raw) => Some(self.mode(&expand(raw)?, line)?),
            None => None,
        };
        // `--from` sees the stage's ARG and ENV, then the global arguments, as the plan did.
        let from = match &copy.from {
            Some(raw) => {
                let globals = &self.globals;
                let scoped = |name: &str| lookup(name).or_else(|| globals.get(name).cloned());
                Some(self.plan().expand(raw, line, &scoped)?)
            }
            None => None,
        };
        let spec = CopySpec {
            sources: sources.clone(),
            dest: dest.clone(),
            dest_is_dir,
            chown,
            chmod,
            extract_archives: copy.add && from.is_none(),
            epoch: self.build.request.epoch,
            // The files underneath are not read (no base layer is downloaded for a COPY), so
            // their directories are left alone rather than overwritten with guesses.
            keep_existing_parents: !image.layers.is_empty(),
        };
        let scratch = self.build.scratch.to_owned();
        let plan = self.plan();
        let files_error = |source| BuildError::Files {
            path: plan.path.to_owned(),
            line,
            source: Box::new(source),
        };
        let heredocs = self.heredocs(copy, &lookup, line)?;
        let compression = self.build.request.compression;
        // `COPY --from=image`: its files are unpacked afresh each build (new inodes, so no stat
        // key repeats), but the image's digest and this instruction say all: key on those, and
        // skip even the download when the layer is known and present.
        let image_key = match (&from, &heredocs) {
            (Some(name), None) if self.plan().stage_before(name, usize::MAX).is_none() => {
                let image = self.base_image(name, stage_platform, line).await?;
                Some(layer::fingerprint_of(
                    &format!("copy --from {} {spec:?}", image.manifest.digest),
                    compression,
                ))
            }
            _ => None,
        };
        if let Some(key) = &image_key
            && let Some(blob) = self.reusable(key).await
        {
            self.add_layer(image, blob, copy, &from, &sources, &raw_dest);
            return Ok(());
        }
        let entries = match (&from, &heredocs) {
            (_, Some(files)) => tokio::task::block_in_place(|| {
                let context = Context::open(files.path(), &files.path().join("Dockerfile"))?;
                copy::plan(Source::Context(&context), &spec, None, &scratch)
            })
            .map_err(files_error)?,
            (None, None) => tokio::task::block_in_place(|| {
                copy::plan(Source::Context(&self.context), &spec, None, &scratch)
            })
            .map_err(files_error)?,
            (Some(name), None) => {
                let rootfs = self.filesystem(name, stage_platform, line).await?;
                tokio::task::block_in_place(|| {
                    copy::plan(Source::RootFs(&rootfs), &spec, None, &scratch)
                })
                .map_err(files_error)?
            }
        };

        let key = image_key.unwrap_or_else(|| layer::fingerprint(&entries, compression));
        let blob = match self.reusable(&key).await {
            Some(blob) => blob,
            None => {
                let bytes: u64 = entries
                    .values()
                    .map(|e| match e.kind {
                        crate::build::fs::EntryKind::File { size, .. } => size,
                        _ => 0,
                    })
                    .sum();
                if bytes > 64 * 1024 * 1024 {
                    tracing::info!(
                        "{}: line {line}: writing a layer of {} entries, {} MiB…",
                        self.platform,
                        entries.len(),
                        bytes / (1024 * 1024)
                    );
                }
                let started = std::time::Instant::now();
                let written =
                    tokio::task::block_in_place(|| layer::write(&entries, compression, &scratch))
                        .map_err(files_error)?;
                tracing::info!(
                    "{}: line {line}: layer {} ({} entries, {} bytes compressed) in {:.1?}",
                    self.platform,
                    written.digest,
                    entries.len(),
                    written.size,
                    started.elapsed()
                );
                let written = Arc::new(written);
                self.build.cache.remember(&key, written.clone());
                LayerBlob::Built(written)
            }
        };
        self.add_layer(image, blob, copy, &from, &sources, &raw_dest);
        Ok(())
    }

    /// Appends a COPY's layer to the stage, with its diff_id and history entry.
    fn add_layer(
        &self,
        image: &mut StageImage,
        blob: LayerBlob,
        copy: &Copy,
        from: &Option<String>,
        sources: &[String],
        raw_dest: &str,
    ) {
        let (digest, diff_id, size) = match &blob {
            LayerBlob::Built(layer) => (layer.digest.clone(), layer.diff_id.clone(), layer.size),
            LayerBlob::Present(known) => (known.digest.clone(), known.diff_id.clone(), known.size),
            LayerBlob::Base { .. } => unreachable!("COPY makes new layers"),
        };
        image.config.push_diff_id(&diff_id);
        let media_type = self.build.request.compression.media_type();
        image
            .layers
            .push((blob, Descriptor::new(media_type, digest, size)));

        let keyword = if copy.add { "ADD" } else { "COPY" };
        let mut flags = String::new();
        if let Some(from) = from {
            flags.push_str(&format!("--from={from} "));
        }
        if let Some(raw) = &copy.chown {
            flags.push_str(&format!("--chown={raw} "));
        }
        if let Some(raw) = &copy.chmod {
            flags.push_str(&format!("--chmod={raw} "));
        }
        let created_by = format!("{keyword} {flags}{} {raw_dest}", sources.join(" "));
        image.config.push_history(&self.created, &created_by, false);
    }

    /// `COPY <<EOF /dest` inline files, written into a directory of their own that serves as the
    /// context of this one instruction.
    fn heredocs(
        &self,
        copy: &Copy,
        lookup: &dyn Fn(&str) -> Option<String>,
        line: usize,
    ) -> Result<Option<tempfile::TempDir>, BuildError> {
        if copy.heredocs.is_empty() {
            return Ok(None);
        }
        let instruction = |message: String| BuildError::Instruction {
            path: self.plan().path.to_owned(),
            line,
            message,
        };
        if !copy.sources.is_empty() || copy.from.is_some() {
            return Err(instruction(
                "COPY with inline files (<<EOF) cannot also copy other sources or use --from; \
                 split it into two COPY instructions"
                    .to_owned(),
            ));
        }
        let dir = tempfile::Builder::new()
            .prefix("heredoc-")
            .tempdir_in(self.build.scratch)
            .map_err(BuildError::io("creating a scratch directory"))?;
        for heredoc in &copy.heredocs {
            // The name becomes a file name: one plain path component, nothing that could reach
            // outside this directory or stand for the ignore file.
            let name = &heredoc.name;
            if name.is_empty()
                || name.contains('/')
                || name == "."
                || name == ".."
                || name.ends_with(".dockerignore")
            {
                return Err(instruction(format!(
                    "COPY <<{name}: the name of an inline file becomes its file name, so it must \
                     be a plain name such as EOF or config.yaml (no `/`, `.`, `..` or .dockerignore)"
                )));
            }
            let content = if heredoc.expand {
                dockerfile::expand_heredoc(&heredoc.content, lookup)
                    .map_err(|e| instruction(e.to_string()))?
            } else {
                heredoc.content.clone()
            };
            let path = dir.path().join(name);
            let mut file = std::fs::File::create_new(&path)
                .map_err(BuildError::io(format!("writing {}", path.display())))?;
            std::io::Write::write_all(&mut file, content.as_bytes())
                .map_err(BuildError::io(format!("writing {}", path.display())))?;
            let mode = std::os::unix::fs::PermissionsExt::from_mode(0o644);
            std::fs::set_permissions(&path, mode)
                .map_err(BuildError::io(format!("writing {}", path.display())))?;
        }
        Ok(Some(dir))
    }

    /// A layer that need not be written again: built earlier in this run (another platform), or
    /// built in an earlier run and already at the destination.
    async fn reusable(&self, key: &str) -> Option<LayerBlob> {
        if let Some(layer) = self.build.cache.built(key) {
            return Some(LayerBlob::Built(layer));
        }
        // A stage whose files are read (`COPY --from`, `--chown=name`) needs its layers on disk,
        // so nothing is skipped then.
        if self.plan().needs_files {
            return None;
        }
        let known = self.build.cache.known(key)?;
        let target = self.build.target?;
        match target.blob_exists(&known.digest).await {
            Ok(true) => {
                tracing::info!(
                    "{}: unchanged layer {} is already at {}",
                    self.platform,
                    known.digest,
                    target.location()
                );
                Some(LayerBlob::Present(known))
            }
            _ => None,
        }
    }

    /// The files of a stage or image named by `COPY --from`, materialised once per build.
    async fn filesystem(
        &mut self,
        name: &str,
        platform: &Platform,
        line: usize,
    ) -> Result<Arc<RootFs>, BuildError> {
        let key = format!("{name} {platform}");
        if let Some(rootfs) = self.filesystems.get(&key) {
            return Ok(rootfs.clone());
        }
        let layers: Vec<LayerBlob> = match self.plan().stage_before(name, usize::MAX) {
            Some(index) => self
                .stages
                .get(&index)
                .map(|stage| stage.layers.iter().map(|(blob, _)| blob.clone()).collect())
                .ok_or_else(|| BuildError::Instruction {
                    path: self.plan().path.to_owned(),
                    line,
                    message: format!("COPY --from={name}: that stage is not built before this one"),
                })?,
            None => {
                let base = self.base_image(name, platform, line).await?;
                base.layers
                    .iter()
                    .map(|d| LayerBlob::Base {
                        store: base.store.clone(),
                        descriptor: Box::new(d.clone()),
                    })
                    .collect()
            }
        };
        let rootfs = Arc::new(self.materialise(&layers, line).await?);
        self.filesystems.insert(key, rootfs.clone());
        Ok(rootfs)
    }

    /// Unpacks `layers` in order into a new filesystem (downloading base layers).
    async fn materialise(&self, layers: &[LayerBlob], line: usize) -> Result<RootFs, BuildError> {
        let mut rootfs = RootFs::new(self.build.scratch).map_err(|source| BuildError::Files {
            path: self.plan().path.to_owned(),
            line,
            source: Box::new(source),
        })?;
        for blob in layers {
            self.apply(&mut rootfs, blob, line).await?;
        }
        Ok(rootfs)
    }

    async fn apply(
        &self,
        rootfs: &mut RootFs,
        blob: &LayerBlob,
        line: usize,
    ) -> Result<(), BuildError> {
        let files_error = |source| BuildError::Files {
            path: self.plan().path.to_owned(),
            line,
            source: Box::new(source),
        };
        match blob {
            LayerBlob::Built(layer) => {
                let file = std::fs::File::open(&layer.file)
                    .map_err(BuildError::io(format!("reading layer {}", layer.digest)))?;
                tokio::task::block_in_place(|| {
                    rootfs.apply_layer(file, layer.compression.media_type())
                })
                .map_err(files_error)
            }
            LayerBlob::Base { store, descriptor } => {
                // Downloaded (and verified) into a temporary file, then unpacked.
                let download = tempfile::NamedTempFile::new_in(self.build.scratch)
                    .map_err(BuildError::io("creating a scratch file"))?;
                let mut out = tokio::fs::File::create(download.path())
                    .await
                    .map_err(BuildError::io("creating a scratch file"))?;
                let mut stream = store
                    .open_blob(&descriptor.digest, descriptor.size)
                    .await
                    .map_err(|source| BuildError::Store {
                        reference: store.location().to_string(),
                        source: Box::new(source),
                    })?;
                while let Some(chunk) = stream.next().await {
                    let chunk = chunk.map_err(BuildError::io(format!(
                        "downloading layer {}",
                        descriptor.digest
                    )))?;
                    out.write_all(&chunk)
                        .await
                        .map_err(BuildError::io("writing a scratch file"))?;
                }
                out.flush()
                    .await
                    .map_err(BuildError::io("writing a scratch file"))?;
                let file = download
                    .reopen()
                    .map_err(BuildError::io("reading a scratch file"))?;
                tokio::task::block_in_place(|| rootfs.apply_layer(file, &descriptor.media_type))
                    .map_err(files_error)
            }
            LayerBlob::Present(known) => Err(BuildError::Instruction {
                path: self.plan().path.to_owned(),
                line,
                message: format!(
                    "--chown with names reads the stage's files, but layer {} was reused from the \
                     cache without being written here; build with --no-cache, or use numeric IDs",
                    known.digest
                ),
            }),
        }
    }

    /// `--chown=USER[:GROUP]`. Numeric IDs are taken as they are; names are looked up in the
    /// stage's /etc/passwd and /etc/group, which means unpacking its layers.
    async fn owner(
        &self,
        image: &StageImage,
        value: &str,
        line: usize,
    ) -> Result<(u64, u64), BuildError> {
        let (user, group) = match value.split_once(':') {
            Some((user, group)) => (user, Some(group)),
            None => (value, None),
        };
        let number = |part: &str| part.parse::<u64>().ok();
        match (number(user), group.map(number)) {
            (Some(uid), None) => return Ok((uid, uid)),
            (Some(uid), Some(Some(gid))) => return Ok((uid, gid)),
            _ => {}
        }
        let layers: Vec<LayerBlob> = image.layers.iter().map(|(b, _)| b.clone()).collect();
        let rootfs = self.materialise(&layers, line).await?;
        rootfs.chown(value).map_err(|source| BuildError::Files {
            path: self.plan().path.to_owned(),
            line,
            source: Box::new(source),
        })
    }

    /// `--chmod=0755` (octal).
    fn mode(&self, value: &str, line: usize) -> Result<u32, BuildError> {
        u32::from_str_radix(value, 8)
            .ok()
            .filter(|mode| *mode <= 0o7777)
            .ok_or_else(|| BuildError::Instruction {
                path: self.plan().path.to_owned(),
                line,
                message: format!("--chmod={value}: expected an octal mode such as 0755 or 644"),
            })
    }
}
