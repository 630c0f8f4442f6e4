//! PipelineRuns: params and workspaces resolved, tasks run in dependency order, a matrix fanned
//! out into one TaskRun per combination and its results collected.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde_json::Value;

use super::task::{TaskRun, TaskRunFailure, TaskRunOutcome};
use super::{Param, Runner, is_tekton_variable, list, only, substitute, whole_array_reference};

/// A run of a Pipeline.
#[derive(Debug, Default)]
pub struct PipelineRun {
    pub name: String,
    pub params: BTreeMap<String, Param>,
    pub workspaces: BTreeMap<String, PathBuf>,
}

/// A PipelineRun that succeeded.
#[derive(Debug)]
pub struct PipelineRunOutcome {
    pub results: BTreeMap<String, Param>,
    /// Every TaskRun, with its pipeline task, in the order they ran.
    pub task_runs: Vec<(String, TaskRunOutcome)>,
}

/// A PipelineRun that failed, in the TaskRun `failure` of pipeline task `pipeline_task` (or
/// before any ran, with an empty log).
#[derive(Debug)]
pub struct PipelineRunFailure {
    pub pipeline_task: String,
    pub failure: TaskRunFailure,
}

impl fmt::Display for PipelineRunFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pipeline task {}: {}", self.pipeline_task, self.failure)
    }
}

impl Runner {
    /// Runs the Pipeline `pipeline` (a document).
    pub fn run_pipeline(
        &self,
        pipeline: &Value,
        run: PipelineRun,
    ) -> Result<PipelineRunOutcome, PipelineRunFailure> {
        let name = pipeline["metadata"]["name"].as_str().unwrap_or_default();
        self.run_pipeline_spec(name, &pipeline["spec"], run)
    }

    /// Runs a PipelineRun document: its Pipeline (by `pipelineRef` from `tekton/pipeline`, or its
    /// `pipelineSpec`) with its params, those in `overrides` replacing them, and `workspaces`
    /// bound in place of its own bindings (one folder for each workspace it binds).
    pub fn run_pipeline_run(
        &self,
        document: &Value,
        name: &str,
        overrides: BTreeMap<String, Param>,
        workspaces: BTreeMap<String, PathBuf>,
    ) -> Result<PipelineRunOutcome, PipelineRunFailure> {
        assert_eq!(document["kind"], "PipelineRun");
        let spec = &document["spec"];
        only(
            spec,
            &[
                "pipelineRef",
                "pipelineSpec",
                "params",
                "workspaces",
                "taskRunSpecs",
                "taskRunTemplate",
                "timeouts",
            ],
            "the PipelineRun spec",
        );
        let (pipeline_name, pipeline_spec) =
            match (spec.get("pipelineRef"), spec.get("pipelineSpec")) {
                (Some(reference), None) => {
                    only(
                        reference,
                        &["name"],
                        "pipelineRef (resolvers are not implemented)",
                    );
                    let name = reference["name"].as_str().unwrap();
                    (name, &self.pipeline(name)["spec"])
                }
                (None, Some(inline)) => ("inline", inline),
                _ => panic!("runner: a PipelineRun needs pipelineRef or pipelineSpec"),
            };
        // Placement is Kubernetes' business; the runner checks that it names real tasks.
        let task_names: Vec<String> = list(&pipeline_spec["tasks"])
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect();
        for task_run_spec in list(&spec["taskRunSpecs"]) {
            let target = task_run_spec["pipelineTaskName"].as_str().unwrap();
            assert!(
                task_names.iter().any(|t| t == target),
                "taskRunSpecs names pipeline task {target}, which the Pipeline does not have"
            );
        }
        let bound: Vec<String> = list(&spec["workspaces"])
            .iter()
            .map(|w| w["name"].as_str().unwrap().to_owned())
            .collect();
        let mut given: Vec<String> = workspaces.keys().cloned().collect();
        let mut expected = bound.clone();
        given.sort();
        expected.sort();
        assert_eq!(
            given, expected,
            "runner: bind a folder for each workspace the PipelineRun binds"
        );
        let mut params = BTreeMap::new();
        for param in list(&spec["params"]) {
            let name = param["name"].as_str().unwrap();
            params.insert(
                name.to_owned(),
                Param::from_json(&param["value"], &format!("PipelineRun param {name}")),
            );
        }
        params.extend(overrides);
        self.run_pipeline_spec(
            pipeline_name,
            pipeline_spec,
            PipelineRun {
                name: name.to_owned(),
                params,
                workspaces,
            },
        )
    }

    fn run_pipeline_spec(
        &self,
        pipeline_name: &str,
        spec: &Value,
        run: PipelineRun,
    ) -> Result<PipelineRunOutcome, PipelineRunFailure> {
        only(
            spec,
            &[
                "description",
                "displayName",
                "params",
                "workspaces",
                "tasks",
                "results",
            ],
            &format!("Pipeline {pipeline_name} spec (finally is not implemented)"),
        );
        let mut params = BTreeMap::new();
        for declared in list(&spec["params"]) {
            let name = declared["name"].as_str().unwrap();
            let kind = declared["type"].as_str().unwrap_or("string");
            let value = match run.params.get(name) {
                Some(value) => value.clone(),
                None if !declared["default"].is_null() => {
                    Param::from_json(&declared["default"], &format!("default of {name}"))
                }
                None => panic!("PipelineRun {}: missing param {name}", run.name),
            };
            assert_eq!(
                value.type_name(),
                kind,
                "PipelineRun {}: param {name} has the wrong type",
                run.name
            );
            params.insert(name.to_owned(), value);
        }
        for name in run.params.keys() {
            assert!(
                params.contains_key(name),
                "runner: PipelineRun {} passes param {name}, which the Pipeline does not declare",
                run.name
            );
        }
        let mut workspaces: BTreeMap<String, Option<PathBuf>> = BTreeMap::new();
        for declared in list(&spec["workspaces"]) {
            let name = declared["name"].as_str().unwrap();
            let bound = run.workspaces.get(name).cloned();
            assert!(
                bound.is_some() || declared["optional"] == true,
                "PipelineRun {}: workspace {name} is required",
                run.name
            );
            workspaces.insert(name.to_owned(), bound);
        }
        for name in run.workspaces.keys() {
            assert!(
                workspaces.contains_key(name),
                "runner: PipelineRun {} binds workspace {name}, which the Pipeline does not declare",
                run.name
            );
        }

        let tasks = list(&spec["tasks"]);
        let mut done: BTreeMap<String, TaskResults> = BTreeMap::new();
        let mut task_runs = Vec::new();
        while done.len() < tasks.len() {
            let next = tasks
                .iter()
                .find(|t| {
                    let name = t["name"].as_str().unwrap();
                    !done.contains_key(name) && dependencies(t).iter().all(|d| done.contains_key(d))
                })
                .unwrap_or_else(|| panic!("runner: the pipeline tasks' dependencies form a cycle"));
            let pipeline_task = next["name"].as_str().unwrap().to_owned();
            let context = PipelineVars {
                params: &params,
                tasks: &done,
                pipeline_run: &run.name,
                pipeline: pipeline_name,
            };
            let failure = |message: String| PipelineRunFailure {
                pipeline_task: pipeline_task.clone(),
                failure: TaskRunFailure {
                    name: format!("{}-{pipeline_task}", run.name),
                    message,
                    stderr: String::new(),
                    log: String::new(),
                },
            };
            only(
                next,
                &[
                    "name",
                    "taskRef",
                    "params",
                    "matrix",
                    "runAfter",
                    "workspaces",
                    "description",
                    "displayName",
                ],
                &format!("pipeline task {pipeline_task}"),
            );
            only(
                &next["taskRef"],
                &["name", "kind"],
                "taskRef (resolvers and inline taskSpec are not implemented)",
            );
            assert!(
                next["taskRef"]["kind"].is_null() || next["taskRef"]["kind"] == "Task",
                "runner: only Tasks are implemented"
            );
            let task = self.task(next["taskRef"]["name"].as_str().unwrap());

            let mut task_params = BTreeMap::new();
            for param in list(&next["params"]) {
                let name = param["name"].as_str().unwrap();
                let value = context
                    .evaluate(&param["value"], &format!("{pipeline_task} param {name}"))
                    .map_err(&failure)?;
                task_params.insert(name.to_owned(), value);
            }
            let mut axes: Vec<(String, Vec<String>)> = Vec::new();
            if let Some(matrix) = next.get("matrix") {
                only(matrix, &["params"], "matrix (include is not implemented)");
                for param in list(&matrix["params"]) {
                    let name = param["name"].as_str().unwrap();
                    assert!(
                        !task_params.contains_key(name),
                        "{pipeline_task}: {name} is in both params and matrix (Tekton rejects it)"
                    );
                    match context
                        .evaluate(&param["value"], &format!("{pipeline_task} matrix {name}"))
                        .map_err(&failure)?
                    {
                        Param::Array(values) => {
                            assert!(
                                !values.is_empty(),
                                "runner: an empty matrix (a skipped task) is not implemented"
                            );
                            axes.push((name.to_owned(), values));
                        }
                        Param::String(_) => {
                            panic!("{pipeline_task}: matrix param {name} must be an array")
                        }
                    }
                }
            }

            let mut task_workspaces = BTreeMap::new();
            for binding in list(&next["workspaces"]) {
                only(
                    binding,
                    &["name", "workspace", "subPath"],
                    "a workspace binding",
                );
                let name = binding["name"].as_str().unwrap();
                let from = binding["workspace"].as_str().unwrap_or(name);
                let bound = workspaces.get(from).unwrap_or_else(|| {
                    panic!("{pipeline_task}: the Pipeline has no workspace {from}")
                });
                if let Some(path) = bound {
                    let path = match binding["subPath"].as_str() {
                        Some(sub) => path.join(sub),
                        None => path.clone(),
                    };
                    task_workspaces.insert(name.to_owned(), path);
                }
            }

            let combinations = combinations(&axes);
            let matrixed = !axes.is_empty();
            let mut legs = Vec::new();
            for (i, combination) in combinations.iter().enumerate() {
                let mut leg_params = task_params.clone();
                for (name, value) in combination {
                    leg_params.insert(name.clone(), Param::String(value.clone()));
                }
                let name = if matrixed {
                    format!("{}-{pipeline_task}-{i}", run.name)
                } else {
                    format!("{}-{pipeline_task}", run.name)
                };
                let outcome = self
                    .run_task(TaskRun {
                        name,
                        task,
                        params: leg_params,
                        workspaces: task_workspaces.clone(),
                    })
                    .map_err(|failure| PipelineRunFailure {
                        pipeline_task: pipeline_task.clone(),
                        failure,
                    })?;
                legs.push(outcome.results.clone());
                task_runs.push((pipeline_task.clone(), outcome));
            }
            let results = if matrixed {
                TaskResults::Matrix(legs)
            } else {
                TaskResults::Single(legs.remove(0))
            };
            done.insert(pipeline_task, results);
        }

        let context = PipelineVars {
            params: &params,
            tasks: &done,
            pipeline_run: &run.name,
            pipeline: pipeline_name,
        };
        let mut results = BTreeMap::new();
        for declared in list(&spec["results"]) {
            let name = declared["name"].as_str().unwrap();
            // Tekton leaves out a result whose task result is missing.
            if let Ok(value) = context.evaluate(&declared["value"], &format!("result {name}")) {
                results.insert(name.to_owned(), value);
            }
        }
        Ok(PipelineRunOutcome { results, task_runs })
    }
}

/// The results of a finished pipeline task: one TaskRun's, or every matrix leg's in order.
#[derive(Debug)]
enum TaskResults {
    Single(BTreeMap<String, String>),
    Matrix(Vec<BTreeMap<String, String>>),
}

/// What a pipeline task's params and the Pipeline's results may refer to.
struct PipelineVars<'a> {
    params: &'a BTreeMap<String, Param>,
    tasks: &'a BTreeMap<String, TaskResults>,
    pipeline_run: &'a str,
    pipeline: &'a str,
}

impl PipelineVars<'_> {
    /// A param value (string, or array whose elements may each be a whole-array reference), or a
    /// failure when a task result it names is missing.
    fn evaluate(&self, value: &Value, what: &str) -> Result<Param, String> {
        match value {
            Value::String(text) => match self.whole_array(text, what)? {
                Some(values) => Ok(Param::Array(values)),
                None => self.substitute(text, what).map(Param::String),
            },
            Value::Array(items) => {
                let mut values = Vec::new();
                for item in items {
                    let text = item.as_str().expect("array elements are strings");
                    match self.whole_array(text, what)? {
                        Some(more) => values.extend(more),
                        None => values.push(self.substitute(text, what)?),
                    }
                }
                Ok(Param::Array(values))
            }
            other => panic!("runner: {what}: {other} (object values are not implemented)"),
        }
    }

    /// The array `text` names when it is exactly `$(params.X[*])` or `$(tasks.T.results.R[*])`.
    fn whole_array(&self, text: &str, what: &str) -> Result<Option<Vec<String>>, String> {
        if let Some(name) = whole_array_reference(text, "params") {
            return match self.params.get(name) {
                Some(Param::Array(values)) => Ok(Some(values.clone())),
                _ => panic!("{what}: {text} names no array param"),
            };
        }
        if let Some(reference) = whole_array_reference(text, "tasks") {
            let Some((task, result)) = reference.split_once(".results.") else {
                panic!("runner: {what}: {text} is not implemented");
            };
            return match self.tasks.get(task) {
                Some(TaskResults::Matrix(legs)) => legs
                    .iter()
                    .enumerate()
                    .map(|(i, leg)| {
                        leg.get(result).cloned().ok_or_else(|| {
                            format!("{what}: leg {i} of {task} produced no result {result}")
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(Some),
                Some(TaskResults::Single(_)) => {
                    panic!(
                        "runner: {what}: array results of a task without matrix are not implemented"
                    )
                }
                None => panic!("{what}: {text} names a task that has not run"),
            };
        }
        Ok(None)
    }

    fn substitute(&self, text: &str, what: &str) -> Result<String, String> {
        let mut missing = None;
        let out = substitute(text, |inner| {
            if !is_tekton_variable(inner) {
                return None;
            }
            let parts: Vec<&str> = inner.split('.').collect();
            Some(match parts.as_slice() {
                ["params", name] if !name.contains('[') => match self.params.get(*name) {
                    Some(Param::String(s)) => s.clone(),
                    Some(Param::Array(_)) => {
                        panic!("{what}: $({inner}) is an array used as a string")
                    }
                    None => panic!("{what}: the Pipeline has no param {name}"),
                },
                ["tasks", task, "results", result] if !result.contains('[') => {
                    match self.tasks.get(*task) {
                        Some(TaskResults::Single(results)) => match results.get(*result) {
                            Some(value) => value.clone(),
                            None => {
                                missing =
                                    Some(format!("{what}: {task} produced no result {result}"));
                                String::new()
                            }
                        },
                        Some(TaskResults::Matrix(_)) => panic!(
                            "{what}: $({inner}): one leg's result of a matrix cannot be taken \
                             (Tekton only hands out all of them, with [*])"
                        ),
                        None => panic!("{what}: $({inner}) names a task that has not run"),
                    }
                }
                ["context", "pipelineRun", "name"] => self.pipeline_run.to_owned(),
                ["context", "pipeline", "name"] => self.pipeline.to_owned(),
                _ => panic!("runner: {what}: $({inner}) is not implemented"),
            })
        });
        match missing {
            Some(message) => Err(message),
            None => Ok(out),
        }
    }
}

/// The pipeline tasks `task` waits for: its `runAfter` and the tasks its values refer to.
fn dependencies(task: &Value) -> Vec<String> {
    let mut names: Vec<String> = list(&task["runAfter"])
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let text = serde_json::to_string(&[&task["params"], &task["matrix"]]).unwrap();
    let mut rest = text.as_str();
    while let Some(i) = rest.find("$(tasks.") {
        rest = &rest[i + "$(tasks.".len()..];
        if let Some(end) = rest.find('.') {
            names.push(rest[..end].to_owned());
        }
    }
    names
}

/// The matrix's combinations, the first param outermost (as Tekton orders its TaskRuns).
pub(super) fn combinations(axes: &[(String, Vec<String>)]) -> Vec<Vec<(String, String)>> {
    let mut combinations: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for (name, values) in axes {
        combinations = combinations
            .into_iter()
            .flat_map(|prefix| {
                values.iter().map(move |value| {
                    let mut next = prefix.clone();
                    next.push((name.clone(), value.clone()));
                    next
                })
            })
            .collect();
    }
    combinations
}
