//! No secret reaches any output: every command that talks to a registry, with every way of
//! giving credentials, against basic auth and bearer tokens, at the most verbose logging, in
//! success and in failure; nothing on stdout, stderr or in the files written. And credential
//! helpers: one that fails stops the command (never anonymous access), and a helper's name is
//! never given to a shell.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::harness::registry::{Options, PASSWORD, USER};
use crate::harness::{Output, Registry, Run, base64, fixtures, multiarch, repo_root, tempdir};

/// A wrong password, as secret as the right one.
const WRONG: &str = "wr0ng-but-Secret-passw0rd";

/// How a command is given the password.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// `--username` + `--password-stdin`
    Stdin,
    /// `--username` + MULTIARCH_PASSWORD
    Env,
    /// `auths` in Docker's config.json, base64(user:password)
    AuthFile,
}

/// Every form a secret could leak in.
fn secrets() -> Vec<String> {
    [PASSWORD, WRONG]
        .iter()
        .flat_map(|password| {
            let pair = format!("{USER}:{password}");
            [password.to_string(), base64(pair.as_bytes()), pair]
        })
        .collect()
}

/// The first JSON Web Token in `text`: three base64url parts joined by dots, the first starting
/// `eyJ` (`{"`). Every bearer token the test token service issues is one.
fn find_jwt(text: &str) -> Option<&str> {
    let is_part = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(at) = text[from..].find("eyJ").map(|i| from + i) {
        let mut end = at;
        let mut parts = 0;
        loop {
            let start = end;
            while end < bytes.len() && is_part(bytes[end]) {
                end += 1;
            }
            if end - start < 10 {
                break;
            }
            parts += 1;
            if parts == 3 || end >= bytes.len() || bytes[end] != b'.' {
                break;
            }
            end += 1;
        }
        if parts == 3 {
            return Some(&text[at..end]);
        }
        from = at + 3;
    }
    None
}

#[track_caller]
fn assert_no_secret(what: &str, text: &str) {
    for secret in secrets() {
        assert!(
            !text.contains(&secret),
            "{what}: {secret:?} leaked:\n{text}"
        );
    }
    if let Some(token) = find_jwt(text) {
        panic!("{what}: a bearer token leaked: {token}\n{text}");
    }
}

#[track_caller]
fn assert_output_clean(out: &Output) {
    assert_no_secret(&format!("stdout of {}", out.command), &out.stdout);
    assert_no_secret(&format!("stderr of {}", out.command), &out.stderr);
    assert!(
        !out.stderr.contains("panicked"),
        "a panic reached the user:\n{}",
        out.stderr
    );
}

/// Every file under `dir`, read as text.
fn assert_files_clean(dir: &Path) {
    for entry in std::fs::read_dir(dir).expect("read a written directory") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            assert_files_clean(&path);
        } else {
            let bytes = std::fs::read(&path).expect("read a written file");
            assert_no_secret(
                &path.display().to_string(),
                &String::from_utf8_lossy(&bytes),
            );
        }
    }
}

/// `multiarch --debug ARGS…` at RUST_LOG=trace, given `password` from `source` for `registry`;
/// an auth file goes into `work`.
fn logged_in(
    args: &[&str],
    source: Source,
    password: &str,
    registry: &Registry,
    work: &Path,
) -> Run {
    let mut all = vec!["--debug"];
    all.extend_from_slice(args);
    let run = match source {
        Source::Stdin => {
            all.extend(["--username", USER, "--password-stdin"]);
            multiarch(&all).stdin(password)
        }
        Source::Env => {
            all.extend(["--username", USER]);
            multiarch(&all).env("MULTIARCH_PASSWORD", password)
        }
        Source::AuthFile => {
            let config = work.join("docker");
            std::fs::create_dir_all(&config).expect("config dir");
            std::fs::write(
                config.join("config.json"),
                format!(
                    r#"{{"auths":{{"{}":{{"auth":"{}"}}}}}}"#,
                    registry.host,
                    base64(format!("{USER}:{password}").as_bytes())
                ),
            )
            .expect("write config.json");
            multiarch(&all).env("DOCKER_CONFIG", config)
        }
    };
    run.env("RUST_LOG", "trace")
}

/// build --push (with a record), record, manifest push, inspect: each with `password` from
/// `source`, in that order. With the right password the fan-in reads the records the first two
/// wrote; with a wrong one (no records) it names its children. Returns every output; the files
/// the commands write go under `work/out`.
fn every_command(registry: &Registry, source: Source, password: &str, work: &Path) -> Vec<Output> {
    let name = format!("{source:?}").to_lowercase();
    let records = work.join("out/records");
    let records_dir = records.to_str().expect("utf-8 path");
    let context = repo_root().join("examples/build");
    let built = registry.at(&format!("private/built:{name}"));
    let (amd64, arm64) = (
        registry.at("private/app:amd64"),
        registry.at("private/app:arm64"),
    );
    let index = registry.at(&format!("private/app:{name}"));
    let children = if password == PASSWORD {
        vec!["--records", records_dir]
    } else {
        vec![amd64.as_str(), arm64.as_str()]
    };
    let mut fan_in = vec!["manifest", "push", "--tag", &index];
    fan_in.extend(children);
    let commands: [Vec<&str>; 4] = [
        vec![
            "build",
            "--platform",
            "linux/arm64",
            "--context",
            context.to_str().expect("utf-8 path"),
            "--push",
            "--tag",
            &built,
            "--records",
            records_dir,
        ],
        vec!["record", &amd64, "--out", records_dir],
        fan_in,
        vec!["inspect", &index],
    ];
    commands
        .iter()
        .map(|args| {
            logged_in(args, source, password, registry, work)
                .env("MULTIARCH_CACHE_DIR", work.join("out/cache"))
                .run()
        })
        .collect()
}

#[test]
fn no_secret_in_any_output_or_file() {
    for options in [
        Options {
            auth: true,
            ..Options::default()
        },
        Options {
            token: true,
            ..Options::default()
        },
    ] {
        let (registry, _) = crate::auth::registry_with_images(options);
        for source in [Source::Stdin, Source::Env, Source::AuthFile] {
            let work = tempdir();
            for out in every_command(&registry, source, PASSWORD, work.path()) {
                assert!(
                    out.stderr.contains("TRACE") || out.stderr.contains("DEBUG"),
                    "{options:?} {source:?}: debug output was produced:\n{}",
                    out.stderr
                );
                assert_output_clean(&out.success());
            }
            assert_files_clean(&work.path().join("out"));

            // A wrong password: every command fails, and says nothing secret either.
            let work = tempdir();
            for out in every_command(&registry, source, WRONG, work.path()) {
                assert_output_clean(&out.failure(1, "credentials"));
            }
            if work.path().join("out").exists() {
                assert_files_clean(&work.path().join("out"));
            }
        }
        if options.token {
            assert!(registry.tokens_issued() > 0, "bearer tokens were used");
        }
    }
}

#[test]
fn the_leak_checks_catch_leaks() {
    let token = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJtdWx0aWFyY2gifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ";
    assert_eq!(
        find_jwt(&format!("authorization: Bearer {token}\n")),
        Some(token)
    );
    assert_eq!(
        find_jwt("eyJhbGciOiJFUzI1NiJ9 alone, and eyJ.short.parts"),
        None
    );
    for secret in secrets() {
        let caught =
            std::panic::catch_unwind(|| assert_no_secret("test", &format!("header: {secret} end")));
        assert!(caught.is_err(), "{secret} not caught");
    }
}

/// A directory on PATH with `docker-credential-failing`, which says why on stderr and exits 1.
fn failing_helper(dir: &Path) -> String {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("bin dir");
    let helper = bin.join("docker-credential-failing");
    std::fs::write(
        &helper,
        "#!/bin/sh\ncat >/dev/null\necho 'the vault is sealed' >&2\nexit 1\n",
    )
    .expect("write the helper");
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755))
        .expect("make it executable");
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// A Docker config dir whose `credHelpers` sends `host` to `helper`.
fn helper_config(dir: &Path, host: &str, helper: &str) -> std::path::PathBuf {
    let config = dir.join("docker");
    std::fs::create_dir_all(&config).expect("config dir");
    let json = serde_json::json!({ "credHelpers": { host: helper } });
    std::fs::write(config.join("config.json"), json.to_string()).expect("write config.json");
    config
}

/// The registry needs no credentials, so anonymous access would work: only a refusal to fall
/// back to it makes these commands fail.
#[test]
fn a_failing_credential_helper_stops_the_command_before_it_reaches_the_registry() {
    let registry = Registry::start();
    let repo = registry.at("app");
    fixtures::push_hello_images(&repo, &["linux/amd64", "linux/arm64"]);
    let dir = tempdir();
    let path = failing_helper(dir.path());
    let config = helper_config(dir.path(), &registry.host, "failing");
    let context = repo_root().join("examples/build");
    let (amd64, arm64, target) = (
        format!("{repo}:amd64-latest"),
        format!("{repo}:arm64-latest"),
        format!("{repo}:latest"),
    );
    let records = tempdir();
    let commands: [Vec<&str>; 4] = [
        vec![
            "build",
            "--platform",
            "linux/amd64",
            "--context",
            context.to_str().expect("utf-8 path"),
            "--push",
            "--tag",
            &target,
        ],
        vec!["manifest", "push", "--tag", &target, &amd64, &arm64],
        vec!["inspect", &amd64],
        vec!["record", &amd64, "--out", records.path().to_str().unwrap()],
    ];
    for args in commands {
        let before = registry.requests().len();
        let out = multiarch(&args)
            .env("DOCKER_CONFIG", &config)
            .env("PATH", &path)
            .run()
            .failure(1, "docker-credential-failing");
        assert!(
            out.stderr.contains("the vault is sealed"),
            "the helper's own words are passed on:\n{}",
            out.stderr
        );
        let requests = registry.requests_since(before);
        assert!(
            requests.is_empty(),
            "{}: nothing but the version check may reach the registry: {requests:?}",
            args[0]
        );
    }
    assert!(
        std::fs::read_dir(records.path()).unwrap().next().is_none(),
        "no record written"
    );
}

#[test]
fn a_credential_helper_name_is_never_given_to_a_shell() {
    let registry = Registry::start();
    let reference = registry.at("app:1");
    for name in [
        "x;touch pwned",
        "x && touch pwned",
        "x|touch pwned",
        "$(touch pwned)",
        "`touch pwned`",
    ] {
        let dir = tempdir();
        let config = helper_config(dir.path(), &registry.host, name);
        let out = multiarch(&["inspect", &reference])
            .env("DOCKER_CONFIG", &config)
            .current_dir(dir.path())
            .run()
            .failure(1, "credential helper");
        assert!(
            !dir.path().join("pwned").exists(),
            "{name:?} was run through a shell:\n{}",
            out.stderr
        );
    }
}
