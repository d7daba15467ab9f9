//! What a run measures, and how much of it: `--quick` runs the same code on small sizes
//! (under a minute), the full run on the sizes the targets are stated for (about six
//! minutes on a 2-core machine).

use std::time::Duration;

use crate::subject::Storage;
use crate::versions::VersionsCase;

/// One store-level table: its storage, its size, and how many operations to time.
#[derive(Debug, Clone)]
pub struct StoreCase {
    pub storage: Storage,
    pub sessions: u64,
    pub finds: u64,
    /// Operations per write kind (commit, touch, delete, create).
    pub writes: u64,
    /// Each series stops early once it has run this long.
    pub budget: Duration,
    pub warm_up: u64,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub quick: bool,
    pub store_cases: Vec<StoreCase>,
    pub sweep_active: u64,
    pub sweep_expired: u64,
    /// Pause between the finds issued while a sweep runs.
    pub sweep_find_every: Duration,
    /// Connections of every server's load runs (the edge app's `/get` and no-store route
    /// also run at one connection, which a target needs).
    pub http_connections: Vec<u32>,
    pub http_duration: Duration,
    /// Sessions created per server before the load; wrk requests cycle through them.
    pub http_sessions: u32,
    pub startup_repeats: u32,
    /// Starts of `host-example serve` with its compiled-component cache filled (after the
    /// first, which fills it).
    pub serve_starts: u32,
    /// Connections of the edge section's load runs (every host, every route, and the floor).
    pub edge_connections: Vec<u32>,
    pub edge_duration: Duration,
    /// A `/get` load at the most connections before a host's measured runs, not recorded:
    /// JIT compilers and instance pools warm up.
    pub edge_warm_up: Duration,
    /// The 0.2 and 0.3 calls side by side (section `versions`).
    pub versions: VersionsCase,
}

impl Plan {
    pub fn quick() -> Plan {
        let case = |storage, finds, writes, budget_ms| StoreCase {
            storage,
            sessions: 10_000,
            finds,
            writes,
            budget: Duration::from_millis(budget_ms),
            warm_up: 200,
        };
        Plan {
            quick: true,
            store_cases: vec![
                case(Storage::File, 5_000, 1_000, 500),
                case(Storage::FileShared, 2_000, 200, 500),
                case(Storage::Memory, 5_000, 2_000, 500),
                case(Storage::Remote, 1_000, 200, 500),
            ],
            sweep_active: 10_000,
            sweep_expired: 20_000,
            sweep_find_every: Duration::from_millis(1),
            http_connections: vec![64],
            http_duration: Duration::from_secs(1),
            http_sessions: 64,
            startup_repeats: 20,
            serve_starts: 2,
            edge_connections: vec![1, 4, 64],
            edge_duration: Duration::from_secs(1),
            edge_warm_up: Duration::from_secs(1),
            versions: VersionsCase {
                sessions: 10_000,
                calls: 300,
                budget: Duration::from_millis(500),
            },
        }
    }

    pub fn full() -> Plan {
        let case = |storage, sessions, finds, writes, budget_s| StoreCase {
            storage,
            sessions,
            finds,
            writes,
            budget: Duration::from_secs(budget_s),
            warm_up: 2_000,
        };
        Plan {
            quick: false,
            store_cases: vec![
                case(Storage::File, 10_000, 20_000, 3_000, 6),
                case(Storage::FileShared, 10_000, 20_000, 3_000, 6),
                case(Storage::Memory, 10_000, 20_000, 20_000, 4),
                case(Storage::Remote, 10_000, 5_000, 1_000, 3),
                // A million-session `:memory:` table is left out: seeding it through
                // `commit` on both sides took 100 s of the run.
                case(Storage::File, 1_000_000, 20_000, 2_000, 6),
            ],
            sweep_active: 1_000_000,
            sweep_expired: 1_000_000,
            sweep_find_every: Duration::from_millis(1),
            http_connections: vec![1, 16, 64],
            http_duration: Duration::from_secs(4),
            http_sessions: 1_000,
            startup_repeats: 200,
            serve_starts: 10,
            edge_connections: vec![1, 4, 64],
            edge_duration: Duration::from_secs(10),
            edge_warm_up: Duration::from_secs(2),
            versions: VersionsCase {
                sessions: 10_000,
                calls: 1_250,
                budget: Duration::from_secs(6),
            },
        }
    }
}
