//! `planexec events archive`: move the history of executions that ended long ago to the
//! archive now, against the database (`PLANEXE_DATABASE_URL`), as the coordinator's schedule
//! does with `PLANEXE_EVENTS_RETENTION_DAYS` (see `planexec_coordinator::archival`).

use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::Utc;
use planexec_coordinator::archival::{self, Pass};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::output::Output;
use crate::settings::ConnectionArgs;
use crate::stack;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Move the events of executions that ended (COMPLETED, FAILED, CANCELLED) longer ago than
    /// --older-than to the archive; read them back with `GET
    /// /api/executions/{id}/events?archived=true`.
    Archive {
        /// How long ago an execution must have ended: a number and `d`, `h`, `m` or `s`
        /// (`30d`, `12h`).
        #[arg(long, value_parser = parse_age)]
        older_than: Duration,
        /// Most events moved per statement (each its own short transaction).
        #[arg(long, default_value_t = archival::DEFAULT_BATCH)]
        batch: u32,
        /// Milliseconds to wait between two statements, leaving the database to the rest.
        #[arg(long, default_value_t = archival::DEFAULT_PAUSE.as_millis() as u64)]
        pause_ms: u64,
        /// Only count what would move.
        #[arg(long)]
        dry_run: bool,
        #[arg(long, value_enum, default_value = "table")]
        output: Output,
        #[command(flatten)]
        connections: ConnectionArgs,
    },
}

/// What the command did (or, with `--dry-run`, would do).
#[derive(Debug, Serialize)]
struct Report {
    dry_run: bool,
    cutoff: planexec_schemas::Timestamp,
    events: u64,
    executions: u64,
    seconds: f64,
}

pub async fn run(command: Command) -> anyhow::Result<()> {
    let Command::Archive {
        older_than,
        batch,
        pause_ms,
        dry_run,
        output,
        connections,
    } = command;
    anyhow::ensure!(batch >= 1, "--batch must be at least 1");
    let connections = connections.resolve()?;
    let (database_url, _) = stack::configured(&connections);
    let pool = stack::pool(&database_url, 2, Duration::from_secs(30)).await?;
    let cutoff = Utc::now() - chrono::Duration::from_std(older_than)?;
    let started = Instant::now();
    let (events, executions) = if dry_run {
        let left = archival::remaining(&pool, cutoff).await.context(MIGRATED)?;
        (left.events, left.executions)
    } else {
        let pass = Pass {
            cutoff,
            batch,
            pause: Duration::from_millis(pause_ms),
        };
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            // Ctrl-C ends the run between two statements; what moved stays moved.
            let _ = tokio::signal::ctrl_c().await;
            stop.cancel();
        });
        let Some(done) = archival::archive(&pool, &pass, &shutdown)
            .await
            .context(MIGRATED)?
        else {
            anyhow::bail!(
                "another archival is running (a coordinator's schedule or another `planexec events archive`); \
                 try again when it is done"
            );
        };
        (done.events, done.executions)
    };
    let report = Report {
        dry_run,
        cutoff,
        events,
        executions,
        seconds: started.elapsed().as_secs_f64(),
    };
    print(&report, output)
}

const MIGRATED: &str = "archiving events (is the database migrated? `planexec migrate up`)";

fn print(report: &Report, output: Output) -> anyhow::Result<()> {
    if output == Output::Json {
        return output.print_json(report);
    }
    let verb = if report.dry_run {
        "would move"
    } else {
        "moved"
    };
    say!(
        "{verb} {} events of {} executions that ended before {} to the archive",
        report.events,
        report.executions,
        report
            .cutoff
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    if !report.dry_run && report.events > 0 && report.seconds > 0.0 {
        say!(
            "in {:.1} s ({:.0} events/s)",
            report.seconds,
            report.events as f64 / report.seconds
        );
    }
    Ok(())
}

/// `30d`, `12h`, `90m`, `45s`.
fn parse_age(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{text:?} has no unit: write e.g. 30d, 12h, 90m or 45s"))?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} does not start with a whole number"))?;
    let seconds = match unit {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" => 1,
        _ => {
            return Err(format!(
                "unknown unit {unit:?} in {text:?}: use d, h, m or s"
            ));
        }
    };
    let age = number
        .checked_mul(seconds)
        .filter(|s| *s <= 100 * 365 * 86_400)
        .ok_or_else(|| format!("{text:?} is more than 100 years"))?;
    Ok(Duration::from_secs(age))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::parse_age;

    #[test]
    fn ages_take_a_number_and_a_unit() {
        assert_eq!(parse_age("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert_eq!(parse_age("12h"), Ok(Duration::from_secs(12 * 3_600)));
        assert_eq!(parse_age("90m"), Ok(Duration::from_secs(90 * 60)));
        assert_eq!(parse_age("0s"), Ok(Duration::ZERO));
        for wrong in ["30", "d", "30 days", "-1d", "1.5d", "99999999999d"] {
            assert!(parse_age(wrong).is_err(), "{wrong}");
        }
    }
}
