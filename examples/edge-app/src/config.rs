//! The app's own settings, read from the environment (`wasi:cli/environment`; with
//! `wasmtime serve`, `--env`). The store reads its `SESSIONS_*` variables itself.

use std::time::Duration;

/// Absolute session lifetime when `EDGE_SESSION_LIFETIME` is unset.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// Name of the variable that sets the absolute session lifetime (e.g. `30m`, `24h`).
pub const LIFETIME_VAR: &str = "EDGE_SESSION_LIFETIME";

/// Name of the variable that sets the idle timeout (e.g. `20m`): a session neither read nor
/// written that long ends. Unset: sessions end at their absolute deadline only.
pub const IDLE_TIMEOUT_VAR: &str = "EDGE_SESSION_IDLE_TIMEOUT";

/// The longest idle timeout the store takes (100 years).
const MAX_IDLE_TIMEOUT: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// The session settings.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// How long after its creation a session ends, whatever its activity.
    pub lifetime: Duration,
    /// How long without a read or write a session ends after, if set (the store slides it).
    pub idle_timeout: Option<Duration>,
}

/// The settings, or a message naming the variable whose value is malformed.
pub fn settings() -> Result<Settings, String> {
    Ok(Settings {
        lifetime: duration(LIFETIME_VAR)?.unwrap_or(DEFAULT_LIFETIME),
        idle_timeout: match duration(IDLE_TIMEOUT_VAR)? {
            Some(d) if d > MAX_IDLE_TIMEOUT => {
                return Err(format!("{IDLE_TIMEOUT_VAR}: must be at most 100 years"))
            }
            idle => idle,
        },
    })
}

/// The duration the variable `name` holds, none when it is unset.
fn duration(name: &str) -> Result<Option<Duration>, String> {
    match std::env::var(name) {
        Err(_) => Ok(None),
        Ok(value) => match humantime::parse_duration(value.trim()) {
            Ok(d) if !d.is_zero() => Ok(Some(d)),
            Ok(_) => Err(format!("{name}={value:?}: must be longer than zero")),
            Err(e) => Err(format!("{name}={value:?}: {e}; use a duration such as 30m or 24h")),
        },
    }
}
