//! Runs `planexec up` and `planexec agent run` as child processes on real servers, and talks to
//! the API as a user would.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use planexec_harness::TestEnv;
use serde_json::{Value, json};

pub const OPERATOR: &str = "e2e-operator-token-0123456789abcdef";

/// The `planexec` binary beside this test (scripts/test builds it first).
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let path = dir.join("planexec");
    assert!(
        path.is_file(),
        "{} does not exist: build it first (`cargo build -p planexec`, as scripts/test does)",
        path.display()
    );
    path
}

/// A child process stopped with SIGTERM (then SIGKILL) when dropped.
pub struct Process {
    child: Child,
    pub log: PathBuf,
}

impl Process {
    pub fn spawn(mut command: Command, log: PathBuf) -> Self {
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = command
            .stdout(out)
            .stderr(err)
            .stdin(Stdio::null())
            .spawn()
            .expect("process starts");
        Self { child, log }
    }

    /// Stops the process gracefully; returns whether it exited cleanly. An HTTP agent finishes
    /// the long poll it is in (its answer may hold a task already taken off the queue), so this
    /// waits up to 40 s.
    pub fn stop(&mut self) -> bool {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
        for _ in 0..800 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        false
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.exited().is_none() {
            self.stop();
        }
    }
}

/// `planexec up` on real servers, with its own database and NATS namespace.
pub struct Stack {
    pub env: TestEnv,
    pub url: String,
    pub dir: tempfile::TempDir,
    pub up: Process,
    port: u16,
    extra: Vec<(String, String)>,
    http: reqwest::Client,
}

impl Stack {
    pub async fn up() -> Self {
        Self::up_with(&[]).await
    }

    /// `planexec up` with extra environment variables.
    pub async fn up_with(extra: &[(&str, &str)]) -> Self {
        let env = TestEnv::start().await;
        let dir = tempfile::tempdir().expect("temp dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("port")
            .local_addr()
            .expect("addr")
            .port();
        let url = format!("http://127.0.0.1:{port}");
        let extra: Vec<(String, String)> = extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let up = Process::spawn(
            up_command(&env, dir.path(), port, &extra),
            dir.path().join("up.log"),
        );
        let mut stack = Self {
            env,
            url,
            dir,
            up,
            port,
            extra,
            http: planexec_tls::client(),
        };
        stack.wait_healthy().await;
        stack
    }

    /// Stops `planexec up` and starts it again on the same address and data.
    pub async fn restart(&mut self) {
        assert!(
            self.up.stop(),
            "planexec up stops cleanly:\n{}",
            self.up.output()
        );
        let log = self.dir.path().join("up-restarted.log");
        self.up = Process::spawn(
            up_command(&self.env, self.dir.path(), self.port, &self.extra),
            log,
        );
        self.wait_healthy().await;
    }

    async fn wait_healthy(&mut self) {
        for _ in 0..240 {
            if let Ok(response) = self.http.get(format!("{}/healthz", self.url)).send().await
                && response.status().is_success()
            {
                return;
            }
            if let Some(status) = self.up.exited() {
                panic!("planexec up exited ({status}):\n{}", self.up.output());
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("planexec up never answered /healthz:\n{}", self.up.output());
    }

    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.url))
            .bearer_auth(OPERATOR);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the API answers");
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{method} {path}: {status} {body}");
        body
    }

    pub async fn get(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    /// `planexec <args>` against this stack; its stdout.
    pub fn cli(&self, args: &[&str]) -> String {
        self.cli_with(args, &[("PLANEXE_OPERATOR_TOKEN", OPERATOR)])
    }

    /// `planexec <args>` with these variables besides the stack's, from a folder of its own
    /// (not where `up` keeps its data) and with the stack's user config folder; its stdout.
    pub fn cli_with(&self, args: &[&str], vars: &[(&str, &str)]) -> String {
        let cwd = self.dir.path().join("elsewhere");
        std::fs::create_dir_all(&cwd).expect("a working folder");
        let output = Command::new(binary())
            .args(args)
            .current_dir(&cwd)
            .envs(stack_env(&self.env))
            .env_remove("PLANEXE_OPERATOR_TOKEN")
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env("PLANEXE_GATEWAY_URL", &self.url)
            .envs(vars.iter().copied())
            .output()
            .expect("planexec runs");
        assert!(
            output.status.success(),
            "planexec {args:?} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// `planexec <args>` (as [`Self::cli`]) writing into a pipe whose reader is gone, as under
    /// `| head -1` once head has its line.
    pub fn cli_into_closed_pipe(&self, args: &[&str]) -> std::process::Output {
        let (reader, writer) = std::io::pipe().expect("a pipe");
        drop(reader);
        Command::new(binary())
            .args(args)
            .current_dir(self.dir.path())
            .envs(stack_env(&self.env))
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env("PLANEXE_GATEWAY_URL", &self.url)
            .env("PLANEXE_OPERATOR_TOKEN", OPERATOR)
            .stdout(writer)
            .output()
            .expect("planexec runs")
    }

    pub async fn register_larry(&self, name: &str) -> (String, String) {
        let capabilities = json!([
            "send_email",
            "make_phone_call",
            "search_google_maps",
            "schedule_calendar_event",
            "conduct_interview",
            "document_findings",
            "draft_document",
            "manage_csv",
            "human_review"
        ]);
        let agent = self
            .post(
                "/api/agents",
                json!({"name": name, "role": "assistant", "capabilities": capabilities}),
            )
            .await;
        (
            agent["id"].as_str().expect("id").to_owned(),
            agent["token"].as_str().expect("token").to_owned(),
        )
    }

    /// `planexec agent run --sim larry` as the given agent.
    pub fn larry(
        &self,
        agent: &str,
        token: &str,
        transport: &str,
        log: &Path,
        extra: &[&str],
    ) -> Process {
        let mut command = Command::new(binary());
        command
            .args([
                "agent",
                "run",
                "--sim",
                "larry",
                "--transport",
                transport,
                "--agent-id",
                agent,
                "--token",
                token,
            ])
            .args([
                "--gateway",
                &self.url,
                "--nats",
                &self.env.nats_url,
                "--nats-namespace",
                self.env.namespace.prefix(),
            ])
            .arg("--event-log")
            .arg(log)
            .args(extra)
            .env("PLANEXE_LOG", "warn");
        let name = format!("larry-{transport}-{agent}.log");
        Process::spawn(command, self.dir.path().join(name))
    }

    /// Polls the execution until it is COMPLETED; fails on FAILED/CANCELLED or after `limit`.
    pub async fn until_completed(
        &self,
        execution: &str,
        limit: Duration,
        agents: &mut [&mut Process],
    ) -> Value {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let current = self.get(&format!("/api/executions/{execution}")).await;
            match current["status"].as_str() {
                Some("COMPLETED") => return current,
                Some("FAILED") | Some("CANCELLED") => panic!("execution ended {current}"),
                _ => {}
            }
            for agent in agents.iter_mut() {
                if let Some(status) = agent.exited() {
                    panic!("the simulator exited ({status}):\n{}", agent.output());
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "not COMPLETED within {limit:?}: {current}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The whole history, oldest first.
    pub async fn history(&self, execution: &str) -> Vec<Value> {
        let mut events = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/api/executions/{execution}/events?limit=1000&disposition=all");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let page = self.get(&path).await;
            events.extend(page["events"].as_array().cloned().unwrap_or_default());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        events.reverse();
        events
    }
}

fn up_command(env: &TestEnv, dir: &Path, port: u16, extra: &[(String, String)]) -> Command {
    let mut command = Command::new(binary());
    command
        .args(["up", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(dir.join("data"))
        .envs(stack_env(env))
        .env("PLANEXE_OPERATOR_TOKEN", OPERATOR)
        // `up` leaves the CLI a copy of the token in the user's config folder: the test's own.
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("PLANEXE_LOG", "warn,planexec=info")
        .envs(extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    command
}

fn stack_env(env: &TestEnv) -> Vec<(&'static str, String)> {
    vec![
        ("PLANEXE_DATABASE_URL", env.database_url.clone()),
        ("PLANEXE_NATS_URL", env.nats_url.clone()),
        ("PLANEXE_NATS_NAMESPACE", env.namespace.prefix().to_owned()),
    ]
}

/// Lines of a JSON-lines file.
pub fn json_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad log line {l}: {e}")))
        .collect()
}

/// `1.10.2` sorts after `1.9.5`.
pub fn wbs_key(wbs: &str) -> Vec<u32> {
    wbs.split('.')
        .map(|p| p.parse().unwrap_or(u32::MAX))
        .collect()
}
