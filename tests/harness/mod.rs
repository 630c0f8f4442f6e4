//! Test harness: runs the real `multiarch` binary, real registries and peer tools, and fixtures.
//! A failing command prints itself with its stdout and stderr.

pub mod base_image;
pub mod buildah;
pub mod faults;
pub mod fixtures;
pub mod gobin;
pub mod proxy;
pub mod registry;
pub mod schema;
pub mod tls;
pub mod token;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub use registry::Registry;

/// What a finished command printed.
#[derive(Debug)]
pub struct Output {
    pub command: String,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    fn describe(&self) -> String {
        format!(
            "command: {}\nexit code: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command, self.code, self.stdout, self.stderr
        )
    }

    /// Fails the test unless the command succeeded.
    #[track_caller]
    pub fn success(self) -> Self {
        assert_eq!(self.code, 0, "expected success\n{}", self.describe());
        self
    }

    /// Fails the test unless the command exited with `code` and said `needle` on stderr.
    #[track_caller]
    pub fn failure(self, code: i32, needle: &str) -> Self {
        assert_eq!(
            self.code,
            code,
            "expected exit code {code}\n{}",
            self.describe()
        );
        assert!(
            self.stderr.contains(needle),
            "expected stderr to contain {needle:?}\n{}",
            self.describe()
        );
        assert!(
            !self.stderr.contains("panicked"),
            "a panic reached the user\n{}",
            self.describe()
        );
        self
    }

    pub fn stdout_line(&self) -> &str {
        self.stdout.trim()
    }
}

/// A command line ready to run, with an environment isolated from the machine's auth files.
pub struct Run {
    command: Command,
    shown: String,
    stdin: Option<Vec<u8>>,
}

impl Run {
    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Self {
        self.command.env(key, value);
        self
    }

    pub fn stdin(mut self, input: &str) -> Self {
        self.stdin = Some(input.as_bytes().to_vec());
        self
    }

    pub fn current_dir(mut self, dir: &Path) -> Self {
        self.command.current_dir(dir);
        self
    }

    pub fn run(mut self) -> Output {
        self.command
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = self
            .command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.shown));
        if let Some(input) = self.stdin.take() {
            child
                .stdin
                .take()
                .expect("piped")
                .write_all(&input)
                .expect("write stdin");
        }
        let output = child.wait_with_output().expect("wait for command");
        Output {
            command: self.shown,
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// An empty home for auth files, so the machine's own never leak into a test.
pub fn isolated_home() -> &'static Path {
    static HOME: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    HOME.get_or_init(|| {
        let home = tempfile::tempdir().expect("temp home");
        // buildah and skopeo want the directories the environment names to exist.
        std::fs::create_dir_all(home.path().join("docker")).expect("docker config dir");
        std::fs::write(home.path().join("docker/config.json"), "{}").expect("docker config");
        std::fs::create_dir_all(home.path().join("run")).expect("runtime dir");
        home
    })
    .path()
}

fn command(program: &str, args: &[&str]) -> Run {
    let mut command = Command::new(program);
    command.args(args);
    let home = isolated_home();
    for var in [
        "REGISTRY_AUTH_FILE",
        "SSL_CERT_FILE",
        "MULTIARCH_USERNAME",
        "MULTIARCH_PASSWORD",
        "MULTIARCH_INSECURE_REGISTRIES",
        "RUST_LOG",
        "CI",
    ] {
        command.env_remove(var);
    }
    command
        .env("HOME", home)
        .env("DOCKER_CONFIG", home.join("docker"))
        .env("XDG_RUNTIME_DIR", home.join("run"))
        .env("NO_COLOR", "1");
    Run {
        shown: format!("{program} {}", args.join(" ")),
        command,
        stdin: None,
    }
}

/// The `multiarch` binary under test.
pub fn multiarch(args: &[&str]) -> Run {
    let mut run = command(env!("CARGO_BIN_EXE_multiarch"), args);
    run.shown = format!("multiarch {}", args.join(" "));
    run
}

/// A peer tool (skopeo, buildah, umoci, …).
pub fn tool(program: &str, args: &[&str]) -> Run {
    command(program, args)
}

/// A directory that lives as long as the test.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// Path as `oci:PATH:TAG`.
pub fn oci(dir: &Path, tag: &str) -> String {
    format!("oci:{}:{tag}", dir.display())
}

/// Copies the directory tree `from` into `to` (created when missing).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create the copy's directory");
    for entry in std::fs::read_dir(from).expect("read the tree to copy") {
        let entry = entry.expect("directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy a file");
        }
    }
}

/// Runs git in `dir`; its stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    tool("git", args).current_dir(dir).run().success().stdout
}

/// Makes `dir` a git repository on `main` with everything in it committed; the commit's SHA.
pub fn commit_all(dir: &Path) -> String {
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["add", "-A"]);
    git(
        dir,
        &[
            "-c",
            "user.name=test",
            "-c",
            "user.email=test@example.com",
            "commit",
            "-qm",
            "app",
        ],
    );
    git(dir, &["rev-parse", "HEAD"]).trim().to_owned()
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Standard base64 with padding (for auth headers and config files in tests).
pub fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                TABLE[((n >> (18 - 6 * i)) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    out
}

/// The manifest at `reference` (`HOST/REPO:TAG`) exactly as skopeo reads it.
pub fn skopeo_raw(reference: &str) -> String {
    tool(
        "skopeo",
        &[
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{reference}"),
        ],
    )
    .run()
    .success()
    .stdout
}

/// The index at `reference`, read by skopeo and checked against the OCI index schema.
pub fn registry_index(reference: &str) -> serde_json::Value {
    let raw = skopeo_raw(reference);
    schema::assert_valid(schema::Kind::Index, raw.as_bytes());
    serde_json::from_str(&raw).expect("index JSON")
}

/// Copies the index at `reference` (`HOST/REPO:TAG`), every image in it, into `oci:LAYOUT:TAG`
/// with skopeo.
pub fn skopeo_copy_all(reference: &str, layout: &Path, tag: &str) {
    tool(
        "skopeo",
        &[
            "copy",
            "--all",
            "--src-tls-verify=false",
            &format!("docker://{reference}"),
            &oci(layout, tag),
        ],
    )
    .run()
    .success();
}
