"""The README is a front door and docs/ is a MkDocs site: both stay true to the code.

- the README stays short (at most 250 lines);
- every `zoo ...` command the README and docs/*.md show in a shell block parses with the real
  CLI (subcommand, model name, every option and its value), without running it;
- every snippet include (`--8<-- "path"`) names a file that exists, and a table pasted where a
  results file holds the same kind of table is that file's table;
- the README's links into docs/ reach a page and a heading;
- `mkdocs build --strict` passes (where mkdocs is installed).
"""
import re
import shlex
import subprocess
import sys
from pathlib import Path

import click
import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
RESULTS = ROOT / "benchmarks" / "results"
SHELL_LANGUAGES = {"bash", "sh", "shell", "console"}
SNIPPET = re.compile(r'^\s*-{1,}8<-{1,}\s+"([^"]+)"\s*$')


def _pages():
    return [README, *sorted(DOCS.glob("*.md"))]


def _fenced_blocks(text):
    """(language, [lines]) of every fenced code block."""
    blocks, language, lines = [], None, None
    for line in text.splitlines():
        fence = re.match(r"^\s*(`{3,}|~{3,})\s*([\w+-]*)", line)
        if fence and lines is None:
            language, lines = fence.group(2).lower(), []
        elif fence and lines is not None:
            blocks.append((language, lines))
            language, lines = None, None
        elif lines is not None:
            lines.append(line)
    return blocks


def _joined(lines):
    """Shell lines with backslash continuations joined."""
    out, pending = [], ""
    for line in lines:
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        out.append(pending + line)
        pending = ""
    if pending:
        out.append(pending)
    return out


def zoo_commands(text):
    """The argument lists of the `zoo ...` commands in a page's shell blocks (and `$ zoo` lines in any block).

    A line may chain commands with `&&`, `;` or `|` and set environment variables first; `# ...`
    comments are dropped. Optional parts written as `[--runtime onnx|tflite]` are read as given,
    with the first alternative.
    """
    commands = []
    for language, lines in _fenced_blocks(text):
        for line in _joined(lines):
            stripped = line.strip()
            prompt = stripped.startswith("$ ")
            if prompt:
                stripped = stripped[2:]
            if language not in SHELL_LANGUAGES and not (prompt and stripped.startswith("zoo ")):
                continue
            if not re.search(r"\bzoo\b", stripped):
                continue
            lexer = shlex.shlex(stripped, posix=True, punctuation_chars=";&|")
            lexer.whitespace_split = True
            lexer.commenters = "#"
            segment, segments = [], []
            for token in lexer:
                if token in {"&&", "||", ";", "|", "&"}:
                    segments.append(segment)
                    segment = []
                else:
                    segment.append(token)
            segments.append(segment)
            for segment in segments:
                while segment and re.fullmatch(r"[A-Za-z_]\w*=.*", segment[0]):  # VAR=value zoo ...
                    segment = segment[1:]
                if segment and segment[0] == "zoo":
                    args = [token.strip("[]") for token in segment[1:]]
                    commands.append([arg for arg in args if arg])
    return commands


def parse_zoo(args):
    """Parse `zoo ARGS` with the real click tree, down to the leaf command, running nothing.

    Every group resolves its subcommand as click does when it runs (`zoo train NAME` builds the
    model's command from its recipe), and each level parses its own options strictly: an unknown
    command, model or option, a missing argument or a value outside its type raises.
    """
    from zoo.cli import cli

    command, name, parent, rest = cli, "zoo", None, list(args)
    try:
        while True:
            ctx = command.make_context(name, rest, parent=parent)
            if not isinstance(command, click.Group):
                return ctx
            # what is left for the subcommand (click 8.2+ keeps it in _protected_args)
            protected = ctx._protected_args if hasattr(ctx, "_protected_args") else ctx.protected_args
            rest = [*protected, *ctx.args]
            if not rest:
                return ctx
            name, command, rest = command.resolve_command(ctx, rest)
            parent = ctx
    except click.exceptions.Exit as done:  # --help, --version: the names were all right
        if done.exit_code != 0:
            raise
        return None


def _all_commands():
    found = []
    for page in _pages():
        for args in zoo_commands(page.read_text()):
            found.append(pytest.param(args, id=f"{page.name}: zoo {' '.join(args)}"[:120]))
    return found


def test_readme_is_a_front_door():
    lines = README.read_text().splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines; the rest belongs in docs/"


def test_the_pages_show_zoo_commands():
    commands = [args for page in _pages() for args in zoo_commands(page.read_text())]
    assert len(commands) >= 30
    assert ["train", "forecaster"] in commands and ["export", "runs/forecaster"] in commands  # the main job


@pytest.mark.parametrize("args", _all_commands())
def test_every_documented_zoo_command_parses(args):
    from zoo.errors import UserError

    try:
        parse_zoo(args)
    except (click.ClickException, UserError) as error:
        message = error.format_message() if isinstance(error, click.ClickException) else str(error)
        pytest.fail(f"zoo {shlex.join(args)}: {message}")


@pytest.mark.parametrize("args, reported", [
    (["export", "runs/forecaster", "--formatt", "onnx"], "--formatt"),            # a misspelt option
    (["train", "forecaster", "--data", "sales.csv", "--horizn", "3"], "--horizn"),  # a misspelt model option
    (["exprt", "runs/forecaster"], "exprt"),                                       # a misspelt command
    (["train", "forcaster"], "forcaster"),                                         # a misspelt model
    (["export", "runs/forecaster", "--quantize", "int4"], "int4"),                 # a value outside the choices
    (["predict", "exports/tagger", "--made-up-option", "x"], "--made-up-option"),
])
def test_a_wrong_command_is_reported(args, reported):
    """The check above catches what a typo in the docs would be: it is not a formality."""
    from zoo.errors import UserError

    with pytest.raises((click.ClickException, UserError)) as raised:
        parse_zoo(args)
    assert reported in str(raised.value) or reported in getattr(raised.value, "format_message", str)()


def test_the_command_finder_reads_chains_prompts_and_continuations():
    text = "\n".join([
        "```bash",
        'python3 -m venv .venv && pip install -e ".[cpu]" && zoo train forecaster && zoo export runs/forecaster',
        "TF_CONFIG='{\"a\": 1}' \\",
        "  zoo train forecaster --strategy multi-worker   # a comment",
        "```",
        "```",
        "$ zoo generate char-lm --seed 1 [--runtime onnx|tflite]",
        "zoo is not a command here",
        "```",
    ])
    assert zoo_commands(text) == [["train", "forecaster"], ["export", "runs/forecaster"],
                                  ["train", "forecaster", "--strategy", "multi-worker"],
                                  ["generate", "char-lm", "--seed", "1", "--runtime", "onnx"]]


def test_snippet_includes_exist():
    includes = []
    for page in DOCS.glob("*.md"):
        for line in page.read_text().splitlines():
            match = SNIPPET.match(line)
            if match:
                path = match.group(1).split(":")[0]  # a line range ("file.md:3:9") names the same file
                includes.append(path)
                assert (ROOT / path).is_file(), f"{page.name} includes {path}, which does not exist"
    assert includes, "the benchmark tables come from benchmarks/results/*.md by snippet includes"
    assert not SNIPPET.search(README.read_text()), "GitHub shows the README as it is: no includes there"


def _tables(text):
    """Markdown tables (header line, whole text) of a page."""
    tables, current = [], []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append((current[0], "\n".join(current)))
            current = []
    return tables


def test_pasted_benchmark_tables_are_the_results_files():
    """Where a page pastes a table of a kind a results file holds (same header), it is that file's table."""
    results = {}
    for path in RESULTS.glob("*.md"):
        for header, table in _tables(path.read_text()):
            results.setdefault(header, []).append((path.name, table))
    checked = 0
    for page in _pages():
        for header, table in _tables(page.read_text()):
            if header in results:
                checked += 1
                assert any(table == theirs for _, theirs in results[header]), (
                    f"{page.name}: a table pasted from {results[header][0][0]} no longer matches it")
    assert checked >= 5


def test_readme_export_summary_is_the_bench_results():
    """The README's latency summary quotes benchmarks/results/bench.md's p50 column."""
    p50 = {}
    for _, table in _tables((RESULTS / "bench.md").read_text()):
        for row in table.splitlines()[2:]:
            cells = [cell.strip() for cell in row.strip("|").split("|")]
            if len(cells) == 11:
                p50[cells[0], cells[1]] = cells[5]
    artifacts = ["keras (tf.function)", "onnx", "tflite", "anchor: keras model.export(onnx)"]
    summary = [table for header, table in _tables(README.read_text()) if "Keras' own ONNX export" in header]
    assert len(summary) == 1
    for row in summary[0].splitlines()[2:]:
        model, *values = [cell.strip() for cell in row.strip("|").split("|")]
        assert values == [p50[model, artifact] for artifact in artifacts], model


def _slug(heading):
    from markdown.extensions.toc import slugify

    return slugify(re.sub(r"[`*]", "", heading), "-")


def test_readme_links_reach_docs_pages_and_headings():
    links = re.findall(r"\]\((docs/[^)#\s]+)(?:#([^)\s]+))?\)", README.read_text())
    assert len(links) >= 10
    for path, anchor in links:
        target = ROOT / path
        assert target.exists(), f"README links to {path}, which does not exist"
        if anchor:
            headings = [line.lstrip("#").strip() for line in target.read_text().splitlines()
                        if re.match(r"#{1,6} ", line)]
            assert anchor in {_slug(h) for h in headings}, f"README links to {path}#{anchor}: no such heading"


def test_mkdocs_builds_strict(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("material")
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                            cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**__import__("os").environ, "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    built = (tmp_path / "site" / "training-speed" / "index.html").read_text()
    assert "zoo:projection" in built  # the included results table is in the page


def _option_names(command, ctx):
    names = {name for param in command.params for name in [*param.opts, *param.secondary_opts]}
    if isinstance(command, click.Group) and command.name == "train":  # every model's own options
        for model in command.list_commands(ctx):
            names |= _option_names(command.get_command(ctx, model), ctx)
    return names | {"--help", "-h"}


def test_options_in_command_tables_exist():
    """The command tables' synopses (`zoo export CHECKPOINT [--format ...]`) name only real options."""
    from zoo.cli import cli

    ctx = click.Context(cli, info_name="zoo")
    checked = 0
    for page in [README, DOCS / "cli.md"]:
        for header, table in _tables(page.read_text()):
            for span in re.findall(r"`(zoo [^`]+)`", table):
                words = span.replace("\\|", "|").split()
                command = cli.get_command(ctx, words[1]) if not words[1].startswith("-") else cli
                assert command is not None, f"{page.name}: {span}: no command {words[1]!r}"
                known = _option_names(command, ctx) | _option_names(cli, ctx)
                for option in re.findall(r"(?<![\w-])--?[a-zA-Z][\w-]*", span):
                    assert option in known, f"{page.name}: {span}: {option} is not an option of zoo {words[1]}"
                    checked += 1
    assert checked >= 40
