//! One Hrana pipeline request over `wasi:http`, bounded in time.

use std::time::Duration;

use libsql_hrana::proto::{PipelineReqBody, PipelineRespBody};
use wstd::http::{Client, Request, StatusCode};

use super::hrana::PIPELINE_PATH;
use crate::error::{Error, Result};

/// Posts pipelines to one server.
pub struct Transport {
    base_url: String,
    endpoint: String,
    auth_token: Option<String>,
    timeout: Duration,
}

impl Transport {
    pub fn new(base_url: &str, auth_token: Option<String>, timeout: Duration) -> Transport {
        Transport { base_url: base_url.to_owned(), endpoint: format!("{base_url}{PIPELINE_PATH}"), auth_token, timeout }
    }

    /// Sends `body` and returns the server's answer.
    ///
    /// Errors: `Unavailable` when the server cannot be reached within the timeout, answers
    /// 5xx, or refuses the credentials (401/403); `Storage` for other failures.
    pub fn pipeline(&self, body: &PipelineReqBody) -> Result<PipelineRespBody> {
        let json = serde_json::to_vec(body).map_err(|e| Error::Storage(format!("cannot encode a Hrana request: {e}")))?;
        wstd::runtime::block_on(async {
            let mut client = Client::new();
            client.set_connect_timeout(self.timeout);
            client.set_first_byte_timeout(self.timeout);
            client.set_between_bytes_timeout(self.timeout);
            let mut request = Request::post(&self.endpoint).header("content-type", "application/json");
            if let Some(token) = &self.auth_token {
                request = request.header("authorization", format!("Bearer {token}"));
            }
            let request = request
                .body(json)
                .map_err(|e| Error::InvalidConfig(format!("SESSIONS_DATABASE={}: {e}", self.base_url)))?;
            let mut response = client.send(request).await.map_err(|e| {
                Error::Unavailable(format!(
                    "cannot reach the libSQL server at {} within {:?}: {e}",
                    self.base_url, self.timeout
                ))
            })?;
            let status = response.status();
            let body = response.body_mut().contents().await.map_err(|e| {
                Error::Unavailable(format!("the libSQL server at {} broke off its answer: {e}", self.base_url))
            })?;
            match status {
                StatusCode::OK => serde_json::from_slice(body).map_err(|e| {
                    Error::Storage(format!("unexpected answer from the libSQL server at {}: {e}", self.base_url))
                }),
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(Error::Unavailable(format!(
                    "the libSQL server at {} refused the auth token (HTTP {status}); set SESSIONS_AUTH_TOKEN \
                     to a valid token for this database",
                    self.base_url
                ))),
                s if s.is_server_error() => Err(Error::Unavailable(format!(
                    "the libSQL server at {} failed (HTTP {status}): {}",
                    self.base_url,
                    String::from_utf8_lossy(body).chars().take(300).collect::<String>()
                ))),
                s => Err(Error::Storage(format!(
                    "the libSQL server at {} rejected the request (HTTP {s}): {}",
                    self.base_url,
                    String::from_utf8_lossy(body).chars().take(300).collect::<String>()
                ))),
            }
        })
    }
}
