DROP TABLE execution_subtasks;
DROP TABLE execution_tasks;
DROP TABLE executions;
