//! Errors of parsing a Dockerfile and of expanding its variables.
//!
//! Every parse error found on a line names that line (1-based, the line where the instruction
//! starts), what was expected and what was found.

/// The instruction keywords, in the order the error message lists them.
pub(crate) const KEYWORD_LIST: &str = "FROM, RUN, COPY, ADD, ARG, ENV, LABEL, WORKDIR, USER, EXPOSE, \
     ENTRYPOINT, CMD, SHELL, STOPSIGNAL, VOLUME, HEALTHCHECK, ONBUILD, MAINTAINER";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("the Dockerfile has no instructions; expected at least a FROM, e.g. FROM alpine:3.20")]
    Empty,
    #[error(
        "the Dockerfile has no FROM instruction; add one after the global ARGs, e.g. FROM alpine:3.20"
    )]
    MissingFrom,
    #[error("line {line}: parser directive: {message}")]
    Directive { line: usize, message: String },
    #[error("line {line}: unknown instruction `{found}`{hint}; expected one of {list}", list = KEYWORD_LIST)]
    UnknownInstruction {
        line: usize,
        found: String,
        /// ` (did you mean COPY?)` when a keyword is one typo away, else empty.
        hint: String,
    },
    #[error("line {line}: {instruction} must come after FROM; only ARG may precede the first FROM")]
    BeforeFrom {
        line: usize,
        instruction: &'static str,
    },
    #[error("line {line}: {instruction}: unknown flag --{flag}; {instruction} accepts {accepted}")]
    UnknownFlag {
        line: usize,
        instruction: &'static str,
        flag: String,
        /// `--from, --chown, --chmod, --link` or `no flags`.
        accepted: String,
    },
    #[error(
        "line {line}: {instruction}: flag --{flag} is valid Dockerfile syntax but not supported by multiarch; remove it"
    )]
    UnsupportedFlag {
        line: usize,
        instruction: &'static str,
        flag: String,
    },
    #[error("line {line}: {instruction}: flag --{flag} {message}")]
    BadFlag {
        line: usize,
        instruction: &'static str,
        flag: String,
        message: String,
    },
    #[error("line {line}: {instruction} {problem}, e.g. {example}")]
    Arguments {
        line: usize,
        instruction: &'static str,
        problem: String,
        example: &'static str,
    },
    #[error(
        "line {line}: invalid stage name `{name}`; expected a letter followed by letters, digits, `-`, `_` or `.`, e.g. FROM golang:1.23 AS build"
    )]
    StageName { line: usize, name: String },
    #[error(
        "line {line}: duplicate stage name `{name}`, already used by the stage on line {first_line}; rename one of them"
    )]
    DuplicateStage {
        line: usize,
        name: String,
        first_line: usize,
    },
    #[error(
        "line {line}: unterminated heredoc `{name}`; expected a line holding only `{name}` before the end of the file"
    )]
    UnterminatedHeredoc { line: usize, name: String },
    #[error("line {line}: {instruction}: {message}")]
    Invalid {
        line: usize,
        instruction: &'static str,
        message: String,
    },
}

impl ParseError {
    /// The line the error is about, when it is about one.
    pub fn line(&self) -> Option<usize> {
        match self {
            ParseError::Empty | ParseError::MissingFrom => None,
            ParseError::Directive { line, .. }
            | ParseError::UnknownInstruction { line, .. }
            | ParseError::BeforeFrom { line, .. }
            | ParseError::UnknownFlag { line, .. }
            | ParseError::UnsupportedFlag { line, .. }
            | ParseError::BadFlag { line, .. }
            | ParseError::Arguments { line, .. }
            | ParseError::StageName { line, .. }
            | ParseError::DuplicateStage { line, .. }
            | ParseError::UnterminatedHeredoc { line, .. }
            | ParseError::Invalid { line, .. } => Some(*line),
        }
    }
}

/// Why a word could not be expanded; `word` is the whole word as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    /// `${NAME:?message}` or `${NAME?message}` met an empty or unset variable.
    #[error("{name}: {message}")]
    Required { name: String, message: String },
    #[error("`{word}`: unterminated {quote} quote; add the closing {quote}")]
    UnterminatedQuote { word: String, quote: char },
    #[error("`{word}`: missing `}}` to close `${{`")]
    MissingBrace { word: String },
    #[error("`{word}`: bad substitution: {detail}")]
    BadSubstitution { word: String, detail: String },
}
