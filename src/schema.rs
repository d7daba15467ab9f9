//! The table layout and every SQL statement the store runs, built from a validated table
//! name so that no caller-controlled text ever reaches SQL unescaped.

use std::fmt;

/// Longest table name accepted; generous, and keeps index names within reason.
const MAX_TABLE_NAME: usize = 64;

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
        TableName(crate::config::DEFAULT_TABLE.to_owned())
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The SQL text of every operation, for one table.
///
/// Expiry is integer milliseconds since the Unix epoch. Every read filters on
/// `expiry > now`, so an expired session is never served, swept or not.
#[derive(Debug, Clone)]
pub struct Sql {
    pub create_table: String,
    pub create_index: String,
    pub find: String,
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
}

impl Sql {
    pub fn new(table: &TableName) -> Sql {
        let t = table.as_str();
        Sql {
            create_table: format!(
                "CREATE TABLE IF NOT EXISTS {t} (\n  \
                   token  TEXT PRIMARY KEY NOT NULL,\n  \
                   data   BLOB NOT NULL,\n  \
                   expiry INTEGER NOT NULL\n)"
            ),
            create_index: format!("CREATE INDEX IF NOT EXISTS {t}_expiry_idx ON {t}(expiry)"),
            find: format!("SELECT data FROM {t} WHERE token = ?1 AND expiry > ?2"),
            upsert: format!(
                "INSERT INTO {t} (token, data, expiry) VALUES (?1, ?2, ?3) \
                 ON CONFLICT(token) DO UPDATE SET data = excluded.data, expiry = excluded.expiry"
            ),
            // Only an active session is replaced: a deleted (or expired) one stays gone.
            update: format!("UPDATE {t} SET data = ?2, expiry = ?3 WHERE token = ?1 AND expiry > ?4"),
            // A token that exists at all, even expired, counts as taken: `create` draws again.
            insert_new: format!(
                "INSERT INTO {t} (token, data, expiry) VALUES (?1, ?2, ?3) ON CONFLICT(token) DO NOTHING"
            ),
            delete: format!("DELETE FROM {t} WHERE token = ?1"),
            all: format!("SELECT token, data FROM {t} WHERE expiry > ?1 ORDER BY token"),
            page: format!(
                "SELECT token, data FROM {t} WHERE token > ?1 AND expiry > ?2 ORDER BY token LIMIT ?3"
            ),
            // Every row after ?1 in token order, active or not (the data of expired ones is
            // left unread): listings bounded by rows examined, not rows returned.
            scan: format!(
                "SELECT token, CASE WHEN expiry > ?2 THEN data END FROM {t} WHERE token > ?1 ORDER BY token LIMIT ?3"
            ),
            touch: format!("UPDATE {t} SET expiry = ?2 WHERE token = ?1 AND expiry > ?3"),
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
        for bad in ["", "x; DROP TABLE y", "1abc", "a-b", "a b", "\"q\"", "sqlite_master", "ta\u{e9}ble"] {
            assert!(TableName::new(bad).is_err(), "{bad}");
        }
        assert!(TableName::new(&"t".repeat(65)).is_err());
    }
}
