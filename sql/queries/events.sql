-- name: InsertEvent :exec
INSERT INTO events (organisation_id, id, type, command_id, data)
VALUES (@organisation_id, @id, @type, @command_id, @data);
