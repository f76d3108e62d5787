"""Migration 0004 (the LLM labeller and the aggregation) on a database made by 0003."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, text

from activelab.studio import db


def _alembic(engine, action, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(Path(db.__file__).parent / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        action(config, revision)


def _columns(engine, table: str) -> set[str]:
    return {column["name"] for column in inspect(engine).get_columns(table)}


def test_0004_upgrades_a_0003_database_keeping_its_rows_and_downgrades(db_url: str) -> None:
    engine = db.connect(db_url)
    try:
        _alembic(engine, command.upgrade, "0003")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO studio_projects (name, task, labels, multi_label, model_version,"
                    " rank_round, created_at) VALUES ('old', 'text', '[\"a\", \"b\"]', false, 3, 4,"
                    " '2026-01-01 00:00:00')"
                )
            )
        assert "llm" not in _columns(engine, "studio_projects")
        db.migrate(engine)
        assert {"llm", "aggregation"} <= _columns(engine, "studio_projects")
        assert {"llm", "llm_checked"} <= _columns(engine, "studio_items")
        assert "machine" in _columns(engine, "studio_answers")
        assert "studio_llm_rounds" in inspect(engine).get_table_names()
        with db.read_session(engine) as session:
            project = session.query(db.Project).one()
            assert (project.name, project.model_version, project.llm, project.aggregation) == (
                "old",
                3,
                None,
                None,
            )
        _alembic(engine, command.downgrade, "0003")
        assert "llm" not in _columns(engine, "studio_projects")
        assert "machine" not in _columns(engine, "studio_answers")
        assert "studio_llm_rounds" not in inspect(engine).get_table_names()
        db.migrate(engine)
        assert "llm_checked" in _columns(engine, "studio_items")
    finally:
        engine.dispose()
