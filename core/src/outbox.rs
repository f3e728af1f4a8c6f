//! The queue of [`Output`]s the sub-machines fill and the node drains, plus operation ids.

use std::collections::VecDeque;

use crate::io::{Event, OpId, Output};

/// Outputs waiting for `poll_output`, and the counter that numbers operations.
#[derive(Debug, Clone, Default)]
pub struct Outbox {
    queue: VecDeque<Output>,
    next_op: u64,
}

impl Outbox {
    /// A fresh id for an operation whose result will come back as an input.
    pub fn next_op(&mut self) -> OpId {
        self.next_op += 1;
        OpId(self.next_op)
    }

    /// Queues an output.
    pub fn push(&mut self, output: Output) {
        self.queue.push_back(output);
    }

    /// Queues an event.
    pub fn event(&mut self, event: Event) {
        self.queue.push_back(Output::Event(event));
    }

    /// The oldest queued output.
    pub fn pop(&mut self) -> Option<Output> {
        self.queue.pop_front()
    }
}
