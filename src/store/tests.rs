use super::*;
use crate::config::Database;
use crate::testing::{memory_store, open_with, T0};

/// The 0.3 calls: versions, deadlines, device metadata.
mod versions;

#[test]
fn a_committed_session_is_found_until_it_expires() {
    let (mut s, clock) = memory_store();
    s.commit("tok", b"hello", T0 + 1000).expect("commit");
    assert_eq!(s.find("tok").expect("find"), Some(b"hello".to_vec()));
    clock.0.set(T0 + 999);
    assert!(s.find("tok").expect("find").is_some());
    clock.0.set(T0 + 1000);
    assert_eq!(s.find("tok").expect("find"), None, "expiry <= now is expired");
}

#[test]
fn update_replaces_an_active_session_and_never_recreates_a_deleted_one() {
    let (mut s, clock) = memory_store();
    assert!(!s.update("tok", b"v1", T0 + 1000).expect("update"), "nothing to update");
    assert_eq!(s.find("tok").expect("find"), None, "update never creates");
    s.commit("tok", b"v1", T0 + 1000).expect("commit");
    assert!(s.update("tok", b"v2", T0 + 5000).expect("update"));
    clock.0.set(T0 + 2000);
    assert_eq!(s.find("tok").expect("find"), Some(b"v2".to_vec()), "data and expiry replaced");
    s.delete("tok").expect("delete");
    assert!(!s.update("tok", b"v3", T0 + 9000).expect("update"), "a deleted session stays deleted");
    assert_eq!(s.find("tok").expect("find"), None);
    s.commit("old", b"x", T0 + 3000).expect("commit");
    clock.0.set(T0 + 3000);
    assert!(
        !s.update("old", b"y", T0 + 9000).expect("update"),
        "an expired session is not revived"
    );
    assert_eq!(s.find("old").expect("find"), None);
}

#[test]
fn update_with_a_past_expiry_ends_the_session_and_says_it_was_active() {
    let (mut s, _clock) = memory_store();
    s.commit("tok", b"v1", T0 + 1000).expect("commit");
    assert!(s.update("tok", b"", 0).expect("update"));
    assert_eq!(s.find("tok").expect("find"), None);
    assert!(!s.update("tok", b"", 0).expect("update"), "already ended");
}

#[test]
fn commit_replaces_data_and_expiry() {
    let (mut s, clock) = memory_store();
    s.commit("tok", b"one", T0 + 10).expect("commit");
    s.commit("tok", b"two", T0 + 5000).expect("commit");
    clock.0.set(T0 + 100);
    assert_eq!(s.find("tok").expect("find"), Some(b"two".to_vec()));
}

#[test]
fn a_commit_with_zero_or_past_expiry_leaves_nothing_findable() {
    let (mut s, _) = memory_store();
    s.commit("tok", b"live", T0 + 1000).expect("commit");
    s.commit("tok", b"dead", T0 - 1).expect("past expiry");
    assert_eq!(s.find("tok").expect("find"), None);
    s.commit("zero", b"x", 0).expect("zero expiry");
    assert_eq!(s.find("zero").expect("find"), None);
    assert_eq!(s.stats().expect("stats"), SessionCounts { active: 0, expired: 0 });
}

#[test]
fn max_expiry_never_expires() {
    let (mut s, clock) = memory_store();
    s.commit("forever", b"x", u64::MAX).expect("commit");
    clock.0.set(i64::MAX as u64 - 1);
    assert_eq!(s.find("forever").expect("find"), Some(b"x".to_vec()));
    assert!(s.touch("forever", u64::MAX).expect("touch"));
}

#[test]
fn deleting_removes_and_unknown_tokens_are_fine() {
    let (mut s, _) = memory_store();
    s.commit("tok", b"x", T0 + 1000).expect("commit");
    s.delete("tok").expect("delete");
    assert_eq!(s.find("tok").expect("find"), None);
    s.delete("never-existed").expect("unknown delete succeeds");
}

#[test]
fn all_lists_only_active_sessions_by_id_in_id_order() {
    let (mut s, clock) = memory_store();
    s.commit("b", b"2", T0 + 1000).expect("commit");
    s.commit("a", b"1", T0 + 1000).expect("commit");
    s.commit("c", b"3", T0 + 10).expect("commit");
    clock.0.set(T0 + 10);
    let mut expected = vec![(token::id_of("a"), b"1".to_vec()), (token::id_of("b"), b"2".to_vec())];
    expected.sort();
    assert_eq!(s.all().expect("all"), expected);
}

#[test]
fn page_walks_active_sessions_in_id_order() {
    let (mut s, _) = memory_store();
    let mut ids = Vec::new();
    for t in ["e", "a", "d", "b", "c"] {
        s.commit(t, t.as_bytes(), T0 + 1000).expect("commit");
        ids.push(token::id_of(t));
    }
    ids.sort();
    s.commit("bb", b"expired", T0 - 5).expect("commit");
    let listed = |page: Vec<Entry>| page.into_iter().map(|(id, _)| id).collect::<Vec<_>>();
    assert_eq!(listed(s.page(None, 2).expect("page")), ids[..2]);
    assert_eq!(listed(s.page(Some(&ids[1]), 2).expect("page")), ids[2..4]);
    assert_eq!(listed(s.page(Some(&ids[3]), 2).expect("page")), ids[4..]);
    assert!(s.page(Some(&ids[4]), 2).expect("page").is_empty());
    let unknown = format!("{}0", ids[1]);
    assert_eq!(listed(s.page(Some(&unknown), 10).expect("unknown after")), ids[2..]);
    assert!(s.page(None, 0).expect("limit 0").is_empty());
    assert!(matches!(s.page(Some("a\nb"), 1), Err(Error::InvalidInput(_))));
}

#[test]
fn touch_moves_expiry_of_active_sessions_only() {
    let (mut s, clock) = memory_store();
    s.commit("tok", b"data", T0 + 100).expect("commit");
    assert!(s.touch("tok", T0 + 10_000).expect("touch"));
    clock.0.set(T0 + 5000);
    assert_eq!(s.find("tok").expect("find"), Some(b"data".to_vec()));
    assert!(!s.touch("unknown", T0 + 99_999).expect("touch unknown"));
    clock.0.set(T0 + 10_000);
    assert!(
        !s.touch("tok", T0 + 99_999).expect("touch expired"),
        "an expired session is not revived"
    );
    assert_eq!(s.find("tok").expect("find"), None);
}

#[test]
fn create_draws_again_on_collision_and_never_overwrites() {
    let (mut s, _) = memory_store();
    s.commit("taken", b"original", T0 + 1000).expect("commit");
    s.tokens.0.extend(["taken".to_owned(), "fresh".to_owned()]);
    assert_eq!(s.create(b"new", T0 + 1000).expect("create"), "fresh");
    assert_eq!(s.find("taken").expect("find"), Some(b"original".to_vec()));
    assert_eq!(s.find("fresh").expect("find"), Some(b"new".to_vec()));
}

#[test]
fn create_gives_up_with_a_storage_error_when_every_draw_collides() {
    let (mut s, _) = memory_store();
    s.commit("same", b"x", T0 + 1000).expect("commit");
    s.tokens.0.extend(std::iter::repeat_n("same".to_owned(), CREATE_ATTEMPTS));
    assert!(matches!(s.create(b"y", T0 + 1000), Err(Error::Storage(_))));
}

#[test]
fn insert_stores_under_the_callers_token_and_never_overwrites_an_active_session() {
    let (mut s, _) = memory_store();
    assert!(s.insert("caller-id", b"first", T0 + 1000).expect("insert"));
    assert!(!s.insert("caller-id", b"second", T0 + 9000).expect("insert"), "already active");
    assert_eq!(s.find("caller-id").expect("find"), Some(b"first".to_vec()), "left unchanged");
}

#[test]
fn insert_refuses_the_id_of_an_expired_unswept_session_until_it_is_swept() {
    let (mut s, clock) = memory_store();
    s.commit("stale", b"old", T0 + 10).expect("commit");
    clock.0.set(T0 + 10);
    assert!(!s.insert("stale", b"new", T0 + 9000).expect("insert"), "a stored id is not reused");
    assert_eq!(s.find("stale").expect("find"), None);
    assert_eq!(s.sweep().expect("sweep").removed, 1);
    assert!(s.insert("stale", b"new", T0 + 9000).expect("insert"), "free once swept");
    assert_eq!(s.find("stale").expect("find"), Some(b"new".to_vec()));
}

#[test]
fn insert_with_a_past_expiry_stores_nothing_findable() {
    let (mut s, _) = memory_store();
    assert!(s.insert("dead", b"x", T0 - 1).expect("insert"));
    assert_eq!(s.find("dead").expect("find"), None);
    assert_eq!(s.stats().expect("stats"), SessionCounts { active: 0, expired: 1 });
}

#[test]
fn insert_checks_token_and_size_before_storing() {
    let config = Config { database: Database::Memory, max_data_bytes: 4, ..Config::default() };
    let (mut s, _) = open_with(&config);
    assert!(matches!(s.insert("", b"x", T0 + 1000), Err(Error::InvalidToken(_))));
    assert_eq!(s.insert("tok", b"12345", T0 + 1000), Err(Error::TooLarge(4)));
    assert_eq!(s.stats().expect("stats"), SessionCounts { active: 0, expired: 0 });
}

#[test]
fn created_tokens_are_43_characters() {
    let (mut s, _) = memory_store();
    let token = s.create(b"x", T0 + 1000).expect("create");
    assert_eq!(token.len(), 43);
    assert_eq!(s.find(&token).expect("find"), Some(b"x".to_vec()));
}

#[test]
fn oversized_data_is_refused_and_stored_data_survives() {
    let config = Config { database: Database::Memory, max_data_bytes: 8, ..Config::default() };
    let (mut s, _) = open_with(&config);
    s.commit("tok", b"12345678", T0 + 1000).expect("at the limit");
    assert_eq!(s.commit("tok", b"123456789", T0 + 1000), Err(Error::TooLarge(8)));
    assert_eq!(s.create(b"123456789", T0 + 1000), Err(Error::TooLarge(8)));
    assert_eq!(s.find("tok").expect("find"), Some(b"12345678".to_vec()));
    assert_eq!(s.stats().expect("stats").active, 1);
}

#[test]
fn bad_tokens_are_refused_by_every_operation() {
    let (mut s, _) = memory_store();
    s.commit("good", b"x", T0 + 1000).expect("commit");
    let long = "x".repeat(300);
    for bad in ["", " padded ", "new\nline", long.as_str()] {
        assert!(matches!(s.find(bad), Err(Error::InvalidToken(_))), "find {bad:?}");
        assert!(
            matches!(s.commit(bad, b"x", T0 + 1000), Err(Error::InvalidToken(_))),
            "commit {bad:?}"
        );
        assert!(matches!(s.delete(bad), Err(Error::InvalidToken(_))), "delete {bad:?}");
        assert!(matches!(s.touch(bad, T0 + 1000), Err(Error::InvalidToken(_))), "touch {bad:?}");
    }
    assert_eq!(s.all().expect("all").len(), 1);
}

fn owners_sessions(s: &mut crate::testing::TestStore, owner: &str) -> Vec<String> {
    s.sessions_of(owner).expect("sessions_of").into_iter().map(|i| i.id).collect()
}

#[test]
fn set_owner_marks_active_sessions_only_and_sessions_of_lists_them_soonest_expiry_first() {
    let (mut s, clock) = memory_store();
    s.commit("late", b"x", T0 + 9000).expect("commit");
    s.commit("soon", b"x", T0 + 2000).expect("commit");
    s.commit("gone", b"x", T0 + 1000).expect("commit");
    s.commit("other", b"x", T0 + 9000).expect("commit");
    for t in ["late", "soon", "gone"] {
        assert!(s.set_owner(t, Some("ada")).expect("set_owner"), "{t}");
    }
    assert!(s.set_owner("other", Some("bob")).expect("set_owner"));
    assert!(!s.set_owner("unknown", Some("ada")).expect("set_owner"), "no such session");
    clock.0.set(T0 + 1000);
    assert!(
        !s.set_owner("gone", Some("bob")).expect("set_owner"),
        "an expired session is not owned anew"
    );
    let info = s.sessions_of("ada").expect("sessions_of");
    assert_eq!(
        info.iter().map(|i| i.id.clone()).collect::<Vec<_>>(),
        [token::id_of("soon"), token::id_of("late")]
    );
    assert_eq!(info[0].owner.as_deref(), Some("ada"));
    assert_eq!(info[0].expiry, T0 + 2000);
    assert!(s.set_owner("soon", None).expect("clear"));
    assert_eq!(owners_sessions(&mut s, "ada"), [token::id_of("late")]);
    assert!(owners_sessions(&mut s, "nobody").is_empty());
}

#[test]
fn commit_keeps_the_owner_of_an_active_session_and_drops_that_of_an_expired_one() {
    let (mut s, clock) = memory_store();
    s.commit("tok", b"v1", T0 + 1000).expect("commit");
    s.set_owner("tok", Some("ada")).expect("set_owner");
    s.commit("tok", b"v2", T0 + 2000).expect("commit");
    assert_eq!(owners_sessions(&mut s, "ada"), [token::id_of("tok")], "still owned");
    clock.0.set(T0 + 2000);
    s.commit("tok", b"v3", T0 + 5000).expect("commit over the expired row");
    assert!(
        owners_sessions(&mut s, "ada").is_empty(),
        "an expired session's owner does not come back"
    );
    assert_eq!(s.find("tok").expect("find"), Some(b"v3".to_vec()));
}

#[test]
fn revoke_owner_ends_every_session_of_the_owner_but_the_kept_one() {
    let (mut s, clock) = memory_store();
    for t in ["phone", "laptop", "tablet", "stale"] {
        s.commit(t, b"x", T0 + if t == "stale" { 10 } else { 5000 }).expect("commit");
        s.set_owner(t, Some("ada")).expect("set_owner");
    }
    s.commit("bobs", b"x", T0 + 5000).expect("commit");
    s.set_owner("bobs", Some("bob")).expect("set_owner");
    clock.0.set(T0 + 10);
    assert_eq!(
        s.revoke_owner("ada", Some("laptop")).expect("revoke_owner"),
        2,
        "active ones counted"
    );
    assert_eq!(owners_sessions(&mut s, "ada"), [token::id_of("laptop")]);
    assert_eq!(s.find("phone").expect("find"), None);
    assert_eq!(
        s.stats().expect("stats"),
        SessionCounts { active: 2, expired: 0 },
        "the expired one went too"
    );
    assert_eq!(s.revoke_owner("ada", Some("bobs")).expect("keep of another owner"), 0);
    assert_eq!(owners_sessions(&mut s, "ada"), [token::id_of("laptop")], "nothing of ada's went");
    assert_eq!(
        s.find("bobs").expect("find"),
        Some(b"x".to_vec()),
        "another owner's session is untouched"
    );
    assert_eq!(s.revoke_owner("ada", None).expect("revoke all"), 1);
    assert_eq!(s.revoke_owner("ada", None).expect("nothing left"), 0);
}

#[test]
fn a_device_logged_out_meanwhile_cannot_log_out_the_device_that_ended_it() {
    let (mut s, _clock) = memory_store();
    for t in ["phone", "laptop"] {
        s.commit(t, b"x", T0 + 5000).expect("commit");
        s.set_owner(t, Some("ada")).expect("set_owner");
    }
    assert_eq!(s.revoke_owner("ada", Some("phone")).expect("the phone first"), 1);
    assert_eq!(s.revoke_owner("ada", Some("laptop")).expect("then the ended laptop"), 0);
    assert_eq!(owners_sessions(&mut s, "ada"), [token::id_of("phone")], "one device stays");
}

#[test]
fn revoke_deletes_by_listed_id_and_says_whether_the_session_was_active() {
    let (mut s, clock) = memory_store();
    s.commit("tok", b"x", T0 + 1000).expect("commit");
    s.commit("old", b"x", T0 + 10).expect("commit");
    clock.0.set(T0 + 10);
    let listed = s.all().expect("all")[0].0.clone();
    assert!(s.revoke(&listed).expect("revoke"));
    assert_eq!(s.find("tok").expect("find"), None);
    assert!(
        !s.revoke(&token::id_of("old")).expect("revoke expired"),
        "deleted, but it was not active"
    );
    assert!(!s.revoke(&listed).expect("again"));
    assert!(!s.revoke("tok").expect("a token is not an id"));
    assert_eq!(s.stats().expect("stats"), SessionCounts { active: 0, expired: 0 });
}

#[test]
fn rotate_moves_data_and_owner_to_a_fresh_token_and_ends_the_old_one() {
    let (mut s, clock) = memory_store();
    s.commit("before-login", b"cart", T0 + 1000).expect("commit");
    s.set_owner("before-login", Some("ada")).expect("set_owner");
    let fresh = s.rotate("before-login", T0 + 9000).expect("rotate").expect("rotated");
    assert_eq!(fresh.len(), 43);
    assert_eq!(s.find("before-login").expect("find"), None, "the old token stops existing");
    clock.0.set(T0 + 5000);
    assert_eq!(s.find(&fresh).expect("find"), Some(b"cart".to_vec()), "with the new expiry");
    assert_eq!(owners_sessions(&mut s, "ada"), [token::id_of(&fresh)]);
    assert_eq!(s.stats().expect("stats"), SessionCounts { active: 1, expired: 0 });
}

#[test]
fn rotate_of_an_unknown_or_expired_token_creates_nothing() {
    let (mut s, clock) = memory_store();
    s.commit("old", b"x", T0 + 10).expect("commit");
    clock.0.set(T0 + 10);
    assert_eq!(s.rotate("old", T0 + 9000).expect("rotate"), None);
    assert_eq!(s.rotate("never", T0 + 9000).expect("rotate"), None);
    assert_eq!(s.stats().expect("stats"), SessionCounts { active: 0, expired: 1 });
}

#[test]
fn rotate_draws_again_when_the_fresh_token_is_taken() {
    let (mut s, _) = memory_store();
    s.commit("taken", b"someone else", T0 + 1000).expect("commit");
    s.commit("mine", b"mine", T0 + 1000).expect("commit");
    s.tokens.0.extend(["taken".to_owned(), "fresh".to_owned()]);
    assert_eq!(s.rotate("mine", T0 + 2000).expect("rotate"), Some("fresh".to_owned()));
    assert_eq!(s.find("taken").expect("find"), Some(b"someone else".to_vec()), "never overwritten");
    assert_eq!(s.find("fresh").expect("find"), Some(b"mine".to_vec()));
    assert_eq!(s.find("mine").expect("find"), None);
}

#[test]
fn bad_owners_and_ids_are_refused_and_nothing_changes() {
    let (mut s, _) = memory_store();
    s.commit("tok", b"x", T0 + 1000).expect("commit");
    s.set_owner("tok", Some("ada")).expect("set_owner");
    let long = "o".repeat(257);
    for bad in ["", long.as_str(), "a\nb", "a\0b"] {
        assert!(
            matches!(s.set_owner("tok", Some(bad)), Err(Error::InvalidInput(_))),
            "set_owner {bad:?}"
        );
        assert!(matches!(s.sessions_of(bad), Err(Error::InvalidInput(_))), "sessions_of {bad:?}");
        assert!(
            matches!(s.revoke_owner(bad, None), Err(Error::InvalidInput(_))),
            "revoke_owner {bad:?}"
        );
        assert!(matches!(s.revoke(bad), Err(Error::InvalidInput(_))), "revoke {bad:?}");
        assert!(matches!(s.page(Some(bad), 5), Err(Error::InvalidInput(_))), "page {bad:?}");
    }
    assert!(
        matches!(s.revoke_owner("ada", Some("a b")), Err(Error::InvalidToken(_))),
        "keep is a token"
    );
    assert!(matches!(s.rotate("a b", T0 + 5000), Err(Error::InvalidToken(_))));
    assert_eq!(owners_sessions(&mut s, "ada"), [token::id_of("tok")], "nothing changed");
    assert_eq!(s.find("tok").expect("find"), Some(b"x".to_vec()));
}

#[test]
fn a_spent_sweep_budget_ends_the_call_after_one_chunk() {
    let config = Config {
        database: Database::Memory,
        sweep_budget: Some(std::time::Duration::ZERO),
        ..Config::default()
    };
    let (mut s, clock) = open_with(&config);
    for i in 0..250 {
        s.commit(&format!("old{i:03}"), b"x", T0 + 10).expect("commit");
    }
    clock.0.set(T0 + 10);
    assert_eq!(s.sweep().expect("sweep"), SweepReport { removed: 100, more: true });
    assert_eq!(s.sweep().expect("sweep"), SweepReport { removed: 100, more: true });
    assert_eq!(s.sweep().expect("sweep"), SweepReport { removed: 50, more: false });
}

#[test]
fn sweep_deletes_expired_sessions_in_bounded_batches_with_exact_counts() {
    let config = Config { database: Database::Memory, sweep_batch: 3, ..Config::default() };
    let (mut s, clock) = open_with(&config);
    for i in 0..7 {
        s.commit(&format!("old{i}"), b"x", T0 + 10).expect("commit");
    }
    for i in 0..4 {
        s.commit(&format!("live{i}"), b"x", T0 + 10_000).expect("commit");
    }
    clock.0.set(T0 + 10);
    assert_eq!(s.stats().expect("stats"), SessionCounts { active: 4, expired: 7 });
    assert_eq!(s.sweep().expect("sweep"), SweepReport { removed: 3, more: true });
    assert_eq!(s.sweep().expect("sweep"), SweepReport { removed: 3, more: true });
    assert_eq!(s.sweep().expect("sweep"), SweepReport { removed: 1, more: false });
    assert_eq!(s.sweep().expect("sweep"), SweepReport { removed: 0, more: false });
    assert_eq!(s.stats().expect("stats"), SessionCounts { active: 4, expired: 0 });
}

#[test]
fn a_batch_of_writes_does_what_each_call_does_in_order_and_answers_each() {
    let (mut s, clock) = memory_store();
    s.commit("old", b"old", T0 + 1000).expect("commit");
    s.commit("doomed", b"x", T0 + 1000).expect("commit");
    let outcomes = s
        .write_all(&[
            Write::Commit { token: "new", data: b"v1", expiry: T0 + 1000 },
            Write::Update { token: "new", data: b"v2", expiry: T0 + 5000 },
            Write::Update { token: "nobody", data: b"x", expiry: T0 + 5000 },
            Write::Touch { token: "old", expiry: T0 + 5000 },
            Write::Touch { token: "nobody", expiry: T0 + 5000 },
            Write::Delete { token: "doomed" },
            Write::Commit { token: "never", data: b"x", expiry: T0 },
        ])
        .expect("batch");
    assert_eq!(
        outcomes,
        vec![Ok(true), Ok(true), Ok(false), Ok(true), Ok(false), Ok(true), Ok(true)]
    );
    clock.0.set(T0 + 2000);
    assert_eq!(
        s.find("new").expect("find"),
        Some(b"v2".to_vec()),
        "the update saw the commit before it"
    );
    assert_eq!(s.find("old").expect("find"), Some(b"old".to_vec()), "touched past its old expiry");
    assert_eq!(s.find("doomed").expect("find"), None);
    assert_eq!(s.find("nobody").expect("find"), None, "update and touch never create");
    assert_eq!(
        s.stats().expect("stats"),
        SessionCounts { active: 2, expired: 0 },
        "a past-expiry commit stores nothing"
    );
    assert_eq!(s.write_all(&[]).expect("empty batch"), Vec::<Result<bool>>::new());
    let alone = s
        .write_all(&[Write::Update { token: "new", data: b"v3", expiry: T0 + 5000 }])
        .expect("batch of one");
    assert_eq!(alone, vec![Ok(true)]);
    assert_eq!(s.find("new").expect("find"), Some(b"v3".to_vec()));
    assert_eq!(
        s.write_all(&[Write::Touch { token: "nobody", expiry: T0 + 5000 }]).expect("batch of one"),
        vec![Ok(false)]
    );
}

#[test]
fn a_write_with_bad_input_fails_alone_and_the_rest_of_the_batch_is_stored() {
    let config = Config { database: Database::Memory, max_data_bytes: 8, ..Config::default() };
    let (mut s, _) = open_with(&config);
    s.commit("kept", b"kept", T0 + 1000).expect("commit");
    let outcomes = s
        .write_all(&[
            Write::Commit { token: "a", data: b"a", expiry: T0 + 1000 },
            Write::Commit { token: "bad token", data: b"x", expiry: T0 + 1000 },
            Write::Update { token: "kept", data: b"123456789", expiry: T0 + 1000 },
            Write::Delete { token: "" },
            Write::Touch { token: "new\nline", expiry: T0 + 1000 },
            Write::Commit { token: "b", data: b"b", expiry: T0 + 1000 },
        ])
        .expect("batch");
    assert_eq!(outcomes[0], Ok(true));
    assert!(matches!(outcomes[1], Err(Error::InvalidToken(_))), "{:?}", outcomes[1]);
    assert_eq!(outcomes[2], Err(Error::TooLarge(8)));
    assert!(matches!(outcomes[3], Err(Error::InvalidToken(_))), "{:?}", outcomes[3]);
    assert!(matches!(outcomes[4], Err(Error::InvalidToken(_))), "{:?}", outcomes[4]);
    assert_eq!(outcomes[5], Ok(true));
    assert_eq!(s.find("a").expect("find"), Some(b"a".to_vec()));
    assert_eq!(s.find("b").expect("find"), Some(b"b".to_vec()));
    assert_eq!(
        s.find("kept").expect("find"),
        Some(b"kept".to_vec()),
        "the refused update changed nothing"
    );
    let refused = s.write_all(&[Write::Delete { token: "" }]).expect("batch of one bad write");
    assert!(matches!(refused[..], [Err(Error::InvalidToken(_))]), "{refused:?}");
}
