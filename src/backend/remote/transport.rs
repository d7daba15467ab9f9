//! One Hrana pipeline request over `wasi:http`, bounded in time and size.
//!
//! - **Time**: `SESSIONS_REMOTE_TIMEOUT` bounds the whole call, from connecting to the
//!   last byte of the answer (a `wstd` timer races the exchange), so a server that
//!   trickles its answer cannot hold a call longer than that. The host's connect,
//!   first-byte and between-bytes timeouts are set a little beyond it, as a backstop for
//!   hosts whose polls block.
//! - **Size**: the answer is read in chunks up to `SESSIONS_REMOTE_MAX_RESPONSE`; a
//!   larger one (announced by `Content-Length` or found while reading) is a `Storage`
//!   error, never an allocation the guest cannot make.
//! - **Status first**: the request body is written while the answer is awaited. A server
//!   may refuse (401/403) before reading the body and close the connection; the body
//!   write then fails, but the answer's status still decides the error. Where the host
//!   itself loses that early answer to the broken connection, an empty pipeline (which
//!   runs nothing) asks again, so an auth refusal reads the same however the timing falls.
//!
//! No message carries the auth token; the server URL in messages is the parsed base URL,
//! which holds no credentials or query (see `config`).

use std::time::Duration;

use futures::future::{select, Either};
use libsql_hrana::proto::{PipelineReqBody, PipelineRespBody};
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    http_error_code, ErrorCode, Fields, FutureIncomingResponse, IncomingResponse, Method,
    OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use wasip2::io::streams::StreamError;
use wstd::future::FutureExt as _;
use wstd::http::StatusCode;
use wstd::io::{AsyncOutputStream, AsyncPollable};

use super::hrana::PIPELINE_PATH;
use crate::config::Secret;
use crate::error::{Error, Result};

/// How much of an error answer's body is quoted in a message.
const QUOTED_BODY_CHARS: usize = 300;
/// How much of an error answer's body is read for that quote (plus the token's length).
const QUOTE_READ_BYTES: usize = 4 << 10;
/// How far beyond the call's deadline the host's own timeouts are set.
const HOST_TIMEOUT_MARGIN: Duration = Duration::from_secs(1);
/// Bytes read from the server per chunk.
const READ_CHUNK: usize = 64 << 10;

/// Posts pipelines to one server.
pub struct Transport {
    /// `http://host[:port]` or `https://…`, without credentials, path or query.
    base_url: String,
    scheme: Scheme,
    authority: String,
    auth_token: Option<Secret>,
    timeout: Duration,
    max_response: u64,
}

/// A pipeline that runs nothing: asks only whether the server accepts the request.
const EMPTY_PIPELINE: &[u8] = br#"{"baton":null,"requests":[]}"#;

/// An answer's head, and how sending the request body ended.
struct Posted {
    response: IncomingResponse,
    sent: std::result::Result<(), String>,
}

/// What the server answered: its status, and the body when it was read.
struct Answer {
    status: u16,
    body: Vec<u8>,
}

impl Transport {
    /// `base_url` comes from `config::Database::Remote`: `http://…` or `https://…`, no
    /// path. `timeout` bounds each whole call; `max_response` each answer's bytes.
    pub fn new(
        base_url: &str,
        auth_token: Option<Secret>,
        timeout: Duration,
        max_response: u64,
    ) -> Transport {
        let (scheme, authority) = match base_url.split_once("://") {
            Some(("https", authority)) => (Scheme::Https, authority),
            Some((_, authority)) => (Scheme::Http, authority),
            None => (Scheme::Http, base_url),
        };
        Transport {
            base_url: base_url.to_owned(),
            scheme,
            authority: authority.to_owned(),
            auth_token,
            timeout,
            max_response,
        }
    }

    /// Sends `body` and returns the server's answer.
    ///
    /// Errors: `Unavailable` when the server cannot be reached or does not finish its
    /// answer within the timeout, answers 5xx, or refuses the credentials (401/403);
    /// `Storage` for an answer over the size limit, any other status, or a body that is
    /// not a pipeline response.
    pub fn pipeline(&self, body: &PipelineReqBody) -> Result<PipelineRespBody> {
        let json = serde_json::to_vec(body)
            .map_err(|e| Error::Storage(format!("cannot encode a Hrana request: {e}")))?;
        let deadline = wstd::time::Duration::from(self.timeout);
        // The timer is made inside `block_on`: it registers with that call's reactor.
        let answer =
            wstd::runtime::block_on(async { self.exchange(&json).timeout(deadline).await })
                .map_err(|_elapsed| self.timed_out())??;
        self.interpret(answer)
    }

    /// Sends the request and reads the answer (its body only for a 200, or a short quote
    /// of it for an error status).
    async fn exchange(&self, json: &[u8]) -> Result<Answer> {
        let Posted { response, sent } = match self.post(json).await? {
            Ok(posted) => posted,
            Err(Head::Http(code)) if is_timeout(&code) => return Err(self.timed_out()),
            Err(Head::Http(code)) if may_hide_an_answer(&code) => {
                return Err(match self.refusal().await {
                    Some(refused) => refused,
                    None => self.unreachable(&describe(&code)),
                })
            }
            Err(Head::Http(code)) => return Err(self.unreachable(&describe(&code))),
            Err(Head::Other(why)) => return Err(self.unreachable(&why)),
        };
        let status = response.status();
        if status != 200 {
            // The body may be cut off when the request was refused early: a quote is enough.
            // Read past the quote by the token's length, so that a token the server echoes
            // is scrubbed whole, never cut to a prefix at the quote's end.
            let token_len = self.auth_token.as_ref().map_or(0, |t| t.expose().len());
            let limit = (QUOTE_READ_BYTES + token_len) as u64;
            let quoted =
                read_body(response, limit, 0).await.map_or_else(|_unread| Vec::new(), |b| b.bytes);
            return Ok(Answer { status, body: quoted });
        }
        sent.map_err(|e| self.unreachable(&format!("sending the request failed: {e}")))?;
        let announced = content_length(&response);
        if let Some(length) = announced.filter(|&length| length > self.max_response) {
            return Err(self.too_large(Some(length)));
        }
        let read =
            read_body(response, self.max_response, announced.unwrap_or(0)).await.map_err(|e| {
                match e {
                    ReadError::Http(code) if is_timeout(&code) => self.timed_out(),
                    ReadError::Http(code) => self.broke_off(&describe(&code)),
                    ReadError::Other(why) => self.broke_off(&why),
                }
            })?;
        if read.truncated {
            return Err(self.too_large(None));
        }
        Ok(Answer { status, body: read.bytes })
    }

    /// Posts `json` and waits for the answer's head; the body is written meanwhile. A
    /// server may answer before it has read the whole request, to refuse it: then the
    /// rest of the body is not sent, and a failed body write never hides the answer. The
    /// outer error is a request this host cannot make, the inner one a failed exchange.
    async fn post(&self, json: &[u8]) -> Result<std::result::Result<Posted, Head>> {
        let request = self.request(json.len())?;
        let body =
            request.body().map_err(|()| self.unreachable("the request body was already taken"))?;
        let pending = match outgoing_handler::handle(request, Some(self.options())) {
            Ok(pending) => pending,
            Err(code) => return Ok(Err(Head::Http(code))),
        };
        // Boxed, so that dropping a future below cancels it there and then.
        let sending = Box::pin(send_body(body, json));
        let head = Box::pin(response_head(&pending));
        let (head, sent) = match select(sending, head).await {
            Either::Left((sent, head)) => (head.await, sent),
            Either::Right((head, sending)) => match &head {
                Ok(response) if response.status() != 200 => (head, Ok(())),
                _ => {
                    let sent = sending.await;
                    (head, sent)
                }
            },
        };
        Ok(head.map(|response| Posted { response, sent }))
    }

    /// Whether the server refuses this instance's credentials, asked with an empty
    /// pipeline (it runs nothing). Used when an exchange failed in a way that can hide an
    /// answer: a server that refuses a request before reading its body and then closes
    /// the connection makes some hosts (wasmtime's `wasi:http` among them) report the
    /// broken connection instead of the 401 that came first. The probe's tiny body is
    /// sent whole before any answer, so its status always arrives.
    async fn refusal(&self) -> Option<Error> {
        match self.post(EMPTY_PIPELINE).await {
            Ok(Ok(Posted { response, .. })) if matches!(response.status(), 401 | 403) => {
                Some(self.refused(response.status()))
            }
            _ => None,
        }
    }

    /// The POST request with its headers (no body yet; it will be `length` bytes).
    fn request(&self, length: usize) -> Result<OutgoingRequest> {
        let mut headers = vec![("content-type".to_owned(), b"application/json".to_vec())];
        if let Some(token) = &self.auth_token {
            headers.push((
                "authorization".to_owned(),
                format!("Bearer {}", token.expose()).into_bytes(),
            ));
        }
        let fields = Fields::from_list(&headers).map_err(|_| {
            Error::InvalidConfig(
                "SESSIONS_AUTH_TOKEN: not a valid HTTP header value; give the bare token".into(),
            )
        })?;
        // The length lets the server read a plain body rather than a chunked one; a host
        // that sets it itself (and forbids it) sends the body just the same.
        let _ = fields.set("content-length", &[length.to_string().into_bytes()]);
        let request = OutgoingRequest::new(fields);
        let bad_url = || {
            Error::InvalidConfig(format!(
                "SESSIONS_DATABASE={}: the host refuses this server address",
                self.base_url
            ))
        };
        request.set_method(&Method::Post).map_err(|()| bad_url())?;
        request.set_scheme(Some(&self.scheme)).map_err(|()| bad_url())?;
        request.set_authority(Some(&self.authority)).map_err(|()| bad_url())?;
        request.set_path_with_query(Some(PIPELINE_PATH)).map_err(|()| bad_url())?;
        Ok(request)
    }

    /// The host's own connect, first-byte and between-bytes timeouts: a backstop for hosts
    /// whose polls block, set [`HOST_TIMEOUT_MARGIN`] beyond the call's deadline so that
    /// the deadline, which names the setting, fires first everywhere else. A host that
    /// does not support one keeps its default.
    fn options(&self) -> RequestOptions {
        let options = RequestOptions::new();
        let nanos =
            u64::try_from((self.timeout + HOST_TIMEOUT_MARGIN).as_nanos()).unwrap_or(u64::MAX);
        let _ = options.set_connect_timeout(Some(nanos));
        let _ = options.set_first_byte_timeout(Some(nanos));
        let _ = options.set_between_bytes_timeout(Some(nanos));
        options
    }

    /// The store's result for a complete answer.
    fn interpret(&self, answer: Answer) -> Result<PipelineRespBody> {
        let quote = || {
            self.scrub(&String::from_utf8_lossy(&answer.body))
                .chars()
                .take(QUOTED_BODY_CHARS)
                .collect::<String>()
        };
        match answer.status {
            200 => serde_json::from_slice(&answer.body).map_err(|e| {
                Error::Storage(format!(
                    "unexpected answer from the libSQL server at {}: {e}",
                    self.base_url
                ))
            }),
            401 | 403 => Err(self.refused(answer.status)),
            s if (500..600).contains(&s) => Err(Error::Unavailable(format!(
                "the libSQL server at {} failed (HTTP {}): {}",
                self.base_url,
                status_text(s),
                quote()
            ))),
            s => Err(Error::Storage(format!(
                "the libSQL server at {} rejected the request (HTTP {}): {}",
                self.base_url,
                status_text(s),
                quote()
            ))),
        }
    }

    /// Server-provided text without the auth token, should a server ever echo it.
    fn scrub(&self, text: &str) -> String {
        match &self.auth_token {
            Some(token) => text.replace(token.expose(), "***"),
            None => text.to_owned(),
        }
    }

    fn unreachable(&self, why: &str) -> Error {
        Error::Unavailable(format!(
            "cannot reach the libSQL server at {}: {}",
            self.base_url,
            self.scrub(why)
        ))
    }

    fn refused(&self, status: u16) -> Error {
        Error::Unavailable(format!(
            "the libSQL server at {} refused the auth token (HTTP {}); set SESSIONS_AUTH_TOKEN to a valid \
             token for this database",
            self.base_url,
            status_text(status)
        ))
    }

    fn timed_out(&self) -> Error {
        Error::Unavailable(format!(
            "the libSQL server at {} did not answer within {} (SESSIONS_REMOTE_TIMEOUT)",
            self.base_url,
            humantime::format_duration(self.timeout)
        ))
    }

    fn broke_off(&self, why: &str) -> Error {
        Error::Unavailable(format!(
            "the libSQL server at {} broke off its answer: {}",
            self.base_url,
            self.scrub(why)
        ))
    }

    fn too_large(&self, announced: Option<u64>) -> Error {
        let size = announced.map_or_else(|| "more than that".to_owned(), |n| format!("{n} bytes"));
        Error::Storage(format!(
            "the libSQL server at {} answered with more than SESSIONS_REMOTE_MAX_RESPONSE={} bytes ({size}); \
             list large stores with page(), or raise SESSIONS_REMOTE_MAX_RESPONSE",
            self.base_url, self.max_response
        ))
    }
}

/// Writes the whole request body and finishes it. `body` is a parameter, so it is dropped
/// after the stream written from it, as WASI requires of a parent resource.
async fn send_body(body: OutgoingBody, json: &[u8]) -> std::result::Result<(), String> {
    let stream =
        body.write().map_err(|()| "the request body stream was already taken".to_owned())?;
    let output = AsyncOutputStream::new(stream);
    output.write_all(json).await.map_err(|e| e.to_string())?;
    drop(output);
    OutgoingBody::finish(body, None).map_err(|e| describe(&e))
}

/// Waits for the answer's status and headers.
async fn response_head(
    pending: &FutureIncomingResponse,
) -> std::result::Result<IncomingResponse, Head> {
    // The pollable is a child of `pending`: it is dropped at the end of this statement.
    AsyncPollable::new(pending.subscribe()).wait_for().await;
    match pending.get() {
        Some(Ok(Ok(response))) => Ok(response),
        Some(Ok(Err(code))) => Err(Head::Http(code)),
        Some(Err(())) => Err(Head::Other("the answer was already taken".into())),
        None => Err(Head::Other("the host reported an answer that is not there".into())),
    }
}

/// Why no answer head arrived.
enum Head {
    /// The host's `wasi:http` error (refused connection, timeout, …).
    Http(ErrorCode),
    Other(String),
}

/// The `Content-Length` the server announced, if any.
fn content_length(response: &IncomingResponse) -> Option<u64> {
    let headers = response.headers();
    let values = headers.get("content-length");
    values.first().and_then(|v| std::str::from_utf8(v).ok()).and_then(|v| v.trim().parse().ok())
}

/// An answer's body, read up to a limit.
struct Body {
    bytes: Vec<u8>,
    /// More bytes followed the first `limit`: they were not read.
    truncated: bool,
}

/// Reads at most `limit` bytes of the body (and one more, to tell a body of exactly
/// `limit` bytes from a longer one), into a buffer sized for `expected` bytes (at most
/// `limit`). An error is the host's `wasi:http` error code when it gives one.
///
/// `response` is a parameter and `stream` is declared before `ready`, so each resource is
/// dropped after its children, as WASI requires.
async fn read_body(
    response: IncomingResponse,
    limit: u64,
    expected: u64,
) -> std::result::Result<Body, ReadError> {
    let body = response
        .consume()
        .map_err(|()| ReadError::Other("the answer's body was already taken".into()))?;
    let stream = body
        .stream()
        .map_err(|()| ReadError::Other("the answer's body stream was already taken".into()))?;
    let ready = AsyncPollable::new(stream.subscribe());
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut bytes = Vec::with_capacity(usize::try_from(expected).unwrap_or(usize::MAX).min(limit));
    loop {
        let room = (limit - bytes.len()).saturating_add(1).min(READ_CHUNK);
        match stream.read(room as u64) {
            Ok(chunk) if chunk.is_empty() => ready.wait_for().await,
            Ok(chunk) if bytes.len() + chunk.len() > limit => {
                let fits = limit - bytes.len();
                bytes.extend_from_slice(&chunk[..fits]);
                return Ok(Body { bytes, truncated: true });
            }
            Ok(chunk) => bytes.extend_from_slice(&chunk),
            Err(StreamError::Closed) => return Ok(Body { bytes, truncated: false }),
            Err(StreamError::LastOperationFailed(e)) => {
                return Err(match http_error_code(&e) {
                    Some(code) => ReadError::Http(code),
                    None => ReadError::Other(e.to_debug_string()),
                })
            }
        }
    }
}

/// Why reading an answer failed.
enum ReadError {
    /// The host's `wasi:http` error (a timeout, a reset connection, …).
    Http(ErrorCode),
    Other(String),
}

/// Whether a failed exchange may have hidden an answer the server gave before the
/// connection broke (see `Transport::refusal`); a refused connection, a DNS or TLS
/// failure or a timeout cannot.
fn may_hide_an_answer(code: &ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::HttpProtocolError
            | ErrorCode::ConnectionTerminated
            | ErrorCode::InternalError(_)
    )
}

/// Whether the host gave up on a wait of its own (its connect, first-byte or
/// between-bytes timeout, the call's backstop).
fn is_timeout(code: &ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::ConnectionTimeout
            | ErrorCode::ConnectionReadTimeout
            | ErrorCode::ConnectionWriteTimeout
    )
}

/// A status with its reason phrase: `401 Unauthorized`.
fn status_text(status: u16) -> String {
    StatusCode::from_u16(status).map_or_else(|_| status.to_string(), |s| s.to_string())
}

/// A `wasi:http` error as words.
fn describe(error: &ErrorCode) -> String {
    match error {
        ErrorCode::DnsError(e) => {
            format!("DNS error ({})", e.rcode.as_deref().unwrap_or("no answer"))
        }
        ErrorCode::ConnectionRefused => "connection refused".to_owned(),
        ErrorCode::ConnectionTimeout => "connection timed out".to_owned(),
        ErrorCode::ConnectionReadTimeout => "read timed out".to_owned(),
        ErrorCode::ConnectionTerminated => "the connection was closed".to_owned(),
        ErrorCode::TlsCertificateError => "TLS certificate error".to_owned(),
        ErrorCode::InternalError(Some(e)) => e.clone(),
        other => format!("{other:?}"),
    }
}
