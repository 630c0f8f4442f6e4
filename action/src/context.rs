//! The GitHub context: the runner's environment variables and the event payload, read once and
//! turned into the CI-agnostic facts the core's tag rules need.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use multiarch_core::platform::Platform;
use multiarch_core::tags::{Facts, GitRef};
use serde_json::Value;

/// What the action knows about the run it is part of.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// `ACT=true`: a local run under act, with no artifact service.
    pub act: bool,
    pub event_name: String,
    pub git_ref: String,
    pub sha: String,
    /// `owner/name`.
    pub repository: String,
    pub server_url: String,
    pub api_url: String,
    pub run_id: String,
    pub run_attempt: u32,
    pub workflow: String,
    pub actor: String,
    pub runner_arch: String,
    pub runner_temp: PathBuf,
    pub event: Value,
}

impl Context {
    pub fn from_env() -> Result<Context> {
        let var = |name: &str| std::env::var(name).unwrap_or_default();
        let event = match std::env::var_os("GITHUB_EVENT_PATH").filter(|p| !p.is_empty()) {
            Some(path) => {
                let bytes = std::fs::read(&path)
                    .with_context(|| format!("reading the event payload {}", path.display()))?;
                serde_json::from_slice(&bytes)
                    .with_context(|| format!("the event payload {} is not JSON", path.display()))?
            }
            None => Value::Null,
        };
        let runner_temp = std::env::var_os("RUNNER_TEMP")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        Ok(Context {
            act: var("ACT") == "true",
            event_name: var("GITHUB_EVENT_NAME"),
            git_ref: var("GITHUB_REF"),
            sha: var("GITHUB_SHA"),
            repository: var("GITHUB_REPOSITORY"),
            server_url: non_empty(var("GITHUB_SERVER_URL"), "https://github.com"),
            api_url: non_empty(var("GITHUB_API_URL"), "https://api.github.com"),
            run_id: non_empty(var("GITHUB_RUN_ID"), "0"),
            run_attempt: var("GITHUB_RUN_ATTEMPT").parse().unwrap_or(1),
            workflow: var("GITHUB_WORKFLOW"),
            actor: var("GITHUB_ACTOR"),
            runner_arch: var("RUNNER_ARCH"),
            runner_temp,
            event,
        })
    }

    /// The runner's own platform (`RUNNER_ARCH`), else the machine's.
    pub fn runner_platform(&self) -> Platform {
        match self.runner_arch.as_str() {
            "X64" => Platform::new("linux", "amd64", None),
            "ARM64" => Platform::new("linux", "arm64", None),
            "ARM" => Platform::new("linux", "arm", Some("v7")),
            "X86" => Platform::new("linux", "386", None),
            _ => Platform::host(),
        }
    }

    /// The pull request's number, for `pull_request` and `pull_request_target` events.
    pub fn pull_request(&self) -> Option<u64> {
        self.event
            .pointer("/pull_request/number")
            .and_then(Value::as_u64)
            .or_else(|| {
                self.git_ref
                    .strip_prefix("refs/pull/")
                    .and_then(|rest| rest.split('/').next())
                    .and_then(|n| n.parse().ok())
            })
    }

    /// The facts the tag and annotation rules work from.
    pub fn facts(&self, created: String) -> Facts {
        let git_ref = if let Some(number) = self.pull_request() {
            GitRef::PullRequest {
                number,
                head_branch: std::env::var("GITHUB_HEAD_REF")
                    .ok()
                    .filter(|b| !b.is_empty()),
            }
        } else if let Some(branch) = self.git_ref.strip_prefix("refs/heads/") {
            GitRef::Branch(branch.to_owned())
        } else if let Some(tag) = self.git_ref.strip_prefix("refs/tags/") {
            GitRef::Tag(tag.to_owned())
        } else {
            GitRef::Other
        };
        let repo = |pointer: &str| {
            self.event
                .pointer(pointer)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty() && *s != "NOASSERTION")
                .map(str::to_owned)
        };
        let repository_url = (!self.repository.is_empty()).then(|| {
            format!(
                "{}/{}",
                self.server_url.trim_end_matches('/'),
                self.repository
            )
        });
        Facts {
            git_ref,
            sha: (!self.sha.is_empty()).then(|| self.sha.clone()),
            default_branch: repo("/repository/default_branch"),
            repository_url,
            title: repo("/repository/name")
                .or_else(|| self.repository.rsplit('/').next().map(str::to_owned))
                .filter(|s| !s.is_empty()),
            description: repo("/repository/description"),
            licenses: repo("/repository/license/spdx_id"),
            created: Some(created),
            commit_tag: None,
        }
    }

    /// When the image was made, for `org.opencontainers.image.created`: `SOURCE_DATE_EPOCH`
    /// when set (reproducible builds), else the pushed commit's time (from the push event, or
    /// from the checkout in `GITHUB_WORKSPACE` for other events), else now.
    pub fn created(&self) -> String {
        if let Some(epoch) = std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .and_then(|v| v.trim().parse::<i64>().ok())
        {
            return rfc3339(epoch);
        }
        if let Some(time) = self
            .event
            .pointer("/head_commit/timestamp")
            .and_then(Value::as_str)
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        {
            return time
                .to_utc()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        }
        if let Some(seconds) = std::env::var_os("GITHUB_WORKSPACE")
            .filter(|w| !w.is_empty())
            .and_then(|workspace| commit_time(Path::new(&workspace)))
        {
            return rfc3339(seconds);
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        rfc3339(i64::try_from(now).unwrap_or(0))
    }
}

/// The commit time of `HEAD` in the checkout at `dir`, when it is a git checkout.
fn commit_time(dir: &Path) -> Option<i64> {
    let output = std::process::Command::new("git")
        .args(["log", "-1", "--format=%ct", "HEAD"])
        .current_dir(dir)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    String::from_utf8_lossy(&output.stdout).trim().parse().ok()
}

fn rfc3339(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn non_empty(value: String, default: &str) -> String {
    if value.is_empty() {
        default.to_owned()
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(git_ref: &str, event: Value) -> Context {
        Context {
            git_ref: git_ref.into(),
            sha: "0123456789abcdef0123456789abcdef01234567".into(),
            repository: "org/app".into(),
            server_url: "https://github.com".into(),
            event,
            ..Context::default()
        }
    }

    #[test]
    fn facts_come_from_the_ref_and_the_payload() {
        let event = serde_json::json!({
            "repository": {"name": "app", "default_branch": "main", "description": "An app",
                           "license": {"spdx_id": "Apache-2.0"}},
        });
        let facts = context("refs/heads/main", event).facts("2026-01-01T00:00:00Z".into());
        assert_eq!(facts.git_ref, GitRef::Branch("main".into()));
        assert_eq!(facts.default_branch.as_deref(), Some("main"));
        assert_eq!(
            facts.repository_url.as_deref(),
            Some("https://github.com/org/app")
        );
        assert_eq!(facts.licenses.as_deref(), Some("Apache-2.0"));
        assert_eq!(facts.description.as_deref(), Some("An app"));

        let tag = context("refs/tags/v1.2.3", Value::Null).facts(String::new());
        assert_eq!(tag.git_ref, GitRef::Tag("v1.2.3".into()));
        assert_eq!(tag.title.as_deref(), Some("app"));
    }

    #[test]
    fn pull_requests_are_found_in_the_payload_or_the_ref() {
        let event = serde_json::json!({"pull_request": {"number": 42}});
        assert_eq!(
            context("refs/pull/42/merge", event).pull_request(),
            Some(42)
        );
        assert_eq!(
            context("refs/pull/7/merge", Value::Null).pull_request(),
            Some(7)
        );
        assert_eq!(context("refs/heads/main", Value::Null).pull_request(), None);
    }

    #[test]
    fn runner_arch_names_a_platform() {
        let mut ctx = Context {
            runner_arch: "ARM64".into(),
            ..Context::default()
        };
        assert_eq!(ctx.runner_platform().to_string(), "linux/arm64");
        ctx.runner_arch = "ARM".into();
        assert_eq!(ctx.runner_platform().to_string(), "linux/arm/v7");
    }
}
