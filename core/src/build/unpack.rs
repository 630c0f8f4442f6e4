//! Reading tar archives into an [`Entries`] tree, safely: image layers (with OCI whiteouts) and
//! the local archives `ADD` extracts.
//!
//! Nothing is written by path: file contents go to numbered blobs, metadata stays in memory, so
//! no entry can reach outside however it is named. Entries that would, are refused with an error
//! naming them: a `..` component, an absolute name, a name that goes through a symlink (from
//! this archive or a lower layer; a real filesystem diff never does that, the classic
//! symlink-then-write attack does), and hard links to paths not in the tree. Symlink *values*
//! are kept as written, absolute or not. Devices, fifos and sockets are skipped: an unprivileged
//! build cannot create them and COPY cannot carry them.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;
use tar::EntryType;

use super::fs::{
    Blobs, Entries, Entry, EntryKind, Escape, FsError, StoreError, ancestors, descendants, io_err,
    join, parent, remove_tree,
};

/// How a local file is packed, when it is a tar archive `ADD` extracts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Packing {
    Plain,
    Gzip,
    Zstd,
}

/// Reads a tar archive from `reader` into `tree`.
#[derive(Debug)]
pub(crate) struct Unpack<'a> {
    pub(crate) tree: &'a mut Entries,
    pub(crate) blobs: &'a mut Blobs,
    /// Image layers: `.wh.NAME` deletes `NAME` from lower layers, `.wh..wh..opq` empties its
    /// directory of them. Archives for `ADD` take these names literally.
    pub(crate) whiteouts: bool,
    /// What the archive is, for error messages (`layer 2`, ``archive `app.tar` ``).
    pub(crate) origin: &'a str,
}

impl Unpack<'_> {
    pub(crate) fn run(self, reader: &mut dyn Read) -> Result<(), FsError> {
        let Unpack {
            tree,
            blobs,
            whiteouts,
            origin,
        } = self;
        let broken = |error: io::Error| FsError::Archive {
            archive: origin.to_owned(),
            error,
        };
        let refuse = |entry: &str, escape: Escape| FsError::ArchiveEscape {
            archive: origin.to_owned(),
            entry: entry.to_owned(),
            escape,
        };
        let mut archive = tar::Archive::new(reader);
        // Paths this archive wrote: whiteouts only apply to what lower layers had.
        let mut added: HashSet<String> = HashSet::new();
        for item in archive.entries().map_err(broken)? {
            let mut item = item.map_err(broken)?;
            let raw = String::from_utf8(item.path_bytes().into_owned()).map_err(|_| {
                broken(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "an entry name is not UTF-8",
                ))
            })?;
            let path = clean_name(&raw, false).map_err(|escape| refuse(&raw, escape))?;
            if path.is_empty() {
                continue; // the root directory itself
            }
            let (mode, uid, gid, mtime) = metadata(&mut item).map_err(broken)?;
            let meta = |kind| Entry {
                kind,
                mode,
                uid,
                gid,
                mtime,
            };
            make_parents(tree, &path, &mut added, origin)?;

            let name = path.rsplit('/').next().unwrap_or(&path);
            if whiteouts && let Some(hidden) = name.strip_prefix(".wh.") {
                let dir = parent(&path);
                let doomed: Vec<String> = if hidden == ".wh..opq" {
                    descendants(tree, dir).map(|(k, _)| k.clone()).collect()
                } else {
                    let target = join(dir, hidden);
                    let mut doomed: Vec<String> =
                        descendants(tree, &target).map(|(k, _)| k.clone()).collect();
                    doomed.push(target);
                    doomed
                };
                for key in doomed.into_iter().filter(|k| !added.contains(k)) {
                    tree.remove(&key);
                }
                continue;
            }

            let entry = match item.header().entry_type() {
                EntryType::Directory => {
                    if let Some(existing) = tree.get_mut(&path).filter(|e| e.is_dir()) {
                        *existing = meta(EntryKind::Dir);
                        added.insert(path);
                        continue;
                    }
                    meta(EntryKind::Dir)
                }
                EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                    let (source, size) = blobs.store(&mut item).map_err(|e| match e {
                        StoreError::Read(error) => broken(error),
                        StoreError::Write(path, error) => FsError::Io {
                            action: "write",
                            path,
                            error,
                        },
                    })?;
                    meta(EntryKind::File { source, size })
                }
                EntryType::Symlink => {
                    let target = link_name(&mut item).map_err(broken)?;
                    Entry {
                        mode: 0o777,
                        ..meta(EntryKind::Symlink { target })
                    }
                }
                EntryType::Link => {
                    let raw_target = link_name(&mut item).map_err(broken)?;
                    let outside = || {
                        refuse(
                            &path,
                            Escape::Hardlink {
                                target: raw_target.clone(),
                            },
                        )
                    };
                    let target = clean_name(&raw_target, true).map_err(|_| outside())?;
                    if let Some((link, target)) =
                        ancestors(&target).find_map(|dir| match tree.get(dir) {
                            Some(Entry {
                                kind: EntryKind::Symlink { target },
                                ..
                            }) => Some((dir.to_owned(), target.clone())),
                            _ => None,
                        })
                    {
                        return Err(refuse(&path, Escape::Symlink { link, target }));
                    }
                    match tree.get(&target) {
                        // A hard link shares the inode: same contents and metadata.
                        Some(
                            linked @ Entry {
                                kind: EntryKind::File { .. },
                                ..
                            },
                        ) => linked.clone(),
                        _ => return Err(outside()),
                    }
                }
                // Devices, fifos, global PAX headers and the like.
                _ => continue,
            };
            remove_tree(tree, &path);
            tree.insert(path.clone(), entry);
            added.insert(path);
        }
        Ok(())
    }
}

/// Creates missing parents (`0755`, root, mtime 0) and refuses parents that are symlinks or files.
fn make_parents(
    tree: &mut Entries,
    path: &str,
    added: &mut HashSet<String>,
    origin: &str,
) -> Result<(), FsError> {
    for dir in ancestors(path) {
        match tree.get(dir) {
            Some(Entry {
                kind: EntryKind::Dir,
                ..
            }) => {}
            Some(Entry {
                kind: EntryKind::Symlink { target },
                ..
            }) => {
                return Err(FsError::ArchiveEscape {
                    archive: origin.to_owned(),
                    entry: path.to_owned(),
                    escape: Escape::Symlink {
                        link: dir.to_owned(),
                        target: target.clone(),
                    },
                });
            }
            Some(_) => {
                return Err(FsError::ArchiveNotDir {
                    archive: origin.to_owned(),
                    entry: path.to_owned(),
                    parent: dir.to_owned(),
                });
            }
            None => {
                tree.insert(dir.to_owned(), Entry::dir(0o755, 0, 0, 0));
                added.insert(dir.to_owned());
            }
        }
    }
    Ok(())
}

/// An entry name made relative and clean (`./a//b/` → `a/b`); `..` is refused, and so is a
/// leading `/` unless `absolute_ok` (hard link targets, which are relative to the root).
fn clean_name(raw: &str, absolute_ok: bool) -> Result<String, Escape> {
    if raw.starts_with('/') && !absolute_ok {
        return Err(Escape::Absolute);
    }
    let mut parts = Vec::new();
    for part in raw.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(Escape::ParentDir),
            other => parts.push(other),
        }
    }
    Ok(parts.join("/"))
}

fn link_name<R: Read>(item: &mut tar::Entry<'_, R>) -> io::Result<String> {
    let raw = item
        .link_name_bytes()
        .map(|name| name.into_owned())
        .unwrap_or_default();
    String::from_utf8(raw)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "a link target is not UTF-8"))
}

/// Mode, uid, gid and mtime, with PAX records overriding the header fields.
fn metadata<R: Read>(item: &mut tar::Entry<'_, R>) -> io::Result<(u32, u64, u64, u64)> {
    let header = item.header();
    let raw = header.as_old();
    let mode = numeric(header.mode().map(u64::from), &raw.mode)? as u32 & 0o7777;
    let mut uid = numeric(header.uid(), &raw.uid)?;
    let mut gid = numeric(header.gid(), &raw.gid)?;
    let mut mtime = numeric(header.mtime(), &raw.mtime)?;
    if let Some(records) = item.pax_extensions()? {
        for record in records {
            let record = record?;
            let (Ok(key), Ok(value)) = (record.key(), record.value()) else {
                continue;
            };
            let number = || {
                value
                    .split('.')
                    .next()
                    .and_then(|whole| whole.parse::<u64>().ok())
            };
            match key {
                "uid" => uid = number().unwrap_or(uid),
                "gid" => gid = number().unwrap_or(gid),
                "mtime" => {
                    mtime = if value.starts_with('-') {
                        0
                    } else {
                        number().unwrap_or(mtime)
                    }
                }
                _ => {}
            }
        }
    }
    Ok((mode, uid, gid, mtime))
}

/// A numeric header field as Go's `archive/tar` reads it: an empty one (all NULs or spaces, as
/// some writers leave uid and gid) is 0.
fn numeric(parsed: io::Result<u64>, raw: &[u8]) -> io::Result<u64> {
    match parsed {
        Err(_) if raw.iter().all(|&b| b == 0 || b == b' ') => Ok(0),
        other => other,
    }
}

/// Whether `path` is a tar archive (plain, gzip or zstd) as Docker's `ADD` decides: the first
/// header of the (decompressed) stream must be a valid tar header. bzip2 and xz archives are
/// recognised by their magic and refused.
pub(crate) fn sniff(path: &Path, name: &str) -> Result<Option<Packing>, FsError> {
    let mut magic = [0u8; 10];
    let mut file = File::open(path).map_err(io_err("open", path))?;
    let n = read_up_to(&mut file, &mut magic).map_err(io_err("read", path))?;
    let magic = &magic[..n];
    let packing = if magic.starts_with(&[0x1f, 0x8b]) {
        Packing::Gzip
    } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Packing::Zstd
    } else if magic.len() == 10
        && magic.starts_with(b"BZh")
        && magic[4..10] == [0x31, 0x41, 0x59, 0x26, 0x53, 0x59]
    {
        return Err(FsError::ArchiveFormat {
            archive: name.to_owned(),
            format: "bzip2",
        });
    } else if magic.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        return Err(FsError::ArchiveFormat {
            archive: name.to_owned(),
            format: "xz",
        });
    } else {
        Packing::Plain
    };
    let mut block = [0u8; 512];
    let mut reader = open(path, packing)?;
    match read_up_to(&mut reader, &mut block) {
        Ok(512) if block.iter().any(|&b| b != 0) && checksum_ok(&block) => Ok(Some(packing)),
        // Short, empty, undecodable or not a tar: copied as a plain file, as Docker does.
        _ => Ok(None),
    }
}

/// Opens a file with the decompressor its packing needs.
pub(crate) fn open(path: &Path, packing: Packing) -> Result<Box<dyn Read>, FsError> {
    let file = BufReader::new(File::open(path).map_err(io_err("open", path))?);
    Ok(match packing {
        Packing::Plain => Box::new(file),
        Packing::Gzip => Box::new(MultiGzDecoder::new(file)),
        Packing::Zstd => {
            Box::new(zstd::stream::read::Decoder::with_buffer(file).map_err(io_err("read", path))?)
        }
    })
}

fn read_up_to(reader: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// The tar header checksum test Go's `archive/tar` applies (unsigned or signed byte sums).
fn checksum_ok(block: &[u8; 512]) -> bool {
    let field = &block[148..156];
    let digits: String = field
        .iter()
        .map(|&b| b as char)
        .skip_while(|c| *c == ' ' || *c == '\0')
        .take_while(|c| c.is_digit(8))
        .collect();
    let Ok(stored) = i64::from_str_radix(&digits, 8) else {
        return false;
    };
    let (mut unsigned, mut signed) = (0i64, 0i64);
    for (i, &b) in block.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += i64::from(b);
        signed += i64::from(b as i8);
    }
    stored == unsigned || stored == signed
}
