//! The native floor of the remote backend: the `libsql` crate's own remote client (Hrana
//! over HTTP, on hyper's kept-alive connections) running the statements the component's
//! remote backend runs (`libsqlstore::schema::Sql`, with the same arguments), one call
//! at a time. Like the component, it keys rows by the token's id (`libsqlstore::token::id_of`).

use anyhow::Context;
use libsqlstore::schema::{Sql, TableName};
use libsqlstore::token::id_of;

use crate::tokens::{future_expiry, payload, token, Family};

/// Rows per statement when seeding (3 parameters each, well under SQLite's limit).
const SEED_ROWS_PER_STATEMENT: u64 = 200;

pub struct RemoteClient {
    _db: libsql::Database,
    conn: libsql::Connection,
    sql: Sql,
    /// Tokens `create` has drawn so far (deterministic, in a family of their own).
    created: u64,
}

impl RemoteClient {
    /// A client of the libSQL server at `url` (`http://HOST:PORT`, no auth).
    pub async fn connect(url: &str) -> anyhow::Result<RemoteClient> {
        let db = libsql::Builder::new_remote(url.to_owned(), String::new())
            .connector(hyper::client::HttpConnector::new())
            .build()
            .await
            .with_context(|| format!("connecting to {url}"))?;
        let conn = db.connect()?;
        Ok(RemoteClient { _db: db, conn, sql: Sql::new(&TableName::default()), created: 0 })
    }

    /// Creates the store's table and index, and `n` active sessions (`Family::Active`,
    /// indices `0..n`, expiring after `now`), many rows per statement.
    pub async fn seed(&self, n: u64, now: u64) -> anyhow::Result<()> {
        self.conn.execute(&self.sql.create_table, ()).await?;
        self.conn.execute(&self.sql.create_index, ()).await?;
        self.conn.execute(&self.sql.create_owner_index, ()).await?;
        let table = TableName::default();
        let mut start = 0;
        while start < n {
            let end = (start + SEED_ROWS_PER_STATEMENT).min(n);
            let rows = vec!["(?, ?, ?)"; usize::try_from(end - start)?].join(", ");
            let mut params = Vec::new();
            for i in start..end {
                params.push(libsql::Value::Text(id_of(&token(Family::Active, i))));
                params.push(libsql::Value::Blob(payload(i)));
                params.push(libsql::Value::Integer(i64::try_from(future_expiry(now, i))?));
            }
            let text = format!("INSERT INTO {table} (id, data, expiry) VALUES {rows}");
            self.conn.execute(&text, params).await.context("seeding the server")?;
            start = end;
        }
        Ok(())
    }

    /// `find`: the data of an active session, every row read.
    pub async fn find(&self, token: &str, now: u64) -> anyhow::Result<Option<Vec<u8>>> {
        let mut rows = self
            .conn
            .query(&self.sql.find, libsql::params![id_of(token), i64::try_from(now)?])
            .await?;
        let data = match rows.next().await? {
            Some(row) => Some(row.get::<Vec<u8>>(0)?),
            None => None,
        };
        while rows.next().await?.is_some() {}
        Ok(data)
    }

    /// `commit` with an expiry in the future: the upsert (`now` keeps an active row's owner).
    pub async fn commit(
        &self,
        token: &str,
        data: &[u8],
        expiry: u64,
        now: u64,
    ) -> anyhow::Result<()> {
        let params = libsql::params![
            id_of(token),
            data.to_vec(),
            i64::try_from(expiry)?,
            i64::try_from(now)?
        ];
        self.conn.execute(&self.sql.upsert, params).await?;
        Ok(())
    }

    /// `touch`: whether an active session got the new expiry.
    pub async fn touch(&self, token: &str, expiry: u64, now: u64) -> anyhow::Result<bool> {
        let params = libsql::params![id_of(token), i64::try_from(expiry)?, i64::try_from(now)?];
        Ok(self.conn.execute(&self.sql.touch, params).await? == 1)
    }

    pub async fn delete(&self, token: &str) -> anyhow::Result<()> {
        self.conn.execute(&self.sql.delete, libsql::params![id_of(token)]).await?;
        Ok(())
    }

    /// `create`: inserts under a token no session has, drawing again if it is taken.
    pub async fn create(&mut self, data: &[u8], expiry: u64) -> anyhow::Result<String> {
        loop {
            let tok = token(Family::Created, self.created);
            self.created += 1;
            let params = libsql::params![id_of(&tok), data.to_vec(), i64::try_from(expiry)?];
            if self.conn.execute(&self.sql.insert_new, params).await? == 1 {
                return Ok(tok);
            }
        }
    }
}
