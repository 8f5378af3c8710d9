//! The change cursor the simulator hands out: `sim1.<catalog>.<entity>.<position>`.
//!
//! * `s.<tick>.<next>` — inside a full snapshot taken as of `tick`, continuing at id index
//!   `next`. Every page of one snapshot shows the catalog as of the same tick, however
//!   far the clock has moved meanwhile, so a resumed full sync is consistent.
//! * `h.<tick>` — a high-water mark: everything up to `tick` has been delivered.
//! * `d.<from>.<to>.<next>` — inside a delta of the changes in ticks `(from, to]`,
//!   continuing at id index `next`. `to` is fixed when the delta starts, so resuming it
//!   neither skips nor repeats records.
//!
//! `<catalog>` fingerprints the seed and sizes, so a cursor from a differently configured
//! simulator is refused instead of silently yielding a wrong delta.

use erpbridge_model::{ChangeCursor, EntityKind};
use erpbridge_provider::ProviderError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    Snapshot { tick: u32, next: u64 },
    HighWater { tick: u32 },
    Delta { from: u32, to: u32, next: u64 },
}

fn entity_code(entity: EntityKind) -> &'static str {
    match entity {
        EntityKind::Article => "a",
        EntityKind::Category => "k",
        EntityKind::Customer => "c",
    }
}

pub fn encode(fingerprint: &str, entity: EntityKind, position: Position) -> ChangeCursor {
    let code = entity_code(entity);
    let tail = match position {
        Position::Snapshot { tick, next } => format!("s.{tick}.{next}"),
        Position::HighWater { tick } => format!("h.{tick}"),
        Position::Delta { from, to, next } => format!("d.{from}.{to}.{next}"),
    };
    ChangeCursor(format!("sim1.{fingerprint}.{code}.{tail}"))
}

pub fn decode(
    fingerprint: &str,
    entity: EntityKind,
    cursor: &ChangeCursor,
) -> Result<Position, ProviderError> {
    let invalid = |why: &str| {
        ProviderError::fatal(format!("invalid sim change cursor `{}`: {why}", cursor.0))
    };
    let parts: Vec<&str> = cursor.0.split('.').collect();
    if parts.len() < 4 || parts[0] != "sim1" {
        return Err(invalid("not a sim cursor"));
    }
    if parts[1] != fingerprint {
        return Err(invalid(
            "it belongs to a simulator with another seed or size; run a full sync",
        ));
    }
    if parts[2] != entity_code(entity) {
        return Err(invalid("it belongs to another entity kind"));
    }
    let num = |s: &str| s.parse::<u64>().map_err(|_| invalid("bad number"));
    let tick = |s: &str| s.parse::<u32>().map_err(|_| invalid("bad tick"));
    match &parts[3..] {
        ["s", t, next] => Ok(Position::Snapshot {
            tick: tick(t)?,
            next: num(next)?,
        }),
        ["h", t] => Ok(Position::HighWater { tick: tick(t)? }),
        ["d", from, to, next] => {
            let (from, to) = (tick(from)?, tick(to)?);
            if from > to {
                return Err(invalid("delta runs backwards"));
            }
            Ok(Position::Delta {
                from,
                to,
                next: num(next)?,
            })
        }
        _ => Err(invalid("unknown position")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_foreign_cursors() {
        for position in [
            Position::Snapshot {
                tick: 3,
                next: 1000,
            },
            Position::HighWater { tick: 7 },
            Position::Delta {
                from: 7,
                to: 9,
                next: 42,
            },
        ] {
            let c = encode("ab12", EntityKind::Article, position);
            assert_eq!(decode("ab12", EntityKind::Article, &c).unwrap(), position);
            assert!(decode("ffff", EntityKind::Article, &c).is_err());
            assert!(decode("ab12", EntityKind::Customer, &c).is_err());
        }
        let junk = ChangeCursor("sim1.ab12.a.d.9.7.0".into());
        assert!(decode("ab12", EntityKind::Article, &junk).is_err());
        let junk = ChangeCursor("12345".into());
        assert!(decode("ab12", EntityKind::Article, &junk).is_err());
    }
}
