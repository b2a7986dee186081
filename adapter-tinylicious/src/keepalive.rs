//! Keeping a write connection alive: sequence numbers and noops.
//!
//! The sequencer evicts a write client whose last message is older than 5 minutes (a server
//! `leave` op while the socket stays open, FLUID-PROTOCOL.md 3.4, case C-14). A writer that only
//! watches the audience sends no ops, so [`Keepalive`] schedules `{"type":"noop"}` ops:
//!
//! * at least every [`IDLE_NOOP_INTERVAL`] (60 s) since the last message sent;
//! * [`ACK_DELAY`] (2 s) after the first runtime op (`type: "op"`) received since the last
//!   message sent, or at once after [`MAX_UNACKED_OPS`] of them, as the JS `NoopHeuristic`
//!   does to let the minimum sequence number advance. Noops and service messages do not count,
//!   so two writers never answer each other's noops forever.
//!
//! Each connection numbers its messages from 1 (`clientSequenceNumber`) and references the last
//! sequence number it processed (`referenceSequenceNumber`).

use audience_core::wire::{DocumentMessage, Extra};
use tokio::time::{Duration, Instant};

/// Longest silence of a writer before a noop.
pub const IDLE_NOOP_INTERVAL: Duration = Duration::from_secs(60);
/// Shortest idle noop interval accepted: a zero interval would send noops in a busy loop
/// (a full CPU core, and a flood of ops for the service to sequence). Shorter settings are
/// raised to this.
pub const MIN_IDLE_NOOP_INTERVAL: Duration = Duration::from_millis(100);
/// Delay between receiving runtime ops and acknowledging them with a noop.
pub const ACK_DELAY: Duration = Duration::from_secs(2);
/// Received runtime ops that trigger an immediate noop.
pub const MAX_UNACKED_OPS: u32 = 50;

/// Sequence numbers and the noop schedule of one write connection.
#[derive(Debug, Clone)]
pub struct Keepalive {
    next_client_sequence_number: i64,
    last_sequence_number: i64,
    last_sent: Instant,
    unacked_ops: u32,
    ack_due: Option<Instant>,
    idle_interval: Duration,
}

impl Keepalive {
    /// A fresh connection, connected at `now`, having processed `last_sequence_number`.
    pub fn new(now: Instant, last_sequence_number: i64) -> Self {
        Keepalive {
            next_client_sequence_number: 1,
            last_sequence_number,
            last_sent: now,
            unacked_ops: 0,
            ack_due: None,
            idle_interval: IDLE_NOOP_INTERVAL,
        }
    }

    /// The same schedule with another idle interval (default [`IDLE_NOOP_INTERVAL`]); it must
    /// stay well under the service's idle timeout (5 minutes on Tinylicious). Intervals under
    /// [`MIN_IDLE_NOOP_INTERVAL`] are raised to it.
    pub fn with_idle_interval(mut self, interval: Duration) -> Self {
        self.idle_interval = interval.max(MIN_IDLE_NOOP_INTERVAL);
        self
    }

    /// The last sequence number processed.
    pub fn last_sequence_number(&self) -> i64 {
        self.last_sequence_number
    }

    /// Records a sequenced message received at `now`.
    pub fn on_sequenced(&mut self, kind: &str, sequence_number: i64, now: Instant) {
        self.last_sequence_number = self.last_sequence_number.max(sequence_number);
        if kind == "op" {
            self.unacked_ops = self.unacked_ops.saturating_add(1);
            if self.ack_due.is_none() {
                self.ack_due = Some(now + ACK_DELAY);
            }
        }
    }

    /// When the next noop is due.
    pub fn deadline(&self) -> Instant {
        let idle = self.last_sent + self.idle_interval;
        if self.unacked_ops >= MAX_UNACKED_OPS {
            return self.last_sent.min(idle);
        }
        match self.ack_due {
            Some(ack) => ack.min(idle),
            None => idle,
        }
    }

    /// Whether a noop is due at `now`.
    pub fn is_due(&self, now: Instant) -> bool {
        now >= self.deadline()
    }

    /// The next message to send: takes a client sequence number and resets the schedule.
    pub fn next_message(&mut self, kind: &str, now: Instant) -> DocumentMessage {
        let message = DocumentMessage {
            client_sequence_number: self.next_client_sequence_number,
            reference_sequence_number: self.last_sequence_number,
            kind: kind.to_owned(),
            contents: None,
            extra: Extra::new(),
        };
        self.next_client_sequence_number = self.next_client_sequence_number.saturating_add(1);
        self.last_sent = now;
        self.unacked_ops = 0;
        self.ack_due = None;
        message
    }

    /// The next noop (`{"clientSequenceNumber":n,"referenceSequenceNumber":r,"type":"noop"}`).
    pub fn next_noop(&mut self, now: Instant) -> DocumentMessage {
        self.next_message("noop", now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a keepalive on tokio's paused clock for `total`, feeding `ops` (offset from the
    /// start, kind, seq) and returns when each noop was sent (offset) with its numbers.
    async fn simulate(total: Duration, ops: &[(Duration, &str, i64)]) -> Vec<(Duration, i64, i64)> {
        let start = Instant::now();
        let mut keepalive = Keepalive::new(start, 5);
        let mut sent = Vec::new();
        let mut pending = ops.iter().peekable();
        loop {
            let next_op = pending.peek().map(|(at, _, _)| start + *at);
            let wake = next_op.map_or(keepalive.deadline(), |op| op.min(keepalive.deadline()));
            if wake > start + total {
                break;
            }
            tokio::time::sleep_until(wake).await;
            let now = Instant::now();
            while let Some((at, kind, seq)) = pending.peek() {
                if start + *at > now {
                    break;
                }
                keepalive.on_sequenced(kind, *seq, now);
                pending.next();
            }
            if keepalive.is_due(now) {
                let noop = keepalive.next_noop(now);
                assert_eq!(noop.kind, "noop");
                assert!(noop.contents.is_none());
                sent.push((
                    now - start,
                    noop.client_sequence_number,
                    noop.reference_sequence_number,
                ));
            }
        }
        sent
    }

    #[tokio::test(start_paused = true)]
    async fn idle_writer_sends_a_noop_every_minute() {
        let sent = simulate(Duration::from_secs(330), &[]).await;
        let times: Vec<u64> = sent.iter().map(|(t, _, _)| t.as_secs()).collect();
        assert_eq!(times, vec![60, 120, 180, 240, 300]);
        let numbers: Vec<i64> = sent.iter().map(|(_, csn, _)| *csn).collect();
        assert_eq!(numbers, vec![1, 2, 3, 4, 5]);
        assert!(sent.iter().all(|(_, _, rsn)| *rsn == 5));
        // The gap never reaches the 5-minute eviction.
        assert!(
            sent.windows(2)
                .all(|w| w[1].0 - w[0].0 < Duration::from_secs(300))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn runtime_ops_are_acknowledged_after_two_seconds() {
        let ops = [
            (Duration::from_secs(10), "op", 6),
            (Duration::from_millis(10_500), "op", 7),
            (Duration::from_secs(30), "noop", 8),
            (Duration::from_secs(40), "join", 9),
        ];
        let sent = simulate(Duration::from_secs(75), &ops).await;
        // 12 s: 2 s after the first op (refSeq 7, both ops processed); noop/join do not
        // trigger an ack; the idle noop follows 60 s after the last send.
        assert_eq!(
            sent,
            vec![
                (Duration::from_secs(12), 1, 7),
                (Duration::from_secs(72), 2, 9)
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn many_ops_are_acknowledged_at_once() {
        let ops: Vec<(Duration, &str, i64)> = (0..MAX_UNACKED_OPS)
            .map(|i| {
                (
                    Duration::from_millis(1000 + u64::from(i)),
                    "op",
                    10 + i64::from(i),
                )
            })
            .collect();
        let sent = simulate(Duration::from_secs(2), &ops).await;
        assert_eq!(sent, vec![(Duration::from_millis(1049), 1, 59)]);
    }

    #[test]
    fn a_zero_idle_interval_is_raised_to_the_minimum() {
        let now = Instant::now();
        let keepalive = Keepalive::new(now, 0).with_idle_interval(Duration::ZERO);
        assert_eq!(keepalive.deadline(), now + MIN_IDLE_NOOP_INTERVAL);
        assert!(!keepalive.is_due(now));
        let keepalive = Keepalive::new(now, 0).with_idle_interval(Duration::from_millis(250));
        assert_eq!(keepalive.deadline(), now + Duration::from_millis(250));
    }

    #[test]
    fn sequence_numbers_never_go_backwards() {
        let now = Instant::now();
        let mut keepalive = Keepalive::new(now, 10);
        keepalive.on_sequenced("op", 4, now);
        assert_eq!(keepalive.last_sequence_number(), 10);
        assert_eq!(keepalive.next_noop(now).reference_sequence_number, 10);
    }
}
