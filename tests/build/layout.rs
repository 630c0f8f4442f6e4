//! OCI layouts: from scratch without any registry, reproducibility, zstd compression.

use std::path::Path;

use serde_json::Value;

use super::{
    Layout, OCI_LAYER_GZIP, build, build_on, build_to_layout, platform_of, platforms, s, sha256,
    text, write, written,
};
use crate::harness::schema::Kind;
use crate::harness::{gobin, tempdir, tool};

const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";

/// Sets the modification time of `path` and everything under it (symlinks themselves excepted).
fn set_mtimes(path: &Path, seconds: u64) {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds);
    let meta = std::fs::symlink_metadata(path).expect("metadata");
    if meta.is_dir() {
        for entry in std::fs::read_dir(path).expect("read dir") {
            set_mtimes(&entry.expect("dir entry").path(), seconds);
        }
    }
    if !meta.file_type().is_symlink() {
        std::fs::File::open(path)
            .and_then(|f| f.set_modified(time))
            .unwrap_or_else(|e| panic!("set mtime of {}: {e}", path.display()));
    }
}

#[test]
fn from_scratch_into_a_layout_without_any_registry() {
    let context = tempdir();
    write(
        context.path(),
        &[
            (
                "Dockerfile",
                "FROM scratch\nCOPY hello.txt /hello.txt\nCOPY data/ /data/\n",
            ),
            ("hello.txt", "hello\n"),
            ("data/a.txt", "a\n"),
            ("data/sub/b.txt", "b\n"),
        ],
    );
    let out_dir = tempdir();
    let dir = out_dir.path().join("image");
    let out = build_on(
        context.path(),
        &["linux/arm64"],
        &["--output", &format!("oci:{}", dir.display())],
    )
    .run()
    .success();
    let digest = written(&out, &dir);

    // skopeo and umoci read it; the layout names the printed digest.
    let layout = Layout::open(&dir);
    let index = layout.index_json();
    let entries = index["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{index}");
    assert_eq!(entries[0]["digest"], digest.as_str());
    assert_eq!(
        entries[0]["annotations"]["org.opencontainers.image.ref.name"], "latest",
        "oci:DIR writes tag latest"
    );
    let raw = tool(
        "skopeo",
        &["inspect", "--raw", &format!("oci:{}", dir.display())],
    )
    .run()
    .success();
    assert_eq!(sha256(raw.stdout.as_bytes()), digest);
    let inspected: Value = serde_json::from_str(
        &tool("skopeo", &["inspect", &format!("oci:{}", dir.display())])
            .run()
            .success()
            .stdout,
    )
    .unwrap();
    assert_eq!(inspected["Architecture"], "arm64");
    assert_eq!(inspected["Os"], "linux");
    let bundle = out_dir.path().join("bundle");
    tool(
        "umoci",
        &[
            "unpack",
            "--rootless",
            "--image",
            &format!("{}:latest", dir.display()),
            s(&bundle),
        ],
    )
    .run()
    .success();
    assert_eq!(
        std::fs::read_to_string(bundle.join("rootfs/data/sub/b.txt")).unwrap(),
        "b\n"
    );

    // The image as Docker would write it: platform, created from SOURCE_DATE_EPOCH (default 0),
    // files owned by root with their mtimes clamped.
    let manifest = layout.image(&digest, "linux/arm64");
    let config = layout.config(&manifest);
    assert_eq!(platform_of(&config), "linux/arm64");
    if std::env::var_os("SOURCE_DATE_EPOCH").is_none() {
        assert!(
            config["created"]
                .as_str()
                .is_some_and(|c| c.starts_with("1970-01-01T00:00:00")),
            "{config}"
        );
    }
    let files = layout.files(&manifest);
    assert_eq!(text(&files, "hello.txt"), "hello\n");
    assert_eq!(text(&files, "data/a.txt"), "a\n");
    assert_eq!(text(&files, "data/sub/b.txt"), "b\n");
    for (path, entry) in &files {
        assert_eq!((entry.uid, entry.gid), (0, 0), "{path}");
        assert_eq!(entry.mtime, 0, "{path}: mtime clamped to SOURCE_DATE_EPOCH");
    }

    // Defaults: context `.`, `./Dockerfile`, the host's platform.
    let here = out_dir.path().join("here");
    let out = build(&["--output", &format!("oci:{}", here.display())])
        .current_dir(context.path())
        .run()
        .success();
    let digest = written(&out, &here);
    let layout = Layout::open(&here);
    let manifest = layout.image(&digest, gobin::host_platform());
    assert_eq!(
        platform_of(&layout.config(&manifest)),
        gobin::host_platform()
    );
}

/// Writes the reproducibility context into `dir` (files in reverse order when `reverse`), all with
/// mtime `mtime` (None: left as written, i.e. now).
fn repro_context(dir: &Path, reverse: bool, mtime: Option<u64>) {
    let mut files = vec![
        (
            "Dockerfile",
            "FROM scratch\nCOPY . /srv/\nCOPY --chmod=0755 tool.sh /usr/local/bin/tool\nLABEL built=yes\n",
        ),
        ("a.txt", "alpha\n"),
        ("tool.sh", "#!/bin/sh\necho tool\n"),
        ("dir/b.txt", "bravo\n"),
        ("dir/sub/c.txt", "charlie\n"),
        ("z/last.txt", "zulu\n"),
    ];
    if reverse {
        files.reverse();
    }
    write(dir, &files);
    std::fs::create_dir_all(dir.join("empty")).unwrap();
    std::os::unix::fs::symlink("a.txt", dir.join("link")).unwrap();
    if let Some(mtime) = mtime {
        set_mtimes(dir, mtime);
    }
}

#[test]
fn the_same_inputs_give_the_same_digests() {
    let work = tempdir();
    let (a, b) = (
        work.path().join("ctx-a"),
        work.path().join("elsewhere/ctx-b"),
    );
    repro_context(&a, false, Some(1_750_000_000));
    repro_context(&b, true, None);
    let run = |context: &Path, out: &Path, epoch: Option<&str>| {
        let target = format!("oci:{}:v1", out.display());
        let platforms = ["linux/amd64", "linux/arm64"];
        // A fresh layer cache for each build: equal digests must not come from a cache hit.
        let cache = tempdir();
        let mut run = build_on(context, &platforms, &["--output", &target])
            .env("MULTIARCH_CACHE_DIR", cache.path());
        if let Some(epoch) = epoch {
            run = run.env("SOURCE_DATE_EPOCH", epoch);
        }
        written(&run.run().success(), out)
    };

    let first = run(&a, &work.path().join("out-a"), None);
    let second = run(&b, &work.path().join("out-b"), None);
    assert_eq!(
        first, second,
        "same inputs, other paths and mtimes: same index"
    );
    let layout = Layout::open(&work.path().join("out-a"));
    let index = layout.json(&first, Kind::Index);
    assert_eq!(platforms(&index), ["linux/amd64", "linux/arm64"]);
    let manifest = layout.image(&first, "linux/arm64");
    let files = layout.files(&manifest);
    assert_eq!(text(&files, "srv/dir/sub/c.txt"), "charlie\n");
    assert_eq!(files["srv/link"].link.as_deref(), Some("a.txt"));
    assert_eq!(files["srv/empty"].kind, tar::EntryType::Directory);
    assert_eq!(files["usr/local/bin/tool"].mode & 0o7777, 0o755);
    assert!(files.values().all(|e| e.mtime == 0));
    if std::env::var_os("SOURCE_DATE_EPOCH").is_none() {
        let config = layout.config(&manifest);
        assert!(
            config["created"]
                .as_str()
                .is_some_and(|c| c.starts_with("1970-01-01T00:00:00")),
            "created from SOURCE_DATE_EPOCH's default, 0: {config}"
        );
    }

    // SOURCE_DATE_EPOCH: the config's created, and mtimes clamped to it (every file is newer).
    let third = run(&a, &work.path().join("out-c"), Some("1700000000"));
    let fourth = run(&b, &work.path().join("out-d"), Some("1700000000"));
    assert_eq!(third, fourth);
    assert_ne!(first, third, "the epoch is an input");
    let layout = Layout::open(&work.path().join("out-c"));
    for platform in ["linux/amd64", "linux/arm64"] {
        let manifest = layout.image(&third, platform);
        let config = layout.config(&manifest);
        let created = config["created"].as_str().expect("created");
        assert!(
            created == "2023-11-14T22:13:20Z" || created.starts_with("2023-11-14T22:13:20"),
            "{created}"
        );
        for (path, entry) in layout.files(&manifest) {
            assert_eq!(entry.mtime, 1_700_000_000, "{path}");
        }
    }
}

#[test]
fn zstd_compression_changes_the_layer_not_its_content() {
    let context = tempdir();
    write(
        context.path(),
        &[
            ("Dockerfile", "FROM scratch\nCOPY . /data/\n"),
            ("a.txt", &"zstd or gzip\n".repeat(1000)),
        ],
    );
    let run = |compression: &str| {
        let built = build_to_layout(
            context.path(),
            &["linux/amd64"],
            &["--compression", compression],
        );
        let manifest = built.layout.image(&built.digest, "linux/amd64");
        let config = built.layout.config(&manifest);
        (built, manifest, config)
    };
    let (_, gzip_manifest, gzip_config) = run("gzip");
    let (zstd, zstd_manifest, zstd_config) = run("zstd");
    assert_eq!(
        gzip_config["rootfs"]["diff_ids"], zstd_config["rootfs"]["diff_ids"],
        "the same tar under either compression"
    );
    assert_eq!(gzip_manifest["layers"][0]["mediaType"], OCI_LAYER_GZIP);
    let layer = &zstd_manifest["layers"][0];
    assert_eq!(layer["mediaType"], OCI_LAYER_ZSTD);
    assert_ne!(layer["digest"], gzip_manifest["layers"][0]["digest"]);
    let blob = zstd.layout.blob(layer["digest"].as_str().unwrap());
    assert_eq!(blob[..4], [0x28, 0xb5, 0x2f, 0xfd], "a zstd frame");
}
