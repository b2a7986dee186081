//! The per-connection roster: a pure, synchronous state machine.
//!
//! Inputs are what a transport reports ([`RosterInput`]); the output of every step is the list
//! of changes it made ([`RosterChange`]). No I/O, no clocks, no async: the same inputs always give
//! the same outputs.
//!
//! Rules, all from how Fluid services behave:
//! * A join is accepted from a signal or from a sequenced op, whichever comes first; the second
//!   copy changes nothing (C-06).
//! * A leave for an unknown client changes nothing (C-05), but is remembered.
//! * Client ids are never reused, so a departed id is remembered (in a bounded memory) and a
//!   late join for it is ignored (C-13).
//! * A new connection brings the service's full client list: the roster diffs it against what
//!   it held, so whatever happened while offline becomes exactly one change each (C-11).
//! * The own connection counts as connected only once its own join has been seen (C-01).
//!
//! ```
//! use audience_core::roster::{Roster, RosterInput, RosterChange};
//! use audience_core::transport::Source;
//! use audience_core::wire::{Client, ConnectionMode, SignalClient, User};
//! let mut roster = Roster::default();
//! let me = SignalClient::new("c1", Client::interactive(User::new("u1", "Ann"), ConnectionMode::Write));
//! roster.apply(RosterInput::Connected { client_id: "c1".into(), initial_clients: vec![] });
//! let changes = roster.apply(RosterInput::Joined { client: me.clone(), source: Source::Signal });
//! assert!(matches!(&changes[0], RosterChange::Added { client_id, .. } if client_id == "c1"));
//! assert!(matches!(&changes[1], RosterChange::SelfJoined { client_id, previous: None } if client_id == "c1"));
//! // The same join again, now as an op: nothing changes.
//! assert!(roster.apply(RosterInput::Joined { client: me, source: Source::Op }).is_empty());
//! ```

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

// Client ids come from the service; foldhash is fast and randomly seeded per map.
use foldhash::fast::RandomState;

use crate::transport::Source;
use crate::wire::{Client, ClientId, SignalClient};

/// How many departed client ids are remembered by default.
pub const DEFAULT_DEPARTED_CAPACITY: usize = 16_384;

/// One input to the roster.
#[derive(Debug, Clone, PartialEq)]
pub enum RosterInput {
    /// A new connection was accepted: our client id and every other client at that moment.
    Connected {
        /// Our client id on this connection.
        client_id: ClientId,
        /// The service's client list (never contains our own client).
        initial_clients: Vec<SignalClient>,
    },
    /// A client joined.
    Joined {
        /// The client.
        client: SignalClient,
        /// Signal or op.
        source: Source,
    },
    /// A client left.
    Left {
        /// The client.
        client_id: ClientId,
        /// Signal or op.
        source: Source,
    },
    /// Our connection ended.
    Disconnected,
}

/// One change the roster made.
#[derive(Debug, Clone, PartialEq)]
pub enum RosterChange {
    /// A client is now in the roster.
    Added {
        /// Its id.
        client_id: ClientId,
        /// Its record.
        client: Arc<Client>,
    },
    /// A client is no longer in the roster; `client` is its record.
    Removed {
        /// Its id.
        client_id: ClientId,
        /// Its record as it was.
        client: Arc<Client>,
    },
    /// Our own join was seen: the connection is live. `previous` is the client id of our
    /// previous connection, if any.
    SelfJoined {
        /// Our client id.
        client_id: ClientId,
        /// Our previous client id.
        previous: Option<ClientId>,
    },
    /// Our connection ended, or the service removed our own client (eviction).
    SelfLeft {
        /// The client id we had.
        client_id: ClientId,
    },
}

/// Where our own connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectionState {
    /// No connection: the roster is what we last knew, possibly stale.
    Disconnected,
    /// Connected, waiting for our own join.
    Joining,
    /// Our own client is in the roster.
    Connected,
}

impl std::fmt::Display for ConnectionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ConnectionState::Disconnected => "disconnected",
            ConnectionState::Joining => "joining",
            ConnectionState::Connected => "connected",
        })
    }
}

/// A bounded memory of departed client ids (first in, first out).
#[derive(Debug, Clone)]
struct Departed {
    ids: HashSet<Arc<str>, RandomState>,
    order: VecDeque<Arc<str>>,
    capacity: usize,
}

impl Departed {
    fn new(capacity: usize) -> Self {
        Departed {
            ids: HashSet::default(),
            order: VecDeque::new(),
            capacity,
        }
    }

    fn insert(&mut self, id: &str) {
        if self.capacity == 0 || self.ids.contains(id) {
            return;
        }
        if self.order.len() >= self.capacity
            && let Some(oldest) = self.order.pop_front()
        {
            self.ids.remove(&oldest);
        }
        let id: Arc<str> = Arc::from(id);
        self.ids.insert(Arc::clone(&id));
        self.order.push_back(id);
    }

    fn contains(&self, id: &str) -> bool {
        self.ids.contains(id)
    }

    fn forget(&mut self, id: &str) {
        if self.ids.remove(id) {
            self.order.retain(|other| &**other != id);
        }
    }
}

/// The set of connections of one document as seen from one client.
#[derive(Debug, Clone)]
pub struct Roster {
    clients: HashMap<ClientId, Arc<Client>, RandomState>,
    departed: Departed,
    self_id: Option<Arc<str>>,
    /// Our client id on the last connection whose own join we saw.
    last_joined_self: Option<ClientId>,
    /// That connection, kept after a reconnect until our new own join is seen.
    stale_self: Option<ClientId>,
    state: ConnectionState,
}

impl Default for Roster {
    fn default() -> Self {
        Roster::with_departed_capacity(DEFAULT_DEPARTED_CAPACITY)
    }
}

impl Roster {
    /// A roster that remembers at most `capacity` departed ids.
    pub fn with_departed_capacity(capacity: usize) -> Self {
        Roster {
            clients: HashMap::default(),
            departed: Departed::new(capacity),
            self_id: None,
            last_joined_self: None,
            stale_self: None,
            state: ConnectionState::Disconnected,
        }
    }

    /// Applies one input; returns the changes it made, in order.
    pub fn apply(&mut self, input: RosterInput) -> Vec<RosterChange> {
        let mut changes = Vec::new();
        self.apply_into(input, &mut changes);
        changes
    }

    /// Applies one input and appends the changes it made to `changes`.
    pub fn apply_into(&mut self, input: RosterInput, changes: &mut Vec<RosterChange>) {
        match input {
            RosterInput::Connected {
                client_id,
                initial_clients,
            } => self.connected(client_id, initial_clients, changes),
            RosterInput::Joined { client, source } => self.joined(client, source, changes),
            RosterInput::Left { client_id, source } => self.left(&client_id, source, changes),
            RosterInput::Disconnected => {
                // Only a connection that was live reports leaving; one still waiting for its
                // own join never reported `SelfJoined`.
                let was_live = self.state == ConnectionState::Connected;
                self.state = ConnectionState::Disconnected;
                if was_live && let Some(id) = &self.self_id {
                    changes.push(RosterChange::SelfLeft {
                        client_id: id.to_string(),
                    });
                }
            }
        }
    }

    fn connected(
        &mut self,
        client_id: ClientId,
        initial: Vec<SignalClient>,
        changes: &mut Vec<RosterChange>,
    ) {
        if self.state == ConnectionState::Connected
            && let Some(old) = self.self_id.as_deref().map(str::to_owned)
        {
            // A new connection without a disconnect in between: the old one is over.
            changes.push(RosterChange::SelfLeft { client_id: old });
        }
        // The service's list is the truth at this moment: whatever we hold that it lacks has
        // left, whatever it has that we lack has joined (C-11). Our own new id is not in it.
        // Additions go first, so a user whose connection changed while we were away never
        // vanishes in between.
        let fresh: HashSet<&str> = initial.iter().map(|c| c.client_id.as_str()).collect();
        let mut gone: Vec<ClientId> = self
            .clients
            .keys()
            .filter(|id| !fresh.contains(id.as_str()) && **id != client_id)
            .cloned()
            .collect();
        gone.sort();
        for joined in &initial {
            if joined.client_id == client_id
                || joined.client_id.is_empty()
                || self.clients.contains_key(&joined.client_id)
            {
                continue;
            }
            // The service lists it, so it is present whatever we believed.
            self.departed.forget(&joined.client_id);
            let client = Arc::clone(&joined.client);
            self.clients
                .insert(joined.client_id.clone(), Arc::clone(&client));
            changes.push(RosterChange::Added {
                client_id: joined.client_id.clone(),
                client,
            });
        }
        // Our own previous connection stays until our new one is in, so our own user does not
        // vanish while we reconnect; `self_joined` removes it then.
        let previous = self.last_joined_self.as_deref();
        self.stale_self = None;
        for id in gone {
            if previous == Some(id.as_str()) {
                self.stale_self = Some(id);
                continue;
            }
            if let Some(client) = self.clients.remove(&id) {
                self.departed.insert(&id);
                changes.push(RosterChange::Removed {
                    client_id: id,
                    client,
                });
            }
        }
        // Ids are never reused: our own new id cannot have departed.
        self.departed.forget(&client_id);
        self.self_id = Some(Arc::from(client_id.as_str()));
        self.state = ConnectionState::Joining;
        if self.clients.contains_key(&client_id) {
            self.self_joined(client_id, changes);
        }
    }

    fn joined(&mut self, joined: SignalClient, source: Source, changes: &mut Vec<RosterChange>) {
        let id = joined.client_id;
        if id.is_empty() {
            tracing::warn!(?source, "join without a client id ignored");
            return;
        }
        if self.clients.contains_key(&id) {
            tracing::trace!(client_id = %id, ?source, "duplicate join ignored");
            return;
        }
        if self.departed.contains(&id) {
            tracing::debug!(client_id = %id, ?source, "late join for a departed client ignored");
            return;
        }
        let client = joined.client;
        self.clients.insert(id.clone(), Arc::clone(&client));
        changes.push(RosterChange::Added {
            client_id: id.clone(),
            client,
        });
        if self.state == ConnectionState::Joining && self.self_id.as_deref() == Some(id.as_str()) {
            self.self_joined(id, changes);
        }
    }

    fn self_joined(&mut self, id: ClientId, changes: &mut Vec<RosterChange>) {
        if let Some(old) = self.stale_self.take()
            && let Some(client) = self.clients.remove(&old)
        {
            self.departed.insert(&old);
            changes.push(RosterChange::Removed {
                client_id: old,
                client,
            });
        }
        self.state = ConnectionState::Connected;
        let previous = self
            .last_joined_self
            .replace(id.clone())
            .filter(|old| *old != id);
        changes.push(RosterChange::SelfJoined {
            client_id: id,
            previous,
        });
    }

    fn left(&mut self, id: &str, source: Source, changes: &mut Vec<RosterChange>) {
        self.departed.insert(id);
        match self.clients.remove(id) {
            Some(client) => {
                changes.push(RosterChange::Removed {
                    client_id: id.to_owned(),
                    client,
                });
                if self.self_id.as_deref() == Some(id)
                    && self.state != ConnectionState::Disconnected
                {
                    // The service removed us (eviction) while our socket may still be open.
                    self.state = ConnectionState::Disconnected;
                    changes.push(RosterChange::SelfLeft {
                        client_id: id.to_owned(),
                    });
                }
            }
            None => {
                tracing::debug!(client_id = %id, ?source, "leave for an unknown client ignored")
            }
        }
    }

    /// Our client id on the current (or last) connection.
    pub fn self_id(&self) -> Option<&str> {
        self.self_id.as_deref()
    }

    /// Our client id, shared (for snapshots).
    pub(crate) fn self_id_shared(&self) -> Option<&Arc<str>> {
        self.self_id.as_ref()
    }

    /// Where our connection stands.
    pub fn state(&self) -> ConnectionState {
        self.state
    }

    /// The record of a client in the roster.
    pub fn get(&self, client_id: &str) -> Option<&Arc<Client>> {
        self.clients.get(client_id)
    }

    /// Every client in the roster (any order).
    pub fn clients(&self) -> impl Iterator<Item = (&ClientId, &Arc<Client>)> {
        self.clients.iter()
    }

    /// How many clients are in the roster.
    pub fn len(&self) -> usize {
        self.clients.len()
    }

    /// `true` when the roster holds no client.
    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    /// `true` if `client_id` left and is remembered as departed.
    pub fn has_departed(&self, client_id: &str) -> bool {
        self.departed.contains(client_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{ConnectionMode, User};

    fn sc(id: &str, user: &str) -> SignalClient {
        SignalClient::new(
            id,
            Client::interactive(User::new(user, user.to_uppercase()), ConnectionMode::Write),
        )
    }

    fn ids(changes: &[RosterChange]) -> Vec<String> {
        changes
            .iter()
            .map(|c| match c {
                RosterChange::Added { client_id, .. } => format!("+{client_id}"),
                RosterChange::Removed { client_id, .. } => format!("-{client_id}"),
                RosterChange::SelfJoined {
                    client_id,
                    previous,
                } => format!("self={client_id}<-{previous:?}"),
                RosterChange::SelfLeft { client_id } => format!("selfleft={client_id}"),
            })
            .collect()
    }

    #[test]
    fn self_is_connected_only_after_own_join() {
        let mut r = Roster::default();
        let ch = r.apply(RosterInput::Connected {
            client_id: "me".into(),
            initial_clients: vec![sc("b", "ub")],
        });
        assert_eq!(ids(&ch), ["+b"]);
        assert_eq!(r.state(), ConnectionState::Joining);
        let ch = r.apply(RosterInput::Joined {
            client: sc("me", "ua"),
            source: Source::Signal,
        });
        assert_eq!(ids(&ch), ["+me", "self=me<-None"]);
        assert_eq!(r.state(), ConnectionState::Connected);
    }

    #[test]
    fn leave_before_join_is_remembered_and_late_join_ignored() {
        let mut r = Roster::default();
        r.apply(RosterInput::Connected {
            client_id: "me".into(),
            initial_clients: vec![],
        });
        assert!(
            r.apply(RosterInput::Left {
                client_id: "x".into(),
                source: Source::Signal
            })
            .is_empty()
        );
        assert!(
            r.apply(RosterInput::Joined {
                client: sc("x", "ux"),
                source: Source::Op
            })
            .is_empty()
        );
        assert!(r.get("x").is_none());
    }

    #[test]
    fn reconnect_diffs_initial_clients_and_reports_previous_self() {
        let mut r = Roster::default();
        r.apply(RosterInput::Connected {
            client_id: "a1".into(),
            initial_clients: vec![sc("b", "ub"), sc("c", "uc")],
        });
        r.apply(RosterInput::Joined {
            client: sc("a1", "ua"),
            source: Source::Signal,
        });
        let ch = r.apply(RosterInput::Disconnected);
        assert_eq!(ids(&ch), ["selfleft=a1"]);
        let ch = r.apply(RosterInput::Connected {
            client_id: "a2".into(),
            initial_clients: vec![sc("c", "uc"), sc("d", "ud")],
        });
        // Additions first; our own old connection stays until the new one is in.
        assert_eq!(ids(&ch), ["+d", "-b"]);
        let ch = r.apply(RosterInput::Joined {
            client: sc("a2", "ua"),
            source: Source::Signal,
        });
        assert_eq!(ids(&ch), ["+a2", "-a1", "self=a2<-Some(\"a1\")"]);
        // b's late leave and a1's late leave change nothing.
        assert!(
            r.apply(RosterInput::Left {
                client_id: "b".into(),
                source: Source::Op
            })
            .is_empty()
        );
        assert!(
            r.apply(RosterInput::Left {
                client_id: "a1".into(),
                source: Source::Op
            })
            .is_empty()
        );
        let mut now: Vec<_> = r.clients().map(|(id, _)| id.clone()).collect();
        now.sort();
        assert_eq!(now, ["a2", "c", "d"]);
    }

    #[test]
    fn a_connection_that_never_joined_does_not_report_leaving_and_empty_ids_are_ignored() {
        let mut r = Roster::default();
        r.apply(RosterInput::Connected {
            client_id: "x1".into(),
            initial_clients: vec![],
        });
        assert!(r.apply(RosterInput::Disconnected).is_empty());
        assert!(
            r.apply(RosterInput::Connected {
                client_id: "x2".into(),
                initial_clients: vec![]
            })
            .is_empty()
        );
        assert!(
            r.apply(RosterInput::Joined {
                client: sc("", "u"),
                source: Source::Signal
            })
            .is_empty()
        );
        // A leave for our next id that arrived early cannot block our own join.
        r.apply(RosterInput::Left {
            client_id: "x3".into(),
            source: Source::Signal,
        });
        r.apply(RosterInput::Connected {
            client_id: "x3".into(),
            initial_clients: vec![],
        });
        let ch = r.apply(RosterInput::Joined {
            client: sc("x3", "u"),
            source: Source::Signal,
        });
        assert_eq!(ids(&ch), ["+x3", "self=x3<-None"]);
    }

    #[test]
    fn own_leave_while_connected_is_an_eviction() {
        let mut r = Roster::default();
        r.apply(RosterInput::Connected {
            client_id: "me".into(),
            initial_clients: vec![],
        });
        r.apply(RosterInput::Joined {
            client: sc("me", "u"),
            source: Source::Op,
        });
        let ch = r.apply(RosterInput::Left {
            client_id: "me".into(),
            source: Source::Op,
        });
        assert_eq!(ids(&ch), ["-me", "selfleft=me"]);
        assert_eq!(r.state(), ConnectionState::Disconnected);
        assert!(r.apply(RosterInput::Disconnected).is_empty());
    }

    #[test]
    fn departed_memory_is_bounded() {
        let mut r = Roster::with_departed_capacity(2);
        for id in ["x", "y", "z"] {
            r.apply(RosterInput::Left {
                client_id: id.into(),
                source: Source::Signal,
            });
        }
        assert!(!r.has_departed("x"));
        assert!(r.has_departed("y") && r.has_departed("z"));
    }
}
