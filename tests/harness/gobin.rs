//! The hello-go fixture (tests/fixtures/hello-go): a tiny static Go program that prints the
//! platform it was compiled for, cross-compiled with the machine's Go (Debian's `golang-go`) once
//! per test process. Static (CGO off), so a foreign binary runs under qemu-user with no root
//! filesystem around it, and what it prints proves which binary ran.
//!
//! Go's build cache lives under cargo's test temp dir (target/tmp), so only the first run on a
//! machine pays for cross-compiling the standard library (~25 s on two cores); later runs take
//! about a second. Nothing is fetched: GOPROXY=off, GOTOOLCHAIN=local, no dependencies.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Every platform the fixture is compiled for.
pub const PLATFORMS: &[&str] = &[
    "linux/amd64",
    "linux/arm64",
    "linux/s390x",
    "linux/ppc64le",
    "linux/arm/v7",
];

fn source_dir() -> PathBuf {
    super::repo_root().join("tests/fixtures/hello-go")
}

/// `linux/arm/v7` → (`linux`, `arm`, Some(`v7`)).
fn split(platform: &str) -> (&str, &str, Option<&str>) {
    let mut parts = platform.split('/');
    let os = parts.next().expect("os");
    let arch = parts
        .next()
        .unwrap_or_else(|| panic!("{platform}: expected OS/ARCH[/VARIANT]"));
    (os, arch, parts.next())
}

/// The directory (relative to a build context) that holds the binary for `platform`:
/// `bin/<TARGETOS>-<TARGETARCH>`, what `COPY bin/${TARGETOS}-${TARGETARCH}/hello …` expects.
/// The variant is not part of it (there is one binary per architecture).
pub fn context_path(platform: &str) -> String {
    let (os, arch, _) = split(platform);
    format!("bin/{os}-{arch}/hello")
}

/// Where the compiled binaries are: `<dir>/bin/<os>-<arch>/hello`.
fn built() -> &'static Path {
    static BUILT: OnceLock<tempfile::TempDir> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let out = tempfile::tempdir().expect("go output dir");
            let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("go-build-cache");
            std::fs::create_dir_all(&cache).expect("go build cache dir");
            let gopath = out.path().join("gopath");
            std::thread::scope(|scope| {
                let jobs: Vec<_> = PLATFORMS
                    .iter()
                    .map(|platform| {
                        let (cache, gopath, out) = (&cache, &gopath, out.path());
                        scope.spawn(move || compile(platform, cache, gopath, out))
                    })
                    .collect();
                for job in jobs {
                    job.join().expect("go build thread");
                }
            });
            out
        })
        .path()
}

fn compile(platform: &str, cache: &Path, gopath: &Path, out: &Path) {
    let (os, arch, variant) = split(platform);
    let binary = out.join(context_path(platform));
    let mut ldflags = String::from("-s -w -buildid=");
    let mut command = Command::new("go");
    command
        .args(["build", "-trimpath", "-o"])
        .arg(&binary)
        .current_dir(source_dir())
        .env("CGO_ENABLED", "0")
        .env("GOOS", os)
        .env("GOARCH", arch)
        .env("GOCACHE", cache)
        .env("GOPATH", gopath)
        .env("GOENV", "off")
        .env("GOFLAGS", "")
        .env("GOWORK", "off")
        .env("GO111MODULE", "on")
        .env("GOTOOLCHAIN", "local")
        .env("GOPROXY", "off")
        .env("GOSUMDB", "off");
    if let Some(variant) = variant {
        ldflags.push_str(&format!(" -X main.variant={variant}"));
        if arch == "arm" {
            command.env("GOARM", variant.trim_start_matches('v'));
        }
    }
    command.arg(format!("-ldflags={ldflags}")).arg(".");
    let output = command.output().unwrap_or_else(|e| {
        panic!("cannot run `go` ({e}): ./scripts/test installs Debian's golang-go package")
    });
    assert!(
        output.status.success(),
        "go build for {platform} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The compiled binary for `platform` (one of [`PLATFORMS`]).
pub fn binary(platform: &str) -> PathBuf {
    assert!(
        PLATFORMS.contains(&platform),
        "{platform} is not compiled; add it to gobin::PLATFORMS"
    );
    built().join(context_path(platform))
}

/// Copies the binary of every [`PLATFORMS`] entry into `context` at [`context_path`].
pub fn install(context: &Path) {
    for platform in PLATFORMS {
        let to = context.join(context_path(platform));
        std::fs::create_dir_all(to.parent().expect("parent")).expect("bin dir");
        std::fs::copy(binary(platform), &to).expect("copy go binary");
    }
}

/// What the binary for `platform` prints.
pub fn greeting(platform: &str) -> String {
    format!("hello from {platform}\n")
}

/// This machine's platform in OCI terms (linux/amd64, linux/arm64, …).
pub fn host_platform() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "linux/amd64",
        "aarch64" => "linux/arm64",
        "s390x" => "linux/s390x",
        "powerpc64" if cfg!(target_endian = "little") => "linux/ppc64le",
        "riscv64" => "linux/riscv64",
        other => panic!("no OCI platform known for host architecture {other}"),
    }
}

/// The qemu-user program (Debian's `qemu-user-static`) that runs a static binary of `platform`
/// here, or `None` when it runs natively.
pub fn runner(platform: &str) -> Option<&'static str> {
    if platform == host_platform() {
        return None;
    }
    Some(match split(platform).1 {
        "amd64" => "qemu-x86_64-static",
        "arm64" => "qemu-aarch64-static",
        "s390x" => "qemu-s390x-static",
        "ppc64le" => "qemu-ppc64le-static",
        "arm" => "qemu-arm-static",
        "riscv64" => "qemu-riscv64-static",
        other => panic!("no qemu-user runner known for {other}"),
    })
}

/// Runs `binary` (built for `platform`) natively or under qemu-user; returns what it printed.
#[track_caller]
pub fn run(binary: &Path, platform: &str) -> String {
    let path = binary.to_str().expect("utf-8 path");
    let run = match runner(platform) {
        Some(qemu) => super::tool(qemu, &[path]),
        None => super::tool(path, &[]),
    };
    run.run().success().stdout
}
