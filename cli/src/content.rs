//! [`signal_content`]: the content of `signal send`, as JSON from the argument or, given `-`,
//! from stdin (one argument is capped by the OS: 128 KiB on Linux).

use std::io::Read;

use serde_json::Value;

use crate::error::CliError;

/// The argument that means "read the JSON from stdin" (`-` alone is not valid JSON).
pub const FROM_STDIN: &str = "-";

/// Most bytes read from stdin: far above what a server takes in one signal (Tinylicious:
/// about 1 MB), low enough to stop a runaway pipe with a clear error.
pub const STDIN_LIMIT: u64 = 16 * 1024 * 1024;

/// The JSON of `arg`, or of all of `stdin` when `arg` is [`FROM_STDIN`]; checked before
/// anything is sent.
pub fn signal_content(arg: &str, stdin: impl Read) -> Result<Value, CliError> {
    if arg != FROM_STDIN {
        return serde_json::from_str(arg).map_err(CliError::InvalidJson);
    }
    let mut bytes = Vec::new();
    stdin
        .take(STDIN_LIMIT + 1)
        .read_to_end(&mut bytes)
        .map_err(CliError::Stdin)?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > STDIN_LIMIT {
        return Err(CliError::StdinTooLarge { limit: STDIN_LIMIT });
    }
    serde_json::from_slice(&bytes).map_err(CliError::InvalidJson)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::io::Cursor;

    /// A stdin that must not be touched.
    struct Untouched;

    impl Read for Untouched {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            panic!("stdin was read")
        }
    }

    #[test]
    fn the_argument_is_the_json_unless_it_is_a_dash() {
        assert_eq!(
            signal_content(r#"{"type":"hi"}"#, Untouched).unwrap(),
            json!({"type": "hi"})
        );
        assert_eq!(signal_content("-1", Untouched).unwrap(), json!(-1));
        let err = signal_content("{a}", Untouched).unwrap_err();
        assert!(matches!(err, CliError::InvalidJson(_)), "{err}");
    }

    #[test]
    fn a_dash_reads_all_of_stdin() {
        // Larger than any command-line argument may be.
        let big = "x".repeat(300 * 1024);
        let text = format!("{{\"type\": \"big\", \"data\": \"{big}\"}}\n");
        assert_eq!(
            signal_content("-", Cursor::new(text)).unwrap(),
            json!({"type": "big", "data": big})
        );
        let err = signal_content("-", Cursor::new("[1, 2")).unwrap_err();
        assert_eq!(
            err.one_line(),
            "invalid JSON for the signal content: EOF while parsing a list at line 1 column 5"
        );
        let err = signal_content("-", Cursor::new("")).unwrap_err();
        assert_eq!(
            err.one_line(),
            "invalid JSON for the signal content: EOF while parsing a value at line 1 column 0"
        );
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn stdin_is_read_up_to_the_limit() {
        let limit = usize::try_from(STDIN_LIMIT).unwrap();
        let at_limit = format!("\"{}\"", "y".repeat(limit - 2));
        assert_eq!(
            signal_content("-", Cursor::new(at_limit)).unwrap(),
            json!("y".repeat(limit - 2))
        );
        let over = std::io::repeat(b' ');
        let err = signal_content("-", over).unwrap_err();
        assert_eq!(
            err.one_line(),
            "the signal content on stdin is larger than 16777216 bytes"
        );
        assert_eq!(err.exit_code(), 2);
    }
}
