//! Listings (`all`, `page`) in chunks of examined rows, each under its own turn of the lock.

use futures::executor::block_on;
use libsql::params;

use super::errors::storage;
use super::statements::Stmt;
use super::LocalBackend;
use crate::backend::Entry;
use crate::error::Result;

/// Rows a listing examines (active or expired) per transaction. Under shared locking the
/// lock is released between chunks, so a listing over millions of expired rows never keeps
/// writers waiting longer than one chunk takes (a few milliseconds).
const LIST_CHUNK: i64 = 1024;

impl LocalBackend {
    /// Active sessions with id > `after` in id order, at most `limit`: chunk after
    /// chunk of [`LIST_CHUNK`] rows examined, each under its own turn of the lock. Not one
    /// snapshot: a session written between chunks shows if it sorts after the chunk read.
    pub(super) fn scan(
        &mut self,
        after: &str,
        limit: Option<usize>,
        now: i64,
    ) -> Result<Vec<Entry>> {
        let mut entries = Vec::new();
        let mut cursor = after.to_owned();
        loop {
            let guard = self.lock()?;
            let stmt = self.stmt(Stmt::Scan)?;
            stmt.reset();
            let chunk = block_on(async {
                let mut rows = stmt.query(params![cursor.as_str(), now, LIST_CHUNK]).await?;
                let mut examined = 0;
                let mut last = None;
                while let Some(row) = rows.next().await? {
                    examined += 1;
                    let id = row.get::<String>(0)?;
                    // Expired rows come with no data (their blobs are never read).
                    if let Some(data) = row.get::<Option<Vec<u8>>>(1)? {
                        entries.push((id.clone(), data));
                    }
                    last = Some(id);
                }
                Ok::<_, libsql::Error>((examined, last))
            });
            stmt.reset();
            drop(guard);
            let (examined, last) = chunk.map_err(storage)?;
            if let Some(limit) = limit {
                if entries.len() >= limit {
                    entries.truncate(limit);
                    return Ok(entries);
                }
            }
            match last {
                Some(last) if examined == LIST_CHUNK => cursor = last,
                _ => return Ok(entries),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::backend::Entry;
    use crate::testing::{file_config, open_with, T0};

    #[test]
    fn listings_skip_any_number_of_expired_rows_across_chunks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut s, clock) = open_with(&file_config(dir.path()));
        for i in 0..5000 {
            s.commit(&format!("b{i:05}"), b"gone", T0 + 10).expect("commit");
        }
        for token in ["a", "b02500x", "c", "d", "e"] {
            s.commit(token, token.as_bytes(), T0 + 10_000).expect("commit");
        }
        clock.0.set(T0 + 10);
        let mut active: Vec<(String, &str)> = ["a", "b02500x", "c", "d", "e"]
            .into_iter()
            .map(|t| (crate::token::id_of(t), t))
            .collect();
        active.sort();
        let ids: Vec<String> = active.iter().map(|(id, _)| id.clone()).collect();
        let listed =
            |entries: Vec<Entry>| entries.into_iter().map(|(id, _)| id).collect::<Vec<_>>();
        assert_eq!(listed(s.all().expect("all")), ids);
        assert_eq!(listed(s.page(Some(&ids[0]), 2).expect("page")), ids[1..3]);
        assert_eq!(listed(s.page(Some(&ids[2]), 10).expect("page")), ids[3..]);
        assert_eq!(s.all().expect("all")[1].1, active[1].1.as_bytes().to_vec());
    }
}
