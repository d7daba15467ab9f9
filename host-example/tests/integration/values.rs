//! One value at a time and the devices list: `/set` and `/get?key` on one cookie from many
//! requests at once (no update lost, on a file and across two hosts on one sqld), the keys
//! `/set` refuses, and what `/devices` shows of each session.

use crate::common;

use common::sqld::Sqld;
use common::{session_cookie, Server};
use reqwest::StatusCode;
use session_core::Failure;

/// Concurrent `/set`s of one session.
const SETTERS: usize = 50;

/// Status, body and the session cookie set, of `method` on `url` with `token`'s cookie.
async fn send(
    client: &reqwest::Client,
    url: String,
    token: &str,
    user_agent: &str,
) -> (StatusCode, String, Option<String>) {
    let response = common::request(client, &url)
        .header("cookie", format!("session={token}"))
        .header("user-agent", user_agent)
        .send()
        .await
        .expect("request");
    let (status, cookie) = (response.status(), session_cookie(&response));
    (status, response.text().await.expect("body"), cookie)
}

/// A session created on `server` by `/put`; its token.
async fn new_session(client: &reqwest::Client, server: &Server) -> String {
    let response = client.get(server.url("/put?message=first")).send().await.expect("put");
    assert_eq!(response.status(), StatusCode::OK);
    session_cookie(&response).expect("a session cookie")
}

/// `SETTERS` `/set`s with distinct keys on one cookie, all at once, spread over `servers`;
/// every answer is 200 or the conflict 409, a 409'd key is sent again until it is stored,
/// and then every value reads back. Returns how many 409s there were.
async fn every_concurrent_set_is_kept(servers: &[&Server]) -> usize {
    let client = reqwest::Client::new();
    let token = new_session(&client, servers[0]).await;
    let url = |i: usize| servers[i % servers.len()].url(&format!("/set?key=k{i}&value=v{i}"));
    let racing: Vec<_> = (0..SETTERS)
        .map(|i| {
            let (client, url, token) = (client.clone(), url(i), token.clone());
            tokio::spawn(async move { send(&client, url, &token, "wrk").await })
        })
        .collect();
    let mut answers = Vec::new();
    for answer in racing {
        answers.push(answer.await.expect("a /set"));
    }
    let conflict = Failure::Conflict.answer().body;
    let mut conflicts = 0;
    for (i, (status, body, cookie)) in answers.into_iter().enumerate() {
        match status {
            StatusCode::OK => {
                assert_eq!(body, "stored\n", "k{i}");
                assert!(cookie.is_none_or(|c| c == token), "k{i}: the session keeps its token");
            }
            StatusCode::CONFLICT => {
                assert_eq!(body, conflict, "k{i}: the conflict 409, not a session ended");
                conflicts += 1;
                let mut retried = send(&client, url(i), &token, "wrk").await;
                while retried.0 == StatusCode::CONFLICT {
                    retried = send(&client, url(i), &token, "wrk").await;
                }
                assert_eq!(retried.0, StatusCode::OK, "k{i} retried");
            }
            other => panic!("k{i}: {other} {body:?}"),
        }
    }
    for i in 0..SETTERS {
        let read = send(&client, servers[0].url(&format!("/get?key=k{i}")), &token, "wrk").await;
        assert_eq!((read.0, read.1), (StatusCode::OK, format!("v{i}")), "k{i} lost");
    }
    let message = send(&client, servers[0].url("/get"), &token, "wrk").await;
    assert_eq!(message.1, "first", "the value no /set named is kept");
    conflicts
}

#[tokio::test(flavor = "multi_thread")]
async fn fifty_concurrent_sets_on_one_cookie_on_a_file_each_keep_their_value() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &[]);
    let conflicts = every_concurrent_set_is_kept(&[&server]).await;
    assert_eq!(conflicts, 0, "one host's saves of a session take turns");
}

#[tokio::test(flavor = "multi_thread")]
async fn fifty_concurrent_sets_on_one_cookie_through_two_hosts_on_sqld_each_keep_their_value() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqld = Sqld::start(dir.path(), None).expect("sqld starts (./dev setup installs it)");
    let url = sqld.url();
    let shared = ["--database", url.as_str()];
    let a = Server::start(&dir.path().join("a"), &shared);
    let b = Server::start(&dir.path().join("b"), &shared);
    every_concurrent_set_is_kept(&[&a, &b]).await;
}

#[tokio::test]
async fn set_refuses_a_missing_or_invalid_key_and_get_answers_one_value() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &[]);
    let client = reqwest::Client::new();
    let token = new_session(&client, &server).await;
    let long = "k".repeat(session_core::MAX_KEY_BYTES + 1);
    let missing = send(&client, server.url("/set?value=x"), &token, "wrk").await;
    assert_eq!(
        (missing.0, missing.1),
        (StatusCode::BAD_REQUEST, Failure::MissingKey.answer().body)
    );
    for key in ["", "user", long.as_str(), "a%0Ab"] {
        let refused =
            send(&client, server.url(&format!("/set?key={key}&value=x")), &token, "w").await;
        assert_eq!(
            (refused.0, refused.1),
            (StatusCode::BAD_REQUEST, Failure::InvalidKey.answer().body),
            "{key:?}"
        );
    }
    let get = client.get(server.url("/set?key=a&value=b")).send().await.expect("get /set");
    assert_eq!(get.status(), StatusCode::METHOD_NOT_ALLOWED, "/set takes POST only");
    let stored = send(&client, server.url("/set?key=theme"), &token, "wrk").await;
    assert_eq!((stored.0, stored.1.as_str()), (StatusCode::OK, "stored\n"), "no value: empty");
    let theme = send(&client, server.url("/get?key=theme"), &token, "wrk").await;
    let none = send(&client, server.url("/get?key=user"), &token, "wrk").await;
    let message = send(&client, server.url("/get?key=message"), &token, "wrk").await;
    assert_eq!((theme.1, none.1, message.1), (String::new(), String::new(), "first".to_owned()));
}

#[tokio::test]
async fn devices_list_when_each_session_began_was_last_seen_and_what_it_is() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &[]);
    let client = reqwest::Client::new();
    let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as u64;
    let mut tokens = Vec::new();
    for agent in [firefox, "curl/8.11.0"] {
        let login = common::request(&client, &server.url("/login?user=alice"))
            .header("user-agent", agent)
            .send()
            .await
            .expect("login");
        assert_eq!(login.status(), StatusCode::OK);
        tokens.push(session_cookie(&login).expect("a session cookie"));
    }
    let (status, body, _) = send(&client, server.url("/devices"), &tokens[0], firefox).await;
    assert_eq!(status, StatusCode::OK);
    let listed: serde_json::Value = serde_json::from_str(&body).expect("json");
    let sessions = listed["sessions"].as_array().expect("sessions");
    let mut labels: Vec<&str> = sessions.iter().filter_map(|s| s["label"].as_str()).collect();
    labels.sort_unstable();
    assert_eq!(labels, ["Firefox on Linux", "curl"]);
    for session in sessions {
        let created = session["created"].as_u64().expect("created");
        let last_seen = session["last_seen"].as_u64().expect("last seen");
        assert!(created >= before && last_seen >= created, "{session}");
        assert!(session["id"].as_str().is_some_and(|id| id.len() == 43), "an id, not a token");
        assert!(!body.contains(&tokens[0]) && !body.contains(&tokens[1]), "no token listed");
    }
}
