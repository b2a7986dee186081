//! The in-process service (`audience_mock::MockService`) and a real Tinylicious must produce the
//! same audience: one scripted scenario runs on both, and the events a watcher sees are
//! compared after normalizing client ids to labels. Both are also compared with an explicit
//! expected list, so they cannot agree on the same mistake.
//!
//! Needs `AUDIENCE_TINYLICIOUS_URL` (see `interop_js.rs`); without it the test returns at once.

mod interop_support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use audience_core::audience::AudienceEvent;
use audience_core::client::ClientEvent;
use audience_core::transport::{ConnectRequest, DocumentService};
use audience_core::wire::ConnectionMode::{Read, Write};
use audience_core::wire::{Client, User};
use audience_mock::MockService;
use audience_tinylicious::TinyliciousMember;
use interop_support::{Event, RustClient, WAIT, env, is_added, is_removed};

/// Quiet period after the last step: nothing more may arrive (proving absence takes time).
const QUIET: Duration = Duration::from_millis(500);

/// Labels handed out to client ids in order of first appearance.
const LABELS: [&str; 5] = ["W", "A", "B", "A2", "extra"];

/// A member with labels for client ids: (user id, name, sorted [(label, mode)]).
type NormMember = (String, String, Vec<(String, String)>);

/// An audience event with labels for client ids.
#[derive(Debug, Clone, PartialEq)]
enum Norm {
    Added(String, NormMember),
    Removed(String, NormMember),
    Changed,
    Connected(String),
    Disconnected,
    SelfChanged(String, String),
}

#[derive(Default)]
struct Labeler {
    labels: BTreeMap<String, String>,
}

impl Labeler {
    fn label(&mut self, client_id: &str) -> String {
        let next = self.labels.len();
        self.labels
            .entry(client_id.to_owned())
            .or_insert_with(|| LABELS.get(next).copied().unwrap_or("?").to_owned())
            .clone()
    }

    fn member(&mut self, member: &TinyliciousMember) -> NormMember {
        let mut connections: Vec<(String, String)> = member
            .connections
            .iter()
            .map(|c| (self.label(&c.id), c.mode.as_str().to_owned()))
            .collect();
        connections.sort();
        (member.id.clone(), member.name.clone(), connections)
    }

    fn event(&mut self, event: &AudienceEvent<TinyliciousMember>) -> Norm {
        match event {
            AudienceEvent::MemberAdded { client_id, member } => {
                let label = self.label(client_id);
                Norm::Added(label, self.member(member))
            }
            AudienceEvent::MemberRemoved { client_id, member } => {
                let label = self.label(client_id);
                Norm::Removed(label, self.member(member))
            }
            AudienceEvent::MembersChanged(_) => Norm::Changed,
            AudienceEvent::Connected { client_id } => Norm::Connected(self.label(client_id)),
            AudienceEvent::Disconnected => Norm::Disconnected,
            AudienceEvent::SelfChanged { old, new } => {
                Norm::SelfChanged(self.label(old), self.label(new))
            }
        }
    }

    fn roster(&mut self, members: &[TinyliciousMember]) -> Vec<NormMember> {
        members.iter().map(|m| self.member(m)).collect()
    }
}

/// What the watcher saw: its normalized events, its members after each step, and the labels.
#[derive(Debug)]
struct Observed {
    events: Vec<Norm>,
    rosters: Vec<Vec<NormMember>>,
    labels: BTreeMap<String, String>,
}

fn alice() -> (&'static str, &'static str) {
    ("alice", "Alice")
}

/// Waits on the watcher for `event` at or after history index `from` (taken before the step's
/// action) and the `MembersChanged` that follows it.
async fn step(watcher: &mut RustClient, from: usize, what: &str, event: impl Fn(&Event) -> bool) {
    watcher.wait_from(from, what, WAIT, event).await;
    watcher
        .wait_from(from, "MembersChanged", WAIT, |e| {
            matches!(e, ClientEvent::Audience(AudienceEvent::MembersChanged(_)))
        })
        .await;
}

fn members_now(watcher: &RustClient) -> Vec<TinyliciousMember> {
    watcher.client.get_members().iter().cloned().collect()
}

/// The scenario: watcher W (read) connects; A (alice, write) connects; a summarizer of alice
/// connects; B (bob, read) connects; A2 (alice again, write) connects; A leaves; the
/// summarizer leaves; B leaves; A2 leaves; W closes.
async fn scenario(service: Arc<dyn DocumentService>, doc: &str) -> Observed {
    let mut rosters_raw = Vec::new();
    let mut watcher = RustClient::new(service.clone(), doc, ("watcher", "Watcher"), Read);
    watcher.start().await;
    let w = watcher.id();
    watcher
        .wait_for("own Connected", |e| {
            matches!(e, ClientEvent::Audience(AudienceEvent::Connected { client_id }) if *client_id == w)
        })
        .await;
    rosters_raw.push(members_now(&watcher));

    let from = watcher.mark();
    let a = RustClient::connect(service.clone(), doc, alice(), Write).await;
    let a_id = a.id();
    step(&mut watcher, from, "A joining", |e| is_added(e, &a_id)).await;
    rosters_raw.push(members_now(&watcher));

    // A summarizer of alice: a non-interactive writer, never a member.
    let mut summarizer_request =
        ConnectRequest::new("tinylicious", doc, User::new("alice", "Alice"), Write);
    summarizer_request.client = Client::summarizer(User::new("alice", "Alice"));
    let summarizer = service.connect(&summarizer_request).await.unwrap();

    let from = watcher.mark();
    let b = RustClient::connect(service.clone(), doc, ("bob", "Bob"), Read).await;
    let b_id = b.id();
    step(&mut watcher, from, "B joining", |e| is_added(e, &b_id)).await;
    rosters_raw.push(members_now(&watcher));

    let from = watcher.mark();
    let a2 = RustClient::connect(service.clone(), doc, alice(), Write).await;
    let a2_id = a2.id();
    step(&mut watcher, from, "A2 joining", |e| is_added(e, &a2_id)).await;
    rosters_raw.push(members_now(&watcher));

    let from = watcher.mark();
    a.close().await;
    step(&mut watcher, from, "A leaving", |e| is_removed(e, &a_id)).await;
    rosters_raw.push(members_now(&watcher));

    summarizer.sender.close().await.unwrap();
    let from = watcher.mark();
    b.close().await;
    step(&mut watcher, from, "B leaving", |e| is_removed(e, &b_id)).await;
    rosters_raw.push(members_now(&watcher));

    let from = watcher.mark();
    a2.close().await;
    step(&mut watcher, from, "A2 leaving", |e| is_removed(e, &a2_id)).await;
    rosters_raw.push(members_now(&watcher));

    // Nothing else may follow (a late duplicate, the summarizer after all).
    let from = watcher.mark();
    let extra = watcher.try_wait_from(from, QUIET, |_| true).await;
    assert_eq!(extra, None, "an event after the scenario ended");

    watcher.close().await;
    watcher
        .wait_for("Closed", |e| matches!(e, ClientEvent::Closed { .. }))
        .await;

    let mut labeler = Labeler::default();
    let events = watcher
        .audience_since(0)
        .iter()
        .map(|e| labeler.event(e))
        .collect();
    let rosters = rosters_raw.iter().map(|r| labeler.roster(r)).collect();
    // The labels follow the scenario: the first id seen is the watcher's, and so on.
    let by_id: BTreeMap<String, String> = [(&w, "W"), (&a_id, "A"), (&b_id, "B"), (&a2_id, "A2")]
        .into_iter()
        .map(|(id, label)| (id.clone(), label.to_owned()))
        .collect();
    assert_eq!(labeler.labels, by_id, "labels by first appearance");
    Observed {
        events,
        rosters,
        labels: labeler.labels,
    }
}

fn m(id: &str, name: &str, connections: &[(&str, &str)]) -> NormMember {
    let mut connections: Vec<(String, String)> = connections
        .iter()
        .map(|(c, mode)| ((*c).to_owned(), (*mode).to_owned()))
        .collect();
    connections.sort();
    (id.to_owned(), name.to_owned(), connections)
}

/// What the watcher must see, written out by hand: others' joins and leaves as a JS
/// `ServiceAudience` reports them (memberAdded/memberRemoved then membersChanged, one member
/// per user, readers included, the summarizer never), and the watcher's own join as
/// audience-core reports it (its member, then `Connected`).
fn expected_events() -> Vec<Norm> {
    use Norm::*;
    let w = || m("watcher", "Watcher", &[("W", "read")]);
    vec![
        // Own join: the watcher is a member of its own audience, then connected.
        Added("W".into(), w()),
        Changed,
        Connected("W".into()),
        Added("A".into(), m("alice", "Alice", &[("A", "write")])),
        Changed,
        // The summarizer: nothing.
        Added("B".into(), m("bob", "Bob", &[("B", "read")])),
        Changed,
        // Second connection of alice: the member has both.
        Added(
            "A2".into(),
            m("alice", "Alice", &[("A", "write"), ("A2", "write")]),
        ),
        Changed,
        // Removed events carry the member as it was before the removal.
        Removed(
            "A".into(),
            m("alice", "Alice", &[("A", "write"), ("A2", "write")]),
        ),
        Changed,
        Removed("B".into(), m("bob", "Bob", &[("B", "read")])),
        Changed,
        Removed("A2".into(), m("alice", "Alice", &[("A2", "write")])),
        Changed,
        // Closing: our own connection ends.
        Disconnected,
    ]
}

fn expected_rosters() -> Vec<Vec<NormMember>> {
    let w = || m("watcher", "Watcher", &[("W", "read")]);
    let alice = |cs: &[(&str, &str)]| m("alice", "Alice", cs);
    let bob = || m("bob", "Bob", &[("B", "read")]);
    vec![
        vec![w()],
        vec![alice(&[("A", "write")]), w()],
        vec![alice(&[("A", "write")]), bob(), w()],
        vec![alice(&[("A", "write"), ("A2", "write")]), bob(), w()],
        vec![alice(&[("A2", "write")]), bob(), w()],
        vec![alice(&[("A2", "write")]), w()],
        vec![w()],
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_conformance_mock_and_tinylicious_agree() {
    let Some(env) = env() else { return };

    let mock = scenario(Arc::new(MockService::new()), "conformance").await;
    let tinylicious_service = env.service();
    let doc = tinylicious_service.create_container().await.unwrap();
    let live = scenario(tinylicious_service, &doc).await;

    assert_eq!(
        mock.events, live.events,
        "mock and Tinylicious watcher events differ"
    );
    assert_eq!(
        mock.rosters, live.rosters,
        "mock and Tinylicious members differ"
    );
    assert_eq!(live.events, expected_events());
    assert_eq!(live.rosters, expected_rosters());
    assert_eq!(live.labels.len(), 4);
}
