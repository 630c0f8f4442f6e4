//! The Pipeline end to end, run by the runner against a loopback registry: a matrix of build
//! TaskRuns (one per platform, each pushing by digest), then the fan-in over their collected
//! RECORD results; the pushed index is read back by skopeo. Also the samples users copy: the
//! PipelineRun of the matrix Pipeline, and the placed-legs variant.

use super::runner::{Param, PipelineRun, Runner};
use super::tasks::{example_source, params, s, workspaces};
use crate::harness::{Registry, registry_index, skopeo_raw};

/// The architectures of the index at `reference`, checked against the OCI schema, and its raw
/// bytes' digest.
fn index_at(reference: &str) -> (Vec<String>, String) {
    let index = registry_index(reference);
    let architectures = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            assert_eq!(m["platform"]["os"], "linux", "{index:#}");
            m["platform"]["architecture"].as_str().unwrap().to_owned()
        })
        .collect();
    (
        architectures,
        crate::harness::fixtures::sha256(skopeo_raw(reference).as_bytes()),
    )
}

#[test]
fn the_pipeline_builds_each_platform_and_stitches_one_index() {
    let registry = Registry::start();
    let image = registry.at("tekton/app");
    let source = example_source();
    let runner = Runner::new();
    let outcome = runner
        .run_pipeline(
            runner.pipeline("multiarch"),
            PipelineRun {
                name: "app".to_owned(),
                params: params(&[
                    ("IMAGE", s(&image)),
                    (
                        "PLATFORMS",
                        Param::array(&["amd64", "linux/arm64", "s390x"]),
                    ),
                    ("TAGS", Param::array(&["v1", "latest"])),
                    ("TLSVERIFY", s("false")),
                ]),
                workspaces: workspaces(&[("source", source.path())]),
            },
        )
        .unwrap_or_else(|failure| panic!("{failure}"));

    // One build TaskRun per platform, then one fan-in.
    let tasks: Vec<&str> = outcome.task_runs.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(tasks, ["build", "build", "build", "manifest"]);
    for (_, run) in &outcome.task_runs[..3] {
        super::tasks::checked_record(run, &image);
    }

    let (architectures, digest) = index_at(&format!("{image}:v1"));
    assert_eq!(architectures, ["amd64", "arm64", "s390x"]);
    assert_eq!(
        outcome.results["IMAGE_DIGEST"],
        Param::string(digest.clone())
    );
    assert_eq!(
        outcome.results["IMAGE_URL"],
        Param::string(format!("{image}:v1"))
    );
    let (_, latest) = index_at(&format!("{image}:latest"));
    assert_eq!(latest, digest, ":latest is the same index");
}

#[test]
fn the_sample_pipeline_run_runs() {
    let registry = Registry::start();
    let image = registry.at("tekton/sample");
    let source = example_source();
    let dockerconfig = crate::harness::tempdir();
    std::fs::write(dockerconfig.path().join("config.json"), r#"{"auths":{}}"#).unwrap();
    let runner = Runner::new();
    let sample = super::document("tekton/pipeline/multiarch/0.1/samples/pipelinerun.yaml");
    let outcome = runner
        .run_pipeline_run(
            &sample,
            "sample",
            params(&[("IMAGE", s(&image)), ("TLSVERIFY", s("false"))]),
            workspaces(&[
                ("source", source.path()),
                ("dockerconfig", dockerconfig.path()),
            ]),
        )
        .unwrap_or_else(|failure| panic!("{failure}"));
    let (architectures, digest) = index_at(&format!("{image}:1.2.3"));
    assert_eq!(architectures, ["amd64", "arm64", "s390x"]);
    assert_eq!(outcome.results["IMAGE_DIGEST"], Param::string(digest));
}

#[test]
fn the_placed_legs_sample_runs() {
    let registry = Registry::start();
    let image = registry.at("tekton/placed");
    let source = example_source();
    let dockerconfig = crate::harness::tempdir();
    std::fs::write(dockerconfig.path().join("config.json"), r#"{"auths":{}}"#).unwrap();
    let runner = Runner::new();
    let sample =
        super::document("tekton/pipeline/multiarch/0.1/samples/pipelinerun-placed-legs.yaml");
    // The sample's TLSVERIFY is the default; this registry speaks plain HTTP on loopback, which
    // multiarch allows for loopback hosts.
    let outcome = runner
        .run_pipeline_run(
            &sample,
            "placed",
            params(&[("IMAGE", s(&image)), ("ENGINE", s("native"))]),
            workspaces(&[
                ("source", source.path()),
                ("dockerconfig", dockerconfig.path()),
            ]),
        )
        .unwrap_or_else(|failure| panic!("{failure}"));
    let (architectures, digest) = index_at(&format!("{image}:latest"));
    assert_eq!(architectures, ["amd64", "arm64"]);
    assert_eq!(outcome.results["IMAGE_DIGEST"], Param::string(digest));
}

#[test]
fn a_failing_leg_fails_the_pipeline_before_the_fan_in() {
    let registry = Registry::start();
    let image = registry.at("tekton/broken");
    let source = example_source();
    // riscv64 builds; the bogus platform does not parse: its leg fails and nothing is tagged.
    let runner = Runner::new();
    let failure = runner
        .run_pipeline(
            runner.pipeline("multiarch"),
            PipelineRun {
                name: "broken".to_owned(),
                params: params(&[
                    ("IMAGE", s(&image)),
                    ("PLATFORMS", Param::array(&["linux/riscv64", "linux/"])),
                    ("TLSVERIFY", s("false")),
                ]),
                workspaces: workspaces(&[("source", source.path())]),
            },
        )
        .expect_err("a pipeline with a broken leg succeeded");
    assert_eq!(failure.pipeline_task, "build");
    assert!(
        failure.failure.stderr.contains("PLATFORM") && failure.failure.stderr.contains("linux/"),
        "{failure}"
    );
    let tags: Vec<_> = registry
        .writes_since(0)
        .into_iter()
        .filter(|r| r.path.contains("/manifests/") && !r.path.contains("/manifests/sha256:"))
        .collect();
    assert!(tags.is_empty(), "a tag was written: {tags:?}");
}
