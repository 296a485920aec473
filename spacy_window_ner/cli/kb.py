"""`spacy-window-ner kb build`, `resolve`, `merge`, `split`, `query`, `remove`, `export` and
`migrate`: the knowledge base of predicted entities and relations, resolved into real-world
entities (see the kb package), with a progress bar for build, a summary of what each resolution
pass did, and tables that fit the terminal for query."""
import shutil
import sys
import time
from enum import Enum
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import typer
from wasabi import table

from .. import kb as kb_module
from ..escape import json_line, printable
from ..inputs import InputError, check_inputs, location
from ._tables import (
    CONF_WIDTH, MAX_DOCUMENT_WIDTH, MAX_LABEL_WIDTH, MIN_RELATION_WIDTH, MIN_SENTENCE_WIDTH, TABLE_SPACING, column_width,
    conf, fit, relation_cell, sentence_window,
)
from ._util import app, fail, finite, one_line, refuse_input, warn_malformed


kb_app = typer.Typer(
    help="Build, resolve, query and export a knowledge base (SQLite, or PostgreSQL) of predicted entities and relations.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(kb_app, name="kb")


class Engine(str, Enum):
    local = "local"
    ray = "ray"


class ExportFormat(str, Enum):
    jsonl = "jsonl"
    csv = "csv"
    graphml = "graphml"
    mentions = "mentions"
    spacy_kb = "spacy-kb"


PARTIAL = 3  # the exit code of `kb build --strict` when it skipped documents
MAX_LISTED = 20  # removed documents listed by kb remove
MAX_AMBIGUOUS = 10  # ambiguous aliases listed after a resolution pass
DB_HELP = "The knowledge base: a SQLite file or a postgresql:// URL."


@kb_app.command("build")
def kb_build(
    model: str = typer.Argument(..., help="Pipeline directory or installed package name: any pipeline that sets doc.ents. With --engine ray, it must be there on every node. With --annotated, leave it out."),
    inputs: Optional[List[Path]] = typer.Argument(None, help=".txt files (one document each, or one per line with --lines) and .jsonl files with a \"text\" field (and optionally an \"id\"); with --annotated, .spacy files."),
    annotated: bool = typer.Option(False, "--annotated", help="Store the entities (and relations) that the docs of .spacy files (DocBin) already carry, without a pipeline: every argument is a .spacy file. A doc is known by doc.user_data[\"id\"] where set, else by FILE:INDEX (from 0)."),
    db: str = typer.Option(..., "--db", help="The SQLite database file, created if missing, or the URL of an existing PostgreSQL database (see above)."),
    lines: bool = typer.Option(False, "--lines", help="Read .txt files as one document per non-blank line."),
    encoding: str = typer.Option("utf8", "--encoding", help="Text encoding of the inputs."),
    batch_size: int = typer.Option(64, "--batch-size", min=1, help="Documents per nlp.pipe batch and per database transaction."),
    n_process: int = typer.Option(1, "--n-process", min=1, help="Processes for nlp.pipe."),
    max_length: Optional[int] = typer.Option(None, "--max-length", min=1, help="Raise the pipeline's max_length (characters per document; longer ones are skipped). spaCy's parser and NER need about 1 GB of memory per 100,000 characters."),
    engine: Engine = typer.Option(Engine.local, "--engine", help="local: nlp.pipe in this process. ray: one pool of Ray actors for the whole build, each loading the pipeline once (the ray extra, see above)."),
    address: Optional[str] = typer.Option(None, "--address", help="--engine ray: the Ray cluster (auto, HOST:PORT or ray://HOST:10001); unset starts a local one."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="--engine ray: actors, each running the pipeline (default: one per CPU of the cluster)."),
    strict: bool = typer.Option(False, "--strict", help=f"Exit with code {PARTIAL} when any line or document was skipped (a partial build), so that a batch job can tell."),
    resolve: bool = typer.Option(True, "--resolve/--no-resolve", help="Resolve the new mentions into entities at the end of the build (with the settings of the last kb resolve); --no-resolve leaves them for kb resolve."),
) -> None:
    """Stream documents through a pipeline into a knowledge base (SQLite or PostgreSQL). A document is known by
    its JSONL "id", else by its file and line: one stored with the same text is skipped, so a
    rerun resumes an interrupted build and adds nothing twice; one stored with another text is
    replaced. Malformed lines and documents that can't be processed or stored (too long, not
    encodable, a NUL character) are reported and skipped, on every back end alike. Missing,
    empty and undecodable inputs are reported and skipped; the command then exits 1, as it does
    when no document could be used. With --engine ray, a pool of Ray actors (on this machine,
    or the cluster at --address) runs the pipeline; this process writes each batch into
    SQLite, and each actor writes its own into PostgreSQL. With --annotated, no pipeline runs:
    the docs of .spacy files are stored with the entities and relations they carry. At the end,
    the new mentions (and those of replaced documents) are resolved into entities, unless
    --no-resolve.

    \b
    A PostgreSQL database and the Ray engine need extras:
      --db postgresql://USER:PASSWORD@HOST:PORT/DATABASE
                      pip install "spacy-window-ner[postgres]"
      --engine ray    pip install "spacy-window-ner[ray]"
    """
    inputs = [Path(model), *(inputs or [])] if annotated else inputs
    if not inputs:
        raise typer.BadParameter("name the files to read after the pipeline (or give --annotated FILE.spacy...).", param_hint="'INPUTS...'")
    if annotated:
        _refuse_pipeline_options(
            lines=lines, encoding=encoding != "utf8", n_process=n_process != 1, max_length=max_length is not None,
            engine=engine != Engine.local, address=address is not None, workers=workers is not None,
        )
    try:
        kb_module.check_database_not_input(db, inputs)
        good, skipped_files, total_bytes = check_inputs(inputs, None if annotated else encoding)
    except (InputError, kb_module.KBError) as err:
        fail(str(err))
    for message in skipped_files:
        typer.secho(f"✘ Skipped {message}", err=True, fg=typer.colors.RED)
    if not good:
        fail("No readable input: nothing to build.")
    progress, close = _progress_bar(total_bytes)
    try:
        if annotated:
            stats = kb_module.build_annotated(good, db, batch_size=batch_size, progress=progress, resolve=resolve)
        else:
            # By name: build_kb loads it (for the Ray engine, its actors load it again).
            stats = kb_module.build_kb(
                model, good, db, lines=lines, encoding=encoding, batch_size=batch_size,
                n_process=n_process, progress=progress, max_length=max_length,
                engine=engine.value, address=address, workers=workers, resolve=resolve,
            )
    except kb_module.KBError as err:  # also a database that can't be written (full disk)
        close()
        fail(str(err))
    except OSError:  # an input that went away, say: the command group reports it in one line
        close()
        raise
    except Exception as err:  # a component that crashed: committed batches are kept
        close()
        fail(
            f"The pipeline failed ({type(err).__name__}: {kb_module.hide_password(one_line(err), db)}). Every batch written "
            "before the failure is kept; rerun the same command to resume."
        )
    close()
    rate = stats.docs_added / stats.seconds if stats.seconds else 0.0
    typer.echo(
        f"✔ {kb_module.describe(db)}: read {stats.docs_read} documents from {stats.files} files; added "
        f"{stats.docs_added} ({stats.mentions} mentions, {stats.relations} relations, {rate:.1f} docs/s)"
        + (f", of which {stats.docs_replaced} replaced a changed version" if stats.docs_replaced else "")
        + (f", on {len(stats.worker_pids)} Ray actor{'s' if len(stats.worker_pids) > 1 else ''} ({stats.seconds_workers_cpu:.1f} CPU s, {stats.pipeline_loads} pipeline load{'s' if stats.pipeline_loads != 1 else ''})" if stats.worker_pids else "")
        + f"; skipped {stats.docs_existing} already stored"
        + (f", {stats.docs_raced} stored meanwhile by another build" if stats.docs_raced else "")
        + (f"; relation candidates capped in {stats.docs_capped} documents (window_rel's max_candidates: the farthest entity pairs got no relation)" if stats.docs_capped else "")
    )
    if stats.resolution is not None:
        _print_resolution(stats.resolution)
    warn_malformed(stats.malformed)
    for message in stats.skipped_files:  # --annotated: files that are not DocBins
        typer.secho(f"✘ Skipped {printable(message)}", err=True, fg=typer.colors.RED)
    skipped_files += stats.skipped_files
    if skipped_files:
        fail(f"Skipped {len(skipped_files)} of {len(inputs)} inputs (see above).")
    if not stats.docs_read:
        fail("No usable document in the inputs (see above): nothing was stored.")
    if strict and stats.malformed.count:
        fail(f"--strict: skipped {stats.malformed.count} lines or documents (see above); the rest is stored.", code=PARTIAL)


@kb_app.command("resolve")
def kb_resolve(
    db: str = typer.Argument(..., help=DB_HELP),
    aliases: List[Path] = typer.Option([], "--aliases", "-a", exists=True, dir_okay=False, help="An alias file (JSONL or CSV: canonical name, aliases, optional label and id) whose entries the knowledge base keeps and uses from now on. Repeatable."),
    threshold: Optional[float] = typer.Option(None, "--threshold", callback=lambda v: v if v is None else finite(v), help="The pair score (0 to 1) a name needs to join an entity: higher keeps more apart. Kept for later passes; a new one resolves everything again. Default: the last one, else resolve's default."),
    from_scratch: bool = typer.Option(False, "--from-scratch", help="Resolve every mention again, not only those that changed."),
    vectors: Optional[str] = typer.Option(None, "--vectors", help="A pipeline (directory or package) whose static vectors compare the contexts of mentions of one name. Kept for later passes; an empty string stops using vectors."),
) -> None:
    """Resolve the mentions stored since the last pass (and those that removed or replaced documents
    touched) into real-world entities, with a canonical name, aliases and a mention count, in one
    transaction. Curated decisions (kb merge, kb split) and kept alias entries are applied every
    time, from scratch too. Prints what it did, and the aliases it found ambiguous."""
    try:
        stats = kb_module.resolve_database(db, aliases=aliases, threshold=threshold, from_scratch=from_scratch, vectors=vectors)
    except kb_module.KBError as err:
        fail(str(err))
    _print_resolution(stats, db)


def _decide(db: str, kind: str, names: List[str], label: str) -> None:
    """kb merge and kb split: keep the decision, resolve, say what was done, and warn about a
    name the knowledge base has no entity of (the decision applies once it is mentioned)."""
    if len(names) != 2:
        fail(f"Give exactly two names, not {len(names)}.")
    try:
        stats = kb_module.decide(db, kind, names[0], names[1], label)
        missing = [name for name in names if not kb_module.query_entity(db, name, label=label)]
    except kb_module.KBError as err:
        fail(str(err))
    verb = "one entity" if kind == "same" else "never one entity"
    typer.echo(f"✔ Kept: {printable(names[0])!r} and {printable(names[1])!r} ({printable(label)}) are {verb}.")
    for name in missing:
        typer.secho(
            f"⚠ No entity named {printable(name)!r} with label {printable(label)!r} yet: the decision applies once one is mentioned.",
            err=True, fg=typer.colors.YELLOW,
        )
    _print_resolution(stats, db)


@kb_app.command("merge")
def kb_merge(
    db: str = typer.Argument(..., help=DB_HELP),
    names: List[str] = typer.Argument(..., help="Two names (case and spacing are ignored)."),
    label: str = typer.Option(..., "--label", "-l", help="The label of their mentions."),
) -> None:
    """Decide that two names are one entity, and resolve them again. The decision is kept: every
    later resolution, from scratch too, applies it."""
    _decide(db, "same", names, label)


@kb_app.command("split")
def kb_split(
    db: str = typer.Argument(..., help=DB_HELP),
    names: List[str] = typer.Argument(..., help="Two names (case and spacing are ignored)."),
    label: str = typer.Option(..., "--label", "-l", help="The label of their mentions."),
) -> None:
    """Decide that two names are never one entity, and resolve them again. The decision is kept:
    every later resolution, from scratch too, applies it."""
    _decide(db, "different", names, label)


@kb_app.command("migrate")
def kb_migrate(db: str = typer.Argument(..., help=DB_HELP)) -> None:
    """Convert a knowledge base built by an older spacy-window-ner (schema version 2, before
    entity resolution) to this version, in place and in one transaction (a failure leaves it as
    it was), then resolve its mentions into entities. Documents, mentions and relations are kept."""
    try:
        version, stats = kb_module.migrate_database(db)
    except kb_module.KBError as err:
        fail(str(err))
    if version is None:
        typer.echo(f"✔ {kb_module.describe(db)} has schema version {kb_module.SCHEMA_VERSION} already: nothing to do.")
        return
    typer.echo(f"✔ Converted {kb_module.describe(db)} from schema version {version} to {kb_module.SCHEMA_VERSION}.")
    if stats is not None:
        _print_resolution(stats, db)


@kb_app.command("query")
def kb_query(
    db: str = typer.Argument(..., help=DB_HELP),
    name: str = typer.Argument(..., help="Any name of the entity: its canonical name or an alias (case and spacing are ignored)."),
    label: Optional[str] = typer.Option(None, "--label", "-l", help="Only the entity with this label."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Show the resolved entities a name stands for: canonical name, aliases, mention count, its
    mentions (document and sentence) and its relations in both directions. Control characters in
    the stored text are shown escaped (\\x1b), never sent to the terminal."""
    try:
        found = kb_module.query_entity(db, name, label=label)
        _warn_pending(db)
    except kb_module.KBError as err:
        fail(str(err))
    if as_json:
        typer.echo(json_line(found, indent=2))
    if not found:
        fail(f"No entity named {name!r}" + (f" with label {label!r}" if label else "") + f" in {printable(kb_module.describe(db))}.")
    if as_json:
        return
    columns = shutil.get_terminal_size((80, 24)).columns
    for entity in found:
        name_ = printable(entity["name"])
        typer.secho(f"\n{name_} ({printable(entity['label'])}): {entity['mention_count']} mentions", bold=True)
        aliases = ", ".join(f"{printable(alias)} ({count})" for alias, count in entity["aliases"].items())
        typer.echo(f"Aliases: {aliases}" + (f"; id {printable(entity['external_id'])}" if entity["external_id"] else ""))
        mentions = entity["mentions"]
        documents = [_document(m) for m in mentions]
        doc_w = column_width(documents, "Document", max(MAX_DOCUMENT_WIDTH, columns // 3))
        sent_w = max(MIN_SENTENCE_WIDTH, columns - doc_w - CONF_WIDTH - 2 * TABLE_SPACING)
        rows: List[Tuple[str, ...]] = [
            (fit(document, doc_w, keep_end=True), conf(m["confidence"]),
             sentence_window(m["sentence"], m["start_in_sentence"], m["end_in_sentence"], sent_w))
            for document, m in zip(documents, mentions)
        ]
        widths: List[int] = [doc_w, CONF_WIDTH, max([len("Sentence"), *(len(row[2]) for row in rows)])]
        typer.echo(table(rows, header=("Document", "Conf.", "Sentence"), divider=True, widths=widths, spacing=TABLE_SPACING))
        if not entity["relations"]:
            typer.echo("No relations.")
            continue
        relations = entity["relations"]
        documents = [_document(r) for r in relations]
        labels = [printable(r["label"]) for r in relations]
        doc_w = column_width(documents, "Document", max(MAX_DOCUMENT_WIDTH, columns // 4))
        label_w = column_width(labels, "Label", MAX_LABEL_WIDTH)
        rel_w = max(MIN_RELATION_WIDTH, columns - label_w - CONF_WIDTH - doc_w - 3 * TABLE_SPACING)
        rows = [
            (relation_cell(name_, printable(r["other"]), r["direction"], rel_w), fit(label, label_w),
             conf(r["confidence"]), fit(document, doc_w, keep_end=True))
            for r, label, document in zip(relations, labels, documents)
        ]
        widths = [max([len("Relation"), *(len(row[0]) for row in rows)]), label_w, CONF_WIDTH, doc_w]
        typer.echo(table(rows, header=("Relation", "Label", "Conf.", "Document"), divider=True, widths=widths, spacing=TABLE_SPACING))


@kb_app.command("remove")
def kb_remove(
    db: str = typer.Argument(..., help=DB_HELP),
    sources: List[Path] = typer.Option([], "--source", "-s", help="Remove every document read from this input (the path as given to kb build). Repeatable."),
    ids: List[str] = typer.Option([], "--id", help="Remove the document with this JSONL id. Repeatable."),
    resolve: bool = typer.Option(True, "--resolve/--no-resolve", help="Resolve the entities the removed documents mentioned again; --no-resolve leaves them for kb resolve."),
) -> None:
    """Remove documents that are gone from the inputs, with their mentions and relations, in one
    transaction; then resolve the entities they mentioned again: their counts and aliases are
    updated, and entities left with no mention deleted. Exits 1 if nothing matched."""
    if not sources and not ids:
        fail("Say what to remove: --source PATH and/or --id ID (both can be repeated).")
    try:
        stats = kb_module.remove_documents(db, sources=sources, ids=ids, resolve=resolve)
    except kb_module.KBError as err:
        fail(str(err))
    for selector in stats.unmatched:
        typer.secho(f"⚠ No document with {printable(selector)} in {kb_module.describe(db)}", err=True, fg=typer.colors.YELLOW)
    if not stats.documents:
        fail("Nothing matched: no document was removed.")
    typer.echo(
        f"✔ Removed {len(stats.documents)} documents from {kb_module.describe(db)} with {stats.mentions} mentions and "
        f"{stats.relations} relations; "
        + (f"entities left with no mention, deleted: {stats.entities}" if resolve else f"their entities wait for `kb resolve {kb_module.describe(db)}`")
    )
    for source, line, doc_id in stats.documents[:MAX_LISTED]:
        typer.echo(f"  {printable(location(source, line))}" + (f" (id {printable(doc_id)!s})" if doc_id is not None else ""))
    if len(stats.documents) > MAX_LISTED:
        typer.echo(f"  and {len(stats.documents) - MAX_LISTED} more")


@kb_app.command("export")
def kb_export(
    db: str = typer.Argument(..., help=DB_HELP),
    export_format: ExportFormat = typer.Option(..., "--format", "-f", help="jsonl (nodes and edges), csv (a directory of nodes.csv and edges.csv), graphml, mentions (one JSON line per mention with its resolved entity) or spacy-kb (a directory holding a spaCy InMemoryLookupKB, for entity_linker; needs --vectors)."),
    output: Path = typer.Option(..., "--output", "-o", help="The file to write; for csv and spacy-kb, the directory."),
    vectors: Optional[str] = typer.Option(None, "--vectors", help="spacy-kb only: a pipeline with static vectors (directory or package name, e.g. en_core_web_md); an entity's vector is the mean of its names' word vectors."),
) -> None:
    """Export the knowledge base: the entity graph (jsonl, csv, graphml: resolved entities as
    nodes, with their aliases and external id, relations merged into edges with counts and
    confidences), the mentions with their resolved entities (mentions), or a spaCy knowledge
    base for entity_linker (spacy-kb: entities with their mention counts and vectors, aliases
    with prior probabilities from the mention counts). The output is replaced whole or not at all (csv and spacy-kb: their directory). Text cells
    of the csv format that start with =, +, -, @, tab or carriage return get a leading ' (no
    spreadsheet formulas); see kb.write_graph for what each format keeps."""
    refuse_input(output, *kb_module.database_files(db))
    directory = export_format in (ExportFormat.csv, ExportFormat.spacy_kb)
    if not directory and output.is_dir():
        fail(f"{output} is a directory: the {export_format.value} export writes one file.")
    if (vectors is None) == (export_format == ExportFormat.spacy_kb):
        fail(
            "--format spacy-kb needs --vectors PIPELINE, a pipeline with static vectors (e.g. en_core_web_md)."
            if vectors is None else f"--vectors is for --format spacy-kb only, not {export_format.value}."
        )
    try:
        _warn_pending(db)
        if export_format == ExportFormat.mentions:
            n_mentions = kb_module.export_mentions(db, output)
            typer.echo(f"✔ Wrote {n_mentions} mentions to {output}")
        elif export_format == ExportFormat.spacy_kb:
            assert vectors is not None
            counts = kb_module.export_spacy_kb(db, output, vectors)
            typer.echo(
                f"✔ Wrote a spaCy knowledge base of {counts.entities} entities ({counts.vector_width}-dimensional "
                f"vectors) and {counts.aliases} aliases to {output}"
            )
            if counts.without_vector:
                typer.secho(
                    f"⚠ {counts.without_vector} entities have no word with a vector in {vectors}: their vectors are zeros.",
                    err=True, fg=typer.colors.YELLOW,
                )
        else:
            n_nodes, n_edges = kb_module.export_graph(db, output, export_format.value)
            written = f"{output}/{{{','.join(kb_module.CSV_FILES.values())}}}" if export_format == ExportFormat.csv else str(output)
            typer.echo(f"✔ Wrote {n_nodes} nodes and {n_edges} edges to {written}")
    except kb_module.KBError as err:
        fail(str(err))


def _refuse_pipeline_options(**given: bool) -> None:
    """A usage error if options that only a pipeline build uses were given with --annotated."""
    names = [f"--{name.replace('_', '-')}" for name, is_given in given.items() if is_given]
    if names:
        raise typer.BadParameter("only for a build with a pipeline; --annotated reads .spacy files as they are.", param_hint=", ".join(names))


def _print_resolution(stats: "kb_module.ResolveStats", db: Optional[str] = None) -> None:
    """What a resolution pass did, on one line, then the ambiguous aliases it reported."""
    where = f"{kb_module.describe(db)}: " if db is not None else ""
    placed = f"placed {stats.placed} new mentions of names resolved before; " if stats.placed else ""
    if not stats.components and not stats.placed:
        typer.echo(f"✔ {where}nothing to resolve ({stats.total_entities} entities)")
    elif not stats.components:
        typer.echo(f"✔ {where}{placed}{stats.total_entities} entities in all ({stats.seconds:.1f} s)")
    else:
        typer.echo(
            f"✔ {where}{placed}resolved {stats.mentions} mentions in {stats.components} components"
            + (" (from scratch)" if stats.from_scratch else "")
            + f" into {stats.entities} entities, {stats.merged} of them known by several names; created "
            f"{stats.created}, deleted {stats.deleted}; {stats.total_entities} entities in all ({stats.seconds:.1f} s)"
        )
    if stats.ambiguous:
        typer.secho(f"⚠ {len(stats.ambiguous)} ambiguous aliases (mentions that context could not place stay apart):", err=True, fg=typer.colors.YELLOW)
        for ambiguity in stats.ambiguous[:MAX_AMBIGUOUS]:
            typer.echo(f"  {printable(kb_module.describe_ambiguity(ambiguity))}", err=True)
        if len(stats.ambiguous) > MAX_AMBIGUOUS:
            typer.echo(f"  and {len(stats.ambiguous) - MAX_AMBIGUOUS} more", err=True)


def _warn_pending(db: str) -> None:
    """Warn when mentions wait for a resolution pass: queries and exports don't show them yet."""
    unresolved, stale = kb_module.pending(db)
    if unresolved or stale:
        what = f"{unresolved} mentions are not resolved yet" if unresolved else f"{stale} names changed since the last resolution"
        typer.secho(
            f"⚠ {what}: they are missing from entities and relations until you run `spacy-window-ner kb resolve {kb_module.describe(db)}`.",
            err=True, fg=typer.colors.YELLOW,
        )


def _progress_bar(total_bytes: int):
    """A tqdm bar on stderr over the input bytes (for the ETA), with docs and docs/s."""
    from tqdm import tqdm

    bar = tqdm(total=total_bytes, unit="B", unit_scale=True, file=sys.stderr, disable=None, desc="kb build")
    start = time.perf_counter()

    def progress(offset: int, n_docs: int) -> None:
        if offset > bar.n:
            bar.update(offset - bar.n)
        elapsed = time.perf_counter() - start
        bar.set_postfix_str(f"{n_docs} docs, {n_docs / elapsed if elapsed else 0.0:.1f} docs/s", refresh=False)

    return progress, bar.close


def _document(row: Dict[str, Any]) -> str:
    """Where a mention or relation was found: its document's JSONL id, else file:line."""
    return printable(row["doc_id"] if row["doc_id"] is not None else location(row["source"], row["line"]))
