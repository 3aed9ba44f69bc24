//! Runs a command with real servers: `with-servers <command...>`.
//!
//! When `DATABASE_URL` and `NATS_URL` are set they are used as they are; otherwise one private
//! PostgreSQL and one nats-server are started from PATH for the whole run (much faster than one
//! per test process) and stopped afterwards. The command's exit code is returned. The private
//! PostgreSQL runs without fsync unless `WITH_SERVERS_DURABLE=1`.

use std::process::{Command, ExitCode};

use planexec_servers::{NatsOptions, PostgresOptions, PrivateNats, PrivatePostgres};

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let Some(program) = args.next() else {
        eprintln!("usage: with-servers <command> [args...]");
        return ExitCode::from(2);
    };
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.is_empty());
    let mut command = Command::new(program);
    command.args(args);
    // Held until the command ends; dropping them stops the servers.
    let mut _servers: Option<(PrivatePostgres, PrivateNats, tempfile::TempDir)> = None;
    if !(set("DATABASE_URL") && set("NATS_URL")) {
        match start() {
            Ok((postgres, nats, dir)) => {
                eprintln!(
                    "with-servers: private PostgreSQL on {} and NATS on {}",
                    postgres.port(),
                    nats.port()
                );
                command
                    .env("DATABASE_URL", postgres.url("postgres"))
                    .env("NATS_URL", nats.url());
                _servers = Some((postgres, nats, dir));
            }
            Err(e) => {
                eprintln!(
                    "with-servers: no DATABASE_URL/NATS_URL and private servers could not start: {e}\n\
                     Install PostgreSQL and nats-server (apt install postgresql nats-server) or set both URLs."
                );
                return ExitCode::FAILURE;
            }
        }
    }
    match command.status() {
        Ok(status) => ExitCode::from(u8::try_from(status.code().unwrap_or(1)).unwrap_or(1)),
        Err(e) => {
            eprintln!("with-servers: cannot run the command: {e}");
            ExitCode::FAILURE
        }
    }
}

fn start() -> Result<(PrivatePostgres, PrivateNats, tempfile::TempDir), String> {
    let dir = tempfile::Builder::new()
        .prefix("planexec-servers-")
        .tempdir()
        .map_err(|e| e.to_string())?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .map_err(|e| e.to_string())?;
    let postgres = PrivatePostgres::start(&PostgresOptions {
        data_dir: dir.path().join("pgdata"),
        port: None,
        // Tests want speed; benchmarks (WITH_SERVERS_DURABLE=1) want what production runs.
        durable: std::env::var("WITH_SERVERS_DURABLE").is_ok_and(|v| v == "1"),
    })
    .map_err(|e| e.to_string())?;
    let nats = PrivateNats::start(&NatsOptions {
        store_dir: dir.path().join("nats"),
        port: None,
        config: None,
    })
    .map_err(|e| e.to_string())?;
    Ok((postgres, nats, dir))
}
