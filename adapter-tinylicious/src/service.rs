//! [`TinyliciousService`]: the [`DocumentService`] for Tinylicious and Routerlicious.

use std::borrow::Cow;
use std::sync::Arc;

use async_trait::async_trait;
use audience_core::transport::{ConnectRequest, Connection, DocumentService, TransportError};
use audience_core::wire::{ConnectionMode, scopes};
use serde_json::{Value, json};

use crate::config::TinyliciousConfig;
use crate::error::TinyliciousError;
use crate::rest::{RestClient, validate_container_id};
use crate::session::{self, PROTOCOL_VERSIONS};
use crate::socket;
use crate::token::{AccessToken, TokenRequest};

/// What this adapter tells the server about itself (`relayUserAgent`).
const USER_AGENT: &str = concat!(
    "audience-tinylicious; driverVersion:",
    env!("CARGO_PKG_VERSION")
);

/// Connects to documents of one Tinylicious / Routerlicious service, creates containers and
/// checks that they exist.
///
/// [`DocumentService::connect`] first checks over REST that the container exists and fails
/// with [`TransportError::NotFound`] if not (one round trip per connect); an empty container
/// id is refused before any network.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use audience_core::transport::{ConnectRequest, DocumentService};
/// use audience_core::wire::{ConnectionMode, User};
/// use audience_tinylicious::{TinyliciousConfig, TinyliciousService};
///
/// let service = TinyliciousService::new(TinyliciousConfig::from_url("http://127.0.0.1:7070")?)?;
/// let id = service.create_container().await?;
/// let request = ConnectRequest::new("tinylicious", &id, User::new("u1", "Ann"), ConnectionMode::Write);
/// let connection = service.connect(&request).await?;
/// println!("connected as {}", connection.info.client_id);
/// connection.sender.close().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct TinyliciousService {
    config: TinyliciousConfig,
    rest: RestClient,
    tls: Arc<rustls::ClientConfig>,
}

impl TinyliciousService {
    /// A service client for `config`.
    ///
    /// # Errors
    /// [`TinyliciousError::Client`] if TLS or the HTTP client cannot be set up (for example an
    /// invalid extra root certificate).
    pub fn new(config: TinyliciousConfig) -> Result<Self, TinyliciousError> {
        let tls = Arc::new(crate::tls::client_config(
            config.extra_root_certificates(),
            false,
        )?);
        let rest = RestClient::new(config.clone())?;
        Ok(TinyliciousService { config, rest, tls })
    }

    /// A service client for a local Tinylicious at `http://127.0.0.1:7070`.
    ///
    /// # Errors
    /// As [`TinyliciousService::new`].
    pub fn local() -> Result<Self, TinyliciousError> {
        Self::new(TinyliciousConfig::default())
    }

    /// The configuration.
    pub fn config(&self) -> &TinyliciousConfig {
        &self.config
    }

    /// Creates a container JS clients can load (schema `{ initialObjects: { presence: SharedMap } }`,
    /// see [`crate::container_template`]) and returns its id, chosen by the server.
    ///
    /// # Errors
    /// [`TinyliciousError`] when the server cannot be reached or refuses.
    pub async fn create_container(&self) -> Result<String, TinyliciousError> {
        self.rest.create_container(None).await
    }

    /// Creates a container with the given id (the server refuses ids that exist).
    ///
    /// # Errors
    /// [`TinyliciousError::Http`] (400) if the id exists; other [`TinyliciousError`]s as
    /// [`TinyliciousService::create_container`].
    pub async fn create_container_with_id(&self, id: &str) -> Result<String, TinyliciousError> {
        self.rest.create_container(Some(id)).await
    }

    /// Whether the container exists (`GET /documents/<tenant>/<id>` is not `null`).
    ///
    /// # Errors
    /// [`TinyliciousError`] when the server cannot be reached or answers with an error.
    pub async fn container_exists(&self, id: &str) -> Result<bool, TinyliciousError> {
        self.rest.container_exists(id).await
    }

    /// Fails with [`TinyliciousError::UnknownContainer`] unless the container exists.
    ///
    /// # Errors
    /// [`TinyliciousError::UnknownContainer`], or any error of
    /// [`TinyliciousService::container_exists`].
    pub async fn require_container(&self, id: &str) -> Result<(), TinyliciousError> {
        if self.container_exists(id).await? {
            Ok(())
        } else {
            Err(TinyliciousError::UnknownContainer(id.to_owned()))
        }
    }

    async fn connect_inner(&self, request: &ConnectRequest) -> Result<Connection, TransportError> {
        // An empty tenant in the request means "the configured one".
        let mut request = Cow::Borrowed(request);
        if request.tenant_id.is_empty() {
            request.to_mut().tenant_id = self.config.tenant_id().to_owned();
        }
        let request = request.as_ref();
        validate_container_id(&request.document_id)?;
        let url = self
            .config
            .socket_url(&request.tenant_id, &request.document_id)?;
        let token = self
            .config
            .token_provider()
            .token(&TokenRequest {
                tenant_id: &request.tenant_id,
                document_id: &request.document_id,
                user: &request.user,
                scopes: token_scopes(request.mode),
            })
            .await?;
        // Connecting to an unknown id must not reach the socket: in read mode Tinylicious
        // creates an empty document record that JS clients then cannot load, and in write mode
        // the connect hangs until the timeout. One REST round trip (with the same token, which
        // allows reading) tells `null` (unknown) from a record; `NotFound` is fatal for the
        // core's reconnect loop, so a watcher of a container lost in a server restart stops
        // with a clear error instead of recreating it.
        if !self
            .rest
            .document_exists(&request.tenant_id, &request.document_id, &token)
            .await?
        {
            return Err(TransportError::NotFound(request.document_id.clone()));
        }
        let frame = connect_document_frame(request, &token)?;
        let endpoint = socket::endpoint(&url);
        tracing::debug!(%endpoint, mode = %request.mode, "connecting");
        let ws = socket::open_websocket(&url, self.tls.clone()).await?;
        session::establish(
            ws,
            &endpoint,
            frame,
            request.mode,
            self.config.keepalive_interval(),
        )
        .await
    }
}

/// Scopes asked for: writers may write; readers only read (least privilege; the service then
/// grants read mode whatever the request says).
fn token_scopes(mode: ConnectionMode) -> &'static [&'static str] {
    match mode {
        ConnectionMode::Write => &[scopes::DOC_READ, scopes::DOC_WRITE],
        ConnectionMode::Read => &[scopes::DOC_READ],
    }
}

/// The `connect_document` frame (IConnect). It carries the token: never log it.
pub(crate) fn connect_document_frame(
    request: &ConnectRequest,
    token: &AccessToken,
) -> Result<String, TransportError> {
    let mut client = request.client.clone();
    client.mode = request.mode;
    let client =
        serde_json::to_value(&client).map_err(|err| TransportError::Protocol(err.to_string()))?;
    let connect: Value = json!({
        "tenantId": request.tenant_id,
        "id": request.document_id,
        "token": token.expose_secret(),
        "client": client,
        "versions": PROTOCOL_VERSIONS,
        "mode": request.mode,
        "relayUserAgent": USER_AGENT,
        "supportedFeatures": { "submit_signals_v2": true },
    });
    crate::codec::encode_event("connect_document", &[connect])
        .map_err(|err| TransportError::Protocol(err.to_string()))
}

#[async_trait]
impl DocumentService for TinyliciousService {
    async fn connect(&self, request: &ConnectRequest) -> Result<Connection, TransportError> {
        let timeout = self.config.connect_timeout();
        match tokio::time::timeout(timeout, self.connect_inner(request)).await {
            Ok(result) => result,
            Err(_) => Err(TransportError::Timeout(timeout, "connect_document_success")),
        }
    }
}

#[cfg(test)]
mod tests {
    use audience_core::wire::User;

    use super::*;

    #[test]
    fn connect_document_has_the_fields_tinylicious_validates() {
        let request = ConnectRequest::new(
            "tinylicious",
            "doc-1",
            User::new("u1", "Ann"),
            ConnectionMode::Read,
        );
        let frame = connect_document_frame(&request, &AccessToken::new("a.b.c")).unwrap();
        let body = frame.strip_prefix("42").unwrap();
        let value: Value = serde_json::from_str(body).unwrap();
        assert_eq!(value[0], "connect_document");
        let connect = &value[1];
        assert_eq!(connect["tenantId"], "tinylicious");
        assert_eq!(connect["id"], "doc-1");
        assert_eq!(connect["token"], "a.b.c");
        assert_eq!(connect["mode"], "read");
        assert_eq!(connect["client"]["mode"], "read");
        assert_eq!(
            connect["client"]["details"]["capabilities"]["interactive"],
            true
        );
        assert_eq!(connect["client"]["user"]["id"], "u1");
        assert_eq!(connect["client"]["permission"], json!([]));
        assert_eq!(
            connect["versions"],
            json!(["^0.4.0", "^0.3.0", "^0.2.0", "^0.1.0"])
        );
        assert_eq!(
            connect["supportedFeatures"],
            json!({"submit_signals_v2": true})
        );
    }

    #[test]
    fn readers_ask_for_read_scope_only() {
        assert_eq!(token_scopes(ConnectionMode::Read), &["doc:read"]);
        assert_eq!(
            token_scopes(ConnectionMode::Write),
            &["doc:read", "doc:write"]
        );
    }
}
