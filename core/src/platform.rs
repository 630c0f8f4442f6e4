//! Platforms (`linux/arm/v7`): parsing, normalisation, comparison and file names.
//!
//! What users type ([`FromStr`]) must name an operating system and an architecture OCI knows (Go's
//! `GOOS` and `GOARCH` values, or an alias such as `x86_64`), so a typo such as `linux/amd46`
//! is refused instead of labelling an image with a platform nothing runs. Platforms read from
//! images and indexes (serde) are taken as they are. Variants are not checked: their set is open.
//!
//! oci-spec 0.10's `Platform` drops `os.version` and `os.features` when it deserialises (its
//! fields lack the dotted renames), which would silently lose the OS version of Windows images in a
//! merge; this type carries them with the spec's names.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A platform as it appears in an index entry, an image config or a record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    #[serde(
        rename = "os.features",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_features: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<Vec<String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    #[error(
        "`{input}` is not a platform; expected OS/ARCH[/VARIANT], e.g. linux/amd64 or linux/arm/v7"
    )]
    Shape { input: String },
    #[error(
        "`{input}` is not a platform: `{part}` may only hold lowercase letters, digits, `.`, `_` and `-`"
    )]
    Character { input: String, part: String },
    #[error(
        "`{input}` is not a platform: `{os}` is not an operating system OCI knows; expected one of {}",
        KNOWN_OS.join(", ")
    )]
    UnknownOs { input: String, os: String },
    #[error(
        "`{input}` is not a platform: `{architecture}` is not a CPU architecture OCI knows; expected one of {} (or an alias: x86_64, aarch64, armhf, armel, i386, ppc64el)",
        KNOWN_ARCH.join(", ")
    )]
    UnknownArchitecture { input: String, architecture: String },
    #[error(
        "the platform list is empty; expected a comma-separated list such as linux/amd64,linux/arm64"
    )]
    EmptyList,
}

/// Operating systems OCI platforms name: Go's `GOOS` values, as the image spec asks.
pub const KNOWN_OS: &[&str] = &[
    "aix",
    "android",
    "darwin",
    "dragonfly",
    "freebsd",
    "hurd",
    "illumos",
    "ios",
    "js",
    "linux",
    "nacl",
    "netbsd",
    "openbsd",
    "plan9",
    "solaris",
    "wasip1",
    "windows",
    "zos",
];

/// CPU architectures OCI platforms name: Go's `GOARCH` values, in their normal form.
pub const KNOWN_ARCH: &[&str] = &[
    "386",
    "amd64",
    "amd64p32",
    "arm",
    "armbe",
    "arm64",
    "arm64be",
    "loong64",
    "mips",
    "mipsle",
    "mips64",
    "mips64le",
    "mips64p32",
    "mips64p32le",
    "ppc",
    "ppc64",
    "ppc64le",
    "riscv",
    "riscv64",
    "s390",
    "s390x",
    "sparc",
    "sparc64",
    "wasm",
];

impl Platform {
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Self {
        Platform {
            os: os.to_owned(),
            architecture: architecture.to_owned(),
            variant: variant.map(str::to_owned),
            os_version: None,
            os_features: None,
            features: None,
        }
    }

    /// The platform of the machine this runs on, in OCI's names (`linux/amd64`, `linux/arm64`,
    /// `linux/arm/v7`, …).
    pub fn host() -> Platform {
        let (architecture, variant) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", None),
            "x86" => ("386", None),
            "aarch64" => ("arm64", None),
            "arm" => ("arm", Some("v7")),
            "powerpc64" if cfg!(target_endian = "little") => ("ppc64le", None),
            "loongarch64" => ("loong64", None),
            "mips64" if cfg!(target_endian = "little") => ("mips64le", None),
            other => (other, None),
        };
        Platform::new(std::env::consts::OS, architecture, variant)
    }

    /// The canonical form used for every comparison: `x86_64`→`amd64`, `aarch64` and `arm64/v8`
    /// →`arm64`, `armhf`→`arm/v7`, `armel`→`arm/v6`, bare `arm`→`arm/v7`, `i386`→`386`, and
    /// numeric ARM variants (`7`) get their `v`.
    pub fn normalized(&self) -> Platform {
        let os = self.os.to_ascii_lowercase();
        let arch = self.architecture.to_ascii_lowercase();
        let variant = self.variant.as_deref().map(str::to_ascii_lowercase);
        let (architecture, variant) = match (arch.as_str(), variant.as_deref()) {
            ("x86_64" | "x86-64" | "amd64", Some("v1") | None) => ("amd64", None),
            ("x86_64" | "x86-64", v) => ("amd64", v.map(str::to_owned)),
            ("aarch64" | "arm64", Some("v8") | Some("8") | None) => ("arm64", None),
            ("aarch64", v) => ("arm64", v.map(str::to_owned)),
            ("armhf", _) => ("arm", Some("v7".to_owned())),
            ("armel", _) => ("arm", Some("v6".to_owned())),
            ("arm", None) => ("arm", Some("v7".to_owned())),
            ("arm", Some(v)) if v.chars().all(|c| c.is_ascii_digit()) => {
                ("arm", Some(format!("v{v}")))
            }
            ("i386" | "i686" | "x86", v) => ("386", v.map(str::to_owned)),
            ("ppc64el", v) => ("ppc64le", v.map(str::to_owned)),
            (a, v) => (a, v.map(str::to_owned)),
        };
        Platform {
            os,
            architecture: architecture.to_owned(),
            variant,
            os_version: self.os_version.clone(),
            os_features: self.os_features.clone(),
            features: self.features.clone(),
        }
    }

    /// True when both name the same platform once normalised. `os.version` takes part only when
    /// both sides state one.
    pub fn matches(&self, other: &Platform) -> bool {
        let (a, b) = (self.normalized(), other.normalized());
        let versions_agree = match (&a.os_version, &b.os_version) {
            (Some(x), Some(y)) => x == y,
            _ => true,
        };
        a.os == b.os && a.architecture == b.architecture && a.variant == b.variant && versions_agree
    }

    /// `unknown/unknown`: the platform Docker gives attestation manifests.
    pub fn is_unknown(&self) -> bool {
        self.os == "unknown" && self.architecture == "unknown"
    }

    /// The record file stem: `linux-arm64`, `linux-arm-v7`, `windows-amd64-10.0.17763.1`.
    pub fn file_stem(&self) -> String {
        let mut stem = format!("{}-{}", self.os, self.architecture);
        for part in [&self.variant, &self.os_version].into_iter().flatten() {
            stem.push('-');
            stem.push_str(part);
        }
        stem.retain(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        stem
    }

    /// Parses a comma- or whitespace-separated list of platforms.
    pub fn parse_list(input: &str) -> Result<Vec<Platform>, PlatformError> {
        let list = input
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(Platform::from_str)
            .collect::<Result<Vec<_>, _>>()?;
        if list.is_empty() {
            return Err(PlatformError::EmptyList);
        }
        Ok(list)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        if let Some(version) = &self.os_version {
            write!(f, " ({version})")?;
        }
        Ok(())
    }
}

impl FromStr for Platform {
    type Err = PlatformError;

    /// Parses `OS/ARCH[/VARIANT]` as given (an alias stays an alias); call
    /// [`Platform::normalized`] to compare.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = input.trim().split('/').collect();
        if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.is_empty()) {
            return Err(PlatformError::Shape {
                input: input.to_owned(),
            });
        }
        for part in &parts {
            let valid = part.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')
            });
            if !valid {
                return Err(PlatformError::Character {
                    input: input.to_owned(),
                    part: (*part).to_owned(),
                });
            }
        }
        let platform = Platform::new(parts[0], parts[1], parts.get(2).copied());
        let normal = platform.normalized();
        if !KNOWN_OS.contains(&normal.os.as_str()) {
            return Err(PlatformError::UnknownOs {
                input: input.to_owned(),
                os: normal.os,
            });
        }
        if !KNOWN_ARCH.contains(&normal.architecture.as_str()) {
            return Err(PlatformError::UnknownArchitecture {
                input: input.to_owned(),
                architecture: normal.architecture,
            });
        }
        Ok(platform)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Platform {
        s.parse().unwrap()
    }

    #[test]
    fn normalises_the_usual_aliases() {
        let cases = [
            ("linux/x86_64", "linux/amd64"),
            ("linux/amd64/v1", "linux/amd64"),
            ("linux/amd64/v3", "linux/amd64/v3"),
            ("linux/aarch64", "linux/arm64"),
            ("linux/arm64/v8", "linux/arm64"),
            ("linux/armhf", "linux/arm/v7"),
            ("linux/armel", "linux/arm/v6"),
            ("linux/arm", "linux/arm/v7"),
            ("linux/arm/7", "linux/arm/v7"),
            ("linux/arm/v6", "linux/arm/v6"),
            ("linux/i386", "linux/386"),
            ("linux/ppc64el", "linux/ppc64le"),
            ("linux/s390x", "linux/s390x"),
        ];
        for (input, expected) in cases {
            assert_eq!(p(input).normalized().to_string(), expected, "{input}");
        }
    }

    #[test]
    fn matching_uses_normal_forms() {
        assert!(p("linux/arm").matches(&p("linux/arm/v7")));
        assert!(p("linux/arm64/v8").matches(&p("linux/aarch64")));
        assert!(!p("linux/arm/v6").matches(&p("linux/arm/v7")));
        assert!(!p("linux/amd64").matches(&p("windows/amd64")));
        let mut win = p("windows/amd64");
        win.os_version = Some("10.0.17763.1".into());
        let mut other = win.clone();
        other.os_version = Some("10.0.20348.1".into());
        assert!(!win.matches(&other));
        assert!(win.matches(&p("windows/amd64")));
    }

    #[test]
    fn refuses_malformed_platforms() {
        for bad in [
            "linux",
            "linux/",
            "/amd64",
            "linux/amd64/v7/x",
            "Linux/AMD64",
            "linux/am d64",
            "linux/amd64/",
            "foo/bar/baz/qux",
        ] {
            assert!(bad.parse::<Platform>().is_err(), "{bad}");
        }
        assert!(matches!(
            Platform::parse_list(" , "),
            Err(PlatformError::EmptyList)
        ));
        let list = Platform::parse_list("linux/amd64, linux/arm64\nlinux/arm/v7").unwrap();
        assert_eq!(list.len(), 3);
    }

    #[test]
    fn unknown_systems_and_architectures_are_refused_with_the_known_ones() {
        let err = "linux/amd65".parse::<Platform>().unwrap_err().to_string();
        assert!(
            err.contains("`amd65` is not a CPU architecture") && err.contains("amd64, amd64p32"),
            "{err}"
        );
        let err = "linix/amd64".parse::<Platform>().unwrap_err().to_string();
        assert!(
            err.contains("`linix` is not an operating system") && err.contains("linux"),
            "{err}"
        );
        for alias in ["linux/x86_64", "linux/aarch64", "linux/armhf", "linux/i386"] {
            assert_eq!(p(alias).to_string(), alias, "aliases parse as written");
        }
        for known in [
            "windows/amd64",
            "linux/riscv64",
            "freebsd/arm64",
            "wasip1/wasm",
        ] {
            assert_eq!(p(known).to_string(), known);
        }
    }

    #[test]
    fn file_stems() {
        assert_eq!(p("linux/arm64").file_stem(), "linux-arm64");
        assert_eq!(p("linux/arm/v7").file_stem(), "linux-arm-v7");
        let mut windows = p("windows/amd64");
        windows.os_version = Some("10.0.17763.1".into());
        assert_eq!(windows.file_stem(), "windows-amd64-10.0.17763.1");
    }

    #[test]
    fn serde_keeps_os_version() {
        let json = r#"{"architecture":"amd64","os":"windows","os.version":"10.0.17763.1"}"#;
        let platform: Platform = serde_json::from_str(json).unwrap();
        assert_eq!(platform.os_version.as_deref(), Some("10.0.17763.1"));
        let back = serde_json::to_string(&platform).unwrap();
        assert!(back.contains(r#""os.version":"10.0.17763.1""#), "{back}");
    }
}
