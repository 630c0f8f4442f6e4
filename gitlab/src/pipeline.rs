//! GitLab's predefined variables: what the pipeline is about (for tags and annotations) and the
//! job's registry login.

use std::path::PathBuf;

use anyhow::Result;
use multiarch_core::auth::{Credential, ExplicitCredentials, Secret};
use multiarch_core::tags::{Facts, GitRef};

use crate::usage;

/// What a job knows about its pipeline.
#[derive(Debug, Clone, Default)]
pub struct Pipeline {
    /// `CI_COMMIT_TAG`: set in tag pipelines.
    pub commit_tag: Option<String>,
    /// `CI_MERGE_REQUEST_IID`: set in merge request pipelines.
    pub merge_request: Option<u64>,
    /// `CI_MERGE_REQUEST_SOURCE_BRANCH_NAME`.
    pub source_branch: Option<String>,
    /// `CI_COMMIT_BRANCH`: set in branch pipelines (not in merge request or tag pipelines).
    pub commit_branch: Option<String>,
    /// `CI_COMMIT_REF_SLUG`.
    pub ref_slug: Option<String>,
    /// `CI_DEFAULT_BRANCH`.
    pub default_branch: Option<String>,
    /// `CI_COMMIT_SHA`.
    pub sha: Option<String>,
    /// `CI_COMMIT_SHORT_SHA` (8 hex digits on GitLab).
    pub short_sha: Option<String>,
    /// `CI_PROJECT_URL`.
    pub project_url: Option<String>,
    /// `CI_PROJECT_TITLE`, else `CI_PROJECT_NAME`.
    pub project_title: Option<String>,
    /// `CI_PROJECT_DESCRIPTION`.
    pub project_description: Option<String>,
    /// `SOURCE_DATE_EPOCH`.
    pub source_date_epoch: Option<String>,
    /// `CI_COMMIT_TIMESTAMP` (RFC 3339).
    pub commit_timestamp: Option<String>,
    /// `CI_REGISTRY`, `CI_REGISTRY_USER` and `CI_REGISTRY_PASSWORD`, when all are set.
    pub registry_login: Option<ExplicitCredentials>,
    /// `CI_SERVER_TLS_CA_FILE`: the CA of a self-managed instance, when the runner provides it.
    pub server_ca_file: Option<PathBuf>,
}

fn var(get: &impl Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    get(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

impl Pipeline {
    /// Reads the predefined variables through `get` (name → value).
    pub fn read(get: impl Fn(&str) -> Option<String>) -> Result<Pipeline> {
        let merge_request = var(&get, "CI_MERGE_REQUEST_IID")
            .map(|iid| {
                iid.parse::<u64>().map_err(|_| {
                    usage(format!(
                        "CI_MERGE_REQUEST_IID: expected the merge request's number, found {iid:?}"
                    ))
                })
            })
            .transpose()?;
        let registry_login = match (
            var(&get, "CI_REGISTRY"),
            var(&get, "CI_REGISTRY_USER"),
            // The password as given: no trimming of a secret.
            get("CI_REGISTRY_PASSWORD").filter(|p| !p.is_empty()),
        ) {
            (Some(registry), Some(username), Some(password)) => Some(ExplicitCredentials {
                registry: registry.to_ascii_lowercase(),
                credential: Credential {
                    username,
                    password: Secret::new(password),
                },
            }),
            _ => None,
        };
        Ok(Pipeline {
            commit_tag: var(&get, "CI_COMMIT_TAG"),
            merge_request,
            source_branch: var(&get, "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME"),
            commit_branch: var(&get, "CI_COMMIT_BRANCH"),
            ref_slug: var(&get, "CI_COMMIT_REF_SLUG"),
            default_branch: var(&get, "CI_DEFAULT_BRANCH"),
            sha: var(&get, "CI_COMMIT_SHA"),
            short_sha: var(&get, "CI_COMMIT_SHORT_SHA"),
            project_url: var(&get, "CI_PROJECT_URL"),
            project_title: var(&get, "CI_PROJECT_TITLE").or_else(|| var(&get, "CI_PROJECT_NAME")),
            project_description: var(&get, "CI_PROJECT_DESCRIPTION"),
            source_date_epoch: var(&get, "SOURCE_DATE_EPOCH"),
            commit_timestamp: var(&get, "CI_COMMIT_TIMESTAMP"),
            registry_login,
            server_ca_file: var(&get, "CI_SERVER_TLS_CA_FILE").map(PathBuf::from),
        })
    }

    /// The facts the core's tag and annotation rules work from.
    ///
    /// The branch tag is GitLab's `CI_COMMIT_REF_SLUG` (lowercase, at most 63 characters), and
    /// `latest` comes out exactly when `CI_COMMIT_BRANCH` is `CI_DEFAULT_BRANCH`. Merge request
    /// pipelines get the core's `pr-<iid>`.
    pub fn facts(&self, now: i64) -> Facts {
        let mut default_branch = None;
        let git_ref = if let Some(tag) = &self.commit_tag {
            GitRef::Tag(tag.clone())
        } else if let Some(number) = self.merge_request {
            GitRef::PullRequest {
                number,
                head_branch: self.source_branch.clone(),
            }
        } else if let Some(branch) = &self.commit_branch {
            let slug = self.ref_slug.clone().unwrap_or_else(|| slug(branch));
            // The core makes `latest` when the branch equals the default branch: compare the
            // names here, where both are known, and hand it the slug on both sides.
            if self.default_branch.as_deref() == Some(branch.as_str()) {
                default_branch = Some(slug.clone());
            }
            GitRef::Branch(slug)
        } else {
            GitRef::Other
        };
        Facts {
            git_ref,
            sha: self.sha.clone(),
            default_branch,
            repository_url: self.project_url.clone(),
            title: self.project_title.clone(),
            description: self.project_description.clone(),
            licenses: None,
            created: Some(self.created(now)),
            // GitLab's own commit tag, as its documentation tags images.
            commit_tag: self.short_sha.clone(),
        }
    }

    /// When the image was made, for `org.opencontainers.image.created`: `SOURCE_DATE_EPOCH`,
    /// else `CI_COMMIT_TIMESTAMP`, else `now` (seconds since the epoch); RFC 3339 in UTC.
    pub fn created(&self, now: i64) -> String {
        if let Some(epoch) = self
            .source_date_epoch
            .as_deref()
            .and_then(|v| v.parse::<i64>().ok())
        {
            return rfc3339(epoch);
        }
        if let Some(time) = self
            .commit_timestamp
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        {
            return rfc3339(time.timestamp());
        }
        rfc3339(now)
    }
}

/// Seconds since the epoch, now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

fn rfc3339(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// GitLab's `CI_COMMIT_REF_SLUG` of a branch name, for jobs that lack the variable: lowercased,
/// cut to 63 bytes, everything but `0-9` and `a-z` replaced with `-`, no leading or trailing `-`.
pub fn slug(name: &str) -> String {
    let lower = name.to_lowercase();
    let mut cut = lower.as_str();
    if cut.len() > 63 {
        let mut end = 63;
        while !cut.is_char_boundary(end) {
            end -= 1;
        }
        cut = &cut[..end];
    }
    cut.chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '-'
            }
        })
        .collect::<String>()
        .trim_matches('-')
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use multiarch_core::tags;
    use std::collections::BTreeMap;

    const SHA: &str = "4f2a9c1d0e5b6a7f8091a2b3c4d5e6f708192a3b";

    fn pipeline(pairs: &[(&str, &str)]) -> Pipeline {
        let mut map: BTreeMap<String, String> = [
            ("CI_COMMIT_SHA", SHA),
            ("CI_COMMIT_SHORT_SHA", &SHA[..8]),
            ("CI_DEFAULT_BRANCH", "main"),
            ("CI_PROJECT_URL", "https://gitlab.example.com/group/app"),
            ("CI_PROJECT_NAME", "app"),
            ("CI_COMMIT_TIMESTAMP", "2026-03-01T12:30:00+01:00"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        for (k, v) in pairs {
            map.insert((*k).to_owned(), (*v).to_owned());
        }
        Pipeline::read(|name| map.get(name).cloned()).unwrap()
    }

    fn auto(pairs: &[(&str, &str)]) -> Vec<String> {
        tags::automatic(&pipeline(pairs).facts(0))
    }

    #[test]
    fn a_semver_tag_pipeline() {
        assert_eq!(
            auto(&[
                ("CI_COMMIT_TAG", "v1.2.3"),
                ("CI_COMMIT_REF_SLUG", "v1-2-3")
            ]),
            ["1.2.3", "1.2", "1", "4f2a9c1d"]
        );
    }

    #[test]
    fn the_default_branch_gets_its_slug_and_latest() {
        assert_eq!(
            auto(&[("CI_COMMIT_BRANCH", "main"), ("CI_COMMIT_REF_SLUG", "main")]),
            ["main", "latest", "4f2a9c1d"]
        );
    }

    #[test]
    fn other_branches_get_their_slug_and_never_latest() {
        assert_eq!(
            auto(&[
                ("CI_COMMIT_BRANCH", "Feature/Login_Page"),
                ("CI_COMMIT_REF_SLUG", "feature-login-page"),
            ]),
            ["feature-login-page", "4f2a9c1d"]
        );
        // A branch whose slug is the default branch's name is still not the default branch.
        assert_eq!(
            auto(&[("CI_COMMIT_BRANCH", "Main"), ("CI_COMMIT_REF_SLUG", "main")]),
            ["main", "4f2a9c1d"]
        );
        // Without CI_COMMIT_REF_SLUG (a local run), the slug is computed the same way.
        assert_eq!(
            auto(&[("CI_COMMIT_BRANCH", "Feature/Login_Page")]),
            ["feature-login-page", "4f2a9c1d"]
        );
    }

    #[test]
    fn the_commit_tag_is_gitlabs_short_sha() {
        let p = pipeline(&[("CI_COMMIT_BRANCH", "main"), ("CI_DEFAULT_BRANCH", "main")]);
        let facts = p.facts(0);
        assert_eq!(tags::automatic(&facts), ["main", "latest", &SHA[..8]]);
        assert_eq!(
            tags::expand("{{auto}}, edge", &facts).unwrap(),
            ["main", "latest", &SHA[..8], "edge"]
        );
        // Templates keep their meaning.
        assert_eq!(
            tags::expand("sha-{{sha}}", &facts).unwrap(),
            [format!("sha-{}", &SHA[..7])]
        );
    }

    #[test]
    fn a_merge_request_pipeline() {
        let facts = pipeline(&[
            ("CI_MERGE_REQUEST_IID", "42"),
            ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "main"),
            ("CI_COMMIT_REF_SLUG", "main"),
        ])
        .facts(0);
        // The source branch never becomes a tag: a fork's `main` must not produce `main`.
        assert_eq!(tags::automatic(&facts), ["pr-42", "4f2a9c1d"]);
        assert_eq!(
            tags::expand("mr-{{pr}}", &facts).unwrap(),
            ["mr-42"],
            "GitLab's naming is one template away"
        );
    }

    #[test]
    fn a_tag_wins_over_everything_and_nothing_known_leaves_the_sha() {
        assert_eq!(
            auto(&[
                ("CI_COMMIT_TAG", "release/2024"),
                ("CI_COMMIT_BRANCH", "main")
            ]),
            ["release-2024", "4f2a9c1d"]
        );
        assert_eq!(auto(&[]), ["4f2a9c1d"]);
    }

    #[test]
    fn annotations_come_from_the_project() {
        let facts = pipeline(&[
            ("CI_COMMIT_TAG", "v1.2.3"),
            ("CI_PROJECT_TITLE", "My App"),
            ("CI_PROJECT_DESCRIPTION", "An app"),
        ])
        .facts(0);
        let annotations = tags::oci_annotations(&facts, &tags::automatic(&facts));
        let get = |key: &str| annotations[&format!("org.opencontainers.image.{key}")].clone();
        assert_eq!(get("source"), "https://gitlab.example.com/group/app");
        assert_eq!(get("revision"), SHA);
        assert_eq!(get("version"), "1.2.3");
        assert_eq!(get("title"), "My App");
        assert_eq!(get("description"), "An app");
        assert_eq!(get("created"), "2026-03-01T11:30:00Z");
        assert_eq!(
            pipeline(&[]).facts(0).title.as_deref(),
            Some("app"),
            "CI_PROJECT_NAME without a title"
        );
    }

    #[test]
    fn created_prefers_source_date_epoch_then_the_commit_then_now() {
        assert_eq!(
            pipeline(&[("SOURCE_DATE_EPOCH", "86400")]).created(5),
            "1970-01-02T00:00:00Z"
        );
        assert_eq!(pipeline(&[]).created(5), "2026-03-01T11:30:00Z");
        assert_eq!(
            pipeline(&[("CI_COMMIT_TIMESTAMP", "")]).created(86400),
            "1970-01-02T00:00:00Z"
        );
    }

    #[test]
    fn the_registry_login_needs_all_three_variables() {
        assert!(pipeline(&[]).registry_login.is_none());
        assert!(
            pipeline(&[
                ("CI_REGISTRY", "registry.example.com"),
                ("CI_REGISTRY_USER", "u")
            ])
            .registry_login
            .is_none()
        );
        let login = pipeline(&[
            ("CI_REGISTRY", "Registry.Example.com:5050"),
            ("CI_REGISTRY_USER", "gitlab-ci-token"),
            ("CI_REGISTRY_PASSWORD", "tok en"),
        ])
        .registry_login
        .unwrap();
        assert_eq!(login.registry, "registry.example.com:5050");
        assert_eq!(login.credential.username, "gitlab-ci-token");
        assert_eq!(login.credential.password.expose(), "tok en");
        assert!(!format!("{login:?}").contains("tok en"), "never printed");
    }

    #[test]
    fn bad_merge_request_iids_are_refused() {
        let error = Pipeline::read(|name| (name == "CI_MERGE_REQUEST_IID").then(|| "x".into()))
            .unwrap_err();
        assert!(format!("{error}").contains("CI_MERGE_REQUEST_IID"));
    }

    #[test]
    fn slugs_are_gitlabs() {
        assert_eq!(slug("Feature/Login_Page"), "feature-login-page");
        assert_eq!(slug("-x-"), "x");
        assert_eq!(slug(&"a".repeat(70)), "a".repeat(63));
        assert_eq!(slug("ünïcode"), "n-code");
    }
}
