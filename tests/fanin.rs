//! `multiarch manifest push`: the fan-in, against real registries.

use std::path::Path;

use serde_json::Value;

use crate::harness::schema::{self, Kind};
use crate::harness::{
    Registry, fixtures, multiarch, registry_index, skopeo_copy_all, skopeo_raw, tempdir, tool,
};

fn platforms(index: &Value) -> Vec<String> {
    index["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .filter(|m| m["platform"]["os"] != "unknown")
        .map(|m| {
            let p = &m["platform"];
            let mut s = format!(
                "{}/{}",
                p["os"].as_str().unwrap(),
                p["architecture"].as_str().unwrap()
            );
            if let Some(v) = p["variant"].as_str() {
                s.push('/');
                s.push_str(v);
            }
            s
        })
        .collect()
}

fn push(args: &[&str]) -> String {
    let mut all = vec!["manifest", "push"];
    all.extend_from_slice(args);
    multiarch(&all).run().success().stdout_line().to_owned()
}

/// Writes the record of each image (in `repo`, by digest) into `dir`.
fn record_all(repo: &str, images: &[&fixtures::Written], dir: &Path) {
    for image in images {
        multiarch(&[
            "record",
            &format!("{repo}@{}", image.digest),
            "--out",
            dir.to_str().unwrap(),
        ])
        .run()
        .success();
    }
}

/// Fails if the registry logged a manifest PUT by tag (publishing an index) after the first
/// `since` requests; children pushed by digest do not count.
#[track_caller]
fn assert_nothing_tagged(registry: &Registry, since: usize) {
    let tagged: Vec<_> = registry
        .writes_since(since)
        .into_iter()
        .filter(|r| {
            r.method == "PUT"
                && r.path.contains("/manifests/")
                && !r.path.contains("/manifests/sha256:")
        })
        .collect();
    assert!(tagged.is_empty(), "a tag was written: {tagged:?}");
}

#[test]
fn records_from_build_legs_become_one_index() {
    let registry = Registry::start();
    let repo = registry.at("team/app");
    let images = fixtures::push_hello_images(
        &repo,
        &["linux/amd64", "linux/arm64", "linux/arm/v7", "linux/s390x"],
    );
    let records = tempdir();
    for image in &images {
        let out = multiarch(&[
            "record",
            &format!("{repo}@{}", image.digest),
            "--out",
            records.path().to_str().unwrap(),
        ])
        .run()
        .success();
        let path = out.stdout_line();
        let bytes = std::fs::read(path).unwrap();
        schema::assert_project_schema("record.v1.json", &bytes);
    }
    let names: Vec<String> = {
        let mut n: Vec<_> = std::fs::read_dir(records.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        n.sort();
        n
    };
    assert_eq!(
        names,
        [
            "linux-amd64.json",
            "linux-arm-v7.json",
            "linux-arm64.json",
            "linux-s390x.json"
        ]
    );

    let pushed = push(&[
        "--tag",
        &format!("{repo}:1.0"),
        "--tag",
        &format!("{repo}:latest"),
        "--records",
        records.path().to_str().unwrap(),
        "--expect-platforms",
        "linux/amd64,linux/arm64,linux/arm/v7,linux/s390x",
        "--annotation",
        "org.opencontainers.image.source=https://example.test/app",
    ]);
    let index = registry_index(&format!("{repo}:latest"));
    let digest = pushed
        .strip_prefix(&format!("{repo}@"))
        .expect("stdout is REPO@DIGEST");
    let again = registry_index(&format!("{repo}@{digest}"));
    assert_eq!(
        index, again,
        "both tags and the printed digest are the same index"
    );
    assert_eq!(index["mediaType"], fixtures::OCI_INDEX);
    assert_eq!(
        platforms(&index),
        ["linux/amd64", "linux/arm/v7", "linux/arm64", "linux/s390x"]
    );
    assert_eq!(
        index["annotations"]["org.opencontainers.image.source"],
        "https://example.test/app"
    );
    for (entry, image) in index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .zip(sorted(&images))
    {
        assert_eq!(entry["digest"], image.digest);
        assert_eq!(entry["size"], image.size);
    }
}

fn sorted(images: &[fixtures::Written]) -> Vec<fixtures::Written> {
    let mut images = images.to_vec();
    // The index orders by os, architecture, variant: the same order as the platform strings.
    images.sort_by_key(|w| w.platform.clone());
    images
}

#[test]
fn the_same_children_give_the_same_digest_and_tags_are_not_rewritten() {
    let registry = Registry::start();
    let repo = registry.at("app");
    fixtures::push_hello_images(&repo, &["linux/amd64", "linux/arm64", "linux/ppc64le"]);
    let tag = format!("{repo}:latest");
    let a = push(&[
        "--tag",
        &tag,
        &format!("{repo}:amd64-latest"),
        &format!("{repo}:arm64-latest"),
        &format!("{repo}:ppc64le-latest"),
    ]);
    let before = registry.requests().len();
    let b = push(&[
        "--tag",
        &tag,
        &format!("{repo}:ppc64le-latest"),
        &format!("{repo}:amd64-latest"),
        &format!("{repo}:arm64-latest"),
    ]);
    assert_eq!(a, b, "order of sources does not change the index");
    let requests = registry.requests_since(before);
    assert!(
        !requests.iter().any(|r| r.method == "PUT"),
        "a tag that already holds the index is not rewritten: {requests:?}"
    );
    // About three requests per child: GET manifest, GET config (+ the tag's HEAD).
    let gets = requests.iter().filter(|r| r.method == "GET").count();
    assert_eq!(gets, 6, "{requests:?}");
}

#[test]
fn a_wrong_platform_claim_is_caught_before_anything_ships() {
    let registry = Registry::start();
    let repo = registry.at("app");
    let images = fixtures::push_hello_images(&repo, &["linux/amd64", "linux/arm64"]);
    let records = tempdir();
    for image in &images {
        multiarch(&[
            "record",
            &format!("{repo}@{}", image.digest),
            "--out",
            records.path().to_str().unwrap(),
        ])
        .run()
        .success();
    }
    // The arm64 leg ran on an amd64 runner: its record claims arm64 for the amd64 image.
    let arm_record = records.path().join("linux-arm64.json");
    let text = std::fs::read_to_string(&arm_record).unwrap();
    std::fs::write(
        &arm_record,
        text.replace(&images[1].digest, &images[0].digest),
    )
    .unwrap();
    let before = registry.requests().len();
    let out = multiarch(&[
        "manifest",
        "push",
        "--tag",
        &format!("{repo}:latest"),
        "--records",
        records.path().to_str().unwrap(),
    ])
    .run()
    .failure(
        1,
        &format!("linux/arm64 was claimed for {}", images[0].digest),
    );
    assert!(
        out.stderr.contains("its config says linux/amd64"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("linux-arm64.json"),
        "names the record: {}",
        out.stderr
    );
    assert_nothing_tagged(&registry, before);
}

#[test]
fn two_images_for_one_platform_are_refused() {
    let registry = Registry::start();
    let repo = registry.at("app");
    let layout = tempdir();
    let mut other = fixtures::Image::hello("linux/amd64");
    other.files = vec![("hello.txt", b"a different build\n".to_vec())];
    other.write(layout.path(), Some("other"));
    fixtures::push(layout.path(), "other", &format!("{repo}:other"), false);
    fixtures::push_hello_images(&repo, &["linux/amd64"]);
    multiarch(&[
        "manifest",
        "push",
        "--tag",
        &format!("{repo}:latest"),
        &format!("{repo}:amd64-latest"),
        &format!("{repo}:other"),
    ])
    .run()
    .failure(1, "two different images claim linux/amd64");
}

#[test]
fn children_in_another_repository_are_mounted_and_from_another_registry_copied() {
    let source = Registry::start();
    let target = Registry::start();
    let images =
        fixtures::push_hello_images(&source.at("builds/app"), &["linux/amd64", "linux/arm64"]);
    let sources: Vec<String> = ["amd64", "arm64"]
        .iter()
        .map(|a| source.at(&format!("builds/app:{a}-latest")))
        .collect();

    // Same registry, other repository: blobs are mounted, not uploaded.
    let before = source.requests().len();
    push(&[
        "--tag",
        &source.at("release/app:1"),
        &sources[0],
        &sources[1],
    ]);
    let requests = source.requests_since(before);
    let mounts = requests
        .iter()
        .filter(|r| r.method == "POST" && r.path.contains("mount="))
        .count();
    assert_eq!(mounts, 4, "config and layer of both images: {requests:?}");
    assert!(
        requests
            .iter()
            .filter(|r| r.path.contains("mount="))
            .all(|r| r.status == 201),
        "{requests:?}"
    );
    assert!(
        !requests
            .iter()
            .any(|r| r.method == "PATCH" || (r.method == "PUT" && r.path.contains("/blobs/"))),
        "{requests:?}"
    );

    // Another registry: copied.
    push(&[
        "--tag",
        &target.at("mirror/app:1"),
        &sources[0],
        &sources[1],
    ]);
    let index = registry_index(&target.at("mirror/app:1"));
    assert_eq!(platforms(&index), ["linux/amd64", "linux/arm64"]);
    for image in &images {
        tool(
            "skopeo",
            &[
                "inspect",
                "--tls-verify=false",
                &format!("docker://{}@{}", target.at("mirror/app"), image.digest),
            ],
        )
        .run()
        .success();
    }
    // And from there to a layout, whole.
    let copy = tempdir();
    skopeo_copy_all(&target.at("mirror/app:1"), copy.path(), "x");
}

#[test]
fn one_fan_in_publishes_to_several_repositories() {
    let registry = Registry::start();
    let repo = registry.at("app");
    fixtures::push_hello_images(&repo, &["linux/amd64", "linux/arm64"]);
    let out = multiarch(&[
        "manifest",
        "push",
        "--tag",
        &registry.at("app:2"),
        "--tag",
        &registry.at("mirror/app:2"),
        &format!("{repo}:amd64-latest"),
        &format!("{repo}:arm64-latest"),
    ])
    .run()
    .success();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    assert!(
        lines[1].starts_with(&registry.at("mirror/app@sha256:")),
        "{}",
        out.stdout
    );
    assert_eq!(
        registry_index(&registry.at("app:2")),
        registry_index(&registry.at("mirror/app:2"))
    );
}

#[test]
fn append_merges_into_the_existing_index() {
    let registry = Registry::start();
    let repo = registry.at("app");
    fixtures::push_hello_images(&repo, &["linux/amd64", "linux/arm64", "linux/s390x"]);
    let tag = format!("{repo}:latest");
    push(&[
        "--tag",
        &tag,
        "--annotation",
        "kept=yes",
        &format!("{repo}:amd64-latest"),
        &format!("{repo}:arm64-latest"),
    ]);

    // A rebuilt amd64 replaces the old one; s390x joins.
    let layout = tempdir();
    let mut rebuilt = fixtures::Image::hello("linux/amd64");
    rebuilt.files = vec![("hello.txt", b"rebuilt\n".to_vec())];
    let rebuilt = rebuilt.write(layout.path(), Some("amd64-v2"));
    fixtures::push(
        layout.path(),
        "amd64-v2",
        &format!("{repo}:amd64-v2"),
        false,
    );
    push(&[
        "--tag",
        &tag,
        "--append",
        "--expect-platforms",
        "linux/amd64,linux/arm64,linux/s390x",
        &format!("{repo}:amd64-v2"),
        &format!("{repo}:s390x-latest"),
    ]);
    let index = registry_index(&tag);
    assert_eq!(
        platforms(&index),
        ["linux/amd64", "linux/arm64", "linux/s390x"]
    );
    assert_eq!(index["manifests"][0]["digest"], rebuilt.digest);
    assert_eq!(index["annotations"]["kept"], "yes");

    // Without --append the tag is replaced.
    push(&["--tag", &tag, &format!("{repo}:s390x-latest")]);
    assert_eq!(platforms(&registry_index(&tag)), ["linux/s390x"]);
}

#[test]
fn dry_run_verifies_and_prints_but_writes_nothing() {
    let registry = Registry::start();
    let repo = registry.at("app");
    fixtures::push_hello_images(&repo, &["linux/amd64", "linux/arm64"]);
    let before = registry.requests().len();
    let out = multiarch(&[
        "manifest",
        "push",
        "--dry-run",
        "--tag",
        &registry.at("other/app:1"),
        &format!("{repo}:amd64-latest"),
        &format!("{repo}:arm64-latest"),
    ])
    .run()
    .success();
    schema::assert_valid(Kind::Index, out.stdout.trim().as_bytes());
    let index: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(platforms(&index), ["linux/amd64", "linux/arm64"]);
    let writes = registry.writes_since(before);
    assert!(writes.is_empty(), "{writes:?}");
}

#[test]
fn a_source_index_contributes_its_entries_and_attestations() {
    let registry = Registry::start();
    let repo = registry.at("app");
    let layout = tempdir();
    let amd = fixtures::Image::hello("linux/amd64").write(layout.path(), None);
    let attestation = fixtures::attestation(layout.path());
    fixtures::index(
        layout.path(),
        "amd",
        std::slice::from_ref(&amd),
        &[(attestation.clone(), &amd)],
    );
    fixtures::push(layout.path(), "amd", &format!("{repo}:amd"), true);
    fixtures::push_hello_images(&repo, &["linux/riscv64"]);
    push(&[
        "--tag",
        &format!("{repo}:latest"),
        "--expect-platforms",
        "linux/amd64,linux/riscv64",
        &format!("{repo}:amd"),
        &format!("{repo}:riscv64-latest"),
    ]);
    let index = registry_index(&format!("{repo}:latest"));
    assert_eq!(platforms(&index), ["linux/amd64", "linux/riscv64"]);
    let last = &index["manifests"][2];
    assert_eq!(
        last["digest"], attestation.digest,
        "attestations follow the images"
    );
    assert_eq!(
        last["annotations"]["vnd.docker.reference.digest"],
        amd.digest
    );
}

#[test]
fn docker_manifest_lists_for_old_registries() {
    let registry = Registry::start();
    let repo = registry.at("app");
    let layout = tempdir();
    for (platform, tag) in [("linux/amd64", "amd64"), ("linux/arm64", "arm64")] {
        fixtures::Image::hello(platform).write(layout.path(), Some(tag));
        fixtures::push_docker(layout.path(), tag, &format!("{repo}:{tag}"));
    }
    let sources = [format!("{repo}:amd64"), format!("{repo}:arm64")];
    push(&[
        "--tag",
        &format!("{repo}:list"),
        "--format",
        "docker",
        &sources[0],
        &sources[1],
    ]);
    let index = registry_index(&format!("{repo}:list"));
    assert_eq!(
        index["mediaType"],
        "application/vnd.docker.distribution.manifest.list.v2+json"
    );
    multiarch(&[
        "manifest",
        "push",
        "--tag",
        &format!("{repo}:list2"),
        "--format",
        "docker",
        "--annotation",
        "a=b",
        &sources[0],
        &sources[1],
    ])
    .run()
    .failure(1, "cannot carry annotations");
    fixtures::push_hello_images(&repo, &["linux/s390x"]);
    multiarch(&[
        "manifest",
        "push",
        "--tag",
        &format!("{repo}:list3"),
        "--format",
        "docker",
        &sources[0],
        &format!("{repo}:s390x-latest"),
    ])
    .run()
    .failure(1, "can only hold Docker schema 2 images");
}

#[test]
fn a_record_that_does_not_match_the_registry_is_refused() {
    let registry = Registry::start();
    let repo = registry.at("app");
    let images = fixtures::push_hello_images(&repo, &["linux/amd64"]);
    let records = tempdir();
    let out = multiarch(&["record", &format!("{repo}@{}", images[0].digest)])
        .run()
        .success();
    let push_records = || {
        multiarch(&[
            "manifest",
            "push",
            "--tag",
            &format!("{repo}:latest"),
            "--records",
            records.path().to_str().unwrap(),
        ])
        .run()
    };
    let wrong_size = out
        .stdout
        .replace(&format!("\"size\": {}", images[0].size), "\"size\": 7");
    std::fs::write(records.path().join("linux-amd64.json"), wrong_size).unwrap();
    push_records().failure(1, "the record says size is 7");
    let missing = out
        .stdout
        .replace(&images[0].digest, &format!("sha256:{}", "0".repeat(64)));
    std::fs::write(records.path().join("linux-amd64.json"), missing).unwrap();
    let before = registry.requests().len();
    push_records().failure(1, "was not found");
    assert_nothing_tagged(&registry, before);
}

#[test]
fn record_of_an_index_needs_out_or_platform() {
    let registry = Registry::start();
    let repo = registry.at("app");
    let layout = tempdir();
    let amd = fixtures::Image::hello("linux/amd64").write(layout.path(), None);
    let arm = fixtures::Image::hello("linux/arm64").write(layout.path(), None);
    fixtures::index(layout.path(), "v1", &[amd, arm.clone()], &[]);
    fixtures::push(layout.path(), "v1", &format!("{repo}:v1"), true);
    multiarch(&["record", &format!("{repo}:v1")])
        .run()
        .failure(2, "pass --out DIR");
    let one = multiarch(&["record", "--platform", "linux/arm64", &format!("{repo}:v1")])
        .run()
        .success();
    let record: Value = serde_json::from_str(&one.stdout).unwrap();
    assert_eq!(record["digest"], arm.digest);
    assert_eq!(record["image"], repo);
    let dir = tempdir();
    let all = multiarch(&[
        "record",
        &format!("{repo}:v1"),
        "--out",
        dir.path().to_str().unwrap(),
    ])
    .run()
    .success();
    assert_eq!(all.stdout.lines().count(), 2);
}

/// Incompressible bytes, the same every run.
fn noise(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

#[test]
fn large_layers_stream_between_registries_with_progress_lines() {
    let source = Registry::start();
    let target = Registry::start();
    let layout = tempdir();
    let mut image = fixtures::Image::hello("linux/amd64");
    image.files.push(("big.bin", noise(48 << 20)));
    image.write(layout.path(), Some("big"));
    fixtures::push(layout.path(), "big", &source.at("app:big"), false);

    let out = tool(
        "/usr/bin/time",
        &[
            "-f",
            "max-rss-kib=%M",
            env!("CARGO_BIN_EXE_multiarch"),
            "manifest",
            "push",
            "--tag",
            &target.at("app:1"),
            &source.at("app:big"),
        ],
    )
    .run()
    .success();
    assert!(
        out.stderr.contains("copying sha256:"),
        "a line when a large copy starts:\n{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("copied sha256:") && out.stderr.contains("MiB"),
        "and when it ends:\n{}",
        out.stderr
    );
    let rss_kib: u64 = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("max-rss-kib="))
        .and_then(|v| v.trim().parse().ok())
        .expect("GNU time's report");
    eprintln!("peak RSS while copying a 48 MiB layer between registries: {rss_kib} KiB");
    assert!(
        rss_kib < 40 * 1024,
        "a 48 MiB layer was held in memory: peak RSS {rss_kib} KiB"
    );
    assert_eq!(
        platforms(&registry_index(&target.at("app:1"))),
        ["linux/amd64"]
    );
}

#[test]
fn a_registry_that_answers_manifest_puts_without_location() {
    let registry = Registry::start();
    let proxy = crate::harness::proxy::Proxy::start(
        &registry.host,
        crate::harness::proxy::strip_manifest_location,
    );
    let layout = tempdir();
    for platform in ["linux/amd64", "linux/arm64"] {
        fixtures::Image::hello(platform).write(layout.path(), Some(&fixtures::arch_tag(platform)));
    }
    let sources = [
        format!("oci:{}:amd64-latest", layout.path().display()),
        format!("oci:{}:arm64-latest", layout.path().display()),
    ];
    // Children are pushed by digest, then the index by tag: neither answer has a Location.
    let out = multiarch(&[
        "manifest",
        "push",
        "--tag",
        &proxy.at("app:1"),
        &sources[0],
        &sources[1],
    ])
    .run()
    .success();
    assert!(
        out.stdout_line().starts_with(&proxy.at("app@sha256:")),
        "{}",
        out.stdout
    );
    assert_eq!(
        platforms(&registry_index(&registry.at("app:1"))),
        ["linux/amd64", "linux/arm64"]
    );
}

#[test]
fn a_child_whose_bytes_do_not_hash_to_its_digest_is_refused() {
    let registry = Registry::start();
    let repo = registry.at("app");
    let images = fixtures::push_hello_images(&repo, &["linux/amd64", "linux/arm64"]);
    let proxy = corrupting::Proxy::start(&registry.host);
    let records = tempdir();
    record_all(&repo, &images.iter().collect::<Vec<_>>(), records.path());
    // The records name the proxy, which hands out every manifest with a byte added in flight.
    for entry in std::fs::read_dir(records.path()).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace(&registry.host, &proxy.host)).unwrap();
    }
    let before = registry.requests().len();
    multiarch(&[
        "manifest",
        "push",
        "--tag",
        &proxy.at("app:latest"),
        "--records",
        records.path().to_str().unwrap(),
    ])
    .run()
    .failure(1, "does not match its digest");
    assert_nothing_tagged(&registry, before);
}

/// Unlinks `digest` from `repo` (the registry's blob DELETE): the manifests naming it stay.
fn delete_blob(registry: &Registry, repo: &str, digest: &str) {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(&registry.host).unwrap();
    write!(
        stream,
        "DELETE /v2/{repo}/blobs/{digest} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        registry.host
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(
        response.starts_with("HTTP/1.1 202"),
        "DELETE {digest}: {response}"
    );
}

#[test]
fn a_child_with_a_missing_layer_or_config_is_refused() {
    for blob in ["layer", "config"] {
        let registry = Registry::start();
        let repo = registry.at("app");
        let images = fixtures::push_hello_images(&repo, &["linux/amd64", "linux/arm64"]);
        let manifest: Value =
            serde_json::from_str(&skopeo_raw(&format!("{repo}@{}", images[1].digest))).unwrap();
        let digest = match blob {
            "layer" => manifest["layers"][0]["digest"].as_str().unwrap(),
            _ => manifest["config"]["digest"].as_str().unwrap(),
        };
        delete_blob(&registry, "app", digest);
        let records = tempdir();
        record_all(&repo, &[&images[0]], records.path());
        let before = registry.requests().len();
        let out = multiarch(&[
            "manifest",
            "push",
            "--tag",
            &format!("{repo}:latest"),
            "--records",
            records.path().to_str().unwrap(),
            &format!("{repo}@{}", images[1].digest),
        ])
        .run();
        let needle = match blob {
            "layer" => format!("layer {digest} of {} is not in", images[1].digest),
            _ => format!("{digest} was not found"),
        };
        out.failure(1, &needle);
        assert_nothing_tagged(&registry, before);
    }
}

#[test]
fn allow_missing_publishes_the_expected_platforms_that_arrived() {
    let registry = Registry::start();
    let repo = registry.at("app");
    let images = fixtures::push_hello_images(&repo, &["linux/amd64", "linux/arm64"]);
    let records = tempdir();
    record_all(&repo, &images.iter().collect::<Vec<_>>(), records.path());
    let tag = format!("{repo}:latest");
    let fan_in = |expected: &str, extra: &[&str]| {
        let mut args = vec![
            "manifest",
            "push",
            "--tag",
            &tag,
            "--records",
            records.path().to_str().unwrap(),
            "--expect-platforms",
            expected,
        ];
        args.extend_from_slice(extra);
        multiarch(&args).run()
    };

    // The s390x leg failed: without --allow-missing nothing is published.
    let before = registry.requests().len();
    fan_in("linux/amd64,linux/arm64,linux/s390x", &[]).failure(1, "missing: linux/s390x");
    assert_nothing_tagged(&registry, before);

    let out = fan_in("linux/amd64,linux/arm64,linux/s390x", &["--allow-missing"]).success();
    assert!(
        out.stderr
            .contains("warning: published without linux/s390x: its record is missing"),
        "{}",
        out.stderr
    );
    let digest = fixtures::sha256(skopeo_raw(&tag).as_bytes());
    assert_eq!(
        out.stdout,
        format!("{repo}@{digest}\n"),
        "stdout is the published reference alone"
    );
    assert_eq!(
        platforms(&registry_index(&tag)),
        ["linux/amd64", "linux/arm64"]
    );

    // A platform that was not expected stays an error.
    let before = registry.requests().len();
    fan_in("linux/amd64,linux/s390x", &["--allow-missing"]).failure(1, "not expected: linux/arm64");
    assert_nothing_tagged(&registry, before);

    // No source at all, and --allow-missing without the expected platforms: usage errors.
    multiarch(&[
        "manifest",
        "push",
        "--tag",
        &tag,
        "--expect-platforms",
        "linux/amd64",
        "--allow-missing",
    ])
    .run()
    .failure(2, "no sources given");
    multiarch(&[
        "manifest",
        "push",
        "--tag",
        &tag,
        "--records",
        records.path().to_str().unwrap(),
        "--allow-missing",
    ])
    .run()
    .failure(2, "--expect-platforms");
}

#[test]
fn two_fan_ins_racing_on_one_tag_leave_one_complete_index() {
    let registry = Registry::start();
    let repo = registry.at("app");
    let images = fixtures::push_hello_images(&repo, &["linux/amd64", "linux/arm64", "linux/s390x"]);
    let (two, three) = (tempdir(), tempdir());
    record_all(&repo, &[&images[0], &images[1]], two.path());
    record_all(&repo, &images.iter().collect::<Vec<_>>(), three.path());
    let tag = format!("{repo}:latest");
    let layout = tempdir();
    let mut printed = std::collections::BTreeSet::new();
    for round in 0..10 {
        let start = std::sync::Barrier::new(2);
        let fan_in = |records: &Path| {
            let run = multiarch(&[
                "manifest",
                "push",
                "--tag",
                &tag,
                "--records",
                records.to_str().unwrap(),
            ]);
            start.wait();
            run.run().success().stdout_line().to_owned()
        };
        let (a, b) = std::thread::scope(|scope| {
            let a = scope.spawn(|| fan_in(two.path()));
            let b = scope.spawn(|| fan_in(three.path()));
            (a.join().unwrap(), b.join().unwrap())
        });
        assert_ne!(a, b, "round {round}: two different indexes");
        let now = format!("{repo}@{}", fixtures::sha256(skopeo_raw(&tag).as_bytes()));
        assert!(
            now == a || now == b,
            "round {round}: {tag} is {now}, neither {a} nor {b}"
        );
        // The whole index can be pulled: every child, config and layer is there.
        skopeo_copy_all(&tag, layout.path(), &format!("round-{round}"));
        printed.extend([a, b]);
    }
    assert_eq!(
        printed.len(),
        2,
        "each fan-in gives the same index every round: {printed:?}"
    );
}

/// A proxy in front of a registry that adds a newline to every manifest fetched by digest: JSON
/// that still parses, but no longer hashes to the digest asked for (the harness proxy rewrites
/// headers only).
mod corrupting {
    use http_body_util::{BodyExt as _, Full};
    use hyper::body::{Bytes, Incoming};
    use hyper::server::conn::http1;
    use hyper::service::service_fn;
    use hyper::{Method, Request, Response, StatusCode, header};
    use hyper_util::client::legacy::Client;
    use hyper_util::client::legacy::connect::HttpConnector;
    use hyper_util::rt::{TokioExecutor, TokioIo};

    type BoxError = Box<dyn std::error::Error + Send + Sync>;

    pub struct Proxy {
        /// `127.0.0.1:PORT`
        pub host: String,
        _stop: tokio::sync::oneshot::Sender<()>,
    }

    impl Proxy {
        pub fn start(upstream: &str) -> Self {
            let upstream = upstream.to_owned();
            let (ready, address) = std::sync::mpsc::channel();
            let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                        .await
                        .expect("proxy port");
                    ready.send(listener.local_addr().expect("address")).unwrap();
                    let client: Client<HttpConnector, Incoming> =
                        Client::builder(TokioExecutor::new()).build_http();
                    loop {
                        let stream = tokio::select! {
                            accepted = listener.accept() => match accepted {
                                Ok((stream, _)) => stream,
                                Err(_) => continue,
                            },
                            _ = &mut stopped => return,
                        };
                        let (client, upstream) = (client.clone(), upstream.clone());
                        tokio::spawn(async move {
                            let service = service_fn(move |request| {
                                forward(client.clone(), upstream.clone(), request)
                            });
                            let _ = http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        });
                    }
                });
            });
            Proxy {
                host: address.recv().expect("proxy started").to_string(),
                _stop: stop,
            }
        }

        /// `HOST/REPO[:TAG]` through this proxy.
        pub fn at(&self, repo: &str) -> String {
            format!("{}/{repo}", self.host)
        }
    }

    async fn forward(
        client: Client<HttpConnector, Incoming>,
        upstream: String,
        request: Request<Incoming>,
    ) -> Result<Response<Full<Bytes>>, BoxError> {
        let corrupt =
            request.method() == Method::GET && request.uri().path().contains("/manifests/sha256:");
        let (mut parts, body) = request.into_parts();
        let path = parts.uri.path_and_query().map(|p| p.as_str().to_owned());
        parts.uri = format!("http://{upstream}{}", path.unwrap_or_default()).parse()?;
        let (mut parts, body) = client
            .request(Request::from_parts(parts, body))
            .await?
            .into_parts();
        let mut bytes = body.collect().await?.to_bytes().to_vec();
        if corrupt && parts.status == StatusCode::OK {
            bytes.push(b'\n');
            parts.headers.remove(header::CONTENT_LENGTH);
        }
        Ok(Response::from_parts(parts, Full::new(Bytes::from(bytes))))
    }
}
