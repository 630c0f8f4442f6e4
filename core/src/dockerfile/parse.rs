//! One logical line to one instruction, with BuildKit's rules for each keyword's arguments.

use super::From;
use super::error::ParseError;
use super::flags::{Ctx, Kind, parse_flags};
use super::instruction::{ArgDecl, Command, Instruction, Run};
use super::lexer::LogicalLine;
use super::words::{JsonArray, extract_flags, json_array, split_raw};
use super::{copy::copy, healthcheck::healthcheck};

pub(crate) const KEYWORDS: [&str; 18] = [
    "FROM",
    "RUN",
    "COPY",
    "ADD",
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
    "ONBUILD",
    "MAINTAINER",
];

/// What a line holds: FROM starts a stage, anything else belongs to one.
#[derive(Debug)]
pub(crate) enum Parsed {
    From { from: From, name: Option<String> },
    Instruction(Instruction),
}

impl Ctx {
    pub(super) fn args(self, problem: impl Into<String>, example: &'static str) -> ParseError {
        ParseError::Arguments {
            line: self.line,
            instruction: self.keyword,
            problem: problem.into(),
            example,
        }
    }

    pub(super) fn invalid(self, message: impl Into<String>) -> ParseError {
        ParseError::Invalid {
            line: self.line,
            instruction: self.keyword,
            message: message.into(),
        }
    }

    fn no_flags(self, flags: &[String]) -> Result<(), ParseError> {
        parse_flags(self, flags, &[], &[]).map(drop)
    }
}

pub(crate) fn parse_line(line: &LogicalLine, escape: char) -> Result<Parsed, ParseError> {
    let text = line.text.trim();
    let (word, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    let keyword = keyword(word).ok_or_else(|| unknown(line.line, word))?;
    let ctx = Ctx {
        line: line.line,
        keyword,
    };
    let (flags, args) = extract_flags(rest);
    let args = args.trim();
    let instruction = match keyword {
        "FROM" => return from(ctx, &flags, args),
        "ARG" => {
            ctx.no_flags(&flags)?;
            Instruction::Arg(arg(ctx, args, escape)?)
        }
        "ENV" | "LABEL" => {
            ctx.no_flags(&flags)?;
            let pairs = name_values(ctx, args, escape)?;
            if keyword == "ENV" {
                Instruction::Env(pairs)
            } else {
                Instruction::Label(pairs)
            }
        }
        "WORKDIR" | "USER" | "STOPSIGNAL" | "MAINTAINER" => {
            ctx.no_flags(&flags)?;
            let value = single(ctx, args)?;
            match keyword {
                "WORKDIR" => Instruction::Workdir(value),
                "USER" => Instruction::User(value),
                "STOPSIGNAL" => Instruction::StopSignal(value),
                _ => Instruction::Maintainer(value),
            }
        }
        "EXPOSE" => {
            ctx.no_flags(&flags)?;
            let ports: Vec<String> = args.split_whitespace().map(str::to_owned).collect();
            if ports.is_empty() {
                return Err(ctx.args("needs at least one port", "EXPOSE 8080 or EXPOSE 53/udp"));
            }
            Instruction::Expose(ports)
        }
        "ENTRYPOINT" | "CMD" => {
            ctx.no_flags(&flags)?;
            let example = if keyword == "CMD" {
                r#"CMD ["/app", "--serve"], or CMD [] to clear it"#
            } else {
                r#"ENTRYPOINT ["/app"], or ENTRYPOINT [] to clear it"#
            };
            let command =
                command(ctx, args)?.ok_or_else(|| ctx.args("needs a command", example))?;
            if keyword == "CMD" {
                Instruction::Cmd(command)
            } else {
                Instruction::Entrypoint(command)
            }
        }
        "SHELL" => {
            ctx.no_flags(&flags)?;
            Instruction::Shell(shell(ctx, args)?)
        }
        "VOLUME" => {
            ctx.no_flags(&flags)?;
            Instruction::Volume(volume(ctx, args, escape)?)
        }
        "HEALTHCHECK" => Instruction::Healthcheck(healthcheck(ctx, &flags, args)?),
        "COPY" | "ADD" => Instruction::Copy(copy(ctx, &flags, args, escape, line)?),
        "RUN" => {
            parse_flags(
                ctx,
                &flags,
                &[
                    ("mount", Kind::Strings),
                    ("network", Kind::String),
                    ("security", Kind::String),
                ],
                &[],
            )?;
            let command = match command(ctx, args)? {
                Some(Command::Exec(argv)) if argv.is_empty() => None,
                command => command,
            };
            let command = command.ok_or_else(|| ctx.args("needs a command", "RUN make install"))?;
            Instruction::Run(Run {
                command,
                flags,
                heredocs: line.heredocs.clone(),
            })
        }
        _ => {
            ctx.no_flags(&flags)?;
            Instruction::Onbuild(onbuild(ctx, args)?)
        }
    };
    Ok(Parsed::Instruction(instruction))
}

fn keyword(word: &str) -> Option<&'static str> {
    KEYWORDS
        .iter()
        .copied()
        .find(|k| k.eq_ignore_ascii_case(word))
}

fn unknown(line: usize, word: &str) -> ParseError {
    let upper = word.to_ascii_uppercase();
    let hint = KEYWORDS
        .iter()
        .map(|k| (distance(k, &upper), k))
        .filter(|(d, _)| *d <= 2 && upper.len() > 2)
        .min()
        .map(|(_, k)| format!(" (did you mean {k}?)"))
        .unwrap_or_default();
    ParseError::UnknownInstruction {
        line,
        found: word.to_owned(),
        hint,
    }
}

/// Levenshtein distance, for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb))
                .min(above + 1)
                .min(row[j] + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

fn from(ctx: Ctx, flags: &[String], args: &str) -> Result<Parsed, ParseError> {
    let flags = parse_flags(ctx, flags, &[("platform", Kind::String)], &[])?;
    let words: Vec<&str> = args.split_whitespace().collect();
    let example = "FROM golang:1.23 AS build";
    let (image, name) = match words.as_slice() {
        [] => return Err(ctx.args("needs a base image", "FROM alpine:3.20")),
        [image] => (image, None),
        [image, as_, name] if as_.eq_ignore_ascii_case("as") => {
            let lower = name.to_lowercase();
            let mut chars = lower.chars();
            let valid = chars.next().is_some_and(|c| c.is_ascii_lowercase())
                && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
            if !valid {
                return Err(ParseError::StageName {
                    line: ctx.line,
                    name: (*name).to_owned(),
                });
            }
            (image, Some(lower))
        }
        _ => {
            let problem = format!("takes an image and optionally AS name, found `{args}`");
            return Err(ctx.args(problem, example));
        }
    };
    Ok(Parsed::From {
        from: From {
            image: (*image).to_owned(),
            platform: flags.string("platform"),
        },
        name,
    })
}

fn arg(ctx: Ctx, args: &str, escape: char) -> Result<Vec<ArgDecl>, ParseError> {
    let words = split_raw(args, escape);
    if words.is_empty() {
        return Err(ctx.args("needs a name", "ARG VERSION or ARG VERSION=1.2.3"));
    }
    words
        .into_iter()
        .map(|word| {
            let (name, default) = match word.split_once('=') {
                Some((name, default)) => (name.to_owned(), Some(default.to_owned())),
                None => (word.clone(), None),
            };
            if name.is_empty() {
                let problem = format!("needs a name before `=`, found `{word}`");
                return Err(ctx.args(problem, "ARG VERSION=1.2.3"));
            }
            Ok(ArgDecl { name, default })
        })
        .collect()
}

/// `KEY name=value …` or the legacy `KEY name value with spaces` (BuildKit's `parseNameVal`).
fn name_values(ctx: Ctx, args: &str, escape: char) -> Result<Vec<(String, String)>, ParseError> {
    let example = if ctx.keyword == "ENV" {
        r#"ENV PATH=/opt/bin:$PATH MODE="fast mode""#
    } else {
        r#"LABEL org.opencontainers.image.title="My app""#
    };
    let words = split_raw(args, escape);
    let Some(first) = words.first() else {
        return Err(ctx.args("needs name=value pairs", example));
    };
    if !first.contains('=') {
        let (name, value) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
        let value = value.trim_start();
        if value.is_empty() {
            return Err(ctx.args(format!("needs a value for `{name}`"), example));
        }
        return Ok(vec![(name.to_owned(), value.to_owned())]);
    }
    words
        .iter()
        .map(|word| match word.split_once('=') {
            Some(("", _)) => Err(ctx.invalid(format!(
                "a name can't be blank, found `{word}`; write name=value, e.g. {example}"
            ))),
            Some((name, value)) => Ok((name.to_owned(), value.to_owned())),
            None => Err(ctx.invalid(format!(
                "`{word}` has no `=`; every word must be name=value (quote values with spaces), e.g. {example}"
            ))),
        })
        .collect()
}

fn single(ctx: Ctx, args: &str) -> Result<String, ParseError> {
    if args.is_empty() {
        let (problem, example) = match ctx.keyword {
            "WORKDIR" => ("needs a path", "WORKDIR /app"),
            "USER" => ("needs a user", "USER app or USER 1000:1000"),
            "STOPSIGNAL" => ("needs a signal", "STOPSIGNAL SIGTERM"),
            _ => ("needs a name", "MAINTAINER Jane Doe <jane@example.com>"),
        };
        return Err(ctx.args(problem, example));
    }
    Ok(args.to_owned())
}

/// The exec (JSON) or shell form; `None` when there is no command at all.
pub(super) fn command(ctx: Ctx, args: &str) -> Result<Option<Command>, ParseError> {
    if args.is_empty() {
        return Ok(None);
    }
    match json_array(args) {
        JsonArray::Strings(argv) => Ok(Some(Command::Exec(argv))),
        JsonArray::NotStrings => Err(not_strings(ctx)),
        JsonArray::NotJson => Ok(Some(Command::Shell(args.to_owned()))),
    }
}

pub(super) fn not_strings(ctx: Ctx) -> ParseError {
    ctx.invalid(format!(
        r#"the JSON array may only hold strings; quote every element, e.g. {} ["/app", "8080"]"#,
        ctx.keyword
    ))
}

fn shell(ctx: Ctx, args: &str) -> Result<Vec<String>, ParseError> {
    let example = r#"SHELL ["/bin/bash", "-c"]"#;
    match json_array(args) {
        JsonArray::Strings(argv) if argv.is_empty() => Err(ctx.args("needs a shell", example)),
        JsonArray::Strings(argv) => Ok(argv),
        JsonArray::NotStrings => Err(not_strings(ctx)),
        JsonArray::NotJson => Err(ctx.invalid(format!(
            "needs the JSON form, found `{args}`; write e.g. {example}"
        ))),
    }
}

fn volume(ctx: Ctx, args: &str, escape: char) -> Result<Vec<String>, ParseError> {
    let paths = match json_array(args) {
        JsonArray::Strings(paths) => paths,
        JsonArray::NotStrings => return Err(not_strings(ctx)),
        JsonArray::NotJson => split_raw(args, escape),
    };
    if paths.is_empty() {
        return Err(ctx.args(
            "needs at least one path",
            r#"VOLUME /data or VOLUME ["/data"]"#,
        ));
    }
    if paths.iter().any(|p| p.trim().is_empty()) {
        return Err(ctx.invalid("a volume path can't be empty; remove the empty entry"));
    }
    Ok(paths)
}

fn onbuild(ctx: Ctx, args: &str) -> Result<String, ParseError> {
    let trigger = args.split_whitespace().next().unwrap_or_default();
    if trigger.is_empty() {
        return Err(ctx.args(
            "needs an instruction to run in builds based on this image",
            "ONBUILD COPY . /app",
        ));
    }
    match keyword(trigger) {
        None => Err(unknown(ctx.line, trigger)),
        Some("ONBUILD") => {
            Err(ctx.invalid("ONBUILD ONBUILD isn't allowed; triggers can't be chained"))
        }
        Some(k @ ("FROM" | "MAINTAINER")) => {
            Err(ctx.invalid(format!("{k} isn't allowed as an ONBUILD trigger")))
        }
        Some(_) => Ok(args.to_owned()),
    }
}
