//! Instructions that change only the image config (ENV, LABEL, WORKDIR, USER, EXPOSE, ENTRYPOINT,
//! CMD, …), with Docker's rules: ENV overrides ARG in expansions, ENTRYPOINT resets an inherited
//! CMD, shell forms run through SHELL, relative WORKDIRs join the previous one.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use super::{Run, StageImage};
use crate::build::BuildError;
use crate::build::config::ImageConfig;
use crate::dockerfile::{Command, Healthcheck, Instruction, Located};
use crate::platform::Platform;

/// What a stage's evaluation carries between instructions besides the config.
#[derive(Debug)]
pub struct State {
    /// ARGs declared in this stage, with their values.
    pub args: BTreeMap<String, String>,
    pub workdir: String,
    shell: Vec<String>,
    cmd_set: bool,
}

impl State {
    /// The state at the start of a stage; `args` are those a parent stage ended with.
    pub fn new(config: &ImageConfig, platform: &Platform, args: BTreeMap<String, String>) -> Self {
        let strings = |key: &str| -> Option<Vec<String>> {
            let array = config.get(key)?.as_array()?;
            array
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect()
        };
        let default_shell = if platform.os == "windows" {
            vec!["cmd".to_owned(), "/S".to_owned(), "/C".to_owned()]
        } else {
            vec!["/bin/sh".to_owned(), "-c".to_owned()]
        };
        State {
            args,
            workdir: config
                .get("WorkingDir")
                .and_then(Value::as_str)
                .filter(|w| !w.is_empty())
                .unwrap_or("/")
                .to_owned(),
            shell: strings("Shell").unwrap_or(default_shell),
            cmd_set: false,
        }
    }

    /// How a variable expands here: ENV first, then ARG.
    pub fn lookup(&self, config: &ImageConfig) -> impl Fn(&str) -> Option<String> + use<> {
        let env = config.env();
        let args = self.args.clone();
        move |name: &str| {
            env.iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .or_else(|| args.get(name).cloned())
        }
    }

    fn command(&self, command: &Command) -> Value {
        match command {
            Command::Exec(args) => json!(args),
            Command::Shell(line) => {
                let mut args = self.shell.clone();
                args.push(line.clone());
                json!(args)
            }
        }
    }
}

impl Run<'_, '_> {
    /// Applies one instruction to the stage being built.
    pub(super) async fn instruction(
        &mut self,
        image: &mut StageImage,
        state: &mut State,
        stage_platform: &Platform,
        instruction: &Located<Instruction>,
    ) -> Result<(), BuildError> {
        let line = instruction.line;
        let lookup = state.lookup(&image.config);
        let expand = |raw: &str| self.plan().expand(raw, line, &lookup);
        let created_by: String = match &instruction.value {
            Instruction::Copy(copy) => {
                return self.copy(image, state, stage_platform, copy, line).await;
            }
            Instruction::Run(_) => {
                return Err(BuildError::Instruction {
                    path: self.plan().path.to_owned(),
                    line,
                    message: "RUN needs an engine that runs commands (--engine auto)".to_owned(),
                });
            }
            Instruction::Arg(decls) => {
                let mut names = Vec::new();
                for decl in decls {
                    // Each declaration sees the ones before it on the same line.
                    let lookup = state.lookup(&image.config);
                    let value = match (self.build.request.build_args.get(&decl.name), &decl.default)
                    {
                        (Some(given), _) => Some(given.clone()),
                        (None, Some(default)) => Some(self.plan().expand(default, line, &lookup)?),
                        // Global values (the predefined platform ones among them) are inherited
                        // by a declaration without a value; otherwise the argument stays unset.
                        (None, None) => self.globals.get(&decl.name).cloned(),
                    };
                    if let Some(value) = value {
                        state.args.insert(decl.name.clone(), value);
                    }
                    names.push(decl.name.clone());
                }
                // Values stay out of the history: build arguments may be secrets.
                format!("ARG {}", names.join(" "))
            }
            Instruction::Env(pairs) => {
                let mut expanded = Vec::new();
                for (key, value) in pairs {
                    expanded.push((expand(key)?, expand(value)?));
                }
                for (key, value) in &expanded {
                    image.config.set_env(key, value);
                }
                format!("ENV {}", join_pairs(&expanded))
            }
            Instruction::Label(pairs) => {
                let mut expanded = Vec::new();
                for (key, value) in pairs {
                    expanded.push((expand(key)?, expand(value)?));
                }
                for (key, value) in &expanded {
                    image.config.insert("Labels", key, Some(value));
                }
                format!("LABEL {}", join_pairs(&expanded))
            }
            Instruction::Workdir(raw) => {
                let dir = expand(raw)?;
                state.workdir = join_path(&state.workdir, &dir);
                image.config.set("WorkingDir", json!(state.workdir));
                format!("WORKDIR {}", state.workdir)
            }
            Instruction::User(raw) => {
                let user = expand(raw)?;
                image.config.set("User", json!(user));
                format!("USER {user}")
            }
            Instruction::Expose(raw) => {
                let mut ports = Vec::new();
                for word in raw {
                    for port in self.expand_words(word, line, &lookup)? {
                        ports.extend(self.ports(&port, line)?);
                    }
                }
                for port in &ports {
                    image.config.insert("ExposedPorts", port, None);
                }
                format!("EXPOSE {}", ports.join(" "))
            }
            Instruction::Entrypoint(command) => {
                let value = state.command(command);
                image.config.set("Entrypoint", value.clone());
                if !state.cmd_set {
                    // Docker: an ENTRYPOINT drops the CMD inherited from the base image.
                    image.config.set("Cmd", Value::Null);
                }
                format!("ENTRYPOINT {value}")
            }
            Instruction::Cmd(command) => {
                let value = state.command(command);
                image.config.set("Cmd", value.clone());
                state.cmd_set = true;
                format!("CMD {value}")
            }
            Instruction::Shell(shell) => {
                state.shell = shell.clone();
                image.config.set("Shell", json!(shell));
                format!("SHELL {}", json!(shell))
            }
            Instruction::StopSignal(raw) => {
                let signal = expand(raw)?;
                image.config.set("StopSignal", json!(signal));
                format!("STOPSIGNAL {signal}")
            }
            Instruction::Volume(raw) => {
                let mut volumes = Vec::new();
                for word in raw {
                    volumes.extend(self.expand_words(word, line, &lookup)?);
                }
                for volume in &volumes {
                    image.config.insert("Volumes", volume, None);
                }
                format!("VOLUME {}", json!(volumes))
            }
            Instruction::Healthcheck(check) => {
                let value = healthcheck(check);
                image.config.set("Healthcheck", value.clone());
                format!("HEALTHCHECK {value}")
            }
            Instruction::Onbuild(trigger) => {
                let mut triggers = image
                    .config
                    .get("OnBuild")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                triggers.push(json!(trigger));
                image.config.set("OnBuild", Value::Array(triggers));
                format!("ONBUILD {trigger}")
            }
            Instruction::Maintainer(author) => {
                image.config.set_author(author);
                format!("MAINTAINER {author}")
            }
        };
        image.config.push_history(&self.created, &created_by, true);
        Ok(())
    }

    /// A word that may expand to several (`EXPOSE $PORTS`).
    fn expand_words(
        &self,
        raw: &str,
        line: usize,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Vec<String>, BuildError> {
        crate::dockerfile::expand_words(raw, self.plan().dockerfile.escape, lookup).map_err(|e| {
            BuildError::Instruction {
                path: self.plan().path.to_owned(),
                line,
                message: e.to_string(),
            }
        })
    }

    /// `8080`, `53/udp`, `8000-8002/tcp` → `8080/tcp`, `53/udp`, `8000/tcp` … `8002/tcp`.
    fn ports(&self, word: &str, line: usize) -> Result<Vec<String>, BuildError> {
        let bad = || BuildError::Instruction {
            path: self.plan().path.to_owned(),
            line,
            message: format!(
                "EXPOSE {word}: expected PORT[/PROTOCOL] or START-END[/PROTOCOL], e.g. 8080 or 53/udp"
            ),
        };
        let (range, protocol) = match word.split_once('/') {
            Some((range, protocol)) => (range, protocol.to_ascii_lowercase()),
            None => (word, "tcp".to_owned()),
        };
        if !matches!(protocol.as_str(), "tcp" | "udp" | "sctp") {
            return Err(bad());
        }
        let (start, end) = match range.split_once('-') {
            Some((start, end)) => (start, end),
            None => (range, range),
        };
        let start: u16 = start.parse().map_err(|_| bad())?;
        let end: u16 = end.parse().map_err(|_| bad())?;
        if start > end {
            return Err(bad());
        }
        Ok((start..=end)
            .map(|port| format!("{port}/{protocol}"))
            .collect())
    }
}

fn healthcheck(check: &Healthcheck) -> Value {
    match check {
        Healthcheck::None => json!({"Test": ["NONE"]}),
        Healthcheck::Check {
            test,
            interval,
            timeout,
            start_period,
            start_interval,
            retries,
        } => {
            let test = match test {
                Command::Exec(args) => {
                    let mut test = vec!["CMD".to_owned()];
                    test.extend(args.iter().cloned());
                    test
                }
                Command::Shell(line) => vec!["CMD-SHELL".to_owned(), line.clone()],
            };
            let mut value = json!({"Test": test});
            let nanos = |d: &Duration| json!(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
            for (key, duration) in [
                ("Interval", interval),
                ("Timeout", timeout),
                ("StartPeriod", start_period),
                ("StartInterval", start_interval),
            ] {
                if let Some(duration) = duration {
                    value[key] = nanos(duration);
                }
            }
            if let Some(retries) = retries {
                value["Retries"] = json!(retries);
            }
            value
        }
    }
}

fn join_pairs(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `base` joined with `path` (absolute paths replace it), cleaned of `.`, `..` and repeated `/`.
pub fn join_path(base: &str, path: &str) -> String {
    let joined = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("{base}/{path}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workdirs_join_and_clean() {
        assert_eq!(join_path("/", "app"), "/app");
        assert_eq!(join_path("/app", "src/../bin"), "/app/bin");
        assert_eq!(join_path("/app", "/srv//x/"), "/srv/x");
        assert_eq!(join_path("/", "../.."), "/");
    }
}
