//! Splitting an instruction's text into words, flags and JSON arrays, all without expansion.

/// Splits on unquoted whitespace, keeping quotes and escapes in the words (BuildKit's
/// `parseWords`): `A="x y" B=z` gives `A="x y"` and `B=z`. An escape at the very end is dropped.
pub(crate) fn split_raw(text: &str, escape: char) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    // A word made only of an empty quoted string (`""`) still counts.
    let mut quoted = false;
    let mut quote: Option<char> = None;
    let mut i = 0;
    while i < chars.len() {
        let mut ch = chars[i];
        i += 1;
        match quote {
            None if ch.is_whitespace() => {
                if quoted || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                quoted = false;
                continue;
            }
            None => {
                if ch == '\'' || ch == '"' {
                    quote = Some(ch);
                    quoted = true;
                } else if ch == escape {
                    let Some(&next) = chars.get(i) else { continue };
                    word.push(ch);
                    ch = next;
                    i += 1;
                }
            }
            Some(q) => {
                if ch == q {
                    quote = None;
                } else if ch == escape && q != '\'' {
                    let Some(&next) = chars.get(i) else {
                        quote = None;
                        continue;
                    };
                    word.push(ch);
                    ch = next;
                    i += 1;
                }
            }
        }
        word.push(ch);
    }
    if quoted || !word.is_empty() {
        words.push(word);
    }
    words
}

/// Takes the leading `--flag[=value]` words off an instruction's arguments (BuildKit's
/// `extractBuilderFlags`): quotes and backslash escapes inside flags are removed, a lone `--`
/// ends the flags. Returns the flags and the rest of the text.
pub(crate) fn extract_flags(text: &str) -> (Vec<String>, &str) {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut flags = Vec::new();
    let mut i = 0;
    loop {
        while chars.get(i).is_some_and(|(_, c)| c.is_whitespace()) {
            i += 1;
        }
        let Some(&(start, _)) = chars.get(i) else {
            return (flags, "");
        };
        let is_flag =
            chars.get(i).map(|c| c.1) == Some('-') && chars.get(i + 1).map(|c| c.1) == Some('-');
        if !is_flag {
            return (flags, &text[start..]);
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        let mut quoted = false;
        while let Some(&(at, ch)) = chars.get(i) {
            i += 1;
            match quote {
                None if ch.is_whitespace() => {
                    i -= 1;
                    if word == "--" {
                        return (flags, &text[at..]);
                    }
                    break;
                }
                None if ch == '\'' || ch == '"' => {
                    quote = Some(ch);
                    quoted = true;
                }
                Some(q) if ch == q => quote = None,
                _ if ch == '\\' => match chars.get(i) {
                    Some(&(_, next)) => {
                        word.push(next);
                        i += 1;
                    }
                    None => quote = None,
                },
                _ => word.push(ch),
            }
        }
        if word == "--" {
            return (flags, "");
        }
        if quoted || !word.is_empty() {
            flags.push(word);
        }
    }
}

/// What the arguments of an instruction that accepts the JSON (exec) form turned out to be.
#[derive(Debug, PartialEq)]
pub(crate) enum JsonArray {
    Strings(Vec<String>),
    /// Valid JSON, but not an array of strings only: an error, as in Docker.
    NotStrings,
    /// Not JSON at all: the text is the shell (whitespace) form.
    NotJson,
}

/// Reads `text` as a JSON array of strings when it starts with `[` and is valid JSON.
pub(crate) fn json_array(text: &str) -> JsonArray {
    let text = text.trim();
    if !text.starts_with('[') {
        return JsonArray::NotJson;
    }
    let mut parser = Json {
        chars: text.chars().collect(),
        at: 0,
    };
    let Some(items) = parser.top_array() else {
        return JsonArray::NotJson;
    };
    parser.skip_ws();
    if parser.at != parser.chars.len() {
        return JsonArray::NotJson;
    }
    items
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .map_or(JsonArray::NotStrings, JsonArray::Strings)
}

/// Just enough of a JSON reader to tell string arrays from other valid JSON.
struct Json {
    chars: Vec<char>,
    at: usize,
}

const MAX_DEPTH: usize = 256;

impl Json {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let ch = self.peek();
        self.at += 1;
        ch
    }

    fn eat(&mut self, ch: char) -> bool {
        self.skip_ws();
        let found = self.peek() == Some(ch);
        if found {
            self.at += 1;
        }
        found
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | '\n' | '\r')) {
            self.at += 1;
        }
    }

    /// The elements: `Some(text)` for strings, `None` for any other value.
    fn top_array(&mut self) -> Option<Vec<Option<String>>> {
        let mut items = Vec::new();
        self.eat('[');
        if self.eat(']') {
            return Some(items);
        }
        loop {
            items.push(self.value(0)?);
            if self.eat(']') {
                return Some(items);
            }
            if !self.eat(',') {
                return None;
            }
        }
    }

    /// One value; `None` when it is not valid JSON, `Some(None)` when it is not a string.
    fn value(&mut self, depth: usize) -> Option<Option<String>> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.skip_ws();
        match self.peek()? {
            '"' => self.string().map(Some),
            '[' | '{' => self.container(depth).map(|()| None),
            't' => self.literal("true"),
            'f' => self.literal("false"),
            'n' => self.literal("null"),
            _ => self.number(),
        }
    }

    fn container(&mut self, depth: usize) -> Option<()> {
        let close = if self.bump() == Some('[') { ']' } else { '}' };
        if self.eat(close) {
            return Some(());
        }
        loop {
            if close == '}' {
                self.skip_ws();
                self.string()?;
                if !self.eat(':') {
                    return None;
                }
            }
            self.value(depth + 1)?;
            if self.eat(close) {
                return Some(());
            }
            if !self.eat(',') {
                return None;
            }
        }
    }

    fn literal(&mut self, word: &str) -> Option<Option<String>> {
        for expected in word.chars() {
            if self.bump() != Some(expected) {
                return None;
            }
        }
        Some(None)
    }

    fn number(&mut self) -> Option<Option<String>> {
        let digits = |json: &mut Json| {
            let start = json.at;
            while json.peek().is_some_and(|c| c.is_ascii_digit()) {
                json.at += 1;
            }
            json.at - start
        };
        if self.peek() == Some('-') {
            self.at += 1;
        }
        let leading_zero = self.peek() == Some('0');
        let count = digits(self);
        if count == 0 || (leading_zero && count > 1) {
            return None;
        }
        if self.peek() == Some('.') {
            self.at += 1;
            if digits(self) == 0 {
                return None;
            }
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            self.at += 1;
            if matches!(self.peek(), Some('+' | '-')) {
                self.at += 1;
            }
            if digits(self) == 0 {
                return None;
            }
        }
        Some(None)
    }

    fn string(&mut self) -> Option<String> {
        if self.bump() != Some('"') {
            return None;
        }
        let mut out = String::new();
        loop {
            match self.bump()? {
                '"' => return Some(out),
                '\\' => match self.bump()? {
                    '"' => out.push('"'),
                    '\\' => out.push('\\'),
                    '/' => out.push('/'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    'u' => out.push(self.unicode_escape()?),
                    _ => return None,
                },
                c if (c as u32) < 0x20 => return None,
                c => out.push(c),
            }
        }
    }

    /// The character of a `\uXXXX` escape (the `\u` already read), joining surrogate pairs; a
    /// lone surrogate becomes U+FFFD as Go does.
    fn unicode_escape(&mut self) -> Option<char> {
        let high = self.hex4()?;
        if (0xD800..0xDC00).contains(&high)
            && self.chars.get(self.at..self.at + 2) == Some(&['\\', 'u'])
        {
            let save = self.at;
            self.at += 2;
            let low = self.hex4()?;
            if (0xDC00..0xE000).contains(&low) {
                let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
                return Some(char::from_u32(code).unwrap_or('\u{FFFD}'));
            }
            self.at = save;
        }
        Some(char::from_u32(high).unwrap_or('\u{FFFD}'))
    }

    fn hex4(&mut self) -> Option<u32> {
        let mut value = 0;
        for _ in 0..4 {
            value = value * 16 + self.bump()?.to_digit(16)?;
        }
        Some(value)
    }
}
