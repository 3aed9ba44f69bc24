//! `planexec migrate up|down`: apply or revert the database migrations.

use crate::settings::ConnectionArgs;
use crate::stack;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub direction: Direction,
    #[command(flatten)]
    pub connections: ConnectionArgs,
}

#[derive(Debug, clap::Subcommand)]
pub enum Direction {
    /// Apply every pending migration.
    Up,
    /// Revert the newest migration (or down to `--to`, or all with `--all`).
    Down {
        /// Revert down to this version (exclusive).
        #[arg(long, conflicts_with = "all")]
        to: Option<i64>,
        /// Revert every migration.
        #[arg(long)]
        all: bool,
    },
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let connections = args.connections.resolve()?;
    let (database_url, _) = stack::configured(&connections);
    let pool = stack::pool(&database_url, 2).await?;
    match args.direction {
        Direction::Up => {
            stack::migrate(&pool).await?;
            let applied = planexec_store::applied_migrations(&pool).await?;
            println!(
                "migrations applied: {} (newest {:?})",
                applied.len(),
                applied.last()
            );
        }
        Direction::Down { to, all } => {
            let applied = planexec_store::applied_migrations(&pool).await?;
            let target = if all {
                0
            } else if let Some(to) = to {
                to
            } else {
                applied.iter().rev().nth(1).copied().unwrap_or(0)
            };
            planexec_store::migrate_down(&pool, target).await?;
            let left = planexec_store::applied_migrations(&pool).await?;
            println!(
                "migrations applied: {} (newest {:?})",
                left.len(),
                left.last()
            );
        }
    }
    Ok(())
}
