//! The CI/CD catalog's conventions and this adapter's contract with the binary, checked on the
//! templates: every input typed, described, with a default of its type (inside its `options`,
//! matching its `regex`, and `regex` only on strings, as GitLab requires); every input used and
//! every interpolation naming an input; scripts that only call `multiarch gitlab build|merge`,
//! with no interpolation inside them (inputs reach the CLI as variables, under the names it
//! reads, and as strings once interpolated, since GitLab refuses arrays and booleans as variable
//! values); and a README with a section and a table row for every input.

use serde_json::{Map, Value, json};

use super::{block_input, blocks, components, inputs, interpolated_jobs, split};
use crate::harness::repo_root;

/// The variables `multiarch gitlab build` and `multiarch gitlab merge` read, by command.
const BUILD_VARIABLES: &[&str] = &[
    "MULTIARCH_IMAGE",
    "MULTIARCH_PLATFORM",
    "MULTIARCH_CONTEXT",
    "MULTIARCH_DOCKERFILE",
    "MULTIARCH_BUILD_ARGS",
    "MULTIARCH_ENGINE",
    "MULTIARCH_PUSH",
];
/// What the `multiarch` component's build jobs get besides: the platforms (each build checks its
/// own against them before building) and the tags (for the version label).
const MATRIX_BUILD_EXTRA: &[&str] = &["MULTIARCH_PLATFORMS", "MULTIARCH_TAGS"];
const MERGE_VARIABLES: &[&str] = &[
    "MULTIARCH_IMAGE",
    "MULTIARCH_PLATFORMS",
    "MULTIARCH_TAGS",
    "MULTIARCH_ANNOTATIONS",
    "MULTIARCH_PUSH",
    "MULTIARCH_ALLOW_MISSING",
];

fn type_of(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        _ => "other",
    }
}

/// Whether `text` matches `pattern` (ECMAScript syntax, which GitLab's RE2 patterns here share).
fn matches(pattern: &str, text: &str) -> bool {
    jsonschema::validator_for(&json!({ "type": "string", "pattern": pattern }))
        .unwrap_or_else(|e| panic!("bad regex {pattern}: {e}"))
        .is_valid(&json!(text))
}

#[test]
fn inputs_are_typed_described_and_defaulted_within_their_rules() {
    for component in components() {
        for (name, input) in inputs(&component) {
            let what = format!("{component}: input {name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{what}: kebab-case names"
            );
            let description = input["description"].as_str().unwrap_or_default();
            assert!(description.len() > 20, "{what}: no description");
            let kind = input["type"].as_str().unwrap_or("string");
            if let Some(default) = input.get("default") {
                assert_eq!(type_of(default), kind, "{what}: default of another type");
            }
            if let Some(options) = input.get("options") {
                let default = input.get("default").expect("options with a default");
                assert!(
                    options.as_array().unwrap().contains(default),
                    "{what}: default not among the options"
                );
            }
            if let Some(regex) = input.get("regex") {
                assert_eq!(
                    kind, "string",
                    "{what}: GitLab takes regex on string inputs only"
                );
                if let Some(default) = input.get("default") {
                    assert!(
                        matches(regex.as_str().unwrap(), default.as_str().unwrap()),
                        "{what}: the default does not match the regex"
                    );
                }
            }
        }
    }
}

#[test]
fn the_platform_regex_takes_platforms_and_refuses_garbage() {
    let regex = inputs("build")["platform"]["regex"]
        .as_str()
        .expect("build: platform has a regex")
        .to_owned();
    for platform in [
        "linux/amd64",
        "linux/arm64",
        "linux/arm64/v8",
        "linux/arm/v7",
        "linux/s390x",
        "linux/ppc64le",
        "linux/386",
        "linux/riscv64",
        "windows/amd64",
        "linux/x86_64",
    ] {
        assert!(matches(&regex, platform), "{platform} refused by {regex}");
    }
    for garbage in [
        "linux/amd64x/!",
        "amd64",
        "",
        "linux/",
        "linux/amd64 ",
        "$(id)/amd64",
    ] {
        assert!(!matches(&regex, garbage), "{garbage:?} taken by {regex}");
    }
}

#[test]
fn every_input_is_used_and_every_interpolation_names_an_input() {
    for component in components() {
        let (_, jobs) = split(&component);
        let declared = inputs(&component);
        let used: Vec<&str> = blocks(&jobs).into_iter().map(block_input).collect();
        for name in &used {
            assert!(
                declared.contains_key(*name),
                "{component}: $[[ inputs.{name} ]] is not declared"
            );
        }
        for name in declared.keys() {
            assert!(
                used.contains(&name.as_str()),
                "{component}: input {name} is never used"
            );
        }
    }
}

/// Every job of every component, interpolated with `given`, with its component.
fn jobs_with(given: &dyn Fn(&str) -> Map<String, Value>) -> Vec<(String, String, Value)> {
    let mut all = Vec::new();
    for component in components() {
        let jobs = interpolated_jobs(&component, &given(&component));
        for (name, job) in jobs.as_object().unwrap() {
            all.push((component.clone(), name.clone(), job.clone()));
        }
    }
    all
}

fn required(component: &str) -> Map<String, Value> {
    let example =
        json!({"platform": "linux/amd64", "runner-tag": "x", "platforms": ["linux/amd64"]});
    inputs(component)
        .iter()
        .filter(|(_, input)| input.get("default").is_none())
        .map(|(name, _)| (name.clone(), example[name].clone()))
        .collect()
}

#[test]
fn scripts_only_call_the_cli_and_interpolate_nothing() {
    for component in components() {
        let (_, jobs) = split(&component);
        let raw = super::parse(&jobs, &component);
        for (name, job) in raw.as_object().unwrap() {
            for key in ["before_script", "script", "after_script"] {
                let text = job.get(key).map(Value::to_string).unwrap_or_default();
                assert!(
                    !text.contains("$[["),
                    "{component}: {name}: {key} interpolates an input (template injection)"
                );
            }
        }
    }
    for (component, name, job) in jobs_with(&required) {
        let script = &job["script"];
        assert!(
            *script == json!(["multiarch gitlab build"])
                || *script == json!(["multiarch gitlab merge"]),
            "{component}: {name}: script is {script}"
        );
        assert!(job.get("before_script").is_none() && job.get("after_script").is_none());
    }
}

#[test]
fn jobs_hand_the_cli_its_variables_as_strings() {
    for given in [
        &required as &dyn Fn(&str) -> Map<String, Value>,
        &|component| {
            let mut all = required(component);
            for (name, input) in inputs(component) {
                if input["type"] == "boolean" {
                    all.insert(name.clone(), json!(false));
                }
                if input["type"] == "array" && name != "runner-tags" && name != "needs" {
                    all.insert(name, json!(["A=1", "B=two words"]));
                }
            }
            all
        },
    ] {
        for (component, name, job) in jobs_with(given) {
            let build = job["script"] == json!(["multiarch gitlab build"]);
            let expected = if build {
                BUILD_VARIABLES
            } else {
                MERGE_VARIABLES
            };
            let variables = job["variables"].as_object().unwrap();
            let mut names: Vec<&str> = variables.keys().map(String::as_str).collect();
            if build && job.get("parallel").is_some() {
                // multiarch: the matrix sets the platform (and the runner tag).
                names.push("MULTIARCH_PLATFORM");
            }
            names.sort_unstable();
            let mut want = expected.to_vec();
            if build && job.get("parallel").is_some() {
                want.extend(MATRIX_BUILD_EXTRA);
            }
            want.sort_unstable();
            assert_eq!(names, want, "{component}: {name}: variables");
            for (variable, value) in variables {
                assert!(
                    value.is_string(),
                    "{component}: {name}: {variable} is {value}; GitLab takes only strings as variable values"
                );
                if let Some(text) = value.as_str()
                    && (text.starts_with('[') || text.trim() == "true" || text.trim() == "false")
                {
                    // Arrays arrive as JSON text, booleans as true/false, each with a newline.
                    assert!(
                        serde_json::from_str::<Value>(text).is_ok(),
                        "{component}: {name}: {variable} = {text:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn build_jobs_run_on_their_platforms_runners_and_leave_records() {
    for (component, name, job) in jobs_with(&required) {
        let build = job["script"] == json!(["multiarch gitlab build"]);
        let paths = job["artifacts"]["paths"].as_array().unwrap();
        assert!(paths.contains(&json!("multiarch-oci/")), "{name}");
        if build {
            assert!(paths.contains(&json!("multiarch-records/")), "{name}");
            assert!(
                job["artifacts"].get("reports").is_none(),
                "{component}: {name}: a build job's dotenv would override the merge job's variables"
            );
            let tags = job["tags"]
                .as_array()
                .expect("build jobs pick runners by tag");
            assert_eq!(tags.len(), 1, "{name}");
            if let Some(parallel) = job.get("parallel") {
                assert_eq!(tags[0], "$MULTIARCH_RUNNER_TAG");
                for entry in parallel["matrix"].as_array().unwrap() {
                    let keys: Vec<&String> = entry.as_object().unwrap().keys().collect();
                    assert_eq!(keys, ["MULTIARCH_PLATFORM", "MULTIARCH_RUNNER_TAG"]);
                }
            }
        } else {
            assert_eq!(
                job["artifacts"]["reports"]["dotenv"], "multiarch.env",
                "{component}: {name}"
            );
            assert!(
                job.get("needs").is_some(),
                "{name}: the merge needs its builds"
            );
        }
    }
}

#[test]
fn the_whole_flow_defaults_to_gitlab_com_runners_of_each_architecture() {
    let jobs = interpolated_jobs("multiarch", &Map::new());
    let build = &jobs["multiarch-build"];
    assert_eq!(
        build["parallel"]["matrix"],
        json!([
            {"MULTIARCH_PLATFORM": "linux/amd64", "MULTIARCH_RUNNER_TAG": "saas-linux-small-amd64"},
            {"MULTIARCH_PLATFORM": "linux/arm64", "MULTIARCH_RUNNER_TAG": "saas-linux-small-arm64"},
        ])
    );
    assert_eq!(
        jobs["multiarch-merge"]["needs"],
        json!([{"job": "multiarch-build", "artifacts": true}])
    );
    assert_eq!(build["stage"], jobs["multiarch-merge"]["stage"]);
}

#[test]
fn allow_missing_lets_the_build_jobs_fail_and_tells_the_merge() {
    for allow in [false, true] {
        let given = Map::from_iter([("allow-missing".to_owned(), json!(allow))]);
        let jobs = interpolated_jobs("multiarch", &given);
        assert_eq!(
            jobs["multiarch-build"]["allow_failure"],
            json!(allow),
            "a failed build lets the merge run only with allow-missing"
        );
        assert_eq!(
            jobs["multiarch-merge"]["variables"]["MULTIARCH_ALLOW_MISSING"],
            json!(format!("{allow}\n"))
        );
        let jobs = interpolated_jobs(
            "merge",
            &Map::from_iter([
                ("allow-missing".to_owned(), json!(allow)),
                ("platforms".to_owned(), json!(["linux/amd64"])),
            ]),
        );
        assert_eq!(
            jobs["multiarch-merge"]["variables"]["MULTIARCH_ALLOW_MISSING"],
            json!(format!("{allow}\n"))
        );
    }
}

/// The README's section of `component`: from its `### \`NAME\`` heading to the next heading of
/// that level or above.
fn readme_section(readme: &str, component: &str) -> String {
    let heading = format!("### `{component}`");
    let start = readme
        .find(&heading)
        .unwrap_or_else(|| panic!("gitlab/README.md has no section {heading}"));
    let rest = &readme[start + heading.len()..];
    let end = ["\n### ", "\n## "]
        .iter()
        .filter_map(|h| rest.find(h))
        .min()
        .unwrap_or(rest.len());
    rest[..end].to_owned()
}

#[test]
fn the_readme_documents_every_component_and_input() {
    let readme = std::fs::read_to_string(repo_root().join("gitlab/README.md")).unwrap();
    for component in components() {
        let section = readme_section(&readme, &component);
        assert!(
            section.contains(&format!("/{component}@")),
            "{component}: the README section has no include example"
        );
        let rows: Vec<&str> = section.lines().filter(|l| l.starts_with("| `")).collect();
        let spec = inputs(&component);
        assert_eq!(
            rows.len(),
            spec.len(),
            "{component}: one table row per input"
        );
        for (name, input) in &spec {
            let row = rows
                .iter()
                .find(|row| row.starts_with(&format!("| `{name}` |")))
                .unwrap_or_else(|| panic!("{component}: no README row for the input {name}"));
            let cells: Vec<&str> = row.split(" | ").collect();
            assert_eq!(
                cells[1],
                input["type"].as_str().unwrap_or("string"),
                "{row}"
            );
            let default = match input.get("default") {
                None => "required".to_owned(),
                Some(Value::String(s)) if s.is_empty() => "`\"\"`".to_owned(),
                Some(Value::String(s)) => format!("`{s}`"),
                Some(Value::Bool(b)) => format!("`{b}`"),
                Some(Value::Array(items)) if items.iter().all(Value::is_string) => format!(
                    "`[{}]`",
                    items
                        .iter()
                        .map(|i| i.as_str().unwrap())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                // The runner tags' default, an array of objects, is described in words.
                Some(_) => continue,
            };
            assert_eq!(cells[2], default, "{component}: {row}");
        }
    }
}
