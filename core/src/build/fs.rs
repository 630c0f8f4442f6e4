//! The filesystem model shared by the build steps: what a layer will contain, and the errors.
//!
//! An [`Entries`] map is keyed by the path inside the image, relative and without a leading `/`
//! (`usr/local/bin/app`); each [`Entry`] says what lives there and with which mode, owner and
//! mtime. `copy::plan` produces it, `layer::write` turns it into a tar, and `RootFs` keeps one for
//! a whole image. Paths are compared component by component ([`path_order`]), the order a
//! directory walk gives, so a parent always precedes its children and the output is reproducible.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

mod tree;
pub(crate) use tree::{Confine, ResolveError, Tree, resolve};

/// One path in an image or layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: EntryKind,
    /// Permission bits, including setuid, setgid and sticky (`0o7777` at most).
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// Seconds since the epoch, already clamped to the build's epoch.
    pub mtime: u64,
}

/// What a path is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    Dir,
    /// A regular file whose bytes are read from `source` on the build machine when the layer is
    /// written; `size` is what was seen when the entry was planned (a change is an error then).
    File {
        source: PathBuf,
        size: u64,
    },
    /// The link's value, kept as written (never resolved on the build machine).
    Symlink {
        target: String,
    },
    /// Another path of the same layer (in image form, like the keys).
    Hardlink {
        target: String,
    },
}

/// A layer's or an image's contents, keyed by path inside the image (no leading `/`).
pub type Entries = BTreeMap<String, Entry>;

impl Entry {
    /// A directory with the given permission bits, owner and mtime.
    pub fn dir(mode: u32, uid: u64, gid: u64, mtime: u64) -> Entry {
        Entry {
            kind: EntryKind::Dir,
            mode,
            uid,
            gid,
            mtime,
        }
    }

    pub fn is_dir(&self) -> bool {
        matches!(self.kind, EntryKind::Dir)
    }
}

/// Why a path or link was refused: it would reach outside the tree it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Escape {
    /// A `..` component climbs above the root.
    ParentDir,
    /// The path is absolute where only relative ones are allowed.
    Absolute,
    /// A component is a symlink (`link` → `target`) that leads outside, or that an archive
    /// entry would be written through.
    Symlink { link: String, target: String },
    /// A hard link names a path that is not in the archive.
    Hardlink { target: String },
}

impl std::fmt::Display for Escape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Escape::ParentDir => write!(f, "a `..` component climbs above the root"),
            Escape::Absolute => write!(f, "the path is absolute"),
            Escape::Symlink { link, target } => {
                write!(f, "it goes through the symlink `{link}` -> `{target}`")
            }
            Escape::Hardlink { target } => {
                write!(
                    f,
                    "it is a hard link to `{target}`, which is not in the archive"
                )
            }
        }
    }
}

/// Errors of the build's filesystem side.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    #[error("cannot {action} `{}`: {error}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        error: io::Error,
    },
    #[error("{} line {line}: bad pattern `{pattern}` ({reason})", file.display())]
    IgnorePattern {
        file: PathBuf,
        line: usize,
        pattern: String,
        reason: &'static str,
    },
    #[error("COPY source `{pattern}` is not a valid pattern (Go filepath.Match syntax)")]
    SourcePattern { pattern: String },
    #[error("COPY source `{pattern}` matched no files in {origin}{}", excluded_note(.excluded_by))]
    SourceNotFound {
        pattern: String,
        origin: &'static str,
        excluded_by: Option<PathBuf>,
    },
    #[error("COPY source `{pattern}` points outside {origin}: {escape}")]
    SourceOutside {
        pattern: String,
        origin: &'static str,
        escape: Escape,
    },
    #[error("too many levels of symlinks resolving `{path}` (a symlink loop?)")]
    SymlinkLoop { path: String },
    #[error(
        "`{}` has a name that is not UTF-8; rename it or exclude it in .dockerignore",
        path.display()
    )]
    NotUtf8 { path: PathBuf },
    #[error("refusing entry `{entry}` of {archive}: {escape}")]
    ArchiveEscape {
        archive: String,
        entry: String,
        escape: Escape,
    },
    #[error("entry `{entry}` of {archive} needs `{parent}` to be a directory, but it is a file")]
    ArchiveNotDir {
        archive: String,
        entry: String,
        parent: String,
    },
    #[error("cannot read {archive}: {error}")]
    Archive { archive: String, error: io::Error },
    #[error(
        "{archive} is {format}-compressed, which is not supported; decompress it before the build"
    )]
    ArchiveFormat {
        archive: String,
        format: &'static str,
    },
    #[error(
        "layer media type `{media_type}` is not supported (expected a tar, tar+gzip or tar+zstd layer)"
    )]
    MediaType { media_type: String },
    #[error("`{}` changed while the layer was written (expected {expected} bytes)", path.display())]
    FileChanged { path: PathBuf, expected: u64 },
    #[error(
        "`{path}` has a name starting with `.wh.`, which image layers reserve for deleting files underneath; rename it, or leave it out with .dockerignore"
    )]
    Whiteout { path: String },
    #[error("layer entry `{path}` is not a clean relative path")]
    EntryPath { path: String },
    #[error("layer entry `{path}` is a hard link to `{target}`, which is not a file of the layer")]
    BrokenHardlink { path: String, target: String },
    #[error("cannot resolve --chown {kind} `{name}`: {reason}")]
    Chown {
        kind: &'static str,
        name: String,
        reason: String,
    },
}

fn excluded_note(excluded_by: &Option<PathBuf>) -> String {
    match excluded_by {
        Some(file) => format!(" (it exists but is excluded by {})", file.display()),
        None => String::new(),
    }
}

/// Shorthand for an [`FsError::Io`] builder: `.map_err(io_err("read", &path))`.
pub(crate) fn io_err(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> FsError {
    let path = path.to_path_buf();
    move |error| FsError::Io {
        action,
        path,
        error,
    }
}

/// Orders image paths component by component, as a directory walk visits them: `a`, `a/b`,
/// `a-c` (plain string order would put `a-c` before `a/b`).
pub fn path_order(a: &str, b: &str) -> Ordering {
    a.split('/').cmp(b.split('/'))
}

/// Joins an image directory (possibly the root, `""`) and a relative path.
pub(crate) fn join(dir: &str, name: &str) -> String {
    match (dir.is_empty(), name.is_empty()) {
        (true, _) => name.to_owned(),
        (_, true) => dir.to_owned(),
        _ => format!("{dir}/{name}"),
    }
}

/// The parent of an image path (`""` for a top-level path).
pub(crate) fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(parent, _)| parent)
}

/// The proper ancestors of an image path, outermost first: `a/b/c` gives `a`, `a/b`.
pub(crate) fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/').map(move |(i, _)| &path[..i])
}

/// The descendants of `dir` in a map keyed by image paths (everything for the root).
pub(crate) fn descendants<'a, V>(
    map: &'a BTreeMap<String, V>,
    dir: &str,
) -> impl Iterator<Item = (&'a String, &'a V)> {
    let prefix = if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    };
    map.range(prefix.clone()..)
        .take_while(move |(k, _)| k.starts_with(&prefix))
}

/// Removes `path` and everything under it.
pub(crate) fn remove_tree<V>(map: &mut BTreeMap<String, V>, path: &str) {
    let doomed: Vec<String> = descendants(map, path).map(|(k, _)| k.clone()).collect();
    for key in doomed {
        map.remove(&key);
    }
    map.remove(path);
}

/// Lexically cleans a relative path into components: `.` and empty components vanish, `..`
/// removes the previous one, and a `..` above the root is an [`Escape::ParentDir`]. A leading
/// `/` is relative to the root.
pub(crate) fn clean_components(path: &str) -> Result<Vec<&str>, Escape> {
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop().ok_or(Escape::ParentDir)?;
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

/// Cleans an absolute image path as Go's `path.Clean` does (`..` stops at the root) and returns
/// it relative (`/usr/../app/` → `app`, `/` → ``).
pub(crate) fn clean_absolute(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out.join("/")
}

/// Where extracted file contents go: numbered files in one directory, written unprivileged.
/// Ownership and mode live in the [`Entry`], never on disk.
#[derive(Debug)]
pub(crate) struct Blobs {
    dir: PathBuf,
    next: u64,
    buffer: Vec<u8>,
}

/// Why storing a blob failed: reading the archive, or writing the blob.
#[derive(Debug)]
pub(crate) enum StoreError {
    Read(io::Error),
    Write(PathBuf, io::Error),
}

impl Blobs {
    pub(crate) fn new(dir: PathBuf) -> Blobs {
        Blobs {
            dir,
            next: 0,
            buffer: Vec::new(),
        }
    }

    /// Streams `reader` into a new file and returns its path and length.
    pub(crate) fn store(&mut self, reader: &mut dyn Read) -> Result<(PathBuf, u64), StoreError> {
        let path = self.dir.join(self.next.to_string());
        self.next += 1;
        let mut file = File::create_new(&path).map_err(|e| StoreError::Write(path.clone(), e))?;
        self.buffer.resize(COPY_BUFFER, 0);
        let mut size = 0u64;
        loop {
            let n = match reader.read(&mut self.buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(StoreError::Read(e)),
            };
            file.write_all(&self.buffer[..n])
                .map_err(|e| StoreError::Write(path.clone(), e))?;
            size += n as u64;
        }
        Ok((path, size))
    }
}

/// The size of the buffers file contents are streamed through.
pub(crate) const COPY_BUFFER: usize = 256 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_order_puts_parents_first() {
        let mut paths = vec!["a-c", "a/b", "a", "a/b/c", "b"];
        paths.sort_by(|a, b| path_order(a, b));
        assert_eq!(paths, ["a", "a/b", "a/b/c", "a-c", "b"]);
    }

    #[test]
    fn cleaning() {
        assert_eq!(clean_components("/a/./b//c/../d").unwrap(), ["a", "b", "d"]);
        assert_eq!(clean_components("a/../..").unwrap_err(), Escape::ParentDir);
        assert_eq!(clean_absolute("/usr/../../app/"), "app");
        assert_eq!(clean_absolute("/"), "");
        assert_eq!(ancestors("a/b/c").collect::<Vec<_>>(), ["a", "a/b"]);
        assert_eq!(parent("a/b"), "a");
        assert_eq!(parent("a"), "");
    }
}
