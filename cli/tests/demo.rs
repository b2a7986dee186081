//! `audience demo` end to end: the binary, its JSON lines, exact values.

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::{Value, json};

#[cfg(unix)]
mod common;

/// Runs `audience demo --json --pace 0 --seed <seed>` and returns its lines, parsed.
fn demo_json(seed: u64) -> (String, Vec<Value>) {
    let output = Command::new(env!("CARGO_BIN_EXE_audience"))
        .args(["demo", "--json", "--pace", "0", "--seed", &seed.to_string()])
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(output.status.success(), "demo failed: {stderr}");
    assert_eq!(stderr, "", "nothing on stderr");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    (stdout, lines)
}

fn kind(line: &Value) -> &str {
    line["event"].as_str().unwrap()
}

fn steps<'a>(lines: &'a [Value], action: &str) -> Vec<&'a Value> {
    lines
        .iter()
        .filter(|l| kind(l) == "step" && l["action"] == action)
        .collect()
}

fn snapshots(lines: &[Value]) -> Vec<&serde_json::Map<String, Value>> {
    lines
        .iter()
        .filter(|l| kind(l) == "members")
        .map(|l| l["members"].as_object().unwrap())
        .collect()
}

fn connection_ids(member: &Value) -> Vec<&str> {
    member["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect()
}

#[test]
fn demo_json_has_the_exact_session() {
    let (_, lines) = demo_json(7);

    // The event kinds, in order: the script is deterministic.
    let kinds: Vec<&str> = lines
        .iter()
        .map(kind)
        .filter(|k| *k != "members" && *k != "step")
        .collect();
    assert_eq!(
        kinds,
        vec![
            "member_added",   // watcher
            "connected",      // once its own join is in
            "member_added",   // ann laptop
            "member_added",   // bob
            "member_added",   // ann phone
            "member_added",   // carol
            "member_removed", // bob killed
            "member_added",   // bob back
            "disconnected",   // watcher killed
            "reconnecting",
            "member_added",   // watcher's new connection, first
            "member_removed", // then its old one
            "self_changed",
            "connected",
            "member_removed", // ann's phone leaves
            "summary",
        ]
    );

    // Every line has a time; time never goes back; the script takes 3 s of script time.
    let times: Vec<u64> = lines.iter().map(|l| l["t_ms"].as_u64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    assert_eq!(times.last(), Some(&3000));

    // The ids the script reports, pinned for seed 7.
    let joins = steps(&lines, "join");
    let ids: Vec<(&str, &str, &str)> = joins
        .iter()
        .map(|s| {
            (
                s["user_id"].as_str().unwrap(),
                s["mode"].as_str().unwrap(),
                s["client_id"].as_str().unwrap(),
            )
        })
        .collect();
    let ann_laptop = "863b891f-4c0a-4bd4-bfd4-9eb12a56f8d2";
    let bob_first = "4d58fbd2-82ea-4f41-97bf-477e62a9280c";
    let ann_phone = "e21b5034-36e9-47f5-ad5c-2b8bea4d3733";
    let carol = "a9e76cff-8415-429f-97cc-d8c90697f68b";
    assert_eq!(
        ids,
        vec![
            ("ann", "write", ann_laptop),
            ("bob", "write", bob_first),
            ("ann", "write", ann_phone),
            ("carol", "read", carol),
        ]
    );
    let summarizer = steps(&lines, "summarizer_joins")[0]["client_id"]
        .as_str()
        .unwrap();
    assert_eq!(summarizer, "f0e52107-0cc0-4375-822d-a4c77cf1db6d");
    let watcher_first = steps(&lines, "watcher_connects")[0]["client_id"]
        .as_str()
        .unwrap();
    assert_eq!(watcher_first, "b78b9f38-a670-4e78-9d3f-4b5f10862ec8");
    let bob_back = "583825d2-5ace-404f-a220-3bba2a359260";
    let reconnects = steps(&lines, "reconnect");
    assert_eq!(reconnects[0]["user_id"], "bob");
    assert_eq!(reconnects[0]["old_client_id"], bob_first);
    assert_eq!(reconnects[0]["client_id"], bob_back);
    let watcher_back = "660295fd-0c2f-4a16-99ea-e0dc603035b7";
    let self_changed = lines.iter().find(|l| kind(l) == "self_changed").unwrap();
    assert_eq!(self_changed["old"], watcher_first);
    assert_eq!(self_changed["new"], watcher_back);

    // The final members, exactly (the shape of JS getMembers()).
    let expected = json!({
        "ann": {"id": "ann", "name": "Ann", "connections": [{"id": ann_laptop, "mode": "write"}]},
        "bob": {"id": "bob", "name": "Bob", "connections": [{"id": bob_back, "mode": "write"}]},
        "carol": {"id": "carol", "name": "Carol", "connections": [{"id": carol, "mode": "read"}]},
        "watcher": {"id": "watcher", "name": "Watcher", "connections": [{"id": watcher_back, "mode": "read"}]},
    });
    let all = snapshots(&lines);
    assert_eq!(Value::Object((*all.last().unwrap()).clone()), expected);
    let summary = lines.last().unwrap();
    assert_eq!(summary["members"], expected);
    assert_eq!(summary["seed"], 7);
    assert_eq!(summary["users"], 4);
    assert_eq!(summary["connections"], 4);
    assert_eq!(summary["joins"], 7);
    assert_eq!(summary["leaves"], 3);
    // Ann's two, Bob, Carol and the watcher's old and new connections, for one batch.
    assert_eq!(summary["peak_connections"], 6);
    assert_eq!(
        summary["peak_connections_by_user"],
        json!({"ann": 2, "bob": 1, "carol": 1, "watcher": 2})
    );
    assert_eq!(summary["watcher_reconnects"], 1);
    assert_eq!(summary["hidden_connections"], json!([summarizer]));
    assert_eq!(summary["events"], 15);

    // The summarizer never appears, although it runs as user `ann`.
    for snapshot in &all {
        for member in snapshot.values() {
            assert!(!connection_ids(member).contains(&summarizer), "{member}");
        }
        if let Some(ann) = snapshot.get("ann") {
            assert!(connection_ids(ann).len() <= 2, "{ann}");
        }
    }
    assert!(
        !lines
            .iter()
            .any(|l| kind(l) == "member_added" && l["client_id"] == summarizer)
    );

    // Ann on two devices at once, both writing.
    let two = all
        .iter()
        .filter_map(|s| s.get("ann"))
        .find(|ann| connection_ids(ann).len() == 2)
        .expect("ann had two connections at some point");
    assert_eq!(
        two["connections"],
        json!([{"id": ann_laptop, "mode": "write"}, {"id": ann_phone, "mode": "write"}])
    );

    // The viewer and the watcher read, in every snapshot they are in.
    for snapshot in &all {
        for user in ["carol", "watcher"] {
            if let Some(member) = snapshot.get(user) {
                for connection in member["connections"].as_array().unwrap() {
                    assert_eq!(connection["mode"], "read", "{user}: {member}");
                }
            }
        }
    }

    // Bob left abruptly and came back with a new connection; the killed one is gone.
    let removed: Vec<&str> = lines
        .iter()
        .filter(|l| kind(l) == "member_removed")
        .map(|l| l["client_id"].as_str().unwrap())
        .collect();
    assert_eq!(removed, vec![bob_first, watcher_first, ann_phone]);
    let reconnecting = lines.iter().find(|l| kind(l) == "reconnecting").unwrap();
    assert_eq!(reconnecting["attempt"], 1);
    assert_eq!(reconnecting["delay_ms"], 0);
}

#[test]
fn snapshots_follow_the_member_events() {
    // Replays member_added / member_removed over a map: every snapshot must equal it.
    let (_, lines) = demo_json(3);
    let mut live: BTreeSet<(String, String)> = BTreeSet::new(); // (user, client id)
    for line in &lines {
        match kind(line) {
            "member_added" => {
                assert!(live.insert((
                    line["user_id"].as_str().unwrap().to_owned(),
                    line["client_id"].as_str().unwrap().to_owned()
                )));
            }
            "member_removed" => {
                assert!(live.remove(&(
                    line["user_id"].as_str().unwrap().to_owned(),
                    line["client_id"].as_str().unwrap().to_owned()
                )));
            }
            "members" => {
                let seen: BTreeSet<(String, String)> = line["members"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .flat_map(|(user, member)| {
                        assert_eq!(member["id"], user.as_str());
                        connection_ids(member)
                            .into_iter()
                            .map(|id| (user.clone(), id.to_owned()))
                            .collect::<Vec<_>>()
                    })
                    .collect();
                assert_eq!(seen, live);
            }
            _ => {}
        }
    }
    assert_eq!(live.len(), 4);
}

#[test]
fn same_seed_same_output_other_seed_other_ids() {
    let (first, a) = demo_json(11);
    let (second, _) = demo_json(11);
    assert_eq!(first, second);
    let (_, b) = demo_json(12);
    let ids = |lines: &[Value]| -> Vec<String> {
        lines
            .iter()
            .filter(|l| kind(l) == "member_added")
            .map(|l| l["client_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let users = |lines: &[Value]| -> Vec<String> {
        lines
            .iter()
            .filter(|l| kind(l) == "member_added")
            .map(|l| l["user_id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_ne!(ids(&a), ids(&b));
    assert_eq!(users(&a), users(&b));
}

#[test]
fn demo_table_is_plain_when_not_a_terminal() {
    let output = Command::new(env!("CARGO_BIN_EXE_audience"))
        .args(["demo", "--pace", "0", "--seed", "7"])
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(!stdout.contains('\x1b'), "no colour into a pipe");
    let first = stdout.lines().next().unwrap();
    assert_eq!(
        first,
        "[+0.00s] > the watcher opens the document read-only, subscribed before connecting (b78b9f38-a670-4e78-9d3f-4b5f10862ec8)"
    );
    assert!(stdout.contains(
        "\
members: 4 users, 4 connections
  USER     NAME     CONNECTIONS
  ann      Ann      863b891f-4c0a-4bd4-bfd4-9eb12a56f8d2 [write]
  bob      Bob      583825d2-5ace-404f-a220-3bba2a359260 [write]
  carol    Carol    a9e76cff-8415-429f-97cc-d8c90697f68b [read]
  watcher  Watcher  660295fd-0c2f-4a16-99ea-e0dc603035b7 [read, you]
[+3.00s] summary: 4 users with 4 connections at the end; 7 joins, 3 leaves, peak 6 connections; \
ann was on 2 devices at once; the watcher reconnected once; 1 hidden connection(s) (the summarizer) \
never shown; seed 7
"
    ));
    assert!(stdout.ends_with("seed 7\n"));
}

/// Ctrl-C is watched apart from the printing loop: it ends the demo (exit code 130) while the
/// demo is stuck writing to a stdout nobody reads.
#[cfg(unix)]
#[test]
fn ctrl_c_ends_the_demo_while_stdout_is_stuck() {
    use std::process::Stdio;
    use std::time::Duration;

    let (_reader, writer) = common::full_pipe();
    let mut demo = Command::new(env!("CARGO_BIN_EXE_audience"))
        .args(["demo", "--pace", "1"])
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Its first line cannot be written; the script would take 3 s.
    std::thread::sleep(Duration::from_secs(1));
    assert!(demo.try_wait().unwrap().is_none(), "the demo ended early");
    common::ctrl_c(&demo);
    let status = common::wait_for_exit(&mut demo, Duration::from_secs(5));
    if status.is_none() {
        let _ = demo.kill();
    }
    let status = status.expect("the demo ignored Ctrl-C");
    assert_eq!(status.code(), Some(130), "{status:?}");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut demo.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(stderr, "");
}
