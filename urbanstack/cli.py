"""``urbanstack``: the command line of the Urban Stack (tenants, offline plan, deployments, docs, costs).

Each command imports what it needs inside its function (Pulumi, the tenant schema, the plan, the cost engine),
so ``urbanstack --help`` stays fast (``tests/test_cli.py`` holds it to that).
"""

from __future__ import annotations

import sys
import time
from importlib.metadata import version as _dist_version
from pathlib import Path, PurePath
from typing import Annotated

import typer
import typer.core
from rich.table import Table

from urbanstack.console import err, line, out, progress

EXIT_CODES = ("Exit codes: 0 ok; 1 problems found (invalid input, failed checks or deployments, refused "
              "output folder); 2 usage error (unknown option or stack).")


def _human_type(self, ctx) -> str | None:
    """Help shows conventional placeholders (TEXT, INTEGER, PATH, A|B), never Python types like ``<bool>``."""
    desc = self.type_descriptor
    if getattr(self, "is_flag", False) or getattr(self, "is_bool_flag", False):
        return None
    if desc.is_choice and desc.choices:
        return "|".join(str(getattr(c, "value", c)) for c in desc.choices)
    annotation = desc.annotation
    inner = typer.core.get_args(annotation)[0] if desc.is_list and typer.core.get_args(annotation) else annotation
    is_path = desc.is_path or (isinstance(inner, type) and issubclass(inner, PurePath))
    label = {int: "INTEGER", float: "NUMBER", bool: "BOOLEAN"}.get(inner, "PATH" if is_path else "TEXT")
    # A list argument takes several values; a list option is repeated (its help says so).
    return f"{label}..." if desc.is_list and isinstance(self, typer.core.TyperArgument) else label


# typer 0.29 prints the annotation (``<list[Path]>``); one place turns it into the usual metavar.
typer.core.TyperOption.display_type = _human_type
typer.core.TyperArgument.display_type = _human_type

app = typer.Typer(help="Urban Stack: shared urban data platform for several municipalities.",
                  epilog=EXIT_CODES, pretty_exceptions_enable=False, add_completion=False)
tenants_app = typer.Typer(help="Tenant files: validate, create, offboard.", no_args_is_help=True, epilog=EXIT_CODES)
docs_app = typer.Typer(help="Generated reference docs (tenant file, shared config, modules, versions).",
                       no_args_is_help=True, epilog=EXIT_CODES)
app.add_typer(tenants_app, name="tenants")
app.add_typer(docs_app, name="docs")


def _version(value: bool) -> None:
    if value:
        line(f"urbanstack {_dist_version('urbanstack')} (pulumi SDK {_dist_version('pulumi')}, "
             f"pulumi-kubernetes {_dist_version('pulumi-kubernetes')})")
        raise typer.Exit(0)


@app.callback(invoke_without_command=True)
def _main(
    ctx: typer.Context,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.", callback=_version,
                                          is_eager=True)] = False,
) -> None:
    """Urban Stack: shared urban data platform for several municipalities."""
    if ctx.invoked_subcommand is None:
        # No command: the help, and success (nothing went wrong).
        out.print(ctx.get_help(), markup=False, highlight=False)
        raise typer.Exit(0)


def _problems(problems) -> None:
    for p in problems:
        # One line per problem, FILE:LINE: field.path: message; no markup interpretation.
        line(str(p), to_err=True)


@tenants_app.command("validate")
def tenants_validate(
    paths: Annotated[list[Path] | None, typer.Argument(help="Tenant files or folders (default: tenants/).")] = None,
) -> None:
    """Validate tenant files: exit 0 with a summary, or 1 with one line per problem."""
    from catalogue.tenants import TenantError, load_all

    try:
        tenants = load_all(paths or None)
    except TenantError as exc:
        _problems(exc.problems)
        err.print(f"{len(exc.problems)} problem(s); nothing is valid until all are fixed.", style="red")
        raise typer.Exit(1) from None
    table = Table(title=f"{len(tenants)} valid tenant file(s)")
    for col in ("slug", "name", "AGS", "population", "plan", "modules", "domain"):
        table.add_column(col)
    for t in tenants.values():
        table.add_row(t.slug, t.name, t.ags, f"{t.population:,}".replace(",", "."), t.plan,
                      ", ".join(t.booked()) or "–", t.domain)
    out.print(table)


@tenants_app.command("new")
def tenants_new(
    slug: Annotated[str, typer.Argument(help="Short name; becomes file name, namespace, realm, stack.")],
    name: Annotated[str, typer.Option(help="Display name, e.g. 'Halle (Westf.)'.")],
    ags: Annotated[str, typer.Option(help="Amtlicher Gemeindeschlüssel (8 digits).")],
    population: Annotated[int, typer.Option(help="Inhabitants.")],
    domain: Annotated[str, typer.Option(help="DNS name for <module>.<domain>.")],
    population_date: Annotated[str, typer.Option(help="Reference date of the population (ISO).")] = "",
    cost_center: Annotated[str, typer.Option(help="Kostenstelle.")] = "",
    contact_name: Annotated[str, typer.Option(help="Responsible person or office.")] = "IT",
    contact_email: Annotated[str, typer.Option(help="Contact e-mail (default: it@<domain>).")] = "",
    admin: Annotated[str, typer.Option(help="First realm admin e-mail (default: contact e-mail).")] = "",
    plan: Annotated[str, typer.Option(help="small | medium | large.")] = "small",
    directory: Annotated[Path, typer.Option("--dir", help="Folder of tenant files.")] = Path("tenants"),
) -> None:
    """Write a new, valid, commented tenant file, checked against the files already there (never overwrites)."""
    from catalogue.tenants import NotWritten, new_tenant

    try:
        target = new_tenant(directory, slug, name=name, ags=ags, population=population, domain=domain,
                            population_date=population_date, cost_center=cost_center, contact_name=contact_name,
                            contact_email=contact_email, admin=admin, plan=plan)
    except NotWritten as exc:
        for line in exc.lines:
            err.print(line, markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    out.print(f"wrote {target}; next: book modules, then `urbanstack tenants validate`", markup=False)


@tenants_app.command("offboard")
def tenants_offboard(
    slug: Annotated[str, typer.Argument(help="The municipality to offboard.")],
    export_dir: Annotated[Path, typer.Option(help="Where the export is written.")] = Path("build/offboarding"),
    release: Annotated[bool, typer.Option(help="After backup and export, release protection (irreversible path).")] = False,
    dry_run: Annotated[bool, typer.Option(help="Only print the steps.")] = False,
    s3_endpoint: Annotated[str | None, typer.Option(
        help="S3 endpoint reachable from here for the bucket copy (rook-ceph: a port-forward of the RGW).")] = None,
) -> None:
    """Offboard a municipality: final backup, export of every data store, checksums, then (with --release)
    lock what stays and release protection."""
    from urbanstack.offboard import OffboardError, run

    try:
        for step in run(slug, export_dir, release=release, dry_run=dry_run, s3_endpoint=s3_endpoint):
            line(step)
    except OffboardError as exc:
        line(str(exc), to_err=True)
        raise typer.Exit(1) from None


@tenants_app.command("restore")
def tenants_restore(
    slug: Annotated[str, typer.Argument(help="The municipality whose database is restored.")],
    to: Annotated[str | None, typer.Option("--to", help="Point in time (ISO 8601; UTC without a zone); "
                                            "default: the end of the archived WAL.")] = None,
    source: Annotated[str, typer.Option("--from", help="ObjectStore with the backups.")] = "backup-store",
    switch_to: Annotated[str | None, typer.Option("--switch", help="Make this recovery cluster's data the "
                                                   "running cluster's (after checking it).")] = None,
    work_dir: Annotated[Path, typer.Option(help="Where manifests and dumps are written.")] = Path("build/restore"),
    dry_run: Annotated[bool, typer.Option(help="Only print the steps and manifests.")] = False,
) -> None:
    """Restore a municipality's database: a recovery cluster beside the running one, then (--switch) the switch."""
    from urbanstack.restore import RestoreError, restore, switch

    try:
        lines = (switch(slug, work_dir, switch_to, dry_run=dry_run) if switch_to
                 else restore(slug, work_dir, to=to, source=source, dry_run=dry_run))
        for text in lines:
            line(text)
    except RestoreError as exc:
        line(str(exc), to_err=True)
        raise typer.Exit(1) from None


@app.command("plan")
def plan(
    out_dir: Annotated[Path, typer.Option(
        "--out", help="Folder for the plan: new, empty, or an earlier plan (only that is replaced).")] = Path("build/plan"),
    tenants: Annotated[Path | None, typer.Option(help="Folder of tenant files (default: tenants/).")] = None,
    stack: Annotated[str | None, typer.Option(help="Plan only this stack (shared, or a slug: then shared too).")] = None,
    compare: Annotated[Path | None, typer.Option(
        "--compare", help="An earlier plan: report every change the API server would refuse or that replaces "
                          "an object (protected ones included).")] = None,
) -> None:
    """Run every stack (shared, then each municipality) offline under Pulumi's mocks and write the plan."""
    from catalogue.tenants import TenantError
    from urbanstack import compare as cmp
    from urbanstack.outdir import OutputRefused, check_target
    from urbanstack.plan import UnknownStack, plan_all, write_plan

    try:
        check_target(out_dir, "plan")  # refuse before minutes of planning, not after
        before = cmp.snapshot(compare) if compare is not None else None  # read first: --out may be the same folder
        with progress("plan") as step:
            plans = plan_all(tenants, only=stack, step=step)
        written = write_plan(plans, out_dir)
    except TenantError as exc:
        _problems(exc.problems)
        raise typer.Exit(1) from None
    except OutputRefused as exc:
        line(str(exc), to_err=True)
        raise typer.Exit(1) from None
    except (UnknownStack, FileNotFoundError) as exc:
        line(str(exc), to_err=True)
        raise typer.Exit(2) from None
    table = Table(title=f"Offline plan in {out_dir}")
    for col in ("stack", "resources", "k8s objects", "kinds"):
        table.add_column(col)
    for w in written:
        table.add_row(w.stack, str(w.resources), str(w.objects), ", ".join(f"{k} {n}" for k, n in w.kinds.items()))
    out.print(table)
    line("No cluster, no Pulumi CLI and no Pulumi engine were used: the programs ran under Pulumi's "
         "unit-test mocks (pulumi.runtime.set_mocks).")
    if before is not None:
        changes = cmp.compare(before, cmp.snapshot(out_dir))
        for change in changes:
            line(str(change))
        line(f"{len(changes)} change(s) against {compare} the API server refuses or that replace an object")
        if changes:
            raise typer.Exit(1)


@app.command("up")
def up(
    stack: Annotated[str | None, typer.Option(help="Deploy only this stack (shared or a slug).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Deploy shared, then every municipality.")] = False,
    parallel: Annotated[int, typer.Option(help="Municipality stacks deployed at the same time.", min=1)] = 1,
) -> None:
    """Deploy for real through the Pulumi Automation API (needs the Pulumi CLI; `make up` installs it)."""
    from catalogue.tenants import TenantError, load_all
    from urbanstack.deploy import CliMissing
    from urbanstack.deploy import up as do_up

    if bool(stack) == all_:
        err.print("give exactly one of --stack NAME or --all", markup=False)
        raise typer.Exit(2)
    try:
        tenants = load_all()
    except TenantError as exc:
        _problems(exc.problems)
        raise typer.Exit(1) from None
    valid = ["shared", *tenants]
    if stack and stack not in valid:
        err.print(f"unknown stack '{stack}': valid stacks are {', '.join(valid)}", markup=False)
        raise typer.Exit(2)
    targets = valid if all_ else [stack]
    from urbanstack.deploy import describe_target

    line(describe_target())
    started, finished = time.monotonic(), []

    def say(s: str, text: str) -> None:
        # Progress in every line: stacks finished of all, elapsed time, then the stack's own output.
        if text.startswith("finished: "):
            finished.append(s)
        line(f"[{len(finished)}/{len(targets)} done, {time.monotonic() - started:.0f} s] [{s}] {text}")

    try:
        results = do_up(targets, parallel, say)
    except CliMissing as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(1) from None
    failed = [r for r in results if not r.ok]
    # Every stack's result, in deployment order (deploy.up never drops one), then the verdict.
    for r in results:
        out.print(f"{'ok    ' if r.ok else 'FAILED'} {r.stack}: {r.summary}", markup=False, highlight=False)
    if failed:
        line(f"{len(failed)} of {len(results)} stack(s) failed: {', '.join(r.stack for r in failed)}", to_err=True)
        raise typer.Exit(1)


@app.command("check")
def check(
    plan_dir: Annotated[Path, typer.Argument(help="A written offline plan (urbanstack plan).")] = Path("build/plan"),
    only: Annotated[list[str] | None, typer.Option(help="Run only this check (repeatable).")] = None,
    checkov: Annotated[Path | None, typer.Option(help="checkov executable (default: .venv-checkov/bin/checkov).")] = None,
    crd_dir: Annotated[Path | None, typer.Option(help="CRD JSON schemas (default: vendor/crds).")] = None,
    tenants: Annotated[Path | None, typer.Option(help="Folder of tenant files (default: tenants/).")] = None,
) -> None:
    """Every check over a written plan (the names --only takes): schemas, checkov, labels, reachability, policies,
    pod-security, rbac, api-validation, references, paths."""
    from urbanstack.checks.command import run

    raise typer.Exit(run(plan_dir, only=only, checkov=checkov, crd_dir=crd_dir, tenants=tenants))


@docs_app.command("write")
def docs_write() -> None:
    """Regenerate docs/tenant-file.md, docs/shared-config.md, docs/modules.md, docs/versions.md, the schema."""
    from urbanstack.docs import write

    for p in write():
        out.print(f"wrote {p}", markup=False)


@docs_app.command("check")
def docs_check() -> None:
    """Exit 1 when a generated doc is stale."""
    from urbanstack.docs import stale

    bad = stale()
    for p in bad:
        err.print(f"{p}: stale; run `urbanstack docs write`", markup=False)
    if bad:
        raise typer.Exit(1)


def _register_costs() -> None:
    try:
        from finance.cli import app as costs_app
    except ImportError:  # pragma: no cover - finance is part of this package
        return
    app.add_typer(costs_app, name="costs", epilog=EXIT_CODES)


def _document_exit_codes(*groups: typer.Typer) -> None:
    """Every command's --help ends with the exit codes (one rule, also for commands added later)."""
    for group in groups:
        for command in group.registered_commands:
            command.epilog = command.epilog or EXIT_CODES
        _document_exit_codes(*(g.typer_instance for g in group.registered_groups))


_register_costs()
_document_exit_codes(app)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
