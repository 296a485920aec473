"""The package's messages point at what a pip user has: a package, a CLI flag of the installed
commands, a spaCy config key or a docs page (docs/PAGE.md), never at a file that only the
repository holds (configs/..., project.yml, README) or at a project var (--vars.NAME)."""
import ast
import re
from pathlib import Path

import spacy_window_ner

PACKAGE = Path(spacy_window_ner.__file__).parent
REPO_ONLY = re.compile(r"configs/|--vars\.|project\.yml|README")


def message_strings(path: Path):
    """The string constants of a module that are not docstrings, with their line numbers."""
    tree = ast.parse(path.read_text(encoding="utf8"))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.lineno, node.value


def test_messages_name_nothing_only_the_repository_has():
    found = [
        f"{path.relative_to(PACKAGE)}:{line}: {text!r}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for line, text in message_strings(path)
        if REPO_ONLY.search(text)
    ]
    assert not found, "\n".join(found)


def test_messages_check_finds_a_repository_path(tmp_path):
    """The check above can fail: it finds such a string, and skips a docstring."""
    path = tmp_path / "module.py"
    path.write_text('def f():\n    """See configs/x.cfg."""\n    raise ValueError(f"use --vars.source {x}")\n')
    assert [text for _, text in message_strings(path)] == ["use --vars.source "]
