//! Docker-style variable expansion, as BuildKit's shell lexer does it for the instructions the
//! builder expands (FROM, ARG, ENV, LABEL, WORKDIR, USER, EXPOSE, VOLUME, STOPSIGNAL, COPY, ADD).
//!
//! Quotes are removed: single quotes keep their text literally; double quotes expand `$` and
//! let the escape character escape `"`, `$` and itself. Outside quotes the escape character
//! makes the next character literal. `$NAME`, `${NAME}` and the `${NAME<op>word}` forms expand;
//! unset variables expand to nothing; a `$` not followed by a name stays literal. As in
//! BuildKit, `$` followed by a digit or one of `@*#?-$!` names a (normally unset) positional or
//! special parameter, so `$1` and `$$` expand to nothing.

use super::error::ExpandError;
use super::pattern::Pattern;

/// Expands one word: quotes and escapes are removed, variables replaced.
pub fn expand(
    word: &str,
    escape: char,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ExpandError> {
    Shell::new(word, escape, lookup)
        .process(None, false)
        .map(|(text, _)| text)
}

/// Expands, then splits into words on whitespace that is not quoted or escaped. As in BuildKit,
/// the text a variable expands to is split too (`$LIST` holding `a b` gives two words), and an
/// empty quoted string gives no word.
pub fn expand_words(
    input: &str,
    escape: char,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<String>, ExpandError> {
    Shell::new(input, escape, lookup)
        .process(None, false)
        .map(|(_, words)| words)
}

/// Expands the content of a heredoc whose delimiter was not quoted ([`super::Heredoc::expand`]),
/// as BuildKit does for COPY and ADD: variables are replaced and `\` escapes (always `\`,
/// whatever the Dockerfile's escape character), but quotes are ordinary text.
pub fn expand_heredoc(
    content: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ExpandError> {
    let mut shell = Shell::new(content, '\\', lookup);
    shell.quotes = false;
    shell.process(None, false).map(|(text, _)| text)
}

struct Shell<'a> {
    source: &'a str,
    chars: Vec<char>,
    at: usize,
    escape: char,
    /// Whether quotes are processed; heredoc content keeps them.
    quotes: bool,
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

/// The words being built while the text is expanded.
#[derive(Default)]
struct Words {
    done: Vec<String>,
    word: String,
}

impl Words {
    /// A character that splits words when it is whitespace.
    fn add_char(&mut self, ch: char) {
        if !ch.is_whitespace() {
            self.word.push(ch);
        } else if !self.word.is_empty() {
            self.done.push(std::mem::take(&mut self.word));
        }
    }

    fn add_str(&mut self, text: &str) {
        text.chars().for_each(|ch| self.add_char(ch));
    }

    fn finish(mut self) -> Vec<String> {
        if !self.word.is_empty() {
            self.done.push(self.word);
        }
        self.done
    }
}

/// The character that ends an inner word: `}` of `${…}` or the `/` after a pattern.
type Stop = Option<char>;

impl<'a> Shell<'a> {
    fn new(source: &'a str, escape: char, lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Shell {
            source,
            chars: source.chars().collect(),
            at: 0,
            escape,
            quotes: true,
            lookup,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let ch = self.peek();
        self.at += 1;
        ch
    }

    fn bad(&self, detail: impl Into<String>) -> ExpandError {
        ExpandError::BadSubstitution {
            word: self.source.to_owned(),
            detail: detail.into(),
        }
    }

    fn missing_brace(&self) -> ExpandError {
        ExpandError::MissingBrace {
            word: self.source.to_owned(),
        }
    }

    /// Expands up to `stop` (consumed) or the end. With `raw_escapes` the escape characters are
    /// kept, for patterns, whose escapes the pattern compiler reads.
    fn process(
        &mut self,
        stop: Stop,
        raw_escapes: bool,
    ) -> Result<(String, Vec<String>), ExpandError> {
        let mut text = String::new();
        let mut words = Words::default();
        while let Some(ch) = self.peek() {
            if Some(ch) == stop {
                self.at += 1;
                return Ok((text, words.finish()));
            }
            match ch {
                '$' => {
                    let value = self.dollar()?;
                    words.add_str(&value);
                    text.push_str(&value);
                }
                '\'' | '"' if self.quotes => {
                    let value = if ch == '\'' {
                        self.single_quoted()?
                    } else {
                        self.double_quoted(raw_escapes)?
                    };
                    words.word.push_str(&value);
                    text.push_str(&value);
                }
                _ => {
                    self.at += 1;
                    if ch != self.escape {
                        words.add_char(ch);
                        text.push(ch);
                        continue;
                    }
                    if raw_escapes {
                        words.word.push(ch);
                        text.push(ch);
                    }
                    // An escape at the very end is dropped.
                    let Some(next) = self.bump() else { break };
                    words.word.push(next);
                    text.push(next);
                }
            }
        }
        match stop {
            None => Ok((text, words.finish())),
            Some('/') => {
                Err(self.bad("missing `/` after the pattern of `${NAME/pattern/replacement}`"))
            }
            Some(_) => Err(self.missing_brace()),
        }
    }

    fn single_quoted(&mut self) -> Result<String, ExpandError> {
        self.at += 1;
        let mut text = String::new();
        loop {
            match self.bump() {
                Some('\'') => return Ok(text),
                Some(ch) => text.push(ch),
                None => return Err(self.unterminated('\'')),
            }
        }
    }

    fn double_quoted(&mut self, raw_escapes: bool) -> Result<String, ExpandError> {
        self.at += 1;
        let mut text = String::new();
        loop {
            match self.peek() {
                None => return Err(self.unterminated('"')),
                Some('"') => {
                    self.at += 1;
                    return Ok(text);
                }
                Some('$') => text.push_str(&self.dollar()?),
                Some(ch) => {
                    self.at += 1;
                    if ch != self.escape {
                        text.push(ch);
                        continue;
                    }
                    // Only `"`, `$` and the escape itself can be escaped; other escapes stay.
                    match self.peek() {
                        Some(next) if next == '"' || next == '$' || next == self.escape => {
                            self.at += 1;
                            if raw_escapes {
                                text.push(ch);
                            }
                            text.push(next);
                        }
                        _ => text.push(ch),
                    }
                }
            }
        }
    }

    fn unterminated(&self, quote: char) -> ExpandError {
        ExpandError::UnterminatedQuote {
            word: self.source.to_owned(),
            quote,
        }
    }

    /// Reads a variable name: letters, digits and `_`, or digits only, or one special character.
    fn name(&mut self) -> String {
        let mut name = String::new();
        if let Some(ch) = self.peek().filter(|c| "@*#?-$!".contains(*c)) {
            self.at += 1;
            return ch.to_string();
        }
        let digits = self.peek().is_some_and(|c| c.is_ascii_digit());
        while let Some(ch) = self.peek() {
            let ok = if digits {
                ch.is_ascii_digit()
            } else {
                ch.is_alphanumeric() || ch == '_'
            };
            if !ok {
                break;
            }
            name.push(ch);
            self.at += 1;
        }
        name
    }

    /// Expands what starts at a `$`.
    fn dollar(&mut self) -> Result<String, ExpandError> {
        self.at += 1;
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".to_owned());
            }
            return Ok((self.lookup)(&name).unwrap_or_default());
        }
        self.at += 1;
        match self.peek() {
            None => return Err(self.missing_brace()),
            Some('{' | '}' | ':') => {
                return Err(self.bad("`${` must be followed by a variable name"));
            }
            Some(_) => {}
        }
        let name = self.name();
        let value = (self.lookup)(&name);
        let op = self.bump().ok_or_else(|| self.missing_brace())?;
        let (null_is_unset, op) = match op {
            '}' => return Ok(value.unwrap_or_default()),
            '/' => return self.replace(value.unwrap_or_default()),
            ':' => (true, self.bump().ok_or_else(|| self.missing_brace())?),
            op => (false, op),
        };
        if !"-+?#%".contains(op) || (null_is_unset && (op == '#' || op == '%')) {
            let colon = if null_is_unset { ":" } else { "" };
            return Err(self.bad(format!(
                "unsupported modifier `{colon}{op}` in `${{{name}…}}`; expected one of :- - :+ + :? ? # ## % %% / //"
            )));
        }
        let (word, _) = self.process(Some('}'), op == '#' || op == '%')?;
        let empty = match &value {
            None => true,
            Some(v) => null_is_unset && v.is_empty(),
        };
        match op {
            '-' if empty => Ok(word),
            '-' => Ok(value.unwrap_or_default()),
            '+' if empty => Ok(String::new()),
            '+' => Ok(word),
            '?' if empty => {
                let message = match (&value, word.is_empty()) {
                    (_, false) => word,
                    (None, true) => "is not allowed to be unset".to_owned(),
                    (Some(_), true) => "is not allowed to be empty".to_owned(),
                };
                Err(ExpandError::Required { name, message })
            }
            '?' => Ok(value.unwrap_or_default()),
            _ => {
                // `#`/`%` remove the shortest matching prefix/suffix, `##`/`%%` the longest.
                let (greedy, pattern) = match word.strip_prefix(op) {
                    Some(rest) => (true, rest),
                    None => (false, word.as_str()),
                };
                let value = value.unwrap_or_default();
                Ok(self.compile(pattern)?.trim(&value, op == '#', greedy))
            }
        }
    }

    /// `${NAME/pattern/replacement}` (first match) and `${NAME//pattern/replacement}` (all),
    /// the leading `/` already read.
    fn replace(&mut self, value: String) -> Result<String, ExpandError> {
        let all = self.peek() == Some('/');
        if all {
            self.at += 1;
        }
        let (pattern, _) = self.process(Some('/'), true)?;
        let (replacement, _) = self.process(Some('}'), false)?;
        Ok(self.compile(&pattern)?.replace(&value, &replacement, all))
    }

    fn compile(&self, pattern: &str) -> Result<Pattern, ExpandError> {
        Pattern::compile(pattern, self.escape).map_err(|detail| self.bad(detail))
    }
}
