//! Seeding large tables fast: natively, through the libsql crate, into the very schema
//! the store creates (`libsqlstore::schema`), in one unsynced transaction. A million
//! fsynced commits would take longer than the benchmark itself.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::executor::block_on;
use libsqlstore::schema::{Sql, TableName};
use libsqlstore::token::id_of;

use crate::tokens::{future_expiry, payload, token, Family};

/// Creates `path` holding `active` sessions that expire in the next day and `expired`
/// ones that expired in the last hour (oldest first in the expiry index). The file must
/// not exist. Returns how long seeding took.
pub fn seed_file(path: &Path, active: u64, expired: u64, now: u64) -> anyhow::Result<Duration> {
    anyhow::ensure!(!path.exists(), "{} exists already", path.display());
    let started = Instant::now();
    let now = i64::try_from(now)?;
    let text = path.to_str().context("database path is not UTF-8")?;
    let sql = Sql::new(&TableName::default());
    block_on(async {
        let db = libsql::Builder::new_local(text).build().await?;
        let conn = db.connect()?;
        // Seeding only: no journal, no fsync, a big cache. The file is closed (and so
        // complete on disk for the next opener) before any measurement starts.
        conn.query("PRAGMA journal_mode=OFF", ()).await?.next().await?;
        conn.execute("PRAGMA synchronous=OFF", ()).await?;
        conn.execute("PRAGMA cache_size=-262144", ()).await?;
        conn.execute(&sql.create_table, ()).await?;
        conn.execute("BEGIN", ()).await?;
        let insert = conn.prepare(&sql.upsert).await?;
        for i in 0..active {
            let expiry = i64::try_from(future_expiry(now as u64, i))?;
            insert
                .execute(libsql::params![id_of(&token(Family::Active, i)), payload(i), expiry, now])
                .await?;
            insert.reset();
        }
        for i in 0..expired {
            let expiry = now.saturating_sub(3_600_000 - i64::try_from(i % 3_000_000)?);
            insert
                .execute(libsql::params![
                    id_of(&token(Family::Expired, i)),
                    payload(i),
                    expiry,
                    now
                ])
                .await?;
            insert.reset();
        }
        drop(insert);
        // The indexes are built once, after the rows: faster than maintaining them.
        conn.execute(&sql.create_index, ()).await?;
        conn.execute(&sql.create_owner_index, ()).await?;
        conn.execute("COMMIT", ()).await?;
        anyhow::Ok(())
    })
    .with_context(|| format!("seeding {}", path.display()))?;
    Ok(started.elapsed())
}
