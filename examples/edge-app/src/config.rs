//! The app's own settings, read from the environment (`wasi:cli/environment`; with
//! `wasmtime serve`, `--env`). The store reads its `SESSIONS_*` variables itself.

use std::time::Duration;

/// Absolute session lifetime when `EDGE_SESSION_LIFETIME` is unset.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// Name of the variable that sets the absolute session lifetime (e.g. `30m`, `24h`).
pub const LIFETIME_VAR: &str = "EDGE_SESSION_LIFETIME";

/// The session lifetime, or a message naming the variable when its value is malformed.
pub fn lifetime() -> Result<Duration, String> {
    match std::env::var(LIFETIME_VAR) {
        Err(_) => Ok(DEFAULT_LIFETIME),
        Ok(value) => match humantime::parse_duration(value.trim()) {
            Ok(d) if !d.is_zero() => Ok(d),
            Ok(_) => Err(format!("{LIFETIME_VAR}={value:?}: must be longer than zero")),
            Err(e) => {
                Err(format!("{LIFETIME_VAR}={value:?}: {e}; use a duration such as 30m or 24h"))
            }
        },
    }
}
