//! The Tasks on their own, run by the runner against a loopback registry: the build Task pushes
//! by digest and hands over a record that fits a Tekton result, its params reach the build
//! whole, the dockerconfig workspace carries the credentials, and the manifest Task refuses an
//! index that misses an expected platform, naming it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::runner::{Param, Runner, TaskRunOutcome};
use crate::harness::registry::{Options, PASSWORD, USER};
use crate::harness::{Registry, base64, repo_root, skopeo_raw, tempdir, tool};

pub fn params(entries: &[(&str, Param)]) -> BTreeMap<String, Param> {
    entries
        .iter()
        .map(|(name, value)| ((*name).to_owned(), value.clone()))
        .collect()
}

pub fn s(value: &str) -> Param {
    Param::string(value)
}

/// A copy of `examples/build`, as a source workspace.
pub fn example_source() -> tempfile::TempDir {
    let dir = tempdir();
    crate::harness::copy_tree(&repo_root().join("examples/build"), dir.path());
    dir
}

pub fn workspaces(entries: &[(&str, &Path)]) -> BTreeMap<String, PathBuf> {
    entries
        .iter()
        .map(|(name, path)| ((*name).to_owned(), path.to_path_buf()))
        .collect()
}

/// This machine's platform in OCI's words, what a TaskRun without PLATFORM builds.
fn host_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// The record of a build TaskRun, checked: under 1 KiB, JSON, schema multiarch.record.v1, and
/// agreeing with the other results.
pub fn checked_record(outcome: &TaskRunOutcome, image: &str) -> serde_json::Value {
    let results = &outcome.results;
    let record = results
        .get("RECORD")
        .unwrap_or_else(|| panic!("no RECORD result; the TaskRun said:\n{}", outcome.log));
    assert!(
        record.len() < 1024,
        "RECORD takes {} bytes:\n{record}",
        record.len()
    );
    assert!(!record.contains('\n'), "RECORD is compact JSON: {record}");
    let parsed: serde_json::Value = serde_json::from_str(record)
        .unwrap_or_else(|e| panic!("RECORD is not JSON ({e}): {record}"));
    assert_eq!(parsed["schema"], "multiarch.record.v1", "{record}");
    let digest = parsed["digest"].as_str().unwrap();
    assert_eq!(results["IMAGE_DIGEST"], digest);
    assert_eq!(results["IMAGE_URL"], image);
    assert_eq!(results["IMAGE_REF"], format!("{image}@{digest}"));
    parsed
}

#[test]
fn build_pushes_by_digest_and_its_record_fits_a_result() {
    let registry = Registry::start();
    let image = registry.at("tekton/build");
    let source = example_source();
    let runner = Runner::new();
    let outcome = runner
        .run_task_named(
            "build-arm64",
            "multiarch-build",
            params(&[
                ("IMAGE", s(&image)),
                ("PLATFORM", s("linux/arm64")),
                ("TLSVERIFY", s("false")),
            ]),
            workspaces(&[("source", source.path())]),
        )
        .unwrap_or_else(|failure| panic!("{failure}"));
    let record = checked_record(&outcome, &image);
    assert_eq!(record["platform"]["architecture"], "arm64");
    assert_eq!(record["platform"]["os"], "linux");

    // The manifest is in the registry under its digest, and no tag was written.
    let digest = record["digest"].as_str().unwrap();
    let raw = skopeo_raw(&format!("{image}@{digest}"));
    assert_eq!(crate::harness::fixtures::sha256(raw.as_bytes()), digest);
    let tag_writes: Vec<_> = registry
        .writes_since(0)
        .into_iter()
        .filter(|r| r.path.contains("/manifests/") && !r.path.contains("/manifests/sha256:"))
        .collect();
    assert!(tag_writes.is_empty(), "a tag was written: {tag_writes:?}");
}

#[test]
fn build_defaults_to_the_nodes_platform_and_takes_its_params_whole() {
    let registry = Registry::start();
    let image = registry.at("tekton/params");
    let source = tempdir();
    let app = source.path().join("app");
    std::fs::create_dir_all(app.join("files")).unwrap();
    std::fs::write(app.join("files/hello.txt"), "hello\n").unwrap();
    std::fs::write(
        app.join("Containerfile"),
        "FROM scratch\nARG GREETING\nARG EMPTY\nLABEL greeting=\"${GREETING}\" empty=\"${EMPTY}\"\nCOPY files/hello.txt /hello.txt\n",
    )
    .unwrap();
    let greeting = "hello, \"quoted\" world; $HOME stays literal";
    let outcome = Runner::new()
        .run_task_named(
            "build-params",
            "multiarch-build",
            params(&[
                ("IMAGE", s(&image)),
                ("CONTEXT", s("app")),
                ("DOCKERFILE", s("app/Containerfile")),
                (
                    "BUILD_ARGS",
                    Param::array(&[format!("GREETING={greeting}"), "EMPTY=".to_owned()]),
                ),
                ("TLSVERIFY", s("false")),
            ]),
            workspaces(&[("source", source.path())]),
        )
        .unwrap_or_else(|failure| panic!("{failure}"));
    let record = checked_record(&outcome, &image);
    assert_eq!(record["platform"]["architecture"], host_architecture());

    let digest = record["digest"].as_str().unwrap();
    let config = tool(
        "skopeo",
        &[
            "inspect",
            "--config",
            "--tls-verify=false",
            &format!("docker://{image}@{digest}"),
        ],
    )
    .run()
    .success()
    .stdout;
    let config: serde_json::Value = serde_json::from_str(&config).unwrap();
    let labels = &config["config"]["Labels"];
    assert_eq!(labels["greeting"], greeting, "{config:#}");
    assert_eq!(labels["empty"], "", "{config:#}");
}

#[test]
fn credentials_come_from_the_dockerconfig_workspace() {
    let registry = Registry::start_with(Options {
        auth: true,
        ..Options::default()
    });
    let image = registry.at("tekton/private");
    let source = example_source();
    let runner = Runner::new();
    let build = |name: &str, dockerconfig: Option<&Path>| {
        let mut bound = workspaces(&[("source", source.path())]);
        if let Some(dir) = dockerconfig {
            bound.insert("dockerconfig".to_owned(), dir.to_path_buf());
        }
        runner.run_task_named(
            name,
            "multiarch-build",
            params(&[
                ("IMAGE", s(&image)),
                ("PLATFORM", s("linux/amd64")),
                ("TLSVERIFY", s("false")),
            ]),
            bound,
        )
    };

    let refused = build("without-credentials", None).expect_err("pushed without credentials");
    assert!(
        refused.message.contains("step build exited") && refused.stderr.contains("401"),
        "{refused}"
    );

    // A Secret of type kubernetes.io/dockerconfigjson, as Kubernetes mounts it.
    let secret = tempdir();
    let auth = base64(format!("{USER}:{PASSWORD}").as_bytes());
    std::fs::write(
        secret.path().join(".dockerconfigjson"),
        format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, registry.host),
    )
    .unwrap();
    let outcome = build("with-credentials", Some(secret.path()))
        .unwrap_or_else(|failure| panic!("{failure}"));
    checked_record(&outcome, &image);
}

#[test]
fn manifest_refuses_an_index_without_an_expected_platform() {
    let registry = Registry::start();
    let image = registry.at("tekton/partial");
    let source = example_source();
    let runner = Runner::new();
    let built = runner
        .run_task_named(
            "build-amd64",
            "multiarch-build",
            params(&[
                ("IMAGE", s(&image)),
                ("PLATFORM", s("linux/amd64")),
                ("TLSVERIFY", s("false")),
            ]),
            workspaces(&[("source", source.path())]),
        )
        .unwrap_or_else(|failure| panic!("{failure}"));
    let since = registry.requests().len();
    let refused = runner
        .run_task_named(
            "manifest",
            "multiarch-manifest",
            params(&[
                ("IMAGE", s(&image)),
                ("TAGS", Param::array(&["v1"])),
                ("RECORDS", Param::array(&[built.results["RECORD"].as_str()])),
                (
                    "EXPECT_PLATFORMS",
                    Param::array(&["linux/amd64", "linux/s390x"]),
                ),
                ("TLSVERIFY", s("false")),
            ]),
            BTreeMap::new(),
        )
        .expect_err("an index without linux/s390x was pushed");
    assert!(refused.stderr.contains("linux/s390x"), "{refused}");
    assert!(
        registry.writes_since(since).is_empty(),
        "the refused fan-in wrote to the registry: {:?}",
        registry.writes_since(since)
    );
}
