//! Throughput limits at the HTTP edge: the burst limit as a middleware on every management
//! route (publish, enqueue, batch, trigger, notify, wait and workflow webhooks are exempt, as
//! on the hosted service), and the daily quota counted by the publish handlers per message.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use axum::extract::Request;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use tower::Service;

use super::error::{limit_headers, ApiError, LimitKind};
use super::AppState;
use crate::engine::quota::LimitState;
use crate::engine::TenantId;

/// Route families without a burst limit.
const EXEMPT: [&str; 7] = [
    "publish", "enqueue", "batch", "trigger", "notify", "wait", "dev",
];

/// The one layer in front of every route: the header-size bound, then the burst limit. A
/// hand-written service around the whole router rather than an axum `from_fn` layer, which
/// wraps every route and costs a boxed clone of it and a boxed future on every request.
#[derive(Clone)]
pub struct Edge<S> {
    inner: S,
    state: AppState,
}

impl<S> Edge<S> {
    pub fn new(inner: S, state: AppState) -> Self {
        Self { inner, state }
    }
}

/// What the edge decides before the route runs.
enum Check {
    Pass,
    /// Counted against the burst limit: the route runs and its answer gets these headers.
    Count(LimitState),
    Refuse(Response),
}

impl<S> Edge<S> {
    fn check(&self, req: &Request) -> Check {
        if let Some(refused) = super::head::refusal(req.headers()) {
            return Check::Refuse(refused);
        }
        let path = req.uri().path();
        let family = path
            .strip_prefix("/v2/")
            .and_then(|p| p.split('/').next())
            .unwrap_or("");
        // Webhooks take no token; a caller's own `Authorization` must not count against a tenant.
        let hook = path.starts_with("/v2/workflows/hooks/");
        if family.is_empty() || EXEMPT.contains(&family) || hook {
            return Check::Pass;
        }
        let token = super::auth::token_in(req.headers(), req.uri());
        let Some(t) = token.and_then(|t| self.state.engine.authenticate(&t)) else {
            return Check::Pass;
        };
        match self.state.engine.take_burst(t) {
            None => Check::Pass,
            Some(s) if !s.allowed => {
                Check::Refuse(ApiError::Limited(LimitKind::Burst, s).into_response())
            }
            Some(s) => Check::Count(s),
        }
    }
}

impl<S> Service<Request> for Edge<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = EdgeFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        match self.check(&req) {
            Check::Pass => EdgeFuture::Route {
                future: self.inner.call(req),
                limit: None,
            },
            Check::Count(s) => EdgeFuture::Route {
                future: self.inner.call(req),
                limit: Some(s),
            },
            Check::Refuse(response) => EdgeFuture::Refused {
                response: Some(response),
            },
        }
    }
}

pin_project_lite::pin_project! {
    /// The route's answer (with the burst headers when counted), or the edge's refusal.
    #[project = EdgeProj]
    pub enum EdgeFuture<F> {
        Route { #[pin] future: F, limit: Option<LimitState> },
        Refused { response: Option<Response> },
    }
}

impl<F> Future for EdgeFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            EdgeProj::Route { future, limit } => {
                let mut resp = ready!(future.poll(cx))?;
                if let Some(s) = limit.take() {
                    limit_headers(resp.headers_mut(), LimitKind::Burst, &s);
                }
                Poll::Ready(Ok(resp))
            }
            // Polled again after it answered: a contract breach; it never answers twice.
            EdgeProj::Refused { response } => match response.take() {
                Some(r) => Poll::Ready(Ok(r)),
                None => Poll::Pending,
            },
        }
    }
}

/// Counts `n` messages against the daily quota; the headers to send on success.
pub fn daily(state: &AppState, t: TenantId, n: u64) -> Result<HeaderMap, ApiError> {
    let mut headers = HeaderMap::new();
    if let Some(s) = state.engine.take_daily(t, n) {
        if !s.allowed {
            return Err(ApiError::Limited(LimitKind::Daily, s));
        }
        limit_headers(&mut headers, LimitKind::Daily, &s);
    }
    Ok(headers)
}
