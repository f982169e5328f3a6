"""The documentation holds together: a short README that starts with the two commands, and relative links in
README.md and docs/*.md that lead to a file that exists and, with a #fragment, to a heading of that file
(GitHub's anchors: lowercased, punctuation but '-' and '_' dropped, spaces to '-', repeats numbered)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^ {0,3}(```|~~~)")
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
HEADING = re.compile(r"^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$")


def outside_fences(text: str) -> list[tuple[int, str]]:
    """(line number, line) of the lines outside fenced code blocks."""
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append((number, line))
    return lines


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading's text."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip())  # a link in a heading: its text
    text = re.sub(r"<[^>]+>", "", text).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every heading anchor of a markdown text, the second of a name as name-1 and so on."""
    seen: Counter[str] = Counter()
    found = set()
    for _, line in outside_fences(text):
        heading = HEADING.match(line)
        if heading:
            base = anchor(heading.group(1))
            found.add(f"{base}-{seen[base]}" if seen[base] else base)
            seen[base] += 1
    return found


def links(text: str) -> list[tuple[int, str]]:
    """(line number, target) of every link in the prose."""
    return [
        (number, target) for number, line in outside_fences(text) for target in LINK.findall(INLINE_CODE.sub("", line))
    ]


def broken_links(page: Path) -> list[str]:
    """What is wrong with the relative links of one markdown page."""
    problems = []
    for number, target in links(page.read_text()):
        if EXTERNAL.match(target):
            continue
        path, _, fragment = target.partition("#")
        destination = (page.parent / path).resolve() if path else page
        where = f"{page.relative_to(ROOT) if page.is_relative_to(ROOT) else page}:{number}: {target}"
        if not destination.exists():
            problems.append(f"{where}: no such file")
        elif fragment and destination.suffix == ".md" and fragment not in anchors(destination.read_text()):
            problems.append(f"{where}: no heading #{fragment} in {destination.name}")
    return problems


# ---------------------------------------------------------------------- the checks
def test_there_are_pages_and_links_to_check() -> None:
    assert len(PAGES) > 10
    assert sum(len(links(page.read_text())) for page in PAGES) > 30


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_leads_to_a_file_and_heading_that_exist(page: Path) -> None:
    assert broken_links(page) == []


def test_the_readme_links_to_every_docs_page() -> None:
    readme = (ROOT / "README.md").read_text()
    linked = {(ROOT / target.partition("#")[0]).resolve() for _, target in links(readme) if not EXTERNAL.match(target)}

    assert {page for page in PAGES if page.parent.name == "docs"} - linked == set()


def test_the_readme_reads_in_five_minutes() -> None:
    assert len((ROOT / "README.md").read_text().splitlines()) <= 200


def test_the_readme_starts_with_the_two_commands() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    first_section = next(i for i, line in enumerate(lines) if line.startswith("## "))
    section_end = next((i for i, line in enumerate(lines) if line.startswith("## ") and i > first_section), len(lines))
    commands = [i for i, line in enumerate(lines) if re.match(r"make (demo|test)\b", line)]

    assert {lines[i].split()[1] for i in commands if first_section < i < min(section_end, 40)} == {"demo", "test"}


# ---------------------------------------------------------------------- the checker itself
def test_anchors_follow_githubs_rules() -> None:
    text = "# Benchmark (`make bench`)\n\n## What it does\n\n## What it does\n\n```\n## not a heading\n```\n"

    assert anchors(text) == {"benchmark-make-bench", "what-it-does", "what-it-does-1"}
    assert anchor("Sandbox divergences: where AWS is silent") == "sandbox-divergences-where-aws-is-silent"
    assert anchor("Compared with SageMaker's deployment guardrails") == "compared-with-sagemakers-deployment-guardrails"
    assert anchor("Serverless endpoints and batch transform") == "serverless-endpoints-and-batch-transform"


def test_a_broken_link_is_found(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other page\n\n## A heading, with punctuation\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n"
        "[fine](other.md) [fine](other.md#a-heading-with-punctuation) [fine](#page) [web](https://example.com)\n"
        "[missing file](nowhere.md) [missing heading](other.md#no-such-heading) [missing here](#nothing)\n"
        "`[in code](ignored.md)`\n\n```\n[in a block](ignored.md)\n```\n"
    )

    problems = broken_links(page)

    assert [problem.split(": ", 1)[1] for problem in problems] == [
        "nowhere.md: no such file",
        "other.md#no-such-heading: no heading #no-such-heading in other.md",
        "#nothing: no heading #nothing in page.md",
    ]
