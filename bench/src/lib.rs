//! What the benchmark's peer servers share. The benchmark itself lives in `main.rs`;
//! this library holds only the peers' HTTP app so that each peer binary links nothing
//! but its own store (see the note on binaries in `Cargo.toml`).

pub mod peer;
