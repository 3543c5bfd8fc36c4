"""docs/: the pages are literate, so their code must be the code. A ```python block whose first
line is ``# <path>`` quotes that file and must appear in it verbatim; every other ```python
block that is followed by a ```text block is an example, and running it must print that text
(numbers to within 0.5 %)."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md"))
_BLOCK = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def blocks(page: Path) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in _BLOCK.finditer(page.read_text())]


def _quoted_path(body: str) -> str | None:
    """``path`` when the block's first line is ``# path`` naming a source file, else None."""
    first = body.partition("\n")[0].strip()
    return first[2:] if re.fullmatch(r"# [\w/.]+\.(py|h|cpp|cu)", first) else None


def excerpts() -> list[tuple[str, str, str]]:
    return [(page.name, _quoted_path(body), body.partition("\n")[2])
            for page in DOCS for lang, body in blocks(page) if lang == "python" and _quoted_path(body)]


def examples() -> list[tuple[str, int, str, str]]:
    found = []
    for page in DOCS:
        bs = blocks(page)
        for i, ((lang, body), (next_lang, output)) in enumerate(zip(bs, bs[1:])):
            if lang == "python" and next_lang == "text" and not _quoted_path(body):
                found.append((page.name, i, body, output))
    return found


def test_there_are_pages_and_they_link_to_pages_that_exist():
    assert {p.name for p in DOCS} >= {"domirank.md", "burn_probability_ranking.md", "history.md"}
    for page in DOCS:
        for target in re.findall(r"\]\(([\w.]+\.md)(?:#[\w-]+)?\)", page.read_text()):
            assert (page.parent / target).is_file(), f"{page.name} links to a missing page {target}"


@pytest.mark.parametrize("page, path, excerpt", excerpts(), ids=lambda v: str(v)[:40])
def test_quoted_code_is_the_code(page, path, excerpt):
    assert excerpt.strip(), f"{page}: an empty quote of {path}"
    assert excerpt in (ROOT / path).read_text(), f"{page} quotes {path}, but the file no longer has:\n{excerpt}"


def _same_output(got: str, expected: str) -> bool:
    got_lines, expected_lines = got.strip().splitlines(), expected.strip().splitlines()
    if len(got_lines) != len(expected_lines):
        return False
    for g, e in zip(got_lines, expected_lines):
        if _NUMBER.sub("#", g).split() != _NUMBER.sub("#", e).split():
            return False
        for a, b in zip(_NUMBER.findall(g), _NUMBER.findall(e)):
            if float(a) != pytest.approx(float(b), rel=5e-3, abs=5e-4):
                return False
    return True


@pytest.mark.slow
@pytest.mark.parametrize("page, index, code, output", examples(), ids=lambda v: str(v)[:30])
def test_examples_print_what_the_page_says(page, index, code, output):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, f"{page}[block {index}]", "exec"), {"__name__": "__docs__"})
    assert _same_output(out.getvalue(), output), \
        f"{page}, block {index} printed:\n{out.getvalue()}\nthe page says:\n{output}"
