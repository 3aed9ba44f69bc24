//! `planexec migrate up|down`: apply or revert the database migrations.

use crate::settings::ConnectionArgs;
use crate::stack;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub direction: Direction,
}

#[derive(Debug, clap::Subcommand)]
pub enum Direction {
    /// Apply every pending migration.
    Up {
        #[command(flatten)]
        connections: ConnectionArgs,
    },
    /// Revert the newest migration (or down to `--to`, or all with `--all`).
    Down {
        /// Revert down to this version (exclusive).
        #[arg(long, conflicts_with = "all")]
        to: Option<i64>,
        /// Revert every migration.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        connections: ConnectionArgs,
    },
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let connections = match &args.direction {
        Direction::Up { connections } | Direction::Down { connections, .. } => {
            connections.resolve()?
        }
    };
    let (database_url, _) = stack::configured(&connections);
    let pool = stack::pool(&database_url, 2, std::time::Duration::from_secs(30)).await?;
    match args.direction {
        Direction::Up { .. } => stack::migrate(&pool).await?,
        Direction::Down { to, all, .. } => {
            let applied = planexec_store::applied_migrations(&pool).await?;
            let target = match (all, to) {
                (true, _) => 0,
                (false, Some(to)) => to,
                (false, None) => applied.iter().rev().nth(1).copied().unwrap_or(0),
            };
            planexec_store::migrate_down(&pool, target).await?;
        }
    }
    let applied = planexec_store::applied_migrations(&pool).await?;
    say!(
        "migrations applied: {} (newest {:?})",
        applied.len(),
        applied.last()
    );
    Ok(())
}
