//! The guest's outgoing HTTP requests over kept-alive, pooled connections.
//!
//! The component's remote backend sends one `POST /v2/pipeline` per store operation
//! through `wasi:http/outgoing-handler`. wasmtime's default handler opens a new TCP (and
//! TLS) connection for every request and closes it after the answer; this one keeps the
//! connection open and hands it to the next request for the same server.
//!
//! # What is pooled
//!
//! HTTP/1.1 connections, plain or TLS, per scheme, host and port, shared by every store
//! (and every instance) that one [`Runtime`](crate::Runtime) opens:
//!
//! - a connection goes back to the pool only once its answer has been read to the end; one
//!   whose answer was abandoned (a call that ran out of `SESSIONS_REMOTE_TIMEOUT`, an answer
//!   over `SESSIONS_REMOTE_MAX_RESPONSE`) or that the server asked to close is closed;
//! - at most [`PoolSettings::max_idle_per_host`] idle connections are kept per server
//!   (default [`MAX_IDLE_PER_HOST`]); each is closed once unused for
//!   [`PoolSettings::idle_timeout`] (default [`IDLE_TIMEOUT`], below the 60 s idle limit of
//!   common load balancers, so the pool gives up a connection before a proxy drops it);
//! - a connection the server closed (a restart, its own idle limit) before the next request
//!   is noticed and not used, and a request that found its pooled connection closed before
//!   any of it was sent is sent again on a new one: a server restart between two calls
//!   costs no error. Only a close that crosses a request already on its way fails that
//!   request (as `HttpProtocolError`, which the component reports as `unavailable`); the
//!   idle timeout, shorter than servers' own, keeps that rare.
//!
//! Connections belong to the tokio runtime that opened them (its tasks drive their I/O),
//! so the pool keeps one client per runtime (and per connect timeout, under which the
//! client opens its connections); a runtime's clients and their connections go when that
//! runtime shuts down.
//!
//! # Time and errors
//!
//! The guest's `request-options` bound each request as wasmtime's default does, 600 s for
//! any it leaves unset: the connect timeout bounds opening the TCP connection, the answer's
//! head must come within the connect and first-byte timeouts together (a pooled connection
//! needs no connecting), and the between-bytes timeout bounds each wait for more of the
//! body. The component's own deadline for a whole call (`SESSIONS_REMOTE_TIMEOUT`) runs in
//! the guest and ends the request when it passes, whatever these are. Failures are the
//! `wasi:http` error codes the default handler gives for the same failure.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::uri::Scheme;
use http::{Request, Response, Uri};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt as _;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::pki_types::{InvalidDnsNameError, ServerName};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use wasmtime_wasi_http::p2::bindings::http::types::ErrorCode;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

/// Default longest time an idle connection is kept open.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default most idle connections kept per server (scheme, host and port).
pub const MAX_IDLE_PER_HOST: usize = 32;
/// A timeout the guest leaves unset, as in wasmtime's default handler.
const UNSET_TIMEOUT: Duration = Duration::from_secs(600);

/// How long idle connections are kept, and how many.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolSettings {
    /// An idle connection is closed once unused this long ([`IDLE_TIMEOUT`]).
    pub idle_timeout: Duration,
    /// Most idle connections kept per server ([`MAX_IDLE_PER_HOST`]); more are closed as
    /// they become idle. `0` keeps none: a new connection per request, as wasmtime's
    /// default handler does.
    pub max_idle_per_host: usize,
}

impl Default for PoolSettings {
    fn default() -> PoolSettings {
        PoolSettings { idle_timeout: IDLE_TIMEOUT, max_idle_per_host: MAX_IDLE_PER_HOST }
    }
}

/// The pooled HTTP client of one [`Runtime`](crate::Runtime). Cheap to clone; clones share
/// the pool.
#[derive(Clone)]
pub(crate) struct HttpPool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    settings: PoolSettings,
    tls: Arc<rustls::ClientConfig>,
    /// The clients of each tokio runtime that has sent requests.
    runtimes: Mutex<HashMap<tokio::runtime::Id, RuntimeClients>>,
}

/// One runtime's clients, one per connect timeout (connections are opened under the
/// timeout of the client that opens them).
struct RuntimeClients {
    /// Dead once the runtime has shut down (a task of the runtime holds the other end).
    alive: Weak<()>,
    by_connect_timeout: HashMap<Duration, Client<Connector, WasiBody>>,
}

/// What sending a request yields, in wasmtime-wasi-http's hook signature: the answer and
/// a future that drives the connection (nothing to drive here: the pool's tasks do).
pub(crate) type Sent = (Response<WasiBody>, Box<dyn Future<Output = Result<(), Error>> + Send>);

impl HttpPool {
    /// An empty pool; connections are opened by the first requests.
    pub(crate) fn new(settings: PoolSettings) -> Result<HttpPool, rustls::Error> {
        let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.into() };
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let inner =
            PoolInner { settings, tls: Arc::new(tls), runtimes: Mutex::new(HashMap::new()) };
        Ok(HttpPool { inner: Arc::new(inner) })
    }

    /// Sends `request` (its URI absolute: scheme and authority) on a pooled connection,
    /// bounded by `options` (see the module's documentation).
    pub(crate) async fn send(
        &self,
        request: Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> Result<Sent, Error> {
        if request.uri().authority().is_none() {
            return Err(Error::HttpRequestUriInvalid);
        }
        let timeout = |chosen: Option<Duration>| chosen.unwrap_or(UNSET_TIMEOUT);
        let connect_timeout = timeout(options.and_then(|o| o.connect_timeout));
        let first_byte_timeout = timeout(options.and_then(|o| o.first_byte_timeout));
        let between_bytes_timeout = timeout(options.and_then(|o| o.between_bytes_timeout));
        let client = self.client(connect_timeout)?;
        // Lets the runtime take in the socket events that came meanwhile (tokio resumes a
        // yielding task only after polling for them): a pooled connection the server has
        // closed since its last use is then known closed before the pool hands it out.
        // Otherwise a runtime kept busy while the server went away (restarted, or closed an
        // idle connection) would send the request on the dead connection and fail it.
        tokio::task::yield_now().await;
        // The connector gives up connecting after the connect timeout: past both, the
        // connection was there and the answer's first byte was not.
        let head = tokio::time::timeout(
            connect_timeout.saturating_add(first_byte_timeout),
            client.request(request),
        );
        let response = match head.await {
            Ok(response) => response.map_err(|e| wasi_error(&e))?,
            Err(_elapsed) => return Err(Error::ConnectionReadTimeout),
        };
        let response =
            response.map(|incoming| TimedBody::new(incoming, between_bytes_timeout).boxed_unsync());
        Ok((response, Box::new(async { Ok(()) })))
    }

    /// The client for requests made on the current tokio runtime with `connect_timeout`.
    fn client(&self, connect_timeout: Duration) -> Result<Client<Connector, WasiBody>, Error> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|e| Error::InternalError(Some(e.to_string())))?;
        let mut runtimes =
            self.inner.runtimes.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if !runtimes.contains_key(&runtime.id()) {
            runtimes.retain(|_, clients| clients.alive.strong_count() > 0);
        }
        let clients = runtimes.entry(runtime.id()).or_insert_with(|| RuntimeClients {
            alive: watch(&runtime),
            by_connect_timeout: HashMap::new(),
        });
        let settings = self.inner.settings;
        let tls = &self.inner.tls;
        let client = clients
            .by_connect_timeout
            .entry(connect_timeout)
            .or_insert_with(|| {
                Client::builder(TokioExecutor::new())
                    .pool_idle_timeout(settings.idle_timeout)
                    .pool_max_idle_per_host(settings.max_idle_per_host)
                    .pool_timer(TokioTimer::new())
                    .build(Connector { connect_timeout, tls: tls.clone() })
            })
            .clone();
        Ok(client)
    }
}

/// A token that dies with `runtime`: a task of the runtime holds it, and a runtime drops
/// its tasks when it shuts down.
fn watch(runtime: &tokio::runtime::Handle) -> Weak<()> {
    let token = Arc::new(());
    let alive = Arc::downgrade(&token);
    runtime.spawn(async move {
        let _held = token;
        std::future::pending::<()>().await
    });
    alive
}

/// The `wasi:http` error for a request that got no answer head: what wasmtime's default
/// handler gives for the same failure.
fn wasi_error(error: &hyper_util::client::legacy::Error) -> Error {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if let Some(failure) = cause.downcast_ref::<ConnectFailure>() {
            return failure.to_wasi();
        }
        if let Some(code) = cause.downcast_ref::<ErrorCode>() {
            return Error::from(code.clone());
        }
        source = cause.source();
    }
    tracing::warn!("outgoing HTTP request failed: {error:?}");
    Error::HttpProtocolError
}

/// Why a connection could not be opened; the same cases as wasmtime's default handler.
#[derive(Debug)]
enum ConnectFailure {
    /// Name resolution or the TCP connect failed.
    Connect(io::Error),
    /// The TCP connect took longer than the connect timeout.
    Timeout,
    /// The TLS handshake failed.
    Tls(io::Error),
    /// The host is not a name or address a certificate can be checked against.
    InvalidDnsName,
}

impl ConnectFailure {
    fn to_wasi(&self) -> Error {
        let copy = |e: &io::Error| io::Error::new(e.kind(), e.to_string());
        match self {
            ConnectFailure::Connect(e) => Error::Connect(copy(e)),
            ConnectFailure::Timeout => Error::ConnectionTimeout,
            ConnectFailure::Tls(e) => Error::Tls(copy(e)),
            ConnectFailure::InvalidDnsName => Error::InvalidDnsNameError(InvalidDnsNameError),
        }
    }
}

impl std::fmt::Display for ConnectFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectFailure::Connect(e) => write!(f, "cannot connect: {e}"),
            ConnectFailure::Timeout => f.write_str("connect timed out"),
            ConnectFailure::Tls(e) => write!(f, "TLS handshake failed: {e}"),
            ConnectFailure::InvalidDnsName => f.write_str("not a valid TLS server name"),
        }
    }
}

impl std::error::Error for ConnectFailure {}

/// Opens connections for the pool as wasmtime's default handler opens them: TCP to the
/// URI's `host:port` (80 or 443 by default) within the connect timeout, then TLS for
/// `https` with the webpki roots.
#[derive(Clone)]
struct Connector {
    connect_timeout: Duration,
    tls: Arc<rustls::ClientConfig>,
}

impl tower_service::Service<Uri> for Connector {
    type Response = TokioIo<Stream>;
    type Error = ConnectFailure;
    type Future = Pin<Box<dyn Future<Output = Result<TokioIo<Stream>, ConnectFailure>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), ConnectFailure>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let connector = self.clone();
        Box::pin(async move { connector.connect(uri).await.map(TokioIo::new) })
    }
}

impl Connector {
    async fn connect(self, uri: Uri) -> Result<Stream, ConnectFailure> {
        let use_tls = uri.scheme() == Some(&Scheme::HTTPS);
        let authority = match uri.authority() {
            Some(authority) if authority.port().is_some() => authority.to_string(),
            Some(authority) => format!("{authority}:{}", if use_tls { 443 } else { 80 }),
            None => {
                return Err(ConnectFailure::Connect(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "no host",
                )))
            }
        };
        let tcp = tokio::time::timeout(self.connect_timeout, TcpStream::connect(&authority))
            .await
            .map_err(|_elapsed| ConnectFailure::Timeout)?
            .map_err(ConnectFailure::Connect)?;
        // A request's head and body go out in separate writes: without this, the body
        // could wait for the server's delayed acknowledgement of the head.
        tcp.set_nodelay(true).map_err(ConnectFailure::Connect)?;
        if !use_tls {
            return Ok(Stream::Plain(tcp));
        }
        let name = tls_server_name(&authority).map_err(|_| ConnectFailure::InvalidDnsName)?;
        let tls = tokio_rustls::TlsConnector::from(self.tls)
            .connect(name, tcp)
            .await
            .map_err(ConnectFailure::Tls)?;
        Ok(Stream::Tls(Box::new(tls)))
    }
}

/// The rustls server name for an `host:port` authority: an IP address (IPv6 in brackets)
/// or a DNS name, as wasmtime's default handler derives it.
fn tls_server_name(authority: &str) -> Result<ServerName<'static>, InvalidDnsNameError> {
    if let Ok(addr) = authority.parse::<std::net::SocketAddr>() {
        return Ok(ServerName::from(addr.ip()));
    }
    let host = authority.split_once(':').map_or(authority, |(host, _port)| host);
    Ok(ServerName::try_from(host)?.to_owned())
}

/// A pooled connection's transport.
enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Connection for Stream {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// An answer's body, failing with `connection-read-timeout` when no frame comes within
/// the between-bytes timeout (as wasmtime's default handler does).
struct TimedBody {
    incoming: hyper::body::Incoming,
    timeout: tokio::time::Interval,
}

impl TimedBody {
    fn new(incoming: hyper::body::Incoming, between_bytes: Duration) -> TimedBody {
        // tokio's interval refuses a zero period; a nanosecond is as good as none.
        let mut timeout = tokio::time::interval(between_bytes.max(Duration::from_nanos(1)));
        timeout.reset();
        TimedBody { incoming, timeout }
    }
}

impl Body for TimedBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        match Pin::new(&mut self.incoming).poll_frame(cx) {
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Ready(Some(Err(e))) if e.is_timeout() => {
                Poll::Ready(Some(Err(Error::HttpResponseTimeout)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Error::Hyper(e)))),
            Poll::Ready(Some(Ok(frame))) => {
                self.timeout.reset();
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => {
                ready!(self.timeout.poll_tick(cx));
                Poll::Ready(Some(Err(Error::ConnectionReadTimeout)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming.size_hint()
    }
}

#[cfg(test)]
mod tests {
    //! The pool against small servers on loopback (tokio listeners): the host-side
    //! timeouts, which the component's own deadline hides in the integration tests, and
    //! when a connection is reused.

    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;

    use http_body_util::{BodyExt, Empty};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// A server on 127.0.0.1 that runs `answer` on each connection; counts connections.
    async fn serve<F, Fut>(answer: F) -> (String, Arc<AtomicUsize>)
    where
        F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/", listener.local_addr().expect("address"));
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(answer(stream));
            }
        });
        (url, accepted)
    }

    /// Reads one request head (these requests have no body).
    async fn read_head(stream: &mut tokio::net::TcpStream) -> bool {
        let mut head = Vec::new();
        let mut byte = [0];
        while !head.ends_with(b"\r\n\r\n") {
            match stream.read(&mut byte).await {
                Ok(1) => head.push(byte[0]),
                _ => return false,
            }
        }
        true
    }

    fn get(url: &str) -> Request<WasiBody> {
        let body = Empty::<Bytes>::new().map_err(|never| match never {}).boxed_unsync();
        Request::get(url).body(body).expect("a request")
    }

    fn options(connect: u64, first_byte: u64, between_bytes: u64) -> Option<RequestOptions> {
        Some(RequestOptions {
            connect_timeout: Some(Duration::from_millis(connect)),
            first_byte_timeout: Some(Duration::from_millis(first_byte)),
            between_bytes_timeout: Some(Duration::from_millis(between_bytes)),
        })
    }

    fn pool() -> HttpPool {
        HttpPool::new(PoolSettings::default()).expect("a pool")
    }

    /// Sends a GET and reads the whole body.
    async fn fetch(
        pool: &HttpPool,
        url: &str,
        options: Option<RequestOptions>,
    ) -> Result<Bytes, Error> {
        let (response, _io) = pool.send(get(url), options).await?;
        Ok(response.into_body().collect().await?.to_bytes())
    }

    #[tokio::test]
    async fn an_answer_head_later_than_the_first_byte_timeout_is_a_read_timeout() {
        let (url, _) = serve(|mut stream| async move {
            read_head(&mut stream).await;
            let _ = stream.read(&mut [0; 1]).await; // never answers
        })
        .await;
        let started = Instant::now();
        let outcome = pool().send(get(&url), options(100, 200, 5_000)).await;
        assert!(matches!(outcome, Err(Error::ConnectionReadTimeout)), "{:?}", outcome.map(|_| ()));
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(200) && took < Duration::from_secs(3),
            "took {took:?}"
        );
    }

    #[tokio::test]
    async fn a_body_stalling_past_the_between_bytes_timeout_is_a_read_timeout() {
        let (url, _) = serve(|mut stream| async move {
            read_head(&mut stream).await;
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n{}").await;
            let _ = stream.read(&mut [0; 1]).await; // the other 8 bytes never come
        })
        .await;
        let started = Instant::now();
        let outcome = fetch(&pool(), &url, options(1_000, 1_000, 200)).await;
        assert!(matches!(outcome, Err(Error::ConnectionReadTimeout)), "{outcome:?}");
        assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    }

    #[tokio::test]
    async fn a_refused_connection_is_the_connect_error_of_the_default_handler() {
        let url = {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            format!("http://{}/", listener.local_addr().expect("address"))
        };
        let outcome = pool().send(get(&url), None).await;
        assert!(
            matches!(&outcome, Err(Error::Connect(e)) if e.kind() == io::ErrorKind::ConnectionRefused),
            "{:?}",
            outcome.map(|_| ())
        );
    }

    /// Answers every request on a connection with `{}` until the client closes it.
    async fn keep_answering(mut stream: tokio::net::TcpStream) {
        while read_head(&mut stream).await {
            if stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}").await.is_err() {
                return;
            }
        }
    }

    #[tokio::test]
    async fn a_connection_is_reused_after_an_answer_read_to_the_end_and_not_after_an_abandoned_one()
    {
        let (url, accepted) = serve(keep_answering).await;
        let pool = pool();
        for _ in 0..5 {
            assert_eq!(
                fetch(&pool, &url, None).await.expect("an answer"),
                Bytes::from_static(b"{}")
            );
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "five requests, one connection");
        // Clones share the pool.
        fetch(&pool.clone(), &url, None).await.expect("an answer");
        assert_eq!(accepted.load(Ordering::SeqCst), 1);

        let (url, accepted) = serve(|mut stream| async move {
            while read_head(&mut stream).await {
                // Announces more than it sends at first: the reader gives up half-way.
                if stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\n{}")
                    .await
                    .is_err()
                {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                let _ = stream.write_all(b"{}").await;
            }
        })
        .await;
        let (response, _io) = pool.send(get(&url), None).await.expect("an answer head");
        drop(response); // abandoned unread
        fetch(&pool, &url, None).await.expect("an answer");
        assert_eq!(accepted.load(Ordering::SeqCst), 2, "the abandoned connection was not reused");
    }
}
