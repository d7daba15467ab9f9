//! The store's tests, one test binary (it links wasmtime): tower-sessions and axum over the
//! built `libsqlstore.wasm`, on a database file and on a real `sqld`, driven over HTTP on
//! loopback. `./dev test` builds the component and installs sqld first.

mod common;

mod routes;
mod store;
