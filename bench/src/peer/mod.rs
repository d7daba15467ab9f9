//! The peer servers: the same `/put` and `/get` routes and cookie handling as
//! `host-example serve`, built the way a Rust user would with `tower-sessions`.

pub mod app;
pub mod args;
pub mod sqlx_settings;
