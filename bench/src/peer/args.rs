//! The peers' command line: `--listen ADDR` and one `--store LOCATION` (a database file
//! or a Redis URL, depending on the peer).

use std::net::SocketAddr;

use anyhow::{bail, Context};

pub struct PeerArgs {
    pub listen: SocketAddr,
    pub store: String,
}

impl PeerArgs {
    /// Parses `--listen ADDR --store LOCATION` (both required).
    pub fn from_env() -> anyhow::Result<PeerArgs> {
        let mut listen = None;
        let mut store = None;
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            let value = args.next().with_context(|| format!("{flag} needs a value"))?;
            match flag.as_str() {
                "--listen" => {
                    listen = Some(value.parse().with_context(|| format!("--listen {value}"))?)
                }
                "--store" => store = Some(value),
                other => bail!("unknown flag {other}; use --listen ADDR --store LOCATION"),
            }
        }
        Ok(PeerArgs {
            listen: listen.context("--listen ADDR is required")?,
            store: store.context("--store LOCATION is required")?,
        })
    }
}
