//! One pull-request comment per workflow listing the published image references.
//!
//! The comment is found again on later runs through a hidden HTML marker line
//! (`<!-- {marker} -->`) that starts its body: it is created once, edited when
//! its text changes, and left alone when it does not, so it is never duplicated.
//!
//! GitHub is reached through `octocrab`, with a client built here for each call
//! (rustls with the `ring` provider passed explicitly, so no process-wide
//! rustls `CryptoProvider` needs to be installed; roots from the system store).

use std::fmt;
use std::time::Duration;

use anyhow::{Context, bail};
use octocrab::{Octocrab, Page};
use serde::{Deserialize, Serialize};

/// GitHub rejects comment bodies longer than this many characters.
const MAX_BODY_CHARS: usize = 65_536;
/// Comments asked for per page (GitHub's maximum).
const PER_PAGE: u32 = 100;
/// Pages of comments read at most before giving up (100 comments each).
const MAX_PAGES: usize = 100;
const DEFAULT_API_URL: &str = "https://api.github.com";
const PERMISSION_HINT: &str = "give the job `permissions: pull-requests: write`";

/// The pull request to comment on, and how to reach GitHub.
///
/// `Debug` never shows the token.
pub struct Target {
    /// `GITHUB_API_URL`, e.g. `https://api.github.com` or `https://ghe.example.com/api/v3`.
    /// Empty means `https://api.github.com`.
    pub api_url: String,
    pub token: String,
    pub owner: String,
    pub repo: String,
    /// Pull request number.
    pub number: u64,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let token = if self.token.trim().is_empty() {
            "<empty>"
        } else {
            "<redacted>"
        };
        f.debug_struct("Target")
            .field("api_url", &self.api_url)
            .field("token", &token)
            .field("owner", &self.owner)
            .field("repo", &self.repo)
            .field("number", &self.number)
            .finish()
    }
}

/// What [`upsert`] did. `Updated` is also returned when the comment already
/// had the wanted text and was left alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upserted {
    Created { id: u64, url: String },
    Updated { id: u64, url: String },
}

/// The fields of an issue comment this module reads. Deliberately smaller
/// than `octocrab::models::issues::Comment`, which requires fields (such as a
/// non-null `user`) that GitHub does not always send: one comment by a deleted
/// account would otherwise make the whole listing fail.
#[derive(Debug, Deserialize)]
struct IssueComment {
    id: u64,
    #[serde(default)]
    body: Option<String>,
    html_url: String,
}

#[derive(Serialize)]
struct CommentBody<'a> {
    body: &'a str,
}

/// Creates or updates the pull-request comment identified by `marker`.
///
/// `marker` is a short id such as `multiarch:ci.yml:ghcr.io/org/app`; the body
/// written is `"<!-- {marker} -->\n" + body`. The first comment of the pull
/// request (all pages are read, 100 comments a page) that has that exact HTML
/// comment as one of its lines is updated (`PATCH`) if its body differs, or
/// left alone if it is identical (line endings aside); otherwise a new comment
/// is created (`POST`).
pub async fn upsert(target: &Target, marker: &str, body: &str) -> anyhow::Result<Upserted> {
    let marker_line = marker_line(marker)?;
    let full = format!("{marker_line}\n{body}");
    let chars = full.chars().count();
    if chars > MAX_BODY_CHARS {
        bail!(
            "cannot comment on {}: the comment would be {chars} characters long, \
             and GitHub accepts at most {MAX_BODY_CHARS}",
            pr(target)
        );
    }
    let crab = client(target)?;

    match find(&crab, target, &marker_line).await? {
        Some(existing) if same_text(existing.body.as_deref().unwrap_or(""), &full) => {
            Ok(Upserted::Updated {
                id: existing.id,
                url: existing.html_url,
            })
        }
        Some(existing) => {
            let route = format!(
                "/repos/{}/{}/issues/comments/{}",
                target.owner, target.repo, existing.id
            );
            // `IssueHandler::update_comment` would send POST; the documented verb is PATCH.
            let updated: IssueComment = crab
                .patch(route, Some(&CommentBody { body: &full }))
                .await
                .map_err(|e| api_error(e, target, &format!("update comment {} on", existing.id)))?;
            Ok(Upserted::Updated {
                id: updated.id,
                url: updated.html_url,
            })
        }
        None => {
            let route = format!(
                "/repos/{}/{}/issues/{}/comments",
                target.owner, target.repo, target.number
            );
            let created: IssueComment = crab
                .post(route, Some(&CommentBody { body: &full }))
                .await
                .map_err(|e| api_error(e, target, "comment on"))?;
            Ok(Upserted::Created {
                id: created.id,
                url: created.html_url,
            })
        }
    }
}

/// Markdown body for the comment: a heading, and a table of the published
/// references (each tag, the index by digest, and each platform's image by digest).
pub fn render(
    image: &str,
    index_digest: &str,
    tags: &[String],
    children: &[(String, String)],
) -> String {
    let mut out = format!("### Published multi-arch image {}\n\n", code(image));
    out.push_str("| Reference | Platform |\n| --- | --- |\n");
    for tag in tags {
        out.push_str(&format!(
            "| {} | multi-arch index |\n",
            code(&format!("{image}:{tag}"))
        ));
    }
    if !index_digest.is_empty() {
        out.push_str(&format!(
            "| {} | multi-arch index |\n",
            code(&format!("{image}@{index_digest}"))
        ));
    }
    for (platform, digest) in children {
        out.push_str(&format!(
            "| {} | {} |\n",
            code(&format!("{image}@{digest}")),
            code(platform)
        ));
    }
    out
}

/// `text` as a Markdown code span that is safe inside a table cell.
fn code(text: &str) -> String {
    let text = text.replace(['\r', '\n'], " ").replace('|', "\\|");
    let longest_run = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest_run + 1);
    if longest_run > 0 {
        format!("{fence} {text} {fence}")
    } else {
        format!("{fence}{text}{fence}")
    }
}

fn marker_line(marker: &str) -> anyhow::Result<String> {
    let bad = marker.trim().is_empty()
        || marker.contains(['\r', '\n'])
        || ["<!--", "-->", "--!>"].iter().any(|s| marker.contains(s));
    if bad {
        bail!(
            "comment marker {marker:?} cannot be used: it must be non-empty, on one line, \
             and contain none of `<!--`, `-->`, `--!>`"
        );
    }
    Ok(format!("<!-- {marker} -->"))
}

fn has_marker(comment: &IssueComment, marker_line: &str) -> bool {
    comment
        .body
        .as_deref()
        .is_some_and(|body| body.lines().any(|line| line == marker_line))
}

/// Equal once `\r\n` is read as `\n` (GitHub may store either).
fn same_text(a: &str, b: &str) -> bool {
    a.replace("\r\n", "\n") == b.replace("\r\n", "\n")
}

fn pr(target: &Target) -> String {
    format!(
        "pull request #{} of {}/{}",
        target.number, target.owner, target.repo
    )
}

/// Validates the target and builds an authenticated client for it.
fn client(target: &Target) -> anyhow::Result<Octocrab> {
    for (what, name) in [("owner", &target.owner), ("repository", &target.repo)] {
        let ok = !name.is_empty()
            && name != "."
            && name != ".."
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !ok {
            bail!("cannot comment: {name:?} is not a valid GitHub {what} name");
        }
    }
    if target.number == 0 {
        bail!(
            "cannot comment on {}: 0 is not a pull request number",
            pr(target)
        );
    }
    let token = target.token.trim();
    if token.is_empty() {
        bail!(
            "cannot comment on {}: no GitHub token was given; pass the job's token \
             (e.g. `${{{{ github.token }}}}`)",
            pr(target)
        );
    }
    // octocrab panics on a token that is not a valid header value; real tokens
    // are printable ASCII without spaces.
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        bail!(
            "cannot comment on {}: the GitHub token contains spaces, control or non-ASCII \
             characters, so it is not a token; check the secret passed as the token",
            pr(target)
        );
    }

    let api_url = target.api_url.trim().trim_end_matches('/');
    let api_url = if api_url.is_empty() {
        DEFAULT_API_URL
    } else {
        api_url
    };
    let uri: http::Uri = api_url
        .parse()
        .with_context(|| format!("GitHub API URL {api_url:?} is not a valid URL"))?;
    let scheme_ok = matches!(uri.scheme_str(), Some("https" | "http"));
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or("");
    if !scheme_ok || authority.is_empty() || authority.contains('@') || uri.query().is_some() {
        bail!(
            "GitHub API URL {api_url:?} must be an http(s) URL such as {DEFAULT_API_URL:?} \
             (without credentials or query)"
        );
    }

    Octocrab::builder()
        .base_uri(uri)
        .with_context(|| format!("GitHub API URL {api_url:?} is not usable"))?
        .add_header(
            http::header::ACCEPT,
            "application/vnd.github+json".to_owned(),
        )
        .personal_token(token.to_owned())
        .set_connect_timeout(Some(Duration::from_secs(15)))
        .set_read_timeout(Some(Duration::from_secs(60)))
        .set_write_timeout(Some(Duration::from_secs(60)))
        .build()
        .with_context(|| {
            format!(
                "cannot set up the HTTPS client for the GitHub API at {api_url} \
                 (it needs CA certificates from the system store)"
            )
        })
}

/// The first comment of the pull request carrying `marker_line`, reading page
/// after page until one is found.
async fn find(
    crab: &Octocrab,
    target: &Target,
    marker_line: &str,
) -> anyhow::Result<Option<IssueComment>> {
    let route = format!(
        "/repos/{}/{}/issues/{}/comments",
        target.owner, target.repo, target.number
    );
    let read_error = |e| api_error(e, target, "read the comments of");
    let mut page: Page<IssueComment> = crab
        .get(route, Some(&[("per_page", PER_PAGE)]))
        .await
        .map_err(read_error)?;
    let mut pages = 1;
    loop {
        let next = page.next.take();
        if let Some(found) = page.items.into_iter().find(|c| has_marker(c, marker_line)) {
            return Ok(Some(found));
        }
        if next.is_none() {
            return Ok(None);
        }
        if pages >= MAX_PAGES {
            bail!(
                "cannot comment on {}: no comment with the marker in its first {} comments, \
                 and reading further is refused so as not to loop forever",
                pr(target),
                MAX_PAGES * PER_PAGE as usize
            );
        }
        match crab.get_page(&next).await.map_err(read_error)? {
            Some(p) => page = p,
            None => return Ok(None),
        }
        pages += 1;
    }
}

/// Turns an octocrab error into an actionable message. `action` reads
/// "cannot {action} pull request #N of owner/repo".
fn api_error(err: octocrab::Error, target: &Target, action: &str) -> anyhow::Error {
    let what = format!("cannot {action} {}", pr(target));
    let octocrab::Error::GitHub { source, .. } = &err else {
        return anyhow::Error::new(err).context(format!(
            "{what}: no usable answer from the GitHub API at {}",
            target.api_url
        ));
    };
    let status = source.status_code;
    let mut text = format!("{what}: GitHub answered {status}");
    let message = source.message.trim();
    if !message.is_empty() && Some(message) != status.canonical_reason() {
        text.push_str(&format!(" ({message})"));
    }
    if let Some(errors) = source.errors.as_ref().filter(|e| !e.is_empty()) {
        let errors: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        text.push_str(&format!(" [errors: {}]", errors.join(", ")));
    }
    let rate_limited = status.as_u16() == 429 || message.to_lowercase().contains("rate limit");
    let hint = match status.as_u16() {
        _ if rate_limited => Some("the API rate limit was hit; re-run the job later".to_owned()),
        401 => Some(
            "the token was refused; pass a valid token (e.g. `${{ github.token }}`)".to_owned(),
        ),
        403 => Some(format!(
            "{PERMISSION_HINT} (on pull requests from forks the token is read-only \
             whatever the permissions)"
        )),
        404 => Some(format!(
            "check that {}/{} and #{} are right, and {PERMISSION_HINT} \
             (GitHub answers 404 when the token may not see them)",
            target.owner, target.repo, target.number
        )),
        s if s >= 500 => Some("GitHub failed; re-run the job".to_owned()),
        _ => None,
    };
    if let Some(hint) = hint {
        text.push_str("; ");
        text.push_str(&hint);
    }
    anyhow::Error::msg(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use wiremock::matchers::{any, body_json, header, method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    const TOKEN: &str = "ghs_SuperSecretToken123";
    const MARKER: &str = "multiarch:ci.yml:ghcr.io/org/app";
    const LIST: &str = "/repos/org/app/issues/7/comments";

    fn target(api_url: String) -> Target {
        Target {
            api_url,
            token: TOKEN.to_owned(),
            owner: "org".to_owned(),
            repo: "app".to_owned(),
            number: 7,
        }
    }

    fn comment(id: u64, body: &str) -> Value {
        json!({
            "id": id,
            "node_id": "IC_x",
            "url": format!("https://api.github.com/repos/org/app/issues/comments/{id}"),
            "html_url": format!("https://github.com/org/app/pull/7#issuecomment-{id}"),
            "body": body,
            "user": {"login": "github-actions[bot]", "id": 41898282, "type": "Bot"},
            "created_at": "2024-01-01T00:00:00Z",
            "updated_at": "2024-01-01T00:00:00Z",
        })
    }

    fn ours(body: &str) -> String {
        format!("<!-- {MARKER} -->\n{body}")
    }

    /// Mounted last: anything no other mock took (a PATCH, a POST, a wrong
    /// header or path) fails the test when the server is verified.
    async fn forbid_others(server: &MockServer) {
        Mock::given(any())
            .respond_with(ResponseTemplate::new(599))
            .with_priority(u8::MAX)
            .named("unexpected request")
            .expect(0)
            .mount(server)
            .await;
    }

    fn authed(m: wiremock::MockBuilder) -> wiremock::MockBuilder {
        m.and(header("authorization", format!("Bearer {TOKEN}").as_str()))
            .and(header("accept", "application/vnd.github+json"))
            .and(header("x-github-api-version", "2022-11-28"))
    }

    #[tokio::test]
    async fn creates_when_no_comment_has_the_marker() {
        let server = MockServer::start().await;
        authed(Mock::given(method("GET")).and(path(LIST)))
            .and(query_param("per_page", "100"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([
                comment(1, "LGTM"),
                // GitHub may send a null user (deleted account).
                {"id": 2, "html_url": "https://github.com/org/app/pull/7#issuecomment-2",
                 "body": "hi", "user": null, "created_at": "2024-01-01T00:00:00Z"},
            ])))
            .expect(1)
            .mount(&server)
            .await;
        authed(Mock::given(method("POST")).and(path(LIST)))
            .and(header("content-type", "application/json"))
            .and(body_json(json!({"body": ours("table")})))
            .respond_with(ResponseTemplate::new(201).set_body_json(comment(42, &ours("table"))))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("PATCH"))
            .respond_with(ResponseTemplate::new(200))
            .expect(0)
            .mount(&server)
            .await;
        forbid_others(&server).await;

        let got = upsert(&target(server.uri()), MARKER, "table")
            .await
            .unwrap();
        assert_eq!(
            got,
            Upserted::Created {
                id: 42,
                url: "https://github.com/org/app/pull/7#issuecomment-42".to_owned()
            }
        );
        server.verify().await;
    }

    #[tokio::test]
    async fn updates_the_marked_comment_found_on_page_two() {
        let server = MockServer::start().await;
        // Page 1 links to page 2 by an absolute URL of another shape, as GitHub does.
        let next = format!(
            "{}/repositories/123/issues/7/comments?per_page=100&page=2",
            server.uri()
        );
        let last = format!(
            "{}/repositories/123/issues/7/comments?per_page=100&page=3",
            server.uri()
        );
        authed(Mock::given(method("GET")).and(path(LIST)))
            .and(query_param("per_page", "100"))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header(
                        "link",
                        format!(r#"<{next}>; rel="next", <{last}>; rel="last""#).as_str(),
                    )
                    .set_body_json(json!([comment(1, "first"), comment(2, "second")])),
            )
            .expect(1)
            .mount(&server)
            .await;
        authed(Mock::given(method("GET")).and(path("/repositories/123/issues/7/comments")))
            .and(query_param("page", "2"))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("link", format!(r#"<{last}>; rel="next""#).as_str())
                    .set_body_json(json!([
                        comment(3, "third"),
                        comment(55, &ours("old table")),
                        comment(56, &ours("a later duplicate")),
                    ])),
            )
            .expect(1)
            .mount(&server)
            .await;
        // Nothing further is read once the comment is found.
        Mock::given(method("GET"))
            .and(query_param("page", "3"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
            .expect(0)
            .mount(&server)
            .await;
        authed(Mock::given(method("PATCH")).and(path("/repos/org/app/issues/comments/55")))
            .and(body_json(json!({"body": ours("new table")})))
            .respond_with(ResponseTemplate::new(200).set_body_json(comment(55, &ours("new table"))))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(201))
            .expect(0)
            .mount(&server)
            .await;
        forbid_others(&server).await;

        let got = upsert(&target(server.uri()), MARKER, "new table")
            .await
            .unwrap();
        assert_eq!(
            got,
            Upserted::Updated {
                id: 55,
                url: "https://github.com/org/app/pull/7#issuecomment-55".to_owned()
            }
        );
        server.verify().await;
    }

    #[tokio::test]
    async fn leaves_an_identical_comment_alone() {
        let server = MockServer::start().await;
        authed(Mock::given(method("GET")).and(path(LIST)))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([
                comment(9, "unrelated"),
                // Stored with CRLF line endings: still the same text.
                comment(10, &ours("line 1\nline 2").replace('\n', "\r\n")),
            ])))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("PATCH"))
            .respond_with(ResponseTemplate::new(200))
            .expect(0)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(201))
            .expect(0)
            .mount(&server)
            .await;
        forbid_others(&server).await;

        let got = upsert(&target(server.uri()), MARKER, "line 1\nline 2")
            .await
            .unwrap();
        assert_eq!(
            got,
            Upserted::Updated {
                id: 10,
                url: "https://github.com/org/app/pull/7#issuecomment-10".to_owned()
            }
        );
        server.verify().await;
    }

    #[tokio::test]
    async fn similar_markers_are_not_touched() {
        let server = MockServer::start().await;
        authed(Mock::given(method("GET")).and(path(LIST)))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([
                // Same workflow, another image whose name extends ours.
                comment(1, &format!("<!-- {MARKER}-debug -->\nother")),
                // A prefix of our marker.
                comment(2, "<!-- multiarch:ci.yml:ghcr.io/org -->\nother"),
                // Another workflow.
                comment(3, "<!-- multiarch:release.yml:ghcr.io/org/app -->\nother"),
                // Our marker quoted in a reply, or inline: not a line of its own.
                comment(4, &format!("> <!-- {MARKER} -->\n> old")),
                comment(5, &format!("see <!-- {MARKER} --> here")),
                // The marker text without the HTML comment around it.
                comment(6, MARKER),
            ])))
            .expect(1)
            .mount(&server)
            .await;
        authed(Mock::given(method("POST")).and(path(LIST)))
            .and(body_json(json!({"body": ours("table")})))
            .respond_with(ResponseTemplate::new(201).set_body_json(comment(77, &ours("table"))))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("PATCH"))
            .respond_with(ResponseTemplate::new(200))
            .expect(0)
            .mount(&server)
            .await;
        forbid_others(&server).await;

        let got = upsert(&target(server.uri()), MARKER, "table")
            .await
            .unwrap();
        assert!(matches!(got, Upserted::Created { id: 77, .. }), "{got:?}");
        server.verify().await;
    }

    #[tokio::test]
    async fn forbidden_gives_the_permission_hint_and_hides_the_token() {
        let server = MockServer::start().await;
        authed(Mock::given(method("GET")).and(path(LIST)))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
            .expect(1)
            .mount(&server)
            .await;
        authed(Mock::given(method("POST")).and(path(LIST)))
            .respond_with(ResponseTemplate::new(403).set_body_json(json!({
                "message": "Resource not accessible by integration",
                "documentation_url": "https://docs.github.com/rest/issues/comments#create-an-issue-comment",
            })))
            .expect(1)
            .mount(&server)
            .await;
        forbid_others(&server).await;

        let t = target(server.uri());
        let err = upsert(&t, MARKER, "table").await.unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.contains(
                "cannot comment on pull request #7 of org/app: GitHub answered 403 Forbidden \
                 (Resource not accessible by integration); \
                 give the job `permissions: pull-requests: write`"
            ),
            "{text}"
        );
        assert!(!text.contains(TOKEN), "{text}");
        assert!(!format!("{err:?}").contains(TOKEN));
        let debug = format!("{t:?}");
        assert!(!debug.contains(TOKEN), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
        server.verify().await;
    }

    #[tokio::test]
    async fn listing_404_names_the_pull_request_and_the_permission() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path(LIST))
            .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})))
            .expect(1)
            .mount(&server)
            .await;
        forbid_others(&server).await;

        let err = upsert(&target(server.uri()), MARKER, "table")
            .await
            .unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.starts_with(
                "cannot read the comments of pull request #7 of org/app: \
                 GitHub answered 404 Not Found; check that org/app and #7 are right"
            ),
            "{text}"
        );
        assert!(text.contains(PERMISSION_HINT), "{text}");
        server.verify().await;
    }

    #[tokio::test]
    async fn enterprise_api_path_is_kept_and_pagination_is_not_doubled() {
        let server = MockServer::start().await;
        let base = format!("{}/api/v3", server.uri());
        let next = format!("{base}/repositories/123/issues/7/comments?per_page=100&page=2");
        authed(Mock::given(method("GET")).and(path(format!("/api/v3{LIST}"))))
            .and(query_param("per_page", "100"))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("link", format!(r#"<{next}>; rel="next""#).as_str())
                    .set_body_json(json!([comment(1, "x")])),
            )
            .expect(1)
            .mount(&server)
            .await;
        authed(Mock::given(method("GET")).and(path("/api/v3/repositories/123/issues/7/comments")))
            .and(query_param("page", "2"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([comment(2, "y")])))
            .expect(1)
            .mount(&server)
            .await;
        authed(Mock::given(method("POST")).and(path(format!("/api/v3{LIST}"))))
            .respond_with(ResponseTemplate::new(201).set_body_json(comment(3, &ours("t"))))
            .expect(1)
            .mount(&server)
            .await;
        forbid_others(&server).await;

        // A trailing slash, as a user might write it.
        let got = upsert(&target(format!("{base}/")), MARKER, "t")
            .await
            .unwrap();
        assert!(matches!(got, Upserted::Created { id: 3, .. }), "{got:?}");
        server.verify().await;
    }

    #[tokio::test]
    async fn runs_without_a_process_wide_rustls_provider() {
        // Nothing in this test binary installs one; octocrab passes `ring` itself.
        assert!(rustls::crypto::CryptoProvider::get_default().is_none());
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path(LIST))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([comment(5, &ours("b"))])))
            .expect(1)
            .mount(&server)
            .await;
        forbid_others(&server).await;
        let got = upsert(&target(server.uri()), MARKER, "b").await.unwrap();
        assert!(matches!(got, Upserted::Updated { id: 5, .. }), "{got:?}");
        assert!(rustls::crypto::CryptoProvider::get_default().is_none());
        server.verify().await;
    }

    #[tokio::test]
    async fn tls_handshake_runs_without_a_process_wide_rustls_provider() {
        // https:// to a plain-HTTP server: the rustls handshake really starts
        // (with octocrab's own `ring` provider) and fails as an error, not a panic.
        let server = MockServer::start().await;
        let port = server.address().port();
        let t = target(format!("https://127.0.0.1:{port}"));
        let err = format!("{:#}", upsert(&t, MARKER, "b").await.unwrap_err());
        assert!(
            err.starts_with(&format!(
                "cannot read the comments of pull request #7 of org/app: \
                 no usable answer from the GitHub API at https://127.0.0.1:{port}"
            )),
            "{err}"
        );
        assert!(rustls::crypto::CryptoProvider::get_default().is_none());
    }

    #[tokio::test]
    async fn bad_inputs_fail_before_any_request_and_never_panic() {
        let server = MockServer::start().await;
        forbid_others(&server).await;
        let uri = server.uri();

        let mut t = target(uri.clone());
        t.token = format!("{TOKEN}\nX-Injected: 1");
        let err = format!("{:#}", upsert(&t, MARKER, "b").await.unwrap_err());
        assert!(err.contains("the GitHub token contains"), "{err}");
        assert!(!err.contains(TOKEN), "{err}");

        t.token = "  ".to_owned();
        let err = format!("{:#}", upsert(&t, MARKER, "b").await.unwrap_err());
        assert!(err.contains("no GitHub token was given"), "{err}");
        assert!(format!("{t:?}").contains("<empty>"));

        let mut t = target(uri.clone());
        t.repo = "app/../../x".to_owned();
        let err = format!("{:#}", upsert(&t, MARKER, "b").await.unwrap_err());
        assert!(err.contains("not a valid GitHub repository name"), "{err}");

        let t = target("ftp://example.com".to_owned());
        let err = format!("{:#}", upsert(&t, MARKER, "b").await.unwrap_err());
        assert!(err.contains("must be an http(s) URL"), "{err}");

        let t = target(uri.clone());
        for marker in ["", "a --> b", "two\nlines"] {
            let err = format!("{:#}", upsert(&t, marker, "b").await.unwrap_err());
            assert!(err.contains("cannot be used"), "{marker:?}: {err}");
        }
        let err = format!(
            "{:#}",
            upsert(&t, MARKER, &"x".repeat(MAX_BODY_CHARS))
                .await
                .unwrap_err()
        );
        assert!(err.contains("GitHub accepts at most 65536"), "{err}");
        server.verify().await;
    }

    #[tokio::test]
    async fn unreachable_api_names_the_url() {
        // Bind then drop a listener to get a local port that refuses connections.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let t = target(format!("http://127.0.0.1:{port}"));
        let err = format!("{:#}", upsert(&t, MARKER, "b").await.unwrap_err());
        assert!(
            err.starts_with(&format!(
                "cannot read the comments of pull request #7 of org/app: \
                 no usable answer from the GitHub API at http://127.0.0.1:{port}"
            )),
            "{err}"
        );
        assert!(!err.contains(TOKEN), "{err}");
    }

    #[test]
    fn render_lists_tags_index_and_platforms() {
        let md = render(
            "ghcr.io/org/app",
            "sha256:aaa",
            &["1.2.3".to_owned(), "latest".to_owned()],
            &[
                ("linux/amd64".to_owned(), "sha256:bbb".to_owned()),
                ("linux/arm64".to_owned(), "sha256:ccc".to_owned()),
            ],
        );
        assert_eq!(
            md,
            "### Published multi-arch image `ghcr.io/org/app`\n\
             \n\
             | Reference | Platform |\n\
             | --- | --- |\n\
             | `ghcr.io/org/app:1.2.3` | multi-arch index |\n\
             | `ghcr.io/org/app:latest` | multi-arch index |\n\
             | `ghcr.io/org/app@sha256:aaa` | multi-arch index |\n\
             | `ghcr.io/org/app@sha256:bbb` | `linux/amd64` |\n\
             | `ghcr.io/org/app@sha256:ccc` | `linux/arm64` |\n"
        );
    }

    #[test]
    fn render_keeps_the_table_intact_with_odd_input() {
        let md = render(
            "img",
            "",
            &["a|b".to_owned()],
            &[("x`y".to_owned(), "d".to_owned())],
        );
        assert!(md.contains("| `img:a\\|b` | multi-arch index |\n"), "{md}");
        assert!(md.contains("| `img@d` | `` x`y `` |\n"), "{md}");
        assert!(
            !md.contains("img@ |"),
            "no index row without a digest: {md}"
        );
    }
}
