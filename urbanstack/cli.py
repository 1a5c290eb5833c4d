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
import typer.rich_utils
from rich.table import Table

from clikit.console import PIPED_WIDTH, err, line, out, progress

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

def _plain_when_piped(rich_format_help):
    """Help on a terminal: typer's panels, fitted to the window. Piped (CI logs, ``| less``, a file): click's plain
    layout with no width limit, so no line is wrapped at 80 columns or cut (typer's rich console is 80 columns
    wide when it is not a terminal, ``typer/rich_utils.py`` ``_get_rich_console``, 0.29.1)."""

    def format_help(self, ctx, formatter) -> None:
        if sys.stdout.isatty():
            return rich_format_help(self, ctx, formatter)
        formatter.width = PIPED_WIDTH
        return super(type(self), self).format_help(ctx, formatter)  # click.Command / click.Group

    return format_help


def _plain_error_when_piped(rich_format_error):
    """Usage errors: typer's panel on a terminal, click's plain lines (never wrapped) when stderr is piped."""

    def format_error(exc) -> None:
        if sys.stderr.isatty():
            return rich_format_error(exc)
        exc.show()

    return format_error


typer.core.TyperCommand.format_help = _plain_when_piped(typer.core.TyperCommand.format_help)
typer.core.TyperGroup.format_help = _plain_when_piped(typer.core.TyperGroup.format_help)
typer.rich_utils.rich_format_error = _plain_error_when_piped(typer.rich_utils.rich_format_error)

app = typer.Typer(help="Urban Stack: shared urban data platform for several municipalities.",
                  epilog=EXIT_CODES, pretty_exceptions_enable=False, add_completion=False)
tenants_app = typer.Typer(help="Tenant files: validate, create, offboard, restore a municipality's database, move it to another cell.", no_args_is_help=True, epilog=EXIT_CODES)
docs_app = typer.Typer(help="Generated reference docs (tenant file, shared config, modules, versions).",
                       no_args_is_help=True, epilog=EXIT_CODES)
vendor_app = typer.Typer(help="Vendored upstream copies (vendor/charts): refresh one from its published release.",
                         no_args_is_help=True, epilog=EXIT_CODES)
app.add_typer(tenants_app, name="tenants")
app.add_typer(docs_app, name="docs")
app.add_typer(vendor_app, name="vendor")
images_app = typer.Typer(help="Container images of catalogue/versions.py: record their digests from the registries.",
                         no_args_is_help=True, epilog=EXIT_CODES)
app.add_typer(images_app, name="images")
gitops_app = typer.Typer(help="GitOps: Pulumi Kubernetes Operator Stacks for a management cluster (docs/gitops.md).",
                         no_args_is_help=True, epilog=EXIT_CODES)
app.add_typer(gitops_app, name="gitops")
# --- platform (identitydata): restore of Keycloak's database ---
platform_app = typer.Typer(help="The shared platform: restore Keycloak's database.", no_args_is_help=True,
                           epilog=EXIT_CODES)
app.add_typer(platform_app, name="platform")


@platform_app.command("restore")
def platform_restore(
    to: Annotated[str | None, typer.Option("--to", help="Point in time (ISO 8601; UTC without a zone); "
                                            "default: the end of the archived WAL.")] = None,
    source: Annotated[str | None, typer.Option("--from", help="ObjectStore with the backups "
                                               "(default: keycloak-db-backup).")] = None,
    switch_to: Annotated[str | None, typer.Option("--switch", help="Make this recovery cluster's data Keycloak's "
                                                   "database (after checking it).")] = None,
    work_dir: Annotated[Path, typer.Option(help="Where manifests and dumps are written.")] = Path("build/restore"),
    dry_run: Annotated[bool, typer.Option(help="Only print the steps and manifests.")] = False,
) -> None:
    """Restore Keycloak's database from its (off-site) backup: a recovery cluster beside the running one, then
    (--switch) the switch."""
    from urbanstack.ops.restore import RestoreError, platform_switch
    from urbanstack.ops.restore import platform_restore as restore_keycloak

    try:
        lines = (platform_switch(work_dir, switch_to, dry_run=dry_run) if switch_to
                 else restore_keycloak(work_dir, to=to, source=source, dry_run=dry_run))
        for text in lines:
            line(text)
    except RestoreError as exc:
        line(str(exc), to_err=True)
        raise typer.Exit(1) from None
# --- end platform ---


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
    """Validate tenant files: exit 0 with a summary, or 1 with one line per problem.

    A single file is also checked against the other files in its folder (slug, AGS and domain must be unique
    there, as plan and up check them)."""
    from catalogue.tenants import TenantError, load_all, tenant_files

    given = list(paths or [Path("tenants")])
    for folder in (p for p in given if p.is_dir()):
        nested = sorted(f for f in folder.rglob("*.y*ml") if f.parent != folder and f.suffix in (".yaml", ".yml"))
        for f in nested:
            line(f"{f}: in a subfolder of {folder}: not read (tenant files lie directly in {folder}/); move it "
                 f"there to make it a member, or out of {folder} to silence this", to_err=True)
        if not tenant_files([folder]):
            line(f"{folder}: no tenant files (*.yaml) in this folder; `urbanstack tenants new SLUG …` writes one",
                 to_err=True)
            raise typer.Exit(1)
    try:
        tenants = load_all(given)
        _against_neighbours([p for p in given if p.is_file()], given)
    except TenantError as exc:
        _problems(exc.problems)
        err.print(f"{len(exc.problems)} problem(s); nothing is valid until all are fixed.", style="red")
        raise typer.Exit(1) from None
    table = Table(title=f"{len(tenants)} valid tenant file(s)")
    for col in ("slug", "name", "AGS", "population", "plan", "modules", "domain"):
        table.add_column(col)
    for t in tenants.values():
        table.add_row(t.slug, t.name, t.ags, f"{t.population:,}".replace(",", "."), t.plan,
                      ", ".join(t.booked()) or "–", t.domain or f"{t.slug}-<module>.<baseDomain>")
    out.print(table)


def _against_neighbours(files: list[Path], given: list[Path]) -> None:
    """Check ``files`` against the other tenant files of their folders (unique slug, AGS, domain; no domain
    inside another's), reporting only the problems of ``files``: a file copied from Verl with Verl's AGS is
    refused when validated alone, as plan would refuse it."""
    from catalogue.tenants import TenantError, check_file, cross_problems, platform_domain, tenant_files

    resolved = {f.resolve() for f in tenant_files(given)}
    problems = []
    for folder in sorted({f.parent for f in files}):
        mine = [f for f in files if f.parent == folder]
        others = [f for f in tenant_files([folder]) if f.resolve() not in resolved]
        if not others:
            continue
        checked = [check_file(f) for f in [*mine, *others]]
        for c in checked[: len(mine)]:
            c.mtime = float("inf")  # a clash is reported on the file asked about, whichever changed last
        names = {str(f) for f in mine}
        problems += [p for p in cross_problems(checked, platform_domain()) if p.file in names]
    if problems:
        raise TenantError(problems)


@tenants_app.command("new")
def tenants_new(
    slug: Annotated[str, typer.Argument(help="Short name; becomes file name, namespace, realm, stack.")],
    name: Annotated[str, typer.Option(help="Display name, e.g. 'Halle (Westf.)'.")],
    ags: Annotated[str, typer.Option(help="Amtlicher Gemeindeschlüssel (8 digits).")],
    population: Annotated[str, typer.Option(
        help="Inhabitants, a whole number: 21000, or with German thousands separators 21.000.")],
    domain: Annotated[str, typer.Option(
        help="The municipality's own DNS name for <module>.<domain> (or --platform-subdomain).")] = "",
    platform_subdomain: Annotated[bool, typer.Option(
        "--platform-subdomain", help="No domain of its own: served as <slug>-<module>.<baseDomain> through the "
        "platform's wildcard certificate (needs --contact-email).")] = False,
    population_date: Annotated[str, typer.Option(help="Reference date of the population (ISO).")] = "",
    cost_center: Annotated[str, typer.Option(help="Kostenstelle.")] = "",
    contact_name: Annotated[str, typer.Option(help="Responsible person or office.")] = "IT",
    contact_email: Annotated[str, typer.Option(help="Contact e-mail (default: it@<domain>).")] = "",
    admin: Annotated[str, typer.Option(help="First realm admin e-mail (default: contact e-mail).")] = "",
    plan: Annotated[str, typer.Option(help="small | medium | large.")] = "small",
    member_since: Annotated[str, typer.Option(
        help="First day of membership, billed from then on (ISO date; default: the first day of next month).")] = "",
    directory: Annotated[Path, typer.Option("--dir", help="Folder of tenant files.")] = Path("tenants"),
) -> None:
    """Write a new, valid, commented tenant file, checked against the files already there (never overwrites)."""
    from catalogue.tenants import NotWritten, new_tenant

    try:
        inhabitants, read_as = whole_number(population, "--population")
        since = _member_since(member_since)
    except ValueError as exc:
        line(str(exc), to_err=True)
        line(f"{directory / (slug + '.yaml')} was not written", to_err=True)
        raise typer.Exit(1) from None
    try:
        target = new_tenant(directory, slug, name=name, ags=ags, population=inhabitants, domain=domain,
                            platform_subdomain=platform_subdomain,
                            population_date=population_date, cost_center=cost_center, contact_name=contact_name,
                            contact_email=contact_email, admin=admin, plan=plan, member_since=since.isoformat())
    except NotWritten as exc:
        for text in exc.lines:
            line(text, to_err=True)
        raise typer.Exit(1) from None
    if read_as:
        line(f"--population {population}: read as {inhabitants} inhabitants ({read_as})")
    line(f"memberSince: {since.isoformat()}: {slug} is billed from {since:%d.%m.%Y} on"
         + ("" if member_since else " (the first day of next month; --member-since chooses another day)"))
    line(f"wrote {target}; next: book modules, then `urbanstack tenants validate`")


_GROUPED = {".": "German thousands separator", " ": "spaces between thousands",
            "\u00a0": "spaces between thousands", "\u202f": "spaces between thousands", "'": "Swiss thousands separator"}


def whole_number(text: str, option: str) -> tuple[int, str]:
    """A whole number as a German writes it: ``21000``, ``21.000`` or ``21 000`` are 21000 (a dot groups
    thousands, it is never a decimal point); ``21,5`` is refused (a decimal comma), and so is anything that can be
    read two ways (``21,000``: 21 in German, 21000 in English). Returns the number and, when separators were
    read, how (said in the command's output), else ``""``. Raises ValueError naming ``option``."""
    import re

    value = text.strip()
    if re.fullmatch(r"\+?\d+", value):
        return int(value), ""
    for sep, words in _GROUPED.items():
        if re.fullmatch(rf"\+?\d{{1,3}}(?:{re.escape(sep)}\d{{3}})+", value):
            return int(re.sub(r"\D", "", value)), f"{words}"
    if re.fullmatch(r"\+?\d{1,3}(?:,\d{3})+", value):
        digits = re.sub(r"\D", "", value)
        german = value.lstrip("+").replace(",", ".", 1).replace(",", "")
        raise ValueError(f"{option}: {text!r} reads two ways: {german.replace('.', ',')} = {float(german):g} in "
                         f"German (decimal comma), {digits} in English (thousands separator); write the digits "
                         f"only, e.g. {digits}")
    if re.fullmatch(r"[+-]?\d+(?:[.]\d{3})*,\d+", value):
        raise ValueError(f"{option}: {text!r} is not a whole number (the comma is a decimal comma); "
                         "write whole digits, e.g. 21000 or 21.000")
    if re.fullmatch(r"-\d[\d.]*", value):
        raise ValueError(f"{option}: {text!r} is negative; expected a whole number like 21000")
    if re.fullmatch(r"\+?\d+\.\d+", value):
        raise ValueError(f"{option}: {text!r}: a dot separates thousands in German (21.000 = 21000), but "
                         f"{value.split('.')[1]!r} are not three digits; write the digits only, e.g. 21000")
    raise ValueError(f"{option}: {text!r} is not a whole number; write digits only, e.g. 21000 (or 21.000)")


def _member_since(text: str):
    """``--member-since`` as a date (German ``1.1.2027`` is pointed to ISO); default: first day of next month."""
    import datetime as dt
    import re

    if not text:
        today = dt.date.today()
        return (today.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    m = re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{4})", text.strip())
    if m:
        raise ValueError(f"--member-since: {text!r} is a German date; write it as "
                         f"{m[3]}-{int(m[2]):02d}-{int(m[1]):02d} (YYYY-MM-DD)")
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"--member-since: {text!r} is not a date like 2027-01-01 (YYYY-MM-DD)") from None


@tenants_app.command("offboard")
def tenants_offboard(
    slug: Annotated[str, typer.Argument(help="The municipality to offboard.")],
    export_dir: Annotated[Path, typer.Option(help="Where the export is written.")] = Path("build/offboarding"),
    release: Annotated[bool, typer.Option(help="After backup and export, release protection (irreversible path).")] = False,
    dry_run: Annotated[bool, typer.Option(help="Only print the steps.")] = False,
    s3_endpoint: Annotated[str | None, typer.Option(
        help="S3 endpoint reachable from here for the bucket copy (rook-ceph: a port-forward of the RGW).")] = None,
    recipient: Annotated[list[str] | None, typer.Option(
        help="age public key (age1…) the export is encrypted to; repeat for several (required).")] = None,
) -> None:
    """Offboard a municipality: realm disabled, final backup, encrypted export of every data store, checksums,
    then (with --release) lock what stays, delete the realm and the off-site backups, release protection."""
    from urbanstack.ops.offboard import OffboardError, run

    try:
        for step in run(slug, export_dir, release=release, dry_run=dry_run, s3_endpoint=s3_endpoint,
                        recipients=recipient or []):
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
    from urbanstack.ops.restore import RestoreError, restore, switch

    try:
        lines = (switch(slug, work_dir, switch_to, dry_run=dry_run) if switch_to
                 else restore(slug, work_dir, to=to, source=source, dry_run=dry_run))
        for text in lines:
            line(text)
    except RestoreError as exc:
        line(str(exc), to_err=True)
        raise typer.Exit(1) from None


@tenants_app.command("move")
def tenants_move(
    slug: Annotated[str, typer.Argument(help="The municipality to move.")],
    to: Annotated[str, typer.Option("--to", help="The cell it moves to: the cell its tenant file names now.")],
    source: Annotated[str | None, typer.Option("--from", help="The cell it is in (default: the last cell of its "
                                                "tenant file's cellHistory).")] = None,
    work_dir: Annotated[Path, typer.Option(help="Where the move's folder (journal, manifests, dumps) is "
                                           "created.")] = Path("build/move"),
    release_source: Annotated[bool, typer.Option(help="After every step is done and checked, release the "
                                                 "source's copy (irreversible path).")] = False,
    dry_run: Annotated[bool, typer.Option(help="Only list the steps and the objects they touch.")] = False,
) -> None:
    """Move a municipality to another cell (shared config urban-stack:cells): freeze, final backup, restore in the
    target from the off-site backup, realm users, bucket and volumes (each checked), cut-over checklist; the source
    stays protected until --release-source. First name the target in the tenant file (cell, and a cellHistory entry
    for the old cell) and deploy its stack there. An interrupted move resumes when run again."""
    from catalogue import cells as cell_names
    from catalogue.shared_config import ConfigError, load_file
    from catalogue.tenants import TenantError, load_all
    from urbanstack.ops.move import MoveError, cells_from_config, prepare, run

    try:
        cfg, tenants = load_file(), load_all()
    except ConfigError as exc:
        line(str(exc), to_err=True)
        raise typer.Exit(1) from None
    except TenantError as exc:
        _problems(exc.problems)
        raise typer.Exit(1) from None
    tenant = tenants.get(slug)
    try:
        if tenant is None:
            raise MoveError(f"{slug!r}: no tenant file tenants/{slug}.yaml")
        now = cell_names.cell_of(cfg, tenant)
        if to != now:
            raise MoveError(f"--to {to!r}: tenants/{slug}.yaml names cell {now!r}. A move follows the file: set "
                            f"`cell: {to}` there, add a cellHistory entry `- {{cell: {now}, until: <the day before the "
                            f"cut-over>}}`, deploy `pulumi up -s {slug if to == cfg.default_cell else f'{slug}.{to}'}`"
                            ", then move (docs/operations.md, Moving a municipality to another cell)")
        if source is None:
            if not tenant.cellHistory:
                raise MoveError(f"--from: tenants/{slug}.yaml has no cellHistory entry naming the cell it leaves; "
                                "add it, or pass --from CELL")
            source = tenant.cellHistory[-1].cell
        move = prepare(slug, cells_from_config(cfg), to, work_dir, source=source, release_source=release_source)
        for text in run(move, dry_run=dry_run):
            line(text)
    except MoveError as exc:
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
    from clikit.outdir import OutputRefused, check_target
    from urbanstack.engine import compare as cmp
    from urbanstack.engine.plan import UnknownStack, crd_summary, plan_all, write_plan

    try:
        check_target(out_dir, "plan")  # refuse before minutes of planning, not after
        before = None
        if compare is not None:  # read first: --out may be the same folder
            asked = {"shared", stack} if stack else None
            old_stacks = set(cmp.plan_stacks(compare))
            if stack and stack not in old_stacks:
                raise cmp.NotAPlan(f"{compare}: a plan of {', '.join(sorted(old_stacks))}, not of {stack}: compare "
                                   f"with a plan that holds {stack} (`urbanstack plan --stack {stack} --out DIR`)")
            before = cmp.snapshot(compare, asked)
        changes = None
        with progress("plan") as step:
            plans = plan_all(tenants, only=stack, step=step)
            step("write the plan files", counted=False)
            written = write_plan(plans, out_dir)
            if before is not None:
                step(f"compare with {compare}", counted=False)
                planned = {w.stack for w in written}
                changes = cmp.compare(before, cmp.snapshot(out_dir, planned), planned)
    except TenantError as exc:
        _problems(exc.problems)
        raise typer.Exit(1) from None
    except OutputRefused as exc:
        line(str(exc), to_err=True)
        raise typer.Exit(1) from None
    except (UnknownStack, FileNotFoundError, cmp.NotAPlan) as exc:
        line(str(exc), to_err=True)
        raise typer.Exit(2) from None
    # The table stays narrow (piped, it was one 1,488-character line per stack); the kinds follow, one line per
    # stack, word-wrapped on a terminal and never wrapped when piped.
    table = Table(title=f"Offline plan in {out_dir}")
    for col in ("stack", "resources", "k8s objects", "kinds"):
        table.add_column(col, justify="left" if col == "stack" else "right")
    for w in written:
        table.add_row(w.stack, str(w.resources), str(w.objects), str(len(w.kinds)))
    out.print(table)
    for w in written:
        line(f"{w.stack}: " + ", ".join(f"{k} {n}" for k, n in w.kinds.items()))
    line(crd_summary(plans))
    line("No cluster, no Pulumi CLI and no Pulumi engine were used: the programs ran under Pulumi's "
         "unit-test mocks (pulumi.runtime.set_mocks).")
    if before is not None and changes is not None:
        planned = {w.stack for w in written}
        for change in changes:
            line(str(change))
        for new_stack in sorted(planned - {e.stack for e in before.values()}):
            line(f"{new_stack}: not in {compare} (a new stack: nothing to compare)")
        line(f"{len(changes)} change(s) against {compare} (stacks {', '.join(sorted(planned))}) the API server "
             "refuses or that replace an object")
        if changes:
            raise typer.Exit(1)


@app.command("up")
def up(
    stack: Annotated[str | None, typer.Option(help="Deploy only this stack (shared, shared.<cell>, a slug or "
                                              "<slug>.<cell>).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Deploy every cell: its platform stack, then its "
                                       "municipalities.")] = False,
    parallel: Annotated[int, typer.Option(help="Municipality stacks deployed at the same time.", min=1)] = 1,
) -> None:
    """Deploy for real through the Pulumi Automation API (needs the Pulumi CLI; `make up` installs it)."""
    from catalogue.tenants import TenantError, load_all
    from urbanstack.ops.deploy import CliMissing
    from urbanstack.ops.deploy import up as do_up

    if bool(stack) == all_:
        err.print("give exactly one of --stack NAME or --all", markup=False)
        raise typer.Exit(2)
    from catalogue import cells
    from catalogue.shared_config import ConfigError, load_file

    try:
        tenants = load_all()
        layout = cells.layout(load_file(), tenants)
    except TenantError as exc:
        _problems(exc.problems)
        raise typer.Exit(1) from None
    except ConfigError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(1) from None
    valid = [name for cs in layout for name in (cs.platform, *cs.members.values())]
    # A slug stands for the municipality's stack in its own cell.
    stack = next((cs.members[stack] for cs in layout if stack in cs.members), stack)
    if stack and stack not in valid:
        err.print(f"unknown stack '{stack}': valid stacks are {', '.join(valid)}", markup=False)
        raise typer.Exit(2)
    targets = valid if all_ else [stack]
    from urbanstack.ops.deploy import describe_target

    line(describe_target())
    started, finished = time.monotonic(), []

    def say(s: str, text: str) -> None:
        # Progress in every line: stacks finished of all, elapsed time, then the stack's own output.
        if text.startswith("finished: "):
            finished.append(s)
        line(f"[{len(finished)}/{len(targets)} done, after {time.monotonic() - started:.0f} s] [{s}] {text}")

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
    crd_dir: Annotated[Path | None, typer.Option(help="CRDs of documented cluster prerequisites, *.yaml (default: vendor/crds).")] = None,
    tenants: Annotated[Path | None, typer.Option(help="Folder of tenant files (default: tenants/).")] = None,
) -> None:
    """Every check over a written plan (the names --only takes): schemas, checkov, labels, reachability, policies,
    pod-security, rbac, api-validation, references, paths, support (pins inside upstream's support window today),
    subdomains (routes on the wildcard listener claim only their own municipality's hosts)."""
    from urbanstack.checks.command import run

    raise typer.Exit(run(plan_dir, only=only, checkov=checkov, crd_dir=crd_dir, tenants=tenants))


@vendor_app.command("refresh")
def vendor_refresh(
    chart: Annotated[str, typer.Argument(help="A chart key of catalogue/versions.py (e.g. cloudnative-pg).")],
) -> None:
    """Download the pinned chart's published package (network), check its digest against the repository index,
    unpack it into vendor/charts/<chart>-<version>/ and append its provenance; never overwrites a copy."""
    from urbanstack.ops.vendor import RefreshError, refresh

    try:
        folder = refresh(chart)
    except RefreshError as exc:
        line(str(exc), to_err=True)
        raise typer.Exit(1) from exc
    line(f"wrote {folder} and its entry in vendor/charts/PROVENANCE.md; next: delete the old version's folder, "
         "python3 vendor/charts/render_check.py, urbanstack plan --compare (docs/upgrades.md)")


@images_app.command("pin")
def images_pin(
    keys: Annotated[list[str] | None, typer.Argument(
        metavar="KEY", help="Image keys of catalogue/versions.py (default: every image upstream publishes that "
        "has no digest yet); a key with a digest is checked against its registry.")] = None,
    dry_run: Annotated[bool, typer.Option(help="Read the digests and print the change; write nothing.")] = False,
    file: Annotated[Path | None, typer.Option(
        "--file", help="The catalogue to edit (default: catalogue/versions.py of this checkout).")] = None,
) -> None:
    """Read each image's digest from its registry (network: OCI Distribution API, anonymous pull token; the
    top-level manifest as `docker buildx imagetools inspect` reports it, for a multi-platform image its index) and
    record it in catalogue/versions.py with a digest_record naming registry, media type, reference and the day.

    All or nothing: when one image fails (unknown tag, pull refused, registry unreachable) or its registry's digest
    differs from the one recorded, each is reported and nothing is written. A recorded digest is never overwritten.

    URBANSTACK_REGISTRY_MAP=REGISTRY=URL[,REGISTRY=URL...] sends a registry's requests to another base URL (tests:
    a registry on this machine; plain http:// only for 127.0.0.1 and localhost); the record names the host read."""
    import os

    from urbanstack.ops.images_pin import REGISTRY_MAP_ENV, VERSIONS_FILE, PinError, parse_registry_map, pin_images

    path = file or VERSIONS_FILE
    try:
        result = pin_images(keys or (), dry_run=dry_run, path=path,
                            registry_map=parse_registry_map(os.environ.get(REGISTRY_MAP_ENV)),
                            echo=lambda text: line(text, to_err=True))
    except PinError as exc:
        for problem in exc.problems:
            line(problem, to_err=True)
        line(f"nothing was written to {path}", to_err=True)
        raise typer.Exit(1) from None
    if not result.pins:
        line("every image upstream publishes already carries a digest: nothing to read (name KEYs to check "
             "recorded digests against their registries)")
        return
    for pin in result.pins:
        if pin.unchanged:
            line(f"{pin.key}: {pin.reference}@{pin.digest} unchanged (the registry {pin.host} says the same)")
        else:
            line(f"{pin.key}: {pin.reference}@{pin.digest} ({pin.media_type}, registry {pin.host})")
    if not result.new:
        line(f"nothing to write: {path} is unchanged")
        return
    if dry_run:
        out.print(result.diff, markup=False, highlight=False, end="")
        line(f"dry run: {len(result.new)} digest(s) not written to {path}")
        return
    line(f"wrote {len(result.new)} digest(s) to {path}; next: `urbanstack docs write` (docs/versions.md), "
         "`urbanstack plan --out build/plan --compare build/plan-before` (the pods of these images are replaced), "
         "and review the diff per docs/upgrades.md (\"Image digests\")")


@gitops_app.command("render")
def gitops_render(
    repo: Annotated[str, typer.Option(help="Git URL of this repository as the workspaces clone it.")],
    backend: Annotated[str, typer.Option(help="State backend URL (s3://…, https://… for Pulumi Cloud, azblob://…, gs://…).")],
    out_dir: Annotated[Path, typer.Option(
        "--out", help="Folder for the manifests: new, empty, or an earlier render (only that is replaced).")] = Path("build/gitops"),
    branch: Annotated[str, typer.Option(help="Branch the Stacks follow.")] = "main",
    repo_dir: Annotated[str, typer.Option(help="Folder of Pulumi.yaml inside the repository.")] = "",
    secrets_provider: Annotated[str, typer.Option(help="passphrase | default (Pulumi Cloud's own).")] = "passphrase",
    org: Annotated[str, typer.Option(help="Pulumi Cloud organisation (stacks <org>/<stack>); empty for DIY backends.")] = "",
    git_auth_secret: Annotated[str | None, typer.Option(
        help="Secret NAME[:KEY] with a personal access token for a private repository (key default accessToken).")] = None,
    namespace_prefix: Annotated[str, typer.Option(help="Namespaces <prefix>-<cell> on the management cluster.")] = "urbanstack-gitops",
    tenants: Annotated[Path | None, typer.Option(help="Folder of tenant files (default: tenants/).")] = None,
) -> None:
    """Write one folder per cell (shared config urban-stack:cells) with the Namespace, the workspace ServiceAccount and
    its ClusterRoleBinding, and one Pulumi Kubernetes Operator Stack per stack (the cell's platform stack, then each
    of its municipalities); every object is validated against
    the pinned operator's Stack CRD or the Kubernetes schemas first, and the Secrets to create are listed."""
    from catalogue.shared_config import ConfigError
    from catalogue.tenants import TenantError, load_all
    from clikit.outdir import OutputRefused, check_target
    from urbanstack.engine import gitops

    try:
        check_target(out_dir, gitops.OUTPUT_KIND)
        auth = gitops.parse_secret_key(git_auth_secret, "--git-auth-secret", "accessToken") if git_auth_secret else None
        settings = gitops.Settings(repo=repo, backend=backend, branch=branch, repo_dir=repo_dir,
                                   secrets_provider=secrets_provider, org=org, git_auth=auth,
                                   namespace_prefix=namespace_prefix)
        # The cells, their platform stacks and members: the shared config (urban-stack:cells) and the tenant files.
        rendered = gitops.render(settings, load_all([tenants] if tenants else None))
        gitops.write(rendered, out_dir)
    except TenantError as exc:
        _problems(exc.problems)
        raise typer.Exit(1) from None
    except ConfigError as exc:
        line(str(exc), to_err=True)
        line(f"nothing was written to {out_dir}", to_err=True)
        raise typer.Exit(1) from None
    except gitops.GitopsError as exc:
        for problem in exc.problems:
            line(problem, to_err=True)
        line(f"nothing was written to {out_dir}", to_err=True)
        raise typer.Exit(1) from None
    except OutputRefused as exc:
        line(str(exc), to_err=True)
        raise typer.Exit(1) from None
    for r in rendered:
        stacks = [obj["metadata"]["name"] for _, obj in r.files if obj["kind"] == "Stack"]
        line(f"{out_dir / r.cell.name}: namespace {r.namespace}, {len(stacks)} Stack(s): {', '.join(stacks)}")
        line(f"  Secrets to create in {r.namespace} (never rendered): " + ", ".join(
            f"{s.name}[{s.key}]" for s in r.secrets))
    line(f"validated against the Stack CRD of pulumi-kubernetes-operator {gitops.OPERATOR_VERSION} "
         f"({gitops.CRD_FILE.relative_to(gitops.ROOT)}) and the Kubernetes schemas; apply with "
         f"`kubectl apply -R -f {out_dir}` on the management cluster, or commit it for Flux/Argo CD")


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


def _paragraphs(text: str) -> str:
    """A docstring as help text: the lines of a paragraph joined, so that a terminal's help wraps them at its own
    width (typer's rich help keeps a docstring's line breaks: "… then (with --release) lock" / "what stays")."""
    return "\n\n".join(" ".join(par.split()) for par in text.strip().split("\n\n"))


def _document_exit_codes(*groups: typer.Typer) -> None:
    """Every command's --help ends with the exit codes (one rule, also for commands added later), and its text
    wraps at the terminal's width, not at the docstring's line breaks."""
    import inspect

    for group in groups:
        for command in group.registered_commands:
            command.epilog = command.epilog or EXIT_CODES
            doc = command.help or (inspect.getdoc(command.callback) if command.callback else None)
            if doc:
                command.help = _paragraphs(doc)
        _document_exit_codes(*(g.typer_instance for g in group.registered_groups))


_register_costs()
_document_exit_codes(app)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
