DROP TABLE IF EXISTS platform_commands;
