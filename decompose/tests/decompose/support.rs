//! Helpers shared by the tests: the real PlanExe runs, an independent reading of
//! their counts (the same rules as the acceptance check's `planexe_counts.py`, written again
//! here so the crate is never checked against itself), and a way to rewrite a run's files.

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Every shared run zip, sorted; at least the four we were given. Fails (never skips) when
/// there are none (see [`planexec_harness::planexe_runs`]).
pub fn shared_runs() -> Vec<PathBuf> {
    let zips = planexec_harness::planexe_runs();
    assert!(
        zips.len() >= 4,
        "expected at least 4 PlanExe run zips, found {}: {zips:?}",
        zips.len()
    );
    zips
}

pub fn fixture(name: &str) -> PathBuf {
    planexec_harness::fixtures_dir().join("planexe").join(name)
}

/// A run's files by path, to read independently and to rewrite.
#[derive(Debug, Clone)]
pub struct RunFiles(pub BTreeMap<String, Vec<u8>>);

/// What the raw files of a run declare.
#[derive(Debug, Default)]
pub struct Counts {
    pub project_id: Option<String>,
    pub phases: u32,
    pub tasks: u32,
    pub subtasks: Option<u32>,
    pub dependency_pairs: Option<u32>,
    pub durations: Option<u32>,
    /// `(dependent id, depends-on id)` as declared.
    pub pairs: Vec<(String, String)>,
}

fn matches(path: &str, suffix: &str) -> bool {
    if path.contains("__MACOSX") {
        return false;
    }
    let name = path.rsplit('/').next().unwrap_or(path);
    name.strip_suffix(suffix).is_some_and(|prefix| {
        prefix.starts_with(|c: char| c.is_ascii_digit())
            && prefix.chars().all(|c| c.is_ascii_digit() || c == '-')
    })
}

impl RunFiles {
    pub fn from_zip(path: &Path) -> Self {
        let bytes = std::fs::read(path).expect("read zip");
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).expect("open zip");
        let mut files = BTreeMap::new();
        for i in 0..archive.len() {
            let mut file = archive.by_index(i).expect("zip entry");
            if file.is_dir() {
                continue;
            }
            let name = file.name().expect("entry name").to_string();
            let mut content = Vec::new();
            file.read_to_end(&mut content).expect("read entry");
            files.insert(name, content);
        }
        Self(files)
    }

    pub fn from_dir(dir: &Path) -> Self {
        fn walk(root: &Path, dir: &Path, files: &mut BTreeMap<String, Vec<u8>>) {
            for entry in std::fs::read_dir(dir).expect("read dir") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    walk(root, &path, files);
                } else {
                    let rel = path
                        .strip_prefix(root)
                        .expect("relative")
                        .to_string_lossy()
                        .replace('\\', "/");
                    files.insert(rel, std::fs::read(&path).expect("read file"));
                }
            }
        }
        let mut files = BTreeMap::new();
        walk(dir, dir, &mut files);
        Self(files)
    }

    /// The path of the member the acceptance check reads for `suffix`: the last one sorted.
    pub fn path_of(&self, suffix: &str) -> Option<String> {
        self.0.keys().filter(|p| matches(p, suffix)).max().cloned()
    }

    pub fn json(&self, suffix: &str) -> Option<Value> {
        let path = self.path_of(suffix)?;
        Some(serde_json::from_slice(&self.0[&path]).expect("valid JSON in the original run"))
    }

    pub fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        if let Some(l1) = self.json("-wbs_level1.json") {
            counts.project_id = l1["id"].as_str().map(str::to_owned);
        }
        let l2 = self.json("-wbs_level2.json").expect("level 2 in the run");
        let phases = l2.as_array().expect("level 2 is a list");
        counts.phases = phases.len() as u32;
        counts.tasks = phases
            .iter()
            .map(|p| p["subtasks"].as_array().map_or(0, Vec::len) as u32)
            .sum();
        counts.subtasks = self
            .json("-wbs_level3.json")
            .map(|l3| l3.as_array().expect("level 3 is a list").len() as u32);
        counts.durations = self
            .json("-task_durations.json")
            .map(|d| d.as_array().expect("durations list").len() as u32);
        if let Some(deps) = self.json("-task_dependencies_raw.json") {
            let details = deps["task_dependency_details"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for d in &details {
                let dependent = d["dependent_task_id"]
                    .as_str()
                    .expect("dependent id")
                    .to_owned();
                for on in d["depends_on_task_id_list"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                {
                    counts
                        .pairs
                        .push((dependent.clone(), on.as_str().expect("id").to_owned()));
                }
            }
            counts.dependency_pairs = Some(counts.pairs.len() as u32);
        }
        counts
    }

    /// Removes every member matching `suffix`; returns how many.
    pub fn remove(&mut self, suffix: &str) -> usize {
        let before = self.0.len();
        self.0.retain(|p, _| !matches(p, suffix));
        before - self.0.len()
    }

    pub fn put(&mut self, suffix: &str, content: &[u8]) -> String {
        let path = self
            .path_of(suffix)
            .unwrap_or_else(|| panic!("no {suffix} in the run"));
        self.0.insert(path.clone(), content.to_vec());
        path
    }

    pub fn edit_json(&mut self, suffix: &str, edit: impl FnOnce(&mut Value)) -> String {
        let mut value = self
            .json(suffix)
            .unwrap_or_else(|| panic!("no {suffix} in the run"));
        edit(&mut value);
        self.put(
            suffix,
            &serde_json::to_vec_pretty(&value).expect("serialise"),
        )
    }

    pub fn to_zip(&self) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for (path, content) in &self.0 {
            writer
                .start_file(path.as_str(), options)
                .expect("start zip entry");
            writer.write_all(content).expect("write zip entry");
        }
        writer.finish().expect("finish zip").into_inner()
    }

    pub fn write_dir(&self, dir: &Path) {
        for (path, content) in &self.0 {
            let target = dir.join(path);
            std::fs::create_dir_all(target.parent().expect("parent")).expect("create dir");
            std::fs::write(target, content).expect("write file");
        }
    }
}
