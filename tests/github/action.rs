//! The action's steps as `action.yml` runs them on GitHub (not under act): `multiarch
//! github-action prepare|run` with the inputs in `INPUT_*`, the runner's files, and the artifact
//! hand-off done the way upload-artifact and download-artifact do it (one folder per artifact).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::harness::{self, Output, Registry, fixtures, repo_root, tempdir};

/// One job's runner: its temp folder, output and summary files, and the run's identity.
struct Runner {
    dir: tempfile::TempDir,
    attempt: u32,
    event: serde_json::Value,
}

impl Runner {
    fn new() -> Runner {
        Runner {
            dir: tempdir(),
            attempt: 1,
            event: serde_json::json!({
                "repository": {"name": "app", "default_branch": "main"},
                "head_commit": {"timestamp": "2026-11-28T10:00:00Z"}
            }),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs a step with `inputs`; returns its output and the outputs it set.
    fn step(
        &self,
        step: &str,
        inputs: &[(&str, &str)],
        env: &[(&str, &str)],
    ) -> (Output, BTreeMap<String, String>) {
        let output_file = self.path(&format!("output-{step}-{}", inputs.len()));
        let _ = std::fs::remove_file(&output_file);
        std::fs::write(self.path("event.json"), self.event.to_string()).unwrap();
        let mut run = harness::multiarch(&["github-action", step])
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_OUTPUT", &output_file)
            .env("GITHUB_STEP_SUMMARY", self.path("summary.md"))
            .env("GITHUB_EVENT_PATH", self.path("event.json"))
            .env("GITHUB_EVENT_NAME", "push")
            .env("GITHUB_REF", "refs/heads/main")
            .env("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567")
            .env("GITHUB_REPOSITORY", "org/app")
            .env("GITHUB_RUN_ID", "4242")
            .env("GITHUB_RUN_ATTEMPT", self.attempt.to_string())
            .env("GITHUB_WORKFLOW", "image")
            .env("RUNNER_TEMP", self.dir.path())
            .env("RUNNER_ARCH", "X64");
        for (name, value) in inputs {
            run = run.env(
                &format!("INPUT_{}", name.to_uppercase().replace('-', "_")),
                value,
            );
        }
        for (name, value) in env {
            run = run.env(name, value);
        }
        let output = run.run();
        let outputs = std::fs::read_to_string(&output_file)
            .map(|text| parse_outputs(&text))
            .unwrap_or_default();
        (output, outputs)
    }
}

/// Reads `$GITHUB_OUTPUT` as the runner does (`name<<DELIMITER` … `DELIMITER`).
fn parse_outputs(text: &str) -> BTreeMap<String, String> {
    let mut outputs = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(header) = lines.next() {
        let (name, delimiter) = header.split_once("<<").expect("multi-line form");
        let mut value = Vec::new();
        for line in lines.by_ref() {
            if line == delimiter {
                break;
            }
            value.push(line);
        }
        outputs.insert(name.to_owned(), value.join("\n"));
    }
    outputs
}

/// What download-artifact does: each artifact into its own folder under `path`.
fn download(uploads: &[(String, String)], path: &Path) {
    for (name, folder) in uploads {
        let target = path.join(name);
        std::fs::create_dir_all(&target).unwrap();
        for entry in std::fs::read_dir(folder).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), target.join(entry.file_name())).unwrap();
        }
    }
}

#[test]
fn build_jobs_hand_records_to_the_merge_through_artifacts() {
    let registry = Registry::start();
    let image = registry.at("org/app");
    let context = repo_root().join("examples/build");
    let mut uploads = Vec::new();
    let mut runners = Vec::new();
    for platform in ["linux/amd64", "linux/arm64"] {
        runners.push(Runner::new());
        let runner = runners.last().unwrap();
        let (output, outputs) = runner.step(
            "run",
            &[
                ("mode", "build"),
                ("image", &image),
                ("platform", platform),
                ("context", context.to_str().unwrap()),
            ],
            &[],
        );
        output.success();
        assert!(outputs["digest"].starts_with("sha256:"), "{outputs:?}");
        assert_eq!(
            outputs["image-ref"],
            format!("{image}@{}", outputs["digest"])
        );
        assert_eq!(outputs["platform"], platform);
        let record: serde_json::Value = serde_json::from_str(&outputs["record"]).unwrap();
        assert_eq!(record["schema"], "multiarch.record.v1");
        let name = &outputs["upload-name"];
        let stem = platform.replace('/', "-");
        assert_eq!(
            name,
            &format!(
                "multiarch-record-4242-{}-{stem}-attempt1",
                image.replace([':', '/'], "_")
            )
        );
        let summary = std::fs::read_to_string(runner.path("summary.md")).unwrap();
        assert!(
            summary.contains(&format!("| `{platform}` | `{}` |", outputs["digest"])),
            "{summary}"
        );
        uploads.push((name.clone(), outputs["upload-path"].clone()));
    }

    let merger = Runner::new();
    let inputs = [
        ("mode", "merge"),
        ("image", image.as_str()),
        ("platforms", "linux/amd64,linux/arm64"),
        ("tags", "{{auto}}\nedge"),
    ];
    let (_, prepared) = merger.step("prepare", &inputs, &[]);
    assert_eq!(prepared["download"], "true");
    let pattern = &prepared["download-pattern"];
    assert!(
        pattern.ends_with("-{linux-amd64,linux-arm64}-attempt+([0-9])"),
        "{pattern}"
    );
    download(&uploads, Path::new(&prepared["download-path"]));

    let (output, outputs) = merger.step("run", &inputs, &[]);
    output.success();
    let tags: Vec<&str> = outputs["tags"].lines().collect();
    assert_eq!(
        tags,
        [
            format!("{image}:main"),
            format!("{image}:latest"),
            format!("{image}:sha-0123456"),
            format!("{image}:edge"),
        ]
    );
    let raw = harness::tool(
        "skopeo",
        &[
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{image}:edge"),
        ],
    )
    .run()
    .success()
    .stdout;
    let index: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(index["manifests"].as_array().unwrap().len(), 2);
    assert_eq!(
        index["annotations"]["org.opencontainers.image.source"],
        "https://github.com/org/app"
    );
    let digest = fixtures::sha256(raw.as_bytes());
    assert_eq!(outputs["digest"], digest);
    let summary = std::fs::read_to_string(merger.path("summary.md")).unwrap();
    assert!(
        summary.contains("`linux/arm64`") && summary.contains("`edge`"),
        "{summary}"
    );
}

#[test]
fn a_merge_without_every_record_publishes_nothing_unless_missing_platforms_are_allowed() {
    let registry = Registry::start();
    let image = registry.at("org/app");
    let builder = Runner::new();
    let handoff = tempdir();
    let act = [
        ("ACT", "true"),
        ("MULTIARCH_ACT_HANDOFF", handoff.path().to_str().unwrap()),
    ];
    builder
        .step(
            "run",
            &[
                ("mode", "build"),
                ("image", &image),
                ("platform", "linux/amd64"),
                ("push", "true"),
                (
                    "context",
                    repo_root().join("examples/build").to_str().unwrap(),
                ),
            ],
            &act,
        )
        .0
        .success();
    let before = registry.requests().len();
    let (output, _) = Runner::new().step(
        "run",
        &[
            ("mode", "merge"),
            ("image", &image),
            ("platforms", "linux/amd64,linux/s390x,linux/ppc64le"),
            ("push", "true"),
        ],
        &act,
    );
    let output = output.failure(1, "no record arrived for linux/s390x, linux/ppc64le");
    assert!(
        output.stdout.contains("::error title=multiarch::")
            && output.stdout.contains("linux/s390x"),
        "{}",
        output.stdout
    );
    assert!(
        registry.writes_since(before).is_empty(),
        "nothing may be written"
    );

    // allow-missing: the platforms that arrived are published, and the others named.
    let (output, outputs) = Runner::new().step(
        "run",
        &[
            ("mode", "merge"),
            ("image", &image),
            ("platforms", "linux/amd64,linux/s390x,linux/ppc64le"),
            ("push", "true"),
            ("allow-missing", "true"),
        ],
        &act,
    );
    let output = output.success();
    assert_eq!(outputs["missing-platforms"], "linux/s390x,linux/ppc64le");
    assert_eq!(outputs["platform"], "linux/amd64");
    assert!(
        output.stdout.contains("::warning::published ")
            && output.stdout.contains("without linux/s390x, linux/ppc64le"),
        "{}",
        output.stdout
    );
    let raw = harness::skopeo_raw(&format!("{image}:latest"));
    assert_eq!(fixtures::sha256(raw.as_bytes()), outputs["digest"]);
    let index: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(index["manifests"].as_array().unwrap().len(), 1, "{raw}");
}

#[test]
fn under_act_without_push_the_run_is_a_dry_run_into_a_local_layout() {
    let handoff = tempdir();
    let act = [
        ("ACT", "true"),
        ("MULTIARCH_ACT_HANDOFF", handoff.path().to_str().unwrap()),
    ];
    for outputs in build_under_act(handoff.path(), "ghcr.io/org/app", "") {
        assert!(outputs["image-ref"].starts_with("oci:"), "{outputs:?}");
    }
    let (output, outputs) = Runner::new().step(
        "run",
        &[
            ("mode", "merge"),
            ("image", "ghcr.io/org/app"),
            ("platforms", "linux/amd64,linux/arm64"),
            ("tags", "dev"),
        ],
        &act,
    );
    output.success();
    let layout = handoff.path().join("oci");
    assert_eq!(outputs["tags"], format!("oci:{}:dev", layout.display()));
    let report = harness::multiarch(&[
        "inspect",
        "--format",
        "json",
        &format!("oci:{}:dev", layout.display()),
    ])
    .run()
    .success()
    .stdout;
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(report["manifests"].as_array().unwrap().len(), 2, "{report}");
    // The records were consumed; the layout stays.
    let left: Vec<String> = std::fs::read_dir(handoff.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["oci"]);
}

#[test]
fn record_mode_lets_an_image_built_elsewhere_join() {
    let registry = Registry::start();
    let repo = registry.at("org/app");
    let written = fixtures::push_hello_images(&repo, &["linux/arm64"]);
    let runner = Runner::new();
    let (output, outputs) = runner.step(
        "run",
        &[
            ("mode", "record"),
            ("image", &repo),
            ("digest", &written[0].digest),
        ],
        &[],
    );
    output.success();
    assert_eq!(outputs["platform"], "linux/arm64");
    assert_eq!(outputs["digest"], written[0].digest);
    let record_file = Path::new(&outputs["upload-path"]).join("linux-arm64.json");
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(record_file).unwrap()).unwrap();
    assert_eq!(record["digest"], written[0].digest.as_str());

    let (output, _) = runner.step("run", &[("mode", "record"), ("image", &repo)], &[]);
    output.failure(1, "mode record needs the digest input");
}

#[test]
fn plan_mode_outputs_the_matrix_and_refuses_platforms_without_a_runner() {
    let runner = Runner::new();
    let (output, outputs) = runner.step(
        "run",
        &[
            ("mode", "plan"),
            ("platforms", "linux/amd64,linux/arm64,linux/s390x"),
            ("runners", "linux/s390x=self-hosted,s390x"),
        ],
        &[],
    );
    output.success();
    let matrix: serde_json::Value = serde_json::from_str(&outputs["matrix"]).unwrap();
    assert_eq!(
        matrix,
        serde_json::json!({"include": [
            {"platform": "linux/amd64", "runner": "ubuntu-24.04"},
            {"platform": "linux/arm64", "runner": "ubuntu-24.04-arm"},
            {"platform": "linux/s390x", "runner": ["self-hosted", "s390x"]},
        ]})
    );
    let (output, _) = runner.step(
        "run",
        &[("mode", "plan"), ("platforms", "linux/ppc64le")],
        &[],
    );
    let output = output.failure(1, "add a line `linux/ppc64le=LABEL`");
    assert!(
        output.stdout.contains("::error title=multiarch::"),
        "{}",
        output.stdout
    );
}

#[test]
fn the_password_is_masked_and_never_printed() {
    let registry = Registry::start();
    let password = "s3cr3t-Pa55word-for-the-log-test";
    let (output, _) = Runner::new().step(
        "run",
        &[
            ("mode", "build"),
            ("image", &registry.at("org/app")),
            ("username", "someone"),
            ("password", password),
            ("context", "/nonexistent/context"),
        ],
        &[("RUST_LOG", "trace")],
    );
    let output = output.failure(2, "/nonexistent/context");
    let masks: Vec<&str> = output
        .stdout
        .lines()
        .filter(|l| l.starts_with("::add-mask::"))
        .collect();
    assert_eq!(masks, [format!("::add-mask::{password}")]);
    let rest = output
        .stdout
        .replace(&format!("::add-mask::{password}"), "");
    assert!(!rest.contains(password) && !output.stderr.contains(password));
}

/// A pull request's merge upserts one comment through the GitHub API; a local server stands in
/// for the API (the real one is unreachable from tests) and checks what is sent.
#[test]
fn a_pull_request_merge_comments_once_with_the_published_references() {
    use wiremock::matchers::{body_string_contains, header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let registry = Registry::start();
    let image = registry.at("org/app");
    let handoff = tempdir();
    let act = [
        ("ACT", "true"),
        ("MULTIARCH_ACT_HANDOFF", handoff.path().to_str().unwrap()),
    ];
    build_under_act(handoff.path(), &image, "true");

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let api = runtime.block_on(MockServer::start());
    runtime.block_on(async {
        Mock::given(method("GET"))
            .and(path("/repos/org/app/issues/5/comments"))
            .and(header("authorization", "Bearer gh-token-for-test"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([
                {"id": 1, "body": "LGTM", "html_url": "https://github.com/org/app/pull/5#c1"}
            ])))
            .expect(1)
            .mount(&api)
            .await;
        Mock::given(method("POST"))
            .and(path("/repos/org/app/issues/5/comments"))
            .and(body_string_contains("<!-- multiarch:image:"))
            .and(body_string_contains(format!("{image}:pr-5").as_str()))
            .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!(
                {"id": 2, "html_url": "https://github.com/org/app/pull/5#c2"}
            )))
            .expect(1)
            .mount(&api)
            .await;
    });

    let mut merger = Runner::new();
    merger.event = serde_json::json!({"pull_request": {"number": 5}});
    let api_url = api.uri();
    let mut env = act.to_vec();
    env.extend([
        ("GITHUB_API_URL", api_url.as_str()),
        ("GITHUB_REF", "refs/pull/5/merge"),
        ("GITHUB_EVENT_NAME", "pull_request"),
    ]);
    let (output, outputs) = merger.step(
        "run",
        &[
            ("mode", "merge"),
            ("image", &image),
            ("platforms", "linux/amd64,linux/arm64"),
            ("push", "true"),
            ("comment", "true"),
            ("github-token", "gh-token-for-test"),
        ],
        &env,
    );
    let output = output.success();
    assert!(outputs["tags"].contains(":pr-5"), "{outputs:?}");
    assert!(!output.stderr.contains("gh-token-for-test"));
    // Drops the server, which checks the expected call counts.
    runtime.block_on(async { api.verify().await });
}

/// Builds examples/build for amd64 and arm64 as act's build jobs would, handing the records over
/// in `handoff`; returns each job's outputs.
fn build_under_act(handoff: &Path, image: &str, push: &str) -> Vec<BTreeMap<String, String>> {
    let context = repo_root().join("examples/build");
    let act = [
        ("ACT", "true"),
        ("MULTIARCH_ACT_HANDOFF", handoff.to_str().unwrap()),
    ];
    ["linux/amd64", "linux/arm64"]
        .into_iter()
        .map(|platform| {
            let inputs = [
                ("mode", "build"),
                ("image", image),
                ("platform", platform),
                ("push", push),
                ("context", context.to_str().unwrap()),
            ];
            let (output, outputs) = Runner::new().step("run", &inputs, &act);
            output.success();
            outputs
        })
        .collect()
}
