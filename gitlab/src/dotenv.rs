//! The dotenv report (`artifacts:reports:dotenv`): variables for later jobs.
//!
//! GitLab parses it line by line as `KEY=VALUE`, strips both sides, and refuses the whole
//! report (the upload fails with "Invalid Format") on a line it cannot read: so every name and
//! value is checked before anything is written, values must be single lines without
//! surrounding whitespace, and the file stays under GitLab's default 5 KB limit. The file is
//! written atomically: a temporary file beside it, renamed over it.

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use anyhow::{Context as _, Result, bail};

/// GitLab's default limit for a dotenv report: the file must be smaller than this.
pub const MAX_BYTES: usize = 5 * 1024;

/// The report's text, or an error naming the entry GitLab would refuse.
pub fn render(entries: &[(&str, &str)]) -> Result<String> {
    let mut text = String::new();
    for (name, value) in entries {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            bail!("dotenv: {name:?} is not a variable name GitLab accepts (A-Z a-z 0-9 _)");
        }
        if value.contains(['\n', '\r']) {
            bail!(
                "dotenv: the value of {name} spans several lines, which GitLab's dotenv reports \
                 cannot carry: {value:?}"
            );
        }
        if value.trim() != *value {
            bail!(
                "dotenv: the value of {name} starts or ends with whitespace, which GitLab would \
                 strip: {value:?}"
            );
        }
        text.push_str(name);
        text.push('=');
        text.push_str(value);
        text.push('\n');
    }
    if text.len() >= MAX_BYTES {
        bail!(
            "dotenv: the report would be {} bytes, and GitLab refuses reports of {MAX_BYTES} bytes \
             or more; use fewer tags",
            text.len()
        );
    }
    Ok(text)
}

/// Writes the report to `path` (its folder is created), atomically.
pub fn write(path: &Path, entries: &[(&str, &str)]) -> Result<()> {
    let text = render(entries)?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => Path::new(".").to_owned(),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut temp = tempfile::NamedTempFile::new_in(&dir)
        .with_context(|| format!("writing the dotenv report in {}", dir.display()))?;
    temp.write_all(text.as_bytes())
        .and_then(|()| {
            temp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o644))
        })
        .and_then(|()| temp.as_file().sync_all())
        .with_context(|| format!("writing the dotenv report {}", path.display()))?;
    temp.persist(path)
        .with_context(|| format!("writing the dotenv report {}", path.display()))?;
    tracing::info!("dotenv report written to {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_variable_in_order() {
        let text = render(&[
            ("MULTIARCH_DIGEST", "sha256:abc"),
            (
                "MULTIARCH_IMAGE_REF",
                "registry.example.com/g/app@sha256:abc",
            ),
            ("MULTIARCH_TAGS", ""),
        ])
        .unwrap();
        assert_eq!(
            text,
            "MULTIARCH_DIGEST=sha256:abc\n\
             MULTIARCH_IMAGE_REF=registry.example.com/g/app@sha256:abc\n\
             MULTIARCH_TAGS=\n"
        );
    }

    #[test]
    fn what_gitlab_would_refuse_is_refused_first() {
        let error =
            |name: &str, value: &str| format!("{:#}", render(&[(name, value)]).unwrap_err());
        assert!(error("MULTIARCH_TAGS", "a\nb").contains("several lines"));
        assert!(error("MULTIARCH_TAGS", "a\rb").contains("several lines"));
        assert!(error("MULTIARCH_TAGS", " a").contains("whitespace"));
        assert!(error("MULTIARCH-TAGS", "a").contains("not a variable name"));
        assert!(error("", "a").contains("not a variable name"));
        let long = "x".repeat(MAX_BYTES);
        assert!(error("MULTIARCH_TAGS", &long).contains("refuses reports"));
    }

    #[test]
    fn written_whole_and_replaced_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/multiarch.env");
        write(&path, &[("A", "1")]).unwrap();
        write(&path, &[("A", "2"), ("B", "x")]).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "A=2\nB=x\n");
        // Nothing is written when a value is refused.
        assert!(write(&path, &[("A", "3\n")]).is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "A=2\nB=x\n");
        let leftovers = std::fs::read_dir(dir.path().join("sub")).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file left behind");
    }
}
