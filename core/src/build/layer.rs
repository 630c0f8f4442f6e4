//! Writing planned entries as a compressed OCI layer: tar → compress → hash → a temporary file,
//! streamed end to end.
//!
//! Memory stays bounded whatever the layer holds: file contents pass through one 256 KiB buffer,
//! gzip keeps at most two 1 MiB blocks per core in flight, zstd its own fixed-size jobs. The
//! bytes depend only on the entries and the files' contents, not on the machine or its core
//! count, so an unchanged build gives the same digest and diff_id. Writing is synchronous: call
//! it from a blocking thread.
//!
//! [`fingerprint`] is a cheap cache key for a layer, from the entries and the stat identity of
//! their source files (device, inode, size, mtime and ctime in nanoseconds), the way git's index
//! decides a file is unchanged without reading it. Files that are re-extracted each build
//! (from an image or an `ADD` archive) get new inodes, so their key changes every time: key
//! those steps on their source digest instead.
//!
//! Measured on the project's 2-core machine (a 189 MB context of 11,600 files, page cache warm,
//! release build): gzip writes the 46.4 MB layer in 1.3–1.6 s (120–145 MB/s of input) with a
//! peak RSS of 18 MB for the whole process, zstd the 32.8 MB layer in 0.8–1.2 s (155–250 MB/s)
//! with 64 MB (zstd's job buffers, (threads + 3) × 8 MiB).

use std::io::{self, BufWriter, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::str::FromStr;

use crate::digest::Digest;
use sha2::{Digest as _, Sha256};
use tempfile::TempPath;

use super::compress::{self, Compression, GZIP_BLOCK, GZIP_LEVEL, ParGz, ZSTD_LEVEL};
use super::fs::{Entries, FsError, io_err};
use super::tarball::{Role, layout, write_tar};

/// A written layer.
#[derive(Debug)]
pub struct Layer {
    /// The compressed bytes; the file is removed when this is dropped, unless kept or persisted.
    pub file: TempPath,
    /// Digest of the compressed bytes (the blob's digest).
    pub digest: Digest,
    /// Digest of the uncompressed tar (the config's `rootfs.diff_ids` entry).
    pub diff_id: Digest,
    /// Size of the compressed bytes.
    pub size: u64,
    pub compression: Compression,
}

/// Writes `entries` as a layer compressed with `compression`, into a temporary file in
/// `spill_dir`, using every core.
pub fn write(
    entries: &Entries,
    compression: Compression,
    spill_dir: &Path,
) -> Result<Layer, FsError> {
    write_with(entries, compression, spill_dir, compress::threads())
}

pub(crate) fn write_with(
    entries: &Entries,
    compression: Compression,
    spill_dir: &Path,
    threads: usize,
) -> Result<Layer, FsError> {
    let (file, path) = tempfile::Builder::new()
        .prefix(".layer-")
        .tempfile_in(spill_dir)
        .map_err(io_err("create a layer file in", spill_dir))?
        .into_parts();
    let failed = |error| FsError::Io {
        action: "write the layer",
        path: path.to_path_buf(),
        error,
    };
    let sink = Hashing::new(BufWriter::with_capacity(256 * 1024, file));
    let (sink, diff_id) = match compression {
        Compression::Gzip => {
            let encoder = ParGz::new(sink, GZIP_LEVEL, threads, GZIP_BLOCK).map_err(failed)?;
            let mut tar = Hashing::new(encoder);
            write_tar(entries, &mut tar, &path)?;
            let (encoder, diff_id, _) = tar.finish();
            (encoder.finish().map_err(failed)?, diff_id)
        }
        Compression::Zstd => {
            let encoder = compress::zstd_writer(sink, threads).map_err(failed)?;
            let mut tar = Hashing::new(encoder);
            write_tar(entries, &mut tar, &path)?;
            let (encoder, diff_id, _) = tar.finish();
            (encoder.finish().map_err(failed)?, diff_id)
        }
    };
    let (buffered, digest, size) = sink.finish();
    buffered.into_inner().map_err(|e| failed(e.into_error()))?;
    Ok(Layer {
        file: path,
        digest,
        diff_id,
        size,
        compression,
    })
}

/// A cache key for a layer fully described by `what` (e.g. an image digest and an instruction),
/// in the same key space as [`fingerprint`].
pub fn fingerprint_of(what: &str, compression: Compression) -> String {
    let mut hash = keyed(compression);
    hash.update(b"described");
    hash.update(what.as_bytes());
    hex::encode(hash.finalize())
}

/// A hasher already fed with what every key depends on: the format and compression settings.
fn keyed(compression: Compression) -> Sha256 {
    let mut hash = Sha256::new();
    for part in [
        "multiarch layer v1".to_owned(),
        compression.media_type().to_owned(),
        format!("gzip {GZIP_LEVEL} {GZIP_BLOCK} zstd {ZSTD_LEVEL}"),
    ] {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part.as_bytes());
    }
    hash
}

/// A sha256 hex key over everything that decides the layer's bytes (see the module comment).
pub fn fingerprint(entries: &Entries, compression: Compression) -> String {
    let mut hash = keyed(compression);
    let mut put = |bytes: &[u8]| {
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(bytes);
    };
    let Ok(order) = layout(entries) else {
        // Unwritable entries: a key no writable layer shares.
        put(b"invalid");
        return hex::encode(hash.finalize());
    };
    for (path, entry, role) in order {
        put(path.as_bytes());
        put(&[
            entry.mode.to_le_bytes().as_slice(),
            &entry.uid.to_le_bytes(),
            &entry.gid.to_le_bytes(),
            &entry.mtime.to_le_bytes(),
        ]
        .concat());
        match role {
            Role::Dir => put(b"d"),
            Role::Symlink { target } => put(format!("s{target}").as_bytes()),
            Role::Hardlink { target } => put(format!("h{target}").as_bytes()),
            Role::File { source, size } => match std::fs::metadata(source) {
                Ok(m) => put(format!(
                    "f{size} {} {} {} {}.{} {}.{}",
                    m.dev(),
                    m.ino(),
                    m.size(),
                    m.mtime(),
                    m.mtime_nsec(),
                    m.ctime(),
                    m.ctime_nsec()
                )
                .as_bytes()),
                Err(e) => put(format!("f{size} unreadable {}", e.kind()).as_bytes()),
            },
        }
    }
    hex::encode(hash.finalize())
}

/// Passes bytes through while hashing and counting them.
#[derive(Debug)]
struct Hashing<W> {
    inner: W,
    hash: Sha256,
    count: u64,
}

impl<W: Write> Hashing<W> {
    fn new(inner: W) -> Self {
        Hashing {
            inner,
            hash: Sha256::new(),
            count: 0,
        }
    }

    fn finish(self) -> (W, Digest, u64) {
        let hex = hex::encode(self.hash.finalize());
        // A 64-digit lowercase hex sha256 is always a valid digest.
        let digest =
            Digest::from_str(&format!("sha256:{hex}")).expect("sha256 hex is a valid digest");
        (self.inner, digest, self.count)
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::io::Read;
    use std::process::Command;
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::build::context::Context;
    use crate::build::copy::{CopySpec, Source, plan};
    use crate::build::fs::{Entry, EntryKind};

    fn context_with(files: &[(&str, &[u8])], mtime: u64) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, data) in files {
            let full = dir.path().join(path);
            fs::create_dir_all(full.parent().unwrap()).unwrap();
            fs::write(&full, data).unwrap();
            let when = SystemTime::UNIX_EPOCH + Duration::from_secs(mtime);
            fs::File::options()
                .write(true)
                .open(&full)
                .unwrap()
                .set_modified(when)
                .unwrap();
        }
        std::os::unix::fs::symlink("app/bin", dir.path().join("link")).unwrap();
        dir
    }

    fn files() -> Vec<(&'static str, Vec<u8>)> {
        let big: Vec<u8> = (0..3_000_000u32)
            .map(|i| (i % 253) as u8 ^ (i / 4096) as u8)
            .collect();
        vec![
            ("app/bin", b"\x7fELF pretend".to_vec()),
            ("app/big.dat", big),
            ("app/empty", Vec::new()),
            (
                "deep/a-very-long-directory-name-to-need-the-ustar-prefix-field/another-long-directory-name-here/and-the-file-name.txt",
                b"long".to_vec(),
            ),
            ("deep/ünïcödé-name.txt", b"unicode".to_vec()),
        ]
    }

    fn planned(dir: &Path, work: &Path) -> Entries {
        let ctx = Context::open(dir, &dir.join("Dockerfile")).unwrap();
        let spec = CopySpec {
            sources: vec![".".into()],
            dest: "/srv".into(),
            epoch: 1_000_000_000,
            ..CopySpec::default()
        };
        plan(Source::Context(&ctx), &spec, None, work).unwrap()
    }

    fn decompress(layer: &Layer) -> Vec<u8> {
        let file = fs::File::open(&layer.file).unwrap();
        let mut out = Vec::new();
        match layer.compression {
            Compression::Gzip => flate2::read::MultiGzDecoder::new(file)
                .read_to_end(&mut out)
                .unwrap(),
            Compression::Zstd => zstd::stream::read::Decoder::new(file)
                .unwrap()
                .read_to_end(&mut out)
                .unwrap(),
        };
        out
    }

    fn sha256(data: &[u8]) -> String {
        format!("sha256:{}", hex::encode(Sha256::digest(data)))
    }

    fn tool(program: &str, args: &[&str]) -> Option<String> {
        let out = Command::new(program).args(args).output().ok()?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{program} {args:?} failed:\n{text}");
        Some(text)
    }

    #[test]
    fn reproducible_across_contexts_threads_and_codecs() {
        let owned = files();
        let files: Vec<(&str, &[u8])> = owned.iter().map(|(p, d)| (*p, d.as_slice())).collect();
        let (one, two) = (
            context_with(&files, 1_500_000_000),
            context_with(&files, 1_600_000_000),
        );
        let work = tempfile::tempdir().unwrap();
        let (a, b) = (
            planned(one.path(), work.path()),
            planned(two.path(), work.path()),
        );
        let spill = tempfile::tempdir().unwrap();
        let mut tars = Vec::new();
        for compression in [Compression::Gzip, Compression::Zstd] {
            let first = write_with(&a, compression, spill.path(), 1).unwrap();
            let second = write_with(&b, compression, spill.path(), 3).unwrap();
            assert_eq!(first.digest, second.digest, "{compression:?}");
            assert_eq!(first.diff_id, second.diff_id);
            assert_eq!(first.size, fs::metadata(&first.file).unwrap().len());
            assert_eq!(
                first.digest.to_string(),
                sha256(&fs::read(&first.file).unwrap())
            );
            let tar = decompress(&first);
            assert_eq!(first.diff_id.to_string(), sha256(&tar));
            let path = first.file.to_str().unwrap();
            match compression {
                Compression::Gzip => tool("gzip", &["-t", path]),
                Compression::Zstd => tool("zstd", &["-q", "-t", path]),
            };
            tars.push(tar);
        }
        assert_eq!(tars[0], tars[1], "both codecs carry the same tar");
        let tar_path = spill.path().join("layer.tar");
        fs::write(&tar_path, &tars[0]).unwrap();
        if let Some(listing) = tool(
            "tar",
            &["--numeric-owner", "-tvf", tar_path.to_str().unwrap()],
        ) {
            assert!(
                listing.contains("srv/deep/a-very-long-directory-name"),
                "{listing}"
            );
            assert!(
                listing.contains("srv/deep/ünïcödé-name.txt") || listing.contains("srv/deep/\\303"),
                "{listing}"
            );
            assert!(listing.contains("srv/link -> app/bin"), "{listing}");
            assert!(
                listing.contains("2001-09-09"),
                "mtimes clamped to the epoch: {listing}"
            );
        }
        // Read back with the tar crate: walk order, trailing slashes, contents.
        let mut archive = tar::Archive::new(&tars[0][..]);
        let names: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| String::from_utf8(e.unwrap().path_bytes().into_owned()).unwrap())
            .collect();
        assert_eq!(
            names[..4],
            ["srv/", "srv/app/", "srv/app/big.dat", "srv/app/bin"]
        );
    }

    #[test]
    fn tar_bytes_match_go_archive_tar() {
        // The same headers written by Go's archive/tar (`tar.Writer`, `Format: tar.FormatPAX`,
        // as containerd and BuildKit write layers; checked with Go 1.19) hash to this digest:
        // USTAR prefix splitting, PAX records for a long component, a non-ASCII name, a long
        // link target and a large uid, a hard link set written as a file at its first path.
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("f");
        fs::write(&src, b"hello\n").unwrap();
        let file = |mode, uid, mtime| Entry {
            kind: EntryKind::File {
                source: src.clone(),
                size: 6,
            },
            mode,
            uid,
            gid: uid,
            mtime,
        };
        let mut entries = Entries::new();
        entries.insert(
            format!("deep/{}/{}/file.txt", "a".repeat(60), "b".repeat(60)),
            file(0o4755, 0, 1_700_000_000),
        );
        entries.insert(format!("deep/{}/x", "c".repeat(120)), file(0o600, 0, 0));
        entries.insert(
            format!("deep/{}/{}", "d".repeat(70), "e".repeat(50)),
            Entry::dir(0o700, 0, 0, 0),
        );
        entries.insert("etc".into(), Entry::dir(0o755, 0, 0, 0));
        entries.insert(
            "etc/alias".into(),
            Entry {
                kind: EntryKind::Hardlink {
                    target: "etc/motd".into(),
                },
                ..file(0o644, 0, 0)
            },
        );
        entries.insert("etc/motd".into(), file(0o644, 0, 0));
        let link = |target: String, uid, gid, mtime| Entry {
            kind: EntryKind::Symlink { target },
            mode: 0o777,
            uid,
            gid,
            mtime,
        };
        entries.insert("etc/longlink".into(), link("t".repeat(150), 0, 0, 0));
        entries.insert("etc/sym".into(), link("motd".into(), 3_000_000, 7, 86_400));
        entries.insert("ünïcödé.txt".into(), file(0o644, 1000, 0));
        let mut tar = Vec::new();
        write_tar(&entries, &mut tar, Path::new("test")).unwrap();
        assert_eq!(
            sha256(&tar),
            "sha256:916f9121bf113ba98a0a882c2a10e0e4fa832e367586ce818fe0f6313b0842b9"
        );

        let mut archive = tar::Archive::new(&tar[..]);
        let seen: Vec<(String, tar::EntryType, u64)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    String::from_utf8(e.path_bytes().into_owned()).unwrap(),
                    e.header().entry_type(),
                    e.header().uid().unwrap(),
                )
            })
            .filter(|(name, ..)| name.starts_with("etc"))
            .collect();
        assert_eq!(
            seen,
            [
                ("etc/".into(), tar::EntryType::Directory, 0),
                // The map calls `etc/motd` the file; the tar names the first path of the set.
                ("etc/alias".into(), tar::EntryType::Regular, 0),
                ("etc/longlink".into(), tar::EntryType::Symlink, 0),
                ("etc/motd".into(), tar::EntryType::Link, 0),
                // Too large for the octal field: a PAX record, which the tar crate applies.
                ("etc/sym".into(), tar::EntryType::Symlink, 3_000_000),
            ]
        );
    }

    #[test]
    fn written_layers_read_back_as_planned() {
        let dir = context_with(
            &[("app/bin", b"binary"), ("app/data/x", b"x")],
            1_500_000_000,
        );
        fs::hard_link(dir.path().join("app/bin"), dir.path().join("app/bin2")).unwrap();
        let work = tempfile::tempdir().unwrap();
        let mut entries = planned(dir.path(), work.path());
        entries.get_mut("srv/app/data/x").unwrap().uid = 4_000_000;
        for compression in [Compression::Gzip, Compression::Zstd] {
            let layer = write(&entries, compression, work.path()).unwrap();
            let mut image = crate::build::rootfs::RootFs::new(work.path()).unwrap();
            image
                .apply_layer(
                    fs::File::open(&layer.file).unwrap(),
                    compression.media_type(),
                )
                .unwrap();
            let back = image.entries();
            assert_eq!(
                back.keys().collect::<Vec<_>>(),
                entries.keys().collect::<Vec<_>>()
            );
            for (path, want) in &entries {
                let got = &back[path];
                assert_eq!(
                    (got.mode, got.uid, got.gid, got.mtime),
                    (want.mode, want.uid, want.gid, want.mtime),
                    "{path}"
                );
                match (&want.kind, &got.kind) {
                    (
                        EntryKind::File { size, .. },
                        EntryKind::File {
                            size: got_size,
                            source,
                        },
                    ) => {
                        assert_eq!(size, got_size);
                        assert_eq!(fs::read(source).unwrap().len() as u64, *size);
                    }
                    (EntryKind::Hardlink { .. }, EntryKind::File { source, .. }) => {
                        assert_eq!(fs::read(source).unwrap(), b"binary");
                    }
                    (want, got) => assert_eq!(want, got, "{path}"),
                }
            }
        }
    }

    #[test]
    fn fingerprint_follows_stat_identity() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("f");
        fs::write(&source, b"one").unwrap();
        let mut entries = Entries::new();
        entries.insert(
            "f".into(),
            Entry {
                kind: EntryKind::File {
                    source: source.clone(),
                    size: 3,
                },
                mode: 0o644,
                uid: 0,
                gid: 0,
                mtime: 0,
            },
        );
        let key = fingerprint(&entries, Compression::Gzip);
        assert_eq!(key, fingerprint(&entries, Compression::Gzip));
        assert_ne!(key, fingerprint(&entries, Compression::Zstd));
        fs::write(&source, b"two").unwrap();
        assert_ne!(
            key,
            fingerprint(&entries, Compression::Gzip),
            "rewritten: new mtime/ctime"
        );
        let again = fingerprint(&entries, Compression::Gzip);
        entries.get_mut("f").unwrap().mode = 0o600;
        assert_ne!(again, fingerprint(&entries, Compression::Gzip));
    }

    #[test]
    fn a_file_that_changes_size_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("f");
        fs::write(&source, b"longer than planned").unwrap();
        let mut entries = Entries::new();
        entries.insert(
            "f".into(),
            Entry {
                kind: EntryKind::File { source, size: 3 },
                mode: 0o644,
                uid: 0,
                gid: 0,
                mtime: 0,
            },
        );
        let err = write(&entries, Compression::Gzip, dir.path()).unwrap_err();
        assert!(
            matches!(err, FsError::FileChanged { expected: 3, .. }),
            "{err}"
        );
    }

    /// Peak resident memory of this process in KiB, reset first when `reset`.
    fn peak_kib(reset: bool) -> Option<u64> {
        if reset {
            fs::write("/proc/self/clear_refs", "5").ok()?;
        }
        let status = fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    const CHILD: &str = "MULTIARCH_LAYER_MEMORY_CHILD";

    /// Peak RSS growth (MiB) while writing one sparse file of `size` bytes, measured in a child
    /// process running only this test, so other tests' memory does not count.
    fn peak_growth_mib(size: u64, compression: Compression) -> Option<u64> {
        let out = Command::new(std::env::current_exe().ok()?)
            .args([
                "build::layer::tests::a_large_file_streams_in_bounded_memory",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, format!("{size} {compression:?}"))
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "child failed:\n{text}");
        let line = text
            .lines()
            .find_map(|l| l.split("peak-growth-kib ").nth(1));
        let line = line.unwrap_or_else(|| panic!("the child did not run the test:\n{text}"));
        // "unavailable": no /proc/self/clear_refs on this system.
        line.trim().parse::<u64>().ok().map(|kib| kib / 1024)
    }

    #[test]
    fn a_large_file_streams_in_bounded_memory() {
        if let Ok(job) = std::env::var(CHILD) {
            let (size, codec) = job.split_once(' ').unwrap();
            let size: u64 = size.parse().unwrap();
            let compression = if codec == "Gzip" {
                Compression::Gzip
            } else {
                Compression::Zstd
            };
            let dir = tempfile::tempdir().unwrap();
            let source = dir.path().join("sparse");
            fs::File::create(&source).unwrap().set_len(size).unwrap();
            let mut entries = Entries::new();
            entries.insert(
                "big".into(),
                Entry {
                    kind: EntryKind::File { source, size },
                    mode: 0o644,
                    uid: 0,
                    gid: 0,
                    mtime: 0,
                },
            );
            let Some(before) = peak_kib(true) else {
                println!("peak-growth-kib unavailable");
                return;
            };
            let layer = write(&entries, compression, dir.path()).unwrap();
            let after = peak_kib(false).unwrap();
            assert!(layer.size < size / 100 + 4096, "zeros compress");
            println!("peak-growth-kib {}", after.saturating_sub(before));
            return;
        }
        // The same peak for 64 MiB and 5 times more: no buffer grows with the input. (zstd
        // fills its fixed job buffers, (threads + 3) × 8 MiB, within the first 64 MiB.) Set
        // MULTIARCH_LAYER_MEMORY_LARGE=1073741824 to try a 1 GiB file.
        let large_size = std::env::var("MULTIARCH_LAYER_MEMORY_LARGE")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(320 << 20);
        for compression in [Compression::Gzip, Compression::Zstd] {
            let Some(small) = peak_growth_mib(64 << 20, compression) else {
                return;
            };
            let Some(large) = peak_growth_mib(large_size, compression) else {
                return;
            };
            eprintln!(
                "{compression:?}: peak RSS growth {small} MiB for 64 MiB, {large} MiB for {} MiB",
                large_size >> 20
            );
            assert!(
                large < 64,
                "{compression:?}: {large} MiB for a {large_size}-byte file"
            );
            assert!(
                large <= small + 4,
                "{compression:?}: {small} MiB for 64 MiB but {large} MiB for {large_size} bytes"
            );
        }
    }

    /// Throughput on a real directory: `MULTIARCH_BENCH_CONTEXT=DIR cargo test --release --lib
    /// -- --ignored --nocapture layer_throughput`.
    #[test]
    #[ignore = "benchmark; needs MULTIARCH_BENCH_CONTEXT"]
    fn layer_throughput() {
        let Ok(dir) = std::env::var("MULTIARCH_BENCH_CONTEXT") else {
            return;
        };
        let work = tempfile::tempdir().unwrap();
        let ctx = Context::open(Path::new(&dir), &Path::new(&dir).join("Dockerfile")).unwrap();
        let spec = CopySpec {
            sources: vec![".".into()],
            dest: "/".into(),
            ..CopySpec::default()
        };
        let entries = plan(Source::Context(&ctx), &spec, None, work.path()).unwrap();
        let mut tar = Vec::new();
        let started = std::time::Instant::now();
        write_tar(&entries, &mut io::sink(), Path::new("sink")).unwrap();
        let tar_secs = started.elapsed().as_secs_f64();
        write_tar(&entries, &mut tar, Path::new("memory")).unwrap();
        let mb = tar.len() as f64 / 1e6;
        eprintln!("tar only: {mb:.0} MB in {tar_secs:.2} s");
        let started = std::time::Instant::now();
        let mut hashed = Hashing::new(io::sink());
        write_tar(&entries, &mut hashed, Path::new("sink")).unwrap();
        eprintln!("tar + sha256: {:.2} s", started.elapsed().as_secs_f64());
        let threads = compress::threads();
        for level in [1, 2, 3, 4, 6] {
            let started = std::time::Instant::now();
            let mut gz = ParGz::new(Vec::new(), level, threads, GZIP_BLOCK).unwrap();
            write_tar(&entries, &mut gz, Path::new("memory")).unwrap();
            let out = gz.finish().unwrap();
            let secs = started.elapsed().as_secs_f64();
            eprintln!(
                "gzip -{level}: {:.1} MB ({:.1}%) in {secs:.2} s = {:.0} MB/s",
                out.len() as f64 / 1e6,
                100.0 * out.len() as f64 / tar.len() as f64,
                mb / secs
            );
        }
        for job in [0u32, 4 << 20, 2 << 20] {
            let started = std::time::Instant::now();
            let mut z = compress::zstd_writer(Vec::new(), threads).unwrap();
            if job > 0 {
                z.set_parameter(zstd::stream::raw::CParameter::JobSize(job))
                    .unwrap();
            }
            write_tar(&entries, &mut z, Path::new("memory")).unwrap();
            let out = z.finish().unwrap();
            let secs = started.elapsed().as_secs_f64();
            eprintln!(
                "zstd -3 job {job}: {:.1} MB ({:.1}%) in {secs:.2} s = {:.0} MB/s",
                out.len() as f64 / 1e6,
                100.0 * out.len() as f64 / tar.len() as f64,
                mb / secs
            );
        }
        let spill = tempfile::tempdir().unwrap();
        for compression in [Compression::Gzip, Compression::Zstd] {
            let started = std::time::Instant::now();
            let layer = write(&entries, compression, spill.path()).unwrap();
            let secs = started.elapsed().as_secs_f64();
            eprintln!(
                "layer::write {compression:?}: {:.1} MB in {secs:.2} s = {:.0} MB/s of tar",
                layer.size as f64 / 1e6,
                mb / secs
            );
        }
    }
}
