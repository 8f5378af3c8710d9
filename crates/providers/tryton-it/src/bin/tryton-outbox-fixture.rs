//! TEST FIXTURE, not a product binary: an outbox worker process whose tenant is a real
//! Tryton server, for the SIGKILL tests of `order.create` (the sim's twin is
//! `erpbridge-outbox`'s `outbox-crash-fixture`; both are built on
//! `erpbridge_outbox::testing`, which holds the shared flags, the kill point and the
//! `ready` protocol).
//!
//! It runs the saga engine over a SQLite outbox file against the Tryton provider.
//! Tryton is the durable side here: what it created survives the kill, so the tests
//! count sales in Tryton itself. Its own options:
//!
//! * `--store FILE` (the SQLite outbox), `--url URL`, `--database DB`, `--user U`; the
//!   password comes from the environment variable named by `--password-env` (default
//!   `ERPBRIDGE_TRYTON_ADMIN_PASSWORD`), never from the command line.

use erpbridge_outbox::testing::{FixtureOptions, fixture_main};
use erpbridge_store::outbox::OutboxStore;
use erpbridge_store::{Db, SqliteDurability};
use erpbridge_tryton::{TrytonConfig, TrytonProvider};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

struct Args {
    store: PathBuf,
    url: String,
    database: String,
    user: String,
    password_env: String,
    fixture: FixtureOptions,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        store: PathBuf::new(),
        url: String::new(),
        database: "erp".into(),
        user: "admin".into(),
        password_env: "ERPBRIDGE_TRYTON_ADMIN_PASSWORD".into(),
        fixture: FixtureOptions {
            batch: 4,
            retry: Duration::from_millis(100),
            poll_interval: Duration::from_millis(50),
            ..FixtureOptions::new("tryton")
        },
    };
    let fixture = args
        .fixture
        .clone()
        .parse(std::env::args().skip(1), |flag, value| {
            match flag {
                "--store" => args.store = PathBuf::from(value),
                "--url" => args.url = value,
                "--database" => args.database = value,
                "--user" => args.user = value,
                "--password-env" => args.password_env = value,
                other => return Err(format!("unknown argument {other}")),
            }
            Ok(())
        })?;
    args.fixture = fixture;
    if args.store.as_os_str().is_empty() || args.url.is_empty() {
        return Err("--store and --url are required".into());
    }
    Ok(args)
}

async fn run(args: Args) -> Result<(), String> {
    let password = std::env::var(&args.password_env)
        .map_err(|_| format!("environment variable {} is not set", args.password_env))?;
    let db = Db::open_sqlite(&args.store, SqliteDurability::Full)
        .await
        .map_err(|e| e.to_string())?;
    db.migrate().await.map_err(|e| e.to_string())?;
    let mut config = TrytonConfig::new(args.url, args.database, args.user, password);
    config.request_timeout = Duration::from_secs(120);
    let tryton = TrytonProvider::new(config).map_err(|e| e.to_string())?;
    args.fixture
        .run(OutboxStore::new(db), Arc::new(tryton))
        .await
}

fn main() {
    fixture_main("tryton-outbox-fixture", parse_args, run);
}
