DROP TABLE plan_task_dependencies;
DROP TABLE plan_subtasks;
DROP TABLE plan_tasks;
DROP TABLE plans;
