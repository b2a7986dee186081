//! Rust and JS clients in the same Tinylicious container must see the same audience.
//!
//! Each test drives real JS Fluid clients (`interop/fluid-client.mjs`, the pinned
//! `@fluidframework/tinylicious-client`) next to Rust [`AudienceClient`]s and asserts on both
//! sides. Run by `cargo xtask interop`, or by hand:
//!
//! ```text
//! cargo xtask tinylicious start --port 7393
//! AUDIENCE_TINYLICIOUS_URL=http://127.0.0.1:7393 AUDIENCE_INTEROP_JS=$PWD/interop/fluid-client.mjs \
//!     cargo test -p audience-tinylicious --test interop_js
//! cargo xtask tinylicious stop --port 7393
//! ```
//!
//! Without `AUDIENCE_TINYLICIOUS_URL` every test returns at once
//! (`skipped: AUDIENCE_TINYLICIOUS_URL not set`).
//!
//! [`AudienceClient`]: audience_core::client::AudienceClient

mod interop_support;

use std::sync::Arc;
use std::time::Duration;

use audience_core::audience::AudienceEvent;
use audience_core::client::ClientEvent;
use audience_core::policy::KeepAll;
use audience_core::transport::DocumentService;
use audience_core::wire::ConnectionMode::{Read, Write};
use audience_tinylicious::container_template::ROOT_DATA_STORE_ID;
use audience_tinylicious::{TinyliciousConfig, TinyliciousService};
use interop_support::{
    Event, JsClient, PrivateTinylicious, RustClient, TcpProxy, WAIT, env, event_of, is_added,
    is_event_for, is_removed, mentions, roster, service_at, socket_addr,
};
use serde_json::{Value, json};
use tokio::time::Instant;

/// How long a killed client may take to leave the audience (case 4).
const KILLED_LEAVES_WITHIN: Duration = Duration::from_secs(10);
/// How long to give the JS summarizer to show up (it usually does ~1 s after a second client).
const SUMMARIZER_WAIT: Duration = Duration::from_secs(10);

/// A container-scope signal envelope (no `address`): what `ContainerRuntime.submitSignal`
/// sends and what the JS container runtime's `signal` event reports.
fn container_signal(kind: &str, content: Value) -> Value {
    json!({ "contents": { "type": kind, "content": content } })
}

/// A JS `signal` line of `scope` and `type`.
fn js_signal(line: &Value, scope: &str, kind: &str) -> bool {
    event_of(line) == "signal" && line["scope"] == scope && line["type"] == kind
}

/// A Rust signal whose envelope has `contents.type == kind`.
fn rust_signal(event: &Event, kind: &str) -> bool {
    matches!(event, ClientEvent::Signal(s) if s.content["contents"]["type"] == kind)
}

/// Case 1 and case 4: JS users as Rust sees them (names, two connections of one user, no
/// summarizer), and a JS client killed with SIGKILL leaving both audiences.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_js_members_in_rust_without_summarizer_and_killed_client_leaves() {
    let Some(env) = env() else { return };
    let service = env.service();
    let (mut alice1, doc) = JsClient::create(&env, "alice", "Alice").await;
    // The application view (interactive members only) and a view that keeps every
    // connection, to prove the summarizer did reach Rust and was filtered out.
    let mut watcher =
        RustClient::connect(service.clone(), &doc, ("watcher", "Watcher"), Read).await;
    let mut all = RustClient::with_policy(
        service.clone(),
        &doc,
        ("keepall", "Keep All"),
        Read,
        KeepAll,
    );
    all.start().await;
    let mut alice2 = JsClient::start_join(&env, &doc, "alice", "Alice");
    let mut bob = JsClient::start_join(&env, &doc, "bob", "Bob");
    let (a2, b) = (alice2.wait_connected().await, bob.wait_connected().await);
    let a1 = alice1.client_id().to_owned();
    let (w, k) = (watcher.id(), all.id());

    let expected = roster(&[
        ("alice", "Alice", &[(&a1, "write"), (&a2, "write")]),
        ("bob", "Bob", &[(&b, "write")]),
        ("keepall", "Keep All", &[(&k, "read")]),
        ("watcher", "Watcher", &[(&w, "read")]),
    ]);
    watcher.wait_members(&expected).await;
    for js in [&mut alice1, &mut alice2, &mut bob] {
        js.wait_members(&expected).await;
    }

    // The summarizer: a non-interactive connection of alice in the loader audience.
    let summarizer = alice1
        .try_wait_from(0, SUMMARIZER_WAIT, |l| {
            event_of(l) == "rawAddMember" && l["client"]["details"]["type"] == "summarizer"
        })
        .await;
    match summarizer {
        Some(line) => {
            let s = line["clientId"].as_str().unwrap().to_owned();
            assert_eq!(line["client"]["user"]["id"], "alice");
            assert_eq!(
                line["client"]["details"]["capabilities"]["interactive"],
                false
            );
            // Rust received it: the keep-all view lists it under alice ...
            let mut with_summarizer = expected.clone();
            let alice = with_summarizer.get_mut("alice").unwrap();
            alice.1.push((s.clone(), "write".to_owned()));
            alice.1.sort();
            all.wait_members(&with_summarizer).await;
            // ... and the application view never showed it, on either side.
            assert!(
                !watcher.history().iter().any(|e| mentions(e, &s)),
                "the summarizer leaked into the Rust audience events: {:#?}",
                watcher.history()
            );
            let js_added = alice1.seen(|l| is_event_for(l, "memberAdded", &s));
            assert!(
                js_added.is_empty(),
                "JS ServiceAudience showed the summarizer"
            );
        }
        None => eprintln!(
            "note: no summarizer within {SUMMARIZER_WAIT:?}; checking the Rust members stayed exact"
        ),
    }
    assert_eq!(watcher.roster(), expected);
    alice1.wait_members(&expected).await;

    // Case 4: bob's process is killed; no leave is sent, the socket just drops.
    let (w_mark, a_mark) = (watcher.mark(), alice1.mark());
    let killed_at = Instant::now();
    bob.kill().await;
    let removed = watcher
        .wait_from(w_mark, "bob's removal", KILLED_LEAVES_WITHIN, |e| {
            is_removed(e, &b)
        })
        .await;
    let rust_after = killed_at.elapsed();
    match removed {
        ClientEvent::Audience(AudienceEvent::MemberRemoved { member, .. }) => {
            assert_eq!((member.id.as_str(), member.name.as_str()), ("bob", "Bob"));
        }
        other => panic!("{other:?}"),
    }
    let js_removed = alice1
        .wait_from(
            a_mark,
            "bob's JS memberRemoved",
            KILLED_LEAVES_WITHIN,
            |l| is_event_for(l, "memberRemoved", &b),
        )
        .await;
    assert_eq!(js_removed["member"]["id"], "bob");
    eprintln!(
        "killed JS client removed from the Rust audience after {rust_after:?}, from JS after {:?}",
        killed_at.elapsed()
    );
    let mut without_bob = expected.clone();
    without_bob.remove("bob");
    watcher.wait_members(&without_bob).await;
    alice1.wait_members(&without_bob).await;
    alice2.wait_members(&without_bob).await;
}

/// Cases 2, 3, C-01 and C-12: Rust users in the JS audience with their names and modes; a
/// Rust reader listed as `read` on every side, sending and receiving signals.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_js_sees_rust_writer_and_reader() {
    let Some(env) = env() else { return };
    let service = env.service();
    let (mut alice, doc) = JsClient::create(&env, "alice", "Alice").await;
    let a = alice.client_id().to_owned();

    // C-01: no self before connecting; after, our own connection.
    let mut rusty = RustClient::new(service.clone(), &doc, ("rusty", "Rusty"), Write);
    assert_eq!(rusty.client.get_myself(), None);
    assert_eq!(rusty.client.client_id(), None);
    rusty.start().await;
    let r = rusty.id();
    let me = rusty.client.get_myself().expect("myself once connected");
    assert_eq!(me.current_connection, r);
    assert_eq!(
        (me.member.id.as_str(), me.member.name.as_str()),
        ("rusty", "Rusty")
    );
    assert!(
        me.member
            .connections
            .iter()
            .any(|c| *c.id == *r && c.mode == Write)
    );

    // Case 2: JS memberAdded with the name and mode.
    let added = alice
        .wait_for("memberAdded for the Rust writer", |l| {
            is_event_for(l, "memberAdded", &r)
        })
        .await;
    assert_eq!(added["member"]["id"], "rusty");
    assert_eq!(added["member"]["name"], "Rusty");
    assert_eq!(
        added["member"]["connections"],
        json!([{ "id": r, "mode": "write" }])
    );

    // Case 3 / C-12: a Rust reader.
    let mut peek = RustClient::new(service.clone(), &doc, ("peek", "Peek"), Read);
    assert_eq!(peek.client.get_myself(), None);
    peek.start().await;
    let p = peek.id();
    let me = peek.client.get_myself().expect("myself once connected");
    assert_eq!(me.current_connection, p);
    assert!(
        me.member
            .connections
            .iter()
            .any(|c| *c.id == *p && c.mode == Read)
    );
    let added = alice
        .wait_for("memberAdded for the Rust reader", |l| {
            is_event_for(l, "memberAdded", &p)
        })
        .await;
    assert_eq!(added["member"]["name"], "Peek");
    assert_eq!(
        added["member"]["connections"],
        json!([{ "id": p, "mode": "read" }])
    );

    let expected = roster(&[
        ("alice", "Alice", &[(&a, "write")]),
        ("peek", "Peek", &[(&p, "read")]),
        ("rusty", "Rusty", &[(&r, "write")]),
    ]);
    let js_members = alice.wait_members(&expected).await;
    assert_eq!(js_members["getMembers"]["rusty"]["name"], "Rusty");
    assert_eq!(js_members["getMyself"]["currentConnection"], a);
    rusty.wait_members(&expected).await;
    peek.wait_members(&expected).await;

    // C-12: the reader sends; the JS writer, the Rust writer and the reader itself receive.
    peek.client
        .submit_signal(container_signal("fromReader", json!({"n": 1})), None)
        .await
        .unwrap();
    let line = alice
        .wait_for("the reader's signal", |l| {
            js_signal(l, "container", "fromReader")
        })
        .await;
    assert_eq!(
        (line["clientId"].as_str(), &line["content"]),
        (Some(p.as_str()), &json!({"n": 1}))
    );
    for rust in [&mut rusty, &mut peek] {
        match rust
            .wait_for("the reader's signal", |e| rust_signal(e, "fromReader"))
            .await
        {
            ClientEvent::Signal(s) => {
                assert_eq!(s.client_id, p);
                assert_eq!(s.content["contents"]["content"], json!({"n": 1}));
            }
            other => panic!("{other:?}"),
        }
    }
    // ... and receives.
    alice
        .send(json!({"cmd": "signal", "type": "toAll", "content": {"x": 1}, "scope": "container"}))
        .await;
    match peek
        .wait_for("alice's signal", |e| rust_signal(e, "toAll"))
        .await
    {
        ClientEvent::Signal(s) => {
            assert_eq!(s.client_id, a);
            assert_eq!(
                s.content["contents"],
                json!({"type": "toAll", "content": {"x": 1}})
            );
            assert_eq!(s.target_client_id, None);
        }
        other => panic!("{other:?}"),
    }

    // Case 2: the writer leaves; JS memberRemoved, the reader removes it too.
    rusty.close().await;
    let removed = alice
        .wait_for("memberRemoved for the Rust writer", |l| {
            is_event_for(l, "memberRemoved", &r)
        })
        .await;
    assert_eq!(removed["member"]["name"], "Rusty");
    peek.wait_for("the writer's removal", |e| is_removed(e, &r))
        .await;
    let after = roster(&[
        ("alice", "Alice", &[(&a, "write")]),
        ("peek", "Peek", &[(&p, "read")]),
    ]);
    alice.wait_members(&after).await;
    peek.wait_members(&after).await;
    peek.close().await;
    alice
        .wait_for("memberRemoved for the Rust reader", |l| {
            is_event_for(l, "memberRemoved", &p)
        })
        .await;
}

/// Case 5: a container created from Rust loads in the JS client (connected, its `SharedMap`
/// usable, its root data store addressable by signals) and the JS user is seen by Rust.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_js_loads_rust_created_container() {
    let Some(env) = env() else { return };
    let service = env.service();
    let doc = service.create_container().await.unwrap();
    let mut host = RustClient::connect(service.clone(), &doc, ("host", "Host"), Write).await;
    let h = host.id();
    let mut jess = JsClient::join(&env, &doc, "jess", "Jess").await;
    let j = jess.client_id().to_owned();

    match host.wait_for("jess joining", |e| is_added(e, &j)).await {
        ClientEvent::Audience(AudienceEvent::MemberAdded { member, .. }) => {
            assert_eq!((member.id.as_str(), member.name.as_str()), ("jess", "Jess"));
        }
        other => panic!("{other:?}"),
    }
    let expected = roster(&[
        ("host", "Host", &[(&h, "write")]),
        ("jess", "Jess", &[(&j, "write")]),
    ]);
    host.wait_members(&expected).await;
    jess.wait_members(&expected).await;

    // The initial object works: a map write is acknowledged.
    jess.send(json!({"cmd": "set", "key": "k", "value": {"from": "js"}}))
        .await;
    let changed = jess
        .wait_for("the map write", |l| {
            event_of(l) == "valueChanged" && l["key"] == "k"
        })
        .await;
    assert_eq!(changed["value"], json!({"from": "js"}));
    // The template's root data store receives a data-store-scope signal from Rust.
    host.client
        .submit_signal(
            json!({"address": ROOT_DATA_STORE_ID, "contents": {"type": "ds", "content": {"k": "v"}}}),
            None,
        )
        .await
        .unwrap();
    let line = jess
        .wait_for("the data store signal", |l| js_signal(l, "datastore", "ds"))
        .await;
    assert_eq!(line["clientId"], h);
    assert_eq!(line["content"], json!({"k": "v"}));
}

/// Case 6: signals both ways, broadcast and targeted, container and data-store scope.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_js_signals_both_ways() {
    let Some(env) = env() else { return };
    let service = env.service();
    let (mut ann, doc) = JsClient::create(&env, "ann", "Ann").await;
    let mut ben = JsClient::start_join(&env, &doc, "ben", "Ben");
    let mut rust = RustClient::connect(service.clone(), &doc, ("rust", "Rust"), Write).await;
    let mut rust2 = RustClient::connect(service.clone(), &doc, ("rust2", "Rust Two"), Read).await;
    let b = ben.wait_connected().await;
    let a = ann.client_id().to_owned();
    let (r, r2) = (rust.id(), rust2.id());
    // Everyone is in the room before anything is sent.
    let expected = roster(&[
        ("ann", "Ann", &[(&a, "write")]),
        ("ben", "Ben", &[(&b, "write")]),
        ("rust", "Rust", &[(&r, "write")]),
        ("rust2", "Rust Two", &[(&r2, "read")]),
    ]);
    ann.wait_members(&expected).await;
    ben.wait_members(&expected).await;
    rust.wait_members(&expected).await;
    rust2.wait_members(&expected).await;

    // Rust broadcast (container scope) reaches both JS clients.
    rust.client
        .submit_signal(
            container_signal("greet", json!({"from": "rust", "n": 1})),
            None,
        )
        .await
        .unwrap();
    for js in [&mut ann, &mut ben] {
        let line = js
            .wait_for("the Rust broadcast", |l| js_signal(l, "container", "greet"))
            .await;
        assert_eq!(line["clientId"], r);
        assert_eq!(line["content"], json!({"from": "rust", "n": 1}));
        assert_eq!(line["local"], false);
        assert!(line.get("targetClientId").is_none(), "{line}");
    }

    // JS broadcast (container scope) reaches Rust with the JS client id as sender.
    ann.send(
        json!({"cmd": "signal", "type": "wave", "content": {"from": "js"}, "scope": "container"}),
    )
    .await;
    for rx in [&mut rust, &mut rust2] {
        match rx
            .wait_for("the JS broadcast", |e| rust_signal(e, "wave"))
            .await
        {
            ClientEvent::Signal(s) => {
                assert_eq!(s.client_id, a);
                assert_eq!(
                    s.content["contents"],
                    json!({"type": "wave", "content": {"from": "js"}})
                );
                assert!(s.content.get("address").is_none(), "{}", s.content);
                assert_eq!(s.target_client_id, None);
            }
            other => panic!("{other:?}"),
        }
    }

    // Data-store scope: the JS root data object's address comes with its signal; a Rust
    // signal to that address reaches the JS data object.
    ann.send(json!({"cmd": "signal", "type": "dsWave", "content": {"n": 2}}))
        .await;
    let address = match rust
        .wait_for("the data store signal", |e| rust_signal(e, "dsWave"))
        .await
    {
        ClientEvent::Signal(s) => {
            assert_eq!(s.client_id, a);
            assert_eq!(s.content["contents"]["content"], json!({"n": 2}));
            s.content["address"]
                .as_str()
                .expect("a data store signal has an address")
                .to_owned()
        }
        other => panic!("{other:?}"),
    };
    assert!(
        !address.is_empty() && !address.starts_with('/'),
        "{address}"
    );
    rust.client
        .submit_signal(
            json!({"address": address, "contents": {"type": "dsGreet", "content": {"n": 3}}}),
            None,
        )
        .await
        .unwrap();
    let line = ben
        .wait_for("the Rust data store signal", |l| {
            js_signal(l, "datastore", "dsGreet")
        })
        .await;
    assert_eq!(
        (&line["clientId"], &line["content"]),
        (&json!(r), &json!({"n": 3}))
    );

    // Targeted Rust -> ben: ben gets it; ann, the other Rust client and the sender do not.
    // A broadcast marker sent after it bounds the wait: the server keeps each sender's order.
    rust.client
        .submit_signal(
            container_signal("secret", json!("for ben")),
            Some(b.clone()),
        )
        .await
        .unwrap();
    rust.client
        .submit_signal(container_signal("marker", json!(1)), None)
        .await
        .unwrap();
    let line = ben
        .wait_for("the targeted signal", |l| {
            js_signal(l, "container", "secret")
        })
        .await;
    assert_eq!(line["clientId"], r);
    assert_eq!(line["content"], "for ben");
    assert_eq!(line["targetClientId"], b);
    ann.wait_for("the marker", |l| js_signal(l, "container", "marker"))
        .await;
    assert!(
        ann.seen(|l| js_signal(l, "container", "secret")).is_empty(),
        "ann got ben's signal"
    );
    for rx in [&mut rust, &mut rust2] {
        rx.wait_for("the marker", |e| rust_signal(e, "marker"))
            .await;
        assert!(
            !rx.history().iter().any(|e| rust_signal(e, "secret")),
            "{} got ben's signal",
            rx.label
        );
    }

    // Targeted JS -> Rust: only the target gets it.
    ann.send(json!({"cmd": "signal", "type": "dm", "content": {"to": "rust"}, "target": r, "scope": "container"}))
        .await;
    ann.send(json!({"cmd": "signal", "type": "marker2", "content": null, "scope": "container"}))
        .await;
    match rust
        .wait_for("the targeted JS signal", |e| rust_signal(e, "dm"))
        .await
    {
        ClientEvent::Signal(s) => {
            assert_eq!(s.client_id, a);
            assert_eq!(s.target_client_id.as_deref(), Some(r.as_str()));
            assert_eq!(s.content["contents"]["content"], json!({"to": "rust"}));
        }
        other => panic!("{other:?}"),
    }
    rust2
        .wait_for("marker2", |e| rust_signal(e, "marker2"))
        .await;
    assert!(
        !rust2.history().iter().any(|e| rust_signal(e, "dm")),
        "rust2 got rust's signal"
    );
    ben.wait_for("marker2", |l| js_signal(l, "container", "marker2"))
        .await;
    assert!(
        ben.seen(|l| js_signal(l, "container", "dm")).is_empty(),
        "ben got rust's signal"
    );
}

/// C-10: a reconnect is a leave plus a join. The Rust client goes through a proxy whose
/// connections are reset; it reconnects with a new client id. JS and a second Rust client see
/// one removal and one add, and converge to exactly one connection of that user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_js_reconnect_is_leave_plus_join() {
    let Some(env) = env() else { return };
    let (mut alice, doc) = JsClient::create(&env, "alice", "Alice").await;
    let a = alice.client_id().to_owned();
    let proxy = TcpProxy::start(socket_addr(&env.url)).await;
    let mut roamer =
        RustClient::connect(service_at(&proxy.url()), &doc, ("roamer", "Roamer"), Write).await;
    let mut watcher = RustClient::connect(env.service(), &doc, ("watcher", "Watcher"), Read).await;
    let (old, w) = (roamer.id(), watcher.id());
    let before = roster(&[
        ("alice", "Alice", &[(&a, "write")]),
        ("roamer", "Roamer", &[(&old, "write")]),
        ("watcher", "Watcher", &[(&w, "read")]),
    ]);
    alice.wait_members(&before).await;
    watcher.wait_members(&before).await;
    roamer.wait_members(&before).await;
    // One connection for the REST existence check, one for the WebSocket.
    assert_eq!(proxy.accepted(), 2);
    let accepted_before_cut = proxy.accepted();

    let (r_mark, w_mark, a_mark) = (roamer.mark(), watcher.mark(), alice.mark());
    // The WebSocket, and the REST connection if the HTTP client still keeps it idle.
    assert!(proxy.cut() >= 1, "a live proxied connection to cut");

    // The Rust client notices, reconnects through the proxy and reports its new id.
    roamer
        .wait_from(r_mark, "Reconnecting", WAIT, |e| {
            matches!(e, ClientEvent::Reconnecting { .. })
        })
        .await;
    let new = match roamer
        .wait_from(r_mark, "SelfChanged", WAIT, |e| {
            matches!(e, ClientEvent::Audience(AudienceEvent::SelfChanged { .. }))
        })
        .await
    {
        ClientEvent::Audience(AudienceEvent::SelfChanged { old: o, new }) => {
            assert_eq!(o, old);
            new
        }
        other => panic!("{other:?}"),
    };
    assert_ne!(new, old);
    assert!(
        proxy.accepted() > accepted_before_cut,
        "the reconnect went through the proxy"
    );
    let after = roster(&[
        ("alice", "Alice", &[(&a, "write")]),
        ("roamer", "Roamer", &[(&new, "write")]),
        ("watcher", "Watcher", &[(&w, "read")]),
    ]);
    roamer.wait_members(&after).await;
    let me = roamer
        .client
        .get_myself()
        .expect("myself after the reconnect");
    assert_eq!(me.current_connection, new);
    assert_eq!(me.member.connections.len(), 1);

    // JS: the old connection removed, the new one added, one connection at the end.
    alice
        .wait_from(a_mark, "memberRemoved of the old id", WAIT, |l| {
            is_event_for(l, "memberRemoved", &old)
        })
        .await;
    alice
        .wait_from(a_mark, "memberAdded of the new id", WAIT, |l| {
            is_event_for(l, "memberAdded", &new)
        })
        .await;
    alice.wait_members(&after).await;
    watcher.wait_members(&after).await;
    // Exactly one removal and one add for roamer, on both sides.
    let mut js_changes: Vec<(String, String)> = alice.history()[a_mark..]
        .iter()
        .filter(|l| {
            matches!(event_of(l), "memberAdded" | "memberRemoved") && l["member"]["id"] == "roamer"
        })
        .map(|l| {
            (
                event_of(l).to_owned(),
                l["clientId"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    js_changes.sort();
    assert_eq!(
        js_changes,
        vec![
            ("memberAdded".to_owned(), new.clone()),
            ("memberRemoved".to_owned(), old.clone())
        ]
    );
    let mut rust_changes: Vec<(&str, String)> = watcher
        .audience_since(w_mark)
        .into_iter()
        .filter_map(|e| match e {
            AudienceEvent::MemberAdded { client_id, member } if member.id == "roamer" => {
                Some(("added", client_id))
            }
            AudienceEvent::MemberRemoved { client_id, member } if member.id == "roamer" => {
                Some(("removed", client_id))
            }
            _ => None,
        })
        .collect();
    rust_changes.sort();
    assert_eq!(
        rust_changes,
        vec![("added", new.clone()), ("removed", old.clone())]
    );
}

/// C-14 on a real server: a private Tinylicious whose sequencer evicts writers idle for 4 s
/// (`deli__clientTimeout`; the default is 5 minutes). A Rust writer sends noops only every
/// 60 s, so it is evicted (a server leave op while its socket stays open): the other client
/// removes it, and the writer notices, reports it and rejoins with a new client id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_js_idle_writer_eviction_on_a_short_timeout_server() {
    let Some(env) = env() else { return };
    let server = PrivateTinylicious::start(
        &env,
        &[
            ("deli__clientTimeout", "4000"),
            ("deli__activityTimeout", "1000"),
        ],
    )
    .await;
    let service = service_at(&server.url);
    let doc = service.create_container().await.unwrap();
    let mut watcher =
        RustClient::connect(service.clone(), &doc, ("watcher", "Watcher"), Read).await;
    // A writer whose noops come every second, well inside the 4 s timeout: never evicted.
    let lively: Arc<dyn DocumentService> = Arc::new(
        TinyliciousService::new(
            TinyliciousConfig::from_url(&server.url)
                .unwrap()
                .with_keepalive_interval(Duration::from_secs(1)),
        )
        .unwrap(),
    );
    let mut alive = RustClient::connect(lively, &doc, ("alive", "Alive"), Write).await;
    let alive_id = alive.id();
    let alive_since = Instant::now();
    let connected_at = Instant::now();
    let mut idle = RustClient::connect(service.clone(), &doc, ("idle", "Idle"), Write).await;
    let first = idle.id();
    watcher
        .wait_for("the writer's join", |e| is_added(e, &first))
        .await;

    watcher
        .wait_from(0, "the writer's eviction", Duration::from_secs(30), |e| {
            is_removed(e, &first)
        })
        .await;
    let evicted_after = connected_at.elapsed();
    assert!(
        evicted_after >= Duration::from_secs(3),
        "evicted after {evicted_after:?}, before the 4 s idle timeout"
    );
    match idle
        .wait_for("Reconnecting", |e| {
            matches!(e, ClientEvent::Reconnecting { .. })
        })
        .await
    {
        ClientEvent::Reconnecting { reason, .. } => {
            assert!(reason.contains("evicted"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    let second = match idle
        .wait_for("SelfChanged", |e| {
            matches!(e, ClientEvent::Audience(AudienceEvent::SelfChanged { .. }))
        })
        .await
    {
        ClientEvent::Audience(AudienceEvent::SelfChanged { old, new }) => {
            assert_eq!(old, first);
            new
        }
        other => panic!("{other:?}"),
    };
    assert_ne!(second, first);
    match watcher
        .wait_for("the writer's rejoin", |e| is_added(e, &second))
        .await
    {
        ClientEvent::Audience(AudienceEvent::MemberAdded { member, .. }) => {
            assert_eq!(member.id, "idle");
            assert_eq!(member.connections.len(), 1);
        }
        other => panic!("{other:?}"),
    }
    // The kept-alive writer outlives two idle timeouts with its first client id.
    if let Some(rest) = Duration::from_secs(9).checked_sub(alive_since.elapsed()) {
        tokio::time::sleep(rest).await;
    }
    assert_eq!(alive.id(), alive_id);
    assert!(
        !alive
            .history()
            .iter()
            .any(|e| matches!(e, ClientEvent::Reconnecting { .. })),
        "the kept-alive writer was disconnected"
    );
    assert!(
        !watcher.history().iter().any(|e| is_removed(e, &alive_id)),
        "the kept-alive writer was evicted"
    );
    assert!(watcher.roster().contains_key("alive"));
    eprintln!(
        "idle writer evicted {evicted_after:?} after connecting, rejoined as a new client; the writer with 1 s noops stayed 9 s"
    );
    drop(server);
}
