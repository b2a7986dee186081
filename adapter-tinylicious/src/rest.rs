//! Plain-JSON REST calls to the orderer (`/documents/...`).
//!
//! The JS driver tunnels every request as a "restless" form POST; the server only unwraps that
//! when asked to, so plain verbs with JSON bodies work (FLUID-PROTOCOL.md 1.2). Orderer routes
//! take `Authorization: Basic <jwt>` (ignored by Tinylicious, checked by Routerlicious).

use std::time::{SystemTime, UNIX_EPOCH};

use audience_core::wire::scopes;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde_json::Value;
use url::Url;

use crate::config::TinyliciousConfig;
use crate::container_template;
use crate::error::TinyliciousError;
use crate::token::{AccessToken, TokenRequest};

/// Longest server message kept in an error.
const MAX_ERROR_TEXT: usize = 500;
/// The message of a 404: the route is missing, so the URL probably does not lead to a Fluid
/// service.
pub(crate) const NOT_FOUND_HINT: &str =
    "not found: is this a Fluid service? check the service URL (--url)";
/// Largest 2xx body read: document records and create answers are a few KiB, so a bigger body
/// is a wrong or hostile server, and reading it whole could exhaust memory.
pub(crate) const MAX_BODY_BYTES: usize = 1 << 20;
/// Most of an error body read: only a clipped message of it is kept, the rest is dropped.
const MAX_ERROR_BODY_BYTES: usize = 16 << 10;

/// REST client for one service.
#[derive(Debug, Clone)]
pub(crate) struct RestClient {
    http: reqwest::Client,
    config: TinyliciousConfig,
}

fn clip(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(MAX_ERROR_TEXT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// The message of an error body: `{"message": …}` or `{"error": …}` when JSON, else the text.
fn server_message(body: &str) -> String {
    if let Ok(value) = serde_json::from_str::<Value>(body) {
        for key in ["message", "error"] {
            if let Some(text) = value.get(key).and_then(Value::as_str) {
                return clip(text);
            }
        }
    }
    clip(body)
}

fn unreachable(url: &Url, err: reqwest::Error) -> TinyliciousError {
    // The URL is named once, by the error itself; reqwest's text would repeat it.
    TinyliciousError::Unreachable {
        url: url.to_string(),
        detail: crate::error::describe_chain(&err.without_url()),
    }
}

/// What [`read_body`] does with a body longer than its cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Overflow {
    /// Fail with [`TinyliciousError::BadResponse`].
    Fail,
    /// Keep the first bytes and stop reading (error bodies: only a clipped message is shown).
    Truncate,
}

/// Reads at most `cap` bytes of a body chunk by chunk, never more than `cap` plus one chunk
/// in memory, whatever the server sends or announces.
async fn read_body(
    response: &mut reqwest::Response,
    url: &Url,
    cap: usize,
    overflow: Overflow,
) -> Result<String, TinyliciousError> {
    let too_large = || TinyliciousError::BadResponse {
        url: url.to_string(),
        detail: format!("response body larger than {}", human_size(cap)),
    };
    let announced = response.content_length().unwrap_or(0);
    if overflow == Overflow::Fail && announced > u64::try_from(cap).unwrap_or(u64::MAX) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| unreachable(url, e))? {
        let room = cap.saturating_sub(body.len());
        if chunk.len() > room {
            match overflow {
                Overflow::Fail => return Err(too_large()),
                Overflow::Truncate => {
                    body.extend_from_slice(chunk.get(..room).unwrap_or_default());
                    break;
                }
            }
        }
        body.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// `1 MiB`, `16 KiB` or `100 bytes`.
fn human_size(bytes: usize) -> String {
    if bytes >= 1 << 20 && bytes % (1 << 20) == 0 {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes % (1 << 10) == 0 {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} bytes")
    }
}

fn auth_header(token: &AccessToken) -> Result<HeaderValue, TinyliciousError> {
    let mut value = HeaderValue::from_str(&format!("Basic {}", token.expose_secret()))
        .map_err(|_| TinyliciousError::Token("the token is not a valid header value".into()))?;
    value.set_sensitive(true);
    Ok(value)
}

impl RestClient {
    pub(crate) fn new(config: TinyliciousConfig) -> Result<Self, TinyliciousError> {
        let tls = crate::tls::client_config(config.extra_root_certificates(), true)?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(config.request_timeout())
            .connect_timeout(config.connect_timeout())
            .build()
            .map_err(|e| TinyliciousError::Client(e.to_string()))?;
        Ok(RestClient { http, config })
    }

    async fn token(
        &self,
        document_id: &str,
        scopes: &[&str],
    ) -> Result<AccessToken, TinyliciousError> {
        let request = TokenRequest {
            tenant_id: self.config.tenant_id(),
            document_id,
            user: self.config.rest_user(),
            scopes,
        };
        self.config.token_provider().token(&request).await
    }

    /// Sends a request and returns the body of a 2xx answer.
    ///
    /// A 404 is an error like any other: Fluid services answer their routes for unknown
    /// documents too (`null` from `GET /documents/...`), so a 404 means the URL does not lead
    /// to one (wrong host, port or path prefix).
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        url: &Url,
    ) -> Result<String, TinyliciousError> {
        let mut response = request.send().await.map_err(|e| unreachable(url, e))?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(TinyliciousError::Http {
                status: 404,
                url: url.to_string(),
                message: NOT_FOUND_HINT.to_owned(),
            });
        }
        if !status.is_success() {
            let body =
                read_body(&mut response, url, MAX_ERROR_BODY_BYTES, Overflow::Truncate).await?;
            return Err(TinyliciousError::Http {
                status: status.as_u16(),
                url: url.to_string(),
                message: server_message(&body),
            });
        }
        read_body(&mut response, url, MAX_BODY_BYTES, Overflow::Fail).await
    }

    /// `GET /documents/<tenant>/<id>` of the configured tenant: `null` means the document
    /// does not exist.
    pub(crate) async fn container_exists(&self, id: &str) -> Result<bool, TinyliciousError> {
        validate_container_id(id)?;
        let token = self.token(id, &[scopes::DOC_READ]).await?;
        self.document_exists(self.config.tenant_id(), id, &token)
            .await
    }

    /// `GET /documents/<tenant>/<id>` with a token the caller already has (one that allows
    /// reading the document): `null` means the document does not exist.
    pub(crate) async fn document_exists(
        &self,
        tenant_id: &str,
        id: &str,
        token: &AccessToken,
    ) -> Result<bool, TinyliciousError> {
        validate_container_id(id)?;
        let url = self
            .config
            .orderer_rest_url(&["documents", tenant_id, id])?;
        let request = self
            .http
            .get(url.clone())
            .header(AUTHORIZATION, auth_header(token)?);
        let body = self.send(request, &url).await?;
        let value: Value =
            serde_json::from_str(&body).map_err(|e| TinyliciousError::BadResponse {
                url: url.to_string(),
                detail: format!("not JSON: {e}"),
            })?;
        Ok(!value.is_null())
    }

    /// `POST /documents/<tenant>` with the container template; returns the new id.
    pub(crate) async fn create_container(
        &self,
        id: Option<&str>,
    ) -> Result<String, TinyliciousError> {
        if let Some(id) = id {
            validate_container_id(id)?;
        }
        let url = self
            .config
            .orderer_rest_url(&["documents", self.config.tenant_id()])?;
        let token = self
            .token(
                "",
                &[scopes::DOC_READ, scopes::DOC_WRITE, scopes::SUMMARY_WRITE],
            )
            .await?;
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let now_ms = u64::try_from(now_ms).unwrap_or(u64::MAX);
        let telemetry_id = uuid::Uuid::new_v4().to_string();
        let body = container_template::create_body(id, now_ms, &telemetry_id);
        let body = serde_json::to_vec(&body)
            .map_err(|e| TinyliciousError::Client(format!("cannot encode body: {e}")))?;
        let request = self
            .http
            .post(url.clone())
            .header(AUTHORIZATION, auth_header(&token)?)
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        let body = self.send(request, &url).await?;
        parse_created_id(&body).ok_or_else(|| TinyliciousError::BadResponse {
            url: url.to_string(),
            detail: format!("expected the new document id, got {}", clip(&body)),
        })
    }
}

/// Refuses container ids no service can have, before any network: an empty id would address
/// the tenant's document list (`/documents/<tenant>/`) or an empty socket.io `documentId`.
pub(crate) fn validate_container_id(id: &str) -> Result<(), TinyliciousError> {
    if id.trim().is_empty() {
        return Err(TinyliciousError::InvalidContainerId(
            "the id is empty".into(),
        ));
    }
    Ok(())
}

/// The 201 body: a JSON string (Tinylicious), or `{"id": …}` (Routerlicious with
/// `generateToken`).
fn parse_created_id(body: &str) -> Option<String> {
    match serde_json::from_str::<Value>(body).ok()? {
        Value::String(id) if !id.is_empty() => Some(id),
        Value::Object(map) => map
            .get("id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .map(str::to_owned),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_id_forms() {
        assert_eq!(
            parse_created_id(r#""94cdb4a8-b8a2-4d39-8346-6fb91ffe36ec""#).as_deref(),
            Some("94cdb4a8-b8a2-4d39-8346-6fb91ffe36ec")
        );
        assert_eq!(
            parse_created_id(r#"{"id":"d1","token":"t"}"#).as_deref(),
            Some("d1")
        );
        assert_eq!(parse_created_id(r#""""#), None);
        assert_eq!(parse_created_id("[1]"), None);
        assert_eq!(parse_created_id("<html>"), None);
    }

    #[test]
    fn server_messages_are_extracted_and_clipped() {
        assert_eq!(
            server_message(r#"{"message":"Failed to create ref"}"#),
            "Failed to create ref"
        );
        assert_eq!(server_message("plain text\n"), "plain text");
        let long = "x".repeat(2000);
        let clipped = server_message(&long);
        assert_eq!(clipped.chars().count(), MAX_ERROR_TEXT + 1);
        assert!(clipped.ends_with('…'));
    }

    /// The URL appears once: in the error, not again in reqwest's text.
    #[tokio::test]
    async fn an_unreachable_server_is_named_once() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let client =
            RestClient::new(TinyliciousConfig::from_url(&format!("http://{addr}")).unwrap())
                .unwrap();
        let err = client.container_exists("doc").await.unwrap_err();
        let text = err.to_string();
        let url = format!("http://{addr}/documents/tinylicious/doc");
        assert!(
            text.starts_with(&format!("cannot reach the server at {url}: ")),
            "{text}"
        );
        assert_eq!(text.matches(&url).count(), 1, "{text}");
        assert_eq!(text.matches("os error").count(), 1, "{text}");
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_size(MAX_BODY_BYTES), "1 MiB");
        assert_eq!(human_size(MAX_ERROR_BODY_BYTES), "16 KiB");
        assert_eq!(human_size(1000), "1000 bytes");
    }
}
