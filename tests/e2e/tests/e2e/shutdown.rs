//! Stopping: a server whose dependencies hang still stops within its grace period.

use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::support::{OPERATOR, Stack};

#[tokio::test]
async fn a_server_stuck_on_its_database_stops_when_its_grace_runs_out() {
    let mut stack = Stack::up_with(&[("PLANEXE_SHUTDOWN_GRACE_SECONDS", "2")]).await;
    let pool = stack.env.pool().await;

    // Hold a lock every listing of executions needs, so that a request hangs in the database
    // (as it does when the database is unreachable) for as long as the test wants.
    let mut lock = pool.begin().await.expect("transaction");
    sqlx::query("LOCK TABLE executions IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .expect("lock");
    let request = planexec_tls::client()
        .get(format!("{}/api/executions", stack.url))
        .bearer_auth(OPERATOR)
        .send();
    let request = tokio::spawn(request);
    // Wait until the gateway's query is queued behind the lock.
    let mut waiting = 0_i64;
    for _ in 0..400 {
        waiting = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&pool)
        .await
        .expect("pg_stat_activity");
        if waiting > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(waiting > 0, "the request never reached the database");

    let pid = i32::try_from(stack.up.pid()).expect("pid");
    let stopping = Instant::now();
    kill(Pid::from_raw(pid), Signal::SIGTERM).expect("SIGTERM");
    let status = loop {
        if let Some(status) = stack.up.exited() {
            break status;
        }
        assert!(
            stopping.elapsed() < Duration::from_secs(60),
            "planexec up still runs a minute after SIGTERM:\n{}",
            stack.up.output()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let output = stack.up.output();
    assert!(
        !status.success(),
        "a cut-short stop is reported as a failure:\n{output}"
    );
    assert!(
        output.contains("did not finish within 2 s of the stop signal"),
        "the reason is printed:\n{output}"
    );

    lock.rollback().await.expect("unlock");
    // The request in flight gets no answer: the process is gone.
    let answer = request.await.expect("request task").map(|r| r.status());
    assert!(answer.is_err(), "{answer:?}");
}
