//! Errors: mistakes in the Dockerfile name the line and the culprit; bad options are usage errors.

use super::{DOCKERFILE_MISTAKE, build, fails, s, write};
use crate::harness::{multiarch, tempdir};

#[test]
fn dockerfile_errors_name_the_line_and_the_culprit() {
    let work = tempdir();
    let context = work.path().join("context");
    write(
        &context,
        &[
            ("Dockerfile", "FROM scratch\nCOPY a.txt /\n"),
            ("a.txt", "a\n"),
            (
                "unknown.Dockerfile",
                "FROM scratch\nCOPY a.txt /\nFROBNICATE now\n",
            ),
            (
                "missing.Dockerfile",
                "FROM scratch\nCOPY a.txt /\nCOPY missing-file.txt /\n",
            ),
            ("escape.Dockerfile", "FROM scratch\nCOPY ../outside.txt /\n"),
            (
                "stages.Dockerfile",
                "FROM scratch AS first\nCOPY a.txt /\nFROM scratch AS second\nCOPY a.txt /\n",
            ),
        ],
    );
    write(work.path(), &[("outside.txt", "not in the context\n")]);
    let ctx = s(&context);
    let output = format!("oci:{}:v1", work.path().join("out").display());
    let with_file = |file: &str, extra: &[&str]| {
        let file = context.join(file);
        let mut args = vec![
            "--platform",
            "linux/amd64",
            "--context",
            ctx,
            "--file",
            s(&file),
            "--output",
            &output,
        ];
        args.extend_from_slice(extra);
        build(&args).run()
    };

    let out = fails(
        with_file("unknown.Dockerfile", &[]),
        DOCKERFILE_MISTAKE,
        &["line 3", "frobnicate"],
    );
    assert!(out.stderr.contains("unknown.Dockerfile"), "{}", out.stderr);
    fails(
        with_file("missing.Dockerfile", &[]),
        DOCKERFILE_MISTAKE,
        &["missing-file.txt"],
    );
    fails(
        with_file("escape.Dockerfile", &[]),
        DOCKERFILE_MISTAKE,
        &["outside.txt"],
    );
    fails(
        with_file("stages.Dockerfile", &["--target", "nosuchstage"]),
        DOCKERFILE_MISTAKE,
        &["nosuchstage"],
    );
    fails(
        with_file("no-such.Dockerfile", &[]),
        DOCKERFILE_MISTAKE,
        &["no-such.Dockerfile"],
    );
    assert!(
        !work.path().join("out/index.json").exists(),
        "nothing written on failure"
    );
}

#[test]
fn option_errors_are_usage_errors() {
    let context = tempdir();
    write(
        context.path(),
        &[
            ("Dockerfile", "FROM scratch\nCOPY a.txt /\n"),
            ("a.txt", "a\n"),
        ],
    );
    let ctx = s(context.path());
    let layout = format!("oci:{}:v1", context.path().join("out").display());
    fails(build(&["--context", ctx, "--push"]).run(), &[2], &["--tag"]);
    fails(
        build(&[
            "--context",
            ctx,
            "--push",
            "--tag",
            "127.0.0.1:1/app:1",
            "--output",
            &layout,
        ])
        .run(),
        &[2],
        &["--push", "--output"],
    );
    fails(
        build(&["--context", ctx, "--engine", "bogus", "--output", &layout]).run(),
        &[2],
        &["bogus"],
    );
    fails(
        build(&[
            "--context",
            ctx,
            "--compression",
            "lz4",
            "--output",
            &layout,
        ])
        .run(),
        &[2],
        &["lz4"],
    );
    fails(
        build(&[
            "--context",
            ctx,
            "--platform",
            "Linux/AMD64",
            "--output",
            &layout,
        ])
        .run(),
        &[2],
        &["Linux/AMD64"],
    );
    let out = multiarch(&["build", "--help"]).run().success();
    for option in [
        "--platform",
        "--context",
        "--file",
        "--target",
        "--build-arg",
        "--label",
        "--annotation",
        "--engine",
        "--tag",
        "--push",
        "--output",
        "--records",
        "--compression",
        "--dry-run",
    ] {
        assert!(
            out.stdout.contains(option),
            "{option} missing:\n{}",
            out.stdout
        );
    }
}

#[test]
fn hostile_names_are_refused_and_nothing_lands_outside() {
    let work = tempdir();
    let context = work.path().join("context");
    let outside = work.path().join("pwned");
    let escaping = format!(
        "FROM scratch\nCOPY <<{} /x\nowned\n{}\n",
        "../../../../../../..".to_owned() + &outside.display().to_string(),
        "../../../../../../..".to_owned() + &outside.display().to_string(),
    );
    for dockerfile in [
        escaping.as_str(),
        "FROM scratch\nCOPY <<EOF/../../x /x\nowned\nEOF/../../x\n",
    ] {
        write(&context, &[("Dockerfile", dockerfile)]);
        let out = build(&["--context", s(&context)]).run();
        fails(out, &[2], &["line 2", "plain name"]);
        assert!(!outside.exists(), "a heredoc name wrote outside the build");
    }

    // A context file named like a whiteout would delete files of the image underneath.
    write(
        &context,
        &[
            ("Dockerfile", "FROM scratch\nCOPY w/ /\n"),
            ("w/.wh.important", ""),
        ],
    );
    let out = build(&["--context", s(&context)]).run();
    fails(out, DOCKERFILE_MISTAKE, &["line 2", ".wh.important"]);
}
