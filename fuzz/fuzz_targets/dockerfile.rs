//! The Dockerfile parser and the expansion of what the builder expands, with build arguments:
//! any text parses or is refused without a panic, every line number points into the text, every
//! named stage can be found by its name, and expanding every raw value in scope either works or
//! fails with an error.
//!
//! Input: `KEY=VALUE` lines (the build arguments), a NUL byte, then the Dockerfile; without a
//! NUL, all of it is the Dockerfile.

#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use multiarch_core::dockerfile::{self, Dockerfile, Instruction};

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let (args, text) = input.split_once('\0').unwrap_or(("", input));
    let build_args: BTreeMap<String, String> = args
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let lines = text.split('\n').count();
    let file = match Dockerfile::parse(text) {
        Ok(file) => file,
        Err(error) => {
            let _ = error.to_string();
            if let Some(line) = error.line() {
                assert!((1..=lines).contains(&line), "{error} (of {lines} lines)");
            }
            return;
        }
    };
    assert!(!file.stages.is_empty(), "a parsed Dockerfile has a stage");
    let escape = file.escape;

    // Global ARGs: their defaults see the build arguments and the ARGs before them.
    let mut globals = BTreeMap::new();
    for arg in &file.global_args {
        assert!((1..=lines).contains(&arg.line));
        let value = build_args.get(&arg.value.name).cloned().or_else(|| {
            let default = arg.value.default.as_ref()?;
            dockerfile::expand(default, escape, &|n| globals.get(n).cloned()).ok()
        });
        globals.insert(arg.value.name.clone(), value.unwrap_or_default());
    }

    for (index, stage) in file.stages.iter().enumerate() {
        assert_eq!(stage.index, index);
        assert!((1..=lines).contains(&stage.line));
        if let Some(name) = &stage.name {
            let found = file
                .stage(name)
                .expect("a named stage is found by its name");
            assert_eq!(found.index, index, "`{name}` names an earlier stage too");
        }
        let from_scope = |n: &str| globals.get(n).cloned();
        let _ = dockerfile::expand(&stage.from.image, escape, &from_scope);
        if let Some(platform) = &stage.from.platform {
            let _ = dockerfile::expand(platform, escape, &from_scope);
        }
        // The stage's scope: build arguments for its ARGs, then ENV, as the builder keeps them.
        let mut scope: BTreeMap<String, String> = BTreeMap::new();
        for instruction in &stage.instructions {
            assert!((1..=lines).contains(&instruction.line));
            let _ = instruction.value.keyword();
            expand_instruction(&instruction.value, escape, &build_args, &mut scope);
        }
    }
});

fn expand_instruction(
    instruction: &Instruction,
    escape: char,
    build_args: &BTreeMap<String, String>,
    scope: &mut BTreeMap<String, String>,
) {
    let one = |raw: &str, scope: &BTreeMap<String, String>| {
        dockerfile::expand(raw, escape, &|n| scope.get(n).cloned()).ok()
    };
    let words = |raw: &str, scope: &BTreeMap<String, String>| {
        let _ = dockerfile::expand_words(raw, escape, &|n| scope.get(n).cloned());
    };
    match instruction {
        Instruction::Arg(args) => {
            for arg in args {
                let value = build_args
                    .get(&arg.name)
                    .cloned()
                    .or_else(|| one(arg.default.as_deref()?, scope));
                scope.insert(arg.name.clone(), value.unwrap_or_default());
            }
        }
        Instruction::Env(pairs) => {
            for (key, value) in pairs {
                if let (Some(key), Some(value)) = (one(key, scope), one(value, scope)) {
                    scope.insert(key, value);
                }
            }
        }
        Instruction::Label(pairs) => {
            for (key, value) in pairs {
                one(key, scope);
                one(value, scope);
            }
        }
        Instruction::Workdir(raw) | Instruction::User(raw) | Instruction::StopSignal(raw) => {
            one(raw, scope);
        }
        Instruction::Expose(raw) | Instruction::Volume(raw) => {
            for word in raw {
                words(word, scope);
            }
        }
        Instruction::Copy(copy) => {
            for raw in copy.sources.iter().chain([&copy.dest]) {
                one(raw, scope);
            }
            for raw in [&copy.from, &copy.chown, &copy.chmod].into_iter().flatten() {
                one(raw, scope);
            }
            for heredoc in copy.heredocs.iter().filter(|h| h.expand) {
                let _ = dockerfile::expand_heredoc(&heredoc.content, &|n| scope.get(n).cloned());
            }
        }
        // Never expanded by the builder: the container's shell sees them as they are.
        Instruction::Entrypoint(_)
        | Instruction::Cmd(_)
        | Instruction::Shell(_)
        | Instruction::Healthcheck(_)
        | Instruction::Run(_)
        | Instruction::Onbuild(_)
        | Instruction::Maintainer(_) => {}
    }
}
