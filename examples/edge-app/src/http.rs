//! The wasi:http edge of the app: what a handler needs from a request, and sending a
//! plain-text response back through the response outparam.

use wasip2::http::types::{
    ErrorCode, Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

/// `blocking-write-and-flush` accepts at most 4096 bytes per call.
const WRITE_CHUNK: usize = 4096;

/// The parts of a request the routes look at.
#[derive(Debug)]
pub struct Request {
    /// The method as HTTP spells it (`GET`, `POST`, or an extension method as sent).
    pub method: String,
    pub path: String,
    /// The raw query string, without the `?`.
    pub query: String,
    /// Every `Cookie:` header value, joined with `; ` as RFC 6265 allows.
    pub cookie: Option<String>,
}

impl Request {
    pub fn read(request: &IncomingRequest) -> Request {
        let target = request.path_with_query().unwrap_or_else(|| "/".to_owned());
        let (path, query) = match target.split_once('?') {
            Some((path, query)) => (path.to_owned(), query.to_owned()),
            None => (target, String::new()),
        };
        let cookies: Vec<String> = request
            .headers()
            .get("cookie")
            .into_iter()
            .map(|v| String::from_utf8_lossy(&v).into_owned())
            .collect();
        let cookie = (!cookies.is_empty()).then(|| cookies.join("; "));
        Request { method: method_name(request.method()), path, query, cookie }
    }

    /// The first value of query parameter `name`, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

/// The name of `method` as it appears on the request line.
fn method_name(method: Method) -> String {
    match method {
        Method::Get => "GET".to_owned(),
        Method::Head => "HEAD".to_owned(),
        Method::Post => "POST".to_owned(),
        Method::Put => "PUT".to_owned(),
        Method::Delete => "DELETE".to_owned(),
        Method::Connect => "CONNECT".to_owned(),
        Method::Options => "OPTIONS".to_owned(),
        Method::Trace => "TRACE".to_owned(),
        Method::Patch => "PATCH".to_owned(),
        Method::Other(other) => other,
    }
}

/// The content type of [`Response::text`].
const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

/// A response: plain text unless built with [`Response::json`].
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    pub headers: Vec<(String, String)>,
}

impl Response {
    pub fn text(status: u16, body: impl Into<String>) -> Response {
        Response { status, content_type: TEXT_PLAIN, body: body.into(), headers: Vec::new() }
    }

    /// A 200 response with a JSON body.
    pub fn json(body: String) -> Response {
        Response { content_type: session_core::JSON_CONTENT_TYPE, ..Response::text(200, body) }
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Response {
        self.headers.push((name.to_owned(), value.into()));
        self
    }
}

/// Sends `response`. A response the host refuses (an invalid header) becomes an internal
/// error for the host to report; a client gone mid-body is not an error worth reporting.
pub fn send(response: Response, out: ResponseOutparam) {
    let mut fields: Vec<(String, Vec<u8>)> = vec![
        ("content-type".to_owned(), response.content_type.as_bytes().to_vec()),
        ("content-length".to_owned(), response.body.len().to_string().into_bytes()),
    ];
    fields.extend(response.headers.into_iter().map(|(k, v)| (k, v.into_bytes())));
    let outgoing = match Fields::from_list(&fields) {
        Ok(headers) => OutgoingResponse::new(headers),
        Err(e) => return fail(out, format!("invalid response header: {e:?}")),
    };
    if outgoing.set_status_code(response.status).is_err() {
        return fail(out, format!("invalid status code {}", response.status));
    }
    let Ok(body) = outgoing.body() else {
        return fail(out, "the response body was already taken".to_owned());
    };
    ResponseOutparam::set(out, Ok(outgoing));
    let Ok(stream) = body.write() else { return };
    for chunk in response.body.as_bytes().chunks(WRITE_CHUNK) {
        if stream.blocking_write_and_flush(chunk).is_err() {
            return;
        }
    }
    drop(stream);
    // Fails only if the connection is gone; nothing is left to tell.
    let _ = OutgoingBody::finish(body, None);
}

fn fail(out: ResponseOutparam, message: String) {
    ResponseOutparam::set(out, Err(ErrorCode::InternalError(Some(message))));
}
