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
/// Two indexes: `expiry` (sweeps, counts) and `(owner, expiry)` over owned rows only, so
/// an owner's sessions are found, in expiry order, without reading the table.
///
/// The 0.1 layout (`token` in place of `id`, no `owner`) is recognised by [`Sql::legacy_probe`]
/// and upgraded in place by the backends: every stored token replaced by its id
/// ([`Sql::legacy_rows`], [`Sql::legacy_rekey`]), then [`Sql::legacy_upgrade`], in one transaction.
#[derive(Debug, Clone)]
pub struct Sql {
    pub create_table: String,
    pub create_index: String,
    pub create_owner_index: String,
    pub find: String,
    /// `find` that also answers the row's id, for reads without the lock, which check it.
    pub find_with_id: String,
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
}

impl Sql {
    pub fn new(table: &TableName) -> Sql {
        let t = table.as_str();
        Sql {
            create_table: format!(
                "CREATE TABLE IF NOT EXISTS {t} (\n  \
                   id     TEXT PRIMARY KEY NOT NULL,\n  \
                   data   BLOB NOT NULL,\n  \
                   expiry INTEGER NOT NULL,\n  \
                   owner  TEXT\n)"
            ),
            create_index: format!("CREATE INDEX IF NOT EXISTS {t}_expiry_idx ON {t}(expiry)"),
            create_owner_index: format!(
                "CREATE INDEX IF NOT EXISTS {t}_owner_idx ON {t}(owner, expiry) WHERE owner IS NOT NULL"
            ),
            find: format!("SELECT data FROM {t} WHERE id = ?1 AND expiry > ?2"),
            find_with_id: format!("SELECT id, data FROM {t} WHERE id = ?1 AND expiry > ?2"),
            // Replacing an active session keeps its owner; one that had expired starts over.
            upsert: format!(
                "INSERT INTO {t} (id, data, expiry) VALUES (?1, ?2, ?3) \
                 ON CONFLICT(id) DO UPDATE SET data = excluded.data, expiry = excluded.expiry, \
                 owner = CASE WHEN {t}.expiry > ?4 THEN {t}.owner END"
            ),
            // Only an active session is replaced: a deleted (or expired) one stays gone.
            update: format!("UPDATE {t} SET data = ?2, expiry = ?3 WHERE id = ?1 AND expiry > ?4"),
            // An id that exists at all, even expired, counts as taken: `create` draws again.
            insert_new: format!(
                "INSERT INTO {t} (id, data, expiry) VALUES (?1, ?2, ?3) ON CONFLICT(id) DO NOTHING"
            ),
            delete: format!("DELETE FROM {t} WHERE id = ?1"),
            all: format!("SELECT id, data FROM {t} WHERE expiry > ?1 ORDER BY id"),
            page: format!("SELECT id, data FROM {t} WHERE id > ?1 AND expiry > ?2 ORDER BY id LIMIT ?3"),
            // Every row after ?1 in id order, active or not (the data of expired ones is
            // left unread): listings bounded by rows examined, not rows returned.
            scan: format!(
                "SELECT id, CASE WHEN expiry > ?2 THEN data END FROM {t} WHERE id > ?1 ORDER BY id LIMIT ?3"
            ),
            touch: format!("UPDATE {t} SET expiry = ?2 WHERE id = ?1 AND expiry > ?3"),
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
                "SELECT id, owner, expiry FROM {t} WHERE owner = ?1 AND expiry > ?2 ORDER BY expiry"
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
            // that id is taken (a collision: nothing inserted either way).
            rotate_copy: format!(
                "INSERT INTO {t} (id, data, expiry, owner) \
                 SELECT ?1, data, ?3, owner FROM {t} WHERE id = ?2 AND expiry > ?4 \
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
