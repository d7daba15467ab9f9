//! What a sqlx pool's connections actually run with, for the `store: …` line.

use tower_sessions_sqlx_store::sqlx::{self, SqlitePool};

use super::app::announce_sqlite;

/// Asks one pooled connection for its journal mode and `synchronous`, and prints them
/// with the pool's size.
pub async fn announce(pool: &SqlitePool) -> anyhow::Result<()> {
    let mut conn = pool.acquire().await?;
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&mut *conn).await?;
    let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous").fetch_one(&mut *conn).await?;
    announce_sqlite(&journal, synchronous, Some(pool.options().get_max_connections()));
    Ok(())
}
