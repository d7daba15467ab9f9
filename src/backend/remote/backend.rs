//! [`Backend`] over a libSQL server: each method is one Hrana pipeline (one round trip),
//! except once per table: the upgrade of a 0.1-layout table ([`Upgrade`]).

use std::time::Duration;

use libsql_hrana::proto::{PipelineRespBody, StreamRequest};

use super::hrana::{self, blob, execute, int, opt_int, opt_text, stmt, text, Answered, Upgrade};
use super::transport::Transport;
use crate::backend::{
    Backend, Change, Device, Entry, Loaded, NewRow, Rotation, SessionCounts, SweepReport,
};
use crate::config::Config;
use crate::error::{Error, Result};
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
        let transport = Transport::new(
            url,
            config.auth_token.clone(),
            config.remote_timeout,
            config.remote_max_response,
        );
        RemoteBackend {
            server: Server { transport, schema_sent: false },
            sql: Sql::new(&config.table),
        }
    }
}

impl Server {
    /// Runs one operation in one round trip; the first one carries the schema. A table in
    /// the 0.1 layout is upgraded ([`Server::upgrade`]), and the operation sent again unless
    /// it already succeeded on the old layout (its answer, e.g. a sweep's count, stands).
    fn run(&mut self, sql: &Sql, op: StreamRequest) -> Result<libsql_hrana::proto::StreamResponse> {
        let schema = (!self.schema_sent).then(|| hrana::schema_batch(sql));
        let with_schema = schema.is_some();
        let mut body = hrana::pipeline(schema, op);
        let answered = hrana::op_response(self.transport.pipeline(&body)?, with_schema)?;
        self.schema_sent = true;
        match answered {
            Answered::Done(response) => Ok(response),
            Answered::Legacy(answered) => {
                self.upgrade(sql)?;
                if let Some(response) = answered {
                    return Ok(response);
                }
                hrana::without_schema(&mut body);
                match hrana::op_response(self.transport.pipeline(&body)?, false)? {
                    Answered::Done(response) => Ok(response),
                    Answered::Legacy(_) => Err(Error::Storage(
                        "the table is still in the 0.1 layout after its upgrade".into(),
                    )),
                }
            }
        }
    }

    /// Upgrades a 0.1-layout table on the server: one interactive transaction (see
    /// [`Upgrade`]), a round trip per [`hrana::UPGRADE_CHUNK`] rows. Another instance that
    /// upgraded it first leaves nothing to do. A failure rolls back; the next call retries.
    fn upgrade(&mut self, sql: &Sql) -> Result<()> {
        let started = self.transport.pipeline(&Upgrade::start(sql))?;
        let mut baton = baton_of(&started)?;
        let outcome = (|| {
            let results = Upgrade::results(&started)?;
            let still_legacy = results.get(1).is_some_and(|probe| !probe.rows.is_empty());
            if !still_legacy {
                return Ok(false);
            }
            let mut chunk =
                Upgrade::rows(results.last().ok_or_else(|| no_answer("the first rows"))?)?;
            while !chunk.is_empty() {
                let rekeyed: Vec<(i64, String)> = chunk
                    .iter()
                    .map(|(rowid, token)| (*rowid, crate::token::id_of(token)))
                    .collect();
                let answer =
                    self.transport.pipeline(&Upgrade::rekey(sql, baton.clone(), &rekeyed))?;
                baton = baton_of(&answer)?;
                let results = Upgrade::results(&answer)?;
                chunk = Upgrade::rows(results.last().ok_or_else(|| no_answer("the next rows"))?)?;
            }
            Upgrade::results(&self.transport.pipeline(&Upgrade::finish(sql, baton.clone()))?)?;
            Ok(true)
        })();
        match outcome {
            Ok(true) => Ok(()),
            Ok(false) => self.transport.pipeline(&Upgrade::abandon(baton)).map(drop),
            Err(e) => {
                let _ = self.transport.pipeline(&Upgrade::abandon(baton));
                Err(e)
            }
        }
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

/// The baton that continues an upgrade's stream.
fn baton_of(answer: &PipelineRespBody) -> Result<String> {
    answer.baton.clone().ok_or_else(|| no_answer("a baton to continue the upgrade"))
}

fn no_answer(what: &str) -> Error {
    Error::Storage(format!("unexpected answer from the libSQL server: no {what}"))
}

impl Backend for RemoteBackend {
    fn find(&mut self, id: &str, now: i64) -> Result<Option<Vec<u8>>> {
        hrana::found_data(&self.server.exec(
            &self.sql,
            &self.sql.find,
            vec![text(id), int(now)],
            true,
        )?)
    }

    fn insert_new(&mut self, id: &str, row: NewRow<'_>, now: i64) -> Result<bool> {
        let args = vec![
            text(id),
            blob(row.data),
            int(row.expiry),
            int(row.absolute),
            opt_int(row.idle),
            int(now),
            opt_text(row.label),
        ];
        hrana::changed_one(&self.server.exec(&self.sql, &self.sql.insert_new, args, false)?)
    }

    /// One read-only round trip when the read need not be recorded (no session, or one last
    /// seen after `seen_before`), so the server's write lock is not taken; else a second:
    /// the read recorded, then the row read.
    fn load(&mut self, id: &str, now: i64, seen_before: i64) -> Result<Option<Loaded>> {
        let read = self.server.exec(&self.sql, &self.sql.load, vec![text(id), int(now)], true)?;
        match hrana::loaded_row(&read)? {
            None => return Ok(None),
            Some(found) if found.seen_after(seen_before) => return Ok(Some(found)),
            _ => {}
        }
        let request = hrana::batch(hrana::load_batch(&self.sql, id, now, seen_before));
        hrana::loaded(self.server.run(&self.sql, request)?)
    }

    fn set_label(&mut self, id: &str, label: Option<&str>, now: i64) -> Result<bool> {
        hrana::changed_one(&self.server.exec(
            &self.sql,
            &self.sql.set_label,
            vec![text(id), opt_text(label), int(now)],
            false,
        )?)
    }

    fn all(&mut self, now: i64) -> Result<Vec<Entry>> {
        hrana::entries(&self.server.exec(&self.sql, &self.sql.all, vec![int(now)], true)?)
    }

    fn page(&mut self, after: &str, limit: u32, now: i64) -> Result<Vec<Entry>> {
        hrana::entries(&self.server.exec(
            &self.sql,
            &self.sql.page,
            vec![text(after), int(now), int(i64::from(limit))],
            true,
        )?)
    }

    fn counts(&mut self, now: i64) -> Result<SessionCounts> {
        hrana::session_counts(&self.server.exec(
            &self.sql,
            &self.sql.counts,
            vec![int(now)],
            true,
        )?)
    }

    /// One pipeline (one round trip) deletes the whole batch: the time budget does not
    /// apply, the server's own write lock is held only while it runs the batch.
    fn sweep(&mut self, now: i64, batch: u32, _budget: Option<Duration>) -> Result<SweepReport> {
        let response =
            self.server.run(&self.sql, hrana::batch(hrana::sweep_batch(&self.sql, now, batch)))?;
        hrana::sweep_report(response)
    }

    fn set_owner(&mut self, id: &str, owner: Option<&str>, now: i64) -> Result<bool> {
        hrana::changed_one(&self.server.exec(
            &self.sql,
            &self.sql.set_owner,
            vec![text(id), opt_text(owner), int(now)],
            false,
        )?)
    }

    fn sessions_of(&mut self, owner: &str, now: i64) -> Result<Vec<Device>> {
        hrana::session_infos(&self.server.exec(
            &self.sql,
            &self.sql.sessions_of,
            vec![text(owner), int(now)],
            true,
        )?)
    }

    fn revoke_owner(&mut self, owner: &str, keep: Option<&str>, now: i64) -> Result<u64> {
        let args = vec![text(owner), opt_text(keep), int(now)];
        hrana::active_deleted(&self.server.exec(&self.sql, &self.sql.revoke_owner, args, true)?)
    }

    fn revoke(&mut self, id: &str, now: i64) -> Result<bool> {
        hrana::active_deleted(&self.server.exec(
            &self.sql,
            &self.sql.revoke,
            vec![text(id), int(now)],
            true,
        )?)
        .map(|n| n > 0)
    }

    /// One transactional batch, one round trip.
    fn rotate(
        &mut self,
        old: &str,
        new: &str,
        expiry: i64,
        deadlines: Option<(i64, Option<i64>)>,
        now: i64,
    ) -> Result<Rotation> {
        let batch = hrana::rotate_batch(&self.sql, old, new, expiry, deadlines, now);
        let response = self.server.run(&self.sql, hrana::batch(batch))?;
        hrana::rotation(response)
    }

    /// One round trip, whatever the number of changes: a change alone is one statement,
    /// several are one transactional batch.
    fn apply(&mut self, changes: &[Change<'_>], now: i64) -> Result<Vec<bool>> {
        let response = self.server.run(&self.sql, hrana::apply_request(&self.sql, changes, now))?;
        hrana::applied(response, changes)
    }
}
