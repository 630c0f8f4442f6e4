//! Every component checked by check-jsonschema against GitLab's published CI schema
//! (`--builtin-schema vendor.gitlab-ci`, shipped inside the PyPI wheel), document by document as
//! GitLab reads a component: the `spec:` header alone (the schema knows `spec`), and the jobs once
//! their inputs are interpolated, with the defaults and with every input set. The jobs are not
//! checked as written: `parallel: matrix: $[[ inputs.runner-tags ]]` and `needs: $[[ inputs.needs
//! ]]` are arrays only after interpolation, which the schema does not model. Any finding fails
//! the test with the tool's report; a missing tool fails it too.

use std::path::Path;

use serde_json::{Map, Value, json};

use super::{components, interpolated_jobs, split};
use crate::github::{require, tools_path};
use crate::harness::{Output, tempdir, tool};

/// check-jsonschema with GitLab's schema on `files`.
fn check(files: &[String]) -> Output {
    let path = tools_path();
    let program = require("check-jsonschema", &path);
    let mut args = vec!["--builtin-schema", "vendor.gitlab-ci"];
    args.extend(files.iter().map(String::as_str));
    tool(program.to_str().unwrap(), &args)
        .env("PATH", &path)
        .run()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

/// Inputs that change every default (and give the required ones), per component.
fn every_input_set(component: &str) -> Map<String, Value> {
    let common = json!({
        "image": "registry.example/org/app",
        "context": "app",
        "dockerfile": "app/Containerfile",
        "build-args": ["VERSION=$CI_COMMIT_TAG", "A=b c"],
        "engine": "buildah",
        "push": false,
        "allow-missing": true,
        "stage": "image",
        "job-image": "ghcr.io/multiarch-dev/multiarch-buildah:0.1.0",
        "platforms": ["linux/amd64", "linux/s390x"],
        "tags": ["1.2.3", "stable"],
        "annotations": ["org.opencontainers.image.vendor=Example"],
    });
    let specific = match component {
        "multiarch" => json!({
            "runner-tags": [
                {"MULTIARCH_PLATFORM": "linux/amd64", "MULTIARCH_RUNNER_TAG": "x86-64"},
                {"MULTIARCH_PLATFORM": "linux/s390x", "MULTIARCH_RUNNER_TAG": "s390x"},
            ],
            "job-prefix": "app",
        }),
        "build" => json!({
            "platform": "linux/s390x",
            "runner-tag": "s390x",
            "job-name": "build-s390x",
        }),
        "merge" => json!({
            "needs": ["build-amd64", "build-s390x"],
            "job-name": "merge-app",
        }),
        other => panic!("no inputs written for the component {other}"),
    };
    let names = super::inputs(component);
    let mut given = Map::new();
    for (name, value) in common
        .as_object()
        .unwrap()
        .iter()
        .chain(specific.as_object().unwrap())
    {
        if names.contains_key(name) {
            given.insert(name.clone(), value.clone());
        }
    }
    assert_eq!(
        given.len(),
        names.len(),
        "{component}: every input set once (missing: {:?})",
        names
            .keys()
            .filter(|n| !given.contains_key(*n))
            .collect::<Vec<_>>()
    );
    given
}

/// The inputs the components require (no default), for the run with defaults.
fn required_only(component: &str) -> Map<String, Value> {
    let every = every_input_set(component);
    super::inputs(component)
        .iter()
        .filter(|(_, input)| input.get("default").is_none())
        .map(|(name, _)| (name.clone(), every[name].clone()))
        .collect()
}

#[test]
fn spec_headers_match_the_gitlab_ci_schema() {
    let dir = tempdir();
    let files: Vec<String> = components()
        .iter()
        .map(|component| {
            let (spec, _) = split(component);
            write(dir.path(), &format!("{component}.spec.yml"), &spec)
        })
        .collect();
    check(&files).success();
}

#[test]
fn interpolated_jobs_match_the_gitlab_ci_schema() {
    let dir = tempdir();
    let mut files = Vec::new();
    for component in components() {
        for (label, given) in [
            ("defaults", required_only(&component)),
            ("every-input", every_input_set(&component)),
        ] {
            let jobs = interpolated_jobs(&component, &given);
            files.push(write(
                dir.path(),
                &format!("{component}.{label}.json"),
                &serde_json::to_string_pretty(&jobs).unwrap(),
            ));
        }
    }
    check(&files).success();
}

#[test]
fn the_schema_check_is_awake() {
    // The same check on a job whose matrix was left as a string must fail: otherwise the tests
    // above prove nothing.
    let dir = tempdir();
    let broken = write(
        dir.path(),
        "broken.yml",
        "build:\n  script: [multiarch gitlab build]\n  parallel:\n    matrix: \"$[[ inputs.runner-tags ]]\"\n",
    );
    let output = check(&[broken]);
    assert_ne!(output.code, 0, "{output:?}");
    assert!(output.stdout.contains("parallel"), "{output:?}");
}
