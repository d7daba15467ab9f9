//! Just enough HTTP/1.1 over one keep-alive connection to create the sessions the load
//! generator then reuses, and to check that a server answers `/get` from its session.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{bail, Context};

pub struct Client {
    reader: BufReader<TcpStream>,
}

pub struct Reply {
    pub status: u16,
    /// The value of the `session` cookie in `Set-Cookie`, if one was set.
    pub session: Option<String>,
    pub body: String,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> anyhow::Result<Client> {
        let stream = TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.set_nodelay(true)?;
        Ok(Client { reader: BufReader::new(stream) })
    }

    /// `GET path`, with `Cookie: session=…` when given.
    pub fn get(&mut self, path: &str, session: Option<&str>) -> anyhow::Result<Reply> {
        let cookie = session.map(|s| format!("Cookie: session={s}\r\n")).unwrap_or_default();
        write!(self.reader.get_mut(), "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{cookie}\r\n")?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .context("no status line")?;
        let (mut length, mut session, mut chunked) = (0usize, None, false);
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                bail!("connection closed in the headers");
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let Some((name, value)) = header.split_once(':') else { continue };
            let value = value.trim();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.parse()?,
                "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
                "set-cookie" => {
                    if let Some(rest) = value.strip_prefix("session=") {
                        session = Some(rest.split(';').next().unwrap_or_default().to_owned());
                    }
                }
                _ => {}
            }
        }
        anyhow::ensure!(!chunked, "chunked replies are not expected from these routes");
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body)?;
        Ok(Reply { status, session, body: String::from_utf8_lossy(&body).into_owned() })
    }
}
