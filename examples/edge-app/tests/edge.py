"""Fixtures for the edge-app tests: the composed component under a real `wasmtime serve`
(started through serve.sh), HTTP over loopback, and SQLite's own integrity check."""

import base64
import hashlib
import http.client
import json
import os
import re
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
APP_DIR = os.path.dirname(HERE)
ROOT = os.path.dirname(os.path.dirname(APP_DIR))
SERVE_SH = os.path.join(APP_DIR, "serve.sh")
# The tests use the session-store component as built, never rebuild it.
STORE = os.environ.get("LIBSQLSTORE_COMPONENT") or os.path.join(
    ROOT, "target", "wasm32-wasip2", "release", "libsqlstore.wasm")
# The fixed bodies of session-core's `Failure::answer`.
UNAVAILABLE = "session store unavailable; try again shortly\n"
INTERNAL = "internal error in the session store; the server log has the details\n"
ENDED = "the session ended while this request ran; nothing was stored\n"
CONFLICT = "the session kept changing under concurrent requests; nothing was stored; try again\n"
MISSING_KEY = "missing the key parameter: /set?key=K&value=V\n"
INVALID_KEY = "invalid key: use 1 to 64 bytes without control characters; \"user\" is set by /login\n"
# The fixed bodies of session-core's logged-in routes.
LOGGED_IN = "logged in\n"
NOT_LOGGED_IN = "not logged in\n"
INVALID_NAME = "invalid user name: use 1 to 256 bytes without control characters\n"
MISSING_USER = "missing the user parameter: /login?user=NAME\n"
# session-core's 405 to a method a route does not answer.
USE_POST = "method not allowed; use POST\n"
USE_GET_OR_HEAD = "method not allowed; use GET or HEAD\n"
TOKEN = re.compile(r"^session=([A-Za-z0-9_-]{43}); Path=/; Max-Age=\d+; HttpOnly; SameSite=Lax$")


def serve_env(**extra):
    """The environment serve.sh runs in: ours minus SESSIONS_* and EDGE_SESSION_*, plus
    `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONS_") and not k.startswith("EDGE_SESSION_")}
    env["LIBSQLSTORE_COMPONENT"] = STORE
    env.update(extra)
    return env


def compose():
    """Builds the app and composes it with the store; returns the composed component."""
    out = subprocess.run([SERVE_SH, "--compose-only"], env=serve_env(), check=True,
                         stdout=subprocess.PIPE, text=True)
    return out.stdout.strip().splitlines()[-1]


class Server:
    """`serve.sh --listen 127.0.0.1:0 --data-dir DIR [--database URL] [SERVE-ARGS...]` as a
    child process. With `database` (a libSQL server URL) `data_dir` may be None: nothing is
    preopened."""

    # wasmtime serve ends on SIGINT.
    STOP_SIGNAL = signal.SIGINT

    def __init__(self, data_dir, database=None, serve_args=(), **env):
        self.data_dir = data_dir
        args = [SERVE_SH, "--listen", "127.0.0.1:0"]
        if data_dir is not None:
            args += ["--data-dir", data_dir]
        if database is not None:
            args += ["--database", database]
        args += list(serve_args)
        proc = subprocess.Popen(
            args, env=serve_env(**env), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self._watch(proc, re.compile(r"Serving HTTP on http://127\.0\.0\.1:(\d+)/"), "wasmtime serve", 180)

    def _watch(self, proc, ready, what, timeout):
        """Reads `proc`'s output pipes on threads until it ends, every line into the log;
        returns once a line matches `ready` (whose group is the port), or fails after
        `timeout` seconds."""
        self.proc = proc
        self.log = []
        self.port = None
        self._started = threading.Event()
        pipes = [p for p in (proc.stdout, proc.stderr) if p is not None]
        self._readers = [threading.Thread(target=self._read, args=(p, ready), daemon=True) for p in pipes]
        for reader in self._readers:
            reader.start()
        if not self._started.wait(timeout=timeout) or self.port is None:
            self.stop()
            raise RuntimeError("%s did not start:\n%s" % (what, "".join(self.log)))

    def _read(self, pipe, ready):
        for line in pipe:
            self.log.append(line)
            m = ready.search(line)
            if m and self.port is None:
                self.port = int(m.group(1))
                self._started.set()
        self._started.set()

    def request(self, path, token=None, cookie=None, timeout=60, method="GET", user_agent=None):
        """`method` (GET unless told) `path`, with a `User-Agent` when given (none unless
        told); returns (status, body, headers dict, new token or None)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        headers = {}
        if user_agent is not None:
            headers["User-Agent"] = user_agent
        if cookie is not None:
            headers["Cookie"] = cookie
        elif token is not None:
            headers["Cookie"] = "session=" + token
        try:
            conn.request(method, path, headers=headers)
            resp = conn.getresponse()
            body = resp.read().decode()
            hdrs = {k.lower(): v for k, v in resp.getheaders()}
        finally:
            conn.close()
        m = TOKEN.match(hdrs.get("set-cookie", ""))
        return resp.status, body, hdrs, (m.group(1) if m else None)

    def log_text(self):
        """What the server logged so far (wasmtime's and the instances' stderr)."""
        return "".join(self.log)

    def logged(self, text, timeout=10):
        """True once `text` appears in the server's log (read by another thread)."""
        deadline = time.monotonic() + timeout
        while text not in self.log_text():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def post(self, path, token=None, cookie=None, timeout=60, user_agent=None):
        """POST `path` (no body): `/set` and the routes that end, rotate or log in a session
        answer POST only."""
        return self.request(path, token=token, cookie=cookie, timeout=timeout, method="POST",
                            user_agent=user_agent)

    def set(self, key, value=None, token=None):
        """POST /set?key=KEY[&value=VALUE]."""
        return self.post(set_path(key, value), token=token)

    def get(self, key, token):
        """GET /get?key=KEY: (status, body)."""
        return self.request("/get?" + urllib.parse.urlencode({"key": key}), token=token)[:2]

    def put(self, message, token=None):
        return self.request("/put?message=" + urllib.parse.quote(message), token=token)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(self.STOP_SIGNAL)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for reader in self._readers:
            reader.join(timeout=10)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def set_path(key, value=None):
    """/set?key=KEY[&value=VALUE], percent-encoded."""
    query = {"key": key} if value is None else {"key": key, "value": value}
    return "/set?" + urllib.parse.urlencode(query)


def sets_on_one_cookie(test, server, count):
    """`count` POST /set of distinct keys (k<i>=v<i>) with one session's cookie, all at once:
    asserts each answer is 200 with that cookie or 409 CONFLICT with the cookie kept, retries
    every 409'd key until 200, then that the session holds all `count` values and the
    message it started with. Returns how many of the concurrent sets were 409."""
    status, body, _, token = server.put("before the sets")
    test.assertEqual(status, 200, body)
    with ThreadPoolExecutor(count) as pool:
        answers = list(pool.map(lambda i: server.set("k%d" % i, "v%d" % i, token=token), range(count)))
    conflicted = []
    for i, (status, body, headers, cookie) in enumerate(answers):
        if status == 409:
            test.assertEqual(body, CONFLICT)
            test.assertNotIn("set-cookie", headers, "a conflict keeps the session and its cookie")
            conflicted.append(i)
        else:
            test.assertEqual((status, body, cookie), (200, "stored\n", token))
    for i in conflicted:
        for _ in range(20):
            status, body, _, _ = server.set("k%d" % i, "v%d" % i, token=token)
            if status == 200:
                break
            test.assertEqual((status, body), (409, CONFLICT))
        else:
            test.fail("k%d: still 409 after 20 retries one at a time" % i)
    for i in range(count):
        test.assertEqual(server.get("k%d" % i, token), (200, "v%d" % i), "a value lost")
    test.assertEqual(server.request("/get", token=token)[:2], (200, "before the sets"))
    return len(conflicted)


class SetRaces:
    """For a unittest.TestCase: conditional saves (/set, each key its own) racing a logout or
    renewal of their session. An ended session is never brought back, and exactly the values
    acknowledged into the session before a renewal are carried to the new token. The
    requests of one instance that save a session take turns, so the races within an
    instance are the ender's turn against the sets'; with SERVE_ARGS giving each request an
    instance of its own, every race is through the store."""

    RACERS = 40
    # Extra `wasmtime serve` arguments of the racing server.
    SERVE_ARGS = ()

    def race(self, server, ender_path):
        """Creates a session, then sends RACERS /set (k<i>=v<i>) with its cookie and
        `ender_path` in the middle, all at once; returns (old token, the ender's answer,
        [answer of set i])."""
        self.ender = ender_path
        status, body, _, old = server.put("initial")
        self.assertEqual(status, 200, body)
        with ThreadPoolExecutor(self.RACERS + 1) as pool:
            sets, ender = [], None
            for i in range(self.RACERS):
                if i == self.RACERS // 2:
                    ender = pool.submit(server.post, ender_path, token=old)
                sets.append(pool.submit(server.set, "k%d" % i, "v%d" % i, token=old))
            return old, ender.result(), [f.result() for f in sets]

    def check_sets(self, server, old, sets):
        """Each set is 200 into the old session (cookie kept) or into a fresh one, or 409
        (ended: cookie cleared; a conflict: no cookie); returns the indexes of the sets
        acknowledged into the old session. Every fresh session holds its value."""
        into_old = []
        for i, (status, body, headers, token) in enumerate(sets):
            if status == 409:
                self.assertIn(body, (ENDED, CONFLICT))
                if body == ENDED:
                    self.assertRegex(headers.get("set-cookie", ""), r"^session=; .*Max-Age=0")
                else:
                    self.assertNotIn("set-cookie", headers)
                continue
            self.assertEqual((status, body), (200, "stored\n"))
            self.assertIsNotNone(token, headers)
            if token == old:
                into_old.append(i)
            else:
                self.assertEqual(server.get("k%d" % i, token), (200, "v%d" % i))
        for i in range(self.RACERS):
            self.assertEqual(server.get("k%d" % i, old), (200, ""), "the old token came back")
        bodies = [body for status, body, _, _ in sets if status == 409]
        print("\n%d sets racing %s%s: %d into the old session, %d into fresh ones, %d x 409 ended, "
              "%d x 409 conflict" % (self.RACERS, self.ender, "".join(" " + a for a in self.SERVE_ARGS),
                                     len(into_old), self.RACERS - len(into_old) - len(bodies),
                                     bodies.count(ENDED), bodies.count(CONFLICT)))
        return into_old

    def race_logout(self, server):
        """Races a /destroy; returns the ended token."""
        old, ender, sets = self.race(server, "/destroy")
        self.assertEqual(ender[0], 200, ender[1])
        self.assertRegex(ender[2].get("set-cookie", ""), r"^session=; .*Max-Age=0")
        self.check_sets(server, old, sets)
        return old

    def race_renewal(self, server):
        """Races a /renew; returns (the old token, the renewed one)."""
        old, ender, sets = self.race(server, "/renew")
        self.assertEqual(ender[0], 200, ender[1])
        renewed = ender[3]
        self.assertNotIn(renewed, (None, old))
        into_old = self.check_sets(server, old, sets)
        carried = [i for i in range(self.RACERS) if server.get("k%d" % i, renewed) == (200, "v%d" % i)]
        self.assertEqual(carried, into_old, "a value acknowledged before the renewal was lost, or "
                                            "one refused was stored")
        self.assertEqual(server.request("/get", token=renewed)[1], "initial")
        return old, renewed


def put_get_clients(server, clients, rounds):
    """`clients` threads at once, each putting `rounds` messages ("c<client>-<round>") and
    reading back each one stored. Returns (answers, live, seconds): answers holds
    (route, message, status, retry-after, body) for every request, live the token of every
    put answered 200."""
    def client(c):
        answers, live = [], []
        for i in range(rounds):
            message = "c%d-%d" % (c, i)
            status, body, headers, token = server.put(message)
            answers.append(("/put", message, status, headers.get("retry-after"), body))
            if status != 200:
                continue
            live.append(token)
            status, body, headers, _ = server.request("/get", token=token)
            answers.append(("/get", message, status, headers.get("retry-after"), body))
        return answers, live

    started = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(client, range(clients)))
    seconds = time.monotonic() - started
    return [a for r in results for a in r[0]], [t for r in results for t in r[1]], seconds


def _read_only(db_path):
    return sqlite3.connect("file:%s?mode=ro" % urllib.parse.quote(db_path), uri=True)


def integrity_check(db_path):
    db = _read_only(db_path)
    try:
        return db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()


def session_count(db_path):
    """Rows in the sessions table (live and expired); 0 when no database was created."""
    if not os.path.exists(db_path):
        return 0
    db = _read_only(db_path)
    try:
        return db.execute("SELECT count(*) FROM sessions").fetchone()[0]
    finally:
        db.close()


def id_of(token):
    """The id the store keeps for `token`: base64url (no padding) of its SHA-256."""
    return base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).decode().rstrip("=")


def stored_message(db_path, token, now_ms):
    """The message of the active session `token` in the file, or None."""
    db = _read_only(db_path)
    try:
        row = db.execute("SELECT data FROM sessions WHERE id = ? AND expiry > ?", (id_of(token), now_ms)).fetchone()
    finally:
        db.close()
    return None if row is None else json.loads(bytes(row[0]).decode())["values"].get("message")


def temp_dir(test):
    d = tempfile.TemporaryDirectory(prefix="edge-app-")
    test.addCleanup(d.cleanup)
    return d.name
