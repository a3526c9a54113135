//! The one layer in front of every route: where the request comes from (`guard`), the
//! header-size bound (`head`), then the burst limit (`limits`); and after it, with
//! `-persist`, the wait until what a write request changed is on disk before its 2xx goes out. A hand-written service around
//! the whole router rather than an axum `from_fn` layer, which wraps every route and costs a
//! boxed clone of it and a boxed future on every request.

pub(crate) mod guard;
pub(crate) mod head;
pub(crate) mod limits;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use tower::Service;

use crate::api::error::{limit_headers, LimitKind};
use crate::api::AppState;
use crate::engine::limits::quota::LimitState;
use crate::persist::Journal;
use guard::{Guard, Verdict};

#[derive(Clone)]
pub(crate) struct Edge<S> {
    inner: S,
    state: AppState,
    guard: Arc<Guard>,
}

impl<S> Edge<S> {
    pub(crate) fn new(inner: S, state: AppState) -> Self {
        let guard = Arc::new(Guard::new(state.engine.config()));
        Self {
            inner,
            state,
            guard,
        }
    }
}

/// What the edge adds to the route's answer.
#[derive(Default)]
pub(crate) struct Extra {
    /// Counted against the burst limit: the answer gets these headers.
    limit: Option<LimitState>,
    /// An allowed cross-origin request: the answer gets its CORS headers.
    cors: Option<HeaderValue>,
    /// A write request with `-persist`: a 2xx waits until its changes are committed.
    durable: bool,
}

/// Methods that change nothing, so their answers never wait for the disk.
fn reads(m: &axum::http::Method) -> bool {
    use axum::http::Method;
    matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// What the edge decides before the route runs.
enum Check {
    /// The request goes on to its route; the answer gets the extras.
    Route(Extra),
    /// The edge answers itself.
    Answer(Response),
}

impl<S> Edge<S> {
    fn check(&self, req: &Request) -> Check {
        let cors = match self.guard.check(req) {
            Verdict::Answer(response) => return Check::Answer(response),
            Verdict::Cors(origin) => Some(origin),
            Verdict::Pass => None,
        };
        let refused = match crate::api::edge::head::refusal(req.headers()) {
            Some(refused) => refused,
            None => match crate::api::edge::limits::burst(&self.state, req) {
                Ok(limit) => {
                    let durable = self.state.journal.is_some() && !reads(req.method());
                    return Check::Route(Extra {
                        limit,
                        cors,
                        durable,
                    });
                }
                Err(e) => e.into_response(),
            },
        };
        // An allowed origin reads the refusal's JSON rather than an opaque network error.
        let mut resp = refused;
        if let Some(origin) = cors {
            guard::allow(resp.headers_mut(), origin);
        }
        Check::Answer(resp)
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
            Check::Route(extra) => EdgeFuture::Route {
                future: self.inner.call(req),
                extra,
                journal: self.state.journal.clone(),
            },
            Check::Answer(response) => EdgeFuture::Refused {
                response: Some(response),
            },
        }
    }
}

pin_project_lite::pin_project! {
    /// The route's answer (with the edge's extra headers), or the edge's own answer.
    #[project = EdgeProj]
    pub(crate) enum EdgeFuture<F> {
        Route { #[pin] future: F, extra: Extra, journal: Option<Arc<Journal>> },
        /// A write's 2xx, held until its changes are committed.
        Durable { response: Option<Response>, wait: Pin<Box<dyn Future<Output = ()> + Send>> },
        Refused { response: Option<Response> },
    }
}

impl<F> Future for EdgeFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.as_mut().project() {
            EdgeProj::Route {
                future,
                extra,
                journal,
            } => {
                let mut resp = ready!(future.poll(cx))?;
                if let Some(s) = extra.limit.take() {
                    limit_headers(resp.headers_mut(), LimitKind::Burst, &s);
                }
                if let Some(origin) = extra.cors.take() {
                    guard::allow(resp.headers_mut(), origin);
                }
                match journal.take() {
                    Some(j) if extra.durable && resp.status().is_success() => {
                        let wait = Box::pin(j.durable());
                        self.set(EdgeFuture::Durable {
                            response: Some(resp),
                            wait,
                        });
                        self.poll(cx)
                    }
                    _ => Poll::Ready(Ok(resp)),
                }
            }
            EdgeProj::Durable { response, wait } => {
                ready!(wait.as_mut().poll(cx));
                match response.take() {
                    Some(r) => Poll::Ready(Ok(r)),
                    None => Poll::Pending,
                }
            }
            // Polled again after it answered: a contract breach; it never answers twice.
            EdgeProj::Refused { response } => match response.take() {
                Some(r) => Poll::Ready(Ok(r)),
                None => Poll::Pending,
            },
        }
    }
}
