//! The `kvip` binary.
fn main() {}
