"""The documentation holds together: every relative link in README.md and docs/*.md resolves
(to a file, and to a heading where it names one), and every `vcm ...` command line shown
names real commands and options of the CLI (walked with typer's click command)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer.main

from vcm.cli import app

REPOSITORY = Path(__file__).resolve().parents[1]
PAGES = [REPOSITORY / "README.md", *sorted((REPOSITORY / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
INLINE_CODE = re.compile(r"`([^`]+)`")


def page_id(path: Path) -> str:
    return str(path.relative_to(REPOSITORY))


def heading_anchors(path: Path) -> set[str]:
    """GitHub's anchors for the headings of a Markdown file: lower case, punctuation other
    than '-' and '_' dropped, spaces to '-'."""
    anchors = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if match := re.match(r"^#+\s+(.*)$", line):
            text = match.group(1).strip().lower()
            anchors.add(re.sub(r"\s", "-", re.sub(r"[^\w\- ]", "", text)))
    return anchors


def relative_links(path: Path) -> list[str]:
    return [target for target in LINK.findall(path.read_text(encoding="utf-8"))
            if not re.match(r"^[a-z]+:", target)]


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_relative_link_resolves(page):
    problems = []
    for target in relative_links(page):
        file_part, _, anchor = target.partition("#")
        resolved = (page.parent / file_part).resolve() if file_part else page
        if not resolved.exists():
            problems.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in heading_anchors(resolved):
            problems.append(f"{target}: no heading with anchor #{anchor}")
    assert problems == []


def test_the_link_check_sees_links_and_anchors():
    readme = REPOSITORY / "README.md"
    assert "docs/install.md" in relative_links(readme)
    assert "headline-results" in heading_anchors(readme)
    assert "the-command-line-in-brief" in heading_anchors(readme)


# ------------------------------------------------------------------------ command lines

def command_lines(text: str) -> list[str]:
    """The `vcm ...` commands shown in a page: lines of code blocks (indented or fenced) and
    inline code spans that start with `vcm ` (or `.venv/bin/vcm `); a line with `|` holds
    several. Comments (` # ...`) are cut off."""
    found = []
    in_fence = False
    for line in text.splitlines():
        if line.strip().startswith("```"):
            in_fence = not in_fence
            continue
        candidates = ([line.strip()] if in_fence or line.startswith("    ")
                      else INLINE_CODE.findall(line))
        for candidate in candidates:
            candidate = re.split(r"\s+#\s", candidate)[0]
            for part in candidate.split("|"):
                part = part.strip().removeprefix(".venv/bin/")
                if part.startswith("vcm "):
                    found.append(part)
    return found


def is_placeholder(word: str) -> bool:
    """An upper-case stand-in (VIDEO, COMMAND, WHEEL_OR_SOURCE) or an ellipsis."""
    return word in ("...", "…") or bool(re.fullmatch(r"[A-Z][A-Z0-9_]*", word))


def option_names(command) -> set[str]:
    names = {"--help"}
    for parameter in command.params:
        names.update(getattr(parameter, "opts", []))
        names.update(getattr(parameter, "secondary_opts", []))
    return names


def command_problems(line: str) -> list[str]:
    """What in ``line`` names no command or option of ``vcm``: the walk follows sub-command
    words from the root, then checks every ``-x``/``--name`` against that command's options."""
    text = line.replace("[", " ").replace("]", " ")
    try:
        words = shlex.split(text)
    except ValueError:
        words = text.split()  # an apostrophe in a stand-in: <folder of one video's files>
    command = typer.main.get_command(app)
    path = ["vcm"]
    problems = []
    rest = words[1:]
    while hasattr(command, "commands") and rest:
        word = rest[0]
        if word.startswith("-"):
            if word.split("=")[0] not in option_names(command):
                problems.append(f"{line}: {' '.join(path)} has no option {word}")
            rest = rest[1:]
            continue
        if is_placeholder(word):
            return problems  # a stand-in for any command: nothing more to check
        if word not in command.commands:
            return problems + [f"{line}: {' '.join(path)} has no command {word!r}"]
        command = command.commands[word]
        path.append(word)
        rest = rest[1:]
    if hasattr(command, "commands"):
        return problems  # a group named alone (`vcm models`)
    known = option_names(command)
    for word in rest:
        if word == "--":
            break  # the rest goes to another program (vcm sweep ... -- SNAKEMAKE_ARGS)
        if re.match(r"^--?[A-Za-z]", word) and word.split("=")[0] not in known:
            problems.append(f"{line}: {' '.join(path)} has no option {word}")
    return problems


def test_the_command_check_finds_wrong_commands_and_options():
    assert command_problems("vcm encode in.mkv --codec vvenc --qp 32 -o out.266") == []
    assert command_problems("vcm evaluate track t.txt --gt gt.txt --no-progress") == []
    assert command_problems("vcm -v pose VIDEO DETS -o p.json") == []
    assert command_problems("vcm sweep configs/ci.yaml -- --dry-run") == []
    assert command_problems("vcm COMMAND --anything") == []
    assert command_problems("vcm encode in.mkv --speed 3") == [
        "vcm encode in.mkv --speed 3: vcm encode has no option --speed"]
    assert command_problems("vcm evaluate posture x") == [
        "vcm evaluate posture x: vcm evaluate has no command 'posture'"]
    assert command_lines("    vcm codecs | vcm detectors   # lists\nsee `vcm track --tracker iou`"
                         " and `vcm`\n```\n.venv/bin/vcm config c.yaml\n```\n") == [
        "vcm codecs", "vcm detectors", "vcm track --tracker iou", "vcm config c.yaml"]


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_command_line_names_real_commands_and_options(page):
    lines = command_lines(page.read_text(encoding="utf-8"))
    problems = [problem for line in lines for problem in command_problems(line)]
    assert problems == []


def test_the_readme_and_cli_page_show_commands():
    assert len(command_lines((REPOSITORY / "README.md").read_text())) >= 10
    assert len(command_lines((REPOSITORY / "docs" / "cli.md").read_text())) >= 30
