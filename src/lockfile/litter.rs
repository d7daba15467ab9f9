//! What killed callers leave beside the database, and its removal by the next lock holder:
//! staged lock lines (`<db>-lock.<id>`) and waiters' places (`<db>-wait.<arrival>.<id>`).
//! The rule: [docs/durability.md](../../docs/durability.md#litter).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::line::{dir_of, name_of, LOCK_SUFFIX, WAIT_SUFFIX};

/// How often one lock looks for litter while it holds the lock; its first turn always looks.
pub const LITTER_INTERVAL: Duration = Duration::from_secs(10);

/// A place whose arrival is older than twice the busy timeout plus this is dead: its waiter
/// would have given up (and removed it) by then, even one that carried its arrival over from
/// an earlier wait (`CARRY_WINDOW`).
pub const PLACE_GRACE: Duration = Duration::from_secs(1);

/// Bound on listings of one clean-up. A guest's directory listing can end early, so a pass
/// removes what it saw and the next lists again, until one finds nothing.
pub(super) const LISTING_PASSES: usize = 16;

/// The litter of one database's lock, and when this lock last looked for it.
#[derive(Debug)]
pub(super) struct Litter {
    dir: PathBuf,
    /// `<db name>-lock.`: what starts every staged lock line's name.
    staged_prefix: String,
    /// `<db name>-wait.`: what starts every place's name.
    wait_prefix: String,
    last_look: Mutex<Option<Instant>>,
}

impl Litter {
    /// The litter beside `database`.
    pub(super) fn beside(database: &Path) -> Litter {
        let name = name_of(database);
        Litter {
            dir: dir_of(database),
            staged_prefix: format!("{name}{LOCK_SUFFIX}."),
            wait_prefix: format!("{name}{WAIT_SUFFIX}"),
            last_look: Mutex::new(None),
        }
    }

    /// Called by the holder of the lock, whose own line is staged as `<db>-lock.<own>`: at
    /// most once per [`LITTER_INTERVAL`], removes every other staged line (a writer staging
    /// right now finds its line gone and stages it again) and every place that arrived more
    /// than 2 × `busy_timeout` + [`PLACE_GRACE`] before `now_ms` (wall clock, Unix ms).
    /// Failures are ignored: litter guards nothing.
    pub(super) fn clear_if_due(&self, own: &str, now_ms: u64, busy_timeout: Duration) {
        let Ok(mut last_look) = self.last_look.lock() else { return };
        if last_look.is_some_and(|at| at.elapsed() < LITTER_INTERVAL) {
            return;
        }
        *last_look = Some(Instant::now());
        let own_staged = format!("{}{own}", self.staged_prefix);
        let oldest_live = now_ms.saturating_sub(millis(busy_timeout * 2 + PLACE_GRACE));
        self.remove_all(|name| {
            if let Some(id) = name.strip_prefix(&self.staged_prefix) {
                return !id.is_empty() && name != own_staged;
            }
            name.strip_prefix(&self.wait_prefix)
                .and_then(|rest| rest.split_once('.'))
                .and_then(|(arrival, _)| arrival.parse::<u64>().ok())
                .is_some_and(|arrival| arrival < oldest_live)
        });
    }

    /// Removes every entry of the directory whose name `doomed` picks, listing again until a
    /// listing picks none (at most [`LISTING_PASSES`] listings).
    fn remove_all(&self, doomed: impl Fn(&str) -> bool) {
        for _ in 0..LISTING_PASSES {
            let names = names_in(&self.dir, &doomed);
            if names.is_empty() {
                return;
            }
            for name in names {
                let _ = fs::remove_file(self.dir.join(name));
            }
        }
    }
}

/// The names of the entries of `dir` that `pick` picks; as many as the listing gave before
/// it ended or failed (none if the directory cannot be listed).
pub(super) fn names_in(dir: &Path, pick: impl Fn(&str) -> bool) -> Vec<String> {
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    entries
        .map_while(|entry| entry.ok())
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| pick(name))
        .collect()
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::time::Duration;

    use super::Litter;

    const NOW: u64 = 1_700_000_000_000;

    fn touch(dir: &std::path::Path, name: &str) {
        fs::write(dir.join(name), b"").expect("write");
    }

    fn names(dir: &std::path::Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .expect("list")
            .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn the_holder_removes_other_staged_lines_and_dead_places_and_keeps_the_rest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let busy = Duration::from_secs(5);
        let dead = NOW - 12_000;
        let live = NOW - 10_000;
        for name in [
            "sessions.db".to_owned(),
            "sessions.db-lock".to_owned(),
            "sessions.db-lock-last".to_owned(),
            "sessions.db-lock.mine".to_owned(),
            "sessions.db-lock.killed".to_owned(),
            format!("sessions.db-wait.{dead:020}.gone"),
            format!("sessions.db-wait.{live:020}.waiting"),
            "other.db-lock.theirs".to_owned(),
        ] {
            touch(dir.path(), &name);
        }
        let litter = Litter::beside(&dir.path().join("sessions.db"));
        litter.clear_if_due("mine", NOW, busy);
        assert_eq!(
            names(dir.path()),
            [
                "other.db-lock.theirs".to_owned(),
                "sessions.db".to_owned(),
                "sessions.db-lock".to_owned(),
                "sessions.db-lock-last".to_owned(),
                "sessions.db-lock.mine".to_owned(),
                format!("sessions.db-wait.{live:020}.waiting"),
            ]
        );
    }

    #[test]
    fn hundreds_of_dead_places_go_in_one_clean_up_and_the_next_look_waits_its_interval() {
        let dir = tempfile::tempdir().expect("tempdir");
        for i in 0..400u64 {
            touch(dir.path(), &format!("sessions.db-wait.{:020}.dead{i}", NOW - 60_000 + i));
        }
        let litter = Litter::beside(&dir.path().join("sessions.db"));
        litter.clear_if_due("mine", NOW, Duration::from_secs(5));
        assert!(names(dir.path()).is_empty());
        touch(dir.path(), "sessions.db-lock.killed");
        litter.clear_if_due("mine", NOW, Duration::from_secs(5));
        assert_eq!(names(dir.path()), ["sessions.db-lock.killed"], "not due again yet");
    }
}
