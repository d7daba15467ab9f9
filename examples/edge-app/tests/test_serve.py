"""The edge app composed with the session store, under a real `wasmtime serve`: instances reused
for many requests, several at once (wasmtime's default for a WASI 0.3 app; where a test says
so, a fresh instance per request), sessions in a preopened directory, and its faults (forged
and oversized cookies, a database locked by another instance, 32 concurrent clients, a
sweep while requests are served, logouts and renewals racing saves, 50 concurrent saves of one
session, secrets in settings)."""

import json
import os
import sqlite3
import subprocess
import time
import unittest
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

from edge import (CONFLICT, ENDED, INTERNAL, INVALID_KEY, INVALID_NAME, LOGGED_IN, MISSING_KEY, MISSING_USER,
                  NOT_LOGGED_IN, ROOT, STORE, UNAVAILABLE, SERVE_SH, USE_GET_OR_HEAD, USE_POST, Server, SetRaces, compose, id_of,
                  integrity_check, put_get_clients, session_count, sets_on_one_cookie, stored_message, serve_env,
                  temp_dir)


def setUpModule():
    compose()


class Routes(unittest.TestCase):
    def setUp(self):
        self.data = temp_dir(self)
        self.server = Server(self.data)
        self.addCleanup(self.server.stop)

    def test_put_then_get_in_separate_instances_returns_the_message(self):
        status, body, headers, token = self.server.put("hello edge")
        self.assertEqual((status, body), (200, "stored\n"))
        self.assertIsNotNone(token, headers.get("set-cookie"))
        status, body, headers, _ = self.server.request("/get", token=token)
        self.assertEqual((status, body), (200, "hello edge"))
        self.assertNotIn("set-cookie", headers, "an unmodified session sends no cookie")

    def test_get_without_a_cookie_is_empty_and_stores_nothing(self):
        status, body, headers, _ = self.server.request("/get")
        self.assertEqual((status, body), (200, ""))
        self.assertNotIn("set-cookie", headers)
        self.assertEqual(session_count(os.path.join(self.data, "sessions.db")), 0)

    def test_destroy_deletes_the_session_and_clears_the_cookie(self):
        token = self.server.put("bye")[3]
        status, _, headers, _ = self.server.post("/destroy", token=token)
        self.assertEqual(status, 200)
        self.assertRegex(headers["set-cookie"], r"^session=; .*Max-Age=0")
        self.assertEqual(self.server.request("/get", token=token)[1], "")
        self.assertEqual(session_count(os.path.join(self.data, "sessions.db")), 0)

    def test_renew_moves_the_data_to_a_new_token_and_the_old_one_stops_working(self):
        old = self.server.put("kept")[3]
        new = self.server.post("/renew", token=old)[3]
        self.assertNotEqual(new, old)
        self.assertEqual(self.server.request("/get", token=new)[1], "kept")
        self.assertEqual(self.server.request("/get", token=old)[1], "")

    def test_a_forged_token_is_never_adopted(self):
        forged = "A" * 43
        self.assertEqual(self.server.request("/get", token=forged)[:2], (200, ""))
        status, _, _, token = self.server.put("mine", token=forged)
        self.assertEqual(status, 200)
        self.assertNotEqual(token, forged)
        self.assertEqual(self.server.request("/get", token=token)[1], "mine")
        self.assertEqual(self.server.request("/get", token=forged)[1], "")

    def test_a_malformed_or_oversized_session_cookie_starts_a_fresh_session(self):
        for bad in ["x" * 300, "has space", "x" * 16 * 1024]:
            status, _, _, token = self.server.request("/put?message=fresh", cookie="session=" + bad)
            self.assertEqual(status, 200, bad[:20])
            self.assertIsNotNone(token)
            self.assertEqual(self.server.request("/get", token=token)[1], "fresh")

    def test_unknown_paths_are_404(self):
        self.assertEqual(self.server.request("/nope")[0], 404)

    def test_a_read_stores_nothing(self):
        token = self.server.put("read me")[3]
        db = os.path.join(self.data, "sessions.db")
        before = change_counter(db)
        for _ in range(5):
            status, body, headers, _ = self.server.request("/get", token=token)
            self.assertEqual((status, body), (200, "read me"))
            self.assertNotIn("set-cookie", headers)
        self.assertEqual(change_counter(db), before, "a read wrote to the database")


class SetAndGet(unittest.TestCase):
    """POST /set?key=K&value=V stores one value and leaves the others; /get?key=K reads it."""

    def setUp(self):
        self.data = temp_dir(self)
        self.server = Server(self.data)
        self.addCleanup(self.server.stop)

    def test_set_stores_one_value_beside_the_others_and_get_reads_each(self):
        token = self.server.put("hello")[3]
        self.assertEqual(self.server.set("theme", "dark", token=token)[:2], (200, "stored\n"))
        status, body, _, cookie = self.server.set("cart", "3 items", token=token)
        self.assertEqual((status, body, cookie), (200, "stored\n", token))
        self.assertEqual(self.server.get("theme", token), (200, "dark"))
        self.assertEqual(self.server.get("cart", token), (200, "3 items"))
        self.assertEqual(self.server.get("message", token), (200, "hello"))
        self.assertEqual(self.server.request("/get", token=token)[:2], (200, "hello"), "/get alone is the message")
        self.assertEqual(self.server.get("absent", token), (200, ""))
        self.assertEqual(self.server.set("ünï", "ü", token=token)[0], 200)
        self.assertEqual(self.server.get("ünï", token), (200, "ü"))
        self.assertEqual(self.server.set("k" * 64, "longest", token=token)[0], 200)
        self.assertEqual(self.server.get("k" * 64, token), (200, "longest"))

    def test_set_without_a_session_creates_one_and_without_a_value_stores_the_empty_string(self):
        status, body, _, token = self.server.set("note")
        self.assertEqual((status, body), (200, "stored\n"))
        self.assertIsNotNone(token)
        self.assertEqual(self.server.get("note", token), (200, ""))
        self.assertEqual(self.server.set("note", "now", token=token)[0], 200)
        self.assertEqual(self.server.set("note", "", token=token)[0], 200)
        self.assertEqual(self.server.get("note", token), (200, ""))

    def test_a_missing_or_refused_key_is_400_and_nothing_is_stored(self):
        db = os.path.join(self.data, "sessions.db")
        status, body, headers, _ = self.server.post("/set?value=v")
        self.assertEqual((status, body), (400, MISSING_KEY))
        self.assertNotIn("set-cookie", headers)
        for key in ["", "user", "k" * 65, "a\x01b", "tab\t", "line\nbreak", "\x7f"]:
            status, body, headers, _ = self.server.set(key, "v")
            self.assertEqual((status, body), (400, INVALID_KEY), repr(key))
            self.assertNotIn("set-cookie", headers, repr(key))
        self.assertEqual(session_count(db), 0, "a refused /set creates no session")
        token = self.server.post("/login?user=alice")[3]
        self.assertEqual(self.server.set("user", "mallory", token=token)[:2], (400, INVALID_KEY))
        self.assertEqual(self.server.get("user", token), (200, "alice"), "only /login sets the user")
        self.assertEqual(self.server.post("/set", token=token)[:2], (400, MISSING_KEY))

    def test_set_answers_post_only(self):
        token = self.server.put("kept")[3]
        for method in ["GET", "HEAD", "PUT"]:
            status, body, headers, _ = self.server.request("/set?key=a&value=b", token=token, method=method)
            self.assertEqual((status, headers.get("allow")), (405, "POST"), method)
            if method != "HEAD":
                self.assertEqual(body, USE_POST)
        self.assertEqual(self.server.get("a", token), (200, ""))

    def test_get_answers_a_string_as_it_is_and_other_json_as_json(self):
        token = self.server.set("s", "text")[3]
        self.server.stop()
        db_path = os.path.join(self.data, "sessions.db")
        db = sqlite3.connect(db_path)
        try:
            with db:
                data = json.loads(bytes(db.execute("SELECT data FROM sessions WHERE id = ?",
                                                   (id_of(token),)).fetchone()[0]).decode())
                data["values"].update({"n": 42, "list": [1, {"a": True}], "none": None})
                db.execute("UPDATE sessions SET data = ? WHERE id = ?",
                           (json.dumps(data).encode(), id_of(token)))
        finally:
            db.close()
        with Server(self.data) as server:
            self.assertEqual(server.get("s", token), (200, "text"))
            self.assertEqual(server.get("n", token), (200, "42"))
            self.assertEqual(server.get("list", token), (200, '[1,{"a":true}]'))
            self.assertEqual(server.get("none", token), (200, "null"))


class ConcurrentSets(unittest.TestCase):
    """50 POST /set of distinct keys with one session's cookie, all at once: each save that
    another one beat reads the session again and puts its own value over the newer ones, so
    every answer is 200 or, after SAVE_ATTEMPTS lost attempts, a 409 whose retry lands; no
    value is lost."""

    COUNT = 50

    def run_sets(self, what, **server_args):
        with Server(temp_dir(self), **server_args) as server:
            conflicts = [sets_on_one_cookie(self, server, self.COUNT) for _ in range(3)]
        print("\n%d concurrent /set on one cookie (%s), 3 rounds: %s x 409" % (self.COUNT, what, conflicts))
        self.assertLess(max(conflicts), self.COUNT // 2, "most sets land within their attempts")

    def test_50_concurrent_sets_on_one_cookie_keep_every_value(self):
        self.run_sets("file")

    def test_50_concurrent_sets_on_one_cookie_keep_every_value_with_a_fresh_instance_per_request(self):
        self.run_sets("file, an instance per request", serve_args=("--reuse-instances", "1"))


with open(os.path.join(ROOT, "session-core", "tests", "device-labels.json")) as f:
    DEVICE_LABELS = {label: agent for agent, label in json.load(f)["cases"] if label is not None}


def now_ms():
    return int(time.time() * 1000)


class LoggedIn(unittest.TestCase):
    """/login?user=NAME, /devices and /logout-everywhere, as session-core specifies them."""

    def setUp(self):
        self.data = temp_dir(self)
        self.server = Server(self.data)
        self.addCleanup(self.server.stop)

    def login(self, user, token=None):
        return self.server.post("/login?user=" + urllib.parse.quote(user), token=token)

    def test_login_rotates_the_token_the_old_one_dies_and_the_values_stay(self):
        old = self.server.put("kept")[3]
        status, body, _, new = self.login("alice", token=old)
        self.assertEqual((status, body), (200, LOGGED_IN))
        self.assertIsNotNone(new)
        self.assertNotEqual(new, old)
        self.assertEqual(self.server.request("/get", token=new)[1], "kept")
        self.assertEqual(self.server.request("/get", token=old)[1], "", "the pre-login token is dead")
        self.assertEqual(self.server.request("/devices", token=old)[0], 401)
        status, _, _, fresh = self.login("bob")
        self.assertEqual(status, 200)
        self.assertIsNotNone(fresh, "a login without a session creates one")

    def test_devices_lists_both_logins_of_a_user_by_id(self):
        laptop = self.login("alice")[3]
        phone = self.login("alice")[3]
        self.login("bob")
        status, body, headers, _ = self.server.request("/devices", token=laptop)
        self.assertEqual((status, headers["content-type"]), (200, "application/json"))
        sessions = json.loads(body)["sessions"]
        self.assertEqual(sorted(s["id"] for s in sessions), sorted([id_of(laptop), id_of(phone)]))
        self.assertEqual([s["expiry"] for s in sessions], sorted(s["expiry"] for s in sessions))

    def test_devices_lists_when_each_session_was_created_and_last_seen_and_its_label(self):
        started = now_ms()
        laptop = self.server.post("/login?user=alice", user_agent=DEVICE_LABELS["Firefox on Linux"])[3]
        phone = self.server.post("/login?user=alice", user_agent=DEVICE_LABELS["Safari on iOS"])[3]
        tablet = self.server.put("anonymous first")[3]
        tablet = self.server.post("/login?user=alice", token=tablet, user_agent=DEVICE_LABELS["curl"])[3]
        unnamed = self.server.post("/login?user=alice")[3]
        status, body, _, _ = self.server.request("/devices", token=laptop)
        ended = now_ms()
        self.assertEqual(status, 200, body)
        sessions = {s["id"]: s for s in json.loads(body)["sessions"]}
        self.assertEqual(
            {id_: s["label"] for id_, s in sessions.items()},
            {id_of(laptop): "Firefox on Linux", id_of(phone): "Safari on iOS",
             id_of(tablet): None, id_of(unnamed): None},
            "a session is labelled when it is created (the tablet's /put sent no User-Agent)")
        for s in sessions.values():
            self.assertEqual(sorted(s), ["created", "expiry", "id", "label", "last_seen"])
            self.assertTrue(started <= s["created"] <= s["last_seen"] <= ended, s)

    def test_a_label_is_kept_through_a_login_and_a_renewal(self):
        token = self.server.request("/put?message=x", user_agent=DEVICE_LABELS["Chrome on Android"])[3]
        token = self.server.post("/login?user=alice", token=token, user_agent=DEVICE_LABELS["curl"])[3]
        token = self.server.post("/renew", token=token, user_agent=DEVICE_LABELS["wrk"])[3]
        sessions = json.loads(self.server.request("/devices", token=token)[1])["sessions"]
        self.assertEqual([(s["id"], s["label"]) for s in sessions], [(id_of(token), "Chrome on Android")])

    def test_logout_everywhere_ends_the_other_devices_and_keeps_this_one(self):
        laptop = self.server.put("here")[3]
        laptop = self.login("alice", token=laptop)[3]
        phone = self.login("alice")[3]
        other = self.login("bob")[3]
        status, body, headers, _ = self.server.post("/logout-everywhere", token=laptop)
        self.assertEqual((status, body, headers["content-type"]), (200, '{"revoked":1}', "application/json"))
        self.assertEqual(self.server.request("/devices", token=phone)[:2], (401, NOT_LOGGED_IN))
        self.assertEqual(self.server.request("/get", token=laptop)[1], "here")
        self.assertEqual(len(json.loads(self.server.request("/devices", token=laptop)[1])["sessions"]), 1)
        self.assertEqual(self.server.request("/devices", token=other)[0], 200, "another user is untouched")

    def test_a_renewed_login_stays_the_users_device_and_logout_everywhere_ends_it(self):
        laptop = self.login("alice", token=self.server.put("mine")[3])[3]
        renewed = self.server.post("/renew", token=laptop)[3]
        self.assertNotEqual(renewed, laptop)
        self.assertEqual(self.server.request("/get", token=renewed)[1], "mine")
        sessions = json.loads(self.server.request("/devices", token=renewed)[1])["sessions"]
        self.assertEqual([s["id"] for s in sessions], [id_of(renewed)], "still alice's")
        phone = self.login("alice")[3]
        self.assertEqual(self.server.post("/logout-everywhere", token=phone)[1], '{"revoked":1}')
        self.assertEqual(self.server.request("/get", token=renewed)[1], "", "ended with the others")

    def test_a_refused_name_is_400_and_the_session_is_still_rotated_anonymous(self):
        for name in ["", "ali\nce", "ali\0ce", "n" * 257]:
            old = self.server.put("mine")[3]
            status, body, _, new = self.login(name, token=old)
            self.assertEqual((status, body), (400, INVALID_NAME), repr(name))
            self.assertIsNotNone(new, "the cookie carries the rotated token")
            self.assertNotEqual(new, old)
            self.assertEqual(self.server.request("/get", token=old)[1], "")
            self.assertEqual(self.server.request("/get", token=new)[1], "mine")
            self.assertEqual(self.server.request("/devices", token=new)[0], 401, "still anonymous")
        status, body, headers, _ = self.server.post("/login")
        self.assertEqual((status, body), (400, MISSING_USER))
        self.assertNotIn("set-cookie", headers)

    def test_devices_and_logout_everywhere_need_a_login(self):
        anonymous = self.server.put("x")[3]
        for path, method in [("/devices", "GET"), ("/logout-everywhere", "POST")]:
            self.assertEqual(self.server.request(path, method=method)[:2], (401, NOT_LOGGED_IN), path)
            self.assertEqual(self.server.request(path, token=anonymous, method=method)[:2], (401, NOT_LOGGED_IN), path)


class Methods(unittest.TestCase):
    """Reads answer GET and HEAD; the routes that end, rotate or log in a session answer
    POST only, so a cross-site link (a GET carrying the SameSite=Lax cookie) cannot reach
    them; /put answers GET and POST. Any other method is 405 with Allow and a fixed body,
    before the session is loaded: nothing changes and no cookie is sent."""

    CHANGING = ["/renew", "/destroy", "/login?user=mallory", "/logout-everywhere"]

    def setUp(self):
        self.data = temp_dir(self)
        self.db = os.path.join(self.data, "sessions.db")
        self.server = Server(self.data)
        self.addCleanup(self.server.stop)

    def assert_refused(self, path, method, token, allow, body):
        status, text, headers, _ = self.server.request(path, token=token, method=method)
        self.assertEqual(status, 405, (method, path, text))
        self.assertEqual(headers.get("allow"), allow, (method, path))
        if method != "HEAD":
            self.assertEqual(text, body, (method, path))
        self.assertNotIn("set-cookie", headers, (method, path))

    def test_a_get_of_a_state_changing_route_is_405_allow_post_and_the_session_is_untouched(self):
        token = self.server.put("still here")[3]
        rows = session_count(self.db)
        for path in self.CHANGING:
            self.assert_refused(path, "GET", token, "POST", USE_POST)
            self.assertEqual(self.server.request("/get", token=token)[:2], (200, "still here"), path)
        self.assertEqual(session_count(self.db), rows, "nothing created, rotated or deleted")
        self.assertEqual(self.server.request("/devices", token=token)[0], 401, "not logged in as mallory")

    def test_head_put_delete_and_others_of_destroy_are_405_and_the_session_is_untouched(self):
        token = self.server.put("kept")[3]
        for method in ["HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"]:
            self.assert_refused("/destroy", method, token, "POST", USE_POST)
        self.assertEqual(self.server.request("/get", token=token)[:2], (200, "kept"))

    def test_a_get_of_logout_everywhere_leaves_every_session_of_the_user_logged_in(self):
        laptop = self.server.post("/login?user=alice")[3]
        phone = self.server.post("/login?user=alice")[3]
        self.assert_refused("/logout-everywhere", "GET", laptop, "POST", USE_POST)
        for token in [laptop, phone]:
            status, body, _, _ = self.server.request("/devices", token=token)
            self.assertEqual(status, 200, body)
            self.assertEqual(len(json.loads(body)["sessions"]), 2, "both still logged in")

    def test_a_get_of_login_logs_nobody_in_and_creates_no_session(self):
        self.assert_refused("/login?user=mallory", "GET", None, "POST", USE_POST)
        self.assert_refused("/login", "GET", None, "POST", USE_POST)
        self.assertEqual(session_count(self.db), 0)

    def test_a_post_of_a_read_is_405_allow_get_head(self):
        token = self.server.post("/login?user=alice")[3]
        for path in ["/get", "/devices"]:
            self.assert_refused(path, "POST", token, "GET, HEAD", USE_GET_OR_HEAD)
            self.assert_refused(path, "PUT", token, "GET, HEAD", USE_GET_OR_HEAD)

    def test_reads_answer_head_and_put_answers_post(self):
        token = self.server.request("/put?message=posted", method="POST")[3]
        self.assertIsNotNone(token)
        self.assertEqual(self.server.request("/get", token=token)[1], "posted")
        status, body, headers, _ = self.server.request("/get", token=token, method="HEAD")
        self.assertEqual((status, body), (200, ""))
        self.assertEqual(self.server.request("/devices", token=token, method="HEAD")[0], 401)
        self.assert_refused("/put?message=x", "HEAD", token, "GET, POST", "method not allowed; use GET or POST\n")
        self.assertEqual(self.server.request("/get", token=token)[1], "posted")

    def test_a_refused_method_makes_no_store_call(self):
        # Every store call on this database fails (500); a 405 never gets that far.
        with Server(temp_dir(self), database="http://user:s3cret@127.0.0.1:1") as server:
            self.assertEqual(server.post("/renew")[0], 500, "the store is called on POST")
            for path in self.CHANGING:
                status, body, headers, _ = server.request(path, token="A" * 43)
                self.assertEqual((status, body, headers.get("allow")), (405, USE_POST, "POST"), path)
            status, body, _, _ = server.request("/get", method="DELETE")
            self.assertEqual((status, body), (405, USE_GET_OR_HEAD))

    def test_unknown_paths_are_404_whatever_the_method(self):
        for method in ["GET", "POST", "DELETE"]:
            status, _, headers, _ = self.server.request("/nope", method=method)
            self.assertEqual(status, 404, method)
            self.assertNotIn("allow", headers)


class Limits(unittest.TestCase):
    def test_session_data_over_the_store_limit_is_413(self):
        with Server(temp_dir(self), SESSIONS_MAX_DATA_BYTES="256") as server:
            status, body, _, _ = server.put("m" * 1000)
            self.assertEqual(status, 413)
            self.assertIn("256 bytes", body)
            self.assertEqual(server.put("small")[0], 200)

    def test_a_malformed_app_setting_is_a_generic_500_and_the_log_names_it(self):
        for name, value in [("EDGE_SESSION_LIFETIME", "soon"), ("EDGE_SESSION_IDLE_TIMEOUT", "0s"),
                            ("EDGE_SESSION_IDLE_TIMEOUT", "101years")]:
            with Server(temp_dir(self), **{name: value}) as server:
                status, body, _, _ = server.put("x")
                self.assertEqual((status, body), (500, INTERNAL), (name, value))
                self.assertTrue(server.logged(name), server.log_text())


class IdleTimeout(unittest.TestCase):
    def test_reads_keep_a_session_with_an_idle_timeout_alive_without_a_cookie_and_idleness_ends_it(self):
        # SESSIONS_LAST_SEEN_INTERVAL=0: every read slides the expiry (the store's setting).
        with Server(temp_dir(self), EDGE_SESSION_IDLE_TIMEOUT="2s", SESSIONS_LAST_SEEN_INTERVAL="0") as server:
            status, _, headers, token = server.put("active")
            self.assertEqual(status, 200)
            self.assertIsNotNone(token, headers)
            for _ in range(3):
                time.sleep(1.2)
                status, body, headers, _ = server.request("/get", token=token)
                self.assertEqual((status, body), (200, "active"), "a read slides the idle timeout")
                self.assertNotIn("set-cookie", headers, "the store slides it: no cookie to send")
            time.sleep(2.5)
            self.assertEqual(server.request("/get", token=token)[:2], (200, ""), "idle too long")


def started_under_umask_022(data):
    """A Server on `data`, started as a user with the usual umask would start it."""
    old = os.umask(0o022)
    try:
        return Server(data)
    finally:
        os.umask(old)


class FileModes(unittest.TestCase):
    def test_a_fresh_data_directory_and_its_files_are_readable_by_the_server_user_only(self):
        data = os.path.join(temp_dir(self), "data")
        with started_under_umask_022(data) as server:
            self.assertEqual(server.put("private")[0], 200)
        self.assertEqual(os.stat(data).st_mode & 0o777, 0o700)
        names = os.listdir(data)
        self.assertIn("sessions.db", names)
        for name in names:
            mode = os.stat(os.path.join(data, name)).st_mode & 0o777
            self.assertEqual(mode & 0o077, 0, "%s is mode %o" % (name, mode))

    def test_an_existing_directory_open_to_others_is_served_with_a_warning(self):
        data = os.path.join(temp_dir(self), "data")
        os.mkdir(data, 0o755)
        os.chmod(data, 0o755)
        with started_under_umask_022(data) as server:
            self.assertEqual(server.put("kept")[0], 200)
            self.assertIn("is accessible to other users (mode 755)", server.log_text())
        self.assertEqual(os.stat(data).st_mode & 0o777, 0o755, "the operator's mode is kept")
        mode = os.stat(os.path.join(data, "sessions.db")).st_mode & 0o777
        self.assertEqual(mode & 0o077, 0, "sessions.db is mode %o" % mode)


class Persistence(unittest.TestCase):
    def test_sessions_survive_a_restart_of_the_server(self):
        data = temp_dir(self)
        with Server(data) as first:
            token = first.put("survives")[3]
        with Server(data) as second:
            self.assertEqual(second.request("/get", token=token)[1], "survives")
        self.assertEqual(integrity_check(os.path.join(data, "sessions.db")), "ok")

    def test_two_servers_on_one_directory_share_sessions(self):
        data = temp_dir(self)
        with Server(data) as a, Server(data) as b:
            token = a.put("shared")[3]
            self.assertEqual(b.request("/get", token=token)[1], "shared")

    def test_reused_instances_of_two_servers_see_each_others_saves_and_logouts(self):
        # Requests one after another: each server hands them all to one instance, which keeps
        # its connections and page cache from request to request.
        data = temp_dir(self)
        with Server(data) as a, Server(data) as b:
            token = a.put("first")[3]
            self.assertEqual(a.request("/get", token=token)[1], "first")
            self.assertEqual(b.put("second", token=token)[0], 200)
            self.assertEqual(a.request("/get", token=token)[1], "second")
            self.assertEqual(b.post("/destroy", token=token)[0], 200)
            self.assertEqual(a.request("/get", token=token)[1], "")
            self.assertNotIn(a.put("third", token=token)[3], (None, token), "a dead token starts a new session")
            self.assertEqual(b.request("/get", token=token)[1], "")
        self.assertEqual(integrity_check(os.path.join(data, "sessions.db")), "ok")


def change_counter(db_path):
    """The database header's file change counter, which every write transaction increments."""
    with open(db_path, "rb") as f:
        return int.from_bytes(f.read(28)[24:28], "big")


class Settings(unittest.TestCase):
    def test_exclusive_locking_of_a_file_is_refused_before_serving(self):
        data = temp_dir(self)
        out = subprocess.run([SERVE_SH, "--listen", "127.0.0.1:0", "--data-dir", data],
                             env=serve_env(SESSIONS_LOCKING="exclusive"), capture_output=True,
                             text=True, timeout=600)
        self.assertEqual(out.returncode, 2)
        self.assertIn("SESSIONS_LOCKING=exclusive cannot work under wasmtime serve", out.stderr)
        self.assertFalse(os.path.exists(os.path.join(data, "sessions.db")))


    def test_a_bound_on_requests_at_once_that_is_not_a_whole_number_is_refused(self):
        for bad in ("0", "eight", "-1"):
            out = subprocess.run([SERVE_SH, "--listen", "127.0.0.1:0", "--database", "http://127.0.0.1:9",
                                  "--max-concurrent", bad], env=serve_env(), capture_output=True,
                                 text=True, timeout=600)
            self.assertEqual(out.returncode, 2, bad)
            self.assertIn("--max-concurrent takes a whole number of requests, 1 or more", out.stderr)


class GroupCommit(unittest.TestCase):
    def test_concurrent_saves_share_transactions_and_every_acknowledged_one_is_stored(self):
        data = temp_dir(self)
        db = os.path.join(data, "sessions.db")
        clients = 16
        with Server(data) as server:
            tokens = [server.put("start")[3] for _ in range(clients)]
            before = change_counter(db)
            with ThreadPoolExecutor(clients) as pool:
                answers = list(pool.map(lambda c: server.put("saved-%d" % c, token=tokens[c]),
                                        range(clients)))
            transactions = change_counter(db) - before
            self.assertEqual([a[0] for a in answers], [200] * clients)
            for c in range(clients):
                self.assertEqual(server.request("/get", token=tokens[c])[1], "saved-%d" % c)
        self.assertLess(transactions, clients, "saves answered at once were committed one by one")
        self.assertEqual(integrity_check(db), "ok")

    def test_with_a_fresh_instance_per_request_every_save_is_still_stored(self):
        data = temp_dir(self)
        with Server(data, serve_args=("--reuse-instances", "1")) as server:
            token = server.put("first")[3]
            self.assertEqual(server.put("second", token=token)[0], 200)
            self.assertEqual(server.request("/get", token=token)[1], "second")


class Faults(unittest.TestCase):
    def test_while_another_instance_holds_the_lock_503_then_the_next_request_succeeds(self):
        data = temp_dir(self)
        with Server(data, SESSIONS_BUSY_TIMEOUT="200ms") as server:
            token = server.put("before")[3]
            lock = os.path.join(data, "sessions.db-lock")
            with open(lock, "w") as f:
                f.write("owner=another-instance acquired_ms=%d" % (time.time() * 1000))
            status, body, headers, _ = server.request("/get", token=token)
            self.assertEqual(status, 503)
            self.assertEqual(headers.get("retry-after"), "1")
            self.assertEqual(body, UNAVAILABLE)
            self.assertTrue(server.logged("locked by another instance"), server.log_text())
            os.remove(lock)
            self.assertEqual(server.request("/get", token=token)[:2], (200, "before"))

    def run_32_clients(self, **env):
        """32 clients, each putting and reading back its own sessions; returns
        (statuses, 200s, 503s) after checking every answer and the database file."""
        data = temp_dir(self)
        rounds = 4
        with Server(data, **env) as server:
            outcomes, live, elapsed = put_get_clients(server, 32, rounds)
        for route, message, status, retry_after, body in outcomes:
            self.assertIn(status, (200, 503), body)
            if status == 503:
                self.assertEqual(retry_after, "1")
                self.assertEqual(body, UNAVAILABLE)
            elif route == "/get":
                self.assertEqual(body, message)
        ok = sum(1 for o in outcomes if o[2] == 200)
        print("\n32 clients %s: %d requests in %.2fs, %d ok, %d x 503"
              % (env or "", len(outcomes), elapsed, ok, len(outcomes) - ok))
        self.assertGreater(ok, 0)
        db = os.path.join(data, "sessions.db")
        self.assertEqual(integrity_check(db), "ok")
        self.assertEqual(session_count(db), len(live), "every acknowledged put is stored, nothing else")
        return ok, len(outcomes) - ok

    def test_32_concurrent_clients_all_succeed_within_the_default_busy_timeout(self):
        ok, unavailable = self.run_32_clients()
        self.assertEqual(unavailable, 0)

    def test_32_concurrent_clients_without_waiting_get_200_or_a_clear_503_and_the_file_stays_intact(self):
        self.run_32_clients(SESSIONS_BUSY_TIMEOUT="0")

    def test_a_sweep_while_requests_are_served_removes_only_expired_sessions(self):
        data = temp_dir(self)
        # Seed expired sessions through a second server whose sessions live one second.
        with Server(data, EDGE_SESSION_LIFETIME="1s") as short:
            for i in range(20):
                self.assertEqual(short.put("old%d" % i)[0], 200)
        time.sleep(1.2)
        with Server(data) as server:
            def client(c):
                kept = []
                for i in range(5):
                    status, _, _, token = server.put("c%d-%d" % (c, i))
                    self.assertIn(status, (200, 503))
                    if status == 200:
                        kept.append((token, "c%d-%d" % (c, i)))
                return kept

            def sweeps():
                outs = []
                for _ in range(3):
                    outs.append(subprocess.run(
                        ["wasmtime", "run", "-S", "http", "--dir", data + "::/data", "--invoke", "sweep()", STORE],
                        check=True, capture_output=True, text=True).stdout.strip())
                return outs

            with ThreadPoolExecutor(5) as pool:
                sweep_job = pool.submit(sweeps)
                kept = [k for r in pool.map(client, range(4)) for k in r]
                outs = sweep_job.result()
            for token, message in kept:
                self.assertEqual(server.request("/get", token=token)[1], message)
        self.assertRegex(outs[0], r"^ok\(\{removed: \d+, more: false\}\)$")
        removed = sum(int(o.split("removed: ")[1].split(",")[0]) for o in outs)
        self.assertEqual(removed, 20)
        db = os.path.join(data, "sessions.db")
        self.assertEqual(session_count(db), len(kept))
        self.assertEqual(integrity_check(db), "ok")



class SetFinality(SetRaces, unittest.TestCase):
    """Conditional saves (/set, each key its own) racing a logout or renewal of their
    session, in a file: see edge.SetRaces."""

    def test_sets_racing_a_logout_never_bring_the_session_back(self):
        data = temp_dir(self)
        with Server(data, serve_args=self.SERVE_ARGS) as server:
            old = self.race_logout(server)
        db = os.path.join(data, "sessions.db")
        self.assertIsNone(stored_message(db, old, now_ms()), "the ended session is stored as active")
        self.assertEqual(integrity_check(db), "ok")

    def test_sets_racing_a_renewal_are_carried_to_the_new_token_exactly_when_acknowledged_into_the_old(self):
        data = temp_dir(self)
        with Server(data, serve_args=self.SERVE_ARGS) as server:
            old, _ = self.race_renewal(server)
        db = os.path.join(data, "sessions.db")
        self.assertIsNone(stored_message(db, old, now_ms()), "the renewed token is stored as active")
        self.assertEqual(integrity_check(db), "ok")


class SetFinalityWithAnInstancePerRequest(SetFinality):
    SERVE_ARGS = ("--reuse-instances", "1")


class Finality(unittest.TestCase):
    """A logout or renewal racing 80 concurrent saves of the same session, each request in
    an instance of its own, is final: the old token never comes back."""

    RACERS = 80
    ROUNDS = 3

    def race(self, server, round_, ender_path):
        """Creates a session, then sends RACERS /put with its cookie and `ender_path` in the
        middle, all at once; returns (old token, the ender's answer, [(message, answer)])."""
        status, body, _, old = server.put("r%d-initial" % round_)
        self.assertEqual(status, 200, body)
        with ThreadPoolExecutor(self.RACERS + 1) as pool:
            saves, ender = [], None
            for i in range(self.RACERS):
                if i == self.RACERS // 2:
                    ender = pool.submit(server.post, ender_path, token=old)
                message = "r%d-%d" % (round_, i)
                saves.append((message, pool.submit(server.put, message, token=old)))
            return old, ender.result(), [(m, f.result()) for m, f in saves]

    def check_saves(self, old, saves):
        """Each save is 200 (into the old session before it ended, or a fresh session), 409
        ended with the cookie cleared, or 409 conflict with the cookie left alone; returns
        the fresh sessions as (token, message)."""
        fresh = []
        for message, (status, body, headers, token) in saves:
            if status == 409 and body == CONFLICT:
                # 80 saves of one session at once: this one lost every attempt, nothing of
                # it stored, the session lives on.
                self.assertNotIn("set-cookie", headers)
            elif status == 409:
                self.assertEqual(body, ENDED)
                self.assertRegex(headers.get("set-cookie", ""), r"^session=; .*Max-Age=0")
            else:
                self.assertEqual(status, 200, body)
                self.assertIsNotNone(token, headers)
                if token != old:
                    fresh.append((token, message))
        return fresh

    def test_a_logout_racing_80_saves_of_the_same_session_is_final(self):
        data = temp_dir(self)
        dead, acknowledged, ended, conflicts = [], [], 0, 0
        started = time.monotonic()
        with Server(data) as server:
            for round_ in range(self.ROUNDS):
                old, ender, saves = self.race(server, round_, "/destroy")
                self.assertEqual(ender[0], 200, ender[1])
                self.assertRegex(ender[2].get("set-cookie", ""), r"^session=; .*Max-Age=0")
                fresh = self.check_saves(old, saves)
                ended += sum(1 for _, reply in saves if reply[:2] == (409, ENDED))
                conflicts += sum(1 for _, reply in saves if reply[:2] == (409, CONFLICT))
                self.assertEqual(server.request("/get", token=old)[:2], (200, ""), "the old token works")
                dead.append(old)
                acknowledged.extend(fresh)
            for token, message in acknowledged:
                self.assertEqual(server.request("/get", token=token)[:2], (200, message))
        print("\n%d logouts x %d saves in %.2fs: %d x 409 ended, %d x 409 conflict, %d started afresh"
              % (self.ROUNDS, self.RACERS, time.monotonic() - started, ended, conflicts, len(acknowledged)))
        self.check_stored(data, dead, acknowledged)

    def test_a_renewal_racing_80_saves_of_the_same_session_leaves_the_old_token_dead_and_the_new_one_working(self):
        data = temp_dir(self)
        dead, live = [], []
        with Server(data) as server:
            for round_ in range(self.ROUNDS):
                old, ender, saves = self.race(server, round_, "/renew")
                self.assertEqual(ender[0], 200, ender[1])
                renewed = ender[3]
                self.assertIsNotNone(renewed)
                self.assertNotEqual(renewed, old)
                fresh = self.check_saves(old, saves)
                self.assertEqual(server.request("/get", token=old)[:2], (200, ""), "the old token works")
                # The new session carries what the renewal read: the first message, or one
                # a save acknowledged before the old token ended.
                possible = {"r%d-initial" % round_} | {m for m, reply in saves if reply[3] == old}
                carried = server.request("/get", token=renewed)[1]
                self.assertIn(carried, possible)
                dead.append(old)
                live.append((renewed, carried))
                live.extend(fresh)
            for token, message in live:
                self.assertEqual(server.request("/get", token=token)[:2], (200, message))
        self.check_stored(data, dead, live)

    def check_stored(self, data, dead, live):
        db = os.path.join(data, "sessions.db")
        self.assertEqual(integrity_check(db), "ok")
        now = int(time.time() * 1000)
        for token in dead:
            self.assertIsNone(stored_message(db, token, now), "an ended session is stored as active")
        for token, message in live:
            self.assertEqual(stored_message(db, token, now), message)


class Secrets(unittest.TestCase):
    def test_a_password_in_the_database_url_never_reaches_an_http_client_nor_the_log(self):
        with Server(temp_dir(self), database="http://user:s3cret@127.0.0.1:1") as server:
            statuses = set()
            for path, method in [("/put?message=x", "GET"), ("/get", "GET"), ("/renew", "POST"), ("/destroy", "POST")]:
                for token in [None, "A" * 43]:
                    status, body, headers, _ = server.request(path, token=token, method=method)
                    statuses.add(status)
                    seen = repr(headers) + body
                    for secret in ["s3cret", "user:", "SESSIONS_DATABASE"]:
                        self.assertNotIn(secret, seen, path)
            self.assertIn(500, statuses)
            self.assertTrue(server.logged("invalid-config"), server.log_text())
            log = server.log_text()
            with open("/proc/%d/cmdline" % server.proc.pid, "rb") as f:
                self.assertNotIn(b"s3cret", f.read(), "the password stays out of the process list")
        self.assertNotIn("s3cret", log)


if __name__ == "__main__":
    unittest.main()
