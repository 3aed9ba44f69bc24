//! `planexec up --demo`: a newcomer sees a plan run end to end.
//!
//! The prospecting plan (a PlanExe run, compiled into the binary so that the demo works from any
//! folder) is imported, Larry is registered and started over HTTP against this very gateway at a
//! time scale that runs the plan in well under a minute (with the odd failure to show retries),
//! an execution is created, and it is watched live until it ends.

use std::io::Write;

use planexec_schemas::api::{CreateExecutionRequest, RegisterAgentRequest, RegisteredAgent};
use planexec_schemas::execution::Execution;
use planexec_schemas::plan::ImportSummary;
use planexec_sim::{SimIdentity, SimOptions, SimTransport};
use secrecy::{ExposeSecret, SecretString};
use tokio_util::sync::CancellationToken;

use crate::client::ApiClient;

/// The prospecting plan's files, as PlanExe wrote them.
const PROSPECTING: &[(&str, &[u8])] = &[
    (
        "001-2-plan.txt",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/planexe/dog_breeder_prospecting/001-2-plan.txt"
        )),
    ),
    (
        "005-2-project_plan.md",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/planexe/dog_breeder_prospecting/005-2-project_plan.md"
        )),
    ),
    (
        "018-2-wbs_level1.json",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/planexe/dog_breeder_prospecting/018-2-wbs_level1.json"
        )),
    ),
    (
        "018-5-wbs_level2.json",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/planexe/dog_breeder_prospecting/018-5-wbs_level2.json"
        )),
    ),
    (
        "021-task_dependencies_raw.json",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/planexe/dog_breeder_prospecting/021-task_dependencies_raw.json"
        )),
    ),
    (
        "022-2-task_durations.json",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/planexe/dog_breeder_prospecting/022-2-task_durations.json"
        )),
    ),
    (
        "023-2-wbs_level3.json",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/planexe/dog_breeder_prospecting/023-2-wbs_level3.json"
        )),
    ),
    (
        "999-pipeline_complete.txt",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/planexe/dog_breeder_prospecting/999-pipeline_complete.txt"
        )),
    ),
];

/// Runs the demo; failures are reported and leave the stack running.
pub async fn run(url: String, token: SecretString, shutdown: CancellationToken) {
    if let Err(e) = demo(&url, token, shutdown).await {
        tracing::error!(error = %format!("{e:#}"), "the demo failed");
    }
}

async fn demo(url: &str, token: SecretString, shutdown: CancellationToken) -> anyhow::Result<()> {
    let api = ApiClient::new(url, token.clone())?;
    let summary: ImportSummary = api
        .post_bytes(
            "/api/plans?name=dog_breeder_prospecting.zip",
            "application/zip",
            zip()?,
        )
        .await?;
    let plan = summary
        .id
        .ok_or_else(|| anyhow::anyhow!("the import returned no plan id"))?;
    say!(
        "demo: imported \"{}\" ({} phases, {} tasks, {} subtasks, confidence {:.2})",
        summary.title,
        summary.phases,
        summary.tasks,
        summary.subtasks,
        summary.confidence
    );
    let mut capabilities: Vec<String> = planexec_schemas::agent::capability::LARRY
        .iter()
        .map(|c| (*c).to_owned())
        .collect();
    capabilities.push(planexec_schemas::agent::capability::HUMAN_REVIEW.to_owned());
    let request = RegisterAgentRequest {
        name: "larry-demo".into(),
        role: "assistant".into(),
        capabilities,
    };
    let larry: RegisteredAgent = api.post("/api/agents", &request).await?;
    say!("demo: registered Larry as agent {}", larry.agent.id);
    let options = SimOptions {
        transport: SimTransport::Http,
        gateway_url: Some(url.to_owned()),
        identity: SimIdentity::Existing {
            agent_id: larry.agent.id,
            token: larry.token.clone(),
        },
        operator_token: Some(token.expose_secret().to_owned()),
        time_scale: 0.002,
        failure_rate: 0.05,
        seed: Some(42),
        ..SimOptions::default()
    };
    let sim = tokio::spawn(planexec_sim::run(options, shutdown.clone()));
    let request = CreateExecutionRequest {
        plan_id: plan,
        agent_id: larry.agent.id,
        max_parallel: None,
        routing: None,
    };
    let execution: Execution = api.post("/api/executions", &request).await?;
    say!(
        "demo: execution {} created; following it (Ctrl-C stops planexec)",
        execution.id
    );
    let done = super::exec::watch(&api, execution.id).await?;
    say!(
        "demo: execution {} ended {} — see {url}/api/executions/{}/events",
        done.id,
        done.status,
        done.id
    );
    if sim.is_finished()
        && let Ok(Err(e)) = sim.await
    {
        anyhow::bail!("Larry stopped: {e}");
    }
    Ok(())
}

fn zip() -> anyhow::Result<Vec<u8>> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in PROSPECTING {
        writer.start_file(
            format!("dog_breeder_prospecting/{name}"),
            zip::write::SimpleFileOptions::default(),
        )?;
        writer.write_all(bytes)?;
    }
    Ok(writer.finish()?.into_inner())
}
