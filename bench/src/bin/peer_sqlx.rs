//! Peer: `tower-sessions` with `tower-sessions-sqlx-store` on a SQLite file, opened with
//! sqlx's defaults for a file that may not exist yet (`mode=rwc`): SQLite's own journal
//! mode (a rollback journal) and `synchronous` (FULL), a pool of sqlx's default size.

use bench::peer::{app, args::PeerArgs, sqlx_settings};
use tower_sessions_sqlx_store::{sqlx::SqlitePool, SqliteStore};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = PeerArgs::from_env()?;
    let pool = SqlitePool::connect(&format!("sqlite://{}?mode=rwc", args.store)).await?;
    let store = SqliteStore::new(pool.clone());
    store.migrate().await?;
    sqlx_settings::announce(&pool).await?;
    app::serve(args.listen, app::router(store)).await
}
