//! Peer: `tower-sessions` with `tower-sessions-libsql-store` on a local libSQL file,
//! opened with the libsql crate's defaults (one connection, as the store's README shows).

use bench::peer::{app, args::PeerArgs};
use tower_sessions_libsql_store::LibsqlStore;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = PeerArgs::from_env()?;
    let db = libsql06::Builder::new_local(&args.store).build().await?;
    let conn = db.connect()?;
    let store = LibsqlStore::new(conn.clone());
    store.migrate().await?;
    let journal: String = pragma(&conn, "journal_mode").await?.get(0)?;
    let synchronous: i64 = pragma(&conn, "synchronous").await?.get(0)?;
    app::announce_sqlite(&journal, synchronous, None);
    app::serve(args.listen, app::router(store)).await
}

/// The one row `PRAGMA name` answers.
async fn pragma(conn: &libsql06::Connection, name: &str) -> anyhow::Result<libsql06::Row> {
    let mut rows = conn.query(&format!("PRAGMA {name}"), ()).await?;
    rows.next().await?.ok_or_else(|| anyhow::anyhow!("PRAGMA {name} answered no row"))
}
