//! The AgentCore Runtime HTTP contract: `POST /invocations`, `GET /ping` and `GET /ws` around an
//! entrypoint.
//!
//! The routes own only what their transport says — a body and content negotiation for
//! `/invocations` ([`invocations`]), a socket of messages for `/ws` ([`websocket`]). Everything an
//! invocation needs whichever way it came is one [`invocation`] pipeline of tower layers
//! ([`layers`]): the runtime context and its ids, the invocation span, metrics and the finished
//! line, admission against the in-flight cap with busy tracking, and panics caught into a 500.
//! An entrypoint only sees a parsed payload and its [`RuntimeContext`](crate::RuntimeContext).

mod body;
mod fallback;
pub(crate) mod health;
mod invocation;
mod invocations;
mod layers;
mod response;
mod websocket;

use std::future::Future;
use std::sync::Arc;

use axum::routing::{get, post};
use axum::{Router, middleware};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use self::health::Health;
use self::invocation::{Pipeline, RouteState};
use self::layers::{ContextLayerState, StageLayer};
use crate::auth::Authorizer;
use crate::entrypoint::Entrypoint;
use crate::observability::invocation_metrics::InvocationMetrics;
use crate::observability::trace_context::TraceContext;
use crate::serving::edge::EdgeConfig;

/// Default largest accepted request body: 100 MiB, so every payload AgentCore accepts (up to
/// 100 MB) is served.
pub const DEFAULT_MAX_BODY_BYTES: usize = 100 * 1024 * 1024;
/// Default cap on invocations served at once.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 1_000;

/// The default body budget: a quarter of the memory limit (the container's, else the machine's),
/// leaving the rest for the payloads parsed from them, sessions and the process; 1 GiB when no
/// limit can be read.
pub fn default_body_budget() -> usize {
    crate::serving::memory_limit::memory_limit().map_or(1 << 30, |limit| {
        usize::try_from(limit / 4).unwrap_or(usize::MAX)
    })
}

/// An AgentCore runtime serving one entrypoint; cheap to clone.
#[derive(Clone)]
pub struct AgentCoreApp {
    entrypoint: Arc<dyn Entrypoint>,
    health: Health,
    max_body_bytes: usize,
    /// The budget for all request bodies in flight, in bytes; `None` for the default.
    body_budget: Option<usize>,
    /// One permit per invocation being served; none left means the server is full.
    in_flight: Arc<Semaphore>,
    max_in_flight: usize,
    edge: EdgeConfig,
    /// Continues callers' traces, when telemetry is on.
    trace_context: Option<Arc<TraceContext>>,
    /// Verifies callers' bearer tokens, when inbound auth is on.
    authorizer: Option<Authorizer>,
}

impl AgentCoreApp {
    /// A runtime around `entrypoint` with the default limits.
    pub fn new(entrypoint: impl Entrypoint) -> Self {
        Self {
            entrypoint: Arc::new(entrypoint),
            health: Health::default(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            body_budget: None,
            in_flight: Arc::new(Semaphore::new(DEFAULT_MAX_IN_FLIGHT)),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            edge: EdgeConfig::default(),
            trace_context: None,
            authorizer: None,
        }
    }

    /// Sets how many invocations are served at once; one more is refused at once with 503
    /// `Server busy`, rather than queued without bound.
    pub fn with_max_in_flight(mut self, limit: usize) -> Self {
        self.in_flight = Arc::new(Semaphore::new(limit));
        self.max_in_flight = limit;
        self
    }

    /// How many invocations are being served now.
    pub fn in_flight(&self) -> usize {
        self.max_in_flight
            .saturating_sub(self.in_flight.available_permits())
    }

    /// Sets the largest accepted request body.
    pub fn with_max_body_bytes(mut self, limit: usize) -> Self {
        self.max_body_bytes = limit;
        self
    }

    /// Sets the memory budget of all request bodies being received and parsed at once, in
    /// bytes; a body that would pass it is refused with 503 `Server busy` before it is read.
    /// By default a quarter of the memory limit ([`default_body_budget`]).
    pub fn with_body_budget(mut self, bytes: usize) -> Self {
        self.body_budget = Some(bytes);
        self
    }

    /// The body budget in force, in bytes.
    pub fn body_budget(&self) -> usize {
        self.body_budget.unwrap_or_else(default_body_budget)
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
        handler: impl Fn() -> Option<health::Status> + Send + Sync + 'static,
    ) -> Self {
        self.health.set_ping_handler(handler);
        self
    }

    /// Traces each invocation: a server span continuing the caller's trace (`traceparent`,
    /// `tracestate`, `baggage`), the session in its baggage, for a process that exports traces
    /// (the binary turns it on with OpenTelemetry). The tracer is the global provider's as it
    /// is now, so install the provider first. Off, no header is read for it and no span made.
    pub fn with_trace_propagation(mut self) -> Self {
        self.trace_context = Some(Arc::new(TraceContext::from_global()));
        self
    }

    /// Requires every invocation (`/invocations` and the `/ws` handshake; not `/ping`) to
    /// carry a bearer token that `authorizer` verifies: 401 without one, 403 when the request
    /// names another user than the token's. The verified caller owns the sessions it reaches
    /// and reaches the entrypoint and its tools as [`RuntimeContext::caller`](crate::RuntimeContext).
    pub fn with_auth(mut self, authorizer: Authorizer) -> Self {
        self.authorizer = Some(authorizer);
        self
    }

    /// Sets how connections are held: header timeout, connection cap.
    pub fn with_edge(mut self, edge: EdgeConfig) -> Self {
        self.edge = edge;
        self
    }

    /// The routes of the contract: `/invocations` and `/ws` behind the runtime-context layer,
    /// every route behind one that turns a panic into a JSON 500.
    pub fn router(&self) -> Router {
        let metrics = Arc::new(InvocationMetrics::from_global());
        let state = RouteState {
            pipeline: self.pipeline(metrics.clone()),
            bodies: body::BodyBudget::new(self.body_budget(), self.max_body_bytes),
        };
        let invocations = Router::new()
            .route("/invocations", post(invocations::invoke))
            .route("/ws", get(websocket::upgrade))
            .route_layer(middleware::from_fn_with_state(
                ContextLayerState {
                    metrics,
                    authorizer: self.authorizer.clone(),
                },
                layers::runtime_context,
            ))
            .with_state(state);
        Router::new()
            .route("/ping", get(health::ping))
            .with_state(self.health.clone())
            .merge(invocations)
            .fallback(fallback::not_found)
            .method_not_allowed_fallback(fallback::method_not_allowed)
            .layer(layers::catch_panic())
    }

    /// Serves on `listener` until `shutdown` completes, then lets in-flight invocations finish.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let edge = self.edge;
        crate::serving::edge::serve(listener, self.router(), edge, shutdown).await
    }

    /// The invocation pipeline both routes share, outermost layer first.
    fn pipeline(&self, metrics: Arc<InvocationMetrics>) -> Pipeline {
        let pipeline = tower::ServiceBuilder::new()
            .layer(StageLayer(layers::Observe::new(
                self.trace_context.clone(),
                metrics,
            )))
            .layer(StageLayer(layers::CatchPanic))
            .layer(StageLayer(layers::Admit::new(
                self.in_flight.clone(),
                self.health.clone(),
            )))
            .service(invocation::Run::new(self.entrypoint.clone()));
        Pipeline::new(pipeline)
    }
}
