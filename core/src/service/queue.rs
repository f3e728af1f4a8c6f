//! The Services node's output queue: the elector and the VIP manager fill a core
//! [`Outbox`] (which also numbers every operation), and its outputs are moved, in order, into the
//! queue of [`ServicesOutput`]s before anything else is added, naming the Lease the elector
//! writes.

use std::collections::VecDeque;

use super::io::ServicesOutput;
use crate::config::LeaseRef;
use crate::io::{OpId, Output};
use crate::outbox::Outbox;

/// Outputs waiting for `poll_output`.
#[derive(Debug, Clone)]
pub struct Queue {
    /// Where the sub-machines queue their work.
    pub core: Outbox,
    out: VecDeque<ServicesOutput>,
    lease: LeaseRef,
}

impl Queue {
    /// An empty queue whose Lease requests go to `lease`.
    pub fn new(lease: LeaseRef) -> Self {
        Queue {
            core: Outbox::default(),
            out: VecDeque::new(),
            lease,
        }
    }

    /// A fresh operation id (shared with the sub-machines).
    pub fn next_op(&mut self) -> OpId {
        self.core.next_op()
    }

    /// Queues an output after everything the sub-machines queued so far.
    pub fn push(&mut self, output: ServicesOutput) {
        self.flush();
        self.out.push_back(output);
    }

    /// The oldest output.
    pub fn pop(&mut self) -> Option<ServicesOutput> {
        self.flush();
        self.out.pop_front()
    }

    fn flush(&mut self) {
        self.flush_link(None);
    }

    /// Moves what the sub-machines queued so far, naming `link` (`None`: the Services
    /// interface) on address operations and frames.
    pub fn flush_link(&mut self, link: Option<&str>) {
        let link = || link.map(str::to_owned);
        while let Some(output) = self.core.pop() {
            let mapped = match output {
                Output::Lease { op, request } => ServicesOutput::Lease {
                    op,
                    lease: self.lease.clone(),
                    request,
                },
                Output::AddAddress { op, vip } => ServicesOutput::AddAddress {
                    op,
                    vip,
                    link: link(),
                },
                Output::RemoveAddress { op, vip } => ServicesOutput::RemoveAddress {
                    op,
                    vip,
                    link: link(),
                },
                Output::SendFrame { address, frame } => ServicesOutput::SendFrame {
                    address,
                    frame,
                    link: link(),
                },
                Output::Event(event) => ServicesOutput::Event(event),
                Output::Stopped => ServicesOutput::Stopped,
            };
            self.out.push_back(mapped);
        }
    }
}
