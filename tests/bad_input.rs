//! Bad input, table-driven: malformed references, digests and platforms, broken records, hostile
//! Dockerfiles and build contexts, unreadable auth files, and command-line misuse. Each case
//! names its exit code (2: a mistake in what was asked; 1: a failure while doing it) and a part
//! of its message that says what was expected or found, or what to do. Every case must also end
//! without a panic and without a partial write: no layout at `--output`, no file in `--records`,
//! no write to the registry, and nothing written outside the build context.
//!
//! The cases of tests/cli.rs and tests/build/errors.rs are not repeated here. The files the
//! cases read are in tests/fixtures/bad-input (`{registry}`, `{amd64}`, … are filled in); the
//! symlinks, archives and oversized files are made here.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

use crate::harness::fixtures::{self, Image};
use crate::harness::{Registry, multiarch, repo_root, tempdir};

/// One bad command line. `{…}` in arguments, environment values and the needle are filled in
/// by [`World::fill`].
struct Case {
    what: &'static str,
    args: Vec<String>,
    env: Vec<(&'static str, &'static str)>,
    stdin: Option<&'static str>,
    code: i32,
    needle: &'static str,
}

/// A case whose command line is `line`: words separated by spaces, `''` for an empty one.
fn case(what: &'static str, line: &str, code: i32, needle: &'static str) -> Case {
    let args = line
        .split(' ')
        .map(|word| if word == "''" { "" } else { word }.to_owned())
        .collect();
    Case {
        what,
        args,
        env: Vec::new(),
        stdin: None,
        code,
        needle,
    }
}

/// `build` of the fixture context for linux/amd64 into `{out}`, with `{records}`.
const BUILD: &str =
    "build --context {ctx} --platform linux/amd64 --output {out} --records {records}";
/// `build --push` of the fixture context, with `{records}`.
const PUSH: &str = "build --context {ctx} --platform linux/amd64 --push --tag {registry}/app:pushed --records {records}";
/// The fan-in to `{registry}/app:latest`.
const MANIFEST_PUSH: &str = "manifest push --tag {registry}/app:latest";

fn build_case(what: &'static str, extra: &str, code: i32, needle: &'static str) -> Case {
    case(what, &format!("{BUILD} {extra}"), code, needle)
}

fn push_case(what: &'static str, extra: &str, code: i32, needle: &'static str) -> Case {
    case(what, format!("{PUSH} {extra}").trim_end(), code, needle)
}

/// The fan-in of `{dir}/records/NAME`.
fn records_case(what: &'static str, name: &str, code: i32, needle: &'static str) -> Case {
    let line = format!("{MANIFEST_PUSH} --records {{dir}}/records/{name}");
    case(what, &line, code, needle)
}

/// `build` of the fixture context with `{dir}/dockerfiles/NAME.Dockerfile`.
fn dockerfile_case(name: &'static str, code: i32, needle: &'static str) -> Case {
    let extra = format!("--file {{dir}}/dockerfiles/{name}.Dockerfile");
    build_case(name, &extra, code, needle)
}

impl Case {
    fn env(mut self, key: &'static str, value: &'static str) -> Case {
        self.env.push((key, value));
        self
    }

    fn stdin(mut self, input: &'static str) -> Case {
        self.stdin = Some(input);
        self
    }
}

/// A registry holding two different linux/amd64 images, and a directory with the fixtures, a
/// build context with symlinks and archives that point outside it, and oversized files.
struct World {
    dir: TempDir,
    registry: Registry,
    /// Placeholder → value, for arguments and fixture files.
    vars: Vec<(String, String)>,
    /// A name no file has: the archives try to write it outside the image.
    marker: String,
}

impl World {
    fn new() -> World {
        let registry = Registry::start();
        let dir = tempdir();
        let repo = registry.at("app");
        let amd64 = &fixtures::push_hello_images(&repo, &["linux/amd64"])[0];
        let layout = dir.path().join("again");
        let again = Image {
            platform: "linux/amd64",
            files: vec![("hello.txt", b"another build\n".to_vec())],
            labels: Vec::new(),
        }
        .write(&layout, Some("again"));
        fixtures::push(&layout, "again", &format!("{repo}:amd64-again"), false);
        let marker = format!(
            "multiarch-escaped-{}",
            dir.path().file_name().unwrap().to_string_lossy()
        );
        let path = |p: &str| dir.path().join(p).display().to_string();
        let vars = vec![
            ("{registry}".to_owned(), registry.host.clone()),
            ("{amd64}".to_owned(), amd64.digest.clone()),
            ("{amd64_size}".to_owned(), amd64.size.to_string()),
            ("{amd64_again}".to_owned(), again.digest.clone()),
            ("{amd64_again_size}".to_owned(), again.size.to_string()),
            ("{ctx}".to_owned(), path("context")),
            ("{out}".to_owned(), format!("oci:{}:v1", path("out"))),
            ("{records}".to_owned(), path("records-out")),
            ("{dir}".to_owned(), dir.path().display().to_string()),
        ];
        let world = World {
            dir,
            registry,
            vars,
            marker,
        };
        world.copy_fixtures(
            &repo_root().join("tests/fixtures/bad-input"),
            world.path(""),
        );
        world.make_hostile_files();
        world
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    fn fill(&self, text: &str) -> String {
        self.vars
            .iter()
            .fold(text.to_owned(), |text, (key, value)| {
                text.replace(key, value)
            })
    }

    fn copy_fixtures(&self, from: &Path, to: PathBuf) {
        std::fs::create_dir_all(&to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                self.copy_fixtures(&entry.path(), target);
            } else {
                let text = std::fs::read_to_string(entry.path()).unwrap();
                std::fs::write(target, self.fill(&text)).unwrap();
            }
        }
    }

    fn make_hostile_files(&self) {
        use std::os::unix::fs::symlink;
        let context = self.path("context");
        symlink("/etc/passwd", context.join("passwd")).unwrap();
        symlink("/etc", context.join("etc")).unwrap();
        symlink("../..", context.join("up")).unwrap();
        let marker = self.marker.as_str();
        let archives: [(&str, Vec<(String, Entry)>); 4] = [
            ("parent-dir", vec![(format!("../{marker}"), Entry::File)]),
            ("absolute", vec![(format!("/{marker}"), Entry::File)]),
            (
                "through-symlink",
                vec![
                    ("etc".to_owned(), Entry::Symlink("/etc")),
                    (format!("etc/{marker}"), Entry::File),
                ],
            ),
            (
                "hard-link-outside",
                vec![(marker.to_owned(), Entry::Hardlink("/etc/passwd"))],
            ),
        ];
        for (name, entries) in archives {
            std::fs::write(context.join(format!("{name}.tar")), tar_of(&entries)).unwrap();
        }
        // Past the limits: a Dockerfile over 1 MiB, a record of 10 MiB.
        let comment = format!("FROM scratch\n#{}\n", "x".repeat(1024 * 1024));
        std::fs::write(self.path("dockerfiles/oversized.Dockerfile"), comment).unwrap();
        let mut record = std::fs::read(self.path("records/same-platform/first.json")).unwrap();
        record.resize(10 * 1024 * 1024, b' ');
        std::fs::write(self.path("records/oversized.json"), record).unwrap();
        // A folder named like a record, beside a real one.
        std::fs::create_dir(self.path("records/directory-record/linux-arm64.json")).unwrap();
        std::fs::create_dir(self.path("auth/directory.json")).unwrap();
    }

    /// Runs every case; fails listing each one that went wrong.
    #[track_caller]
    fn check_all(&self, cases: &[Case]) {
        let failures: Vec<String> = cases.iter().filter_map(|c| self.check(c)).collect();
        assert!(
            failures.is_empty(),
            "{} of {} cases went wrong:\n\n{}",
            failures.len(),
            cases.len(),
            failures.join("\n\n")
        );
    }

    fn check(&self, case: &Case) -> Option<String> {
        let before = self.registry.requests().len();
        let args: Vec<String> = case.args.iter().map(|a| self.fill(a)).collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut run = multiarch(&args);
        for (key, value) in &case.env {
            run = run.env(key, self.fill(value));
        }
        if let Some(input) = case.stdin {
            run = run.stdin(input);
        }
        let out = run.run();

        let mut problems = Vec::new();
        if out.code != case.code {
            problems.push(format!("exit code {}, expected {}", out.code, case.code));
        }
        let needle = self.fill(case.needle);
        if !out.stderr.contains(&needle) {
            problems.push(format!("stderr lacks {needle:?}"));
        }
        if out.stderr.contains("panicked at") || out.code == 101 {
            problems.push("a panic reached the user".to_owned());
        }
        if !out.stdout.is_empty() {
            problems.push("something was printed on stdout".to_owned());
        }
        if self.path("out").exists() {
            problems.push("the --output layout was written".to_owned());
        }
        let records = std::fs::read_dir(self.path("records-out")).map_or(0, Iterator::count);
        if records > 0 {
            problems.push(format!("{records} file(s) written into --records"));
        }
        let writes = self.registry.writes_since(before);
        if !writes.is_empty() {
            problems.push(format!("the registry was written to: {writes:?}"));
        }
        for escaped in [
            self.path(&self.marker),
            self.path("..").join(&self.marker),
            Path::new("/").join(&self.marker),
            Path::new("/etc").join(&self.marker),
        ] {
            if escaped.exists() {
                problems.push(format!("{} was written", escaped.display()));
            }
        }
        // Leave the next case a clean slate, whatever this one did.
        let _ = std::fs::remove_dir_all(self.path("out"));
        let _ = std::fs::remove_dir_all(self.path("records-out"));
        if problems.is_empty() {
            return None;
        }
        Some(format!(
            "{}: {}\ncommand: multiarch {}\nexit code: {}\n--- stdout ---\n{}--- stderr ---\n{}",
            case.what,
            problems.join("; "),
            args.join(" "),
            out.code,
            out.stdout,
            out.stderr
        ))
    }
}

/// What an archive entry is.
enum Entry {
    File,
    Symlink(&'static str),
    Hardlink(&'static str),
}

/// A tar holding `entries` with their names as given (`..` and absolute ones included), as a
/// hostile archive would.
fn tar_of(entries: &[(String, Entry)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, entry) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o644);
        let data: &[u8] = match entry {
            Entry::File => b"written through the archive\n",
            Entry::Symlink(target) | Entry::Hardlink(target) => {
                header.set_entry_type(match entry {
                    Entry::Symlink(_) => tar::EntryType::Symlink,
                    _ => tar::EntryType::Link,
                });
                header.set_link_name_literal(target).unwrap();
                b""
            }
        };
        header.set_size(data.len() as u64);
        header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        header.set_cksum();
        builder.append(&header, data).unwrap();
    }
    builder.into_inner().unwrap()
}

#[test]
fn malformed_references_and_digests() {
    let world = World::new();
    let long_tag = format!("build --push --tag {{registry}}/app:{}", "t".repeat(300));
    let upper_hex = format!("{MANIFEST_PUSH} {{registry}}/app@sha256:{}", "A".repeat(64));
    let short_sha512 = format!("{MANIFEST_PUSH} {{registry}}/app@sha512:{}", "a".repeat(64));
    let cases = [
        case(
            "an uppercase repository",
            "build --push --tag UPPER/case",
            2,
            "repository names must be lowercase (found `UPPER`)",
        ),
        case(
            "two tags",
            "build --push --tag repo:tag:extra",
            2,
            "`repo:tag` holds a `:`, but a reference has one `:TAG` at most",
        ),
        case(
            "a digest too short",
            "build --push --tag {registry}/app@sha256:short",
            2,
            "`sha256:short` is not a valid digest (Invalid digest length 5 expected 64)",
        ),
        case(
            "an empty reference",
            "build --push --tag ''",
            2,
            "the reference is empty; expected HOST/REPO[:TAG][@DIGEST]",
        ),
        case(
            "a 300-character tag",
            &long_tag,
            2,
            "is not a valid tag; expected up to 128 letters, digits",
        ),
        case(
            "an md5 digest",
            "inspect {registry}/app@md5:d41d8cd98f00b204e9800998ecf8427e",
            2,
            "uses the `md5` algorithm; only sha256 and sha512 digests are supported",
        ),
        case(
            "uppercase hex in a digest",
            &upper_hex,
            2,
            "Invalid non-hexadecimal character in digest",
        ),
        case(
            "a sha512 digest of sha256's length",
            &short_sha512,
            2,
            "Invalid digest length 64 expected 128",
        ),
        case(
            "an empty digest",
            "record {registry}/app@ --out {records}",
            2,
            "`` is not a valid digest (missing ':' in digest)",
        ),
        case(
            "an output that is a registry",
            "build --context {ctx} --output {registry}/app:v1",
            2,
            "expected oci:DIR or oci:DIR:TAG (an OCI image layout); to push to a registry use --push --tag",
        ),
    ];
    world.check_all(&cases);
}

#[test]
fn malformed_and_unknown_platforms() {
    let world = World::new();
    let shape = "expected OS/ARCH[/VARIANT], e.g. linux/amd64 or linux/arm/v7";
    let unknown_arch = "`amd65` is not a CPU architecture OCI knows; expected one of 386, amd64,";
    let platform = |platform: &str| BUILD.replace("linux/amd64", platform);
    let cases = [
        case("an OS alone", &platform("linux"), 2, shape),
        case("an empty architecture", &platform("linux/"), 2, shape),
        case("four parts", &platform("foo/bar/baz/qux"), 2, shape),
        case("an empty variant", &platform("linux/amd64/"), 2, shape),
        case("an empty part", &platform("linux//amd64"), 2, shape),
        case(
            "upper case",
            &platform("LINUX/AMD64"),
            2,
            "`LINUX` may only hold lowercase letters",
        ),
        case(
            "an unknown architecture",
            &platform("linux/amd65"),
            2,
            unknown_arch,
        ),
        case(
            "an unknown OS",
            &platform("linx/amd64"),
            2,
            "`linx` is not an operating system OCI knows; expected one of aix,",
        ),
        case(
            "an unknown architecture in a list",
            &platform("linux/amd64,,linux/amd65"),
            2,
            unknown_arch,
        ),
        case(
            "an empty --platform",
            &platform("''"),
            2,
            "the platform list is empty; expected a comma-separated list",
        ),
        case(
            "an empty --expect-platforms",
            &format!("{MANIFEST_PUSH} --expect-platforms '' {{registry}}/app:amd64-latest"),
            2,
            "the platform list is empty",
        ),
        case(
            "an unknown architecture in --expect-platforms",
            &format!(
                "{MANIFEST_PUSH} --expect-platforms linux/amd64,linux/arm65 {{registry}}/app:amd64-latest"
            ),
            2,
            "`arm65` is not a CPU architecture",
        ),
        case(
            "an unknown OS for inspect",
            "inspect --platform foo/bar {registry}/app:amd64-latest",
            2,
            "`foo` is not an operating system",
        ),
        dockerfile_case(
            "from-platform",
            2,
            "line 1: FROM --platform=linux/amd65: `linux/amd65` is not a platform",
        ),
    ];
    world.check_all(&cases);
}

#[test]
fn broken_records() {
    let world = World::new();
    let cases = [
        records_case(
            "a JSON array",
            "array.json",
            2,
            "is not a multiarch record: invalid type: sequence, expected a map",
        ),
        records_case(
            "an empty file",
            "empty.json",
            2,
            "is not a multiarch record: EOF while parsing",
        ),
        records_case(
            "a schema that is a number",
            "schema-not-a-string.json",
            2,
            "its `schema` is 1, not \"multiarch.record.v1\"",
        ),
        records_case(
            "an md5 digest",
            "md5-digest.json",
            2,
            "`digest`: `md5:d41d8cd98f00b204e9800998ecf8427e` uses the `md5` algorithm",
        ),
        records_case(
            "a digest too short",
            "short-digest.json",
            2,
            "Invalid digest length 3 expected 64",
        ),
        records_case(
            "a record of another repository, which lacks the image",
            "other-repository.json",
            1,
            "was not found in {registry}/other",
        ),
        records_case(
            "two records of one platform",
            "same-platform",
            1,
            "two different images claim linux/amd64",
        ),
        records_case(
            "a folder named like a record",
            "directory-record",
            2,
            "linux-arm64.json is a directory, not a record file",
        ),
        records_case(
            "a 10 MiB record",
            "oversized.json",
            2,
            "is larger than 1048576 bytes, so it is not a multiarch record",
        ),
        case(
            "an endless record",
            &format!("{MANIFEST_PUSH} --records /dev/zero"),
            2,
            "/dev/zero is larger than 1048576 bytes",
        ),
    ];
    world.check_all(&cases);
}

#[test]
fn hostile_dockerfiles_contexts_and_archives() {
    let world = World::new();
    // Every platform is built before anything is written: amd64 builds, arm64 does not, and
    // neither the layout nor the registry gets the amd64 image.
    let one_fails =
        "--platform linux/amd64,linux/arm64 --file {dir}/dockerfiles/one-platform-fails.Dockerfile";
    let cases = [
        case(
            "one-platform-fails-into-a-layout",
            &format!("build --context {{ctx}} --output {{out}} --records {{records}} {one_fails}"),
            1,
            "only-arm64.txt",
        ),
        case(
            "one-platform-fails-pushed",
            &format!(
                "build --context {{ctx}} --push --tag {{registry}}/app:pushed --records {{records}} {one_fails}"
            ),
            1,
            "only-arm64.txt",
        ),
        dockerfile_case(
            "chmod-not-octal",
            2,
            "line 2: --chmod=999x: expected an octal mode such as 0755 or 644",
        ),
        dockerfile_case(
            "misspelt-flag",
            2,
            "line 2: COPY: unknown flag --frm; COPY accepts --from, --chown, --chmod, --link",
        ),
        dockerfile_case(
            "misspelt-instruction",
            2,
            "line 2: unknown instruction `COPPY` (did you mean COPY?)",
        ),
        dockerfile_case(
            "glob-matches-nothing",
            1,
            "COPY source `*.nothing` matched no files in the build context",
        ),
        dockerfile_case(
            "parent-of-context",
            1,
            "`../../../../etc/passwd` points outside the build context",
        ),
        dockerfile_case(
            "symlink-to-file-outside",
            1,
            "it goes through the symlink `passwd` -> `/etc/passwd`",
        ),
        dockerfile_case(
            "symlink-to-dir-outside",
            1,
            "it goes through the symlink `etc` -> `/etc`",
        ),
        dockerfile_case(
            "through-symlinked-dir",
            1,
            "COPY source `etc/passwd` points outside the build context",
        ),
        dockerfile_case(
            "relative-symlink-outside",
            1,
            "it goes through the symlink `up` -> `../..`",
        ),
        // docker build puts `../x` and `/x` at the image root; multiarch refuses the archive.
        dockerfile_case(
            "add-parent-dir",
            1,
            "of archive `parent-dir.tar`: a `..` component climbs above the root",
        ),
        dockerfile_case(
            "add-absolute",
            1,
            "of archive `absolute.tar`: the path is absolute",
        ),
        dockerfile_case(
            "add-through-symlink",
            1,
            "of archive `through-symlink.tar`: it goes through the symlink `etc` -> `/etc`",
        ),
        dockerfile_case(
            "add-hard-link-outside",
            1,
            "it is a hard link to `/etc/passwd`, which is not in the archive",
        ),
        dockerfile_case("oversized", 2, "a Dockerfile over 1048576 bytes is refused"),
        build_case(
            "a Dockerfile that is a directory",
            "--file {dir}/dockerfiles",
            1,
            "cannot read the Dockerfile {dir}/dockerfiles",
        ),
        case(
            "a context that does not exist",
            "build --context {dir}/no-such-context --output {out} --records {records}",
            2,
            "the build context {dir}/no-such-context is not a directory; pass --context DIR",
        ),
    ];
    world.check_all(&cases);
}

#[test]
fn unreadable_auth_files() {
    let world = World::new();
    let mut cases = vec![
        push_case(
            "an auth file that is not JSON",
            "",
            1,
            "cannot read auth file {dir}/auth/not-json.json: not valid JSON",
        )
        .env("REGISTRY_AUTH_FILE", "{dir}/auth/not-json.json"),
        push_case(
            "an auth file that is a directory",
            "",
            1,
            "cannot read auth file {dir}/auth/directory.json: Is a directory",
        )
        .env("REGISTRY_AUTH_FILE", "{dir}/auth/directory.json"),
        case(
            "an auth file that is not JSON, for the fan-in",
            &format!("{MANIFEST_PUSH} {{registry}}/app:amd64-latest"),
            1,
            "cannot read auth file {dir}/auth/not-json.json: not valid JSON",
        )
        .env("REGISTRY_AUTH_FILE", "{dir}/auth/not-json.json"),
    ];
    // Mode 000 stops every user but root, which reads it anyway: run the case where it means
    // something.
    let locked = world.path("auth/locked.json");
    std::fs::write(&locked, "{}").unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read(&locked).is_err() {
        cases.push(
            push_case(
                "an auth file nobody may read",
                "",
                1,
                "cannot read auth file {dir}/auth/locked.json: Permission denied",
            )
            .env("REGISTRY_AUTH_FILE", "{dir}/auth/locked.json"),
        );
    } else {
        eprintln!("skipped the mode-000 auth file: this user (root) reads it anyway");
    }
    world.check_all(&cases);
}

#[test]
fn command_line_misuse() {
    let world = World::new();
    let cases = [
        push_case(
            "--password-stdin without --username",
            "--password-stdin",
            2,
            "--password-stdin needs --username (or MULTIARCH_USERNAME)",
        )
        .stdin("s3cret\n"),
        push_case(
            "an empty password on stdin",
            "--username me --password-stdin",
            2,
            "the password read for --username is empty",
        )
        .stdin(""),
        case(
            "an unknown subcommand",
            "frobnicate --tag {registry}/app:latest",
            2,
            "unrecognized subcommand 'frobnicate'",
        ),
        case(
            "an unknown manifest subcommand",
            "manifest pull {registry}/app:latest",
            2,
            "unrecognized subcommand 'pull'",
        ),
        case(
            "a flag of another verb",
            "inspect --records {records} {registry}/app:amd64-latest",
            2,
            "unexpected argument '--records'",
        ),
    ];
    world.check_all(&cases);
}
