//! An OTLP receiver on a loopback port, in process: decodes what exporters send — over HTTP to
//! `/v1/traces` and `/v1/metrics`, or over gRPC to the trace service — with the
//! `opentelemetry-proto` types and keeps it for tests.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

/// What the receiver got so far.
#[derive(Default)]
struct Received {
    spans: Vec<Span>,
    service_names: Vec<String>,
    metric_names: Vec<String>,
}

/// A running receiver; stops with the test's runtime.
#[derive(Clone)]
pub(crate) struct OtlpReceiver {
    pub address: SocketAddr,
    received: Arc<Mutex<Received>>,
}

impl OtlpReceiver {
    pub(crate) async fn start() -> Self {
        let received = Arc::new(Mutex::new(Received::default()));
        let router = Router::new()
            .route("/v1/traces", post(traces))
            .route("/v1/metrics", post(metrics))
            .with_state(received.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { address, received }
    }

    /// A receiver of traces over gRPC (`OTEL_EXPORTER_OTLP_PROTOCOL=grpc`).
    pub(crate) async fn start_grpc() -> Self {
        let received = Arc::new(Mutex::new(Received::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let service = TraceServiceServer::new(GrpcTraces(received.clone()));
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
        );
        Self { address, received }
    }

    /// The endpoint to give exporters (`OTEL_EXPORTER_OTLP_ENDPOINT`).
    pub(crate) fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    pub(crate) fn spans(&self) -> Vec<Span> {
        self.received.lock().unwrap().spans.clone()
    }

    pub(crate) fn service_names(&self) -> Vec<String> {
        self.received.lock().unwrap().service_names.clone()
    }

    pub(crate) fn metric_names(&self) -> Vec<String> {
        self.received.lock().unwrap().metric_names.clone()
    }
}

async fn traces(State(received): State<Arc<Mutex<Received>>>, body: Bytes) -> Vec<u8> {
    let request = ExportTraceServiceRequest::decode(body).expect("an OTLP trace export");
    keep_traces(&received, request);
    Vec::new()
}

/// The gRPC trace service.
struct GrpcTraces(Arc<Mutex<Received>>);

#[tonic::async_trait]
impl TraceService for GrpcTraces {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        keep_traces(&self.0, request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn keep_traces(received: &Mutex<Received>, request: ExportTraceServiceRequest) {
    let mut received = received.lock().unwrap();
    for resource_spans in request.resource_spans {
        if let Some(resource) = &resource_spans.resource
            && let Some(name) = attribute(&resource.attributes, "service.name")
        {
            received.service_names.push(name);
        }
        for scope in resource_spans.scope_spans {
            received.spans.extend(scope.spans);
        }
    }
}

async fn metrics(State(received): State<Arc<Mutex<Received>>>, body: Bytes) -> Vec<u8> {
    let request = ExportMetricsServiceRequest::decode(body).expect("an OTLP metrics export");
    let mut received = received.lock().unwrap();
    for resource_metrics in request.resource_metrics {
        for scope in resource_metrics.scope_metrics {
            received
                .metric_names
                .extend(scope.metrics.into_iter().map(|metric| metric.name));
        }
    }
    Vec::new()
}

/// A string, integer, float or boolean attribute as text.
pub(crate) fn attribute(
    attributes: &[opentelemetry_proto::tonic::common::v1::KeyValue],
    key: &str,
) -> Option<String> {
    let value = attributes.iter().find(|kv| kv.key == key)?.value.as_ref()?;
    text(value)
}

/// An attribute's value as OTLP carries it, with its type.
fn typed<'a>(
    attributes: &'a [opentelemetry_proto::tonic::common::v1::KeyValue],
    key: &str,
) -> Option<&'a any_value::Value> {
    attributes
        .iter()
        .find(|kv| kv.key == key)?
        .value
        .as_ref()?
        .value
        .as_ref()
}

/// An attribute's value if, and only if, OTLP carries it as an integer: what the GenAI
/// conventions make token counts and attempts, and HTTP's make status codes.
pub(crate) fn int_attribute(
    attributes: &[opentelemetry_proto::tonic::common::v1::KeyValue],
    key: &str,
) -> Option<i64> {
    match typed(attributes, key)? {
        any_value::Value::IntValue(number) => Some(*number),
        _ => None,
    }
}

/// An attribute's value if, and only if, OTLP carries it as a double.
pub(crate) fn double_attribute(
    attributes: &[opentelemetry_proto::tonic::common::v1::KeyValue],
    key: &str,
) -> Option<f64> {
    match typed(attributes, key)? {
        any_value::Value::DoubleValue(number) => Some(*number),
        _ => None,
    }
}

fn text(value: &AnyValue) -> Option<String> {
    Some(match value.value.as_ref()? {
        any_value::Value::StringValue(text) => text.clone(),
        any_value::Value::IntValue(number) => number.to_string(),
        any_value::Value::DoubleValue(number) => number.to_string(),
        any_value::Value::BoolValue(flag) => flag.to_string(),
        _ => return None,
    })
}
