//! GitHub's workflow commands and files: outputs (`$GITHUB_OUTPUT`), the job summary
//! (`$GITHUB_STEP_SUMMARY`), log groups, annotations and masks.
//!
//! Commands go to stdout, where the runner reads them; everything else multiarch logs goes to
//! stderr.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

/// Where a step's outputs and summary go.
#[derive(Debug, Clone, Default)]
pub struct Files {
    pub output: Option<PathBuf>,
    pub summary: Option<PathBuf>,
}

impl Files {
    pub fn from_env() -> Files {
        let path = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        Files {
            output: path("GITHUB_OUTPUT"),
            summary: path("GITHUB_STEP_SUMMARY"),
        }
    }

    /// Sets step output `name`. Every value is written in the multi-line form
    /// (`name<<DELIMITER`), with a delimiter that the value cannot contain.
    pub fn set_output(&self, name: &str, value: &str) -> Result<()> {
        let Some(path) = &self.output else {
            // Outside a runner: show the outputs, so local runs can see them.
            println!("{name}={value}");
            return Ok(());
        };
        let delimiter = delimiter_for(value);
        append(
            path,
            &format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"),
        )
    }

    /// Appends Markdown to the job summary.
    pub fn summary(&self, markdown: &str) -> Result<()> {
        match &self.summary {
            Some(path) => append(path, markdown),
            None => Ok(()),
        }
    }
}

/// A delimiter derived from the value's hash, so it is stable and never a line of the value.
fn delimiter_for(value: &str) -> String {
    let mut salt = 0u32;
    loop {
        let hash = Sha256::digest(format!("{salt}:{value}").as_bytes());
        let delimiter = format!("ghadelimiter_{}", hex::encode(&hash[..12]));
        if !value.lines().any(|line| line == delimiter) {
            return delimiter;
        }
        salt += 1;
    }
}

fn append(path: &Path, text: &str) -> Result<()> {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

/// Hides `secret` in every later line of the job's log.
pub fn mask(secret: &str) {
    for line in secret.lines().filter(|l| !l.trim().is_empty()) {
        println!("::add-mask::{}", escape_data(line));
    }
}

/// An error annotation on the run's page (and in the log).
pub fn error(title: &str, message: &str) {
    println!(
        "::error title={}::{}",
        escape_property(title),
        escape_data(message)
    );
}

pub fn warning(message: &str) {
    println!("::warning::{}", escape_data(message));
}

pub fn notice(message: &str) {
    println!("::notice::{}", escape_data(message));
}

/// A collapsible log group, closed when dropped.
#[derive(Debug)]
pub struct Group;

impl Group {
    pub fn start(title: &str) -> Group {
        println!("::group::{}", escape_data(title));
        Group
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        println!("::endgroup::");
    }
}

/// Escapes a command's message as the runner expects (`%`, CR, LF).
fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a command property's value (also `:` and `,`).
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_use_a_delimiter_that_is_not_in_the_value() {
        let dir = tempfile::tempdir().unwrap();
        let files = Files {
            output: Some(dir.path().join("out")),
            summary: None,
        };
        let value = "line one\nline two";
        files.set_output("tags", value).unwrap();
        files.set_output("digest", "sha256:abc").unwrap();
        let text = std::fs::read_to_string(dir.path().join("out")).unwrap();
        let mut lines = text.lines();
        let header = lines.next().unwrap();
        let delimiter = header.strip_prefix("tags<<").unwrap();
        assert_eq!(lines.next(), Some("line one"));
        assert_eq!(lines.next(), Some("line two"));
        assert_eq!(lines.next(), Some(delimiter));
        assert!(lines.next().unwrap().starts_with("digest<<"));
        assert_eq!(lines.next(), Some("sha256:abc"));
    }

    #[test]
    fn a_value_containing_the_delimiter_gets_another() {
        let first = delimiter_for("x");
        let tricky = format!("x\n{first}");
        let second = delimiter_for(&tricky);
        assert_ne!(first, second);
        assert!(!tricky.lines().any(|l| l == second));
    }

    #[test]
    fn escapes_commands() {
        assert_eq!(escape_data("50% done\nnext"), "50%25 done%0Anext");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
    }
}
