//! The components run end to end by gitlab-ci-local: a git repository that is both the component
//! project (`templates/`, as GitLab lays it out) and the project that includes it, holding
//! `examples/build` and one of `gitlab/examples/*.gitlab-ci.yml`. gitlab-ci-local resolves
//! `include: component:` from that repository when the component's group/project is the `origin`
//! remote's and the version is `$CI_COMMIT_SHA`, so the examples' `@0.1.0` is rewritten to that.
//! `--force-shell-executor --shell-isolation` runs each job in the shell, in its own copy of the
//! project, with artifacts handed over as GitLab would (a merge without its records fails); the
//! `multiarch` on PATH is the binary under test. The registry is a loopback one with htpasswd
//! auth, reached as `CI_REGISTRY` with `CI_REGISTRY_USER`/`CI_REGISTRY_PASSWORD`, as on GitLab.
//!
//! gitlab-ci-local sets `GITLAB_CI=false` in jobs and accepts input names a component does not
//! declare; it enforces `options` and `regex` on the inputs it interpolates. Two of its habits
//! are corrected here so that the jobs see what GitLab's would: `--no-artifacts-to-source` (by
//! default it also copies every job's artifacts into the project, where the next job's copy would
//! pick them up without `needs:`), and `CI_PROJECT_DIR` set to the job's own directory (for a job
//! with `image:` it says `/builds/GROUP/PROJECT` even when the shell executor runs the job
//! elsewhere; on GitLab it is the directory the job runs in).

use std::path::Path;

use crate::harness::registry::{Options, PASSWORD, USER};
use crate::harness::{Output, Registry, commit_all, copy_tree, git, repo_root, tempdir, tool};

/// The component project's path, as its `origin` remote names it.
const PROJECT: &str = "multiarch-dev/multiarch";
const ORIGIN: &str = "https://gitlab.example.com/multiarch-dev/multiarch.git";

/// A committed repository with `examples/build`, the components under `templates/` and
/// `ci_yml` as its `.gitlab-ci.yml`; returns its HEAD commit.
fn project(dir: &Path, ci_yml: &str) -> String {
    copy_tree(&repo_root().join("examples/build"), dir);
    copy_tree(
        &repo_root().join("gitlab/templates"),
        &dir.join("templates"),
    );
    std::fs::write(dir.join(".gitlab-ci.yml"), ci_yml).unwrap();
    let head = commit_all(dir);
    git(dir, &["remote", "add", "origin", ORIGIN]);
    head
}

/// An example's pipeline, its components taken from this commit of the repository itself.
fn example(name: &str) -> String {
    let text = std::fs::read_to_string(repo_root().join("gitlab/examples").join(name)).unwrap();
    let component = format!("$CI_SERVER_FQDN/{PROJECT}/");
    assert!(text.contains(&component), "{name} includes {component}…");
    assert!(text.contains("@0.1.0"), "{name} names a release");
    text.replace("@0.1.0", "@$CI_COMMIT_SHA")
}

/// gitlab-ci-local in `dir`, jobs in the shell with artifacts isolated, with `args`.
fn gitlab_ci_local(dir: &Path, args: &[&str]) -> Output {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_multiarch")).parent().unwrap();
    let path = super::gitlab_path(bin_dir);
    // Node 20 crashes gitlab-ci-local: the node next to it (npm node-linux-*) must come first.
    let node = crate::github::require("node", &path);
    assert!(
        node.starts_with(repo_root().join("target/ci-tools/gitlab")),
        "the first node on PATH is {}, not the Node 22 that scripts/test installs",
        node.display()
    );
    let program = crate::github::require("gitlab-ci-local", &path);
    let home = dir.join("../gcl-home");
    std::fs::create_dir_all(&home).unwrap();
    let mut all = vec![
        "--force-shell-executor",
        "--shell-isolation",
        "--no-artifacts-to-source",
        "--no-color",
        "--max-job-name-padding",
        "0",
        "--home",
        home.to_str().unwrap(),
        // Relative: multiarch resolves it against the directory the job runs in.
        "--variable",
        "CI_PROJECT_DIR=.",
    ];
    all.extend(args);
    let ignored = if args.contains(&"--variable") {
        "CI_PROJECT_DIR,CI_REGISTRY,CI_REGISTRY_USER,CI_REGISTRY_PASSWORD"
    } else {
        "CI_PROJECT_DIR"
    };
    all.extend(["--ignore-predefined-vars", ignored]);
    tool(program.to_str().unwrap(), &all)
        .env("PATH", &path)
        .current_dir(dir)
        .run()
}

fn log(output: &Output) -> String {
    format!("{}\n{}", output.stdout, output.stderr)
}

#[track_caller]
fn assert_failed(output: &Output, needle: &str) {
    let log = log(output);
    assert_ne!(output.code, 0, "the pipeline should have failed:\n{log}");
    assert!(log.contains(needle), "expected {needle:?} in:\n{log}");
    assert!(
        !log.contains("panicked"),
        "a panic reached the user:\n{log}"
    );
}

/// The manifest at `reference` as skopeo reads it from the registry with its credentials.
fn skopeo_raw(reference: &str) -> String {
    let creds = format!("{USER}:{PASSWORD}");
    tool(
        "skopeo",
        &[
            "inspect",
            "--raw",
            "--tls-verify=false",
            "--creds",
            &creds,
            &format!("docker://{reference}"),
        ],
    )
    .run()
    .success()
    .stdout
}

/// The platforms (`os/arch`) and annotations of the index at `reference`.
fn index(reference: &str) -> (Vec<String>, serde_json::Value) {
    let raw = skopeo_raw(reference);
    let index: serde_json::Value = serde_json::from_str(&raw).unwrap();
    let platforms = index["manifests"]
        .as_array()
        .unwrap_or_else(|| panic!("{reference} is not an index: {raw}"))
        .iter()
        .map(|m| {
            format!(
                "{}/{}",
                m["platform"]["os"].as_str().unwrap(),
                m["platform"]["architecture"].as_str().unwrap()
            )
        })
        .collect();
    (platforms, index["annotations"].clone())
}

#[test]
fn the_multiarch_component_builds_each_platform_and_merges_under_gitlab_ci_local() {
    let registry = Registry::start_with(Options {
        auth: true,
        ..Options::default()
    });
    let work = tempdir();
    let dir = work.path().join("app");
    std::fs::create_dir(&dir).unwrap();
    let sha = project(&dir, &example("multiarch.gitlab-ci.yml"));

    let registry_variable = format!("CI_REGISTRY={}", registry.host);
    let user = format!("CI_REGISTRY_USER={USER}");
    let password = format!("CI_REGISTRY_PASSWORD={PASSWORD}");
    let output = gitlab_ci_local(
        &dir,
        &[
            "--variable",
            &registry_variable,
            "--variable",
            &user,
            "--variable",
            &password,
        ],
    );
    let log = log(&output);
    assert_eq!(output.code, 0, "the pipeline failed:\n{log}");
    for job in [
        "PASS  multiarch-build: [linux/amd64,saas-linux-small-amd64]",
        "PASS  multiarch-build: [linux/arm64,saas-linux-small-arm64]",
        "PASS  multiarch-merge",
    ] {
        assert!(log.contains(job), "no {job:?} in:\n{log}");
    }
    assert!(
        !log.contains(PASSWORD),
        "the registry password was printed:\n{log}"
    );

    // $CI_REGISTRY_IMAGE is $CI_REGISTRY/<project path>; tags as computed on the default branch.
    let image = registry.at(PROJECT);
    let mut digests = Vec::new();
    for tag in [
        "main".to_owned(),
        "latest".to_owned(),
        // CI_COMMIT_SHORT_SHA: gitlab-ci-local, as GitLab, gives 8 hex digits.
        sha[..8].to_owned(),
    ] {
        let reference = format!("{image}:{tag}");
        let (platforms, annotations) = index(&reference);
        assert_eq!(platforms, ["linux/amd64", "linux/arm64"], "{reference}");
        assert_eq!(
            annotations["org.opencontainers.image.vendor"], "Example",
            "{reference}: the annotations input"
        );
        assert_eq!(
            annotations["org.opencontainers.image.revision"],
            sha.as_str()
        );
        assert_eq!(
            annotations["org.opencontainers.image.source"],
            "https://gitlab.example.com/multiarch-dev/multiarch"
        );
        digests.push(skopeo_raw(&reference));
    }
    assert!(
        digests.windows(2).all(|w| w[0] == w[1]),
        "one index under every tag"
    );

    // The merge job's dotenv report names the index, for the jobs after it.
    let env = std::fs::read_to_string(dir.join(
        ".gitlab-ci-local/artifacts/multiarch-merge/.gitlab-ci-reports/dotenv/multiarch.env",
    ))
    .unwrap_or_else(|e| panic!("no dotenv report of the merge job ({e}):\n{log}"));
    assert!(env.contains("MULTIARCH_DIGEST=sha256:"), "{env}");
    assert!(
        env.contains(&format!("MULTIARCH_IMAGE_REF={image}@sha256:")),
        "{env}"
    );
}

#[test]
fn build_and_merge_components_dry_run_through_oci_layout_artifacts() {
    // push: false for every component (gitlab-ci-local's --input sets an input of every component
    // include): no registry at all. The build jobs run first; their directories are then deleted,
    // so the merge job, run on its own, has only what GitLab would give it: the artifacts of the
    // jobs it needs (records, and the OCI layouts the images are in).
    let work = tempdir();
    let dir = work.path().join("app");
    std::fs::create_dir(&dir).unwrap();
    project(&dir, &example("build-and-merge.gitlab-ci.yml"));
    let push = ["--input", "push=false"];

    let builds = gitlab_ci_local(&dir, &[&push[..], &["build-amd64", "build-arm64"]].concat());
    let log_builds = log(&builds);
    assert_eq!(builds.code, 0, "the build jobs failed:\n{log_builds}");
    for job in ["build-amd64", "build-arm64"] {
        let own = dir.join(".gitlab-ci-local/builds").join(job);
        std::fs::remove_dir_all(&own)
            .unwrap_or_else(|e| panic!("{}: {e}\n{log_builds}", own.display()));
    }

    let merge = gitlab_ci_local(&dir, &[&push[..], &["multiarch-merge"]].concat());
    let log_merge = log(&merge);
    assert_eq!(merge.code, 0, "the merge job failed:\n{log_merge}");
    assert!(log_merge.contains("PASS  multiarch-merge"), "{log_merge}");

    // The index, in the merge job's own layout artifact, tagged as on the default branch.
    let layout = dir.join(".gitlab-ci-local/artifacts/multiarch-merge/multiarch-oci");
    let raw = tool(
        "skopeo",
        &[
            "inspect",
            "--raw",
            &format!("oci:{}:latest", layout.display()),
        ],
    )
    .run()
    .success()
    .stdout;
    let index: serde_json::Value = serde_json::from_str(&raw).unwrap();
    let architectures: Vec<&str> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["platform"]["architecture"].as_str().unwrap())
        .collect();
    assert_eq!(architectures, ["amd64", "arm64"], "{raw}");
}

#[test]
fn an_unknown_platform_fails_the_pipeline_with_a_clear_message() {
    // The whole flow: the bad platform's build job fails in the binary, and the merge never runs.
    let work = tempdir();
    let dir = work.path().join("app");
    std::fs::create_dir(&dir).unwrap();
    project(
        &dir,
        &format!(
            "include:\n  - component: $CI_SERVER_FQDN/{PROJECT}/multiarch@$CI_COMMIT_SHA\n    inputs:\n      push: false\n      platforms: [linux/amd64x/!]\n      runner-tags:\n        - {{ MULTIARCH_PLATFORM: linux/amd64x/!, MULTIARCH_RUNNER_TAG: x }}\n"
        ),
    );
    let output = gitlab_ci_local(&dir, &[]);
    assert_failed(&output, "unknown platform string \"linux/amd64x/!\"");
    assert!(
        !log(&output).contains("PASS  multiarch-merge"),
        "{}",
        log(&output)
    );

    // The build component: its platform input's regex refuses it before any job runs.
    let work = tempdir();
    let dir = work.path().join("app");
    std::fs::create_dir(&dir).unwrap();
    project(
        &dir,
        &format!(
            "include:\n  - component: $CI_SERVER_FQDN/{PROJECT}/build@$CI_COMMIT_SHA\n    inputs:\n      platform: linux/amd64x/!\n      runner-tag: x\n"
        ),
    );
    let output = gitlab_ci_local(&dir, &[]);
    assert_failed(&output, "does not match required regex");
}

#[test]
fn empty_platforms_fail_the_pipeline_with_a_clear_message() {
    // The build jobs get the platforms too and refuse before building: nothing is pushed.
    let registry = Registry::start();
    let work = tempdir();
    let dir = work.path().join("app");
    std::fs::create_dir(&dir).unwrap();
    let image = registry.at("org/empty");
    project(
        &dir,
        &format!(
            "include:\n  - component: $CI_SERVER_FQDN/{PROJECT}/multiarch@$CI_COMMIT_SHA\n    inputs:\n      image: {image}\n      platforms: []\n"
        ),
    );
    let output = gitlab_ci_local(&dir, &[]);
    assert_failed(&output, "MULTIARCH_PLATFORMS is empty");
    let writes: Vec<String> = registry
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET" && r.method != "HEAD")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(writes.is_empty(), "nothing may be written: {writes:?}");
}
