//! The Tekton catalog's conventions and this adapter's contract with the binary, checked on the
//! definitions: catalog layout and metadata, step scripts that only call the CLI with values
//! from `env` (never `$(params.x)` inside `script:`), every param, workspace and result handed
//! to `multiarch tekton …` under the names it reads, and READMEs that document them all.

use serde_json::Value;

use super::{VERSION, definition_files, document};
use crate::harness::repo_root;

/// Every Task and Pipeline with its file.
fn definitions() -> Vec<(String, Value)> {
    definition_files()
        .into_iter()
        .map(|file| {
            let doc = document(&file);
            (file, doc)
        })
        .collect()
}

fn tasks() -> Vec<(String, Value)> {
    definitions()
        .into_iter()
        .filter(|(_, doc)| doc["kind"] == "Task")
        .collect()
}

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| item["name"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn catalog_layout_and_metadata() {
    let all = definitions();
    assert!(all.iter().any(|(_, d)| d["kind"] == "Task"));
    assert!(all.iter().any(|(_, d)| d["kind"] == "Pipeline"));
    for (file, doc) in all {
        let parts: Vec<&str> = file.split('/').collect();
        let kind = doc["kind"].as_str().unwrap();
        let name = doc["metadata"]["name"].as_str().unwrap();
        assert_eq!(
            parts,
            [
                "tekton",
                &kind.to_lowercase(),
                name,
                VERSION,
                &format!("{name}.yaml")
            ],
            "{file}: the catalog layout is KIND/NAME/VERSION/NAME.yaml"
        );
        let dir = repo_root().join(file.rsplit_once('/').unwrap().0);
        assert!(dir.join("README.md").is_file(), "{file}: no README.md");
        assert!(
            std::fs::read_dir(dir.join("samples")).is_ok_and(|mut d| d.next().is_some()),
            "{file}: no samples/"
        );
        assert_eq!(
            doc["metadata"]["labels"]["app.kubernetes.io/version"], VERSION,
            "{file}"
        );
        let annotations = &doc["metadata"]["annotations"];
        for key in [
            "tekton.dev/pipelines.minVersion",
            "tekton.dev/categories",
            "tekton.dev/tags",
            "tekton.dev/displayName",
            "tekton.dev/platforms",
        ] {
            assert!(
                annotations[key].as_str().is_some_and(|v| !v.is_empty()),
                "{file}: annotation {key} missing"
            );
        }
        // Matrix results ($(tasks.build.results.RECORD[*])) need v0.53; the v1 API v0.44.
        let expected = if kind == "Pipeline" {
            "0.53.0"
        } else {
            "0.44.0"
        };
        assert_eq!(
            annotations["tekton.dev/pipelines.minVersion"], expected,
            "{file}"
        );
        assert!(
            doc["spec"]["description"]
                .as_str()
                .is_some_and(|d| d.len() > 40),
            "{file}: describe it"
        );
    }
}

#[test]
fn steps_only_call_the_cli_with_values_from_env() {
    for (file, task) in tasks() {
        let name = task["metadata"]["name"].as_str().unwrap();
        let verb = name.strip_prefix("multiarch-").unwrap();
        let steps = task["spec"]["steps"].as_array().unwrap();
        assert_eq!(steps.len(), 1, "{file}: one step");
        let step = &steps[0];
        assert_eq!(step["image"], "$(params.MULTIARCH_IMAGE)", "{file}");
        assert_eq!(
            step["script"],
            format!("#!/bin/sh\nexec multiarch tekton {verb} \"$@\"\n"),
            "{file}: the script only calls the CLI"
        );
        let security = &step["securityContext"];
        assert_eq!(security["allowPrivilegeEscalation"], false, "{file}");
        assert_ne!(security["privileged"], true, "{file}");
        for (i, param) in task["spec"]["params"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            assert!(
                param["description"].as_str().is_some_and(|d| !d.is_empty()),
                "{file}: params[{i}] has no description"
            );
        }
    }
}

#[test]
fn every_param_workspace_and_result_reaches_the_binary_by_its_name() {
    for (file, task) in tasks() {
        let spec = &task["spec"];
        let step = &spec["steps"][0];
        let env: Vec<(String, String)> = step["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["name"].as_str().unwrap().to_owned(),
                    e["value"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let mut expected: Vec<(String, String)> = Vec::new();
        let mut expected_args: Vec<String> = Vec::new();
        for param in spec["params"].as_array().unwrap() {
            let name = param["name"].as_str().unwrap();
            if name == "MULTIARCH_IMAGE" {
                continue; // the step image
            }
            if param["type"] == "array" {
                expected_args.push(format!("--{}", name.to_lowercase().replace('_', "-")));
                expected_args.push(format!("$(params.{name}[*])"));
            } else {
                expected.push((name.to_owned(), format!("$(params.{name})")));
            }
        }
        for workspace in spec["workspaces"].as_array().unwrap() {
            let name = workspace["name"].as_str().unwrap();
            let upper = name.to_uppercase();
            if workspace["optional"] == true {
                expected.push((
                    format!("WORKSPACE_{upper}_BOUND"),
                    format!("$(workspaces.{name}.bound)"),
                ));
            }
            expected.push((
                format!("WORKSPACE_{upper}_PATH"),
                format!("$(workspaces.{name}.path)"),
            ));
        }
        for result in names(&spec["results"]) {
            expected.push((
                format!("RESULT_{result}"),
                format!("$(results.{result}.path)"),
            ));
        }
        expected.push(("HOME".to_owned(), "/tekton/home".to_owned()));
        let mut sorted_env = env.clone();
        sorted_env.sort();
        expected.sort();
        assert_eq!(sorted_env, expected, "{file}: the step's env");
        let args: Vec<String> = step["args"]
            .as_array()
            .map(|a| a.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default();
        assert_eq!(args, expected_args, "{file}: the step's args");
    }
}

#[test]
fn readmes_document_every_param_workspace_and_result() {
    for (file, doc) in definitions() {
        let readme_path = file.rsplit_once('/').unwrap().0.to_owned() + "/README.md";
        let readme = std::fs::read_to_string(repo_root().join(&readme_path)).unwrap();
        let spec = &doc["spec"];
        for section in ["params", "workspaces", "results"] {
            for name in names(&spec[section]) {
                assert!(
                    readme.contains(&format!("| `{name}` |")),
                    "{readme_path}: no table row for the {section} entry `{name}`"
                );
            }
        }
    }
}

#[test]
fn defaults_agree_between_the_tasks_and_the_pipeline() {
    let pipeline = document(&super::pipeline_file("multiarch"));
    let version = env!("CARGO_PKG_VERSION");
    let mut checked = 0;
    for (file, task) in tasks() {
        for param in task["spec"]["params"].as_array().unwrap() {
            let name = param["name"].as_str().unwrap();
            if name == "MULTIARCH_IMAGE" {
                assert_eq!(
                    param["default"],
                    format!("ghcr.io/multiarch-dev/multiarch:{version}"),
                    "{file}: the step image is this release's"
                );
            }
            let Some(mirror) = pipeline["spec"]["params"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == name)
            else {
                continue;
            };
            assert_eq!(
                mirror["default"], param["default"],
                "the Pipeline's default for {name} differs from {file}'s"
            );
            assert_eq!(mirror["type"], param["type"], "the type of {name}");
            checked += 1;
        }
    }
    assert!(checked >= 6, "only {checked} defaults compared");
}
