//! `[search] dir`: where the search indexes live, with defaults that follow the store.

use super::*;
use std::path::PathBuf;

#[test]
fn index_dir_defaults_next_to_sqlite_and_follows_the_key() {
    let config = load(MINIMAL, &[]).unwrap();
    assert_eq!(config.index_dir(), PathBuf::from("./erpbridge-data/search"));

    let text = format!("[store]\ntype = \"sqlite\"\npath = \"/var/lib/eb/hub.sqlite\"\n{MINIMAL}");
    let config = load(&text, &[]).unwrap();
    assert_eq!(config.index_dir(), PathBuf::from("/var/lib/eb/search"));

    let text = format!("[search]\ndir = \"/srv/index\"\n{MINIMAL}");
    let config = load(&text, &[]).unwrap();
    assert_eq!(config.index_dir(), PathBuf::from("/srv/index"));
}

#[test]
fn postgres_has_a_documented_default_that_the_key_overrides() {
    let pg = "[store]\ntype = \"postgres\"\nurl = \"postgres://u@db/eb\"\n";
    let config = load(&format!("{pg}{MINIMAL}"), &[]).unwrap();
    assert_eq!(
        config.index_dir(),
        PathBuf::from(erpbridge_config::DEFAULT_POSTGRES_INDEX_DIR)
    );
    let config = load(&format!("{pg}[search]\ndir = \"/srv/idx\"\n{MINIMAL}"), &[]).unwrap();
    assert_eq!(config.index_dir(), PathBuf::from("/srv/idx"));
}

#[test]
fn a_bad_search_section_names_the_key_and_line() {
    let text = format!("[search]\ndir = \"\"\n{MINIMAL}");
    let errs = errors(&text);
    assert!(is_invalid(error_at(
        &errs,
        "search.dir",
        line_of(&text, "dir = ")
    )));

    let text = format!("[search]\ndirectory = \"/x\"\n{MINIMAL}");
    let errs = errors(&text);
    let e = &errs[0];
    assert!(e.to_string().contains("directory"), "{e}");
    assert_eq!(
        e.position.map(|p| p.line),
        Some(line_of(&text, "directory"))
    );
}
