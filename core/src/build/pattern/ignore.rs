//! `.dockerignore` patterns as moby/patternmatcher reads and compiles them: lines cleaned like
//! Go's `filepath.Clean`, Go `filepath.Match` syntax over whole paths plus `**` for any number of
//! directories. patternmatcher's exact, prefix and suffix shortcuts are kept because they match
//! slightly differently from its regular expressions (`**.txt` matches `a/b.txt`).

use super::{go_match, has_meta};

/// One compiled `.dockerignore` pattern.
#[derive(Debug, Clone)]
pub(crate) struct IgnorePattern {
    /// The cleaned pattern without its `!`.
    cleaned: String,
    pub(crate) exclusion: bool,
    kind: MatchKind,
    tokens: Vec<Token>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MatchKind {
    Exact,
    Prefix,
    Suffix,
    Regexp,
}

#[derive(Debug, Clone)]
enum Token {
    Char(char),
    /// `?`: one character other than `/`.
    One,
    /// `*`: any run of characters other than `/`.
    Star,
    /// `**/` or `**` inside a pattern: `(.*/)?`.
    AnyDirs,
    /// `**` at the end: `.*`.
    Rest,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

impl IgnorePattern {
    /// Compiles a pattern already cleaned by [`clean_ignore_line`] (`!` kept as a prefix).
    pub(crate) fn new(pattern: &str) -> Result<IgnorePattern, &'static str> {
        let (exclusion, body) = match pattern.strip_prefix('!') {
            Some("") => return Err("`!` alone excludes nothing"),
            Some(body) => (true, body),
            None => (false, pattern),
        };
        if go_match(body, ".").is_err() {
            return Err("not valid Go filepath.Match syntax");
        }
        let (kind, tokens) = compile(body);
        Ok(IgnorePattern {
            cleaned: body.to_owned(),
            exclusion,
            kind,
            tokens,
        })
    }

    pub(crate) fn matches(&self, path: &str) -> bool {
        match self.kind {
            MatchKind::Exact => path == self.cleaned,
            MatchKind::Prefix => path.starts_with(&self.cleaned[..self.cleaned.len() - 2]),
            MatchKind::Suffix => {
                let suffix = &self.cleaned[2..];
                path.ends_with(suffix) || suffix.strip_prefix('/').is_some_and(|rest| path == rest)
            }
            MatchKind::Regexp => {
                let text: Vec<char> = path.chars().collect();
                let mut memo = vec![None; (self.tokens.len() + 1) * (text.len() + 1)];
                run(&self.tokens, &text, 0, 0, &mut memo)
            }
        }
    }

    /// The leading components with no special character: a path under which this pattern
    /// could match nothing is one whose components disagree with these.
    pub(crate) fn literal_prefix(&self) -> Vec<&str> {
        self.cleaned
            .split('/')
            .take_while(|c| !has_meta(c))
            .collect()
    }
}

/// Cleans one line of a `.dockerignore` as moby/patternmatcher's `ReadAll` does: `None` for
/// comments and blank lines; otherwise `filepath.Clean`, without a leading `/`, `!` kept.
pub(crate) fn clean_ignore_line(line: &str) -> Option<String> {
    if line.starts_with('#') {
        return None;
    }
    let line = line.trim();
    if line.is_empty() {
        return None;
    }
    let (invert, body) = match line.strip_prefix('!') {
        Some(body) => (true, body.trim()),
        None => (false, line),
    };
    let mut body = if body.is_empty() {
        String::new()
    } else {
        go_clean(body)
    };
    if body.len() > 1 && body.starts_with('/') {
        body.remove(0);
    }
    Some(if invert { format!("!{body}") } else { body })
}

/// Go's `path.Clean`.
pub(crate) fn go_clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match out.last() {
                Some(&last) if last != ".." => {
                    out.pop();
                }
                _ if rooted => {}
                _ => out.push(".."),
            },
            other => out.push(other),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

fn compile(pattern: &str) -> (MatchKind, Vec<Token>) {
    let chars: Vec<char> = pattern.chars().collect();
    let mut tokens = Vec::new();
    let mut kind = MatchKind::Exact;
    let mut i = 0;
    let mut first = true;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' if chars.get(i) == Some(&'*') => {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i == chars.len() {
                    if kind == MatchKind::Exact {
                        kind = MatchKind::Prefix;
                    } else {
                        kind = MatchKind::Regexp;
                    }
                    tokens.push(Token::Rest);
                } else {
                    kind = MatchKind::Regexp;
                    tokens.push(Token::AnyDirs);
                }
                if first {
                    kind = MatchKind::Suffix;
                }
            }
            '*' => {
                kind = MatchKind::Regexp;
                tokens.push(Token::Star);
            }
            '?' => {
                kind = MatchKind::Regexp;
                tokens.push(Token::One);
            }
            '\\' => match chars.get(i) {
                Some(&next) => {
                    tokens.push(Token::Char(next));
                    i += 1;
                }
                None => tokens.push(Token::Char('\\')),
            },
            '[' => {
                kind = MatchKind::Regexp;
                let negated = chars.get(i) == Some(&'^');
                if negated {
                    i += 1;
                }
                let mut ranges = Vec::new();
                while i < chars.len() && (chars[i] != ']' || ranges.is_empty()) {
                    let mut lo = chars[i];
                    if lo == '\\' && i + 1 < chars.len() {
                        i += 1;
                        lo = chars[i];
                    }
                    i += 1;
                    let mut hi = lo;
                    if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|&c| c != ']') {
                        hi = chars[i + 1];
                        if hi == '\\' && i + 2 < chars.len() {
                            i += 1;
                            hi = chars[i + 1];
                        }
                        i += 2;
                    }
                    ranges.push((lo, hi));
                }
                i += 1;
                tokens.push(Token::Class { negated, ranges });
            }
            other => tokens.push(Token::Char(other)),
        }
        first = false;
    }
    (kind, tokens)
}

/// Whether `tokens[t..]` matches all of `text[s..]` (memoised: linear in pattern × path).
fn run(tokens: &[Token], text: &[char], t: usize, s: usize, memo: &mut [Option<bool>]) -> bool {
    let key = t * (text.len() + 1) + s;
    if let Some(known) = memo[key] {
        return known;
    }
    let result = match tokens.get(t) {
        None => s == text.len(),
        Some(Token::Char(c)) => text.get(s) == Some(c) && run(tokens, text, t + 1, s + 1, memo),
        Some(Token::One) => {
            text.get(s).is_some_and(|&c| c != '/') && run(tokens, text, t + 1, s + 1, memo)
        }
        Some(Token::Class { negated, ranges }) => {
            text.get(s)
                .is_some_and(|&c| ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated)
                && run(tokens, text, t + 1, s + 1, memo)
        }
        Some(Token::Star) => {
            run(tokens, text, t + 1, s, memo)
                || (text.get(s).is_some_and(|&c| c != '/') && run(tokens, text, t, s + 1, memo))
        }
        Some(Token::Rest) => run(tokens, text, t + 1, text.len(), memo),
        Some(Token::AnyDirs) => {
            run(tokens, text, t + 1, s, memo)
                || (s..text.len()).any(|i| text[i] == '/' && run(tokens, text, t + 1, i + 1, memo))
        }
    };
    memo[key] = Some(result);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ignore(pattern: &str, path: &str) -> bool {
        let line = clean_ignore_line(pattern).unwrap();
        IgnorePattern::new(&line).unwrap().matches(path)
    }

    #[test]
    fn ignore_patterns_match_as_patternmatcher() {
        // Cases from moby/patternmatcher's TestMatches.
        let yes = [
            ("**", "file"),
            ("**", "file/"),
            ("**/", "file"),
            ("**/", "dir/file"),
            ("**/file", "file"),
            ("**/file", "dir/file"),
            ("**/file*", "dir/dir/file.txt"),
            ("**/file*txt", "dir/dir/file.txt"),
            ("**/**/*.txt", "dir/dir/file.txt"),
            ("dir/**", "dir/file"),
            ("dir/**", "dir/dir2/file"),
            ("dir/**/", "dir/dir2/file"),
            ("**/dir", "dir"),
            ("**/dir2/*", "dir/dir2/file"),
            ("**/dir2/**", "dir/dir2/dir3/file"),
            ("**file", "file"),
            ("**file", "dir/file"),
            ("**/file", "dir/dir/file"),
            ("**.txt", "file.txt"),
            ("**.txt", "dir/file.txt"),
            ("a**", "a/b"),
            ("a/**/b", "a/b"),
            ("a/**/b", "a/x/y/b"),
            ("abc.def", "abc.def"),
            ("abc?def", "abcxdef"),
            ("/foo", "foo"),
            ("foo/", "foo"),
            ("*.go", "main.go"),
        ];
        for (pattern, path) in yes {
            assert!(ignore(pattern, path), "{pattern:?} should match {path:?}");
        }
        let no = [
            ("**/file*txt", "dir/dir/file.txtz"),
            ("dir/**", "dir"),
            ("**/.foo", "foo"),
            ("a**", "b"),
            ("**.txt", "file.go"),
            ("**/dir2/*", "dir/dir2/dir3/file"),
            ("abc.def", "abcZdef"),
            ("*.go", "cmd/main.go"),
            ("a/**/b", "a/bx"),
        ];
        for (pattern, path) in no {
            assert!(
                !ignore(pattern, path),
                "{pattern:?} should not match {path:?}"
            );
        }
        assert!(IgnorePattern::new("abc[").is_err());
        assert!(IgnorePattern::new("!").is_err());
    }

    #[test]
    fn ignore_lines_are_cleaned() {
        assert_eq!(clean_ignore_line("# comment"), None);
        assert_eq!(clean_ignore_line("   "), None);
        assert_eq!(clean_ignore_line(" /a/./b/ ").as_deref(), Some("a/b"));
        assert_eq!(clean_ignore_line("! /x/../y").as_deref(), Some("!y"));
        assert_eq!(clean_ignore_line("a/../../b").as_deref(), Some("../b"));
    }
}
