"""The command line as a newcomer meets it: it never destroys what it did not write, and it says what it does.

* ``plan --out`` replaces only an earlier plan; a folder with anything else in it is refused with one line and
  left exactly as it was (``--out .`` in a checkout used to wipe the checkout).
* A failed run leaves the earlier output untouched (written to a temporary folder, moved in on success).
* ``urbanstack`` alone prints help and exits 0; ``--version``; help shows placeholders, not Python types; every
  command documents its exit codes; piped output is never cut at 80 columns.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalogue.paths import ROOT
from clikit.outdir import MARKER, OutputRefused, replace_owned
from urbanstack.cli import EXIT_CODES, app

runner = CliRunner()


def _tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_plan_refuses_a_folder_it_did_not_write_and_leaves_it_untouched(tmp_path):
    target = tmp_path / "work"
    (target / "src").mkdir(parents=True)
    (target / "src" / "main.py").write_text("print('mine')\n")
    (target / "notes.txt").write_text("keep me\n")
    before = _tree(target)
    result = runner.invoke(app, ["plan", "--out", str(target)])
    assert result.exit_code == 1
    assert "not written by urbanstack" in result.output
    assert "Traceback" not in result.output
    assert _tree(target) == before


def test_plan_out_dot_in_a_checkout_is_refused(tmp_path, monkeypatch):
    (tmp_path / "README.md").write_text("a checkout\n")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["plan", "--out", "."])
    assert result.exit_code == 1
    assert (tmp_path / "README.md").read_text() == "a checkout\n"
    assert len(result.output.strip().splitlines()) == 1


def test_plan_refuses_a_file_as_output(tmp_path):
    target = tmp_path / "plan"
    target.write_text("x")
    result = runner.invoke(app, ["plan", "--out", str(target)])
    assert result.exit_code == 1 and "not a folder" in result.output
    assert target.read_text() == "x"


def test_a_plan_replaces_an_earlier_plan_but_not_a_file_added_beside_it(tmp_path):
    target = tmp_path / "plan"
    first = runner.invoke(app, ["plan", "--out", str(target), "--stack", "shared"])
    assert first.exit_code == 0, first.output
    listed = (target / MARKER).read_text().splitlines()
    assert listed[0] == "# plan" and "shared/resources.json" in listed, "the marker lists every file it wrote"
    assert runner.invoke(app, ["plan", "--out", str(target), "--stack", "shared"]).exit_code == 0
    (target / "mine.txt").write_text("not the plan's\n")
    refused = runner.invoke(app, ["plan", "--out", str(target), "--stack", "shared"])
    assert refused.exit_code == 1 and "mine.txt" in refused.output
    assert (target / "mine.txt").read_text() == "not the plan's\n"


def test_a_file_of_the_user_one_folder_down_is_never_deleted(tmp_path):
    """Issue 25 item 6: `plan --out` deleted build/plan/verl/notes.txt (the stack folder was replaced whole)."""
    target = tmp_path / "plan"
    with replace_owned(target, "plan") as staging:
        (staging / "verl" / "chart-x").mkdir(parents=True)
        (staging / "verl" / "resources.json").write_text("{}\n")
        (staging / "verl" / "chart-x" / "a.yaml").write_text("kind: A\n")
    for note in (target / "verl" / "notes.txt", target / "verl" / "chart-x" / "notes.txt"):
        note.write_text("my notes\n")
        refused = f"holds files urbanstack did not write \\({note.relative_to(target)}\\)"
        with pytest.raises(OutputRefused, match=refused), replace_owned(target, "plan") as staging:
            (staging / "verl").mkdir()
            (staging / "verl" / "resources.json").write_text("{}\n")
        assert note.read_text() == "my notes\n"
        note.unlink()
    with replace_owned(target, "plan") as staging:
        (staging / "verl").mkdir()
        (staging / "verl" / "resources.json").write_text("[]\n")
    assert _tree(target) == {"verl/resources.json": "[]\n", MARKER: "# plan\nverl/resources.json\n"}


def test_an_output_folder_whose_marker_lists_folders_only_is_refused_with_what_to_do(tmp_path):
    target = tmp_path / "plan"
    (target / "verl").mkdir(parents=True)
    (target / "verl" / "notes.txt").write_text("my notes\n")
    (target / MARKER).write_text("# plan\nverl\n")
    with pytest.raises(OutputRefused, match="lists folders, not files \\(verl\\)"), replace_owned(target, "plan"):
        pass
    assert (target / "verl" / "notes.txt").read_text() == "my notes\n"


def test_plan_stack_plans_that_municipality_after_shared_only(tmp_path):
    result = runner.invoke(app, ["plan", "--out", str(tmp_path / "p"), "--stack", "verl"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "p").iterdir() if p.is_dir()) == ["shared", "verl"]
    # Progress is plain lines when not on a terminal: one per stack, with n of N.
    assert "plan [1/2] shared" in result.output and "plan [2/2] verl" in result.output


def test_progress_says_done_only_when_done_and_labels_read_as_points_in_time(tmp_path):
    """Issue 25 item 10: `plan` said "done" before writing the plan files (seconds of silence followed), and
    "verl (6.4 s)" read like verl's duration while it was the time since the start."""
    result = runner.invoke(app, ["plan", "--out", str(tmp_path / "p"), "--stack", "verl"])
    assert result.exit_code == 0, result.output
    steps = [ln for ln in result.output.splitlines() if ln.startswith("plan")]
    assert [re.sub(r"\d+\.\d s", "T", ln) for ln in steps] == [
        "plan [1/2] shared (after T)", "plan [2/2] verl (after T)", "plan: write the plan files (after T)",
        "plan: done in T (longest step: " + steps[-1].split("(longest step: ")[1].rsplit(" ", 2)[0] + " T)"]
    assert (tmp_path / "p" / "verl" / "resources.json").is_file()


def test_plan_of_an_unknown_stack_is_a_usage_error(tmp_path):
    result = runner.invoke(app, ["plan", "--out", str(tmp_path / "p"), "--stack", "bielefeld"])
    assert result.exit_code == 2
    assert "valid stacks are shared, rheda-wiedenbrueck" in result.output
    assert "shared.stadt-guetersloh, guetersloh.stadt-guetersloh" in result.output
    assert not (tmp_path / "p").exists()


def test_a_failed_run_leaves_the_earlier_output_as_it_was(tmp_path):
    target = tmp_path / "out"
    with replace_owned(target, "costs report") as staging:
        (staging / "statement.csv").write_text("old\n")
    with pytest.raises(RuntimeError), replace_owned(target, "costs report") as staging:
        (staging / "statement.csv").write_text("half\n")
        raise RuntimeError("source failed")
    assert (target / "statement.csv").read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"], "no temporary folder is left behind"


def test_one_command_never_replaces_another_commands_output(tmp_path):
    with replace_owned(tmp_path / "out", "costs report") as staging:
        (staging / "a.csv").write_text("a\n")
    with pytest.raises(OutputRefused, match="costs report"), replace_owned(tmp_path / "out", "plan"):
        pass


def test_no_arguments_print_help_and_succeed():
    result = runner.invoke(app, [])
    assert result.exit_code == 0
    assert "Usage" in result.output and "plan" in result.output


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith("urbanstack 0.") and "pulumi SDK 3.272.0" in result.output


def _commands(group, prefix=()):
    import typer.main

    click_group = typer.main.get_command(group)

    def walk(cmd, path):
        yield path
        for name, sub in getattr(cmd, "commands", {}).items():
            yield from walk(sub, (*path, name))

    yield from walk(click_group, prefix)


@pytest.mark.parametrize("path", list(_commands(app)), ids=lambda p: " ".join(p) or "urbanstack")
def test_help_shows_placeholders_not_python_types_and_the_exit_codes(path):
    result = runner.invoke(app, [*path, "--help"], terminal_width=200)
    assert result.exit_code == 0
    for python_type in ("<bool>", "<str>", "<int>", "<path>", "<list[", "<float>"):
        assert python_type not in result.output, f"urbanstack {' '.join(path)} --help shows {python_type}"
    assert " ".join(EXIT_CODES.split()) in " ".join(result.output.split()), \
        f"urbanstack {' '.join(path)} --help documents no exit codes"


HELP_IMPORTS = """
import json, sys
from typer.testing import CliRunner
from urbanstack.cli import app
for path in ([], ["costs"], ["costs", "report"], ["costs", "simulate"], ["costs", "focus-check"], ["plan"]):
    assert CliRunner().invoke(app, [*path, "--help"]).exit_code == 0, path
print(json.dumps(sorted(set(sys.modules) & set(sys.argv[1:]))))
"""


def test_help_loads_neither_pulumi_nor_the_tenant_and_price_models_nor_the_cost_engine():
    # Why urbanstack/cli.py and finance/cli.py import inside their commands: --help stays fast.
    # (typer itself loads pydantic; building the tenant schema and price models costs as much again.)
    heavy = ("pulumi", "pulumi_kubernetes", "catalogue.tenants", "catalogue.prices", "duckdb", "pyarrow", "boto3",
             "matplotlib")
    result = subprocess.run([sys.executable, "-c", HELP_IMPORTS, *heavy], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_the_help_names_every_check_the_way_only_takes_it():
    from urbanstack.checks import CHECK_NAMES

    for args in (["--help"], ["check", "--help"]):
        text = " ".join(runner.invoke(app, args, terminal_width=300).output.split())
        for name in CHECK_NAMES:
            assert re.search(rf"[\s:,]{re.escape(name)}[\s,.]", text), f"urbanstack {' '.join(args)}: {name}"


def test_check_help_lists_its_own_options():
    result = runner.invoke(app, ["check", "--help"], terminal_width=200)
    for option in ("--only", "--checkov", "--crd-dir", "--tenants"):
        assert option in result.output


def test_piped_tables_are_never_cut(tmp_path):
    # CliRunner's output is not a terminal, as in a CI log: the longest slug and domain appear whole.
    result = runner.invoke(app, ["tenants", "validate"])
    assert result.exit_code == 0
    assert "rheda-wiedenbrueck" in result.output
    assert "urbanstack.rheda-wiedenbrueck.example" in result.output
    assert "…" not in result.output


def test_make_pulumi_cli_fails_loudly_when_the_installer_cannot_be_downloaded(tmp_path):
    # The installer URL points at a closed loopback port: the download fails at once, with no network use.
    env = {k: v for k, v in os.environ.items() if k != "MAKEFLAGS"}
    env["PATH"] = "/usr/bin:/bin"  # no pulumi on PATH
    result = subprocess.run(
        ["make", "--no-print-directory", "pulumi-cli", "PULUMI_INSTALL_URL=http://127.0.0.1:9/install.sh",
         f"PULUMI_ROOT={tmp_path / 'pulumi'}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    message = result.stdout + result.stderr
    assert "could not download the Pulumi installer" in message
    assert "make plan" in message and "PATH" in message
    assert not (tmp_path / "pulumi").exists(), "nothing half-installed is left behind"


def test_piped_commands_stay_on_one_line_so_they_can_be_copied(tmp_path):
    result = runner.invoke(app, ["tenants", "offboard", "verl", "--dry-run", "--export-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(len(text) > 120 for text in lines), "the long kubectl commands are printed whole"
    commands = [text for text in lines if text.startswith("[") and ": " in text]  # "[phase] title: argv"
    assert commands and all("kubectl" in text for text in commands), "no command is broken over two lines"
    assert not [text for text in lines if text.startswith(" ")], "no wrapped continuation lines"


@pytest.mark.parametrize("folder", ["empty", "build", "missing"])
def test_check_on_a_folder_that_is_not_a_plan_is_one_line_and_a_usage_error(tmp_path, folder):
    """Issue 25 item 11: `check` on an empty or wrong folder reported 51 failures and advised deleting entries from
    the project's own lists."""
    target = tmp_path / folder
    if folder != "missing":
        target.mkdir()
    if folder == "build":
        (target / "costs").mkdir()
        (target / "costs" / "statement.csv").write_text("x\n")
    result = runner.invoke(app, ["check", str(target)])
    assert result.exit_code == 2
    assert len(result.output.splitlines()) == 1, result.output
    assert result.output.startswith(f"{target}: ") and f"`urbanstack plan --out {target}`" in result.output


def test_check_with_a_crd_folder_that_does_not_exist_is_a_usage_error(real_plan_dir, tmp_path):
    """A mistyped --crd-dir was read as "no documented prerequisites" and the check went on."""
    result = runner.invoke(app, ["check", str(real_plan_dir), "--only", "schemas", "--crd-dir", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert result.output.strip() == f"--crd-dir {tmp_path / 'nope'}: no such folder (CRDs of documented cluster " \
                                    "prerequisites, default vendor/crds)"


@pytest.mark.parametrize(("content", "said"), [
    (None, "no such file; focus-check reads a FOCUS Parquet file"),
    (b"BillingPeriodStart,BilledCost\n2026-10-01,1.00\n", "a CSV or text file, not a Parquet file"),
])
def test_focus_check_on_a_csv_or_a_missing_file_is_one_line(tmp_path, content, said):
    path = tmp_path / "export.csv"
    if content is not None:
        path.write_bytes(content)
    result = runner.invoke(app, ["costs", "focus-check", str(path)])
    assert result.exit_code == 2
    assert result.output == f"{path}: {said}" + result.output.split(said, 1)[1], result.output
    assert len(result.output.splitlines()) == 1 and "Traceback" not in result.output


def test_focus_check_on_a_broken_parquet_file_is_one_line_without_the_validators_traceback(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1" + b"\0" * 16)
    result = runner.invoke(app, ["costs", "focus-check", str(path)])
    assert result.exit_code == 1
    assert len(result.output.splitlines()) == 1 and "Traceback" not in result.output, result.output
    assert result.output.startswith(f"focus-validator failed on {path}: ")


def test_piped_help_and_usage_errors_are_never_wrapped_or_boxed():
    """Issue 25 item 14: piped `--help` and usage errors were wrapped at 80 columns inside boxes."""
    env = {**os.environ, "COLUMNS": "80"}
    env.pop("TERMINAL_WIDTH", None)
    cli = [sys.executable, "-m", "urbanstack.cli"]
    helped = subprocess.run([*cli, "plan", "--help"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0
    compare = next(ln for ln in helped.stdout.splitlines() if ln.strip().startswith("--compare"))
    assert compare.rstrip().endswith("report every change the API server would refuse or that replaces an "
                                      "object (protected ones included)."), helped.stdout
    assert " ".join(EXIT_CODES.split()) in helped.stdout, "the exit codes on one line"
    assert not set("╭╰│─") & set(helped.stdout)
    wrong = subprocess.run([*cli, "plan", "--bogus"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert wrong.returncode == 2
    assert "Error: No such option: --bogus" in wrong.stderr.splitlines()[-1]
    assert not set("╭╰│─") & set(wrong.stderr)


def test_the_plan_summary_is_a_narrow_table_and_one_line_of_kinds_per_stack(tmp_path):
    result = runner.invoke(app, ["plan", "--out", str(tmp_path / "p"), "--stack", "shared"])
    assert result.exit_code == 0, result.output
    table = [ln for ln in result.output.splitlines() if ln[:1] in "┏┃┡│└"]
    assert table and max(len(ln) for ln in table) < 80, table
    [kinds] = [ln for ln in result.output.splitlines() if ln.startswith("shared: ")]
    assert "CephCluster 1" in kinds and "NetworkPolicy " in kinds


def test_tenants_help_names_every_tenants_command():
    """Issue 25 item 15: `tenants --help` said "validate, create, offboard" and left out restore."""
    result = runner.invoke(app, ["tenants", "--help"])
    lines = [ln.strip(" │") for ln in result.output.splitlines() if ln.strip(" │")]
    summary = lines[next(i for i, ln in enumerate(lines) if ln.startswith("Usage:")) + 1]
    assert all(word in summary for word in ("validate", "create", "offboard", "restore")), summary


def test_on_a_terminal_long_lines_break_between_words_and_help_paragraphs_wrap_at_its_width(monkeypatch):
    """Issue 25 item 14: a long line on a terminal was cut mid-word by the terminal; a help summary broke where
    the docstring had a line break ("… then (with --release) lock" / "what stays …")."""
    import io

    from clikit import console

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setenv("COLUMNS", "40")
    screen = Terminal()
    monkeypatch.setattr(sys, "stdout", screen)
    text = "plan: CephBlockPool 1, CephCluster 1, CephObjectStore 1, NetworkPolicy 42, StorageClass 2"
    console.line(text)
    rows = screen.getvalue().splitlines()
    assert len(rows) > 1 and all(len(r) <= 40 for r in rows), rows
    assert " ".join(rows).split() == text.split(" "), "no word is cut"

    def commands(group):
        yield from group.registered_commands
        for sub in group.registered_groups:
            yield from commands(sub.typer_instance)

    for command in commands(app):
        first = (command.help or "").split("\n\n")[0]
        assert "\n" not in first, (command.name, first)
