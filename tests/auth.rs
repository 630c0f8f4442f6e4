//! TLS and credentials against a registry with htpasswd basic auth and a certificate from a CA made
//! for the test: every credential source, clear refusals, and no secret in any output.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::harness::registry::{Options, PASSWORD, USER};
use crate::harness::{Registry, base64, fixtures, multiarch, tempdir};

/// A registry with `options`, holding `private/app:amd64` and `private/app:arm64`, pushed with
/// the test credentials. Returns it with the amd64 image's reference.
pub(crate) fn registry_with_images(options: Options) -> (Registry, String) {
    let registry = Registry::start_with(options);
    let layout = tempdir();
    let creds = format!("{USER}:{PASSWORD}");
    for (platform, tag) in [("linux/amd64", "amd64"), ("linux/arm64", "arm64")] {
        fixtures::Image::hello(platform).write(layout.path(), Some(tag));
        fixtures::push_as(
            layout.path(),
            tag,
            &registry.at(&format!("private/app:{tag}")),
            false,
            Some(&creds),
        );
    }
    let reference = registry.at("private/app:amd64");
    (registry, reference)
}

fn secure_registry() -> (Registry, String) {
    registry_with_images(Options {
        auth: true,
        tls: true,
        ..Options::default()
    })
}

fn write_config(dir: &Path, json: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("config.json"), json).unwrap();
}

#[test]
fn tls_is_verified_and_a_private_ca_can_be_trusted() {
    let (registry, reference) = secure_registry();
    let ca = registry.ca();
    let ca = ca.to_str().unwrap();
    let out = multiarch(&["inspect", &reference])
        .run()
        .failure(1, "--ca-file");
    assert!(
        out.stderr.to_lowercase().contains("certificate"),
        "says why TLS failed:\n{}",
        out.stderr
    );
    multiarch(&["inspect", "--ca-file", ca, &reference])
        .run()
        .failure(
            1,
            &format!("no credentials were found for {}", registry.host),
        );
    let inspect_with_password = |password: &str| {
        multiarch(&[
            "inspect",
            "--ca-file",
            ca,
            "--username",
            USER,
            "--password-stdin",
            &reference,
        ])
        .stdin(password)
        .run()
    };
    inspect_with_password(&format!("{PASSWORD}\n")).success();
    multiarch(&["inspect", &reference])
        .env("SSL_CERT_FILE", ca)
        .env("MULTIARCH_USERNAME", USER)
        .env("MULTIARCH_PASSWORD", PASSWORD)
        .run()
        .success();
    inspect_with_password("wrong-password").failure(
        1,
        "did not let the credentials from --username/--password-stdin pull",
    );
}

#[test]
fn auth_files_and_credential_helpers() {
    let (registry, reference) = secure_registry();
    let ca = registry.ca();
    let ca = ca.to_str().unwrap();
    let dir = tempdir();
    let entry = format!(
        r#"{{"auths":{{"{}":{{"auth":"{}"}}}}}}"#,
        registry.host,
        base64(format!("{USER}:{PASSWORD}").as_bytes())
    );

    let docker = dir.path().join("docker");
    write_config(&docker, &entry);
    multiarch(&["inspect", "--ca-file", ca, &reference])
        .env("DOCKER_CONFIG", &docker)
        .run()
        .success();

    let auth_json = dir.path().join("auth.json");
    std::fs::write(&auth_json, &entry).unwrap();
    multiarch(&["inspect", "--ca-file", ca, &reference])
        .env("REGISTRY_AUTH_FILE", &auth_json)
        .run()
        .success();

    // A credential helper, run without a shell, found on PATH.
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let helper = bin.join("docker-credential-matest");
    std::fs::write(
        &helper,
        format!("#!/bin/sh\nread server\n[ \"$1\" = get ] || exit 3\nprintf '{{\"ServerURL\":\"%s\",\"Username\":\"{USER}\",\"Secret\":\"{PASSWORD}\"}}' \"$server\"\n"),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let failing = bin.join("docker-credential-broken");
    std::fs::write(
        &failing,
        "#!/bin/sh\nread server\necho 'keychain locked' >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&failing, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );

    let helpers = dir.path().join("helpers");
    write_config(
        &helpers,
        &format!(r#"{{"credHelpers":{{"{}":"matest"}}}}"#, registry.host),
    );
    multiarch(&["inspect", "--ca-file", ca, &reference])
        .env("DOCKER_CONFIG", &helpers)
        .env("PATH", &path)
        .run()
        .success();

    let broken = dir.path().join("broken");
    write_config(&broken, r#"{"credsStore":"broken"}"#);
    multiarch(&["inspect", "--ca-file", ca, &reference])
        .env("DOCKER_CONFIG", &broken)
        .env("PATH", &path)
        .run()
        .failure(1, "keychain locked");

    let unreadable = dir.path().join("unreadable");
    write_config(&unreadable, "{ not json");
    multiarch(&["inspect", "--ca-file", ca, &reference])
        .env("DOCKER_CONFIG", &unreadable)
        .run()
        .failure(1, "not valid JSON");
}

#[test]
fn secrets_never_reach_any_output() {
    let (registry, reference) = secure_registry();
    let ca = registry.ca();
    let ca = ca.to_str().unwrap();
    let encoded = base64(format!("{USER}:{PASSWORD}").as_bytes());
    let check = |out: &crate::harness::Output| {
        for secret in [PASSWORD, encoded.as_str()] {
            assert!(
                !out.stdout.contains(secret) && !out.stderr.contains(secret),
                "{secret} leaked:\n{}",
                out.stderr
            );
        }
    };
    let repo = registry.at("private/app");
    let out = multiarch(&[
        "--debug",
        "manifest",
        "push",
        "--ca-file",
        ca,
        "--username",
        USER,
        "--password-stdin",
        "--tag",
        &format!("{repo}:latest"),
        &reference,
        &format!("{repo}:arm64"),
    ])
    .env("RUST_LOG", "trace")
    .stdin(PASSWORD)
    .run()
    .success();
    assert!(
        out.stderr.contains("TRACE") || out.stderr.contains("DEBUG"),
        "debug output was produced"
    );
    check(&out);

    let docker = tempdir();
    write_config(
        docker.path(),
        &format!(
            r#"{{"auths":{{"{}":{{"auth":"{encoded}"}}}}}}"#,
            registry.host
        ),
    );
    let out = multiarch(&["--debug", "-vv", "inspect", "--ca-file", ca, &reference])
        .env("DOCKER_CONFIG", docker.path())
        .run()
        .success();
    check(&out);

    let out = multiarch(&[
        "--debug",
        "inspect",
        "--ca-file",
        ca,
        "--username",
        USER,
        "--password-stdin",
        &reference,
    ])
    .env("RUST_LOG", "trace")
    .stdin("a-wrong-but-secret-password")
    .run()
    .failure(1, "did not let");
    assert!(
        !out.stderr.contains("a-wrong-but-secret-password"),
        "{}",
        out.stderr
    );
}

#[test]
fn bearer_tokens_from_a_token_service() {
    let (registry, _) = registry_with_images(Options {
        token: true,
        ..Options::default()
    });
    let before = registry.tokens_issued();
    multiarch(&["inspect", &registry.at("private/app:amd64")])
        .run()
        .failure(1, "no credentials were found");
    let out = multiarch(&[
        "manifest",
        "push",
        "--username",
        USER,
        "--password-stdin",
        "--tag",
        &registry.at("private/app:latest"),
        "--expect-platforms",
        "linux/amd64,linux/arm64",
        &registry.at("private/app:amd64"),
        &registry.at("private/app:arm64"),
    ])
    .stdin(PASSWORD)
    .run()
    .success();
    assert!(
        out.stdout_line()
            .starts_with(&registry.at("private/app@sha256:")),
        "{}",
        out.stdout
    );
    assert!(
        registry.tokens_issued() > before,
        "the registry was reached with bearer tokens"
    );
    // Into another repository: its token covers only the target, so the registry refuses the
    // mount and the blobs are uploaded instead.
    multiarch(&[
        "manifest",
        "push",
        "--username",
        USER,
        "--password-stdin",
        "--tag",
        &registry.at("release/app:1"),
        &registry.at("private/app:amd64"),
    ])
    .stdin(PASSWORD)
    .run()
    .success();
    multiarch(&[
        "inspect",
        "--username",
        USER,
        "--password-stdin",
        &registry.at("private/app:latest"),
    ])
    .stdin("not-the-password")
    .run()
    .failure(
        1,
        "did not let the credentials from --username/--password-stdin pull",
    );
}

/// A build's first request to the registry is a blob HEAD, which carries no credentials of its
/// own: the stored ones must be used (basic auth and bearer tokens with push scope alike).
#[test]
fn build_pushes_to_registries_that_want_credentials() {
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
        let registry = Registry::start_with(options);
        let context = crate::harness::repo_root().join("examples/build");
        let out = multiarch(&[
            "build",
            "--platform",
            "linux/arm64",
            "--context",
            context.to_str().unwrap(),
            "--push",
            "--tag",
            &registry.at("private/built"),
            "--username",
            USER,
        ])
        .env("MULTIARCH_PASSWORD", PASSWORD)
        .run()
        .success();
        assert!(
            out.stdout.contains(&registry.at("private/built@sha256:")),
            "{options:?}: {}",
            out.stdout
        );
    }
}
