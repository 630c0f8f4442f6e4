//! The action and the workflows, checked by the tools GitHub users check theirs with: actionlint
//! (with shellcheck on every `run:`), zizmor (template injection, unpinned actions, credentials,
//! permissions) and check-jsonschema (the published schemas for workflows and actions). Any
//! finding fails the test with the tool's report. A missing tool fails the test too.

use super::{require, tools_path};
use crate::harness::{repo_root, tool};

/// The workflow files, relative to the repository root, sorted: this repository's own, and the
/// examples that users copy into theirs.
fn workflows() -> Vec<String> {
    let own = yaml_files(".github/workflows");
    assert!(!own.is_empty(), "no workflows in .github/workflows");
    let mut files = own;
    files.extend(yaml_files("examples/github"));
    files
}

fn yaml_files(dir: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(repo_root().join(dir)) else {
        return Vec::new();
    };
    let mut files: Vec<String> = entries
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".yml") || name.ends_with(".yaml"))
        .map(|name| format!("{dir}/{name}"))
        .collect();
    files.sort();
    files
}

/// The action definition at the repository root (`uses: multiarch-dev/multiarch@v1`).
fn action() -> Vec<String> {
    ["action.yml"]
        .into_iter()
        .filter(|name| repo_root().join(name).is_file())
        .map(str::to_owned)
        .collect()
}

/// Runs `program` from the repository root with the workflow tools on PATH.
fn lint(program: &str, args: &[String]) -> crate::harness::Output {
    let path = tools_path();
    let found = require(program, &path);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    tool(found.to_str().unwrap(), &args)
        .env("PATH", &path)
        .current_dir(&repo_root())
        .run()
}

#[test]
fn actionlint_and_shellcheck_find_nothing() {
    // Without shellcheck, actionlint silently skips the shell in `run:`.
    require("shellcheck", &tools_path());
    let mut args = vec!["-no-color".to_owned()];
    args.extend(workflows());
    let output = lint("actionlint", &args).success();
    assert_eq!(output.stdout, "", "actionlint reported:\n{}", output.stdout);
}

#[test]
fn zizmor_finds_nothing() {
    let mut args: Vec<String> = ["--offline", "--no-progress", "--color", "never"]
        .map(str::to_owned)
        .to_vec();
    // The repository's zizmor policy, for the examples too (zizmor finds it by itself only for
    // files under .github/).
    if repo_root().join(".github/zizmor.yml").is_file() {
        args.extend(["--config".to_owned(), ".github/zizmor.yml".to_owned()]);
    }
    args.extend(action());
    args.extend(workflows());
    let output = lint("zizmor", &args).success();
    assert!(
        output.stdout.contains("No findings to report"),
        "zizmor reported:\n{}",
        output.stdout
    );
}

#[test]
fn workflows_and_the_action_match_their_schemas() {
    for (schema, files) in [
        ("vendor.github-workflows", workflows()),
        ("vendor.github-actions", action()),
    ] {
        if files.is_empty() {
            continue;
        }
        let mut args = vec!["--builtin-schema".to_owned(), schema.to_owned()];
        args.extend(files);
        lint("check-jsonschema", &args).success();
    }
}

#[test]
fn shellcheck_finds_nothing_in_the_install_script() {
    // The one shell script that runs on users' runners (POSIX sh: also dash and busybox).
    let args = ["--shell=sh", "action/install.sh"].map(str::to_owned);
    let output = lint("shellcheck", &args).success();
    assert_eq!(output.stdout, "", "shellcheck reported:\n{}", output.stdout);
}
