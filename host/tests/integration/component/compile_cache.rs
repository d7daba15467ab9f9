//! The compiled-component cache: hits, damaged or foreign artifacts, an unwritable directory.

use libsqlstore_host::compiled::Origin;
use sha2::{Digest, Sha256};

use super::*;

fn load(cache: &Path) -> Origin {
    let (runtime, origin) = Runtime::load_cached(&common::component(), cache).expect("loads");
    let store = ComponentStore::open(
        &runtime,
        StoreOptions { data_dir: None, ..StoreOptions::default() }
            .env("SESSIONS_DATABASE", ":memory:"),
    )
    .expect("store");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio");
    rt.block_on(async {
        store.commit("tok", b"works".to_vec(), u64::MAX).await.expect("commit");
        assert_eq!(store.find("tok").await.expect("find"), Some(b"works".to_vec()));
    });
    origin
}

/// The one artifact in `cache`.
fn artifact(cache: &Path) -> std::path::PathBuf {
    let files: Vec<_> =
        std::fs::read_dir(cache).expect("cache dir").map(|e| e.expect("entry").path()).collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0].extension().and_then(|e| e.to_str()), Some("cwasm"));
    files[0].clone()
}

#[test]
fn a_second_load_of_the_same_component_comes_from_the_cache() {
    let cache = tempfile::tempdir().expect("tempdir");
    assert_eq!(load(cache.path()), Origin::Compiled);
    assert_eq!(load(cache.path()), Origin::Cache);
    artifact(cache.path());
}

#[test]
fn a_damaged_or_truncated_artifact_is_compiled_again_and_replaced() {
    let cache = tempfile::tempdir().expect("tempdir");
    assert_eq!(load(cache.path()), Origin::Compiled);
    let path = artifact(cache.path());
    let mut bytes = std::fs::read(&path).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x5a;
    std::fs::write(&path, &bytes).expect("damage it");
    assert_eq!(load(cache.path()), Origin::Compiled, "a damaged artifact is never loaded");
    assert_eq!(load(cache.path()), Origin::Cache, "it was replaced by a sound one");
    std::fs::write(&path, &bytes[..20]).expect("truncate it");
    assert_eq!(load(cache.path()), Origin::Compiled);
}

#[test]
fn an_artifact_of_another_engine_configuration_is_refused_and_compiled_again() {
    let cache = tempfile::tempdir().expect("tempdir");
    assert_eq!(load(cache.path()), Origin::Compiled);
    let path = artifact(cache.path());
    // A sound artifact of the same component, by an engine without call deadlines, under
    // our name and with a checksum that matches: only wasmtime's own check can tell.
    let foreign = wasmtime::Engine::default()
        .precompile_component(&std::fs::read(common::component()).expect("component"))
        .expect("precompile");
    let mut file = Sha256::digest(&foreign).to_vec();
    file.extend_from_slice(&foreign);
    std::fs::write(&path, file).expect("plant it");
    assert_eq!(load(cache.path()), Origin::Compiled);
    assert_eq!(load(cache.path()), Origin::Cache);
}

#[test]
fn an_unwritable_cache_only_costs_the_compile() {
    let dir = tempfile::tempdir().expect("tempdir");
    let not_a_dir = dir.path().join("file");
    std::fs::write(&not_a_dir, "").expect("a file where the cache would go");
    assert_eq!(load(&not_a_dir.join("cache")), Origin::Compiled);
    assert_eq!(load(&not_a_dir.join("cache")), Origin::Compiled);
}
