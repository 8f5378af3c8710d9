//! Behaviour of the typed model: retry schedule, schedules, keys, secrets.

use super::*;
use erpbridge_config::{ApiKey, RetryPolicy, RetryStrategy, Schedule, Secret};
use std::time::Duration;

fn secs(list: &[u64]) -> Vec<Option<Duration>> {
    list.iter().map(|s| Some(Duration::from_secs(*s))).collect()
}

#[test]
fn default_retry_is_the_seed_schedule_then_dead() {
    let p = RetryPolicy::default();
    assert_eq!(p.max_attempts(), 6);
    let delays: Vec<_> = (1..=5).map(|n| p.delay_after(n)).collect();
    assert_eq!(delays, secs(&[30, 120, 600, 1800, 3600]));
    assert_eq!(p.delay_after(6), None, "dead after the 6th attempt");
    assert_eq!(p.delay_after(0), None);
}

#[test]
fn computed_strategies_grow_and_cap() {
    let mut p = RetryPolicy {
        strategy: RetryStrategy::Exponential,
        base_delay: Duration::from_secs(10),
        max_delay: Duration::from_secs(100),
        multiplier: 3.0,
        max_attempts: Some(6),
        ..RetryPolicy::default()
    };
    let d: Vec<_> = (1..=5).map(|n| p.delay_after(n)).collect();
    assert_eq!(d, secs(&[10, 30, 90, 100, 100]));
    p.strategy = RetryStrategy::Linear;
    let d: Vec<_> = (1..=5).map(|n| p.delay_after(n)).collect();
    assert_eq!(d, secs(&[10, 20, 30, 40, 50]));
    p.strategy = RetryStrategy::Fixed;
    assert_eq!(p.delay_after(4), Some(Duration::from_secs(10)));
    assert_eq!(p.delay_after(6), None);
}

#[test]
fn explicit_repeats_its_last_delay_when_asked_for_more_attempts() {
    let p = RetryPolicy {
        delays: vec![Duration::from_secs(1), Duration::from_secs(5)],
        max_attempts: Some(5),
        ..RetryPolicy::default()
    };
    let d: Vec<_> = (1..=5).map(|n| p.delay_after(n)).collect();
    assert_eq!(d, [secs(&[1, 5, 5, 5]), vec![None]].concat());
}

#[test]
fn jitter_spreads_within_its_fraction() {
    let p = RetryPolicy::default(); // ±10 %
    let d = Duration::from_secs(100);
    assert_eq!(p.jittered(d, 0.0), Duration::from_secs(90));
    assert_eq!(p.jittered(d, 0.5), Duration::from_secs(100));
    assert!(p.jittered(d, 0.999_999) <= Duration::from_secs(110));
}

#[test]
fn retry_policy_from_toml() {
    let text = format!(
        "[outbox.retry]\nstrategy = \"exponential\"\nbase_delay = \"1s\"\nmax_delay = \"1m\"\nmultiplier = 2.0\nmax_attempts = 4\n{MINIMAL}"
    );
    let config = load(&text, &[]).unwrap();
    let p = &config.outbox.retry;
    let d: Vec<_> = (1..=4).map(|n| p.delay_after(n)).collect();
    assert_eq!(d, [secs(&[1, 2, 4]), vec![None]].concat());

    let bad = text.replace("\"exponential\"", "\"random\"");
    let errs = errors(&bad);
    let e = error_at(&errs, "outbox.retry.strategy", 2);
    assert!(e.to_string().contains("\"explicit\""), "{e}");
}

#[test]
fn cron_schedule_and_full_schedule() {
    let text =
        format!("{MINIMAL}\n[tenants.sync]\ncron = \"*/5 * * * *\"\nfull_interval = \"7d\"\n");
    let config = load(&text, &[]).unwrap();
    let sync = &config.tenants[0].sync;
    assert_eq!(sync.delta_schedule(), Schedule::Cron("*/5 * * * *".into()));
    assert_eq!(
        sync.full_schedule(),
        Some(Schedule::Interval(Duration::from_secs(7 * 86_400)))
    );
}

#[test]
fn api_keys_plain_and_hashed() {
    let plain = ApiKey::parse("k-123456").unwrap();
    assert!(plain.matches("k-123456"));
    assert!(!plain.matches("k-1234567"));
    let hashed =
        ApiKey::parse("sha256:2C26B46B68FFC68FF99B453C1D30413413422D706483BFA0F98A5E886266E7AE")
            .unwrap();
    assert!(hashed.matches("foo"));
    assert_eq!(hashed.digest(), ApiKey::parse("foo").unwrap().digest());
    assert!(ApiKey::parse("sha256:zz").is_err());
    assert!(ApiKey::parse("").is_err());
}

#[test]
fn secrets_never_show_in_debug_output() {
    let text = r#"
[server]
operator_key = "op-secret-value"
[store]
type = "postgres"
url = "postgres://u:pg-secret-value@localhost/db"
[[tenants]]
id = "demo"
api_keys = ["api-secret-value"]
provider = { type = "tryton", url = "http://x/", database = "d", user = "u", password = "tryton-secret-value" }
"#;
    let config = load(text, &[]).unwrap();
    let shown = format!("{config:?}");
    assert!(!shown.contains("secret-value"), "{shown}");
    assert_eq!(format!("{}", Secret::new("x")), "***");
}

#[test]
fn postgres_store_is_checked() {
    let text = format!("[store]\ntype = \"postgres\"\nurl = \"mysql://x\"\n{MINIMAL}");
    let errs = errors(&text);
    error_at(&errs, "store.url", 3);
    let text = format!("[store]\ntype = \"postgres\"\n{MINIMAL}");
    let errs = errors(&text);
    let e = error_at(&errs, "store.url", 1);
    assert!(matches!(e.kind, ErrorKind::MissingKey { .. }));
}
