//! The AgentCore Runtime HTTP contract: `POST /invocations` and `GET /ping` around an entrypoint.
//!
//! The handler owns everything the contract says about a request — body limit, JSON parsing
//! whatever the Content-Type, session and request ids, forwarded headers, busy tracking — so an
//! entrypoint only sees a parsed payload and its [`RuntimeContext`].

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use agent_core::SessionId;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::header::AsHeaderName;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::stream::{BoxStream, StreamExt};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::Instrument;

use crate::context::RuntimeContext;
use crate::edge::EdgeConfig;
use crate::entrypoint::{Entrypoint, Output};
use crate::error::InvocationError;
use crate::forwarded_headers::{
    OAUTH2_CALLBACK_URL_HEADER, WORKLOAD_ACCESS_TOKEN_FALLBACK_HEADER,
    WORKLOAD_ACCESS_TOKEN_HEADER, forwarded_header_key,
};
use crate::health::{BusyGuard, Health};
use crate::stream_events::error_value;
use crate::trace_context::TraceContext;
use agent_core::telemetry::METRICS_TARGET;

/// The runtime session id header.
pub const SESSION_ID_HEADER: HeaderName =
    HeaderName::from_static("x-amzn-bedrock-agentcore-runtime-session-id");
/// AgentCore's runtime user id header: the owner of the sessions a request names, for
/// entrypoints that take it from the runtime (see [`RuntimeContext::session_key`]).
pub const USER_ID_HEADER: HeaderName =
    HeaderName::from_static("x-amzn-bedrock-agentcore-runtime-user-id");
/// The request id header.
pub const REQUEST_ID_HEADER: HeaderName =
    HeaderName::from_static("x-amzn-bedrock-agentcore-runtime-request-id");
/// Default largest accepted request body: 100 MiB, so every payload AgentCore accepts (up to
/// 100 MB) is served.
pub const DEFAULT_MAX_BODY_BYTES: usize = 100 * 1024 * 1024;
/// Default cap on invocations served at once.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 1_000;

/// An AgentCore runtime serving one entrypoint; cheap to clone.
#[derive(Clone)]
pub struct AgentCoreApp {
    entrypoint: Arc<dyn Entrypoint>,
    health: Health,
    max_body_bytes: usize,
    /// One permit per invocation being served; none left means the server is full.
    in_flight: Arc<Semaphore>,
    max_in_flight: usize,
    edge: EdgeConfig,
    /// Continues callers' traces, when telemetry is on.
    trace_context: Option<Arc<TraceContext>>,
}

impl AgentCoreApp {
    /// A runtime around `entrypoint` with the default limits.
    pub fn new(entrypoint: impl Entrypoint) -> Self {
        Self {
            entrypoint: Arc::new(entrypoint),
            health: Health::default(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            in_flight: Arc::new(Semaphore::new(DEFAULT_MAX_IN_FLIGHT)),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            edge: EdgeConfig::default(),
            trace_context: None,
        }
    }

    /// Sets how many invocations are served at once; one more is refused at once with 503
    /// `Server busy`, rather than queued without bound.
    pub fn with_max_in_flight(mut self, limit: usize) -> Self {
        self.in_flight = Arc::new(Semaphore::new(limit));
        self.max_in_flight = limit;
        self
    }

    /// A place among the invocations in flight, or the refusal to send.
    pub(crate) fn admit(&self) -> Result<OwnedSemaphorePermit, InvocationError> {
        self.in_flight
            .clone()
            .try_acquire_owned()
            .map_err(|_| InvocationError::ServerBusy {
                details: "the server is serving as many invocations as it may; retry shortly"
                    .into(),
                retry_after_secs: 1,
            })
    }

    /// How many invocations are being served now.
    pub fn in_flight(&self) -> usize {
        self.max_in_flight
            .saturating_sub(self.in_flight.available_permits())
    }

    /// The span of one invocation: a server span (`otel.name` `POST /invocations`, or the
    /// `/ws` route) continuing the caller's trace, with the session in its baggage, and the
    /// trace and span ids as fields for the log lines within it.
    pub(crate) fn invocation_span(
        &self,
        route: &'static str,
        context: &RuntimeContext,
        headers: &HeaderMap,
    ) -> tracing::Span {
        let span = tracing::info_span!(
            "invocation",
            otel.name = if route == "/ws" { "GET /ws" } else { "POST /invocations" },
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            session_id = %context.session_id,
            request_id = %context.request_id,
            "http.route" = route,
            "http.response.status_code" = tracing::field::Empty,
            trace_id = tracing::field::Empty,
            span_id = tracing::field::Empty,
        );
        if let Some(trace_context) = &self.trace_context {
            trace_context.continue_in(
                &span,
                headers,
                context.session_id.as_str(),
                context.user_id.as_deref(),
            );
            crate::trace_context::record_ids(&span);
        }
        span
    }

    /// Sets the largest accepted request body.
    pub fn with_max_body_bytes(mut self, limit: usize) -> Self {
        self.max_body_bytes = limit;
        self
    }

    /// The health behind `/ping`: hold a [`crate::BusyGuard`] during background work, or
    /// force a status.
    pub fn health(&self) -> &Health {
        &self.health
    }

    /// Asks `handler` for `/ping`'s status (the reference's `@app.ping`); its `None` leaves it
    /// to the busy tracking.
    pub fn with_ping_handler(
        self,
        handler: impl Fn() -> Option<crate::health::Status> + Send + Sync + 'static,
    ) -> Self {
        self.health.set_ping_handler(handler);
        self
    }

    /// The entrypoint served.
    pub(crate) fn entrypoint(&self) -> &dyn Entrypoint {
        self.entrypoint.as_ref()
    }

    /// The routes of the contract.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/invocations", post(invocations))
            .route("/ping", get(ping))
            .route("/ws", get(crate::websocket::upgrade))
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .layer(DefaultBodyLimit::max(self.max_body_bytes))
            .with_state(self.clone())
    }

    /// Continues each caller's trace (`traceparent`, `tracestate`, `baggage`) in the invocation's
    /// spans and puts the session in their baggage: for a process that exports traces (the
    /// binary turns it on with OpenTelemetry). Off, no header is read for it.
    pub fn with_trace_propagation(mut self) -> Self {
        self.trace_context = Some(Arc::default());
        self
    }

    /// Sets how connections are held: header timeout, connection cap.
    pub fn with_edge(mut self, edge: EdgeConfig) -> Self {
        self.edge = edge;
        self
    }

    /// Serves on `listener` until `shutdown` completes, then lets in-flight invocations finish.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let edge = self.edge;
        crate::edge::serve(listener, self.router(), edge, shutdown).await
    }
}

/// Completes on SIGTERM or Ctrl-C: the signals AgentCore and a terminal send.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
    tracing::info!("shutdown requested; finishing in-flight invocations");
}

async fn invocations(
    State(app): State<AgentCoreApp>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    let admitted = match app.admit() {
        Ok(permit) => permit,
        Err(error) => return refuse(error, started),
    };
    let busy = app.health.track();
    let context = match context_of(&headers) {
        Ok(context) => context,
        Err(error) => return refuse(error, started),
    };
    let (session_id, request_id) = (context.session_id.clone(), context.request_id.clone());
    let span = app.invocation_span("/invocations", &context, &headers);
    let streaming = accepts_event_stream(&headers);
    let outcome = async {
        let payload = parse_payload(body, app.max_body_bytes)?;
        if streaming {
            app.entrypoint.invoke_streaming(payload, context).await
        } else {
            app.entrypoint.invoke(payload, context).await
        }
    }
    .instrument(span.clone())
    .await;

    let mut response = match outcome {
        Ok(Output::Value(value)) => json_response(&value),
        Ok(Output::Stream(items)) => event_stream_response(items, (busy, admitted)),
        Ok(Output::Response(response)) => response,
        Err(error) => {
            span.in_scope(
                || tracing::warn!(%error, error_type = error.kind(), "invocation failed"),
            );
            error.into_response()
        }
    };
    let status = response.status();
    span.record("http.response.status_code", status.as_u16());
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    span.in_scope(|| {
        tracing::info!(
            status = status.as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "invocation finished"
        )
    });
    report_invocation(status, started);
    let response_headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_bytes(session_id.as_str().as_bytes()) {
        response_headers.insert(SESSION_ID_HEADER, value);
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response_headers.insert(REQUEST_ID_HEADER, value);
    }
    response
}

/// An invocation answered before it began (server full, unusable headers), counted as one.
fn refuse(error: InvocationError, started: Instant) -> Response {
    let response = error.into_response();
    report_invocation(response.status(), started);
    response
}

/// An answered invocation, as metrics: `agentcore.invocations` by status and
/// `agentcore.invocation.duration` (to the start of the response, for a stream).
fn report_invocation(status: StatusCode, started: Instant) {
    tracing::event!(
        target: METRICS_TARGET,
        tracing::Level::INFO,
        monotonic_counter.agentcore.invocations = 1u64,
        "http.response.status_code" = status.as_u16(),
    );
    tracing::event!(
        target: METRICS_TARGET,
        tracing::Level::INFO,
        histogram.agentcore.invocation.duration = started.elapsed().as_secs_f64(),
        "http.response.status_code" = status.as_u16(),
    );
}

/// The context a request's headers give: session id (generated when absent), request id
/// (likewise), runtime user id, forwarded headers and AgentCore Identity's token and callback
/// URL. A `/ws` handshake gives it the same way.
pub(crate) fn context_of(headers: &HeaderMap) -> Result<RuntimeContext, InvocationError> {
    let session_id = session_id_of(headers)?;
    let user_id = user_id_of(headers)?;
    let request_id = header_text(headers, &REQUEST_ID_HEADER)
        .filter(|id| !id.is_empty())
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    let present = |name: &str| header_text(headers, name).filter(|value| !value.is_empty());
    Ok(RuntimeContext {
        session_id,
        request_id,
        user_id,
        request_headers: forwarded_headers(headers),
        workload_access_token: present(WORKLOAD_ACCESS_TOKEN_HEADER)
            .or_else(|| present(WORKLOAD_ACCESS_TOKEN_FALLBACK_HEADER))
            .map(str::to_owned),
        oauth2_callback_url: present(OAUTH2_CALLBACK_URL_HEADER).map(str::to_owned),
    })
}

/// True when the client lists `text/event-stream` in `Accept` (the starter toolkit sends
/// `text/event-stream, application/json`).
fn accepts_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|media| {
            media
                .split(';')
                .next()
                .is_some_and(|kind| kind.trim().eq_ignore_ascii_case("text/event-stream"))
        })
}

async fn ping(State(app): State<AgentCoreApp>) -> impl IntoResponse {
    Json(app.health.ping())
}

async fn not_found(uri: Uri) -> InvocationError {
    InvocationError::NotFound(format!(
        "no route {}; this runtime serves POST /invocations, GET /ping and GET /ws",
        uri.path()
    ))
}

async fn method_not_allowed(method: Method, uri: Uri) -> InvocationError {
    let allowed = if uri.path() == "/ping" { "GET" } else { "POST" };
    InvocationError::MethodNotAllowed(format!(
        "{method} {} is not served; use {allowed}",
        uri.path()
    ))
}

/// The session id from its header, or a new one when the header is absent.
fn session_id_of(headers: &HeaderMap) -> Result<SessionId, InvocationError> {
    let Some(value) = headers.get(&SESSION_ID_HEADER) else {
        return Ok(SessionId::generate());
    };
    let text = std::str::from_utf8(value.as_bytes()).map_err(|_| {
        InvocationError::InvalidSessionId("the session id header is not valid UTF-8".into())
    })?;
    SessionId::parse(text).map_err(|error| InvocationError::InvalidSessionId(error.to_string()))
}

/// The runtime user id, held to the same rules as a session id since it names sessions too.
fn user_id_of(headers: &HeaderMap) -> Result<Option<String>, InvocationError> {
    let Some(value) = headers.get(&USER_ID_HEADER) else {
        return Ok(None);
    };
    let text = std::str::from_utf8(value.as_bytes()).map_err(|_| {
        InvocationError::InvalidUserId("the user id header is not valid UTF-8".into())
    })?;
    SessionId::parse(text)
        .map(|_| Some(text.to_owned()))
        .map_err(|error| {
            InvocationError::InvalidUserId(error.to_string().replace("session id", "user id"))
        })
}

fn header_text(headers: &HeaderMap, name: impl AsHeaderName) -> Option<&str> {
    headers
        .get(name)
        .and_then(|value| std::str::from_utf8(value.as_bytes()).ok())
}

/// The forwardable headers; a repeated header's values joined with `, `, as HTTP reads them.
fn forwarded_headers(headers: &HeaderMap) -> BTreeMap<String, String> {
    let mut forwarded = BTreeMap::<String, String>::new();
    for (name, value) in headers {
        let (Some(key), Ok(value)) = (
            forwarded_header_key(name.as_str()),
            std::str::from_utf8(value.as_bytes()),
        ) else {
            continue;
        };
        forwarded
            .entry(key)
            .and_modify(|joined| {
                joined.push_str(", ");
                joined.push_str(value);
            })
            .or_insert_with(|| value.to_owned());
    }
    forwarded
}

/// The body as JSON whatever the Content-Type says, as the reference runtime reads it.
fn parse_payload(
    body: Result<Bytes, BytesRejection>,
    limit: usize,
) -> Result<Value, InvocationError> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            InvocationError::PayloadTooLarge { limit }
        } else {
            InvocationError::InvalidJson(format!(
                "the body could not be read: {}",
                rejection.body_text()
            ))
        }
    })?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(InvocationError::InvalidJson("the body is empty".into()));
    }
    serde_json::from_slice(&body).map_err(|error| InvocationError::InvalidJson(error.to_string()))
}

/// Items as server-sent events; the runtime stays busy until the stream ends or the client
/// goes away, and an error is sent as one last event, as the reference runtime frames it.
fn event_stream_response(
    items: BoxStream<'static, Result<Value, InvocationError>>,
    held: (BusyGuard, OwnedSemaphorePermit),
) -> Response {
    let events = items
        .scan(false, |failed, item| {
            if *failed {
                return std::future::ready(None);
            }
            let data = match item {
                Ok(value) => value,
                Err(error) => {
                    *failed = true;
                    tracing::warn!(%error, error_type = error.kind(), "stream failed");
                    error_value(&error)
                }
            };
            std::future::ready(Some(data))
        })
        .map(move |data| {
            let _held = &held;
            Ok::<_, Infallible>(Event::default().data(data.to_string()))
        });
    Sse::new(events).into_response()
}

/// `value` as a JSON body, UTF-8 unescaped.
fn json_response(value: &Value) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => ([(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(error) => {
            InvocationError::Internal(format!("the result could not be serialised: {error}"))
                .into_response()
        }
    }
}
