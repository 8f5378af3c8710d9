//! The schema, as an ordered list of migrations per backend.
//!
//! Hand-rolled instead of `sqlx::migrate!` because that macro needs sqlx's `macros`
//! feature, which builds the sqlx crates a second time as proc-macro host code (30–40 s
//! per clean build on 2 cores) for a job this small. Each migration runs in its own
//! transaction together with the row that records it, so a crash mid-migration leaves
//! the schema at the previous version.
//!
//! Version ranges by owner keep parallel work from colliding:
//! 1–99 core, 100–199 outbox, 200–299 catalog and sync.

pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

macro_rules! migration {
    ($version:expr, $name:literal) => {
        Migration {
            version: $version,
            name: $name,
            sqlite: include_str!(concat!("../migrations/sqlite/", $name, ".sql")),
            postgres: include_str!(concat!("../migrations/postgres/", $name, ".sql")),
        }
    };
}

/// Ascending by version. Append only: a released migration is never edited.
pub(crate) const MIGRATIONS: &[Migration] = &[
    migration!(1, "0001_core"),
    migration!(100, "0100_outbox"),
    migration!(200, "0200_catalog"),
    migration!(201, "0201_article_part_digests"),
    migration!(202, "0202_article_attribute_sets"),
    migration!(203, "0203_index_feed"),
];
