//! Records: the versioned hand-off from a build job to the fan-in.
//!
//! One JSON file per platform image, named after the platform (`linux-arm-v7.json`). The format
//! is public (`docs/schemas/record.v1.json`): a change to it is a new schema version.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::digest::{self, Digest};
use crate::manifest::{Descriptor, MAX_MANIFEST_BYTES};
use crate::media_type::{self, Kind};
use crate::platform::Platform;
use crate::reference::{Location, ReferenceError};

/// The schema identifier this version writes and reads.
pub const RECORD_SCHEMA: &str = "multiarch.record.v1";
const RECORD_SCHEMA_PREFIX: &str = "multiarch.record.";
/// A record is a few hundred bytes; its annotations go into an index, which registries cap at
/// 4 MiB. Anything larger is not a record (and is never read whole).
pub const MAX_RECORD_BYTES: u64 = 1024 * 1024;

/// A pushed single-platform image, as handed from a build job to the fan-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Record {
    pub schema: String,
    /// The repository the image was pushed to, without tag or digest.
    pub image: String,
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
    pub platform: Platform,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("cannot read record {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write record {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a multiarch record: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "{path} has schema `{found}`, but this multiarch reads `{RECORD_SCHEMA}`; use the same multiarch version for the build jobs and the fan-in"
    )]
    Version { path: PathBuf, found: String },
    #[error("{path} is not a multiarch record: {problem}")]
    Invalid { path: PathBuf, problem: String },
    #[error(
        "{path} already holds the record of another image for {platform} ({existing}); did two build legs build for one platform? Delete the file if this build replaces that one"
    )]
    Conflict {
        path: PathBuf,
        platform: String,
        existing: String,
    },
    #[error(
        "{path} is a directory with no record files (*.json); did the build jobs' records arrive?"
    )]
    EmptyDir { path: PathBuf },
    #[error(
        "{path} is a directory, not a record file; was a record artifact unpacked into a folder of that name? Pass the record file inside it"
    )]
    DirectoryRecord { path: PathBuf },
    #[error(
        "{path} is larger than {MAX_RECORD_BYTES} bytes, so it is not a multiarch record (a record is a small JSON file); check the path"
    )]
    TooLarge { path: PathBuf },
}

impl Record {
    /// The record of the image `descriptor` points at in `location`.
    pub fn new(location: &Location, descriptor: &Descriptor, platform: Platform) -> Self {
        let image = match location {
            Location::Layout(dir) => {
                Location::Layout(std::path::absolute(dir).unwrap_or_else(|_| dir.clone()))
            }
            other => other.clone(),
        };
        Record {
            schema: RECORD_SCHEMA.to_owned(),
            image: image.to_string(),
            digest: descriptor.digest.clone(),
            media_type: descriptor.media_type.clone(),
            size: descriptor.size,
            platform,
            annotations: descriptor.annotations.clone().unwrap_or_default(),
        }
    }

    /// The repository the record names.
    pub fn location(&self) -> Result<Location, ReferenceError> {
        self.image.parse()
    }

    /// `linux-arm64.json`.
    pub fn file_name(&self) -> String {
        format!("{}.json", self.platform.file_stem())
    }

    /// The record as a JSON document (pretty, with a final newline).
    pub fn to_json(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("records always serialise");
        bytes.push(b'\n');
        bytes
    }

    /// Parses and validates a record read from `path`.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Record, RecordError> {
        if bytes.len() as u64 > MAX_RECORD_BYTES {
            return Err(RecordError::TooLarge {
                path: path.to_owned(),
            });
        }
        let json_error = |source| RecordError::Json {
            path: path.to_owned(),
            source,
        };
        let invalid = |problem: String| RecordError::Invalid {
            path: path.to_owned(),
            problem,
        };
        // An object first: serde would also read a struct from a JSON array.
        let object: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(bytes).map_err(json_error)?;
        match object.get("schema").cloned() {
            Some(serde_json::Value::String(s)) if s == RECORD_SCHEMA => {}
            Some(serde_json::Value::String(s)) if s.starts_with(RECORD_SCHEMA_PREFIX) => {
                return Err(RecordError::Version {
                    path: path.to_owned(),
                    found: s,
                });
            }
            Some(other) => {
                return Err(invalid(format!(
                    "its `schema` is {other}, not \"{RECORD_SCHEMA}\""
                )));
            }
            None => {
                return Err(invalid(format!(
                    "it has no `schema` field (expected \"{RECORD_SCHEMA}\")"
                )));
            }
        }
        let record: Record = serde_json::from_slice(bytes).map_err(json_error)?;
        record.image.parse::<Location>().map_err(|e| {
            invalid(format!(
                "`image` must name a repository without tag or digest: {e}"
            ))
        })?;
        digest::parse(record.digest.as_ref()).map_err(|e| invalid(format!("`digest`: {e}")))?;
        if media_type::kind(&record.media_type) != Some(Kind::Image) {
            return Err(invalid(format!(
                "a record describes one platform image, but its mediaType is `{}`",
                record.media_type
            )));
        }
        if record.size == 0 || record.size > MAX_MANIFEST_BYTES {
            return Err(invalid(format!(
                "`size` is {}, but a manifest is between 1 and {MAX_MANIFEST_BYTES} bytes",
                record.size
            )));
        }
        if record.platform.os.is_empty() || record.platform.architecture.is_empty() {
            return Err(invalid(
                "`platform` needs both `os` and `architecture`".to_owned(),
            ));
        }
        Ok(record)
    }

    /// Reads a record file (no more of it than a record can be, whatever the file is).
    pub fn read(path: &Path) -> Result<Record, RecordError> {
        let read_error = |source| RecordError::Read {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::open(path).map_err(read_error)?;
        if file.metadata().map_err(read_error)?.is_dir() {
            return Err(RecordError::DirectoryRecord {
                path: path.to_owned(),
            });
        }
        let mut bytes = Vec::new();
        file.take(MAX_RECORD_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(read_error)?;
        Record::parse(&bytes, path)
    }

    /// Writes the record into `dir` (created if needed) as `<platform>.json`, atomically: a
    /// reader sees a whole file or none. A file already there for the same platform is only
    /// replaced when it holds this same record: another image for the platform is an error, so
    /// that two build legs sharing a directory can never silently drop one of their images.
    pub fn write(&self, dir: &Path) -> Result<PathBuf, RecordError> {
        let path = dir.join(self.file_name());
        let write_error = |source| RecordError::Write {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(write_error)?;
        let mut file = tempfile::NamedTempFile::new_in(dir).map_err(write_error)?;
        file.write_all(&self.to_json()).map_err(write_error)?;
        file.as_file().sync_all().map_err(write_error)?;
        match file.persist_noclobber(&path) {
            Ok(_) => Ok(path),
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
                match Record::read(&path) {
                    Ok(existing) if existing == *self => Ok(path),
                    Ok(existing) => Err(RecordError::Conflict {
                        path,
                        platform: self.platform.to_string(),
                        existing: format!("{}@{}", existing.image, existing.digest),
                    }),
                    // A file that is not a valid record is replaced by a valid one.
                    Err(_) => e
                        .file
                        .persist(&path)
                        .map(|_| path.clone())
                        .map_err(|e| write_error(e.error)),
                }
            }
            Err(e) => Err(write_error(e.error)),
        }
    }
}

/// Reads the records at `paths`: files, or directories whose `*.json` files are all records.
/// Files come back in a stable order (by path). A `*.json` in such a directory that is not a
/// file is an error: skipping it would publish an index without that platform.
pub fn read_all(paths: &[PathBuf]) -> Result<Vec<(PathBuf, Record)>, RecordError> {
    let mut files = Vec::new();
    for path in paths {
        let read_error = |source| RecordError::Read {
            path: path.clone(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(read_error)?;
        if !meta.is_dir() {
            files.push(path.clone());
            continue;
        }
        let mut found: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(read_error)?
            .map(|entry| entry.map(|e| e.path()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(read_error)?
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        if found.is_empty() {
            return Err(RecordError::EmptyDir { path: path.clone() });
        }
        found.sort();
        files.extend(found);
    }
    files
        .into_iter()
        .map(|path| Record::read(&path).map(|record| (path, record)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest;

    fn sample() -> Record {
        let location: Location = "ghcr.io/team/app".parse().unwrap();
        let descriptor = Descriptor::new(media_type::OCI_MANIFEST, digest::sha256(b"m"), 1234);
        Record::new(&location, &descriptor, "linux/arm/v7".parse().unwrap())
    }

    #[test]
    fn round_trips_and_is_named_after_the_platform() {
        let dir = tempfile::tempdir().unwrap();
        let record = sample();
        let path = record.write(dir.path()).unwrap();
        assert_eq!(path.file_name().unwrap(), "linux-arm-v7.json");
        assert_eq!(Record::read(&path).unwrap(), record);
        let text = String::from_utf8(record.to_json()).unwrap();
        assert!(
            text.starts_with("{\n  \"schema\": \"multiarch.record.v1\""),
            "{text}"
        );
        let all = read_all(&[dir.path().to_path_buf()]).unwrap();
        assert_eq!(all.len(), 1);
    }

    fn parse_err(json: &str) -> String {
        Record::parse(json.as_bytes(), Path::new("r.json"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn refuses_bad_records_with_reasons() {
        let good = String::from_utf8(sample().to_json()).unwrap();
        assert!(parse_err("{").contains("not a multiarch record"));
        assert!(parse_err("{}").contains("no `schema` field"));
        assert!(parse_err(&good.replace(".v1", ".v2")).contains("use the same multiarch version"));
        assert!(
            parse_err(&good.replace(
                "application/vnd.oci.image.manifest.v1+json",
                "application/vnd.oci.image.index.v1+json"
            ))
            .contains("one platform image")
        );
        assert!(
            parse_err(&good.replace("ghcr.io/team/app", "ghcr.io/team/app:1.0"))
                .contains("without tag or digest")
        );
        assert!(
            parse_err(&good.replace("ghcr.io/team/app", "ghcr.io/Team/app")).contains("lowercase")
        );
        assert!(parse_err(&good.replace("\"size\": 1234", "\"size\": 0")).contains("`size` is 0"));
        assert!(
            parse_err(&good.replace("\"annotations\"", "\"extra\": 1, \"annotations\""))
                .contains("unknown field")
        );
    }

    #[test]
    fn a_record_for_another_image_of_the_same_platform_is_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let record = sample();
        record.write(dir.path()).unwrap();
        record.write(dir.path()).unwrap();
        let mut other = record.clone();
        other.digest = digest::sha256(b"another build");
        let err = other.write(dir.path()).unwrap_err().to_string();
        assert!(err.contains("another image for linux/arm/v7"), "{err}");
        assert_eq!(
            Record::read(&dir.path().join(record.file_name())).unwrap(),
            record
        );
    }

    #[test]
    fn empty_directories_are_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_all(&[dir.path().to_path_buf()]).unwrap_err();
        assert!(matches!(err, RecordError::EmptyDir { .. }));
    }

    #[test]
    fn a_record_that_is_a_directory_is_an_error_not_skipped() {
        let dir = tempfile::tempdir().unwrap();
        sample().write(dir.path()).unwrap();
        std::fs::create_dir(dir.path().join("linux-amd64.json")).unwrap();
        let err = read_all(&[dir.path().to_path_buf()]).unwrap_err();
        assert!(matches!(err, RecordError::DirectoryRecord { .. }), "{err}");
        let err = Record::read(&dir.path().join("linux-amd64.json")).unwrap_err();
        assert!(err.to_string().contains("not a record file"), "{err}");
    }

    #[test]
    fn oversized_files_are_refused_without_reading_them_whole() {
        let err = Record::read(Path::new("/dev/zero"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("larger than 1048576 bytes"), "{err}");
        let mut big = String::from_utf8(sample().to_json()).unwrap();
        big.push_str(&" ".repeat(MAX_RECORD_BYTES as usize));
        assert!(parse_err(&big).contains("larger than"));
    }

    #[test]
    fn records_are_objects_with_supported_digests() {
        let good = String::from_utf8(sample().to_json()).unwrap();
        assert!(parse_err(r#"["multiarch.record.v1"]"#).contains("expected a map"));
        let digest = sample().digest.to_string();
        let md5 = good.replace(&digest, "md5:d41d8cd98f00b204e9800998ecf8427e");
        assert!(parse_err(&md5).contains("only sha256 and sha512"), "{md5}");
        let sha384 = good.replace(&digest, &format!("sha384:{}", "a".repeat(96)));
        assert!(parse_err(&sha384).contains("only sha256 and sha512"));
    }
}
