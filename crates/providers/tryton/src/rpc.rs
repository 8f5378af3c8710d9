//! The JSON-RPC transport: one HTTP/1.1 connection pool, one session, gzip always.
//!
//! * **Sessions.** `common.db.login` returns a token; every call then sends
//!   `Authorization: Session base64(login:uid:token)`. Basic auth would work too, but
//!   Tryton runs a full password check on every such request. A 401 means the session
//!   expired (or the server restarted): the client logs in again once and repeats the
//!   call. Logins are serialised behind one async mutex with a generation counter, so a
//!   burst of 401s from concurrent calls causes one login, not one per call.
//! * **gzip.** Tryton streams any reply over 1400 bytes, and plain streamed JSON is 3 to
//!   20 times slower than gzip. It also labels even plain bodies `Content-Encoding:
//!   gzip`, so reqwest's automatic decoding is off and the body is sniffed for the gzip
//!   magic bytes instead.
//! * **Login circuit.** A refused login (wrong user or password) is remembered for
//!   `login_retry_after`: until then every call fails at once with the same fatal error
//!   and Tryton is not asked again. Without it, each queued call or saga would log in
//!   anew, and after a few failures Tryton answers HTTP 429 (transient), which would turn
//!   a configuration error into a retry storm.
//! * **Bounded concurrency.** A semaphore caps calls in flight: Tryton's threaded
//!   Werkzeug server and SQLite degrade badly under many parallel requests.

use base64::Engine as _;
use parking_lot::Mutex;
use serde_json::{Map, Value, json};
use std::io::Read as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

use crate::config::TrytonConfig;
use crate::error::{Result, TrytonError};

struct Session {
    generation: u64,
    authorization: String,
}

pub(crate) struct Rpc {
    http: reqwest::Client,
    config: TrytonConfig,
    rpc_url: String,
    root_url: String,
    session: Mutex<Option<Arc<Session>>>,
    /// Held while logging in; the value counts logins, so a caller that waited can tell
    /// that someone else already replaced the session it found stale.
    login_gate: tokio::sync::Mutex<u64>,
    permits: Semaphore,
    next_id: AtomicU64,
    /// The context every model call carries (company, language); set by the provider
    /// after the first login.
    context: Mutex<Map<String, Value>>,
    last_call: Mutex<Instant>,
    logins: AtomicU64,
    requests: AtomicU64,
    /// Until when a refused login is not retried (Tokio clock, so tests can pause it).
    login_refused_until: Mutex<Option<tokio::time::Instant>>,
}

impl Rpc {
    pub(crate) fn new(config: TrytonConfig) -> Result<Self> {
        config.validate()?;
        let http = reqwest::Client::builder()
            .no_gzip()
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_keepalive(Some(config.tcp_keepalive).filter(|d| !d.is_zero()))
            .http1_only()
            .build()
            .map_err(|err| TrytonError::Config(format!("cannot build HTTP client: {err}")))?;
        let permits = Semaphore::new(config.max_concurrency as usize);
        Ok(Self {
            http,
            rpc_url: config.rpc_url(),
            root_url: config.root_rpc_url(),
            config,
            session: Mutex::new(None),
            login_gate: tokio::sync::Mutex::new(0),
            permits,
            next_id: AtomicU64::new(1),
            context: Mutex::new(Map::new()),
            last_call: Mutex::new(Instant::now()),
            logins: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            login_refused_until: Mutex::new(None),
        })
    }

    pub(crate) fn config(&self) -> &TrytonConfig {
        &self.config
    }

    pub(crate) fn set_context(&self, context: Map<String, Value>) {
        *self.context.lock() = context;
    }

    pub(crate) fn context(&self) -> Map<String, Value> {
        self.context.lock().clone()
    }

    /// How many logins this client made (tests prove re-login and serialisation).
    pub(crate) fn login_count(&self) -> u64 {
        self.logins.load(Ordering::Relaxed)
    }

    /// Whether a refused login keeps calls from reaching Tryton right now.
    pub(crate) fn login_circuit_open(&self) -> bool {
        self.login_refused_until
            .lock()
            .is_some_and(|until| tokio::time::Instant::now() < until)
    }

    /// HTTP requests sent so far (logins included).
    pub(crate) fn request_count(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub(crate) fn idle_for(&self) -> Duration {
        self.last_call.lock().elapsed()
    }

    /// `common.server.version`, without a session.
    pub(crate) async fn server_version(&self) -> Result<String> {
        let _permit = self.permit().await?;
        let result = self
            .post(&self.root_url, "common.server.version", Vec::new(), None)
            .await?;
        result
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| TrytonError::protocol("common.server.version", "not a string"))
    }

    /// Calls `model.<model>.<method>` with `args` followed by the context (the tenant's
    /// base context overlaid with `extra`).
    pub(crate) async fn model(
        &self,
        model: &str,
        method: &str,
        mut args: Vec<Value>,
        extra: Option<&Map<String, Value>>,
    ) -> Result<Value> {
        let mut context = self.context();
        if let Some(extra) = extra {
            for (key, value) in extra {
                context.insert(key.clone(), value.clone());
            }
        }
        args.push(Value::Object(context));
        self.call(&format!("model.{model}.{method}"), args).await
    }

    /// A call on the database endpoint with the session; logs in first if needed and
    /// once more on 401.
    pub(crate) async fn call(&self, method: &str, params: Vec<Value>) -> Result<Value> {
        let _permit = self.permit().await?;
        let session = self.session().await?;
        match self
            .post(
                &self.rpc_url,
                method,
                params.clone(),
                Some(&session.authorization),
            )
            .await
        {
            Err(TrytonError::Http { status: 401, .. }) => {
                tracing::info!(method, "Tryton session refused; logging in again");
                let fresh = self.relogin(session.generation).await?;
                self.post(&self.rpc_url, method, params, Some(&fresh.authorization))
                    .await
            }
            other => other,
        }
    }

    async fn permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>> {
        self.permits
            .acquire()
            .await
            .map_err(|_| TrytonError::Config("the client is shut down".into()))
    }

    async fn session(&self) -> Result<Arc<Session>> {
        if let Some(session) = self.session.lock().clone() {
            return Ok(session);
        }
        self.relogin(0).await
    }

    /// Logs in unless another caller already replaced the session of generation `stale`.
    async fn relogin(&self, stale: u64) -> Result<Arc<Session>> {
        let mut generation = self.login_gate.lock().await;
        if let Some(current) = self.session.lock().clone()
            && current.generation != stale
        {
            return Ok(current);
        }
        self.check_login_circuit()?;
        let session = match self.login(*generation + 1).await {
            Ok(session) => Arc::new(session),
            Err(err) => {
                if matches!(err, TrytonError::LoginRefused { .. })
                    && !self.config.login_retry_after.is_zero()
                {
                    tracing::warn!(
                        user = %self.config.user,
                        database = %self.config.database,
                        retry_after = ?self.config.login_retry_after,
                        "Tryton refused the login; login circuit open"
                    );
                    *self.login_refused_until.lock() =
                        Some(tokio::time::Instant::now() + self.config.login_retry_after);
                }
                return Err(err);
            }
        };
        *self.login_refused_until.lock() = None;
        *generation += 1;
        *self.session.lock() = Some(session.clone());
        Ok(session)
    }

    /// `Err` while a refused login is fresh: the same verdict, without asking Tryton.
    fn check_login_circuit(&self) -> Result<()> {
        let until = *self.login_refused_until.lock();
        match until {
            Some(until) if tokio::time::Instant::now() < until => {
                let left = until - tokio::time::Instant::now();
                Err(TrytonError::LoginCircuitOpen {
                    user: self.config.user.clone(),
                    database: self.config.database.clone(),
                    retry_in_s: left.as_secs_f64().ceil() as u64,
                })
            }
            _ => Ok(()),
        }
    }

    async fn login(&self, generation: u64) -> Result<Session> {
        let config = &self.config;
        self.logins.fetch_add(1, Ordering::Relaxed);
        let result = self
            .post(
                &self.rpc_url,
                "common.db.login",
                vec![
                    json!(config.user),
                    json!({"password": config.password}),
                    json!(config.language),
                ],
                None,
            )
            .await
            .map_err(|err| match err {
                TrytonError::Http { status: 401, .. } => TrytonError::LoginRefused {
                    user: config.user.clone(),
                    database: config.database.clone(),
                },
                TrytonError::Server { exception, .. } if exception == "LoginException" => {
                    TrytonError::LoginRefused {
                        user: config.user.clone(),
                        database: config.database.clone(),
                    }
                }
                other => other,
            })?;
        let (uid, token) = match result.as_array().map(Vec::as_slice) {
            Some([uid, token, ..]) => (uid.as_i64(), token.as_str()),
            _ => (None, None),
        };
        let (Some(uid), Some(token)) = (uid, token) else {
            return Err(TrytonError::protocol(
                "common.db.login",
                format!("expected [uid, token, ...], got {result}"),
            ));
        };
        let credentials = format!("{}:{uid}:{token}", config.user);
        tracing::debug!(user = %config.user, uid, "logged in to Tryton");
        Ok(Session {
            generation,
            authorization: format!(
                "Session {}",
                base64::engine::general_purpose::STANDARD.encode(credentials)
            ),
        })
    }

    async fn post(
        &self,
        url: &str,
        method: &str,
        params: Vec<Value>,
        authorization: Option<&str>,
    ) -> Result<Value> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = serde_json::to_vec(&json!({"id": id, "method": method, "params": params}))
            .map_err(|err| TrytonError::Invalid(format!("cannot encode {method}: {err}")))?;
        let mut request = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT_ENCODING, "gzip")
            .body(body);
        if let Some(authorization) = authorization {
            request = request.header(reqwest::header::AUTHORIZATION, authorization);
        }
        *self.last_call.lock() = Instant::now();
        self.requests.fetch_add(1, Ordering::Relaxed);
        let response = request
            .send()
            .await
            .map_err(|err| self.transport(method, err))?;
        let status = response.status();
        if !status.is_success() {
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            return Err(TrytonError::Http {
                status: status.as_u16(),
                method: method.to_owned(),
                retry_after,
            });
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|err| self.transport(method, err))?;
        let answer = decode_body(method, &bytes)?;
        envelope(method, answer)
    }

    fn transport(&self, method: &str, err: reqwest::Error) -> TrytonError {
        if err.is_timeout() {
            TrytonError::Timeout {
                method: method.to_owned(),
                timeout: self.config.request_timeout,
            }
        } else {
            // The whole source chain: "error sending request" alone hides "connection refused".
            let mut message = err.to_string();
            let mut source = std::error::Error::source(&err);
            while let Some(cause) = source {
                message.push_str(": ");
                message.push_str(&cause.to_string());
                source = cause.source();
            }
            TrytonError::Transport {
                url: self.config.url.clone(),
                message,
            }
        }
    }
}

/// Gunzips when the body starts with the gzip magic bytes, whatever the headers say.
fn decode_body(method: &str, bytes: &[u8]) -> Result<Value> {
    let parsed = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut plain = Vec::with_capacity(bytes.len() * 4);
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut plain)
            .map_err(|err| TrytonError::protocol(method, format!("bad gzip body: {err}")))?;
        serde_json::from_slice(&plain)
    } else {
        serde_json::from_slice(bytes)
    };
    parsed.map_err(|err| TrytonError::protocol(method, format!("body is not JSON: {err}")))
}

/// Splits `{"result":...}` from `{"error":[name, detail]}` and classifies the error.
fn envelope(method: &str, mut answer: Value) -> Result<Value> {
    match answer.get_mut("error").map(Value::take) {
        None | Some(Value::Null) => Ok(answer
            .get_mut("result")
            .map(Value::take)
            .unwrap_or(Value::Null)),
        Some(error) => Err(classify(method, &error)),
    }
}

fn classify(method: &str, error: &Value) -> TrytonError {
    let name = error.get(0).and_then(Value::as_str).unwrap_or_default();
    let detail = error.get(1).cloned().unwrap_or(Value::Null);
    let method = method.to_owned();
    match name {
        "UserError" | "UserWarning" => {
            // [message, description, domain]
            let message = detail.get(0).and_then(Value::as_str).unwrap_or_default();
            let description = detail.get(1).and_then(Value::as_str).unwrap_or_default();
            let message = if description.is_empty() {
                message.to_owned()
            } else {
                format!("{message} ({description})")
            };
            TrytonError::User { method, message }
        }
        "ConcurrencyException" => TrytonError::Concurrency {
            method,
            message: text(&detail),
        },
        "LoginException" | "RateLimitException" => TrytonError::Server {
            method,
            exception: name.to_owned(),
            message: text(&detail),
            transient: name == "RateLimitException",
        },
        // A raw KeyError: Tryton's pool has no such model or the model no such field.
        quoted if quoted.len() > 2 && quoted.starts_with('\'') && quoted.ends_with('\'') => {
            TrytonError::UnknownName {
                method,
                name: quoted[1..quoted.len() - 1].to_owned(),
            }
        }
        other => TrytonError::Server {
            method,
            exception: "error".to_owned(),
            message: other.to_owned(),
            transient: other.contains("database is locked") || other.contains("timeout"),
        },
    }
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    #[test]
    fn sniffs_gzip_regardless_of_headers() {
        let plain = br#"{"id":1,"result":[1,2]}"#;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(plain).unwrap();
        let gz = encoder.finish().unwrap();
        assert_eq!(
            decode_body("m", &gz).unwrap(),
            decode_body("m", plain).unwrap()
        );
        assert!(decode_body("m", b"<html>").is_err());
    }

    #[test]
    fn classifies_tryton_errors() {
        let user = classify(
            "model.product.template.create",
            &json!([
                "UserError",
                ["A value is required for field \"Default UoM\".", "", null]
            ]),
        );
        assert!(
            matches!(&user, TrytonError::User { message, .. } if message.contains("Default UoM"))
        );
        let unknown = classify("model.no.such.search", &json!(["'no.such'", ""]));
        assert!(matches!(&unknown, TrytonError::UnknownName { name, .. } if name == "no.such"));
        let concurrency = classify(
            "model.party.party.write",
            &json!([
                "ConcurrencyException",
                "Records were modified in the meanwhile"
            ]),
        );
        assert_eq!(concurrency.kind(), erpbridge_provider::ErrorKind::Transient);
        assert_eq!(
            envelope("m", json!({"id": 1, "result": 7})).unwrap(),
            json!(7)
        );
        assert!(envelope("m", json!({"id": 1, "error": ["'x'", ""]})).is_err());
    }
}
