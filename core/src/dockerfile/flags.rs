//! The `--name=value` flags of an instruction, checked against what that instruction accepts
//! (BuildKit's `BFlags`): unknown, repeated and malformed flags are errors.

use super::error::ParseError;

/// The value a flag takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `--link`, `--link=true`, `--link=false`.
    Bool,
    /// `--from=build`, once.
    String,
    /// `--mount=…`, any number of times.
    Strings,
}

/// Where the flags are: the instruction and its line, for the errors.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx {
    pub line: usize,
    pub keyword: &'static str,
}

/// The flags given, by name, with their values as written (quotes already removed).
#[derive(Debug, Default)]
pub(crate) struct Flags {
    given: Vec<(&'static str, String)>,
}

impl Flags {
    /// The value of a string flag; an empty value (`--from=`) counts as not given, as in Docker.
    pub fn string(&self, name: &str) -> Option<String> {
        self.given
            .iter()
            .find(|(n, v)| *n == name && !v.is_empty())
            .map(|(_, v)| v.clone())
    }

    pub fn bool(&self, name: &str) -> bool {
        self.given.iter().any(|(n, v)| *n == name && v == "true")
    }
}

/// Checks `words` (each `--name` or `--name=value`) against `accepted`; a flag in `refused` is
/// valid Dockerfile syntax that multiarch does not implement.
pub(crate) fn parse_flags(
    ctx: Ctx,
    words: &[String],
    accepted: &[(&'static str, Kind)],
    refused: &[&'static str],
) -> Result<Flags, ParseError> {
    let mut flags = Flags::default();
    for word in words {
        let Some(body) = word.strip_prefix("--") else {
            return Err(bad(ctx, word, "must start with `--`".to_owned()));
        };
        if body.is_empty() {
            break;
        }
        let (name, value) = match body.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (body, None),
        };
        if refused.contains(&name) {
            return Err(ParseError::UnsupportedFlag {
                line: ctx.line,
                instruction: ctx.keyword,
                flag: name.to_owned(),
            });
        }
        let Some(&(name, kind)) = accepted.iter().find(|(n, _)| *n == name) else {
            return Err(ParseError::UnknownFlag {
                line: ctx.line,
                instruction: ctx.keyword,
                flag: name.to_owned(),
                accepted: accepted_list(accepted),
            });
        };
        if kind != Kind::Strings && flags.given.iter().any(|(n, _)| *n == name) {
            return Err(bad(ctx, name, "is given twice; keep one".to_owned()));
        }
        let value = match (kind, value) {
            (Kind::Bool, None) => "true".to_owned(),
            (Kind::Bool, Some(v)) if v.eq_ignore_ascii_case("true") => "true".to_owned(),
            (Kind::Bool, Some(v)) if v.eq_ignore_ascii_case("false") => "false".to_owned(),
            (Kind::Bool, Some(v)) => {
                let message =
                    format!("expects true or false, found `{v}`; write --{name} or --{name}=false");
                return Err(bad(ctx, name, message));
            }
            (_, Some(v)) => v.to_owned(),
            (_, None) => {
                return Err(bad(
                    ctx,
                    name,
                    format!("needs a value, e.g. --{name}=VALUE"),
                ));
            }
        };
        flags.given.push((name, value));
    }
    Ok(flags)
}

fn accepted_list(accepted: &[(&'static str, Kind)]) -> String {
    if accepted.is_empty() {
        return "no flags".to_owned();
    }
    let names: Vec<String> = accepted.iter().map(|(n, _)| format!("--{n}")).collect();
    names.join(", ")
}

fn bad(ctx: Ctx, flag: &str, message: String) -> ParseError {
    ParseError::BadFlag {
        line: ctx.line,
        instruction: ctx.keyword,
        flag: flag.trim_start_matches('-').to_owned(),
        message,
    }
}
