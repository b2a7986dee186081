//! [`TinyliciousConfig`]: where the service is and how to get tokens.
//!
//! The same configuration points at a local Tinylicious (one port for everything) or at a
//! Routerlicious deployment (separate orderer and storage hosts, real tenant keys or a custom
//! [`TokenProvider`]). URLs may be `http`, `https`, `ws` or `wss`: the socket uses `ws`/`wss`
//! and REST uses `http`/`https` on the same host.
//!
//! ```
//! use audience_tinylicious::TinyliciousConfig;
//! let local = TinyliciousConfig::default();
//! assert_eq!(local.base_url().as_str(), "http://127.0.0.1:7070/");
//! assert_eq!(local.tenant_id(), "tinylicious");
//!
//! let remote = TinyliciousConfig::from_url("https://fluid.example.com")
//!     .unwrap()
//!     .with_tenant("my-tenant")
//!     .with_orderer_url("wss://orderer.example.com")
//!     .unwrap();
//! assert_eq!(remote.orderer_url().as_str(), "wss://orderer.example.com/");
//! assert_eq!(remote.storage_url().as_str(), "https://fluid.example.com/");
//! ```

use std::sync::Arc;
use std::time::Duration;

use audience_core::wire::User;
use url::Url;

use crate::error::TinyliciousError;
use crate::token::{InsecureTokenProvider, TokenProvider};

/// Tinylicious' default address.
pub const DEFAULT_BASE_URL: &str = "http://127.0.0.1:7070";
/// The tenant all Tinylicious tooling uses.
pub const DEFAULT_TENANT: &str = "tinylicious";
/// How long a connect may take, like the JS driver (20 s for `connect_document_success`).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// How long one REST request may take.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Where a Tinylicious or Routerlicious service is, and how to authenticate.
#[derive(Clone)]
pub struct TinyliciousConfig {
    base_url: Url,
    tenant_id: String,
    orderer_url: Option<Url>,
    storage_url: Option<Url>,
    token_provider: Arc<dyn TokenProvider>,
    connect_timeout: Duration,
    keepalive_interval: Duration,
    request_timeout: Duration,
    rest_user: User,
    extra_root_certificates: Vec<Vec<u8>>,
}

impl std::fmt::Debug for TinyliciousConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TinyliciousConfig")
            .field("base_url", &self.base_url.as_str())
            .field("tenant_id", &self.tenant_id)
            .field("orderer_url", &self.orderer_url().as_str())
            .field("storage_url", &self.storage_url().as_str())
            // The provider's own Debug redacts its secrets.
            .field("token_provider", &self.token_provider)
            .field("connect_timeout", &self.connect_timeout)
            .field("keepalive_interval", &self.keepalive_interval)
            .field("request_timeout", &self.request_timeout)
            .field("rest_user", &self.rest_user.id)
            .field(
                "extra_root_certificates",
                &self.extra_root_certificates.len(),
            )
            .finish()
    }
}

impl Default for TinyliciousConfig {
    /// A local Tinylicious at `http://127.0.0.1:7070`, tenant `tinylicious`, insecure tokens.
    fn default() -> Self {
        TinyliciousConfig {
            base_url: default_base_url(),
            tenant_id: DEFAULT_TENANT.to_owned(),
            orderer_url: None,
            storage_url: None,
            token_provider: Arc::new(InsecureTokenProvider::tinylicious()),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            keepalive_interval: crate::keepalive::IDLE_NOOP_INTERVAL,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            rest_user: User::new("audience-rest", "audience-rest"),
            extra_root_certificates: Vec::new(),
        }
    }
}

fn default_base_url() -> Url {
    // A compile-time constant, covered by tests: this cannot fail at run time.
    #[allow(clippy::expect_used)]
    Url::parse(DEFAULT_BASE_URL).expect("DEFAULT_BASE_URL is a valid URL")
}

/// Parses and checks a service URL: http(s) or ws(s), with a host.
pub(crate) fn parse_service_url(text: &str) -> Result<Url, TinyliciousError> {
    let invalid = |reason: &str| TinyliciousError::InvalidUrl {
        url: text.to_owned(),
        reason: reason.to_owned(),
    };
    let url = Url::parse(text).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https" | "ws" | "wss") {
        return Err(invalid("the scheme must be http, https, ws or wss"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("the URL has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("the URL must not have a query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "credentials in the URL are not supported; use a token provider",
        ));
    }
    Ok(url)
}

/// `url` with its scheme switched to `ws`/`wss` (`socket`) or `http`/`https` (REST).
pub(crate) fn with_scheme(url: &Url, socket: bool) -> Result<Url, TinyliciousError> {
    let secure = matches!(url.scheme(), "https" | "wss");
    let scheme = match (socket, secure) {
        (true, false) => "ws",
        (true, true) => "wss",
        (false, false) => "http",
        (false, true) => "https",
    };
    // `Url::set_scheme` refuses some special-scheme switches; rebuild from text instead.
    let rest = url
        .as_str()
        .split_once(':')
        .map(|(_, rest)| rest)
        .unwrap_or("");
    Url::parse(&format!("{scheme}:{rest}")).map_err(|e| TinyliciousError::InvalidUrl {
        url: url.to_string(),
        reason: e.to_string(),
    })
}

/// `base` with `segments` appended to its path (keeping a path prefix such as `/fluid/`).
pub(crate) fn join_path(base: &Url, segments: &[&str]) -> Result<Url, TinyliciousError> {
    let mut url = base.clone();
    {
        let mut path = url
            .path_segments_mut()
            .map_err(|()| TinyliciousError::InvalidUrl {
                url: base.to_string(),
                reason: "cannot be a base".into(),
            })?;
        path.pop_if_empty();
        path.extend(segments);
    }
    Ok(url)
}

impl TinyliciousConfig {
    /// The default local configuration (same as [`Default`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// A configuration whose base URL (REST and socket) is `url`.
    ///
    /// # Errors
    /// [`TinyliciousError::InvalidUrl`] unless `url` is an http(s)/ws(s) URL with a host.
    pub fn from_url(url: &str) -> Result<Self, TinyliciousError> {
        Self::default().with_base_url(url)
    }

    /// Sets the base URL used for everything not set separately.
    ///
    /// # Errors
    /// [`TinyliciousError::InvalidUrl`] unless `url` is an http(s)/ws(s) URL with a host.
    pub fn with_base_url(mut self, url: &str) -> Result<Self, TinyliciousError> {
        self.base_url = parse_service_url(url)?;
        Ok(self)
    }

    /// Sets the tenant id.
    #[must_use]
    pub fn with_tenant(mut self, tenant_id: impl Into<String>) -> Self {
        self.tenant_id = tenant_id.into();
        self
    }

    /// Sets the orderer URL (socket.io delta stream and `/documents` REST routes).
    ///
    /// # Errors
    /// [`TinyliciousError::InvalidUrl`] unless `url` is an http(s)/ws(s) URL with a host.
    pub fn with_orderer_url(mut self, url: &str) -> Result<Self, TinyliciousError> {
        self.orderer_url = Some(parse_service_url(url)?);
        Ok(self)
    }

    /// Sets the storage (historian) URL. This adapter does not read storage yet; the setting
    /// is kept so one configuration describes a whole Routerlicious deployment.
    ///
    /// # Errors
    /// [`TinyliciousError::InvalidUrl`] unless `url` is an http(s)/ws(s) URL with a host.
    pub fn with_storage_url(mut self, url: &str) -> Result<Self, TinyliciousError> {
        self.storage_url = Some(parse_service_url(url)?);
        Ok(self)
    }

    /// Sets the token provider (default: [`InsecureTokenProvider::tinylicious`]).
    #[must_use]
    pub fn with_token_provider(mut self, provider: Arc<dyn TokenProvider>) -> Self {
        self.token_provider = provider;
        self
    }

    /// How often an idle writer sends a noop (default 60 s) so the service's idle-client
    /// eviction (5 minutes on Tinylicious) never hits a live connection. Intervals under
    /// [`MIN_IDLE_NOOP_INTERVAL`](crate::keepalive::MIN_IDLE_NOOP_INTERVAL) (100 ms) are raised
    /// to it: `Duration::ZERO` would otherwise send noops in a busy loop.
    ///
    /// ```
    /// use std::time::Duration;
    /// use audience_tinylicious::TinyliciousConfig;
    /// let config = TinyliciousConfig::default().with_keepalive_interval(Duration::ZERO);
    /// assert_eq!(config.keepalive_interval(), Duration::from_millis(100));
    /// ```
    #[must_use]
    pub fn with_keepalive_interval(mut self, interval: Duration) -> Self {
        self.keepalive_interval = interval.max(crate::keepalive::MIN_IDLE_NOOP_INTERVAL);
        self
    }

    /// The idle writer's noop interval.
    pub fn keepalive_interval(&self) -> Duration {
        self.keepalive_interval
    }

    /// Sets how long a connect may take, from TCP connect to `connect_document_success`.
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets how long one REST request may take.
    #[must_use]
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets the user put in the tokens of REST calls (create, exists).
    #[must_use]
    pub fn with_rest_user(mut self, user: User) -> Self {
        self.rest_user = user;
        self
    }

    /// Trusts an extra root certificate (DER) for https/wss, besides the Mozilla roots.
    #[must_use]
    pub fn with_root_certificate_der(mut self, der: impl Into<Vec<u8>>) -> Self {
        self.extra_root_certificates.push(der.into());
        self
    }

    /// The base URL.
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// The tenant id.
    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    /// The orderer URL (the base URL unless set).
    pub fn orderer_url(&self) -> &Url {
        self.orderer_url.as_ref().unwrap_or(&self.base_url)
    }

    /// The storage URL (the base URL unless set).
    pub fn storage_url(&self) -> &Url {
        self.storage_url.as_ref().unwrap_or(&self.base_url)
    }

    /// The token provider.
    pub fn token_provider(&self) -> &Arc<dyn TokenProvider> {
        &self.token_provider
    }

    /// The connect timeout.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// The REST request timeout.
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    /// The user of REST tokens.
    pub fn rest_user(&self) -> &User {
        &self.rest_user
    }

    pub(crate) fn extra_root_certificates(&self) -> &[Vec<u8>] {
        &self.extra_root_certificates
    }

    /// The socket.io URL for a document:
    /// `ws(s)://<orderer>/socket.io/?documentId=…&tenantId=…&EIO=4&transport=websocket`.
    ///
    /// # Errors
    /// [`TinyliciousError::InvalidUrl`] if the orderer URL cannot carry a path.
    pub fn socket_url(&self, tenant_id: &str, document_id: &str) -> Result<Url, TinyliciousError> {
        let base = with_scheme(self.orderer_url(), true)?;
        // Trailing empty segment gives the `/socket.io/` path socket.io expects.
        let mut url = join_path(&base, &["socket.io", ""])?;
        url.query_pairs_mut()
            .append_pair("documentId", document_id)
            .append_pair("tenantId", tenant_id)
            .append_pair("EIO", "4")
            .append_pair("transport", "websocket");
        Ok(url)
    }

    /// An orderer REST URL: `http(s)://<orderer>/<segments…>`.
    pub(crate) fn orderer_rest_url(&self, segments: &[&str]) -> Result<Url, TinyliciousError> {
        join_path(&with_scheme(self.orderer_url(), false)?, segments)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_url_for_local_and_secure_hosts() {
        let local = TinyliciousConfig::default();
        assert_eq!(
            local.socket_url("tinylicious", "doc 1").unwrap().as_str(),
            "ws://127.0.0.1:7070/socket.io/?documentId=doc+1&tenantId=tinylicious&EIO=4&transport=websocket"
        );
        let secure = TinyliciousConfig::from_url("https://fluid.example.com/prefix/").unwrap();
        assert_eq!(
            secure.socket_url("t", "d").unwrap().as_str(),
            "wss://fluid.example.com/prefix/socket.io/?documentId=d&tenantId=t&EIO=4&transport=websocket"
        );
        let wss = TinyliciousConfig::default()
            .with_orderer_url("wss://orderer.example.com:8443")
            .unwrap();
        assert_eq!(wss.socket_url("t", "d").unwrap().scheme(), "wss");
        assert_eq!(
            wss.orderer_rest_url(&["documents", "t"]).unwrap().as_str(),
            "https://orderer.example.com:8443/documents/t"
        );
        assert_eq!(wss.storage_url().as_str(), "http://127.0.0.1:7070/");
    }

    #[test]
    fn rest_urls_escape_segments() {
        let config = TinyliciousConfig::from_url("ws://localhost:7171").unwrap();
        assert_eq!(
            config
                .orderer_rest_url(&["documents", "tinylicious", "a/b c"])
                .unwrap()
                .as_str(),
            "http://localhost:7171/documents/tinylicious/a%2Fb%20c"
        );
    }

    #[test]
    fn bad_urls_are_refused() {
        for bad in [
            "ftp://x",
            "not a url",
            "http://u:p@host",
            "http://host/?q=1",
            "file:///tmp",
        ] {
            assert!(
                matches!(
                    TinyliciousConfig::from_url(bad),
                    Err(TinyliciousError::InvalidUrl { .. })
                ),
                "{bad} should be refused"
            );
        }
    }

    #[test]
    fn keepalive_interval_has_a_floor() {
        let config = TinyliciousConfig::default();
        assert_eq!(config.keepalive_interval(), Duration::from_secs(60));
        let zero = config.clone().with_keepalive_interval(Duration::ZERO);
        assert_eq!(zero.keepalive_interval(), Duration::from_millis(100));
        let short = config.with_keepalive_interval(Duration::from_secs(2));
        assert_eq!(short.keepalive_interval(), Duration::from_secs(2));
    }

    #[test]
    fn debug_shows_urls_but_not_secrets() {
        let config = TinyliciousConfig::default()
            .with_token_provider(Arc::new(InsecureTokenProvider::new("k-e-y-secret")));
        let shown = format!("{config:?}");
        assert!(shown.contains("127.0.0.1:7070"));
        assert!(!shown.contains("k-e-y-secret"));
    }
}
