//! The table layout and every SQL statement the store runs, built from a validated table
//! name so that no caller-controlled text ever reaches SQL unescaped.

use std::fmt;

/// Longest table name accepted; generous, and keeps index names within reason.
const MAX_TABLE_NAME: usize = 64;

/// The table used when `SESSIONS_TABLE` is not set: [`TableName::default`].
pub const DEFAULT_TABLE: &str = "sessions";

/// A table name made only of ASCII letters, digits and `_`, not starting with a digit and
/// not in SQLite's reserved `sqlite_` namespace. Such a name needs no quoting, so it is
/// spliced into SQL as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName(String);

impl TableName {
    /// Validates `name`; the error says what is wrong with it.
    pub fn new(name: &str) -> Result<TableName, String> {
        let first = name.chars().next().ok_or("the table name is empty")?;
        if name.len() > MAX_TABLE_NAME {
            return Err(format!("longer than {MAX_TABLE_NAME} characters"));
        }
        if first.is_ascii_digit() {
            return Err("a table name cannot start with a digit".into());
        }
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err("use only letters, digits and _".into());
        }
        if name.to_ascii_lowercase().starts_with("sqlite_") {
            return Err("names starting with sqlite_ are reserved by SQLite".into());
        }
        Ok(TableName(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for TableName {
    fn default() -> Self {
        TableName(DEFAULT_TABLE.to_owned())
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The SQL text of every operation, for one table.
///
/// The layout: `id` (the token's id, see `token::id_of`; never the token itself), `data`,
/// `expiry` (integer milliseconds since the Unix epoch) and `owner` (NULL when none). Every
/// read filters on `expiry > now`, so an expired session is never served, swept or not.
/// Since 0.3: `version` (changes with every write of the data), `absolute` (the deadline
/// no write moves `expiry` past: every statement stores `min(…, absolute)`), `idle` (ms of
/// inactivity that end the session, NULL none), `created`, `last_seen` (ms, NULL unknown)
/// and `label`. A 0.2 table gains them by [`Sql::v2_upgrade`] (found by [`Sql::v2_probe`]).
/// Two indexes: `expiry` (sweeps, counts) and `(owner, expiry)` over owned rows only, so
/// an owner's sessions are found, in expiry order, without reading the table.
///
/// The 0.1 layout (`token` in place of `id`, no `owner`) is recognised by [`Sql::legacy_probe`]
/// and upgraded in place by the backends: every stored token replaced by its id
/// ([`Sql::legacy_rows`], [`Sql::legacy_rekey`]), then [`Sql::legacy_upgrade`], in one transaction.
#[derive(Debug, Clone)]
pub struct Sql {
    pub create_table: String,
    /// The 0.3 read: data, version and the device columns ([`LOAD_COLUMNS`]).
    pub load: String,
    /// Records a read: `last_seen` and, with an idle timeout, a later expiry (capped).
    pub seen: String,
    /// The conditional update: applies only to an active row still at the version read.
    pub update_if: String,
    pub set_label: String,
    pub create_index: String,
    pub create_owner_index: String,
    pub find: String,
    /// `find` that also answers the row's id, for reads without the lock, which check it.
    pub find_with_id: String,
    /// `load` that also answers the row's id first, for reads without the lock.
    pub load_with_id: String,
    pub upsert: String,
    pub update: String,
    pub insert_new: String,
    pub delete: String,
    pub all: String,
    pub page: String,
    pub scan: String,
    pub touch: String,
    pub counts: String,
    pub sweep: String,
    pub any_expired: String,
    pub set_owner: String,
    pub sessions_of: String,
    pub revoke_owner: String,
    pub revoke: String,
    pub rotate_copy: String,
    pub rotate_drop: String,
    pub is_active: String,
    pub legacy_probe: String,
    pub legacy_rows: String,
    pub legacy_rekey: String,
    pub legacy_upgrade: String,
    /// A row only on the 0.2 layout (an `id` column, no `version`).
    pub v2_probe: String,
    /// The 0.2 layout to the 0.3 one: columns added, no row rewritten.
    pub v2_upgrade: String,
    /// Fails exactly when the table lacks the 0.3 columns (the remote upgrade's guard).
    pub v3_guard: String,
}

/// The columns [`Sql::load`] reads, in order.
pub const LOAD_COLUMNS: &str =
    "data, version, expiry, absolute, idle, created, last_seen, label, owner";

/// A fresh row's version: random (below 2^52, exact in a JavaScript number), so that a
/// session deleted and stored again under the same id never repeats a version once read.
const FRESH_VERSION: &str = "abs(random() % 4503599627370496)";

/// `absolute` when no deadline is set: SQLite's largest integer.
const NO_DEADLINE: &str = "9223372036854775807";

impl Sql {
    pub fn new(table: &TableName) -> Sql {
        let t = table.as_str();
        Sql {
            create_table: format!(
                "CREATE TABLE IF NOT EXISTS {t} (\n  \
                   id     TEXT PRIMARY KEY NOT NULL,\n  \
                   data   BLOB NOT NULL,\n  \
                   expiry INTEGER NOT NULL,\n  \
                   owner  TEXT,\n  \
                   version INTEGER NOT NULL DEFAULT 0,\n  \
                   absolute INTEGER NOT NULL DEFAULT {NO_DEADLINE},\n  \
                   idle INTEGER,\n  \
                   created INTEGER,\n  \
                   last_seen INTEGER,\n  \
                   label TEXT\n)"
            ),
            create_index: format!("CREATE INDEX IF NOT EXISTS {t}_expiry_idx ON {t}(expiry)"),
            create_owner_index: format!(
                "CREATE INDEX IF NOT EXISTS {t}_owner_idx ON {t}(owner, expiry) WHERE owner IS NOT NULL"
            ),
            find: format!("SELECT data FROM {t} WHERE id = ?1 AND expiry > ?2"),
            find_with_id: format!("SELECT id, data FROM {t} WHERE id = ?1 AND expiry > ?2"),
            load_with_id: format!(
                "SELECT id, {LOAD_COLUMNS} FROM {t} WHERE id = ?1 AND expiry > ?2"
            ),
            load: format!("SELECT {LOAD_COLUMNS} FROM {t} WHERE id = ?1 AND expiry > ?2"),
            // ?2 now, ?3 the last-seen time at or before which a read is recorded again.
            seen: format!(
                "UPDATE {t} SET last_seen = ?2, \
                 expiry = min(CASE WHEN idle IS NULL THEN expiry ELSE ?2 + idle END, absolute) \
                 WHERE id = ?1 AND expiry > ?2 AND (last_seen IS NULL OR last_seen <= ?3)"
            ),
            // ?3 the version read, ?4 now. One statement: atomic on a file and on a server.
            update_if: format!(
                "UPDATE {t} SET data = ?2, version = version + 1, last_seen = ?4, \
                 expiry = min(CASE WHEN idle IS NULL THEN expiry ELSE ?4 + idle END, absolute) \
                 WHERE id = ?1 AND expiry > ?4 AND version = ?3"
            ),
            set_label: format!("UPDATE {t} SET label = ?2 WHERE id = ?1 AND expiry > ?3"),
            // ?1 id, ?2 data, ?3 expiry asked, ?4 now, ?5 absolute, ?6 idle, ?7 label; an
            // absolute left NULL (a 0.2 caller's four arguments) is no deadline.
            // Replacing an active session keeps its owner and creation time, and its
            // absolute deadline unless ?5 is sooner; idle and label unless given. One that
            // had expired starts over. The version moves on either way.
            upsert: format!(
                "INSERT INTO {t} (id, data, expiry, version, absolute, idle, created, last_seen, label) \
                 VALUES (?1, ?2, min(?3, coalesce(?5, {NO_DEADLINE})), {FRESH_VERSION}, \
                 coalesce(?5, {NO_DEADLINE}), ?6, ?4, ?4, ?7) \
                 ON CONFLICT(id) DO UPDATE SET data = excluded.data, \
                 version = {t}.version + 1, last_seen = ?4, \
                 owner = CASE WHEN {t}.expiry > ?4 THEN {t}.owner END, \
                 created = CASE WHEN {t}.expiry > ?4 THEN {t}.created ELSE ?4 END, \
                 absolute = CASE WHEN {t}.expiry > ?4 \
                   THEN min({t}.absolute, excluded.absolute) ELSE excluded.absolute END, \
                 expiry = min(excluded.expiry, \
                   CASE WHEN {t}.expiry > ?4 THEN {t}.absolute ELSE excluded.absolute END), \
                 idle = CASE WHEN {t}.expiry > ?4 THEN coalesce(?6, {t}.idle) ELSE ?6 END, \
                 label = CASE WHEN {t}.expiry > ?4 THEN coalesce(?7, {t}.label) ELSE ?7 END"
            ),
            // Only an active session is replaced: a deleted (or expired) one stays gone.
            update: format!(
                "UPDATE {t} SET data = ?2, expiry = min(?3, absolute), version = version + 1, \
                 last_seen = ?4 WHERE id = ?1 AND expiry > ?4"
            ),
            // An id that exists at all, even expired, counts as taken: `create` draws again.
            // ?1 id, ?2 data, ?3 expiry asked, ?4 absolute (NULL: none), ?5 idle, ?6 now,
            // ?7 label.
            insert_new: format!(
                "INSERT INTO {t} (id, data, expiry, version, absolute, idle, created, last_seen, label) \
                 VALUES (?1, ?2, min(?3, coalesce(?4, {NO_DEADLINE})), {FRESH_VERSION}, \
                 coalesce(?4, {NO_DEADLINE}), ?5, ?6, ?6, ?7) \
                 ON CONFLICT(id) DO NOTHING"
            ),
            delete: format!("DELETE FROM {t} WHERE id = ?1"),
            all: format!("SELECT id, data FROM {t} WHERE expiry > ?1 ORDER BY id"),
            page: format!("SELECT id, data FROM {t} WHERE id > ?1 AND expiry > ?2 ORDER BY id LIMIT ?3"),
            // Every row after ?1 in id order, active or not (the data of expired ones is
            // left unread): listings bounded by rows examined, not rows returned.
            scan: format!(
                "SELECT id, CASE WHEN expiry > ?2 THEN data END FROM {t} WHERE id > ?1 ORDER BY id LIMIT ?3"
            ),
            // Never past the absolute deadline, whichever host asks.
            touch: format!("UPDATE {t} SET expiry = min(?2, absolute) WHERE id = ?1 AND expiry > ?3"),
            // Both counts are range scans of the expiry index, never of the table.
            counts: format!(
                "SELECT (SELECT count(*) FROM {t} WHERE expiry > ?1), \
                        (SELECT count(*) FROM {t} WHERE expiry <= ?1)"
            ),
            // Oldest first through the expiry index; the batch bounds the transaction.
            sweep: format!(
                "DELETE FROM {t} WHERE rowid IN \
                 (SELECT rowid FROM {t} WHERE expiry <= ?1 ORDER BY expiry LIMIT ?2)"
            ),
            any_expired: format!("SELECT EXISTS (SELECT 1 FROM {t} WHERE expiry <= ?1)"),
            set_owner: format!("UPDATE {t} SET owner = ?2 WHERE id = ?1 AND expiry > ?3"),
            // A range of the owner index, already in expiry order.
            sessions_of: format!(
                "SELECT id, owner, expiry, created, last_seen, label FROM {t} \
                 WHERE owner = ?1 AND expiry > ?2 ORDER BY expiry"
            ),
            // Expired rows of the owner go too; each returned row says whether it was active.
            // With a kept id (?2), nothing goes unless it is still an active session of the
            // owner: of two devices logging out everywhere at once, one stays logged in.
            revoke_owner: format!(
                "DELETE FROM {t} WHERE owner = ?1 AND id IS NOT ?2 AND (?2 IS NULL OR EXISTS \
                 (SELECT 1 FROM {t} WHERE id = ?2 AND owner = ?1 AND expiry > ?3)) \
                 RETURNING expiry > ?3"
            ),
            revoke: format!("DELETE FROM {t} WHERE id = ?1 RETURNING expiry > ?2"),
            // ?1 the new id, ?2 the old one: copies an active session under the new id unless
            // that id is taken (a collision: nothing inserted either way). ?5 a new absolute
            // deadline and ?6 idle timeout, or NULL to keep the session's.
            rotate_copy: format!(
                "INSERT INTO {t} (id, data, expiry, owner, version, absolute, idle, created, \
                 last_seen, label) \
                 SELECT ?1, data, min(?3, coalesce(?5, absolute)), owner, version + 1, \
                 coalesce(?5, absolute), CASE WHEN ?5 IS NULL THEN idle ELSE ?6 END, created, \
                 ?4, label FROM {t} WHERE id = ?2 AND expiry > ?4 \
                 ON CONFLICT(id) DO NOTHING"
            ),
            // Run right after `rotate_copy`: drops the old row only if the copy inserted one.
            rotate_drop: format!("DELETE FROM {t} WHERE id = ?1 AND changes() = 1"),
            is_active: format!("SELECT EXISTS (SELECT 1 FROM {t} WHERE id = ?1 AND expiry > ?2)"),
            // A row only on the 0.1 layout.
            legacy_probe: format!("SELECT 1 FROM pragma_table_info('{t}') WHERE name = 'token'"),
            legacy_rows: format!("SELECT rowid, token FROM {t} WHERE rowid > ?1 ORDER BY rowid LIMIT ?2"),
            legacy_rekey: format!("UPDATE {t} SET token = ?2 WHERE rowid = ?1"),
            legacy_upgrade: format!(
                "ALTER TABLE {t} RENAME COLUMN token TO id; ALTER TABLE {t} ADD COLUMN owner TEXT"
            ),
            v2_probe: format!(
                "SELECT 1 FROM pragma_table_info('{t}') WHERE name = 'id' AND NOT EXISTS \
                 (SELECT 1 FROM pragma_table_info('{t}') WHERE name = 'version')"
            ),
            v2_upgrade: format!(
                "ALTER TABLE {t} ADD COLUMN version INTEGER NOT NULL DEFAULT 0; \
                 ALTER TABLE {t} ADD COLUMN absolute INTEGER NOT NULL DEFAULT {NO_DEADLINE}; \
                 ALTER TABLE {t} ADD COLUMN idle INTEGER; \
                 ALTER TABLE {t} ADD COLUMN created INTEGER; \
                 ALTER TABLE {t} ADD COLUMN last_seen INTEGER; \
                 ALTER TABLE {t} ADD COLUMN label TEXT"
            ),
            v3_guard: format!("SELECT version FROM {t} LIMIT 0"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_identifiers_are_accepted() {
        for ok in ["sessions", "_s", "Sessions_2", "a"] {
            assert!(TableName::new(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn injection_and_odd_names_are_refused() {
        for bad in
            ["", "x; DROP TABLE y", "1abc", "a-b", "a b", "\"q\"", "sqlite_master", "ta\u{e9}ble"]
        {
            assert!(TableName::new(bad).is_err(), "{bad}");
        }
        assert!(TableName::new(&"t".repeat(65)).is_err());
    }
}
