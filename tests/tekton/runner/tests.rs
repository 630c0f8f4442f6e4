//! The runner's own pieces.

use std::collections::BTreeMap;

use super::pipeline::combinations;
use super::task::kubernetes_expand;
use super::*;

#[test]
fn substitution_leaves_the_shell_alone() {
    let out = substitute("a $(params.X) $(date) $(tasks.t.results.r)", |inner| {
        is_tekton_variable(inner).then(|| format!("<{inner}>"))
    });
    assert_eq!(out, "a <params.X> $(date) <tasks.t.results.r>");
    assert_eq!(whole_array_reference("$(params.A[*])", "params"), Some("A"));
    assert_eq!(whole_array_reference("x$(params.A[*])", "params"), None);
    assert_eq!(
        whole_array_reference("$(tasks.b.results.R[*])", "tasks"),
        Some("b.results.R")
    );
}

#[test]
fn kubernetes_expands_only_known_variables() {
    let env = [("HOME".to_owned(), "/h".to_owned())];
    assert_eq!(
        kubernetes_expand("$(HOME)/x $(NOPE) $$(HOME) $ a$", &env),
        "/h/x $(NOPE) $(HOME) $ a$"
    );
}

#[test]
fn matrix_combinations_put_the_first_param_outermost() {
    let axes = vec![
        ("a".to_owned(), vec!["1".to_owned(), "2".to_owned()]),
        ("b".to_owned(), vec!["x".to_owned(), "y".to_owned()]),
    ];
    let names: Vec<String> = combinations(&axes)
        .iter()
        .map(|c| c.iter().map(|(_, v)| v.as_str()).collect())
        .collect();
    assert_eq!(names, ["1x", "1y", "2x", "2y"]);
}

fn task(yaml: &str) -> Value {
    crate::tekton::parse_documents(yaml, "test Task").remove(0)
}

#[test]
fn a_task_runs_the_way_tekton_runs_it() {
    // No shebang (Tekton puts `#!/bin/sh` and `set -e` first), an array param spread over
    // args, an optional workspace left unbound, Kubernetes' $(VAR) in env and args, and a
    // result kept byte for byte, trailing newline included.
    let task = task(
        r#"
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: probe}
spec:
  params:
    - {name: WORD, default: "a b"}
    - {name: LIST, type: array, default: []}
  workspaces:
    - {name: cache, optional: true}
  results:
    - {name: OUT}
  steps:
    - name: probe
      image: busybox:1.37
      env:
        - {name: WORD, value: $(params.WORD)}
        - {name: BOUND, value: $(workspaces.cache.bound)}
        - {name: WHERE, value: "[$(workspaces.cache.path)]"}
        - {name: OUT, value: $(results.OUT.path)}
        - {name: GREETING, value: "hi $(WORD)"}
      args: ["--list", "$(params.LIST[*])", "$(WORD)", "$$(WORD)"]
      script: |
        false
        printf '%s|' "$WORD" "$BOUND" "$WHERE" "$GREETING" "$@" > "$OUT"
"#,
    );
    let runner = Runner::new();
    let run = |name: &str, script_fails: bool| {
        let mut task = task.clone();
        if !script_fails {
            let script = task["spec"]["steps"][0]["script"].as_str().unwrap();
            task["spec"]["steps"][0]["script"] = script.replace("false\n", "").into();
        }
        runner.run_task(TaskRun {
            name: name.to_owned(),
            task: &task,
            params: BTreeMap::from([("LIST".to_owned(), Param::array(&["x y", "z"]))]),
            workspaces: BTreeMap::new(),
        })
    };
    let failure = run("fails", true).expect_err("set -e stops at `false`");
    assert_eq!(failure.message, "step probe exited with 1");
    let outcome = run("succeeds", false).unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(
        outcome.results["OUT"],
        "a b|false|[]|hi a b|--list|x y|z|a b|$(WORD)|"
    );
}

#[test]
fn results_past_the_termination_message_fail_the_task_run() {
    let task = task(
        r#"
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: big}
spec:
  results:
    - {name: OUT}
  steps:
    - name: write
      image: busybox:1.37
      env:
        - {name: OUT, value: $(results.OUT.path)}
      script: |
        #!/bin/sh
        head -c 5000 /dev/zero | tr '\0' x > "$OUT"
"#,
    );
    let failure = Runner::new()
        .run_task(TaskRun {
            name: "big".to_owned(),
            task: &task,
            params: BTreeMap::new(),
            workspaces: BTreeMap::new(),
        })
        .expect_err("5000 bytes of results passed");
    assert!(failure.message.contains("4096"), "{failure}");
}
