//! The two ways an agent reaches planexec: NATS (JetStream) directly, or HTTP through the
//! gateway. Both give the runner the same things: messages in, events out, signs of life.

pub(crate) mod http;
pub(crate) mod nats;
