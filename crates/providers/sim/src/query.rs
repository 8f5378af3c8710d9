//! Query pages over articles with the declared pushdown (see [`crate::describe`]).
//!
//! Conditions are evaluated with the hub's reference evaluator on a small record holding
//! only the pushable fields, so the simulator's answer is exactly what the hub would
//! compute; articles are generated only for matches. An `id eq`/`id in` conjunct turns
//! the scan into a lookup. A scan examines at most [`SCAN_BUDGET`] ids per call and may
//! return a short page with a cursor, so no call takes seconds.

use erpbridge_model::EntityKind;
use erpbridge_model::query::eval::{eval, validate};
use erpbridge_model::query::{Filter, Operator, Query, QueryEntity};
use erpbridge_provider::{ProviderError, ProviderResult, QueryPage};
use serde_json::{Value, json};

use crate::describe::article_pushdown;
use crate::feed::RecordState;
use crate::generate;
use crate::sim::Sim;

/// Ids examined per call at most.
pub const SCAN_BUDGET: u64 = 200_000;
const DEFAULT_PAGE: u32 = 100;
const MAX_PAGE: u32 = 1000;
/// Related data a query may narrow with `include`: when `include` is empty everything
/// comes back (the hub may post-filter on any field); otherwise only the parts it names.
const OPTIONAL_PARTS: [&str; 3] = ["attributes", "images", "references"];

fn flatten<'a>(filter: &'a Filter, out: &mut Vec<&'a Filter>) {
    match filter {
        Filter::And { and } => and.iter().for_each(|f| flatten(f, out)),
        other => out.push(other),
    }
}

/// Ids named by an `id eq`/`id in` conjunct, as sorted indexes (None: scan).
fn id_candidates(conjuncts: &[&Filter]) -> Option<Vec<u64>> {
    let mut best: Option<Vec<u64>> = None;
    for f in conjuncts {
        let Filter::Condition(c) = f else { continue };
        if c.field != "id" {
            continue;
        }
        let values: Vec<&Value> = match (c.op, &c.value) {
            (Operator::Eq, v) => vec![v],
            (Operator::In, Value::Array(vs)) => vs.iter().collect(),
            _ => continue,
        };
        let mut ids: Vec<u64> = values
            .into_iter()
            .filter_map(|v| v.as_str().and_then(generate::parse_article_id))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        if best.as_ref().is_none_or(|b| ids.len() < b.len()) {
            best = Some(ids);
        }
    }
    best
}

pub fn query_page(sim: &Sim, query: &Query) -> ProviderResult<QueryPage> {
    if query.entity != QueryEntity::Article {
        return Err(ProviderError::fatal(format!(
            "the sim answers queries on articles only, not {:?}",
            query.entity
        )));
    }
    validate(query).map_err(|e| ProviderError::fatal(format!("invalid query: {e}")))?;
    let caps = article_pushdown();
    let mut conjuncts = Vec::new();
    if let Some(filter) = &query.filter {
        flatten(filter, &mut conjuncts);
    }
    for f in &conjuncts {
        match f {
            Filter::Condition(c) if caps.supports(&c.field, c.op) => {}
            other => {
                return Err(ProviderError::fatal(format!(
                    "the sim cannot evaluate {}; only AND of its declared conditions is pushed down",
                    serde_json::to_string(other).unwrap_or_default()
                )));
            }
        }
    }
    if query.sort.iter().any(|k| k.field != "id" || k.descending) {
        return Err(ProviderError::fatal("the sim sorts by ascending `id` only"));
    }
    let start = match &query.cursor {
        None => 0,
        Some(c) => c
            .strip_prefix('q')
            .and_then(|n| n.parse::<u64>().ok())
            .ok_or_else(|| ProviderError::fatal(format!("invalid query cursor `{c}`")))?,
    };
    let page_size = query.page_size.unwrap_or(DEFAULT_PAGE).min(MAX_PAGE) as usize;
    let end = sim.allocated(EntityKind::Article);
    let candidates: Box<dyn Iterator<Item = u64>> = match id_candidates(&conjuncts) {
        Some(ids) => Box::new(ids.into_iter().filter(move |&i| i >= start && i < end)),
        None => Box::new(start..end),
    };
    let g = &sim.inner.generator;
    let mut records = Vec::new();
    let mut next = None;
    for (examined, index) in candidates.enumerate() {
        if records.len() == page_size || examined as u64 == SCAN_BUDGET {
            next = Some(index);
            break;
        }
        let RecordState::Live(version) = sim.feed_state(EntityKind::Article, index) else {
            continue;
        };
        if let Some(filter) = &query.filter {
            let probe = json!({
                "id": generate::article_id(index).0,
                "number": g.article_number(index),
                "row_version": version as u64 + 1,
            });
            let hit = eval(filter, &probe)
                .map_err(|e| ProviderError::fatal(format!("query failed: {e}")))?;
            if !hit {
                continue;
            }
        }
        let mut record = serde_json::to_value(g.article(index, version))
            .map_err(|e| ProviderError::fatal(format!("encode article: {e}")))?;
        if let Value::Object(map) = &mut record
            && !query.include.is_empty()
        {
            for part in OPTIONAL_PARTS {
                if !query.include.iter().any(|i| i == part) {
                    map.remove(part);
                }
            }
        }
        records.push(record);
    }
    Ok(QueryPage {
        records,
        next_cursor: next.map(|n| format!("q{n}")),
    })
}
