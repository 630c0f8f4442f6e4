use super::*;

#[test]
fn directives_are_read_at_the_top_only() {
    let file = parse(
        "#  SYNTAX = docker/dockerfile:1.7 \n# Escape=`\n#check=skip=all;error=true\nFROM a\n",
    );
    assert_eq!(file.syntax.as_deref(), Some("docker/dockerfile:1.7"));
    assert_eq!(file.escape, '`');
    assert_eq!(file.check.as_deref(), Some("skip=all;error=true"));
    assert_eq!(parse("FROM a\n").escape, '\\');
    // After a comment, a blank line or an instruction, `# key=value` is a comment.
    for text in [
        "# hello\n# escape=`\nFROM a\n",
        "\n# escape=`\nFROM a\n",
        "FROM a\n# escape=`\n",
    ] {
        assert_eq!(parse(text).escape, '\\', "{text:?}");
    }
    // An unknown directive is a comment and ends the directives.
    let file = parse("# foo=bar\n# syntax=x\nFROM a\n");
    assert_eq!(file.syntax, None);
}

#[test]
fn directive_errors() {
    assert_eq!(
        error("# escape=`\n# ESCAPE=\\\nFROM a\n"),
        "line 2: parser directive: `escape` is given twice; only one escape parser directive can be used"
    );
    assert_eq!(
        error("# escape=x\nFROM a\n"),
        "line 1: parser directive: invalid escape character `x`; expected \\ or `"
    );
}

#[test]
fn backtick_escape_continues_lines_and_keeps_backslashes() {
    let text = "# escape=`\nFROM mcr.microsoft.com/windows/servercore\nWORKDIR C:\\app\\\nRUN dir `\n    c:\\\nCOPY .\\bin\\ C:\\app\\\n";
    let file = parse(text);
    let got: Vec<_> = file.stages[0]
        .instructions
        .iter()
        .map(|i| (i.line, i.value.clone()))
        .collect();
    let copy = Copy {
        add: false,
        from: None,
        chown: None,
        chmod: None,
        link: false,
        sources: strings(&[".\\bin\\"]),
        heredocs: vec![],
        dest: "C:\\app\\".into(),
        json: false,
    };
    let run = Run {
        command: Command::Shell("dir     c:\\".into()),
        flags: vec![],
        heredocs: vec![],
    };
    let want = [
        (3, Instruction::Workdir("C:\\app\\".into())),
        (4, Instruction::Run(run)),
        (6, Instruction::Copy(copy)),
    ];
    assert_eq!(got, want);
}

#[test]
fn continuations_skip_comments_and_blank_lines() {
    let text = "FROM a\nRUN apt-get update \\\n  # a comment inside\n\n    && apt-get install -y \\  \n\t  curl\nUSER app\n";
    let file = parse(text);
    let got: Vec<_> = file.stages[0]
        .instructions
        .iter()
        .map(|i| (i.line, i.value.clone()))
        .collect();
    let run = Run {
        command: Command::Shell("apt-get update     && apt-get install -y \t  curl".into()),
        flags: vec![],
        heredocs: vec![],
    };
    assert_eq!(
        got,
        [
            (2, Instruction::Run(run)),
            (7, Instruction::User("app".into()))
        ]
    );
}

#[test]
fn leading_whitespace_crlf_bom_and_trailing_continuation() {
    let text =
        "\u{feff}# escape=`\r\n   FROM a\r\n\t# comment\r\n  ENV A=1 `\r\n    B=2\r\nLABEL x=y `";
    let file = parse(text);
    assert_eq!(file.escape, '`');
    let got: Vec<_> = file.stages[0]
        .instructions
        .iter()
        .map(|i| (i.line, i.value.clone()))
        .collect();
    assert_eq!(
        got,
        [
            (4, Instruction::Env(pairs(&[("A", "1"), ("B", "2")]))),
            (6, Instruction::Label(pairs(&[("x", "y")]))),
        ]
    );
}

#[test]
fn continued_keyword_and_flags() {
    let file =
        parse("FROM \\\n  --platform=linux/arm64 \\\n  alpine \\\n  AS base\nCO\\\nPY a b\n");
    let stage = &file.stages[0];
    assert_eq!((stage.line, stage.name.as_deref()), (1, Some("base")));
    assert_eq!(stage.from.platform.as_deref(), Some("linux/arm64"));
    assert_eq!(stage.instructions[0].line, 5);
    assert_eq!(stage.instructions[0].value.keyword(), "COPY");
}

#[test]
fn run_heredoc() {
    let text = "FROM a\nRUN <<EOF\napt-get update\n  # not a comment \\\nEOF\nUSER app\n";
    let file = parse(text);
    let instructions = &file.stages[0].instructions;
    let Instruction::Run(run) = &instructions[0].value else {
        panic!()
    };
    assert_eq!(run.command, Command::Shell("<<EOF".into()));
    let heredoc = Heredoc {
        name: "EOF".into(),
        content: "apt-get update\n  # not a comment \\\n".into(),
        expand: true,
    };
    assert_eq!(run.heredocs, [heredoc]);
    assert_eq!(instructions[1].line, 6);
}

#[test]
fn copy_heredocs_quoted_and_chomped() {
    let text = "FROM a\nCOPY --chmod=644 <<'CONF' a.txt <<-\"RUN\" /etc/app/\nx=$X\nCONF\n\tline\n\t\tRUN\nCMD x\n";
    let file = parse(text);
    let instructions = &file.stages[0].instructions;
    let Instruction::Copy(copy) = &instructions[0].value else {
        panic!()
    };
    assert_eq!(copy.sources, strings(&["a.txt"]));
    assert_eq!(copy.dest, "/etc/app/");
    let got: Vec<_> = copy
        .heredocs
        .iter()
        .map(|h| (h.name.as_str(), h.content.as_str(), h.expand))
        .collect();
    assert_eq!(got, [("CONF", "x=$X\n", false), ("RUN", "line\n", false)]);
    assert_eq!(instructions[1].line, 7);
}

#[test]
fn heredoc_lookalikes_are_not_heredocs() {
    let got = one("RUN cat<<EOF; echo '<<EOF' \"<<X\" <<<here");
    let Instruction::Run(run) = got else { panic!() };
    assert!(run.heredocs.is_empty());
    // Only RUN, COPY and ADD read heredocs.
    assert_eq!(
        one("ENV A <<EOF"),
        Instruction::Env(pairs(&[("A", "<<EOF")]))
    );
}

#[test]
fn heredoc_errors() {
    assert_eq!(
        error("FROM a\nRUN <<EOF\necho\n"),
        "line 2: unterminated heredoc `EOF`; expected a line holding only `EOF` before the end of the file"
    );
    assert_eq!(
        error("FROM a\nONBUILD RUN <<EOF\necho\nEOF\n"),
        "line 2: ONBUILD: heredocs in ONBUILD triggers are not supported; COPY a file from the build context instead"
    );
    assert_eq!(
        error("FROM a\nCOPY a <<EOF\nx\nEOF\n"),
        "line 2: COPY: the destination can't be a heredoc; put the path last, e.g. COPY <<EOF /etc/app.conf"
    );
}

#[test]
fn several_heredocs_on_one_line() {
    let text = "FROM a\nRUN --mount=type=cache,target=/c python3 - <<PY 3<<'DATA'\nprint(1)\nPY\n$raw\nDATA\nADD <<x.txt /srv/\nhello\nx.txt\n";
    let file = parse(text);
    let instructions = &file.stages[0].instructions;
    let Instruction::Run(run) = &instructions[0].value else {
        panic!()
    };
    let got: Vec<_> = run
        .heredocs
        .iter()
        .map(|h| (h.name.as_str(), h.content.as_str(), h.expand))
        .collect();
    assert_eq!(got, [("PY", "print(1)\n", true), ("DATA", "$raw\n", false)]);
    assert_eq!(run.flags, strings(&["--mount=type=cache,target=/c"]));
    let Instruction::Copy(add) = &instructions[1].value else {
        panic!()
    };
    assert!(add.add && add.sources.is_empty());
    assert_eq!(
        (
            add.heredocs[0].name.as_str(),
            add.heredocs[0].content.as_str()
        ),
        ("x.txt", "hello\n")
    );
    assert_eq!(instructions[1].line, 7);
}

#[test]
fn a_realistic_dockerfile() {
    let text = r#"# syntax=docker/dockerfile:1
# check=error=true

ARG GO_VERSION=1.23
ARG ALPINE=3.20

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-alpine AS build
ARG TARGETOS TARGETARCH
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
RUN --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -o /out/app ./cmd/app

FROM alpine:${ALPINE}
LABEL org.opencontainers.image.source="https://example.com/app" \
      org.opencontainers.image.licenses=Apache-2.0
RUN apk add --no-cache ca-certificates && adduser -D app
COPY --from=build --chown=app:app --chmod=0555 /out/app /usr/local/bin/app
USER app
EXPOSE 8080/tcp
HEALTHCHECK --interval=30s --timeout=3s CMD ["/usr/local/bin/app", "health"]
ENTRYPOINT ["/usr/local/bin/app"]
CMD ["serve"]
"#;
    let file = parse(text);
    assert_eq!(file.check.as_deref(), Some("error=true"));
    let globals: Vec<_> = file
        .global_args
        .iter()
        .map(|a| (a.line, a.value.name.as_str()))
        .collect();
    assert_eq!(globals, [(4, "GO_VERSION"), (5, "ALPINE")]);
    let summary: Vec<_> = file
        .stages
        .iter()
        .map(|s| {
            let lines: Vec<_> = s
                .instructions
                .iter()
                .map(|i| (i.line, i.value.keyword()))
                .collect();
            (s.index, s.name.clone(), s.line, lines)
        })
        .collect();
    let build = vec![
        (8, "ARG"),
        (9, "WORKDIR"),
        (10, "COPY"),
        (11, "RUN"),
        (13, "COPY"),
        (14, "RUN"),
    ];
    let runtime = vec![
        (19, "LABEL"),
        (21, "RUN"),
        (22, "COPY"),
        (23, "USER"),
        (24, "EXPOSE"),
        (25, "HEALTHCHECK"),
        (26, "ENTRYPOINT"),
        (27, "CMD"),
    ];
    assert_eq!(
        summary,
        [
            (0, Some("build".to_owned()), 7, build),
            (1, None, 18, runtime)
        ]
    );
    let Instruction::Label(labels) = &file.stages[1].instructions[0].value else {
        panic!()
    };
    assert_eq!(
        labels[1],
        (
            "org.opencontainers.image.licenses".to_owned(),
            "Apache-2.0".to_owned()
        )
    );
}
