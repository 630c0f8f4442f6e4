//! Dockerfile parsing and Docker-style variable expansion, following Docker's documented grammar
//! as BuildKit implements it. Pure: no I/O beyond the text given.
//!
//! [`Dockerfile::parse`] gives the parser directives, the global ARGs (those before the first
//! FROM) and the stages, each a FROM and its instructions with the 1-based line where each
//! starts. Continuations, comments and blank lines are resolved; heredocs (`<<EOF`) of RUN,
//! COPY and ADD are read into [`Heredoc`]s.
//!
//! Values that Docker expands at build time are kept raw (quotes and escapes intact), because
//! the ARG and ENV values in force are known only then. The builder expands them with
//! [`expand()`], passing [`Dockerfile::escape`] and a lookup of the current variables:
//!
//! - one word each: FROM's image and `--platform` (with the global ARGs), ARG defaults, ENV and
//!   LABEL keys and values, WORKDIR, USER, STOPSIGNAL, VOLUME paths, and COPY/ADD sources,
//!   destination and `--from`/`--chown`/`--chmod` values;
//! - [`expand_words`] for each EXPOSE word, whose expansion may hold several ports;
//! - [`expand_heredoc`] for the content of a COPY/ADD heredoc whose [`Heredoc::expand`] is set;
//! - never: ENTRYPOINT, CMD, SHELL, HEALTHCHECK and RUN, which the container's shell sees as is.
//!
//! The whitespace forms of COPY, ADD and VOLUME split on whitespace outside quotes (BuildKit
//! splits on all whitespace and then fails on the broken quotes), so `COPY "my file" /app/` works.
//! Flag values have their quotes removed when the flags are read, as in BuildKit.
//!
//! Refused with an error: COPY `--parents`/`--exclude` and ADD `--checksum`/`--keep-git-dir`/
//! `--exclude`/`--unpack` (not supported by multiarch), and heredocs in ONBUILD triggers.

mod copy;
mod error;
mod expand;
mod flags;
mod healthcheck;
mod instruction;
mod lexer;
mod parse;
mod pattern;
mod words;

#[cfg(test)]
mod tests;

pub use error::{ExpandError, ParseError};
pub use expand::{expand, expand_heredoc, expand_words};
pub use instruction::{ArgDecl, Command, Copy, Healthcheck, Heredoc, Instruction, Run};

use parse::Parsed;

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// The escape character: `\`, or the backtick when an `# escape` directive chooses it.
    pub escape: char,
    /// The `# syntax=` directive, if any (e.g. `docker/dockerfile:1`).
    pub syntax: Option<String>,
    /// The `# check=` directive, if any, as written (e.g. `skip=JSONArgsRecommended`).
    pub check: Option<String>,
    /// The ARGs before the first FROM, usable in every FROM line.
    pub global_args: Vec<Located<ArgDecl>>,
    /// At least one.
    pub stages: Vec<Stage>,
}

/// A FROM and the instructions up to the next FROM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// The position among the stages, from 0; `COPY --from=1` uses it.
    pub index: usize,
    /// The `AS` name, lowercased as BuildKit does.
    pub name: Option<String>,
    pub from: From,
    /// The line of the FROM.
    pub line: usize,
    pub instructions: Vec<Located<Instruction>>,
}

/// What a stage starts from, raw: the builder expands both with the global ARGs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct From {
    /// An image reference, `scratch`, or an earlier stage's name.
    pub image: String,
    /// `--platform=…`, e.g. `$BUILDPLATFORM` or `linux/arm64`.
    pub platform: Option<String>,
}

/// A value with the 1-based line where its instruction starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<T> {
    pub line: usize,
    pub value: T,
}

impl Dockerfile {
    pub fn parse(text: &str) -> Result<Dockerfile, ParseError> {
        let (directives, lines) = lexer::lex(text)?;
        if lines.is_empty() {
            return Err(ParseError::Empty);
        }
        let mut global_args = Vec::new();
        let mut stages: Vec<Stage> = Vec::new();
        for logical in &lines {
            let line = logical.line;
            match parse::parse_line(logical, directives.escape)? {
                Parsed::From { from, name } => {
                    let earlier = stages.iter().find(|s| name.is_some() && s.name == name);
                    if let (Some(earlier), Some(name)) = (earlier, &name) {
                        return Err(ParseError::DuplicateStage {
                            line,
                            name: name.clone(),
                            first_line: earlier.line,
                        });
                    }
                    stages.push(Stage {
                        index: stages.len(),
                        name,
                        from,
                        line,
                        instructions: Vec::new(),
                    });
                }
                Parsed::Instruction(value) => match (stages.last_mut(), value) {
                    (Some(stage), value) => stage.instructions.push(Located { line, value }),
                    (None, Instruction::Arg(args)) => {
                        global_args.extend(args.into_iter().map(|value| Located { line, value }))
                    }
                    (None, other) => {
                        return Err(ParseError::BeforeFrom {
                            line,
                            instruction: other.keyword(),
                        });
                    }
                },
            }
        }
        if stages.is_empty() {
            return Err(ParseError::MissingFrom);
        }
        Ok(Dockerfile {
            escape: directives.escape,
            syntax: directives.syntax,
            check: directives.check,
            global_args,
            stages,
        })
    }

    /// The stage named so (case-insensitively), else the stage at that index (`"0"`), as
    /// `COPY --from=` and `--target` refer to stages.
    pub fn stage(&self, name_or_index: &str) -> Option<&Stage> {
        let lower = name_or_index.to_lowercase();
        self.stages
            .iter()
            .find(|s| s.name.as_deref() == Some(lower.as_str()))
            .or_else(|| {
                let index = name_or_index.parse::<usize>().ok()?;
                self.stages.get(index)
            })
    }
}
