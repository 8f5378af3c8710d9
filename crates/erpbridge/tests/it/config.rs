//! `erpbridge config check` and `erpbridge config schema`: output and exit status.

use std::path::Path;
use std::process::{Command, Output};

fn erpbridge(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_erpbridge"));
    cmd.args(args).env_remove("TRYTON_PASSWORD");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run erpbridge")
}

fn example() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/erpbridge.toml")
        .display()
        .to_string()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn check_passes_on_the_example_with_its_secret() {
    let out = erpbridge(
        &["config", "check", &example()],
        &[("TRYTON_PASSWORD", "secret")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("ok: "), "{stdout}");
    assert!(stdout.contains("tenants: 2"), "{stdout}");
    assert!(stdout.contains("demo: sim, 10000 articles"), "{stdout}");
    assert!(stdout.contains("acme-tryton: tryton"), "{stdout}");
    assert!(
        !stdout.contains("secret"),
        "secrets stay out of the summary"
    );
}

#[test]
fn check_fails_with_exit_2_naming_the_missing_variable() {
    let out = erpbridge(&["config", "check", &example()], &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "tenants[1].provider.password: environment variable TRYTON_PASSWORD is not set"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("1 error"), "{stderr}");
}

#[test]
fn check_reports_every_error_with_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(
        &file,
        "[server]\nlisten = \"nowhere\"\n\n[[tenants]]\nid = \"demo\"\napi_keys = [\"k-123456\"]\nprovider = { type = \"sim\", articles = \"ten\" }\n",
    )
    .unwrap();
    let out = erpbridge(&["config", "check", file.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    let shown = file.display().to_string();
    assert!(
        stderr.contains(&format!("{shown}:2:10: server.listen: expected an address")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{shown}:7:39: tenants[0].provider.articles: expected an integer, found a string \"ten\""
        )),
        "{stderr}"
    );
    assert!(stderr.contains("2 errors"), "{stderr}");
}

#[test]
fn check_of_a_missing_file_exits_2() {
    let out = erpbridge(&["config", "check", "/nonexistent/erpbridge.toml"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot read the file"));
}

#[test]
fn schema_prints_json_schema() {
    let out = erpbridge(&["config", "schema"], &[]);
    assert_eq!(out.status.code(), Some(0));
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(schema["title"], "erpbridge configuration");
    assert!(schema["properties"]["tenants"].is_object(), "{schema}");
}

#[test]
fn version_flag_prints_the_version() {
    let out = erpbridge(&["--version"], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout).trim(),
        format!("erpbridge {}", env!("CARGO_PKG_VERSION"))
    );
}
