//! [`ServiceAudience`]: members grouped by user, filtered by a policy, as the JS
//! `ServiceAudience` presents them, with immutable snapshots and events.
//!
//! It wraps a [`Roster`] and is just as pure: feed it [`RosterInput`]s, get
//! [`AudienceEvent`]s back. The async [`crate::client::AudienceClient`] drives one from a
//! transport; tests and other runtimes can drive it by hand.
//!
//! ```
//! use audience_core::audience::{AudienceEvent, ServiceAudience};
//! use audience_core::member::{BasicMember, Member};
//! use audience_core::roster::RosterInput;
//! use audience_core::transport::Source;
//! use audience_core::wire::{Client, ConnectionMode, SignalClient, User};
//!
//! let mut audience: ServiceAudience<BasicMember> = ServiceAudience::default();
//! audience.apply(RosterInput::Connected { client_id: "me".into(), initial_clients: vec![] });
//! let ann = SignalClient::new("c1", Client::interactive(User::new("ann", "Ann"), ConnectionMode::Write));
//! let events = audience.apply(RosterInput::Joined { client: ann, source: Source::Signal });
//! assert!(matches!(&events[0], AudienceEvent::MemberAdded { client_id, member } if client_id == "c1" && member.id() == "ann"));
//! assert!(matches!(&events[1], AudienceEvent::MembersChanged(members) if members.len() == 1));
//! let snapshot = audience.get_members();
//! assert_eq!(snapshot.get("ann").map(|m| m.connections().len()), Some(1));
//! ```

use std::sync::Arc;

use serde::ser::SerializeMap;

use crate::member::{Connection, Member, Myself};
use crate::policy::{InteractiveOnly, MemberPolicy};
use crate::roster::{ConnectionState, Roster, RosterChange, RosterInput};
use crate::wire::{Client, ClientId};

/// What changed in the audience.
#[derive(Debug, Clone, PartialEq)]
pub enum AudienceEvent<M> {
    /// A connection of `member` was added; `member` includes it.
    MemberAdded {
        /// The added connection.
        client_id: ClientId,
        /// The member after the change.
        member: Arc<M>,
    },
    /// A connection of `member` was removed; `member` is as it was before the removal (its
    /// connections still list `client_id`).
    MemberRemoved {
        /// The removed connection.
        client_id: ClientId,
        /// The member before the change.
        member: Arc<M>,
    },
    /// The member list changed; follows every add and remove, with the members right after
    /// that change (an O(1) snapshot: a consumer printing the list after each event sees each
    /// state, even when it reads events later than they happened).
    MembersChanged(MembersSnapshot<M>),
    /// Our own connection is in the audience: we are connected.
    Connected {
        /// Our client id.
        client_id: ClientId,
    },
    /// Our connection ended (or the service evicted us); the members are now stale.
    Disconnected,
    /// Our client id changed because we reconnected.
    SelfChanged {
        /// The previous client id.
        old: ClientId,
        /// The new client id.
        new: ClientId,
    },
}

/// An immutable view of the members at one moment. Taking one is O(1) and it never changes
/// after it is returned.
#[derive(Debug, Clone, PartialEq)]
pub struct MembersSnapshot<M> {
    members: imbl::OrdMap<Arc<str>, Arc<M>>,
    state: ConnectionState,
    self_id: Option<Arc<str>>,
}

impl<M> Default for MembersSnapshot<M> {
    /// No members, disconnected.
    fn default() -> Self {
        MembersSnapshot {
            members: imbl::OrdMap::new(),
            state: ConnectionState::Disconnected,
            self_id: None,
        }
    }
}

impl<M: Member> MembersSnapshot<M> {
    /// The member of `user_id`.
    pub fn get(&self, user_id: &str) -> Option<&M> {
        self.members.get(user_id).map(Arc::as_ref)
    }

    /// Members in user-id order.
    pub fn iter(&self) -> impl Iterator<Item = &M> {
        self.members.values().map(Arc::as_ref)
    }

    /// Members in user-id order, shared (cloning one is a reference-count increment).
    pub fn iter_shared(&self) -> impl Iterator<Item = &Arc<M>> {
        self.members.values()
    }

    /// Number of members (users, not connections).
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// `true` with no member.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Our connection state when the snapshot was taken.
    pub fn connection_state(&self) -> ConnectionState {
        self.state
    }

    /// `true` when taken while not connected: the list is what we last knew, not live.
    pub fn is_stale(&self) -> bool {
        self.state != ConnectionState::Connected
    }

    /// Our client id when the snapshot was taken.
    pub fn self_id(&self) -> Option<&str> {
        self.self_id.as_deref()
    }

    /// The member owning connection `client_id`.
    pub fn member_of_connection(&self, client_id: &str) -> Option<&M> {
        self.iter()
            .find(|m| m.connections().iter().any(|c| &*c.id == client_id))
    }
}

impl<M: Member + serde::Serialize> serde::Serialize for MembersSnapshot<M> {
    /// Serializes as the JS `getMembers()` map: `{ "<user id>": member, ... }`.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.members.len()))?;
        for (id, member) in &self.members {
            map.serialize_entry(id, member.as_ref())?;
        }
        map.end()
    }
}

/// Members grouped by user id, filtered by policy `P`, derived from a [`Roster`].
pub struct ServiceAudience<M: Member, P: MemberPolicy = InteractiveOnly> {
    roster: Roster,
    policy: P,
    members: imbl::OrdMap<Arc<str>, Arc<M>>,
    /// Reused buffer for the roster's changes.
    scratch: Vec<RosterChange>,
}

impl<M: Member> Default for ServiceAudience<M, InteractiveOnly> {
    fn default() -> Self {
        ServiceAudience::new(InteractiveOnly)
    }
}

impl<M: Member, P: MemberPolicy> std::fmt::Debug for ServiceAudience<M, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAudience")
            .field("members", &self.members.len())
            .field("connections", &self.roster.len())
            .field("state", &self.roster.state())
            .finish_non_exhaustive()
    }
}

impl<M: Member, P: MemberPolicy> ServiceAudience<M, P> {
    /// An empty audience with `policy`.
    pub fn new(policy: P) -> Self {
        ServiceAudience::with_roster(policy, Roster::default())
    }

    /// An empty audience with `policy` over a roster configured by the caller.
    pub fn with_roster(policy: P, roster: Roster) -> Self {
        ServiceAudience {
            roster,
            policy,
            members: imbl::OrdMap::new(),
            scratch: Vec::new(),
        }
    }

    /// Applies one input; returns the events it caused, in order.
    pub fn apply(&mut self, input: RosterInput) -> Vec<AudienceEvent<M>> {
        let mut events = Vec::new();
        self.apply_into(input, &mut events);
        events
    }

    /// Applies one input and appends the events it caused to `events`: the allocation-free
    /// form of [`apply`](Self::apply) for hot loops that reuse one buffer.
    pub fn apply_into(&mut self, input: RosterInput, events: &mut Vec<AudienceEvent<M>>) {
        let mut changes = std::mem::take(&mut self.scratch);
        self.roster.apply_into(input, &mut changes);
        for change in changes.drain(..) {
            match change {
                RosterChange::Added { client_id, client } => self.add(client_id, client, events),
                RosterChange::Removed { client_id, client } => {
                    self.remove(client_id, &client, events)
                }
                RosterChange::SelfJoined {
                    client_id,
                    previous,
                } => {
                    if let Some(old) = previous {
                        events.push(AudienceEvent::SelfChanged {
                            old,
                            new: client_id.clone(),
                        });
                    }
                    events.push(AudienceEvent::Connected { client_id });
                }
                RosterChange::SelfLeft { .. } => events.push(AudienceEvent::Disconnected),
            }
        }
        self.scratch = changes;
    }

    /// The user id under which connection `client_id` is shown, if the policy shows it.
    fn shown_as<'c>(&self, client_id: &str, client: &'c Client) -> Option<&'c str> {
        if !self.policy.includes(client_id, client) {
            return None;
        }
        client.user.id()
    }

    fn add(
        &mut self,
        client_id: ClientId,
        client: Arc<Client>,
        events: &mut Vec<AudienceEvent<M>>,
    ) {
        let Some(user_id) = self.shown_as(&client_id, &client) else {
            if client.user.id().is_none() {
                tracing::warn!(client_id = %client_id, "client without a user id is not shown as a member");
            }
            return;
        };
        let connection = Connection {
            id: Arc::from(client_id.as_str()),
            mode: client.mode,
            client: Arc::clone(&client),
        };
        // One clone of the member per change: snapshots and events share it.
        let member = match self.members.get_mut(user_id) {
            Some(slot) => {
                let mut member = M::clone(slot);
                member.connections_mut().push(connection);
                let member = Arc::new(member);
                *slot = Arc::clone(&member);
                member
            }
            None => {
                let mut member = M::from_client(user_id, &client);
                member.connections_mut().push(connection);
                let member = Arc::new(member);
                self.members.insert(Arc::from(user_id), Arc::clone(&member));
                member
            }
        };
        events.push(AudienceEvent::MemberAdded { client_id, member });
        events.push(AudienceEvent::MembersChanged(self.get_members()));
    }

    fn remove(&mut self, client_id: ClientId, client: &Client, events: &mut Vec<AudienceEvent<M>>) {
        // Only a connection some member lists causes an event: one hidden by the policy or never
        // shown causes none (C-04). The policy is not asked again, so a policy whose answer
        // changed cannot strand the connection.
        let Some(user_id) = client.user.id() else {
            return;
        };
        let Some(slot) = self.members.get_mut(user_id) else {
            return;
        };
        if !slot.connections().iter().any(|c| *c.id == *client_id) {
            return;
        }
        let before = Arc::clone(slot);
        if before.connections().len() == 1 {
            self.members.remove(user_id);
        } else {
            let mut after = M::clone(&before);
            after.connections_mut().retain(|c| *c.id != *client_id);
            *slot = Arc::new(after);
        }
        events.push(AudienceEvent::MemberRemoved {
            client_id,
            member: before,
        });
        events.push(AudienceEvent::MembersChanged(self.get_members()));
    }

    /// An immutable snapshot of the members: O(1), shares structure with the live state.
    pub fn get_members(&self) -> MembersSnapshot<M> {
        MembersSnapshot {
            members: self.members.clone(),
            state: self.roster.state(),
            self_id: self.roster.self_id_shared().cloned(),
        }
    }

    /// Our own member with the current connection; `None` while not connected, or when our own
    /// connection is not a member (hidden by the policy, or not in the audience yet).
    pub fn get_myself(&self) -> Option<Myself<M>> {
        if self.roster.state() != ConnectionState::Connected {
            return None;
        }
        let self_id = self.roster.self_id()?;
        let client = self.roster.get(self_id)?;
        let member = self.members.get(client.user.id()?)?;
        // Shown only if the member lists this connection (the policy may have hidden it).
        if !member.connections().iter().any(|c| *c.id == *self_id) {
            return None;
        }
        let member = M::clone(member);
        Some(Myself {
            member,
            current_connection: self_id.to_owned(),
        })
    }

    /// Where our connection stands.
    pub fn connection_state(&self) -> ConnectionState {
        self.roster.state()
    }

    /// The roster underneath (every connection, unfiltered).
    pub fn roster(&self) -> &Roster {
        &self.roster
    }

    /// The policy in use.
    pub fn policy(&self) -> &P {
        &self.policy
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::member::BasicMember;
    use crate::transport::Source;
    use crate::wire::{ConnectionMode, SignalClient, User};

    fn join(
        a: &mut ServiceAudience<BasicMember>,
        id: &str,
        client: Client,
    ) -> Vec<AudienceEvent<BasicMember>> {
        a.apply(RosterInput::Joined {
            client: SignalClient::new(id, client),
            source: Source::Signal,
        })
    }

    fn writer(user: &str) -> Client {
        Client::interactive(User::new(user, user), ConnectionMode::Write)
    }

    #[test]
    fn removal_carries_member_as_it_was_and_snapshots_do_not_change() {
        let mut a = ServiceAudience::default();
        a.apply(RosterInput::Connected {
            client_id: "b1".into(),
            initial_clients: vec![],
        });
        join(&mut a, "a1", writer("ua"));
        join(&mut a, "a2", writer("ua"));
        let before = a.get_members();
        let ev = a.apply(RosterInput::Left {
            client_id: "a1".into(),
            source: Source::Op,
        });
        match &ev[0] {
            AudienceEvent::MemberRemoved { client_id, member } => {
                assert_eq!(client_id, "a1");
                let conns: Vec<_> = member.connections.iter().map(|c| &*c.id).collect();
                assert_eq!(conns, ["a1", "a2"]);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(
            matches!(&ev[1], AudienceEvent::MembersChanged(m) if m.get("ua").map(|m| m.connections.len()) == Some(1))
        );
        assert_eq!(before.get("ua").map(|m| m.connections.len()), Some(2));
        let after = a.get_members();
        let conns: Vec<_> = after
            .get("ua")
            .map(|m| m.connections.iter().map(|c| c.id.to_string()).collect())
            .unwrap_or_default();
        assert_eq!(conns, ["a2"]);
    }

    #[test]
    fn hidden_and_userless_clients_cause_no_events() {
        let mut a = ServiceAudience::default();
        a.apply(RosterInput::Connected {
            client_id: "me".into(),
            initial_clients: vec![],
        });
        assert!(join(&mut a, "s", Client::summarizer(User::new("ua", "A"))).is_empty());
        let mut nouser = writer("x");
        nouser.user.id = None;
        assert!(join(&mut a, "n", nouser).is_empty());
        assert!(
            a.apply(RosterInput::Left {
                client_id: "s".into(),
                source: Source::Signal
            })
            .is_empty()
        );
        assert!(a.get_members().is_empty());
    }

    #[test]
    fn a_policy_that_changes_its_mind_cannot_strand_a_connection() {
        use std::sync::atomic::{AtomicBool, Ordering};
        static SHOW: AtomicBool = AtomicBool::new(true);
        let mut a: ServiceAudience<BasicMember, _> =
            ServiceAudience::new(|_: &str, _: &Client| SHOW.load(Ordering::SeqCst));
        a.apply(RosterInput::Connected {
            client_id: "me".into(),
            initial_clients: vec![],
        });
        a.apply(RosterInput::Joined {
            client: SignalClient::new("x", writer("ux")),
            source: Source::Signal,
        });
        SHOW.store(false, Ordering::SeqCst);
        let ev = a.apply(RosterInput::Left {
            client_id: "x".into(),
            source: Source::Signal,
        });
        assert!(
            matches!(&ev[0], AudienceEvent::MemberRemoved { client_id, .. } if client_id == "x"),
            "{ev:?}"
        );
        assert!(a.get_members().is_empty());
    }

    #[test]
    fn myself_follows_connection_state() {
        let mut a = ServiceAudience::default();
        assert!(a.get_myself().is_none());
        a.apply(RosterInput::Connected {
            client_id: "me".into(),
            initial_clients: vec![],
        });
        assert!(a.get_myself().is_none());
        join(&mut a, "me", writer("u"));
        assert_eq!(
            a.get_myself().map(|m| m.current_connection),
            Some("me".to_owned())
        );
        let ev = a.apply(RosterInput::Disconnected);
        assert_eq!(ev, vec![AudienceEvent::Disconnected]);
        assert!(a.get_myself().is_none());
        assert!(a.get_members().is_stale());
        assert_eq!(a.get_members().len(), 1);
    }
}
