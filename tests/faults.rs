//! Registry faults: pushes through a proxy that fails a share of the requests (error statuses,
//! connections dropped mid-body) still succeed with the digests of a clean run; when the tries
//! run out, the command gives up, says so, and changes no tag; `--max-connections` bounds the
//! requests in flight.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::harness::faults::{Config, Fault, FaultProxy};
use crate::harness::{
    Output, Registry, Run, fixtures, multiarch, repo_root, skopeo_copy_all, skopeo_raw, tempdir,
    tool,
};

/// Generous tries with short waits: at a 30% fault rate, eleven faults in a row are a one in
/// half a million chance per request.
const RETRY: [&str; 4] = ["--retries", "10", "--retry-delay", "10"];

/// Few tries, short waits, a short bound: for runs that must give up.
const GIVE_UP: [&str; 6] = [
    "--retries",
    "3",
    "--retry-delay",
    "10",
    "--retry-max-time",
    "5",
];

fn context() -> PathBuf {
    repo_root().join("examples/build")
}

/// `multiarch ARGS…` with each retry's debug line on stderr.
fn with_debug(args: &[&str]) -> Run {
    multiarch(args).env("RUST_LOG", "multiarch_core=debug")
}

/// `build --push` of examples/build for two platforms to `tag`, then `extra`, with a cache of its
/// own in `cache`.
fn build_push(tag: &str, cache: &Path, extra: &[&str]) -> Run {
    let context = context();
    let mut args = vec![
        "build",
        "--platform",
        "linux/amd64,linux/arm64",
        "--context",
        context.to_str().expect("utf-8 path"),
        "--push",
        "--tag",
        tag,
    ];
    args.extend_from_slice(extra);
    with_debug(&args).env("MULTIARCH_CACHE_DIR", cache)
}

/// The digest in the `REPO@DIGEST` line the command printed for `repo`.
#[track_caller]
fn printed_digest(out: &Output, repo: &str) -> String {
    let prefix = format!("{repo}@");
    out.stdout
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {prefix}sha256:… line on stdout:\n{}", out.stdout))
        .trim()
        .to_owned()
}

/// The digest of the manifest at `reference`, read from the registry itself.
fn stored_digest(reference: &str) -> String {
    fixtures::sha256(skopeo_raw(reference).as_bytes())
}

/// The tags of `repo` (`HOST/REPO`), read from the registry itself.
fn tags(repo: &str) -> Vec<String> {
    let out = tool(
        "skopeo",
        &[
            "list-tags",
            "--tls-verify=false",
            &format!("docker://{repo}"),
        ],
    )
    .run()
    .success();
    let listed: Value = serde_json::from_str(&out.stdout).expect("tag list JSON");
    let mut tags: Vec<String> = listed["Tags"]
        .as_array()
        .expect("Tags")
        .iter()
        .map(|t| t.as_str().expect("tag").to_owned())
        .collect();
    tags.sort();
    tags
}

/// Every blob of the index at `reference` can be read back whole (skopeo checks each digest).
fn assert_complete(reference: &str) {
    let layout = tempdir();
    skopeo_copy_all(reference, layout.path(), "copy");
}

#[track_caller]
fn assert_faults_were_retried(proxy: &FaultProxy, stderr: &str) {
    assert!(
        proxy.faults_total() > 0,
        "no fault was injected: {}",
        proxy.report()
    );
    assert!(
        stderr.contains("retrying"),
        "{} faults injected ({}) but no `retrying` in the debug log:\n{stderr}",
        proxy.faults_total(),
        proxy.report()
    );
}

#[test]
fn build_push_through_faults_gives_the_digests_of_a_clean_run() {
    let clean = Registry::start();
    let faulty = Registry::start();
    let proxy = FaultProxy::start(&faulty.host, Config::all(0.3, 11));
    let clean_out = build_push(&clean.at("site:1"), tempdir().path(), &[])
        .run()
        .success();
    let expected = printed_digest(&clean_out, &clean.at("site"));

    let out = build_push(&proxy.at("site:1"), tempdir().path(), &RETRY)
        .run()
        .success();
    assert_eq!(
        printed_digest(&out, &proxy.at("site")),
        expected,
        "{}",
        proxy.report()
    );
    assert_faults_were_retried(&proxy, &out.stderr);
    // What the registry holds, read without the proxy: the same index, every blob whole.
    assert_eq!(
        skopeo_raw(&faulty.at("site:1")),
        skopeo_raw(&clean.at("site:1"))
    );
    assert_complete(&faulty.at("site:1"));
}

#[test]
fn records_and_fan_in_through_faults_give_the_digests_of_a_clean_run() {
    let registry = Registry::start();
    let proxy = FaultProxy::start(&registry.host, Config::all(0.3, 12));
    let platforms = ["linux/amd64", "linux/arm64", "linux/arm/v7"];
    let images = fixtures::push_hello_images(&registry.at("builds/app"), &platforms);

    let (clean_records, faulty_records) = (tempdir(), tempdir());
    let mut stderr = String::new();
    for image in &images {
        multiarch(&[
            "record",
            &format!("{}@{}", registry.at("builds/app"), image.digest),
            "--out",
            clean_records.path().to_str().unwrap(),
        ])
        .run()
        .success();
        let source = format!("{}@{}", proxy.at("builds/app"), image.digest);
        let mut args = vec![
            "record",
            &source,
            "--out",
            faulty_records.path().to_str().unwrap(),
        ];
        args.extend(RETRY);
        stderr += &with_debug(&args).run().success().stderr;
    }
    for platform in platforms {
        let name = format!("{}.json", platform.replace('/', "-"));
        let read = |dir: &Path| -> Value {
            serde_json::from_slice(&std::fs::read(dir.join(&name)).expect("a record"))
                .expect("record JSON")
        };
        let (clean, faulty) = (read(clean_records.path()), read(faulty_records.path()));
        for field in ["digest", "size", "platform", "mediaType"] {
            assert_eq!(clean[field], faulty[field], "{name}: {field}");
        }
    }

    let clean_out = multiarch(&[
        "manifest",
        "push",
        "--tag",
        &registry.at("clean/app:1"),
        "--records",
        clean_records.path().to_str().unwrap(),
    ])
    .run()
    .success();
    let expected = printed_digest(&clean_out, &registry.at("clean/app"));

    // Into another repository, so the children's blobs are mounted or copied through the faults.
    let targets = [proxy.at("release/app:1"), proxy.at("release/app:latest")];
    let mut args = vec![
        "manifest",
        "push",
        "--tag",
        &targets[0],
        "--tag",
        &targets[1],
        "--records",
        faulty_records.path().to_str().unwrap(),
        "--expect-platforms",
        "linux/amd64,linux/arm64,linux/arm/v7",
    ];
    args.extend(RETRY);
    let out = with_debug(&args).run().success();
    stderr += &out.stderr;
    assert_eq!(
        printed_digest(&out, &proxy.at("release/app")),
        expected,
        "{}",
        proxy.report()
    );
    assert_faults_were_retried(&proxy, &stderr);
    for tag in ["1", "latest"] {
        assert_eq!(
            stored_digest(&registry.at(&format!("release/app:{tag}"))),
            expected
        );
    }
    assert_complete(&registry.at("release/app:1"));
}

#[test]
fn when_the_tries_run_out_it_gives_up_and_changes_no_tag() {
    let registry = Registry::start();
    let repo = registry.at("app");
    fixtures::push_hello_images(&repo, &["linux/amd64", "linux/arm64"]);
    // An existing tag that a failed push must leave alone.
    multiarch(&[
        "manifest",
        "push",
        "--tag",
        &format!("{repo}:1"),
        &format!("{repo}:amd64-latest"),
    ])
    .run()
    .success();
    let (tags_before, digest_before) = (tags(&repo), stored_digest(&format!("{repo}:1")));
    let seen_before = registry.requests().len();

    let proxy = FaultProxy::start(
        &registry.host,
        Config {
            faults: vec![Fault::Status503],
            ..Config::all(1.0, 13)
        },
    );
    let expect_gave_up = |out: Output| {
        let out = out.failure(1, "gave up");
        for needle in [proxy.host.as_str(), "503"] {
            assert!(
                out.stderr.contains(needle),
                "expected stderr to name {needle:?}:\n{}",
                out.stderr
            );
        }
    };
    let through = [
        proxy.at("app:1"),
        proxy.at("app:2"),
        proxy.at("app:amd64-latest"),
        proxy.at("app:arm64-latest"),
    ];
    let mut args = vec![
        "manifest",
        "push",
        "--tag",
        &through[0],
        "--tag",
        &through[1],
        &through[2],
        &through[3],
    ];
    args.extend(GIVE_UP);
    expect_gave_up(multiarch(&args).run());
    expect_gave_up(build_push(&proxy.at("app:1"), tempdir().path(), &GIVE_UP).run());

    assert!(proxy.faults(Fault::Status503) > 0, "{}", proxy.report());
    assert_eq!(
        registry.requests().len(),
        seen_before,
        "no request got past the proxy"
    );
    assert_eq!(tags(&repo), tags_before);
    assert_eq!(stored_digest(&format!("{repo}:1")), digest_before);
}

#[test]
fn retries_are_the_tries_after_the_first() {
    let registry = Registry::start();
    fixtures::push_hello_images(&registry.at("app"), &["linux/amd64"]);
    for (retries, tries) in [("0", 1), ("3", 4)] {
        let proxy = FaultProxy::start(
            &registry.host,
            Config {
                faults: vec![Fault::Status502],
                ..Config::all(1.0, 14)
            },
        );
        multiarch(&[
            "inspect",
            "--retries",
            retries,
            "--retry-delay",
            "10",
            &proxy.at("app:amd64-latest"),
        ])
        .run()
        .failure(1, "gave up");
        // The tries of the manifest request, and the one /v2/ check that found the host.
        assert_eq!(
            proxy.requests(),
            tries + 1,
            "--retries {retries}: {}",
            proxy.report()
        );
    }
}

#[test]
fn max_connections_bounds_the_requests_in_flight() {
    let registry = Registry::start();
    let repo = registry.at("builds/app");
    let platforms = ["linux/amd64", "linux/arm64", "linux/s390x", "linux/ppc64le"];
    fixtures::push_hello_images(&repo, &platforms);
    let sources: Vec<String> = platforms
        .iter()
        .map(|p| format!("{repo}:{}", fixtures::arch_tag(p)))
        .collect();
    // Each request held 100 ms, so requests sent together are seen together.
    let slow = || {
        FaultProxy::start(
            &registry.host,
            Config {
                latency: std::time::Duration::from_millis(100),
                ..Config::none()
            },
        )
    };
    let fan_in = |proxy: &FaultProxy, tag: &str, extra: &[&str]| {
        let through: Vec<String> = sources
            .iter()
            .map(|s| s.replacen(&registry.host, &proxy.host, 1))
            .collect();
        let target = proxy.at(&format!("release/app:{tag}"));
        let mut args = vec!["manifest", "push", "--tag", &target];
        args.extend(through.iter().map(String::as_str));
        args.extend_from_slice(extra);
        multiarch(&args).run().success();
    };

    // Unbounded, the fan-in checks its children in parallel: otherwise the bound below would
    // prove nothing.
    let free = slow();
    fan_in(&free, "free", &[]);
    assert!(free.peak_in_flight() > 2, "{}", free.report());

    let bounded = slow();
    fan_in(&bounded, "bounded", &["--max-connections", "2"]);
    build_push(
        &bounded.at("site:bounded"),
        tempdir().path(),
        &["--max-connections", "2"],
    )
    .run()
    .success();
    assert!(bounded.requests() > 0);
    assert!(bounded.peak_in_flight() <= 2, "{}", bounded.report());
}
