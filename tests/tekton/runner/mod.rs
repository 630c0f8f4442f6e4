//! A small stand-in for Tekton, enough to run this repository's Tasks and Pipeline on this
//! machine as a cluster would, without Kubernetes:
//!
//! - A TaskRun resolves the Task's params (given values, else defaults; string or array),
//!   substitutes `$(params.X)`, `$(params.X[*])` (only as a whole element of `args`, where it
//!   becomes the array's elements), `$(results.R.path)`, `$(workspaces.W.path)` (empty when an
//!   optional workspace is unbound), `$(workspaces.W.bound)` and `$(context.taskRun.name)` /
//!   `$(context.task.name)` in `env`, `args`, `command`, `workingDir` and `script`, then expands
//!   Kubernetes' `$(VAR)` references to the step's env in `env` and `args`, as the kubelet does.
//! - Each step's `script` is written to a file (`#!/bin/sh\nset -e` put first when it has no
//!   shebang, as Tekton does) and executed with the step's `args`, its `env` only (plus a `PATH`
//!   that finds the `multiarch` under test) and its `workingDir` (created; by default the
//!   TaskRun's own `/workspace`). Tekton's `/tekton/home` and `/tekton/results` are folders of
//!   the TaskRun. A failing step fails the TaskRun with every step's output; later steps do not
//!   run.
//! - Results are read back verbatim, and refused when they exceed the 4096-byte termination
//!   message Tekton carries them in.
//! - A Pipeline resolves its params and workspaces, runs its tasks one at a time in an order
//!   that honours `runAfter` and result references, fans a `matrix` out into one TaskRun per
//!   combination (first param outermost), collects each string result of a matrixed task into an
//!   array for `$(tasks.T.results.R[*])`, and computes the Pipeline's results.
//! - A PipelineRun document runs its Pipeline (`pipelineRef` to one in `tekton/pipeline`, or an
//!   inline `pipelineSpec`) with its params, the test's overrides, and a local folder for each
//!   workspace it binds. Its `taskRunSpecs` must name pipeline tasks that exist; the placement
//!   they ask for is the scheduler's business and is not emulated.
//!
//! Anything else (sidecars, volumes, `when`, `finally`, `matrix.include`, resolvers, object
//! params, …) is refused with a panic that names it: this runner is a test harness, and a
//! definition it cannot run faithfully must not pass by being half-run.

mod pipeline;
mod task;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde_json::Value;

pub use pipeline::PipelineRun;
pub use task::{TaskRun, TaskRunOutcome};

/// Tekton's limit for the results of one TaskRun: the container termination message.
pub const RESULTS_LIMIT: usize = 4096;

/// A param value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param {
    String(String),
    Array(Vec<String>),
}

impl Param {
    pub fn string(value: impl Into<String>) -> Param {
        Param::String(value.into())
    }

    pub fn array<S: AsRef<str>>(values: &[S]) -> Param {
        Param::Array(values.iter().map(|v| v.as_ref().to_owned()).collect())
    }

    fn type_name(&self) -> &'static str {
        match self {
            Param::String(_) => "string",
            Param::Array(_) => "array",
        }
    }

    fn from_json(value: &Value, what: &str) -> Param {
        match value {
            Value::String(s) => Param::String(s.clone()),
            Value::Array(items) => Param::Array(
                items
                    .iter()
                    .map(|item| {
                        item.as_str()
                            .unwrap_or_else(|| panic!("{what}: array elements must be strings"))
                            .to_owned()
                    })
                    .collect(),
            ),
            other => panic!("runner: {what}: {other} (object params are not implemented)"),
        }
    }
}

/// The Tasks and Pipelines of `tekton/` by name, and a folder for the runs' files.
pub struct Runner {
    tasks: BTreeMap<String, Value>,
    pipelines: BTreeMap<String, Value>,
    root: tempfile::TempDir,
}

impl Runner {
    pub fn new() -> Runner {
        let mut tasks = BTreeMap::new();
        let mut pipelines = BTreeMap::new();
        for file in super::definition_files() {
            let document = super::document(&file);
            let name = document["metadata"]["name"].as_str().unwrap().to_owned();
            match document["kind"].as_str() {
                Some("Task") => tasks.insert(name, document),
                Some("Pipeline") => pipelines.insert(name, document),
                other => panic!("{file}: unexpected kind {other:?}"),
            };
        }
        Runner {
            tasks,
            pipelines,
            root: crate::harness::tempdir(),
        }
    }

    #[track_caller]
    pub fn task(&self, name: &str) -> &Value {
        self.tasks
            .get(name)
            .unwrap_or_else(|| panic!("no Task {name} in tekton/task"))
    }

    #[track_caller]
    pub fn pipeline(&self, name: &str) -> &Value {
        self.pipelines
            .get(name)
            .unwrap_or_else(|| panic!("no Pipeline {name} in tekton/pipeline"))
    }
}

/// Restricts `object` to the `allowed` fields: anything else is a feature the runner lacks.
#[track_caller]
fn only(object: &Value, allowed: &[&str], what: &str) {
    if let Some(fields) = object.as_object() {
        for key in fields.keys() {
            assert!(
                allowed.contains(&key.as_str()),
                "runner: `{key}` in {what} is not implemented"
            );
        }
    }
}

fn list(value: &Value) -> &[Value] {
    value.as_array().map(Vec::as_slice).unwrap_or_default()
}

fn is_tekton_variable(inner: &str) -> bool {
    [
        "params",
        "results.",
        "workspaces.",
        "context.",
        "steps.",
        "tasks.",
        "step.",
    ]
    .iter()
    .any(|prefix| inner.starts_with(prefix))
}

/// Replaces each `$(…)` for which `lookup` has a value.
fn substitute(text: &str, mut lookup: impl FnMut(&str) -> Option<String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("$(") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find(')') else {
            out.push_str(&rest[start..]);
            return out;
        };
        match lookup(&after[..end]) {
            Some(value) => out.push_str(&value),
            None => out.push_str(&rest[start..start + 2 + end + 1]),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// `X` when `text` is exactly `$(PREFIX.X[*])`.
fn whole_array_reference<'t>(text: &'t str, prefix: &str) -> Option<&'t str> {
    text.strip_prefix("$(")?
        .strip_prefix(prefix)?
        .strip_prefix('.')?
        .strip_suffix("[*])")
        .filter(|inner| !inner.contains(')'))
}
