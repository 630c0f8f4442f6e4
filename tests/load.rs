//! Load: many `multiarch` processes at once against one registry, mounting and uploading the
//! same blobs at the same time, and (for builds) sharing one layer cache. Every one succeeds and
//! every tag holds what its process printed. No timing is asserted (scripts/bench-load measures).
//!
//! All processes write into one repository, under different tags. The reference registry's
//! filesystem storage rewrites a repository's link files in place, so a blob written by two
//! processes at once can briefly look missing there (HTTP 500, or a manifest PUT refused as
//! naming an unknown blob; distribution/distribution#4489): the client retries the one and takes
//! a second look at the other.

use std::path::Path;

use serde_json::Value;

use crate::harness::{Output, Registry, Run, fixtures, multiarch, skopeo_raw, tempdir, tool};

/// Runs every command at once, each from its own thread; their outputs in order.
fn all_at_once(runs: Vec<Run>) -> Vec<Output> {
    std::thread::scope(|scope| {
        let threads: Vec<_> = runs
            .into_iter()
            .map(|run| scope.spawn(move || run.run()))
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("a command's thread"))
            .collect()
    })
}

fn printed(out: Output) -> String {
    out.success().stdout_line().to_owned()
}

/// The digest of the manifest at `reference`, read by skopeo.
fn stored_digest(reference: &str) -> String {
    fixtures::sha256(skopeo_raw(reference).as_bytes())
}

#[test]
fn fifty_fan_ins_at_once() {
    let registry = Registry::start();
    let source = registry.at("load/src");
    // Two images with one layer in common, as platform-independent files give: a fan-in copies
    // that blob once for both.
    let layout = tempdir();
    let children: Vec<String> = ["linux/amd64", "linux/arm64"]
        .iter()
        .map(|platform| {
            let tag = fixtures::arch_tag(platform);
            let image = fixtures::Image {
                platform,
                files: vec![("shared.txt", b"the same on every platform\n".repeat(100))],
                labels: Vec::new(),
            };
            image.write(layout.path(), Some(&tag));
            let child = format!("{source}:{tag}");
            fixtures::push(layout.path(), &tag, &child, false);
            child
        })
        .collect();
    let targets: Vec<(String, String)> = (0..50)
        .map(|i| {
            let repo = registry.at("load/app");
            let tag = format!("{repo}:t{i}");
            (repo, tag)
        })
        .collect();
    let runs = targets
        .iter()
        .map(|(_, tag)| multiarch(&["manifest", "push", "--tag", tag, &children[0], &children[1]]))
        .collect();
    let outputs = all_at_once(runs);

    let mut digests = Vec::new();
    for ((repo, tag), out) in targets.iter().zip(outputs) {
        let line = printed(out);
        let digest = line
            .strip_prefix(&format!("{repo}@"))
            .unwrap_or_else(|| panic!("expected {repo}@DIGEST, got {line}"))
            .to_owned();
        assert_eq!(stored_digest(tag), digest, "{tag}");
        digests.push(digest);
    }
    digests.dedup();
    assert_eq!(digests.len(), 1, "the same children give one index");
    let index: Value = serde_json::from_str(&skopeo_raw(&targets[0].1)).expect("index JSON");
    assert_eq!(index["manifests"].as_array().expect("manifests").len(), 2);
}

/// A COPY-only Dockerfile whose image depends on its build argument N in a label and a layer
/// of its own; the other layer is the same for every N.
const DOCKERFILE: &str = "FROM scratch
ARG N
LABEL load.n=$N
COPY shared/ /shared/
COPY n-$N.txt /n.txt
";

fn write_context(dir: &Path, builds: usize) {
    std::fs::create_dir_all(dir.join("shared")).expect("context dir");
    std::fs::write(dir.join("Dockerfile"), DOCKERFILE).expect("Dockerfile");
    for i in 0..20 {
        std::fs::write(
            dir.join(format!("shared/file-{i}.txt")),
            format!("shared file {i}\n").repeat(500),
        )
        .expect("shared file");
    }
    for n in 0..builds {
        std::fs::write(dir.join(format!("n-{n}.txt")), format!("build {n}\n")).expect("n file");
    }
}

#[test]
fn ten_builds_at_once() {
    const BUILDS: usize = 10;
    let registry = Registry::start();
    let context = tempdir();
    write_context(context.path(), BUILDS);
    let cache = tempdir();
    let repos: Vec<String> = (0..BUILDS).map(|_| registry.at("load/build")).collect();
    let runs = (0..BUILDS)
        .map(|n| {
            let (tag, arg) = (format!("{}:{n}", repos[n]), format!("N={n}"));
            multiarch(&[
                "build",
                "--platform",
                "linux/amd64,linux/arm64",
                "--context",
                context.path().to_str().expect("utf-8 path"),
                "--build-arg",
                &arg,
                "--push",
                "--tag",
                &tag,
            ])
            .env("MULTIARCH_CACHE_DIR", cache.path())
        })
        .collect();
    let outputs = all_at_once(runs);

    let mut digests = Vec::new();
    for (n, out) in outputs.into_iter().enumerate() {
        let (repo, line) = (&repos[n], printed(out));
        let digest = line
            .strip_prefix(&format!("{repo}@"))
            .unwrap_or_else(|| panic!("expected {repo}@DIGEST, got {line}"))
            .to_owned();
        let tag = format!("{repo}:{n}");
        assert_eq!(stored_digest(&tag), digest, "{tag}");
        let index: Value = serde_json::from_str(&skopeo_raw(&tag)).expect("index JSON");
        let platforms: Vec<&str> = index["manifests"]
            .as_array()
            .expect("manifests")
            .iter()
            .map(|m| {
                m["platform"]["architecture"]
                    .as_str()
                    .expect("architecture")
            })
            .collect();
        assert_eq!(platforms, ["amd64", "arm64"], "{tag}");
        // Each image's config carries its own N, read back by skopeo.
        for platform in ["amd64", "arm64"] {
            let config = tool(
                "skopeo",
                &[
                    "inspect",
                    "--tls-verify=false",
                    "--override-arch",
                    platform,
                    &format!("docker://{tag}"),
                ],
            )
            .run()
            .success()
            .stdout;
            let config: Value = serde_json::from_str(&config).expect("inspect JSON");
            assert_eq!(
                config["Labels"]["load.n"],
                n.to_string(),
                "{tag} {platform}"
            );
        }
        digests.push(digest);
    }
    digests.sort();
    digests.dedup();
    assert_eq!(
        digests.len(),
        BUILDS,
        "each build argument gives its own index"
    );
}
