//! File suffixes of a PlanExe run, as PlanExe names them in every version (the numeric
//! prefixes changed between versions, so files are found by suffix only).

pub const LEVEL1: &str = "-wbs_level1.json";
pub const LEVEL2: &str = "-wbs_level2.json";
pub const LEVEL3: &str = "-wbs_level3.json";
pub const PROJECT_LEVEL123: &str = "-wbs_project_level1_and_level2_and_level3.json";
pub const PROJECT_LEVEL12: &str = "-wbs_project_level1_and_level2.json";
pub const DEPENDENCIES: &str = "-task_dependencies_raw.json";
pub const DURATIONS: &str = "-task_durations.json";
pub const PLAN: &str = "-plan.txt";
pub const PIPELINE_COMPLETE: &str = "-pipeline_complete.txt";
/// Context a reviewer may want; the import does not need them.
pub const CONTEXT: [&str; 5] = [
    "-project_plan.md",
    "-schedule_gantt_machai.csv",
    "-team.md",
    "-find_team_members.json",
    "-review_plan.md",
];
/// What carries the work breakdown structure, in order of preference.
pub const WBS: [&str; 4] = [LEVEL2, LEVEL1, PROJECT_LEVEL123, PROJECT_LEVEL12];
