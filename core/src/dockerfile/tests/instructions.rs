use std::time::Duration;

use super::*;

#[test]
fn from_with_platform_and_name() {
    let file = parse("from --platform=$BUILDPLATFORM golang:1.23 As Build\nFROM alpine\n");
    let build = &file.stages[0];
    assert_eq!(build.index, 0);
    assert_eq!(build.name.as_deref(), Some("build"));
    assert_eq!(build.from.image, "golang:1.23");
    assert_eq!(build.from.platform.as_deref(), Some("$BUILDPLATFORM"));
    assert_eq!(build.line, 1);
    let last = &file.stages[1];
    assert_eq!((last.index, last.name.as_deref(), last.line), (1, None, 2));
    assert_eq!(last.from.platform, None);
    assert_eq!(file.stage("BUILD").map(|s| s.index), Some(0));
    assert_eq!(file.stage("1").map(|s| s.index), Some(1));
    assert!(file.stage("2").is_none());
    assert!(file.stage("other").is_none());
}

#[test]
fn stage_names_allow_digits_dashes_underscores_dots() {
    let file = parse("FROM a AS x1-y_z.w\n");
    assert_eq!(file.stages[0].name.as_deref(), Some("x1-y_z.w"));
}

#[test]
fn global_args_and_stage_args() {
    let file = parse("ARG BASE=alpine\nARG A B=\"x y\" C=\nFROM ${BASE}\nARG VERSION=1.0 OTHER\n");
    let globals: Vec<_> = file
        .global_args
        .iter()
        .map(|a| (a.line, a.value.name.as_str(), a.value.default.as_deref()))
        .collect();
    assert_eq!(
        globals,
        [
            (1, "BASE", Some("alpine")),
            (2, "A", None),
            (2, "B", Some("\"x y\"")),
            (2, "C", Some(""))
        ]
    );
    assert_eq!(file.stages[0].from.image, "${BASE}");
    let Instruction::Arg(args) = &file.stages[0].instructions[0].value else {
        panic!()
    };
    assert_eq!(args[0].default.as_deref(), Some("1.0"));
    assert_eq!(args[1].default, None);
}

#[test]
fn env_forms_keep_values_raw() {
    let got = one(r#"ENV A=1 B="two words" C=x\ y D='$E' E=a=b"#);
    let want = [
        ("A", "1"),
        ("B", "\"two words\""),
        ("C", r"x\ y"),
        ("D", "'$E'"),
        ("E", "a=b"),
    ];
    assert_eq!(got, Instruction::Env(pairs(&want)));
    assert_eq!(
        one("ENV PATH /opt/bin:$PATH  and more"),
        Instruction::Env(pairs(&[("PATH", "/opt/bin:$PATH  and more")]))
    );
}

#[test]
fn label_forms() {
    let got = one(r#"LABEL org.opencontainers.image.title="My app" "quoted key"=v"#);
    let want = [
        ("org.opencontainers.image.title", "\"My app\""),
        ("\"quoted key\"", "v"),
    ];
    assert_eq!(got, Instruction::Label(pairs(&want)));
    assert_eq!(
        one("LABEL version 1.0"),
        Instruction::Label(pairs(&[("version", "1.0")]))
    );
}

#[test]
fn single_value_instructions_keep_the_whole_text() {
    assert_eq!(
        one("WORKDIR /my dir/$SUB"),
        Instruction::Workdir("/my dir/$SUB".into())
    );
    assert_eq!(one("USER app:app"), Instruction::User("app:app".into()));
    assert_eq!(
        one("STOPSIGNAL SIGKILL"),
        Instruction::StopSignal("SIGKILL".into())
    );
    let maintainer = one("MAINTAINER Jane Doe <jane@example.com>");
    assert_eq!(
        maintainer,
        Instruction::Maintainer("Jane Doe <jane@example.com>".into())
    );
}

#[test]
fn expose_words() {
    let got = one("EXPOSE 80 443/tcp\t53/udp $PORTS");
    assert_eq!(
        got,
        Instruction::Expose(strings(&["80", "443/tcp", "53/udp", "$PORTS"]))
    );
}

#[test]
fn entrypoint_and_cmd_in_both_forms() {
    let exec = one(r#"ENTRYPOINT ["/app", "--flag=a b", "quote\"d", "caf\u00e9"]"#);
    let want = strings(&["/app", "--flag=a b", "quote\"d", "café"]);
    assert_eq!(exec, Instruction::Entrypoint(Command::Exec(want)));
    assert_eq!(
        one("CMD echo $HOME  &&  ls"),
        Instruction::Cmd(Command::Shell("echo $HOME  &&  ls".into()))
    );
    assert_eq!(one("CMD []"), Instruction::Cmd(Command::Exec(vec![])));
    assert_eq!(
        one("ENTRYPOINT [ ]"),
        Instruction::Entrypoint(Command::Exec(vec![]))
    );
    // Not valid JSON (single quotes, trailing comma): the shell form, as in Docker.
    assert_eq!(
        one("CMD ['a', 'b']"),
        Instruction::Cmd(Command::Shell("['a', 'b']".into()))
    );
    assert_eq!(
        one(r#"CMD ["a",]"#),
        Instruction::Cmd(Command::Shell(r#"["a",]"#.into()))
    );
}

#[test]
fn shell_json() {
    let got = one(r#"SHELL ["powershell", "-Command"]"#);
    assert_eq!(
        got,
        Instruction::Shell(strings(&["powershell", "-Command"]))
    );
}

#[test]
fn volume_forms() {
    assert_eq!(
        one(r#"VOLUME ["/data", "/var/log"]"#),
        Instruction::Volume(strings(&["/data", "/var/log"]))
    );
    assert_eq!(
        one(r#"VOLUME /data "/my vol" $V"#),
        Instruction::Volume(strings(&["/data", "\"/my vol\"", "$V"]))
    );
}

#[test]
fn healthcheck_none_and_cmd() {
    assert_eq!(
        one("HEALTHCHECK none"),
        Instruction::Healthcheck(Healthcheck::None)
    );
    let got = one(
        "HEALTHCHECK --interval=1m30s --timeout=500ms --start-period=0 --start-interval=2s --retries=3 cmd curl -f http://x/ || exit 1",
    );
    let want = Healthcheck::Check {
        test: Command::Shell("curl -f http://x/ || exit 1".into()),
        interval: Some(Duration::from_secs(90)),
        timeout: Some(Duration::from_millis(500)),
        start_period: None,
        start_interval: Some(Duration::from_secs(2)),
        retries: Some(3),
    };
    assert_eq!(got, Instruction::Healthcheck(want));
    let Instruction::Healthcheck(Healthcheck::Check {
        test,
        interval,
        retries,
        ..
    }) = one(r#"HEALTHCHECK --retries=0 CMD ["/bin/check", "--fast"]"#)
    else {
        panic!()
    };
    assert_eq!(test, Command::Exec(strings(&["/bin/check", "--fast"])));
    assert_eq!((interval, retries), (None, None));
}

#[test]
fn copy_whitespace_form_with_flags() {
    let got = one(
        r#"COPY --from=build --chown=app:app --chmod=0755 --link bin/app "my file" /usr/local/bin/"#,
    );
    let want = Copy {
        add: false,
        from: Some("build".into()),
        chown: Some("app:app".into()),
        chmod: Some("0755".into()),
        link: true,
        sources: strings(&["bin/app", "\"my file\""]),
        heredocs: vec![],
        dest: "/usr/local/bin/".into(),
        json: false,
    };
    assert_eq!(got, Instruction::Copy(want));
}

#[test]
fn copy_json_form_and_flag_quirks() {
    let Instruction::Copy(copy) = one(r#"COPY --link=false --from="1" ["a b", "c", "/dst/"]"#)
    else {
        panic!()
    };
    assert!(copy.json && !copy.link);
    assert_eq!(copy.from.as_deref(), Some("1"));
    assert_eq!(
        (copy.sources, copy.dest),
        (strings(&["a b", "c"]), "/dst/".into())
    );
    // An empty value counts as not given; `--` ends the flags.
    let Instruction::Copy(copy) = one("COPY --from= --link=TRUE -- --weird /dst") else {
        panic!()
    };
    assert_eq!((copy.from, copy.link), (None, true));
    assert_eq!(copy.sources, strings(&["--weird"]));
}

#[test]
fn add_is_a_copy() {
    let got = one("ADD --chown=1000 https://example.com/a.tar.gz app.tgz /opt/");
    let Instruction::Copy(copy) = &got else {
        panic!()
    };
    assert!(copy.add);
    assert_eq!(copy.chown.as_deref(), Some("1000"));
    assert_eq!(
        copy.sources,
        strings(&["https://example.com/a.tar.gz", "app.tgz"])
    );
    assert_eq!(got.keyword(), "ADD");
}

#[test]
fn run_keeps_flags_and_command() {
    let got = one(
        "RUN --mount=type=cache,target=/root/.cache --mount=type=secret,id=x --network=none go build ./...",
    );
    let want = Run {
        command: Command::Shell("go build ./...".into()),
        flags: strings(&[
            "--mount=type=cache,target=/root/.cache",
            "--mount=type=secret,id=x",
            "--network=none",
        ]),
        heredocs: vec![],
    };
    assert_eq!(got, Instruction::Run(want));
    let Instruction::Run(run) = one(r#"run --security=insecure ["make", "all"]"#) else {
        panic!()
    };
    assert_eq!(run.command, Command::Exec(strings(&["make", "all"])));
}

#[test]
fn onbuild_keeps_the_trigger() {
    assert_eq!(
        one("ONBUILD  COPY --from=x . /app"),
        Instruction::Onbuild("COPY --from=x . /app".into())
    );
    assert_eq!(
        one("onbuild run make"),
        Instruction::Onbuild("run make".into())
    );
}

#[test]
fn keywords() {
    let text = "FROM a\nARG A\nENV A=1\nLABEL a=b\nWORKDIR /\nUSER u\nEXPOSE 1\nENTRYPOINT x\nCMD x\n\
                SHELL [\"sh\"]\nSTOPSIGNAL 9\nVOLUME /v\nHEALTHCHECK NONE\nCOPY a b\nADD a b\nRUN x\n\
                ONBUILD RUN x\nMAINTAINER m\n";
    let got: Vec<&str> = instructions(text).iter().map(|i| i.keyword()).collect();
    let want = [
        "ARG",
        "ENV",
        "LABEL",
        "WORKDIR",
        "USER",
        "EXPOSE",
        "ENTRYPOINT",
        "CMD",
        "SHELL",
        "STOPSIGNAL",
        "VOLUME",
        "HEALTHCHECK",
        "COPY",
        "ADD",
        "RUN",
        "ONBUILD",
        "MAINTAINER",
    ];
    assert_eq!(got, want);
}

#[test]
fn instruction_lines_and_stages() {
    let text = "# syntax=docker/dockerfile:1\nARG V=1\n\nFROM golang AS build\nRUN go build\n\nFROM scratch\nCOPY --from=build /app /app\n";
    let file = parse(text);
    assert_eq!(file.syntax.as_deref(), Some("docker/dockerfile:1"));
    assert_eq!(file.global_args[0].line, 2);
    let lines: Vec<_> = file
        .stages
        .iter()
        .map(|s| {
            (
                s.line,
                s.instructions.iter().map(|i| i.line).collect::<Vec<_>>(),
            )
        })
        .collect();
    assert_eq!(lines, [(4, vec![5]), (7, vec![8])]);
}
