//! LoadBalancer Services: which ones are ours, which addresses they want, and who announces them.
//!
//! | module | owns |
//! |---|---|
//! | [`model`] | the plain-data view of a Service and its endpoints |

pub mod model;

pub use model::{EndpointsView, Protocol, ServiceKey, ServicePort, ServiceView, TrafficPolicy};
