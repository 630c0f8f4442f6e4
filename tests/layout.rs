//! OCI image layouts as sources and targets, and many writers on one layout.

use crate::harness::schema::{self, Kind};
use crate::harness::{Registry, fixtures, multiarch, oci, tempdir, tool};

/// The tags in a layout's index.json, sorted.
fn layout_tags(layout: &std::path::Path) -> Vec<String> {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let mut tags: Vec<String> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            m["annotations"]["org.opencontainers.image.ref.name"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    tags.sort();
    tags
}

#[test]
fn layouts_and_registries_feed_each_other() {
    let registry = Registry::start();
    let dir = tempdir();
    let a = dir.path().join("a");
    for platform in ["linux/amd64", "linux/arm64"] {
        fixtures::Image::hello(platform).write(&a, Some(&fixtures::arch_tag(platform)));
    }
    // Layout to layout, with records.
    let records = dir.path().join("records");
    for tag in ["amd64-latest", "arm64-latest"] {
        multiarch(&["record", &oci(&a, tag), "--out", records.to_str().unwrap()])
            .run()
            .success();
    }
    let b = dir.path().join("b");
    multiarch(&[
        "manifest",
        "push",
        "--tag",
        &oci(&b, "v1"),
        "--records",
        records.to_str().unwrap(),
        "--expect-platforms",
        "linux/amd64,linux/arm64",
    ])
    .run()
    .success();
    schema::assert_valid(Kind::Layout, &std::fs::read(b.join("oci-layout")).unwrap());
    schema::assert_valid(Kind::Index, &std::fs::read(b.join("index.json")).unwrap());
    let raw = tool("skopeo", &["inspect", "--raw", &oci(&b, "v1")])
        .run()
        .success();
    schema::assert_valid(Kind::Index, raw.stdout.as_bytes());

    // Layout index to registry, then registry to another layout: same digest all the way.
    let out = multiarch(&[
        "manifest",
        "push",
        "--tag",
        &registry.at("app:v1"),
        &oci(&b, "v1"),
    ])
    .run()
    .success();
    let digest = out.stdout_line().rsplit('@').next().unwrap().to_owned();
    let c = dir.path().join("c");
    let out = multiarch(&[
        "manifest",
        "push",
        "--tag",
        &oci(&c, "copy"),
        &registry.at("app:v1"),
    ])
    .run()
    .success();
    assert!(
        out.stdout_line().ends_with(&digest),
        "{} vs {digest}",
        out.stdout
    );
    tool(
        "skopeo",
        &[
            "copy",
            "--override-arch",
            "arm64",
            &oci(&c, "copy"),
            &oci(&dir.path().join("d"), "x"),
        ],
    )
    .run()
    .success();
}

#[test]
fn concurrent_fan_ins_into_one_layout_keep_every_tag() {
    let dir = tempdir();
    let source = dir.path().join("src");
    for platform in ["linux/amd64", "linux/arm64"] {
        fixtures::Image::hello(platform).write(&source, Some(&fixtures::arch_tag(platform)));
    }
    let target = dir.path().join("shared");
    let sources = [oci(&source, "amd64-latest"), oci(&source, "arm64-latest")];
    let children: Vec<_> = (0..6)
        .map(|i| {
            let (tag, a, b) = (
                oci(&target, &format!("t{i}")),
                sources[0].clone(),
                sources[1].clone(),
            );
            std::thread::spawn(move || {
                multiarch(&["manifest", "push", "--tag", &tag, &a, &b]).run()
            })
        })
        .collect();
    for child in children {
        child.join().unwrap().success();
    }
    let tags = layout_tags(&target);
    assert_eq!(
        tags,
        ["t0", "t1", "t2", "t3", "t4", "t5"],
        "no writer lost another's tag"
    );
}

#[test]
fn a_foreign_directory_is_never_written_into() {
    let dir = tempdir();
    let source = dir.path().join("src");
    fixtures::Image::hello("linux/amd64").write(&source, Some("amd64"));
    let precious = dir.path().join("home");
    std::fs::create_dir_all(&precious).unwrap();
    std::fs::write(precious.join("notes.txt"), "keep me").unwrap();
    multiarch(&[
        "manifest",
        "push",
        "--tag",
        &oci(&precious, "v1"),
        &oci(&source, "amd64"),
    ])
    .run()
    .failure(1, "refusing to write");
    let entries: Vec<_> = std::fs::read_dir(&precious).unwrap().collect();
    assert_eq!(entries.len(), 1, "nothing was added");
}

#[test]
fn a_layout_without_a_tag_means_latest_when_written() {
    let dir = tempdir();
    let source = dir.path().join("src");
    fixtures::Image::hello("linux/amd64").write(&source, Some("amd64"));
    fixtures::Image::hello("linux/arm64").write(&source, Some("arm64"));
    let out = dir.path().join("out");
    // --append to a layout that does not exist yet starts it.
    multiarch(&[
        "manifest",
        "push",
        "--append",
        "--tag",
        &oci(&out, "v1"),
        &oci(&source, "amd64"),
    ])
    .run()
    .success();
    // `oci:DIR` alone reads the only image of a one-image layout, but writes `latest`.
    let untagged = format!("oci:{}", out.display());
    multiarch(&["inspect", &untagged]).run().success();
    multiarch(&[
        "manifest",
        "push",
        "--append",
        "--tag",
        &untagged,
        &oci(&source, "arm64"),
    ])
    .run()
    .success();
    let tags = layout_tags(&out);
    assert_eq!(tags, ["latest", "v1"]);
    let latest = multiarch(&["inspect", "--format", "json", &oci(&out, "latest")])
        .run()
        .success();
    let report: serde_json::Value = serde_json::from_str(&latest.stdout).unwrap();
    assert_eq!(
        report["manifests"].as_array().unwrap().len(),
        1,
        "latest was started afresh, not merged into v1"
    );
}
