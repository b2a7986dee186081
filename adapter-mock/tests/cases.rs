//! Membership cases C-01..C-14 of AUDIENCE-CASES.md, end to end: the real async
//! [`AudienceClient`] driven by the in-process [`MockService`].
//!
//! Nothing here sleeps to let things happen. A client is brought up to date with
//! [`settle`]: it sends itself a targeted marker signal and collects every event until the
//! marker comes back; the service delivers in order, so the events collected are exactly
//! what the client made of everything sent to it before. Where a client cannot send (it is
//! disconnected) a bounded wait for a specific event ([`collect_until`]) or a short quiet
//! drain ([`drain_quiet`]) is used instead, and the exact list of events seen is asserted.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ConnectionMode::{Read, Write};
use audience_core::audience::AudienceEvent;
use audience_core::client::{AudienceClient, ClientEvent, ClientOptions, Subscription};
use audience_core::member::{BasicMember, Connection};
use audience_core::policy::InteractiveOnly;
use audience_core::roster::ConnectionState;
use audience_core::transport::{ConnectRequest, DisconnectReason, InboundSignal};
use audience_core::wire::{ConnectionMode, SignalClient, User};
use audience_mock::{MockConnection, MockService, TENANT, request, summarizer_request};
use common::{DOC, record};
use serde_json::json;

type Client = AudienceClient<BasicMember>;
type Event = ClientEvent<BasicMember>;
type Sub = Subscription<BasicMember>;

/// Upper bound for anything we wait for; only reached when a test fails.
const WAIT: Duration = Duration::from_secs(2);
/// Quiet period after which a disconnected client is taken to have nothing more to say.
const QUIET: Duration = Duration::from_millis(40);
/// Reconnect backoff used by the fast clients.
const BACKOFF: Duration = Duration::from_millis(10);

fn fast() -> ClientOptions {
    ClientOptions {
        initial_backoff: BACKOFF,
        max_backoff: Duration::from_millis(40),
        join_timeout: Duration::from_millis(100),
        connect_timeout: WAIT,
        ..ClientOptions::default()
    }
}

/// Options of a client that notices a drop but does not come back within the test.
fn slow_reconnect() -> ClientOptions {
    ClientOptions {
        initial_backoff: Duration::from_secs(30),
        max_backoff: Duration::from_secs(30),
        ..fast()
    }
}

// ----- driving clients -----

fn client(svc: &MockService, req: ConnectRequest, options: ClientOptions) -> Client {
    AudienceClient::new(Arc::new(svc.clone()), req, InteractiveOnly, options)
}

/// Connects a client of `user` in `mode`; returns it, its subscription (taken before
/// connecting) and every event up to and including its `Connected`.
async fn start_as(
    svc: &MockService,
    req: ConnectRequest,
    options: ClientOptions,
) -> (Client, Sub, Vec<Event>) {
    let c = client(svc, req, options);
    let mut sub = c.subscribe();
    c.connect().await.expect("connect");
    let me = c.client_id().expect("client id once connected");
    let initial = collect_until(&mut sub, |e| *e == connected(&me)).await;
    (c, sub, initial)
}

async fn start(svc: &MockService, user: &str, mode: ConnectionMode) -> (Client, Sub, Vec<Event>) {
    start_as(svc, request(DOC, user, mode), fast()).await
}

/// A bare connection of the service (a participant whose own view does not matter).
fn raw(svc: &MockService, user: &str, mode: ConnectionMode) -> MockConnection {
    svc.connect_mock(&request(DOC, user, mode))
        .expect("connect")
}

fn id(c: &Client) -> String {
    c.client_id().expect("client id")
}

/// `fut`'s output; panics after [`WAIT`] instead of hanging the test.
async fn bounded<T>(fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, fut)
        .await
        .expect("still pending after the wait bound")
}

/// The next event, or `None` after `timeout`. The snapshot a `MembersChanged` carries is
/// blanked, so expected lists can be written as sequences of changes (the snapshots' content
/// is checked against the events by the core's convergence property test).
async fn recv_within(sub: &mut Sub, timeout: Duration) -> Option<Event> {
    let event = tokio::time::timeout(timeout, sub.recv())
        .await
        .ok()
        .flatten()?;
    Some(match event {
        ClientEvent::Audience(AudienceEvent::MembersChanged(_)) => changed(),
        other => other,
    })
}

/// Every event up to and including the first one matching `pred` (bounded by [`WAIT`]).
async fn collect_until(sub: &mut Sub, pred: impl Fn(&Event) -> bool) -> Vec<Event> {
    let mut seen = Vec::new();
    loop {
        match recv_within(sub, WAIT).await {
            Some(event) => {
                let done = pred(&event);
                seen.push(event);
                if done {
                    return seen;
                }
            }
            None => panic!("expected event never arrived; seen {seen:#?}"),
        }
    }
}

/// Every event until none arrives for [`QUIET`].
async fn drain_quiet(sub: &mut Sub) -> Vec<Event> {
    let mut seen = Vec::new();
    while let Some(event) = recv_within(sub, QUIET).await {
        seen.push(event);
    }
    seen
}

static MARKERS: AtomicU64 = AtomicU64::new(0);

/// Brings `c` up to date: every event it produced from what the service sent it so far.
async fn settle(c: &Client, sub: &mut Sub) -> Vec<Event> {
    let me = id(c);
    let marker = json!({ "settle": MARKERS.fetch_add(1, Ordering::Relaxed) });
    c.submit_signal(marker.clone(), Some(me.clone()))
        .await
        .expect("marker signal");
    let mut seen = collect_until(
        sub,
        |e| matches!(e, ClientEvent::Signal(s) if s.client_id == me && s.content == marker),
    )
    .await;
    seen.pop();
    seen
}

// ----- expected values -----

/// The member of `user` with exactly `conns` (in that order), as the audience builds it.
fn member(user: &str, conns: &[&SignalClient]) -> Arc<BasicMember> {
    Arc::new(BasicMember {
        id: user.to_owned(),
        name: conns.first().and_then(|c| c.client.user.name.clone()),
        connections: conns
            .iter()
            .map(|c| Connection {
                id: Arc::from(c.client_id.as_str()),
                mode: c.client.mode,
                client: Arc::clone(&c.client),
            })
            .collect(),
    })
}

fn added(client_id: &str, member: Arc<BasicMember>) -> Event {
    ClientEvent::Audience(AudienceEvent::MemberAdded {
        client_id: client_id.to_owned(),
        member,
    })
}

fn removed(client_id: &str, member: Arc<BasicMember>) -> Event {
    ClientEvent::Audience(AudienceEvent::MemberRemoved {
        client_id: client_id.to_owned(),
        member,
    })
}

fn changed() -> Event {
    ClientEvent::Audience(AudienceEvent::MembersChanged(Default::default()))
}

fn connected(client_id: &str) -> Event {
    ClientEvent::Audience(AudienceEvent::Connected {
        client_id: client_id.to_owned(),
    })
}

fn disconnected() -> Event {
    ClientEvent::Audience(AudienceEvent::Disconnected)
}

fn self_changed(old: &str, new: &str) -> Event {
    ClientEvent::Audience(AudienceEvent::SelfChanged {
        old: old.to_owned(),
        new: new.to_owned(),
    })
}

fn reconnecting(reason: &str) -> Event {
    ClientEvent::Reconnecting {
        attempt: 1,
        delay: BACKOFF,
        reason: reason.to_owned(),
    }
}

/// `user id -> connection ids` of a snapshot, in user-id order.
fn roster(c: &Client) -> Vec<(String, Vec<String>)> {
    c.get_members()
        .iter()
        .map(|m| {
            (
                m.id.clone(),
                m.connections.iter().map(|c| c.id.to_string()).collect(),
            )
        })
        .collect()
}

fn entry(user: &str, conns: &[&str]) -> (String, Vec<String>) {
    (
        user.to_owned(),
        conns.iter().map(|c| (*c).to_owned()).collect(),
    )
}

/// Does `event` concern connection `client_id` at all?
fn mentions(event: &Event, client_id: &str) -> bool {
    match event {
        ClientEvent::Audience(
            AudienceEvent::MemberAdded { client_id: c, .. }
            | AudienceEvent::MemberRemoved { client_id: c, .. }
            | AudienceEvent::Connected { client_id: c },
        ) => c == client_id,
        ClientEvent::Audience(AudienceEvent::SelfChanged { old, new }) => {
            old == client_id || new == client_id
        }
        ClientEvent::Signal(s) => s.client_id == client_id,
        _ => false,
    }
}

/// `Connected` is never reported before our own connection was added to the audience.
fn assert_connected_only_after_self_added(events: &[Event]) {
    for (at, event) in events.iter().enumerate() {
        if let ClientEvent::Audience(AudienceEvent::Connected { client_id }) = event {
            let self_added = events[..at].iter().any(|e| {
                matches!(e, ClientEvent::Audience(AudienceEvent::MemberAdded { client_id: c, .. }) if c == client_id)
            });
            assert!(
                self_added,
                "Connected({client_id}) before self was added: {events:#?}"
            );
        }
    }
}

// ===== C-01 Who am I, and when =====

#[tokio::test]
async fn c01_myself_is_none_before_connect_and_current_connection_once_connected() {
    for mode in [Write, Read] {
        let svc = MockService::new();
        let w = raw(&svc, "uW", Write);
        let w_rec = record(&svc, DOC, w.client_id());

        let a = client(&svc, request(DOC, "uA", mode), fast());
        assert_eq!(a.get_myself(), None);
        assert_eq!(a.client_id(), None);
        assert_eq!(a.connection_state(), ConnectionState::Disconnected);
        assert!(a.get_members().is_empty());
        let mut sub = a.subscribe();
        a.connect().await.unwrap();

        // connect() returns only once our own join was seen.
        assert_eq!(a.connection_state(), ConnectionState::Connected);
        let me = id(&a);
        let a_rec = record(&svc, DOC, &me);
        assert_eq!(a_rec.client.mode, mode);
        let myself = a.get_myself().expect("myself once connected");
        assert_eq!(myself.current_connection, me);
        assert_eq!(myself.member, *member("uA", &[&a_rec]));

        let events = collect_until(&mut sub, |e| *e == connected(&me)).await;
        assert_eq!(
            events,
            vec![
                added(w.client_id(), member("uW", &[&w_rec])),
                changed(),
                added(&me, member("uA", &[&a_rec])),
                changed(),
                connected(&me),
            ],
            "mode {mode:?}"
        );
        assert_connected_only_after_self_added(&events);
        assert_eq!(settle(&a, &mut sub).await, vec![]);
    }
}

#[tokio::test]
async fn c01_lost_own_join_is_retried_within_join_timeout_with_a_new_client_id() {
    let svc = MockService::new();
    let mut w = raw(&svc, "uW", Write);
    let w_rec = record(&svc, DOC, w.client_id());
    w.events.drain();

    svc.hold_next_connect();
    let a = client(&svc, request(DOC, "uA", Write), fast());
    let mut sub = a.subscribe();
    let watch_first = async {
        bounded(a.wait_for_state(|s| s == ConnectionState::Joining))
            .await
            .unwrap();
        let first = id(&a);
        // Accepted, but our own join is held: not connected, no myself.
        assert_eq!(a.get_myself(), None);
        assert_eq!(a.get_members().len(), 1);
        assert!(a.get_members().is_stale());
        assert_eq!(svc.held(&first).unwrap().len(), 2, "own join signal and op");
        // The own join is lost for good.
        svc.release_as(&first, &[]).unwrap();
        first
    };
    let (connect, first) = tokio::join!(a.connect(), watch_first);
    connect.unwrap();

    let second = id(&a);
    assert_ne!(second, first, "a retry is a new connection");
    let second_rec = record(&svc, DOC, &second);
    assert_eq!(
        a.get_myself().map(|m| m.current_connection),
        Some(second.clone())
    );
    let events = collect_until(&mut sub, |e| *e == connected(&second)).await;
    assert_eq!(
        events,
        vec![
            added(w.client_id(), member("uW", &[&w_rec])),
            changed(),
            // The first connection ends without ever having been reported connected, so no
            // `Disconnected` either: only the retry is announced.
            reconnecting("own join not seen within 100ms"),
            added(&second, member("uA", &[&second_rec])),
            changed(),
            // No SelfChanged: the first id was never ours in the audience.
            connected(&second),
        ]
    );
    assert_connected_only_after_self_added(&events);
    // The abandoned connection was closed: the service holds only W and the retry.
    let ids: Vec<String> = svc.clients(DOC).into_iter().map(|c| c.client_id).collect();
    assert_eq!(ids, vec![w.client_id().to_owned(), second.clone()]);
    // W saw the first connection come and go, then the retry join.
    let seen_by_w = w.events.drain();
    assert_eq!(seen_by_w.len(), 6, "{seen_by_w:#?}");
    assert_eq!(
        seen_by_w[2..4],
        [common::leave_signal(&first), common::leave_op(&first)]
    );
    assert_eq!(
        seen_by_w[4..],
        [
            common::join_signal(&second_rec),
            common::join_op(&second_rec)
        ]
    );
}

// ===== C-02 After I disconnect =====

#[tokio::test]
async fn c02_closing_client_is_removed_exactly_once_and_sees_itself_stale() {
    let svc = MockService::new();
    let (a, mut a_sub, _) = start(&svc, "uA", Write).await;
    let (b, mut b_sub, _) = start(&svc, "uB", Write).await;
    let (a_id, b_id) = (id(&a), id(&b));
    assert_eq!(settle(&a, &mut a_sub).await.len(), 2, "B's add + changed");
    let a_before = Arc::new(b.get_members().get("uA").cloned().unwrap());
    assert_eq!(a_before, member("uA", &[&record(&svc, DOC, &a_id)]));

    bounded(a.close()).await;
    assert_eq!(
        settle(&b, &mut b_sub).await,
        vec![removed(&a_id, a_before), changed()]
    );
    assert_eq!(roster(&b), vec![entry("uB", &[&b_id])]);

    // On A: nothing live is presented.
    assert_eq!(a.get_myself(), None);
    assert_eq!(a.connection_state(), ConnectionState::Disconnected);
    let snapshot = a.get_members();
    assert!(snapshot.is_stale());
    assert_eq!(snapshot.connection_state(), ConnectionState::Disconnected);
    assert_eq!(
        drain_quiet(&mut a_sub).await,
        vec![disconnected(), ClientEvent::Closed { error: None }]
    );
}

#[tokio::test]
async fn c02_killed_client_is_removed_exactly_once_and_is_stale_while_disconnected() {
    let svc = MockService::new();
    let (a, mut a_sub, _) = start_as(&svc, request(DOC, "uA", Write), slow_reconnect()).await;
    let (b, mut b_sub, _) = start(&svc, "uB", Write).await;
    let (a_id, b_id) = (id(&a), id(&b));
    settle(&a, &mut a_sub).await;
    assert!(a.get_myself().is_some());
    let a_before = Arc::new(b.get_members().get("uA").cloned().unwrap());

    svc.kill(&a_id).unwrap();
    // Exactly one removal although both the leave signal and the leave op arrive.
    assert_eq!(
        settle(&b, &mut b_sub).await,
        vec![removed(&a_id, a_before), changed()]
    );
    assert_eq!(roster(&b), vec![entry("uB", &[&b_id])]);

    let reason = DisconnectReason::ConnectionLost("connection reset by the mock service".into());
    let events = collect_until(&mut a_sub, |e| {
        matches!(e, ClientEvent::Reconnecting { .. })
    })
    .await;
    assert_eq!(
        events,
        vec![
            disconnected(),
            ClientEvent::Reconnecting {
                attempt: 1,
                delay: Duration::from_secs(30),
                reason: reason.to_string(),
            },
        ]
    );
    // While disconnected (waiting to reconnect): no myself, and the last known list is
    // marked stale rather than presented as live.
    assert_eq!(a.get_myself(), None);
    assert_eq!(a.connection_state(), ConnectionState::Disconnected);
    let snapshot = a.get_members();
    assert!(snapshot.is_stale());
    assert_eq!(
        roster(&a),
        vec![entry("uA", &[&a_id]), entry("uB", &[&b_id])]
    );
    bounded(a.close()).await;
    assert_eq!(
        drain_quiet(&mut a_sub).await,
        vec![ClientEvent::Closed { error: None }]
    );
}

// ===== C-04 Summarizers and bots are not members =====

#[tokio::test]
async fn c04_summarizers_are_never_members_and_cause_no_events() {
    let svc = MockService::new();
    let (a, mut a_sub, _) = start(&svc, "uA", Write).await;
    let (b, mut b_sub, _) = start(&svc, "uB", Write).await;
    let (a_id, b_id) = (id(&a), id(&b));
    settle(&a, &mut a_sub).await;
    let expected = vec![entry("uA", &[&a_id]), entry("uB", &[&b_id])];

    let same_user = svc.spawn_summarizer(DOC, "uA").unwrap();
    let other_user = svc.spawn_summarizer(DOC, "uS").unwrap();
    assert_eq!(svc.clients(DOC).len(), 4, "the service does list both");
    assert_eq!(settle(&b, &mut b_sub).await, vec![]);
    assert_eq!(settle(&a, &mut a_sub).await, vec![]);
    assert_eq!(roster(&b), expected, "uA's connections never list S");
    assert_eq!(roster(&a), expected);
    assert_eq!(
        a.get_myself().unwrap().member.connections.len(),
        1,
        "own member does not list S"
    );

    // A client that is itself a summarizer: it is connected, but not a member.
    let (s, mut s_sub, s_initial) = start_as(&svc, summarizer_request(DOC, "uA"), fast()).await;
    let s_id = id(&s);
    assert_eq!(s.connection_state(), ConnectionState::Connected);
    assert_eq!(s.get_myself(), None);
    assert_eq!(roster(&s), expected);
    assert!(
        s_initial.iter().all(|e| !matches!(e, ClientEvent::Audience(AudienceEvent::MemberAdded { client_id, .. }) if *client_id == s_id)),
        "{s_initial:#?}"
    );
    assert_eq!(settle(&b, &mut b_sub).await, vec![]);

    svc.close(&same_user).unwrap();
    svc.close(&other_user).unwrap();
    bounded(s.close()).await;
    assert_eq!(settle(&b, &mut b_sub).await, vec![]);
    assert_eq!(settle(&a, &mut a_sub).await, vec![]);
    assert_eq!(roster(&b), expected);
    assert_eq!(
        drain_quiet(&mut s_sub).await,
        vec![disconnected(), ClientEvent::Closed { error: None }]
    );
}

// ===== C-05 Leave for a client never seen =====

#[tokio::test]
async fn c05_leave_for_a_client_never_seen_changes_nothing() {
    let svc = MockService::new();
    let (b, mut b_sub, _) = start(&svc, "uB", Write).await;
    let b_id = id(&b);

    svc.drop_next(&b_id, 2).unwrap(); // A's join signal and join op
    let a = raw(&svc, "uA", Write);
    let a_id = a.client_id().to_owned();
    a.sender
        .send_signal(json!("from a stranger"), None)
        .unwrap();
    assert_eq!(
        settle(&b, &mut b_sub).await,
        vec![ClientEvent::Signal(InboundSignal {
            client_id: a_id.clone(),
            content: json!("from a stranger"),
            target_client_id: None,
        })]
    );
    assert_eq!(roster(&b), vec![entry("uB", &[&b_id])]);

    svc.close(&a_id).unwrap();
    assert_eq!(settle(&b, &mut b_sub).await, vec![]);
    assert_eq!(roster(&b), vec![entry("uB", &[&b_id])]);
    assert_eq!(b.connection_state(), ConnectionState::Connected);

    // Later messages are processed normally.
    let c = raw(&svc, "uC", Write);
    let c_rec = record(&svc, DOC, c.client_id());
    assert_eq!(
        settle(&b, &mut b_sub).await,
        vec![added(c.client_id(), member("uC", &[&c_rec])), changed()]
    );
    assert_eq!(
        roster(&b),
        vec![entry("uB", &[&b_id]), entry("uC", &[c.client_id()])]
    );
}

// ===== C-06 Duplicate join =====

#[tokio::test]
async fn c06_join_delivered_twice_adds_once() {
    let svc = MockService::new();
    let (b, mut b_sub, _) = start(&svc, "uB", Write).await;
    let b_id = id(&b);

    // Join signal and join op, each delivered twice: four copies of the same join.
    svc.duplicate_next(&b_id, 2).unwrap();
    let a = raw(&svc, "uA", Write);
    let a_rec = record(&svc, DOC, a.client_id());
    assert_eq!(
        settle(&b, &mut b_sub).await,
        vec![added(a.client_id(), member("uA", &[&a_rec])), changed()]
    );
    assert_eq!(
        roster(&b),
        vec![entry("uA", &[a.client_id()]), entry("uB", &[&b_id])]
    );

    // Op before signal: still one.
    svc.reorder_next(&b_id).unwrap();
    let c = raw(&svc, "uC", Write);
    let c_rec = record(&svc, DOC, c.client_id());
    assert_eq!(
        settle(&b, &mut b_sub).await,
        vec![added(c.client_id(), member("uC", &[&c_rec])), changed()]
    );
}

#[tokio::test]
async fn c06_live_join_then_initial_list_of_next_connection_adds_once() {
    // The mock computes a connection's initial list and fans out joins under one lock, so
    // one connection never gets a client both ways; the same duplicate arises across a
    // reconnect: B saw A's live join, then B's next connection lists A again.
    let svc = MockService::new();
    let (b, mut b_sub, _) = start(&svc, "uB", Write).await;
    let old_b = id(&b);
    let old_b_rec = record(&svc, DOC, &old_b);
    let a = raw(&svc, "uA", Write);
    let a_rec = record(&svc, DOC, a.client_id());
    assert_eq!(
        settle(&b, &mut b_sub).await,
        vec![added(a.client_id(), member("uA", &[&a_rec])), changed()]
    );

    svc.kill(&old_b).unwrap();
    let events = collect_until(&mut b_sub, |e| {
        matches!(e, ClientEvent::Audience(AudienceEvent::Connected { .. }))
    })
    .await;
    let new_b = id(&b);
    let new_b_rec = record(&svc, DOC, &new_b);
    assert!(
        events.iter().all(|e| !mentions(e, a.client_id())),
        "A listed again must not be added again: {events:#?}"
    );
    assert_eq!(
        roster(&b),
        vec![entry("uA", &[a.client_id()]), entry("uB", &[&new_b])]
    );
    // B's own old connection stays until the new one is in (B never vanishes for itself).
    let old_b_rec = old_b_rec;
    assert!(events.contains(&added(&new_b, member("uB", &[&old_b_rec, &new_b_rec]))));
}

// ===== C-07 Removal carries the member as it was =====

#[tokio::test]
async fn c07_removal_carries_member_as_it_was() {
    let svc = MockService::new();
    let (b, mut b_sub, _) = start(&svc, "uB", Write).await;
    let b_id = id(&b);

    let a1 = raw(&svc, "uA", Write);
    let a1_rec = record(&svc, DOC, a1.client_id());
    assert_eq!(
        settle(&b, &mut b_sub).await,
        vec![
            added(&a1_rec.client_id, member("uA", &[&a1_rec])),
            changed()
        ]
    );
    let a2 = raw(&svc, "uA", Write);
    let a2_rec = record(&svc, DOC, a2.client_id());
    assert_eq!(
        settle(&b, &mut b_sub).await,
        vec![
            added(&a2_rec.client_id, member("uA", &[&a1_rec, &a2_rec])),
            changed()
        ]
    );

    svc.close(a1.client_id()).unwrap();
    let events = settle(&b, &mut b_sub).await;
    assert_eq!(
        events,
        vec![
            removed(&a1_rec.client_id, member("uA", &[&a1_rec, &a2_rec])),
            changed()
        ]
    );
    assert_eq!(
        roster(&b),
        vec![entry("uA", &[a2.client_id()]), entry("uB", &[&b_id])]
    );

    svc.close(a2.client_id()).unwrap();
    assert_eq!(
        settle(&b, &mut b_sub).await,
        vec![
            removed(&a2_rec.client_id, member("uA", &[&a2_rec])),
            changed()
        ]
    );
    assert_eq!(roster(&b), vec![entry("uB", &[&b_id])]);
}

// ===== C-09 Missing user name or id =====

fn request_as(user: User) -> ConnectRequest {
    ConnectRequest::new(TENANT, DOC, user, Write)
}

#[tokio::test]
async fn c09_user_without_name_is_a_member_with_no_name() {
    let svc = MockService::new();
    let (b, mut b_sub, _) = start(&svc, "uB", Write).await;
    let mut nameless = User::new("u1", "unused");
    nameless.name = None;

    let (n, _n_sub, _) = start_as(&svc, request_as(nameless), fast()).await;
    let n_id = id(&n);
    let n_rec = record(&svc, DOC, &n_id);
    let expected = member("u1", &[&n_rec]);
    assert_eq!(expected.name, None);
    assert_eq!(
        settle(&b, &mut b_sub).await,
        vec![added(&n_id, expected.clone()), changed()]
    );
    assert_eq!(b.get_members().get("u1"), Some(&*expected));
    // Its own view works too.
    let myself = n.get_myself().expect("myself");
    assert_eq!(myself.member.name, None);
    assert_eq!(myself.current_connection, n_id);
}

#[tokio::test]
async fn c09_client_without_user_id_is_never_a_member() {
    let svc = MockService::new();
    let (b, mut b_sub, _) = start(&svc, "uB", Write).await;
    let b_id = id(&b);

    let mut no_id = User::new("x", "Ghost");
    no_id.id = None;
    let empty_id = User::new("", "Empty");
    let ghost = svc.connect_mock(&request_as(no_id.clone())).unwrap();
    let empty = svc.connect_mock(&request_as(empty_id)).unwrap();
    assert_eq!(settle(&b, &mut b_sub).await, vec![]);
    assert_eq!(roster(&b), vec![entry("uB", &[&b_id])]);
    assert_eq!(b.get_members().get(""), None);

    // Such a client itself connects without panicking and has no member.
    let (g, _g_sub, _) = start_as(&svc, request_as(no_id), fast()).await;
    assert_eq!(g.connection_state(), ConnectionState::Connected);
    assert_eq!(g.get_myself(), None);
    assert_eq!(roster(&g), vec![entry("uB", &[&b_id])]);

    svc.close(ghost.client_id()).unwrap();
    svc.close(empty.client_id()).unwrap();
    bounded(g.close()).await;
    assert_eq!(settle(&b, &mut b_sub).await, vec![]);
    assert_eq!(roster(&b), vec![entry("uB", &[&b_id])]);
}

// ===== C-10 Reconnect is leave plus join =====

/// A and B connected; A's socket is killed and A comes back. Returns A's old and new ids.
async fn reconnect_a(
    svc: &MockService,
    a: &Client,
    a_sub: &mut Sub,
    b_id: &str,
) -> (String, String) {
    let old = id(a);
    let old_rec = record(svc, DOC, &old);
    let b_rec = record(svc, DOC, b_id);
    settle(a, a_sub).await;
    svc.kill(&old).unwrap();
    let events = collect_until(a_sub, |e| {
        matches!(e, ClientEvent::Audience(AudienceEvent::Connected { .. }))
    })
    .await;
    let new = id(a);
    let new_rec = record(svc, DOC, &new);
    let lost = DisconnectReason::ConnectionLost("connection reset by the mock service".into());
    assert_eq!(
        events,
        vec![
            disconnected(),
            reconnecting(&lost.to_string()),
            // A's own view: the old connection stays until the new one is in, so uA never
            // vanishes; then the old one goes.
            added(&new, member("uA", &[&old_rec, &new_rec])),
            changed(),
            removed(&old, member("uA", &[&old_rec, &new_rec])),
            changed(),
            self_changed(&old, &new),
            connected(&new),
        ]
    );
    let myself = a.get_myself().expect("myself after reconnect");
    assert_eq!(myself.current_connection, new);
    assert_eq!(myself.member, *member("uA", &[&new_rec]));
    assert_eq!(a.get_members().get("uB"), Some(&*member("uB", &[&b_rec])));
    (old, new)
}

#[tokio::test]
async fn c10_reconnect_is_one_remove_then_one_add_on_the_other_side() {
    let svc = MockService::new();
    let (a, mut a_sub, _) = start(&svc, "uA", Write).await;
    let (b, mut b_sub, _) = start(&svc, "uB", Write).await;
    let b_id = id(&b);
    let old_rec = record(&svc, DOC, &id(&a));

    let (old, new) = reconnect_a(&svc, &a, &mut a_sub, &b_id).await;
    let new_rec = record(&svc, DOC, &new);
    assert_eq!(
        settle(&b, &mut b_sub).await,
        vec![
            removed(&old, member("uA", &[&old_rec])),
            changed(),
            added(&new, member("uA", &[&new_rec])),
            changed(),
        ]
    );
    assert_eq!(
        roster(&b),
        vec![entry("uA", &[&new]), entry("uB", &[&b_id])]
    );
}

#[tokio::test]
async fn c10_reconnect_add_before_remove_never_loses_the_member() {
    let svc = MockService::new();
    let (a, mut a_sub, _) = start(&svc, "uA", Write).await;
    let (b, mut b_sub, _) = start(&svc, "uB", Write).await;
    let b_id = id(&b);
    let old_rec = record(&svc, DOC, &id(&a));

    svc.hold(&b_id).unwrap();
    let (old, new) = reconnect_a(&svc, &a, &mut a_sub, &b_id).await;
    let new_rec = record(&svc, DOC, &new);
    let held = svc.held(&b_id).unwrap();
    assert_eq!(
        held,
        vec![
            common::leave_signal(&old),
            common::leave_op(&old),
            common::join_signal(&new_rec),
            common::join_op(&new_rec),
        ]
    );
    svc.release_as(&b_id, &[2, 3, 0, 1]).unwrap();
    let events = settle(&b, &mut b_sub).await;
    assert_eq!(
        events,
        vec![
            added(&new, member("uA", &[&old_rec, &new_rec])),
            changed(),
            removed(&old, member("uA", &[&old_rec, &new_rec])),
            changed(),
        ]
    );
    assert_eq!(
        roster(&b),
        vec![entry("uA", &[&new]), entry("uB", &[&b_id])]
    );
}

// ===== C-11 What changed while I was away =====

#[tokio::test]
async fn c11_reconnect_diff_reports_exactly_who_left_and_joined_meanwhile() {
    let svc = MockService::new();
    let b = raw(&svc, "uB", Write);
    let c = raw(&svc, "uC", Write);
    let (a, mut a_sub, _) = start(&svc, "uA", Write).await;
    let old = id(&a);
    let (old_rec, b_rec) = (record(&svc, DOC, &old), record(&svc, DOC, b.client_id()));
    let c_id = c.client_id().to_owned();
    assert_eq!(settle(&a, &mut a_sub).await, vec![]);

    svc.partition(&old).unwrap();
    svc.close(b.client_id()).unwrap();
    let d = raw(&svc, "uD", Write);
    let d_rec = record(&svc, DOC, d.client_id());
    assert_eq!(
        svc.held(&old).unwrap().len(),
        4,
        "B's leave and D's join wait"
    );
    svc.expire(&old).unwrap();

    let events = collect_until(&mut a_sub, |e| {
        matches!(e, ClientEvent::Audience(AudienceEvent::Connected { .. }))
    })
    .await;
    let new = id(&a);
    let new_rec = record(&svc, DOC, &new);
    assert!(events.iter().all(|e| !mentions(e, &c_id)), "{events:#?}");
    // Disconnected, Reconnecting, then the diff (additions first): D added, B removed; our
    // own old connection stays until the new one is in, then goes; then the identity change.
    assert_eq!(
        events[2..],
        [
            added(d.client_id(), member("uD", &[&d_rec])),
            changed(),
            removed(b.client_id(), member("uB", &[&b_rec])),
            changed(),
            added(&new, member("uA", &[&old_rec, &new_rec])),
            changed(),
            removed(&old, member("uA", &[&old_rec, &new_rec])),
            changed(),
            self_changed(&old, &new),
            connected(&new),
        ],
        "{events:#?}"
    );
    assert_eq!(
        events[..2],
        [
            disconnected(),
            reconnecting(&DisconnectReason::Timeout.to_string())
        ]
    );
    assert_eq!(
        roster(&a),
        vec![
            entry("uA", &[&new]),
            entry("uC", &[&c_id]),
            entry("uD", &[d.client_id()]),
        ]
    );
    assert_eq!(
        settle(&a, &mut a_sub).await,
        vec![],
        "no ghost arrives later"
    );
}

// ===== C-12 Read-only clients =====

#[tokio::test]
async fn c12_reader_is_listed_with_mode_read_and_can_signal_both_ways() {
    let svc = MockService::new();
    let (a, mut a_sub, _) = start(&svc, "uA", Write).await;
    let (r, mut r_sub, _) = start(&svc, "uR", Read).await;
    let (a_id, r_id) = (id(&a), id(&r));
    let r_rec = record(&svc, DOC, &r_id);
    assert_eq!(
        settle(&a, &mut a_sub).await,
        vec![added(&r_id, member("uR", &[&r_rec])), changed()]
    );
    for (who, c) in [("A", &a), ("R", &r)] {
        let listed = c.get_members().get("uR").cloned().expect("R listed");
        assert_eq!(listed.connections.len(), 1, "{who}");
        assert_eq!(&*listed.connections[0].id, r_id, "{who}");
        assert_eq!(listed.connections[0].mode, Read, "{who}");
    }
    let myself = r.get_myself().expect("reader has myself");
    assert_eq!(myself.current_connection, r_id);
    assert_eq!(myself.member, *member("uR", &[&r_rec]));

    r.submit_signal(json!({ "cursor": 3 }), None).await.unwrap();
    let from_r = ClientEvent::Signal(InboundSignal {
        client_id: r_id.clone(),
        content: json!({ "cursor": 3 }),
        target_client_id: None,
    });
    assert_eq!(settle(&a, &mut a_sub).await, vec![from_r.clone()]);
    assert_eq!(settle(&r, &mut r_sub).await, vec![from_r], "own broadcast");

    a.submit_signal(json!("hello R"), Some(r_id.clone()))
        .await
        .unwrap();
    assert_eq!(
        settle(&r, &mut r_sub).await,
        vec![ClientEvent::Signal(InboundSignal {
            client_id: a_id,
            content: json!("hello R"),
            target_client_id: Some(r_id),
        })]
    );
    assert_eq!(settle(&a, &mut a_sub).await, vec![], "targeted: not echoed");
}

// ===== C-13 Late join after leave =====

#[tokio::test]
async fn c13_leave_signal_before_join_op_never_resurrects() {
    let svc = MockService::new();
    let (b, mut b_sub, _) = start(&svc, "uB", Write).await;
    let b_id = id(&b);

    svc.hold(&b_id).unwrap();
    let a = raw(&svc, "uA", Write);
    let a_id = a.client_id().to_owned();
    let a_rec = record(&svc, DOC, &a_id);
    svc.close(&a_id).unwrap();
    assert_eq!(
        svc.held(&b_id).unwrap(),
        vec![
            common::join_signal(&a_rec),
            common::join_op(&a_rec),
            common::leave_signal(&a_id),
            common::leave_op(&a_id),
        ]
    );
    // The leave signal overtakes both joins; the leave op comes last.
    svc.release_as(&b_id, &[2, 0, 1, 3]).unwrap();
    assert_eq!(settle(&b, &mut b_sub).await, vec![]);
    assert_eq!(roster(&b), vec![entry("uB", &[&b_id])]);
}

#[tokio::test]
async fn c13_reader_leave_swapped_before_its_join_never_resurrects() {
    let svc = MockService::new();
    let (b, mut b_sub, _) = start(&svc, "uB", Write).await;
    let b_id = id(&b);

    // A reader has only signals: join, leave. Swap them on B.
    svc.reorder_next(&b_id).unwrap();
    let r = raw(&svc, "uR", Read);
    svc.close(r.client_id()).unwrap();
    assert_eq!(settle(&b, &mut b_sub).await, vec![]);
    assert_eq!(roster(&b), vec![entry("uB", &[&b_id])]);
}

// ===== C-14 Evicted writer =====

#[tokio::test]
async fn c14_evicted_writer_sees_its_own_leave_and_reconnects_with_a_new_id() {
    let svc = MockService::new();
    let (a, mut a_sub, _) = start(&svc, "uA", Write).await;
    let (b, mut b_sub, _) = start(&svc, "uB", Write).await;
    let (old, b_id) = (id(&a), id(&b));
    let old_rec = record(&svc, DOC, &old);
    settle(&a, &mut a_sub).await;

    svc.evict(&old).unwrap();
    let events = collect_until(&mut a_sub, |e| {
        matches!(e, ClientEvent::Audience(AudienceEvent::Connected { .. }))
    })
    .await;
    let new = id(&a);
    assert_ne!(new, old);
    let new_rec = record(&svc, DOC, &new);
    assert_eq!(
        events,
        vec![
            removed(&old, member("uA", &[&old_rec])),
            changed(),
            disconnected(),
            reconnecting(&DisconnectReason::Evicted.to_string()),
            added(&new, member("uA", &[&new_rec])),
            changed(),
            self_changed(&old, &new),
            connected(&new),
        ]
    );
    assert_eq!(
        a.get_myself().map(|m| m.current_connection),
        Some(new.clone())
    );
    // B: the eviction removes A; the old socket's close adds nothing; the new one joins.
    assert_eq!(
        settle(&b, &mut b_sub).await,
        vec![
            removed(&old, member("uA", &[&old_rec])),
            changed(),
            added(&new, member("uA", &[&new_rec])),
            changed(),
        ]
    );
    assert_eq!(
        roster(&b),
        vec![entry("uA", &[&new]), entry("uB", &[&b_id])]
    );
    let ids: Vec<String> = svc.clients(DOC).into_iter().map(|c| c.client_id).collect();
    assert_eq!(ids, vec![b_id, new], "the evicted socket was closed");
}

#[tokio::test]
async fn c14_nonexistent_client_nack_after_noop_makes_the_writer_reconnect() {
    let svc = MockService::new();
    let (a, mut a_sub, _) = start(&svc, "uA", Write).await;
    let (b, mut b_sub, _) = start(&svc, "uB", Write).await;
    let (old, b_id) = (id(&a), id(&b));
    let old_rec = record(&svc, DOC, &old);
    settle(&a, &mut a_sub).await;

    // A misses its own leave op and only learns of the eviction from the nack.
    svc.drop_next(&old, 1).unwrap();
    svc.evict(&old).unwrap();
    assert_eq!(settle(&a, &mut a_sub).await, vec![]);
    assert_eq!(a.connection_state(), ConnectionState::Connected);
    assert_eq!(
        settle(&b, &mut b_sub).await,
        vec![removed(&old, member("uA", &[&old_rec])), changed()]
    );

    svc.submit_noop(&old).unwrap();
    let events = collect_until(&mut a_sub, |e| {
        matches!(e, ClientEvent::Audience(AudienceEvent::Connected { .. }))
    })
    .await;
    let new = id(&a);
    let new_rec = record(&svc, DOC, &new);
    let ClientEvent::Nack(nack) = &events[0] else {
        panic!("{events:#?}")
    };
    assert!(nack.is_nonexistent_client());
    assert_eq!(
        events[1..],
        [
            disconnected(),
            reconnecting(&DisconnectReason::Evicted.to_string()),
            added(&new, member("uA", &[&old_rec, &new_rec])),
            changed(),
            removed(&old, member("uA", &[&old_rec, &new_rec])),
            changed(),
            self_changed(&old, &new),
            connected(&new),
        ]
    );
    assert_eq!(
        a.get_myself().map(|m| m.current_connection),
        Some(new.clone())
    );
    assert_eq!(
        settle(&b, &mut b_sub).await,
        vec![added(&new, member("uA", &[&new_rec])), changed()]
    );
    assert_eq!(
        roster(&b),
        vec![entry("uA", &[&new]), entry("uB", &[&b_id])]
    );
}
