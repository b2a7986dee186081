//! Reading the output lines of the timed processes: the Rust CLI (`audience`) and the JS client
//! (`interop/fluid-client.mjs`). Each speaks its own JSON; these functions know both.

use std::collections::BTreeSet;

use serde_json::Value;

/// The user ids of `audience members --json`'s one line: `{"<user id>": {"id": .., ...}, ...}`.
pub fn cli_members(line: &str) -> Option<BTreeSet<String>> {
    let value: Value = serde_json::from_str(line).ok()?;
    user_ids(value.as_object()?)
}

/// The user ids of `fluid-client.mjs bench-members`'s
/// `{"event":"members","why":"bench","getMembers":{...}}` line.
pub fn js_bench_members(line: &str) -> Option<BTreeSet<String>> {
    let value: Value = serde_json::from_str(line).ok()?;
    if event(&value)? != "members" || value.get("why")?.as_str()? != "bench" {
        return None;
    }
    user_ids(value.get("getMembers")?.as_object()?)
}

/// Keys of a `getMembers()` object whose values are members (`{"id": <the key>, ...}`).
fn user_ids(members: &serde_json::Map<String, Value>) -> Option<BTreeSet<String>> {
    members
        .iter()
        .map(|(key, member)| (member.get("id")?.as_str()? == key).then(|| key.clone()))
        .collect()
}

/// The container id of the JS client's `{"event":"created","id":..}` line.
pub fn js_created(line: &str) -> Option<String> {
    let value: Value = serde_json::from_str(line).ok()?;
    (event(&value)? == "created").then(|| value.get("id")?.as_str().map(str::to_owned))?
}

/// `load_ms` of the JS client's `{"event":"modules_loaded","load_ms":..}` line: how long its
/// `import()` of the Fluid packages took, as the JS process measured it.
pub fn js_modules_loaded(line: &str) -> Option<f64> {
    let value: Value = serde_json::from_str(line).ok()?;
    (event(&value)? == "modules_loaded").then(|| value.get("load_ms")?.as_f64())?
}

/// The own client id of a watcher's or the JS client's "connected" line: Rust
/// `{"event":"connected","client_id":..}`, JS `{"event":"connected","clientId":..}`.
pub fn connected(line: &str) -> Option<String> {
    let value: Value = serde_json::from_str(line).ok()?;
    if event(&value)? != "connected" {
        return None;
    }
    client_id(&value)
}

/// A membership change seen by a watcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// `member_added` (Rust) / `memberAdded` (JS) for this client id.
    Added(String),
    /// `member_removed` (Rust) / `memberRemoved` (JS) for this client id.
    Removed(String),
}

/// The membership change of a watcher line, Rust (`audience watch --json`) or JS
/// (`fluid-client.mjs watch`).
pub fn change(line: &str) -> Option<Change> {
    let value: Value = serde_json::from_str(line).ok()?;
    match event(&value)? {
        "member_added" | "memberAdded" => client_id(&value).map(Change::Added),
        "member_removed" | "memberRemoved" => client_id(&value).map(Change::Removed),
        _ => None,
    }
}

/// The connection id in `audience join`'s stderr status line, printed once its own join is seen:
/// `joined <container> as <name> (<user>) on connection <client id> [<mode>]; ...`.
pub fn cli_joined(line: &str) -> Option<String> {
    let rest = line.strip_prefix("joined ")?;
    let (_, after) = rest.rsplit_once(" on connection ")?;
    let (client_id, _) = after.split_once(" [")?;
    (!client_id.is_empty()).then(|| client_id.to_owned())
}

fn event(value: &Value) -> Option<&str> {
    value.get("event")?.as_str()
}

fn client_id(value: &Value) -> Option<String> {
    value
        .get("client_id")
        .or_else(|| value.get("clientId"))?
        .as_str()
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[&str]) -> BTreeSet<String> {
        ids.iter().map(|id| (*id).to_owned()).collect()
    }

    // Lines as printed by the two tools (captured from a real run, shortened ids).
    const CLI_MEMBERS: &str = r#"{"bench":{"id":"bench","name":"Bench","connections":[{"id":"849c","mode":"read"}]},"bench-a":{"id":"bench-a","name":"A","connections":[{"id":"e1a9","mode":"write"}]}}"#;
    const JS_MEMBERS: &str = r#"{"event":"members","why":"bench","getMembers":{"bench-a":{"id":"bench-a","name":"A","connections":[{"id":"e1a9","mode":"write"}]},"bench":{"id":"bench","name":"Bench","connections":[{"id":"3e3b","mode":"write"}]}},"getMyself":{"id":"bench","name":"Bench","connections":[],"currentConnection":"3e3b"},"t_ms":1697.421,"epoch_ms":1796321102227}"#;

    #[test]
    fn both_member_lists_give_the_user_ids() {
        assert_eq!(cli_members(CLI_MEMBERS), Some(set(&["bench", "bench-a"])));
        assert_eq!(
            js_bench_members(JS_MEMBERS),
            Some(set(&["bench", "bench-a"]))
        );
        assert_eq!(cli_members("{}"), Some(set(&[])));
    }

    #[test]
    fn other_lines_are_not_member_lists() {
        assert_eq!(cli_members("not json"), None);
        assert_eq!(cli_members("[1,2]"), None);
        // A member whose id differs from its key is not a getMembers() object.
        assert_eq!(cli_members(r#"{"a":{"id":"b"}}"#), None);
        assert_eq!(cli_members(r#"{"event":"start","t_ms":1}"#), None);
        let other_why = JS_MEMBERS.replace(r#""why":"bench""#, r#""why":"loaded""#);
        assert_eq!(js_bench_members(&other_why), None);
        assert_eq!(js_bench_members(r#"{"event":"modules_loaded"}"#), None);
    }

    #[test]
    fn created_and_connected_lines() {
        assert_eq!(
            js_created(r#"{"event":"created","id":"3b33","attach_ms":230.6}"#),
            Some("3b33".to_owned())
        );
        assert_eq!(js_created(r#"{"event":"start","id":"x"}"#), None);
        assert_eq!(
            connected(r#"{"event":"connected","clientId":"0f65","connectionState":2}"#),
            Some("0f65".to_owned())
        );
        assert_eq!(
            connected(r#"{"event":"connected","t_ms":13,"client_id":"6872"}"#),
            Some("6872".to_owned())
        );
        assert_eq!(connected(r#"{"event":"disconnected"}"#), None);
        assert_eq!(
            js_modules_loaded(r#"{"event":"modules_loaded","load_ms":1416.76,"t_ms":1484.9}"#),
            Some(1416.76)
        );
        assert_eq!(js_modules_loaded(r#"{"event":"loaded","ms":192.2}"#), None);
    }

    #[test]
    fn watcher_changes_in_both_dialects() {
        assert_eq!(
            change(
                r#"{"event":"member_added","t_ms":4014,"user_id":"bench-join-1","name":"Bench","client_id":"31b5","mode":"write"}"#
            ),
            Some(Change::Added("31b5".to_owned()))
        );
        assert_eq!(
            change(
                r#"{"event":"memberAdded","clientId":"31b5","member":{"id":"bench-join-1"},"t_ms":4007.6}"#
            ),
            Some(Change::Added("31b5".to_owned()))
        );
        assert_eq!(
            change(r#"{"event":"member_removed","client_id":"31b5"}"#),
            Some(Change::Removed("31b5".to_owned()))
        );
        assert_eq!(
            change(r#"{"event":"memberRemoved","clientId":"31b5"}"#),
            Some(Change::Removed("31b5".to_owned()))
        );
        assert_eq!(
            change(r#"{"event":"rawAddMember","clientId":"31b5"}"#),
            None
        );
        assert_eq!(change(r#"{"event":"members","members":{}}"#), None);
    }

    #[test]
    fn the_joiner_status_line_names_its_connection() {
        assert_eq!(
            cli_joined(
                "joined 3b33415f as Bench (bench-join-1) on connection 31b566f5-69c5 [write]; leaving in 1s"
            ),
            Some("31b566f5-69c5".to_owned())
        );
        // A display name containing the marker does not confuse it.
        assert_eq!(
            cli_joined(
                "joined d as x on connection y (u) on connection c9 [read]; Ctrl-C to leave"
            ),
            Some("c9".to_owned())
        );
        assert_eq!(cli_joined("left d (time is up)"), None);
        assert_eq!(cli_joined("joined d as x (u) on connection  [write]"), None);
    }
}
