//! The per-connection delivery pipeline: where injected faults act on server → client messages.
//!
//! Every message the service sends to one connection passes, in this order:
//!
//! 1. **drop**: while `drop_next > 0`, the message is discarded;
//! 2. **duplicate**: while `duplicate_next > 0`, the message continues twice;
//! 3. **reorder**: while swaps are pending, the first message is stashed and let through right
//!    after the next one (the stashed message waits until a second one arrives);
//! 4. **hold / partition**: while held or partitioned, messages queue in a buffer that
//!    `release`/`heal` hands over in order;
//! 5. otherwise the message reaches the client.
//!
//! This is a pure state machine: it returns what reaches the client and never touches channels.

use std::collections::VecDeque;

use audience_core::transport::ServiceEvent;

/// Fault state and buffers for one connection.
#[derive(Debug, Default)]
pub(crate) struct Delivery {
    drop_next: u32,
    duplicate_next: u32,
    swaps_pending: u32,
    stashed: Option<ServiceEvent>,
    held: bool,
    partitioned: bool,
    buffer: VecDeque<ServiceEvent>,
}

impl Delivery {
    /// Pushes one message through the pipeline; what reaches the client now is appended to `out`.
    pub(crate) fn push(&mut self, event: ServiceEvent, out: &mut Vec<ServiceEvent>) {
        if self.drop_next > 0 {
            self.drop_next -= 1;
            return;
        }
        if self.duplicate_next > 0 {
            self.duplicate_next -= 1;
            self.reorder(event.clone(), out);
        }
        self.reorder(event, out);
    }

    fn reorder(&mut self, event: ServiceEvent, out: &mut Vec<ServiceEvent>) {
        if self.swaps_pending == 0 {
            self.gate(event, out);
            return;
        }
        match self.stashed.take() {
            None => self.stashed = Some(event),
            Some(first) => {
                self.swaps_pending -= 1;
                self.gate(event, out);
                self.gate(first, out);
            }
        }
    }

    fn gate(&mut self, event: ServiceEvent, out: &mut Vec<ServiceEvent>) {
        if self.held || self.partitioned {
            self.buffer.push_back(event);
        } else {
            out.push(event);
        }
    }

    fn flush(&mut self, out: &mut Vec<ServiceEvent>) {
        if !self.held && !self.partitioned {
            out.extend(self.buffer.drain(..));
        }
    }

    /// Discards the next `n` messages (adds to any count already pending).
    pub(crate) fn drop_next(&mut self, n: u32) {
        self.drop_next = self.drop_next.saturating_add(n);
    }

    /// Delivers each of the next `n` messages twice.
    pub(crate) fn duplicate_next(&mut self, n: u32) {
        self.duplicate_next = self.duplicate_next.saturating_add(n);
    }

    /// Swaps the next two messages (calls accumulate: each swaps one further pair).
    pub(crate) fn swap_next_pair(&mut self) {
        self.swaps_pending = self.swaps_pending.saturating_add(1);
    }

    /// Starts holding messages.
    pub(crate) fn hold(&mut self) {
        self.held = true;
    }

    /// Stops holding; the buffer goes out unless the connection is also partitioned.
    pub(crate) fn release(&mut self, out: &mut Vec<ServiceEvent>) {
        self.held = false;
        self.flush(out);
    }

    /// The messages waiting in the hold/partition buffer.
    pub(crate) fn buffered(&self) -> Vec<ServiceEvent> {
        self.buffer.iter().cloned().collect()
    }

    /// Replaces the buffer with the messages at `order` (in that order; others are dropped),
    /// then releases. Returns the first index out of range, changing nothing, if any.
    pub(crate) fn release_as(
        &mut self,
        order: &[usize],
        out: &mut Vec<ServiceEvent>,
    ) -> Result<(), usize> {
        if let Some(&bad) = order.iter().find(|&&index| index >= self.buffer.len()) {
            return Err(bad);
        }
        let picked: VecDeque<ServiceEvent> = order
            .iter()
            .filter_map(|&index| self.buffer.get(index).cloned())
            .collect();
        self.buffer = picked;
        self.release(out);
        Ok(())
    }

    /// Starts a network partition: nothing reaches the client until [`Delivery::heal`].
    pub(crate) fn partition(&mut self) {
        self.partitioned = true;
    }

    /// Whether the connection is partitioned.
    pub(crate) fn is_partitioned(&self) -> bool {
        self.partitioned
    }

    /// Ends the partition; the buffer goes out unless the connection is also held.
    pub(crate) fn heal(&mut self, out: &mut Vec<ServiceEvent>) {
        self.partitioned = false;
        self.flush(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use audience_core::transport::Source;

    fn ev(n: u32) -> ServiceEvent {
        ServiceEvent::ClientLeft {
            client_id: format!("c{n}"),
            source: Source::Signal,
        }
    }

    fn run(delivery: &mut Delivery, events: impl IntoIterator<Item = u32>) -> Vec<ServiceEvent> {
        let mut out = Vec::new();
        for n in events {
            delivery.push(ev(n), &mut out);
        }
        out
    }

    #[test]
    fn no_faults_passes_in_order() {
        assert_eq!(
            run(&mut Delivery::default(), [1, 2, 3]),
            vec![ev(1), ev(2), ev(3)]
        );
    }

    #[test]
    fn drop_duplicate_and_swap_compose_in_pipeline_order() {
        let mut d = Delivery::default();
        d.drop_next(1);
        d.duplicate_next(1);
        assert_eq!(run(&mut d, [1, 2, 3]), vec![ev(2), ev(2), ev(3)]);
        d.swap_next_pair();
        d.swap_next_pair();
        assert_eq!(run(&mut d, [4, 5, 6]), vec![ev(5), ev(4)]);
        assert_eq!(run(&mut d, [7, 8]), vec![ev(7), ev(6), ev(8)]);
    }

    #[test]
    fn hold_and_partition_both_gate_the_buffer() {
        let mut d = Delivery::default();
        d.hold();
        d.partition();
        assert!(run(&mut d, [1, 2]).is_empty());
        let mut out = Vec::new();
        d.release(&mut out);
        assert!(out.is_empty(), "still partitioned");
        assert_eq!(d.buffered(), vec![ev(1), ev(2)]);
        d.heal(&mut out);
        assert_eq!(out, vec![ev(1), ev(2)]);
        assert!(d.buffered().is_empty());
    }

    #[test]
    fn release_as_picks_and_orders_and_rejects_bad_indices() {
        let mut d = Delivery::default();
        d.hold();
        run(&mut d, [1, 2, 3]);
        let mut out = Vec::new();
        assert_eq!(d.release_as(&[2, 5], &mut out), Err(5));
        assert_eq!(d.buffered().len(), 3);
        d.release_as(&[2, 0], &mut out).unwrap();
        assert_eq!(out, vec![ev(3), ev(1)]);
        let out = run(&mut d, [4]);
        assert_eq!(out, vec![ev(4)]);
    }
}
