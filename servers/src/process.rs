//! Running a server binary as a child: finding it, dropping root, waiting for readiness,
//! stopping it with a signal.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::{Gid, Pid, Uid, User};

use crate::Error;

/// Where a server binary is looked for: PATH, then more folders (described by `looked`, for the
/// message when it is nowhere), and what to install when it is nowhere.
pub struct Search {
    pub extra: Vec<PathBuf>,
    pub looked: &'static str,
    pub hint: &'static str,
}

/// The full path of `binary`: on PATH, else in the first of the search's folders that has it.
pub fn find_binary(binary: &'static str, search: &Search) -> Result<PathBuf, Error> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(search.extra.iter().cloned())
        .map(|dir| dir.join(binary))
        .find(|candidate| candidate.is_file())
        .ok_or(Error::NotFound {
            binary,
            looked: search.looked,
            hint: search.hint,
        })
}

/// Where distributions keep PostgreSQL's server binaries off PATH, newest version first:
/// Debian and Ubuntu (`/usr/lib/postgresql/<version>/bin`), the PGDG packages of Fedora and
/// RHEL (`/usr/pgsql-<version>/bin`).
pub fn postgres_bin_dirs() -> Vec<PathBuf> {
    versioned_bin_dirs(&[
        (Path::new("/usr/lib/postgresql"), ""),
        (Path::new("/usr"), "pgsql-"),
    ])
}

/// The `bin` folders of `<parent>/<prefix><version>`, highest major version first.
fn versioned_bin_dirs(layouts: &[(&Path, &str)]) -> Vec<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = Vec::new();
    for (parent, prefix) in layouts {
        let Ok(entries) = std::fs::read_dir(parent) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(version) = name.to_str().and_then(|n| n.strip_prefix(prefix)) else {
                continue;
            };
            if let Ok(major) = version.split('.').next().unwrap_or_default().parse::<u32>() {
                found.push((major, entry.path().join("bin")));
            }
        }
    }
    found.sort_by_key(|(major, _)| std::cmp::Reverse(*major));
    found.into_iter().map(|(_, dir)| dir).collect()
}

/// The user a server must run as: `None` to stay as we are, or the unprivileged `user` when we
/// are root.
pub fn unprivileged_user(user: &'static str) -> Result<Option<(Uid, Gid)>, Error> {
    if !Uid::effective().is_root() {
        return Ok(None);
    }
    match User::from_name(user) {
        Ok(Some(u)) => Ok(Some((u.uid, u.gid))),
        _ => Err(Error::NoUser { user }),
    }
}

/// Hands `dir` and everything below it to `owner` (no-op when not root).
pub fn give_to(dir: &Path, owner: Option<(Uid, Gid)>) -> Result<(), Error> {
    let Some((uid, gid)) = owner else {
        return Ok(());
    };
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        std::os::unix::fs::chown(&path, Some(uid.as_raw()), Some(gid.as_raw()))
            .map_err(|e| Error::io(format!("handing {} to the server user", path.display()), e))?;
        if path.is_dir() {
            let entries = std::fs::read_dir(&path)
                .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
            stack.extend(entries.filter_map(|e| e.ok().map(|e| e.path())));
        }
    }
    Ok(())
}

/// A command that runs as `owner` (when set) with its output appended to `log`.
pub fn command(binary: &Path, owner: Option<(Uid, Gid)>, log: &Path) -> Result<Command, Error> {
    let out = File::options()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| Error::io(format!("opening {}", log.display()), e))?;
    let err = out
        .try_clone()
        .map_err(|e| Error::io(format!("opening {}", log.display()), e))?;
    let mut cmd = Command::new(binary);
    cmd.stdin(Stdio::null()).stdout(out).stderr(err);
    if let Some((uid, gid)) = owner {
        use std::os::unix::process::CommandExt;
        cmd.uid(uid.as_raw()).gid(gid.as_raw());
    }
    Ok(cmd)
}

/// The last lines of a log, for error messages.
pub fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(12)..].join("\n")
}

/// Polls `ready` every 50 ms until it holds, the child exits, or `timeout` passes.
pub fn wait_until(
    what: &str,
    child: &mut Child,
    log: &Path,
    timeout: Duration,
    mut ready: impl FnMut() -> bool,
) -> Result<(), Error> {
    let start = Instant::now();
    loop {
        if ready() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(Error::Failed {
                what: format!("{what} (exited with {status})"),
                log: log.to_path_buf(),
                tail: tail(log),
            });
        }
        if start.elapsed() > timeout {
            return Err(Error::Timeout {
                what: what.to_owned(),
                seconds: timeout.as_secs(),
                log: log.to_path_buf(),
                tail: tail(log),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sends `signal` and waits up to `grace` for the child to exit, then kills it.
pub fn stop(child: &mut Child, signal: Signal, grace: Duration) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    if let Ok(pid) = i32::try_from(child.id()) {
        let _ = kill(Pid::from_raw(pid), signal);
    }
    let start = Instant::now();
    while start.elapsed() < grace {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_installations_are_tried_newest_first() {
        let root = tempfile::tempdir().unwrap();
        let debian = root.path().join("lib/postgresql");
        for version in ["9.6", "16", "15"] {
            std::fs::create_dir_all(debian.join(version).join("bin")).unwrap();
        }
        std::fs::create_dir_all(root.path().join("pgsql-17/bin")).unwrap();
        std::fs::create_dir_all(root.path().join("share")).unwrap();
        let dirs = versioned_bin_dirs(&[(debian.as_path(), ""), (root.path(), "pgsql-")]);
        let expected: Vec<PathBuf> = vec![
            root.path().join("pgsql-17/bin"),
            debian.join("16/bin"),
            debian.join("15/bin"),
            debian.join("9.6/bin"),
        ];
        assert_eq!(dirs, expected);
    }
}
