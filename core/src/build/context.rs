//! The build context: a directory on the build machine, seen through its `.dockerignore`.
//!
//! The ignore file is BuildKit's `<Dockerfile name>.dockerignore` next to the Dockerfile when it
//! exists, else `.dockerignore` at the context root. Its rules are Docker's: one pattern a line,
//! `#` comments, cleaned like Go's `filepath.Clean` with any leading `/` dropped, Go
//! `filepath.Match` syntax plus `**`, `!` exceptions evaluated in order (the last match wins),
//! and a pattern matching a directory excludes everything under it. An ignored path is invisible
//! to COPY and ADD, except a directory that holds a path an exception brings back, which stays
//! (holding only that). The Dockerfile and the ignore file are ordinary, copyable files.
//! Sockets, fifos and devices are not part of the context.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::fs::{Confine, Entry, EntryKind, FsError, Tree, ancestors, io_err, join};
use super::pattern::{IgnorePattern, clean_ignore_line};

/// An opened build context.
#[derive(Debug)]
pub struct Context {
    root: PathBuf,
    ignore_file: Option<PathBuf>,
    patterns: Vec<IgnorePattern>,
}

impl Context {
    /// Opens the context directory `dir` for the Dockerfile at `dockerfile` (absolute, or
    /// relative to the current directory) and reads its ignore file.
    pub fn open(dir: &Path, dockerfile: &Path) -> Result<Context, FsError> {
        let root = fs::canonicalize(dir).map_err(io_err("open the build context", dir))?;
        if !root.is_dir() {
            let error = io::Error::new(io::ErrorKind::NotADirectory, "not a directory");
            return Err(FsError::Io {
                action: "open the build context",
                path: root,
                error,
            });
        }
        let specific = dockerfile.file_name().map(|name| {
            let mut name = name.to_os_string();
            name.push(".dockerignore");
            dockerfile.with_file_name(name)
        });
        let ignore_file = specific
            .filter(|path| path.is_file())
            .or_else(|| Some(root.join(".dockerignore")).filter(|path| path.is_file()));
        let mut patterns = Vec::new();
        if let Some(file) = &ignore_file {
            let text = fs::read_to_string(file).map_err(io_err("read", file))?;
            let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
            for (index, line) in text.lines().enumerate() {
                let Some(cleaned) = clean_ignore_line(line) else {
                    continue;
                };
                let pattern =
                    IgnorePattern::new(&cleaned).map_err(|reason| FsError::IgnorePattern {
                        file: file.clone(),
                        line: index + 1,
                        pattern: line.trim().to_owned(),
                        reason,
                    })?;
                patterns.push(pattern);
            }
        }
        Ok(Context {
            root,
            ignore_file,
            patterns,
        })
    }

    /// The context directory, canonicalised.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The ignore file in force, if any.
    pub fn ignore_file(&self) -> Option<&Path> {
        self.ignore_file.as_deref()
    }

    /// Whether the ignore rules exclude `path` (relative to the context root, `/`-separated) or
    /// one of its parents, as moby/patternmatcher's `MatchesOrParentMatches`.
    pub fn is_ignored(&self, path: &str) -> bool {
        let mut matched = false;
        for pattern in &self.patterns {
            if pattern.exclusion != matched {
                continue;
            }
            if pattern.matches(path) || ancestors(path).any(|dir| pattern.matches(dir)) {
                matched = !pattern.exclusion;
            }
        }
        matched
    }

    /// Whether a path is part of the context as COPY sees it.
    fn visible(&self, path: &str, is_dir: bool) -> Result<bool, FsError> {
        if path.is_empty() || !self.is_ignored(path) {
            return Ok(true);
        }
        if !is_dir || !self.may_bring_back(path) {
            return Ok(false);
        }
        // An exception may bring back something inside this ignored directory.
        for name in self.children(path)? {
            let child = join(path, &name);
            let Some(meta) = self.lstat(&child)? else {
                continue;
            };
            if self.visible(&child, meta.is_dir())? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Whether an exception pattern could match something under the ignored directory `dir`.
    fn may_bring_back(&self, dir: &str) -> bool {
        self.patterns.iter().filter(|p| p.exclusion).any(|pattern| {
            dir.split('/')
                .zip(pattern.literal_prefix())
                .all(|(have, want)| have == want)
        })
    }

    fn lstat(&self, path: &str) -> Result<Option<fs::Metadata>, FsError> {
        let full = self.root.join(path);
        match fs::symlink_metadata(&full) {
            Ok(meta) => Ok(Some(meta)),
            Err(e) if is_missing(&e) => Ok(None),
            Err(error) => Err(FsError::Io {
                action: "read",
                path: full,
                error,
            }),
        }
    }

    fn stat_as(&self, path: &str, honour_ignore: bool) -> Result<Option<Entry>, FsError> {
        let Some(meta) = self.lstat(path)? else {
            return Ok(None);
        };
        let full = self.root.join(path);
        let kind = if meta.is_dir() {
            EntryKind::Dir
        } else if meta.is_file() {
            EntryKind::File {
                source: full,
                size: meta.len(),
            }
        } else if meta.file_type().is_symlink() {
            let target = fs::read_link(&full).map_err(io_err("read the symlink", &full))?;
            let target = target
                .into_os_string()
                .into_string()
                .map_err(|_| FsError::NotUtf8 { path: full })?;
            EntryKind::Symlink { target }
        } else {
            // Sockets, fifos and devices are not part of a context.
            return Ok(None);
        };
        if honour_ignore && !self.visible(path, meta.is_dir())? {
            return Ok(None);
        }
        let mtime = u64::try_from(meta.mtime()).unwrap_or(0);
        // The root arrives as 0755 whatever its mode here, as in BuildKit's transferred context.
        let mode = if path.is_empty() {
            0o755
        } else {
            meta.mode() & 0o7777
        };
        Ok(Some(Entry {
            kind,
            mode,
            uid: 0,
            gid: 0,
            mtime,
        }))
    }
}

fn is_missing(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

impl Tree for Context {
    fn stat(&self, path: &str) -> Result<Option<Entry>, FsError> {
        self.stat_as(path, true)
    }

    fn children(&self, dir: &str) -> Result<Vec<String>, FsError> {
        let full = self.root.join(dir);
        let mut names = Vec::new();
        for item in fs::read_dir(&full).map_err(io_err("list", &full))? {
            let item = item.map_err(io_err("list", &full))?;
            match item.file_name().into_string() {
                Ok(name) => names.push(name),
                Err(raw) => {
                    // Reported only if the ignore rules keep it.
                    let lossy = join(dir, &raw.to_string_lossy());
                    if !self.is_ignored(&lossy) {
                        return Err(FsError::NotUtf8 { path: item.path() });
                    }
                }
            }
        }
        names.sort();
        Ok(names)
    }

    fn confine(&self) -> Confine {
        Confine::Refuse
    }
}

/// The context with its ignore rules switched off, to tell "excluded" from "missing".
#[derive(Debug)]
pub(crate) struct Unfiltered<'a>(pub(crate) &'a Context);

impl Tree for Unfiltered<'_> {
    fn stat(&self, path: &str) -> Result<Option<Entry>, FsError> {
        self.0.stat_as(path, false)
    }

    fn children(&self, dir: &str) -> Result<Vec<String>, FsError> {
        self.0.children(dir)
    }

    fn confine(&self) -> Confine {
        Confine::Refuse
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(files: &[&str], ignore: &str) -> (tempfile::TempDir, Context) {
        let dir = tempfile::tempdir().unwrap();
        for file in files {
            let path = dir.path().join(file);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            if file.ends_with('/') {
                fs::create_dir_all(&path).unwrap();
            } else {
                fs::write(&path, file).unwrap();
            }
        }
        fs::write(dir.path().join(".dockerignore"), ignore).unwrap();
        let ctx = Context::open(dir.path(), &dir.path().join("Dockerfile")).unwrap();
        (dir, ctx)
    }

    fn listing(ctx: &Context) -> Vec<String> {
        let mut seen = Vec::new();
        ctx.walk("", &mut |path, _| {
            seen.push(path.to_owned());
            Ok(())
        })
        .unwrap();
        seen
    }

    #[test]
    fn dockerignore_with_exceptions_and_double_star() {
        let files = [
            "Dockerfile",
            "app.log",
            "src/main.rs",
            "src/debug.log",
            "src/deep/x.tmp",
            "build/out.bin",
            "build/keep.txt",
            "build/sub/other.txt",
            "docs/a.md",
            "node_modules/pkg/index.js",
        ];
        let ignore = "# comment\n\n*.log\n!src/debug.log\n**/*.tmp\n\
                      /build\n!build/keep.txt\nnode_modules/\n docs \n";
        let (_dir, ctx) = context(&files, ignore);
        assert_eq!(
            listing(&ctx),
            [
                ".dockerignore",
                "Dockerfile",
                "build",
                "build/keep.txt",
                "src",
                "src/debug.log",
                "src/deep",
                "src/main.rs"
            ]
        );
        assert!(ctx.is_ignored("node_modules/pkg/index.js"));
        assert!(ctx.is_ignored("build/sub/other.txt"));
        assert!(!ctx.is_ignored("build/keep.txt"));
    }

    #[test]
    fn ignoring_the_dockerfile_and_the_ignore_file_hides_them() {
        let (_dir, ctx) = context(&["Dockerfile", "a"], "Dockerfile\n.dockerignore\n");
        assert_eq!(listing(&ctx), ["a"]);
    }

    #[test]
    fn dockerfile_specific_ignore_file_wins() {
        let (dir, _) = context(&["a.txt", "b.txt", "ci/app.Dockerfile"], "a.txt\n");
        fs::write(dir.path().join("ci/app.Dockerfile.dockerignore"), "b.txt\n").unwrap();
        let ctx = Context::open(dir.path(), &dir.path().join("ci/app.Dockerfile")).unwrap();
        assert_eq!(
            ctx.ignore_file(),
            Some(dir.path().join("ci/app.Dockerfile.dockerignore").as_path())
        );
        assert!(!ctx.is_ignored("a.txt"));
        assert!(ctx.is_ignored("b.txt"));
    }

    #[test]
    fn bad_pattern_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(".dockerignore"), "ok\n[abc\n").unwrap();
        let err = Context::open(dir.path(), &dir.path().join("Dockerfile")).unwrap_err();
        assert!(
            matches!(err, FsError::IgnorePattern { line: 2, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("line 2"), "{err}");
    }
}
