//! The simulated API server: one Lease with resourceVersion compare-and-swap, as the real
//! kube-apiserver applies GET / CREATE / REPLACE, plus injected failures (500, spurious 409, a
//! write applied whose answer is lost, a request lost outright).

use kvip_core::{LeaseError, LeaseObject, LeaseRequest, ResourceVersion};

use super::rng::{Draw, SeededRng};

/// How a request was treated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The answer, or `None` if it is lost.
    pub reply: Option<Result<LeaseObject, LeaseError>>,
    /// The Lease after a successful write (to send to watchers).
    pub written: Option<LeaseObject>,
}

/// The Lease store.
#[derive(Debug, Clone, Default)]
pub struct ApiServer {
    lease: Option<LeaseObject>,
    revision: u64,
    /// Per-mille of requests that fail when the API is flaky.
    pub flaky_per_mille: u64,
}

impl ApiServer {
    /// The Lease as stored.
    pub fn lease(&self) -> Option<&LeaseObject> {
        self.lease.as_ref()
    }

    /// Applies one request.
    pub fn apply(&mut self, request: LeaseRequest, rng: &mut SeededRng) -> Applied {
        if self.flaky_per_mille > 0 && rng.chance(self.flaky_per_mille) {
            return match rng.below(4) {
                0 => Applied {
                    reply: Some(Err(LeaseError::Server(500))),
                    written: None,
                },
                1 => Applied {
                    reply: Some(Err(LeaseError::Conflict)),
                    written: None,
                },
                2 => Applied {
                    reply: None,
                    written: None,
                },
                _ => {
                    let mut applied = self.apply_cleanly(request);
                    applied.reply = None;
                    applied
                }
            };
        }
        self.apply_cleanly(request)
    }

    fn apply_cleanly(&mut self, request: LeaseRequest) -> Applied {
        let result = match request {
            LeaseRequest::Get => {
                return self.answer(self.lease.clone().ok_or(LeaseError::NotFound))
            }
            LeaseRequest::Create(_) if self.lease.is_some() => Err(LeaseError::Conflict),
            LeaseRequest::Create(record) => Ok(record),
            LeaseRequest::Replace { expected, record } => match &self.lease {
                None => Err(LeaseError::NotFound),
                Some(l) if l.resource_version != expected => Err(LeaseError::Conflict),
                Some(_) => Ok(record),
            },
        };
        match result {
            Err(e) => self.answer(Err(e)),
            Ok(record) => {
                self.revision += 1;
                let stored = LeaseObject {
                    resource_version: ResourceVersion(self.revision.to_string()),
                    record,
                };
                self.lease = Some(stored.clone());
                Applied {
                    reply: Some(Ok(stored.clone())),
                    written: Some(stored),
                }
            }
        }
    }

    fn answer(&self, reply: Result<LeaseObject, LeaseError>) -> Applied {
        Applied {
            reply: Some(reply),
            written: None,
        }
    }
}
