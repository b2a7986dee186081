//! Command-line arguments (clap derive). The doc comments are the `--help` texts.

use std::time::Duration;

use audience_core::wire::ConnectionMode;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::render::sanitize::is_unsafe;

/// Examples shown at the end of `audience --help`.
const EXAMPLES: &str = "\
Examples:
  # See the audience of a scripted session on the embedded service (no server needed)
  audience demo
  audience demo --json --pace 0 --seed 7

  # Against a local Tinylicious (npx tinylicious)
  id=$(audience create)
  audience watch \"$id\"                                  # live table, Ctrl-C to leave
  audience join \"$id\" --user u1 --name Ann --for 30s    # be in the audience for 30 s
  audience members \"$id\" --json                         # one snapshot, like getMembers()
  audience signal listen \"$id\" &
  audience signal send \"$id\" '{\"type\":\"hello\"}'
  audience signal send \"$id\" - < big-signal.json        # JSON from stdin

Ctrl-C leaves the container cleanly and exits with status 130, even while stdout is blocked.
Logs go to stderr; set RUST_LOG (e.g. RUST_LOG=audience_tinylicious=debug) or pass -v, -vv.";

/// See who is connected to a Fluid Framework container (its audience).
///
/// The audience is computed the way Fluid's JS `ServiceAudience` does it: one member per user,
/// each with its connections (client id and mode), summarizers and other non-interactive
/// clients hidden.
#[derive(Debug, Parser)]
#[command(name = "audience", version, after_long_help = EXAMPLES)]
pub struct Cli {
    /// Where the live commands connect, given before the command (`audience --url U members
    /// X`); the same options after a live command take precedence.
    #[command(flatten)]
    pub service: Service,

    /// More logs on stderr (-v info, -vv debug, -vvv trace); overrides RUST_LOG.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Play a scripted session on the embedded in-process service and show its audience.
    ///
    /// Users join and leave: one user on two devices, a summarizer that stays hidden, a
    /// read-only viewer, an abrupt disconnect and automatic reconnects, a clean leave. A
    /// watcher subscribed before connecting prints the live member table and an event log
    /// stamped with script time. Needs no server.
    Demo(DemoArgs),
    /// Create a new container on the service and print its id.
    Create(CreateArgs),
    /// Watch a container's audience live until Ctrl-C (then leave cleanly).
    ///
    /// Prints the member table after each change and a log of events (members added and
    /// removed, connected, disconnected, reconnecting).
    Watch(WatchArgs),
    /// Print the members of a container once and exit.
    ///
    /// Connects (read mode), waits for its own join, prints the snapshot (which includes this
    /// connection) and leaves.
    Members(SnapshotArgs),
    /// Connect and print the own member (`getMyself()`): user, name, connections, current one.
    Whoami(WhoamiArgs),
    /// Stay connected as a user until Ctrl-C or until `--for` is up, then leave cleanly.
    Join(JoinArgs),
    /// Send or receive application signals.
    #[command(subcommand)]
    Signal(SignalCommand),
}

/// The default `--url`.
pub const DEFAULT_URL: &str = "http://127.0.0.1:7070";

/// The default `--tenant`.
pub const DEFAULT_TENANT: &str = "tinylicious";

/// Where a live command connects (`--url`, `--tenant`). Accepted before the command and after
/// a live one; the demo has neither.
#[derive(Debug, Clone, Default, Args)]
pub struct Service {
    /// Base URL of the Tinylicious / Routerlicious service (live commands) [default:
    /// http://127.0.0.1:7070].
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Tenant id (live commands) [default: tinylicious].
    #[arg(long, value_name = "TENANT")]
    pub tenant: Option<String>,
}

impl Service {
    /// Whether `--url` or `--tenant` was given.
    pub fn is_given(&self) -> bool {
        self.url.is_some() || self.tenant.is_some()
    }

    /// The URL and tenant to use: these options, else `outer`'s (given before the command),
    /// else the defaults.
    pub fn resolve(&self, outer: &Service) -> (String, String) {
        let url = self.url.as_ref().or(outer.url.as_ref());
        let tenant = self.tenant.as_ref().or(outer.tenant.as_ref());
        (
            url.map_or(DEFAULT_URL, String::as_str).to_owned(),
            tenant.map_or(DEFAULT_TENANT, String::as_str).to_owned(),
        )
    }
}

/// `audience create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Where to create it.
    #[command(flatten)]
    pub service: Service,
}

impl Command {
    /// The `--url`/`--tenant` given after a live command; `None` for the demo.
    pub fn service(&self) -> Option<&Service> {
        match self {
            Command::Demo(_) => None,
            Command::Create(args) => Some(&args.service),
            Command::Watch(args) => Some(&args.service),
            Command::Members(args) => Some(&args.service),
            Command::Whoami(args) => Some(&args.service),
            Command::Join(args) => Some(&args.service),
            Command::Signal(SignalCommand::Send(args)) => Some(&args.service),
            Command::Signal(SignalCommand::Listen(args)) => Some(&args.service),
        }
    }
}

impl Cli {
    /// Parses the command line; exits with a usage error (code 2) if it is not usable.
    pub fn parse_checked() -> Cli {
        Cli::parse().checked().unwrap_or_else(|error| error.exit())
    }

    /// `self` if `--url`/`--tenant` (given before the command) apply to the command.
    pub fn checked(self) -> Result<Cli, clap::Error> {
        if self.command.service().is_none() && self.service.is_given() {
            let mut command = <Cli as clap::CommandFactory>::command();
            return Err(command.error(
                clap::error::ErrorKind::ArgumentConflict,
                "--url and --tenant apply to the live commands, not to `demo`",
            ));
        }
        Ok(self)
    }

    /// The URL and tenant of a live command (options after it win over those before it).
    pub fn service(&self) -> (String, String) {
        let inner = self.command.service().cloned().unwrap_or_default();
        inner.resolve(&self.service)
    }
}

/// `audience demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// One JSON object per line (events, member snapshots, summary) instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Scales the pauses between steps: 1 = real time (about 3 s in all), 0 = no pauses,
    /// 2 = twice as slow; at most 10.
    #[arg(long, default_value_t = 1.0, value_name = "F", value_parser = parse_pace)]
    pub pace: f64,
    /// Seed of the embedded service's client ids: the same seed gives the same ids.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub seed: u64,
}

/// Who to connect as (`--user`, `--name`).
#[derive(Debug, Clone, Args)]
pub struct Identity {
    /// User id to connect as: not empty, no control characters [default: a generated
    /// `audience-cli-XXXXXXXX`].
    #[arg(long, value_name = "ID", value_parser = parse_user_id)]
    pub user: Option<String>,
    /// Display name of the user: not empty, no control characters.
    #[arg(long, default_value = "audience-cli", value_name = "NAME", value_parser = parse_name)]
    pub name: String,
}

/// `audience watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Container (document) id.
    pub container: String,
    /// One JSON object per line instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Connection mode of the watcher.
    #[arg(long, value_enum, default_value_t = Mode::Read)]
    pub mode: Mode,
    /// Who to connect as.
    #[command(flatten)]
    pub identity: Identity,
    /// Where to connect.
    #[command(flatten)]
    pub service: Service,
}

/// `audience members`.
#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// Container (document) id.
    pub container: String,
    /// Print the snapshot as JSON, the shape of JS `getMembers()`.
    #[arg(long)]
    pub json: bool,
    /// Who to connect as.
    #[command(flatten)]
    pub identity: Identity,
    /// Where to connect.
    #[command(flatten)]
    pub service: Service,
}

/// `audience whoami`.
#[derive(Debug, Args)]
pub struct WhoamiArgs {
    /// Container (document) id.
    pub container: String,
    /// Print the member as JSON, the shape of JS `getMyself()`.
    #[arg(long)]
    pub json: bool,
    /// Connection mode.
    #[arg(long, value_enum, default_value_t = Mode::Read)]
    pub mode: Mode,
    /// Who to connect as.
    #[command(flatten)]
    pub identity: Identity,
    /// Where to connect.
    #[command(flatten)]
    pub service: Service,
}

/// `audience join`.
#[derive(Debug, Args)]
pub struct JoinArgs {
    /// Container (document) id.
    pub container: String,
    /// Connection mode.
    #[arg(long, value_enum, default_value_t = Mode::Write)]
    pub mode: Mode,
    /// Leave after this long (`30s`, `5m`, `1h 30m`); without it, stay until Ctrl-C.
    #[arg(long = "for", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// Who to connect as.
    #[command(flatten)]
    pub identity: Identity,
    /// Where to connect.
    #[command(flatten)]
    pub service: Service,
}

/// `audience signal ...`.
#[derive(Debug, Subcommand)]
pub enum SignalCommand {
    /// Send one application signal (any JSON value) to everyone, or to one client.
    Send(SendArgs),
    /// Print application signals as they arrive, until Ctrl-C (or `--count`).
    Listen(ListenArgs),
}

/// `audience signal send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// Container (document) id.
    pub container: String,
    /// The signal content, as JSON (checked before anything is sent); `-` reads it from stdin
    /// (for content larger than a command-line argument may be: 128 KiB on Linux).
    #[arg(value_name = "JSON", allow_hyphen_values = true)]
    pub content: String,
    /// Send to this client id only.
    #[arg(long, value_name = "CLIENT_ID")]
    pub to: Option<String>,
    /// Who to connect as.
    #[command(flatten)]
    pub identity: Identity,
    /// Where to connect.
    #[command(flatten)]
    pub service: Service,
}

/// `audience signal listen`.
#[derive(Debug, Args)]
pub struct ListenArgs {
    /// Container (document) id.
    pub container: String,
    /// One JSON object per signal.
    #[arg(long)]
    pub json: bool,
    /// Exit after this many signals.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Who to connect as.
    #[command(flatten)]
    pub identity: Identity,
    /// Where to connect.
    #[command(flatten)]
    pub service: Service,
}

/// A connection mode on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Read only: sees everything, cannot write ops.
    Read,
    /// Read and write.
    Write,
}

impl From<Mode> for ConnectionMode {
    fn from(mode: Mode) -> Self {
        match mode {
            Mode::Read => ConnectionMode::Read,
            Mode::Write => ConnectionMode::Write,
        }
    }
}

/// The largest `--pace`: ten times slower than real time, about 30 s in all.
pub const MAX_PACE: f64 = 10.0;

/// `--pace`: a number from 0 to [`MAX_PACE`].
fn parse_pace(text: &str) -> Result<f64, String> {
    let pace: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if (0.0..=MAX_PACE).contains(&pace) {
        Ok(pace)
    } else {
        Err(format!("the pace must be from 0 to {MAX_PACE}"))
    }
}

/// `--user`: what the service and every other client will show as this user's id.
fn parse_user_id(text: &str) -> Result<String, String> {
    printable("user id", text)
}

/// `--name`: the display name others see.
fn parse_name(text: &str) -> Result<String, String> {
    printable("name", text)
}

/// `text` if it has something visible and no control character (nor bidi control, which
/// would reorder what others' terminals show).
fn printable(what: &str, text: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        return Err(format!("the {what} must not be empty"));
    }
    if let Some(c) = text.chars().find(|c| is_unsafe(*c)) {
        return Err(format!(
            "the {what} must not contain control characters (found U+{:04X})",
            u32::from(c)
        ));
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn pace_is_from_0_to_10() {
        assert_eq!(parse_pace("0"), Ok(0.0));
        assert_eq!(parse_pace("2.5"), Ok(2.5));
        assert_eq!(parse_pace("10"), Ok(10.0));
        let range = Err("the pace must be from 0 to 10".to_owned());
        assert_eq!(parse_pace("10.01"), range);
        assert_eq!(parse_pace("1e300"), range);
        assert_eq!(parse_pace("-1"), range);
        assert_eq!(parse_pace("-0.1"), range);
        assert_eq!(parse_pace("inf"), range);
        assert_eq!(parse_pace("NaN"), range);
        assert_eq!(parse_pace("slow"), Err("`slow` is not a number".to_owned()));
        let cli = Cli::try_parse_from(["audience", "demo"]).unwrap();
        let Command::Demo(demo) = cli.command else {
            panic!("not demo")
        };
        assert_eq!(demo.pace, 1.0);
        let err = Cli::try_parse_from(["audience", "demo", "--speed", "2"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::UnknownArgument);
    }

    #[test]
    fn join_parses_durations_and_modes() {
        let cli = Cli::try_parse_from([
            "audience", "join", "doc", "--user", "u1", "--name", "Ann", "--mode", "read", "--for",
            "1m 30s",
        ])
        .unwrap();
        assert_eq!(
            cli.service(),
            ("http://127.0.0.1:7070".to_owned(), "tinylicious".to_owned())
        );
        let Command::Join(join) = cli.command else {
            panic!("not join: {:?}", cli.command)
        };
        assert_eq!(join.duration, Some(Duration::from_secs(90)));
        assert_eq!(join.mode, Mode::Read);
        assert_eq!(join.identity.user.as_deref(), Some("u1"));
        assert_eq!(join.identity.name, "Ann");
    }

    #[test]
    fn service_options_go_before_or_after_a_live_command() {
        let parse = |args: &[&str]| Cli::try_parse_from(args).map(Cli::checked);
        let service = |args: &[&str]| parse(args).unwrap().unwrap().service();
        let url = "http://127.0.0.1:9";
        assert_eq!(
            service(&["audience", "--url", url, "members", "doc"]),
            (url.to_owned(), "tinylicious".to_owned())
        );
        assert_eq!(
            service(&["audience", "members", "doc", "--url", url, "--tenant", "t2"]),
            (url.to_owned(), "t2".to_owned())
        );
        // After the command wins over before it.
        assert_eq!(
            service(&[
                "audience", "--url", "http://a", "--tenant", "t1", "create", "--url", url,
            ]),
            (url.to_owned(), "t1".to_owned())
        );
        for command in [
            &["create"][..],
            &["watch", "doc"],
            &["whoami", "doc"],
            &["join", "doc"],
            &["signal", "send", "doc", "1"],
            &["signal", "listen", "doc"],
        ] {
            let mut args = vec!["audience"];
            args.extend(command);
            args.extend(["--url", url]);
            assert_eq!(service(&args).0, url, "{command:?}");
        }

        // The demo has neither, before or after.
        let err = parse(&["audience", "demo", "--url", url]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::UnknownArgument);
        let err = parse(&["audience", "demo", "--tenant", "t"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::UnknownArgument);
        let err = parse(&["audience", "--url", url, "demo"])
            .unwrap()
            .unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
        assert_eq!(err.exit_code(), 2);
        let demo = Cli::command();
        let demo = demo.find_subcommand("demo").unwrap();
        let ids: Vec<&str> = demo.get_arguments().map(|a| a.get_id().as_str()).collect();
        assert!(!ids.contains(&"url") && !ids.contains(&"tenant"), "{ids:?}");
    }

    #[test]
    fn verbose_goes_anywhere_and_defaults_apply() {
        let cli = Cli::try_parse_from(["audience", "watch", "doc", "-vv"]).unwrap();
        assert_eq!(cli.verbose, 2);
        let Command::Watch(watch) = cli.command else {
            panic!("not watch")
        };
        assert_eq!(watch.mode, Mode::Read);
        assert_eq!(watch.identity.user, None);
        assert_eq!(watch.identity.name, "audience-cli");
        let cli = Cli::try_parse_from(["audience", "demo", "-v"]).unwrap();
        assert_eq!(cli.verbose, 1);
    }

    #[test]
    fn bad_durations_are_usage_errors() {
        let err = Cli::try_parse_from(["audience", "join", "doc", "--for", "soon"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation);
    }
}
