//! The Tekton adapter: the Tasks and the Pipeline in `tekton/` (catalog layout) checked against
//! Tekton's own v1 API definition and by tekton-lint, then run on this machine the way Tekton
//! would run them (a small runner, no Kubernetes here) against a loopback registry.

mod conventions;
mod lint;
mod pipeline;
mod runner;
mod schema;
mod tasks;

use std::path::{Path, PathBuf};

use serde::Deserialize as _;
use serde_json::Value;

use crate::harness::repo_root;

/// The version folder of every Task and Pipeline (`task/NAME/VERSION/NAME.yaml`).
pub const VERSION: &str = "0.1";

/// Every YAML file under `tekton/task` and `tekton/pipeline` (definitions and samples), relative
/// to the repository root, sorted.
pub fn yaml_files() -> Vec<String> {
    let mut files = Vec::new();
    for dir in ["tekton/task", "tekton/pipeline"] {
        collect(&repo_root().join(dir), &mut files);
    }
    let root = repo_root();
    let mut files: Vec<String> = files
        .into_iter()
        .map(|path| path.strip_prefix(&root).unwrap().display().to_string())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no YAML under tekton/");
    files
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, files);
        } else if path
            .extension()
            .is_some_and(|ext| ext == "yaml" || ext == "yml")
        {
            files.push(path);
        }
    }
}

/// The YAML documents of `text`, as JSON values (`what` names them in a failure).
pub fn parse_documents(text: &str, what: &str) -> Vec<Value> {
    yaml_serde::Deserializer::from_str(text)
        .enumerate()
        .map(|(i, document)| {
            let yaml = yaml_serde::Value::deserialize(document)
                .unwrap_or_else(|e| panic!("{what}: document {i} is not YAML: {e}"));
            serde_json::to_value(yaml)
                .unwrap_or_else(|e| panic!("{what}: document {i} does not map to JSON: {e}"))
        })
        .filter(|document| !document.is_null())
        .collect()
}

/// The documents of a file relative to the repository root.
pub fn documents(file: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(repo_root().join(file))
        .unwrap_or_else(|e| panic!("cannot read {file}: {e}"));
    parse_documents(&text, file)
}

/// The one document of `file`.
pub fn document(file: &str) -> Value {
    let mut documents = documents(file);
    assert_eq!(documents.len(), 1, "{file}: expected one YAML document");
    documents.remove(0)
}

/// `tekton/pipeline/NAME/VERSION/NAME.yaml`.
pub fn pipeline_file(name: &str) -> String {
    format!("tekton/pipeline/{name}/{VERSION}/{name}.yaml")
}

/// The definitions users install: every Task and Pipeline, not the samples.
pub fn definition_files() -> Vec<String> {
    yaml_files()
        .into_iter()
        .filter(|file| !file.contains("/samples/"))
        .collect()
}
