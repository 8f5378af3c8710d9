//! One connected connector: its outbound frame queue and the calls waiting for answers.
//!
//! Every call gets a fresh `call_id` and an entry in `pending`; the session's reader
//! task routes each reply, chunk and end to its entry. A caller that stops waiting
//! (deadline, or its future dropped) removes its entry and sends `Cancel`, so the
//! connector stops working on it. When the session closes, every pending call fails
//! `unavailable` at once instead of waiting out its deadline.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use erpbridge_provider::{ProviderError, ProviderResult};
use erpbridge_remote::proto as ppb;
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};
use tonic::Status;

use crate::proto::{self as pb, call::Request as Q, hub_frame::Frame as H, reply::Result as R};

/// Frames queued towards one connector before a sender waits.
pub(crate) const OUTBOUND_FRAMES: usize = 1024;

pub(crate) type Outbound = mpsc::Sender<Result<pb::HubFrame, Status>>;

enum Pending {
    Unary(oneshot::Sender<ProviderResult<R>>),
    /// `credit` is how many more pages the connector may send; one sending more than
    /// that is broken.
    Stream {
        tx: mpsc::Sender<ProviderResult<ppb::CatalogPage>>,
        credit: u32,
    },
}

pub(crate) struct Session {
    pub(crate) id: String,
    pub(crate) tenant: String,
    /// The digest of the token the connector authenticated with: revoking that token
    /// closes this session.
    pub(crate) token: crate::auth::TokenDigest,
    out: Mutex<Option<Outbound>>,
    pending: Mutex<HashMap<u64, Pending>>,
    next_call: AtomicU64,
    closed: Mutex<Option<String>>,
}

impl Session {
    pub(crate) fn new(
        id: String,
        tenant: String,
        token: crate::auth::TokenDigest,
        out: Outbound,
    ) -> Self {
        Self {
            id,
            tenant,
            token,
            out: Mutex::new(Some(out)),
            pending: Mutex::new(HashMap::new()),
            next_call: AtomicU64::new(1),
            closed: Mutex::new(None),
        }
    }

    fn offline(&self) -> ProviderError {
        let why = self
            .closed
            .lock()
            .clone()
            .unwrap_or_else(|| "connection closed".to_owned());
        ProviderError::unavailable(format!(
            "the connector of tenant `{}` went offline: {why}",
            self.tenant
        ))
    }

    fn sender(&self) -> Option<Outbound> {
        self.out.lock().clone()
    }

    pub(crate) async fn send(&self, frame: H) -> ProviderResult<()> {
        let out = self.sender().ok_or_else(|| self.offline())?;
        out.send(Ok(pb::HubFrame { frame: Some(frame) }))
            .await
            .map_err(|_| self.offline())
    }

    /// Sends without waiting (from `Drop`); a full queue defers to a task.
    fn send_soon(&self, frame: H) {
        let Some(out) = self.sender() else { return };
        let frame = pb::HubFrame { frame: Some(frame) };
        if let Err(mpsc::error::TrySendError::Full(frame)) = out.try_send(Ok(frame))
            && let Ok(handle) = tokio::runtime::Handle::try_current()
        {
            handle.spawn(async move {
                let _ = out.send(frame).await;
            });
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.lock().is_some()
    }

    /// Ends the session: no more frames go out (which ends the gRPC response stream),
    /// and every pending call fails `unavailable`.
    pub(crate) fn close(&self, why: &str) {
        {
            let mut closed = self.closed.lock();
            if closed.is_some() {
                return;
            }
            *closed = Some(why.to_owned());
        }
        if let Some(out) = self.out.lock().take() {
            // Tell the connector why before the stream ends; it may be gone already.
            let _ = out.try_send(Err(Status::unavailable(why.to_owned())));
        }
        let pending: Vec<Pending> = self.pending.lock().drain().map(|(_, p)| p).collect();
        let err = self.offline();
        for p in pending {
            match p {
                Pending::Unary(tx) => {
                    let _ = tx.send(Err(err.clone()));
                }
                Pending::Stream { tx, .. } => {
                    let _ = tx.try_send(Err(err.clone()));
                }
            }
        }
    }

    fn register(&self, pending: Pending) -> u64 {
        let id = self.next_call.fetch_add(1, Ordering::Relaxed);
        self.pending.lock().insert(id, pending);
        id
    }

    /// One unary call under `deadline`.
    pub(crate) async fn call(
        self: &Arc<Self>,
        request: Q,
        deadline: Duration,
    ) -> ProviderResult<R> {
        if self.is_closed() {
            return Err(self.offline());
        }
        let operation = crate::wire::operation(&request);
        let (tx, rx) = oneshot::channel();
        let call_id = self.register(Pending::Unary(tx));
        let mut guard = CallGuard {
            session: Arc::clone(self),
            call_id,
            armed: true,
        };
        self.send(H::Call(pb::Call {
            call_id,
            deadline_ms: millis(deadline),
            request: Some(request),
        }))
        .await?;
        let result = tokio::time::timeout(deadline, rx).await;
        match result {
            Ok(Ok(reply)) => {
                guard.armed = false;
                reply
            }
            Ok(Err(_)) => {
                guard.armed = false;
                Err(self.offline())
            }
            Err(_) => Err(ProviderError::transient(format!(
                "connector of tenant `{}`: no answer to `{operation}` within the deadline of {deadline:?}",
                self.tenant
            ))),
        }
    }

    /// Opens a catalog stream with `credit` pages of buffer.
    pub(crate) async fn open_stream(
        self: &Arc<Self>,
        request: ppb::CatalogPageRequest,
        credit: u32,
        deadline: Duration,
    ) -> ProviderResult<StreamHandle> {
        if self.is_closed() {
            return Err(self.offline());
        }
        let credit = credit.max(1);
        // One slot more than the credit for the error a closing session may add.
        let (tx, rx) = mpsc::channel(credit as usize + 1);
        let call_id = self.register(Pending::Stream { tx, credit });
        let guard = CallGuard {
            session: Arc::clone(self),
            call_id,
            armed: true,
        };
        self.send(H::Call(pb::Call {
            call_id,
            deadline_ms: millis(deadline),
            request: Some(Q::CatalogStream(pb::CatalogStreamCall {
                request: Some(request),
                initial_credit: credit,
            })),
        }))
        .await?;
        Ok(StreamHandle { rx, guard })
    }

    /// Routes a reply to its waiting caller; a reply nobody waits for (cancelled,
    /// timed out) is dropped.
    pub(crate) fn on_reply(&self, reply: pb::Reply) {
        let Some(Pending::Unary(tx)) = self.take_if_unary(reply.call_id) else {
            return;
        };
        let result = match reply.result {
            Some(R::Error(detail)) => Err(crate::wire::provider_error(detail)),
            Some(result) => Ok(result),
            None => Err(ProviderError::fatal(
                "connector sent a reply without a result",
            )),
        };
        let _ = tx.send(result);
    }

    fn take_if_unary(&self, call_id: u64) -> Option<Pending> {
        let mut pending = self.pending.lock();
        match pending.get(&call_id) {
            Some(Pending::Unary(_)) => pending.remove(&call_id),
            _ => None,
        }
    }

    pub(crate) fn on_chunk(&self, chunk: pb::StreamChunk) {
        let call_id = chunk.call_id;
        let mut pending = self.pending.lock();
        let Some(Pending::Stream { tx, credit }) = pending.get_mut(&call_id) else {
            return;
        };
        if *credit == 0 {
            // More pages than credit: a broken connector. End this stream with an
            // error and stop the call.
            if let Some(Pending::Stream { tx, .. }) = pending.remove(&call_id) {
                let _ = tx.try_send(Err(ProviderError::fatal(
                    "connector sent more catalog pages than the credit allowed",
                )));
            }
            drop(pending);
            self.send_soon(H::Cancel(pb::Cancel { call_id }));
            return;
        }
        *credit -= 1;
        let item = chunk
            .page
            .ok_or_else(|| ProviderError::fatal("connector sent a stream chunk without a page"));
        // Cannot be full: the channel holds credit + 1 and credit bounds what is sent.
        if tx.try_send(item).is_err() {
            pending.remove(&call_id);
        }
    }

    /// One more page of credit for a stream whose consumer took a page.
    fn grant(&self, call_id: u64) {
        let granted = match self.pending.lock().get_mut(&call_id) {
            Some(Pending::Stream { credit, .. }) => {
                *credit += 1;
                true
            }
            _ => false,
        };
        if granted {
            self.send_soon(H::Credit(pb::Credit { call_id, pages: 1 }));
        }
    }

    pub(crate) fn on_end(&self, end: pb::StreamEnd) {
        let Some(Pending::Stream { tx, .. }) = self.pending.lock().remove(&end.call_id) else {
            return;
        };
        if let Some(detail) = end.error {
            let _ = tx.try_send(Err(crate::wire::provider_error(detail)));
        }
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.pending.lock().len()
    }
}

fn millis(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}

/// Cancels its call when dropped while still armed (deadline, caller gone).
pub(crate) struct CallGuard {
    session: Arc<Session>,
    call_id: u64,
    armed: bool,
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        if self.armed && self.session.pending.lock().remove(&self.call_id).is_some() {
            self.session.send_soon(H::Cancel(pb::Cancel {
                call_id: self.call_id,
            }));
        }
    }
}

/// The hub's end of one catalog stream.
pub(crate) struct StreamHandle {
    rx: mpsc::Receiver<ProviderResult<ppb::CatalogPage>>,
    guard: CallGuard,
}

impl StreamHandle {
    /// The next page, granting the connector one more page of credit for it. `None`
    /// when the stream ended cleanly.
    pub(crate) async fn next(
        &mut self,
        deadline: Duration,
    ) -> Option<ProviderResult<ppb::CatalogPage>> {
        let item = match tokio::time::timeout(deadline, self.rx.recv()).await {
            Ok(item) => item,
            Err(_) => {
                return Some(Err(ProviderError::transient(format!(
                    "connector of tenant `{}`: no catalog page within the deadline of {deadline:?}",
                    self.guard.session.tenant
                ))));
            }
        };
        match &item {
            Some(Ok(page)) if page.has_more => self.guard.session.grant(self.guard.call_id),
            Some(Ok(_)) | None => self.guard.armed = false,
            Some(Err(_)) => {}
        }
        item
    }
}
