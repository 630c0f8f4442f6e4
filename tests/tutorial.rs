//! The tutorial this project grew from, end to end: per-architecture tags (`amd64-latest`,
//! `s390x-latest`, …) stitched into `latest`, and the same with buildah as the judge.

use serde_json::Value;

use crate::harness::buildah::Buildah;
use crate::harness::{Registry, multiarch, registry_index};

/// (platform, digest) pairs of an index, sorted.
fn entries(index: &Value) -> Vec<(String, String)> {
    let mut entries: Vec<(String, String)> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let p = &m["platform"];
            (
                format!(
                    "{}/{}",
                    p["os"].as_str().unwrap(),
                    p["architecture"].as_str().unwrap()
                ),
                m["digest"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    entries.sort();
    entries
}

#[test]
fn per_arch_tags_stitched_into_latest() {
    let registry = Registry::start();
    let repo = registry.at("thinklab/go-hello-world");
    let buildah = Buildah::new();
    let arches = ["amd64", "s390x", "arm64", "ppc64le"];
    let mut digests = Vec::new();
    for arch in arches {
        digests
            .push(buildah.hello_image(&format!("linux/{arch}"), &format!("{repo}:{arch}-latest")));
    }

    // multiarch: one command, checked against the expected platforms.
    let mut args = vec![
        "manifest".to_owned(),
        "push".to_owned(),
        "--tag".to_owned(),
        format!("{repo}:latest"),
        "--expect-platforms".to_owned(),
        arches
            .iter()
            .map(|a| format!("linux/{a}"))
            .collect::<Vec<_>>()
            .join(","),
    ];
    args.extend(arches.iter().map(|a| format!("{repo}:{a}-latest")));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    multiarch(&args).run().success();
    let ours = registry_index(&format!("{repo}:latest"));

    // The tutorial's way: buildah manifest create, add each, push --all.
    buildah.run(&["manifest", "create", "go-hello-world"]);
    for arch in arches {
        buildah.run(&[
            "manifest",
            "add",
            "--tls-verify=false",
            "go-hello-world",
            &format!("docker://{repo}:{arch}-latest"),
        ]);
    }
    buildah.run(&[
        "manifest",
        "push",
        "--all",
        "--tls-verify=false",
        "go-hello-world",
        &format!("docker://{repo}:buildah"),
    ]);
    let theirs = registry_index(&format!("{repo}:buildah"));
    assert_eq!(
        entries(&ours),
        entries(&theirs),
        "the same children under the same platforms as buildah's"
    );
    for digest in &digests {
        assert!(
            entries(&ours).iter().any(|(_, d)| d == digest),
            "{digest} missing"
        );
    }

    // The tutorial's --amend: add another architecture to `latest` later.
    buildah.hello_image("linux/arm/v7", &format!("{repo}:arm-latest"));
    multiarch(&[
        "manifest",
        "push",
        "--append",
        "--tag",
        &format!("{repo}:latest"),
        &format!("{repo}:arm-latest"),
    ])
    .run()
    .success();
    let amended = registry_index(&format!("{repo}:latest"));
    assert_eq!(amended["manifests"].as_array().unwrap().len(), 5);
    assert!(
        amended["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["platform"]["variant"] == "v7")
    );
}
