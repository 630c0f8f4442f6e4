use super::*;

/// The error of `FROM a` followed by `body` on line 2.
fn after_from(body: &str) -> String {
    error(&format!("FROM a\n{body}\n"))
}

#[test]
fn whole_file_errors() {
    let empty =
        "the Dockerfile has no instructions; expected at least a FROM, e.g. FROM alpine:3.20";
    assert_eq!(error(""), empty);
    assert_eq!(error("# syntax=x\n\n  # only comments\n"), empty);
    assert_eq!(
        error("ARG A\n"),
        "the Dockerfile has no FROM instruction; add one after the global ARGs, e.g. FROM alpine:3.20"
    );
    assert_eq!(Dockerfile::parse("").unwrap_err().line(), None);
}

#[test]
fn unknown_instruction() {
    let message = after_from("COPPY a b");
    assert!(
        message.starts_with("line 2: unknown instruction `COPPY` (did you mean COPY?); expected one of FROM, RUN, COPY, "),
        "{message}"
    );
    assert!(message.ends_with("ONBUILD, MAINTAINER"), "{message}");
    assert!(
        after_from("frobnicate x")
            .starts_with("line 2: unknown instruction `frobnicate`; expected")
    );
}

#[test]
fn only_arg_before_from() {
    assert_eq!(
        error("ENV A=1\nFROM a\n"),
        "line 1: ENV must come after FROM; only ARG may precede the first FROM"
    );
    assert_eq!(
        error("ARG A\nCOPY a b\n"),
        "line 2: COPY must come after FROM; only ARG may precede the first FROM"
    );
}

#[test]
fn from_errors() {
    assert_eq!(
        error("FROM\n"),
        "line 1: FROM needs a base image, e.g. FROM alpine:3.20"
    );
    let shape = ", e.g. FROM golang:1.23 AS build";
    assert_eq!(
        error("FROM a AS\n"),
        format!("line 1: FROM takes an image and optionally AS name, found `a AS`{shape}")
    );
    assert_eq!(
        error("FROM a b c\n"),
        format!("line 1: FROM takes an image and optionally AS name, found `a b c`{shape}")
    );
    assert_eq!(
        error("FROM a AS 1st\n"),
        "line 1: invalid stage name `1st`; expected a letter followed by letters, digits, `-`, `_` or `.`, e.g. FROM golang:1.23 AS build"
    );
    assert!(error("FROM a AS b$c\n").starts_with("line 1: invalid stage name `b$c`"));
    assert_eq!(
        error("FROM a AS build\nFROM b AS Build\n"),
        "line 2: duplicate stage name `build`, already used by the stage on line 1; rename one of them"
    );
    assert_eq!(
        error("FROM --platform linux/amd64 a\n"),
        "line 1: FROM: flag --platform needs a value, e.g. --platform=VALUE"
    );
}

#[test]
fn flag_errors() {
    assert_eq!(
        after_from("COPY --form=build a b"),
        "line 2: COPY: unknown flag --form; COPY accepts --from, --chown, --chmod, --link"
    );
    assert_eq!(
        after_from("ADD --from=x a b"),
        "line 2: ADD: unknown flag --from; ADD accepts --chown, --chmod, --link"
    );
    assert_eq!(
        after_from("CMD --help"),
        "line 2: CMD: unknown flag --help; CMD accepts no flags"
    );
    assert_eq!(
        after_from("RUN --device=x make"),
        "line 2: RUN: unknown flag --device; RUN accepts --mount, --network, --security"
    );
    assert_eq!(
        after_from("COPY --from=a --from=b x y"),
        "line 2: COPY: flag --from is given twice; keep one"
    );
    assert_eq!(
        after_from("COPY --chown a b"),
        "line 2: COPY: flag --chown needs a value, e.g. --chown=VALUE"
    );
    assert_eq!(
        after_from("COPY --link=maybe a b"),
        "line 2: COPY: flag --link expects true or false, found `maybe`; write --link or --link=false"
    );
    for (body, flag) in [
        ("COPY --exclude=*.md . /", "exclude"),
        ("COPY --parents a/b /", "parents"),
        ("ADD --checksum=sha256:00 https://x/y /", "checksum"),
        ("ADD --keep-git-dir https://x/y.git /", "keep-git-dir"),
    ] {
        let keyword = &body[..body.find(' ').unwrap()];
        assert_eq!(
            after_from(body),
            format!(
                "line 2: {keyword}: flag --{flag} is valid Dockerfile syntax but not supported by multiarch; remove it"
            )
        );
    }
}

#[test]
fn argument_count_errors() {
    let cases = [
        (
            "COPY onlyone",
            "line 2: COPY needs at least one source and a destination, e.g. COPY app /usr/bin/",
        ),
        (
            "COPY",
            "line 2: COPY needs at least one source and a destination, e.g. COPY app /usr/bin/",
        ),
        (
            r#"COPY ["a"]"#,
            "line 2: COPY needs at least one source and a destination, e.g. COPY app /usr/bin/",
        ),
        (
            "ADD x",
            "line 2: ADD needs at least one source and a destination, e.g. ADD app.tar.gz /opt/",
        ),
        (
            "ARG",
            "line 2: ARG needs a name, e.g. ARG VERSION or ARG VERSION=1.2.3",
        ),
        (
            "ARG =1",
            "line 2: ARG needs a name before `=`, found `=1`, e.g. ARG VERSION=1.2.3",
        ),
        ("WORKDIR", "line 2: WORKDIR needs a path, e.g. WORKDIR /app"),
        (
            "USER",
            "line 2: USER needs a user, e.g. USER app or USER 1000:1000",
        ),
        (
            "STOPSIGNAL",
            "line 2: STOPSIGNAL needs a signal, e.g. STOPSIGNAL SIGTERM",
        ),
        (
            "MAINTAINER",
            "line 2: MAINTAINER needs a name, e.g. MAINTAINER Jane Doe <jane@example.com>",
        ),
        (
            "EXPOSE",
            "line 2: EXPOSE needs at least one port, e.g. EXPOSE 8080 or EXPOSE 53/udp",
        ),
        (
            "CMD",
            "line 2: CMD needs a command, e.g. CMD [\"/app\", \"--serve\"], or CMD [] to clear it",
        ),
        (
            "ENTRYPOINT",
            "line 2: ENTRYPOINT needs a command, e.g. ENTRYPOINT [\"/app\"], or ENTRYPOINT [] to clear it",
        ),
        ("RUN", "line 2: RUN needs a command, e.g. RUN make install"),
        (
            "RUN []",
            "line 2: RUN needs a command, e.g. RUN make install",
        ),
        (
            "SHELL []",
            "line 2: SHELL needs a shell, e.g. SHELL [\"/bin/bash\", \"-c\"]",
        ),
        (
            "VOLUME",
            "line 2: VOLUME needs at least one path, e.g. VOLUME /data or VOLUME [\"/data\"]",
        ),
        (
            "ONBUILD",
            "line 2: ONBUILD needs an instruction to run in builds based on this image, e.g. ONBUILD COPY . /app",
        ),
        (
            "HEALTHCHECK",
            "line 2: HEALTHCHECK needs CMD or NONE, e.g. HEALTHCHECK --interval=30s CMD curl -f http://localhost/ || exit 1",
        ),
        (
            "HEALTHCHECK CMD",
            "line 2: HEALTHCHECK needs a command after CMD, e.g. HEALTHCHECK --interval=30s CMD curl -f http://localhost/ || exit 1",
        ),
        (
            "ENV",
            "line 2: ENV needs name=value pairs, e.g. ENV PATH=/opt/bin:$PATH MODE=\"fast mode\"",
        ),
        (
            "ENV A",
            "line 2: ENV needs a value for `A`, e.g. ENV PATH=/opt/bin:$PATH MODE=\"fast mode\"",
        ),
        (
            "LABEL",
            "line 2: LABEL needs name=value pairs, e.g. LABEL org.opencontainers.image.title=\"My app\"",
        ),
    ];
    for (body, want) in cases {
        assert_eq!(after_from(body), want, "{body}");
    }
}

#[test]
fn malformed_arguments() {
    let cases = [
        (
            "ENV A=1 B",
            "line 2: ENV: `B` has no `=`; every word must be name=value (quote values with spaces), e.g. ENV PATH=/opt/bin:$PATH MODE=\"fast mode\"",
        ),
        (
            "LABEL =x",
            "line 2: LABEL: a name can't be blank, found `=x`; write name=value, e.g. LABEL org.opencontainers.image.title=\"My app\"",
        ),
        (
            "SHELL /bin/sh -c",
            "line 2: SHELL: needs the JSON form, found `/bin/sh -c`; write e.g. SHELL [\"/bin/bash\", \"-c\"]",
        ),
        (
            "CMD [\"a\", 1]",
            "line 2: CMD: the JSON array may only hold strings; quote every element, e.g. CMD [\"/app\", \"8080\"]",
        ),
        (
            "COPY [\"a\", {\"b\": [null, true]}]",
            "line 2: COPY: the JSON array may only hold strings; quote every element, e.g. COPY [\"/app\", \"8080\"]",
        ),
        (
            "VOLUME [\"/a\", \" \"]",
            "line 2: VOLUME: a volume path can't be empty; remove the empty entry",
        ),
        (
            "HEALTHCHECK NONE --x",
            "line 2: HEALTHCHECK: NONE takes no flags or arguments; write HEALTHCHECK NONE alone",
        ),
        (
            "HEALTHCHECK --interval=5s NONE",
            "line 2: HEALTHCHECK: NONE takes no flags or arguments; write HEALTHCHECK NONE alone",
        ),
        (
            "HEALTHCHECK CMD-SHELL x",
            "line 2: HEALTHCHECK: unknown type `CMD-SHELL`; expected CMD or NONE, e.g. HEALTHCHECK --interval=30s CMD curl -f http://localhost/ || exit 1",
        ),
        (
            "HEALTHCHECK --interval=5 CMD x",
            "line 2: HEALTHCHECK: flag --interval expects a duration such as 30s, 1m30s or 500ms, found `5`",
        ),
        (
            "HEALTHCHECK --timeout=500us CMD x",
            "line 2: HEALTHCHECK: flag --timeout must be 0 or at least 1ms, found `500us`",
        ),
        (
            "HEALTHCHECK --retries=-1 CMD x",
            "line 2: HEALTHCHECK: flag --retries expects a whole number from 0 to 2147483647, found `-1`",
        ),
        (
            "HEALTHCHECK --retry=1 CMD x",
            "line 2: HEALTHCHECK: unknown flag --retry; HEALTHCHECK accepts --interval, --timeout, --start-period, --start-interval, --retries",
        ),
        (
            "ONBUILD ONBUILD RUN x",
            "line 2: ONBUILD: ONBUILD ONBUILD isn't allowed; triggers can't be chained",
        ),
        (
            "ONBUILD from x",
            "line 2: ONBUILD: FROM isn't allowed as an ONBUILD trigger",
        ),
        (
            "ONBUILD MAINTAINER x",
            "line 2: ONBUILD: MAINTAINER isn't allowed as an ONBUILD trigger",
        ),
    ];
    for (body, want) in cases {
        assert_eq!(after_from(body), want, "{body}");
    }
    assert!(
        after_from("ONBUILD RUNN x")
            .starts_with("line 2: unknown instruction `RUNN` (did you mean RUN?)")
    );
}

#[test]
fn errors_name_the_line_where_the_instruction_starts() {
    let text = "FROM a\nRUN a \\\n  # comment\n  b\n\nCOPY \\\n  onlyone\n";
    let err = Dockerfile::parse(text).unwrap_err();
    assert_eq!(err.line(), Some(6));
    assert!(err.to_string().starts_with("line 6: COPY needs"));
}

#[test]
fn the_listed_keywords_are_the_known_ones() {
    assert_eq!(
        super::super::error::KEYWORD_LIST,
        super::super::parse::KEYWORDS.join(", ")
    );
}
