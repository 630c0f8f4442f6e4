//! A mistake in what the user asked for (arguments, CI inputs, Task params), as opposed to a
//! failure while doing it. Every front end (the CLI and the CI adapters) raises this one type,
//! and the binary exits with 2 for it.

/// The message says what was expected, what was found and what to do.
#[derive(Debug)]
pub struct UsageError(String);

impl UsageError {
    pub fn new(message: impl Into<String>) -> Self {
        UsageError(message.into())
    }
}

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}
