//! [`TinyliciousMember`]: the member type of Tinylicious audiences, like the JS
//! `TinyliciousMember` (`{ id, name, connections }`).
//!
//! ```
//! use audience_core::member::Member;
//! use audience_core::wire::{Client, ConnectionMode, User};
//! use audience_tinylicious::TinyliciousMember;
//!
//! let client = Client::interactive(User::new("u1", "Ann"), ConnectionMode::Write);
//! let member = TinyliciousMember::from_client("u1", &client);
//! assert_eq!((member.id.as_str(), member.name.as_str()), ("u1", "Ann"));
//! assert_eq!(serde_json::to_value(&member).unwrap(), serde_json::json!({"id": "u1", "name": "Ann", "connections": []}));
//! ```

use audience_core::member::{Connection, Member};
use audience_core::wire::Client;
use serde::Serialize;

/// A user of a Tinylicious container with its connections.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TinyliciousMember {
    /// User id (`client.user.id`).
    pub id: String,
    /// Display name: `client.user.name` from the token.
    ///
    /// The JS type declares `name: string`; a record without a name (or with an empty one)
    /// gets the user id here, so a name is always something a person can read.
    pub name: String,
    /// Connections of this user, in the order they joined.
    pub connections: Vec<Connection>,
}

impl Member for TinyliciousMember {
    fn from_client(user_id: &str, client: &Client) -> Self {
        let name = client
            .user
            .name
            .as_deref()
            .filter(|name| !name.is_empty())
            .unwrap_or(user_id);
        TinyliciousMember {
            id: user_id.to_owned(),
            name: name.to_owned(),
            connections: Vec::new(),
        }
    }

    fn id(&self) -> &str {
        &self.id
    }

    fn connections(&self) -> &[Connection] {
        &self.connections
    }

    fn connections_mut(&mut self) -> &mut Vec<Connection> {
        &mut self.connections
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use audience_core::wire::{ConnectionMode, User};

    use super::*;

    #[test]
    fn missing_or_empty_name_falls_back_to_the_id() {
        let nameless = Client::interactive(
            User {
                id: Some("u2".into()),
                ..User::default()
            },
            ConnectionMode::Read,
        );
        assert_eq!(TinyliciousMember::from_client("u2", &nameless).name, "u2");
        let empty = Client::interactive(User::new("u3", ""), ConnectionMode::Read);
        assert_eq!(TinyliciousMember::from_client("u3", &empty).name, "u3");
    }

    #[test]
    fn connections_serialize_as_id_and_mode() {
        let client = Arc::new(Client::interactive(
            User::new("u1", "Ann"),
            ConnectionMode::Write,
        ));
        let mut member = TinyliciousMember::from_client("u1", &client);
        member.connections_mut().push(Connection {
            id: "c1".into(),
            mode: ConnectionMode::Write,
            client,
        });
        assert_eq!(member.connections().len(), 1);
        assert_eq!(
            serde_json::to_string(&member).unwrap(),
            r#"{"id":"u1","name":"Ann","connections":[{"id":"c1","mode":"write"}]}"#
        );
    }
}
