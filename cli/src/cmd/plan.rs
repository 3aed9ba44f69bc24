//! `planexec plan import`: read a PlanExe run (folder, zip or a PlanExe worker's download URL)
//! or a plan document, and import it — or, with `--dry-run`, only check it, without a server.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use planexec_decompose::ImportOptions;
use planexec_schemas::plan::ImportSummary;

use planexec_schemas::Id;
use planexec_schemas::api::PlanList;
use planexec_schemas::plan::{Plan, PlanTask};

use super::output::{Output, Table};
use crate::client::ApiClient;
use crate::settings::ClientArgs;

fn api(args: &ClientArgs) -> anyhow::Result<ApiClient> {
    ApiClient::new(&args.gateway, args.token()?)
}

async fn list(api: &ApiClient, output: Output) -> anyhow::Result<()> {
    let list: PlanList = api.get("/api/plans?limit=200").await?;
    if output == Output::Json {
        return output.print_json(&list.plans);
    }
    let mut table = Table::new(&["ID", "STATUS", "CONFIDENCE", "TASKS", "IMPORTED", "TITLE"]);
    for p in &list.plans {
        table.row([
            p.id.to_string(),
            p.status.as_str().to_owned(),
            format!("{:.0}%", p.confidence * 100.0),
            p.counts.tasks.to_string(),
            p.created_at.format("%Y-%m-%d %H:%M").to_string(),
            p.title.clone(),
        ]);
    }
    table.print();
    Ok(())
}

async fn show(api: &ApiClient, id: Id, output: Output) -> anyhow::Result<()> {
    let plan: Plan = api.get(&format!("/api/plans/{id}")).await?;
    if output == Output::Json {
        return output.print_json(&plan);
    }
    say!(
        "plan {}  {}  confidence {:.0}%  {}",
        plan.id,
        plan.status.as_str(),
        plan.confidence * 100.0,
        plan.title
    );
    for reason in &plan.review_reasons {
        say!("  needs review: {reason}");
    }
    let mut table = Table::new(&["WBS", "CAPABILITY", "CONFIDENCE", "EVIDENCE", "TITLE"]);
    let mut add = |t: &PlanTask| {
        let cap = t.capability.as_ref();
        table.row([
            t.wbs.clone(),
            cap.map(|c| c.capability.clone()).unwrap_or_default(),
            t.confidence
                .map(|c| format!("{:.0}%", c * 100.0))
                .unwrap_or_default(),
            cap.map(|c| c.evidence.chars().take(40).collect())
                .unwrap_or_default(),
            t.title.clone(),
        ]);
    };
    for phase in &plan.phases {
        add(phase);
        for task in &phase.tasks {
            add(task);
        }
    }
    table.print();
    Ok(())
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Import a PlanExe run (folder, zip, or `GET /runs/{run_id}/zip` URL of PlanExe's worker)
    /// or a plan document (`.json`).
    Import(ImportArgs),
    /// List plans, newest first.
    List {
        #[arg(long, value_enum, default_value = "table")]
        output: Output,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Show a plan's decomposition: phases, tasks, capabilities, confidence.
    Show {
        id: Id,
        #[arg(long, value_enum, default_value = "table")]
        output: Output,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Approve a plan that needs review; its waiting executions start.
    Approve {
        id: Id,
        #[command(flatten)]
        client: ClientArgs,
    },
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// A run folder, a run zip, a plan document (.json), or an http(s) URL of a run zip.
    pub source: String,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// Parse and check only: no server, no database.
    #[arg(long)]
    pub dry_run: bool,
    /// Refuse a run whose dependencies name unknown tasks (by default they are dropped and the
    /// plan needs review).
    #[arg(long)]
    pub strict: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// What was read, ready to decompose locally or to upload.
enum Input {
    Zip { name: String, bytes: Vec<u8> },
    Document(Vec<u8>),
}

pub async fn run(command: Command) -> anyhow::Result<()> {
    let args = match command {
        Command::Import(args) => args,
        Command::List { output, client } => return list(&api(&client)?, output).await,
        Command::Show { id, output, client } => return show(&api(&client)?, id, output).await,
        Command::Approve { id, client } => {
            let plan: Plan = api(&client)?
                .post(&format!("/api/plans/{id}/approve"), &serde_json::json!({}))
                .await?;
            say!("plan {} {}", plan.id, plan.status.as_str());
            return Ok(());
        }
    };
    let input = read(&args.source).await?;
    let summary = if args.dry_run {
        let options = ImportOptions {
            strict: args.strict,
        };
        tokio::task::spawn_blocking(move || decompose(input, options)).await??
    } else {
        let client = ApiClient::new(&args.client.gateway, args.client.token()?)?;
        let strict = if args.strict { "&strict=true" } else { "" };
        match input {
            Input::Zip { name, bytes } => {
                let path = format!("/api/plans?name={}{strict}", url_encode(&name));
                client.post_bytes(&path, "application/zip", bytes).await?
            }
            Input::Document(bytes) => {
                client
                    .post_bytes("/api/plans", "application/json", bytes)
                    .await?
            }
        }
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &summary)?;
        writeln!(out)?;
    } else {
        print_summary(&mut out, &summary, &args.source, args.dry_run)?;
    }
    Ok(())
}

async fn read(source: &str) -> anyhow::Result<Input> {
    if source.starts_with("http://") || source.starts_with("https://") {
        let response = planexec_tls::client_builder()
            .build()
            .context("building the HTTP client")?
            .get(source)
            .send()
            .await
            .with_context(|| format!("downloading {source}"))?;
        anyhow::ensure!(
            response.status().is_success(),
            "downloading {source}: {}",
            response.status()
        );
        let bytes = response.bytes().await?.to_vec();
        let name = source
            .trim_end_matches('/')
            .rsplit('/')
            .nth(1)
            .map_or("run.zip".to_owned(), |id| format!("{id}.zip"));
        return Ok(Input::Zip { name, bytes });
    }
    let path = PathBuf::from(source);
    let meta = std::fs::metadata(&path).with_context(|| format!("{source} cannot be read"))?;
    let name = path
        .file_name()
        .map_or_else(|| source.to_owned(), |n| n.to_string_lossy().into_owned());
    if meta.is_dir() {
        return Ok(Input::Zip {
            name: format!("{name}.zip"),
            bytes: zip_folder(&path)?,
        });
    }
    let bytes = std::fs::read(&path).with_context(|| format!("reading {source}"))?;
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        Ok(Input::Document(bytes))
    } else {
        Ok(Input::Zip { name, bytes })
    }
}

fn decompose(input: Input, options: ImportOptions) -> anyhow::Result<ImportSummary> {
    let decomposition = match input {
        Input::Zip { name, bytes } => {
            planexec_decompose::decompose_zip_with(&name, &bytes, &options)?
        }
        Input::Document(bytes) => {
            let document =
                serde_json::from_slice(&bytes).context("the plan document is not valid")?;
            planexec_decompose::decompose_document(document)?
        }
    };
    Ok(decomposition.summary())
}

/// A folder as a zip, so that a run folder uploads like a run zip.
fn zip_folder(root: &Path) -> anyhow::Result<Vec<u8>> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for entry in entries {
            if entry.is_dir() {
                stack.push(entry);
            } else {
                let relative = entry
                    .strip_prefix(root)?
                    .to_string_lossy()
                    .replace('\\', "/");
                writer.start_file(relative, options)?;
                writer.write_all(&std::fs::read(&entry)?)?;
            }
        }
    }
    Ok(writer.finish()?.into_inner())
}

fn url_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn print_summary(
    out: &mut impl Write,
    s: &ImportSummary,
    source: &str,
    dry_run: bool,
) -> std::io::Result<()> {
    match s.id {
        Some(id) => writeln!(out, "Imported \"{}\" as plan {id} from {source}", s.title)?,
        None if dry_run => writeln!(
            out,
            "Checked \"{}\" from {source} (dry run: nothing stored)",
            s.title
        )?,
        None => writeln!(out, "Read \"{}\" from {source}", s.title)?,
    }
    writeln!(
        out,
        "  phases {}, tasks {}, subtasks {}, executable leaves {}, dependencies {}, durations {}",
        s.phases, s.tasks, s.subtasks, s.leaves, s.dependencies, s.durations
    )?;
    let verdict = if s.needs_review {
        "needs review before it runs"
    } else {
        "ready to run"
    };
    writeln!(out, "  confidence {:.2}: {verdict}", s.confidence)?;
    for reason in &s.review_reasons {
        writeln!(out, "    - {reason}")?;
    }
    let capabilities: Vec<String> = s
        .capabilities
        .iter()
        .map(|(c, n)| format!("{c} {n}"))
        .collect();
    writeln!(out, "  capabilities: {}", capabilities.join(", "))?;
    if !s.review.is_empty() {
        writeln!(out, "  review first:")?;
        for item in s.review.iter().take(10) {
            writeln!(
                out,
                "    {} {} → {} ({:.2}; {})",
                item.wbs, item.title, item.capability, item.confidence, item.evidence
            )?;
        }
    }
    for warning in &s.warnings {
        writeln!(out, "  warning: {warning}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// A download builds its HTTP client (the TLS provider must be installed first, or reqwest
    /// panics) and reports an unreachable server as an error.
    #[tokio::test]
    async fn a_download_from_a_closed_port_is_an_error_not_a_panic() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("an address").port();
        drop(listener);
        let source = format!("http://127.0.0.1:{port}/runs/r1/");
        let error = super::read(&source)
            .await
            .err()
            .expect("nothing listens there");
        assert!(error.to_string().starts_with("downloading"), "{error:#}");
    }
}
