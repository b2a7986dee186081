//! The codec against every real frame of every trace.

mod common;

use audience_tinylicious::codec::{Packet, SocketPacket, decode, encode};

#[test]
fn every_traced_frame_decodes_and_socket_packets_reencode_identically() {
    let mut decoded = 0;
    let mut events = 0;
    let mut acks = 0;
    let mut pings = 0;
    for file in common::trace_files() {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        for record in common::ws_records(&name) {
            let packet = decode(&record.raw).unwrap_or_else(|err| {
                panic!(
                    "{} seq {}: {err}: {:.200}",
                    record.file, record.seq, record.raw
                )
            });
            decoded += 1;
            match &packet {
                Packet::Open(handshake) => {
                    assert_eq!(record.dir, "s2c");
                    assert_eq!(
                        (handshake.ping_interval, handshake.ping_timeout),
                        (25_000, 20_000)
                    );
                    assert_eq!(handshake.max_payload, 1_000_000);
                }
                Packet::Ping(data) => {
                    assert_eq!(
                        (record.dir.as_str(), *data),
                        ("s2c", ""),
                        "EIO 4: the server pings"
                    );
                    pings += 1;
                }
                Packet::Pong(data) => assert_eq!((record.dir.as_str(), *data), ("c2s", "")),
                Packet::Message(socket) => {
                    match socket {
                        SocketPacket::Event { name, .. } => {
                            events += 1;
                            assert!(!name.is_empty());
                        }
                        SocketPacket::Ack { .. } => acks += 1,
                        _ => {}
                    }
                    let again = encode(&packet).unwrap();
                    assert_eq!(
                        again, record.raw,
                        "{} seq {} does not re-encode",
                        record.file, record.seq
                    );
                }
                other => panic!(
                    "{} seq {}: unexpected packet {other:?}",
                    record.file, record.seq
                ),
            }
        }
    }
    // Counted independently (python over the raw frames): every message was seen.
    assert_eq!((decoded, events, acks, pings), (330, 238, 15, 11));
}

#[test]
fn trace_event_names_are_the_known_ones() {
    let mut names = std::collections::BTreeSet::new();
    for file in common::trace_files() {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        for record in common::ws_records(&name) {
            if let Ok(Packet::Message(SocketPacket::Event { name, .. })) = decode(&record.raw) {
                names.insert(format!("{} {}", record.dir, name));
            }
        }
    }
    let expected = [
        "c2s connect_document",
        "c2s ping",
        "c2s submitOp",
        "c2s submitSignal",
        "s2c connect_document_error",
        "s2c connect_document_success",
        "s2c nack",
        "s2c op",
        "s2c signal",
    ];
    assert_eq!(
        names.iter().map(String::as_str).collect::<Vec<_>>(),
        expected
    );
}
