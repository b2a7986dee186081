//! Filtering policies: which connections count as audience members.
//!
//! The default, [`InteractiveOnly`], is the JS `ServiceAudience` rule: a connection is a member
//! iff `details.capabilities.interactive == true`, which hides the summarizer and other agents.
//! Policies apply per connection and compose:
//!
//! ```
//! use audience_core::policy::{InteractiveOnly, MemberPolicy, PolicyExt, WriteOnly};
//! use audience_core::wire::{Client, ConnectionMode, User};
//! let policy = InteractiveOnly.and(WriteOnly);
//! let reader = Client::interactive(User::new("u", "U"), ConnectionMode::Read);
//! assert!(!policy.includes("c1", &reader));
//! let custom = |_: &str, c: &Client| c.user.name.is_some();
//! assert!(custom.includes("c1", &reader));
//! ```

use crate::wire::{Client, ConnectionMode};

/// Decides whether one connection is shown as part of the audience.
///
/// It is asked once, when the connection joins; whatever it answered, the connection's leave
/// is reported only if the connection was shown.
pub trait MemberPolicy: Send + Sync + 'static {
    /// `true` to include connection `client_id` with record `client`.
    fn includes(&self, client_id: &str, client: &Client) -> bool;
}

impl<F> MemberPolicy for F
where
    F: Fn(&str, &Client) -> bool + Send + Sync + 'static,
{
    fn includes(&self, client_id: &str, client: &Client) -> bool {
        self(client_id, client)
    }
}

impl MemberPolicy for Box<dyn MemberPolicy> {
    fn includes(&self, client_id: &str, client: &Client) -> bool {
        (**self).includes(client_id, client)
    }
}

/// The default: interactive clients only (hides summarizers and bots), any mode.
#[derive(Debug, Clone, Copy, Default)]
pub struct InteractiveOnly;

impl MemberPolicy for InteractiveOnly {
    fn includes(&self, _: &str, client: &Client) -> bool {
        client.is_interactive()
    }
}

/// Write-mode connections only (interactive or not).
#[derive(Debug, Clone, Copy, Default)]
pub struct WriteOnly;

impl MemberPolicy for WriteOnly {
    fn includes(&self, _: &str, client: &Client) -> bool {
        client.mode == ConnectionMode::Write
    }
}

/// Every connection, summarizers included.
#[derive(Debug, Clone, Copy, Default)]
pub struct KeepAll;

impl MemberPolicy for KeepAll {
    fn includes(&self, _: &str, _: &Client) -> bool {
        true
    }
}

/// Both policies must include the connection.
#[derive(Debug, Clone, Copy)]
pub struct And<A, B>(pub A, pub B);

impl<A: MemberPolicy, B: MemberPolicy> MemberPolicy for And<A, B> {
    fn includes(&self, id: &str, client: &Client) -> bool {
        self.0.includes(id, client) && self.1.includes(id, client)
    }
}

/// Either policy includes the connection.
#[derive(Debug, Clone, Copy)]
pub struct Or<A, B>(pub A, pub B);

impl<A: MemberPolicy, B: MemberPolicy> MemberPolicy for Or<A, B> {
    fn includes(&self, id: &str, client: &Client) -> bool {
        self.0.includes(id, client) || self.1.includes(id, client)
    }
}

/// Inverts a policy.
#[derive(Debug, Clone, Copy)]
pub struct Not<A>(pub A);

impl<A: MemberPolicy> MemberPolicy for Not<A> {
    fn includes(&self, id: &str, client: &Client) -> bool {
        !self.0.includes(id, client)
    }
}

/// Combinators for any policy.
pub trait PolicyExt: MemberPolicy + Sized {
    /// Both must include.
    fn and<B: MemberPolicy>(self, other: B) -> And<Self, B> {
        And(self, other)
    }
    /// Either may include.
    fn or<B: MemberPolicy>(self, other: B) -> Or<Self, B> {
        Or(self, other)
    }
}

impl<P: MemberPolicy> PolicyExt for P {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::User;

    #[test]
    fn default_policy_hides_summarizer_but_keeps_readers() {
        let s = Client::summarizer(User::new("u", "U"));
        let r = Client::interactive(User::new("u", "U"), ConnectionMode::Read);
        assert!(!InteractiveOnly.includes("s", &s));
        assert!(InteractiveOnly.includes("r", &r));
        assert!(KeepAll.includes("s", &s));
        assert!(WriteOnly.includes("s", &s));
        assert!(!WriteOnly.includes("r", &r));
        assert!(Not(WriteOnly).includes("r", &r));
        assert!(InteractiveOnly.or(WriteOnly).includes("s", &s));
    }
}
