//! The record hand-off: each build job writes its record into `MULTIARCH_RECORDS_DIR` (an
//! artifact path), and the merge job, which `needs:` the build jobs, finds them all there.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use multiarch_core::platform::Platform;
use multiarch_core::record::Record;
use multiarch_core::reference::Location;

/// Writes the build job's `record` into `dir` as `<platform>.json`. The file is this job's:
/// one left there by an earlier run (a retried job on a shell runner, artifacts of an earlier
/// stage) is replaced.
pub fn put(dir: &Path, record: &Record) -> Result<PathBuf> {
    let path = dir.join(record.file_name());
    if let Ok(existing) = Record::read(&path)
        && existing != *record
    {
        tracing::warn!(
            "replacing {} (the record of {}@{}, from an earlier run)",
            path.display(),
            existing.image,
            existing.digest
        );
        std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
    }
    record
        .write(dir)
        .with_context(|| format!("writing the record into {}", dir.display()))
}

/// The records of exactly `expected` in `dir`, in the order of `expected`: for each platform,
/// the one record file whose platform matches it (a record named after another spelling of the
/// platform, such as buildx's `linux-arm64-v8.json`, counts). Fails, naming every platform
/// without a record, before anything is published.
///
/// A record of `image` for a platform not in `expected` is an error (a build the index would
/// leave out); records of other images are ignored. When several records match a platform,
/// those of `image` win; identical records count once; any other ambiguity is an error.
pub fn collect(
    dir: &Path,
    expected: &[Platform],
    image: &Location,
) -> Result<Vec<(PathBuf, Record)>> {
    let available = read_dir(dir)?;
    let mut found = Vec::with_capacity(expected.len());
    let mut missing = Vec::new();
    for platform in expected {
        let mut candidates: Vec<&(PathBuf, Record)> = available
            .iter()
            .filter(|(_, r)| r.platform.matches(platform))
            .collect();
        if candidates.len() > 1 && candidates.iter().any(|(_, r)| same_image(r, image)) {
            candidates.retain(|(_, r)| same_image(r, image));
        }
        let mut unique: Vec<&(PathBuf, Record)> = Vec::new();
        for candidate in candidates {
            let (_, record) = candidate;
            if !unique
                .iter()
                .any(|(_, u)| u.digest == record.digest && u.image == record.image)
            {
                unique.push(candidate);
            }
        }
        match unique.as_slice() {
            [] => missing.push(platform.to_string()),
            [one] => found.push((*one).clone()),
            many => bail!(
                "{} records in {} are for {platform}: {}; give each image its own records \
                 folder (MULTIARCH_RECORDS_DIR), or make sure only one build job per platform \
                 hands a record to this merge",
                many.len(),
                dir.display(),
                many.iter()
                    .map(|(path, r)| format!("{} ({}@{})", file_name(path), r.image, r.digest))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
    if !missing.is_empty() {
        let holds = if !dir.is_dir() {
            format!("{} does not exist", dir.display())
        } else if available.is_empty() {
            format!("{} holds no record", dir.display())
        } else {
            format!(
                "{} holds records for {} only",
                dir.display(),
                available
                    .iter()
                    .map(|(_, r)| r.platform.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        bail!(
            "no record arrived for {} ({holds}): did the build job of each platform succeed, and \
             does this job need it with its artifacts (needs: … artifacts: true)? Nothing was \
             published",
            missing.join(", ")
        );
    }
    let mut unexpected = Vec::new();
    for (path, record) in &available {
        if expected.iter().any(|p| record.platform.matches(p)) {
            continue;
        }
        if same_image(record, image) {
            unexpected.push(format!("{} ({})", record.platform, file_name(path)));
        } else {
            tracing::info!(
                "ignoring {}: a record of {} for {}, which this merge does not publish",
                path.display(),
                record.image,
                record.platform
            );
        }
    }
    if !unexpected.is_empty() {
        // A build job the index would leave out: the two lists (runner-tags, platforms) disagree.
        bail!(
            "{image} was also built for {}, which MULTIARCH_PLATFORMS does not list: add it to \
             the platforms input, or drop its build job (its runner-tags entry). Nothing was \
             published",
            unexpected.join(", ")
        );
    }
    Ok(found)
}

/// Every record (`*.json`) directly in `dir`, by file name; none when `dir` does not exist.
fn read_dir(dir: &Path) -> Result<Vec<(PathBuf, Record)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry
            .with_context(|| format!("reading {}", dir.display()))?
            .path();
        if path.extension().is_some_and(|e| e == "json") && path.is_file() {
            paths.push(path);
        }
    }
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let record = Record::read(&path)?;
            Ok((path, record))
        })
        .collect()
}

fn same_image(record: &Record, image: &Location) -> bool {
    record.location().is_ok_and(|l| l.same_as(image))
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use multiarch_core::digest::Digest;

    fn record(image: &str, platform: &str, hex: char) -> Record {
        Record {
            schema: multiarch_core::record::RECORD_SCHEMA.into(),
            image: image.into(),
            digest: format!("sha256:{}", hex.to_string().repeat(64))
                .parse::<Digest>()
                .unwrap(),
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            size: 100,
            platform: platform.parse().unwrap(),
            annotations: Default::default(),
        }
    }

    fn platforms(list: &str) -> Vec<Platform> {
        Platform::parse_list(list).unwrap()
    }

    const IMAGE: &str = "registry.example.com/g/app";

    fn image() -> Location {
        IMAGE.parse().unwrap()
    }

    #[test]
    fn exactly_the_expected_platforms_in_their_order() {
        let dir = tempfile::tempdir().unwrap();
        put(dir.path(), &record(IMAGE, "linux/amd64", 'a')).unwrap();
        // buildx states arm64 images as linux/arm64/v8: the file is linux-arm64-v8.json.
        put(dir.path(), &record(IMAGE, "linux/arm64/v8", 'b')).unwrap();
        // Another image's record for a platform not expected is none of this merge's business.
        put(
            dir.path(),
            &record("registry.example.com/g/other", "linux/s390x", 'c'),
        )
        .unwrap();
        let got = collect(dir.path(), &platforms("linux/arm64,linux/amd64"), &image()).unwrap();
        let names: Vec<String> = got.iter().map(|(p, _)| file_name(p)).collect();
        assert_eq!(names, ["linux-arm64-v8.json", "linux-amd64.json"]);
    }

    #[test]
    fn a_build_of_this_image_the_index_would_leave_out_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        put(dir.path(), &record(IMAGE, "linux/amd64", 'a')).unwrap();
        put(dir.path(), &record(IMAGE, "linux/s390x", 'c')).unwrap();
        let error = format!(
            "{:#}",
            collect(dir.path(), &platforms("linux/amd64"), &image()).unwrap_err()
        );
        assert!(
            error.contains("also built for linux/s390x") && error.contains("platforms input"),
            "{error}"
        );
    }

    #[test]
    fn every_missing_platform_is_named() {
        let dir = tempfile::tempdir().unwrap();
        put(dir.path(), &record(IMAGE, "linux/amd64", 'a')).unwrap();
        let error = format!(
            "{:#}",
            collect(
                dir.path(),
                &platforms("linux/amd64,linux/s390x,linux/ppc64le"),
                &image()
            )
            .unwrap_err()
        );
        assert!(
            error.contains("no record arrived for linux/s390x, linux/ppc64le"),
            "{error}"
        );
        assert!(
            error.contains("holds records for linux/amd64 only"),
            "{error}"
        );

        let error = format!(
            "{:#}",
            collect(
                &dir.path().join("absent"),
                &platforms("linux/amd64"),
                &image()
            )
            .unwrap_err()
        );
        assert!(
            error.contains("no record arrived for linux/amd64"),
            "{error}"
        );
        assert!(error.contains("does not exist"), "{error}");
    }

    #[test]
    fn records_of_this_image_win_and_duplicates_count_once() {
        let dir = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        put(dir.path(), &record(IMAGE, "linux/amd64", 'a')).unwrap();
        // Another image's record for the same platform, under another file name.
        std::fs::write(
            dir.path().join("other-linux-amd64.json"),
            record("registry.example.com/g/other", "linux/amd64", 'b').to_json(),
        )
        .unwrap();
        // And this image's record again, as a copy.
        std::fs::write(
            dir.path().join("copy.json"),
            record(IMAGE, "linux/amd64", 'a').to_json(),
        )
        .unwrap();
        let got = collect(dir.path(), &platforms("linux/amd64"), &image()).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].1.image, IMAGE);

        // Two different images of this repository for one platform: ambiguous.
        put(other.path(), &record(IMAGE, "linux/amd64", 'a')).unwrap();
        std::fs::write(
            other.path().join("again.json"),
            record(IMAGE, "linux/amd64", 'c').to_json(),
        )
        .unwrap();
        let error = format!(
            "{:#}",
            collect(other.path(), &platforms("linux/amd64"), &image()).unwrap_err()
        );
        assert!(error.contains("2 records"), "{error}");
        assert!(error.contains("again.json"), "{error}");
    }

    #[test]
    fn a_broken_record_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("linux-amd64.json"), "{}").unwrap();
        let error = format!(
            "{:#}",
            collect(dir.path(), &platforms("linux/amd64"), &image()).unwrap_err()
        );
        assert!(error.contains("not a multiarch record"), "{error}");
    }

    #[test]
    fn a_build_replaces_its_own_stale_record() {
        let dir = tempfile::tempdir().unwrap();
        put(dir.path(), &record(IMAGE, "linux/amd64", 'a')).unwrap();
        let path = put(dir.path(), &record(IMAGE, "linux/amd64", 'b')).unwrap();
        assert_eq!(
            Record::read(&path).unwrap().digest.digest(),
            &"b".repeat(64)
        );
        // The same record again is fine too.
        put(dir.path(), &record(IMAGE, "linux/amd64", 'b')).unwrap();
    }
}
