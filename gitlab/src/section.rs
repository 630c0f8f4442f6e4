//! Collapsible sections of the job log.
//!
//! GitLab folds the lines between `\e[0Ksection_start:<unix time>:<name>[collapsed=true]\r\e[0K`
//! `<header>` and `\e[0Ksection_end:<unix time>:<name>\r\e[0K` into one line, with the time
//! spent. The markers go to stdout, where the job log reads them; multiarch logs to stderr,
//! which GitLab interleaves into the same log.

use std::io::Write;

/// An open section, closed when dropped (also when an error unwinds out of it).
#[derive(Debug)]
pub struct Section<W: Write = std::io::Stdout> {
    name: String,
    out: W,
}

impl Section {
    /// Opens a collapsed section on stdout.
    pub fn start(name: &str, header: &str) -> Section {
        Section::start_on(std::io::stdout(), name, header)
    }
}

impl<W: Write> Section<W> {
    pub fn start_on(mut out: W, name: &str, header: &str) -> Section<W> {
        let name = section_name(name);
        let _ = writeln!(out, "{}", start_line(crate::pipeline::now(), &name, header));
        let _ = out.flush();
        Section { name, out }
    }
}

impl<W: Write> Drop for Section<W> {
    fn drop(&mut self) {
        let _ = writeln!(self.out, "{}", end_line(crate::pipeline::now(), &self.name));
        let _ = self.out.flush();
    }
}

fn start_line(time: i64, name: &str, header: &str) -> String {
    // The header is one line: a line break would end the marker early.
    let header: String = header
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    format!("\x1b[0Ksection_start:{time}:{name}[collapsed=true]\r\x1b[0K{header}")
}

fn end_line(time: i64, name: &str) -> String {
    format!("\x1b[0Ksection_end:{time}:{name}\r\x1b[0K")
}

/// A section name GitLab accepts: letters, digits, `_`, `.` and `-`.
fn section_name(name: &str) -> String {
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() {
        "multiarch".to_owned()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_gitlabs() {
        assert_eq!(
            start_line(1_700_000_000, "multiarch_build", "Build linux/arm64\nfor x"),
            "\x1b[0Ksection_start:1700000000:multiarch_build[collapsed=true]\r\x1b[0KBuild linux/arm64 for x"
        );
        assert_eq!(
            end_line(1_700_000_009, "multiarch_build"),
            "\x1b[0Ksection_end:1700000009:multiarch_build\r\x1b[0K"
        );
        assert_eq!(section_name("build linux/arm64"), "build_linux_arm64");
    }

    #[test]
    fn a_section_closes_when_dropped() {
        let mut log = Vec::new();
        {
            let _section = Section::start_on(&mut log, "multiarch merge", "Merge");
        }
        let log = String::from_utf8(log).unwrap();
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(lines.len(), 2, "{log:?}");
        assert!(lines[0].starts_with("\x1b[0Ksection_start:"), "{log:?}");
        assert!(lines[0].ends_with(":multiarch_merge[collapsed=true]\r\x1b[0KMerge"));
        assert!(lines[1].starts_with("\x1b[0Ksection_end:"), "{log:?}");
        assert!(lines[1].ends_with(":multiarch_merge\r\x1b[0K"));
    }
}
