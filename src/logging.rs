//! Structured logs with `tracing`: JSON or text, filtered by `RUST_LOG`.

use tessera_config::{LogFormat, Settings};
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Logs go to stderr so command output (secrets printed once,
/// `--json`) stays clean on stdout.
pub fn init(settings: &Settings) {
    let filter = EnvFilter::try_new(&settings.rust_log).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match settings.log_format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).with_span_list(false).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
