//! Logs go to stderr through `tracing`; stdout is kept for results.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Sets up logging from -v/--debug, unless RUST_LOG says otherwise.
pub fn init(verbose: u8, debug: bool) {
    let default = match (debug, verbose) {
        (true, _) | (false, 2..) => "multiarch=trace,multiarch_core=trace,debug",
        (false, 1) => "multiarch=debug,multiarch_core=debug,warn",
        (false, 0) => "multiarch=info,multiarch_core=info,warn",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .with_target(debug || verbose > 0);
    if debug {
        builder.init();
    } else {
        builder.without_time().compact().init();
    }
}
