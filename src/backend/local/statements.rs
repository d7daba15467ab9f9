//! The statements the backend runs, prepared on first use and kept for the life of the
//! connection, and the helpers that run them: transactions, changes, rows.

use std::cell::OnceCell;

use futures::executor::block_on;
use libsql::{Connection, Statement};

use super::errors::storage;
use super::LocalBackend;
use crate::backend::Loaded;
use crate::error::Result;
use crate::schema::Sql;

/// The statements the backend runs. Each is prepared on first use, under the lock, and kept
/// for the life of the connection: an instance that serves one request prepares only what
/// that request runs.
#[derive(Debug, Clone, Copy)]
pub(super) enum Stmt {
    Find,
    Upsert,
    Update,
    InsertNew,
    Delete,
    Scan,
    Touch,
    Counts,
    Sweep,
    AnyExpired,
    SetOwner,
    SessionsOf,
    RevokeOwner,
    Revoke,
    RotateCopy,
    RotateDrop,
    Load,
    Seen,
    UpdateIf,
    SetLabel,
    IsActive,
}

impl Stmt {
    const COUNT: usize = Stmt::IsActive as usize + 1;

    /// The statements a change may run (`LocalBackend::change_row`).
    pub(super) const WRITES: [Stmt; 6] =
        [Stmt::Upsert, Stmt::Update, Stmt::UpdateIf, Stmt::Seen, Stmt::Touch, Stmt::Delete];

    fn text(self, sql: &Sql) -> &str {
        match self {
            Stmt::Find => &sql.find,
            Stmt::Upsert => &sql.upsert,
            Stmt::Update => &sql.update,
            Stmt::InsertNew => &sql.insert_new,
            Stmt::Delete => &sql.delete,
            Stmt::Scan => &sql.scan,
            Stmt::Touch => &sql.touch,
            Stmt::Counts => &sql.counts,
            Stmt::Sweep => &sql.sweep,
            Stmt::AnyExpired => &sql.any_expired,
            Stmt::SetOwner => &sql.set_owner,
            Stmt::SessionsOf => &sql.sessions_of,
            Stmt::RevokeOwner => &sql.revoke_owner,
            Stmt::Revoke => &sql.revoke,
            Stmt::RotateCopy => &sql.rotate_copy,
            Stmt::RotateDrop => &sql.rotate_drop,
            Stmt::Load => &sql.load,
            Stmt::Seen => &sql.seen,
            Stmt::UpdateIf => &sql.update_if,
            Stmt::SetLabel => &sql.set_label,
            Stmt::IsActive => &sql.is_active,
        }
    }
}

/// The prepared statements of one connection, and the schema they need.
pub(super) struct Statements {
    pub(super) sql: Sql,
    prepared: [OnceCell<Statement>; Stmt::COUNT],
}

impl Statements {
    pub(super) fn new(sql: Sql) -> Statements {
        Statements { sql, prepared: Default::default() }
    }

    /// `which`, prepared on first use. A table that is missing makes the prepare fail; the
    /// table and its indexes are then created (`IF NOT EXISTS`) and the statement prepared
    /// once more, whose error, if any, is the answer. So an existing database costs no schema
    /// statement. Call with the lock held, outside a transaction (see
    /// [`LocalBackend::transaction`]).
    fn get(&self, conn: &Connection, which: Stmt) -> libsql::Result<&Statement> {
        let cell = &self.prepared[which as usize];
        if let Some(stmt) = cell.get() {
            return Ok(stmt);
        }
        let text = which.text(&self.sql);
        let stmt = match block_on(conn.prepare(text)) {
            Ok(stmt) => stmt,
            Err(_) => {
                self.ensure_schema(conn)?;
                block_on(conn.prepare(text))?
            }
        };
        Ok(cell.get_or_init(|| stmt))
    }

    /// Creates the table and its indexes unless they exist, in one transaction (so the
    /// table never exists without them). Call with the lock held, outside a transaction.
    fn ensure_schema(&self, conn: &Connection) -> libsql::Result<()> {
        in_transaction(conn, |e| e, || block_on(conn.execute_batch(&self.ddl())).map(drop))
    }

    /// The table and index statements, `IF NOT EXISTS` each.
    pub(super) fn ddl(&self) -> String {
        format!(
            "{}; {}; {}",
            self.sql.create_table, self.sql.create_index, self.sql.create_owner_index
        )
    }
}

/// Runs `work` inside BEGIN IMMEDIATE … COMMIT on `conn`, rolling back if any of it fails;
/// `failed` turns the engine's errors (of BEGIN and COMMIT) into `work`'s error type.
pub(super) fn in_transaction<T, E>(
    conn: &Connection,
    failed: impl Fn(libsql::Error) -> E,
    work: impl FnOnce() -> std::result::Result<T, E>,
) -> std::result::Result<T, E> {
    block_on(conn.execute("BEGIN IMMEDIATE", ())).map_err(&failed)?;
    let done = work()
        .and_then(|value| block_on(conn.execute("COMMIT", ())).map(|_| value).map_err(&failed));
    if done.is_err() && !conn.is_autocommit() {
        let _ = block_on(conn.execute("ROLLBACK", ()));
    }
    done
}

impl LocalBackend {
    /// `which`, prepared on first use; call with the lock held.
    pub(super) fn stmt(&self, which: Stmt) -> Result<&Statement> {
        self.stmts.get(self.conn().map_err(storage)?, which).map_err(storage)
    }

    /// Runs `work` inside BEGIN IMMEDIATE … COMMIT, rolling back if it fails. `uses` are
    /// the statements `work` runs: they are prepared first, outside the transaction, so
    /// that a missing table is created in a transaction of its own.
    pub(super) fn transaction<T>(
        &self,
        uses: &[Stmt],
        work: impl FnOnce(&Self) -> Result<T>,
    ) -> Result<T> {
        for &which in uses {
            self.stmt(which)?;
        }
        in_transaction(self.conn().map_err(storage)?, storage, || work(self))
    }
}

/// Executes a statement that returns no rows; the number of rows it changed.
pub(super) fn execute(stmt: &Statement, params: impl libsql::params::IntoParams) -> Result<usize> {
    stmt.reset();
    let changed = block_on(stmt.execute(params));
    stmt.reset();
    changed.map_err(storage)
}

/// Runs a statement that returns rows (a query, or a change with RETURNING, which is done
/// once every row is read); each row through `read`.
/// The [`LOAD_COLUMNS`](crate::schema::LOAD_COLUMNS) of `row`, the first at index `at`.
pub(super) fn loaded_from(row: &libsql::Row, at: i32) -> libsql::Result<Loaded> {
    Ok(Loaded {
        data: row.get(at)?,
        version: row.get(at + 1)?,
        expiry: row.get(at + 2)?,
        absolute: row.get(at + 3)?,
        idle: row.get(at + 4)?,
        created: row.get(at + 5)?,
        last_seen: row.get(at + 6)?,
        label: row.get(at + 7)?,
        owner: row.get(at + 8)?,
    })
}

pub(super) fn rows<T>(
    stmt: &Statement,
    params: impl libsql::params::IntoParams,
    mut read: impl FnMut(&libsql::Row) -> libsql::Result<T>,
) -> Result<Vec<T>> {
    stmt.reset();
    let read = block_on(async {
        let mut rows = stmt.query(params).await?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().await? {
            out.push(read(&row)?);
        }
        Ok::<_, libsql::Error>(out)
    });
    stmt.reset();
    read.map_err(storage)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Backend, Change};
    use crate::config::Config;
    use crate::error::Error;
    use crate::testing::{file_config, open_with, upsert, T0};

    #[test]
    fn a_custom_table_name_is_used() {
        let dir = tempfile::tempdir().expect("tempdir");
        let table = crate::schema::TableName::new("web_sessions").expect("valid");
        let config = Config { table, ..file_config(dir.path()) };
        let (mut s, _) = open_with(&config);
        s.commit("tok", b"x", T0 + 1000).expect("commit");
        assert_eq!(s.find("tok").expect("find"), Some(b"x".to_vec()));
    }

    #[test]
    fn the_owner_queries_read_the_owner_index_and_never_scan_the_table() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut backend = LocalBackend::open(&file_config(dir.path())).expect("open");
        backend.find("x", 0).expect("creates the table");
        for sql in [&backend.stmts.sql.sessions_of, &backend.stmts.sql.revoke_owner] {
            let plan = block_on(async {
                let mut rows =
                    backend.conn()?.query(&format!("EXPLAIN QUERY PLAN {sql}"), ()).await?;
                let mut plan = Vec::new();
                while let Some(row) = rows.next().await? {
                    plan.push(row.get::<String>(3)?);
                }
                Ok::<_, libsql::Error>(plan)
            })
            .expect("explain");
            assert!(
                plan.iter().any(|step| step.contains("USING INDEX sessions_owner_idx")),
                "{sql}: {plan:?}"
            );
            assert!(!plan.iter().any(|step| step.starts_with("SCAN")), "{sql}: {plan:?}");
            assert!(
                !plan.iter().any(|step| step.contains("TEMP B-TREE")),
                "{sql}: sorted by the index: {plan:?}"
            );
        }
    }

    #[test]
    fn a_batch_that_fails_midway_stores_none_of_its_changes_and_the_next_one_commits() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = crate::testing::file_config(dir.path());
        let mut b = LocalBackend::open(&config).expect("open");
        b.apply(&[upsert("before", b"x", 1000)], 0).expect("upsert");
        // The engine refuses one row of the batch, after another was written.
        block_on(b.conn().expect("the connection").execute_batch(
            "CREATE TRIGGER refuse BEFORE INSERT ON sessions WHEN NEW.data = x'ff' \
             BEGIN SELECT RAISE(ABORT, 'refused by a trigger'); END",
        ))
        .expect("trigger");
        let batch = [
            upsert("a", b"a", 1000),
            Change::Update { id: "before".into(), data: b"changed", expiry: 1000 },
            upsert("b", &[0xff], 1000),
        ];
        let refused = b.apply(&batch, 0);
        assert!(matches!(refused, Err(Error::Storage(m)) if m.contains("refused by a trigger")));
        assert_eq!(b.find("a", 0).expect("find"), None, "rolled back with the rest");
        assert_eq!(b.find("before", 0).expect("find"), Some(b"x".to_vec()));
        let good = [upsert("a", b"a", 3000), Change::Touch { id: "before".into(), expiry: 2000 }];
        assert_eq!(b.apply(&good, 0).expect("next batch"), vec![true, true]);
        drop(b);
        let mut reopened = LocalBackend::open(&config).expect("reopen");
        assert_eq!(
            reopened.find("a", 1500).expect("find"),
            Some(b"a".to_vec()),
            "the batch reached the file"
        );
        assert_eq!(reopened.find("before", 1500).expect("find"), Some(b"x".to_vec()));
    }
}
