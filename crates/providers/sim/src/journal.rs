//! The write side of the simulated ERP (orders, BOMs, inventory) and its journal.
//!
//! Writes are kept in a [`Ledger`]; with a state file every write is first appended to a
//! JSON-lines journal and fsynced, and only then applied and acknowledged. A process that
//! is SIGKILLed after the acknowledgement therefore still has the write when it (or any
//! other process, through [`load_journal`]) reads the journal again: that is what lets an
//! outbox crash test count the orders per idempotency key across restarts.
//!
//! Replaying never de-duplicates: if two processes ever created an order for one key, the
//! ledger shows two, so tests can detect double effects instead of hiding them.

use chrono::{DateTime, Utc};
use erpbridge_model::{Bom, ErpOrderId, IdempotencyKey, InventoryAdjustment, Order, OrderState};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use crate::SimError;

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum JournalEntry {
    OrderCreated {
        key: IdempotencyKey,
        erp_order_id: ErpOrderId,
        order: Order,
        at: DateTime<Utc>,
    },
    OrderStateChanged {
        erp_order_id: ErpOrderId,
        state: OrderState,
        at: DateTime<Utc>,
    },
    BomSynced {
        key: IdempotencyKey,
        bom_id: String,
        bom: Bom,
    },
    InventoryAdjusted {
        key: IdempotencyKey,
        document_id: String,
        /// Resolved (article index, warehouse index, delta) so replay needs no lookups.
        lines: Vec<(u64, u32, Decimal)>,
        adjustments: Vec<InventoryAdjustment>,
    },
}

/// An order as the simulated ERP stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimOrder {
    pub erp_order_id: ErpOrderId,
    pub idempotency_key: IdempotencyKey,
    pub order: Order,
    pub state: OrderState,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Everything written to the simulated ERP.
#[derive(Debug, Default)]
pub struct Ledger {
    orders: Vec<SimOrder>,
    /// First order per key (what a key lookup finds).
    by_key: HashMap<IdempotencyKey, usize>,
    by_id: HashMap<ErpOrderId, usize>,
    boms: HashMap<IdempotencyKey, String>,
    bom_count: u64,
    documents: HashMap<IdempotencyKey, String>,
    document_count: u64,
    stock_delta: HashMap<(u64, u32), Decimal>,
}

impl Ledger {
    pub fn apply(&mut self, entry: &JournalEntry) {
        match entry {
            JournalEntry::OrderCreated {
                key,
                erp_order_id,
                order,
                at,
            } => {
                let index = self.orders.len();
                self.orders.push(SimOrder {
                    erp_order_id: erp_order_id.clone(),
                    idempotency_key: key.clone(),
                    order: order.clone(),
                    state: OrderState::Draft,
                    created_at: *at,
                    updated_at: *at,
                });
                self.by_key.entry(key.clone()).or_insert(index);
                self.by_id.entry(erp_order_id.clone()).or_insert(index);
            }
            JournalEntry::OrderStateChanged {
                erp_order_id,
                state,
                at,
            } => {
                if let Some(&index) = self.by_id.get(erp_order_id) {
                    self.orders[index].state = *state;
                    self.orders[index].updated_at = *at;
                }
            }
            JournalEntry::BomSynced { key, bom_id, .. } => {
                self.bom_count += 1;
                self.boms
                    .entry(key.clone())
                    .or_insert_with(|| bom_id.clone());
            }
            JournalEntry::InventoryAdjusted {
                key,
                document_id,
                lines,
                ..
            } => {
                self.document_count += 1;
                self.documents
                    .entry(key.clone())
                    .or_insert_with(|| document_id.clone());
                for (article, warehouse, delta) in lines {
                    // Checked when written; saturate on replay of a hand-edited journal
                    // rather than panic.
                    let sum = self.stock_delta.entry((*article, *warehouse)).or_default();
                    *sum = sum.saturating_add(*delta);
                }
            }
        }
    }

    pub fn order_by_key(&self, key: &IdempotencyKey) -> Option<&SimOrder> {
        self.by_key.get(key).map(|&i| &self.orders[i])
    }

    pub fn order_by_id(&self, id: &ErpOrderId) -> Option<&SimOrder> {
        self.by_id.get(id).map(|&i| &self.orders[i])
    }

    /// Every order in creation order.
    pub fn orders(&self) -> &[SimOrder] {
        &self.orders
    }

    /// How many orders were created for `key` (1 when idempotency held, 0 if none).
    pub fn order_count(&self, key: &IdempotencyKey) -> usize {
        self.orders
            .iter()
            .filter(|o| &o.idempotency_key == key)
            .count()
    }

    /// Orders grouped by idempotency key.
    pub fn orders_by_key(&self) -> BTreeMap<IdempotencyKey, Vec<SimOrder>> {
        let mut map: BTreeMap<IdempotencyKey, Vec<SimOrder>> = BTreeMap::new();
        for order in &self.orders {
            map.entry(order.idempotency_key.clone())
                .or_default()
                .push(order.clone());
        }
        map
    }

    pub fn bom_by_key(&self, key: &IdempotencyKey) -> Option<&str> {
        self.boms.get(key).map(String::as_str)
    }

    pub fn document_by_key(&self, key: &IdempotencyKey) -> Option<&str> {
        self.documents.get(key).map(String::as_str)
    }

    pub fn next_order_id(&self) -> ErpOrderId {
        ErpOrderId(format!("SO{:07}", self.orders.len() + 1))
    }

    pub fn next_bom_id(&self) -> String {
        format!("BOM{:06}", self.bom_count + 1)
    }

    pub fn next_document_id(&self) -> String {
        format!("INV{:06}", self.document_count + 1)
    }

    pub fn stock_delta(&self, article: u64, warehouse: u32) -> Decimal {
        self.stock_delta
            .get(&(article, warehouse))
            .copied()
            .unwrap_or_default()
    }
}

/// A ledger with an optional journal file behind it.
#[derive(Debug)]
pub struct Journal {
    ledger: Ledger,
    file: Option<(PathBuf, File)>,
}

impl Journal {
    pub fn in_memory() -> Self {
        Self {
            ledger: Ledger::default(),
            file: None,
        }
    }

    /// Replays `path` (if it exists) and opens it for appending.
    pub fn open(path: &Path) -> Result<Self, SimError> {
        let ledger = if path.exists() {
            load_journal(path)?
        } else {
            Ledger::default()
        };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| SimError::Journal(format!("open {}: {e}", path.display())))?;
        Ok(Self {
            ledger,
            file: Some((path.to_owned(), file)),
        })
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Makes `entry` durable (when journalled), then applies it.
    pub fn record(&mut self, entry: JournalEntry) -> Result<(), SimError> {
        self.record_all(vec![entry])
    }

    /// Makes several entries durable with one fsync, then applies them.
    pub fn record_all(&mut self, entries: Vec<JournalEntry>) -> Result<(), SimError> {
        if entries.is_empty() {
            return Ok(());
        }
        if let Some((path, file)) = &mut self.file {
            let mut lines = Vec::new();
            for entry in &entries {
                serde_json::to_writer(&mut lines, entry)
                    .map_err(|e| SimError::Journal(format!("encode entry: {e}")))?;
                lines.push(b'\n');
            }
            file.write_all(&lines)
                .and_then(|()| file.sync_data())
                .map_err(|e| SimError::Journal(format!("append to {}: {e}", path.display())))?;
        }
        for entry in &entries {
            self.ledger.apply(entry);
        }
        Ok(())
    }
}

/// Reads a journal written by any process. A torn last line (a crash mid-append, which
/// was never acknowledged) is ignored; a corrupt line elsewhere is an error.
pub fn load_journal(path: &Path) -> Result<Ledger, SimError> {
    let file =
        File::open(path).map_err(|e| SimError::Journal(format!("open {}: {e}", path.display())))?;
    let mut ledger = Ledger::default();
    let mut lines = BufReader::new(file).lines().enumerate().peekable();
    while let Some((number, line)) = lines.next() {
        let line = line.map_err(|e| SimError::Journal(format!("read {}: {e}", path.display())))?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<JournalEntry>(&line) {
            Ok(entry) => ledger.apply(&entry),
            Err(_) if lines.peek().is_none() => break,
            Err(e) => {
                return Err(SimError::Journal(format!(
                    "{}:{}: {e}",
                    path.display(),
                    number + 1
                )));
            }
        }
    }
    Ok(ledger)
}
