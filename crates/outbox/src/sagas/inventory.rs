//! `inventory.adjust`: book stock changes in the ERP as one document.

use async_trait::async_trait;
use erpbridge_model::InventoryAdjustment;
use erpbridge_provider::{InventoryAdjustRequest, ProviderError};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::put;
use crate::saga::{PayloadError, SagaState, SagaType, StepContext, StepSpec, parse_payload};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InventoryAdjustPayload {
    pub adjustments: Vec<InventoryAdjustment>,
}

pub struct InventoryAdjust;

const STEPS: &[StepSpec] = &[StepSpec {
    name: "adjust_inventory",
    compensable: false,
}];

impl InventoryAdjust {
    pub const EVENT_TYPE: &'static str = "inventory.adjust";

    fn payload(payload: &Value) -> Result<InventoryAdjustPayload, PayloadError> {
        let parsed: InventoryAdjustPayload = parse_payload(Self::EVENT_TYPE, payload)?;
        let invalid = |reason: String| PayloadError {
            event_type: Self::EVENT_TYPE.to_owned(),
            reason,
        };
        if parsed.adjustments.is_empty() {
            return Err(invalid("at least one adjustment is needed".into()));
        }
        for (index, line) in parsed.adjustments.iter().enumerate() {
            if line.delta == Decimal::ZERO {
                return Err(invalid(format!("adjustment {}: delta is zero", index + 1)));
            }
            if line.article_id.as_str().trim().is_empty() {
                return Err(invalid(format!(
                    "adjustment {}: article_id is empty",
                    index + 1
                )));
            }
        }
        Ok(parsed)
    }
}

#[async_trait]
impl SagaType for InventoryAdjust {
    fn event_type(&self) -> &'static str {
        Self::EVENT_TYPE
    }
    fn steps(&self) -> &'static [StepSpec] {
        STEPS
    }
    fn check(&self, payload: &Value) -> Result<String, PayloadError> {
        let parsed = Self::payload(payload)?;
        Ok(format!("{} adjustment(s)", parsed.adjustments.len()))
    }
    async fn run(
        &self,
        _step: usize,
        cx: &StepContext<'_>,
        state: &mut SagaState,
    ) -> Result<(), ProviderError> {
        let parsed = Self::payload(cx.payload).map_err(|e| ProviderError::fatal(e.to_string()))?;
        let receipt = cx
            .provider
            .adjust_inventory(InventoryAdjustRequest {
                idempotency_key: cx.idempotency_key.clone(),
                adjustments: parsed.adjustments,
            })
            .await?;
        put(state, "document_id", &receipt.document_id);
        put(state, "already_existed", receipt.already_existed);
        Ok(())
    }
}
