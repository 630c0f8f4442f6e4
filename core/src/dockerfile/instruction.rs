//! The instructions of a stage. Values the builder expands later are kept raw: unexpanded, with
//! their quotes and escapes (see the module documentation for which).

use std::time::Duration;

/// `ARG name[=default]`; the default is raw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgDecl {
    pub name: String,
    pub default: Option<String>,
}

/// An instruction after FROM (FROM itself starts a [`super::Stage`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instruction {
    /// One or more `name[=default]`.
    Arg(Vec<ArgDecl>),
    /// Raw `(key, value)` pairs, from `ENV k=v …` or the legacy `ENV k v`.
    Env(Vec<(String, String)>),
    /// Raw `(key, value)` pairs.
    Label(Vec<(String, String)>),
    /// The raw path.
    Workdir(String),
    /// The raw `user[:group]`.
    User(String),
    /// Raw `port[/proto]` words; each may expand to several (see `expand_words`).
    Expose(Vec<String>),
    Entrypoint(Command),
    Cmd(Command),
    /// The JSON array, e.g. `["/bin/sh", "-c"]`.
    Shell(Vec<String>),
    /// The raw signal, e.g. `SIGTERM` or `9`.
    StopSignal(String),
    /// Raw paths, from the JSON or the whitespace form.
    Volume(Vec<String>),
    Healthcheck(Healthcheck),
    /// COPY and ADD.
    Copy(Copy),
    Run(Run),
    /// The trigger instruction as written, e.g. `COPY . /app`; run by builds based on the image.
    Onbuild(String),
    /// Deprecated; the text as written.
    Maintainer(String),
}

impl Instruction {
    /// The keyword in upper case, e.g. `COPY` (or `ADD` for an ADD).
    pub fn keyword(&self) -> &'static str {
        match self {
            Instruction::Arg(_) => "ARG",
            Instruction::Env(_) => "ENV",
            Instruction::Label(_) => "LABEL",
            Instruction::Workdir(_) => "WORKDIR",
            Instruction::User(_) => "USER",
            Instruction::Expose(_) => "EXPOSE",
            Instruction::Entrypoint(_) => "ENTRYPOINT",
            Instruction::Cmd(_) => "CMD",
            Instruction::Shell(_) => "SHELL",
            Instruction::StopSignal(_) => "STOPSIGNAL",
            Instruction::Volume(_) => "VOLUME",
            Instruction::Healthcheck(_) => "HEALTHCHECK",
            Instruction::Copy(copy) if copy.add => "ADD",
            Instruction::Copy(_) => "COPY",
            Instruction::Run(_) => "RUN",
            Instruction::Onbuild(_) => "ONBUILD",
            Instruction::Maintainer(_) => "MAINTAINER",
        }
    }
}

/// A command of ENTRYPOINT, CMD, RUN or HEALTHCHECK; never expanded by the builder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// The JSON form, `["executable", "arg"]`, run without a shell.
    Exec(Vec<String>),
    /// The shell form, as written, run with the stage's SHELL.
    Shell(String),
}

/// `HEALTHCHECK NONE` or `HEALTHCHECK [flags] CMD …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Healthcheck {
    /// Disables any health check inherited from the base image.
    None,
    /// A `None` setting (not given, or zero) inherits the base image's or Docker's default.
    Check {
        test: Command,
        interval: Option<Duration>,
        timeout: Option<Duration>,
        start_period: Option<Duration>,
        start_interval: Option<Duration>,
        retries: Option<u32>,
    },
}

/// COPY or ADD. Sources, destination and flag values are raw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy {
    /// ADD rather than COPY.
    pub add: bool,
    /// `--from=stage|index|image` (COPY only).
    pub from: Option<String>,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub link: bool,
    /// The sources as written (not the heredocs).
    pub sources: Vec<String>,
    /// Inline files (`COPY <<EOF /dest/`): each becomes a file named after its heredoc.
    pub heredocs: Vec<Heredoc>,
    pub dest: String,
    /// Written in the JSON form, `COPY ["src", "dest"]`.
    pub json: bool,
}

/// RUN: only its presence, command and flags are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub command: Command,
    /// The flags as written, e.g. `--mount=type=cache,target=/root/.cache` (quotes removed).
    pub flags: Vec<String>,
    /// Heredoc bodies the command reads, e.g. `RUN <<EOF … EOF`.
    pub heredocs: Vec<Heredoc>,
}

/// A here-document introduced by `<<NAME` on a RUN, COPY or ADD line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The delimiter, quotes removed; for COPY and ADD the name of the file created.
    pub name: String,
    /// The lines up to the delimiter, each ending in a newline; `<<-` strips leading tabs.
    pub content: String,
    /// Whether `$VAR` in the content is expanded: true unless the delimiter was quoted
    /// (`<<'EOF'` or `<<"EOF"`).
    pub expand: bool,
}
