//! Peer: `tower-sessions` with `tower-sessions-libsql-store` on a local libSQL file,
//! opened with the libsql crate's defaults.

use bench::peer::{app, args::PeerArgs};
use tower_sessions_libsql_store::LibsqlStore;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = PeerArgs::from_env()?;
    let db = libsql06::Builder::new_local(&args.store).build().await?;
    let store = LibsqlStore::new(db.connect()?);
    store.migrate().await?;
    app::serve(args.listen, app::router(store)).await
}
