//! What a connection's stall timer looks at: whether bytes moved since it last looked, and
//! whether the server (a handler running on a fully received request) or the client (the next
//! request, the rest of a body, reading a response) owes the next byte. Three wrappers feed
//! it: around the socket, around each request's handling and around each request's body. They
//! cost relaxed stores and a reference count or two per request, never a timer or an
//! allocation.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use bytes::Bytes;
use hyper::body::{Frame, Incoming, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tower::util::Oneshot;
use tower::ServiceExt as _;

/// One connection's activity, shared by its socket, its requests and its stall timer.
#[derive(Default)]
pub(crate) struct Activity {
    /// A byte was read or written since the stall timer last looked.
    moved: AtomicBool,
    /// A request is being handled (from the handler's call to the end of its future).
    handling: AtomicBool,
    /// That request's body has not all arrived: the client owes it.
    body_pending: AtomicBool,
}

impl Activity {
    /// True when no byte moved since the last call and the server owes nothing: the
    /// connection waits on its client. A handler that works for minutes on a complete request
    /// (`/dev/wait-idle`) is never quiet; a client that stops sending a body, or stops reading
    /// a response, is.
    pub(crate) fn quiet(&self) -> bool {
        let moved = self.moved.swap(false, Relaxed);
        let server_owes = self.handling.load(Relaxed) && !self.body_pending.load(Relaxed);
        !moved && !server_owes
    }

    fn moved(&self) {
        self.moved.store(true, Relaxed);
    }
}

/// The socket, noting every byte that moves.
pub(crate) struct Watched {
    io: TcpStream,
    activity: Arc<Activity>,
}

impl Watched {
    pub(crate) fn new(io: TcpStream, activity: Arc<Activity>) -> Self {
        Self { io, activity }
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.io).poll_read(cx, buf);
        if buf.filled().len() != before {
            self.activity.moved();
        }
        read
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let written = Pin::new(&mut self.io).poll_write(cx, buf);
        if matches!(written, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.moved();
        }
        written
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let written = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if matches!(written, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.moved();
        }
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// The app as hyper calls it on one connection: gives handlers the peer's address
/// (`ConnectInfo`, for `Upstash-Caller-Ip`) and tells the connection's [`Activity`] when a
/// request is being handled. Per request it does what `axum::serve` did (a clone of the app
/// and `oneshot`), plus relaxed stores and a reference count (two for a request with a body).
pub(crate) struct Handler<S> {
    app: S,
    peer: SocketAddr,
    activity: Arc<Activity>,
}

impl<S> Handler<S> {
    pub(crate) fn new(app: S, peer: SocketAddr, activity: Arc<Activity>) -> Self {
        Self {
            app,
            peer,
            activity,
        }
    }
}

impl<S> hyper::service::Service<http::Request<Incoming>> for Handler<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Handling<Oneshot<S, Request>>;

    fn call(&self, req: http::Request<Incoming>) -> Self::Future {
        let (mut parts, body) = req.into_parts();
        parts.extensions.insert(ConnectInfo(self.peer));
        let pending = !hyper::body::Body::is_end_stream(&body);
        self.activity.body_pending.store(pending, Relaxed);
        self.activity.handling.store(true, Relaxed);
        let body = match pending {
            true => Body::new(Tracked {
                body,
                activity: self.activity.clone(),
            }),
            false => Body::new(body),
        };
        Handling {
            future: self.app.clone().oneshot(Request::from_parts(parts, body)),
            _guard: Guard(self.activity.clone()),
        }
    }
}

pin_project_lite::pin_project! {
    /// A request's handling; when it ends (answered or dropped), the server owes nothing.
    pub(crate) struct Handling<F> {
        #[pin]
        future: F,
        _guard: Guard,
    }
}

impl<F: Future> Future for Handling<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.project().future.poll(cx)
    }
}

pub(crate) struct Guard(Arc<Activity>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.handling.store(false, Relaxed);
    }
}

/// A request body that says when it has all arrived (or is dropped unread: then the handler
/// no longer waits for it, and the server owes the answer).
struct Tracked {
    body: Incoming,
    activity: Arc<Activity>,
}

impl hyper::body::Body for Tracked {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let frame = Pin::new(&mut self.body).poll_frame(cx);
        let ended = matches!(frame, Poll::Ready(None | Some(Err(_))));
        if ended || self.body.is_end_stream() {
            self.activity.body_pending.store(false, Relaxed);
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.activity.body_pending.store(false, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_only_when_nothing_moved_and_the_server_owes_nothing() {
        let a = Activity::default();
        assert!(a.quiet(), "a fresh connection waits on its client");
        a.moved();
        assert!(!a.quiet(), "bytes moved since the last look");
        assert!(a.quiet(), "looking resets it");
        a.handling.store(true, Relaxed);
        a.body_pending.store(true, Relaxed);
        assert!(
            a.quiet(),
            "a handler waiting for a stalled body waits on the client"
        );
        a.body_pending.store(false, Relaxed);
        assert!(
            !a.quiet(),
            "a handler working on a complete request is not stalled"
        );
    }

    #[test]
    fn the_guard_ends_handling() {
        let a = Arc::new(Activity::default());
        a.handling.store(true, Relaxed);
        drop(Guard(a.clone()));
        assert!(a.quiet());
    }
}
