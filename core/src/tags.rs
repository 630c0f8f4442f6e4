//! Image tags and OCI annotations from the facts of a CI run.
//!
//! CI adapters (GitHub Actions, GitLab, Tekton) reduce a run to [`Facts`]; this module turns them
//! into tag names and `org.opencontainers.image.*` annotations. It does no I/O and reads no
//! environment, so every adapter gets the same tags for the same facts. The rules follow
//! docker/metadata-action where it has one.
//!
//! # Automatic tags
//!
//! [`automatic`] yields, in this order and without duplicates:
//!
//! | The run is about                   | Tags                                            |
//! |------------------------------------|-------------------------------------------------|
//! | tag `v1.2.3` or `1.2.3`            | `1.2.3`, `1.2`, `1`                             |
//! | tag `v0.4.1` (major version 0)     | `0.4.1`, `0.4` (never `0`)                      |
//! | tag `v1.2.3-rc.1` (pre-release)    | `1.2.3-rc.1` only                               |
//! | tag `v1.2.3+build.7`               | `1.2.3-build.7`, `1.2`, `1` (`+` becomes `-`)   |
//! | tag `release/2024` (not semver)    | `release-2024` (the sanitized tag name)         |
//! | branch `feature/x`                 | `feature-x`                                     |
//! | the default branch, e.g. `main`    | `main`, `latest`                                |
//! | pull request 42                    | `pr-42`                                         |
//! | anything, when the commit is known | `sha-` and the first 7 hex digits of the commit |
//!
//! A tag counts as semver when it is a [Semantic Versioning 2.0](https://semver.org) version,
//! optionally preceded by `v`.
//!
//! # Tag specs
//!
//! [`expand`] reads what a user writes in a CI input. Entries are separated by newlines and/or
//! commas; whitespace around an entry is ignored, as are empty entries and lines starting with
//! `#`. A spec with no entries means the automatic tags. An entry is a literal tag (`latest`
//! is just a literal) or a template with placeholders:
//!
//! | Placeholder    | Value                                                     | Available for        |
//! |----------------|-----------------------------------------------------------|----------------------|
//! | `{{auto}}`     | all automatic tags; must be an entry of its own           | every run            |
//! | `{{version}}`  | version without `v` (`1.2.3-rc.1`), or sanitized tag name | tags                 |
//! | `{{major}}`    | major version number                                      | releases (see below) |
//! | `{{minor}}`    | minor version number (`{{major}}.{{minor}}` is `1.2`)     | releases             |
//! | `{{patch}}`    | patch version number                                      | releases             |
//! | `{{branch}}`   | sanitized branch name                                     | branch pushes        |
//! | `{{pr}}`       | pull-request number                                       | pull requests        |
//! | `{{sha}}`      | first 7 hex digits of the commit                          | known commit         |
//! | `{{sha_long}}` | full commit SHA                                           | known commit         |
//! | `{{ref}}`      | sanitized branch or tag name (`v1.2.3`), or `pr-42`       | branch, tag, PR      |
//!
//! A release is a semver tag without a pre-release part. An entry that uses a placeholder
//! not available in this run is skipped, so one spec serves every kind of run:
//! `{{major}}.{{minor}}` yields nothing on a branch build, `{{pr}}` nothing on a push. As in the
//! automatic tags, `{{major}}` is not available for major version 0 unless the entry also has
//! `{{minor}}`: `v0.4.1` gives `0.4` for `{{major}}.{{minor}}` but nothing for `v{{major}}`.
//! Placeholders may have spaces inside the braces (`{{ version }}`). An unknown placeholder,
//! unbalanced braces, or an entry that renders to an invalid tag is an error.
//!
//! For example, this spec
//!
//! ```text
//! # moving tags for releases, plus everything automatic
//! {{auto}}
//! v{{major}}.{{minor}}, stable
//! ```
//!
//! gives `1.2.3, 1.2, 1, sha-4f2a9c1, v1.2, stable` for the tag `v1.2.3`, and
//! `main, latest, sha-4f2a9c1, stable` for a push to the default branch `main`.
//!
//! `{{branch}}` is deliberately not the head branch of a pull request: a pull request from a
//! fork whose branch is called `main` must not be able to produce the tag `main`.
//!
//! # Tag names
//!
//! A valid tag ([`is_valid_tag`]) is 1 to 128 characters from `A-Z a-z 0-9 _ . -`, not starting
//! with `.` or `-` (the OCI distribution rule). [`sanitize`] makes a branch or tag name valid:
//! each run of other characters becomes one `-` (`feature/x` → `feature-x`), a leading `.` or
//! `-` becomes `_`, and the result is cut to 128 characters. Case is kept.
//!
//! # Annotations
//!
//! [`oci_annotations`] fills `org.opencontainers.image.` `source` and `url` (the repository
//! URL), `revision` (the commit), `created`, `version` (the first tag that is neither `latest`
//! nor `sha-…`, else the first tag), `title`, `description` and `licenses`, leaving out every
//! key whose value is unknown or empty.

use std::collections::BTreeMap;

/// The longest tag the OCI distribution spec allows.
const MAX_TAG_LEN: usize = 128;

/// How many hex digits of the commit `sha-…` and `{{sha}}` carry.
const SHORT_SHA_LEN: usize = 7;

/// The prefix of every annotation key [`oci_annotations`] writes.
const ANNOTATION_PREFIX: &str = "org.opencontainers.image.";

/// What the CI run is about.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum GitRef {
    /// A push to a branch, by its short name (`main`, `feature/x`).
    Branch(String),
    /// A push of a tag, by its short name (`v1.2.3`).
    Tag(String),
    /// A pull or merge request. `head_branch` is informational: it never becomes a tag.
    PullRequest {
        number: u64,
        head_branch: Option<String>,
    },
    /// Anything else (a schedule, a manual run on a detached commit, …).
    #[default]
    Other,
}

/// The facts a CI adapter knows about a run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Facts {
    pub git_ref: GitRef,
    /// The full commit SHA.
    pub sha: Option<String>,
    pub default_branch: Option<String>,
    /// The repository's web address, e.g. `https://github.com/org/app`.
    pub repository_url: Option<String>,
    /// The repository name.
    pub title: Option<String>,
    pub description: Option<String>,
    /// An SPDX license expression.
    pub licenses: Option<String>,
    /// An RFC 3339 timestamp, supplied by the adapter.
    pub created: Option<String>,
    /// The automatic tag of the commit where the CI has its own convention (GitLab's
    /// `CI_COMMIT_SHORT_SHA`); `None`: `sha-` and the first 7 hex digits.
    pub commit_tag: Option<String>,
}

/// Why a tag spec could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TagError {
    /// A `{{name}}` that is not one of the placeholders.
    #[error(
        "tag entry `{entry}` uses the unknown placeholder `{placeholder}`; expected one of {known}; fix the spelling or write the entry as a literal",
        known = known_placeholders()
    )]
    UnknownPlaceholder { entry: String, placeholder: String },
    /// A `{` or `}` that is not part of a `{{name}}`.
    #[error(
        "tag entry `{entry}` has an unmatched `{found}`; placeholders are written with double braces, as in {known}",
        known = known_placeholders()
    )]
    UnbalancedBraces { entry: String, found: String },
    /// `{{auto}}` with other text in the same entry.
    #[error(
        "tag entry `{entry}` combines `{{{{auto}}}}` with other text; `{{{{auto}}}}` stands for a whole list of tags, so put it in an entry of its own"
    )]
    AutoNotAlone { entry: String },
    /// An entry whose rendered value breaks the tag rule.
    #[error(
        "tag entry `{entry}` renders to `{rendered}`, which is not a valid tag: {problem}; a tag is 1 to 128 characters from A-Z a-z 0-9 _ . - and does not start with . or -; change the entry to fit"
    )]
    InvalidTag {
        entry: String,
        rendered: String,
        problem: String,
    },
}

/// The automatic tags for a run; see the [module documentation](self) for the rules.
pub fn automatic(facts: &Facts) -> Vec<String> {
    let values = Values::from_facts(facts);
    let mut tags = Vec::new();
    let mut add = |tag: String| {
        if is_valid_tag(&tag) && !tags.contains(&tag) {
            tags.push(tag);
        }
    };
    if let Some(version) = &values.version {
        add(version.clone());
    }
    if let Some(release) = &values.release {
        add(format!("{}.{}", release.major, release.minor));
        if release.major > 0 {
            add(release.major.to_string());
        }
    }
    if let Some(branch) = &values.branch {
        add(branch.clone());
    }
    if values.is_default_branch {
        add("latest".to_owned());
    }
    if let Some(pr) = values.pr {
        add(format!("pr-{pr}"));
    }
    match (&facts.commit_tag, &values.sha_short) {
        (Some(tag), _) if is_valid_tag(tag) => add(tag.clone()),
        (_, Some(sha)) => add(format!("sha-{sha}")),
        _ => {}
    }
    tags
}

/// Expands a user's tag spec (see the [module documentation](self)) into tags, without
/// duplicates and in the order written.
pub fn expand(spec: &str, facts: &Facts) -> Result<Vec<String>, TagError> {
    let entries = spec_entries(spec);
    if entries.is_empty() {
        return Ok(automatic(facts));
    }
    let values = Values::from_facts(facts);
    let mut tags: Vec<String> = Vec::new();
    for entry in entries {
        for tag in expand_entry(entry, facts, &values)? {
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
    }
    Ok(tags)
}

/// The OCI annotations for an image pushed with `tags`; keys without a known, non-empty value
/// are left out.
pub fn oci_annotations(facts: &Facts, tags: &[String]) -> BTreeMap<String, String> {
    let version = tags
        .iter()
        .find(|tag| tag.as_str() != "latest" && !tag.starts_with("sha-"))
        .or_else(|| tags.first());
    let entries = [
        ("source", facts.repository_url.as_ref()),
        ("url", facts.repository_url.as_ref()),
        ("revision", facts.sha.as_ref()),
        ("created", facts.created.as_ref()),
        ("version", version),
        ("title", facts.title.as_ref()),
        ("description", facts.description.as_ref()),
        ("licenses", facts.licenses.as_ref()),
    ];
    entries
        .into_iter()
        .filter_map(|(key, value)| {
            let value = value?.trim();
            (!value.is_empty()).then(|| (format!("{ANNOTATION_PREFIX}{key}"), value.to_owned()))
        })
        .collect()
}

/// Whether `tag` is a valid tag name: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
pub fn is_valid_tag(tag: &str) -> bool {
    tag_problem(tag).is_none()
}

/// Turns a branch or tag name into a valid tag: each run of characters outside
/// `A-Z a-z 0-9 _ . -` becomes one `-`, a leading `.` or `-` becomes `_`, and the result is cut
/// to 128 characters. Only an empty `name` gives an empty (invalid) result.
pub fn sanitize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.chars() {
        if is_tag_char(c) {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('-');
            in_run = true;
        }
    }
    if out.starts_with(['.', '-']) {
        out.replace_range(..1, "_");
    }
    // Only ASCII is left, so cutting at a byte index is cutting at a character.
    out.truncate(MAX_TAG_LEN);
    out
}

fn is_tag_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

/// What makes `tag` invalid, in words, or `None` when it is valid.
fn tag_problem(tag: &str) -> Option<String> {
    let length = tag.chars().count();
    if length == 0 {
        return Some("it is empty".to_owned());
    }
    if length > MAX_TAG_LEN {
        return Some(format!(
            "it is {length} characters long, more than {MAX_TAG_LEN}"
        ));
    }
    if let Some(c) = tag.chars().find(|&c| !is_tag_char(c)) {
        return Some(format!("it contains `{c}`"));
    }
    if tag.starts_with(['.', '-']) {
        return Some("it starts with `.` or `-`".to_owned());
    }
    None
}

/// The entries of a spec: comment lines dropped, split on newlines and commas, trimmed, empty
/// entries dropped.
fn spec_entries(spec: &str) -> Vec<&str> {
    spec.lines()
        .map(str::trim)
        .filter(|line| !line.starts_with('#'))
        .flat_map(|line| line.split(','))
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .collect()
}

/// The tags of one entry: none when a placeholder is not available in this run.
fn expand_entry(entry: &str, facts: &Facts, values: &Values) -> Result<Vec<String>, TagError> {
    let segments = parse_template(entry)?;
    if segments.contains(&Segment::Placeholder(Placeholder::Auto)) {
        if segments.len() != 1 {
            return Err(TagError::AutoNotAlone {
                entry: entry.to_owned(),
            });
        }
        return Ok(automatic(facts));
    }
    let uses_minor = segments.contains(&Segment::Placeholder(Placeholder::Minor));
    let mut rendered = String::new();
    for segment in &segments {
        match segment {
            Segment::Text(text) => rendered.push_str(text),
            Segment::Placeholder(placeholder) => match values.get(*placeholder, uses_minor) {
                Some(value) => rendered.push_str(&value),
                None => return Ok(Vec::new()),
            },
        }
    }
    match tag_problem(&rendered) {
        None => Ok(vec![rendered]),
        Some(problem) => Err(TagError::InvalidTag {
            entry: entry.to_owned(),
            rendered,
            problem,
        }),
    }
}

/// A placeholder of a tag template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placeholder {
    Auto,
    Version,
    Major,
    Minor,
    Patch,
    Branch,
    Pr,
    Sha,
    ShaLong,
    Ref,
}

impl Placeholder {
    const ALL: [Placeholder; 10] = [
        Placeholder::Auto,
        Placeholder::Version,
        Placeholder::Major,
        Placeholder::Minor,
        Placeholder::Patch,
        Placeholder::Branch,
        Placeholder::Pr,
        Placeholder::Sha,
        Placeholder::ShaLong,
        Placeholder::Ref,
    ];

    fn name(self) -> &'static str {
        match self {
            Placeholder::Auto => "auto",
            Placeholder::Version => "version",
            Placeholder::Major => "major",
            Placeholder::Minor => "minor",
            Placeholder::Patch => "patch",
            Placeholder::Branch => "branch",
            Placeholder::Pr => "pr",
            Placeholder::Sha => "sha",
            Placeholder::ShaLong => "sha_long",
            Placeholder::Ref => "ref",
        }
    }

    fn from_name(name: &str) -> Option<Placeholder> {
        Placeholder::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// `{{auto}}, {{version}}, …`, for error messages.
fn known_placeholders() -> String {
    Placeholder::ALL
        .iter()
        .map(|p| format!("{{{{{}}}}}", p.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment<'a> {
    Text(&'a str),
    Placeholder(Placeholder),
}

/// Splits an entry into literal text and `{{name}}` placeholders.
fn parse_template(entry: &str) -> Result<Vec<Segment<'_>>, TagError> {
    let unbalanced = |found: &str| TagError::UnbalancedBraces {
        entry: entry.to_owned(),
        found: found.to_owned(),
    };
    let mut segments = Vec::new();
    let mut rest = entry;
    while !rest.is_empty() {
        let Some(brace) = rest.find(['{', '}']) else {
            segments.push(Segment::Text(rest));
            break;
        };
        if brace > 0 {
            segments.push(Segment::Text(&rest[..brace]));
        }
        rest = &rest[brace..];
        let Some(after_open) = rest.strip_prefix("{{") else {
            // A `}`, or a single `{`.
            return Err(unbalanced(&rest[..1]));
        };
        let Some(close) = after_open.find("}}") else {
            return Err(unbalanced("{{"));
        };
        let inner = &after_open[..close];
        if let Some(stray) = inner.find(['{', '}']) {
            return Err(unbalanced(&inner[stray..=stray]));
        }
        let placeholder =
            Placeholder::from_name(inner.trim()).ok_or_else(|| TagError::UnknownPlaceholder {
                entry: entry.to_owned(),
                placeholder: format!("{{{{{inner}}}}}"),
            })?;
        segments.push(Segment::Placeholder(placeholder));
        rest = &after_open[close + 2..];
    }
    Ok(segments)
}

/// The numbers of a semver release (no pre-release part).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Release {
    major: u64,
    minor: u64,
    patch: u64,
}

/// Everything placeholders and automatic tags are made of, computed once per run. `None` means
/// not available in this run.
#[derive(Debug, Default)]
struct Values {
    /// The full version (`1.2.3-rc.1`) of a semver tag, or the sanitized name of another tag.
    version: Option<String>,
    release: Option<Release>,
    branch: Option<String>,
    is_default_branch: bool,
    pr: Option<u64>,
    sha_short: Option<String>,
    sha_long: Option<String>,
    ref_name: Option<String>,
}

impl Values {
    fn from_facts(facts: &Facts) -> Values {
        let sha_long = facts
            .sha
            .as_deref()
            .map(str::trim)
            .filter(|sha| !sha.is_empty() && sha.chars().all(|c| c.is_ascii_hexdigit()))
            .map(str::to_ascii_lowercase);
        let sha_short = sha_long
            .as_deref()
            .map(|sha| sha[..sha.len().min(SHORT_SHA_LEN)].to_owned());
        let base = Values {
            sha_short,
            sha_long,
            ..Values::default()
        };
        match &facts.git_ref {
            GitRef::Tag(name) => {
                let semver = SemVer::parse(name);
                Values {
                    version: Some(match &semver {
                        Some(semver) => sanitize(&semver.full),
                        None => sanitize(name),
                    }),
                    release: semver.and_then(|semver| semver.release),
                    ref_name: Some(sanitize(name)),
                    ..base
                }
            }
            GitRef::Branch(name) => Values {
                branch: Some(sanitize(name)),
                is_default_branch: !name.is_empty()
                    && facts.default_branch.as_deref() == Some(name.as_str()),
                ref_name: Some(sanitize(name)),
                ..base
            },
            GitRef::PullRequest { number, .. } => Values {
                pr: Some(*number),
                ref_name: Some(format!("pr-{number}")),
                ..base
            },
            GitRef::Other => base,
        }
    }

    /// The value of `placeholder`; `uses_minor` says whether the entry also has `{{minor}}`,
    /// which makes `{{major}}` available for major version 0.
    fn get(&self, placeholder: Placeholder, uses_minor: bool) -> Option<String> {
        let release = self.release;
        match placeholder {
            Placeholder::Auto => None,
            Placeholder::Version => self.version.clone(),
            Placeholder::Major => release
                .filter(|release| release.major > 0 || uses_minor)
                .map(|release| release.major.to_string()),
            Placeholder::Minor => release.map(|release| release.minor.to_string()),
            Placeholder::Patch => release.map(|release| release.patch.to_string()),
            Placeholder::Branch => self.branch.clone(),
            Placeholder::Pr => self.pr.map(|pr| pr.to_string()),
            Placeholder::Sha => self.sha_short.clone(),
            Placeholder::ShaLong => self.sha_long.clone(),
            Placeholder::Ref => self.ref_name.clone(),
        }
    }
}

/// A Semantic Versioning 2.0 version, optionally written with a leading `v`.
#[derive(Debug)]
struct SemVer {
    /// The version without `v`, pre-release and build metadata included (`1.2.3-rc.1+b.7`).
    full: String,
    /// The numbers, unless this is a pre-release.
    release: Option<Release>,
}

impl SemVer {
    fn parse(text: &str) -> Option<SemVer> {
        let full = text.strip_prefix('v').unwrap_or(text);
        let (rest, build) = match full.split_once('+') {
            Some((rest, build)) => (rest, Some(build)),
            None => (full, None),
        };
        let (core, pre) = match rest.split_once('-') {
            Some((core, pre)) => (core, Some(pre)),
            None => (rest, None),
        };
        let mut numbers = core.split('.');
        let major = numeric_identifier(numbers.next()?)?;
        let minor = numeric_identifier(numbers.next()?)?;
        let patch = numeric_identifier(numbers.next()?)?;
        if numbers.next().is_some() {
            return None;
        }
        if let Some(pre) = pre
            && !pre.split('.').all(is_prerelease_identifier)
        {
            return None;
        }
        if let Some(build) = build
            && !build.split('.').all(is_build_identifier)
        {
            return None;
        }
        Some(SemVer {
            full: full.to_owned(),
            release: pre.is_none().then_some(Release {
                major,
                minor,
                patch,
            }),
        })
    }
}

/// A number without leading zeros.
fn numeric_identifier(text: &str) -> Option<u64> {
    let digits = !text.is_empty() && text.chars().all(|c| c.is_ascii_digit());
    if !digits || (text.len() > 1 && text.starts_with('0')) {
        return None;
    }
    text.parse().ok()
}

fn is_prerelease_identifier(text: &str) -> bool {
    let numeric = !text.is_empty() && text.chars().all(|c| c.is_ascii_digit());
    is_build_identifier(text) && !(numeric && text.len() > 1 && text.starts_with('0'))
}

fn is_build_identifier(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "4f2a9c1e8b7d6a5f3e2d1c0b9a8f7e6d5c4b3a29";

    fn facts(git_ref: GitRef) -> Facts {
        Facts {
            git_ref,
            sha: Some(SHA.to_owned()),
            default_branch: Some("main".to_owned()),
            ..Facts::default()
        }
    }

    fn tag(name: &str) -> Facts {
        facts(GitRef::Tag(name.to_owned()))
    }

    fn branch(name: &str) -> Facts {
        facts(GitRef::Branch(name.to_owned()))
    }

    fn pr(number: u64) -> Facts {
        facts(GitRef::PullRequest {
            number,
            head_branch: Some("main".to_owned()),
        })
    }

    fn no_sha(mut facts: Facts) -> Facts {
        facts.sha = None;
        facts
    }

    fn with_sha(sha: &str) -> Facts {
        Facts {
            sha: Some(sha.to_owned()),
            ..Facts::default()
        }
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn automatic_tags_for_git_tags() {
        let cases: [(&str, &[&str]); 16] = [
            ("v1.2.3", &["1.2.3", "1.2", "1"]),
            ("1.2.3", &["1.2.3", "1.2", "1"]),
            ("v10.20.30", &["10.20.30", "10.20", "10"]),
            ("v1.2.3-rc.1", &["1.2.3-rc.1"]),
            ("v2.0.0-alpha-2.x", &["2.0.0-alpha-2.x"]),
            ("v1.2.3+build.7", &["1.2.3-build.7", "1.2", "1"]),
            ("v1.2.3-rc.1+b.7", &["1.2.3-rc.1-b.7"]),
            ("v0.4.1", &["0.4.1", "0.4"]),
            ("0.0.0", &["0.0.0", "0.0"]),
            // Not semver: the sanitized tag name.
            ("release-2024", &["release-2024"]),
            ("release/2024", &["release-2024"]),
            ("v1.2", &["v1.2"]),
            ("v01.2.3", &["v01.2.3"]),
            ("v1.2.3-rc.01", &["v1.2.3-rc.01"]),
            ("v1.2.3-", &["v1.2.3-"]),
            ("V1.2.3", &["V1.2.3"]),
        ];
        for (name, expected) in cases {
            let facts = Facts {
                git_ref: GitRef::Tag(name.to_owned()),
                ..Facts::default()
            };
            assert_eq!(automatic(&facts), strings(expected), "tag {name:?}");
        }
    }

    #[test]
    fn automatic_tags_for_branches() {
        let cases: [(&str, Option<&str>, &[&str]); 7] = [
            ("main", Some("main"), &["main", "latest"]),
            ("develop", Some("main"), &["develop"]),
            ("main", None, &["main"]),
            ("Feature/Login-Form", Some("main"), &["Feature-Login-Form"]),
            ("release/v2", Some("release/v2"), &["release-v2", "latest"]),
            ("latest", Some("latest"), &["latest"]),
            ("", Some(""), &[]),
        ];
        for (name, default_branch, expected) in cases {
            let facts = Facts {
                git_ref: GitRef::Branch(name.to_owned()),
                default_branch: default_branch.map(str::to_owned),
                ..Facts::default()
            };
            assert_eq!(automatic(&facts), strings(expected), "branch {name:?}");
        }
    }

    #[test]
    fn automatic_tags_for_pull_requests_other_runs_and_commits() {
        let cases: [(Facts, &[&str]); 9] = [
            (tag("v1.2.3"), &["1.2.3", "1.2", "1", "sha-4f2a9c1"]),
            (branch("main"), &["main", "latest", "sha-4f2a9c1"]),
            (pr(42), &["pr-42", "sha-4f2a9c1"]),
            (no_sha(pr(42)), &["pr-42"]),
            (facts(GitRef::Other), &["sha-4f2a9c1"]),
            (Facts::default(), &[]),
            (with_sha(&SHA.to_uppercase()), &["sha-4f2a9c1"]),
            (with_sha("4f2a"), &["sha-4f2a"]),
            (with_sha("not-a-sha"), &[]),
        ];
        for (facts, expected) in cases {
            assert_eq!(automatic(&facts), strings(expected), "{facts:?}");
        }
    }

    #[test]
    fn sanitize_names() {
        let long = "a".repeat(200);
        let cases: Vec<(&str, String)> = vec![
            ("main", "main".into()),
            ("feature/x", "feature-x".into()),
            ("Feature/Login", "Feature-Login".into()),
            ("a//b", "a-b".into()),
            ("a b", "a-b".into()),
            ("naïve", "na-ve".into()),
            ("v1.2.3+meta", "v1.2.3-meta".into()),
            ("-x", "_x".into()),
            (".x", "_x".into()),
            ("/x", "_x".into()),
            ("ü", "_".into()),
            ("x_y.z-w", "x_y.z-w".into()),
            (&long, "a".repeat(128)),
            ("", String::new()),
        ];
        for (input, expected) in cases {
            let output = sanitize(input);
            assert_eq!(output, expected, "sanitize({input:?})");
            assert_eq!(
                is_valid_tag(&output),
                !input.is_empty(),
                "sanitize({input:?}) valid"
            );
        }
    }

    #[test]
    fn valid_tags() {
        let max = "a".repeat(128);
        let too_long = "a".repeat(129);
        let cases: Vec<(&str, bool)> = vec![
            ("a", true),
            ("_a", true),
            ("0", true),
            ("A.b_c-D", true),
            (&max, true),
            ("", false),
            (&too_long, false),
            (".a", false),
            ("-a", false),
            ("a b", false),
            ("a+b", false),
            ("a/b", false),
            ("é", false),
        ];
        for (input, expected) in cases {
            assert_eq!(is_valid_tag(input), expected, "is_valid_tag({input:?})");
        }
    }

    #[test]
    fn empty_specs_mean_automatic() {
        for spec in ["", "  \n\t ", "# only a comment\n  # another", " , ,\n,"] {
            assert_eq!(
                expand(spec, &tag("v1.2.3")),
                Ok(strings(&["1.2.3", "1.2", "1", "sha-4f2a9c1"])),
                "{spec:?}"
            );
        }
    }

    #[test]
    fn spec_syntax() {
        let cases: Vec<(&str, Vec<&str>)> = vec![
            ("latest", vec!["latest"]),
            ("a,b", vec!["a", "b"]),
            ("a\nb", vec!["a", "b"]),
            ("a, b\n c ,d\r\n\ne", vec!["a", "b", "c", "d", "e"]),
            ("# heading\na\n  # indented comment\nb", vec!["a", "b"]),
            ("a,,b,", vec!["a", "b"]),
            ("a, a\nb, a", vec!["a", "b"]),
            (
                "stable, {{auto}}",
                vec!["stable", "main", "latest", "sha-4f2a9c1"],
            ),
            (
                "{{auto}}\nlatest\nedge",
                vec!["main", "latest", "sha-4f2a9c1", "edge"],
            ),
            ("{{ auto }}", vec!["main", "latest", "sha-4f2a9c1"]),
            ("{{ branch }}-{{sha}}", vec!["main-4f2a9c1"]),
        ];
        for (spec, expected) in cases {
            assert_eq!(
                expand(spec, &branch("main")),
                Ok(strings(&expected)),
                "{spec:?}"
            );
        }
    }

    #[test]
    fn module_doc_example() {
        let spec = "# moving tags for releases, plus everything automatic\n{{auto}}\nv{{major}}.{{minor}}, stable";
        assert_eq!(
            expand(spec, &tag("v1.2.3")),
            Ok(strings(&[
                "1.2.3",
                "1.2",
                "1",
                "sha-4f2a9c1",
                "v1.2",
                "stable"
            ]))
        );
        assert_eq!(
            expand(spec, &branch("main")),
            Ok(strings(&["main", "latest", "sha-4f2a9c1", "stable"]))
        );
    }

    #[test]
    fn placeholders() {
        let cases: Vec<(&str, Facts, Vec<&str>)> = vec![
            ("{{version}}", tag("v1.2.3"), vec!["1.2.3"]),
            ("{{version}}", tag("v1.2.3-rc.1"), vec!["1.2.3-rc.1"]),
            ("{{version}}", tag("v1.2.3+b.7"), vec!["1.2.3-b.7"]),
            ("{{version}}", tag("release/2024"), vec!["release-2024"]),
            ("{{version}}", branch("main"), vec![]),
            ("{{major}}", tag("v1.2.3"), vec!["1"]),
            ("{{major}}", tag("v1.2.3+b.7"), vec!["1"]),
            ("{{major}}", tag("v0.4.1"), vec![]),
            ("v{{major}}", tag("v0.4.1"), vec![]),
            ("{{major}}", tag("v1.2.3-rc.1"), vec![]),
            ("{{major}}", tag("release-2024"), vec![]),
            ("{{major}}", branch("main"), vec![]),
            ("{{major}}.{{minor}}", tag("v1.2.3"), vec!["1.2"]),
            ("{{major}}.{{minor}}", tag("v0.4.1"), vec!["0.4"]),
            ("{{major}}.{{minor}}", tag("v1.2.3-rc.1"), vec![]),
            ("{{major}}.{{minor}}", branch("main"), vec![]),
            ("{{minor}}", tag("v1.2.3"), vec!["2"]),
            ("{{minor}}", tag("v0.4.1"), vec!["4"]),
            ("{{patch}}", tag("v1.2.3"), vec!["3"]),
            (
                "{{major}}.{{minor}}.{{patch}}",
                tag("v1.2.3"),
                vec!["1.2.3"],
            ),
            ("{{patch}}", tag("v1.2.3-rc.1"), vec![]),
            ("{{branch}}", branch("Feature/X"), vec!["Feature-X"]),
            ("{{branch}}", tag("v1.2.3"), vec![]),
            ("{{branch}}", pr(7), vec![]),
            ("{{pr}}", pr(7), vec!["7"]),
            ("pr-{{pr}}-{{sha}}", pr(7), vec!["pr-7-4f2a9c1"]),
            ("{{pr}}", branch("main"), vec![]),
            ("{{sha}}", branch("main"), vec!["4f2a9c1"]),
            ("{{sha}}", no_sha(branch("main")), vec![]),
            ("{{sha_long}}", branch("main"), vec![SHA]),
            ("{{sha_long}}", no_sha(branch("main")), vec![]),
            ("{{ref}}", branch("feature/x"), vec!["feature-x"]),
            ("{{ref}}", tag("v1.2.3"), vec!["v1.2.3"]),
            ("{{ref}}", pr(7), vec!["pr-7"]),
            ("{{ref}}", facts(GitRef::Other), vec![]),
            ("{{auto}}", facts(GitRef::Other), vec!["sha-4f2a9c1"]),
            ("{{auto}}", no_sha(facts(GitRef::Other)), vec![]),
            (
                "{{version}}\n{{major}}.{{minor}}\n{{major}}\n{{branch}}\npr-{{pr}}\nsha-{{sha}}",
                tag("v1.2.3"),
                vec!["1.2.3", "1.2", "1", "sha-4f2a9c1"],
            ),
            (
                "{{version}}\n{{major}}.{{minor}}\n{{major}}\n{{branch}}\npr-{{pr}}\nsha-{{sha}}",
                pr(9),
                vec!["pr-9", "sha-4f2a9c1"],
            ),
        ];
        for (spec, facts, expected) in cases {
            assert_eq!(
                expand(spec, &facts),
                Ok(strings(&expected)),
                "{spec:?} for {:?}",
                facts.git_ref
            );
        }
    }

    #[test]
    fn spec_errors() {
        let long = "a".repeat(200);
        let unknown = |entry: &str, placeholder: &str| TagError::UnknownPlaceholder {
            entry: entry.into(),
            placeholder: placeholder.into(),
        };
        let unbalanced = |entry: &str, found: &str| TagError::UnbalancedBraces {
            entry: entry.into(),
            found: found.into(),
        };
        let invalid = |entry: &str, rendered: &str, problem: &str| TagError::InvalidTag {
            entry: entry.into(),
            rendered: rendered.into(),
            problem: problem.into(),
        };
        let cases: Vec<(&str, Facts, TagError)> = vec![
            ("ok, {{foo}}", branch("main"), unknown("{{foo}}", "{{foo}}")),
            (
                "v{{ Version }}",
                tag("v1.2.3"),
                unknown("v{{ Version }}", "{{ Version }}"),
            ),
            ("{{}}", branch("main"), unknown("{{}}", "{{}}")),
            // An unknown placeholder is an error even where known ones would be skipped.
            (
                "{{pr}}-{{nope}}",
                branch("main"),
                unknown("{{pr}}-{{nope}}", "{{nope}}"),
            ),
            ("{{version", tag("v1.2.3"), unbalanced("{{version", "{{")),
            ("version}}", tag("v1.2.3"), unbalanced("version}}", "}")),
            ("{version}", tag("v1.2.3"), unbalanced("{version}", "{")),
            (
                "{{{version}}}",
                tag("v1.2.3"),
                unbalanced("{{{version}}}", "{"),
            ),
            (
                "{{auto}}-x",
                branch("main"),
                TagError::AutoNotAlone {
                    entry: "{{auto}}-x".into(),
                },
            ),
            (
                "{{auto}}{{auto}}",
                branch("main"),
                TagError::AutoNotAlone {
                    entry: "{{auto}}{{auto}}".into(),
                },
            ),
            (
                "a b",
                branch("main"),
                invalid("a b", "a b", "it contains ` `"),
            ),
            (
                &long,
                branch("main"),
                invalid(&long, &long, "it is 200 characters long, more than 128"),
            ),
            (
                "-{{sha}}",
                branch("main"),
                invalid("-{{sha}}", "-4f2a9c1", "it starts with `.` or `-`"),
            ),
            (
                "v1+{{sha}}",
                branch("main"),
                invalid("v1+{{sha}}", "v1+4f2a9c1", "it contains `+`"),
            ),
            (
                "{{branch}}",
                branch(""),
                invalid("{{branch}}", "", "it is empty"),
            ),
        ];
        for (spec, facts, expected) in cases {
            assert_eq!(expand(spec, &facts), Err(expected), "{spec:?}");
        }
    }

    #[test]
    fn error_messages_name_the_entry_and_the_fix() {
        let known = "{{auto}}, {{version}}, {{major}}, {{minor}}, {{patch}}, {{branch}}, {{pr}}, {{sha}}, {{sha_long}}, {{ref}}";
        let message = |spec: &str| match expand(spec, &branch("main")) {
            Err(error) => error.to_string(),
            Ok(tags) => panic!("{spec:?} expanded to {tags:?}"),
        };
        assert_eq!(
            message("{{foo}}"),
            format!(
                "tag entry `{{{{foo}}}}` uses the unknown placeholder `{{{{foo}}}}`; expected one of {known}; fix the spelling or write the entry as a literal"
            )
        );
        assert_eq!(
            message("x-{{sha"),
            format!(
                "tag entry `x-{{{{sha` has an unmatched `{{{{`; placeholders are written with double braces, as in {known}"
            )
        );
        assert_eq!(
            message("{{auto}}-x"),
            "tag entry `{{auto}}-x` combines `{{auto}}` with other text; `{{auto}}` stands for a whole list of tags, so put it in an entry of its own"
        );
        assert_eq!(
            message("a b"),
            "tag entry `a b` renders to `a b`, which is not a valid tag: it contains ` `; a tag is 1 to 128 characters from A-Z a-z 0-9 _ . - and does not start with . or -; change the entry to fit"
        );
    }

    fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(key, value)| {
                (
                    format!("org.opencontainers.image.{key}"),
                    (*value).to_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn annotations_from_all_facts() {
        let facts = Facts {
            repository_url: Some("https://github.com/org/app".into()),
            title: Some("app".into()),
            description: Some("An app".into()),
            licenses: Some("Apache-2.0 OR MIT".into()),
            created: Some("2025-01-02T03:04:05Z".into()),
            ..tag("v1.2.3")
        };
        let tags = automatic(&facts);
        assert_eq!(
            oci_annotations(&facts, &tags),
            annotations(&[
                ("created", "2025-01-02T03:04:05Z"),
                ("description", "An app"),
                ("licenses", "Apache-2.0 OR MIT"),
                ("revision", SHA),
                ("source", "https://github.com/org/app"),
                ("title", "app"),
                ("url", "https://github.com/org/app"),
                ("version", "1.2.3"),
            ])
        );
    }

    #[test]
    fn annotation_version() {
        let cases: Vec<(Vec<&str>, Option<&str>)> = vec![
            (vec!["latest", "sha-4f2a9c1", "main"], Some("main")),
            (vec!["sha-4f2a9c1", "1.2.3", "1.2"], Some("1.2.3")),
            (vec!["latest", "sha-4f2a9c1"], Some("latest")),
            (vec!["sha-4f2a9c1", "latest"], Some("sha-4f2a9c1")),
            (vec![], None),
        ];
        let facts = Facts::default();
        for (tags, expected) in cases {
            let expected = match expected {
                Some(version) => annotations(&[("version", version)]),
                None => BTreeMap::new(),
            };
            assert_eq!(
                oci_annotations(&facts, &strings(&tags)),
                expected,
                "{tags:?}"
            );
        }
    }

    #[test]
    fn annotations_leave_out_unknown_and_empty_values() {
        let facts = Facts {
            sha: Some(SHA.into()),
            repository_url: Some(String::new()),
            title: Some("  ".into()),
            description: None,
            ..Facts::default()
        };
        assert_eq!(
            oci_annotations(&facts, &[]),
            annotations(&[("revision", SHA)])
        );
    }

    #[test]
    fn facts_default_to_other() {
        assert_eq!(Facts::default().git_ref, GitRef::Other);
    }
}
