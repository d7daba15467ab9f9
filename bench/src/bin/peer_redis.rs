//! Peer: `tower-sessions` with `tower-sessions-redis-store` (fred) against a real
//! `redis-server`; `--store` is its URL, e.g. `redis://127.0.0.1:6379`.

use bench::peer::{app, args::PeerArgs};
use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, Pool};
use tower_sessions_redis_store::RedisStore;

/// Connections in fred's pool, as in the crate's README.
const POOL_SIZE: usize = 6;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = PeerArgs::from_env()?;
    let pool = Pool::new(Config::from_url(&args.store)?, None, None, None, POOL_SIZE)?;
    pool.connect();
    pool.wait_for_connect().await?;
    println!("store: redis-server defaults (RDB snapshots, no append-only file) pool={POOL_SIZE}");
    app::serve(args.listen, app::router(RedisStore::new(pool))).await
}
