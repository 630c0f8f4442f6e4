//! Image references: `HOST[:PORT]/REPO[:TAG][@DIGEST]` with Docker's defaults, and
//! `oci:DIR[:TAG][@DIGEST]` for OCI image layout directories (skopeo's syntax).

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::LazyLock;

use regex::Regex;

use crate::digest::{self, Digest};

/// Where manifests and blobs live: a repository of a registry, or an OCI layout directory.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Location {
    Registry(Repository),
    Layout(PathBuf),
}

/// A repository of a registry: `ghcr.io` + `team/app`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Repository {
    /// The registry host as written, with its port (`127.0.0.1:5000`, `docker.io`).
    pub registry: String,
    /// The repository path (`library/alpine`).
    pub name: String,
}

/// What to fetch or write in a location: a tag, or a manifest digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ManifestTarget {
    Tag(String),
    Digest(Digest),
    /// Neither was given (`oci:DIR`): tag `latest`, or, when reading an OCI layout that holds a
    /// single image, that image (skopeo's rule). Writes always go to `latest`.
    Default,
}

impl ManifestTarget {
    /// The tag this target reads or writes, if it is not a digest.
    pub fn tag(&self) -> Option<&str> {
        match self {
            ManifestTarget::Tag(tag) => Some(tag),
            ManifestTarget::Default => Some(DEFAULT_TAG),
            ManifestTarget::Digest(_) => None,
        }
    }
}

/// A parsed reference: a location plus an optional tag and digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    pub location: Location,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    #[error("the reference is empty; expected HOST/REPO[:TAG][@DIGEST] or oci:DIR[:TAG]")]
    Empty,
    #[error(
        "`{input}`: repository names must be lowercase (found `{component}`); Docker and OCI registries refuse uppercase names"
    )]
    Uppercase { input: String, component: String },
    #[error(
        "`{input}`: `{component}` is not a valid repository path component; expected lowercase letters and digits separated by `.`, `_`, `__` or `-`"
    )]
    Component { input: String, component: String },
    #[error(
        "`{input}`: `{component}` holds a `:`, but a reference has one `:TAG` at most, after the repository name; expected HOST[:PORT]/REPO[:TAG][@DIGEST]"
    )]
    Colon { input: String, component: String },
    #[error("`{input}`: `{registry}` is not a valid registry host; expected HOST or HOST:PORT")]
    Registry { input: String, registry: String },
    #[error(
        "`{input}`: `{tag}` is not a valid tag; expected up to 128 letters, digits, `_`, `.` or `-`, not starting with `.` or `-`"
    )]
    Tag { input: String, tag: String },
    #[error("`{input}`: {source}")]
    Digest {
        input: String,
        #[source]
        source: digest::DigestError,
    },
    #[error("`{input}`: the repository name is longer than 255 characters")]
    TooLong { input: String },
    #[error("`{input}`: an OCI layout reference needs a directory, as in oci:DIR or oci:DIR:TAG")]
    LayoutDir { input: String },
    #[error(
        "`{input}` names a tag or digest, but a repository (HOST/REPO or oci:DIR) is expected here"
    )]
    NotARepository { input: String },
}

static COMPONENT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$").expect("static regex"));
static TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$").expect("static regex"));
static REGISTRY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$",
    )
    .expect("static regex")
});

pub const DOCKER_HUB: &str = "docker.io";
pub const DEFAULT_TAG: &str = "latest";
const LAYOUT_PREFIX: &str = "oci:";

impl ImageRef {
    /// The manifest this reference names: its digest if it has one, else its tag, else the
    /// default (see [`ManifestTarget::Default`]).
    pub fn target(&self) -> ManifestTarget {
        match (&self.digest, &self.tag) {
            (Some(digest), _) => ManifestTarget::Digest(digest.clone()),
            (None, Some(tag)) => ManifestTarget::Tag(tag.clone()),
            (None, None) => ManifestTarget::Default,
        }
    }

    /// `location` at `tag` (`REPO:TAG`).
    pub fn tagged(location: &Location, tag: &str) -> ImageRef {
        ImageRef {
            location: location.clone(),
            tag: Some(tag.to_owned()),
            digest: None,
        }
    }

    /// The same location pinned to `digest` (`REPO@sha256:…`), without a tag.
    pub fn pinned(location: &Location, digest: &Digest) -> ImageRef {
        ImageRef {
            location: location.clone(),
            tag: None,
            digest: Some(digest.clone()),
        }
    }
}

impl Location {
    /// The registry host, for registry locations.
    pub fn registry(&self) -> Option<&str> {
        match self {
            Location::Registry(repo) => Some(&repo.registry),
            Location::Layout(_) => None,
        }
    }

    /// Two locations are the same store when they name the same repository or, for layouts, the
    /// same directory (compared as absolute paths).
    pub fn same_as(&self, other: &Location) -> bool {
        match (self, other) {
            (Location::Layout(a), Location::Layout(b)) => absolute(a) == absolute(b),
            (a, b) => a == b,
        }
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// True for hosts that are only reachable from this machine: `localhost`, `127.0.0.0/8`, `[::1]`
/// (with or without a port). Such registries may use plain HTTP without being listed as insecure.
pub fn is_loopback(registry: &str) -> bool {
    let host = host_without_port(registry);
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => ip.is_loopback(),
        Ok(IpAddr::V6(ip)) => ip == Ipv6Addr::LOCALHOST,
        Err(_) => false,
    }
}

/// `host:port` → `host`; `[::1]:5000` → `[::1]`.
pub fn host_without_port(registry: &str) -> &str {
    if registry.starts_with('[') {
        return match registry.find(']') {
            Some(end) => &registry[..=end],
            None => registry,
        };
    }
    registry.split(':').next().unwrap_or(registry)
}

impl FromStr for ImageRef {
    type Err = ReferenceError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let mut reference = parse_explicit(input.trim())?;
        // Docker's default: a registry reference with neither tag nor digest means `latest`.
        if matches!(reference.location, Location::Registry(_))
            && reference.tag.is_none()
            && reference.digest.is_none()
        {
            reference.tag = Some(DEFAULT_TAG.to_owned());
        }
        Ok(reference)
    }
}

impl FromStr for Location {
    type Err = ReferenceError;

    /// Parses a repository or layout directory: a reference without tag or digest.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let reference = parse_explicit(input.trim())?;
        if reference.tag.is_some() || reference.digest.is_some() {
            return Err(ReferenceError::NotARepository {
                input: input.to_owned(),
            });
        }
        Ok(reference.location)
    }
}

/// Parses a reference as written, without filling in defaults.
fn parse_explicit(input: &str) -> Result<ImageRef, ReferenceError> {
    if input.is_empty() {
        return Err(ReferenceError::Empty);
    }
    match input.strip_prefix(LAYOUT_PREFIX) {
        Some(rest) => parse_layout(input, rest),
        None => parse_registry(input, input.strip_prefix("docker://").unwrap_or(input)),
    }
}

fn parse_digest(input: &str, text: &str) -> Result<Digest, ReferenceError> {
    digest::parse(text).map_err(|source| ReferenceError::Digest {
        input: input.to_owned(),
        source,
    })
}

fn check_tag(input: &str, tag: &str) -> Result<(), ReferenceError> {
    if TAG.is_match(tag) {
        Ok(())
    } else {
        Err(ReferenceError::Tag {
            input: input.to_owned(),
            tag: tag.to_owned(),
        })
    }
}

fn parse_layout(input: &str, rest: &str) -> Result<ImageRef, ReferenceError> {
    let (rest, digest) = match rest.rfind("@sha") {
        Some(at) => (&rest[..at], Some(parse_digest(input, &rest[at + 1..])?)),
        None => (rest, None),
    };
    // As in skopeo, the directory ends at the first `:`.
    let (dir, tag) = match rest.split_once(':') {
        Some((dir, tag)) => {
            check_tag(input, tag)?;
            (dir, Some(tag.to_owned()))
        }
        None => (rest, None),
    };
    if dir.is_empty() {
        return Err(ReferenceError::LayoutDir {
            input: input.to_owned(),
        });
    }
    Ok(ImageRef {
        location: Location::Layout(PathBuf::from(dir)),
        tag,
        digest,
    })
}

fn parse_registry(input: &str, text: &str) -> Result<ImageRef, ReferenceError> {
    let (name_and_tag, digest) = match text.split_once('@') {
        Some((name, digest)) => (name, Some(parse_digest(input, digest)?)),
        None => (text, None),
    };
    let (name, tag) = match name_and_tag.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => {
            check_tag(input, tag)?;
            (name, Some(tag.to_owned()))
        }
        _ => (name_and_tag, None),
    };
    let (registry, path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains('.')
                || first.contains(':')
                || first.starts_with('[')
                || first == "localhost" =>
        {
            (first.to_owned(), rest.to_owned())
        }
        Some(_) => (DOCKER_HUB.to_owned(), name.to_owned()),
        None => (DOCKER_HUB.to_owned(), format!("library/{name}")),
    };
    if !REGISTRY.is_match(&registry) {
        return Err(ReferenceError::Registry {
            input: input.to_owned(),
            registry,
        });
    }
    for component in path.split('/') {
        if COMPONENT.is_match(component) {
            continue;
        }
        if component.contains(':') {
            return Err(ReferenceError::Colon {
                input: input.to_owned(),
                component: component.to_owned(),
            });
        }
        if COMPONENT.is_match(&component.to_ascii_lowercase()) {
            return Err(ReferenceError::Uppercase {
                input: input.to_owned(),
                component: component.to_owned(),
            });
        }
        return Err(ReferenceError::Component {
            input: input.to_owned(),
            component: component.to_owned(),
        });
    }
    if registry.len() + 1 + path.len() > 255 {
        return Err(ReferenceError::TooLong {
            input: input.to_owned(),
        });
    }
    Ok(ImageRef {
        location: Location::Registry(Repository {
            registry,
            name: path,
        }),
        tag,
        digest,
    })
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Registry(repo) => write!(f, "{}/{}", repo.registry, repo.name),
            Location::Layout(dir) => write!(f, "{LAYOUT_PREFIX}{}", dir.display()),
        }
    }
}

impl fmt::Display for ManifestTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ManifestTarget::Tag(tag) => write!(f, "tag `{tag}`"),
            ManifestTarget::Default => write!(f, "tag `{DEFAULT_TAG}`"),
            ManifestTarget::Digest(digest) => write!(f, "{digest}"),
        }
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.location)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> ImageRef {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn docker_defaults() {
        assert_eq!(
            parse("alpine").to_string(),
            "docker.io/library/alpine:latest"
        );
        assert_eq!(parse("team/app").to_string(), "docker.io/team/app:latest");
        assert_eq!(
            parse("docker://alpine:3.20").to_string(),
            "docker.io/library/alpine:3.20"
        );
        let hex = "a".repeat(64);
        let r = parse(&format!("alpine@sha256:{hex}"));
        assert_eq!(r.tag, None);
        assert!(matches!(r.target(), ManifestTarget::Digest(_)));
    }

    #[test]
    fn registries_with_ports() {
        let r = parse("127.0.0.1:5000/team/app:amd64-latest");
        assert_eq!(r.location.registry(), Some("127.0.0.1:5000"));
        assert_eq!(r.tag.as_deref(), Some("amd64-latest"));
        let r = parse("localhost/app");
        assert_eq!(r.location.registry(), Some("localhost"));
        let r = parse("[::1]:5000/app:1");
        assert_eq!(r.location.registry(), Some("[::1]:5000"));
        let hex = "b".repeat(64);
        let r = parse(&format!("ghcr.io/o/app:1.2@sha256:{hex}"));
        assert_eq!(r.tag.as_deref(), Some("1.2"));
        assert_eq!(
            r.target(),
            ManifestTarget::Digest(r.digest.clone().unwrap())
        );
    }

    #[test]
    fn layouts() {
        let r = parse("oci:/tmp/out:v1");
        assert_eq!(r.location, Location::Layout("/tmp/out".into()));
        assert_eq!(r.tag.as_deref(), Some("v1"));
        let r = parse("oci:relative/dir");
        assert_eq!(r.tag, None);
        assert_eq!(r.target(), ManifestTarget::Default);
        assert_eq!(r.target().tag(), Some("latest"));
        let hex = "c".repeat(64);
        let r = parse(&format!("oci:dir@sha256:{hex}"));
        assert!(r.digest.is_some());
        assert!(matches!(
            "oci:".parse::<ImageRef>(),
            Err(ReferenceError::LayoutDir { .. })
        ));
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let err = |s: &str| s.parse::<ImageRef>().unwrap_err().to_string();
        assert!(err("ghcr.io/Team/app").contains("must be lowercase"));
        assert!(err("ghcr.io/te$m/app").contains("not a valid repository path component"));
        assert!(err("ghcr.io/app:-bad").contains("not a valid tag"));
        assert!(err("ghcr.io/app@sha256:zz").contains("not a valid digest"));
        assert!(err("").contains("empty"));
        assert!(err("bad_host.:5000/app").contains("registry host"));
        assert!(err("repo:tag:extra").contains("`repo:tag` holds a `:`"));
        assert!(err("ghcr.io/a:1/b:2").contains("`a:1` holds a `:`"));
        let long = format!("ghcr.io/{}", "a".repeat(260));
        assert!(err(&long).contains("255"));
    }

    #[test]
    fn locations_have_no_tag_or_digest() {
        let location: Location = "ghcr.io/team/app".parse().unwrap();
        assert_eq!(location.to_string(), "ghcr.io/team/app");
        assert!("ghcr.io/team/app:1".parse::<Location>().is_err());
        assert!("oci:/tmp/x:tag".parse::<Location>().is_err());
        assert_eq!(
            "oci:/tmp/x".parse::<Location>().unwrap(),
            Location::Layout("/tmp/x".into())
        );
    }

    #[test]
    fn loopback_hosts() {
        for host in [
            "localhost",
            "localhost:5000",
            "127.0.0.1",
            "127.1.2.3:80",
            "[::1]",
            "[::1]:5000",
        ] {
            assert!(is_loopback(host), "{host}");
        }
        for host in [
            "ghcr.io",
            "10.0.0.1:5000",
            "localhost.example",
            "[::2]:5000",
        ] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[test]
    fn same_layout_dirs_compare_equal() {
        let cwd = std::env::current_dir().unwrap();
        let a = Location::Layout("out".into());
        let b = Location::Layout(cwd.join("out"));
        assert!(a.same_as(&b));
    }
}
