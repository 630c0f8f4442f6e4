//! Cross-builds onto a multi-platform base, pushed, and each platform's binary run under qemu.

use std::path::Path;

use serde_json::{Value, json};

use super::{
    app_context, build_and_push, platform_of, platforms, pushed, registry_config,
    registry_manifest, registry_with_base, sha256, unpack,
};
use crate::harness::base_image::PATH_ENV;
use crate::harness::{fixtures, gobin, registry_index, skopeo_raw, tempdir};

fn sorted(platforms: &[&str]) -> Vec<String> {
    let mut all: Vec<String> = platforms.iter().map(|p| (*p).to_owned()).collect();
    all.sort();
    all
}

#[test]
fn cross_builds_five_platforms_onto_a_multi_platform_base_and_each_binary_runs() {
    let (registry, base, build_arg) = registry_with_base();
    let context = app_context();
    let repo = registry.at("app");
    let tag = format!("{repo}:1");
    let before = registry.requests().len();
    let out = build_and_push(
        context.path(),
        gobin::PLATFORMS,
        &[&tag],
        &["--build-arg", &build_arg],
    )
    .run()
    .success();
    assert_eq!(
        out.stdout.lines().count(),
        1,
        "one repository: {}",
        out.stdout
    );
    let digest = pushed(&out, &repo);

    // The tag and the printed digest are the same index, of every platform.
    let by_digest = skopeo_raw(&format!("{repo}@{digest}"));
    assert_eq!(sha256(by_digest.as_bytes()), digest);
    let index = registry_index(&tag);
    assert_eq!(index, serde_json::from_str::<Value>(&by_digest).unwrap());
    assert_eq!(index["mediaType"], fixtures::OCI_INDEX);
    assert_eq!(platforms(&index), sorted(gobin::PLATFORMS));
    assert!(
        !by_digest.contains(&base.attestation),
        "the base's attestation is about the base, not this image: {index}"
    );

    for entry in index["manifests"].as_array().unwrap() {
        let platform = platform_of(&entry["platform"]);
        let child = format!("{repo}@{}", entry["digest"].as_str().unwrap());
        let (manifest, size) = registry_manifest(&child);
        assert_eq!(entry["size"], size, "{platform}: descriptor size");
        assert_eq!(entry["mediaType"], fixtures::OCI_MANIFEST);
        let config = registry_config(&child);
        assert_eq!(
            platform_of(&config),
            platform,
            "the config says the platform"
        );
        assert_eq!(
            config["config"]["Entrypoint"],
            json!(["/usr/local/bin/hello"])
        );
        assert_eq!(
            config["config"]["Env"],
            json!([PATH_ENV]),
            "Env inherited from the base"
        );
        // The base's layers, as they are, then one for the COPY.
        let layers: Vec<String> = manifest["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["digest"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(layers.len(), 3, "{platform}: {manifest}");
        assert_eq!(
            layers[..2],
            base.image(&platform).layers[..],
            "{platform}: the base image of this platform"
        );
        assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), 3);
    }

    // Base layers were mounted from base/ (or found), never uploaded again.
    let requests = registry.requests_since(before);
    for layer in base.layers() {
        let hex = &layer["sha256:".len()..];
        let uploads: Vec<_> = requests
            .iter()
            .filter(|r| r.path.contains(hex))
            .filter(|r| match r.method.as_str() {
                "PUT" | "PATCH" => true,
                "POST" => !r.path.contains("mount="),
                _ => false,
            })
            .collect();
        assert!(
            uploads.is_empty(),
            "base layer {layer} uploaded: {uploads:?}"
        );
        assert!(
            requests.iter().any(|r| r.path.starts_with("/v2/app/")
                && r.path.contains(hex)
                && ((r.method == "POST" && r.path.contains("mount=") && r.status == 201)
                    || (r.method == "HEAD" && r.status == 200))),
            "base layer {layer} neither mounted into app nor found there: {requests:?}"
        );
    }

    // Each platform's image holds that platform's binary on that platform's base.
    let work = tempdir();
    for platform in ["linux/arm64", "linux/s390x", "linux/arm/v7"] {
        let rootfs = unpack(&tag, platform, work.path());
        assert_eq!(
            gobin::run(&rootfs.join("usr/local/bin/hello"), platform),
            gobin::greeting(platform)
        );
        assert_eq!(
            std::fs::read_to_string(rootfs.join("etc/base-platform")).unwrap(),
            format!("{platform}\n"),
            "built on the base image of the same platform"
        );
        assert_eq!(
            std::fs::read_link(rootfs.join("bin/sh")).unwrap(),
            Path::new("busybox")
        );
    }
}
