//! Deterministic client ids: UUID-shaped, derived from a seed and a counter, never reused.
//!
//! Real services hand out random UUIDv4s. The mock derives them from `(seed, counter)` so a
//! test run is reproducible, while keeping them random-looking: ids that sorted in join order
//! would hide bugs in code that (wrongly) relies on id order.

use audience_core::wire::ClientId;

/// Odd multiplier (2^64 / golden ratio): multiplying by it is a bijection on `u64`.
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// The splitmix64 finalizer, a bijection on `u64`.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The `counter`-th client id of a service seeded with `seed`.
///
/// For a fixed seed, distinct counters give distinct ids: the 64 bits of `unique` (a bijection
/// of the counter) all land in the id, around the version nibble and the variant bits.
pub(crate) fn client_id(seed: u64, counter: u64) -> ClientId {
    let unique = mix(counter.wrapping_mul(GOLDEN).wrapping_add(mix(seed)));
    let filler = mix(unique ^ 0x5851_F42D_4C95_7F2D);
    let time_low = unique >> 32;
    let time_mid = (unique >> 16) & 0xffff;
    let time_hi = 0x4000 | ((unique >> 4) & 0x0fff);
    let clock_seq = 0x8000 | ((unique & 0xf) << 10) | (filler & 0x3ff);
    let node = filler >> 16;
    format!("{time_low:08x}-{time_mid:04x}-{time_hi:04x}-{clock_seq:04x}-{node:012x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_uuid_v4_shaped() {
        let id = client_id(7, 0);
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            vec![8, 4, 4, 4, 12]
        );
        assert!(id.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
        assert!(parts[2].starts_with('4'), "version nibble in {id}");
        assert!(
            matches!(parts[3].chars().next(), Some('8' | '9' | 'a' | 'b')),
            "variant in {id}"
        );
    }

    #[test]
    fn ids_are_unique_per_seed_and_depend_on_the_seed() {
        let ids: HashSet<ClientId> = (0..20_000).map(|n| client_id(42, n)).collect();
        assert_eq!(ids.len(), 20_000);
        assert_eq!(client_id(42, 3), client_id(42, 3));
        assert_ne!(client_id(42, 3), client_id(43, 3));
    }
}
