"""callees.task_id on PostgreSQL: checked once per statement by triggers, not a foreign key

PostgreSQL runs a foreign key's check as one query per inserted row: for a 100,000-number
send that was half of the COPY's time (docs/performance.md). The rule stays the same (a callee
names an existing task; a task with callees is neither deleted nor renumbered) and so does the
error (SQLSTATE 23503); an insert is now checked once per statement, over all its rows.
SQLite keeps its foreign key: there a trigger costs several times the key's own check, and
the model still declares the key (the schema test allows for this one difference).

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PG_UP = [
    # every task the inserted rows name (one pass over them), locked against deletion as a
    # foreign key's check locks it
    """
    CREATE FUNCTION callees_task_exists() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        ids integer[] := ARRAY(SELECT DISTINCT task_id FROM added);
        locked integer;
    BEGIN
        PERFORM 1 FROM tasks WHERE id = ANY (ids) FOR KEY SHARE;
        GET DIAGNOSTICS locked = ROW_COUNT;
        IF locked < cardinality(ids) THEN
            RAISE foreign_key_violation USING MESSAGE = format(
                'callees.task_id: task %s does not exist',
                (SELECT min(i) FROM unnest(ids) i WHERE NOT EXISTS (
                    SELECT 1 FROM tasks t WHERE t.id = i)));
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER callees_task_exists AFTER INSERT ON callees
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION callees_task_exists()
    """,
    # the dialer updates callees all the time but never their task: a row trigger that only
    # fires when task_id changes costs those updates nothing
    """
    CREATE FUNCTION callee_task_moved() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM 1 FROM tasks WHERE id = NEW.task_id FOR KEY SHARE;
        IF NOT FOUND THEN
            RAISE foreign_key_violation
                USING MESSAGE = format('callees.task_id: task %s does not exist', NEW.task_id);
        END IF;
        RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER callee_task_moved BEFORE UPDATE OF task_id ON callees FOR EACH ROW
    WHEN (OLD.task_id IS DISTINCT FROM NEW.task_id) EXECUTE FUNCTION callee_task_moved()
    """,
    """
    CREATE FUNCTION task_has_callees() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS (SELECT 1 FROM callees WHERE task_id = OLD.id) THEN
            RAISE foreign_key_violation
                USING MESSAGE = format('tasks.id: task %s still has callees', OLD.id);
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER task_has_callees_delete AFTER DELETE ON tasks FOR EACH ROW
    EXECUTE FUNCTION task_has_callees()
    """,
    """
    CREATE TRIGGER task_has_callees_update AFTER UPDATE OF id ON tasks FOR EACH ROW
    WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION task_has_callees()
    """,
    "ALTER TABLE callees DROP CONSTRAINT callees_task_id_fkey",
]

_PG_DOWN = [
    "DROP TRIGGER task_has_callees_update ON tasks",
    "DROP TRIGGER task_has_callees_delete ON tasks",
    "DROP FUNCTION task_has_callees()",
    "DROP TRIGGER callee_task_moved ON callees",
    "DROP FUNCTION callee_task_moved()",
    "DROP TRIGGER callees_task_exists ON callees",
    "DROP FUNCTION callees_task_exists()",
    "ALTER TABLE callees ADD CONSTRAINT callees_task_id_fkey"
    " FOREIGN KEY (task_id) REFERENCES tasks (id)",
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for sql in _PG_UP:
            op.execute(sql)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for sql in _PG_DOWN:
            op.execute(sql)
