//! A PlanExe run as a set of named files, whether it arrived as a folder or as a zip.
//!
//! PlanExe numbers its files with prefixes that changed between versions (`017-wbs_level2.json`,
//! `018-5-wbs_level2.json`), so files are found by suffix, never by prefix: a file matches the
//! suffix `-wbs_level2.json` when its name is `<digits and dashes>-wbs_level2.json`, or exactly
//! `wbs_level2.json`. When several match, the one whose full path sorts last wins, as in the
//! acceptance reader. macOS clutter (`__MACOSX/`, `._*`, `.DS_Store`) is invisible here.

use std::borrow::Cow;
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

use zip::ZipArchive;

use crate::error::ImportError;

/// No PlanExe file comes near this; a bigger member is a mistake or a zip bomb.
pub(crate) const MEMBER_LIMIT: u64 = 64 * 1024 * 1024;
/// Bound on the archive itself when read from disk.
const ARCHIVE_LIMIT: u64 = 1024 * 1024 * 1024;
/// PlanExe runs hold a few hundred files; folders are walked this deep at most.
const MAX_DEPTH: usize = 4;
const MAX_FILES: usize = 50_000;

/// One file of the run: its path inside the folder or zip, with `/` separators.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub path: String,
    /// Everything before the last `/` (empty at the top).
    pub dir: String,
    pub name: String,
    /// How messages name the file: the full path for a folder, the path inside a zip.
    pub shown: String,
    /// Index in the zip, when the run is a zip.
    index: usize,
}

enum Store<'a> {
    Folder(PathBuf),
    Zip(Box<ZipArchive<Cursor<Cow<'a, [u8]>>>>),
}

/// The files of one run (or of a folder that holds one).
pub(crate) struct Run<'a> {
    /// What the user passed, as shown in messages and kept as `source.reference`.
    pub name: String,
    /// The folder or zip path, for messages.
    pub location: String,
    pub members: Vec<Member>,
    store: Store<'a>,
}

impl std::fmt::Debug for Run<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl<'a> Run<'a> {
    /// Opens a run folder or a zip file on disk.
    pub fn open(path: &Path) -> Result<Run<'static>, ImportError> {
        let io = |source| ImportError::Io {
            path: path.to_owned(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        if meta.is_dir() {
            let mut members = Vec::new();
            walk(path, "", 0, &mut members)?;
            for m in &mut members {
                m.shown = path.join(&m.path).display().to_string();
            }
            return Ok(Run {
                name,
                location: path.display().to_string(),
                members,
                store: Store::Folder(path.to_owned()),
            });
        }
        if meta.len() > ARCHIVE_LIMIT {
            return Err(ImportError::TooLarge {
                name: name.clone(),
                member: name,
                limit: ARCHIVE_LIMIT,
            });
        }
        let bytes = std::fs::read(path).map_err(io)?;
        if !bytes.starts_with(b"PK") && !name.to_ascii_lowercase().ends_with(".zip") {
            return Err(ImportError::NotARun {
                path: path.to_owned(),
            });
        }
        Run::zip(name, path.display().to_string(), Cow::Owned(bytes))
    }

    /// Reads a zip held in memory (an upload).
    pub fn zip(name: String, location: String, bytes: Cow<'a, [u8]>) -> Result<Self, ImportError> {
        let corrupt = |reason: String| ImportError::CorruptZip {
            name: name.clone(),
            reason,
        };
        let archive = ZipArchive::new(Cursor::new(bytes)).map_err(|e| corrupt(e.to_string()))?;
        let mut members = Vec::new();
        for index in 0..archive.len() {
            let Some(Ok(path)) = archive.name_for_index(index) else {
                continue;
            };
            if !path.is_empty() && !path.ends_with('/') && visible(&path) {
                members.push(member(path.replace('\\', "/"), index));
            }
        }
        Ok(Run {
            name,
            location,
            members,
            store: Store::Zip(Box::new(archive)),
        })
    }

    /// The member matching `suffix` whose path sorts last, searching `dir` only when given.
    pub fn find(&self, dir: Option<&str>, suffix: &str) -> Option<&Member> {
        self.members
            .iter()
            .filter(|m| dir.is_none_or(|d| m.dir == d) && matches_suffix(&m.name, suffix))
            .max_by(|a, b| a.path.cmp(&b.path))
    }

    /// The whole content of a member, bounded by [`MEMBER_LIMIT`].
    pub fn read(&mut self, member: &Member) -> Result<Vec<u8>, ImportError> {
        let too_large = || ImportError::TooLarge {
            name: self.name.clone(),
            member: member.path.clone(),
            limit: MEMBER_LIMIT,
        };
        let mut out = Vec::new();
        match &mut self.store {
            Store::Folder(root) => {
                let path = root.join(&member.path);
                let file = std::fs::File::open(&path).map_err(|source| ImportError::Io {
                    path: path.clone(),
                    source,
                })?;
                file.take(MEMBER_LIMIT + 1)
                    .read_to_end(&mut out)
                    .map_err(|source| ImportError::Io { path, source })?;
            }
            Store::Zip(archive) => {
                let corrupt = |e: String| ImportError::CorruptZip {
                    name: self.name.clone(),
                    reason: format!("{}: {e}", member.path),
                };
                let file = archive
                    .by_index(member.index)
                    .map_err(|e| corrupt(e.to_string()))?;
                file.take(MEMBER_LIMIT + 1)
                    .read_to_end(&mut out)
                    .map_err(|e| corrupt(e.to_string()))?;
            }
        }
        if out.len() as u64 > MEMBER_LIMIT {
            return Err(too_large());
        }
        Ok(out)
    }
}

/// `<digits and dashes><suffix>`, or the suffix alone without its leading dash.
pub(crate) fn matches_suffix(name: &str, suffix: &str) -> bool {
    let Some(prefix) = name.strip_suffix(suffix) else {
        return suffix.strip_prefix('-') == Some(name);
    };
    prefix.starts_with(|c: char| c.is_ascii_digit())
        && prefix.chars().all(|c| c.is_ascii_digit() || c == '-')
}

fn visible(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    !path.split('/').any(|part| part == "__MACOSX")
        && !name.starts_with("._")
        && name != ".DS_Store"
}

fn member(path: String, index: usize) -> Member {
    let (dir, name) = match path.rfind('/') {
        Some(i) => (path[..i].to_owned(), path[i + 1..].to_owned()),
        None => (String::new(), path.clone()),
    };
    Member {
        shown: path.clone(),
        path,
        dir,
        name,
        index,
    }
}

fn walk(root: &Path, rel: &str, depth: usize, out: &mut Vec<Member>) -> Result<(), ImportError> {
    let dir = root.join(rel);
    let entries = std::fs::read_dir(&dir).map_err(|source| ImportError::Io {
        path: dir.clone(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| ImportError::Io {
            path: dir.clone(),
            source,
        })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        if !visible(&path) || out.len() >= MAX_FILES {
            continue;
        }
        // Follows symlinks on purpose: a run folder may be linked into place.
        let meta = std::fs::metadata(entry.path()).map_err(|source| ImportError::Io {
            path: entry.path(),
            source,
        })?;
        if meta.is_dir() {
            if depth < MAX_DEPTH && !name.starts_with('.') {
                walk(root, &path, depth + 1, out)?;
            }
        } else {
            out.push(member(path, 0));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffix_matches_old_and_new_prefixes_and_the_bare_name() {
        for name in [
            "017-wbs_level2.json",
            "018-5-wbs_level2.json",
            "wbs_level2.json",
        ] {
            assert!(matches_suffix(name, "-wbs_level2.json"), "{name}");
        }
        for name in [
            "018-4-wbs_level2_raw.json",
            "x-wbs_level2.json",
            "-wbs_level2.json",
            "a.json",
        ] {
            assert!(!matches_suffix(name, "-wbs_level2.json"), "{name}");
        }
    }

    #[test]
    fn mac_clutter_is_invisible() {
        assert!(!visible("__MACOSX/run/._017-wbs_level2.json"));
        assert!(!visible("run/._017-wbs_level2.json"));
        assert!(!visible("run/.DS_Store"));
        assert!(visible("run/017-wbs_level2.json"));
    }
}
