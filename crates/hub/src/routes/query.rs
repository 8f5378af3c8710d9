//! `POST /v1/tenants/{t}/query`: a query descriptor, planned against the provider's
//! pushdown capabilities and streamed back as NDJSON.
//!
//! Backpressure: the response body is a stream that asks the provider for the next page
//! only when hyper asks for the next chunk, and hyper asks only when the socket has room.
//! A client that stops reading therefore stops the provider after at most the pages that
//! fit into the socket buffers; the hub never holds more than one page.
//!
//! The first page is fetched before the response head is sent, so a bad query or an
//! unavailable ERP is still a proper problem with the right status. A failure after
//! that ends the stream with one final line `{"error": <problem>}`.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use erpbridge_model::query::eval::validate;
use erpbridge_model::query::plan::{Plan, plan};
use erpbridge_model::query::{Query, QueryEntity};
use erpbridge_provider::{Operation, Provider, ProviderError, QueryPage};
use std::sync::Arc;

use crate::problem::{ApiJson, Problem};
use crate::routes::Tenant;
use crate::state::AppState;

pub const NDJSON: &str = "application/x-ndjson";

/// Stream the records matching a query descriptor, one JSON object per line.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/query", tag = "query",
    params(("tenant" = String, Path)),
    request_body(content = Object, description = "A query descriptor: entity, filter, sort, page_size, cursor, include"),
    responses((status = 200, description = "One record per line", content_type = "application/x-ndjson"),
        (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem), (status = 503, body = Problem)),
    security(("tenant_key" = [])))]
pub async fn query(
    State(_state): State<AppState>,
    tenant: Tenant,
    ApiJson(query): ApiJson<Query>,
) -> Result<Response, Problem> {
    validate(&query).map_err(|e| Problem::validation(e.to_string()))?;
    let description = tenant.describe().await?;
    if !description.supports(Operation::Query) {
        return Err(Problem::validation(format!(
            "the `{}` provider of this tenant does not support queries",
            description.name
        )));
    }
    let caps = description
        .pushdown
        .entities
        .get(&query.entity)
        .cloned()
        .unwrap_or_default();
    if !query.sort.is_empty() && !caps.can_sort(&query.sort) {
        let fields: Vec<&str> = query.sort.iter().map(|k| k.field.as_str()).collect();
        return Err(Problem::validation(format!(
            "cannot sort `{}` by {}: the provider cannot sort by it and a stream is not buffered; sortable: {}",
            entity_name(query.entity),
            fields.join(", "),
            caps.sortable.iter().cloned().collect::<Vec<_>>().join(", ")
        )));
    }
    let plan = match &query.filter {
        Some(filter) => plan(filter, &caps),
        None => Plan {
            pushed: None,
            residual: None,
            exact: true,
        },
    };
    let pushed = Query {
        filter: plan.pushed.clone(),
        ..query
    };
    let provider = Arc::clone(&tenant.provider);
    let first = provider.query_page(pushed.clone()).await?;
    let stream = PageStream {
        provider,
        query: pushed,
        plan,
        page: Some(first),
        done: false,
    };
    let body = Body::from_stream(futures::stream::unfold(stream, PageStream::next_chunk));
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(NDJSON));
    Ok(response)
}

fn entity_name(entity: QueryEntity) -> &'static str {
    match entity {
        QueryEntity::Article => "article",
        QueryEntity::Category => "category",
        QueryEntity::Customer => "customer",
    }
}

struct PageStream {
    provider: Arc<dyn Provider>,
    query: Query,
    plan: Plan,
    /// A page fetched but not yet written.
    page: Option<QueryPage>,
    done: bool,
}

impl PageStream {
    /// The next chunk of output: one provider page's matching records. Pages that
    /// post-filter to nothing are skipped without yielding.
    async fn next_chunk(mut self) -> Option<(Result<Bytes, std::io::Error>, Self)> {
        loop {
            if self.done {
                return None;
            }
            let page = match self.page.take() {
                Some(page) => page,
                None => match self.provider.query_page(self.query.clone()).await {
                    Ok(page) => page,
                    Err(error) => return Some(self.fail(error)),
                },
            };
            match page.next_cursor {
                Some(cursor) => self.query.cursor = Some(cursor),
                None => self.done = true,
            }
            let mut out = Vec::new();
            for record in &page.records {
                match self.plan.post_filter(record) {
                    Ok(true) => {
                        if serde_json::to_writer(&mut out, record).is_err() {
                            continue;
                        }
                        out.push(b'\n');
                    }
                    Ok(false) => {}
                    Err(error) => {
                        let problem = Problem::validation(error.to_string());
                        return Some(self.fail_with(out, problem));
                    }
                }
            }
            if !out.is_empty() {
                return Some((Ok(Bytes::from(out)), self));
            }
        }
    }

    fn fail(self, error: ProviderError) -> (Result<Bytes, std::io::Error>, Self) {
        self.fail_with(Vec::new(), Problem::from(error))
    }

    fn fail_with(
        mut self,
        mut out: Vec<u8>,
        problem: Problem,
    ) -> (Result<Bytes, std::io::Error>, Self) {
        self.done = true;
        let line = serde_json::json!({ "error": problem });
        if serde_json::to_writer(&mut out, &line).is_ok() {
            out.push(b'\n');
        }
        (Ok(Bytes::from(out)), self)
    }
}
