//! An HTTP app for edge runtimes: a `wasi:http/incoming-handler` that serves `/put`,
//! `/get`, `/set`, `/renew` and `/destroy` with a session cookie, plus the logged-in user's
//! `/login?user=NAME`, `/devices` and `/logout-everywhere`, and keeps the sessions in the
//! `edge:sessions/store@0.3.0` interface it imports. Reads answer GET and HEAD; `/set` and
//! the routes that end, rotate or log in a session answer POST only; `/put` answers GET and
//! POST; any other method is 405 (`session_core::Route`, see `routes`).
//!
//! The import is satisfied by composing this component with the libsqlstore session-store
//! component (`wac plug`, see `serve.sh`), which exports store@0.3.0; the result is one
//! component that a WASI 0.3 (wasi:http 0.3) host runs: `wasmtime serve` reuses an instance
//! for many requests, several at once, so the store's open database and prepared statements
//! outlive a request, and the writes of requests served at once share one `write-all`
//! transaction (`batch`); requests of one instance that save the same session take turns
//! (`turn`), and a save that loses to another instance's retries after a random pause
//! (`backoff`).
//!
//! The session logic (stored record, cookie, the steps of a save) is `session-core`, shared
//! with `host-example`, so the edge app and the host example can share one database.

mod backoff;
mod batch;
mod config;
mod http;
mod routes;
mod session;
mod turn;

/// Bindings for the imported session store (0.3); the WIT is the repository's own `wit/v0.3`.
mod bindings {
    wit_bindgen::generate!({
        inline: "package edge:app; world app { import edge:sessions/store@0.3.0; }",
        path: "../../wit/v0.3",
        world: "edge:app/app",
        generate_all,
    });
    // The 0.2.2 package is in the resolve too (0.3's WIT names it), so wit-bindgen puts the
    // version into the module's name.
    pub use self::edge::sessions0_3_0::{store, types};
}

use wasip3::exports::http::handler::Guest;
use wasip3::http::types::{ErrorCode, Request, Response};

struct App;

impl Guest for App {
    async fn handle(request: Request) -> Result<Response, ErrorCode> {
        let request = http::Request::read(&request);
        http::send(routes::respond(&request).await)
    }
}

wasip3::http::service::export!(App);
