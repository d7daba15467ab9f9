//! `host-example`: serve sessions over HTTP, or sweep / count them from a cron job.

mod control;
mod hostlock;
mod locate;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use control::{Answer, ControlSocket};
use hostlock::HostLock;
use libsqlstore_host::connections::Limits;
use libsqlstore_host::options::{DEFAULT_REMOTE_INSTANCES, GUEST_DATA_DIR};
use libsqlstore_host::scheduler::{sweep_until_done, Schedule, Sweeper};
use libsqlstore_host::{datadir, server};
use libsqlstore_host::{
    ComponentStore, HostClock, Runtime, SessionConfig, SessionManager, StoreOptions,
};

#[derive(Parser)]
#[command(version, about = "A wasmtime host for the libsqlstore session-store component")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// `serve` is the default subcommand: `host-example --listen …` means `host-example serve
/// --listen …`.
fn parse_args() -> Command {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let explicit = args.get(1).and_then(|a| a.to_str()).is_some_and(|a| {
        ["serve", "sweep", "stats", "help", "--help", "-h", "--version", "-V"].contains(&a)
    });
    if !explicit {
        args.insert(1.min(args.len()), "serve".into());
    }
    Cli::parse_from(args).command
}

#[derive(Subcommand)]
enum Command {
    /// Serve /put, /get, /renew and /destroy over HTTP, sweeping on a timer (the default).
    Serve(ServeArgs),
    /// Sweep expired sessions now, batch after batch until none remain; print the total.
    /// Beside a running `serve` on the same data directory, asks that server to do it.
    Sweep(StoreArgs),
    /// Print the number of active and expired-but-stored sessions (through a running
    /// `serve` on the same data directory, if there is one).
    Stats(StoreArgs),
}

/// Where the sessions live; each becomes a `SESSIONS_*` variable for the component.
#[derive(Args, Clone)]
struct StoreArgs {
    /// Host directory holding the database, preopened as /data; created if missing.
    #[arg(long, default_value = "./data")]
    data_dir: PathBuf,
    /// Database file name inside the data directory, :memory:, or a libSQL server URL
    /// (http://host:port, https://…, libsql://… for Turso) shared by many hosts.
    #[arg(long, default_value = "sessions.db")]
    database: String,
    /// Auth token for a libSQL server (sent as a bearer token).
    #[arg(long, env = "SESSIONS_AUTH_TOKEN", hide_env_values = true)]
    auth_token: Option<String>,
    /// Table name (letters, digits, _).
    #[arg(long)]
    table: Option<String>,
    /// Most expired sessions one sweep call deletes.
    #[arg(long)]
    sweep_batch: Option<String>,
    /// About how long one sweep chunk (one transaction) may keep requests waiting on a
    /// database file, commit included (e.g. 10ms; 0 = the whole batch in one chunk). With
    /// exclusive locking a sweep call also starts no new chunk once it is spent.
    #[arg(long)]
    sweep_budget: Option<String>,
    /// Largest session data accepted, in bytes.
    #[arg(long)]
    max_data_bytes: Option<String>,
    /// How long a call waits for another instance's lock on the database (e.g. 5s).
    #[arg(long)]
    busy_timeout: Option<String>,
    /// exclusive: this process keeps the database file to itself while it runs (WAL, one
    /// fsync per commit, no lock-file I/O per call); shared: every call takes the lock
    /// file, so other processes (`stats`, a `wasmtime run` cron sweep, a Node host) can
    /// use the file at the same time. Default: exclusive for serve, shared for sweep and
    /// stats.
    #[arg(long, value_parser = ["exclusive", "shared"])]
    locking: Option<String>,
    /// With a libSQL server URL: most component instances serving the database at once,
    /// one call in flight each, so that calls overlap their round trips. A file or :memory:
    /// is always served by one instance.
    #[arg(long, default_value_t = DEFAULT_REMOTE_INSTANCES)]
    remote_instances: usize,
    /// The component to load (default: the build in this repository's target/).
    #[arg(long, env = "LIBSQLSTORE_COMPONENT")]
    component: Option<PathBuf>,
    /// Where the compiled component is kept between starts, so that only the first start of
    /// a component build compiles it (default: $XDG_CACHE_HOME/libsqlstore, else
    /// ~/.cache/libsqlstore).
    #[arg(long, env = "LIBSQLSTORE_COMPILE_CACHE")]
    compile_cache: Option<PathBuf>,
    /// Compile the component at every start; keep nothing compiled on disk.
    #[arg(long, conflicts_with = "compile_cache")]
    no_compile_cache: bool,
}

impl StoreArgs {
    /// True when the database is a file in the data directory (not `:memory:`, not a URL).
    fn is_local_file(&self) -> bool {
        self.database != ":memory:" && !self.database.contains("://")
    }
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Address to listen on (port 0 picks a free one; the chosen address is printed).
    #[arg(long, default_value = "127.0.0.1:4000")]
    listen: SocketAddr,
    /// Sweep this often (e.g. 30m); 0 turns the timer off. Default: the component's
    /// cleanup-interval (5m).
    #[arg(long, conflicts_with = "cleanup_cron")]
    cleanup_interval: Option<String>,
    /// Sweep at the times of this cron expression with seconds, e.g. "0 */5 * * * *" (UTC).
    #[arg(long)]
    cleanup_cron: Option<String>,
    /// Absolute session lifetime (e.g. 24h).
    #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
    lifetime: Duration,
    /// End sessions idle this long (e.g. 20m); off by default.
    #[arg(long, value_parser = humantime::parse_duration)]
    idle_timeout: Option<Duration>,
    /// Mark the cookie Secure (when served behind HTTPS).
    #[arg(long)]
    secure: bool,
    /// How long a client has to send a whole request head, from connecting or from the end
    /// of its previous response (so it also bounds an idle kept-alive connection).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    header_read_timeout: Duration,
    /// Most client connections open at once; past it the longest-idle one is closed.
    /// Default: the open-file limit less a reserve for the database and the runtime.
    #[arg(long)]
    max_connections: Option<usize>,
    /// On SIGINT/SIGTERM, how long requests in flight may take to finish before the server
    /// closes anyway (e.g. 10s).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    shutdown_timeout: Duration,
}

#[tokio::main]
async fn main() -> ExitCode {
    // Files the component creates (the database, its journal, lock files) are readable by
    // this user only: WASI gives the guest no file modes.
    // SAFETY: umask only sets the process's file-creation mask.
    unsafe { libc::umask(0o077) };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match parse_args() {
        Command::Serve(args) => serve(args).await,
        Command::Sweep(args) => sweep(args).await,
        Command::Stats(args) => stats(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("host-example: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The compiled-component cache: `--compile-cache`, else the user's cache directory; `None`
/// with `--no-compile-cache` or when there is no home to put it in.
fn compile_cache(args: &StoreArgs) -> Option<PathBuf> {
    if args.no_compile_cache {
        return None;
    }
    args.compile_cache.clone().or_else(|| {
        let xdg = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()).map(PathBuf::from);
        xdg.or_else(|| {
            std::env::var_os("HOME")
                .filter(|d| !d.is_empty())
                .map(|home| PathBuf::from(home).join(".cache"))
        })
        .map(|cache| cache.join("libsqlstore"))
    })
}

/// Loads the component and opens the store, checking that the database works.
/// `locking` is the `SESSIONS_LOCKING` used unless `--locking` says otherwise.
async fn open_store(
    args: &StoreArgs,
    locking: &str,
    extra_env: &[(&str, String)],
    clock: HostClock,
) -> Result<ComponentStore, String> {
    let path = match &args.component {
        Some(path) => path.clone(),
        None => locate::locate_component().map_err(|e| e.to_string())?,
    };
    let runtime = match compile_cache(args) {
        Some(dir) => {
            let (runtime, origin) = Runtime::load_cached(&path, &dir).map_err(|e| e.to_string())?;
            tracing::debug!(cache = %dir.display(), ?origin, "component loaded");
            runtime
        }
        None => Runtime::load(&path).map_err(|e| e.to_string())?,
    };
    let database = if args.is_local_file() {
        format!("{GUEST_DATA_DIR}/{}", args.database)
    } else {
        args.database.clone()
    };
    let remote_instances = args.remote_instances;
    let mut options =
        StoreOptions { clock, remote_instances, ..StoreOptions::in_dir(&args.data_dir) }
            .env("SESSIONS_DATABASE", database)
            .env("SESSIONS_LOCKING", args.locking.as_deref().unwrap_or(locking));
    for (name, value) in [
        ("SESSIONS_TABLE", &args.table),
        ("SESSIONS_SWEEP_BATCH", &args.sweep_batch),
        ("SESSIONS_SWEEP_BUDGET", &args.sweep_budget),
        ("SESSIONS_MAX_DATA_BYTES", &args.max_data_bytes),
        ("SESSIONS_BUSY_TIMEOUT", &args.busy_timeout),
        ("SESSIONS_AUTH_TOKEN", &args.auth_token),
    ] {
        if let Some(value) = value {
            options = options.env(name, value.clone());
        }
    }
    for (name, value) in extra_env {
        options = options.env(name, value.clone());
    }
    let store = ComponentStore::open(&runtime, options).map_err(|e| e.to_string())?;
    store
        .stats()
        .await
        .map_err(|e| format!("cannot use the database in {}: {e}", args.data_dir.display()))?;
    Ok(store)
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    datadir::prepare(&args.store.data_dir).map_err(|e| {
        format!("cannot create the data directory {}: {e}", args.store.data_dir.display())
    })?;
    // Many hosts may share a server; only a local file is served by one host at a time.
    let _host_lock = match args.store.is_local_file() {
        true => Some(HostLock::acquire(&args.store.data_dir).map_err(|e| e.to_string())?),
        false => None,
    };
    let mut extra_env = Vec::new();
    if let Some(interval) = &args.cleanup_interval {
        extra_env.push(("SESSIONS_CLEANUP_INTERVAL", interval.clone()));
    }
    let clock = HostClock::default();
    let store = open_store(&args.store, "exclusive", &extra_env, clock.clone()).await?;
    let schedule = match &args.cleanup_cron {
        Some(expr) => Some(Schedule::cron(expr)?),
        None => store.cleanup_interval().await.map_err(|e| e.to_string())?.map(Schedule::Every),
    };
    let sweeper = schedule.clone().map(|s| Sweeper::spawn(store.clone(), s));
    // `sweep` and `stats` from cron reach the file through this server while it runs.
    let control = match args.store.is_local_file() {
        true => Some(ControlSocket::spawn(&args.store.data_dir, store.clone()).map_err(|e| {
            format!("cannot open the control socket in {}: {e}", args.store.data_dir.display())
        })?),
        false => None,
    };
    let config = SessionConfig {
        lifetime: args.lifetime,
        idle_timeout: args.idle_timeout,
        secure: args.secure,
        ..SessionConfig::default()
    };
    let manager = SessionManager::new(store.clone(), config, clock);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!("listening on http://{addr}");
    tracing::info!(
        data_dir = %args.store.data_dir.display(),
        sweep = ?schedule.as_ref().map(describe),
        "serving sessions"
    );
    let defaults = Limits::default();
    let limits = Limits {
        header_read: args.header_read_timeout,
        max_connections: args.max_connections.unwrap_or(defaults.max_connections),
    };
    let stopping = std::sync::Arc::new(tokio::sync::Notify::new());
    let signalled = {
        let stopping = stopping.clone();
        async move {
            shutdown_signal().await;
            stopping.notify_one();
        }
    };
    tokio::select! {
        served = server::serve(listener, server::router(manager), limits, signalled) => {
            served.map_err(|e| format!("server error: {e}"))?;
        }
        () = async {
            stopping.notified().await;
            tokio::time::sleep(args.shutdown_timeout).await;
        } => {
            tracing::warn!(timeout = ?args.shutdown_timeout, "requests still in flight at the shutdown timeout: closing anyway");
        }
    }
    tracing::info!("shutting down: stopping the sweep timer and closing the database");
    drop(control);
    if let Some(sweeper) = sweeper {
        sweeper.stop().await;
    }
    store.close().await;
    Ok(())
}

/// True when a running `serve` holds this store's data directory: then only it may open
/// the file, and commands go through its control socket.
fn served_elsewhere(args: &StoreArgs) -> bool {
    args.is_local_file() && HostLock::is_held(&args.data_dir)
}

fn describe(schedule: &Schedule) -> String {
    match schedule {
        Schedule::Every(d) => format!("every {}", humantime::format_duration(*d)),
        Schedule::Cron(s) => format!("cron {s}"),
    }
}

async fn sweep(args: StoreArgs) -> Result<(), String> {
    if served_elsewhere(&args) {
        if let Answer::Sweep { removed, batches, ms } =
            control::ask(&args.data_dir, "sweep").await?
        {
            println!("removed {removed} expired sessions in {batches} batches ({ms} ms, by the running server)");
            return Ok(());
        }
        return Err("the running server answered a sweep with something else".into());
    }
    let store = open_store(&args, "shared", &[], HostClock::default()).await?;
    let run = sweep_until_done(&store).await.map_err(|e| e.to_string())?;
    store.close().await;
    println!(
        "removed {} expired sessions in {} batches ({} ms)",
        run.removed,
        run.batches,
        run.elapsed.as_millis()
    );
    Ok(())
}

async fn stats(args: StoreArgs) -> Result<(), String> {
    if served_elsewhere(&args) {
        if let Answer::Stats { active, expired } = control::ask(&args.data_dir, "stats").await? {
            println!("active: {active}\nexpired: {expired}");
            return Ok(());
        }
        return Err("the running server answered stats with something else".into());
    }
    let store = open_store(&args, "shared", &[], HostClock::default()).await?;
    let counts = store.stats().await.map_err(|e| e.to_string())?;
    store.close().await;
    println!("active: {}\nexpired: {}", counts.active, counts.expired);
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
