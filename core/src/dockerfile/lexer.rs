//! From text to logical lines, as BuildKit reads them: parser directives at the top, comments,
//! blank lines, line continuations with the escape character, and heredoc bodies.

use super::Heredoc;
use super::error::ParseError;
use super::expand::expand;
use super::words::split_raw;

/// The parser directives found before the first instruction, comment or blank line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Directives {
    pub escape: char,
    pub syntax: Option<String>,
    pub check: Option<String>,
}

/// One instruction's text with its continuations joined, and the heredoc bodies it introduced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogicalLine {
    /// The 1-based line where the instruction starts.
    pub line: usize,
    pub text: String,
    pub heredocs: Vec<Heredoc>,
}

pub(crate) fn lex(text: &str) -> Result<(Directives, Vec<LogicalLine>), ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let mut directives = Directives {
        escape: '\\',
        syntax: None,
        check: None,
    };
    let mut reading_directives = true;
    let mut seen = Vec::new();
    let mut out = Vec::new();
    let mut next = 0;
    while next < lines.len() {
        let start = next + 1;
        let first = lines[next].trim_start();
        next += 1;
        if reading_directives {
            reading_directives = directive(first, start, &mut seen, &mut directives)?;
        }
        if first.is_empty() || first.starts_with('#') {
            continue;
        }
        let (part, mut ended) = trim_continuation(first, directives.escape);
        let mut text = part.to_owned();
        while !ended && next < lines.len() {
            let raw = lines[next];
            next += 1;
            let lead = raw.trim_start();
            // BuildKit skips comment lines and empty lines inside a continuation.
            if lead.is_empty() || lead.starts_with('#') {
                continue;
            }
            let (part, end) = trim_continuation(raw, directives.escape);
            text.push_str(part);
            ended = end;
        }
        let heredocs = read_heredocs(&text, start, directives.escape, &lines, &mut next)?;
        out.push(LogicalLine {
            line: start,
            text,
            heredocs,
        });
    }
    Ok((directives, out))
}

/// Handles a possible `# key=value` directive line; returns whether directives may still follow.
fn directive(
    line: &str,
    number: usize,
    seen: &mut Vec<String>,
    directives: &mut Directives,
) -> Result<bool, ParseError> {
    let Some((key, value)) = directive_parts(line) else {
        return Ok(false);
    };
    let key = key.to_ascii_lowercase();
    let error = |message: String| ParseError::Directive {
        line: number,
        message,
    };
    if !matches!(key.as_str(), "syntax" | "escape" | "check") {
        // An unknown directive is a comment, and ends the directives.
        return Ok(false);
    }
    if seen.contains(&key) {
        return Err(error(format!(
            "`{key}` is given twice; only one {key} parser directive can be used"
        )));
    }
    match key.as_str() {
        "syntax" => directives.syntax = Some(value.to_owned()),
        "check" => directives.check = Some(value.to_owned()),
        _ => {
            directives.escape = match value {
                "\\" => '\\',
                "`" => '`',
                other => {
                    return Err(error(format!(
                        "invalid escape character `{other}`; expected \\ or `"
                    )));
                }
            }
        }
    }
    seen.push(key);
    Ok(true)
}

/// Splits `# key = value` (blanks optional), the key a letter then letters or digits.
fn directive_parts(line: &str) -> Option<(&str, &str)> {
    let (key, value) = line.strip_prefix('#')?.split_once('=')?;
    let (key, value) = (key.trim(), value.trim());
    let mut chars = key.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric());
    (valid && !value.is_empty()).then_some((key, value))
}

/// Strips a trailing escape character (and the blanks after it); returns the text and whether
/// the logical line ends here.
fn trim_continuation(line: &str, escape: char) -> (&str, bool) {
    match line.trim_end_matches([' ', '\t']).strip_suffix(escape) {
        Some(text) => (text, false),
        None => (line, true),
    }
}

/// A `<<NAME`, `<<-NAME`, `<<"NAME"` or `<<'NAME'` word: the name, whether leading tabs are
/// stripped (`<<-`) and whether the body is expanded (the name was not quoted).
pub(crate) fn heredoc_marker(word: &str, escape: char) -> Option<(String, bool, bool)> {
    let rest = word.trim_start_matches(|c: char| c.is_ascii_digit());
    let rest = rest.strip_prefix("<<")?;
    let (chomp, rest) = match rest.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, rest),
    };
    if rest.is_empty() || rest.contains('<') {
        return None;
    }
    let name = expand(rest, escape, &|_| None).ok()?;
    let expands = name == rest;
    (!name.is_empty()).then_some((name, chomp, expands))
}

/// Reads the bodies of the heredocs that a RUN, COPY or ADD line introduces, in order.
fn read_heredocs(
    text: &str,
    start: usize,
    escape: char,
    lines: &[&str],
    next: &mut usize,
) -> Result<Vec<Heredoc>, ParseError> {
    if !text.contains("<<") {
        return Ok(Vec::new());
    }
    let words = split_raw(text, escape);
    let keyword = words
        .first()
        .map(|w| w.to_ascii_uppercase())
        .unwrap_or_default();
    let markers = words
        .iter()
        .filter_map(|w| heredoc_marker(w, escape))
        .collect::<Vec<_>>();
    if markers.is_empty() {
        return Ok(Vec::new());
    }
    match keyword.as_str() {
        "RUN" | "COPY" | "ADD" => {}
        "ONBUILD" => {
            return Err(ParseError::Invalid {
                line: start,
                instruction: "ONBUILD",
                message: "heredocs in ONBUILD triggers are not supported; \
                          COPY a file from the build context instead"
                    .to_owned(),
            });
        }
        _ => return Ok(Vec::new()),
    }
    let mut heredocs = Vec::new();
    for (name, chomp, expands) in markers {
        let mut content = String::new();
        let mut terminated = false;
        while let Some(line) = lines.get(*next) {
            *next += 1;
            let line = if chomp {
                line.trim_start_matches('\t')
            } else {
                line
            };
            if line == name {
                terminated = true;
                break;
            }
            content.push_str(line);
            content.push('\n');
        }
        if !terminated {
            return Err(ParseError::UnterminatedHeredoc { line: start, name });
        }
        heredocs.push(Heredoc {
            name,
            content,
            expand: expands,
        });
    }
    Ok(heredocs)
}
