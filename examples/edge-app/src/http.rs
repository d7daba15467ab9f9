//! The wasi:http (0.3) edge of the app: what a handler needs from a request, and the
//! response a handler returns, its body streamed after the handler has returned it.

use wasip3::http::types::{
    ErrorCode, Fields, Method, Request as HttpRequest, Response as HttpResponse,
};
use wasip3::{wit_bindgen, wit_future, wit_stream};

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
    /// The first `User-Agent:` header value (what a new session is labelled by).
    pub user_agent: Option<String>,
}

impl Request {
    pub fn read(request: &HttpRequest) -> Request {
        let target = request.get_path_with_query().unwrap_or_else(|| "/".to_owned());
        let (path, query) = match target.split_once('?') {
            Some((path, query)) => (path.to_owned(), query.to_owned()),
            None => (target, String::new()),
        };
        let headers = request.get_headers();
        let values = |name: &str| -> Vec<String> {
            headers
                .get(name)
                .into_iter()
                .map(|v| String::from_utf8_lossy(&v).into_owned())
                .collect()
        };
        let cookies = values("cookie");
        let cookie = (!cookies.is_empty()).then(|| cookies.join("; "));
        let user_agent = values("user-agent").into_iter().next();
        Request { method: method_name(request.get_method()), path, query, cookie, user_agent }
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

/// The wasi:http response for `response`; its body is written by a task of its own once
/// the host reads it. A response the host refuses (an invalid header or status) becomes an
/// internal error for the host to report; a client gone mid-body is not an error worth
/// reporting.
pub fn send(response: Response) -> Result<HttpResponse, ErrorCode> {
    let mut fields: Vec<(String, Vec<u8>)> = vec![
        ("content-type".to_owned(), response.content_type.as_bytes().to_vec()),
        ("content-length".to_owned(), response.body.len().to_string().into_bytes()),
    ];
    fields.extend(response.headers.into_iter().map(|(k, v)| (k, v.into_bytes())));
    let headers = Fields::from_list(&fields)
        .map_err(|e| internal(format!("invalid response header: {e:?}")))?;
    let (mut body_tx, body_rx) = wit_stream::new();
    let (trailers_tx, trailers_rx) = wit_future::new(|| Ok(None));
    // No trailers: the future resolves to its default, `Ok(None)`, once its writer is gone.
    drop(trailers_tx);
    let (outgoing, _transmitted) = HttpResponse::new(headers, Some(body_rx), trailers_rx);
    outgoing
        .set_status_code(response.status)
        .map_err(|()| internal(format!("invalid status code {}", response.status)))?;
    let body = response.body.into_bytes();
    wit_bindgen::spawn_local(async move {
        // What is left unwritten is the part a client that went away did not read.
        let _unwritten = body_tx.write_all(body).await;
    });
    Ok(outgoing)
}

fn internal(message: String) -> ErrorCode {
    ErrorCode::InternalError(Some(message))
}
