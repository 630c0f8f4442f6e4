//! `multiarch inspect`: indexes and images, OCI and Docker, in every format.

use crate::harness::schema::{self, Kind};
use crate::harness::{Registry, fixtures, multiarch, skopeo_raw, tempdir, tool};

#[test]
fn an_index_with_an_attestation_in_every_format() {
    let registry = Registry::start();
    let layout = tempdir();
    let amd = fixtures::Image::hello("linux/amd64").write(layout.path(), None);
    let arm = fixtures::Image::hello("linux/arm/v7").write(layout.path(), None);
    let attestation = fixtures::attestation(layout.path());
    let index = fixtures::index(
        layout.path(),
        "v1",
        &[amd.clone(), arm.clone()],
        &[(attestation.clone(), &amd)],
    );
    let reference = registry.at("app:v1");
    fixtures::push(layout.path(), "v1", &reference, true);

    let table = multiarch(&["inspect", &reference]).run().success().stdout;
    assert!(table.contains(&index.digest), "{table}");
    assert!(
        table.contains("Platforms:  2"),
        "the attestation is not counted as a platform:\n{table}"
    );
    let attestation_row = table
        .lines()
        .find(|l| l.contains(&attestation.digest))
        .expect("attestation row");
    assert!(
        attestation_row.starts_with("attestation"),
        "{attestation_row}"
    );
    assert!(
        attestation_row.contains(&format!("(for {})", amd.digest)),
        "{attestation_row}"
    );
    assert!(table.contains("linux/arm/v7"), "{table}");

    let json = multiarch(&["inspect", "--format", "json", &reference])
        .run()
        .success()
        .stdout;
    schema::assert_project_schema("inspect.v1.json", json.as_bytes());
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["kind"], "index");
    assert_eq!(report["digest"], index.digest);
    assert_eq!(
        report["reference"],
        format!("{}@{}", registry.at("app"), index.digest)
    );
    assert_eq!(report["manifests"][2]["kind"], "attestation");
    assert_eq!(report["manifests"][2]["attestationFor"], amd.digest);
    assert!(
        report["manifests"][2].get("platform").is_none(),
        "attestations have no platform"
    );

    let raw = multiarch(&["inspect", "--format", "raw", &reference])
        .run()
        .success()
        .stdout;
    assert_eq!(raw, skopeo_raw(&reference), "raw is the stored bytes");
}

#[test]
fn an_image_and_a_platform_of_an_index() {
    let registry = Registry::start();
    let layout = tempdir();
    let mut image = fixtures::Image::hello("linux/arm64");
    image.labels = vec![(
        "org.opencontainers.image.source",
        "https://example.test/app",
    )];
    let arm = image.write(layout.path(), None);
    let amd = fixtures::Image::hello("linux/amd64").write(layout.path(), None);
    fixtures::index(layout.path(), "v1", &[amd, arm.clone()], &[]);
    let reference = registry.at("app:v1");
    fixtures::push(layout.path(), "v1", &reference, true);

    let out = multiarch(&[
        "inspect",
        "--platform",
        "linux/arm64/v8",
        "--format",
        "json",
        &reference,
    ])
    .run()
    .success()
    .stdout;
    schema::assert_project_schema("inspect.v1.json", out.as_bytes());
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["kind"], "image");
    assert_eq!(report["digest"], arm.digest);
    assert_eq!(report["platform"]["architecture"], "arm64");
    assert_eq!(
        report["labels"]["org.opencontainers.image.source"],
        "https://example.test/app"
    );
    assert_eq!(report["cmd"][0], "/bin/sh");
    assert_eq!(report["layers"].as_array().unwrap().len(), 1);

    let table = multiarch(&["inspect", "--platform", "linux/arm64", &reference])
        .run()
        .success()
        .stdout;
    assert!(table.contains("Platform:   linux/arm64"), "{table}");
    assert!(
        table.contains("org.opencontainers.image.source=https://example.test/app"),
        "{table}"
    );

    multiarch(&["inspect", "--platform", "linux/s390x", &reference])
        .run()
        .failure(
            1,
            "has no image for linux/s390x; it has: linux/amd64, linux/arm64",
        );
}

#[test]
fn docker_schema2_manifests_and_lists() {
    let registry = Registry::start();
    let layout = tempdir();
    fixtures::Image::hello("linux/amd64").write(layout.path(), Some("amd64"));
    let amd = fixtures::push_docker(layout.path(), "amd64", &registry.at("app:amd64"));
    let image = multiarch(&["inspect", "--format", "json", &registry.at("app:amd64")])
        .run()
        .success()
        .stdout;
    let report: serde_json::Value = serde_json::from_str(&image).unwrap();
    assert_eq!(report["mediaType"], fixtures::DOCKER_MANIFEST);
    assert_eq!(report["digest"], amd.digest);

    // buildah writes a Docker manifest list with --format v2s2.
    fixtures::Image::hello("linux/arm64").write(layout.path(), Some("arm64"));
    let arm = fixtures::push_docker(layout.path(), "arm64", &registry.at("app:arm64"));
    let storage = tempdir();
    let buildah = |args: &[&str]| {
        let mut all = vec![
            "--root",
            storage.path().to_str().unwrap(),
            "--runroot",
            storage.path().to_str().unwrap(),
            "--storage-driver",
            "vfs",
        ];
        all.extend_from_slice(args);
        tool("buildah", &all).run().success()
    };
    buildah(&["manifest", "create", "list"]);
    for tag in ["amd64", "arm64"] {
        buildah(&[
            "manifest",
            "add",
            "--tls-verify=false",
            "list",
            &format!("docker://{}", registry.at(&format!("app:{tag}"))),
        ]);
    }
    buildah(&[
        "manifest",
        "push",
        "--tls-verify=false",
        "--format",
        "v2s2",
        "list",
        &format!("docker://{}", registry.at("app:list")),
    ]);
    let list = multiarch(&["inspect", "--format", "json", &registry.at("app:list")])
        .run()
        .success()
        .stdout;
    let report: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(
        report["mediaType"],
        "application/vnd.docker.distribution.manifest.list.v2+json"
    );
    let digests: Vec<&str> = report["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["digest"].as_str().unwrap())
        .collect();
    assert!(
        digests.contains(&amd.digest.as_str()) && digests.contains(&arm.digest.as_str()),
        "{list}"
    );
}

#[test]
fn oci_layouts_are_inspected_like_registries() {
    let layout = tempdir();
    let written = fixtures::Image::hello("linux/s390x").write(layout.path(), Some("s390x"));
    let reference = format!("oci:{}:s390x", layout.path().display());
    let out = multiarch(&["inspect", "--format", "json", &reference])
        .run()
        .success()
        .stdout;
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["digest"], written.digest);
    assert_eq!(report["platform"]["architecture"], "s390x");
    let raw = multiarch(&["inspect", "--format", "raw", &reference])
        .run()
        .success()
        .stdout;
    schema::assert_valid(Kind::Manifest, raw.as_bytes());
}
