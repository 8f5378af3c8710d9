//! `order.create`: create the order in the ERP, then confirm it. If confirmation fails
//! for good (the ERP rejects it), the created order is cancelled (compensation), so the
//! ERP is not left with a draft nobody will finish.

use async_trait::async_trait;
use erpbridge_model::{ErpOrderId, Order};
use erpbridge_provider::{CreateOrderRequest, OrderActionRequest, ProviderError};
use serde_json::{Value, json};

use super::{get_str, put};
use crate::saga::{PayloadError, SagaState, SagaType, StepContext, StepSpec, parse_payload};

/// The payload is an [`Order`] as the shop submitted it.
pub struct OrderCreate;

const STEPS: &[StepSpec] = &[
    StepSpec {
        name: "create_order",
        compensable: true,
    },
    StepSpec {
        name: "confirm_order",
        compensable: false,
    },
];

impl OrderCreate {
    pub const EVENT_TYPE: &'static str = "order.create";

    fn order(payload: &Value) -> Result<Order, PayloadError> {
        let order: Order = parse_payload(Self::EVENT_TYPE, payload)?;
        order.validate().map_err(|err| PayloadError {
            event_type: Self::EVENT_TYPE.to_owned(),
            reason: err.to_string(),
        })?;
        Ok(order)
    }
}

fn erp_order_id(state: &SagaState) -> Result<ErpOrderId, ProviderError> {
    get_str(state, "erp_order_id")
        .map(ErpOrderId::new)
        .ok_or_else(|| {
            ProviderError::fatal("saga state lacks erp_order_id (create_order did not record it)")
        })
}

#[async_trait]
impl SagaType for OrderCreate {
    fn event_type(&self) -> &'static str {
        Self::EVENT_TYPE
    }

    fn steps(&self) -> &'static [StepSpec] {
        STEPS
    }

    fn check(&self, payload: &Value) -> Result<String, PayloadError> {
        let order = Self::order(payload)?;
        let mut summary = format!(
            "customer {}, {} line{}",
            order.customer_id,
            order.lines.len(),
            if order.lines.len() == 1 { "" } else { "s" }
        );
        if let Some(reference) = &order.external_reference {
            summary.push_str(&format!(", ref {reference}"));
        }
        Ok(summary)
    }

    async fn run(
        &self,
        step: usize,
        cx: &StepContext<'_>,
        state: &mut SagaState,
    ) -> Result<(), ProviderError> {
        match step {
            0 => {
                let order =
                    Self::order(cx.payload).map_err(|e| ProviderError::fatal(e.to_string()))?;
                let receipt = cx
                    .provider
                    .create_order(CreateOrderRequest {
                        idempotency_key: cx.idempotency_key.clone(),
                        order,
                    })
                    .await?;
                put(state, "erp_order_id", &receipt.erp_order_id);
                put(state, "already_existed", receipt.already_existed);
                put(state, "state", receipt.state);
                Ok(())
            }
            1 => {
                let status = cx
                    .provider
                    .confirm_order(OrderActionRequest {
                        idempotency_key: cx.idempotency_key.clone(),
                        erp_order_id: erp_order_id(state)?,
                    })
                    .await?;
                put(state, "state", status.state);
                Ok(())
            }
            other => Err(ProviderError::fatal(format!(
                "order.create has no step {other}"
            ))),
        }
    }

    async fn compensate(
        &self,
        step: usize,
        cx: &StepContext<'_>,
        state: &mut SagaState,
    ) -> Result<(), ProviderError> {
        if step == 0 {
            let status = cx
                .provider
                .cancel_order(OrderActionRequest {
                    idempotency_key: cx.idempotency_key.clone(),
                    erp_order_id: erp_order_id(state)?,
                })
                .await?;
            put(state, "state", status.state);
        }
        Ok(())
    }

    fn result(&self, state: &SagaState) -> Value {
        json!({
            "erp_order_id": state.get("erp_order_id"),
            "state": state.get("state"),
            "already_existed": state.get("already_existed"),
        })
    }
}
