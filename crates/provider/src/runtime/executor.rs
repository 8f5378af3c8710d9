//! The serial executor: one OS thread that owns one session.
//!
//! The session is created on the thread ([`SessionFactory::connect`]) and never leaves it,
//! which is how a `!Send` SDK handle (enventa Trade's) stays on the thread that made it.
//! Callers hand in boxed [`Job`]s through a bounded `std` channel and wait on a Tokio
//! oneshot; the thread works them off one at a time.
//!
//! Failure handling lives here because only this thread may touch the session:
//! * a job whose caller has gone (deadline passed, request dropped) is skipped before it
//!   starts, so a slow serial backend does not spend itself on answers nobody reads;
//! * a panic inside the SDK is caught, the session is dropped (its state is unknown) and
//!   a fresh one is logged in; the caller sees a transient error, the hub lives on;
//! * a call that reports `unavailable` makes the session suspect: it is pinged, and
//!   replaced if the ping fails;
//! * after a failed login, calls fail fast with that error until the maintenance task's
//!   retry logs in: a down ERP must not cost every queued caller a login timeout.
//!
//! The thread never reads a clock. Every timer (deadlines, keep-alive, idle eviction,
//! reconnect back-off) runs on the Tokio side, so tests drive them with paused time.

use parking_lot::Mutex;
use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use tokio::sync::{oneshot, watch};

use super::stats::Counters;
use crate::error::{ErrorKind, ProviderError, ProviderResult};
use crate::traits::{BlockingSession, SessionFactory};

/// What a finished job says about the session it ran on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Healthy,
    /// The backend said `unavailable`: ping before trusting the session again.
    Suspect,
    /// The session is unusable: log in again.
    Broken,
}

/// Work for one session. Implementations send their own result to whoever waits.
pub(crate) trait Job<S>: Send {
    /// Nobody waits for the result any more; the executor skips the job.
    fn abandoned(&self) -> bool {
        false
    }
    fn run(self: Box<Self>, session: &mut S) -> Verdict;
    /// The job cannot run (no session could be logged in).
    fn fail(self: Box<Self>, error: ProviderError);
    /// The job was refused before reaching an executor (queue full).
    fn reject(self: Box<Self>, error: ProviderError) {
        self.fail(error);
    }
    /// Try to log in even right after a failed login (the maintenance task's retry).
    fn forces_login(&self) -> bool {
        false
    }
}

/// A caller's closure plus the channel its result goes back on.
pub(crate) struct CallJob<F, R> {
    pub f: F,
    pub tx: oneshot::Sender<ProviderResult<R>>,
}

impl<S, F, R> Job<S> for CallJob<F, R>
where
    F: FnOnce(&mut S) -> ProviderResult<R> + Send,
    R: Send,
{
    fn abandoned(&self) -> bool {
        self.tx.is_closed()
    }
    fn run(self: Box<Self>, session: &mut S) -> Verdict {
        let result = (self.f)(session);
        let verdict = verdict_of(&result);
        let _ = self.tx.send(result);
        verdict
    }
    fn fail(self: Box<Self>, error: ProviderError) {
        let _ = self.tx.send(Err(error));
    }
}

pub(crate) fn verdict_of<T>(result: &ProviderResult<T>) -> Verdict {
    match result {
        Err(e) if e.kind == ErrorKind::Unavailable => Verdict::Suspect,
        _ => Verdict::Healthy,
    }
}

/// Keep-alive: a ping nobody waits for; a failed ping replaces the session.
struct PingJob {
    env: Arc<Env>,
}

impl<S: BlockingSession> Job<S> for PingJob {
    fn run(self: Box<Self>, session: &mut S) -> Verdict {
        Counters::inc(&self.env.counters.pings);
        match session.ping() {
            Ok(()) => Verdict::Healthy,
            Err(error) => {
                Counters::inc(&self.env.counters.ping_failures);
                tracing::warn!(%error, "keep-alive ping failed; the session will be replaced");
                Verdict::Broken
            }
        }
    }
    fn fail(self: Box<Self>, _error: ProviderError) {}
}

/// Runs nothing: making the executor log in is the whole point.
struct ReconnectJob;

impl<S> Job<S> for ReconnectJob {
    fn run(self: Box<Self>, _session: &mut S) -> Verdict {
        Verdict::Healthy
    }
    fn forces_login(&self) -> bool {
        true
    }
    fn fail(self: Box<Self>, _error: ProviderError) {}
}

/// State the whole pool shares with every executor thread: counters and readiness.
#[derive(Debug)]
pub(crate) struct Env {
    pub name: String,
    pub counters: Counters,
    pub min_sessions: usize,
    warm: AtomicUsize,
    ready: watch::Sender<bool>,
}

impl Env {
    pub fn new(name: String, min_sessions: usize) -> Self {
        let (ready, _) = watch::channel(min_sessions == 0);
        Self {
            name,
            counters: Counters::default(),
            min_sessions,
            warm: AtomicUsize::new(0),
            ready,
        }
    }

    pub fn warm(&self) -> usize {
        self.warm.load(SeqCst)
    }

    pub fn readiness(&self) -> watch::Receiver<bool> {
        self.ready.subscribe()
    }

    pub fn is_ready(&self) -> bool {
        *self.ready.borrow()
    }

    fn session_count_changed(&self, delta: isize) {
        if delta > 0 {
            self.warm.fetch_add(1, SeqCst);
        } else {
            self.warm.fetch_sub(1, SeqCst);
        }
        // Read the count inside the watch's lock so concurrent ups and downs cannot
        // publish a stale verdict last.
        self.ready.send_if_modified(|ready| {
            let now = self.warm.load(SeqCst) >= self.min_sessions;
            std::mem::replace(ready, now) != now
        });
    }
}

/// What the Tokio side can see of one executor thread.
#[derive(Debug)]
pub(crate) struct ExecutorState {
    pub id: usize,
    /// Caller jobs queued or running (maintenance jobs are not load).
    pub pending: AtomicUsize,
    pub connected: AtomicBool,
    pub connecting: AtomicBool,
    /// The thread has ended (should not happen while the pool holds its sender).
    pub exited: AtomicBool,
}

/// Timestamps kept by the maintenance task, on Tokio's clock.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timers {
    pub last_active: tokio::time::Instant,
    pub last_ping: tokio::time::Instant,
    pub last_reconnect: tokio::time::Instant,
}

struct Envelope<S> {
    job: Box<dyn Job<S>>,
    /// Counts as caller load (`pending`); maintenance jobs do not.
    user: bool,
}

/// The Tokio-side handle of an executor thread. Dropping it closes the queue: the thread
/// finishes what is queued, logs out (drops the session) and ends.
pub(crate) struct Executor<S> {
    tx: SyncSender<Envelope<S>>,
    pub state: Arc<ExecutorState>,
    pub timers: Mutex<Timers>,
    env: Arc<Env>,
}

/// Why a job was not queued.
pub(crate) enum SubmitError<S> {
    Full(Box<dyn Job<S>>),
    Stopped(Box<dyn Job<S>>),
}

impl<S: BlockingSession> Executor<S> {
    /// Start the thread; it logs in at once (under `login`), then serves the queue.
    pub fn spawn<F>(
        id: usize,
        factory: Arc<F>,
        login: Arc<Mutex<()>>,
        env: Arc<Env>,
        capacity: usize,
        relogin_every: std::time::Duration,
    ) -> std::io::Result<Self>
    where
        F: SessionFactory<Session = S>,
    {
        let (tx, rx) = sync_channel(capacity);
        let state = Arc::new(ExecutorState {
            id,
            pending: AtomicUsize::new(0),
            connected: AtomicBool::new(false),
            connecting: AtomicBool::new(true),
            exited: AtomicBool::new(false),
        });
        let thread_state = state.clone();
        let thread_env = env.clone();
        std::thread::Builder::new()
            .name(format!("erp-{}-{id}", env.name))
            .spawn(move || {
                let mut worker = Worker {
                    factory,
                    login,
                    env: thread_env,
                    state: thread_state,
                    session: None,
                    login_error: None,
                    relogin_every,
                };
                worker.serve(rx);
            })?;
        let now = tokio::time::Instant::now();
        Ok(Self {
            tx,
            state,
            timers: Mutex::new(Timers {
                last_active: now,
                last_ping: now,
                last_reconnect: now,
            }),
            env,
        })
    }

    pub fn pending(&self) -> usize {
        self.state.pending.load(SeqCst)
    }

    pub fn connected(&self) -> bool {
        self.state.connected.load(SeqCst)
    }

    pub fn try_submit(&self, job: Box<dyn Job<S>>, user: bool) -> Result<(), SubmitError<S>> {
        let counters = &self.env.counters;
        // Count before sending so the thread's decrement can never run first.
        if user {
            self.state.pending.fetch_add(1, SeqCst);
        }
        counters.queued.fetch_add(1, SeqCst);
        match self.tx.try_send(Envelope { job, user }) {
            Ok(()) => Ok(()),
            Err(error) => {
                if user {
                    self.state.pending.fetch_sub(1, SeqCst);
                }
                counters.queued.fetch_sub(1, SeqCst);
                Err(match error {
                    TrySendError::Full(envelope) => SubmitError::Full(envelope.job),
                    TrySendError::Disconnected(envelope) => SubmitError::Stopped(envelope.job),
                })
            }
        }
    }

    pub fn ping(&self) {
        // A full queue means the session is busy, which keeps it alive anyway.
        let job = Box::new(PingJob {
            env: self.env.clone(),
        });
        let _ = self.try_submit(job, false);
    }

    pub fn reconnect(&self) {
        let _ = self.try_submit(Box::new(ReconnectJob), false);
    }
}

/// The thread side: owns the session.
struct Worker<F: SessionFactory> {
    factory: Arc<F>,
    login: Arc<Mutex<()>>,
    env: Arc<Env>,
    state: Arc<ExecutorState>,
    session: Option<F::Session>,
    /// Why the last login failed, until one succeeds. Meanwhile calls fail fast with it
    /// instead of each paying a (slow, doomed) login; the maintenance task retries every
    /// `relogin_every`.
    login_error: Option<ProviderError>,
    relogin_every: std::time::Duration,
}

impl<F: SessionFactory> Worker<F> {
    fn serve(&mut self, rx: Receiver<Envelope<F::Session>>) {
        if let Err(error) = self.connect() {
            tracing::warn!(executor = self.state.id, %error, "initial login failed");
        }
        while let Ok(Envelope { job, user }) = rx.recv() {
            self.env.counters.queued.fetch_sub(1, SeqCst);
            self.handle(job, user);
            if user {
                self.state.pending.fetch_sub(1, SeqCst);
            }
        }
        self.disconnect();
        self.state.exited.store(true, SeqCst);
    }

    fn handle(&mut self, job: Box<dyn Job<F::Session>>, user: bool) {
        if job.abandoned() {
            Counters::inc(&self.env.counters.abandoned);
            return;
        }
        if self.session.is_none() {
            if let Some(error) = self.login_error.as_ref().filter(|_| !job.forces_login()) {
                job.fail(error.clone().with_retry_after(self.relogin_every));
                return;
            }
            if let Err(error) = self.connect() {
                job.fail(error);
                return;
            }
        }
        let Some(session) = self.session.as_mut() else {
            return;
        };
        if user {
            Counters::inc(&self.env.counters.backend_calls);
        }
        self.env.counters.in_flight.fetch_add(1, SeqCst);
        let outcome = catch_unwind(AssertUnwindSafe(|| job.run(session)));
        self.env.counters.in_flight.fetch_sub(1, SeqCst);
        match outcome {
            Ok(Verdict::Healthy) => {}
            Ok(Verdict::Suspect) => {
                let alive = catch_unwind(AssertUnwindSafe(|| session.ping()));
                if !matches!(alive, Ok(Ok(()))) {
                    self.replace("backend unavailable and ping failed");
                }
            }
            Ok(Verdict::Broken) => self.replace("session broken"),
            Err(payload) => {
                Counters::inc(&self.env.counters.panics);
                let message = panic_message(payload.as_ref());
                tracing::error!(executor = self.state.id, panic = %message, "session call panicked; replacing the session");
                self.replace("a call panicked");
            }
        }
    }

    /// Log in, one login at a time across the pool.
    fn connect(&mut self) -> ProviderResult<()> {
        self.state.connecting.store(true, SeqCst);
        let result = {
            // enventa's login is not thread-safe (and costly): two sessions logging in at
            // once can corrupt the SDK's shared state, so logins take turns.
            let _turn = self.login.lock();
            catch_unwind(AssertUnwindSafe(|| self.factory.connect()))
        };
        self.state.connecting.store(false, SeqCst);
        match result {
            Ok(Ok(session)) => {
                self.session = Some(session);
                self.login_error = None;
                Counters::inc(&self.env.counters.connects);
                self.state.connected.store(true, SeqCst);
                self.env.session_count_changed(1);
                Ok(())
            }
            Ok(Err(error)) => {
                Counters::inc(&self.env.counters.connect_failures);
                let error = ProviderError {
                    message: format!("login failed: {}", error.message),
                    ..error
                };
                self.login_error = Some(error.clone());
                Err(error)
            }
            Err(payload) => {
                Counters::inc(&self.env.counters.connect_failures);
                Counters::inc(&self.env.counters.panics);
                let error = ProviderError::unavailable(format!(
                    "login panicked: {}",
                    panic_message(payload.as_ref())
                ));
                self.login_error = Some(error.clone());
                Err(error)
            }
        }
    }

    fn disconnect(&mut self) {
        if let Some(session) = self.session.take() {
            self.state.connected.store(false, SeqCst);
            self.env.session_count_changed(-1);
            // Logging out runs SDK code too; a panic there must not take the thread down
            // before the bookkeeping above is done.
            if catch_unwind(AssertUnwindSafe(move || drop(session))).is_err() {
                Counters::inc(&self.env.counters.panics);
            }
        }
    }

    /// Throw the session away and log in afresh right away, so readiness recovers without
    /// waiting for the next caller.
    fn replace(&mut self, why: &str) {
        tracing::warn!(executor = self.state.id, why, "replacing session");
        Counters::inc(&self.env.counters.sessions_recycled);
        self.disconnect();
        if let Err(error) = self.connect() {
            tracing::warn!(executor = self.state.id, %error, "re-login failed; will retry");
        }
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}
