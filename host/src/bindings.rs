//! The component's interfaces as Rust types, generated from `wit/v0.3/sessions.wit` (the
//! world `session-store`: `store@0.3.0`, and `store@0.2.2` and `sweeper@0.2.2` beside it).
//! Exports are called on the caller's async task (see [`crate::store`]); WASI's host side
//! is async.

wasmtime::component::bindgen!({
    world: "session-store",
    path: "wit/v0.3",
    exports: { default: async },
});
