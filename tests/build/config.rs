//! Dockerfile instructions in the config, predefined platform args, stages and images as COPY
//! sources, and .dockerignore.

use serde_json::{Value, json};

use super::{
    DOCKERFILE_MISTAKE, build_on, build_to_layout, fails, platform_of, registry_with_base, s,
    split, text, write,
};
use crate::harness::base_image::PATH_ENV;
use crate::harness::{gobin, tempdir};

/// The first word of a history entry's `created_by`: the instruction (Docker's classic builder
/// wrote `/bin/sh -c #(nop) ` before it, BuildKit does not).
fn instruction_of(entry: &Value) -> String {
    let created_by = entry["created_by"].as_str().unwrap_or_default();
    let created_by = created_by
        .trim()
        .strip_prefix("/bin/sh -c #(nop)")
        .unwrap_or(created_by)
        .trim();
    created_by
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_uppercase()
}

#[test]
fn instructions_land_in_the_config_as_docker_writes_them() {
    let (_registry, _, build_arg) = registry_with_base();
    let context = tempdir();
    write(
        context.path(),
        &[
            (
                "Dockerfile",
                r#"ARG BASE
FROM $BASE
ARG GREETING=hello
LABEL org.example.team="platform" greeting=$GREETING
ENV APP_HOME=/srv/app \
    MODE=production
WORKDIR $APP_HOME
COPY --chown=1000:1000 --chmod=0755 tool.sh ./tool.sh
ADD vendor.tar.gz /opt/vendor/
COPY --link notes.txt /srv/notes.txt
USER 1000:1000
EXPOSE 8080 9090/udp
VOLUME ["/data"]
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s CMD ["/srv/app/tool.sh", "--check"]
SHELL ["/bin/sh", "-eu", "-c"]
ENTRYPOINT ["/srv/app/tool.sh"]
CMD ["--serve"]
"#,
            ),
            ("tool.sh", "#!/bin/sh\necho tool \"$@\"\n"),
            ("notes.txt", "notes\n"),
        ],
    );
    // A local tarball: ADD extracts it.
    let tarball = std::fs::File::create(context.path().join("vendor.tar.gz")).unwrap();
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        tarball,
        flate2::Compression::default(),
    ));
    for (name, content) in [
        ("lib/a.txt", "from the tarball\n"),
        ("README", "vendored\n"),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(1_600_000_000);
        header.set_cksum();
        tar.append_data(&mut header, name, content.as_bytes())
            .unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap();

    let built = build_to_layout(
        context.path(),
        &["linux/arm64"],
        &[
            "--build-arg",
            &build_arg,
            "--build-arg",
            "GREETING=hi",
            "--label",
            "org.opencontainers.image.revision=abc123",
            "--annotation",
            "org.opencontainers.image.source=https://example.test/app",
        ],
    );
    let layout = &built.layout;
    let manifest = layout.image(&built.digest, "linux/arm64");
    assert_eq!(
        manifest["annotations"]["org.opencontainers.image.source"],
        "https://example.test/app"
    );
    let config = layout.config(&manifest);
    assert_eq!(platform_of(&config), "linux/arm64");
    let c = &config["config"];
    assert_eq!(
        c["Env"],
        json!([PATH_ENV, "APP_HOME=/srv/app", "MODE=production"])
    );
    for (key, value) in [
        ("org.example.team", "platform"),
        ("greeting", "hi"),
        ("org.opencontainers.image.revision", "abc123"),
    ] {
        assert_eq!(c["Labels"][key], value, "label {key}: {c}");
    }
    assert_eq!(c["WorkingDir"], "/srv/app");
    assert_eq!(c["User"], "1000:1000");
    assert_eq!(c["ExposedPorts"], json!({"8080/tcp": {}, "9090/udp": {}}));
    assert_eq!(c["Volumes"], json!({"/data": {}}));
    assert_eq!(c["StopSignal"], "SIGTERM");
    assert_eq!(c["Entrypoint"], json!(["/srv/app/tool.sh"]));
    assert_eq!(c["Cmd"], json!(["--serve"]));
    assert_eq!(c["Shell"], json!(["/bin/sh", "-eu", "-c"]));
    assert_eq!(
        c["Healthcheck"]["Test"],
        json!(["CMD", "/srv/app/tool.sh", "--check"])
    );
    assert_eq!(c["Healthcheck"]["Interval"], 30_000_000_000u64);

    // The files: --chown/--chmod, the tarball extracted, --link.
    let files = layout.files(&manifest);
    let tool_sh = &files["srv/app/tool.sh"];
    assert_eq!((tool_sh.uid, tool_sh.gid), (1000, 1000));
    assert_eq!(tool_sh.mode & 0o7777, 0o755);
    assert_eq!(text(&files, "opt/vendor/lib/a.txt"), "from the tarball\n");
    assert_eq!(text(&files, "opt/vendor/README"), "vendored\n");
    assert!(!files.contains_key("opt/vendor/vendor.tar.gz"));
    assert_eq!(text(&files, "srv/notes.txt"), "notes\n");
    assert_eq!(text(&files, "etc/base-platform"), "linux/arm64\n");

    // History: the base's entries, then one per instruction, in order; empty_layer where no layer.
    let history = config["history"].as_array().expect("history");
    let base_history = 2;
    let ours: Vec<&Value> = history[base_history..]
        .iter()
        .filter(|h| instruction_of(h) != "ARG")
        .collect();
    let kinds: Vec<String> = ours.iter().map(|h| instruction_of(h)).collect();
    let expected = [
        "LABEL",
        "ENV",
        "WORKDIR",
        "COPY",
        "ADD",
        "COPY",
        "USER",
        "EXPOSE",
        "VOLUME",
        "STOPSIGNAL",
        "HEALTHCHECK",
        "SHELL",
        "ENTRYPOINT",
        "CMD",
    ];
    assert!(kinds.len() >= expected.len(), "{history:#?}");
    assert_eq!(kinds[..expected.len()], expected, "{history:#?}");
    // Past the Dockerfile's own, at most an entry for the --label given on the command line.
    for extra in &ours[expected.len()..] {
        assert_eq!(instruction_of(extra), "LABEL", "{history:#?}");
        assert_eq!(extra["empty_layer"], true, "{history:#?}");
    }
    for entry in &ours {
        let empty = entry["empty_layer"].as_bool().unwrap_or(false);
        match instruction_of(entry).as_str() {
            "COPY" | "ADD" => assert!(!empty, "{entry}"),
            "WORKDIR" => {}
            _ => assert!(empty, "no layer, so empty_layer: {entry}"),
        }
    }
    let with_layers = history
        .iter()
        .filter(|h| !h["empty_layer"].as_bool().unwrap_or(false))
        .count();
    assert_eq!(
        with_layers,
        manifest["layers"].as_array().unwrap().len(),
        "one non-empty history entry per layer"
    );
}

#[test]
fn platform_args_are_predefined() {
    let context = tempdir();
    write(
        context.path(),
        &[
            (
                "Dockerfile",
                "FROM scratch\n\
                 ARG TARGETPLATFORM TARGETOS TARGETARCH TARGETVARIANT BUILDPLATFORM BUILDOS BUILDARCH\n\
                 LABEL t.platform=$TARGETPLATFORM t.os=$TARGETOS t.arch=$TARGETARCH t.variant=\"$TARGETVARIANT\" \
                 b.platform=$BUILDPLATFORM b.os=$BUILDOS b.arch=$BUILDARCH\n\
                 COPY marker.txt /\n",
            ),
            ("marker.txt", "x\n"),
        ],
    );
    let built = build_to_layout(context.path(), &["linux/arm/v7", "linux/arm64"], &[]);
    let (layout, digest) = (&built.layout, &built.digest);
    let host = gobin::host_platform();
    let (_, host_arch, _) = split(host);
    for (platform, arch, variant) in [("linux/arm/v7", "arm", "v7"), ("linux/arm64", "arm64", "")] {
        let manifest = layout.image(digest, platform);
        let config = layout.config(&manifest);
        assert_eq!(platform_of(&config), platform);
        let labels = &config["config"]["Labels"];
        assert_eq!(labels["t.platform"], platform, "{labels}");
        assert_eq!(labels["t.os"], "linux");
        assert_eq!(labels["t.arch"], arch);
        if !variant.is_empty() {
            assert_eq!(labels["t.variant"], variant);
        }
        assert_eq!(labels["b.platform"], host);
        assert_eq!(labels["b.os"], "linux");
        assert_eq!(labels["b.arch"], host_arch);
    }
}

#[test]
fn stages_and_images_as_copy_sources() {
    let (_registry, base, build_arg) = registry_with_base();
    let context = tempdir();
    let dockerfile = format!(
        r#"ARG BASE
FROM scratch AS assets
COPY assets/ /assets/

FROM --platform=$BUILDPLATFORM $BASE AS build
COPY hello.txt /built/hello.txt

FROM --platform=$TARGETPLATFORM $BASE
COPY --from=assets /assets/ /srv/assets/
COPY --from=build /etc/base-platform /build-platform
COPY --from=build /built/hello.txt /hello.txt
COPY --from={image} /etc/base-platform /copied-base-platform
"#,
        image = base.reference
    );
    write(
        context.path(),
        &[
            ("Dockerfile", &dockerfile),
            ("assets/logo.svg", "<svg/>\n"),
            ("assets/css/site.css", "body{}\n"),
            ("hello.txt", "hello\n"),
        ],
    );
    let built = build_to_layout(
        context.path(),
        &["linux/s390x", "linux/ppc64le"],
        &["--build-arg", &build_arg],
    );
    let (layout, digest) = (&built.layout, &built.digest);
    for platform in ["linux/s390x", "linux/ppc64le"] {
        let manifest = layout.image(digest, platform);
        assert_eq!(platform_of(&layout.config(&manifest)), platform);
        let files = layout.files(&manifest);
        assert_eq!(text(&files, "srv/assets/logo.svg"), "<svg/>\n");
        assert_eq!(text(&files, "srv/assets/css/site.css"), "body{}\n");
        assert_eq!(text(&files, "hello.txt"), "hello\n");
        assert_eq!(
            text(&files, "build-platform"),
            format!("{}\n", gobin::host_platform()),
            "the build stage is FROM --platform=$BUILDPLATFORM"
        );
        assert_eq!(
            text(&files, "copied-base-platform"),
            format!("{platform}\n"),
            "COPY --from=IMAGE takes the target platform's image"
        );
        assert_eq!(text(&files, "etc/base-platform"), format!("{platform}\n"));
        assert!(!files.contains_key("assets/logo.svg"));
    }

    // --target builds an earlier stage.
    let assets = build_to_layout(
        context.path(),
        &["linux/s390x"],
        &["--build-arg", &build_arg, "--target", "assets"],
    );
    let manifest = assets.layout.image(&assets.digest, "linux/s390x");
    let files = assets.layout.files(&manifest);
    assert_eq!(text(&files, "assets/logo.svg"), "<svg/>\n");
    assert!(
        !files.contains_key("etc/base-platform"),
        "{:?}",
        files.keys()
    );
}

#[test]
fn dockerignore_keeps_files_out_of_the_context() {
    let context = tempdir();
    write(
        context.path(),
        &[
            ("Dockerfile", "FROM scratch\nCOPY . /ctx/\n"),
            (".dockerignore", "# not for images\nsecret.txt\n**/*.log\n"),
            ("app.txt", "app\n"),
            ("secret.txt", "hunter2\n"),
            ("logs/debug.log", "debug\n"),
            ("sub/x.log", "x\n"),
            ("sub/y.txt", "y\n"),
            (
                "build/Other.Dockerfile",
                "FROM scratch\nCOPY app.txt /\nCOPY secret.txt /secret.txt\n",
            ),
        ],
    );
    let built = build_to_layout(context.path(), &["linux/amd64"], &[]);
    let layout = &built.layout;
    let files = layout.files(&layout.image(&built.digest, "linux/amd64"));
    assert_eq!(text(&files, "ctx/app.txt"), "app\n");
    assert_eq!(text(&files, "ctx/sub/y.txt"), "y\n");
    for ignored in ["ctx/secret.txt", "ctx/logs/debug.log", "ctx/sub/x.log"] {
        assert!(!files.contains_key(ignored), "{ignored} was copied");
    }

    // Naming an ignored file (with --file elsewhere in the context) fails and says why.
    fails(
        build_on(
            context.path(),
            &["linux/amd64"],
            &[
                "--file",
                s(&context.path().join("build/Other.Dockerfile")),
                "--output",
                &format!("oci:{}:v1", built.work.path().join("other").display()),
            ],
        )
        .run(),
        DOCKERFILE_MISTAKE,
        &["secret.txt", ".dockerignore"],
    );
}
