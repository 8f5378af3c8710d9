//! `cargo run -p erpbridge-tryton --example tryton-bench -- URL [DATABASE] [PAGE] [PRICE_CALLS]`
//! Password from `ERPBRIDGE_TRYTON_ADMIN_PASSWORD` (default `admin-pass-1`), user admin.
//! Prints one JSON object (see `erpbridge_tryton::bench::BenchReport`).

use erpbridge_tryton::{TrytonConfig, bench};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let url = args
        .first()
        .ok_or("usage: tryton-bench URL [DATABASE] [PAGE] [PRICE_CALLS]")?;
    let database = args.get(1).map(String::as_str).unwrap_or("erp");
    let page: u32 = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(500);
    let calls: usize = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(200);
    let password = std::env::var("ERPBRIDGE_TRYTON_ADMIN_PASSWORD")
        .unwrap_or_else(|_| "admin-pass-1".to_owned());
    let config = TrytonConfig::new(url.as_str(), database, "admin", password);
    let report = bench::run(config, page, calls).await?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
