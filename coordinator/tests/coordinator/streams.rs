//! The streams a coordinator keeps: created at start-up with the configured limits, and an
//! existing stream brought to them.

use std::time::Duration;

use planexec_coordinator::StreamLimits;
use planexec_coordinator::streams::ensure_streams;

use super::support::Stack;

#[tokio::test]
async fn an_existing_stream_takes_the_configured_retention_at_start_up() {
    let stack = Stack::new().await;
    let js = async_nats::jetstream::new(stack.nats.clone());
    let limits = StreamLimits {
        replicas: 1,
        events_max_age: Duration::from_secs(2 * 86_400),
        tasks_max_age: Duration::from_secs(3 * 86_400),
    };
    ensure_streams(&js, &stack.ns, limits)
        .await
        .expect("streams updated");
    for (name, max_age) in [
        (stack.ns.events_stream(), limits.events_max_age),
        (stack.ns.tasks_stream(), limits.tasks_max_age),
    ] {
        let mut stream = js.get_stream(&name).await.expect("the stream exists");
        let config = stream.info().await.expect("stream info").config.clone();
        assert_eq!(config.max_age, max_age, "{name}");
        assert_eq!(config.num_replicas, 1, "{name}");
    }
}
