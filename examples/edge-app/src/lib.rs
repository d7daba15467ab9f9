//! An HTTP app for edge runtimes: a `wasi:http/incoming-handler` that serves `/put`,
//! `/get`, `/renew` and `/destroy` with a session cookie, plus the logged-in user's
//! `/login?user=NAME`, `/devices` and `/logout-everywhere`, and keeps the sessions in the
//! `edge:sessions/store` interface it imports. Reads answer GET and HEAD; the routes that
//! end, rotate or log in a session answer POST only; `/put` answers GET and POST; any other
//! method is 405 (`session_core::Route`, see `routes`).
//!
//! The import is satisfied by composing this component with the libsqlstore session-store
//! component (`wac plug`, see `serve.sh`); the result is one component that any wasi:http
//! host (`wasmtime serve`) runs. Such hosts instantiate per request, so nothing here lives
//! longer than one request: everything that must persist is in the store.
//!
//! The session logic (stored record, cookie, what a save does) is `session-core`, shared
//! with `host-example`, so the edge app and the host example can share one database.

mod config;
mod http;
mod routes;
mod session;

/// Bindings for the imported session store; the WIT is the repository's own `wit/`.
mod bindings {
    wit_bindgen::generate!({
        inline: "package edge:app; world app { import edge:sessions/store@0.2.2; }",
        path: "../../wit",
        world: "edge:app/app",
        generate_all,
    });
}

use wasip2::exports::http::incoming_handler::Guest;
use wasip2::http::types::{IncomingRequest, ResponseOutparam};

struct App;

impl Guest for App {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let request = http::Request::read(&request);
        http::send(routes::respond(&request), response_out);
    }
}

wasip2::http::proxy::export!(App);
