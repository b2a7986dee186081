//! Live commands against a Tinylicious / Routerlicious server.
//!
//! Every command that names a container checks that it exists over REST before connecting, so
//! a typo gives `container `x` does not exist` instead of a socket error. Data goes to stdout;
//! status lines of `join`, `signal send` and `signal listen` go to stderr.

use std::sync::Arc;

use audience_core::client::{AudienceClient, ClientEvent, ClientOptions, Subscription};
use audience_core::policy::InteractiveOnly;
use audience_core::transport::{ConnectRequest, DocumentService};
use audience_core::wire::{ConnectionMode, User};
use audience_tinylicious::{
    TinyliciousConfig, TinyliciousError, TinyliciousMember, TinyliciousService,
};
use serde_json::Value;
use tokio::time::Instant;

use crate::args::{
    Command, Identity, JoinArgs, ListenArgs, SendArgs, SignalCommand, SnapshotArgs, WatchArgs,
    WhoamiArgs,
};
use crate::content::signal_content;
use crate::error::CliError;
use crate::follow::{Ended, follow};
use crate::interrupt::{self, Interrupt};
use crate::render::json::members_json;
use crate::render::sanitize::sanitize;
use crate::render::{Format, Printer, colour::Painter, table};
use crate::tracker::Tracker;

type LiveClient = AudienceClient<TinyliciousMember>;
type LiveEvents = Subscription<TinyliciousMember>;

/// The service and tenant the live commands talk to.
#[derive(Debug)]
pub struct Target {
    service: TinyliciousService,
}

impl Target {
    /// Checks `url` and sets up the HTTP client (no network yet).
    pub fn new(url: &str, tenant: &str) -> Result<Self, CliError> {
        let config = TinyliciousConfig::from_url(url)
            .map_err(|error| match error {
                TinyliciousError::InvalidUrl { .. } => {
                    CliError::InvalidUrl(format!("--url: {error}"))
                }
                other => CliError::Service(other),
            })?
            .with_tenant(tenant);
        Ok(Target {
            service: TinyliciousService::new(config)?,
        })
    }

    fn tenant(&self) -> &str {
        self.service.config().tenant_id()
    }
}

/// Runs a live command: input checks first, then the network.
pub async fn run(url: &str, tenant: &str, command: Command) -> Result<(), CliError> {
    // Validate what needs no server before touching one.
    let content = match &command {
        Command::Signal(SignalCommand::Send(args)) => {
            Some(signal_content(&args.content, std::io::stdin().lock())?)
        }
        _ => None,
    };
    let target = Target::new(url, tenant)?;
    match command {
        Command::Create(_) => create(&target).await,
        Command::Watch(args) => watch(&target, &args).await,
        Command::Members(args) => members(&target, &args).await,
        Command::Whoami(args) => whoami(&target, &args).await,
        Command::Join(args) => join(&target, &args).await,
        Command::Signal(SignalCommand::Send(args)) => {
            send(&target, &args, content.unwrap_or(Value::Null)).await
        }
        Command::Signal(SignalCommand::Listen(args)) => listen(&target, &args).await,
        Command::Demo(_) => Err(CliError::Demo("`demo` is not a live command".into())),
    }
}

/// `audience-cli-` and 8 random hex digits.
fn generated_user_id() -> String {
    let random: String = uuid::Uuid::new_v4()
        .simple()
        .to_string()
        .chars()
        .take(8)
        .collect();
    format!("audience-cli-{random}")
}

/// Checks the container, then connects as `identity` in `mode`, subscribed before connecting.
async fn open(
    target: &Target,
    container: &str,
    identity: &Identity,
    mode: ConnectionMode,
) -> Result<(LiveClient, LiveEvents), CliError> {
    target.service.require_container(container).await?;
    let user_id = identity.user.clone().unwrap_or_else(generated_user_id);
    let request = ConnectRequest::new(
        target.tenant(),
        container,
        User::new(user_id, identity.name.clone()),
        mode,
    );
    let client = AudienceClient::new(
        Arc::new(target.service.clone()) as Arc<dyn DocumentService>,
        request,
        InteractiveOnly,
        ClientOptions::default(),
    );
    let events = client.subscribe();
    client.connect().await?;
    Ok((client, events))
}

/// Watches for Ctrl-C apart from the command's loop: the first one closes `client` (a clean
/// leave) even while that loop is stuck writing to a stdout nobody reads.
fn leave_on_ctrl_c(client: &Arc<LiveClient>) -> Interrupt {
    let client = Arc::clone(client);
    Interrupt::spawn(async move { client.close().await }, interrupt::GRACE)
}

async fn create(target: &Target) -> Result<(), CliError> {
    let id = target.service.create_container().await?;
    say(&format!("{}\n", sanitize(&id)))?;
    Ok(())
}

async fn watch(target: &Target, args: &WatchArgs) -> Result<(), CliError> {
    let start = Instant::now();
    let (client, mut events) =
        open(target, &args.container, &args.identity, args.mode.into()).await?;
    let client = Arc::new(client);
    let mut interrupt = leave_on_ctrl_c(&client);
    let mut printer = Printer::new(Format::for_stdout(args.json), std::io::stdout().lock());
    let ended = follow(
        &client,
        &mut events,
        &mut printer,
        start,
        &args.container,
        interrupt.pressed(),
    )
    .await?;
    match ended {
        Ended::Stopped => interrupt.left().await,
        Ended::ClientGone => client.close().await,
    }
    let (human, result) = match ended {
        Ended::Stopped => ("left the container (Ctrl-C)", Err(CliError::Interrupted)),
        Ended::ClientGone => ("left the container (the client stopped)", Ok(())),
    };
    printer.note(
        start.elapsed(),
        human,
        "left",
        serde_json::json!({ "container": args.container }),
    )?;
    result
}

async fn members(target: &Target, args: &SnapshotArgs) -> Result<(), CliError> {
    let (client, _events) = open(
        target,
        &args.container,
        &args.identity,
        ConnectionMode::Read,
    )
    .await?;
    let snapshot = client.get_members();
    client.close().await;
    if args.json {
        say(&format!("{}\n", members_json(snapshot.iter())))?;
    } else {
        let mut tracker = Tracker::default();
        tracker.resync(&snapshot);
        say(&table::members_table(&painter(), &tracker))?;
    }
    Ok(())
}

/// Writes `text` to stdout (a closed pipe is an error the caller turns into a quiet exit,
/// where `println!` would panic).
fn say(text: &str) -> Result<(), CliError> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    Ok(stdout.flush()?)
}

fn painter() -> Painter {
    Painter::new(crate::render::colour::stdout_wants_colour())
}

async fn whoami(target: &Target, args: &WhoamiArgs) -> Result<(), CliError> {
    let (client, _events) = open(target, &args.container, &args.identity, args.mode.into()).await?;
    let myself = client.get_myself();
    client.close().await;
    let myself = myself.ok_or_else(|| CliError::ConnectionClosed {
        container: args.container.clone(),
        reason: "the own connection is not in the audience".into(),
    })?;
    if args.json {
        let json = serde_json::to_string(&myself).map_err(|e| CliError::Output(e.into()))?;
        say(&format!("{json}\n"))?;
    } else {
        let current = &myself.current_connection;
        let mode = myself
            .member
            .connections
            .iter()
            .find(|c| &*c.id == current)
            .map_or("?", |c| c.mode.as_str());
        let others: Vec<String> = myself
            .member
            .connections
            .iter()
            .filter(|c| &*c.id != current)
            .map(|c| format!("{} [{}]", sanitize(&c.id), c.mode))
            .collect();
        let who = table::who(&painter(), &myself.member);
        say(&format!(
            "you are {who} on connection {} [{mode}]\n",
            sanitize(current)
        ))?;
        if !others.is_empty() {
            say(&format!(
                "other connections of this user: {}\n",
                others.join(", ")
            ))?;
        }
    }
    Ok(())
}

/// A status line on stderr; names, ids and reasons in it may come from the network.
fn tell(line: &str) {
    eprintln!("{}", sanitize(line));
}

/// Reports connection trouble on stderr; an error once the client gave up.
fn status(container: &str, event: &ClientEvent<TinyliciousMember>) -> Result<(), CliError> {
    match event {
        ClientEvent::Reconnecting {
            attempt,
            delay,
            reason,
        } => tell(&format!(
            "reconnecting to {container} (attempt {attempt} in {}ms): {reason}",
            delay.as_millis()
        )),
        ClientEvent::Audience(audience_core::audience::AudienceEvent::Disconnected) => {
            tell(&format!("disconnected from {container}"));
        }
        ClientEvent::Audience(audience_core::audience::AudienceEvent::SelfChanged {
            new, ..
        }) => tell(&format!("reconnected to {container} as {new}")),
        ClientEvent::Closed {
            error: Some(reason),
        } => {
            return Err(CliError::ConnectionClosed {
                container: container.to_owned(),
                reason: reason.clone(),
            });
        }
        _ => {}
    }
    Ok(())
}

async fn join(target: &Target, args: &JoinArgs) -> Result<(), CliError> {
    let mode: ConnectionMode = args.mode.into();
    let (client, mut events) = open(target, &args.container, &args.identity, mode).await?;
    let client = Arc::new(client);
    let mut interrupt = leave_on_ctrl_c(&client);
    let me = client.client_id().unwrap_or_default();
    let user = client
        .get_myself()
        .map(|m| format!("{} ({})", m.member.name, m.member.id))
        .unwrap_or_default();
    let until = match args.duration {
        Some(duration) => format!("leaving in {}", humantime::format_duration(duration)),
        None => "Ctrl-C to leave".to_owned(),
    };
    tell(&format!(
        "joined {} as {user} on connection {me} [{mode}]; {until}",
        args.container
    ));
    let time_up = async {
        match args.duration {
            Some(duration) => tokio::time::sleep(duration).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(time_up);
    let why = loop {
        tokio::select! {
            () = interrupt.pressed() => break Left::CtrlC,
            () = &mut time_up => break Left::TimeUp,
            event = events.recv() => match event {
                Some(event) => status(&args.container, &event)?,
                None => break Left::ClientGone,
            },
        }
    };
    match why {
        // The Ctrl-C watcher is closing the client.
        Left::CtrlC => interrupt.left().await,
        Left::TimeUp | Left::ClientGone => client.close().await,
    }
    tell(&format!("left {} ({})", args.container, why.reason()));
    match why {
        Left::CtrlC => Err(CliError::Interrupted),
        Left::TimeUp | Left::ClientGone => Ok(()),
    }
}

/// Why `join` left.
#[derive(Debug, Clone, Copy)]
enum Left {
    CtrlC,
    TimeUp,
    ClientGone,
}

impl Left {
    fn reason(self) -> &'static str {
        match self {
            Left::CtrlC => "Ctrl-C",
            Left::TimeUp => "time is up",
            Left::ClientGone => "the client stopped",
        }
    }
}

async fn send(target: &Target, args: &SendArgs, content: Value) -> Result<(), CliError> {
    let (client, _events) = open(
        target,
        &args.container,
        &args.identity,
        ConnectionMode::Read,
    )
    .await?;
    let me = client.client_id().unwrap_or_default();
    if let Some(to) = &args.to {
        let snapshot = client.get_members();
        if snapshot.member_of_connection(to).is_none() {
            client.close().await;
            return Err(CliError::ConnectionClosed {
                container: args.container.clone(),
                reason: format!("no connection `{to}` in the audience to send to"),
            });
        }
    }
    // No wait for an echo: the transport's close flushes what was sent (a ping round trip
    // before the disconnect packet), so the signal is dispatched before we leave.
    let sent = client.submit_signal(content, args.to.clone()).await;
    if let Err(error) = sent {
        client.close().await;
        return Err(error.into());
    }
    client.close().await;
    match &args.to {
        Some(to) => tell(&format!("signal sent from {me} to {to}")),
        None => tell(&format!("signal sent from {me} to everyone")),
    }
    Ok(())
}

async fn listen(target: &Target, args: &ListenArgs) -> Result<(), CliError> {
    let start = Instant::now();
    let (client, mut events) = open(
        target,
        &args.container,
        &args.identity,
        ConnectionMode::Read,
    )
    .await?;
    let client = Arc::new(client);
    let mut interrupt = leave_on_ctrl_c(&client);
    let mut printer = Printer::new(Format::for_stdout(args.json), std::io::stdout().lock());
    tell(&format!(
        "listening for signals on {} as {}; Ctrl-C to stop",
        args.container,
        client.client_id().unwrap_or_default()
    ));
    let mut received = 0u64;
    while args.count.is_none_or(|count| received < count) {
        tokio::select! {
            () = interrupt.pressed() => {
                interrupt.left().await;
                return Err(CliError::Interrupted);
            }
            event = events.recv() => {
                let Some(event) = event else { break };
                match &event {
                    ClientEvent::Signal(_) => {
                        received += 1;
                        printer.event(start.elapsed(), &event, || client.get_members())?;
                    }
                    other => {
                        printer.observe(other, || client.get_members());
                        status(&args.container, other)?;
                    }
                }
            }
        }
    }
    client.close().await;
    Ok(())
}
