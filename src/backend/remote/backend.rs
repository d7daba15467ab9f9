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
    server: Server,
    sql: Sql,
}

/// The connection to the server, apart from the statements so that a call can borrow both.
struct Server {
    transport: Transport,
    /// Whether this instance has already sent the schema statements.
    schema_sent: bool,
}

impl RemoteBackend {
    pub fn new(url: &str, config: &Config) -> RemoteBackend {
        let transport =
            Transport::new(url, config.auth_token.clone(), config.remote_timeout, config.remote_max_response);
        RemoteBackend { server: Server { transport, schema_sent: false }, sql: Sql::new(&config.table) }
    }
}

impl Server {
    /// Runs one operation in one round trip; the first one carries the schema.
    fn run(&mut self, sql: &Sql, op: StreamRequest) -> Result<libsql_hrana::proto::StreamResponse> {
        let schema = (!self.schema_sent).then(|| hrana::schema_batch(sql));
        let with_schema = schema.is_some();
        let response = self.transport.pipeline(&hrana::pipeline(schema, op))?;
        let result = hrana::op_response(response, with_schema);
        if with_schema && result.is_ok() {
            self.schema_sent = true;
        }
        result
    }

    /// Runs the statement `text` (one of `sql`'s) with `args`.
    fn exec(
        &mut self,
        sql: &Sql,
        text: &str,
        args: Vec<libsql_hrana::proto::Value>,
        want_rows: bool,
    ) -> Result<libsql_hrana::proto::StmtResult> {
        let response = self.run(sql, execute(stmt(text, args, want_rows)))?;
        hrana::stmt_result(response)
    }
}

impl Backend for RemoteBackend {
    fn find(&mut self, token: &str, now: i64) -> Result<Option<Vec<u8>>> {
        hrana::found_data(&self.server.exec(&self.sql, &self.sql.find, vec![text(token), int(now)], true)?)
    }

    fn upsert(&mut self, token: &str, data: &[u8], expiry: i64) -> Result<()> {
        self.server.exec(&self.sql, &self.sql.upsert, vec![text(token), blob(data), int(expiry)], false).map(drop)
    }

    fn update(&mut self, token: &str, data: &[u8], expiry: i64, now: i64) -> Result<bool> {
        hrana::changed_one(&self.server.exec(&self.sql, &self.sql.update, vec![text(token), blob(data), int(expiry), int(now)], false)?)
    }

    fn insert_new(&mut self, token: &str, data: &[u8], expiry: i64) -> Result<bool> {
        hrana::changed_one(&self.server.exec(&self.sql, &self.sql.insert_new, vec![text(token), blob(data), int(expiry)], false)?)
    }

    fn delete(&mut self, token: &str) -> Result<()> {
        self.server.exec(&self.sql, &self.sql.delete, vec![text(token)], false).map(drop)
    }

    fn all(&mut self, now: i64) -> Result<Vec<Entry>> {
        hrana::entries(&self.server.exec(&self.sql, &self.sql.all, vec![int(now)], true)?)
    }

    fn page(&mut self, after: &str, limit: u32, now: i64) -> Result<Vec<Entry>> {
        hrana::entries(&self.server.exec(&self.sql, &self.sql.page, vec![text(after), int(now), int(i64::from(limit))], true)?)
    }

    fn touch(&mut self, token: &str, expiry: i64, now: i64) -> Result<bool> {
        hrana::changed_one(&self.server.exec(&self.sql, &self.sql.touch, vec![text(token), int(expiry), int(now)], false)?)
    }

    fn counts(&mut self, now: i64) -> Result<SessionCounts> {
        hrana::session_counts(&self.server.exec(&self.sql, &self.sql.counts, vec![int(now)], true)?)
    }

    /// One pipeline (one round trip) deletes the whole batch: the time budget does not
    /// apply, the server's own write lock is held only while it runs the batch.
    fn sweep(&mut self, now: i64, batch: u32, _budget: Option<Duration>) -> Result<SweepReport> {
        let response = self.server.run(&self.sql, hrana::batch(hrana::sweep_batch(&self.sql, now, batch)))?;
        hrana::sweep_report(response)
    }
}
