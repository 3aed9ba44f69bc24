//! The dashboard in a real browser: Debian's headless Chromium, driven through chromedriver
//! (WebDriver), watches the prospecting plan run with the Larry simulator. The execution page
//! updates live without a reload (progress bar, task tree, event log), Pause greys it and
//! Resume continues it, and after `planexec up` restarts the open page reconnects by itself and
//! shows the end. Screenshots land in `target/dashboard-screenshots/` (or
//! `$PLANEXE_SCREENSHOTS`).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use super::support::{OPERATOR, Process, Stack};

const PATIENCE: Duration = Duration::from_secs(60);

/// chromedriver and a browser session on it, both ended on drop.
struct Browser {
    client: Client,
    _driver: Process,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn start(stack: &Stack) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("port")
            .local_addr()
            .expect("addr")
            .port();
        let mut command = Command::new("chromedriver");
        command.arg(format!("--port={port}"));
        let driver = Process::spawn(command, stack.dir.path().join("chromedriver.log"));
        let profile = tempfile::tempdir().expect("profile dir");
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--no-first-run", "--disable-background-networking", "--window-size=1280,900",
                         format!("--user-data-dir={}", profile.path().display())],
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        let client = loop {
            match ClientBuilder::new(connector.clone())
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(client) => break client,
                Err(e) => {
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "no browser session (is chromium-driver installed?): {e}"
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        Self {
            client,
            _driver: driver,
            _profile: profile,
        }
    }

    async fn js(&self, script: &str) -> Value {
        self.client
            .execute(script, Vec::new())
            .await
            .expect("the script runs")
    }

    async fn text(&self) -> String {
        self.js("return document.body.innerText")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits until `check` holds for the value `script` returns; returns that value.
    async fn until(&self, what: &str, script: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let value = self.js(script).await;
            if check(&value) {
                return value;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the page never showed {what}: last {value}; page: {}",
                self.text().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn click(&self, label: &str) {
        let xpath = format!("//button[normalize-space(.)='{label}']");
        self.client
            .find(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|e| panic!("no {label} button: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("{label} cannot be clicked: {e}"));
    }

    async fn shot(&self, name: &str) {
        let dir = std::env::var_os("PLANEXE_SCREENSHOTS").map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/dashboard-screenshots"),
            PathBuf::from,
        );
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(dir.join(name), png).expect("screenshot written");
    }
}

const BAR: &str = "const e = document.querySelector('#progress'); return e ? Number(e.getAttribute('aria-valuenow')) : null";
const DONE_IN_TREE: &str = "return document.querySelectorAll('#tree .icon.s-COMPLETED').length";
const EVENTS: &str = "return document.querySelectorAll('#events li').length";
const STATUS: &str =
    "const b = document.querySelector('#status .badge'); return b ? b.lastChild.textContent : ''";
const CONN: &str = "return document.getElementById('conn').dataset.state";

async fn api_status(stack: &Stack, execution: &str) -> String {
    stack.get(&format!("/api/executions/{execution}")).await["status"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn until_api(stack: &Stack, execution: &str, status: &str) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while api_status(stack, execution).await != status {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the API never said {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_execution_page_follows_a_run_live_and_survives_a_restart() {
    let mut stack = Stack::up().await;
    let fixture = planexec_harness::fixtures_dir().join("planexe/dog_breeder_prospecting");
    let summary: Value = serde_json::from_str(&stack.cli(&[
        "plan",
        "import",
        fixture.to_str().expect("utf-8"),
        "--json",
    ]))
    .expect("summary");
    let plan = summary["id"].as_str().expect("plan id").to_owned();
    let (agent, token) = stack.register_larry("larry-dashboard").await;
    let execution = stack
        .post(
            "/api/executions",
            json!({"plan_id": plan, "agent_id": agent}),
        )
        .await["id"]
        .as_str()
        .expect("id")
        .to_owned();

    let browser = Browser::start(&stack).await;
    browser
        .client
        .goto(&format!(
            "{}/executions/{execution}?token={OPERATOR}",
            stack.url
        ))
        .await
        .expect("page opens");
    browser
        .until("the execution's status", STATUS, |v| {
            ["QUEUED", "RUNNING", "CREATED"]
                .iter()
                .any(|s| v.as_str().is_some_and(|t| t.contains(s)))
        })
        .await;
    let url = browser.client.current_url().await.expect("url");
    assert!(
        !url.as_str().contains("token"),
        "the token stays out of the address: {url}"
    );
    browser
        .js("window.__marker = 'same-page'; return null")
        .await;
    let events_before = browser.js(EVENTS).await.as_u64().unwrap_or(0);

    let log = stack.dir.path().join("events.jsonl");
    let mut larry = stack.larry(
        &agent,
        &token,
        "nats",
        &log,
        &[
            "--time-scale",
            "0.002",
            "--failure-rate",
            "0",
            "--seed",
            "7",
        ],
    );

    // Live: the bar moves through several values, the tree fills, the log grows.
    let mut seen = std::collections::BTreeSet::new();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while seen.len() < 3 {
        let v = browser
            .js(BAR)
            .await
            .as_f64()
            .expect("a progress bar with aria-valuenow");
        seen.insert((v * 10.0) as i64);
        assert!(
            tokio::time::Instant::now() < deadline,
            "the bar showed only {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    browser
        .until("completed tasks in the tree", DONE_IN_TREE, |v| {
            v.as_u64() >= Some(2)
        })
        .await;
    browser
        .until("new events in the log", EVENTS, |v| {
            v.as_u64() > Some(events_before)
        })
        .await;
    assert_eq!(
        browser.js("return window.__marker").await,
        "same-page",
        "no reload"
    );
    browser.shot("1-live.png").await;

    // Pause greys it; Resume continues it.
    browser.click("Pause").await;
    until_api(&stack, &execution, "PAUSED").await;
    browser.until("PAUSED", STATUS, |v| v == "PAUSED").await;
    browser
        .until(
            "a grey bar",
            "return document.querySelector('#progress').dataset.status",
            |v| v == "PAUSED",
        )
        .await;
    assert!(
        browser.text().await.contains("Resume to continue"),
        "the panel says what to do"
    );
    browser.shot("2-paused.png").await;
    browser.click("Resume").await;
    until_api(&stack, &execution, "RUNNING").await;
    browser
        .until("RUNNING again", STATUS, |v| v == "RUNNING")
        .await;

    // A restart of the server: the page notices, reconnects, and carries on to the end.
    stack.restart().await;
    stack
        .until_completed(&execution, Duration::from_secs(180), &mut [&mut larry])
        .await;
    browser
        .until("COMPLETED after the restart", STATUS, |v| v == "COMPLETED")
        .await;
    browser
        .until("a live connection", CONN, |v| v == "live")
        .await;
    browser
        .until("a full bar", BAR, |v| v.as_f64() == Some(100.0))
        .await;
    assert_eq!(
        browser.js("return window.__marker").await,
        "same-page",
        "reconnected, not reloaded"
    );
    browser.shot("3-completed.png").await;

    // The list at / shows it, and the token is still there for the tab.
    browser
        .client
        .goto(&format!("{}/", stack.url))
        .await
        .expect("list opens");
    browser
        .until(
            "the execution in the list",
            "return document.body.innerText",
            |v| v.as_str().is_some_and(|t| t.contains(&execution)),
        )
        .await;
    browser.shot("4-list.png").await;

    // The metrics overview: the finished run counts in the success rate and the status chart.
    browser
        .client
        .goto(&format!("{}/metrics-overview", stack.url))
        .await
        .expect("metrics open");
    browser
        .until(
            "a success rate of 100% with one completed execution",
            "return document.querySelector('.kpi .value')?.textContent + '|' + \
             document.querySelector('.hbars')?.innerText",
            |v| {
                v.as_str()
                    .is_some_and(|t| t.starts_with("100.0%|") && t.contains("COMPLETED"))
            },
        )
        .await;
    browser.shot("5-metrics.png").await;
    browser
        .client
        .clone()
        .close()
        .await
        .expect("session closed");
    assert!(larry.stop(), "{}", larry.output());
}
