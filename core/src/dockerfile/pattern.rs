//! The shell patterns of `${NAME#pattern}`, `${NAME%pattern}` and `${NAME/pattern/replacement}`:
//! `*` matches any text and `?` one character, as in BuildKit (no `[…]` classes).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Glob {
    Char(char),
    One,
    Any,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern(Vec<Glob>);

impl Pattern {
    /// Reads a pattern whose escapes are still in it: the escape character makes `*`, `?`, `}`,
    /// `/` or itself literal. The error is the detail of a bad substitution.
    pub fn compile(pattern: &str, escape: char) -> Result<Pattern, String> {
        let mut chars = pattern.chars();
        let mut out = Vec::new();
        while let Some(ch) = chars.next() {
            out.push(match ch {
                '*' => Glob::Any,
                '?' => Glob::One,
                ch if ch == escape => match chars.next() {
                    Some(next) if "*?}/".contains(next) || next == escape => Glob::Char(next),
                    next => {
                        let next = next.map(String::from).unwrap_or_default();
                        return Err(format!(
                            "invalid escape `{escape}{next}` in pattern `{pattern}`; only *, ?, }}, / and {escape} can be escaped"
                        ));
                    }
                },
                ch => Glob::Char(ch),
            });
        }
        Ok(Pattern(out))
    }

    /// Every `k` for which the pattern matches `text[..k]`, ascending: a simulation of the
    /// pattern as an automaton, linear in the text for each pattern position.
    fn prefix_ends(tokens: &[Glob], text: &[char]) -> Vec<usize> {
        let m = tokens.len();
        // `*` may match nothing: a state before a `*` is also the state after it.
        let close = |states: &mut Vec<bool>| {
            for i in 0..m {
                if states[i] && tokens[i] == Glob::Any {
                    states[i + 1] = true;
                }
            }
        };
        let mut states = vec![false; m + 1];
        states[0] = true;
        close(&mut states);
        let mut ends = Vec::new();
        if states[m] {
            ends.push(0);
        }
        let mut next = vec![false; m + 1];
        for (k, ch) in text.iter().enumerate() {
            next.fill(false);
            for (i, token) in tokens.iter().enumerate().filter(|(i, _)| states[*i]) {
                match token {
                    Glob::Any => next[i] = true,
                    Glob::One => next[i + 1] = true,
                    Glob::Char(c) if c == ch => next[i + 1] = true,
                    Glob::Char(_) => {}
                }
            }
            close(&mut next);
            if !next.contains(&true) {
                break;
            }
            if next[m] {
                ends.push(k + 1);
            }
            std::mem::swap(&mut states, &mut next);
        }
        ends
    }

    /// Removes the shortest (or, `greedy`, the longest) matching prefix or suffix of `value`.
    pub fn trim(&self, value: &str, prefix: bool, greedy: bool) -> String {
        let mut value: Vec<char> = value.chars().collect();
        let mut tokens = self.0.clone();
        // A suffix of the value is a prefix of the reversed value, for the reversed pattern.
        if !prefix {
            value.reverse();
            tokens.reverse();
        }
        let ends = Self::prefix_ends(&tokens, &value);
        let cut = if greedy { ends.last() } else { ends.first() };
        let mut kept = value.split_off(cut.copied().unwrap_or(0));
        if !prefix {
            kept.reverse();
        }
        kept.into_iter().collect()
    }

    /// Replaces the first match (or every match, `all`): leftmost, then longest.
    pub fn replace(&self, value: &str, replacement: &str, all: bool) -> String {
        let value: Vec<char> = value.chars().collect();
        let mut out = String::new();
        let mut at = 0;
        while at <= value.len() {
            let found = (at..=value.len()).find_map(|start| {
                let ends = Self::prefix_ends(&self.0, &value[start..]);
                ends.last().map(|len| (start, start + len))
            });
            let Some((start, end)) = found else { break };
            out.extend(&value[at..start]);
            out.push_str(replacement);
            at = end;
            if !all {
                break;
            }
            if start == end {
                // An empty match: step over one character so the search moves on.
                out.extend(value.get(at));
                at += 1;
            }
        }
        out.extend(value.get(at..).unwrap_or_default());
        out
    }
}
