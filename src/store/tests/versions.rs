//! The 0.3 calls: versioned writes, both deadlines, device metadata.

use super::*;

const NEVER: Deadlines = Deadlines { absolute: u64::MAX, idle: None };

#[test]
fn every_write_of_the_data_moves_the_version_and_load_reads_it() {
    let (mut s, _) = memory_store();
    s.commit_with("tok", b"v1", NEVER, None).expect("commit");
    let first = s.load("tok").expect("load").expect("active");
    assert_eq!(first.data, b"v1");
    let second = s.update_if("tok", b"v2", first.version).expect("update_if").expect("applied");
    assert_ne!(second, first.version);
    assert_eq!(s.load("tok").expect("load").expect("active").version, second);
    assert!(s.update("tok", b"v3", T0 + 9000).expect("update"));
    let third = s.load("tok").expect("load").expect("active").version;
    s.commit("tok", b"v4", T0 + 9000).expect("commit");
    let fourth = s.load("tok").expect("load").expect("active").version;
    assert!(second != third && third != fourth, "{second} {third} {fourth}");
    assert!(s.touch("tok", T0 + 9500).expect("touch"));
    assert!(s.keep_alive("tok").expect("keep_alive"));
    assert_eq!(
        s.load("tok").expect("load").expect("active").version,
        fourth,
        "activity without data keeps the version: it causes no conflict"
    );
}

#[test]
fn a_conditional_update_losing_to_a_concurrent_write_says_so_and_stores_nothing() {
    let (mut s, _) = memory_store();
    s.commit_with("tok", b"{}", NEVER, None).expect("commit");
    let read_by_a = s.load("tok").expect("load").expect("active").version;
    let read_by_b = s.load("tok").expect("load").expect("active").version;
    assert!(s.update_if("tok", b"b's save", read_by_b).expect("b").is_some());
    assert_eq!(s.update_if("tok", b"a's save", read_by_a).expect("a"), None, "a lost");
    assert_eq!(s.load("tok").expect("load").expect("active").data, b"b's save");
    // Inside a batch too: the stale write fails alone, its neighbour is stored.
    let fresh = s.load("tok").expect("load").expect("active").version;
    let outcomes = s
        .write_all(&[
            Write::UpdateIf { token: "tok", data: b"stale", version: read_by_a },
            Write::UpdateIf { token: "tok", data: b"fresh", version: fresh },
        ])
        .expect("batch");
    assert_eq!(outcomes, vec![Ok(false), Ok(true)]);
    assert_eq!(s.load("tok").expect("load").expect("active").data, b"fresh");
}

#[test]
fn a_conditional_update_racing_destroy_or_renewal_resurrects_nothing() {
    let (mut s, _) = memory_store();
    s.commit_with("tok", b"{}", NEVER, None).expect("commit");
    let read = s.load("tok").expect("load").expect("active").version;
    s.delete("tok").expect("logout");
    assert_eq!(s.update_if("tok", b"late save", read).expect("update_if"), None);
    assert_eq!(s.load("tok").expect("load"), None);
    // Stored again under the same token: a fresh version, never the one read before.
    s.commit_with("tok", b"new", NEVER, None).expect("commit");
    assert_eq!(s.update_if("tok", b"late save", read).expect("update_if"), None);
    assert_eq!(s.load("tok").expect("load").expect("active").data, b"new");

    s.tokens.0.push_back("renewed".into());
    let read = s.load("tok").expect("load").expect("active").version;
    assert_eq!(s.rotate("tok", T0 + 9000).expect("rotate").as_deref(), Some("renewed"));
    assert_eq!(s.update_if("tok", b"late save", read).expect("update_if"), None);
    assert_eq!(s.load("tok").expect("load"), None, "the old token stays gone");
    assert_eq!(s.load("renewed").expect("load").expect("active").data, b"new");
}

#[test]
fn no_write_moves_a_session_past_its_absolute_deadline() {
    let (mut s, clock) = memory_store();
    let deadlines = Deadlines { absolute: T0 + 10_000, idle: Some(3000) };
    s.commit_with("tok", b"x", deadlines, None).expect("commit");
    assert_eq!(s.load("tok").expect("load").expect("active").expiry, T0 + 3000);
    // 0.2 calls from a host that knows nothing of the deadline.
    assert!(s.touch("tok", T0 + 99_000).expect("touch"));
    assert_eq!(s.load("tok").expect("load").expect("active").expiry, T0 + 10_000);
    assert!(s.update("tok", b"y", T0 + 99_000).expect("update"));
    s.commit("tok", b"z", T0 + 99_000).expect("commit");
    s.commit_with("tok", b"z", NEVER, None).expect("commit with no deadline");
    let stored = s.load("tok").expect("load").expect("active");
    assert_eq!((stored.expiry, stored.absolute), (T0 + 10_000, Some(T0 + 10_000)));
    // Idle activity slides the expiry, up to the deadline and no further.
    assert!(s.touch("tok", T0 + 9000).expect("touch"));
    clock.0.set(T0 + 8000);
    assert!(s.keep_alive("tok").expect("keep_alive"));
    assert_eq!(s.load("tok").expect("load").expect("active").expiry, T0 + 10_000);
    clock.0.set(T0 + 10_000);
    assert_eq!(s.load("tok").expect("load"), None);
    assert_eq!(s.find("tok").expect("find"), None);
    assert_eq!(s.stats().expect("stats"), SessionCounts { active: 0, expired: 1 });
    assert_eq!(s.sweep().expect("sweep").removed, 1);
}

#[test]
fn an_idle_session_ends_after_its_timeout_without_activity() {
    let (mut s, clock) = memory_store();
    let deadlines = Deadlines { absolute: T0 + 100_000, idle: Some(3000) };
    let token = s.create_with(b"x", deadlines, Some("Firefox on Linux")).expect("create");
    clock.0.set(T0 + 2000);
    let read = s.load(&token).expect("load").expect("active").version;
    let stored = s.update_if(&token, b"y", read).expect("update_if");
    assert!(stored.is_some(), "a write is activity: expiry T0 + 5000");
    clock.0.set(T0 + 4999);
    assert_eq!(s.find(&token).expect("find"), Some(b"y".to_vec()), "the 0.2 read sees it");
    clock.0.set(T0 + 5000);
    assert_eq!(s.find(&token).expect("find"), None);
    assert!(!s.keep_alive(&token).expect("keep_alive"), "an idle session is not revived");
    assert_eq!(s.stats().expect("stats"), SessionCounts { active: 0, expired: 1 });
}

#[test]
fn labels_over_the_limit_or_with_control_characters_are_refused_and_nothing_is_stored() {
    let (mut s, _) = memory_store();
    s.commit_with("tok", b"x", NEVER, Some("Safari on iPhone")).expect("commit");
    let long = "é".repeat(65);
    for bad in [long.as_str(), "tab\there", "line\nbreak", "nul\0", ""] {
        assert!(
            matches!(s.set_label("tok", Some(bad)), Err(Error::InvalidInput(_))),
            "set_label {bad:?}"
        );
        assert!(
            matches!(s.commit_with("tok", b"y", NEVER, Some(bad)), Err(Error::InvalidInput(_))),
            "commit_with {bad:?}"
        );
        assert!(
            matches!(s.create_with(b"z", NEVER, Some(bad)), Err(Error::InvalidInput(_))),
            "create_with {bad:?}"
        );
        assert!(
            matches!(s.insert_with("new", b"z", NEVER, Some(bad)), Err(Error::InvalidInput(_))),
            "insert_with {bad:?}"
        );
    }
    let stored = s.load("tok").expect("load").expect("active");
    assert_eq!((stored.data, stored.label.as_deref()), (b"x".to_vec(), Some("Safari on iPhone")));
    assert_eq!(s.stats().expect("stats").active, 1, "nothing created");
    let longest = "a".repeat(MAX_LABEL_BYTES);
    assert!(s.set_label("tok", Some(&longest)).expect("the longest label"));
    assert!(s.set_label("tok", None).expect("cleared"));
    assert_eq!(s.load("tok").expect("load").expect("active").label, None);
    assert!(!s.set_label("nobody", Some("x")).expect("no session"));
}

#[test]
fn last_seen_is_written_at_most_once_per_interval() {
    let config = Config {
        database: Database::Memory,
        last_seen_interval: std::time::Duration::from_secs(60),
        ..Config::default()
    };
    let (mut s, clock) = open_with(&config);
    let deadlines = Deadlines { absolute: u64::MAX, idle: Some(600_000) };
    s.commit_with("tok", b"x", deadlines, None).expect("commit");
    s.set_owner("tok", Some("ada")).expect("owner");
    let seen = |s: &mut crate::testing::TestStore| {
        s.load("tok").expect("load").expect("active").last_seen.expect("known")
    };
    assert_eq!(seen(&mut s), T0, "a write is a sighting");
    clock.0.set(T0 + 59_999);
    assert_eq!(seen(&mut s), T0, "not yet due: no write");
    assert_eq!(s.load("tok").expect("load").expect("active").expiry, T0 + 600_000, "nor a slide");
    clock.0.set(T0 + 60_000);
    assert_eq!(seen(&mut s), T0 + 60_000, "due: recorded");
    assert_eq!(s.load("tok").expect("load").expect("active").expiry, T0 + 660_000);
    clock.0.set(T0 + 61_000);
    assert_eq!(seen(&mut s), T0 + 60_000);
    let listed = s.devices_of("ada").expect("devices_of");
    assert_eq!(
        (listed[0].created, listed[0].last_seen),
        (Some(T0), Some(T0 + 60_000)),
        "the devices list shows them"
    );
}

#[test]
fn a_bad_idle_timeout_is_invalid_input() {
    let (mut s, _) = memory_store();
    for idle in [0, MAX_IDLE_MS + 1] {
        let deadlines = Deadlines { absolute: u64::MAX, idle: Some(idle) };
        assert!(matches!(s.create_with(b"x", deadlines, None), Err(Error::InvalidInput(_))));
        assert!(matches!(s.rotate_with("tok", deadlines), Err(Error::InvalidInput(_))));
    }
}

#[test]
fn insert_with_stores_deadlines_and_label_and_never_overwrites() {
    let (mut s, clock) = memory_store();
    let deadlines = Deadlines { absolute: T0 + 10_000, idle: Some(3000) };
    assert!(s.insert_with("caller-id", b"x", deadlines, Some("Edge")).expect("insert"));
    assert!(!s.insert_with("caller-id", b"y", NEVER, None).expect("insert"), "already stored");
    let stored = s.load("caller-id").expect("load").expect("active");
    assert_eq!(stored.data, b"x".to_vec());
    assert_eq!(
        (stored.expiry, stored.absolute, stored.idle),
        (T0 + 3000, Some(T0 + 10_000), Some(3000))
    );
    assert_eq!((stored.created, stored.label.as_deref()), (Some(T0), Some("Edge")));
    clock.0.set(T0 + 3000);
    assert_eq!(s.find("caller-id").expect("find"), None, "idle for 3 s");
}

#[test]
fn rotate_with_new_deadlines_keeps_data_owner_label_and_creation() {
    let (mut s, clock) = memory_store();
    s.commit_with("tok", b"x", Deadlines { absolute: T0 + 1000, idle: None }, Some("Edge"))
        .expect("commit");
    s.set_owner("tok", Some("ada")).expect("owner");
    clock.0.set(T0 + 500);
    s.tokens.0.push_back("renewed".into());
    let renewed = Deadlines { absolute: T0 + 50_000, idle: Some(2000) };
    assert_eq!(s.rotate_with("tok", renewed).expect("rotate").as_deref(), Some("renewed"));
    let stored = s.load("renewed").expect("load").expect("active");
    assert_eq!(stored.data, b"x");
    assert_eq!((stored.owner.as_deref(), stored.label.as_deref()), (Some("ada"), Some("Edge")));
    assert_eq!(
        (stored.created, stored.expiry, stored.absolute),
        (Some(T0), T0 + 2500, Some(T0 + 50_000))
    );
}

#[test]
fn a_commit_whose_deadline_has_passed_deletes_the_session() {
    let (mut s, _) = memory_store();
    s.commit_with("tok", b"x", NEVER, None).expect("commit");
    let passed = Deadlines { absolute: T0, idle: Some(1000) };
    s.commit_with("tok", b"y", passed, None).expect("commit");
    assert_eq!(s.load("tok").expect("load"), None);
    assert_eq!(s.stats().expect("stats"), SessionCounts { active: 0, expired: 0 }, "no row left");
}
