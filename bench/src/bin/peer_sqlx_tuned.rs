//! Peer: `tower-sessions` with `tower-sessions-sqlx-store` on a SQLite file configured as
//! a knowledgeable user would: WAL, `synchronous=NORMAL` (the setting SQLite recommends
//! with WAL: durable against a crash of the process, not against losing power before a
//! checkpoint), a pool of 8 connections.

use std::str::FromStr;

use bench::peer::{app, args::PeerArgs, sqlx_settings};
use tower_sessions_sqlx_store::sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use tower_sessions_sqlx_store::SqliteStore;

/// Connections in the pool.
const POOL_SIZE: u32 = 8;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = PeerArgs::from_env()?;
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}?mode=rwc", args.store))?
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal);
    let pool = SqlitePoolOptions::new().max_connections(POOL_SIZE).connect_with(options).await?;
    let store = SqliteStore::new(pool.clone());
    store.migrate().await?;
    sqlx_settings::announce(&pool).await?;
    app::serve(args.listen, app::router(store)).await
}
