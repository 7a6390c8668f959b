//! `--cloudfront-limits`: CloudFront's in-progress limits, enforced on the wire in front of a
//! local endpoint.
//!
//! moto accepts every CreateInvalidation and answers every invalidation as completed at once
//! (status `COMPLETED`; it also never returns the existing invalidation for a CallerReference
//! used before, and lists the oldest first where CloudFront lists the newest first). Against
//! it a storm never meets a full distribution, so neither the state machine's deferral nor the
//! dispatcher would ever run. This layer sits between the CloudFront client and the endpoint,
//! as an [`HttpClient`] wrapping the real one, and makes the endpoint behave as CloudFront does
//! under load:
//!
//! - an invalidation stays in progress for the configured time after it was created;
//! - a CreateInvalidation that would put more than 3,000 file paths or 15 wildcard paths in
//!   progress is answered `400 TooManyInvalidationsInProgress`, CloudFront's error, and never
//!   reaches the endpoint;
//! - a CallerReference sent again does not add to what is in progress (CloudFront returns the
//!   existing invalidation), though moto records it again;
//! - CreateInvalidation, GetInvalidation and ListInvalidations answers carry the status this
//!   layer keeps (`InProgress`, then `Completed`) instead of moto's `COMPLETED`.
//!
//! The handlers are untouched: they send real requests and parse real answers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use purgeflow_tasks::paths::{CLOUDFRONT_MAX_PATHS_PER_BATCH, CLOUDFRONT_MAX_WILDCARD_PATHS};

/// CloudFront's status of an invalidation that has not finished, and of one that has.
const IN_PROGRESS: &str = "InProgress";
const COMPLETED: &str = "Completed";

/// What is, or was, in progress, shared by every client built with the same limits.
#[derive(Debug, Default)]
struct State {
    /// Invalidation id → the invalidation it counts as (a CallerReference sent again gets
    /// moto's new id, mapped to the first one's timing).
    by_id: HashMap<String, Held>,
    /// CallerReference → when it was first created and what it holds.
    by_reference: HashMap<String, Held>,
    /// Requests accepted but not yet answered: their load is reserved.
    reserved: Vec<(u64, Load)>,
    next_reservation: u64,
    /// CreateInvalidation refused by the limits, for the run's figures.
    refused: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Load {
    paths: usize,
    wildcards: usize,
}

#[derive(Debug, Clone, Copy)]
struct Held {
    created: Instant,
    load: Load,
}

/// CloudFront's limits in front of an endpoint. Clone it to share the state between clients.
#[derive(Debug, Clone)]
pub struct CloudFrontLimits {
    /// How long an invalidation stays in progress.
    pub hold: Duration,
    state: Arc<Mutex<State>>,
}

impl CloudFrontLimits {
    pub fn new(hold: Duration) -> Self {
        CloudFrontLimits {
            hold,
            state: Arc::default(),
        }
    }

    /// An HTTP client that enforces the limits in front of `inner`.
    pub fn wrap(&self, inner: SharedHttpClient) -> SharedHttpClient {
        SharedHttpClient::new(LimitsClient {
            inner,
            limits: self.clone(),
        })
    }

    /// A CloudFront client for `sdk` (reporting to `interceptor`) behind these limits. Only for
    /// a local endpoint (plain HTTP): CloudFront itself enforces its limits.
    pub fn client(
        &self,
        sdk: &aws_config::SdkConfig,
        interceptor: Option<aws_smithy_runtime_api::client::interceptors::SharedInterceptor>,
    ) -> anyhow::Result<aws_sdk_cloudfront::Client> {
        if !sdk
            .endpoint_url()
            .is_some_and(|url| url.starts_with("http://"))
        {
            anyhow::bail!(
                "--cloudfront-limits stands in for CloudFront's limits in front of a local endpoint (http://...); CloudFront itself enforces them"
            );
        }
        let inner = sdk
            .http_client()
            .unwrap_or_else(|| aws_smithy_http_client::Builder::new().build_http());
        let mut builder =
            aws_sdk_cloudfront::config::Builder::from(sdk).http_client(self.wrap(inner));
        if let Some(interceptor) = interceptor {
            builder.push_interceptor(interceptor);
        }
        Ok(aws_sdk_cloudfront::Client::from_conf(builder.build()))
    }

    /// CreateInvalidation requests refused so far.
    pub fn refused(&self) -> u64 {
        self.state.lock().map(|s| s.refused).unwrap_or_default()
    }

    /// File paths and wildcards in progress now (what has been created, plus what is being
    /// created).
    fn load(&self, state: &State, now: Instant) -> Load {
        let mut load = Load::default();
        let held = state
            .by_reference
            .values()
            .filter(|held| now.duration_since(held.created) < self.hold)
            .map(|held| held.load);
        for one in held.chain(state.reserved.iter().map(|(_, load)| *load)) {
            load.paths += one.paths;
            load.wildcards += one.wildcards;
        }
        load
    }

    fn status(&self, state: &State, id: &str, now: Instant) -> &'static str {
        match state.by_id.get(id) {
            Some(held) if now.duration_since(held.created) < self.hold => IN_PROGRESS,
            _ => COMPLETED,
        }
    }
}

#[derive(Debug)]
struct LimitsClient {
    inner: SharedHttpClient,
    limits: CloudFrontLimits,
}

impl HttpClient for LimitsClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(LimitsConnector {
            inner: self.inner.http_connector(settings, components),
            limits: self.limits.clone(),
        })
    }
}

#[derive(Debug)]
struct LimitsConnector {
    inner: SharedHttpConnector,
    limits: CloudFrontLimits,
}

/// The CloudFront operations this layer looks at, from the request line.
#[derive(Debug, PartialEq, Eq)]
enum Operation {
    Create,
    List,
    Get,
    Other,
}

fn operation(method: &str, uri: &str) -> Operation {
    let path = uri.split('?').next().unwrap_or(uri);
    let Some(rest) = path.split_once("/distribution/").map(|(_, rest)| rest) else {
        return Operation::Other;
    };
    let parts: Vec<&str> = rest.split('/').collect();
    match (method, parts.as_slice()) {
        ("POST", [_, "invalidation"]) => Operation::Create,
        ("GET", [_, "invalidation"]) => Operation::List,
        ("GET", [_, "invalidation", _]) => Operation::Get,
        _ => Operation::Other,
    }
}

/// The text of every `<tag>...</tag>` in `xml`, in order.
fn elements<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut found = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else {
            break;
        };
        found.push(&after[..end]);
        rest = &after[end + close.len()..];
    }
    found
}

/// `xml` with the `<Status>` of each invalidation (each `<Id>` followed by its `<Status>`)
/// replaced by what `status` says.
fn restatus(xml: &str, status: impl Fn(&str) -> &'static str) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    let mut current: Option<String> = None;
    loop {
        let next_id = rest.find("<Id>");
        let next_status = rest.find("<Status>");
        match (next_id, next_status) {
            (Some(i), s) if s.is_none_or(|s| i < s) => {
                let after = &rest[i + 4..];
                let end = after.find("</Id>").unwrap_or(0);
                current = Some(after[..end].to_owned());
                out.push_str(&rest[..i + 4 + end]);
                rest = &rest[i + 4 + end..];
            }
            (_, Some(s)) => {
                let after = &rest[s + 8..];
                let end = after.find("</Status>").unwrap_or(0);
                out.push_str(&rest[..s + 8]);
                match current.take() {
                    Some(id) => out.push_str(status(&id)),
                    None => out.push_str(&after[..end]),
                }
                rest = &after[end..];
            }
            _ => {
                out.push_str(rest);
                return out;
            }
        }
    }
}

fn refusal(load: Load, asked: Load) -> HttpResponse {
    let body = format!(
        "<?xml version=\"1.0\"?>\n<ErrorResponse xmlns=\"http://cloudfront.amazonaws.com/doc/2020-05-31/\"><Error><Type>Sender</Type><Code>TooManyInvalidationsInProgress</Code><Message>Processing your request will cause you to exceed the maximum number of in-progress wildcard invalidations or in-progress invalidations of file paths: {} file paths and {} wildcards in progress, {} and {} asked (purgeflow local --cloudfront-limits)</Message></Error><RequestId>purgeflow-local-limits</RequestId></ErrorResponse>",
        load.paths, load.wildcards, asked.paths, asked.wildcards
    );
    let mut response = HttpResponse::new(
        StatusCode::try_from(400).expect("a valid status"),
        SdkBody::from(body),
    );
    response.headers_mut().insert("content-type", "text/xml");
    response
}

/// `response` with its body replaced by `body`.
fn with_body(mut response: HttpResponse, body: String) -> HttpResponse {
    response.headers_mut().remove("content-length");
    response
        .headers_mut()
        .insert("content-length", body.len().to_string());
    *response.body_mut() = SdkBody::from(body);
    response
}

async fn body_text(response: &mut HttpResponse) -> Result<String, ConnectorError> {
    let body = response.take_body();
    let bytes = ByteStream::new(body)
        .collect()
        .await
        .map_err(|e| ConnectorError::io(e.into()))?
        .into_bytes();
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

impl HttpConnector for LimitsConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let op = operation(request.method(), request.uri());
        if op == Operation::Other {
            return self.inner.call(request);
        }
        let inner = self.inner.clone();
        let limits = self.limits.clone();
        HttpConnectorFuture::new(async move {
            let mut reservation = None;
            if op == Operation::Create {
                let xml = request
                    .body()
                    .bytes()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default();
                let paths = elements(&xml, "Path");
                let wildcards = paths.iter().filter(|p| p.ends_with('*')).count();
                let asked = Load {
                    paths: paths.len() - wildcards,
                    wildcards,
                };
                let reference = elements(&xml, "CallerReference")
                    .first()
                    .map(|r| (*r).to_owned())
                    .unwrap_or_default();
                let now = Instant::now();
                let mut state = limits.state.lock().expect("limits state");
                if let Some(held) = state.by_reference.get(&reference).copied() {
                    reservation = Some((reference, None, held));
                } else {
                    let load = limits.load(&state, now);
                    if load.paths + asked.paths > CLOUDFRONT_MAX_PATHS_PER_BATCH
                        || load.wildcards + asked.wildcards > CLOUDFRONT_MAX_WILDCARD_PATHS
                    {
                        state.refused += 1;
                        return Ok(refusal(load, asked));
                    }
                    let token = state.next_reservation;
                    state.next_reservation += 1;
                    state.reserved.push((token, asked));
                    let held = Held {
                        created: now,
                        load: asked,
                    };
                    reservation = Some((reference, Some(token), held));
                }
            }
            let answer = inner.call(request).await;
            let mut response = match answer {
                Ok(response) => response,
                Err(err) => {
                    if let Some((_, Some(token), _)) = &reservation {
                        let mut state = limits.state.lock().expect("limits state");
                        state.reserved.retain(|(t, _)| t != token);
                    }
                    return Err(err);
                }
            };
            let ok = response.status().is_success();
            let text = body_text(&mut response).await?;
            let now = Instant::now();
            let mut state = limits.state.lock().expect("limits state");
            if let Some((reference, token, held)) = reservation {
                if let Some(token) = token {
                    state.reserved.retain(|(t, _)| *t != token);
                }
                if ok {
                    if let Some(id) = elements(&text, "Id").first() {
                        state.by_id.insert((*id).to_owned(), held);
                    }
                    state.by_reference.entry(reference).or_insert(held);
                }
            }
            let text = if ok {
                restatus(&text, |id| limits.status(&state, id, now))
            } else {
                text
            };
            Ok(with_body(response, text))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_operations_are_told_apart_by_their_request_line() {
        let base = "http://127.0.0.1:5000/2020-05-31/distribution/E1";
        assert_eq!(
            operation("POST", &format!("{base}/invalidation")),
            Operation::Create
        );
        assert_eq!(
            operation("GET", &format!("{base}/invalidation?MaxItems=100")),
            Operation::List
        );
        assert_eq!(
            operation("GET", &format!("{base}/invalidation")),
            Operation::List
        );
        assert_eq!(
            operation("GET", &format!("{base}/invalidation/I1")),
            Operation::Get
        );
        assert_eq!(operation("GET", base), Operation::Other);
    }

    #[test]
    fn statuses_are_rewritten_per_invalidation() {
        let xml = "<InvalidationList><Items><InvalidationSummary><Id>A</Id><CreateTime>t</CreateTime><Status>COMPLETED</Status></InvalidationSummary><InvalidationSummary><Id>B</Id><Status>COMPLETED</Status></InvalidationSummary></Items></InvalidationList>";
        let out = restatus(xml, |id| if id == "A" { IN_PROGRESS } else { COMPLETED });
        assert_eq!(
            out,
            xml.replacen("COMPLETED", "InProgress", 1)
                .replacen("COMPLETED", "Completed", 1)
        );
        assert_eq!(elements(&out, "Id"), ["A", "B"]);
    }
}
