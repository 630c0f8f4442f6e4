//! Publishing: one platform per job with records and the fan-in, several tags in several
//! repositories, and a dry run that writes nothing.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{
    app_context, build_and_push, platform_of, platforms, pushed, registry_config,
    registry_manifest, registry_with_base, s, sha256, write,
};
use crate::harness::{Registry, fixtures, multiarch, registry_index, schema, skopeo_raw, tempdir};

#[test]
fn one_platform_per_job_with_records_then_the_fan_in() {
    let (registry, _, build_arg) = registry_with_base();
    let context = app_context();
    let repo = registry.at("team/app");
    let records = tempdir();
    let mut digests = BTreeMap::new();
    for (platform, tag) in [
        ("linux/arm64", repo.clone()),
        ("linux/arm/v7", repo.clone()),
        ("linux/amd64", format!("{repo}:amd64")),
    ] {
        let out = build_and_push(
            context.path(),
            &[platform],
            &[&tag],
            &["--build-arg", &build_arg, "--records", s(records.path())],
        )
        .run()
        .success();
        let digest = pushed(&out, &repo);
        let (manifest, size) = registry_manifest(&format!("{repo}@{digest}"));
        assert_eq!(manifest["mediaType"], fixtures::OCI_MANIFEST);
        assert_eq!(
            platform_of(&registry_config(&format!("{repo}@{digest}"))),
            platform
        );

        let name = format!("{}.json", platform.replace('/', "-"));
        let bytes = std::fs::read(records.path().join(&name))
            .unwrap_or_else(|e| panic!("record {name}: {e}"));
        schema::assert_project_schema("record.v1.json", &bytes);
        let record: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(record["schema"], "multiarch.record.v1");
        assert_eq!(record["image"], repo.as_str());
        assert_eq!(record["digest"], digest.as_str());
        assert_eq!(record["size"], size);
        assert_eq!(platform_of(&record["platform"]), platform);
        digests.insert(platform.to_owned(), digest);
    }
    // A tag given: the image is also tagged.
    assert_eq!(
        sha256(skopeo_raw(&format!("{repo}:amd64")).as_bytes()),
        digests["linux/amd64"]
    );

    multiarch(&[
        "manifest",
        "push",
        "--tag",
        &format!("{repo}:1"),
        "--records",
        s(records.path()),
        "--expect-platforms",
        "linux/amd64,linux/arm64,linux/arm/v7",
    ])
    .run()
    .success();
    let index = registry_index(&format!("{repo}:1"));
    assert_eq!(
        platforms(&index),
        ["linux/amd64", "linux/arm/v7", "linux/arm64"]
    );
    for entry in index["manifests"].as_array().unwrap() {
        assert_eq!(
            entry["digest"],
            digests[&platform_of(&entry["platform"])].as_str()
        );
    }
}

#[test]
fn several_tags_in_several_repositories_get_the_same_index() {
    let registry = Registry::start();
    let context = tempdir();
    write(
        context.path(),
        &[
            ("Dockerfile", "FROM scratch\nCOPY hello.txt /hello.txt\n"),
            ("hello.txt", "hello\n"),
        ],
    );
    let (a, b) = (registry.at("app"), registry.at("mirror/app"));
    let tags = [format!("{a}:1"), format!("{a}:latest"), format!("{b}:1")];
    let out = build_and_push(
        context.path(),
        &["linux/amd64", "linux/riscv64"],
        &tags.each_ref().map(String::as_str),
        &[],
    )
    .run()
    .success();
    assert_eq!(out.stdout.lines().count(), 2, "one line per repository");
    let digest = pushed(&out, &a);
    assert_eq!(pushed(&out, &b), digest);
    for tag in &tags {
        let index = registry_index(tag);
        assert_eq!(platforms(&index), ["linux/amd64", "linux/riscv64"]);
        assert_eq!(sha256(skopeo_raw(tag).as_bytes()), digest, "{tag}");
    }
}

#[test]
fn dry_run_writes_nothing() {
    let (registry, _, build_arg) = registry_with_base();
    let context = app_context();
    let repo = registry.at("app");
    let before = registry.requests().len();
    build_and_push(
        context.path(),
        &["linux/amd64", "linux/arm64"],
        &[&format!("{repo}:1")],
        &["--build-arg", &build_arg, "--dry-run"],
    )
    .run()
    .success();
    let writes = registry.writes_since(before);
    assert!(writes.is_empty(), "{writes:?}");
}
