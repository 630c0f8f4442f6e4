//! The GitLab CI adapter: the CI/CD components in `gitlab/templates` (a component project's
//! layout) checked against GitLab's published CI schema once interpolated as GitLab would, their
//! inputs and README checked against each other, and the examples run end to end by
//! gitlab-ci-local (jobs in the shell, artifacts passed between them) against a loopback
//! registry.

mod conventions;
mod pipeline;
mod schema;

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::harness::repo_root;

/// The components, `gitlab/templates/NAME.yml`, sorted by name.
pub fn components() -> Vec<String> {
    let dir = repo_root().join("gitlab/templates");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|name| name.strip_suffix(".yml").map(str::to_owned))
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no components in gitlab/templates");
    names
}

pub fn template_path(component: &str) -> PathBuf {
    repo_root().join(format!("gitlab/templates/{component}.yml"))
}

/// A template split where GitLab splits it, at its `---` line: the `spec:` header and the jobs,
/// as text.
pub fn split(component: &str) -> (String, String) {
    let path = template_path(component);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let lines: Vec<&str> = text.lines().collect();
    let separators: Vec<usize> = (0..lines.len()).filter(|&i| lines[i] == "---").collect();
    assert_eq!(
        separators.len(),
        1,
        "{component}: a component is two YAML documents, the spec header and the jobs, split by one `---` line"
    );
    let at = separators[0];
    (
        lines[..at].join("\n") + "\n",
        lines[at + 1..].join("\n") + "\n",
    )
}

/// One YAML document as JSON.
pub fn parse(text: &str, what: &str) -> Value {
    let mut documents = crate::tekton::parse_documents(text, what);
    assert_eq!(documents.len(), 1, "{what}: expected one YAML document");
    documents.remove(0)
}

/// The `spec:inputs` of a component.
pub fn inputs(component: &str) -> Map<String, Value> {
    let (spec, _) = split(component);
    parse(&spec, component)["spec"]["inputs"]
        .as_object()
        .unwrap_or_else(|| panic!("{component}: no spec:inputs"))
        .clone()
}

/// The jobs of a component as GitLab sees them once `given` inputs (and the defaults of the
/// others) are interpolated.
pub fn interpolated_jobs(component: &str, given: &Map<String, Value>) -> Value {
    let spec = inputs(component);
    for name in given.keys() {
        assert!(
            spec.contains_key(name),
            "{component}: no input named {name}"
        );
    }
    let mut values = Map::new();
    for (name, input) in &spec {
        let value = given
            .get(name)
            .or_else(|| input.get("default"))
            .unwrap_or_else(|| panic!("{component}: input {name} is required"))
            .clone();
        values.insert(name.clone(), value);
    }
    let (_, jobs) = split(component);
    interpolate(&parse(&jobs, component), &values)
}

const BLOCK_START: &str = "$[[";

/// GitLab's interpolation of `$[[ inputs.NAME ]]`, as `Gitlab::Ci::Config::Interpolation::Template`
/// does it, in keys and values: a string that is one block and nothing else becomes the input's
/// value with its type (an array stays an array, a boolean a boolean); a block inside a longer
/// string is replaced by the value as text (an array as its JSON, which is what GitLab's Ruby
/// `Array#to_s` writes for strings of plain characters).
pub fn interpolate(value: &Value, inputs: &Map<String, Value>) -> Value {
    match value {
        Value::String(text) => interpolate_string(text, inputs),
        Value::Array(items) => {
            Value::Array(items.iter().map(|item| interpolate(item, inputs)).collect())
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, item)| {
                    let key = match interpolate_string(key, inputs) {
                        Value::String(key) => key,
                        other => panic!("a key interpolated to {other}"),
                    };
                    (key, interpolate(item, inputs))
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

fn interpolate_string(text: &str, inputs: &Map<String, Value>) -> Value {
    let Some(start) = text.find(BLOCK_START) else {
        return Value::String(text.to_owned());
    };
    let end = start
        + text[start..]
            .find("]]")
            .unwrap_or_else(|| panic!("unterminated block in {text:?}"))
        + 2;
    let name = block_input(&text[start..end]);
    let value = inputs
        .get(name)
        .unwrap_or_else(|| panic!("unknown input {name} in {text:?}"));
    if start == 0 && end == text.len() {
        return value.clone();
    }
    let as_text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    // GitLab replaces one block per string; a second block would stay as written.
    assert!(
        !text[end..].contains(BLOCK_START) && !text[..start].contains(BLOCK_START),
        "two interpolation blocks in one string, GitLab interpolates only the first: {text:?}"
    );
    Value::String(format!("{}{as_text}{}", &text[..start], &text[end..]))
}

/// `inputs.NAME` of a `$[[ inputs.NAME ]]` block (without functions).
pub fn block_input(block: &str) -> &str {
    let inner = block
        .trim_start_matches(BLOCK_START)
        .trim_end_matches("]]")
        .trim();
    assert!(
        !inner.contains('|'),
        "interpolation functions are not used in these templates: {block}"
    );
    inner
        .strip_prefix("inputs.")
        .unwrap_or_else(|| panic!("only inputs are interpolated: {block}"))
}

/// Every `$[[ … ]]` block in `text`.
pub fn blocks(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BLOCK_START) {
        let end = start + rest[start..].find("]]").expect("terminated block") + 2;
        found.push(&rest[start..end]);
        rest = &rest[end..];
    }
    found
}

/// `PATH` with gitlab-ci-local and the Node 22 it runs on (npm `gitlab-ci-local` and
/// `node-linux-*`, which `scripts/test` installs into `target/ci-tools/gitlab`) first, then
/// `first` (the binary under test), then the workflow tools and the machine's own.
pub fn gitlab_path(first: &Path) -> std::ffi::OsString {
    let mut dirs = vec![
        repo_root().join("target/ci-tools/gitlab/node_modules/.bin"),
        first.to_owned(),
    ];
    dirs.extend(std::env::split_paths(&crate::github::tools_path()));
    std::env::join_paths(dirs).expect("PATH")
}
