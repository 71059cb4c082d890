-- Runs once, when the PostgreSQL volume is created: LiteLLM keeps its tables in a
-- database of its own, beside mama's.
CREATE DATABASE litellm OWNER mama;
