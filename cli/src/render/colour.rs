//! Stable per-user colours: FNV-1a 64 of the user id picks one of a fixed ANSI 256 palette, so
//! the same id has the same colour in every run, on every platform.

use std::io::IsTerminal;

/// ANSI 256 colours readable on dark and light backgrounds (no greys, no near-white).
pub const PALETTE: [u8; 16] = [
    33, 39, 41, 69, 99, 130, 136, 160, 166, 170, 172, 28, 31, 62, 125, 202,
];

/// FNV-1a, 64 bits, over `bytes`.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0100_0000_01b3;
    bytes.iter().fold(OFFSET_BASIS, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(PRIME)
    })
}

/// The ANSI 256 colour of `user_id` (FNV-1a 64 of its UTF-8 bytes, modulo the palette).
pub fn user_colour(user_id: &str) -> u8 {
    let len = PALETTE.len() as u64;
    // `% len` keeps the index in range, so the lookup cannot miss; 33 is a fallback anyway.
    let index = usize::try_from(fnv1a64(user_id.as_bytes()) % len).unwrap_or(0);
    PALETTE.get(index).copied().unwrap_or(33)
}

/// Whether to colour: stdout is a terminal and `NO_COLOR` is unset.
pub fn stdout_wants_colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Paints text in a user's colour, or leaves it plain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Painter {
    enabled: bool,
}

impl Painter {
    /// A painter that colours iff `enabled`.
    pub fn new(enabled: bool) -> Self {
        Painter { enabled }
    }

    /// `text` in the colour of `user_id`.
    pub fn user(&self, user_id: &str, text: &str) -> String {
        if self.enabled {
            format!("\x1b[38;5;{}m{text}\x1b[0m", user_colour(user_id))
        } else {
            text.to_owned()
        }
    }

    /// `text` dimmed (timestamps, ids).
    pub fn dim(&self, text: &str) -> String {
        if self.enabled {
            format!("\x1b[2m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    /// `text` in bold (headers, state changes).
    pub fn bold(&self, text: &str) -> String {
        if self.enabled {
            format!("\x1b[1m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_the_reference_vectors() {
        // From the FNV reference test suite.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn colours_are_pinned_per_user_id() {
        assert_eq!(user_colour("ann"), PIN_ANN);
        assert_eq!(user_colour("bob"), PIN_BOB);
        assert_eq!(user_colour("carol"), PIN_CAROL);
        // Non-ASCII ids hash their UTF-8 bytes.
        assert_eq!(
            user_colour("zoë"),
            PALETTE[(fnv1a64("zoë".as_bytes()) % 16) as usize]
        );
    }

    #[test]
    fn painting_wraps_in_the_user_colour_only_when_enabled() {
        let on = Painter::new(true);
        let off = Painter::new(false);
        assert_eq!(
            on.user("ann", "Ann"),
            format!("\x1b[38;5;{PIN_ANN}mAnn\x1b[0m")
        );
        assert_eq!(off.user("ann", "Ann"), "Ann");
        assert_eq!(off.dim("x"), "x");
        assert_eq!(on.bold("x"), "\x1b[1mx\x1b[0m");
    }

    // Computed independently (Python) from the reference FNV-1a and `PALETTE`:
    // ann -> 0xe6f79d19051ffcb8 % 16 = 8, bob -> 0x004d4419134a0a54 % 16 = 4,
    // carol -> 0xafbc913b09910c72 % 16 = 2.
    const PIN_ANN: u8 = 166;
    const PIN_BOB: u8 = 99;
    const PIN_CAROL: u8 = 41;
}
