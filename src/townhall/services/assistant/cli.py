"""`townhall assistant ...`: ingest guidance, ask from the terminal, evaluate, list content gaps."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

app = typer.Typer(help="The citizen assistant.", no_args_is_help=True)


def _context() -> tuple[Any, Any]:
    from townhall.core.db import get_engine
    from townhall.settings import SettingsError, get_settings

    try:
        settings = get_settings()
    except SettingsError as exc:
        typer.secho(f"error: {exc}", err=True, fg="red")
        raise typer.Exit(2) from None
    return settings, get_engine(settings.database_url, settings.database_echo)


def _fail(message: str, code: int = 1) -> NoReturn:
    typer.secho(f"error: {message}", err=True, fg="red")
    raise typer.Exit(code)


@app.command()
def ingest(
    sources: Annotated[
        list[str],
        typer.Argument(help="Folders, files (HTML, Markdown, PDF, DOCX, JSON-lines) or URLs."),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Add or update guidance; unchanged pages are skipped, pages gone from a source are removed."""
    from tqdm import tqdm

    from townhall.core.db import transaction
    from townhall.core.errors import TownhallError
    from townhall.services.assistant.ingest import ingest as run

    settings, engine = _context()
    with tqdm(unit="page", disable=as_json, dynamic_ncols=True) as bar:

        def progress(done: int, total: int | None = None, message: str = "") -> None:
            bar.total = total
            bar.n = done
            bar.set_postfix_str(message[-40:], refresh=False)
            bar.refresh()

        try:
            with transaction(engine) as session:
                report = run(session, sources, settings=settings, progress=progress)
        except TownhallError as exc:
            _fail(exc.message)
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
        return
    summary = report.as_dict()
    for key in ("added", "updated", "unchanged", "removed", "chunks"):
        typer.echo(f"{key:<10}{summary[key]}")
    for url, original in report.duplicates:
        typer.echo(f"duplicate {url} (same as {original})")
    for name, reason in report.skipped:
        typer.secho(f"skipped   {name}: {reason}", fg="yellow")


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, in quotes.")],
    conversation: Annotated[
        str | None, typer.Option(help="Continue a conversation (its id from an earlier reply).")
    ] = None,
    locale: Annotated[
        str | None, typer.Option(help="Answer only from pages in this language.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON.")] = False,
) -> None:
    """Ask as a citizen would; the answer is recorded like any other."""
    from townhall.core.db import transaction
    from townhall.core.errors import TownhallError
    from townhall.services.assistant import answers
    from townhall.services.assistant.runtime import build_pipeline

    settings, engine = _context()
    try:
        with transaction(engine) as session:
            reply = answers.ask(
                session,
                build_pipeline(settings, engine),
                question,
                conversation_id=conversation,
                locale=locale,
            )
    except TownhallError as exc:
        _fail(exc.message)
    if as_json:
        typer.echo(json.dumps(reply.as_dict(), indent=2, ensure_ascii=False))
        return
    typer.echo(reply.answer)
    for number, citation in enumerate(reply.citations, 1):
        heading = f" > {citation['heading']}" if citation["heading"] else ""
        typer.echo(f"  [{number}] {citation['title']}{heading}\n      {citation['url']}")
    if reply.refused:
        typer.echo(f"(refused: {reply.reason})")
    typer.echo(f"conversation {reply.conversation_id}  decision {reply.decision_id}")


@app.command()
def gaps(
    days: Annotated[int, typer.Option(help="Look back this many days.")] = 30,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Questions refused or rated unhelpful, grouped by topic: the guidance to write next."""
    from dataclasses import asdict

    from townhall.core.db import transaction
    from townhall.services.assistant import gaps as content

    _, engine = _context()
    with transaction(engine) as session:
        topics = content.topics(content.gaps(session, days))
    if as_json:
        typer.echo(json.dumps([asdict(t) for t in topics], indent=2, ensure_ascii=False))
        return
    if not topics:
        typer.echo("No gaps.")
    for topic in topics:
        typer.echo(f"{topic.count:>4}  {topic.label}  {topic.reasons}")


@app.command()
def evaluate(
    questions: Annotated[
        Path | None,
        typer.Argument(help='JSON lines: question and expected_urls, or "answerable": false.'),
    ] = None,
    split: Annotated[str | None, typer.Option(help="Only this split (e.g. dev or test).")] = None,
    answers: Annotated[
        bool, typer.Option("--answers/--retrieval-only", help="Also run the answer pipeline.")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Retrieval recall@1/@5 and MRR beside plain BM25, and answer quality, with 95% intervals."""
    import importlib.util

    from townhall.core.errors import TownhallError
    from townhall.services.assistant import evaluate as ev
    from townhall.services.assistant.retrieval import index_for
    from townhall.services.assistant.runtime import build_pipeline

    settings, engine = _context()
    try:
        chosen = ev.in_split(ev.load_questions(questions or ev.GOVUK_QUESTIONS), split)
    except TownhallError as exc:
        _fail(exc.message, 2)
    if not chosen:
        _fail(f"no questions in split {split!r}", 2)
    index = index_for(engine)
    if not len(index):
        _fail("nothing has been ingested: run `townhall assistant ingest` first")
    pipeline = build_pipeline(settings, engine) if answers else None
    report = ev.evaluate(
        chosen,
        index=index,
        answer=(lambda q, locale: pipeline.answer(q, locale=locale)) if pipeline else None,
        grounded=ev.pipeline_grounding(
            settings.assistant_grounding_min_overlap, settings.assistant_grounding_min_similarity
        ),
        # rank_bm25 comes with the [dev] extra; without it the baseline is left out.
        baseline=importlib.util.find_spec("rank_bm25") is not None,
    )
    if as_json:
        typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
        return
    for name, part in report["splits"].items():
        typer.echo(f"{name}: {part['answerable']} answerable, {part['unanswerable']} unanswerable")
        rows = [(f"retrieval {k}", v) for k, v in part["retrieval"].items()]
        rows += [("answers", part["answers"])] if "answers" in part else []
        for label, figures in rows:
            for metric, value in figures.items():
                if isinstance(value, dict) and "value" in value and value["value"] is not None:
                    typer.echo(
                        f"  {label:<26}{metric:<24}{value['value']:.3f}"
                        f"  [{value['low']:.3f}, {value['high']:.3f}]  n={value['n']}"
                    )
