DROP TABLE dead_letters;
DROP TABLE execution_events;
