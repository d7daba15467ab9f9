use super::*;

fn with(name: &str, value: &str) -> Result<Config> {
    Config::from_vars([(name, value)])
}

fn error_names(result: Result<Config>, variable: &str) {
    match result {
        Err(Error::InvalidConfig(msg)) => assert!(msg.contains(variable), "{msg}"),
        other => panic!("expected InvalidConfig naming {variable}, got {other:?}"),
    }
}

#[test]
fn the_default_database_lies_in_the_data_directory_hosts_preopen() {
    let file = std::path::Path::new(DEFAULT_DATABASE);
    assert_eq!(file.parent(), Some(std::path::Path::new(DATA_DIR)));
}

#[test]
fn no_variables_give_the_documented_defaults() {
    let c = Config::from_vars(Vec::<(String, String)>::new()).expect("defaults");
    assert_eq!(c.database, Database::File("/data/sessions.db".into()));
    assert_eq!(c.table.as_str(), "sessions");
    assert_eq!(c.cleanup_interval, Some(Duration::from_secs(300)));
    assert_eq!(c.sweep_batch, 1000);
    assert_eq!(c.max_data_bytes, 1_048_576);
    assert_eq!(c.locking, Locking::Shared);
    assert_eq!(c.sweep_budget, Some(Duration::from_millis(10)));
}

#[test]
fn the_sweep_budget_is_a_duration_or_zero_for_none() {
    assert_eq!(
        with("SESSIONS_SWEEP_BUDGET", "25ms").map(|c| c.sweep_budget),
        Ok(Some(Duration::from_millis(25)))
    );
    for none in ["0", "0ms"] {
        assert_eq!(with("SESSIONS_SWEEP_BUDGET", none).map(|c| c.sweep_budget), Ok(None), "{none}");
    }
    for bad in ["", "500us", "fast", "-5ms", "11m"] {
        error_names(with("SESSIONS_SWEEP_BUDGET", bad), "SESSIONS_SWEEP_BUDGET");
    }
}

#[test]
fn each_duration_setting_keeps_its_own_range_and_says_it() {
    assert_eq!(with("SESSIONS_BUSY_TIMEOUT", "0").map(|c| c.busy_timeout), Ok(Duration::ZERO));
    assert_eq!(
        with("SESSIONS_BUSY_TIMEOUT", "10m").map(|c| c.busy_timeout),
        Ok(Duration::from_secs(600))
    );
    assert_eq!(
        with("SESSIONS_CLEANUP_INTERVAL", "30days").map(|c| c.cleanup_interval),
        Ok(Some(Duration::from_secs(30 * 86400)))
    );
    for (name, value, says) in [
        ("SESSIONS_BUSY_TIMEOUT", "11m", "use 0s to 10m"),
        ("SESSIONS_REMOTE_TIMEOUT", "0", "use 10ms to 10m"),
        ("SESSIONS_SWEEP_BUDGET", "1h", "use 1ms to 10m, or 0 for none"),
        ("SESSIONS_CLEANUP_INTERVAL", "10us", "use 1ms or longer, or 0 for none"),
        ("SESSIONS_REMOTE_TIMEOUT", "soon", "use a duration such as 2s"),
    ] {
        match with(name, value) {
            Err(Error::InvalidConfig(msg)) => {
                assert!(msg.contains(name) && msg.contains(says), "{msg}")
            }
            other => panic!("{name}={value}: expected InvalidConfig, got {other:?}"),
        }
    }
}

#[test]
fn locking_is_shared_or_exclusive_and_nothing_else() {
    assert_eq!(with("SESSIONS_LOCKING", "exclusive").map(|c| c.locking), Ok(Locking::Exclusive));
    assert_eq!(with("SESSIONS_LOCKING", " shared ").map(|c| c.locking), Ok(Locking::Shared));
    for bad in ["", "EXCLUSIVE", "none", "exclusive;"] {
        error_names(with("SESSIONS_LOCKING", bad), "SESSIONS_LOCKING");
    }
}

#[test]
fn human_durations_and_zero_set_the_cleanup_interval() {
    assert_eq!(
        with("SESSIONS_CLEANUP_INTERVAL", "30s").map(|c| c.cleanup_interval),
        Ok(Some(Duration::from_secs(30)))
    );
    assert_eq!(
        with("SESSIONS_CLEANUP_INTERVAL", "1h").map(|c| c.cleanup_interval),
        Ok(Some(Duration::from_secs(3600)))
    );
    assert_eq!(with("SESSIONS_CLEANUP_INTERVAL", "0").map(|c| c.cleanup_interval), Ok(None));
    assert_eq!(with("SESSIONS_CLEANUP_INTERVAL", "0s").map(|c| c.cleanup_interval), Ok(None));
}

#[test]
fn memory_and_paths_select_the_database() {
    assert_eq!(with("SESSIONS_DATABASE", ":memory:").map(|c| c.database), Ok(Database::Memory));
    assert_eq!(
        with("SESSIONS_DATABASE", "/srv/s.db").map(|c| c.database),
        Ok(Database::File("/srv/s.db".into()))
    );
}

#[test]
fn malformed_values_name_their_variable() {
    error_names(with("SESSIONS_CLEANUP_INTERVAL", "soon"), "SESSIONS_CLEANUP_INTERVAL");
    error_names(with("SESSIONS_CLEANUP_INTERVAL", "-5m"), "SESSIONS_CLEANUP_INTERVAL");
    error_names(with("SESSIONS_SWEEP_BATCH", "0"), "SESSIONS_SWEEP_BATCH");
    error_names(with("SESSIONS_SWEEP_BATCH", "many"), "SESSIONS_SWEEP_BATCH");
    error_names(with("SESSIONS_SWEEP_BATCH", "99999999999"), "SESSIONS_SWEEP_BATCH");
    error_names(with("SESSIONS_MAX_DATA_BYTES", "-1"), "SESSIONS_MAX_DATA_BYTES");
    error_names(with("SESSIONS_MAX_DATA_BYTES", "1e6"), "SESSIONS_MAX_DATA_BYTES");
    error_names(with("SESSIONS_TABLE", "x; DROP TABLE y"), "SESSIONS_TABLE");
    error_names(with("SESSIONS_TABLE", "9lives"), "SESSIONS_TABLE");
    error_names(with("SESSIONS_DATABASE", ""), "SESSIONS_DATABASE");
    error_names(with("SESSIONS_BUSY_TIMEOUT", "forever"), "SESSIONS_BUSY_TIMEOUT");
    error_names(with("SESSIONS_LOCK_OWNER", "two words"), "SESSIONS_LOCK_OWNER");
}

#[test]
fn server_urls_select_the_remote_backend_and_libsql_means_https() {
    let db = |url| with("SESSIONS_DATABASE", url).map(|c| c.database);
    assert_eq!(db("http://127.0.0.1:8080"), Ok(Database::Remote("http://127.0.0.1:8080".into())));
    assert_eq!(db("https://db.example/"), Ok(Database::Remote("https://db.example".into())));
    assert_eq!(
        db("libsql://my-db.turso.io"),
        Ok(Database::Remote("https://my-db.turso.io".into()))
    );
}

#[test]
fn malformed_server_urls_are_refused() {
    for url in [
        "ftp://x",
        "http://",
        "http://host/path",
        "http://user:pw@host",
        "http://a b",
        "libsql://h?authToken=t",
    ] {
        error_names(with("SESSIONS_DATABASE", url), "SESSIONS_DATABASE");
    }
}

#[test]
fn redaction_removes_credentials_queries_and_fragments_from_urls() {
    for (value, shown) in [
        ("http://user:hunter2@db.example:8080", "http://***@db.example:8080"),
        ("libsql://db.turso.io?authToken=hunter2", "libsql://db.turso.io?***"),
        ("https://u:p@h/path?token=hunter2#frag", "https://***@h/path?***"),
        ("http://u:hun/ter?2@host", "http://***@host"),
        ("http://a@b:hunter2@host/x#hunter2", "http://***@host/x#***"),
        ("HTTPS://host", "HTTPS://host"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080/"),
        ("user:hunter2@pg://host", "***://host"),
        ("/data/sessions.db", "/data/sessions.db"),
        (":memory:", ":memory:"),
    ] {
        assert_eq!(redact_url(value), shown, "{value}");
    }
}

#[test]
fn database_errors_never_echo_a_password_or_query() {
    for url in [
        "http://user:hunter2@db.example",
        "libsql://db.turso.io?authToken=hunter2",
        "postgres://admin:hunter2@db",
        "https://db.example/path?key=hunter2",
        "user:hunter2@weird://x",
    ] {
        match with("SESSIONS_DATABASE", url) {
            Err(Error::InvalidConfig(msg)) => {
                assert!(msg.contains("SESSIONS_DATABASE"), "{msg}");
                assert!(!msg.contains("hunter2"), "{msg}");
            }
            other => panic!("{url}: expected InvalidConfig, got {other:?}"),
        }
    }
}

#[test]
fn a_token_over_plain_http_is_allowed_only_to_loopback() {
    let both = |url: &str| {
        Config::from_vars([("SESSIONS_DATABASE", url), ("SESSIONS_AUTH_TOKEN", "hunter2")])
    };
    for url in [
        "http://127.0.0.1:8080",
        "http://127.8.9.10",
        "http://localhost:8080",
        "http://LOCALHOST",
        "http://[::1]:8080",
        "http://[::ffff:127.0.0.1]:8080",
        "https://db.example",
        "libsql://db.turso.io",
    ] {
        assert!(both(url).is_ok(), "{url}");
    }
    for url in [
        "http://db.example",
        "http://10.0.0.5:8080",
        "http://[::2]:8080",
        "http://localhost.example.com",
        "http://128.0.0.1",
    ] {
        match both(url) {
            Err(Error::InvalidConfig(msg)) => {
                assert!(msg.contains("https://") && msg.contains("SESSIONS_AUTH_TOKEN"), "{msg}");
                assert!(!msg.contains("hunter2"), "{msg}");
            }
            other => panic!("{url}: expected InvalidConfig, got {other:?}"),
        }
    }
    assert!(with("SESSIONS_DATABASE", "http://db.example").is_ok(), "no token, nothing to protect");
    assert!(
        Config::from_vars([
            ("SESSIONS_DATABASE", "http://db.example"),
            ("SESSIONS_AUTH_TOKEN", "")
        ])
        .is_ok(),
        "an empty token is no token"
    );
}

#[test]
fn the_answer_limit_defaults_to_64_mib_and_always_holds_one_session() {
    let limit = |vars: &[(&str, &str)]| {
        Config::from_vars(vars.iter().copied()).map(|c| c.remote_max_response)
    };
    assert_eq!(limit(&[]), Ok(64 << 20));
    assert_eq!(limit(&[("SESSIONS_REMOTE_MAX_RESPONSE", "2000000")]), Ok(2_000_000));
    let big = remote_answer_floor(100_000_000);
    assert!(big > 100_000_000 * 4 / 3, "{big}");
    assert_eq!(
        limit(&[("SESSIONS_MAX_DATA_BYTES", "100000000")]),
        Ok(big),
        "the default grows with the data limit"
    );
    for (vars, variable) in [
        (&[("SESSIONS_REMOTE_MAX_RESPONSE", "1000")][..], "SESSIONS_REMOTE_MAX_RESPONSE"),
        (&[("SESSIONS_REMOTE_MAX_RESPONSE", "lots")][..], "SESSIONS_REMOTE_MAX_RESPONSE"),
        (&[("SESSIONS_REMOTE_MAX_RESPONSE", "2000000000")][..], "SESSIONS_REMOTE_MAX_RESPONSE"),
        (
            &[("SESSIONS_REMOTE_MAX_RESPONSE", "2000000"), ("SESSIONS_MAX_DATA_BYTES", "10000000")]
                [..],
            "SESSIONS_MAX_DATA_BYTES",
        ),
    ] {
        error_names(Config::from_vars(vars.iter().copied()), variable);
    }
}

#[test]
fn a_malformed_auth_token_is_refused_without_echoing_it() {
    match with("SESSIONS_AUTH_TOKEN", "secret with spaces") {
        Err(Error::InvalidConfig(msg)) => assert!(!msg.contains("secret"), "{msg}"),
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
}

#[test]
fn the_debug_form_hides_the_auth_token() {
    let config = with("SESSIONS_AUTH_TOKEN", "hunter2").expect("config");
    let shown = format!("{config:?}");
    assert!(shown.contains("auth_token: Some(***)") && !shown.contains("hunter2"), "{shown}");
}

#[test]
fn unrelated_variables_are_ignored() {
    assert!(Config::from_vars([("PATH", "/bin"), ("SESSIONS_UNKNOWN", "x")]).is_ok());
}

#[test]
fn the_last_seen_interval_is_read_and_bounded() {
    assert_eq!(
        with("SESSIONS_LAST_SEEN_INTERVAL", "5m").expect("config").last_seen_interval,
        std::time::Duration::from_secs(300)
    );
    assert_eq!(
        with("SESSIONS_LAST_SEEN_INTERVAL", "0").expect("config").last_seen_interval,
        std::time::Duration::ZERO
    );
    error_names(with("SESSIONS_LAST_SEEN_INTERVAL", "2days"), "SESSIONS_LAST_SEEN_INTERVAL");
    error_names(with("SESSIONS_LAST_SEEN_INTERVAL", "soon"), "SESSIONS_LAST_SEEN_INTERVAL");
}
