//! Task results: all or nothing, within the size Tekton can carry.
//!
//! By default Tekton reads a TaskRun's results from the step container's termination message,
//! which Kubernetes caps at 4096 bytes; results beyond it fail the step with a message about the
//! termination log that says little about why. So every value is computed first, the total
//! checked against the limit, and only then is anything written, each file atomically (a
//! temporary file in the same directory, renamed over the result's path).

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};

use crate::usage;

/// Overrides the limit, for clusters that read results from sidecar logs
/// (`results-from: sidecar-logs`, with their own `max-result-size`).
pub const LIMIT_ENV: &str = "MULTIARCH_TEKTON_RESULTS_LIMIT";

/// The termination message's size: what Tekton can carry for a step's results by default.
const DEFAULT_LIMIT: usize = 4096;

/// Tekton's own entry in the termination message (`{"key":"StartedAt","value":"<RFC 3339 with
/// nanoseconds>","type":3}`, about 75 bytes), kept free so that the results never push the
/// message over.
const RESERVED: usize = 100;

/// A result and the file it goes to (`$(results.NAME.path)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultFile {
    pub name: &'static str,
    pub path: PathBuf,
}

/// The limit: [`LIMIT_ENV`] or 4096 bytes.
pub fn limit(get: impl Fn(&str) -> Option<String>) -> Result<usize> {
    let Some(value) = get(LIMIT_ENV).filter(|v| !v.trim().is_empty()) else {
        return Ok(DEFAULT_LIMIT);
    };
    value
        .trim()
        .parse::<usize>()
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| {
            usage(format!(
                "{LIMIT_ENV}: expected a size in bytes (e.g. 8192), found {value:?}"
            ))
        })
}

/// The bytes the results take in the termination message: a JSON array of
/// `{"key":NAME,"value":VALUE,"type":1}`, with the values escaped as Go's encoding/json does.
fn encoded_size(results: &[(&ResultFile, String)]) -> usize {
    let entries: usize = results
        .iter()
        .map(|(file, value)| {
            r#"{"key":"","value":"","type":1}"#.len() + file.name.len() + escaped_len(value)
        })
        .sum();
    // Brackets and commas.
    entries + 2 + results.len().saturating_sub(1) + RESERVED
}

/// The length of `value` as a JSON string's contents, as Go escapes it (`<`, `>`, `&`, U+2028
/// and U+2029 become `\u00XX` too).
fn escaped_len(value: &str) -> usize {
    value
        .chars()
        .map(|c| match c {
            '"' | '\\' | '\n' | '\r' | '\t' => 2,
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => 6,
            c if (c as u32) < 0x20 => 6,
            c => c.len_utf8(),
        })
        .sum()
}

/// Checks that `results` fit in `limit`, then writes them all. Nothing is written when they do
/// not fit.
pub fn write(results: &[(&ResultFile, String)], limit: usize) -> Result<()> {
    check(results, limit)?;
    // Every value goes to a temporary file next to its result first; only when all are in
    // place are they renamed, so a failure leaves no result half-written.
    let mut staged = Vec::with_capacity(results.len());
    for (file, value) in results {
        let dir = match file.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
            _ => PathBuf::from("."),
        };
        let mut temp = tempfile::NamedTempFile::new_in(&dir).with_context(|| {
            format!(
                "cannot write the {} result in {} (from RESULT_{})",
                file.name,
                dir.display(),
                file.name
            )
        })?;
        // Readable by Tekton's results sidecar, which need not run as the step's user.
        temp.write_all(value.as_bytes())
            .and_then(|()| {
                temp.as_file()
                    .set_permissions(std::fs::Permissions::from_mode(0o644))
            })
            .and_then(|()| temp.as_file().sync_all())
            .with_context(|| format!("writing the {} result", file.name))?;
        staged.push((file, temp));
    }
    for (file, temp) in staged {
        temp.persist(&file.path).with_context(|| {
            format!(
                "writing the {} result to {}",
                file.name,
                file.path.display()
            )
        })?;
        tracing::debug!("result {} written to {}", file.name, file.path.display());
    }
    Ok(())
}

/// Checks that the results' directories exist, before any work whose results would be lost.
pub fn check_paths(files: &[&ResultFile]) -> Result<()> {
    for file in files {
        let dir = match file.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
            _ => PathBuf::from("."),
        };
        if !dir.is_dir() {
            return Err(usage(format!(
                "RESULT_{}: the directory of {} does not exist; set it to $(results.{}.path)",
                file.name,
                file.path.display(),
                file.name
            )));
        }
    }
    Ok(())
}

fn check(results: &[(&ResultFile, String)], limit: usize) -> Result<()> {
    let total = encoded_size(results);
    if total <= limit {
        return Ok(());
    }
    let sizes: Vec<String> = results
        .iter()
        .map(|(file, value)| format!("{} {} bytes", file.name, value.len()))
        .collect();
    bail!(
        "the results are too large for Tekton: {}; as Tekton stores them (in the step's \
         termination message, with its own entry) that is {total} bytes, over the limit of \
         {limit} bytes. No result was written. Make them smaller (a shorter IMAGE, fewer or \
         shorter annotations), or, if the cluster reads results from sidecar logs \
         (results-from: sidecar-logs, with a larger max-result-size), set {LIMIT_ENV} to that \
         size in the step's env",
        sizes.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(dir: &std::path::Path, name: &'static str) -> ResultFile {
        ResultFile {
            name,
            path: dir.join(name),
        }
    }

    #[test]
    fn the_limit_defaults_to_4096_and_can_be_raised() {
        assert_eq!(limit(|_| None).unwrap(), 4096);
        assert_eq!(limit(|_| Some(" ".into())).unwrap(), 4096);
        assert_eq!(limit(|_| Some("8192".into())).unwrap(), 8192);
        for bad in ["0", "-1", "4k", "lots"] {
            let error = limit(|_| Some(bad.into())).unwrap_err();
            assert!(error.chain().any(|c| c.is::<crate::UsageError>()));
            assert!(format!("{error}").contains(LIMIT_ENV), "{error}");
        }
    }

    #[test]
    fn sizes_count_as_the_termination_message_does() {
        assert_eq!(escaped_len("abc"), 3);
        assert_eq!(escaped_len(r#"{"a":"b"}"#), 9 + 4);
        assert_eq!(escaped_len("a<b"), 8);
        assert_eq!(escaped_len("é"), 2);
        let f = ResultFile {
            name: "IMAGE_DIGEST",
            path: PathBuf::from("x"),
        };
        let one = [(&f, "sha256:abc".to_owned())];
        let expected = r#"[{"key":"IMAGE_DIGEST","value":"sha256:abc","type":1}]"#.len();
        assert_eq!(encoded_size(&one), expected + RESERVED);
        let two = [(&f, "a".to_owned()), (&f, "b".to_owned())];
        let expected =
            r#"[{"key":"IMAGE_DIGEST","value":"a","type":1},{"key":"IMAGE_DIGEST","value":"b","type":1}]"#
                .len();
        assert_eq!(encoded_size(&two), expected + RESERVED);
    }

    #[test]
    fn results_are_written_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let digest = file(dir.path(), "IMAGE_DIGEST");
        let record = file(dir.path(), "RECORD");
        std::fs::write(&record.path, "old").unwrap();
        write(
            &[
                (&digest, "sha256:abc".into()),
                (&record, r#"{"schema":"multiarch.record.v1"}"#.into()),
            ],
            4096,
        )
        .unwrap();
        assert_eq!(std::fs::read_to_string(&digest.path).unwrap(), "sha256:abc");
        assert_eq!(
            std::fs::read_to_string(&record.path).unwrap(),
            r#"{"schema":"multiarch.record.v1"}"#,
            "replaced, no trailing newline"
        );
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "no temporary files left: {names:?}");
        let mode = std::fs::metadata(&digest.path)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o644,
            "readable by a results sidecar of another user"
        );
    }

    #[test]
    fn too_large_results_write_nothing_and_say_why() {
        let dir = tempfile::tempdir().unwrap();
        let digest = file(dir.path(), "IMAGE_DIGEST");
        let record = file(dir.path(), "RECORD");
        let results = [
            (&digest, "sha256:abc".to_owned()),
            (&record, "x".repeat(4000)),
        ];
        let error = format!("{:#}", write(&results, 4096).unwrap_err());
        for part in [
            "IMAGE_DIGEST 10 bytes",
            "RECORD 4000 bytes",
            "limit of 4096 bytes",
            "No result was written",
            LIMIT_ENV,
        ] {
            assert!(error.contains(part), "{part:?} in {error}");
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

        // Exactly at the limit is fine; one byte over is not.
        let size = encoded_size(&results);
        assert!(write(&results, size - 1).is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        write(&results, size).unwrap();
        assert_eq!(std::fs::read_to_string(&record.path).unwrap().len(), 4000);
    }

    #[test]
    fn result_paths_must_be_in_an_existing_directory() {
        let dir = tempfile::tempdir().unwrap();
        let good = file(dir.path(), "IMAGE_URL");
        let bad = file(&dir.path().join("missing"), "IMAGE_REF");
        check_paths(&[&good]).unwrap();
        let error = format!("{:#}", check_paths(&[&good, &bad]).unwrap_err());
        assert!(error.contains("RESULT_IMAGE_REF"), "{error}");
        let error = write(&[(&bad, "x".into())], 4096).unwrap_err();
        assert!(format!("{error:#}").contains("IMAGE_REF"));
    }
}
