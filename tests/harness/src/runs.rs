//! Where tests find real PlanExe runs and the repository's fixtures.

use std::path::{Path, PathBuf};

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// `fixtures/` of the repository.
pub fn fixtures_dir() -> PathBuf {
    repo_root().join("fixtures")
}

/// The real PlanExe runs (zips), sorted: from `PLANEXE_RUNS_DIR`, else from the first
/// `shared/planexe-runs` found beside the repository or above it. Panics when there are none,
/// saying how to provide them.
pub fn planexe_runs() -> Vec<PathBuf> {
    let dir = std::env::var_os("PLANEXE_RUNS_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            repo_root()
                .ancestors()
                .map(|a| a.join("shared").join("planexe-runs"))
                .find(|candidate| candidate.is_dir())
        });
    let Some(dir) = dir else {
        panic!(
            "no real PlanExe runs found: set PLANEXE_RUNS_DIR to a folder of PlanExe run zips \
             (the shared set lives in ../shared/planexe-runs beside the repository)"
        );
    };
    let mut zips: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "zip"))
        .collect();
    zips.sort();
    assert!(
        !zips.is_empty(),
        "{} holds no PlanExe run zips",
        dir.display()
    );
    zips
}
