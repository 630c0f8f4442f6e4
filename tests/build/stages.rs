//! Stage graphs that differ per platform, and build arguments' scoping as BuildKit has it.

use super::{Layout, build, s, text, write, written};
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
    let out_dir = tempdir();
    let layout = out_dir.path().join("image");
    let out = build(&[
        "--context",
        s(context.path()),
        "--platform",
        "linux/amd64,linux/arm64",
        "--output",
        &format!("oci:{}", s(&layout)),
    ])
    .run()
    .success();
    let digest = written(&out, &layout);
    let image = Layout::open(&layout);
    for arch in ["amd64", "arm64"] {
        let manifest = image.image(&digest, &format!("linux/{arch}"));
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
    let out_dir = tempdir();
    let layout = out_dir.path().join("image");
    let out = build(&[
        "--context",
        s(context.path()),
        "--platform",
        "linux/amd64",
        "--output",
        &format!("oci:{}", s(&layout)),
    ])
    .run()
    .success();
    let image = Layout::open(&layout);
    let config = image.config(&image.image(&written(&out, &layout), "linux/amd64"));
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
    build(&[
        "--context",
        s(context.path()),
        "--output",
        &format!("oci:{}", s(&inside)),
    ])
    .run()
    .failure(2, "inside the build context");
    assert!(!inside.exists(), "nothing may be written");

    write(context.path(), &[(".dockerignore", "out\n")]);
    build(&[
        "--context",
        s(context.path()),
        "--output",
        &format!("oci:{}", s(&inside)),
    ])
    .run()
    .success();
}
