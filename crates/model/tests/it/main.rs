//! Integration tests of `erpbridge-model`: one binary to save link time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod eval_rules;
mod golden_json;
mod plan_props;
mod plan_rules;
mod query_serde;
