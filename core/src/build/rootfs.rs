//! The filesystem of an image or build stage, so `COPY --from` can read it.
//!
//! Layers are applied in order ([`RootFs::apply_layer`]), decompressed by media type, with OCI
//! whiteouts honoured. Contents go to numbered files in a private directory under the work
//! directory, written unprivileged; each path's kind, mode, owner and mtime are kept in memory
//! (ownership on disk is never read). Entries that would escape the root are refused (see
//! `unpack`). Paths resolve like a chroot: absolute symlink targets start at the image root and
//! `..` stops there. The directory is removed when the `RootFs` is dropped, so entries planned
//! from it must be written into a layer first.
//!
//! A failed `apply_layer` leaves the `RootFs` half-applied: discard it.

use std::io::Read;
use std::path::Path;
use std::str::FromStr;

use super::compress;
use super::fs::{
    Blobs, Confine, Entries, Entry, EntryKind, FsError, Tree, ancestors, descendants, io_err,
    remove_tree, resolve,
};
use super::unpack::Unpack;

/// The largest `/etc/passwd` or `/etc/group` read for `--chown` names.
const MAX_ACCOUNT_FILE: u64 = 16 << 20;

/// A materialised image filesystem.
#[derive(Debug)]
pub struct RootFs {
    /// Holds the file contents; removed on drop.
    _dir: tempfile::TempDir,
    blobs: Blobs,
    tree: Entries,
    layers: usize,
}

impl RootFs {
    /// An empty filesystem whose file contents will live in a new directory under `work_dir`.
    pub fn new(work_dir: &Path) -> Result<RootFs, FsError> {
        let dir = tempfile::Builder::new()
            .prefix("rootfs-")
            .tempdir_in(work_dir)
            .map_err(io_err("create a directory in", work_dir))?;
        let blobs = Blobs::new(dir.path().to_path_buf());
        Ok(RootFs {
            _dir: dir,
            blobs,
            tree: Entries::new(),
            layers: 0,
        })
    }

    /// Applies the next layer, read from `reader` and decompressed according to `media_type`.
    pub fn apply_layer(&mut self, reader: impl Read, media_type: &str) -> Result<(), FsError> {
        let mut reader = compress::decoder(media_type, reader)?;
        self.layers += 1;
        let origin = format!("layer {} ({media_type})", self.layers);
        Unpack {
            tree: &mut self.tree,
            blobs: &mut self.blobs,
            whiteouts: true,
            origin: &origin,
        }
        .run(&mut reader)
    }

    /// Applies planned entries (a layer this build just wrote), so later `COPY --from` of this
    /// stage sees them. File contents stay where the entries point.
    pub fn apply_entries(&mut self, entries: &Entries) {
        let mut paths: Vec<&String> = entries.keys().collect();
        paths.sort_by(|a, b| super::fs::path_order(a, b));
        for path in paths {
            let Some(entry) = entries.get(path) else {
                continue;
            };
            for dir in ancestors(path) {
                if !self.tree.get(dir).is_some_and(Entry::is_dir) {
                    remove_tree(&mut self.tree, dir);
                    self.tree.insert(dir.to_owned(), Entry::dir(0o755, 0, 0, 0));
                }
            }
            let entry = match &entry.kind {
                EntryKind::Hardlink { target } => match self.tree.get(target) {
                    Some(linked) => linked.clone(),
                    None => continue,
                },
                _ => entry.clone(),
            };
            match self.tree.get_mut(path.as_str()) {
                Some(existing) if existing.is_dir() && entry.is_dir() => *existing = entry,
                _ => {
                    remove_tree(&mut self.tree, path);
                    self.tree.insert(path.clone(), entry);
                }
            }
        }
    }

    /// Every path, keyed without a leading `/`.
    pub fn entries(&self) -> &Entries {
        &self.tree
    }

    /// The entry at `path` (leading `/` optional), symlinks not followed.
    pub fn get(&self, path: &str) -> Option<&Entry> {
        self.tree.get(path.trim_start_matches('/'))
    }

    /// The uid of user `name` in the image's `/etc/passwd`.
    pub fn user(&self, name: &str) -> Option<u64> {
        self.passwd(name).map(|(uid, _)| uid)
    }

    /// The gid of group `name` in the image's `/etc/group`.
    pub fn group(&self, name: &str) -> Option<u64> {
        let text = self.account_file("group")?;
        account(&text, name).map(|fields| fields.0)
    }

    /// Resolves a `--chown` value as BuildKit does: `user[:group]`, each a name or a number;
    /// a user name alone takes its primary group from `/etc/passwd`, a number alone is used for
    /// both.
    pub fn chown(&self, spec: &str) -> Result<(u64, u64), FsError> {
        let (user, group) = match spec.split_once(':') {
            Some((user, group)) => (user, Some(group)),
            None => (spec, None),
        };
        let missing = |kind: &'static str, name: &str, file: &str| FsError::Chown {
            kind,
            name: name.to_owned(),
            reason: format!("no such name in the image's /etc/{file}"),
        };
        let (uid, primary) = match u64::from_str(user) {
            Ok(uid) => (uid, uid),
            Err(_) => self
                .passwd(user)
                .ok_or_else(|| missing("user", user, "passwd"))?,
        };
        let gid = match group {
            None => primary,
            Some(group) => match u64::from_str(group) {
                Ok(gid) => gid,
                Err(_) => self
                    .group(group)
                    .ok_or_else(|| missing("group", group, "group"))?,
            },
        };
        Ok((uid, gid))
    }

    fn passwd(&self, name: &str) -> Option<(u64, u64)> {
        let text = self.account_file("passwd")?;
        account(&text, name)
    }

    /// `/etc/NAME`, followed through symlinks inside the image.
    fn account_file(&self, name: &str) -> Option<String> {
        let (_, entry) = resolve(self, &["etc", name], true).ok()??;
        let EntryKind::File { source, .. } = entry.kind else {
            return None;
        };
        let mut text = String::new();
        std::fs::File::open(source)
            .ok()?
            .take(MAX_ACCOUNT_FILE)
            .read_to_string(&mut text)
            .ok()?;
        Some(text)
    }
}

/// Fields 3 and 4 (ids) of the line for `name` in a passwd or group file.
fn account(text: &str, name: &str) -> Option<(u64, u64)> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let mut fields = line.split(':');
            if fields.next()? != name {
                return None;
            }
            let first = fields.nth(1)?.trim().parse().ok()?;
            let second = fields
                .next()
                .and_then(|f| f.trim().parse().ok())
                .unwrap_or(first);
            Some((first, second))
        })
}

impl Tree for RootFs {
    fn stat(&self, path: &str) -> Result<Option<Entry>, FsError> {
        if path.is_empty() {
            return Ok(Some(Entry::dir(0o755, 0, 0, 0)));
        }
        Ok(self.tree.get(path).cloned())
    }

    fn children(&self, dir: &str) -> Result<Vec<String>, FsError> {
        let skip = if dir.is_empty() { 0 } else { dir.len() + 1 };
        let mut names: Vec<String> = descendants(&self.tree, dir)
            .map(|(path, _)| &path[skip..])
            .filter(|rest| !rest.contains('/'))
            .map(str::to_owned)
            .collect();
        names.sort();
        Ok(names)
    }

    fn confine(&self) -> Confine {
        Confine::Chroot
    }

    fn walk(
        &self,
        dir: &str,
        visit: &mut dyn FnMut(&str, Entry) -> Result<(), FsError>,
    ) -> Result<(), FsError> {
        let skip = if dir.is_empty() { 0 } else { dir.len() + 1 };
        for (path, entry) in descendants(&self.tree, dir) {
            visit(&path[skip..], entry.clone())?;
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::build::compress::Compression;

    pub(crate) const TAR: &str = crate::media_type::OCI_LAYER_TAR;

    /// A tar from `(name, kind)` pairs: `"file:TEXT"`, `"dir"`, `"link:TARGET"`, `"hard:TARGET"`.
    pub(crate) fn tar_of(items: &[(&str, &str)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, what) in items {
            let mut header = tar::Header::new_gnu();
            header.set_mtime(1_700_000_000);
            header.set_uid(1000);
            header.set_gid(1000);
            let (kind, arg) = what.split_once(':').unwrap_or((what, ""));
            let data: &[u8] = if kind == "file" { arg.as_bytes() } else { b"" };
            header.set_size(data.len() as u64);
            match kind {
                "file" => {
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_mode(0o640);
                }
                "dir" => {
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_mode(0o750);
                }
                "link" | "hard" => {
                    let t = if kind == "link" {
                        tar::EntryType::Symlink
                    } else {
                        tar::EntryType::Link
                    };
                    header.set_entry_type(t);
                    header.set_mode(0o777);
                    header.set_link_name_literal(arg).unwrap();
                }
                _ => panic!("unknown kind {kind}"),
            }
            // Raw names, so tests can write `..` and absolute paths.
            let bytes = name.as_bytes();
            header.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
            header.set_cksum();
            builder.append(&header, data).unwrap();
        }
        builder.into_inner().unwrap()
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut w, data).unwrap();
        w.finish().unwrap()
    }

    fn content(fs: &RootFs, path: &str) -> String {
        match &fs.get(path).unwrap().kind {
            EntryKind::File { source, .. } => std::fs::read_to_string(source).unwrap(),
            other => panic!("{path} is {other:?}"),
        }
    }

    #[test]
    fn layers_with_plain_and_opaque_whiteouts() {
        let work = tempfile::tempdir().unwrap();
        let mut fs = RootFs::new(work.path()).unwrap();
        let base = tar_of(&[
            ("etc/", "dir"),
            (
                "etc/passwd",
                "file:root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/app:/bin/sh\n",
            ),
            ("etc/group", "file:root:x:0:\nstaff:x:50:\n"),
            ("a/", "dir"),
            ("a/one", "file:1"),
            ("a/sub/two", "file:2"),
            ("b/", "dir"),
            ("b/old", "file:old"),
            ("gone", "file:x"),
            ("gonedir/x", "file:x"),
        ]);
        fs.apply_layer(&base[..], TAR).unwrap();
        assert_eq!(fs.get("a/one").unwrap().uid, 1000);
        assert_eq!(fs.get("a/sub").unwrap().mode, 0o755, "implicit parent");
        let upper = tar_of(&[
            ("./.wh.gone", "file:"),
            ("./.wh.gonedir", "file:"),
            ("./b/new", "file:new"),
            ("./b/.wh..wh..opq", "file:"),
            ("./a/one", "file:one again"),
        ]);
        fs.apply_layer(&gz(&upper)[..], Compression::Gzip.media_type())
            .unwrap();
        let paths: Vec<&str> = fs.entries().keys().map(String::as_str).collect();
        assert_eq!(
            paths,
            [
                "a",
                "a/one",
                "a/sub",
                "a/sub/two",
                "b",
                "b/new",
                "etc",
                "etc/group",
                "etc/passwd"
            ]
        );
        assert_eq!(content(&fs, "a/one"), "one again");
        assert_eq!(
            content(&fs, "b/new"),
            "new",
            "opaque hides lower entries only"
        );
        assert_eq!(fs.user("app"), Some(1000));
        assert_eq!(fs.group("staff"), Some(50));
        assert_eq!(fs.user("nobody"), None);
        assert_eq!(fs.chown("app").unwrap(), (1000, 1001));
        assert_eq!(fs.chown("app:staff").unwrap(), (1000, 50));
        assert_eq!(fs.chown("7").unwrap(), (7, 7));
        assert!(
            fs.chown("ghost:staff")
                .unwrap_err()
                .to_string()
                .contains("ghost")
        );
    }

    #[test]
    fn escapes_are_refused() {
        let work = tempfile::tempdir().unwrap();
        for (items, what) in [
            (vec![("../evil", "file:x")], "parent dir"),
            (vec![("/etc/evil", "file:x")], "absolute"),
            (
                vec![("evil", "link:/etc"), ("evil/passwd", "file:x")],
                "through symlink",
            ),
            (
                vec![("up", "link:../../.."), ("up/x", "file:x")],
                "through relative symlink",
            ),
            (vec![("x", "hard:../../etc/shadow")], "hard link outside"),
            (vec![("x", "hard:missing")], "hard link to nothing"),
        ] {
            let mut fs = RootFs::new(work.path()).unwrap();
            let err = fs.apply_layer(&tar_of(&items)[..], TAR).unwrap_err();
            assert!(
                matches!(err, FsError::ArchiveEscape { .. }),
                "{what}: {err}"
            );
        }
        // A symlink from a lower layer is not a way out either.
        let mut fs = RootFs::new(work.path()).unwrap();
        fs.apply_layer(&tar_of(&[("lib", "link:/usr/lib")])[..], TAR)
            .unwrap();
        let err = fs
            .apply_layer(&tar_of(&[("lib/x.so", "file:x")])[..], TAR)
            .unwrap_err();
        assert!(err.to_string().contains("`lib` -> `/usr/lib`"), "{err}");
        // Symlink values themselves are kept as written.
        assert_eq!(
            fs.get("lib").unwrap().kind,
            EntryKind::Symlink {
                target: "/usr/lib".into()
            }
        );
    }

    #[test]
    fn empty_numeric_fields_read_as_zero() {
        // tar::Header::new_gnu() leaves uid and gid as NULs unless set, as some writers do.
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(2);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, "lib/a.txt", &b"hi"[..])
            .unwrap();
        let work = tempfile::tempdir().unwrap();
        let mut fs = RootFs::new(work.path()).unwrap();
        fs.apply_layer(&builder.into_inner().unwrap()[..], TAR)
            .unwrap();
        let entry = fs.get("lib/a.txt").unwrap();
        assert_eq!(
            (entry.uid, entry.gid, entry.mtime, entry.mode),
            (0, 0, 0, 0o644)
        );
    }

    #[test]
    fn hard_links_share_contents() {
        let work = tempfile::tempdir().unwrap();
        let mut fs = RootFs::new(work.path()).unwrap();
        fs.apply_layer(
            &tar_of(&[("bin/a", "file:A"), ("bin/b", "hard:bin/a")])[..],
            TAR,
        )
        .unwrap();
        assert_eq!(content(&fs, "bin/b"), "A");
        assert_eq!(fs.get("bin/a").unwrap().kind, fs.get("bin/b").unwrap().kind);
    }
}
