# workerd configuration of the sessions Worker, for running it locally (serve.sh) and in the
# tests; wrangler.toml describes the same Worker for deploying to Cloudflare.
#
#   workerd serve --experimental config.capnp -s http=127.0.0.1:8787 -s scheduled=127.0.0.1:0
#
# Paths are relative to this file; `npm run build` writes dist/. The bindings take their
# values from workerd's environment: SESSIONS_DATABASE (a libSQL server URL, or :memory:),
# SESSIONS_AUTH_TOKEN and the other store settings below, EDGE_SESSION_LIFETIME,
# EDGE_SESSION_IDLE_TIMEOUT, and EDGE_POOL_SIZE / EDGE_POOL_WAIT; an unset
# variable leaves its binding null (the default applies).
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "sessions", worker = .sessionsWorker),
    (name = "scheduler", worker = .schedulerWorker),
    # The Worker's fetch() (the store's requests to the libSQL server) may reach loopback
    # and private addresses: a local sqld. workerd's default allows public addresses only.
    (name = "network", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [
    (name = "http", address = "127.0.0.1:8787", http = (), service = "sessions"),
    # Any request here runs the Worker's scheduled() handler, as a Cron Trigger does on
    # Cloudflare; loopback only.
    (name = "scheduled", address = "127.0.0.1:0", http = (), service = "scheduler"),
  ],
);

const sessionsWorker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "dist/worker.js"),
    # The component's core modules, compiled when workerd loads the Worker: Workers may not
    # compile WebAssembly at run time. scripts/build.js checks this list against jco's output.
    (name = "libsqlstore.core.wasm", wasm = embed "dist/libsqlstore.core.wasm"),
    (name = "libsqlstore.core2.wasm", wasm = embed "dist/libsqlstore.core2.wasm"),
    (name = "libsqlstore.core3.wasm", wasm = embed "dist/libsqlstore.core3.wasm"),
  ],
  compatibilityDate = "2026-11-01",
  bindings = [
    (name = "SESSIONS_DATABASE", fromEnvironment = "SESSIONS_DATABASE"),
    (name = "SESSIONS_AUTH_TOKEN", fromEnvironment = "SESSIONS_AUTH_TOKEN"),
    (name = "SESSIONS_REMOTE_TIMEOUT", fromEnvironment = "SESSIONS_REMOTE_TIMEOUT"),
    (name = "SESSIONS_TABLE", fromEnvironment = "SESSIONS_TABLE"),
    (name = "SESSIONS_SWEEP_BATCH", fromEnvironment = "SESSIONS_SWEEP_BATCH"),
    (name = "SESSIONS_MAX_DATA_BYTES", fromEnvironment = "SESSIONS_MAX_DATA_BYTES"),
    (name = "EDGE_SESSION_LIFETIME", fromEnvironment = "EDGE_SESSION_LIFETIME"),
    (name = "EDGE_SESSION_IDLE_TIMEOUT", fromEnvironment = "EDGE_SESSION_IDLE_TIMEOUT"),
    # The store instances the Worker holds, and how long a request waits for one.
    (name = "EDGE_POOL_SIZE", fromEnvironment = "EDGE_POOL_SIZE"),
    (name = "EDGE_POOL_WAIT", fromEnvironment = "EDGE_POOL_WAIT"),
    # `hono`: serve the routes through the Hono middleware (libsqlstore/hono).
    (name = "EDGE_APP", fromEnvironment = "EDGE_APP"),
  ],
  globalOutbound = "network",
);

# Turns a request into a scheduled event for the sessions Worker, through a service binding
# (Fetcher.scheduled needs the experimental `service_binding_extra_handlers` flag, hence
# `workerd serve --experimental`). Answers the handler's outcome as JSON.
const schedulerWorker :Workerd.Worker = (
  modules = [(name = "scheduler.js", esModule = embed "src/scheduler.js")],
  compatibilityDate = "2026-11-01",
  compatibilityFlags = ["experimental", "service_binding_extra_handlers"],
  bindings = [(name = "SESSIONS", service = "sessions")],
);
