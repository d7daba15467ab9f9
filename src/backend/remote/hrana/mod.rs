//! Hrana (libSQL's remote protocol) requests and responses for the store's operations,
//! built from the `libsql-hrana` crate's types. Pure: no I/O, so it is unit-tested
//! natively; `transport` carries the JSON over `wasi:http`.

use bytes::Bytes;
use libsql_hrana::proto::{
    Batch, BatchCond, BatchCondList, BatchResult, BatchStep, BatchStreamReq, CloseStreamReq,
    Error as HranaError, ExecuteStreamReq, PipelineReqBody, PipelineRespBody, Stmt, StmtResult,
    StreamRequest, StreamResponse, StreamResult, Value,
};

use crate::backend::{Change, Device, Loaded, Rotation, SessionCounts, SessionInfo, SweepReport};
use crate::error::{Error, Result};
use crate::schema::Sql;

/// The path of the pipeline endpoint below the server's base URL.
pub const PIPELINE_PATH: &str = "/v2/pipeline";

pub fn text(s: &str) -> Value {
    Value::Text { value: s.into() }
}

pub fn int(i: i64) -> Value {
    Value::Integer { value: i }
}

pub fn blob(b: &[u8]) -> Value {
    Value::Blob { value: Bytes::copy_from_slice(b) }
}

/// Text, or NULL for none.
pub fn opt_text(s: Option<&str>) -> Value {
    s.map_or(Value::Null, text)
}

/// An integer, or NULL for none.
pub fn opt_int(i: Option<i64>) -> Value {
    i.map_or(Value::Null, int)
}

/// A statement with positional arguments (`?1`, `?2`, … in order).
pub fn stmt(sql: &str, args: impl IntoIterator<Item = Value>, want_rows: bool) -> Stmt {
    let mut stmt = Stmt::new(sql, want_rows);
    args.into_iter().for_each(|a| stmt.bind(a));
    stmt
}

pub fn execute(stmt: Stmt) -> StreamRequest {
    StreamRequest::Execute(ExecuteStreamReq { stmt })
}

pub fn batch(batch: Batch) -> StreamRequest {
    StreamRequest::Batch(BatchStreamReq { batch })
}

/// The steps of [`schema_batch`] that fail exactly when the table lacks the 0.3 columns: the
/// look before the transaction, and the guard inside it. Their errors are the expected ones
/// of a 0.2 table, not failures.
const V3_LOOK_STEP: usize = 4;
const V3_GUARD_STEP: usize = 6;

/// The schema batch: first the probe for the 0.1 layout (a row if the table has it), then
/// the table and index DDL, each step run only if the previous succeeded; then a read-only
/// look for the 0.3 columns, and only if they are missing the 0.2 layout's upgrade, one
/// transaction: BEGIN IMMEDIATE, the guard (fails on a 0.2 table), the columns added only if
/// it failed, COMMIT (ROLLBACK if an addition failed). So an instance's first call takes the
/// server's write lock only on a 0.2 table. Two instances upgrading at once: the second one's
/// guard, run after the first's COMMIT, succeeds, and it adds nothing.
pub fn schema_batch(sql: &Sql) -> Batch {
    let ok = |step| BatchCond::Ok { step };
    let not = |cond| BatchCond::Not { cond: Box::new(cond) };
    let look = V3_LOOK_STEP as u32;
    let begin = look + 1;
    let guard = V3_GUARD_STEP as u32;
    let mut steps = vec![
        BatchStep { condition: None, stmt: stmt(&sql.legacy_probe, [], true) },
        BatchStep { condition: None, stmt: stmt(&sql.create_table, [], false) },
        BatchStep { condition: Some(ok(1)), stmt: stmt(&sql.create_index, [], false) },
        BatchStep { condition: Some(ok(2)), stmt: stmt(&sql.create_owner_index, [], false) },
        BatchStep { condition: Some(ok(3)), stmt: stmt(&sql.v3_guard, [], false) },
        BatchStep {
            condition: Some(BatchCond::And(BatchCondList { conds: vec![ok(3), not(ok(look))] })),
            stmt: stmt("BEGIN IMMEDIATE", [], false),
        },
        BatchStep { condition: Some(ok(begin)), stmt: stmt(&sql.v3_guard, [], false) },
    ];
    for (i, alter) in sql.v2_upgrade.split("; ").enumerate() {
        let condition = if i == 0 {
            BatchCond::And(BatchCondList { conds: vec![ok(begin), not(ok(guard))] })
        } else {
            ok(steps.len() as u32 - 1)
        };
        steps.push(BatchStep { condition: Some(condition), stmt: stmt(alter, [], false) });
    }
    let last_alter = steps.len() as u32 - 1;
    let commit = steps.len() as u32;
    steps.push(BatchStep {
        condition: Some(BatchCond::And(BatchCondList {
            conds: vec![
                ok(begin),
                BatchCond::Or(BatchCondList { conds: vec![ok(guard), ok(last_alter)] }),
            ],
        })),
        stmt: stmt("COMMIT", [], false),
    });
    steps.push(BatchStep {
        condition: Some(BatchCond::And(BatchCondList { conds: vec![ok(begin), not(ok(commit))] })),
        stmt: stmt("ROLLBACK", [], false),
    });
    Batch { steps, replication_index: None }
}

/// A whole operation as one pipeline: the schema first (on an instance's first call),
/// then the operation, then `close`, so the stream (and its baton) ends with the request.
pub fn pipeline(schema: Option<Batch>, op: StreamRequest) -> PipelineReqBody {
    let mut requests: Vec<StreamRequest> = schema.map(batch).into_iter().collect();
    requests.push(op);
    requests.push(StreamRequest::Close(CloseStreamReq {}));
    PipelineReqBody { baton: None, requests }
}

/// Whether a batch response has a failed step (an execute response has none).
fn has_step_errors(response: &StreamResponse) -> bool {
    matches!(response, StreamResponse::Batch(b) if b.result.step_errors.iter().any(Option::is_some))
}

/// A pipeline [`pipeline`] built with a schema batch, without it: the operation and `close`,
/// to send the operation again once the schema is settled (after an upgrade).
pub fn without_schema(body: &mut PipelineReqBody) {
    body.requests.remove(0);
}

/// What a pipeline built by [`pipeline`] answered.
pub enum Answered {
    /// The operation's response.
    Done(StreamResponse),
    /// The schema probe found the 0.1 layout: the table must be upgraded (see [`Upgrade`]).
    /// With the operation's response when it succeeded on the old layout anyway (it names
    /// only `expiry`: counts, a sweep, whose deletions then stand); without, it failed and
    /// is to be sent again after the upgrade.
    Legacy(Option<StreamResponse>),
}

/// The operation's response out of a pipeline response built by [`pipeline`]. A failed
/// schema step or operation becomes the store's error.
pub fn op_response(resp: PipelineRespBody, with_schema: bool) -> Result<Answered> {
    let mut results = resp.results.into_iter();
    if with_schema {
        match results.next() {
            Some(StreamResult::Ok { response: StreamResponse::Batch(b) }) => {
                let legacy = b
                    .result
                    .step_results
                    .first()
                    .cloned()
                    .flatten()
                    .is_some_and(|probe| !probe.rows.is_empty());
                if legacy {
                    let succeeded = match results.next() {
                        Some(StreamResult::Ok { response }) if !has_step_errors(&response) => {
                            Some(response)
                        }
                        _ => None,
                    };
                    return Ok(Answered::Legacy(succeeded));
                }
                let mut result = b.result;
                for expected in [V3_LOOK_STEP, V3_GUARD_STEP] {
                    if let Some(error) = result.step_errors.get_mut(expected) {
                        *error = None;
                    }
                }
                first_step_error(&result)?
            }
            Some(StreamResult::Error { error }) => return Err(map_error(error)),
            _ => return Err(protocol("no result for the schema batch")),
        }
    }
    match results.next() {
        Some(StreamResult::Ok { response }) => Ok(Answered::Done(response)),
        Some(StreamResult::Error { error }) => Err(map_error(error)),
        _ => Err(protocol("no result for the operation")),
    }
}

/// Rows the 0.1-layout upgrade reads (and rewrites) per round trip.
pub const UPGRADE_CHUNK: i64 = 2_000;

/// The requests of the 0.1-layout upgrade, one interactive transaction on one stream (its
/// baton carried from answer to request): [`Upgrade::start`] begins it and reads the first
/// rows; [`Upgrade::rekey`] rewrites those rows' tokens as ids and reads the next ones;
/// [`Upgrade::finish`] renames the column, adds the owner column and indexes, and commits.
/// [`Upgrade::abandon`] rolls back. A stream the client abandons is rolled back by the
/// server when it expires.
pub struct Upgrade;

impl Upgrade {
    /// BEGIN IMMEDIATE, the probe (still the 0.1 layout?), the first chunk of rows.
    pub fn start(sql: &Sql) -> PipelineReqBody {
        let requests = vec![
            execute(stmt("BEGIN IMMEDIATE", [], false)),
            execute(stmt(&sql.legacy_probe, [], true)),
            execute(stmt(&sql.legacy_rows, [int(0), int(UPGRADE_CHUNK)], true)),
        ];
        PipelineReqBody { baton: None, requests }
    }

    /// Rewrites each (rowid, id) and reads the chunk after the last rowid.
    pub fn rekey(sql: &Sql, baton: String, rekeyed: &[(i64, String)]) -> PipelineReqBody {
        let after = rekeyed.last().map_or(0, |(rowid, _)| *rowid);
        let mut requests: Vec<StreamRequest> = rekeyed
            .iter()
            .map(|(rowid, id)| execute(stmt(&sql.legacy_rekey, [int(*rowid), text(id)], false)))
            .collect();
        requests.push(execute(stmt(&sql.legacy_rows, [int(after), int(UPGRADE_CHUNK)], true)));
        PipelineReqBody { baton: Some(baton), requests }
    }

    /// The layout change (to 0.2, then to 0.3) and the DDL, COMMIT, and the end of the
    /// stream.
    pub fn finish(sql: &Sql, baton: String) -> PipelineReqBody {
        let mut requests: Vec<StreamRequest> = sql
            .legacy_upgrade
            .split("; ")
            .chain(sql.v2_upgrade.split("; "))
            .chain([
                sql.create_table.as_str(),
                &sql.create_index,
                &sql.create_owner_index,
                "COMMIT",
            ])
            .map(|text| execute(stmt(text, [], false)))
            .collect();
        requests.push(StreamRequest::Close(CloseStreamReq {}));
        PipelineReqBody { baton: Some(baton), requests }
    }

    /// ROLLBACK and the end of the stream.
    pub fn abandon(baton: String) -> PipelineReqBody {
        let requests =
            vec![execute(stmt("ROLLBACK", [], false)), StreamRequest::Close(CloseStreamReq {})];
        PipelineReqBody { baton: Some(baton), requests }
    }

    /// Every result of an upgrade request, in order, as statement results; the first
    /// failed one is the error.
    pub fn results(resp: &PipelineRespBody) -> Result<Vec<StmtResult>> {
        resp.results
            .iter()
            .filter_map(|result| match result {
                StreamResult::Ok { response: StreamResponse::Execute(e) } => {
                    Some(Ok(e.result.clone()))
                }
                StreamResult::Ok { .. } => None,
                StreamResult::Error { error } => Some(Err(map_error(error.clone()))),
                StreamResult::None => Some(Err(protocol("an upgrade step did not run"))),
            })
            .collect()
    }

    /// The (rowid, token) rows of a chunk read.
    pub fn rows(result: &StmtResult) -> Result<Vec<(i64, String)>> {
        result
            .rows
            .iter()
            .map(|row| match row.values.as_slice() {
                [Value::Integer { value }, token] => Ok((*value, as_text(token)?)),
                _ => Err(protocol("expected (rowid, token) rows")),
            })
            .collect()
    }
}

/// Rotate as one transaction: copy the active session under the new id; drop the old row
/// if the copy inserted one; is the old one still active (a collision)?
pub fn rotate_batch(
    sql: &Sql,
    old: &str,
    new: &str,
    expiry: i64,
    deadlines: Option<(i64, Option<i64>)>,
    now: i64,
) -> Batch {
    let (absolute, idle) = deadlines.map_or((None, None), |(a, i)| (Some(a), i));
    let copy = [text(new), text(old), int(expiry), int(now), opt_int(absolute), opt_int(idle)];
    transaction(vec![
        stmt(&sql.rotate_copy, copy, false),
        stmt(&sql.rotate_drop, [text(old)], false),
        stmt(&sql.is_active, [text(old), int(now)], true),
    ])
}

/// What a [`rotate_batch`] did; an error if it did not commit.
pub fn rotation(resp: StreamResponse) -> Result<Rotation> {
    let [copied, _dropped, still_active] = committed(resp)?;
    if changed_one(&copied)? {
        return Ok(Rotation::Rotated);
    }
    Ok(if first_int(&still_active)? != 0 { Rotation::Taken } else { Rotation::NotActive })
}

/// The result of an `execute` operation.
pub fn stmt_result(resp: StreamResponse) -> Result<StmtResult> {
    match resp {
        StreamResponse::Execute(e) => Ok(e.result),
        _ => Err(protocol("expected an execute result")),
    }
}

/// `stmts` as one transaction: BEGIN IMMEDIATE; each statement if the previous step
/// succeeded; COMMIT — and ROLLBACK if anything before COMMIT failed. Read the answer with
/// [`committed`]: statement `i` is step `i + 1`.
fn transaction(stmts: Vec<Stmt>) -> Batch {
    let commit = stmts.len() + 1;
    let mut steps = vec![BatchStep { condition: None, stmt: stmt("BEGIN IMMEDIATE", [], false) }];
    steps.extend(
        stmts
            .into_iter()
            .chain([stmt("COMMIT", [], false)])
            .enumerate()
            .map(|(i, stmt)| BatchStep { condition: Some(BatchCond::Ok { step: i as u32 }), stmt }),
    );
    steps.push(BatchStep {
        condition: Some(BatchCond::Not { cond: Box::new(BatchCond::Ok { step: commit as u32 }) }),
        stmt: stmt("ROLLBACK", [], false),
    });
    Batch { steps, replication_index: None }
}

/// The results of the `N` statements of a committed [`transaction`], in order; an error
/// if it did not commit.
fn committed<const N: usize>(resp: StreamResponse) -> Result<[StmtResult; N]> {
    committed_all(resp, N)?.try_into().map_err(|_| protocol("a transaction step did not run"))
}

/// The results of the `n` statements of a committed [`transaction`], in order; an error
/// if it did not commit.
fn committed_all(resp: StreamResponse, n: usize) -> Result<Vec<StmtResult>> {
    let StreamResponse::Batch(b) = resp else {
        return Err(protocol("expected a batch result"));
    };
    // The ROLLBACK step (the last) fails harmlessly when the transaction committed.
    let through_commit = n + 2;
    let result = BatchResult {
        step_errors: b.result.step_errors.iter().take(through_commit).cloned().collect(),
        ..b.result
    };
    first_step_error(&result)?;
    let ran = || protocol("a transaction step did not run");
    let results: Vec<StmtResult> = result
        .step_results
        .into_iter()
        .skip(1)
        .take(n)
        .map(|step| step.ok_or_else(ran))
        .collect::<Result<_>>()?;
    if results.len() != n {
        return Err(ran());
    }
    Ok(results)
}

/// A group commit: each change's statement, in order, as one transaction; a change alone
/// is one `execute` (a statement is a transaction of its own).
pub fn apply_request(sql: &Sql, changes: &[Change<'_>], now: i64) -> StreamRequest {
    let stmt_of = |change: &Change<'_>| match change {
        Change::Upsert { id, row } => {
            let args = [
                text(id),
                blob(row.data),
                int(row.expiry),
                int(now),
                int(row.absolute),
                opt_int(row.idle),
                opt_text(row.label),
            ];
            stmt(&sql.upsert, args, false)
        }
        Change::UpdateIf { id, data, version } => {
            stmt(&sql.update_if, [text(id), blob(data), int(*version), int(now)], false)
        }
        Change::Seen { id, seen_before } => {
            stmt(&sql.seen, [text(id), int(now), int(*seen_before)], false)
        }
        Change::Update { id, data, expiry } => {
            stmt(&sql.update, [text(id), blob(data), int(*expiry), int(now)], false)
        }
        Change::Touch { id, expiry } => stmt(&sql.touch, [text(id), int(*expiry), int(now)], false),
        Change::Delete { id } => stmt(&sql.delete, [text(id)], false),
    };
    match changes {
        [change] => execute(stmt_of(change)),
        _ => batch(transaction(changes.iter().map(stmt_of).collect())),
    }
}

/// What an [`apply_request`] of `changes` did, one answer per change (see
/// `Backend::apply`); an error if it did not commit.
pub fn applied(resp: StreamResponse, changes: &[Change<'_>]) -> Result<Vec<bool>> {
    let results = match changes {
        [_] => vec![stmt_result(resp)?],
        _ => committed_all(resp, changes.len())?,
    };
    changes
        .iter()
        .zip(&results)
        .map(|(change, result)| match change {
            Change::Update { .. }
            | Change::UpdateIf { .. }
            | Change::Seen { .. }
            | Change::Touch { .. } => changed_one(result),
            Change::Upsert { .. } | Change::Delete { .. } => Ok(true),
        })
        .collect()
}

/// Sweep as one transaction: delete a batch; are any expired left?
pub fn sweep_batch(sql: &Sql, now: i64, limit: u32) -> Batch {
    transaction(vec![
        stmt(&sql.sweep, [int(now), int(i64::from(limit))], false),
        stmt(&sql.any_expired, [int(now)], true),
    ])
}

/// What a [`sweep_batch`] did; an error if it did not commit.
pub fn sweep_report(resp: StreamResponse) -> Result<SweepReport> {
    let [removed, more] = committed(resp)?;
    Ok(SweepReport { removed: removed.affected_row_count, more: first_int(&more)? != 0 })
}

fn first_step_error(result: &BatchResult) -> Result<()> {
    match result.step_errors.iter().flatten().next() {
        Some(error) => Err(map_error(error.clone())),
        None => Ok(()),
    }
}

/// The first column of the first row as an integer.
pub fn first_int(result: &StmtResult) -> Result<i64> {
    match result.rows.first().and_then(|r| r.values.first()) {
        Some(Value::Integer { value }) => Ok(*value),
        _ => Err(protocol("expected an integer")),
    }
}

/// The data column of a `find`: no row is no session; anything but one row holding a
/// blob is a garbled answer.
pub fn found_data(result: &StmtResult) -> Result<Option<Vec<u8>>> {
    match result.rows.as_slice() {
        [] => Ok(None),
        [row] => row
            .values
            .first()
            .map(as_blob)
            .transpose()?
            .map(Some)
            .ok_or_else(|| protocol("a row without data")),
        _ => Err(protocol("more than one row for one token")),
    }
}

/// The one row of two non-negative integers that the counts query returns. A missing
/// row or column, or any other value, is a garbled answer, never a zero.
pub fn session_counts(result: &StmtResult) -> Result<SessionCounts> {
    let [row] = result.rows.as_slice() else {
        return Err(protocol("expected one row of counts"));
    };
    let count = |i: usize| match row.values.get(i) {
        Some(Value::Integer { value }) => {
            u64::try_from(*value).map_err(|_| protocol("a negative count"))
        }
        _ => Err(protocol("expected two integer counts")),
    };
    Ok(SessionCounts { active: count(0)?, expired: count(1)? })
}

/// Whether a single-row write (keyed by the token, the primary key) changed its row: 0
/// or 1 changed rows; more is a garbled answer.
pub fn changed_one(result: &StmtResult) -> Result<bool> {
    match result.affected_row_count {
        0 => Ok(false),
        1 => Ok(true),
        n => Err(protocol(&format!("{n} rows changed for one token"))),
    }
}

pub fn as_blob(value: &Value) -> Result<Vec<u8>> {
    match value {
        Value::Blob { value } => Ok(value.to_vec()),
        Value::Text { value } => Ok(value.as_bytes().to_vec()),
        _ => Err(protocol("expected a blob")),
    }
}

pub fn as_text(value: &Value) -> Result<String> {
    match value {
        Value::Text { value } => Ok(value.to_string()),
        _ => Err(protocol("expected text")),
    }
}

/// Rows of (id, data) pairs.
pub fn entries(result: &StmtResult) -> Result<Vec<(String, Vec<u8>)>> {
    result
        .rows
        .iter()
        .map(|row| match row.values.as_slice() {
            [id, data, ..] => Ok((as_text(id)?, as_blob(data)?)),
            _ => Err(protocol("expected (id, data) rows")),
        })
        .collect()
}

/// Rows of (id, owner, expiry, created, last seen, label); owner, created, last seen and
/// label may be NULL.
pub fn session_infos(result: &StmtResult) -> Result<Vec<Device>> {
    let ms = |at: Option<i64>| at.map(|at| u64::try_from(at).unwrap_or(0));
    result
        .rows
        .iter()
        .map(|row| match row.values.as_slice() {
            [id, owner, Value::Integer { value: expiry }, created, last_seen, label] => {
                Ok(Device {
                    info: SessionInfo {
                        id: as_text(id)?,
                        owner: as_opt_text(owner)?,
                        expiry: u64::try_from(*expiry).unwrap_or(0),
                    },
                    created: ms(as_opt_int(created)?),
                    last_seen: ms(as_opt_int(last_seen)?),
                    label: as_opt_text(label)?,
                })
            }
            _ => Err(protocol("expected (id, owner, expiry, created, last seen, label) rows")),
        })
        .collect()
}

/// A `load`: the read recorded (`seen`), then the row read; each a statement of its own.
pub fn load_batch(sql: &Sql, id: &str, now: i64, seen_before: i64) -> Batch {
    let steps = vec![
        BatchStep {
            condition: None,
            stmt: stmt(&sql.seen, [text(id), int(now), int(seen_before)], false),
        },
        BatchStep {
            condition: Some(BatchCond::Ok { step: 0 }),
            stmt: stmt(&sql.load, [text(id), int(now)], true),
        },
    ];
    Batch { steps, replication_index: None }
}

/// The session a [`load_batch`] read: no row is no session.
pub fn loaded(resp: StreamResponse) -> Result<Option<Loaded>> {
    let StreamResponse::Batch(b) = resp else {
        return Err(protocol("expected a batch result"));
    };
    first_step_error(&b.result)?;
    let read = b.result.step_results.get(1).cloned().flatten();
    loaded_row(&read.ok_or_else(|| protocol("the read of a load did not run"))?)
}

/// The session a read of [`Sql::load`]'s columns found: no row is no session.
pub fn loaded_row(read: &StmtResult) -> Result<Option<Loaded>> {
    match read.rows.as_slice() {
        [] => Ok(None),
        [row] => match row.values.as_slice() {
            [data, version, expiry, absolute, idle, created, last_seen, label, owner] => {
                let required = |v: &Value| as_opt_int(v)?.ok_or_else(|| protocol("a NULL integer"));
                Ok(Some(Loaded {
                    data: as_blob(data)?,
                    version: required(version)?,
                    expiry: required(expiry)?,
                    absolute: required(absolute)?,
                    idle: as_opt_int(idle)?,
                    created: as_opt_int(created)?,
                    last_seen: as_opt_int(last_seen)?,
                    label: as_opt_text(label)?,
                    owner: as_opt_text(owner)?,
                }))
            }
            _ => Err(protocol("expected the nine columns of a session")),
        },
        _ => Err(protocol("more than one row for one token")),
    }
}

fn as_opt_text(value: &Value) -> Result<Option<String>> {
    match value {
        Value::Null => Ok(None),
        value => as_text(value).map(Some),
    }
}

fn as_opt_int(value: &Value) -> Result<Option<i64>> {
    match value {
        Value::Null => Ok(None),
        Value::Integer { value } => Ok(Some(*value)),
        _ => Err(protocol("expected an integer")),
    }
}

/// How many rows a `DELETE … RETURNING expiry > now` deleted that were active: one
/// integer (0 or 1) per deleted row.
pub fn active_deleted(result: &StmtResult) -> Result<u64> {
    result.rows.iter().try_fold(0, |active, row| match row.values.as_slice() {
        [Value::Integer { value: 1 }] => Ok(active + 1),
        [Value::Integer { value: 0 }] => Ok(active),
        _ => Err(protocol("expected one 0-or-1 per deleted row")),
    })
}

/// A server-reported SQL error: busy/locked/read-only/auth mean "not now", the rest
/// are storage errors carrying the server's message.
fn map_error(error: HranaError) -> Error {
    let transient = ["BUSY", "LOCKED", "READONLY", "AUTH"].iter().any(|c| error.code.contains(c));
    let message = format!("{} ({})", error.message, error.code);
    if transient {
        Error::Unavailable(format!("the libSQL server answered: {message}"))
    } else {
        Error::Storage(message)
    }
}

fn protocol(what: &str) -> Error {
    Error::Storage(format!("unexpected answer from the libSQL server: {what}"))
}

#[cfg(test)]
mod tests;
