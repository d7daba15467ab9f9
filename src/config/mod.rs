//! The component's configuration, read from `SESSIONS_*` environment variables
//! (`wasi:cli/environment` inside the component).
//!
//! Parsing is pure: [`Config::from_vars`] takes the variables as pairs, so every rule is
//! unit-tested natively. A malformed value is an `InvalidConfig` error that names the
//! variable and says what would be accepted.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::schema::TableName;

/// Where sessions live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// `:memory:`: private to one component instance, gone with it.
    Memory,
    /// A libSQL file; inside the component its directory must be preopened by the host.
    File(PathBuf),
    /// A libSQL server (`sqld`, Turso) spoken to with Hrana over HTTP: the base URL, with
    /// `libsql://` already turned into `https://`.
    Remote(String),
}

/// Who may use a database file while this instance lives (`SESSIONS_LOCKING`). See
/// [docs/durability.md](../docs/durability.md#locking-modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Locking {
    /// `shared` (default): every operation is one transaction under the lock file, so any
    /// number of instances, in any number of processes, take turns on the file.
    #[default]
    Shared,
    /// `exclusive`: the instance takes the lock file at open and keeps it for its life;
    /// SQLite runs in WAL mode (one fsync per commit). Others get `Unavailable` after the
    /// busy timeout; the lock is never taken for abandoned by age.
    Exclusive,
}

/// A secret setting (the auth token). Its `Debug` form is `***`, so nothing printed from
/// a [`Config`] shows it; [`Secret::expose`] hands the value to the one place that sends it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Validated settings. Defaults are the `DEFAULT_*` constants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub database: Database,
    pub table: TableName,
    /// How often the host should sweep; `None` disables cleanup.
    pub cleanup_interval: Option<Duration>,
    /// Most expired rows one `sweep` call deletes (one short transaction).
    pub sweep_batch: u32,
    /// How long a `sweep` call on a database file should take, commit included: it
    /// deletes as many rows as its last full call's rate says fit (`None`: the whole
    /// batch). Bounds how long requests queued behind a sweep wait, whatever the table's
    /// size and the disk's speed.
    pub sweep_budget: Option<Duration>,
    /// Largest session data accepted by `commit` and `create`, in bytes.
    pub max_data_bytes: u64,
    /// How long an operation waits for another instance's lock on a database file before
    /// it gives up with `Unavailable`.
    pub busy_timeout: Duration,
    /// Shared (per-operation) or exclusive (per-instance) use of a database file.
    pub locking: Locking,
    /// Bearer token for a remote server (`SESSIONS_AUTH_TOKEN`). Never part of any
    /// message; refused with a plain `http://` URL to anything but a loopback host.
    pub auth_token: Option<Secret>,
    /// Bound on a whole remote call: connecting, sending the request, and reading the
    /// answer to its last byte. A server that is down, wedged or merely slow (trickling
    /// its answer) turns into `Unavailable` once it has passed.
    pub remote_timeout: Duration,
    /// Largest answer, in bytes, read from a remote server for one call; a larger one is
    /// a `Storage` error (nothing is allocated beyond it). Never below what one session
    /// of `max_data_bytes` needs (see [`remote_answer_floor`]).
    pub remote_max_response: u64,
    /// The host's liveness tag (`SESSIONS_LOCK_OWNER`, `flock:<db>-owner-<id>`), written into
    /// lock files so that any host able to take OS locks can tell once their holder's process
    /// has exited (see [Liveness](../docs/durability.md#liveness)).
    pub lock_owner: Option<String>,
    /// How stale a session's last-seen time may grow before a read records it again
    /// (`SESSIONS_LAST_SEEN_INTERVAL`): at most one such write per session per interval.
    pub last_seen_interval: Duration,
}

/// Where hosts preopen the data directory in the guest; [`DEFAULT_DATABASE`] lies in it.
pub const DATA_DIR: &str = "/data";
pub const DEFAULT_DATABASE: &str = "/data/sessions.db";
/// Defined with the table layout (`schema`); listed here with the other defaults.
pub use crate::schema::DEFAULT_TABLE;
pub const DEFAULT_CLEANUP_INTERVAL: Duration = Duration::from_secs(5 * 60);
/// 1,000 rows: a batch deletes in a few milliseconds, so finds running between batches
/// never wait long, while a sweep still clears hundreds of thousands of rows a second.
pub const DEFAULT_SWEEP_BATCH: u32 = 1000;
/// A sweep chunk's target duration: a request queued behind a chunk waits about this long.
/// A random-access delete on a large table is slow enough that a whole default batch in one
/// transaction would hold the file longer (bench/README.md, "Why the settings are what they
/// are").
pub const DEFAULT_SWEEP_BUDGET: Duration = Duration::from_millis(10);
pub const DEFAULT_MAX_DATA_BYTES: u64 = 1_048_576;
/// A minute: a devices page shows "last seen" to the minute, and a busy session costs one
/// write a minute, not one per request.
pub const DEFAULT_LAST_SEEN_INTERVAL: Duration = Duration::from_secs(60);
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Bound on one whole remote call, connect to last byte: a server that is down, wedged or
/// trickling turns into `Unavailable` within this bound.
pub const DEFAULT_REMOTE_TIMEOUT: Duration = Duration::from_secs(5);
/// 64 MiB: `find`/`page` answers are far below it; an `all()` answer (every active
/// session's data, base64 in JSON, ~4/3 of the raw bytes) reaches it near 48 MiB of
/// session data. Parsing holds about three copies of an answer in the guest's memory, so
/// this keeps a call near 200 MiB whatever the server sends. Stores larger than that
/// list with `page`.
pub const DEFAULT_REMOTE_MAX_RESPONSE: u64 = 64 << 20;

/// Upper bounds that keep a typo from turning into an unbounded transaction or a blob
/// SQLite refuses (its default SQLITE_MAX_LENGTH is 10^9 bytes).
const MAX_SWEEP_BATCH: u32 = 1_000_000;
const MAX_DATA_BYTES_LIMIT: u64 = 1_000_000_000;

/// The range of each duration setting (`SESSIONS_*`, as humantime reads them: `500ms`, `5s`,
/// `1h`). The cleanup interval and the sweep budget also take `0` for none.
struct DurationRange {
    min: Duration,
    max: Duration,
    example: &'static str,
}

const CLEANUP_INTERVAL_RANGE: DurationRange =
    DurationRange { min: Duration::from_millis(1), max: Duration::MAX, example: "30s, 5m or 1h" };
const SWEEP_BUDGET_RANGE: DurationRange =
    DurationRange { min: Duration::from_millis(1), max: Duration::from_secs(600), example: "10ms" };
/// `0`: fail at once when the lock is taken.
const BUSY_TIMEOUT_RANGE: DurationRange =
    DurationRange { min: Duration::ZERO, max: Duration::from_secs(600), example: "500ms or 5s" };
const REMOTE_TIMEOUT_RANGE: DurationRange =
    DurationRange { min: Duration::from_millis(10), max: Duration::from_secs(600), example: "2s" };
/// `0`: every read records the time (a write per read).
const LAST_SEEN_INTERVAL_RANGE: DurationRange =
    DurationRange { min: Duration::ZERO, max: Duration::from_secs(86_400), example: "60s" };
/// 1 GiB: three copies of a larger answer would not fit a 32-bit guest's 4 GiB.
const MAX_REMOTE_MAX_RESPONSE: u64 = 1 << 30;

/// The smallest answer limit that still carries one session of `max_data_bytes`: its
/// data in base64 (4 bytes per 3) plus 64 KiB for the token, the JSON envelope and the
/// schema results of an instance's first call.
pub fn remote_answer_floor(max_data_bytes: u64) -> u64 {
    max_data_bytes.div_ceil(3) * 4 + (64 << 10)
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database: Database::File(PathBuf::from(DEFAULT_DATABASE)),
            table: TableName::default(),
            cleanup_interval: Some(DEFAULT_CLEANUP_INTERVAL),
            sweep_batch: DEFAULT_SWEEP_BATCH,
            sweep_budget: Some(DEFAULT_SWEEP_BUDGET),
            max_data_bytes: DEFAULT_MAX_DATA_BYTES,
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
            locking: Locking::Shared,
            auth_token: None,
            remote_timeout: DEFAULT_REMOTE_TIMEOUT,
            remote_max_response: DEFAULT_REMOTE_MAX_RESPONSE,
            lock_owner: None,
            last_seen_interval: DEFAULT_LAST_SEEN_INTERVAL,
        }
    }
}

impl Config {
    /// Reads the process (or component instance) environment.
    pub fn from_env() -> Result<Config> {
        Config::from_vars(std::env::vars())
    }

    /// Builds a configuration from `(name, value)` pairs; unknown names are ignored, a
    /// later duplicate wins. The first malformed variable is reported, then rules that
    /// join two variables (a token over plain `http://`, an answer limit below one session).
    pub fn from_vars<I, K, V>(vars: I) -> Result<Config>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut config = Config::default();
        let mut max_response = None;
        for (name, value) in vars {
            let (name, value) = (name.as_ref(), value.as_ref().trim());
            match name {
                "SESSIONS_DATABASE" => config.database = parse_database(value)?,
                "SESSIONS_TABLE" => {
                    config.table =
                        TableName::new(value).map_err(|why| invalid(name, value, &why))?
                }
                "SESSIONS_CLEANUP_INTERVAL" => {
                    config.cleanup_interval =
                        parse_duration_or_none(name, value, &CLEANUP_INTERVAL_RANGE)?
                }
                "SESSIONS_SWEEP_BATCH" => {
                    config.sweep_batch = parse_bounded(name, value, 1, MAX_SWEEP_BATCH.into())?
                        .try_into()
                        .map_err(|_| invalid(name, value, "too large"))?
                }
                "SESSIONS_SWEEP_BUDGET" => {
                    config.sweep_budget = parse_duration_or_none(name, value, &SWEEP_BUDGET_RANGE)?
                }
                "SESSIONS_MAX_DATA_BYTES" => {
                    config.max_data_bytes = parse_bounded(name, value, 1, MAX_DATA_BYTES_LIMIT)?
                }
                "SESSIONS_BUSY_TIMEOUT" => {
                    config.busy_timeout = parse_duration(name, value, &BUSY_TIMEOUT_RANGE)?
                }
                "SESSIONS_LAST_SEEN_INTERVAL" => {
                    config.last_seen_interval =
                        parse_duration(name, value, &LAST_SEEN_INTERVAL_RANGE)?
                }
                "SESSIONS_LOCKING" => config.locking = parse_locking(value)?,
                "SESSIONS_LOCK_OWNER" => config.lock_owner = parse_lock_owner(value)?,
                "SESSIONS_AUTH_TOKEN" => config.auth_token = parse_auth_token(value)?,
                "SESSIONS_REMOTE_TIMEOUT" => {
                    config.remote_timeout = parse_duration(name, value, &REMOTE_TIMEOUT_RANGE)?
                }
                "SESSIONS_REMOTE_MAX_RESPONSE" => {
                    max_response = Some(parse_bounded(name, value, 1, MAX_REMOTE_MAX_RESPONSE)?)
                }
                _ => {}
            }
        }
        check_token_transport(&config)?;
        let floor = remote_answer_floor(config.max_data_bytes);
        config.remote_max_response = match max_response {
            Some(limit) if limit < floor => {
                return Err(Error::InvalidConfig(format!(
                    "SESSIONS_REMOTE_MAX_RESPONSE={limit}: below the {floor} bytes one session of \
                     SESSIONS_MAX_DATA_BYTES={} needs in a server's answer; raise it or lower \
                     SESSIONS_MAX_DATA_BYTES",
                    config.max_data_bytes
                )))
            }
            Some(limit) => limit,
            None => DEFAULT_REMOTE_MAX_RESPONSE.max(floor),
        };
        Ok(config)
    }
}

fn invalid(name: &str, value: &str, why: &str) -> Error {
    Error::InvalidConfig(format!("{name}={value:?}: {why}"))
}

/// `value` as it may appear in a message. A URL (anything with `://`) loses its
/// credentials — everything up to its last `@`, so a password holding `/`, `?` or `@`
/// goes too — and its query and fragment (`?authToken=…`), each replaced by `***`; a
/// scheme that is not a plain scheme name is replaced as well. Values without `://`
/// (file paths) are returned unchanged. Every message that quotes `SESSIONS_DATABASE`
/// or a server URL passes it through here.
pub fn redact_url(value: &str) -> String {
    let Some(scheme_end) = value.find("://") else {
        return value.to_owned();
    };
    let scheme = &value[..scheme_end];
    let scheme = if !scheme.is_empty()
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    {
        scheme
    } else {
        "***"
    };
    let rest = &value[scheme_end + 3..];
    let (userinfo, rest) = match rest.rfind('@') {
        Some(at) => ("***@", &rest[at + 1..]),
        None => ("", rest),
    };
    let (location, tail) = match rest.find(['?', '#']) {
        Some(i) => (&rest[..i], format!("{}***", &rest[i..i + 1])),
        None => (rest, String::new()),
    };
    format!("{scheme}://{userinfo}{location}{tail}")
}

/// A URL-aware [`invalid`] for `SESSIONS_DATABASE`: the value is redacted first.
fn invalid_database(value: &str, why: &str) -> Error {
    invalid("SESSIONS_DATABASE", &redact_url(value), why)
}

/// Whether `host` (a URL's `host[:port]`) is this machine: 127.0.0.0/8, `::1` (also as
/// an IPv4-mapped address) or `localhost`.
fn is_loopback_host(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or(""),
        None => authority.rsplit_once(':').map_or(authority, |(host, _port)| host),
    };
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(ip)) => ip.is_loopback(),
        Ok(std::net::IpAddr::V6(ip)) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => false,
    }
}

/// A bearer token travels in clear over plain `http://`: allowed only to a loopback
/// server (a local sqld), refused for any other host.
fn check_token_transport(config: &Config) -> Result<()> {
    let (Database::Remote(url), Some(_)) = (&config.database, &config.auth_token) else {
        return Ok(());
    };
    match url.strip_prefix("http://") {
        Some(authority) if !is_loopback_host(authority) => Err(Error::InvalidConfig(format!(
            "SESSIONS_DATABASE={}: SESSIONS_AUTH_TOKEN would travel unencrypted over http:// to a \
             host other than this machine; use https:// or libsql:// (http:// with a token is \
             allowed only for 127.0.0.0/8, ::1 and localhost)",
            redact_url(url)
        ))),
        _ => Ok(()),
    }
}

fn parse_database(value: &str) -> Result<Database> {
    if value.is_empty() {
        return Err(invalid_database(
            value,
            "empty; give a file path such as /data/sessions.db, or :memory:",
        ));
    }
    if value == ":memory:" {
        return Ok(Database::Memory);
    }
    let lower = value.to_ascii_lowercase();
    if let Some(scheme_end) = lower.find("://") {
        return parse_remote_url(value, &lower[..scheme_end]).map(Database::Remote);
    }
    if value.contains('\0') {
        return Err(invalid_database(value, "a path cannot contain a NUL byte"));
    }
    Ok(Database::File(PathBuf::from(value)))
}

/// Accepts `http://host[:port]`, `https://…` and `libsql://…` (which means https), with no
/// path beyond `/`, query or credentials; returns the base URL without a trailing slash,
/// which therefore never holds a secret. Messages quote `value` redacted.
fn parse_remote_url(value: &str, scheme: &str) -> Result<String> {
    let rest = &value[scheme.len() + 3..];
    let base_scheme = match scheme {
        "http" => "http",
        "https" | "libsql" => "https",
        _ => {
            return Err(invalid_database(
                value,
                "unknown scheme; use http://, https:// or libsql:// for a libSQL server",
            ))
        }
    };
    let host = rest.strip_suffix('/').unwrap_or(rest);
    if host.is_empty() {
        return Err(invalid_database(value, "the URL has no host"));
    }
    if host.contains(['/', '?', '#', '@']) || !host.chars().all(|c| c.is_ascii_graphic()) {
        return Err(invalid_database(
            value,
            "give only scheme, host and port (e.g. http://127.0.0.1:8080); put credentials in SESSIONS_AUTH_TOKEN",
        ));
    }
    Ok(format!("{base_scheme}://{host}"))
}

fn parse_auth_token(value: &str) -> Result<Option<Secret>> {
    if value.is_empty() {
        return Ok(None);
    }
    if !value.chars().all(|c| c.is_ascii_graphic()) {
        // Never echo a secret into an error message.
        return Err(Error::InvalidConfig(
            "SESSIONS_AUTH_TOKEN: contains spaces or non-ASCII characters; give the bare token"
                .into(),
        ));
    }
    Ok(Some(Secret(value.to_owned())))
}

/// A duration within `range`.
fn parse_duration(name: &str, value: &str, range: &DurationRange) -> Result<Duration> {
    duration_in(name, value, range, "")
}

/// A duration within `range`, or `None` for `0` (any zero duration).
fn parse_duration_or_none(
    name: &str,
    value: &str,
    range: &DurationRange,
) -> Result<Option<Duration>> {
    match humantime::parse_duration(value) {
        Ok(zero) if zero.is_zero() => Ok(None),
        _ => duration_in(name, value, range, ", or 0 for none").map(Some),
    }
}

fn duration_in(name: &str, value: &str, range: &DurationRange, or_none: &str) -> Result<Duration> {
    let duration = humantime::parse_duration(value).map_err(|e| {
        invalid(name, value, &format!("{e}; use a duration such as {}{or_none}", range.example))
    })?;
    if duration < range.min || duration > range.max {
        let min = humantime::format_duration(range.min);
        let bounds = match range.max {
            Duration::MAX => format!("{min} or longer"),
            max => format!("{min} to {}", humantime::format_duration(max)),
        };
        return Err(invalid(name, value, &format!("out of range; use {bounds}{or_none}")));
    }
    Ok(duration)
}

fn parse_locking(value: &str) -> Result<Locking> {
    match value {
        "shared" => Ok(Locking::Shared),
        "exclusive" => Ok(Locking::Exclusive),
        _ => Err(invalid("SESSIONS_LOCKING", value, "use shared or exclusive")),
    }
}

fn parse_lock_owner(value: &str) -> Result<Option<String>> {
    const NAME: &str = "SESSIONS_LOCK_OWNER";
    if value.is_empty() {
        return Ok(None);
    }
    if value.len() > 128 || !value.chars().all(|c| c.is_ascii_graphic()) {
        return Err(invalid(
            NAME,
            value,
            "use at most 128 printable ASCII characters without spaces",
        ));
    }
    Ok(Some(value.to_owned()))
}

fn parse_bounded(name: &str, value: &str, min: u64, max: u64) -> Result<u64> {
    let n: u64 = value
        .parse()
        .map_err(|_| invalid(name, value, &format!("not a whole number from {min} to {max}")))?;
    if !(min..=max).contains(&n) {
        return Err(invalid(name, value, &format!("out of range; use {min} to {max}")));
    }
    Ok(n)
}

#[cfg(test)]
mod tests;
