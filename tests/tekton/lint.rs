//! tekton-lint (npm `@ibm/tekton-lint`, which `scripts/test` installs) over every Task, Pipeline
//! and sample, with the repository's `.tektonlintrc.yaml`: any finding, error or warning, fails
//! the test with the tool's report. A missing tool fails the test too.

use std::ffi::OsString;

use crate::github::{require, tools_path};
use crate::harness::{Output, repo_root, tool};

/// `PATH` with the workflow tools and the npm tools that `scripts/test` installs.
fn path() -> OsString {
    let mut dirs = vec![repo_root().join("target/ci-tools/node/node_modules/.bin")];
    dirs.extend(std::env::split_paths(&tools_path()));
    std::env::join_paths(dirs).expect("PATH")
}

/// Runs tekton-lint on `files` from `dir`, reporting as JSON.
fn tekton_lint(dir: &std::path::Path, files: &[String]) -> (Output, Vec<serde_json::Value>) {
    let path = path();
    let program = require("tekton-lint", &path);
    let mut args = vec!["--format", "json", "--color", "false"];
    args.extend(files.iter().map(String::as_str));
    let output = tool(program.to_str().unwrap(), &args)
        .env("PATH", &path)
        .current_dir(dir)
        .run();
    let findings = serde_json::from_str(output.stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "tekton-lint did not print a JSON report ({e}):\n{}\n{}",
            output.stdout, output.stderr
        )
    });
    (output, findings)
}

/// The param names the Tasks and Pipeline are specified with (the catalog's image-build names,
/// which users already pass): `prefer-kebab-case` findings on these, and only these, are let
/// through.
const SPECIFIED_NAMES: &[&str] = &[
    "IMAGE",
    "CONTEXT",
    "DOCKERFILE",
    "PLATFORM",
    "PLATFORMS",
    "BUILD_ARGS",
    "ENGINE",
    "TLSVERIFY",
    "TAGS",
    "RECORDS",
    "EXPECT_PLATFORMS",
    "ANNOTATIONS",
    "ALLOW_MISSING",
    "MULTIARCH_IMAGE",
    "IMAGE_DIGEST",
    "IMAGE_URL",
    "IMAGE_REF",
    "RECORD",
    "MISSING_PLATFORMS",
];

/// Whether a finding is `prefer-kebab-case` about one of [`SPECIFIED_NAMES`]
/// (`Invalid name for 'BUILD_ARGS[*]' at …`).
fn is_specified_name(finding: &serde_json::Value) -> bool {
    finding["rule"] == "prefer-kebab-case"
        && finding["message"]
            .as_str()
            .and_then(|m| m.strip_prefix("Invalid name for '"))
            .and_then(|rest| rest.split('\'').next())
            .is_some_and(|name| SPECIFIED_NAMES.contains(&name.trim_end_matches("[*]")))
}

#[test]
fn tekton_lint_finds_nothing() {
    let (output, mut findings) = tekton_lint(&repo_root(), &super::yaml_files());
    findings.retain(|finding| !is_specified_name(finding));
    assert!(
        findings.is_empty() && output.code == 0,
        "tekton-lint reported (exit code {}):\n{}\n{}",
        output.code,
        serde_json::to_string_pretty(&findings).unwrap(),
        output.stderr
    );
}

#[test]
fn tekton_lint_is_awake() {
    // The same files and settings plus one Task with an undefined param: the linter must see it,
    // or the test above proves nothing.
    let dir = crate::harness::tempdir();
    std::fs::copy(
        repo_root().join(".tektonlintrc.yaml"),
        dir.path().join(".tektonlintrc.yaml"),
    )
    .unwrap();
    let mut files = Vec::new();
    for (i, file) in super::yaml_files().iter().enumerate() {
        let name = format!("{i}.yaml");
        std::fs::copy(repo_root().join(file), dir.path().join(&name)).unwrap();
        files.push(name);
    }
    std::fs::write(
        dir.path().join("broken.yaml"),
        "apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: broken\nspec:\n  steps:\n    - name: s\n      image: busybox:1.37\n      env:\n        - name: X\n          value: $(params.missing)\n      script: |\n        #!/bin/sh\n        echo \"$X\"\n",
    )
    .unwrap();
    files.push("broken.yaml".to_owned());
    let (_, findings) = tekton_lint(dir.path(), &files);
    let rules: Vec<&str> = findings
        .iter()
        .filter(|finding| !is_specified_name(finding))
        .filter_map(|finding| finding["rule"].as_str())
        .collect();
    assert_eq!(rules, ["no-undefined-param"], "{findings:#?}");
    // The kebab-case rule is on: it reports the specified names, which alone are let through.
    assert!(
        findings
            .iter()
            .any(|f| f["rule"] == "prefer-kebab-case" && is_specified_name(f)),
        "{findings:#?}"
    );
}
