//! Each kind of error names the key path and the right line, and all are reported.

use super::*;

#[test]
fn bad_type_names_key_line_and_both_types() {
    let text = format!("{MINIMAL}articles = \"ten\"\n");
    let errs = errors(&text);
    let e = error_at(
        &errs,
        "tenants[0].provider.articles",
        line_of(&text, "articles ="),
    );
    assert_eq!(
        e.kind,
        ErrorKind::Type {
            expected: "an integer".into(),
            found: "a string \"ten\"".into()
        }
    );
    let shown = e.to_string();
    let line = line_of(&text, "articles =");
    assert_eq!(
        shown,
        format!(
            "erpbridge.toml:{line}:12: tenants[0].provider.articles: expected an integer, found a string \"ten\""
        )
    );
}

#[test]
fn unknown_key_suggests_the_near_miss() {
    let text = format!("[server]\nlisten = \"127.0.0.1:9000\"\nbody_limt = 4096\n{MINIMAL}");
    let errs = errors(&text);
    let e = error_at(&errs, "server.body_limt", 3);
    assert_eq!(
        e.kind,
        ErrorKind::UnknownKey {
            key: "body_limt".into(),
            suggestion: Some("body_limit".into())
        }
    );
    assert_eq!(e.position.unwrap().column, 1, "points at the key");
    assert!(e.to_string().contains("did you mean `body_limit`"), "{e}");
}

#[test]
fn unknown_key_far_from_anything_has_no_suggestion() {
    let text = format!("{MINIMAL}colour = \"blue\"\n");
    let errs = errors(&text);
    let e = error_at(
        &errs,
        "tenants[0].provider.colour",
        line_of(&text, "colour"),
    );
    assert_eq!(
        e.kind,
        ErrorKind::UnknownKey {
            key: "colour".into(),
            suggestion: None
        }
    );
}

#[test]
fn unknown_key_in_inline_table_is_located() {
    let text =
        format!("{MINIMAL}\n[tenants.runtime]\nbreaker = {{ enabled = true, treshold = 3 }}\n");
    let errs = errors(&text);
    let e = error_at(
        &errs,
        "tenants[0].runtime.breaker.treshold",
        line_of(&text, "breaker ="),
    );
    assert!(matches!(e.kind, ErrorKind::UnknownKey { .. }));
    // The column of `treshold` inside the inline table, not of the line's start.
    let col = text
        .lines()
        .nth(line_of(&text, "breaker =") - 1)
        .unwrap()
        .find("treshold")
        .unwrap()
        + 1;
    assert_eq!(e.position.unwrap().column, col);
}

#[test]
fn missing_env_var_names_variable_key_and_line() {
    let text = r#"
[[tenants]]
id = "erp"
api_keys = ["k-123456"]

[tenants.provider]
type = "tryton"
url = "http://127.0.0.1:8000/"
database = "db"
user = "admin"
password = "${TRYTON_PASSWORD}"
"#;
    let errs = errors(text);
    let e = error_at(&errs, "tenants[0].provider.password", 11);
    assert_eq!(
        e.kind,
        ErrorKind::MissingEnv {
            name: "TRYTON_PASSWORD".into()
        }
    );
    assert_eq!(
        e.to_string(),
        "erpbridge.toml:11:12: tenants[0].provider.password: environment variable TRYTON_PASSWORD is not set"
    );
    // Only that error: the half-substituted value is not reported a second time.
    assert_eq!(errs.len(), 1, "{errs:?}");

    let config = load(text, &[("TRYTON_PASSWORD", "s3cret")]).unwrap();
    match &config.tenants[0].provider {
        erpbridge_config::ProviderConfig::Tryton(t) => assert_eq!(t.password.expose(), "s3cret"),
        other => panic!("wrong provider {other:?}"),
    }
}

#[test]
fn substitution_escapes_defaults_and_several_variables() {
    let text = r#"
[server]
operator_key = "${A}-$${LITERAL}-${B:-fallback}-${A}"

[[tenants]]
id = "demo"
api_keys = ["k-123456"]
provider = { type = "sim" }
"#;
    let config = load(text, &[("A", "x")]).unwrap();
    assert_eq!(
        config.server.operator_key.unwrap().expose(),
        "x-${LITERAL}-fallback-x"
    );

    let text = text
        .replace("${B:-fallback}", "${B}")
        .replace("${A}-", "${C}-");
    let errs = errors(&text);
    let names: Vec<_> = errs
        .iter()
        .map(|e| match &e.kind {
            ErrorKind::MissingEnv { name } => name.clone(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(names, ["C", "B", "A"], "every missing variable, once each");
    assert!(
        errs.iter()
            .all(|e| e.path.to_string() == "server.operator_key")
    );
}

#[test]
fn unterminated_substitution_is_an_error() {
    let text = format!("[server]\noperator_key = \"abc${{OOPS\"\n{MINIMAL}");
    let errs = errors(&text);
    let e = error_at(&errs, "server.operator_key", 2);
    assert_eq!(e.kind, ErrorKind::BadSubstitution);
}

#[test]
fn missing_required_key_points_at_its_table() {
    let text = r#"
[server]
listen = "127.0.0.1:8080"

[[tenants]]
api_keys = ["k-123456"]
provider = { type = "sim" }
"#;
    let errs = errors(text);
    let e = error_at(&errs, "tenants[0].id", 5);
    assert_eq!(e.kind, ErrorKind::MissingKey { key: "id".into() });
    assert!(e.to_string().contains("missing required key `id`"), "{e}");
}

#[test]
fn missing_tenants_is_reported() {
    let errs = errors("[server]\nlisten = \"127.0.0.1:8080\"\n");
    assert!(
        errs.iter().any(|e| e.kind
            == ErrorKind::MissingKey {
                key: "tenants".into()
            }),
        "{errs:?}"
    );
}

#[test]
fn duplicate_tenant_id_names_both() {
    let text = format!("{MINIMAL}\n{MINIMAL}");
    let errs = errors(&text);
    let second = text.match_indices("id = \"demo\"").nth(1).unwrap().0;
    let line = text[..second].matches('\n').count() + 1;
    let e = error_at(&errs, "tenants[1].id", line);
    assert!(is_invalid(e));
    assert!(
        e.to_string()
            .contains("duplicate tenant id \"demo\" (also tenants[0].id)"),
        "{e}"
    );
}

#[test]
fn bad_provider_type_lists_the_known_ones() {
    let text = MINIMAL.replace("type = \"sim\"", "type = \"sap\"");
    let errs = errors(&text);
    let e = error_at(&errs, "tenants[0].provider.type", line_of(&text, "type ="));
    let shown = e.to_string();
    for t in ["\"sim\"", "\"tryton\"", "\"remote\"", "\"sap\""] {
        assert!(shown.contains(t), "{shown}");
    }
}

#[test]
fn errors_inside_the_selected_provider_are_reported_as_such() {
    // A tryton section missing `database`: the error is about tryton's keys, not a
    // vague "matches none of sim, tryton, remote".
    let text = r#"
[[tenants]]
id = "erp"
api_keys = ["k-123456"]
[tenants.provider]
type = "tryton"
url = "http://127.0.0.1:8000/"
user = "admin"
password = "x"
"#;
    let errs = errors(text);
    let e = error_at(&errs, "tenants[0].provider.database", 5);
    assert_eq!(
        e.kind,
        ErrorKind::MissingKey {
            key: "database".into()
        }
    );
    assert_eq!(errs.len(), 1, "{errs:?}");
}

#[test]
fn semantic_rules_are_located() {
    let text = r#"
[server]
listen = "127.0.0.1:8080"

[[tenants]]
id = "demo"
api_keys = ["k-123456"]
provider = { type = "sim" }

[tenants.cache]
prices = "10s"

[tenants.sync]
interval = "15m"
cron = "0 */15 * * * *"

[tenants.runtime]
min_sessions = 3
max_sessions = 2
"#;
    let errs = errors(text);
    assert_eq!(errs.len(), 3, "{errs:?}");
    let e = error_at(&errs, "tenants[0].cache.prices", 11);
    assert!(e.to_string().contains("between 30s and 5m"), "{e}");
    let e = error_at(&errs, "tenants[0].sync.cron", 15);
    assert!(e.to_string().contains("either `interval` or `cron`"), "{e}");
    let e = error_at(&errs, "tenants[0].runtime.min_sessions", 18);
    assert!(e.to_string().contains("larger than max_sessions"), "{e}");
}

#[test]
fn zero_runtime_timers_are_located() {
    // A zero interval would make the runtime retry a failed login in a tight loop (or
    // time every call out at once): refused at load, not at the provider's start.
    let text = format!(
        "{MINIMAL}\n[tenants.runtime]\ncall_timeout = \"0s\"\nreconnect_interval = \"0s\"\n"
    );
    let errs = errors(&text);
    assert_eq!(errs.len(), 2, "{errs:?}");
    for key in ["call_timeout", "reconnect_interval"] {
        let e = error_at(
            &errs,
            &format!("tenants[0].runtime.{key}"),
            line_of(&text, key),
        );
        assert!(e.to_string().contains("longer than 0s"), "{e}");
    }
}

#[test]
fn malformed_values_get_specific_messages() {
    let text = r#"
[server]
listen = "localhost"
request_timeout = "soon"

[[tenants]]
id = "Demo Tenant"
api_keys = ["sha256:abc"]
provider = { type = "sim", error_rate = 1.5 }

[tenants.sync]
cron = "not a cron"
"#;
    let errs = errors(text);
    let msg = |path: &str, line: usize| error_at(&errs, path, line).to_string();
    assert!(msg("server.listen", 3).contains("address and port"));
    assert!(msg("server.request_timeout", 4).contains("expected a duration"));
    assert!(msg("tenants[0].id", 7).contains("lowercase letters"));
    assert!(msg("tenants[0].api_keys[0]", 8).contains("64 hex digits"));
    assert!(msg("tenants[0].provider.error_rate", 9).contains("at most 1"));
    assert!(msg("tenants[0].sync.cron", 12).contains("invalid cron expression"));
    assert_eq!(errs.len(), 6, "{errs:?}");
}

#[test]
fn several_errors_are_all_reported_in_source_order() {
    let text = r#"
[server]
listen = 8080
body_limt = 10

[outbox]
workers = "four"

[[tenants]]
id = "demo"
api_keys = ["k-123456"]
[tenants.provider]
type = "sim"
articles = "ten"
init_delay = "${SIM_DELAY}"

[[tenants]]
api_keys = []
provider = { type = "sim" }
"#;
    let errs = errors(text);
    error_at(&errs, "server.listen", 3);
    error_at(&errs, "server.body_limt", 4);
    error_at(&errs, "outbox.workers", 7);
    error_at(&errs, "tenants[0].provider.articles", 14);
    error_at(&errs, "tenants[0].provider.init_delay", 15);
    error_at(&errs, "tenants[1].id", 17);
    error_at(&errs, "tenants[1].api_keys", 18);
    assert_eq!(errs.len(), 7, "{errs:#?}");
    let lines: Vec<usize> = errs.iter().map(|e| e.position.unwrap().line).collect();
    let mut sorted = lines.clone();
    sorted.sort_unstable();
    assert_eq!(lines, sorted, "source order");
}

#[test]
fn syntax_error_has_a_position() {
    let errs = errors("[server\nlisten = 1\n");
    assert_eq!(errs.len(), 1);
    assert!(matches!(errs[0].kind, ErrorKind::Syntax(_)));
    assert_eq!(errs[0].position.unwrap().line, 1);
}

#[test]
fn unreadable_file_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let err = Config::load(dir.path().join("absent.toml")).unwrap_err();
    assert!(matches!(err.errors()[0].kind, ErrorKind::Io(_)));
    assert!(err.to_string().contains("absent.toml"));
}
