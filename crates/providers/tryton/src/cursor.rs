//! The catalog cursor: where a pass over one entity stands, as an opaque string.
//!
//! A *pass* is either the full snapshot (`from = None`) or a delta. Each pass, when it
//! starts, takes two things from Tryton: a **watermark** (the newest `create_date` /
//! `write_date` of the entity, and for articles of their templates too) and the **set of
//! ids present**. Pages then walk by id (keyset, never offset). When the pass ends, the
//! cursor it hands out starts the next delta:
//!
//! * `since` = the watermark: records stamped after it (minus the configured overlap)
//!   are re-read. Tryton stamps rows with server time, so the watermark comes from the
//!   data, never from our clock.
//! * `known` = the ids present at the start of the pass plus those present at its end:
//!   the next delta reports every id of `known` that no longer exists as a tombstone.
//!   Tryton keeps no record of hard deletions, so comparing id sets (a cheap ids-only
//!   `search`) is the only way to see them. Deactivated records are reported by the
//!   date-based part, because deactivating stamps `write_date`.
//!
//! Everything a page needs is inside the cursor, so any page can be asked again after a
//! crash and yields the same records after the same position.

use chrono::{DateTime, NaiveDateTime};
use erpbridge_model::{ChangeCursor, EntityKind};
use serde::{Deserialize, Serialize};

use crate::error::TrytonError;
use crate::idset::IdSet;

const PREFIX: &str = "tryton1:";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Pass {
    Full,
    Delta,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Stage {
    /// Reporting ids of `known` that are gone (deltas only), after id `after`.
    Tombstones,
    /// Reading records after id `after`.
    Records,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Cursor {
    pub entity: EntityKind,
    pub pass: Pass,
    /// Delta: re-read records stamped after this (micro-seconds since the epoch, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<i64>,
    /// The watermark taken when this pass started; `None` until it has started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark: Option<i64>,
    /// Ids the consumer held before this pass (deltas), as ranges.
    #[serde(default)]
    pub known: String,
    /// Ids present when this pass started, as ranges; `None` until it has started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub present: Option<String>,
    pub stage: Stage,
    pub after: i64,
}

impl Cursor {
    pub fn full(entity: EntityKind) -> Self {
        Cursor {
            entity,
            pass: Pass::Full,
            since: None,
            mark: None,
            known: String::new(),
            present: None,
            stage: Stage::Records,
            after: 0,
        }
    }

    /// The first position of the delta that follows a finished pass.
    pub fn next_delta(entity: EntityKind, since: Option<i64>, known: &IdSet) -> Self {
        Cursor {
            entity,
            pass: Pass::Delta,
            since,
            mark: None,
            known: known.to_string(),
            present: None,
            stage: Stage::Tombstones,
            after: 0,
        }
    }

    pub fn encode(&self) -> ChangeCursor {
        // serde_json cannot fail on this plain struct; fall back to an empty object anyway.
        ChangeCursor(format!(
            "{PREFIX}{}",
            serde_json::to_string(self).unwrap_or_default()
        ))
    }

    pub fn decode(cursor: &ChangeCursor, entity: EntityKind) -> Result<Self, TrytonError> {
        let body = cursor.0.strip_prefix(PREFIX).ok_or_else(|| {
            TrytonError::Invalid(format!(
                "cursor `{}` was not made by the Tryton provider",
                cursor.0
            ))
        })?;
        let parsed: Cursor = serde_json::from_str(body)
            .map_err(|err| TrytonError::Invalid(format!("malformed Tryton cursor: {err}")))?;
        if parsed.entity != entity {
            return Err(TrytonError::Invalid(format!(
                "cursor belongs to {:?}, not {entity:?}",
                parsed.entity
            )));
        }
        if IdSet::parse(&parsed.known).is_none()
            || parsed
                .present
                .as_deref()
                .is_some_and(|p| IdSet::parse(p).is_none())
        {
            return Err(TrytonError::Invalid("malformed id ranges in cursor".into()));
        }
        Ok(parsed)
    }

    pub fn known(&self) -> IdSet {
        IdSet::parse(&self.known).unwrap_or_default()
    }

    pub fn present(&self) -> Option<IdSet> {
        self.present.as_deref().and_then(IdSet::parse)
    }
}

pub(crate) fn to_micros(ts: NaiveDateTime) -> i64 {
    ts.and_utc().timestamp_micros()
}

pub(crate) fn from_micros(micros: i64) -> Option<NaiveDateTime> {
    DateTime::from_timestamp_micros(micros).map(|dt| dt.naive_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_checks_entity() {
        let mut cursor = Cursor::next_delta(
            EntityKind::Article,
            Some(1_764_000_000_000_000),
            &IdSet::from_ids(vec![1, 2, 3, 7]),
        );
        cursor.after = 42;
        let encoded = cursor.encode();
        assert!(encoded.0.starts_with(PREFIX));
        assert_eq!(
            Cursor::decode(&encoded, EntityKind::Article).unwrap(),
            cursor
        );
        assert!(Cursor::decode(&encoded, EntityKind::Customer).is_err());
        assert!(Cursor::decode(&ChangeCursor("sim:1".into()), EntityKind::Article).is_err());
        let ts = from_micros(1_764_000_000_123_456).unwrap();
        assert_eq!(to_micros(ts), 1_764_000_000_123_456);
    }
}
