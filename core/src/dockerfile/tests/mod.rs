//! Tests of the parser and of expansion, through the public API (plus the word splitters).

mod errors;
mod expansion;
mod instructions;
mod lexing;
mod words;

use super::*;

fn parse(text: &str) -> Dockerfile {
    Dockerfile::parse(text).unwrap_or_else(|e| panic!("{e}"))
}

fn error(text: &str) -> String {
    Dockerfile::parse(text).unwrap_err().to_string()
}

/// The instructions of the last stage.
fn instructions(text: &str) -> Vec<Instruction> {
    let stage = parse(text).stages.pop().unwrap();
    stage.instructions.into_iter().map(|i| i.value).collect()
}

/// The one instruction of `FROM scratch` followed by `body`.
fn one(body: &str) -> Instruction {
    let mut all = instructions(&format!("FROM scratch\n{body}\n"));
    assert_eq!(all.len(), 1, "{all:?}");
    all.remove(0)
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
