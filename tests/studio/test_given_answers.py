"""``answers.given_answers``: the live, non-skipped answers of one project."""

from __future__ import annotations

from sqlalchemy import select

from activelab.studio import answers, auth, db, queue
from activelab.studio.db import Answer, Project, read_session, write_session

from .conftest import synthetic_texts


def _answer(engine, config, project_id, person, key, skipped=False) -> int:
    with write_session(engine) as session:
        served = queue.lease_next(session, config, project_id, person)
        answer_id, _ = answers.record_answer(
            session,
            config,
            project_id,
            person,
            item_id=served.item.id,
            lease_id=served.lease_id,
            labels=[] if skipped else [config.labels[0]],
            skipped=skipped,
            seconds=1.0,
            idempotency_key=key,
        )
        return answer_id


def test_given_answers_leave_out_skipped_withdrawn_and_other_projects(make_project) -> None:
    texts, _ = synthetic_texts(8)
    first = make_project(texts, name="first")
    second = make_project(texts, name="second")
    engine = db.connect(first.url)
    try:
        ids = {}
        with write_session(engine) as session:
            for config in (first, second):
                project = session.scalar(select(Project.id).where(Project.name == config.name))
                person, _ = auth.add_annotator(session, project, "ann", "annotator")
                session.flush()
                ids[config.name] = (project, person.id)
        project, person = ids["first"]
        kept = _answer(engine, first, project, person, "a")
        _answer(engine, first, project, person, "b", skipped=True)
        withdrawn = _answer(engine, first, project, person, "c")
        with write_session(engine) as session:
            assert answers.undo_last(session, first, project, person).item is not None
        other_project, other_person = ids["second"]
        _answer(engine, second, other_project, other_person, "d")
        with read_session(engine) as session:
            given = session.scalars(select(Answer.id).where(*answers.given_answers(project)))
            assert list(given) == [kept]
        assert withdrawn != kept
    finally:
        engine.dispose()
