//! Trees that paths resolve in, the build context on disk or an image in memory, and the
//! symlink resolution COPY sources and destinations go through.
//!
//! Resolution follows symlinks component by component (at most 40, like Linux). In the build
//! context an absolute target or a `..` above the root is an escape, refused; in an image it
//! behaves like a chroot: absolute targets start at the image root and `..` stops there.

use super::{Entry, EntryKind, Escape, FsError, join};

/// How the paths of a tree are resolved when a component is a symlink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Confine {
    /// The build context: an absolute target, or a `..` above the root, is refused.
    Refuse,
    /// An image: like a chroot, absolute targets start at the root and `..` stops there.
    Chroot,
}

/// A tree that paths can be resolved in: the build context on disk or an image in memory.
pub(crate) trait Tree {
    /// The entry at a resolved path (no symlink among its parents), without following it.
    fn stat(&self, path: &str) -> Result<Option<Entry>, FsError>;
    /// The names in a directory, sorted.
    fn children(&self, dir: &str) -> Result<Vec<String>, FsError>;
    fn confine(&self) -> Confine;

    /// Every path under `dir` (relative to it), parents first, symlinks not followed.
    fn walk(
        &self,
        dir: &str,
        visit: &mut dyn FnMut(&str, Entry) -> Result<(), FsError>,
    ) -> Result<(), FsError> {
        walk_under(self, dir, "", visit)
    }
}

fn walk_under<T: Tree + ?Sized>(
    tree: &T,
    base: &str,
    rel: &str,
    visit: &mut dyn FnMut(&str, Entry) -> Result<(), FsError>,
) -> Result<(), FsError> {
    for name in tree.children(&join(base, rel))? {
        let sub = join(rel, &name);
        let Some(entry) = tree.stat(&join(base, &sub))? else {
            continue;
        };
        let is_dir = entry.is_dir();
        visit(&sub, entry)?;
        if is_dir {
            walk_under(tree, base, &sub, visit)?;
        }
    }
    Ok(())
}

const MAX_SYMLINKS: usize = 40;

/// Resolves `components` (already cleaned) in `tree`, following symlinks among the parents and,
/// if `follow_last`, the last one too. Returns the real path and its entry, or `None` when a
/// component is missing or not a directory.
pub(crate) fn resolve(
    tree: &dyn Tree,
    components: &[&str],
    follow_last: bool,
) -> Result<Option<(String, Entry)>, ResolveError> {
    let mut done: Vec<String> = Vec::new();
    let mut todo: Vec<String> = components.iter().rev().map(|c| (*c).to_owned()).collect();
    let mut links = 0;
    let mut last: Option<Entry> = None;
    while let Some(part) = todo.pop() {
        match part.as_str() {
            "" | "." => continue,
            ".." => {
                if done.pop().is_none() && tree.confine() == Confine::Refuse {
                    return Err(ResolveError::Escape(Escape::ParentDir));
                }
                last = None;
                continue;
            }
            _ => {}
        }
        done.push(part);
        let path = done.join("/");
        let Some(entry) = tree.stat(&path)? else {
            return Ok(None);
        };
        if let EntryKind::Symlink { target } = &entry.kind {
            if !todo.is_empty() || follow_last {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(ResolveError::Fs(FsError::SymlinkLoop { path }));
                }
                done.pop();
                if target.starts_with('/') {
                    if tree.confine() == Confine::Refuse {
                        let escape = Escape::Symlink {
                            link: path,
                            target: target.clone(),
                        };
                        return Err(ResolveError::Escape(escape));
                    }
                    done.clear();
                }
                if tree.confine() == Confine::Refuse {
                    let mut level = done.len();
                    for part in target.split('/') {
                        match part {
                            "" | "." => {}
                            ".." if level == 0 => {
                                let escape = Escape::Symlink {
                                    link: path,
                                    target: target.clone(),
                                };
                                return Err(ResolveError::Escape(escape));
                            }
                            ".." => level -= 1,
                            _ => level += 1,
                        }
                    }
                }
                todo.extend(target.split('/').rev().map(str::to_owned));
                last = None;
                continue;
            }
        } else if !todo.is_empty() && !entry.is_dir() {
            return Ok(None);
        }
        last = Some(entry);
    }
    let path = done.join("/");
    let entry = match last {
        Some(entry) => entry,
        None => match tree.stat(&path)? {
            Some(entry) => entry,
            None => return Ok(None),
        },
    };
    Ok(Some((path, entry)))
}

/// Why [`resolve`] failed: an escape (the caller names the source) or another error.
#[derive(Debug)]
pub(crate) enum ResolveError {
    Escape(Escape),
    Fs(FsError),
}

impl From<FsError> for ResolveError {
    fn from(e: FsError) -> Self {
        ResolveError::Fs(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::fs::Entries;

    struct Memory(Entries, Confine);

    impl Tree for Memory {
        fn stat(&self, path: &str) -> Result<Option<Entry>, FsError> {
            Ok(if path.is_empty() {
                Some(Entry::dir(0o755, 0, 0, 0))
            } else {
                self.0.get(path).cloned()
            })
        }
        fn children(&self, _: &str) -> Result<Vec<String>, FsError> {
            Ok(Vec::new())
        }
        fn confine(&self) -> Confine {
            self.1
        }
    }

    fn tree(confine: Confine) -> Memory {
        let link = |target: &str| Entry {
            kind: EntryKind::Symlink {
                target: target.into(),
            },
            mode: 0o777,
            uid: 0,
            gid: 0,
            mtime: 0,
        };
        let mut entries = Entries::new();
        entries.insert("usr".into(), Entry::dir(0o755, 0, 0, 0));
        entries.insert("usr/lib".into(), Entry::dir(0o755, 0, 0, 0));
        entries.insert("lib".into(), link("/usr/lib"));
        entries.insert("rel".into(), link("usr/../usr/lib"));
        entries.insert("up".into(), link("../../usr"));
        entries.insert("loop".into(), link("loop/x"));
        Memory(entries, confine)
    }

    fn real(t: &Memory, path: &[&str]) -> Result<Option<String>, String> {
        match resolve(t, path, true) {
            Ok(found) => Ok(found.map(|(p, _)| p)),
            Err(ResolveError::Escape(e)) => Err(e.to_string()),
            Err(ResolveError::Fs(e)) => Err(e.to_string()),
        }
    }

    #[test]
    fn chroot_and_refuse() {
        let image = tree(Confine::Chroot);
        assert_eq!(real(&image, &["lib"]), Ok(Some("usr/lib".into())));
        assert_eq!(
            real(&image, &["up", "lib"]),
            Ok(Some("usr/lib".into())),
            "`..` stops at the root"
        );
        assert_eq!(real(&image, &["rel"]), Ok(Some("usr/lib".into())));
        assert_eq!(real(&image, &["usr", "nope"]), Ok(None));
        assert!(
            real(&image, &["loop"])
                .unwrap_err()
                .contains("too many levels of symlinks")
        );
        let context = tree(Confine::Refuse);
        assert!(
            real(&context, &["lib"])
                .unwrap_err()
                .contains("`lib` -> `/usr/lib`")
        );
        assert!(
            real(&context, &["up"])
                .unwrap_err()
                .contains("`up` -> `../../usr`")
        );
        assert_eq!(real(&context, &["rel"]), Ok(Some("usr/lib".into())));
        // Without following the last component, a symlink is itself.
        let (path, entry) = resolve(&context, &["lib"], false).unwrap().unwrap();
        assert_eq!(
            (path.as_str(), entry.kind),
            (
                "lib",
                EntryKind::Symlink {
                    target: "/usr/lib".into()
                }
            )
        );
    }
}
