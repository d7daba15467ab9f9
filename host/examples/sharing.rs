//! Why `ComponentStore` is one instance behind a FIFO mutex: measures 64 concurrent callers
//! spread over 1, 2 and 4 component instances of the same database file (shared locking,
//! the only mode several instances can use), for `find` and `commit`. Every call on a
//! file is one transaction under the component's lock file, so extra instances can only
//! wait for each other.
//!
//! `cargo run --release -p libsqlstore-host --example sharing -- [OPS]` (default 4000 per run).

use std::time::Instant;

use libsqlstore_host::{ComponentStore, HostClock, Runtime, StoreOptions};

const CALLERS: usize = 64;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let ops: usize = std::env::args().nth(1).map(|n| n.parse()).transpose()?.unwrap_or(4000);
    let runtime = Runtime::load(&component())?;
    println!("{CALLERS} concurrent callers, {ops} ops per run, one database file");
    println!("{:<10} {:>12} {:>12}", "instances", "find ops/s", "commit ops/s");
    for instances in [1, 2, 4] {
        let dir = tempfile::tempdir()?;
        let stores: Vec<ComponentStore> = (0..instances)
            .map(|_| ComponentStore::open(&runtime, StoreOptions::in_dir(dir.path())))
            .collect::<Result<_, _>>()?;
        let expiry = HostClock::default().now_ms() + 3_600_000;
        for i in 0..1000 {
            stores[0].commit(&format!("seed-{i}"), vec![b'x'; 200], expiry).await?;
        }
        let find = run(&stores, ops, |store, i| async move {
            store.find(&format!("seed-{}", i % 1000)).await.map(drop)
        })
        .await?;
        let commit = run(&stores, ops, move |store, i| async move {
            store.commit(&format!("new-{i}"), vec![b'y'; 200], expiry).await
        })
        .await?;
        println!("{instances:<10} {find:>12.0} {commit:>12.0}");
        for store in stores {
            store.close().await;
        }
    }
    Ok(())
}

/// Runs `ops` calls from `CALLERS` tasks, caller `c` using instance `c % instances`; ops/s.
async fn run<F, Fut>(
    stores: &[ComponentStore],
    ops: usize,
    call: F,
) -> Result<f64, libsqlstore_host::StoreError>
where
    F: Fn(ComponentStore, usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<(), libsqlstore_host::StoreError>> + Send,
{
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CALLERS {
        let (store, call) = (stores[c % stores.len()].clone(), call.clone());
        tasks.push(tokio::spawn(async move {
            for i in (c..ops).step_by(CALLERS) {
                call(store.clone(), i).await?;
            }
            Ok::<_, libsqlstore_host::StoreError>(())
        }));
    }
    for task in tasks {
        task.await.map_err(|e| libsqlstore_host::StoreError::Guest(e.to_string()))??;
    }
    Ok(ops as f64 / started.elapsed().as_secs_f64())
}

/// The component: `$LIBSQLSTORE_COMPONENT`, else where `./dev build` puts it (run from the
/// repository's root).
fn component() -> std::path::PathBuf {
    std::env::var_os("LIBSQLSTORE_COMPONENT").map_or_else(
        || "target/wasm32-wasip2/release/libsqlstore.wasm".into(),
        std::path::PathBuf::from,
    )
}
