//! Writes [`Entries`] as a tar stream the way BuildKit does (Go's `archive/tar` in PAX format):
//! USTAR headers (long names split into prefix and name when they fit), a PAX extended header
//! only when a value does not fit (long or non-ASCII names and link targets, large ids, sizes or
//! times), entries in walk order, directories named with a trailing `/`, empty user and group
//! names, mtime in whole seconds, no atime or ctime, and two zero blocks at the end. The bytes
//! depend on the entries and the files' contents only.
//!
//! Hard links: each set of paths sharing one file is written as the file at its first path in
//! walk order and hard links to it at the others, whichever of them the map calls the file.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use super::fs::{COPY_BUFFER, Entries, Entry, EntryKind, FsError, io_err, path_order};

const BLOCK: usize = 512;

/// How one path is written.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Role<'a> {
    Dir,
    File { source: &'a Path, size: u64 },
    Symlink { target: &'a str },
    Hardlink { target: &'a str },
}

/// The entries in walk order with their roles, hard links resolved (see the module comment).
pub(crate) fn layout(entries: &Entries) -> Result<Vec<(&str, &Entry, Role<'_>)>, FsError> {
    let mut order: Vec<(&str, &Entry)> = entries.iter().map(|(k, v)| (k.as_str(), v)).collect();
    order.sort_by(|a, b| path_order(a.0, b.0));
    // The file each hard link ends at, and the first path (in walk order) of each such set.
    let mut file_of: HashMap<&str, &str> = HashMap::new();
    let mut first_of: HashMap<&str, &str> = HashMap::new();
    for &(path, entry) in &order {
        if path.is_empty() || path.split('/').any(|c| matches!(c, "" | "." | "..")) {
            return Err(FsError::EntryPath {
                path: path.to_owned(),
            });
        }
        // Runtimes read `.wh.` names as deletions of what lies underneath.
        if path.split('/').any(|c| c.starts_with(".wh.")) {
            return Err(FsError::Whiteout {
                path: path.to_owned(),
            });
        }
        if !matches!(
            entry.kind,
            EntryKind::File { .. } | EntryKind::Hardlink { .. }
        ) {
            continue;
        }
        let mut at = path;
        let mut hops = 0;
        let file = loop {
            match entries.get(at).map(|e| &e.kind) {
                Some(EntryKind::File { .. }) => break at,
                Some(EntryKind::Hardlink { target }) if hops <= entries.len() => {
                    at = target.as_str();
                    hops += 1;
                }
                _ => {
                    let target = match &entry.kind {
                        EntryKind::Hardlink { target } => target.clone(),
                        _ => at.to_owned(),
                    };
                    return Err(FsError::BrokenHardlink {
                        path: path.to_owned(),
                        target,
                    });
                }
            }
        };
        file_of.insert(path, file);
        first_of.entry(file).or_insert(path);
    }
    let mut out = Vec::with_capacity(order.len());
    for (path, entry) in order {
        let role = match &entry.kind {
            EntryKind::Dir => Role::Dir,
            EntryKind::Symlink { target } => Role::Symlink { target },
            EntryKind::File { .. } | EntryKind::Hardlink { .. } => {
                let file = file_of[path];
                let first = first_of[file];
                match (&entries[file].kind, first == path) {
                    (EntryKind::File { source, size }, true) => Role::File {
                        source,
                        size: *size,
                    },
                    _ => Role::Hardlink { target: first },
                }
            }
        };
        out.push((path, entry, role));
    }
    Ok(out)
}

/// Writes the whole tar stream; errors writing to `out` name `out_path`.
pub(crate) fn write_tar(
    entries: &Entries,
    out: &mut dyn Write,
    out_path: &Path,
) -> Result<(), FsError> {
    let mut buffer = vec![0u8; COPY_BUFFER];
    for (path, entry, role) in layout(entries)? {
        let dir_name;
        let (name, typeflag, size, link) = match role {
            Role::Dir => {
                dir_name = format!("{path}/");
                (dir_name.as_str(), b'5', 0, "")
            }
            Role::File { size, .. } => (path, b'0', size, ""),
            Role::Symlink { target } => (path, b'2', 0, target),
            Role::Hardlink { target } => (path, b'1', 0, target),
        };
        let header = Header {
            name,
            typeflag,
            mode: entry.mode,
            uid: entry.uid,
            gid: entry.gid,
            size,
            mtime: entry.mtime,
            link,
        };
        header
            .write(out)
            .map_err(io_err("write the layer", out_path))?;
        if let Role::File { source, size } = role {
            copy_exact(source, size, out, &mut buffer, out_path)?;
        }
    }
    out.write_all(&[0u8; 2 * BLOCK])
        .map_err(io_err("write the layer", out_path))
}

/// Streams exactly `size` bytes of `source` (a file that changed size is an error) and pads.
fn copy_exact(
    source: &Path,
    size: u64,
    out: &mut dyn Write,
    buffer: &mut [u8],
    out_path: &Path,
) -> Result<(), FsError> {
    let changed = || FsError::FileChanged {
        path: source.to_path_buf(),
        expected: size,
    };
    let mut file = File::open(source).map_err(io_err("open", source))?;
    let mut left = size;
    while left > 0 {
        let want = buffer
            .len()
            .min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = read_some(&mut file, &mut buffer[..want]).map_err(io_err("read", source))?;
        if n == 0 {
            return Err(changed());
        }
        out.write_all(&buffer[..n])
            .map_err(io_err("write the layer", out_path))?;
        left -= n as u64;
    }
    if read_some(&mut file, &mut buffer[..1]).map_err(io_err("read", source))? != 0 {
        return Err(changed());
    }
    let pad = (BLOCK - (size % BLOCK as u64) as usize) % BLOCK;
    out.write_all(&[0u8; BLOCK][..pad])
        .map_err(io_err("write the layer", out_path))
}

fn read_some(file: &mut File, buffer: &mut [u8]) -> io::Result<usize> {
    loop {
        match file.read(buffer) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

/// One tar header as Go's `tar.Writer` writes it with `Format: tar.FormatPAX`.
#[derive(Debug)]
struct Header<'a> {
    name: &'a str,
    typeflag: u8,
    mode: u32,
    uid: u64,
    gid: u64,
    size: u64,
    mtime: u64,
    link: &'a str,
}

/// The largest value an octal field of `width` bytes holds (one byte is the NUL).
fn fits(width: usize, value: u64) -> bool {
    value < 1u64 << (3 * (width - 1))
}

impl Header<'_> {
    fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut records: BTreeMap<&str, String> = BTreeMap::new();
        let long_name = !self.name.is_ascii() || self.name.len() > 100;
        if !self.link.is_ascii() || self.link.len() > 100 {
            records.insert("linkpath", self.link.to_owned());
        }
        for (key, value, width) in [
            ("uid", self.uid, 8),
            ("gid", self.gid, 8),
            ("size", self.size, 12),
            ("mtime", self.mtime, 12),
        ] {
            if !fits(width, value) {
                records.insert(key, value.to_string());
            }
        }
        let split = if long_name {
            split_ustar(self.name)
        } else {
            None
        };
        let mut block = [0u8; BLOCK];
        if records.is_empty() && (!long_name || split.is_some()) {
            let (prefix, name) = split.unwrap_or(("", self.name));
            self.fill(&mut block, name);
            put_str(&mut block[345..500], prefix);
        } else {
            if long_name {
                records.insert("path", self.name.to_owned());
            }
            write_pax(out, self.name, &records)?;
            self.fill(&mut block, self.name);
        }
        finish_block(&mut block);
        out.write_all(&block)
    }

    /// Go's `templateV7Plus`: every field but the prefix; values that do not fit become 0.
    fn fill(&self, block: &mut [u8; BLOCK], name: &str) {
        put_str(&mut block[0..100], &ascii(name));
        put_octal(&mut block[100..108], u64::from(self.mode));
        put_octal(&mut block[108..116], self.uid);
        put_octal(&mut block[116..124], self.gid);
        put_octal(&mut block[124..136], self.size);
        put_octal(&mut block[136..148], self.mtime);
        block[156] = self.typeflag;
        put_str(&mut block[157..257], &ascii(self.link));
        put_octal(&mut block[329..337], 0);
        put_octal(&mut block[337..345], 0);
    }
}

/// Go's `splitUSTARPath`: a prefix of at most 155 bytes and a name of at most 100, cut at a `/`.
fn split_ustar(name: &str) -> Option<(&str, &str)> {
    if name.len() <= 100 || !name.is_ascii() {
        return None;
    }
    let mut length = name.len();
    if length > 156 {
        length = 156;
    } else if name.ends_with('/') {
        length -= 1;
    }
    let i = name[..length].rfind('/')?;
    let (prefix, rest) = (&name[..i], &name[i + 1..]);
    if i == 0 || rest.is_empty() || rest.len() > 100 || prefix.len() > 155 {
        return None;
    }
    Some((prefix, rest))
}

/// A PAX extended header (`x`) named `dir/PaxHeaders.0/file`, as Go names it.
fn write_pax(
    out: &mut dyn Write,
    real_name: &str,
    records: &BTreeMap<&str, String>,
) -> io::Result<()> {
    let mut data = String::new();
    for (key, value) in records {
        // Go's formatPAXRecord: the length counts its own digits.
        let body = key.len() + value.len() + 3;
        let size = body + body.to_string().len();
        let mut record = format!("{size} {key}={value}\n");
        if record.len() != size {
            record = format!("{} {key}={value}\n", record.len());
        }
        data.push_str(&record);
    }
    let (dir, file) = match real_name.rfind('/') {
        Some(i) => (&real_name[..=i], &real_name[i + 1..]),
        None => ("", real_name),
    };
    let joined = [dir.trim_end_matches('/'), "PaxHeaders.0", file]
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("/");
    let mut name = ascii(&joined);
    name.truncate(100);
    let name = name.trim_end_matches('/');
    let mut block = [0u8; BLOCK];
    put_str(&mut block[0..100], name);
    put_octal(&mut block[100..108], 0);
    put_octal(&mut block[108..116], 0);
    put_octal(&mut block[116..124], 0);
    put_octal(&mut block[124..136], data.len() as u64);
    put_octal(&mut block[136..148], 0);
    block[156] = b'x';
    finish_block(&mut block);
    out.write_all(&block)?;
    out.write_all(data.as_bytes())?;
    let pad = (BLOCK - data.len() % BLOCK) % BLOCK;
    out.write_all(&[0u8; BLOCK][..pad])
}

/// Magic, version and checksum (six octal digits, NUL, space), as Go's `SetFormat`.
fn finish_block(block: &mut [u8; BLOCK]) {
    block[257..263].copy_from_slice(b"ustar\0");
    block[263..265].copy_from_slice(b"00");
    block[148..156].fill(b' ');
    let sum: u64 = block.iter().map(|&b| u64::from(b)).sum();
    put_octal(&mut block[148..155], sum);
    block[155] = b' ';
}

/// Go's `toASCII`: drops every non-ASCII character.
fn ascii(s: &str) -> String {
    s.chars().filter(char::is_ascii).collect()
}

/// Go's `formatString`: copied, truncated to the field, NUL-terminated when shorter.
fn put_str(field: &mut [u8], s: &str) {
    let bytes = s.as_bytes();
    let n = bytes.len().min(field.len());
    field[..n].copy_from_slice(&bytes[..n]);
    if n < field.len() {
        field[n] = 0;
    }
}

/// Go's `formatOctal`: zero-padded to leave room for a NUL; 0 when the value does not fit.
fn put_octal(field: &mut [u8], value: u64) {
    let value = if fits(field.len(), value) { value } else { 0 };
    let digits = format!("{value:o}");
    let padded = format!(
        "{}{digits}",
        "0".repeat((field.len() - 1).saturating_sub(digits.len()))
    );
    put_str(field, &padded);
}
