//! TaskRuns: params, workspaces and results resolved, each step run as Tekton's entrypoint
//! would run it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use super::{
    Param, RESULTS_LIMIT, Runner, is_tekton_variable, list, only, substitute, whole_array_reference,
};

/// A run of one Task.
#[derive(Debug)]
pub struct TaskRun<'a> {
    pub name: String,
    pub task: &'a Value,
    pub params: BTreeMap<String, Param>,
    /// Bound workspaces: the folder each one is.
    pub workspaces: BTreeMap<String, PathBuf>,
}

/// A TaskRun that succeeded.
#[derive(Debug, Clone)]
pub struct TaskRunOutcome {
    pub results: BTreeMap<String, String>,
    /// Every step's stdout and stderr.
    pub log: String,
}

/// A TaskRun that failed.
#[derive(Debug)]
pub struct TaskRunFailure {
    pub name: String,
    pub message: String,
    /// The failing step's stderr (empty when no step failed).
    pub stderr: String,
    /// Every step's args, stdout and stderr.
    pub log: String,
}

impl fmt::Display for TaskRunFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TaskRun {} failed: {}\n{}",
            self.name, self.message, self.log
        )
    }
}

impl Runner {
    /// Runs the Task `name` as TaskRun `run_name`.
    pub fn run_task_named(
        &self,
        run_name: &str,
        name: &str,
        params: BTreeMap<String, Param>,
        workspaces: BTreeMap<String, PathBuf>,
    ) -> Result<TaskRunOutcome, TaskRunFailure> {
        self.run_task(TaskRun {
            name: run_name.to_owned(),
            task: self.task(name),
            params,
            workspaces,
        })
    }

    pub fn run_task(&self, run: TaskRun<'_>) -> Result<TaskRunOutcome, TaskRunFailure> {
        let spec = &run.task["spec"];
        let task_name = run.task["metadata"]["name"].as_str().unwrap_or_default();
        only(
            spec,
            &[
                "description",
                "displayName",
                "params",
                "workspaces",
                "results",
                "steps",
            ],
            &format!("Task {task_name} spec"),
        );
        let fail = |message: String| TaskRunFailure {
            name: run.name.clone(),
            message,
            stderr: String::new(),
            log: String::new(),
        };

        // Params: the given value, else the default; Tekton rejects a wrong type or a missing one.
        let mut params = BTreeMap::new();
        for declared in list(&spec["params"]) {
            only(
                declared,
                &["name", "type", "default", "description"],
                "a Task param",
            );
            let name = declared["name"].as_str().unwrap();
            let kind = declared["type"].as_str().unwrap_or("string");
            assert!(
                kind == "string" || kind == "array",
                "runner: {kind} params are not implemented ({name})"
            );
            let value = match run.params.get(name) {
                Some(value) => value.clone(),
                None if !declared["default"].is_null() => {
                    Param::from_json(&declared["default"], &format!("default of {name}"))
                }
                None => return Err(fail(format!("missing param {name} (it has no default)"))),
            };
            if value.type_name() != kind {
                return Err(fail(format!(
                    "param {name} is of type {kind}, given a {}",
                    value.type_name()
                )));
            }
            params.insert(name.to_owned(), value);
        }
        for name in run.params.keys() {
            assert!(
                params.contains_key(name),
                "runner: TaskRun {} passes param {name}, which Task {task_name} does not declare",
                run.name
            );
        }

        // Folders: /tekton/home, /tekton/results, the scripts, the default /workspace.
        let dir = self.root.path().join(&run.name);
        assert!(
            !dir.exists(),
            "runner: TaskRun names must be unique ({})",
            run.name
        );
        let home = dir.join("tekton/home");
        let results_dir = dir.join("tekton/results");
        let scripts = dir.join("tekton/scripts");
        let default_workdir = dir.join("workspace");
        for d in [&home, &results_dir, &scripts, &default_workdir] {
            std::fs::create_dir_all(d).unwrap();
        }

        // Workspaces: bound ones have a folder; optional ones may be unbound.
        let mut workspaces = BTreeMap::new();
        for declared in list(&spec["workspaces"]) {
            only(
                declared,
                &["name", "description", "optional", "readOnly"],
                "a Task workspace",
            );
            let name = declared["name"].as_str().unwrap();
            let bound = run.workspaces.get(name).cloned();
            if bound.is_none() && declared["optional"] != true {
                return Err(fail(format!("workspace {name} is required but not bound")));
            }
            workspaces.insert(name.to_owned(), bound);
        }
        for name in run.workspaces.keys() {
            assert!(
                workspaces.contains_key(name),
                "runner: TaskRun {} binds workspace {name}, which Task {task_name} does not declare",
                run.name
            );
        }

        let mut results = BTreeMap::new();
        for declared in list(&spec["results"]) {
            only(declared, &["name", "description", "type"], "a Task result");
            assert!(
                declared["type"].is_null() || declared["type"] == "string",
                "runner: only string results are implemented"
            );
            let name = declared["name"].as_str().unwrap();
            results.insert(name.to_owned(), results_dir.join(name));
        }

        let vars = Vars {
            params: &params,
            results: &results,
            workspaces: &workspaces,
            task_run: &run.name,
            task: task_name,
        };
        let tekton = [("/tekton/home", &home), ("/tekton/results", &results_dir)];
        let mut log = String::new();
        for (index, step) in list(&spec["steps"]).iter().enumerate() {
            only(
                step,
                &[
                    "name",
                    "image",
                    "script",
                    "command",
                    "args",
                    "env",
                    "workingDir",
                    "securityContext",
                    "computeResources",
                    "imagePullPolicy",
                ],
                "a step",
            );
            let step_name = step["name"].as_str().unwrap_or("unnamed").to_owned();
            let field = |f: &str| format!("step {step_name} {f}");
            let image =
                vars.substitute(step["image"].as_str().unwrap_or_default(), &field("image"));
            assert!(!image.is_empty(), "runner: step {step_name} has no image");

            // env, in order: Kubernetes expands $(VAR) to the variables defined before it.
            let mut env: Vec<(String, String)> = Vec::new();
            for entry in list(&step["env"]) {
                only(
                    entry,
                    &["name", "value"],
                    "an env entry (valueFrom is not implemented)",
                );
                let name = entry["name"].as_str().unwrap().to_owned();
                let value = vars.substitute(
                    entry["value"].as_str().unwrap_or_default(),
                    &field(&format!("env {name}")),
                );
                let value = map_prefix(&kubernetes_expand(&value, &env), &tekton);
                env.retain(|(n, _)| *n != name);
                env.push((name, value));
            }

            let mut args = Vec::new();
            for arg in list(&step["args"]) {
                let arg = arg.as_str().expect("args are strings");
                match whole_array_reference(arg, "params") {
                    Some(name) => match params.get(name) {
                        Some(Param::Array(values)) => args.extend(values.iter().cloned()),
                        _ => panic!("runner: {arg} in step {step_name}: no array param {name}"),
                    },
                    None => args.push(vars.substitute(arg, &field("args"))),
                }
            }
            let args: Vec<String> = args.iter().map(|a| kubernetes_expand(a, &env)).collect();

            let mut command = match (step["script"].as_str(), step.get("command")) {
                (Some(script), None) => {
                    let mut script = vars.substitute(script, &field("script"));
                    if !script.starts_with("#!") {
                        script = format!("#!/bin/sh\nset -e\n{script}");
                    }
                    let file = scripts.join(format!("script-{index}-{step_name}"));
                    std::fs::write(&file, script).unwrap();
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755))
                        .unwrap();
                    Command::new(file)
                }
                (None, Some(command)) => {
                    let words: Vec<String> = list(command)
                        .iter()
                        .map(|w| {
                            kubernetes_expand(
                                &vars.substitute(w.as_str().unwrap(), &field("command")),
                                &env,
                            )
                        })
                        .collect();
                    let mut c = Command::new(&words[0]);
                    c.args(&words[1..]);
                    c
                }
                _ => panic!("runner: step {step_name} needs a script or a command, not both"),
            };

            let workdir = match step["workingDir"].as_str() {
                Some(w) => PathBuf::from(map_prefix(
                    &vars.substitute(w, &field("workingDir")),
                    &tekton,
                )),
                None => default_workdir.clone(),
            };
            std::fs::create_dir_all(&workdir).unwrap();

            command
                .args(&args)
                .env_clear()
                .env("PATH", step_path())
                .envs(env.iter().map(|(k, v)| (k, v)))
                .current_dir(&workdir)
                .stdin(Stdio::null());
            let output = command
                .output()
                .unwrap_or_else(|e| panic!("runner: cannot start step {step_name}: {e}"));
            log.push_str(&format!(
                "--- step {step_name}: args {args:?}\n--- stdout\n{}--- stderr\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ));
            if !output.status.success() {
                return Err(TaskRunFailure {
                    name: run.name.clone(),
                    message: format!(
                        "step {step_name} exited with {}",
                        output.status.code().unwrap_or(-1)
                    ),
                    stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
                    log,
                });
            }
        }

        // Results, verbatim, within the termination message.
        let mut values = BTreeMap::new();
        for (name, path) in &results {
            if let Ok(bytes) = std::fs::read(path) {
                values.insert(name.clone(), String::from_utf8_lossy(&bytes).into_owned());
            }
        }
        let message: Vec<Value> = values
            .iter()
            .map(|(k, v)| serde_json::json!({"key": k, "value": v, "type": 1}))
            .collect();
        let size = serde_json::to_string(&message).unwrap().len();
        if size > RESULTS_LIMIT {
            return Err(TaskRunFailure {
                name: run.name.clone(),
                message: format!(
                    "the results take {size} bytes, over the {RESULTS_LIMIT}-byte termination message"
                ),
                stderr: String::new(),
                log,
            });
        }
        Ok(TaskRunOutcome {
            results: values,
            log,
        })
    }
}

/// What a TaskRun's fields may refer to.
struct Vars<'a> {
    params: &'a BTreeMap<String, Param>,
    results: &'a BTreeMap<String, PathBuf>,
    workspaces: &'a BTreeMap<String, Option<PathBuf>>,
    task_run: &'a str,
    task: &'a str,
}

impl Vars<'_> {
    fn substitute(&self, text: &str, field: &str) -> String {
        substitute(text, |inner| self.lookup(inner, field))
    }

    fn lookup(&self, inner: &str, field: &str) -> Option<String> {
        if !is_tekton_variable(inner) {
            return None; // a shell $(command), left to the shell
        }
        let parts: Vec<&str> = inner.split('.').collect();
        let value = match parts.as_slice() {
            ["params", name] if !name.contains('[') => match self.params.get(*name) {
                Some(Param::String(s)) => s.clone(),
                Some(Param::Array(_)) => panic!(
                    "$({inner}) in {field}: {name} is an array (Tekton rejects it in a string)"
                ),
                None => panic!("$({inner}) in {field}: the Task has no param {name}"),
            },
            ["results", name, "path"] => match self.results.get(*name) {
                Some(path) => path.display().to_string(),
                None => panic!("$({inner}) in {field}: the Task has no result {name}"),
            },
            ["workspaces", name, what @ ("path" | "bound")] => match self.workspaces.get(*name) {
                Some(bound) => match (*what, bound) {
                    ("bound", b) => b.is_some().to_string(),
                    (_, Some(path)) => path.display().to_string(),
                    (_, None) => String::new(),
                },
                None => panic!("$({inner}) in {field}: the Task has no workspace {name}"),
            },
            ["context", "taskRun", "name"] => self.task_run.to_owned(),
            ["context", "task", "name"] => self.task.to_owned(),
            _ => panic!("runner: $({inner}) in {field} is not implemented"),
        };
        Some(value)
    }
}

/// The kubelet's expansion of `$(VAR)` in a container's args and env: a variable defined in
/// `env` is replaced, `$$` becomes `$`, anything else stays as written.
pub(super) fn kubernetes_expand(text: &str, env: &[(String, String)]) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('(')
            && let Some(end) = inner.find(')')
            && let Some((_, value)) = env.iter().rev().find(|(name, _)| *name == inner[..end])
        {
            out.push_str(value);
            rest = &inner[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Maps Tekton's own paths to the TaskRun's folders.
fn map_prefix(value: &str, tekton: &[(&str, &PathBuf)]) -> String {
    for (prefix, local) in tekton {
        if let Some(rest) = value.strip_prefix(prefix)
            && (rest.is_empty() || rest.starts_with('/'))
        {
            return format!("{}{rest}", local.display());
        }
    }
    value.to_owned()
}

/// The step's `PATH`: the `multiarch` under test first, then the system's.
fn step_path() -> String {
    let binary = Path::new(env!("CARGO_BIN_EXE_multiarch"));
    format!(
        "{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        binary.parent().unwrap().display()
    )
}
