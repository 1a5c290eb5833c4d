"""Check: every file or folder a container is pointed at exists in its pod: under a volume mount, or in its image.

A container that is told to read a file at start (a truststore, a TLS certificate, a configuration file) and does
not find it exits, and the pod crash-loops; no schema and no admission rule sees it. The Keycloak operator, for
instance, always points ``KC_TRUSTSTORE_PATHS`` at the service-account ``ca.crt``
(``KeycloakDeploymentDependentResource.addEnvVars``), and a pod with ``automountServiceAccountToken: false`` has no
such file unless it mounts one (issue 20). Every pod template of the plan is looked at (ours, chart-rendered and
operator-made, :func:`catalogue.manifests.workload_pod`), every container and init container:

* which paths: the value of every environment variable that is an absolute path, in our own and operator-made pods
  (chart-rendered pods: only the variables of :data:`PATH_VARIABLES`, since a chart's variables are upstream's own
  defaults), comma-separated for the variables of :data:`PATH_LISTS`; the value of each command-line flag of
  :data:`PATH_FLAGS` (``--flag=/path`` or ``--flag /path``);
* where a path may be: below the ``mountPath`` of one of the container's ``volumeMounts`` whose volume the pod
  declares or a StatefulSet's ``volumeClaimTemplates`` provides (for a Secret, ConfigMap or projected volume that lists ``items``, the file must be one of them); below
  ``/var/run/secrets/kubernetes.io/serviceaccount`` when the service-account token is mounted (the pod's
  ``automountServiceAccountToken``, else its ServiceAccount's in the plan, else on); or below a folder the image
  itself creates, listed with the Dockerfile it was read from in ``checks/image-paths.yaml`` (an entry that no path
  uses fails the check, so the list cannot go stale).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from catalogue import manifests
from catalogue.paths import ROOT
from urbanstack.checks.base import CheckResult, Failure, Plan, PlanObject, count_origins, list_entries, merge

NAME = "paths"
RULE = "paths"
IMAGE_PATHS_FILE = ROOT / "checks" / "image-paths.yaml"
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"

PATH_LISTS = frozenset({"KC_TRUSTSTORE_PATHS", "IMPORT_FILES_LOCATIONS"})
"""Variables whose value is a comma-separated list of paths (Keycloak ``truststore-paths``; keycloak-config-cli
``import.files.locations``)."""
PATH_VARIABLES = frozenset({
    *PATH_LISTS,
    "KC_HTTPS_CERTIFICATE_FILE", "KC_HTTPS_CERTIFICATE_KEY_FILE", "KC_HTTPS_TRUST_STORE_FILE",
    "KC_HTTPS_KEY_STORE_FILE", "KC_CONFIG_FILE", "KC_CACHE_CONFIG_FILE", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE",
})
"""Variables known to name a file the process opens at start, wherever the pod comes from."""
PATH_FLAGS = frozenset({"--config-file", "--config-path", "--config", "--client-cert", "--server-cert",
                        "--server-key", "--tls-cert-file", "--tls-private-key-file", "--web.config.file"})
"""Command-line flags known to name a file the process opens at start."""
_ABSOLUTE = re.compile(r"^/[A-Za-z0-9._@+\-/]+$")


@dataclass(frozen=True)
class Pointer:
    """One path a container is pointed at, and by what (``env[NAME]`` or ``args[--flag]``)."""

    path: str
    by: str


def pointers(container: Mapping[str, Any], every_absolute_env: bool) -> Iterator[Pointer]:
    """The paths one container is pointed at by its environment and arguments (see the module docstring)."""
    for env in container.get("env") or []:
        if not isinstance(env, dict) or not isinstance(env.get("value"), str):
            continue
        name, value = str(env.get("name")), env["value"].strip()
        values = [v.strip() for v in value.split(",")] if name in PATH_LISTS else [value]
        if name not in PATH_VARIABLES and not every_absolute_env:
            continue
        for v in values:
            if _ABSOLUTE.match(v) and v != "/":
                yield Pointer(v, f"env[{name}]")
    args = [str(a) for a in [*(container.get("command") or []), *(container.get("args") or [])]]
    for i, arg in enumerate(args):
        flag, sep, value = arg.partition("=")
        if flag not in PATH_FLAGS:
            continue
        if not sep:
            value = args[i + 1] if i + 1 < len(args) else ""
        if _ABSOLUTE.match(value):
            yield Pointer(value, f"args[{flag}]")


def _under(path: str, folder: str) -> bool:
    folder = folder.rstrip("/") or "/"
    return path == folder or path.startswith(folder + "/") or folder == "/"


def _items(volume: Mapping[str, Any]) -> list[str] | None:
    """The file names a Secret, ConfigMap or projected volume is limited to by ``items``; None: any key."""
    for key in ("secret", "configMap"):
        source = volume.get(key)
        if isinstance(source, dict):
            return [str(i.get("path")) for i in source["items"]] if source.get("items") else None
    projected = volume.get("projected")
    if isinstance(projected, dict):
        names: list[str] = []
        for source in projected.get("sources") or []:
            for key, body in source.items():
                if key == "serviceAccountToken":
                    names.append(str(body.get("path")))
                elif isinstance(body, dict) and body.get("items"):
                    names.extend(str(i.get("path")) for i in body["items"])
                elif key in ("secret", "configMap"):
                    return None
                elif key == "downwardAPI":
                    names.extend(str(i.get("path")) for i in body.get("items") or [])
        return names
    return None


def automounts_token(spec: Mapping[str, Any], namespace: str, accounts: Mapping[tuple[str, str], Any]) -> bool:
    """Whether the kubelet mounts the service-account token: the pod's field, else its ServiceAccount's, else on."""
    if spec.get("automountServiceAccountToken") is not None:
        return bool(spec["automountServiceAccountToken"])
    account = str(spec.get("serviceAccountName") or spec.get("serviceAccount") or "default")
    own = accounts.get((namespace, account))
    return True if own is None else bool(own)


@dataclass(frozen=True)
class ImagePaths:
    """Folders an image creates (its Dockerfile's ``WORKDIR``/``COPY``/``mkdir``), and where that was read."""

    image: str
    paths: tuple[str, ...]
    source: str


def load_image_paths(path: Path = IMAGE_PATHS_FILE) -> list[ImagePaths]:
    out = []
    for where, entry in list_entries(path, "image paths"):
        image, paths = str(entry.get("image") or ""), entry.get("paths")
        if not image or ":" in image.rsplit("/", 1)[-1] or "@" in image:
            raise ValueError(f"{where}: image must be a repository without tag or digest ({image!r})")
        if not isinstance(paths, list) or not paths or not all(str(p).startswith("/") for p in paths):
            raise ValueError(f"{where}: paths must be a list of absolute folders")
        source = str(entry.get("source") or "").strip()
        if len(source) < 30:
            raise ValueError(f"{where}: needs a source naming the Dockerfile (repository, path, tag) it was read from")
        out.append(ImagePaths(image, tuple(str(p) for p in paths), source))
    return out


def _repository(image: str) -> str:
    image = image.split("@", 1)[0]
    head, _, last = image.rpartition("/")
    return f"{head}/{last.split(':', 1)[0]}" if head else last.split(":", 1)[0]


def problems(spec: Mapping[str, Any], namespace: str, accounts: Mapping[tuple[str, str], Any],
             image_paths: list[ImagePaths], every_absolute_env: bool,
             used: set[tuple[str, str]] | None = None, claims: tuple[str, ...] = ()) -> Iterator[str]:
    """One message per path a container of this pod spec is pointed at that does not exist in the pod.
    ``claims``: names of a StatefulSet's ``volumeClaimTemplates`` (volumes the controller adds to each pod)."""
    volumes: dict[str, Any] = {name: {"persistentVolumeClaim": {}} for name in claims}
    volumes.update({str(v.get("name")): v for _, v in manifests.spec_volumes(spec)})
    token = automounts_token(spec, namespace, accounts)
    for container in manifests.spec_containers(spec):
        body = container.body
        repo = _repository(str(body.get("image") or ""))
        mounts = [m for m in body.get("volumeMounts") or [] if isinstance(m, dict)]
        for pointer in pointers(body, every_absolute_env):
            if _found(pointer.path, mounts, volumes, token, repo, image_paths, used):
                continue
            where = f"{container.group}[{container.name}].{pointer.by}"
            hint = (" (the service-account token is not mounted: automountServiceAccountToken is false)"
                    if _under(pointer.path, SERVICE_ACCOUNT_DIR) and not token else "")
            yield (f"{where} points at {pointer.path}, which is in no volume mount of the container{hint} and in "
                   f"no folder {IMAGE_PATHS_FILE.relative_to(ROOT)} lists for image {repo}: mount it, or list "
                   "the folder with the Dockerfile that creates it")


def _found(path: str, mounts: list[dict[str, Any]], volumes: Mapping[str, Any], token: bool, repo: str,
           image_paths: list[ImagePaths], used: set[tuple[str, str]] | None) -> bool:
    for mount in sorted(mounts, key=lambda m: -len(str(m.get("mountPath", "")))):
        mount_path = str(mount.get("mountPath", ""))
        if not mount_path or not _under(path, mount_path) or str(mount.get("name")) not in volumes:
            continue
        items = None if mount.get("subPath") else _items(volumes[str(mount.get("name"))])
        rel = path[len(mount_path.rstrip("/")):].lstrip("/")
        return items is None or rel == "" or any(rel == i or rel.startswith(i.rstrip("/") + "/") for i in items)
    if token and _under(path, SERVICE_ACCOUNT_DIR):
        rel = path[len(SERVICE_ACCOUNT_DIR):].lstrip("/")
        return rel in ("", "token", "ca.crt", "namespace")
    for entry in image_paths:
        if entry.image == repo:
            for folder in entry.paths:
                if _under(path, folder):
                    if used is not None:
                        used.add((entry.image, folder))
                    return True
    return False


def run(plan: Plan, image_paths_file: Path = IMAGE_PATHS_FILE) -> CheckResult:
    """Every cell judged as its own cluster (:func:`~urbanstack.checks.base.per_cell`); an image folder of the list
    fails only when no cell needs it."""
    image_paths = load_image_paths(image_paths_file)
    used: set[tuple[str, str]] = set()
    merged = merge(NAME, [(view.cell, _judge(view, image_paths, image_paths_file, used)) for view in plan.cells()])
    rel = image_paths_file.relative_to(ROOT) if image_paths_file.is_relative_to(ROOT) else image_paths_file
    for entry in image_paths:
        for folder in entry.paths:
            if (entry.image, folder) not in used:
                merged.failures.append(Failure(str(rel), RULE, f"{entry.image} {folder}: no path of the plan needs "
                                                                "this image folder: remove it"))
    return merged


def _judge(plan: Plan, image_paths: list[ImagePaths], image_paths_file: Path,
           used: set[tuple[str, str]]) -> CheckResult:
    """One cell's pods; the image folders they use are added to ``used``."""
    accounts = {(str(po.namespace or ""), po.name): po.obj.get("automountServiceAccountToken", True)
                for po in plan.objects if po.kind == "ServiceAccount"}
    failures: list[Failure] = []
    pods: list[PlanObject] = []
    count = 0
    for po, template in plan.workload_pods():
        pods.append(po)
        every = po.origin != "chart"
        count += sum(1 for c in manifests.spec_containers(template.spec) for _ in pointers(c.body, every))
        claims = tuple(str((t.get("metadata") or {}).get("name")) for t in
                       (po.obj.get("spec") or {}).get("volumeClaimTemplates") or [] if isinstance(t, dict))
        for message in problems(template.spec, str(po.namespace or ""), accounts, image_paths, every, used, claims):
            failures.append(Failure(plan.rel(po.path), RULE, f"{po.ref()} {message}"))
    rel = image_paths_file.relative_to(ROOT) if image_paths_file.is_relative_to(ROOT) else image_paths_file
    return CheckResult(NAME, len(pods), "pod templates", failures, origins=count_origins(pods),
                       origin_unit="pod templates",
                       detail=f"{count} paths containers are pointed at (env, args), each under a mount or a "
                              f"folder of its image ({rel})")
