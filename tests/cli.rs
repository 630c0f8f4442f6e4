//! The command line: help, and a corpus of bad input, each with its message and exit code.

use crate::harness::{Registry, fixtures, multiarch, tempdir};

#[test]
fn help_explains_the_verbs_and_their_options() {
    let out = multiarch(&["--help"]).run().success();
    for verb in ["inspect", "record", "manifest"] {
        assert!(out.stdout.contains(verb), "{}", out.stdout);
    }
    let out = multiarch(&["manifest", "push", "--help"]).run().success();
    for option in [
        "--tag",
        "--records",
        "--expect-platforms",
        "--annotation",
        "--format",
        "--append",
        "--dry-run",
        "SOURCE_REF",
    ] {
        assert!(
            out.stdout.contains(option),
            "{option} missing from:\n{}",
            out.stdout
        );
    }
    let out = multiarch(&["--version"]).run().success();
    assert!(out.stdout.starts_with("multiarch "), "{}", out.stdout);
}

/// Each case: arguments, exit code, and (for the snapshot) the message.
fn corpus(registry: &Registry, records: &std::path::Path) -> Vec<(String, Vec<String>)> {
    let repo = registry.at("app");
    let tag = format!("{repo}:latest");
    let r = |p: &str| records.join(p).display().to_string();
    [
        vec!["inspect", "ghcr.io/Team/App:1"],
        vec!["inspect", "ghcr.io/team/app:-1"],
        vec!["inspect", "ghcr.io/team/app@sha256:1234"],
        vec!["inspect", "ghcr.io/team/app@md5:1234"],
        vec!["inspect", "oci:"],
        vec!["inspect", "--platform", "linux", "alpine"],
        vec!["inspect", "--platform", "Linux/AMD64", "alpine"],
        vec!["inspect", "--format", "yaml", "alpine"],
        vec![
            "manifest",
            "push",
            tag.as_str(),
            "--records",
            records.to_str().unwrap(),
        ],
        vec!["manifest", "push", "--tag", tag.as_str()],
        vec![
            "manifest",
            "push",
            "--tag",
            &format!("{repo}@sha256:{}", "a".repeat(64)),
            &format!("{repo}:x"),
        ],
        vec![
            "manifest",
            "push",
            "--tag",
            tag.as_str(),
            "--expect-platforms",
            " , ",
            &format!("{repo}:x"),
        ],
        vec![
            "manifest",
            "push",
            "--tag",
            tag.as_str(),
            "--annotation",
            "novalue",
            &format!("{repo}:x"),
        ],
        vec![
            "manifest",
            "push",
            "--tag",
            tag.as_str(),
            "--records",
            &r("missing.json"),
        ],
        vec![
            "manifest",
            "push",
            "--tag",
            tag.as_str(),
            "--records",
            &r("not-json.json"),
        ],
        vec![
            "manifest",
            "push",
            "--tag",
            tag.as_str(),
            "--records",
            &r("future.json"),
        ],
        vec![
            "manifest",
            "push",
            "--tag",
            tag.as_str(),
            "--records",
            &r("index-record.json"),
        ],
        vec![
            "manifest",
            "push",
            "--tag",
            tag.as_str(),
            "--records",
            &r("empty"),
        ],
        vec![
            "manifest",
            "push",
            "--tag",
            tag.as_str(),
            "--password-stdin",
            &format!("{repo}:x"),
        ],
        vec![
            "manifest",
            "push",
            "--tag",
            tag.as_str(),
            "--username",
            "me",
            &format!("{repo}:x"),
        ],
        vec![
            "manifest",
            "push",
            "--tag",
            tag.as_str(),
            "--ca-file",
            &r("not-a-cert.pem"),
            &format!("{repo}:x"),
        ],
        vec!["inspect", &format!("{repo}:does-not-exist")],
        vec![
            "inspect",
            "--retries",
            "1",
            "--retry-delay",
            "1",
            "127.0.0.1:9/app:1",
        ],
        vec!["inspect", &format!("oci:{}:x", records.display())],
    ]
    .into_iter()
    .map(|args| {
        let shown = args.join(" ");
        (shown, args.into_iter().map(str::to_owned).collect())
    })
    .collect()
}

#[test]
fn bad_input_gets_a_clear_error_and_the_right_exit_code() {
    let registry = Registry::start();
    let dir = tempdir();
    let records = dir.path();
    std::fs::write(records.join("not-json.json"), "{ this is not json").unwrap();
    let valid = format!(
        r#"{{"schema":"multiarch.record.v1","image":"{}","digest":"sha256:{}","mediaType":"application/vnd.oci.image.manifest.v1+json","size":10,"platform":{{"os":"linux","architecture":"amd64"}}}}"#,
        registry.at("app"),
        "a".repeat(64)
    );
    std::fs::write(records.join("future.json"), valid.replace(".v1", ".v7")).unwrap();
    std::fs::write(
        records.join("index-record.json"),
        valid.replace("image.manifest.v1", "image.index.v1"),
    )
    .unwrap();
    std::fs::create_dir(records.join("empty")).unwrap();
    std::fs::write(records.join("not-a-cert.pem"), "hello").unwrap();

    let mut transcript = String::new();
    for (shown, args) in corpus(&registry, records) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = multiarch(&args).run();
        assert!(
            out.code == 1 || out.code == 2,
            "{shown}: exit code {}\n{}",
            out.code,
            out.stderr
        );
        assert!(
            !out.stderr.contains("panicked"),
            "{shown}: a panic reached the user:\n{}",
            out.stderr
        );
        assert!(
            out.stdout.is_empty(),
            "{shown}: nothing may be printed on stdout on failure:\n{}",
            out.stdout
        );
        // clap's usage and help footers are the same for every case; keep the first paragraph.
        let message = out.stderr.split("\n\n").next().unwrap_or_default().trim();
        transcript.push_str(&format!(
            "$ multiarch {shown}\n[exit {}] {message}\n\n",
            out.code
        ));
    }
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(&regex_escape(&registry.host), "[REGISTRY]");
    settings.add_filter(&regex_escape(&records.display().to_string()), "[DIR]");
    settings.add_filter(r"sha256:[a-f0-9]{64}", "[DIGEST]");
    settings.add_filter(r"in \d+\.\d s;", "in [SECONDS] s;");
    settings.bind(|| insta::assert_snapshot!("bad_input", transcript));
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '/' {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

#[test]
fn nothing_is_published_when_a_check_fails() {
    let registry = Registry::start();
    let repo = registry.at("app");
    fixtures::push_hello_images(&repo, &["linux/amd64", "linux/arm64"]);
    let out = multiarch(&[
        "manifest",
        "push",
        "--tag",
        &format!("{repo}:latest"),
        "--expect-platforms",
        "linux/amd64,linux/arm64,linux/s390x",
        &format!("{repo}:amd64-latest"),
        &format!("{repo}:arm64-latest"),
    ])
    .run()
    .failure(1, "missing: linux/s390x");
    assert!(out.stderr.contains("a build leg failed"), "{}", out.stderr);
    let puts: Vec<_> = registry
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT" && r.path.contains("/manifests/latest"))
        .collect();
    assert!(puts.is_empty(), "the tag was written: {puts:?}");
    multiarch(&["inspect", &format!("{repo}:latest")])
        .run()
        .failure(1, "was not found");
}

#[test]
fn verbosity_flags_and_rust_log_work() {
    let registry = Registry::start();
    let repo = registry.at("app");
    fixtures::push_hello_images(&repo, &["linux/amd64"]);
    let image = format!("{repo}:amd64-latest");
    let quiet = multiarch(&["inspect", &image]).run().success();
    assert!(!quiet.stderr.contains("DEBUG"), "{}", quiet.stderr);
    let verbose = multiarch(&["-v", "inspect", &image]).run().success();
    assert!(verbose.stderr.contains("DEBUG"), "{}", verbose.stderr);
    let debug = multiarch(&["--debug", "inspect", &image]).run().success();
    assert!(
        debug.stderr.contains("registry request") && debug.stderr.contains("/v2/app/manifests/"),
        "--debug shows each registry request:\n{}",
        debug.stderr
    );
    let env = multiarch(&["inspect", &image])
        .env("RUST_LOG", "multiarch_core=debug")
        .run()
        .success();
    assert!(env.stderr.contains("DEBUG"), "{}", env.stderr);
    assert_eq!(quiet.stdout, verbose.stdout, "logs never go to stdout");
}
