//! [`sanitize`]: text from the network made safe to print on a terminal.
//!
//! User names, user ids, client ids, signal contents and the server's error messages are
//! chosen by other people. Printed raw, `\x1b[31m` recolours the terminal, `\x1b]0;...\x07`
//! sets its title, `\n` or `\r` forge table rows and log lines, and bidi overrides reorder
//! what is shown. Every such character is replaced by a visible escape (`\u{1b}`) in human
//! output; JSON output needs none of this (serde escapes control characters in strings).

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` must not reach a terminal as is: C0 controls (`\n`, `\r` and `\t` included),
/// DEL, C1 controls (U+0080..U+009F), and the characters that reorder or break lines without
/// being seen: bidi overrides, embeddings and isolates (U+202A..U+202E, U+2066..U+2069), the
/// bidi marks (U+061C, U+200E, U+200F), and the line and paragraph separators (U+2028, U+2029).
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// `text` with every [unsafe](is_unsafe) character replaced by `\u{<hex>}` (so
/// `"u\x1b]0;pwned\x07"` prints as `u\u{1b}]0;pwned\u{7}`); borrowed when there is none.
pub fn sanitize(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe(c) {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_colour_title_and_line_breaks() {
        assert_eq!(
            sanitize("evil\x1b[31mred\nnewline\r"),
            r"evil\u{1b}[31mred\u{a}newline\u{d}"
        );
        assert_eq!(sanitize("u\x1b]0;pwned\x07"), r"u\u{1b}]0;pwned\u{7}");
        assert_eq!(sanitize("a\tb\0c"), r"a\u{9}b\u{0}c");
    }

    #[test]
    fn escapes_del_c1_and_bidi_controls() {
        assert_eq!(sanitize("x\u{7f}y"), r"x\u{7f}y");
        assert_eq!(sanitize("\u{80}\u{9b}31m\u{9f}"), r"\u{80}\u{9b}31m\u{9f}");
        assert_eq!(
            sanitize("\u{202a}\u{202b}\u{202c}\u{202d}\u{202e}"),
            r"\u{202a}\u{202b}\u{202c}\u{202d}\u{202e}"
        );
        assert_eq!(
            sanitize("\u{2066}\u{2067}\u{2068}\u{2069}"),
            r"\u{2066}\u{2067}\u{2068}\u{2069}"
        );
        assert_eq!(sanitize("txt.exe\u{202e}fdp"), r"txt.exe\u{202e}fdp");
        assert_eq!(
            sanitize("a\u{2028}b\u{200f}c\u{061c}"),
            r"a\u{2028}b\u{200f}c\u{61c}"
        );
    }

    #[test]
    fn leaves_ordinary_text_alone_and_borrowed() {
        for text in [
            "Ann",
            "zoë",
            "東京",
            "a b-c_d.e",
            "emoji 🎉",
            "back\\slash",
            "",
        ] {
            assert!(
                matches!(sanitize(text), Cow::Borrowed(t) if t == text),
                "{text}"
            );
        }
        // Just outside the ranges.
        assert_eq!(
            sanitize("\u{a0}\u{2029}\u{202f}\u{2065}\u{206a}"),
            "\u{a0}\\u{2029}\u{202f}\u{2065}\u{206a}"
        );
    }
}
