//! Engines: RUN goes to buildah (or podman, docker); the native engine does not run anything.

use std::path::Path;

use super::{
    DOCKERFILE_MISTAKE, build, build_and_push, fails, platform_of, pushed, registry_config,
    registry_with_base, s, sha256, unpack, write, written,
};
use crate::harness::{Run, gobin, skopeo_raw, tempdir};

/// Environment for a delegated build: buildah with vfs storage in `dir`, isolation chroot, and
/// `registry` marked insecure (plain HTTP) in its registries.conf.
fn engine_env(run: Run, dir: &Path) -> Run {
    let storage = dir.join("storage.conf");
    std::fs::write(
        &storage,
        format!(
            "[storage]\ndriver = \"vfs\"\ngraphroot = \"{}\"\nrunroot = \"{}\"\n",
            dir.join("graphroot").display(),
            dir.join("runroot").display()
        ),
    )
    .unwrap();
    // No registry is marked insecure: multiarch tells buildah that the loopback base may use
    // plain HTTP.
    let registries = dir.join("registries.conf");
    std::fs::write(&registries, "unqualified-search-registries = []\n").unwrap();
    run.env("CONTAINERS_STORAGE_CONF", &storage)
        .env("STORAGE_DRIVER", "vfs")
        .env("CONTAINERS_REGISTRIES_CONF", &registries)
        .env("BUILDAH_ISOLATION", "chroot")
}

#[test]
fn run_instructions_are_built_through_buildah() {
    let (registry, _, build_arg) = registry_with_base();
    let context = tempdir();
    write(
        context.path(),
        &[
            (
                "Dockerfile",
                "ARG BASE\nFROM $BASE\nRUN echo hi > /greeting\nCOPY note.txt /note.txt\n",
            ),
            ("note.txt", "note\n"),
        ],
    );
    let engine = tempdir();
    let repo = registry.at("app");
    let tag = format!("{repo}:run");
    // The host's platform: RUN of a foreign platform needs qemu registered in binfmt_misc, which
    // containers and CI runners often lack (and multiarch refuses up front without it).
    let platform = gobin::host_platform();
    let out = engine_env(
        build_and_push(
            context.path(),
            &[platform],
            &[&tag],
            &["--build-arg", &build_arg, "--engine", "auto"],
        ),
        engine.path(),
    )
    .run()
    .success();
    let digest = pushed(&out, &repo);
    assert_eq!(sha256(skopeo_raw(&tag).as_bytes()), digest);
    let config = registry_config(&format!("{repo}@{digest}"));
    assert_eq!(platform_of(&config), platform);
    let work = tempdir();
    let rootfs = unpack(&format!("{repo}@{digest}"), platform, work.path());
    assert_eq!(
        std::fs::read_to_string(rootfs.join("greeting")).unwrap(),
        "hi\n"
    );
    assert_eq!(
        std::fs::read_to_string(rootfs.join("note.txt")).unwrap(),
        "note\n"
    );
    assert_eq!(
        std::fs::read_to_string(rootfs.join("etc/base-platform")).unwrap(),
        format!("{platform}\n")
    );
    // buildah did the work, in the storage it was given.
    assert!(
        std::fs::read_dir(engine.path().join("graphroot"))
            .map(|mut d| d.next().is_some())
            .unwrap_or(false),
        "buildah's vfs storage in {} is empty",
        engine.path().display()
    );
}

#[test]
fn engine_choice_and_its_errors() {
    let context = tempdir();
    write(
        context.path(),
        &[
            (
                "Dockerfile",
                "FROM scratch\nCOPY note.txt /note.txt\nRUN echo hi\n",
            ),
            (
                "Unreached.Dockerfile",
                "FROM scratch AS tools\nRUN echo never\n\nFROM scratch\nCOPY note.txt /note.txt\n",
            ),
            ("note.txt", "note\n"),
        ],
    );
    let work = tempdir();
    let no_tools = tempdir();
    let output = |name: &str| format!("oci:{}:v1", work.path().join(name).display());
    let ctx = s(context.path());

    // The native engine runs nothing: RUN is an error naming the line.
    fails(
        build(&[
            "--context",
            ctx,
            "--engine",
            "native",
            "--output",
            &output("native"),
        ])
        .run(),
        DOCKERFILE_MISTAKE,
        &["RUN", "line 3"],
    );

    // auto: no stage reaching the target has RUN, so native, with no engine on PATH.
    let unreached = context.path().join("Unreached.Dockerfile");
    let out = build(&[
        "--context",
        ctx,
        "--file",
        s(&unreached),
        "--engine",
        "auto",
        "--output",
        &output("auto"),
    ])
    .env("PATH", no_tools.path())
    .run()
    .success();
    written(&out, &work.path().join("auto"));

    // auto, RUN reached, no engine on PATH: a clear error (about RUN, or the engines it looked for).
    let out = fails(
        build(&[
            "--context",
            ctx,
            "--file",
            s(&unreached),
            "--target",
            "tools",
            "--engine",
            "auto",
            "--output",
            &output("auto-run"),
        ])
        .env("PATH", no_tools.path())
        .run(),
        &[1, 2],
        &[],
    );
    assert!(
        out.stderr.contains("RUN") || out.stderr.contains("buildah"),
        "{out:?}"
    );

    // An engine that is not installed.
    fails(
        build(&[
            "--context",
            ctx,
            "--engine",
            "podman",
            "--output",
            &output("podman"),
        ])
        .env("PATH", no_tools.path())
        .run(),
        &[1, 2],
        &["podman"],
    );
}
