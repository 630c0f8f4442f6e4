//! Every Tekton document in `tekton/` (Tasks, Pipeline, samples, and the full documents in the
//! READMEs) checked against Tekton's own v1 API definition, `pipeline-v1-swagger.json` (see its
//! SOURCE note): an unknown field is an error with its path, as Tekton's admission webhook would
//! reject it, and every value must have its field's type (string, boolean, integer, number,
//! array, object), following `$ref`s.
//!
//! Two quirks of that file are handled here:
//! - `v1.TaskRef` and `v1.PipelineRef` also take the fields of `v1.ResolverRef` (`resolver`,
//!   `params`), which Go embeds inline and the file leaves out.
//! - Kubernetes core types are referenced but not defined. The ones Task and Pipeline authors
//!   write are checked against the hand-written field lists in [`kubernetes`] (`ObjectMeta`,
//!   `EnvVar`, `SecurityContext`, `PodSecurityContext`, `ResourceRequirements`, `Toleration`,
//!   `VolumeMount`, the workspace volume sources, …); the others (`Affinity`, `Volume`, `Probe`,
//!   `Lifecycle`, status types, …) are listed in [`OPAQUE`] and accepted without descending. A
//!   `$ref` in neither list is an error, so a new one gets noticed.
//!
//! `v1.ParamValue` (a param's `value` and `default`, a result's `value`) is a string, an array
//! of strings or an object of strings, whatever the file says about its Go fields.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::{Value, json};

use crate::harness::repo_root;

/// Kubernetes types referenced by the v1 API and accepted as they are.
const OPAQUE: &[&str] = &[
    "v1.Affinity",
    "v1.Volume",
    "v1.VolumeDevice",
    "v1.EnvFromSource",
    "v1.ContainerPort",
    "v1.Probe",
    "v1.Lifecycle",
    "v1.HostAlias",
    "v1.PodDNSConfig",
    "v1.TopologySpreadConstraint",
    "v1.CSIVolumeSource",
    "v1.ProjectedVolumeSource",
    "v1.ContainerStateRunning",
    "v1.ContainerStateTerminated",
    "v1.ContainerStateWaiting",
    "v1.ListMeta",
    "v1.Time",
    "knative.Condition",
    "k8s.io.apimachinery.pkg.runtime.RawExtension",
    "github.com.tektoncd.pipeline.pkg.apis.config.FeatureFlags",
    "github.com.tektoncd.pipeline.pkg.apis.run.v1beta1.CustomRunStatus",
];

/// The hand-written Kubernetes types, as schemas in the file's own dialect. `x-quantity` is a
/// Kubernetes quantity (`100m`, `64Mi`, or a bare number).
fn kubernetes() -> BTreeMap<&'static str, Value> {
    let string = json!({"type": "string"});
    let boolean = json!({"type": "boolean"});
    let integer = json!({"type": "integer"});
    let strings = json!({"type": "array", "items": {"type": "string"}});
    let string_map = json!({"type": "object", "additionalProperties": {"type": "string"}});
    let quantity = json!({"x-quantity": true});
    let quantities = json!({"type": "object", "additionalProperties": quantity});
    let profile = json!({"type": "object", "properties": {
        "type": string, "localhostProfile": string}});
    BTreeMap::from([
        (
            "v1.ObjectMeta",
            json!({"type": "object", "properties": {
                "name": string, "generateName": string, "namespace": string,
                "labels": string_map, "annotations": string_map}}),
        ),
        (
            "v1.EnvVar",
            json!({"type": "object", "properties": {
                "name": string, "value": string, "valueFrom": {"type": "object"}}}),
        ),
        (
            "v1.SecurityContext",
            json!({"type": "object", "properties": {
                "allowPrivilegeEscalation": boolean, "privileged": boolean,
                "readOnlyRootFilesystem": boolean, "runAsNonRoot": boolean,
                "runAsUser": integer, "runAsGroup": integer, "procMount": string,
                "capabilities": {"type": "object", "properties": {"add": strings, "drop": strings}},
                "seccompProfile": profile, "appArmorProfile": profile,
                "seLinuxOptions": {"type": "object"}, "windowsOptions": {"type": "object"}}}),
        ),
        (
            "v1.PodSecurityContext",
            json!({"type": "object", "properties": {
                "runAsNonRoot": boolean, "runAsUser": integer, "runAsGroup": integer,
                "fsGroup": integer, "fsGroupChangePolicy": string,
                "supplementalGroups": {"type": "array", "items": integer},
                "seccompProfile": profile, "appArmorProfile": profile,
                "seLinuxOptions": {"type": "object"}, "windowsOptions": {"type": "object"},
                "sysctls": {"type": "array"}}}),
        ),
        (
            "v1.ResourceRequirements",
            json!({"type": "object", "properties": {
                "limits": quantities, "requests": quantities, "claims": {"type": "array"}}}),
        ),
        ("v1.Duration", string.clone()),
        (
            "v1.Toleration",
            json!({"type": "object", "properties": {
                "key": string, "operator": string, "value": string, "effect": string,
                "tolerationSeconds": integer}}),
        ),
        (
            "v1.LocalObjectReference",
            json!({"type": "object", "properties": {"name": string}}),
        ),
        (
            "v1.VolumeMount",
            json!({"type": "object", "properties": {
                "name": string, "mountPath": string, "subPath": string, "subPathExpr": string,
                "readOnly": boolean, "mountPropagation": string, "recursiveReadOnly": string}}),
        ),
        (
            "v1.PersistentVolumeClaimVolumeSource",
            json!({"type": "object", "properties": {"claimName": string, "readOnly": boolean}}),
        ),
        (
            "v1.SecretVolumeSource",
            json!({"type": "object", "properties": {
                "secretName": string, "items": {"type": "array"}, "defaultMode": integer,
                "optional": boolean}}),
        ),
        (
            "v1.ConfigMapVolumeSource",
            json!({"type": "object", "properties": {
                "name": string, "items": {"type": "array"}, "defaultMode": integer,
                "optional": boolean}}),
        ),
        (
            "v1.EmptyDirVolumeSource",
            json!({"type": "object", "properties": {"medium": string, "sizeLimit": quantity}}),
        ),
        (
            "v1.PersistentVolumeClaim",
            json!({"type": "object", "properties": {
                "apiVersion": string, "kind": string,
                "metadata": {"$ref": "#/definitions/v1.ObjectMeta"},
                "spec": {"type": "object"}}}),
        ),
    ])
}

/// The definitions: Tekton's file, the `ResolverRef` quirk applied, the Kubernetes types added.
fn definitions() -> &'static serde_json::Map<String, Value> {
    static DEFINITIONS: OnceLock<serde_json::Map<String, Value>> = OnceLock::new();
    DEFINITIONS.get_or_init(|| {
        let file: Value = serde_json::from_str(include_str!("pipeline-v1-swagger.json"))
            .expect("pipeline-v1-swagger.json is JSON");
        let mut definitions = file["definitions"]
            .as_object()
            .expect("definitions")
            .clone();
        let resolver = definitions["v1.ResolverRef"]["properties"].clone();
        for reference in ["v1.TaskRef", "v1.PipelineRef"] {
            let properties = definitions[reference]["properties"]
                .as_object_mut()
                .expect("properties");
            for (name, schema) in resolver.as_object().expect("ResolverRef properties") {
                properties.insert(name.clone(), schema.clone());
            }
        }
        for (name, schema) in kubernetes() {
            assert!(
                !definitions.contains_key(name),
                "{name} is defined by Tekton's file: drop the hand-written one"
            );
            definitions.insert(name.to_owned(), schema);
        }
        definitions
    })
}

/// The problems of one document, each as `PATH: message`.
pub fn check(document: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    match document["apiVersion"].as_str() {
        Some("tekton.dev/v1") => {}
        other => problems.push(format!(
            ".apiVersion: expected tekton.dev/v1, found {other:?}"
        )),
    }
    let kind = document["kind"].as_str().unwrap_or_default();
    if !["Task", "TaskRun", "Pipeline", "PipelineRun"].contains(&kind) {
        problems.push(format!(
            ".kind: expected Task, TaskRun, Pipeline or PipelineRun, found {kind:?}"
        ));
        return problems;
    }
    walk_ref(&format!("v1.{kind}"), document, "", &mut problems);
    problems.sort();
    problems
}

fn walk_ref(name: &str, value: &Value, path: &str, problems: &mut Vec<String>) {
    if name == "v1.ParamValue" {
        param_value(value, path, problems);
        return;
    }
    if OPAQUE.contains(&name) {
        return;
    }
    match definitions().get(name) {
        Some(schema) => walk(schema, value, path, problems),
        None => problems.push(format!(
            "{path}: {name} is defined neither by Tekton's file nor by the hand-written \
             Kubernetes types of schema.rs"
        )),
    }
}

fn walk(schema: &Value, value: &Value, path: &str, problems: &mut Vec<String>) {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference
            .strip_prefix("#/definitions/")
            .unwrap_or_else(|| panic!("unexpected $ref {reference}"));
        walk_ref(name, value, path, problems);
        return;
    }
    if schema["x-quantity"] == true {
        if !(value.is_string() || value.is_number()) {
            problems.push(format!(
                "{path}: expected a quantity, found {}",
                kind(value)
            ));
        }
        return;
    }
    let expected = schema["type"].as_str().unwrap_or(
        if schema.get("properties").is_some() || schema.get("additionalProperties").is_some() {
            "object"
        } else {
            ""
        },
    );
    match expected {
        "" => {}
        "string" if value.is_string() => {}
        "boolean" if value.is_boolean() => {}
        "integer" if value.is_i64() || value.is_u64() => {}
        "number" if value.is_number() => {}
        "array" => match value.as_array() {
            Some(items) => {
                if let Some(item) = schema.get("items") {
                    for (i, element) in items.iter().enumerate() {
                        walk(item, element, &format!("{path}[{i}]"), problems);
                    }
                }
            }
            None => problems.push(format!("{path}: expected an array, found {}", kind(value))),
        },
        "object" => match value.as_object() {
            Some(fields) => {
                for (key, field) in fields {
                    let field_path = join(path, key);
                    if let Some(property) = schema["properties"].get(key) {
                        walk(property, field, &field_path, problems);
                    } else if let Some(additional) = schema.get("additionalProperties") {
                        walk(additional, field, &field_path, problems);
                    } else if schema.get("properties").is_some() {
                        problems.push(format!("{field_path}: unknown field `{key}`"));
                    }
                }
            }
            None => problems.push(format!("{path}: expected an object, found {}", kind(value))),
        },
        other => problems.push(format!("{path}: expected {other}, found {}", kind(value))),
    }
}

/// A param or result value: a string, an array of strings, or an object of strings.
fn param_value(value: &Value, path: &str, problems: &mut Vec<String>) {
    match value {
        Value::String(_) => {}
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if !item.is_string() {
                    problems.push(format!(
                        "{path}[{i}]: expected a string, found {}",
                        kind(item)
                    ));
                }
            }
        }
        Value::Object(fields) => {
            for (key, field) in fields {
                if !field.is_string() {
                    problems.push(format!(
                        "{}: expected a string, found {}",
                        join(path, key),
                        kind(field)
                    ));
                }
            }
        }
        other => problems.push(format!(
            "{path}: expected a string, an array of strings or an object, found {}",
            kind(other)
        )),
    }
}

fn join(path: &str, key: &str) -> String {
    if key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        format!("{path}.{key}")
    } else {
        format!("{path}[{key:?}]")
    }
}

fn kind(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

#[track_caller]
fn assert_valid(document: &Value, what: &str) {
    let problems = check(document);
    assert!(
        problems.is_empty(),
        "{what} does not match Tekton's v1 API:\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_task_pipeline_and_sample_matches_tektons_v1_api() {
    let mut kinds = Vec::new();
    for file in super::yaml_files() {
        for (i, document) in super::documents(&file).iter().enumerate() {
            assert_valid(document, &format!("{file} (document {i})"));
            kinds.push(document["kind"].as_str().unwrap().to_owned());
        }
    }
    for kind in ["Task", "Pipeline", "TaskRun", "PipelineRun"] {
        assert!(kinds.iter().any(|k| k == kind), "no {kind} was checked");
    }
}

#[test]
fn full_documents_in_the_readmes_match_tektons_v1_api() {
    let mut checked = 0;
    for readme in ["tekton/README.md"].into_iter().map(str::to_owned).chain(
        super::definition_files()
            .iter()
            .map(|file| file.rsplit_once('/').unwrap().0.to_owned() + "/README.md"),
    ) {
        let text = std::fs::read_to_string(repo_root().join(&readme))
            .unwrap_or_else(|e| panic!("cannot read {readme}: {e}"));
        for (i, block) in yaml_blocks(&text).iter().enumerate() {
            if !block.contains("apiVersion: tekton.dev/") {
                continue;
            }
            for document in super::parse_documents(block, &format!("{readme} block {i}")) {
                assert_valid(&document, &format!("{readme}, YAML block {i}"));
                checked += 1;
            }
        }
    }
    assert!(checked > 0, "no full Tekton document in the READMEs");
}

/// The fenced ```yaml blocks of a Markdown text.
fn yaml_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match &mut current {
            None if line.trim_start().starts_with("```yaml") => current = Some(String::new()),
            Some(block) if line.trim_start().starts_with("```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    blocks
}

fn problems_of(yaml: &str) -> Vec<String> {
    let documents = super::parse_documents(yaml, "test document");
    check(&documents[0])
}

#[test]
fn a_misspelled_field_is_reported_with_its_path() {
    let problems = problems_of(
        "apiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: t}\nspec:\n  parms:\n    - name: IMAGE\n  steps:\n    - name: s\n      image: busybox:1\n",
    );
    assert_eq!(problems, [".spec.parms: unknown field `parms`"]);
}

#[test]
fn deep_mistakes_are_reported_with_their_paths() {
    let problems = problems_of(
        r#"
apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: p
  labels:
    app.kubernetes.io/version: 0.1
spec:
  params:
    - name: PLATFORMS
      type: array
      default: [linux/amd64, 7]
  tasks:
    - name: build
      taskRef: {name: multiarch-build, bundle: registry.example/b}
      matrix:
        params:
          - {name: PLATFORM, value: "$(params.PLATFORMS[*])"}
        inclde: []
      retries: "2"
"#,
    );
    assert_eq!(
        problems,
        [
            r#".metadata.labels["app.kubernetes.io/version"]: expected string, found the number 0.1"#,
            ".spec.params[0].default[1]: expected a string, found the number 7",
            ".spec.tasks[0].matrix.inclde: unknown field `inclde`",
            r#".spec.tasks[0].retries: expected integer, found the string "2""#,
            ".spec.tasks[0].taskRef.bundle: unknown field `bundle`",
        ]
    );
}

#[test]
fn kubernetes_types_are_checked_too() {
    let problems = problems_of(
        r#"
apiVersion: tekton.dev/v1
kind: TaskRun
metadata: {generateName: t-, nme: x}
spec:
  taskSpec:
    steps:
      - name: s
        image: busybox:1
        env:
          - {name: A, valu: b}
        securityContext: {allowPrivilegeEscalation: "false"}
  podTemplate:
    nodeSelector: {kubernetes.io/arch: arm64}
    tolerations:
      - {key: arch, operator: Equal, value: arm64, efect: NoSchedule}
"#,
    );
    assert_eq!(
        problems,
        [
            ".metadata.nme: unknown field `nme`",
            ".spec.podTemplate.tolerations[0].efect: unknown field `efect`",
            ".spec.taskSpec.steps[0].env[0].valu: unknown field `valu`",
            r#".spec.taskSpec.steps[0].securityContext.allowPrivilegeEscalation: expected boolean, found the string "false""#,
        ]
    );
}

#[test]
fn resolver_references_and_every_param_value_shape_are_accepted() {
    let problems = problems_of(
        r#"
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata: {generateName: p-}
spec:
  pipelineRef:
    resolver: git
    params:
      - {name: url, value: "https://git.example/org/pipelines"}
      - {name: pathInRepo, value: tekton/pipeline/multiarch/0.1/multiarch.yaml}
  params:
    - {name: IMAGE, value: registry.example/org/app}
    - {name: PLATFORMS, value: [linux/amd64, linux/arm64]}
    - {name: OPTIONS, value: {cache: "true"}}
  workspaces:
    - name: source
      volumeClaimTemplate:
        metadata: {name: source}
        spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
  timeouts: {pipeline: 1h}
"#,
    );
    assert_eq!(problems, Vec::<String>::new());
}
