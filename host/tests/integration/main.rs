//! The library's integration tests, one test binary (each links wasmtime): the built
//! `libsqlstore.wasm` through `libsqlstore_host`, on a file and on a real `sqld`.
//!
//! `./dev test` builds the component and installs sqld first.

mod common;
mod conformance;

mod component;
mod deadlines;
mod owners;
mod remote_faults;
mod remote_pool;
mod versions;
