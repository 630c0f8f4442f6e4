//! The GitHub Actions side: the reusable workflow end to end under act, `action/install.sh`
//! run for real against a loopback release server, and the action and workflow files checked by
//! actionlint, zizmor and check-jsonschema.

mod act;
mod action;
mod install;
mod lint;

use std::ffi::OsString;
use std::path::PathBuf;

use crate::harness::repo_root;

/// `PATH` with the virtualenv of workflow tools that `scripts/test` installs first, so a plain
/// `cargo test` finds them once `scripts/test` has run.
pub fn tools_path() -> OsString {
    let mut dirs = vec![repo_root().join("target/ci-tools/bin")];
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(dirs).expect("PATH")
}

/// Where `program` is on `path`; a missing tool fails the test (never skips it).
#[track_caller]
pub fn require(program: &str, path: &OsString) -> PathBuf {
    std::env::split_paths(path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
        .unwrap_or_else(|| {
            panic!(
                "{program} is not installed; scripts/test installs it (then run the tests again)"
            )
        })
}

fn is_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}
