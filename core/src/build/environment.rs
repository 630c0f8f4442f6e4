//! Build settings read from the environment, shared by every front end (the CLI and the CI
//! adapters) so that they behave the same.

use std::path::PathBuf;

use super::BuildError;

/// `SOURCE_DATE_EPOCH` (whole seconds since 1970-01-01), 0 when unset or empty.
pub fn source_date_epoch() -> Result<u64, BuildError> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(value) if !value.trim().is_empty() => value
            .trim()
            .parse()
            .map_err(|_| BuildError::SourceDateEpoch { value }),
        _ => Ok(0),
    }
}

/// The layer cache directory: `MULTIARCH_CACHE_DIR`, else `$XDG_CACHE_HOME/multiarch`, else
/// `~/.cache/multiarch`; `None` when none of them is set.
pub fn default_cache_dir() -> Option<PathBuf> {
    let from_env = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    from_env("MULTIARCH_CACHE_DIR")
        .or_else(|| from_env("XDG_CACHE_HOME").map(|d| d.join("multiarch")))
        .or_else(|| from_env("HOME").map(|d| d.join(".cache").join("multiarch")))
}
