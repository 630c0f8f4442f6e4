//! `action/install.sh`, run for real as the action's first step runs it: against a release server
//! on loopback, with a `PATH` that holds only the tools it may use (no cargo, no multiarch unless
//! a test puts a fake one there).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::harness::{Output, repo_root, tempdir};

/// The version install.sh reads from Cargo.toml's `[workspace.package]`.
const VERSION: &str = env!("CARGO_PKG_VERSION");
const REPOSITORY: &str = "multiarch-dev/multiarch";
/// What install.sh calls besides shell built-ins, and all that its `PATH` holds here.
const TOOLS: &[&str] = &[
    "awk",
    "cat",
    "chmod",
    "curl",
    "mkdir",
    "mktemp",
    "mv",
    "rm",
    "sha256sum",
];

/// A file server on 127.0.0.1 that answers GET with the files it was given, 404 otherwise, and
/// remembers every path asked for.
struct ReleaseServer {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ReleaseServer {
    fn start(files: Vec<(String, Vec<u8>)>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("address");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (requests, stop) = (requests.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        serve(stream, &files, &requests);
                    }
                }
            })
        };
        ReleaseServer {
            addr,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for ReleaseServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr); // wakes the accept loop
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(mut stream: TcpStream, files: &[(String, Vec<u8>)], requests: &Mutex<Vec<String>>) {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let Some(path) = head.split_whitespace().nth(1) else {
        return;
    };
    requests.lock().unwrap().push(path.to_owned());
    let (status, body) = match files.iter().find(|(name, _)| name == path) {
        Some((_, body)) => ("200 OK", body.as_slice()),
        None => ("404 Not Found", b"Not Found".as_slice()),
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(body);
}

fn triple(runner_arch: &str) -> &'static str {
    match runner_arch {
        "X64" => "x86_64-unknown-linux-musl",
        "ARM64" => "aarch64-unknown-linux-musl",
        other => panic!("no release binary for {other}"),
    }
}

/// Where install.sh looks for a release asset.
fn asset_path(name: &str) -> String {
    format!("/{REPOSITORY}/releases/download/v{VERSION}/{name}")
}

/// A stand-in for the release binary: a script that answers `--version` as multiarch does.
fn fake_binary(version: &str) -> Vec<u8> {
    format!("#!/bin/sh\necho \"multiarch {version}\"\n").into_bytes()
}

/// The release's two assets for `runner_arch`, the `.sha256` as `sha256sum` writes it
/// (release.yml's packaging step), or with `checksum` in place of the right one.
fn release_files(runner_arch: &str, checksum: Option<&str>) -> Vec<(String, Vec<u8>)> {
    let asset = format!("multiarch-{}", triple(runner_arch));
    let binary = fake_binary(VERSION);
    let digest = checksum.map_or_else(|| hex::encode(Sha256::digest(&binary)), str::to_owned);
    vec![
        (
            asset_path(&format!("{asset}.sha256")),
            format!("{digest}  {asset}\n").into_bytes(),
        ),
        (asset_path(&asset), binary),
    ]
}

/// One run of the action's install step, in a runner-like temporary directory.
struct Job {
    dir: tempfile::TempDir,
}

impl Job {
    fn new() -> Self {
        let job = Job { dir: tempdir() };
        for sub in ["toolbox", "bin", "runner-temp", "home"] {
            std::fs::create_dir_all(job.dir.path().join(sub)).unwrap();
        }
        let host_path = std::env::var_os("PATH").unwrap_or_default();
        for tool in TOOLS {
            let found = std::env::split_paths(&host_path)
                .map(|dir| dir.join(tool))
                .find(|path| path.is_file())
                .unwrap_or_else(|| panic!("{tool} is not installed; scripts/test installs it"));
            std::os::unix::fs::symlink(found, job.dir.path().join("toolbox").join(tool)).unwrap();
        }
        std::fs::write(job.github_path_file(), "").unwrap();
        job
    }

    fn github_path_file(&self) -> PathBuf {
        self.dir.path().join("github_path")
    }

    /// What the step appended to `$GITHUB_PATH`.
    fn github_path(&self) -> String {
        std::fs::read_to_string(self.github_path_file()).unwrap()
    }

    fn install_dir(&self) -> PathBuf {
        self.dir.path().join("runner-temp/multiarch/bin")
    }

    /// Puts a `cargo` on the step's `PATH` that logs its arguments and, for `install`, writes a
    /// `multiarch` saying `version` into `--root`'s `bin/`.
    fn cargo_on_path(&self, version: &str) {
        let path = self.dir.path().join("bin/cargo");
        let script = format!(
            r#"#!/bin/sh
echo "$*" >>"{log}"
while [ $# -gt 0 ]; do
  if [ "$1" = --root ]; then root=$2; fi
  shift
done
mkdir -p "$root/bin"
printf '#!/bin/sh\necho "multiarch {version}"\n' >"$root/bin/multiarch"
chmod 755 "$root/bin/multiarch"
"#,
            log = self.cargo_log().display()
        );
        std::fs::write(&path, script).unwrap();
        make_executable(&path);
    }

    fn cargo_log(&self) -> PathBuf {
        self.dir.path().join("cargo.log")
    }

    /// Puts a `multiarch` that says it is `version` on the step's `PATH`.
    fn multiarch_on_path(&self, version: &str) {
        let path = self.dir.path().join("bin/multiarch");
        std::fs::write(&path, fake_binary(version)).unwrap();
        make_executable(&path);
    }

    fn install(&self, server: &ReleaseServer, runner_arch: &str, source: &str) -> Output {
        self.install_from(server, runner_arch, source, &repo_root(), REPOSITORY)
    }

    /// As the runner installs an action used at `OWNER/REPO@REF`: checked out at
    /// `…/_actions/OWNER/REPO/REF`, with `github.action_repository` empty (as composite actions
    /// often see it).
    fn install_at_ref(&self, server: &ReleaseServer, reference: &str) -> Output {
        let parent = self.dir.path().join("_actions").join(REPOSITORY);
        std::fs::create_dir_all(&parent).unwrap();
        let checkout = parent.join(reference);
        if !checkout.exists() {
            std::os::unix::fs::symlink(repo_root(), &checkout).unwrap();
        }
        self.install_from(server, "X64", "", &checkout, "")
    }

    fn install_from(
        &self,
        server: &ReleaseServer,
        runner_arch: &str,
        source: &str,
        action_path: &Path,
        repository: &str,
    ) -> Output {
        let script = repo_root().join("action/install.sh");
        let path =
            std::env::join_paths([self.dir.path().join("bin"), self.dir.path().join("toolbox")])
                .unwrap();
        let output = Command::new(&script)
            .env_clear()
            .env("PATH", path)
            .env("HOME", self.dir.path().join("home"))
            .env("ACTION_PATH", action_path)
            .env("ACTION_REPOSITORY", repository)
            .env("GITHUB_SERVER_URL", server.url())
            .env("RUNNER_OS", "Linux")
            .env("RUNNER_ARCH", runner_arch)
            .env("RUNNER_TEMP", self.dir.path().join("runner-temp"))
            .env("GITHUB_PATH", self.github_path_file())
            .env("MULTIARCH_INSTALL_SOURCE", source)
            .output()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", script.display()));
        Output {
            command: format!(
                "action/install.sh (RUNNER_ARCH={runner_arch}, MULTIARCH_INSTALL_SOURCE={source:?}, server {})",
                server.url()
            ),
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The run as the harness shows a failed command.
fn shown(output: &Output) -> String {
    format!(
        "command: {}\nexit code: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.command, output.code, output.stdout, output.stderr
    )
}

/// Fails unless the step failed with a `::error::` annotation that says `needle`.
#[track_caller]
fn assert_error(output: &Output, needle: &str) {
    assert_eq!(output.code, 1, "expected exit code 1\n{}", shown(output));
    let annotation = output
        .stdout
        .lines()
        .find(|line| line.starts_with("::error"))
        .unwrap_or_else(|| panic!("expected an ::error:: annotation\n{}", shown(output)));
    assert!(
        annotation.contains(needle),
        "expected the annotation to say {needle:?}\n{}",
        shown(output)
    );
}

#[test]
fn a_multiarch_of_the_right_version_on_path_is_used_as_is() {
    let server = ReleaseServer::start(release_files("X64", None));
    let job = Job::new();
    job.multiarch_on_path(VERSION);

    let output = job.install(&server, "X64", "").success();

    assert!(
        output.stdout.contains(&format!("multiarch {VERSION}")),
        "{}",
        shown(&output)
    );
    assert_eq!(
        server.requests(),
        Vec::<String>::new(),
        "nothing downloaded"
    );
    assert_eq!(job.github_path(), "", "GITHUB_PATH untouched");
    assert!(!job.install_dir().exists());
}

#[test]
fn the_release_binary_is_checked_installed_and_put_on_path() {
    for arch in ["X64", "ARM64"] {
        let server = ReleaseServer::start(release_files(arch, None));
        let job = Job::new();
        // Another version on PATH does not count.
        job.multiarch_on_path("0.0.0-old");

        let output = job.install(&server, arch, "").success();

        let asset = format!("multiarch-{}", triple(arch));
        assert_eq!(
            server.requests(),
            [asset_path(&asset), asset_path(&format!("{asset}.sha256"))],
            "{}",
            shown(&output)
        );
        let installed = job.install_dir().join("multiarch");
        assert_eq!(
            job.github_path(),
            format!("{}\n", job.install_dir().display()),
            "{}",
            shown(&output)
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&installed).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
        let ran = Command::new(&installed).arg("--version").output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&ran.stdout).trim(),
            format!("multiarch {VERSION}")
        );
        assert!(output.stdout.contains("::group::"), "{}", shown(&output));
        assert!(output.stdout.contains("::endgroup::"), "{}", shown(&output));
    }
}

#[test]
fn a_checksum_mismatch_fails_and_installs_nothing() {
    let wrong = "0".repeat(64);
    let server = ReleaseServer::start(release_files("X64", Some(&wrong)));
    let job = Job::new();

    let output = job.install(&server, "X64", "");

    assert_error(
        &output,
        "checksum mismatch for multiarch-x86_64-unknown-linux-musl",
    );
    assert!(output.stdout.contains(&wrong), "{}", shown(&output));
    assert!(
        !output.stdout.contains("cargo install"),
        "no fall-through\n{}",
        shown(&output)
    );
    assert!(
        !job.install_dir().join("multiarch").exists(),
        "{}",
        shown(&output)
    );
    assert_eq!(job.github_path(), "");
    // The download went to a temporary directory that is gone.
    let left: Vec<_> = std::fs::read_dir(job.dir.path().join("runner-temp"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_checksum_file_without_a_checksum_fails() {
    let server = ReleaseServer::start(release_files("X64", Some("<html>")));
    let job = Job::new();

    let output = job.install(&server, "X64", "");

    assert_error(&output, "does not start with a SHA-256");
    assert!(
        !job.install_dir().join("multiarch").exists(),
        "{}",
        shown(&output)
    );
}

#[test]
fn without_a_release_or_cargo_the_error_says_what_to_do() {
    let server = ReleaseServer::start(Vec::new());
    let job = Job::new();

    let output = job.install(&server, "X64", "");

    assert_eq!(
        server.requests(),
        [asset_path("multiarch-x86_64-unknown-linux-musl")]
    );
    assert!(output.stderr.contains("404"), "{}", shown(&output));
    assert_error(&output, "no cargo on PATH");
    assert_error(&output, "install Rust before this step");
    assert_eq!(job.github_path(), "");
}

#[test]
fn other_runners_build_from_source_without_downloading() {
    let server = ReleaseServer::start(release_files("X64", None));
    let job = Job::new();

    let output = job.install(&server, "ARM", "");

    assert_eq!(server.requests(), Vec::<String>::new());
    assert_error(&output, "no release binary for Linux/ARM");
    assert_error(&output, "no cargo on PATH");
}

#[test]
fn a_forced_source_that_is_not_there_fails() {
    let server = ReleaseServer::start(Vec::new());
    let job = Job::new();

    let output = job.install(&server, "X64", "path");
    assert_error(&output, "MULTIARCH_INSTALL_SOURCE=path");
    assert_eq!(server.requests(), Vec::<String>::new());

    job.multiarch_on_path(VERSION);
    let output = job.install(&server, "X64", "release");
    assert_error(
        &output,
        "MULTIARCH_INSTALL_SOURCE=release, but could not download",
    );

    let output = job.install(&server, "X64", "cargo");
    assert_error(&output, "no cargo on PATH");

    let output = job.install(&server, "X64", "npm");
    assert_error(&output, "expected path, release or cargo");
}

#[test]
fn without_a_release_it_is_built_from_the_action_source_with_cargo() {
    let server = ReleaseServer::start(Vec::new());
    let job = Job::new();
    job.cargo_on_path(VERSION);

    let output = job.install(&server, "X64", "").success();

    let root = job.dir.path().join("runner-temp/multiarch");
    assert_eq!(
        std::fs::read_to_string(job.cargo_log()).unwrap().trim(),
        format!(
            "install --locked --path {} --root {}",
            repo_root().display(),
            root.display()
        ),
        "{}",
        shown(&output)
    );
    assert!(
        output.stdout.contains("building multiarch"),
        "{}",
        shown(&output)
    );
    assert_eq!(
        job.github_path(),
        format!("{}\n", job.install_dir().display())
    );
}

#[test]
fn a_build_that_says_another_version_fails() {
    let server = ReleaseServer::start(Vec::new());
    let job = Job::new();
    job.cargo_on_path("9.9.9");

    let output = job.install(&server, "X64", "cargo");

    assert_error(
        &output,
        &format!("says 'multiarch 9.9.9', expected 'multiarch {VERSION}'"),
    );
    assert_eq!(job.github_path(), "");
}

#[test]
fn the_repository_and_ref_are_read_from_the_action_path_when_github_leaves_them_empty() {
    // At a release tag: the release of the action's version is downloaded from OWNER/REPO.
    let server = ReleaseServer::start(release_files("X64", None));
    let job = Job::new();
    let output = job.install_at_ref(&server, "v1").success();
    let asset = format!("multiarch-{}", triple("X64"));
    assert_eq!(
        server.requests(),
        [asset_path(&asset), asset_path(&format!("{asset}.sha256"))],
        "{}",
        shown(&output)
    );

    // At a branch, which may be ahead of the last release: built from source, nothing fetched.
    let server = ReleaseServer::start(release_files("X64", None));
    let job = Job::new();
    job.cargo_on_path(VERSION);
    let output = job.install_at_ref(&server, "main").success();
    assert!(server.requests().is_empty(), "{}", shown(&output));
    assert!(
        output.stdout.contains("may be ahead of release"),
        "{}",
        shown(&output)
    );
}
