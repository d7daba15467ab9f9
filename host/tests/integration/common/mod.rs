//! Shared helpers for the integration tests: the built component, a real `sqld`, the
//! database read natively. The demo binary's tests (`host-example/tests/`) use them too.
#![allow(dead_code)] // each test module uses its own subset

pub mod sqld;

use std::path::{Path, PathBuf};

/// The component `./dev build` makes (`$LIBSQLSTORE_COMPONENT` names another).
pub fn component() -> PathBuf {
    std::env::var_os("LIBSQLSTORE_COMPONENT")
        .map_or_else(|| built("target/wasm32-wasip2/release/libsqlstore.wasm"), PathBuf::from)
}

/// The component built without the remote backend (no `wasi:http` import), by `./dev build`.
pub fn local_only_component() -> PathBuf {
    built("target/local-only/wasm32-wasip2/release/libsqlstore.wasm")
}

fn built(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(relative)
}

/// The component, loaded once per test binary.
pub fn runtime() -> &'static libsqlstore_host::Runtime {
    static RUNTIME: std::sync::OnceLock<libsqlstore_host::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| {
        libsqlstore_host::Runtime::load(&component()).expect("the component is built (./dev build)")
    })
}

/// Opens the database natively; only while no instance is inside a transaction.
pub async fn native(db: &Path) -> libsql::Connection {
    let database = libsql::Builder::new_local(db).build().await.expect("open natively");
    database.connect().expect("connect")
}

/// A connection to `sqld` over its HTTP API, as an operator's client reaches it.
pub async fn sqld_client(sqld: &sqld::Sqld) -> libsql::Connection {
    libsql::Builder::new_remote(sqld.url(), String::new())
        .build()
        .await
        .expect("remote client")
        .connect()
        .expect("connect")
}

pub async fn single_value(conn: &libsql::Connection, sql: &str) -> libsql::Value {
    let mut rows = conn.query(sql, ()).await.expect(sql);
    rows.next().await.expect(sql).expect("a row").get_value(0).expect("a value")
}

pub async fn assert_intact(db: &Path) {
    let conn = native(db).await;
    assert_eq!(
        single_value(&conn, "PRAGMA integrity_check").await,
        libsql::Value::Text("ok".into())
    );
}

/// The id the store keeps for `token`: base64url (no padding) of its SHA-256, computed here
/// from the outside of the component.
pub fn id_of(token: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(token.as_bytes()))
}

/// Every byte of the database file and of its journal or WAL, if any: what a leaked copy of
/// the data directory would hold.
pub fn database_bytes(db: &Path) -> Vec<u8> {
    let name = db.file_name().and_then(|n| n.to_str()).expect("a file name").to_owned();
    let mut bytes = Vec::new();
    for suffix in ["", "-journal", "-wal"] {
        if let Ok(read) = std::fs::read(db.with_file_name(format!("{name}{suffix}"))) {
            bytes.extend(read);
        }
    }
    bytes
}

/// True if `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}
