//! kvip-runtime: the production driver of `kvip-core`.
//!
//! | module | owns |
//! |---|---|
//! | [`manager`] | `kvip manager`: the one task that owns a `Node` and runs its outputs with real IO |

pub mod manager;
