//! Splitting a filter into what the provider can evaluate and what the hub must.
//!
//! A provider declares per entity which field/operator pairs it evaluates *with the hub's
//! semantics* ([`super::eval`]) and whether it can evaluate `or` and `not` nodes
//! ([`EntityPushdown`]). [`plan`] splits a filter into `pushed` (sent to the provider) and
//! `residual` (evaluated by the hub on what comes back) such that, for every record,
//!
//! ```text
//! eval(original) == eval(pushed) && eval(residual)        (None counts as true)
//! ```
//!
//! including errors: because evaluation is strict (see [`super::eval`], "Errors are
//! independent of evaluation order"), the original fails on a record exactly when `pushed`
//! or `residual` fails on it, and the original's error is one of theirs.
//!
//! # How the split works
//!
//! The filter is read as a conjunction. Top-level (and nested) `and`s are flattened,
//! `not(not(f))` becomes `f`, and `not(or(a, b, ...))` becomes the conjuncts
//! `not(a), not(b), ...` (De Morgan). Both rewrites are exact under two-valued logic, so
//! they stay exact with missing fields: `not` is plain negation of a result that is
//! always true or false. `not(and(...))` is *not* split: it is a disjunction.
//!
//! Each conjunct then goes whole to one side. It is pushed if every condition in it uses a
//! declared field/operator pair, it contains an `or` node only if the provider supports
//! `or`, and a `not` node only if it supports `not`. `and` nodes inside a pushed subtree
//! are always allowed: a provider that accepts several conditions accepts their
//! conjunction. Anything else stays in the residual. Conjuncts keep their relative order
//! on each side, which is what keeps the first error the same.
//!
//! Nothing weaker than a conjunct is pushed (e.g. `or(a, b)` for `or(a∧x, b∧y)` when `x`
//! and `y` are not pushable); that would be sound but is left for when a provider needs it.
//!
//! # Inexact providers
//!
//! A provider whose pushdown is only a pre-selection (it may return records that do not
//! match `pushed`, e.g. a search index matching words instead of `like` patterns) declares
//! `exact: false`. The hub then re-checks `pushed` too: [`Plan::post_filter`] and
//! [`Plan::hub_filter`] take care of it.
//!
//! Pagination caveat: with a residual, a provider page of `n` records may yield fewer
//! than `n` after post-filtering; the caller keeps fetching pages.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

use super::eval::{QueryError, eval};
use super::{Filter, Operator, QueryEntity, SortKey};

/// What a provider can filter itself, per entity.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PushdownCapabilities {
    #[serde(default)]
    pub entities: BTreeMap<QueryEntity, EntityPushdown>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EntityPushdown {
    /// Field path → operators the backend evaluates with the hub's semantics.
    #[serde(default)]
    pub fields: BTreeMap<String, BTreeSet<Operator>>,
    #[serde(default)]
    pub or: bool,
    #[serde(default)]
    pub not: bool,
    /// Whether the backend can sort by these fields (others are sorted by the hub).
    #[serde(default)]
    pub sortable: BTreeSet<String>,
    /// `true` (the default) if the backend returns exactly the records matching the
    /// pushed filter; `false` if it may over-fetch, so the hub must re-check `pushed`.
    #[serde(default = "default_exact")]
    pub exact: bool,
}

fn default_exact() -> bool {
    true
}

/// Nothing pushable, exact: the hub does all the filtering.
impl Default for EntityPushdown {
    fn default() -> Self {
        EntityPushdown {
            fields: BTreeMap::new(),
            or: false,
            not: false,
            sortable: BTreeSet::new(),
            exact: true,
        }
    }
}

impl EntityPushdown {
    /// Whether the backend evaluates `op` on `field`.
    pub fn supports(&self, field: &str, op: Operator) -> bool {
        self.fields.get(field).is_some_and(|ops| ops.contains(&op))
    }

    /// Whether the backend can sort by all of `keys` (then the whole sort is pushed;
    /// a partial sort is of no use to the hub).
    pub fn can_sort(&self, keys: &[SortKey]) -> bool {
        keys.iter().all(|key| self.sortable.contains(&key.field))
    }
}

/// The split of one filter. `None` means "no condition" (true).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Sent to the provider.
    pub pushed: Option<Filter>,
    /// Evaluated by the hub on every record the provider returns.
    pub residual: Option<Filter>,
    /// Copied from [`EntityPushdown::exact`]: whether the provider's results are known to
    /// satisfy `pushed`.
    pub exact: bool,
}

impl Plan {
    /// The filter the hub must evaluate on records coming back from the provider:
    /// the residual, plus the pushed part if the provider is inexact.
    pub fn hub_filter(&self) -> Option<Filter> {
        if self.exact {
            return self.residual.clone();
        }
        // One flat `and` of both sides' conjuncts, not `and(pushed, residual)`: the extra
        // level could push a filter of MAX_DEPTH levels over the limit.
        let mut conjuncts = Vec::new();
        for side in [&self.pushed, &self.residual].into_iter().flatten() {
            match side {
                Filter::And { and } => conjuncts.extend(and.iter().cloned()),
                other => conjuncts.push(other.clone()),
            }
        }
        conjunction(conjuncts)
    }

    /// Whether a record returned by the provider belongs to the result. Allocation-free;
    /// for an inexact provider it checks `pushed` then `residual` (strictly, so errors are
    /// the same as evaluating [`Plan::hub_filter`]).
    pub fn post_filter(&self, record: &Value) -> Result<bool, QueryError> {
        let pushed = match (&self.pushed, self.exact) {
            (Some(pushed), false) => eval(pushed, record)?,
            _ => true,
        };
        let residual = match &self.residual {
            Some(residual) => eval(residual, record)?,
            None => true,
        };
        Ok(pushed && residual)
    }
}

/// Splits `filter` for a provider with capabilities `caps` (module docs).
pub fn plan(filter: &Filter, caps: &EntityPushdown) -> Plan {
    let mut conjuncts = Vec::new();
    collect_conjuncts(filter, false, &mut conjuncts);
    let (pushed, residual): (Vec<Filter>, Vec<Filter>) =
        conjuncts.into_iter().partition(|c| pushable(c, caps));
    Plan {
        pushed: conjunction(pushed),
        residual: conjunction(residual),
        exact: caps.exact,
    }
}

/// Appends the conjuncts of `filter` (negated if `negate`) to `out`, in tree order.
fn collect_conjuncts(filter: &Filter, negate: bool, out: &mut Vec<Filter>) {
    match (filter, negate) {
        (Filter::And { and }, false) => {
            for child in and {
                collect_conjuncts(child, false, out);
            }
        }
        // not(a ∨ b) ≡ ¬a ∧ ¬b; an empty `or` is false, so `not(or [])` is the empty
        // conjunction (true), which adds nothing.
        (Filter::Or { or }, true) => {
            for child in or {
                collect_conjuncts(child, true, out);
            }
        }
        (Filter::Not { not }, negate) => collect_conjuncts(not, !negate, out),
        (other, false) => out.push(other.clone()),
        (other, true) => out.push(Filter::Not {
            not: Box::new(other.clone()),
        }),
    }
}

fn pushable(filter: &Filter, caps: &EntityPushdown) -> bool {
    match filter {
        Filter::And { and } => and.iter().all(|child| pushable(child, caps)),
        Filter::Or { or } => caps.or && or.iter().all(|child| pushable(child, caps)),
        Filter::Not { not } => caps.not && pushable(not, caps),
        Filter::Condition(cond) => caps.supports(&cond.field, cond.op),
    }
}

fn conjunction(mut filters: Vec<Filter>) -> Option<Filter> {
    match filters.len() {
        0 => None,
        1 => filters.pop(),
        _ => Some(Filter::And { and: filters }),
    }
}
