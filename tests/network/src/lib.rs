//! The network test bed lives in `tests/network.rs`; this package only runs it.
