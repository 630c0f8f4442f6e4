//! Stage graphs that differ per platform, and build arguments' scoping as BuildKit has it.

use super::{build_on, build_to_layout, s, text, write};
use crate::harness::tempdir;

#[test]
fn each_platform_follows_its_own_stage_graph() {
    let context = tempdir();
    write(
        context.path(),
        &[
            (
                "Dockerfile",
                "FROM scratch AS base-amd64\nCOPY amd64.txt /which\n\
                 FROM scratch AS base-arm64\nCOPY arm64.txt /which\n\
                 FROM base-${TARGETARCH}\nARG V\nLABEL v=\"${V:-unset}\"\n",
            ),
            ("amd64.txt", "amd64\n"),
            ("arm64.txt", "arm64\n"),
        ],
    );
    // One --platform with a comma-separated list.
    let built = build_to_layout(context.path(), &["linux/amd64,linux/arm64"], &[]);
    let image = &built.layout;
    for arch in ["amd64", "arm64"] {
        let manifest = image.image(&built.digest, &format!("linux/{arch}"));
        assert_eq!(text(&image.files(&manifest), "which"), format!("{arch}\n"));
        // ARG declared without a value and given no build argument stays unset.
        assert_eq!(image.config(&manifest)["config"]["Labels"]["v"], "unset");
    }
}

#[test]
fn args_are_inherited_by_a_stage_built_from_another_and_see_each_other() {
    let context = tempdir();
    write(
        context.path(),
        &[(
            "Dockerfile",
            "FROM scratch AS parent\nARG A=1 B=${A}-x\n\
             FROM parent\nLABEL a=\"$A\" b=\"$B\"\n",
        )],
    );
    let built = build_to_layout(context.path(), &["linux/amd64"], &[]);
    let image = &built.layout;
    let config = image.config(&image.image(&built.digest, "linux/amd64"));
    assert_eq!(config["config"]["Labels"]["a"], "1");
    assert_eq!(config["config"]["Labels"]["b"], "1-x");
}

#[test]
fn an_output_inside_the_context_is_refused_unless_ignored() {
    let context = tempdir();
    write(
        context.path(),
        &[
            ("Dockerfile", "FROM scratch\nCOPY . /app/\n"),
            ("a.txt", "a\n"),
        ],
    );
    let inside = context.path().join("out");
    let output = format!("oci:{}", s(&inside));
    build_on(context.path(), &[], &["--output", &output])
        .run()
        .failure(2, "inside the build context");
    assert!(!inside.exists(), "nothing may be written");

    write(context.path(), &[(".dockerignore", "out\n")]);
    build_on(context.path(), &[], &["--output", &output])
        .run()
        .success();
}

#[test]
fn chown_by_name_reads_the_stage_and_survives_a_cached_rebuild() {
    let context = tempdir();
    write(
        context.path(),
        &[
            (
                "Dockerfile",
                "FROM scratch AS accounts\nCOPY passwd group /etc/\n\
                 FROM accounts\nCOPY a.txt /a.txt\nCOPY --chown=app:staff b.txt /b.txt\n",
            ),
            (
                "passwd",
                "root:x:0:0::/root:/bin/sh\napp:x:1234:99::/home/app:/bin/sh\n",
            ),
            ("group", "root:x:0:\nstaff:x:4321:\n"),
            ("a.txt", "a\n"),
            ("b.txt", "b\n"),
        ],
    );
    let work = tempdir();
    let dir = work.path().join("image");
    let cache = work.path().join("cache");
    let target = format!("oci:{}", s(&dir));
    let mut digests = Vec::new();
    for _ in 0..2 {
        let out = build_on(context.path(), &["linux/amd64"], &["--output", &target])
            .env("MULTIARCH_CACHE_DIR", &cache)
            .run()
            .success();
        digests.push(super::written(&out, &dir));
    }
    assert_eq!(digests[0], digests[1], "the rebuild gives the same image");
    let layout = super::Layout::open(&dir);
    let files = layout.files(&layout.image(&digests[0], "linux/amd64"));
    let b = &files["b.txt"];
    assert_eq!(
        (b.uid, b.gid),
        (1234, 4321),
        "app:staff from the stage's files"
    );
}

#[test]
fn a_rebuild_copying_from_an_image_reuses_its_layer_without_downloading() {
    let (registry, _base, build_arg) = super::registry_with_base();
    let context = tempdir();
    write(
        context.path(),
        &[(
            "Dockerfile",
            "ARG BASE\nFROM scratch\nCOPY --from=${BASE} /bin/busybox /bin/busybox\n",
        )],
    );
    let cache = tempdir();
    let tag = registry.at("tools:1");
    let run = || {
        super::build_and_push(
            context.path(),
            &["linux/arm64"],
            &[&tag],
            &["--build-arg", &build_arg],
        )
        .env("MULTIARCH_CACHE_DIR", cache.path())
        .run()
        .success()
    };
    let first = run();
    let before = registry.requests().len();
    let second = run();
    assert_eq!(first.stdout, second.stdout, "same image");
    assert!(
        second.stderr.contains("unchanged layer"),
        "{}",
        second.stderr
    );
    let blob_reads = registry.requests()[before..]
        .iter()
        .filter(|r| r.method == "GET" && r.path.contains("/blobs/"))
        .count();
    assert_eq!(blob_reads, 1, "only the base's config is read, no layer");
}
