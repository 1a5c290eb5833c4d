"""GitOps: the Pulumi Kubernetes Operator (PKO) 2.x objects that run every stack from a management cluster.

``urbanstack gitops render --out DIR`` writes, per *cell* (a workload cluster and the stacks deployed into it), a
folder of manifests for the management cluster (docs/gitops.md, docs/decisions/0014):

* a Namespace (Pod Security ``restricted`` enforced) for the cell's Stacks and their workspace pods;
* the ServiceAccount of the workspace pods and its ClusterRoleBinding to ``system:auth-delegator``: the agent in a
  PKO 2.x workspace pod checks the operator's calls with TokenReview/SubjectAccessReview
  (pulumi-kubernetes-operator v2.9.0 ``examples/git-source/stack.yaml``, ``operator/config/quickstart/rbac.yaml``);
* one ``pulumi.com/v1`` Stack per Pulumi stack, named as today (``shared`` and one per municipality, the
  stacks ``urbanstack plan`` and ``urbanstack up`` know): every municipality's Stack names ``shared`` as its
  prerequisite (``spec.prerequisites``: same namespace, ``stack_controller.go`` at v2.9.0), none destroys on
  finalize, every credential is a Secret reference (``envRefs``/``secretsRef`` of type ``Secret``,
  ``gitAuth.accessToken``, the kubeconfig volume); no Secret value is ever rendered.

The workspace pod reaches the cell's cluster through the kubeconfig of the cell's Secret, mounted as a file and
named by ``KUBECONFIG``: ``components/provider.py`` deploys to a cluster when ``KUBECONFIG`` names a file (else it
renders to disk), and the explicit provider reads ``KUBECONFIG`` itself (pulumi-kubernetes 4.34.2 Python SDK,
``provider.py``: ``kubeconfig = _utilities.get_env('KUBECONFIG')``).

Every object is judged before anything is written: Stacks against the vendored Stack CRD of the pinned release
(:data:`CRD_FILE`) with the project's CRD engine (``urbanstack/engine/crds.py``), the core objects against the
Kubernetes schemas of ``kubernetes-validate`` (strict, ``urbanstack/checks/schemas.py``).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from catalogue.names import CONFIG_NS, PROJECT
from catalogue.paths import ROOT
from catalogue.versions import IMAGES

Obj = dict[str, Any]

SHARED = "shared"
"""The shared stack's name (``urbanstack/engine/program.py`` ``SHARED``; not imported: that module imports Pulumi)."""
OPERATOR_VERSION = IMAGES["pulumi-kubernetes-operator"].tag
CRD_FILE = ROOT / "vendor" / f"pulumi-kubernetes-operator-{OPERATOR_VERSION.lstrip('v')}" / "pulumi.com_stacks.yaml"
"""The Stack CRD of the pinned operator release, verbatim (``PROVENANCE.md`` beside it)."""
OUTPUT_KIND = "gitops render"
"""The kind of output folder ``clikit/outdir.py`` keeps apart from the others (``plan``, ``costs report``)."""

SERVICE_ACCOUNT = "pulumi-workspace"
KUBECONFIG_DIR = "/var/run/urbanstack/kubeconfig"
KUBECONFIG_FILE = "kubeconfig"
STATE_SECRET = "pulumi-state"
"""Secret (in each cell's namespace) with the state backend's credentials, one key per environment variable."""
PROVIDER_SECRET = "pulumi-secrets-provider"
"""Secret with ``PULUMI_CONFIG_PASSPHRASE`` (secrets provider ``passphrase``)."""
WORKSPACE_UID = 1000
"""User and group of the workspace pod: the ``restricted`` profile's (``workspace_controller.go`` at v2.9.0:
``RunAsUser``/``RunAsGroup`` 1000), which is the ``pulumi`` user of the ``-nonroot`` image
(pulumi/pulumi-docker-containers ``docker/pulumi/Dockerfile``: ``ARG UID=1000``, ``USER pulumi:pulumi``)."""

BACKEND_CREDENTIALS: dict[str, tuple[str, ...]] = {
    # What Pulumi reads for each state backend (https://www.pulumi.com/docs/iac/concepts/state-and-backends/).
    "s3": ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
    "https": ("PULUMI_ACCESS_TOKEN",),
    "azblob": ("AZURE_STORAGE_ACCOUNT", "AZURE_STORAGE_KEY"),
    "gs": ("GOOGLE_CREDENTIALS",),
}
SECRETS_PROVIDERS = ("passphrase", "default")
"""``passphrase``: the stacks' secrets are encrypted with ``PULUMI_CONFIG_PASSPHRASE`` (what ``make up`` uses);
``default``: the backend's own (Pulumi Cloud, ``https://`` backends only)."""

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_SECRET_KEY = re.compile(r"[-._a-zA-Z0-9]+")


class GitopsError(Exception):
    """Bad input (naming the option, or the file and field) or an object that fails validation; nothing written."""

    def __init__(self, problems: Sequence[str]):
        super().__init__("\n".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True)
class SecretKey:
    """One key of a Kubernetes Secret in the cell's namespace."""

    name: str
    key: str


@dataclass(frozen=True)
class Cell:
    """A workload cluster and the stacks deployed into it (one cell of the shared config, ``urban-stack:cells``).

    ``kubeconfig``: the Secret key holding the kubeconfig of the cell's cluster (``cells[].kubernetes.
    kubeconfigSecret``; default ``kubeconfig``/``kubeconfig`` for the default cell, as before cells, and
    ``kubeconfig-<cell>``/``kubeconfig`` for every other). ``platform``: its platform stack; ``members``: slug -> its
    stack (``catalogue/cells.py``).
    """

    name: str
    kubeconfig: SecretKey
    platform: str = SHARED
    members: tuple[tuple[str, str], ...] = ()


def cells_of(cfg: Any, tenants: Mapping[str, Any]) -> tuple[Cell, ...]:
    """The cells of the shared config, each with its platform stack and members (the default cell first)."""
    from catalogue import cells

    out = []
    for cs in cells.layout(cfg, tenants):
        given = cfg.cell(cs.cell).kubernetes.kubeconfigSecret
        default = SecretKey("kubeconfig", KUBECONFIG_FILE) if cs.platform == SHARED else \
            SecretKey(f"kubeconfig-{cs.cell}", KUBECONFIG_FILE)
        ref = SecretKey(given.name, given.key) if given else default
        out.append(Cell(cs.cell, ref, cs.platform, tuple(cs.members.items())))
    return tuple(out)


@dataclass(frozen=True)
class Settings:
    """What every Stack shares: the Git source, the state backend, the secrets provider, the workspace."""

    repo: str
    backend: str
    branch: str = "main"
    repo_dir: str = ""
    secrets_provider: str = "passphrase"
    org: str = ""
    """Pulumi Cloud organisation: ``spec.stack`` becomes ``<org>/<stack>`` and the municipalities' config
    ``urban-stack:sharedStack`` ``<org>/urban-stack/shared``. Empty for DIY backends (``s3://``, ...)."""
    git_auth: SecretKey | None = None
    """Personal access token for a private repository (``spec.gitAuth.accessToken``)."""
    namespace_prefix: str = "urbanstack-gitops"
    requests: Mapping[str, str] = field(default_factory=lambda: {"cpu": "500m", "memory": "1Gi"})
    limits: Mapping[str, str] = field(default_factory=lambda: {"memory": "4Gi"})


@dataclass
class Rendered:
    """One cell's objects, in apply order: ``(file name, object)``."""

    cell: Cell
    namespace: str
    files: list[tuple[str, Obj]]
    secrets: list[SecretKey]
    """Every Secret key the cell's Stacks refer to (created by the operator team, never rendered)."""


# ------------------------------------------------------------------------------------------------------------------
# Inputs
# ------------------------------------------------------------------------------------------------------------------

def pulumi_version(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """The pinned Pulumi SDK (``pulumi==X`` in pyproject.toml), the CLI release the workspace image must carry."""
    deps = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    found = [d.split("==", 1)[1].strip() for d in deps if re.fullmatch(r"pulumi==[0-9.]+", d.strip())]
    if len(found) != 1:
        raise GitopsError([f"{pyproject}: project.dependencies: expected exactly one pin pulumi==X.Y.Z"])
    return found[0]


def workspace_image() -> str:
    """``pulumi/pulumi:<pin>-nonroot``: the operator's default for the restricted profile is
    ``pulumi/pulumi:latest-nonroot`` (``workspace_webhook.go`` at v2.9.0); the tag is pinned to the SDK instead."""
    return f"docker.io/pulumi/pulumi:{pulumi_version()}-nonroot"


def settings_problems(s: Settings) -> list[str]:
    """Every problem of the command-line settings, each naming its option."""
    out = []
    repo = urlparse(s.repo)
    if not (repo.scheme in ("https", "ssh") and repo.netloc) and not re.fullmatch(r"[\w.-]+@[\w.-]+:[\w./-]+", s.repo):
        out.append(f"--repo: {s.repo!r} is not a Git URL the workspace can clone (https://…, ssh://… or git@host:path)")
    elif repo.password or (repo.scheme == "https" and repo.username):
        out.append("--repo: credentials in the URL would end up in the Stack; give --git-auth-secret instead")
    if not s.branch.strip() or any(c.isspace() for c in s.branch):
        out.append(f"--branch: {s.branch!r} is not a branch name")
    if s.repo_dir.startswith("/") or ".." in Path(s.repo_dir).parts:
        out.append(f"--repo-dir: {s.repo_dir!r} must be a relative path inside the repository")
    out += backend_problems(s.backend, "--backend")
    if s.secrets_provider not in SECRETS_PROVIDERS:
        out.append(f"--secrets-provider: {s.secrets_provider!r} is not one of {', '.join(SECRETS_PROVIDERS)}")
    elif s.secrets_provider == "default" and not s.backend.startswith("https://"):
        out.append("--secrets-provider default: only a Pulumi Cloud backend (https://…) has its own secrets "
                   "provider; use passphrase")
    if s.org and not re.fullmatch(r"[A-Za-z0-9][-A-Za-z0-9_.]*", s.org):
        out.append(f"--org: {s.org!r} is not a Pulumi organisation name")
    if s.git_auth is not None:
        out += secret_key_problems(s.git_auth, "--git-auth-secret")
    if not _DNS_LABEL.fullmatch(s.namespace_prefix) or len(s.namespace_prefix) > 40:
        out.append(f"--namespace-prefix: {s.namespace_prefix!r} is not a DNS label of at most 40 characters")
    return out


def backend_problems(url: str, where: str) -> list[str]:
    scheme = urlparse(url).scheme
    if scheme == "file":
        return [f"{where}: {url!r}: a file backend inside a workspace pod is lost with the pod; give a shared one "
                f"({', '.join(f'{k}://' for k in BACKEND_CREDENTIALS)})"]
    if scheme not in BACKEND_CREDENTIALS or not urlparse(url).netloc:
        return [f"{where}: {url!r} is not a state backend URL ({', '.join(f'{k}://…' for k in BACKEND_CREDENTIALS)})"]
    if urlparse(url).password:
        return [f"{where}: credentials in the URL would end up in the Stack; they come from Secret {STATE_SECRET}"]
    return []


def secret_key_problems(ref: SecretKey, where: str) -> list[str]:
    out = []
    if not _DNS_SUBDOMAIN.fullmatch(ref.name) or len(ref.name) > 253:
        out.append(f"{where}: Secret name {ref.name!r} is not a DNS subdomain name")
    if not _SECRET_KEY.fullmatch(ref.key):
        out.append(f"{where}: key {ref.key!r} is not a Secret key (letters, digits, '-', '_', '.')")
    return out


def parse_secret_key(text: str, where: str, default_key: str) -> SecretKey:
    """``NAME`` or ``NAME:KEY`` (a command-line option)."""
    name, _, key = text.partition(":")
    ref = SecretKey(name.strip(), key.strip() or default_key)
    problems = secret_key_problems(ref, where)
    if problems:
        raise GitopsError(problems)
    return ref


# ------------------------------------------------------------------------------------------------------------------
# Objects
# ------------------------------------------------------------------------------------------------------------------

def _labels(cell: Cell) -> dict[str, str]:
    return {"app.kubernetes.io/part-of": PROJECT, "app.kubernetes.io/managed-by": "urbanstack-gitops",
            "urban-stack/cell": cell.name}


def _secret_ref(ref: SecretKey) -> Obj:
    """A PKO ``ResourceRef`` of type Secret (``stack_types.go``: ``type: Secret``, ``secret: {name, key}``)."""
    return {"type": "Secret", "secret": {"name": ref.name, "key": ref.key}}


def credentials(settings: Settings, backend: str) -> dict[str, SecretKey]:
    """Environment variable -> Secret key: the state backend's credentials and the passphrase."""
    env = {var: SecretKey(STATE_SECRET, var) for var in BACKEND_CREDENTIALS[urlparse(backend).scheme]}
    if settings.secrets_provider == "passphrase":
        env["PULUMI_CONFIG_PASSPHRASE"] = SecretKey(PROVIDER_SECRET, "PULUMI_CONFIG_PASSPHRASE")
    return env


def stack_secret_name(stack_name: str) -> str:
    """Secret with a municipality stack's config secrets (its federation's client secret or bind password)."""
    return f"stack-{stack_name}"


def workspace_template(cell: Cell, settings: Settings) -> Obj:
    """The Workspace customisation (a strategic merge patch over the operator's Workspace, ``stack_types.go``):
    pinned image, restricted profile, resources, the kubeconfig of the cell mounted read-only for user 1000."""
    return {"metadata": {"labels": _labels(cell)}, "spec": {
        "image": workspace_image(),
        "imagePullPolicy": "IfNotPresent",
        "securityProfile": "restricted",
        "resources": {"requests": dict(settings.requests), "limits": dict(settings.limits)},
        "env": [{"name": "KUBECONFIG", "value": f"{KUBECONFIG_DIR}/{KUBECONFIG_FILE}"},
                # Every workspace pod is a fresh checkout: no Pulumi.<slug>.yaml with the stack's encryption salt.
                # Without this Pulumi mints a new salt there instead of using the secrets manager in the stack's
                # state (pulumi/pulumi#17236, 2024, its CHANGELOG entry: "Support falling back to snapshot secret managers
                # when PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER is set"; issue #16412).
                {"name": "PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER", "value": "true"}],
        "podTemplate": {"spec": {
            # What the restricted profile sets (workspace_controller.go, v2.9.0), said here too, plus fsGroup so that
            # user 1000 reads the kubeconfig file (mode 0440, group 1000).
            "securityContext": {"runAsNonRoot": True, "runAsUser": WORKSPACE_UID, "runAsGroup": WORKSPACE_UID,
                                "fsGroup": WORKSPACE_UID, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "pulumi", "volumeMounts": [
                {"name": "kubeconfig", "mountPath": KUBECONFIG_DIR, "readOnly": True}]}],
            "volumes": [{"name": "kubeconfig", "secret": {
                "secretName": cell.kubeconfig.name, "defaultMode": 0o440,
                "items": [{"key": cell.kubeconfig.key, "path": KUBECONFIG_FILE}]}}],
        }},
    }}


def stack(name: str, cell: Cell, namespace: str, settings: Settings, *, prerequisite: str | None = None,
          config_secrets: Sequence[str] = ()) -> Obj:
    """The Stack of one Pulumi stack (``pulumi.com/v1``); ``prerequisite``: its cell's platform stack."""
    backend = settings.backend
    spec: Obj = {
        "stack": f"{settings.org}/{name}" if settings.org else name,
        "projectRepo": settings.repo,
        "branch": settings.branch,
        **({"repoDir": settings.repo_dir} if settings.repo_dir else {}),
        "shallow": True,
        **({"gitAuth": {"accessToken": _secret_ref(settings.git_auth)}} if settings.git_auth else {}),
        "backend": backend,
        **({"secretsProvider": "passphrase"} if settings.secrets_provider == "passphrase" else {}),
        "envRefs": {var: _secret_ref(ref) for var, ref in credentials(settings, backend).items()},
        "serviceAccountName": SERVICE_ACCOUNT,
        "destroyOnFinalize": False,
        "workspaceTemplate": workspace_template(cell, settings),
    }
    if prerequisite:
        spec["prerequisites"] = [{"name": prerequisite}]
    if settings.org and prerequisite:
        spec["config"] = {f"{CONFIG_NS}:sharedStack": f"{settings.org}/{PROJECT}/{prerequisite}"}
    if config_secrets:
        spec["secretsRef"] = {f"{CONFIG_NS}:{ref}": _secret_ref(SecretKey(stack_secret_name(name), ref))
                              for ref in config_secrets}
    return {"apiVersion": "pulumi.com/v1", "kind": "Stack",
            "metadata": {"name": name, "namespace": namespace, "labels": _labels(cell)}, "spec": spec}


def cell_objects(cell: Cell, settings: Settings, config_secrets: Mapping[str, Sequence[str]]) -> Rendered:
    """Namespace, ServiceAccount, ClusterRoleBinding and the Stacks of one cell, in apply order: its platform stack,
    then its members, each with the platform stack as prerequisite."""
    ns = f"{settings.namespace_prefix}-{cell.name}"
    labels = _labels(cell)
    files: list[tuple[str, Obj]] = [
        ("00-namespace.yaml", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {
            **labels, "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/enforce-version": "latest"}}}),
        ("01-serviceaccount.yaml", {"apiVersion": "v1", "kind": "ServiceAccount",
                                    "metadata": {"name": SERVICE_ACCOUNT, "namespace": ns, "labels": labels}}),
        ("02-clusterrolebinding.yaml", {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": f"{ns}:{SERVICE_ACCOUNT}:system:auth-delegator", "labels": labels},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": "system:auth-delegator"},
            "subjects": [{"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": ns}]}),
        (f"10-stack-{cell.platform}.yaml", stack(cell.platform, cell, ns, settings)),
    ]
    files += [(f"20-stack-{name}.yaml", stack(name, cell, ns, settings, prerequisite=cell.platform,
                                              config_secrets=config_secrets.get(slug, ())))
              for slug, name in cell.members]
    secrets = [cell.kubeconfig, *credentials(settings, settings.backend).values(),
               *([settings.git_auth] if settings.git_auth else []),
               *(SecretKey(stack_secret_name(name), ref) for slug, name in cell.members
                 for ref in config_secrets.get(slug, ()))]
    return Rendered(cell, ns, files, list(dict.fromkeys(secrets)))


def render(settings: Settings, tenants: Mapping[str, Any], cfg: Any = None) -> list[Rendered]:
    """Every cell's objects (the cells of ``cfg``, default the shared config file), validated (raises
    :class:`GitopsError` with every problem; nothing is returned then)."""
    from catalogue.shared_config import load_file

    problems = settings_problems(settings)
    # (Namespace <prefix>-<cell>: a prefix of at most 40 characters and a cell name of at most 20 fit in 63.)
    for c in (cells := cells_of(cfg or load_file(), tenants)):
        problems += secret_key_problems(c.kubeconfig, f"cell {c.name}: kubernetes.kubeconfigSecret")
    if problems:
        raise GitopsError(problems)
    secrets = config_secrets(tenants)
    out = [cell_objects(c, settings, secrets) for c in cells]
    problems = [f"{r.cell.name}/{name}: {p}" for r in out for name, obj in r.files for p in validate(obj)]
    if problems:
        raise GitopsError(problems)
    return out


def config_secrets(tenants: Mapping[str, Any]) -> dict[str, list[str]]:
    """Slug -> the stack config secrets its program reads (``pulumi config set --secret`` today): the federation's
    (``components/tenant/identity.py`` ``federation_secret_ref``)."""
    from components.tenant.identity import federation_secret_ref

    return {slug: [ref] for slug, t in tenants.items() if (ref := federation_secret_ref(t))}


# ------------------------------------------------------------------------------------------------------------------
# Validation
# ------------------------------------------------------------------------------------------------------------------

@cache
def installed_crds() -> dict:
    """The vendored Stack CRD, indexed as the CRD engine reads CRDs."""
    from urbanstack.engine import crds
    from urbanstack.engine.planfiles import FAST_LOADER

    if not CRD_FILE.is_file():
        raise GitopsError([f"{CRD_FILE}: the Stack CRD of the pinned operator {OPERATOR_VERSION} is not vendored "
                           "(vendor/pulumi-kubernetes-operator-*/PROVENANCE.md says how to copy it)"])
    docs = [d for d in yaml.load_all(CRD_FILE.read_text(encoding="utf-8"), Loader=FAST_LOADER) if isinstance(d, dict)]
    index, conflicts = crds.index_crds([(d, str(CRD_FILE.relative_to(ROOT))) for d in docs])
    if conflicts or ("pulumi.com", "Stack") not in index:
        raise GitopsError([f"{CRD_FILE}: no single Stack CRD in it ({'; '.join(conflicts)})"])
    return index


def validate(obj: Obj) -> list[str]:
    """Why the API server would refuse or change ``obj``: a custom resource judged by the vendored CRD (version,
    pruning, schema after defaults, CEL; a rule not evaluated counts as a problem), a built-in object by the strict
    Kubernetes schema of ``kubernetes-validate``."""
    from urbanstack.checks import schemas
    from urbanstack.engine import crds

    def errors(validator, value: Obj) -> list[str]:
        return [f"{'.'.join(map(str, e.absolute_path)) or '(top level)'}: {e.message}"
                for e in validator.iter_errors(value)]

    api_version, kind = str(obj.get("apiVersion", "")), str(obj.get("kind", ""))
    if crds.is_custom(obj):
        meta = schemas.builtin_validator("ConfigMap", "v1")
        out = [p for p in errors(meta, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj.get("metadata", {})})
               if p.startswith("metadata")]
        return out + [f"{rule}: {message}" for rule, message in crds.judge(obj, installed_crds()).failures]
    validator = schemas.builtin_validator(kind, api_version)
    if validator is None:
        return [f"{api_version} {kind}: no such built-in kind in Kubernetes {schemas.KUBERNETES_VERSION}"]
    return errors(validator, obj)


# ------------------------------------------------------------------------------------------------------------------
# Output
# ------------------------------------------------------------------------------------------------------------------

def dump(obj: Obj) -> str:
    return yaml.safe_dump(obj, sort_keys=False, default_flow_style=False, allow_unicode=True)


def write(rendered: Sequence[Rendered], out_dir: Path) -> list[Path]:
    """Write ``<out>/<cell>/<file>`` through ``clikit/outdir.py``: a new or empty folder, or one an earlier render
    wrote (only its own files are replaced); anything else refused before a file is written."""
    from clikit.outdir import replace_owned

    written = []
    with replace_owned(out_dir, OUTPUT_KIND) as staging:
        for r in rendered:
            folder = staging / r.cell.name
            folder.mkdir()
            for name, obj in r.files:
                (folder / name).write_text(dump(obj), encoding="utf-8")
                written.append(out_dir / r.cell.name / name)
    return written
