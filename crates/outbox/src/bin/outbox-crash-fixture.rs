//! TEST FIXTURE, not a product binary: a worker process for the outbox crash tests.
//!
//! It runs the saga engine over a real database (a SQLite file or PostgreSQL) against
//! the simulated ERP hosted by the provider runtime, whose order journal (`--journal`)
//! is fsynced before every acknowledged write, so orders survive the SIGKILLs the tests
//! deal out. Its own options are `--store URL` (sqlite path or postgres URL) and
//! `--journal FILE`; the shared ones (workers, lease, `--kill-after-creates`,
//! `--exclusive-dir`, `--until-idle`, ...) and the `ready` protocol are
//! `erpbridge_outbox::testing`'s.

use erpbridge_outbox::testing::{FixtureOptions, fixture_main};
use erpbridge_provider::runtime::{HostedProvider, RuntimeOptions};
use erpbridge_sim::{SimConfig, SimFactory};
use erpbridge_store::Db;
use erpbridge_store::outbox::OutboxStore;
use std::path::PathBuf;
use std::sync::Arc;

struct Args {
    store: String,
    journal: PathBuf,
    fixture: FixtureOptions,
}

fn parse_args() -> Result<Args, String> {
    let (mut store, mut journal) = (String::new(), PathBuf::new());
    let fixture = FixtureOptions::new("t1").parse(std::env::args().skip(1), |flag, value| {
        match flag {
            "--store" => store = value,
            "--journal" => journal = PathBuf::from(value),
            other => return Err(format!("unknown argument {other}")),
        }
        Ok(())
    })?;
    if store.is_empty() || journal.as_os_str().is_empty() {
        return Err("--store and --journal are required".into());
    }
    Ok(Args {
        store,
        journal,
        fixture,
    })
}

async fn run(args: Args) -> Result<(), String> {
    let db = Db::open(&args.store).await.map_err(|e| e.to_string())?;
    db.migrate().await.map_err(|e| e.to_string())?;
    let sim = SimConfig {
        state_file: Some(args.journal),
        ..SimConfig::fast(200)
    };
    let factory = SimFactory::new(sim).map_err(|e| e.to_string())?;
    let hosted =
        HostedProvider::start(factory, RuntimeOptions::default()).map_err(|e| e.to_string())?;
    args.fixture
        .run(OutboxStore::new(db), Arc::new(hosted))
        .await
}

fn main() {
    fixture_main("outbox-crash-fixture", parse_args, run);
}
