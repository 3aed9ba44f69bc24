//! loadgen's flags: the shape of the load, the agents, the mode, and what else to measure.

use crate::settings::ClientArgs;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub client: ClientArgs,
    /// NATS of the running planexec (the agents use it).
    #[arg(long, env = "PLANEXE_NATS_URL")]
    pub nats: Option<String>,
    #[arg(long, env = "PLANEXE_NATS_NAMESPACE", default_value = "planexec")]
    pub nats_namespace: String,
    /// Executions to run.
    #[arg(long, default_value_t = 50)]
    pub executions: usize,
    /// Tasks per execution.
    #[arg(long, default_value_t = 20)]
    pub leaves: usize,
    /// In-process agents.
    #[arg(long, default_value_t = 4)]
    pub agents: usize,
    /// How the agents reach planexec: `nats` (JetStream) or `http` (long polls of the gateway).
    #[arg(long, default_value = "nats", value_parser = ["nats", "http"])]
    pub transport: String,
    /// Tasks each agent works on at once.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Tasks of one execution in flight at once (1: strict order).
    #[arg(long, default_value_t = 1)]
    pub max_parallel: u32,
    /// Open loop: offer this many tasks per second (executions arrive as a Poisson process at
    /// rate / leaves). Without it, every execution is created at once (closed loop).
    #[arg(long)]
    pub rate: Option<f64>,
    /// `task_progress` events each task reports (rising percentages) before it completes.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=1000))]
    pub progress: u32,
    /// Executions created at once in closed loop (requests in flight to the API).
    #[arg(long, default_value_t = 16)]
    pub create_concurrency: usize,
    /// Give up waiting after this many seconds; what did not complete counts as lost.
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,
    /// Also measure PostgreSQL and JetStream on their own.
    #[arg(long)]
    pub baseline: bool,
    /// Run the idealised pipeline instead (JetStream dispatch, three durable events, batched
    /// commits, no product logic) on --database-url and --nats, with the same shape: the limit.
    #[arg(long, conflicts_with_all = ["rate", "baseline"])]
    pub ideal: bool,
    /// Transactions the idealised pipeline applies at once (`PLANEXE_INGEST_WORKERS`' twin).
    #[arg(long, default_value_t = 4, requires = "ideal")]
    pub lanes: usize,
    /// The database, for the baseline.
    #[arg(long, env = "PLANEXE_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}
