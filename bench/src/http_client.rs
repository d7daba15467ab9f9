//! Just enough HTTP/1.1 over one keep-alive connection to create the sessions the load
//! generator then reuses, to check that a server answers `/get` from its session, and that
//! sqld answers the floor's pipeline.

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
        self.reply()
    }

    /// `POST path` with a JSON `body`.
    pub fn post_json(&mut self, path: &str, body: &str) -> anyhow::Result<Reply> {
        write!(
            self.reader.get_mut(),
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )?;
        self.reply()
    }

    fn reply(&mut self) -> anyhow::Result<Reply> {
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
        let body = if chunked { self.chunks()? } else { self.bytes(length)? };
        Ok(Reply { status, session, body: String::from_utf8_lossy(&body).into_owned() })
    }

    fn bytes(&mut self, n: usize) -> anyhow::Result<Vec<u8>> {
        let mut bytes = vec![0; n];
        self.reader.read_exact(&mut bytes)?;
        Ok(bytes)
    }

    /// A chunked body (node:http sends one when a handler sets its headers first), without
    /// trailers.
    fn chunks(&mut self) -> anyhow::Result<Vec<u8>> {
        let mut body = Vec::new();
        let mut line = String::new();
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            let size = line.trim_end().split(';').next().unwrap_or_default();
            let size =
                usize::from_str_radix(size, 16).with_context(|| format!("chunk size {line:?}"))?;
            body.extend(self.bytes(size)?);
            line.clear();
            self.reader.read_line(&mut line)?;
            if size == 0 {
                return Ok(body);
            }
        }
    }
}
