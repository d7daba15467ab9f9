"""Concurrent HTTP load on the edge app for the fault tests: many clients over loopback, each
a user saving into sessions of its own, with a record of every answer (status, latency,
timeout) and of what each session must hold afterwards.

A client starts a session with `/put` (no cookie: the store creates it), saves into it with
`/put` and its cookie a few more times (the store updates it), and reads each acknowledged
save back at once with `/get`; then it starts the next session. A save is acknowledged when
it is answered 200 with the session's Set-Cookie. What a session must hold afterwards is its
last acknowledged message, or a message whose save was never answered (a timeout, a
connection cut): the server goes on with a request its client gave up on, and may commit it
at any time, even after a later save was acknowledged (the load counts those "late
commits")."""

import http.client
import socket
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

from edge import TOKEN

# A client that waits longer than this for an answer counts a timeout (wrk's default, the
# bound behind the benchmark's timeout counts).
REQUEST_TIMEOUT_S = 2.0
# Saves per session: one create, then updates through the cookie.
SAVES_PER_SESSION = 4


class Outcome:
    """One request: its route, status (None when no answer came), `timeout` (no answer within
    REQUEST_TIMEOUT_S), the error of a connection that failed otherwise, its latency, and
    when it ended (time.monotonic())."""

    __slots__ = ("route", "status", "timeout", "error", "seconds", "ended")

    def __init__(self, route, status, timeout, error, seconds, ended):
        self.route, self.status, self.timeout, self.error = route, status, timeout, error
        self.seconds, self.ended = seconds, ended


class Session:
    """What a session must hold: `acked`, its last acknowledged message, unless one of
    `unanswered` (saves never answered, which the server may still commit) landed later."""

    __slots__ = ("acked", "unanswered")

    def __init__(self, acked):
        self.acked = acked
        self.unanswered = []

    def allowed(self):
        return [self.acked] + self.unanswered


def request(port, path, token=None, timeout=REQUEST_TIMEOUT_S):
    """GET `path` on a connection of its own; returns (Outcome, body, set-cookie token)."""
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Cookie": "session=" + token} if token else {}
    route = path.split("?")[0]
    try:
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        body = resp.read().decode()
        cookie = TOKEN.match(resp.getheader("set-cookie") or "")
        ended = time.monotonic()
        return Outcome(route, resp.status, False, None, ended - started, ended), body, cookie and cookie.group(1)
    except socket.timeout:
        ended = time.monotonic()
        return Outcome(route, None, True, None, ended - started, ended), None, None
    except (OSError, http.client.HTTPException) as e:
        ended = time.monotonic()
        return Outcome(route, None, False, type(e).__name__, ended - started, ended), None, None
    finally:
        conn.close()


class Load:
    """`clients` threads saving and reading sessions on the server at `port` until stop(); a
    request unanswered after `timeout` seconds counts a timeout."""

    def __init__(self, port, clients, timeout=REQUEST_TIMEOUT_S):
        self.port = port
        self.timeout = timeout
        self.outcomes = []
        # token -> Session, for every session a save was acknowledged in.
        self.sessions = {}
        # Answers that break an invariant by themselves: a save into a live session answered
        # with a fresh one, a read right after an acknowledged save returning a message that
        # was neither that save's nor one of the session's unanswered saves.
        self.anomalies = []
        # Reads right after an acknowledged save that returned an unanswered save of the same
        # session instead, as (acknowledged, read): the unanswered one committed later.
        self.late_commits = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.started = time.monotonic()
        self._threads = [threading.Thread(target=self._client, args=(c,), daemon=True) for c in range(clients)]
        for t in self._threads:
            t.start()

    def stop(self):
        """Stops the clients and waits for their last requests; returns the seconds of load."""
        self._stop.set()
        for t in self._threads:
            t.join(timeout=3 * self.timeout)
        return time.monotonic() - self.started

    def _record(self, outcome):
        with self._lock:
            self.outcomes.append(outcome)

    def _anomaly(self, text):
        with self._lock:
            self.anomalies.append(text)

    def _client(self, c):
        token, session, i = None, None, 0
        while not self._stop.is_set():
            if i % SAVES_PER_SESSION == 0:
                token, session = None, None
            message = "c%d-%d" % (c, i)
            i += 1
            outcome, body, cookie = request(self.port, "/put?message=" + urllib.parse.quote(message), token, self.timeout)
            self._record(outcome)
            if outcome.status == 200 and cookie:
                if token is not None and cookie != token:
                    self._anomaly("a save into live session %s… was answered with a fresh session" % token[:8])
                if cookie != token:
                    token, session = cookie, Session(message)
                    with self._lock:
                        self.sessions[token] = session
                else:
                    session.acked = message
                outcome, body, _ = request(self.port, "/get", token, self.timeout)
                self._record(outcome)
                if outcome.status == 200 and body != message:
                    if body in session.unanswered:
                        with self._lock:
                            self.late_commits.append((message, body))
                    else:
                        self._anomaly("a read right after the acknowledged save of %r returned %r" % (message, body))
            elif outcome.status == 200:
                self._anomaly("a save of %r was answered 200 without the session's cookie" % message)
            elif outcome.status is None and session is not None:
                session.unanswered.append(message)


def read_back(port, sessions, attempts=20):
    """Reads every session through `/get` with its cookie (four at a time, a 503 retried up
    to `attempts` times: this is verification, not load). Returns (lost, superseded,
    unreadable): sessions answered with none of their allowed messages as (token, allowed,
    body), the count answered with one of their unanswered saves, and tokens never answered
    200."""
    def read(item):
        token, session = item
        for _ in range(attempts):
            outcome, body, _ = request(port, "/get", token, timeout=30)
            if outcome.status == 200:
                return token, session, body
        return token, session, None

    lost, superseded, unreadable = [], 0, []
    with ThreadPoolExecutor(4) as pool:
        for token, session, body in pool.map(read, list(sessions.items())):
            if body is None:
                unreadable.append(token)
            elif body not in session.allowed():
                lost.append((token, session.allowed(), body))
            elif body != session.acked:
                superseded += 1
    return lost, superseded, unreadable


def percentile(values, p):
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def summary(outcomes, route):
    """Counts and latencies of `route`'s requests: a dict with requests, ok, busy (503), other
    5xx, other non-2xx, timeouts, errors (connection failures), p50/p99/max in ms."""
    mine = [o for o in outcomes if o.route == route]
    answered = [o.seconds for o in mine if o.status is not None]
    return {
        "requests": len(mine),
        "ok": sum(1 for o in mine if o.status == 200),
        "busy": sum(1 for o in mine if o.status == 503),
        "other_5xx": sum(1 for o in mine if o.status is not None and o.status >= 500 and o.status != 503),
        "other": sum(1 for o in mine if o.status is not None and o.status != 200 and o.status < 500),
        "timeouts": sum(1 for o in mine if o.timeout),
        "errors": sum(1 for o in mine if o.error),
        "p50_ms": 1000 * percentile(answered, 50),
        "p99_ms": 1000 * percentile(answered, 99),
        "max_ms": 1000 * max(answered, default=0.0),
    }


def describe(outcomes, seconds, timeout=REQUEST_TIMEOUT_S):
    """One line per route: requests, their rate, each kind of answer (a timeout: none within
    `timeout` seconds) and the latencies."""
    lines = []
    for route in ("/put", "/get"):
        s = summary(outcomes, route)
        lines.append(
            "%s: %d requests (%.0f/s): %d x 200, %d x 503 busy, %d other 5xx, %d other non-2xx, "
            "%d timeouts (> %.0fs), %d connection errors; p50 %.1f ms, p99 %.1f ms, max %.1f ms"
            % (route, s["requests"], s["requests"] / seconds, s["ok"], s["busy"], s["other_5xx"], s["other"],
               s["timeouts"], timeout, s["errors"], s["p50_ms"], s["p99_ms"], s["max_ms"]))
    return "\n".join(lines)
