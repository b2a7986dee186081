//! Properties of the frame codec on arbitrary input (the fuzz target's checks, run in CI).

use audience_tinylicious::codec::{Packet, decode, encode};
use proptest::prelude::*;

fn check(text: &str) {
    if let Ok(packet @ Packet::Message(_)) = decode(text) {
        let frame = encode(&packet).unwrap();
        assert_eq!(
            decode(&frame).unwrap(),
            packet,
            "round trip of {text:?} via {frame:?}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        check(&text);
    }

    #[test]
    fn frame_shaped_text_round_trips(
        kind in "4[0-6]",
        nsp in prop_oneof![Just(String::new()), "/[a-z0-9]{0,4},"],
        id in prop_oneof![Just(String::new()), "[0-9]{1,3}"],
        body in prop_oneof![
            Just(String::new()),
            Just("[]".to_owned()),
            r#"\["[a-z\\"]{0,5}"(,[0-9]{1,3}|,"[^"\\]{0,4}"|,\{\}|,null){0,3}\]"#,
            r#"\{"[a-z]{1,3}":[0-9]\}"#,
            " ?-?[0-9]{1,3}",
        ],
    ) {
        check(&format!("{kind}{nsp}{id}{body}"));
    }
}
