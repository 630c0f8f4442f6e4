//! Command-line definitions. Each verb's behaviour lives in `commands/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use multiarch_core::platform::Platform;
use multiarch_core::reference::ImageRef;

const REFERENCE_HELP: &str = "References are HOST[:PORT]/REPO[:TAG][@DIGEST] (Docker's defaults apply: `alpine` is \
docker.io/library/alpine:latest) or oci:DIR[:TAG] for an OCI image layout directory.";

/// Build and publish multi-architecture container images from CI.
///
/// One job per platform pushes its image by digest and hands a small record to a fan-in job,
/// which stitches the records into one index and pushes it under the wanted tags.
#[derive(Debug, Parser)]
#[command(name = "multiarch", version, after_help = REFERENCE_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

const BUILD_HELP: &str =
    "Stdout gets one line per repository: REPO@DIGEST of the image (one platform) \
or of the index (several), or oci:DIR@DIGEST. Logs and progress go to stderr.

Environment: SOURCE_DATE_EPOCH sets file times and `created` (default 0, 1970-01-01); \
MULTIARCH_CACHE_DIR moves the layer cache (default $XDG_CACHE_HOME/multiarch or ~/.cache/multiarch).

Examples:
  multiarch build --platform linux/arm64 --push --tag ghcr.io/org/app --records records/
  multiarch build --platform linux/amd64 --platform linux/arm64 --tag ghcr.io/org/app:1.0 --push
  multiarch build --platform linux/amd64,linux/arm64 --output oci:out:dev";

#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// More detail on stderr (-v: debug messages of multiarch; -vv: also of its libraries).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Everything, with timestamps, including each registry request. Secrets are never printed.
    /// RUST_LOG (e.g. RUST_LOG=multiarch_core=debug) overrides -v and --debug.
    #[arg(long, global = true)]
    pub debug: bool,

    /// Allow plain HTTP to this registry host (HOST or HOST:PORT). Loopback hosts (localhost,
    /// 127.0.0.0/8, [::1]) are allowed without it. Every other host needs HTTPS with a
    /// certificate that verifies.
    #[arg(
        long = "insecure-registry",
        value_name = "HOST",
        env = "MULTIARCH_INSECURE_REGISTRIES",
        value_delimiter = ',',
        global = true
    )]
    pub insecure_registries: Vec<String>,

    /// Also trust the CA certificates in this PEM file (repeatable). SSL_CERT_FILE is read too.
    #[arg(long = "ca-file", value_name = "PATH", global = true)]
    pub ca_files: Vec<PathBuf>,

    /// Username for the registry this command writes to (or reads, for inspect and record).
    /// Other registries use the auth files (containers' auth.json, Docker's config.json).
    #[arg(long, env = "MULTIARCH_USERNAME", global = true)]
    pub username: Option<String>,

    /// Read the password for --username from standard input. MULTIARCH_PASSWORD works too;
    /// a password is never accepted as an argument.
    #[arg(long, global = true)]
    pub password_stdin: bool,

    /// Retries of a registry request that failed in a way worth retrying (HTTP 408, 429, 500,
    /// 502, 503, 504, a reset or timed-out connection, a body cut short); 0 turns retries off.
    #[arg(
        long,
        value_name = "N",
        env = "MULTIARCH_RETRIES",
        default_value_t = 5,
        global = true
    )]
    pub retries: u32,

    /// The most time one registry request may take with all its retries and waits, in seconds.
    #[arg(
        long,
        value_name = "SECONDS",
        env = "MULTIARCH_RETRY_MAX_TIME",
        default_value_t = 300,
        global = true
    )]
    pub retry_max_time: u64,

    /// The first wait before a retry, in milliseconds; each next one doubles (up to 30 s), with
    /// random jitter. A Retry-After from the registry is honoured instead.
    #[arg(
        long,
        value_name = "MILLISECONDS",
        env = "MULTIARCH_RETRY_DELAY",
        default_value_t = 500,
        global = true
    )]
    pub retry_delay: u64,

    /// Requests in flight to one registry host at a time (connections are reused); at least 2,
    /// since a copy within one registry reads and writes at once.
    #[arg(
        long,
        value_name = "N",
        env = "MULTIARCH_MAX_CONNECTIONS",
        default_value_t = 16,
        value_parser = clap::value_parser!(u32).range(2..=256),
        global = true
    )]
    pub max_connections: u32,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build a Dockerfile for one or more platforms; push by digest, or write an OCI layout.
    ///
    /// In CI, run one build per platform on a runner of that architecture with --push and
    /// --records, then stitch the records with `manifest push`. With several --platform values
    /// in one call, every image is built here and stitched into an index right away.
    ///
    /// The native engine builds RUN-free Dockerfiles (FROM, COPY, ADD, ENV, …) without a daemon,
    /// root or emulation, reproducibly: the same inputs give the same digests on any machine.
    /// Dockerfiles with RUN go to buildah, podman or docker; their result is published the same
    /// way.
    #[command(after_help = BUILD_HELP)]
    Build(Box<BuildArgs>),
    /// Show an image or an index: platforms, digests, sizes, config, labels.
    #[command(after_help = REFERENCE_HELP)]
    Inspect(InspectArgs),
    /// Write the record of an image that is already pushed, so it can join a fan-in.
    ///
    /// Use it for images built by other tools (docker buildx, buildah, kaniko): the record is
    /// what `manifest push --records` reads. The platform comes from the image's config.
    #[command(after_help = REFERENCE_HELP)]
    Record(RecordArgs),
    /// Work with image indexes (manifest lists).
    #[command(subcommand)]
    Manifest(ManifestCommand),
    /// The GitHub Action's steps (run by action.yml, which passes the inputs as INPUT_*).
    ///
    /// `prepare` masks secrets and names the record artifacts the merge job downloads; `run`
    /// does the work of the mode (build, merge, plan, record) and writes the step's outputs,
    /// the job summary and the record for the hand-off.
    #[command(subcommand, name = "github-action")]
    GithubAction(GithubActionStep),
    /// The Tekton Tasks' steps (run by the multiarch-build and multiarch-manifest Tasks).
    ///
    /// String params arrive as environment variables named like the params (IMAGE, CONTEXT,
    /// TLSVERIFY, …), workspaces as WORKSPACE_<NAME>_BOUND and WORKSPACE_<NAME>_PATH, result
    /// files as RESULT_<NAME>; array params as the arguments after their flag.
    #[command(subcommand)]
    Tekton(TektonStep),
    /// The GitLab CI/CD components' jobs (run by the build and merge templates).
    ///
    /// Inputs arrive as job variables (MULTIARCH_*) next to GitLab's predefined variables (CI_*);
    /// lists are JSON arrays or one entry per line. Both log in to $CI_REGISTRY with
    /// CI_REGISTRY_USER and CI_REGISTRY_PASSWORD, and write a dotenv report (MULTIARCH_DOTENV,
    /// default multiarch.env).
    #[command(subcommand)]
    Gitlab(GitlabStep),
}

#[derive(Debug, Subcommand)]
pub enum GitlabStep {
    /// Build one platform's image and push it by digest; write its record and MULTIARCH_DIGEST
    /// and MULTIARCH_IMAGE_REF.
    ///
    /// Environment: MULTIARCH_IMAGE (default $CI_REGISTRY_IMAGE), MULTIARCH_PLATFORM (default
    /// this machine's), MULTIARCH_CONTEXT, MULTIARCH_DOCKERFILE, MULTIARCH_TARGET,
    /// MULTIARCH_BUILD_ARGS, MULTIARCH_ENGINE, MULTIARCH_PUSH (false: into the OCI layout
    /// multiarch-oci/ under $CI_PROJECT_DIR), MULTIARCH_TAGS (for the version label),
    /// MULTIARCH_RECORDS_DIR (default multiarch-records), MULTIARCH_DOTENV.
    Build,
    /// Stitch the records of exactly MULTIARCH_PLATFORMS into one index and tag it; write
    /// MULTIARCH_DIGEST, MULTIARCH_IMAGE_REF and MULTIARCH_TAGS.
    ///
    /// Environment: MULTIARCH_IMAGE, MULTIARCH_PLATFORMS (required), MULTIARCH_TAGS (default:
    /// automatic), MULTIARCH_ANNOTATIONS, MULTIARCH_PUSH, MULTIARCH_RECORDS_DIR,
    /// MULTIARCH_DOTENV.
    Merge,
}

#[derive(Debug, Subcommand)]
pub enum TektonStep {
    /// Build one platform's image, push it by digest, write IMAGE_DIGEST, IMAGE_URL, IMAGE_REF
    /// and RECORD.
    ///
    /// Environment: IMAGE (required), CONTEXT, DOCKERFILE, WORKSPACE_SOURCE_PATH, PLATFORM,
    /// ENGINE, TLSVERIFY, WORKSPACE_DOCKERCONFIG_*, WORKSPACE_SSLCERTDIR_*, RESULT_IMAGE_DIGEST,
    /// RESULT_IMAGE_URL, RESULT_IMAGE_REF, RESULT_RECORD.
    Build(TektonBuildArgs),
    /// Stitch the build Tasks' records into one index and tag it; write IMAGE_DIGEST and
    /// IMAGE_URL.
    ///
    /// Environment: IMAGE (required), TLSVERIFY, WORKSPACE_DOCKERCONFIG_*,
    /// WORKSPACE_SSLCERTDIR_*, RESULT_IMAGE_DIGEST, RESULT_IMAGE_URL.
    Manifest(TektonManifestArgs),
}

// Each flag takes the elements of one array param (`$(params.NAME[*])`): zero or more, up to
// the next flag (so an element may not start with `-`).
#[derive(Debug, Args)]
pub struct TektonBuildArgs {
    /// BUILD_ARGS: build arguments for ARG.
    #[arg(long = "build-args", value_name = "KEY=VALUE", num_args = 0..)]
    pub build_args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct TektonManifestArgs {
    /// TAGS: tag names for the index (default: latest).
    #[arg(long, value_name = "TAG", num_args = 0..)]
    pub tags: Vec<String>,

    /// RECORDS: the build Tasks' RECORD results, one JSON document each.
    #[arg(long, value_name = "JSON", num_args = 0..)]
    pub records: Vec<String>,

    /// EXPECT_PLATFORMS: when given, fail unless the index holds exactly these platforms.
    #[arg(long, value_name = "OS/ARCH[/VARIANT]", num_args = 0..)]
    pub expect_platforms: Vec<String>,

    /// ANNOTATIONS: annotations for the index.
    #[arg(long, value_name = "KEY=VALUE", num_args = 0..)]
    pub annotations: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum GithubActionStep {
    /// Mask secrets; output what the merge job downloads.
    Prepare,
    /// Do the work of the mode and write the outputs.
    Run,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EngineArg {
    /// Native when no needed stage has RUN, else the first of buildah, podman, docker installed.
    Auto,
    /// Assemble the image directly: no daemon, root or emulation (RUN is refused).
    Native,
    Buildah,
    Podman,
    /// docker with the buildx plugin.
    Docker,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompressionArg {
    Gzip,
    Zstd,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Platform to build, e.g. linux/arm64 (repeatable, or comma-separated). Default: this
    /// machine's.
    #[arg(long = "platform", value_name = "OS/ARCH[/VARIANT]")]
    pub platforms: Vec<PlatformList>,

    /// The build context: the directory COPY and ADD read from.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub context: PathBuf,

    /// The Dockerfile. Default: Dockerfile in the context.
    #[arg(long, short = 'f', value_name = "PATH")]
    pub file: Option<PathBuf>,

    /// Build this stage (a name from `FROM … AS name`, or a number). Default: the last.
    #[arg(long, value_name = "STAGE")]
    pub target: Option<String>,

    /// A build argument for ARG (repeatable). KEY alone takes the value of the environment
    /// variable KEY, and is skipped when that is unset (the ARG's default applies).
    #[arg(long = "build-arg", value_name = "KEY=VALUE", value_parser = parse_build_arg)]
    pub build_args: Vec<(String, Option<String>)>,

    /// An image config label (repeatable), e.g. org.opencontainers.image.source=URL.
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = parse_annotation)]
    pub labels: Vec<(String, String)>,

    /// A manifest annotation (repeatable); with several platforms, the index gets it too.
    #[arg(long = "annotation", value_name = "KEY=VALUE", value_parser = parse_annotation)]
    pub annotations: Vec<(String, String)>,

    /// Which engine builds.
    #[arg(long, value_enum, default_value_t = EngineArg::Auto)]
    pub engine: EngineArg,

    /// Where to push: REPO for push by digest only, REPO:TAG to also tag (repeatable; may name
    /// several repositories). With several platforms, the index gets the tags (a bare REPO
    /// means REPO:latest, as in `manifest push`).
    #[arg(long = "tag", value_name = "REF")]
    pub tags: Vec<ImageRef>,

    /// Push to the --tag repositories.
    #[arg(long, requires = "tags", conflicts_with = "output")]
    pub push: bool,

    /// Write the result into an OCI image layout instead, tagged TAG (default latest).
    #[arg(long, value_name = "oci:DIR[:TAG]")]
    pub output: Option<ImageRef>,

    /// Write a record per platform image into DIR (<platform>.json), for `manifest push`.
    #[arg(long, value_name = "DIR")]
    pub records: Option<PathBuf>,

    /// Layer compression (gzip reaches every client; zstd is smaller and faster to unpack).
    #[arg(long, value_enum, default_value_t = CompressionArg::Gzip)]
    pub compression: CompressionArg,

    /// Do not read or write the layer cache.
    #[arg(long)]
    pub no_cache: bool,

    /// Check the Dockerfile, pick the engine and resolve base images, but build and write
    /// nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InspectFormat {
    /// A human-readable summary.
    Table,
    /// The multiarch.inspect.v1 JSON document (stable; for scripts).
    Json,
    /// The manifest's bytes exactly as stored.
    Raw,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The image or index to show.
    #[arg(value_name = "REF")]
    pub reference: ImageRef,

    /// Output format.
    #[arg(long, value_enum, default_value_t = InspectFormat::Table)]
    pub format: InspectFormat,

    /// For an index: show this platform's image (e.g. linux/arm64) instead of the index.
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<Platform>,
}

#[derive(Debug, Args)]
pub struct RecordArgs {
    /// The pushed image (usually by digest, e.g. ghcr.io/org/app@sha256:…). An index gives one
    /// record per platform image.
    #[arg(value_name = "REF")]
    pub reference: ImageRef,

    /// Write the record(s) into this directory as <platform>.json (e.g. linux-arm64.json)
    /// instead of printing a single record on stdout.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// For an index: record only this platform's image.
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<Platform>,
}

#[derive(Debug, Subcommand)]
pub enum ManifestCommand {
    /// The fan-in: stitch single-platform images into one index and push it under tags.
    ///
    /// Every child is checked first: its manifest is read by digest and its config's platform
    /// compared with what its record or index entry claims. Children from other repositories
    /// are mounted (same registry) or copied. The index is only tagged once every child is in
    /// place; tags that already hold it are not rewritten. Prints REPO@DIGEST per repository.
    #[command(after_help = REFERENCE_HELP)]
    Push(ManifestPushArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IndexFormat {
    /// An OCI image index.
    Oci,
    /// A Docker manifest list, for old registries and clients (cannot carry annotations).
    Docker,
}

#[derive(Debug, Args)]
pub struct ManifestPushArgs {
    /// Where to publish the index, e.g. ghcr.io/org/app:1.2.3 (repeatable; may name several
    /// repositories).
    #[arg(long = "tag", value_name = "REF", required = true)]
    pub tags: Vec<ImageRef>,

    /// A record file, or a directory of them (*.json), as written by `build --records` or
    /// `record --out` (repeatable).
    #[arg(long = "records", value_name = "PATH")]
    pub records: Vec<PathBuf>,

    /// Images or indexes to include, by tag or digest (an index contributes its entries).
    #[arg(value_name = "SOURCE_REF")]
    pub sources: Vec<ImageRef>,

    /// Fail unless the index holds exactly these platforms (comma-separated, e.g.
    /// linux/amd64,linux/arm64). Use it so a failed build leg can never publish a partial image.
    #[arg(long, value_name = "LIST")]
    pub expect_platforms: Option<PlatformList>,

    /// With --expect-platforms: publish what arrived when some expected platforms are missing
    /// (a build leg failed), with a warning naming them. Platforms not expected are still
    /// refused, and so is an index with none of them.
    #[arg(long, requires = "expect_platforms")]
    pub allow_missing: bool,

    /// An annotation for the index (repeatable), e.g.
    /// org.opencontainers.image.source=https://github.com/org/app.
    #[arg(long = "annotation", value_name = "KEY=VALUE", value_parser = parse_annotation)]
    pub annotations: Vec<(String, String)>,

    /// The index document to write.
    #[arg(long, value_enum, default_value_t = IndexFormat::Oci)]
    pub format: IndexFormat,

    /// Merge into the index already at the first --tag (entries of the same platform are
    /// replaced), like `buildah manifest create --amend`. Without it, the tag is replaced.
    #[arg(long)]
    pub append: bool,

    /// Verify everything and print the index that would be pushed, but write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// A comma-separated list of platforms, as one argument.
#[derive(Debug, Clone)]
pub struct PlatformList(pub Vec<Platform>);

impl std::str::FromStr for PlatformList {
    type Err = multiarch_core::platform::PlatformError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Platform::parse_list(input).map(PlatformList)
    }
}

fn parse_build_arg(input: &str) -> Result<(String, Option<String>), String> {
    if !input.contains('=') && !input.trim().is_empty() {
        return Ok((input.to_owned(), std::env::var(input).ok()));
    }
    parse_annotation(input).map(|(key, value)| (key, Some(value)))
}

fn parse_annotation(input: &str) -> Result<(String, String), String> {
    match input.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_owned(), value.to_owned()))
        }
        _ => Err(format!(
            "expected KEY=VALUE, e.g. org.opencontainers.image.source=https://github.com/org/app; found `{input}`"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn a_full_manifest_push_command_line_parses() {
        let cli = Cli::try_parse_from([
            "multiarch",
            "manifest",
            "push",
            "--tag",
            "ghcr.io/o/app:1",
            "--tag",
            "ghcr.io/o/app:latest",
            "--records",
            "records/",
            "--expect-platforms",
            "linux/amd64,linux/arm64",
            "--annotation",
            "a=b",
            "--format",
            "docker",
            "--append",
            "--dry-run",
            "-v",
            "ghcr.io/o/app:amd64",
        ])
        .unwrap();
        let Command::Manifest(ManifestCommand::Push(args)) = cli.command else {
            panic!("wrong command")
        };
        assert_eq!(args.tags.len(), 2);
        assert_eq!(args.expect_platforms.unwrap().0.len(), 2);
        assert_eq!(args.sources.len(), 1);
        assert_eq!(cli.global.verbose, 1);
        assert!(!args.allow_missing);
    }

    #[test]
    fn allow_missing_needs_the_expected_platforms() {
        let push = |extra: &[&str]| {
            let mut line = vec!["multiarch", "manifest", "push", "--tag", "ghcr.io/o/app:1"];
            line.extend_from_slice(extra);
            Cli::try_parse_from(line)
        };
        let error = push(&["--allow-missing"]).unwrap_err();
        assert_eq!(
            error.kind(),
            clap::error::ErrorKind::MissingRequiredArgument
        );
        assert!(error.to_string().contains("--expect-platforms"), "{error}");
        let cli = push(&["--allow-missing", "--expect-platforms", "linux/amd64"]).unwrap();
        let Command::Manifest(ManifestCommand::Push(args)) = cli.command else {
            panic!("wrong command")
        };
        assert!(args.allow_missing);
    }

    #[test]
    fn a_bare_build_arg_takes_the_environment_or_is_skipped() {
        // PATH is always set; a name nobody sets is skipped so the ARG's default applies.
        let (key, value) = parse_build_arg("PATH").unwrap();
        assert_eq!(key, "PATH");
        assert!(value.is_some_and(|v| !v.is_empty()));
        assert_eq!(
            parse_build_arg("MULTIARCH_TEST_SURELY_UNSET").unwrap(),
            ("MULTIARCH_TEST_SURELY_UNSET".into(), None)
        );
        assert_eq!(
            parse_build_arg("A=").unwrap(),
            ("A".into(), Some(String::new()))
        );
    }

    #[test]
    fn a_full_build_command_line_parses() {
        let cli = Cli::try_parse_from([
            "multiarch",
            "build",
            "--platform",
            "linux/amd64,linux/arm64",
            "--platform",
            "linux/s390x",
            "--context",
            "ctx",
            "-f",
            "ctx/Containerfile",
            "--target",
            "final",
            "--build-arg",
            "A=1",
            "--label",
            "l=v",
            "--annotation",
            "a=b",
            "--engine",
            "native",
            "--tag",
            "ghcr.io/o/app:1",
            "--push",
            "--records",
            "records",
            "--compression",
            "zstd",
            "--dry-run",
        ])
        .unwrap();
        let Command::Build(args) = cli.command else {
            panic!("wrong command")
        };
        assert_eq!(args.platforms.iter().map(|l| l.0.len()).sum::<usize>(), 3);
        assert!(args.push && args.dry_run);
        assert!(
            Cli::try_parse_from(["multiarch", "build", "--push", "--output", "oci:x"]).is_err(),
            "--push needs --tag and excludes --output"
        );
    }

    fn tekton_manifest(args: &[&str]) -> TektonManifestArgs {
        let cli = Cli::try_parse_from(["multiarch", "tekton", "manifest"].iter().chain(args))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"));
        let Command::Tekton(TektonStep::Manifest(args)) = cli.command else {
            panic!("wrong command")
        };
        args
    }

    #[test]
    fn tekton_array_params_take_zero_or_more_arguments_each() {
        let args = tekton_manifest(&[
            "--tags",
            "--records",
            "{\"a\": 1}",
            "{}",
            "--expect-platforms",
            "--annotations",
            "a=-b",
            "c=--d",
        ]);
        assert!(args.tags.is_empty());
        assert_eq!(args.records, ["{\"a\": 1}", "{}"]);
        assert!(args.expect_platforms.is_empty());
        assert_eq!(args.annotations, ["a=-b", "c=--d"]);

        let args = tekton_manifest(&["--tags", "v1", "latest", "--records", "{}"]);
        assert_eq!(args.tags, ["v1", "latest"]);
        let args = tekton_manifest(&[]);
        assert!(args.tags.is_empty() && args.records.is_empty());

        let cli = Cli::try_parse_from(["multiarch", "tekton", "build", "--build-args"]).unwrap();
        let Command::Tekton(TektonStep::Build(args)) = cli.command else {
            panic!("wrong command")
        };
        assert!(args.build_args.is_empty());
        let cli = Cli::try_parse_from([
            "multiarch",
            "tekton",
            "build",
            "--build-args",
            "A=1",
            "B=two words",
        ])
        .unwrap();
        let Command::Tekton(TektonStep::Build(args)) = cli.command else {
            panic!("wrong command")
        };
        assert_eq!(args.build_args, ["A=1", "B=two words"]);
    }

    #[test]
    fn annotations_need_a_key_and_an_equals_sign() {
        assert_eq!(
            parse_annotation("a=b=c").unwrap(),
            ("a".into(), "b=c".into())
        );
        assert_eq!(parse_annotation("a=").unwrap(), ("a".into(), String::new()));
        assert!(parse_annotation("novalue").is_err());
        assert!(parse_annotation("=x").is_err());
    }
}
