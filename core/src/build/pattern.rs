//! Path patterns as Docker reads them.
//!
//! [`go_match`] is Go's `path/filepath.Match` (one path component at a time for COPY sources:
//! `*`, `?`, `[^a-z]`, `\` escapes). [`IgnorePattern`] is a `.dockerignore` line as
//! moby/patternmatcher compiles it: the same syntax over whole paths, plus `**` for any number of
//! directories, with patternmatcher's exact, prefix and suffix shortcuts kept because they match
//! slightly differently from its regular expressions (`**.txt` matches `a/b.txt`).

/// A pattern Go's `filepath.Match` would reject with `ErrBadPattern`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BadPattern;

/// Whether `pattern` contains a character `filepath.Match` treats specially (Go's `hasMeta`).
pub(crate) fn has_meta(pattern: &str) -> bool {
    pattern.contains(['*', '?', '[', '\\'])
}

/// Go's `filepath.Match(pattern, name)` with `/` as the separator. Like Go 1.16 and later, the
/// whole pattern is checked for syntax even when the match fails early.
pub(crate) fn go_match(pattern: &str, name: &str) -> Result<bool, BadPattern> {
    let mut pattern = pattern.as_bytes();
    let mut name = name.as_bytes();
    'pattern: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            return Ok(!name.contains(&b'/'));
        }
        let (t, ok) = match_chunk(chunk, name)?;
        if ok && (t.is_empty() || !pattern.is_empty()) {
            name = t;
            continue;
        }
        if star {
            let mut i = 0;
            while i < name.len() && name[i] != b'/' {
                let (t, ok) = match_chunk(chunk, &name[i + 1..])?;
                if ok {
                    if pattern.is_empty() && !t.is_empty() {
                        i += 1;
                        continue;
                    }
                    name = t;
                    continue 'pattern;
                }
                i += 1;
            }
        }
        while !pattern.is_empty() {
            let (_, chunk, rest) = scan_chunk(pattern);
            pattern = rest;
            match_chunk(chunk, b"")?;
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

fn scan_chunk(mut pattern: &[u8]) -> (bool, &[u8], &[u8]) {
    let mut star = false;
    while let [b'*', rest @ ..] = pattern {
        pattern = rest;
        star = true;
    }
    let mut in_range = false;
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            b'\\' if i + 1 < pattern.len() => i += 1,
            b'[' => in_range = true,
            b']' => in_range = false,
            b'*' if !in_range => break,
            _ => {}
        }
        i += 1;
    }
    (star, &pattern[..i], &pattern[i..])
}

/// Decodes one UTF-8 character; an invalid byte decodes as U+FFFD of length 1, as in Go.
fn decode(s: &[u8]) -> (char, usize) {
    for len in 1..=s.len().min(4) {
        if let Ok(text) = std::str::from_utf8(&s[..len])
            && let Some(c) = text.chars().next()
        {
            return (c, len);
        }
    }
    (char::REPLACEMENT_CHARACTER, 1.min(s.len()))
}

fn match_chunk<'a>(mut chunk: &[u8], mut s: &'a [u8]) -> Result<(&'a [u8], bool), BadPattern> {
    let mut failed = false;
    while !chunk.is_empty() {
        if !failed && s.is_empty() {
            failed = true;
        }
        match chunk[0] {
            b'[' => {
                let mut r = '\0';
                if !failed {
                    let (c, n) = decode(s);
                    r = c;
                    s = &s[n..];
                }
                chunk = &chunk[1..];
                let negated = chunk.first() == Some(&b'^');
                if negated {
                    chunk = &chunk[1..];
                }
                let mut matched = false;
                let mut ranges = 0;
                loop {
                    if chunk.first() == Some(&b']') && ranges > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    let (lo, rest) = get_esc(chunk)?;
                    chunk = rest;
                    let mut hi = lo;
                    if chunk[0] == b'-' {
                        let (h, rest) = get_esc(&chunk[1..])?;
                        hi = h;
                        chunk = rest;
                    }
                    if lo <= r && r <= hi {
                        matched = true;
                    }
                    ranges += 1;
                }
                if matched == negated {
                    failed = true;
                }
            }
            b'?' => {
                if !failed {
                    if s[0] == b'/' {
                        failed = true;
                    }
                    let (_, n) = decode(s);
                    s = &s[n..];
                }
                chunk = &chunk[1..];
            }
            c => {
                let c = if c == b'\\' {
                    chunk = &chunk[1..];
                    *chunk.first().ok_or(BadPattern)?
                } else {
                    c
                };
                if !failed {
                    if c != s[0] {
                        failed = true;
                    }
                    s = &s[1..];
                }
                chunk = &chunk[1..];
            }
        }
    }
    if failed {
        Ok((b"", false))
    } else {
        Ok((s, true))
    }
}

/// One character of a class, possibly escaped; never empty-handed at the end (Go's `getEsc`).
fn get_esc(chunk: &[u8]) -> Result<(char, &[u8]), BadPattern> {
    let mut chunk = match chunk.first() {
        None | Some(b'-' | b']') => return Err(BadPattern),
        Some(b'\\') => &chunk[1..],
        Some(_) => chunk,
    };
    if chunk.is_empty() {
        return Err(BadPattern);
    }
    let (r, n) = decode(chunk);
    if r == char::REPLACEMENT_CHARACTER && n == 1 && chunk[0] >= 0x80 {
        return Err(BadPattern);
    }
    chunk = &chunk[n..];
    if chunk.is_empty() {
        return Err(BadPattern);
    }
    Ok((r, chunk))
}

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

    #[test]
    fn go_match_agrees_with_go() {
        // Cases from Go's path/filepath match_test.go.
        let cases: &[(&str, &str, Result<bool, BadPattern>)] = &[
            ("abc", "abc", Ok(true)),
            ("*", "abc", Ok(true)),
            ("*c", "abc", Ok(true)),
            ("a*", "a", Ok(true)),
            ("a*", "abc", Ok(true)),
            ("a*", "ab/c", Ok(false)),
            ("a*/b", "abc/b", Ok(true)),
            ("a*/b", "a/c/b", Ok(false)),
            ("a*b*c*d*e*/f", "axbxcxdxe/f", Ok(true)),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/f", Ok(true)),
            ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", Ok(false)),
            ("a*b?c*x", "abxbbxdbxebxczzx", Ok(true)),
            ("a*b?c*x", "abxbbxdbxebxczzy", Ok(false)),
            ("ab[c]", "abc", Ok(true)),
            ("ab[b-d]", "abc", Ok(true)),
            ("ab[e-g]", "abc", Ok(false)),
            ("ab[^c]", "abc", Ok(false)),
            ("ab[^b-d]", "abc", Ok(false)),
            ("ab[^e-g]", "abc", Ok(true)),
            ("a\\*b", "a*b", Ok(true)),
            ("a\\*b", "ab", Ok(false)),
            ("a?b", "a☺b", Ok(true)),
            ("a[^a]b", "a☺b", Ok(true)),
            ("a???b", "a☺b", Ok(false)),
            ("[a-ζ]*", "α", Ok(true)),
            ("*[a-ζ]", "A", Ok(false)),
            ("a?b", "a/b", Ok(false)),
            ("a*b", "a/b", Ok(false)),
            ("[\\]a]", "]", Ok(true)),
            ("[\\-]", "-", Ok(true)),
            ("[x\\-]", "x", Ok(true)),
            ("[x\\-]", "z", Ok(false)),
            ("[]a]", "]", Err(BadPattern)),
            ("[-]", "-", Err(BadPattern)),
            ("[x-]", "x", Err(BadPattern)),
            ("\\", "a", Err(BadPattern)),
            ("[a-b-c]", "a", Err(BadPattern)),
            ("[", "a", Err(BadPattern)),
            ("[^", "a", Err(BadPattern)),
            ("a[", "a", Err(BadPattern)),
            ("a[", "ab", Err(BadPattern)),
            ("a[", "x", Err(BadPattern)),
            ("a/b[", "x", Err(BadPattern)),
            ("*x", "xxx", Ok(true)),
        ];
        for (pattern, name, want) in cases {
            assert_eq!(
                go_match(pattern, name),
                *want,
                "Match({pattern:?}, {name:?})"
            );
        }
    }

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
