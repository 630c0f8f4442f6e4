//! `COPY` and `ADD`: which paths of the build context, or of another image or stage, a step puts
//! where, as an [`Entries`] map ready for `layer::write`. Docker's rules:
//!
//! - Sources are paths or globs relative to the context root (or to `/` of an image); a leading
//!   `/` means the same. Globs use Go's `filepath.Match`, one path component at a time. A source
//!   matching nothing is an error that says when `.dockerignore` is the reason.
//! - `..` that climbs out, or a symlink that leads out of the context, is refused. In an image,
//!   symlinks resolve like a chroot.
//! - A directory source copies its *contents* (recursively) into the destination; a file goes
//!   to `dest/name` when the destination is a directory (a trailing `/`, several sources, or an
//!   existing directory of `onto`), else to `dest`. Symlinks inside copied trees stay symlinks;
//!   a symlink named as a source (or matched by a glob) is followed.
//! - Owner: `--chown`, else root for context files and the image's owner for image files. Mode:
//!   `--chmod` for files and directories, else the source's bits. mtime: `min(mtime, epoch)`.
//! - Parent directories not part of the copy get `0755`, root (or `--chown`) and mtime `epoch`,
//!   or, when `onto` (the stage being built) has them, its mode and owner with mtime `epoch`.
//! - Files that share an inode (hard links in the context, or in the source image or archive)
//!   stay hard links to the first of them in walk order.
//! - `ADD` (`extract_archives`) extracts a local tar archive (plain, gzip or zstd; bzip2 and xz
//!   are refused with a clear error) into the destination directory, refusing entries that escape
//!   as image layers do; ownership and modes come from the archive (ownership from `--chown` if
//!   given). Remote URLs are the caller's business.

use std::collections::{BTreeSet, HashMap};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::context::{Context, Unfiltered};
use super::fs::{
    Blobs, Entries, Entry, EntryKind, FsError, ResolveError, Tree, ancestors, clean_absolute,
    clean_components, io_err, join, path_order, remove_tree, resolve,
};
use super::pattern::{go_match, has_meta};
use super::rootfs::RootFs;
use super::unpack::{Unpack, open, sniff};

/// Where a COPY reads from.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    Context(&'a Context),
    /// `COPY --from=stage|image`.
    RootFs(&'a RootFs),
}

impl Source<'_> {
    fn tree(&self) -> &dyn Tree {
        match self {
            Source::Context(context) => *context,
            Source::RootFs(rootfs) => *rootfs,
        }
    }

    fn origin(&self) -> &'static str {
        match self {
            Source::Context(_) => "the build context",
            Source::RootFs(_) => "the source image or stage",
        }
    }
}

/// One COPY or ADD instruction, with variables already expanded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopySpec {
    pub sources: Vec<String>,
    /// Absolute path in the image, already joined with WORKDIR.
    pub dest: String,
    /// Set by the caller when `dest` ends with `/` or there are several sources.
    pub dest_is_dir: bool,
    pub chown: Option<(u64, u64)>,
    pub chmod: Option<u32>,
    /// ADD from the context: local tar archives are extracted into `dest`.
    pub extract_archives: bool,
    /// SOURCE_DATE_EPOCH (0 when unset): every mtime is clamped to it.
    pub epoch: u64,
    /// Leave out the directories a copy goes into (the destination of a directory's contents, and
    /// every parent), so an image underneath keeps its own: their modes and owners, or a symlink
    /// such as `/lib -> usr/lib`. Without it they are written as described above.
    pub keep_existing_parents: bool,
}

/// A source path as matched.
#[derive(Debug)]
struct Found {
    /// The last component as written or matched (`""` for the root).
    name: String,
    /// The resolved path in the tree.
    real: String,
    entry: Entry,
}

/// Plans the entries one COPY or ADD adds. `onto` is the filesystem of the stage being built,
/// when known: destinations then resolve through its symlinks, an existing directory receives
/// files into it, and existing parents keep their mode and owner. Archives `ADD` extracts are
/// written into a new directory under `work_dir`, which must outlive the layer written from the
/// plan.
pub fn plan(
    source: Source<'_>,
    spec: &CopySpec,
    onto: Option<&RootFs>,
    work_dir: &Path,
) -> Result<Entries, FsError> {
    let tree = source.tree();
    let origin = source.origin();
    let mut found = Vec::new();
    for pattern in &spec.sources {
        let matched = expand(tree, pattern, origin)?;
        if matched.is_empty() {
            return Err(not_found(source, pattern));
        }
        found.extend(matched);
    }
    let (dest, dest_exists) = place(&spec.dest, onto);
    let into_dir = spec.dest_is_dir || found.len() > 1 || dest_exists;
    let mut planner = Planner {
        spec,
        keep_owner: matches!(source, Source::RootFs(_)),
        onto,
        out: Entries::new(),
    };
    let mut blobs: Option<Blobs> = None;
    for item in found {
        match &item.entry.kind {
            EntryKind::Dir => {
                if !dest_exists && !dest.is_empty() && !spec.keep_existing_parents {
                    planner.put(dest.clone(), planner.adopt(item.entry.clone(), false));
                }
                tree.walk(&item.real, &mut |rel, entry| {
                    planner.put(join(&dest, rel), planner.adopt(entry, false));
                    Ok(())
                })?;
            }
            EntryKind::File { source: path, .. }
                if spec.extract_archives && matches!(source, Source::Context(_)) =>
            {
                let name = format!("archive `{}`", item.real);
                match sniff(path, &name)? {
                    Some(packing) => {
                        let blobs = match &mut blobs {
                            Some(blobs) => blobs,
                            None => blobs.insert(extraction_dir(work_dir)?),
                        };
                        let mut extracted = Entries::new();
                        let mut reader = open(path, packing)?;
                        Unpack {
                            tree: &mut extracted,
                            blobs,
                            whiteouts: false,
                            origin: &name,
                        }
                        .run(&mut reader)?;
                        for (rel, entry) in extracted {
                            planner.put(join(&dest, &rel), planner.adopt(entry, true));
                        }
                    }
                    None => planner.put_file(&dest, into_dir, item),
                }
            }
            _ => planner.put_file(&dest, into_dir, item),
        }
    }
    planner.finish()
}

fn extraction_dir(work_dir: &Path) -> Result<Blobs, FsError> {
    let dir = tempfile::Builder::new()
        .prefix("add-")
        .tempdir_in(work_dir)
        .map_err(io_err("create a directory in", work_dir))?;
    Ok(Blobs::new(dir.keep()))
}

/// Expands one source pattern into the paths it names, symlinks followed.
fn expand(tree: &dyn Tree, pattern: &str, origin: &'static str) -> Result<Vec<Found>, FsError> {
    let outside = |escape| FsError::SourceOutside {
        pattern: pattern.to_owned(),
        origin,
        escape,
    };
    let bad = |_| FsError::SourcePattern {
        pattern: pattern.to_owned(),
    };
    let lift = |e| match e {
        ResolveError::Escape(escape) => outside(escape),
        ResolveError::Fs(e) => e,
    };
    let parts = clean_components(pattern).map_err(outside)?;
    let mut candidates: Vec<Vec<String>> = vec![Vec::new()];
    for part in &parts {
        if !has_meta(part) {
            candidates
                .iter_mut()
                .for_each(|c| c.push((*part).to_owned()));
            continue;
        }
        go_match(part, "").map_err(bad)?;
        let mut next = Vec::new();
        for candidate in candidates {
            let path: Vec<&str> = candidate.iter().map(String::as_str).collect();
            let Some((real, entry)) = resolve(tree, &path, true).map_err(lift)? else {
                continue;
            };
            if !entry.is_dir() {
                continue;
            }
            for name in tree.children(&real)? {
                if go_match(part, &name).map_err(bad)? {
                    let mut longer = candidate.clone();
                    longer.push(name);
                    next.push(longer);
                }
            }
        }
        candidates = next;
    }
    let mut found = Vec::new();
    for candidate in candidates {
        let path: Vec<&str> = candidate.iter().map(String::as_str).collect();
        if let Some((real, entry)) = resolve(tree, &path, true).map_err(lift)? {
            found.push(Found {
                name: candidate.last().cloned().unwrap_or_default(),
                real,
                entry,
            });
        }
    }
    Ok(found)
}

fn not_found(source: Source<'_>, pattern: &str) -> FsError {
    let excluded_by = match source {
        Source::Context(context) => context
            .ignore_file()
            .filter(|_| {
                expand(&Unfiltered(context), pattern, source.origin()).is_ok_and(|f| !f.is_empty())
            })
            .map(Path::to_path_buf),
        Source::RootFs(_) => None,
    };
    FsError::SourceNotFound {
        pattern: pattern.to_owned(),
        origin: source.origin(),
        excluded_by,
    }
}

/// The destination path (relative, resolved through `onto`'s symlinks) and whether it is an
/// existing directory.
fn place(dest: &str, onto: Option<&RootFs>) -> (String, bool) {
    let clean = clean_absolute(dest);
    let Some(rootfs) = onto else {
        let is_root = clean.is_empty();
        return (clean, is_root);
    };
    let parts: Vec<&str> = clean.split('/').filter(|p| !p.is_empty()).collect();
    let Some((last, dirs)) = parts.split_last() else {
        return (clean, true);
    };
    if let Ok(Some((real, entry))) = resolve(rootfs, &parts, true)
        && entry.is_dir()
    {
        return (real, true);
    }
    match resolve(rootfs, dirs, true) {
        Ok(Some((real, entry))) if entry.is_dir() => (join(&real, last), false),
        _ => (clean, false),
    }
}

#[derive(Debug)]
struct Planner<'a> {
    spec: &'a CopySpec,
    /// Image sources keep their owners; context files belong to root.
    keep_owner: bool,
    onto: Option<&'a RootFs>,
    out: Entries,
}

impl Planner<'_> {
    /// Applies the instruction's owner, mode and mtime rules to a source entry.
    fn adopt(&self, entry: Entry, from_archive: bool) -> Entry {
        let owner = if self.keep_owner || from_archive {
            (entry.uid, entry.gid)
        } else {
            (0, 0)
        };
        let (uid, gid) = self.spec.chown.unwrap_or(owner);
        let mode = match entry.kind {
            EntryKind::Symlink { .. } => 0o777,
            _ if from_archive => entry.mode,
            _ => self.spec.chmod.unwrap_or(entry.mode) & 0o7777,
        };
        Entry {
            mode,
            uid,
            gid,
            mtime: entry.mtime.min(self.spec.epoch),
            kind: entry.kind,
        }
    }

    fn put(&mut self, path: String, entry: Entry) {
        if path.is_empty() {
            return;
        }
        if !entry.is_dir() {
            remove_tree(&mut self.out, &path);
        }
        self.out.insert(path, entry);
    }

    fn put_file(&mut self, dest: &str, into_dir: bool, item: Found) {
        let target = if into_dir || dest.is_empty() {
            join(dest, &item.name)
        } else {
            dest.to_owned()
        };
        let entry = self.adopt(item.entry, false);
        self.put(target, entry);
    }

    /// Adds the missing parents (unless told to keep the existing ones) and turns files sharing
    /// an inode into hard links.
    fn finish(mut self) -> Result<Entries, FsError> {
        let missing: BTreeSet<String> = self
            .out
            .keys()
            .flat_map(|path| ancestors(path))
            .filter(|dir| !self.out.get(*dir).is_some_and(Entry::is_dir))
            .filter(|_| !self.spec.keep_existing_parents)
            .map(str::to_owned)
            .collect();
        for dir in missing {
            let existing = self
                .onto
                .and_then(|rootfs| rootfs.get(&dir))
                .filter(|e| e.is_dir());
            let entry = match existing {
                Some(e) => Entry::dir(e.mode, e.uid, e.gid, self.spec.epoch),
                None => {
                    let (uid, gid) = self.spec.chown.unwrap_or((0, 0));
                    Entry::dir(0o755, uid, gid, self.spec.epoch)
                }
            };
            self.out.insert(dir, entry);
        }

        let mut inodes: HashMap<(u64, u64), Vec<String>> = HashMap::new();
        for (path, entry) in &self.out {
            if let EntryKind::File { source, .. } = &entry.kind {
                let meta = std::fs::metadata(source).map_err(io_err("read", source))?;
                inodes
                    .entry((meta.dev(), meta.ino()))
                    .or_default()
                    .push(path.clone());
            }
        }
        for mut paths in inodes.into_values().filter(|paths| paths.len() > 1) {
            paths.sort_by(|a, b| path_order(a, b));
            let first = paths[0].clone();
            for path in &paths[1..] {
                if let Some(entry) = self.out.get_mut(path) {
                    entry.kind = EntryKind::Hardlink {
                        target: first.clone(),
                    };
                }
            }
        }
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::{PermissionsExt, symlink};
    use std::path::PathBuf;
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::build::rootfs::tests::{TAR, tar_of};

    struct Fixture {
        dir: tempfile::TempDir,
        work: tempfile::TempDir,
    }

    impl Fixture {
        fn new(files: &[(&str, &str)]) -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            for (path, text) in files {
                let full = dir.path().join(path);
                fs::create_dir_all(full.parent().unwrap()).unwrap();
                if path.ends_with('/') {
                    fs::create_dir_all(&full).unwrap();
                } else {
                    fs::write(&full, text).unwrap();
                }
            }
            Fixture {
                dir,
                work: tempfile::tempdir().unwrap(),
            }
        }

        fn path(&self, rel: &str) -> PathBuf {
            self.dir.path().join(rel)
        }

        fn context(&self) -> Context {
            Context::open(self.dir.path(), &self.path("Dockerfile")).unwrap()
        }

        fn plan(&self, spec: &CopySpec) -> Result<Entries, FsError> {
            plan(
                Source::Context(&self.context()),
                spec,
                None,
                self.work.path(),
            )
        }
    }

    fn spec(sources: &[&str], dest: &str) -> CopySpec {
        CopySpec {
            sources: sources.iter().map(|s| (*s).to_owned()).collect(),
            dest: dest.to_owned(),
            dest_is_dir: dest.ends_with('/') || sources.len() > 1,
            ..CopySpec::default()
        }
    }

    fn paths(entries: &Entries) -> Vec<&str> {
        entries.keys().map(String::as_str).collect()
    }

    #[test]
    fn globs_and_file_destinations() {
        let fx = Fixture::new(&[
            ("a.txt", "a"),
            ("b.txt", "b"),
            ("c.md", "c"),
            ("sub/d.txt", "d"),
            ("sub/e.md", "e"),
        ]);
        let out = fx.plan(&spec(&["*.txt"], "/out/")).unwrap();
        assert_eq!(paths(&out), ["out", "out/a.txt", "out/b.txt"]);
        let out = fx.plan(&spec(&["s?b/*.[mx]d"], "/out/")).unwrap();
        assert_eq!(paths(&out), ["out", "out/e.md"]);
        // A glob matching several files makes the destination a directory.
        let out = fx.plan(&spec(&["/*.txt"], "/out")).unwrap();
        assert_eq!(paths(&out), ["out", "out/a.txt", "out/b.txt"]);
        // File to file, file into directory.
        let out = fx.plan(&spec(&["a.txt"], "/x/y")).unwrap();
        assert_eq!(paths(&out), ["x", "x/y"]);
        let out = fx.plan(&spec(&["a.txt"], "/x/y/")).unwrap();
        assert_eq!(paths(&out), ["x", "x/y", "x/y/a.txt"]);
        let out = fx.plan(&spec(&["a.txt", "c.md"], "/")).unwrap();
        assert_eq!(paths(&out), ["a.txt", "c.md"]);
        let err = fx.plan(&spec(&["*.rs"], "/")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "COPY source `*.rs` matched no files in the build context"
        );
        assert!(matches!(
            fx.plan(&spec(&["[x"], "/")),
            Err(FsError::SourcePattern { .. })
        ));
    }

    #[test]
    fn parents_of_an_image_underneath_are_left_alone_when_asked() {
        let fx = Fixture::new(&[("src/main.rs", "fn main() {}"), ("tool", "x")]);
        let mut s = spec(&["src"], "/usr/local/app");
        s.keep_existing_parents = true;
        let out = fx.plan(&s).unwrap();
        assert_eq!(paths(&out), ["usr/local/app/main.rs"]);
        let mut s = spec(&["tool"], "/lib/");
        s.keep_existing_parents = true;
        assert_eq!(paths(&fx.plan(&s).unwrap()), ["lib/tool"]);
    }

    #[test]
    fn directory_contents_parents_owner_mode_and_mtime() {
        let fx = Fixture::new(&[
            ("src/main.rs", "fn main() {}"),
            ("src/lib/x.rs", "x"),
            ("run.sh", "#!/bin/sh"),
        ]);
        fs::set_permissions(fx.path("run.sh"), fs::Permissions::from_mode(0o4755)).unwrap();
        fs::set_permissions(fx.path("src/lib"), fs::Permissions::from_mode(0o700)).unwrap();
        let old = SystemTime::UNIX_EPOCH + Duration::from_secs(500);
        fs::File::options()
            .write(true)
            .open(fx.path("src/main.rs"))
            .unwrap()
            .set_modified(old)
            .unwrap();

        let mut s = spec(&["src"], "/usr/local/app");
        s.epoch = 1000;
        let out = fx.plan(&s).unwrap();
        assert_eq!(
            paths(&out),
            [
                "usr",
                "usr/local",
                "usr/local/app",
                "usr/local/app/lib",
                "usr/local/app/lib/x.rs",
                "usr/local/app/main.rs"
            ]
        );
        assert_eq!(
            out["usr/local"],
            Entry::dir(0o755, 0, 0, 1000),
            "parents: 0755, root, epoch"
        );
        assert_eq!(out["usr/local/app/lib"].mode, 0o700);
        assert_eq!(
            out["usr/local/app/main.rs"].mtime, 500,
            "older than epoch: kept"
        );
        assert_eq!(
            out["usr/local/app/lib/x.rs"].mtime, 1000,
            "newer than epoch: clamped"
        );

        let mut s = spec(&["run.sh", "src/main.rs"], "/bin/");
        s.chown = Some((1000, 50));
        s.chmod = Some(0o750);
        let out = fx.plan(&s).unwrap();
        for (path, entry) in &out {
            assert_eq!((entry.uid, entry.gid), (1000, 50), "{path}");
        }
        assert_eq!(out["bin"].mode, 0o755, "parents are not chmodded");
        assert_eq!(out["bin/run.sh"].mode, 0o750);
        assert_eq!(out["bin/run.sh"].mtime, 0, "epoch 0 clamps every time to 0");

        let out = fx.plan(&spec(&["run.sh"], "/bin/")).unwrap();
        assert_eq!(
            (out["bin/run.sh"].mode, out["bin/run.sh"].uid),
            (0o4755, 0),
            "setuid kept, root owner"
        );
    }

    #[test]
    fn symlinks_are_kept_inside_trees_and_followed_when_named() {
        let fx = Fixture::new(&[("data/real.txt", "r"), ("outside/secret", "s")]);
        symlink("real.txt", fx.path("data/alias")).unwrap();
        symlink("/etc/passwd", fx.path("data/abs")).unwrap();
        symlink("data/real.txt", fx.path("named")).unwrap();
        let out = fx.plan(&spec(&["data"], "/d")).unwrap();
        assert_eq!(
            out["d/alias"].kind,
            EntryKind::Symlink {
                target: "real.txt".into()
            }
        );
        assert_eq!(
            out["d/abs"].kind,
            EntryKind::Symlink {
                target: "/etc/passwd".into()
            },
            "values are kept"
        );
        assert_eq!(out["d/alias"].mode, 0o777);
        let out = fx.plan(&spec(&["named"], "/x/")).unwrap();
        assert!(
            matches!(&out["x/named"].kind, EntryKind::File { source, .. } if source.ends_with("data/real.txt"))
        );
    }

    #[test]
    fn escapes_are_refused_naming_the_source() {
        let fx = Fixture::new(&[("a", "a")]);
        symlink("/etc", fx.path("etc")).unwrap();
        symlink("../..", fx.path("up")).unwrap();
        for source in [
            "../x",
            "a/../../x",
            "etc/passwd",
            "etc",
            "up/etc/passwd",
            "*",
        ] {
            let err = fx.plan(&spec(&[source], "/")).unwrap_err();
            assert!(
                matches!(&err, FsError::SourceOutside { pattern, .. } if pattern == source),
                "{source}: {err}"
            );
        }
        let err = fx.plan(&spec(&["etc/passwd"], "/")).unwrap_err();
        assert!(err.to_string().contains("`etc` -> `/etc`"), "{err}");
        // Inside the context, `..` is fine.
        assert_eq!(paths(&fx.plan(&spec(&["etc/../a"], "/")).unwrap()), ["a"]);
    }

    #[test]
    fn ignored_files_are_invisible_and_the_error_says_why() {
        let fx = Fixture::new(&[
            (".dockerignore", "secret*\nlogs\n!logs/keep\n"),
            ("secret.key", "k"),
            ("app", "a"),
            ("logs/x", "x"),
            ("logs/keep", "k"),
        ]);
        let err = fx.plan(&spec(&["secret.key"], "/")).unwrap_err();
        let want = "COPY source `secret.key` matched no files in the build context \
                    (it exists but is excluded by";
        assert!(err.to_string().starts_with(want), "{err}");
        let out = fx.plan(&spec(&["."], "/")).unwrap();
        assert_eq!(paths(&out), [".dockerignore", "app", "logs", "logs/keep"]);
        let out = fx.plan(&spec(&["*"], "/o/")).unwrap();
        assert_eq!(paths(&out), ["o", "o/.dockerignore", "o/app", "o/keep"]);
    }

    #[test]
    fn hard_links_stay_hard_links() {
        let fx = Fixture::new(&[("d/a", "same")]);
        fs::hard_link(fx.path("d/a"), fx.path("d/b")).unwrap();
        let out = fx.plan(&spec(&["d"], "/x")).unwrap();
        assert!(matches!(out["x/a"].kind, EntryKind::File { .. }));
        assert_eq!(
            out["x/b"].kind,
            EntryKind::Hardlink {
                target: "x/a".into()
            }
        );
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut w, data).unwrap();
        w.finish().unwrap()
    }

    #[test]
    fn add_extracts_local_archives() {
        let tar = tar_of(&[
            ("./", "dir"),
            ("./app/", "dir"),
            ("./app/bin", "file:bin"),
            ("./app/link", "link:/etc/passwd"),
            ("./app/hard", "hard:app/bin"),
        ]);
        let fx = Fixture::new(&[("notes.txt.gz", "")]);
        fs::write(fx.path("plain.tar"), &tar).unwrap();
        fs::write(fx.path("packed.tgz"), gzip(&tar)).unwrap();
        fs::write(
            fx.path("packed.tar.zst"),
            zstd::encode_all(&tar[..], 3).unwrap(),
        )
        .unwrap();
        fs::write(fx.path("notes.txt.gz"), gzip(b"not a tar")).unwrap();
        for archive in ["plain.tar", "packed.tgz", "packed.tar.zst"] {
            let mut s = spec(&[archive], "/opt");
            s.extract_archives = true;
            s.epoch = 1_800_000_000;
            let out = fx.plan(&s).unwrap();
            assert_eq!(
                paths(&out),
                [
                    "opt",
                    "opt/app",
                    "opt/app/bin",
                    "opt/app/hard",
                    "opt/app/link"
                ],
                "{archive}"
            );
            assert_eq!(
                (
                    out["opt/app/bin"].uid,
                    out["opt/app/bin"].mode,
                    out["opt/app/bin"].mtime
                ),
                (1000, 0o640, 1_700_000_000)
            );
            assert_eq!(
                out["opt/app/hard"].kind,
                EntryKind::Hardlink {
                    target: "opt/app/bin".into()
                }
            );
            assert_eq!(
                out["opt/app/link"].kind,
                EntryKind::Symlink {
                    target: "/etc/passwd".into()
                }
            );
        }
        // A compressed file that is not a tar is copied as it is; COPY never extracts.
        let mut s = spec(&["notes.txt.gz"], "/n/");
        s.extract_archives = true;
        assert_eq!(paths(&fx.plan(&s).unwrap()), ["n", "n/notes.txt.gz"]);
        assert_eq!(
            paths(&fx.plan(&spec(&["plain.tar"], "/n/")).unwrap()),
            ["n", "n/plain.tar"]
        );
        // xz (and bzip2) archives are recognised and refused rather than copied unextracted.
        fs::write(fx.path("data.tar.xz"), b"\xfd7zXZ\x00rest").unwrap();
        let mut s = spec(&["data.tar.xz"], "/");
        s.extract_archives = true;
        let err = fx.plan(&s).unwrap_err();
        assert!(
            matches!(err, FsError::ArchiveFormat { format: "xz", .. }),
            "{err}"
        );
        // Malicious archives.
        for (items, what) in [
            (vec![("../evil", "file:x")], "parent"),
            (
                vec![("./ok", "link:/etc"), ("./ok/passwd", "file:x")],
                "symlink then write",
            ),
        ] {
            fs::write(fx.path("bad.tar"), tar_of(&items)).unwrap();
            let mut s = spec(&["bad.tar"], "/");
            s.extract_archives = true;
            let err = fx.plan(&s).unwrap_err();
            assert!(
                matches!(err, FsError::ArchiveEscape { .. }),
                "{what}: {err}"
            );
        }
    }

    #[test]
    fn copy_from_an_image_keeps_owners_and_resolves_like_a_chroot() {
        let work = tempfile::tempdir().unwrap();
        let mut image = RootFs::new(work.path()).unwrap();
        let layer = tar_of(&[
            ("usr/", "dir"),
            ("usr/lib/", "dir"),
            ("usr/lib/libx.so", "file:x"),
            ("lib", "link:/usr/lib"),
            ("tmp/", "dir"),
        ]);
        image.apply_layer(&layer[..], TAR).unwrap();
        let out = plan(
            Source::RootFs(&image),
            &spec(&["/lib/libx.so"], "/out/"),
            None,
            work.path(),
        )
        .unwrap();
        assert_eq!(
            (out["out/libx.so"].uid, out["out/libx.so"].mode),
            (1000, 0o640)
        );
        let err = plan(
            Source::RootFs(&image),
            &spec(&["nope*"], "/"),
            None,
            work.path(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "COPY source `nope*` matched no files in the source image or stage"
        );

        // Onto a stage: existing directories receive files and keep their metadata.
        let fx = Fixture::new(&[("f", "f")]);
        let ctx = fx.context();
        let mut s = spec(&["f"], "/lib");
        s.epoch = 7;
        let out = plan(Source::Context(&ctx), &s, Some(&image), work.path()).unwrap();
        assert_eq!(
            paths(&out),
            ["usr", "usr/lib", "usr/lib/f"],
            "through the /lib symlink, into the directory"
        );
        assert_eq!(out["usr/lib"], Entry::dir(0o750, 1000, 1000, 7));
        let out = plan(
            Source::Context(&ctx),
            &spec(&["f"], "/tmp/new/g"),
            Some(&image),
            work.path(),
        )
        .unwrap();
        assert_eq!(out["tmp"].mode, 0o750);
        assert_eq!(out["tmp/new"].mode, 0o755);
    }
}
