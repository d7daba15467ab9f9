//! `cargo run --release -p bench -- [--quick] [--only SECTION,…]`
//!
//! Measures, in one run on one machine, the libsqlstore component (in wasmtime, through
//! the libsqlstore-host library and host-example, and composed into the edge app under
//! `wasmtime serve`) against its native floor (the same code compiled natively; the libsql
//! crate's own client of a libSQL server) and against the session stores a Rust user would
//! pick instead; prints tables, then every target with its figure and whether it is met,
//! and writes `bench/results/bench-results.json` and `bench-results.svg`.
//! Sections: `startup`, `store`, `versions`, `sweep`, `http`, `edge` (default: all). See bench/README.md.

mod chart;
mod edge;
mod http;
mod http_client;
mod latency;
mod machine;
mod paths;
mod plan;
mod remote_client;
mod report;
mod seed;
mod servers;
mod sqld;
mod startup;
mod store_level;
mod subject;
mod sweep;
mod tokens;
mod versions;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};

use crate::machine::Machine;
use crate::plan::Plan;
use crate::report::Results;
use crate::servers::Launch;
use crate::sqld::Sqld;

const SECTIONS: [&str; 6] = ["startup", "store", "versions", "sweep", "http", "edge"];

struct Args {
    quick: bool,
    sections: Vec<String>,
    out: PathBuf,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        quick: false,
        sections: SECTIONS.iter().map(|s| s.to_string()).collect(),
        out: Path::new(env!("CARGO_MANIFEST_DIR")).join("results"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => args.quick = true,
            "--only" => {
                let list = it.next().context("--only needs a list, e.g. store,sweep")?;
                args.sections = list.split(',').map(str::to_owned).collect();
                if let Some(bad) = args.sections.iter().find(|s| !SECTIONS.contains(&s.as_str())) {
                    bail!("unknown section {bad}; sections are {}", SECTIONS.join(", "));
                }
            }
            "--out" => args.out = it.next().context("--out needs a directory")?.into(),
            "-h" | "--help" => {
                println!("usage: cargo run --release -p bench -- [--quick] [--only startup,store,versions,sweep,http,edge] [--out DIR]");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}; try --help"),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let plan = if args.quick { Plan::quick() } else { Plan::full() };
    let wants = |s: &str| args.sections.iter().any(|x| x == s);
    let mut machine = Machine::probe();
    eprintln!("bench: {} run on {}", if plan.quick { "quick" } else { "full" }, machine.describe());

    let serves = wants("http") || wants("edge");
    if serves || wants("startup") {
        build_servers()?;
    }
    if serves {
        eprintln!("== composing the edge app (examples/edge-app/serve.sh --compose-only)");
        servers::compose_edge_app(&servers::component()?)?;
    }
    if serves || wants("store") {
        Sqld::install()?;
    }
    // host-example's compiled-component cache for the HTTP section, filled before its
    // servers start so that their memory is a cached start's (the first start of a
    // component build, which compiles it, is measured apart in the start-up section).
    let compile_cache = tempfile::tempdir()?;
    let launch = Launch {
        bin_dir: servers::bin_dir()?,
        component: servers::component()?,
        compile_cache: compile_cache.path().to_owned(),
    };
    eprintln!("== loading the component");
    let (runtime, load) = startup::load_runtime()?;
    eprintln!("  compiled and linked in {:.0} ms", load.as_secs_f64() * 1e3);

    let mut results = Results {
        mode: if plan.quick { "quick" } else { "full" },
        machine: machine.clone(),
        store: Vec::new(),
        versions: Vec::new(),
        sweep: Vec::new(),
        http: Vec::new(),
        servers: Vec::new(),
        startup: None,
        edge: None,
        hash_ns_per_call: None,
        previous_store: previous_store_rows(&args.out.join("bench-results.json")),
    };
    let section = |name: &str| {
        eprintln!("== {name}");
        std::time::Instant::now()
    };
    let took = |started: std::time::Instant| {
        eprintln!("  (took {:.0} s)", started.elapsed().as_secs_f64())
    };
    if wants("startup") {
        let started = section("start-up");
        results.startup = Some(startup::run(&runtime, load, &plan, &launch).await?);
        took(started);
    }
    if wants("store") {
        let started = section("store level");
        results.store = store_level::run(&plan, &runtime).await?;
        results.hash_ns_per_call = Some(store_level::hash_ns_per_call());
        took(started);
    }
    if wants("versions") {
        let started = section("versions: the 0.3 calls beside the 0.2 calls they replace");
        results.versions = versions::run(&plan.versions)?;
        took(started);
    }
    if wants("sweep") {
        let started = section("sweep");
        results.sweep = sweep::run(&plan, &runtime).await?;
        took(started);
    }
    if wants("http") {
        let started = section("HTTP");
        servers::fill_compile_cache(&launch)?;
        (results.http, results.servers) = http::run(&plan, &launch).await?;
        took(started);
    }
    if wants("edge") {
        let started = section("edge: every host against one sqld, and the edge app on a file");
        results.edge = Some(edge::run(&plan, &launch).await?);
        took(started);
    }
    machine.finish();
    results.machine = machine;

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let json_path = args.out.join("bench-results.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&results.to_json()?)? + "\n")?;
    let chart_path = args.out.join("bench-results.svg");
    chart::draw(&results, &chart_path)?;
    println!("{}", results.table());
    println!("wrote {} and {}", json_path.display(), chart_path.display());
    Ok(())
}

/// The store rows of an earlier run's results file, if there is a readable one.
fn previous_store_rows(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read(path)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .and_then(|json| json.get("store").and_then(|s| s.as_array()).cloned())
        .unwrap_or_default()
}

/// The HTTP section runs release binaries: `host-example` and this package's peer
/// servers, which `cargo run` does not build. One invocation for both: `host-example`'s
/// dependencies are all in this package's graph already (bench/Cargo.toml names the
/// binary's own), so this reuses the artifacts
/// `cargo run -p bench` built (a separate `-p host-example` build would unify features
/// differently and compile wasmtime a second time). A no-op when up to date.
fn build_servers() -> anyhow::Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let args = ["build", "--release", "-p", "bench", "-p", "host-example", "--bins"];
    eprintln!("== cargo {}", args.join(" "));
    let mut command = Command::new(&cargo);
    command.args(args).current_dir(&root);
    // `cargo run` gives this process the package's own CARGO_PKG_*, CARGO_MANIFEST_* … ;
    // some build scripts (ring's) rerun when those change, so a nested build that kept
    // them would rebuild what the outer one just built, and the next outer one again.
    for (name, _) in std::env::vars_os() {
        let n = name.to_string_lossy();
        if n.starts_with("CARGO_PKG_")
            || n.starts_with("CARGO_MANIFEST_")
            || ["CARGO_CRATE_NAME", "CARGO_BIN_NAME", "CARGO_PRIMARY_PACKAGE"].contains(&n.as_ref())
        {
            command.env_remove(&name);
        }
    }
    let status = command.status().context("running cargo")?;
    anyhow::ensure!(status.success(), "cargo {} failed", args.join(" "));
    Ok(())
}
