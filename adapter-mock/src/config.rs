//! Service configuration.

/// How a [`crate::MockService`] behaves where a real service would be random or time-based.
///
/// ```
/// use audience_mock::{MockService, MockServiceConfig};
/// let svc = MockService::with_config(MockServiceConfig { seed: 7, ..MockServiceConfig::default() });
/// assert_eq!(svc.config().seed, 7);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockServiceConfig {
    /// Seed of the client ids: two services with the same seed hand out the same ids in the
    /// same order.
    pub seed: u64,
    /// `iat` of the token claims reported on connect (seconds since the epoch); `exp` is one
    /// hour later. Fixed so nothing depends on the wall clock.
    pub issued_at: u64,
    /// Keep a transcript of every message handed to a client (see
    /// [`crate::MockService::transcript`]). Off by default to keep long runs small.
    pub record_transcript: bool,
}

impl Default for MockServiceConfig {
    fn default() -> Self {
        MockServiceConfig {
            seed: 0x5EED_F1D0,
            issued_at: 1_796_314_407,
            record_transcript: false,
        }
    }
}
