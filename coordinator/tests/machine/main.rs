//! The state machine, tested without servers: it is a pure function.

mod behaviour;
mod fixture;
mod properties;
