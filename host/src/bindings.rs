//! The component's interface as Rust types, generated from `wit/sessions.wit` (the world
//! `session-store`). Exports are called on the caller's async task (see [`crate::store`]);
//! WASI's host side is async.

wasmtime::component::bindgen!({
    world: "session-store",
    path: "wit",
    exports: { default: async },
});
