//! The example OCI layout committed under examples/hello, and the README's main-job command that
//! uses it.

use std::path::{Path, PathBuf};

use crate::harness::schema::{self, Kind};
use crate::harness::{fixtures, repo_root, tempdir, tool};

/// The platforms of the example, with their tags in the layout.
const EXAMPLE: [(&str, &str); 5] = [
    ("linux/amd64", "amd64"),
    ("linux/arm64", "arm64"),
    ("linux/arm/v7", "arm-v7"),
    ("linux/s390x", "s390x"),
    ("linux/ppc64le", "ppc64le"),
];

fn generate(dir: &Path) {
    for (platform, tag) in EXAMPLE {
        fixtures::Image::hello(platform).write(dir, Some(tag));
    }
}

fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(next) = stack.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push((
                    path.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&path).unwrap(),
                ));
            }
        }
    }
    found.sort();
    found
}

/// Regenerate with `MULTIARCH_UPDATE_EXAMPLES=1 cargo test examples`.
#[test]
fn the_example_layout_is_what_the_generator_writes() {
    let committed = repo_root().join("examples/hello");
    if std::env::var_os("MULTIARCH_UPDATE_EXAMPLES").is_some() {
        let _ = std::fs::remove_dir_all(&committed);
        generate(&committed);
    }
    let fresh = tempdir();
    generate(fresh.path());
    assert_eq!(
        files(&committed)
            .iter()
            .map(|(p, _)| p.clone())
            .collect::<Vec<_>>(),
        files(fresh.path())
            .iter()
            .map(|(p, _)| p.clone())
            .collect::<Vec<_>>(),
        "examples/hello is out of date: run MULTIARCH_UPDATE_EXAMPLES=1 cargo test examples"
    );
    assert!(
        files(&committed) == files(fresh.path()),
        "examples/hello differs from what the generator writes"
    );
    schema::assert_valid(
        Kind::Layout,
        &std::fs::read(committed.join("oci-layout")).unwrap(),
    );
    schema::assert_valid(
        Kind::Index,
        &std::fs::read(committed.join("index.json")).unwrap(),
    );
}

#[test]
fn the_readme_main_job_runs_on_the_example() {
    let out_dir = tempdir();
    let out = tool(
        repo_root().join("scripts/demo").to_str().unwrap(),
        &[out_dir.path().to_str().unwrap()],
    )
    .env("MULTIARCH_BIN", env!("CARGO_BIN_EXE_multiarch"))
    .current_dir(&repo_root())
    .run()
    .success();
    for (platform, _) in EXAMPLE {
        assert!(
            out.stdout.contains(platform),
            "{platform} missing from:\n{}",
            out.stdout
        );
    }
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    assert!(
        readme.contains("./scripts/demo"),
        "the README shows the main-job command"
    );
    let index = out_dir.path().join("hello/index.json");
    schema::assert_valid(Kind::Index, &std::fs::read(index).unwrap());

    // The build step: examples/build on top of that index, one record per platform, and the
    // same digest from another directory (nothing machine-specific lands in the image).
    let site = |stdout: &str| -> String {
        stdout
            .lines()
            .find(|l| l.starts_with("oci:") && l.contains("/site@sha256:"))
            .map(|l| l.rsplit('@').next().unwrap().to_owned())
            .unwrap_or_else(|| panic!("no site index in:\n{stdout}"))
    };
    let records = std::fs::read_dir(out_dir.path().join("site-records")).unwrap();
    assert_eq!(records.count(), EXAMPLE.len());
    let again_dir = tempdir();
    let again = tool(
        repo_root().join("scripts/demo").to_str().unwrap(),
        &[again_dir.path().join("elsewhere").to_str().unwrap()],
    )
    .env("MULTIARCH_BIN", env!("CARGO_BIN_EXE_multiarch"))
    .env("MULTIARCH_CACHE_DIR", again_dir.path().join("cache"))
    .current_dir(&repo_root())
    .run()
    .success();
    assert_eq!(site(&out.stdout), site(&again.stdout));
}
