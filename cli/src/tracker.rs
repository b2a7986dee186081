//! [`Tracker`]: the members as of the last event printed.
//!
//! `AudienceClient::get_members` is always the newest state, which may already be ahead of the
//! event being printed. Every `MembersChanged` event carries the snapshot right after its change,
//! so keeping the last one makes the table printed after an event exactly the state right after
//! that event, whatever the timing, which is what keeps the demo's output deterministic.

use audience_core::audience::{AudienceEvent, MembersSnapshot};
use audience_core::member::Member;
use audience_core::wire::ClientId;

/// The last members snapshot, the own client id and whether we are connected, as of the last
/// event.
#[derive(Debug, Clone)]
pub struct Tracker<M> {
    members: MembersSnapshot<M>,
    self_id: Option<ClientId>,
    connected: bool,
}

impl<M> Default for Tracker<M> {
    fn default() -> Self {
        Tracker {
            members: MembersSnapshot::default(),
            self_id: None,
            connected: false,
        }
    }
}

impl<M: Member> Tracker<M> {
    /// Applies one audience event.
    pub fn apply(&mut self, event: &AudienceEvent<M>) {
        match event {
            AudienceEvent::MembersChanged(members) => self.members = members.clone(),
            AudienceEvent::Connected { client_id } => {
                self.self_id = Some(client_id.clone());
                self.connected = true;
            }
            AudienceEvent::Disconnected => self.connected = false,
            AudienceEvent::SelfChanged { new, .. } => self.self_id = Some(new.clone()),
            AudienceEvent::MemberAdded { .. } | AudienceEvent::MemberRemoved { .. } => {}
        }
    }

    /// Starts over from a snapshot (after this subscriber lagged and missed events).
    pub fn resync(&mut self, snapshot: &MembersSnapshot<M>) {
        self.members = snapshot.clone();
        self.self_id = snapshot.self_id().map(str::to_owned);
        self.connected = !snapshot.is_stale();
    }

    /// Members in user-id order.
    pub fn members(&self) -> impl Iterator<Item = &M> {
        self.members.iter()
    }

    /// The member of `user_id`.
    pub fn get(&self, user_id: &str) -> Option<&M> {
        self.members.get(user_id)
    }

    /// The member owning connection `client_id`.
    pub fn member_of_connection(&self, client_id: &str) -> Option<&M> {
        self.members.member_of_connection(client_id)
    }

    /// Whether connection `client_id` is shown.
    pub fn has_connection(&self, client_id: &str) -> bool {
        self.member_of_connection(client_id).is_some()
    }

    /// Number of members (users).
    pub fn member_count(&self) -> usize {
        self.members.len()
    }

    /// Number of connections over all members.
    pub fn connection_count(&self) -> usize {
        self.members().map(|m| m.connections().len()).sum()
    }

    /// Our client id (current or last).
    pub fn self_id(&self) -> Option<&str> {
        self.self_id.as_deref()
    }

    /// Whether our own connection is in the audience.
    pub fn is_connected(&self) -> bool {
        self.connected
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use audience_core::audience::ServiceAudience;
    use audience_core::member::BasicMember;
    use audience_core::roster::RosterInput;
    use audience_core::transport::Source;
    use audience_core::wire::{Client, ConnectionMode, SignalClient, User};

    fn join(id: &str, user: &str, mode: ConnectionMode) -> RosterInput {
        RosterInput::Joined {
            client: SignalClient::new(id, Client::interactive(User::new(user, user), mode)),
            source: Source::Signal,
        }
    }

    #[test]
    fn follows_the_audience_event_by_event() {
        let mut audience: ServiceAudience<BasicMember> = ServiceAudience::default();
        let mut tracker = Tracker::default();
        let inputs = vec![
            RosterInput::Connected {
                client_id: "me".into(),
                initial_clients: vec![],
            },
            join("me", "watcher", ConnectionMode::Read),
            join("a1", "ann", ConnectionMode::Write),
            join("a2", "ann", ConnectionMode::Read),
            RosterInput::Left {
                client_id: "a1".into(),
                source: Source::Signal,
            },
        ];
        for input in inputs {
            for event in audience.apply(input) {
                tracker.apply(&event);
            }
            let expected = audience.get_members();
            let got: Vec<&BasicMember> = tracker.members().collect();
            let want: Vec<&BasicMember> = expected.iter().collect();
            assert_eq!(got, want);
        }
        assert!(tracker.is_connected());
        assert_eq!(tracker.self_id(), Some("me"));
        assert_eq!(tracker.member_count(), 2);
        assert_eq!(tracker.connection_count(), 2);
        assert_eq!(
            tracker.member_of_connection("a2").map(|m| m.id.as_str()),
            Some("ann")
        );
        assert!(!tracker.has_connection("a1"));

        for event in audience.apply(RosterInput::Left {
            client_id: "a2".into(),
            source: Source::Signal,
        }) {
            tracker.apply(&event);
        }
        assert!(tracker.get("ann").is_none());

        let mut fresh = Tracker::default();
        fresh.resync(&audience.get_members());
        assert_eq!(fresh.member_count(), 1);
        assert_eq!(fresh.self_id(), Some("me"));
        assert!(fresh.is_connected());
    }
}
