//! Access tokens: the [`TokenProvider`] trait and the [`InsecureTokenProvider`] Tinylicious uses.
//!
//! Tinylicious decodes the JWT sent in `connect_document` but never checks its signature; real
//! Routerlicious verifies it with the tenant key. Either way the token's `user` claim is what the
//! service puts in every client record, so it is what other clients see in their audience.
//!
//! Tokens and keys are secrets: [`AccessToken`] and [`InsecureTokenProvider`] redact them in
//! `Debug`, and this crate never logs them.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use audience_core::wire::User;
//! use audience_tinylicious::token::{InsecureTokenProvider, TokenProvider, TokenRequest};
//! let provider = InsecureTokenProvider::tinylicious();
//! let user = User::new("u1", "Ann");
//! let token = provider
//!     .token(&TokenRequest { tenant_id: "tinylicious", document_id: "doc", user: &user, scopes: &["doc:read"] })
//!     .await
//!     .unwrap();
//! assert_eq!(token.expose_secret().split('.').count(), 3);
//! assert_eq!(format!("{token:?}"), "AccessToken(<redacted>)");
//! # });
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use audience_core::wire::{Extra, TokenClaims, User};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::error::TinyliciousError;

/// The public test key of the `tinylicious` tenant.
pub const TINYLICIOUS_TENANT_KEY: &str = "12345";

/// Token lifetime used by the JS `InsecureTinyliciousTokenProvider` (one hour).
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// A signed access token (a JWT). Its `Debug` output is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(String);

impl AccessToken {
    /// Wraps a token string obtained elsewhere (e.g. from an authentication service).
    pub fn new(token: impl Into<String>) -> Self {
        AccessToken(token.into())
    }

    /// The token text, to put on the wire. Never log it.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

/// What a token is asked for.
#[derive(Debug, Clone, Copy)]
pub struct TokenRequest<'a> {
    /// Tenant id (`tinylicious`).
    pub tenant_id: &'a str,
    /// Document id; `""` when creating a document.
    pub document_id: &'a str,
    /// The user to put in the `user` claim.
    pub user: &'a User,
    /// Scopes (`doc:read`, `doc:write`, `summary:write`).
    pub scopes: &'a [&'a str],
}

/// Supplies access tokens for REST calls and socket connections.
///
/// Implement it to fetch tokens from your own authentication service (as Azure Fluid Relay and
/// real Routerlicious deployments require). Implementations must not log the tokens.
#[async_trait]
pub trait TokenProvider: Send + Sync + std::fmt::Debug {
    /// A token for `request`.
    async fn token(&self, request: &TokenRequest<'_>) -> Result<AccessToken, TinyliciousError>;
}

/// Signs HS256 JWTs locally with the tenant key, like the JS `InsecureTinyliciousTokenProvider`.
///
/// Only for local development: whoever holds the key can act as any user.
#[derive(Clone)]
pub struct InsecureTokenProvider {
    key: Vec<u8>,
    lifetime: Duration,
}

impl std::fmt::Debug for InsecureTokenProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InsecureTokenProvider")
            .field("key", &"<redacted>")
            .field("lifetime", &self.lifetime)
            .finish()
    }
}

impl Default for InsecureTokenProvider {
    fn default() -> Self {
        Self::tinylicious()
    }
}

impl InsecureTokenProvider {
    /// A provider signing with `tenant_key`.
    pub fn new(tenant_key: impl AsRef<[u8]>) -> Self {
        InsecureTokenProvider {
            key: tenant_key.as_ref().to_vec(),
            lifetime: DEFAULT_TOKEN_LIFETIME,
        }
    }

    /// The provider for the `tinylicious` tenant (key `12345`).
    pub fn tinylicious() -> Self {
        Self::new(TINYLICIOUS_TENANT_KEY)
    }

    /// Sets the token lifetime (`exp - iat`).
    #[must_use]
    pub fn with_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// The claims a token for `request` carries, issued at `now` (seconds since the epoch).
    ///
    /// The user always gets a name: the JS audience shows it, so a missing or empty name falls
    /// back to the user id.
    ///
    /// # Errors
    /// [`TinyliciousError::Token`] if the user has no id.
    pub fn claims(
        &self,
        request: &TokenRequest<'_>,
        now: u64,
    ) -> Result<TokenClaims, TinyliciousError> {
        let id = request
            .user
            .id()
            .ok_or_else(|| TinyliciousError::Token("the user has no id".into()))?;
        let mut user = request.user.clone();
        if user.name.as_deref().is_none_or(str::is_empty) {
            user.name = Some(id.to_owned());
        }
        Ok(TokenClaims {
            document_id: request.document_id.to_owned(),
            scopes: request.scopes.iter().map(|s| (*s).to_owned()).collect(),
            tenant_id: request.tenant_id.to_owned(),
            user,
            iat: now,
            exp: now.saturating_add(self.lifetime.as_secs()),
            ver: "1.0".to_owned(),
            extra: Extra::new(),
        })
    }

    /// Signs `claims` as an HS256 JWT.
    ///
    /// # Errors
    /// [`TinyliciousError::Token`] if the claims cannot be serialized.
    pub fn sign(&self, claims: &TokenClaims) -> Result<AccessToken, TinyliciousError> {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = serde_json::to_vec(claims)
            .map_err(|e| TinyliciousError::Token(format!("cannot encode claims: {e}")))?;
        let signing_input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(payload));
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key)
            .map_err(|_| TinyliciousError::Token("invalid HMAC key".into()))?;
        mac.update(signing_input.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        Ok(AccessToken(format!("{signing_input}.{signature}")))
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[async_trait]
impl TokenProvider for InsecureTokenProvider {
    async fn token(&self, request: &TokenRequest<'_>) -> Result<AccessToken, TinyliciousError> {
        let claims = self.claims(request, now_secs())?;
        self.sign(&claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(user: &'a User, scopes: &'a [&'a str]) -> TokenRequest<'a> {
        TokenRequest {
            tenant_id: "tinylicious",
            document_id: "doc-1",
            user,
            scopes,
        }
    }

    #[test]
    fn jwt_matches_known_hs256_signature() {
        // Reference computed independently (python: hmac.new(b"12345", signing_input, sha256)).
        let provider = InsecureTokenProvider::tinylicious();
        let user = User::new("alice", "Alice");
        let claims = provider
            .claims(&request(&user, &["doc:read", "doc:write"]), 1_796_314_392)
            .unwrap();
        let token = provider.sign(&claims).unwrap();
        let parts: Vec<&str> = token.expose_secret().split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0], "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9");
        let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(
            payload,
            r#"{"documentId":"doc-1","scopes":["doc:read","doc:write"],"tenantId":"tinylicious","user":{"id":"alice","name":"Alice"},"iat":1796314392,"exp":1796317992,"ver":"1.0"}"#
        );
        assert_eq!(parts[2], EXPECTED_SIGNATURE);
    }

    const EXPECTED_SIGNATURE: &str = "oDsK_jH4KO6-qoV0VCb2bmFoizh20i3xtEdxre70Gx0";

    #[test]
    fn missing_name_defaults_to_id_and_missing_id_is_an_error() {
        let provider = InsecureTokenProvider::tinylicious();
        let user = User {
            id: Some("bob".into()),
            name: None,
            extra: Extra::new(),
        };
        let claims = provider.claims(&request(&user, &["doc:read"]), 10).unwrap();
        assert_eq!(claims.user.name.as_deref(), Some("bob"));
        assert_eq!(claims.exp, 3610);
        let nameless = User {
            id: Some("carol".into()),
            name: Some(String::new()),
            extra: Extra::new(),
        };
        assert_eq!(
            provider
                .claims(&request(&nameless, &[]), 0)
                .unwrap()
                .user
                .name
                .as_deref(),
            Some("carol")
        );
        let anonymous = User::default();
        assert!(matches!(
            provider.claims(&request(&anonymous, &[]), 0),
            Err(TinyliciousError::Token(_))
        ));
    }

    #[test]
    fn debug_output_hides_key_and_token() {
        let provider = InsecureTokenProvider::new("super-secret-key");
        let shown = format!("{provider:?}");
        assert!(!shown.contains("super-secret-key"), "{shown}");
        assert!(shown.contains("<redacted>"));
        let token = AccessToken::new("eyJ.secret.sig");
        assert!(!format!("{token:?}").contains("secret"));
    }

    #[test]
    fn different_keys_give_different_signatures() {
        let user = User::new("u", "U");
        let a = InsecureTokenProvider::new("k1");
        let b = InsecureTokenProvider::new("k2");
        let claims = a.claims(&request(&user, &["doc:read"]), 5).unwrap();
        assert_ne!(a.sign(&claims).unwrap(), b.sign(&claims).unwrap());
    }
}
