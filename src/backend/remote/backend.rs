//! [`Backend`] over a libSQL server: each method is one Hrana pipeline (one round trip).

use std::time::Duration;

use libsql_hrana::proto::StreamRequest;

use super::hrana::{self, blob, execute, int, stmt, text};
use super::transport::Transport;
use crate::backend::{Backend, Entry, SessionCounts, SweepReport};
use crate::config::Config;
use crate::error::Result;
use crate::schema::Sql;

pub struct RemoteBackend {
    transport: Transport,
    sql: Sql,
    /// Whether this instance has already sent the schema statements.
    schema_sent: bool,
}

impl RemoteBackend {
    pub fn new(url: &str, config: &Config) -> RemoteBackend {
        RemoteBackend {
            transport: Transport::new(
                url,
                config.auth_token.clone(),
                config.remote_timeout,
                config.remote_max_response,
            ),
            sql: Sql::new(&config.table),
            schema_sent: false,
        }
    }

    /// Runs one operation in one round trip; the first one carries the schema.
    fn run(&mut self, op: StreamRequest) -> Result<libsql_hrana::proto::StreamResponse> {
        let schema = (!self.schema_sent).then(|| hrana::schema_batch(&self.sql));
        let with_schema = schema.is_some();
        let response = self.transport.pipeline(&hrana::pipeline(schema, op))?;
        let result = hrana::op_response(response, with_schema);
        if with_schema && result.is_ok() {
            self.schema_sent = true;
        }
        result
    }

    fn exec(&mut self, sql: &str, args: Vec<libsql_hrana::proto::Value>, want_rows: bool) -> Result<libsql_hrana::proto::StmtResult> {
        let response = self.run(execute(stmt(sql, args, want_rows)))?;
        hrana::stmt_result(response)
    }
}

impl Backend for RemoteBackend {
    fn find(&mut self, token: &str, now: i64) -> Result<Option<Vec<u8>>> {
        let sql = self.sql.find.clone();
        hrana::found_data(&self.exec(&sql, vec![text(token), int(now)], true)?)
    }

    fn upsert(&mut self, token: &str, data: &[u8], expiry: i64) -> Result<()> {
        let sql = self.sql.upsert.clone();
        self.exec(&sql, vec![text(token), blob(data), int(expiry)], false).map(drop)
    }

    fn update(&mut self, token: &str, data: &[u8], expiry: i64, now: i64) -> Result<bool> {
        let sql = self.sql.update.clone();
        hrana::changed_one(&self.exec(&sql, vec![text(token), blob(data), int(expiry), int(now)], false)?)
    }

    fn insert_new(&mut self, token: &str, data: &[u8], expiry: i64) -> Result<bool> {
        let sql = self.sql.insert_new.clone();
        hrana::changed_one(&self.exec(&sql, vec![text(token), blob(data), int(expiry)], false)?)
    }

    fn delete(&mut self, token: &str) -> Result<()> {
        let sql = self.sql.delete.clone();
        self.exec(&sql, vec![text(token)], false).map(drop)
    }

    fn all(&mut self, now: i64) -> Result<Vec<Entry>> {
        let sql = self.sql.all.clone();
        hrana::entries(&self.exec(&sql, vec![int(now)], true)?)
    }

    fn page(&mut self, after: &str, limit: u32, now: i64) -> Result<Vec<Entry>> {
        let sql = self.sql.page.clone();
        hrana::entries(&self.exec(&sql, vec![text(after), int(now), int(i64::from(limit))], true)?)
    }

    fn touch(&mut self, token: &str, expiry: i64, now: i64) -> Result<bool> {
        let sql = self.sql.touch.clone();
        hrana::changed_one(&self.exec(&sql, vec![text(token), int(expiry), int(now)], false)?)
    }

    fn counts(&mut self, now: i64) -> Result<SessionCounts> {
        let sql = self.sql.counts.clone();
        hrana::session_counts(&self.exec(&sql, vec![int(now)], true)?)
    }

    /// One pipeline (one round trip) deletes the whole batch: the time budget does not
    /// apply, the server's own write lock is held only while it runs the batch.
    fn sweep(&mut self, now: i64, batch: u32, _budget: Option<Duration>) -> Result<SweepReport> {
        let response = self.run(hrana::batch(hrana::sweep_batch(&self.sql, now, batch)))?;
        hrana::sweep_report(response)
    }
}
