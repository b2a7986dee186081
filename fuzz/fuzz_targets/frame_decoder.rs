//! Feeds arbitrary bytes to the Engine.IO / Socket.IO frame decoder: it must never panic, and
//! whatever it accepts as a Socket.IO packet must encode and decode back to the same packet.
#![no_main]

use audience_tinylicious::codec::{Packet, decode, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(packet) = decode(&text) {
        if let Packet::Message(_) = &packet {
            if let Ok(frame) = encode(&packet) {
                let again = decode(&frame).expect("an encoded packet decodes");
                assert_eq!(again, packet, "round trip changed the packet");
            }
        }
    }
});
