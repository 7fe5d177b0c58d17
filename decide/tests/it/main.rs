//! Integration tests of the decide crate: the arbiter, the policies and the digital twin: one binary, one module per area.

mod arbitration;
mod policies;
mod twin;
