//! The reusable workflow, end to end under act: a repository whose workflow is the README's
//! ten-line caller runs plan → one build job per platform → merge on this machine, offline,
//! through `scripts/act`, and pushes to the loopback registry. The pushed index is then read
//! back with skopeo.

use std::path::Path;

use crate::harness::{Registry, commit_all, copy_tree, repo_root, tempdir, tool};

/// A git repository holding the build example and the example workflow; its commit.
fn caller_repository(dir: &Path) -> String {
    copy_tree(&repo_root().join("examples/build"), dir);
    let workflows = dir.join(".github/workflows");
    std::fs::create_dir_all(&workflows).unwrap();
    std::fs::copy(
        repo_root().join("examples/github/image.yml"),
        workflows.join("image.yml"),
    )
    .unwrap();
    commit_all(dir)
}

/// act's event: a push to the default branch, as GitHub describes it.
fn push_event(dir: &Path) -> std::path::PathBuf {
    let event = serde_json::json!({
        "ref": "refs/heads/main",
        "repository": {
            "name": "app",
            "full_name": "org/app",
            "default_branch": "main",
            "description": "An example app",
            "license": { "spdx_id": "Apache-2.0" }
        },
        "head_commit": { "timestamp": "2026-11-28T10:00:00Z" }
    });
    let path = dir.join("event.json");
    std::fs::write(&path, event.to_string()).unwrap();
    path
}

#[test]
fn the_reusable_workflow_builds_on_each_runner_and_merges_under_act() {
    let registry = Registry::start();
    let work = tempdir();
    let repo = work.path().join("app");
    std::fs::create_dir_all(&repo).unwrap();
    let sha = caller_repository(&repo);
    let event = push_event(work.path());
    let image = registry.at("org/app");

    // The binary under test first on PATH: the action's installer takes it (same version).
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_multiarch")).parent().unwrap();
    let tools = super::tools_path();
    super::require("act", &tools);
    let mut dirs = vec![bin_dir.to_owned()];
    dirs.extend(std::env::split_paths(&tools));
    let path = std::env::join_paths(dirs).unwrap();
    let home = work.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let output = tool(
        repo_root().join("scripts/act").to_str().unwrap(),
        &[
            "push",
            "-W",
            ".github/workflows/image.yml",
            "-e",
            event.to_str().unwrap(),
            "--var",
            &format!("IMAGE={image}"),
        ],
    )
    .current_dir(&repo)
    .env("PATH", &path)
    // act keeps its caches (and the action's local hand-off) under HOME.
    .env("HOME", &home)
    .run();
    let output = output.success();
    let log = format!("{}{}", output.stdout, output.stderr);
    assert!(
        log.contains("Success - Main multiarch-dev/multiarch@v1"),
        "{log}"
    );

    // The index: both platforms, tagged as the automatic rules say for the default branch.
    for tag in [
        "main".to_owned(),
        "latest".to_owned(),
        format!("sha-{}", &sha[..7]),
    ] {
        let raw = tool(
            "skopeo",
            &[
                "inspect",
                "--raw",
                "--tls-verify=false",
                &format!("docker://{image}:{tag}"),
            ],
        )
        .run()
        .success()
        .stdout;
        let index: serde_json::Value = serde_json::from_str(&raw).unwrap();
        let platforms: Vec<String> = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                format!(
                    "{}/{}",
                    m["platform"]["os"].as_str().unwrap(),
                    m["platform"]["architecture"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(platforms, ["linux/amd64", "linux/arm64"], "{tag}: {raw}");
        let annotations = &index["annotations"];
        assert_eq!(
            annotations["org.opencontainers.image.revision"],
            sha.trim(),
            "{raw}"
        );
        assert_eq!(
            annotations["org.opencontainers.image.licenses"],
            "Apache-2.0"
        );
        assert_eq!(
            annotations["org.opencontainers.image.created"],
            "2026-11-28T10:00:00Z"
        );
    }

    // Each image carries the OCI labels from the context.
    let config = tool(
        "skopeo",
        &[
            "inspect",
            "--config",
            "--tls-verify=false",
            "--override-arch",
            "arm64",
            &format!("docker://{image}:main"),
        ],
    )
    .run()
    .success()
    .stdout;
    let config: serde_json::Value = serde_json::from_str(&config).unwrap();
    assert_eq!(config["architecture"], "arm64");
    assert_eq!(
        config["config"]["Labels"]["org.opencontainers.image.description"],
        "An example app"
    );
}
