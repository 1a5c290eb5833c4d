"""The rules of the Urban Stack policy pack, as plain functions.

Each policy is a function ``(resource_type, props, urn) -> list[str]`` that returns one message per
violation (empty list: compliant). ``props`` are the resource's inputs as the engine sends them to policy
packs and to the provider (camelCase wire names, e.g. ``metadata``, ``spec.template``), ``urn`` tells the
stack. ``__main__.py`` wraps them into a ``PolicyPack`` for ``pulumi preview --policy-pack policy``; the
tests and ``make check`` call them directly on the recorded offline plan (constructing a ``PolicyPack``
starts a gRPC server and blocks, so nothing but the Pulumi CLI ever does).

The mandatory policies:

* ``cost-labels``: the four cost labels on every Kubernetes object, pod template and PVC template, with valid
  values (tenant a known municipality or ``shared`` and the stack's own; module known; cost share fitting);
* ``municipality-namespace``: a municipality's objects only in its own namespace (exception:
  :data:`NAMESPACE_EXCEPTIONS`);
* ``no-host-access``: no privileged containers, host namespaces, ``hostPath`` volumes or added capabilities
  (platform exceptions for shared operators that need the host: :data:`HOST_ACCESS_EXCEPTIONS`);
* ``pinned-images``: no ``latest`` or untagged images;
* ``no-plaintext-secrets``: no literal secret values in ConfigMaps or container env.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from catalogue import labels, manifests, names

NAMESPACE_EXCEPTIONS: dict[tuple[str, str], str] = {
    ("identity", names.NS_IDENTITY): (
        "A municipality's realm is made by its bootstrap Job and managed by its realm Job (keycloak-config-cli), "
        "which must run next to the shared Keycloak (the realm Job logs in there with the municipality's own "
        "realm-job client, whose Secret the municipality's stack makes there too); the Jobs and their Secrets are "
        "charged to the municipality (decision 0013)."
    ),
    ("gateway", names.NS_GATEWAY): (
        "A municipality's internal OIDC back channel needs a Service in front of the shared Envoy pods with its "
        "port, and a NetworkPolicy on those pods admitting only its own declared pods there: both select pods of "
        "urban-gateway, so they live there, named backchannel-<slug> and made by the municipality's own stack, "
        "so a join adds objects and edits none of the shared stack (docs/decisions/0012-join-touches-no-shared-"
        "object.md)."
    ),
    ("gateway", names.NS_IDENTITY): (
        "A municipality's back-channel HTTPRoute sits next to Keycloak's Service so that its backendRef stays in "
        "its own namespace: no ReferenceGrant opens Keycloak's Service to a municipality's namespace "
        "(docs/decisions/0012-join-touches-no-shared-object.md)."
    ),
}
"""(module, namespace) where objects of a municipality's stack may live outside its namespace, and why."""

HOST_ACCESS_EXCEPTIONS: tuple[tuple[str, Mapping[str, str], str], ...] = (
    (names.NS_STORAGE, {}, "Rook-Ceph: OSDs and the Ceph CSI node plugins need host devices, host paths and "
                           "privileges (the namespace enforces Pod Security 'privileged' for them)."),
    (names.NS_MONITORING, {"app.kubernetes.io/name": "prometheus-node-exporter"},
     "node-exporter reads the host's network and PID namespaces and /proc, /sys to measure the nodes."),
)
"""(namespace, pod labels, reason): shared-platform pods allowed host access. Never municipality objects."""

SECRET_WORDS = {"password", "passwd", "pwd", "secret", "token", "key", "apikey", "credential", "credentials",
                "passphrase", "privatekey"}
HARMLESS_WORDS = {"public", "publickey"}
HARMLESS_VALUES = {"", "true", "false", "yes", "no", "on", "off", "null", "none", "~"}
PLACEHOLDER = re.compile(r"^(\$\{[^}]*\}|\$\([^)]*\)|\{\{.*\}\}|%\([^)]*\)s|<[^>]*>)$")
REFERENCE = re.compile(r"process\.env\.|os\.environ|getenv\(|\benv\(|\$ENV\{|secretKeyRef")
"""Values that read the secret from elsewhere (an environment variable, a Secret), e.g. in an embedded config file."""
SETTING_LINE = re.compile(r"""^\s*["']?([A-Za-z0-9_.\-]+)["']?\s*[:=]\s*["']?(.*?)["']?\s*,?\s*$""")


# -- facts the policies compare with -------------------------------------------------------------------------

@lru_cache(maxsize=1)
def known_tenants() -> frozenset[str]:
    """Slugs of the municipalities (``tenants/*.yaml``, or ``$URBANSTACK_TENANTS``)."""
    from catalogue.tenants import load_all, tenants_dir

    return frozenset(load_all([tenants_dir()]))


def known_modules() -> set[str]:
    from catalogue.modules import module_label_values

    return module_label_values()


def stack_of(urn: str | None) -> str | None:
    """``urn:pulumi:<stack>::<project>::<type>::<name>`` -> ``<stack>``."""
    if not urn or not urn.startswith("urn:pulumi:"):
        return None
    return urn[len("urn:pulumi:"):].split("::", 1)[0] or None


def owner_of(stack: str | None) -> str | None:
    """The slug (or ``shared``) a stack belongs to: a cell other than the default one adds ``.<cell>`` to the names of
    its stacks (``verl.stadt-guetersloh``, ``shared.stadt-guetersloh``; ``catalogue/cells.py``)."""
    return None if stack is None else stack.split(".", 1)[0]


def _kube(resource_type: str, props: Mapping[str, Any]) -> bool:
    return labels.is_labelled_type(resource_type) and isinstance(props, Mapping)


def _ref(props: Mapping[str, Any]) -> str:
    md = props.get("metadata") or {}
    ns = md.get("namespace")
    return f"{props.get('kind', '?')} {ns + '/' if ns else ''}{md.get('name', '?')}"


# -- policy: cost labels -------------------------------------------------------------------------------------------

def cost_labels_policy(resource_type: str, props: Mapping[str, Any], urn: str | None = None,
                       tenants: frozenset[str] | None = None) -> list[str]:
    """The four cost labels with valid values on the object, its pod templates and PVC templates."""
    if not _kube(resource_type, props):
        return []
    tenants = known_tenants() if tenants is None else tenants
    valid = {*tenants, labels.SHARED_TENANT}
    stack = stack_of(urn)
    owner = owner_of(stack)
    expected = None if stack is None else (owner if owner in tenants else labels.SHARED_TENANT)
    out = []
    for where, found in labels.template_labels(props):
        if found is None:
            out.append(f"{_ref(props)}: {where} is missing, so it carries no cost labels")
            continue
        out += [f"{_ref(props)} {where}: {p}" for p in labels.check_labels(found, valid, known_modules())]
        tenant = found.get(labels.TENANT)
        if expected and tenant and tenant != expected:
            out.append(f"{_ref(props)} {where}: label {labels.TENANT}={tenant!r} in stack {stack!r} "
                       f"(expected {expected!r})")
    return out


# -- policy: a municipality's objects only in its own namespace -------------------------------------------------------

def municipality_namespace_policy(resource_type: str, props: Mapping[str, Any], urn: str | None = None,
                                  tenants: frozenset[str] | None = None) -> list[str]:
    """Objects of a municipality's stack live in its namespace ``<slug>`` (or a listed exception)."""
    if not _kube(resource_type, props):
        return []
    tenants = known_tenants() if tenants is None else tenants
    md = props.get("metadata") or {}
    obj_labels = md.get("labels") or {}
    owner = owner_of(stack_of(urn))
    tenant = owner if owner in tenants else obj_labels.get(labels.TENANT)
    if tenant not in tenants:
        return []
    namespace = md.get("namespace")
    if props.get("kind") == "Namespace":
        return [] if md.get("name") == tenant else [f"{_ref(props)}: municipality {tenant} may only create its own "
                                                     f"namespace {tenant!r}"]
    if not namespace:
        return [f"{_ref(props)}: cluster-scoped object in municipality {tenant}'s stack; a municipality's objects "
                f"belong in its namespace {tenant!r}"]
    if namespace == tenant:
        return []
    if (obj_labels.get(labels.MODULE), namespace) in NAMESPACE_EXCEPTIONS:
        return []
    return [f"{_ref(props)}: municipality {tenant}'s object in namespace {namespace!r}; it belongs in {tenant!r}"]


# -- policy: no host access ---------------------------------------------------------------------------------------------

def _host_exception(props: Mapping[str, Any], template: manifests.PodTemplate) -> bool:
    md = props.get("metadata") or {}
    if (md.get("labels") or {}).get(labels.TENANT) != labels.SHARED_TENANT:
        return False
    pod_labels = {**(md.get("labels") or {}), **template.labels}
    for namespace, wanted, _ in HOST_ACCESS_EXCEPTIONS:
        if md.get("namespace") == namespace and all(pod_labels.get(k) == v for k, v in wanted.items()):
            return True
    return False


def no_host_access_policy(resource_type: str, props: Mapping[str, Any], urn: str | None = None) -> list[str]:
    """No privileged containers, host namespaces, hostPath volumes or added capabilities."""
    if not _kube(resource_type, props):
        return []
    out = []
    for template in manifests.pod_specs(props):
        if _host_exception(props, template):
            continue
        path = manifests.dotted(template.spec_path)
        for flag in ("hostNetwork", "hostPID", "hostIPC"):
            if template.spec.get(flag):
                out.append(f"{_ref(props)} {path}: {flag}: true shares a host namespace")
        for _, vol in template.volumes():
            if "hostPath" in vol:
                out.append(f"{_ref(props)} {path}: volume {vol.get('name')!r} is a hostPath")
        for container in template.containers():
            c = container.body
            sc = c.get("securityContext") or {}
            if sc.get("privileged"):
                out.append(f"{_ref(props)} {path}: container {c.get('name')!r} is privileged")
            added = (sc.get("capabilities") or {}).get("add") or []
            if added:
                out.append(f"{_ref(props)} {path}: container {c.get('name')!r} adds capabilities {list(added)}")
            if sc.get("allowPrivilegeEscalation"):
                out.append(f"{_ref(props)} {path}: container {c.get('name')!r} allows privilege escalation")
            for port in c.get("ports") or []:
                if isinstance(port, Mapping) and port.get("hostPort"):
                    out.append(f"{_ref(props)} {path}: container {c.get('name')!r} binds hostPort "
                               f"{port.get('hostPort')}")
    return out


# -- policy: pinned images -------------------------------------------------------------------------------------------------

def image_problem(ref: str) -> str | None:
    """Why an image reference is not pinned (``None`` when it names an exact tag or a digest)."""
    if "@" in ref:
        return None
    last = ref.rsplit("/", 1)[-1]
    if ":" not in last:
        return "has no tag (means 'latest')"
    tag = last.split(":", 1)[1]
    if tag.lower() in ("", "latest"):
        return "uses the tag 'latest'"
    return None


def images(props: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """Every image reference in an object: ``image``/``imageName`` strings and Helm-style ``{repository, tag}``."""
    def walk(node: Any, path: str) -> Iterator[tuple[str, str]]:
        if isinstance(node, Mapping):
            if isinstance(node.get("repository"), str) and "tag" in node:
                yield path, f"{node['repository']}:{node.get('tag') or ''}"
            for key, value in node.items():
                sub = f"{path}.{key}" if path else str(key)
                if key in ("image", "imageName") and isinstance(value, str):
                    yield sub, value
                else:
                    yield from walk(value, sub)
        elif isinstance(node, list):
            for i, value in enumerate(node):
                yield from walk(value, f"{path}[{i}]")
    for key, value in props.items():
        if key != "metadata":
            yield from walk(value, key)


def pinned_images_policy(resource_type: str, props: Mapping[str, Any], urn: str | None = None) -> list[str]:
    """No ``latest`` or untagged images (Kubernetes objects, custom resources and Helm values alike)."""
    if not resource_type.startswith("kubernetes:") or not isinstance(props, Mapping):
        return []
    return [f"{_ref(props) if labels.is_labelled_type(resource_type) else resource_type} {path}: image {ref!r} "
            f"{problem}" for path, ref in images(props) if (problem := image_problem(ref))]


# -- policy: no plaintext secrets ---------------------------------------------------------------------------------------------

def _words(key: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", key)
    return [w.lower() for w in re.split(r"[^A-Za-z0-9]+", spaced) if w]


def secret_like(key: str) -> bool:
    """A setting name that holds a secret: its last word is password/secret/token/key/... (``DB_PASSWORD``,
    ``clientSecret``, ``api-key``), not a pointer to one (``..._FILE``, ``secretName``, ``tokenUrl``)."""
    words = _words(key)
    if not words or HARMLESS_WORDS & set(words):
        return False
    return words[-1] in SECRET_WORDS or "".join(words[-2:]) in SECRET_WORDS


def literal_secret(value: Any) -> bool:
    """A literal value (not empty, a boolean, a placeholder, a file path or a reference)."""
    if not isinstance(value, str):
        return isinstance(value, int | float) and not isinstance(value, bool)
    v = value.strip()
    return not (v.lower() in HARMLESS_VALUES or PLACEHOLDER.match(v) or v.startswith("/") or "$(" in v
                or "${" in v or REFERENCE.search(v))


def _settings_in_text(text: str) -> Iterator[tuple[str, str]]:
    for line in text.splitlines():
        m = SETTING_LINE.match(line)
        if m:
            yield m.group(1), m.group(2)


def no_plaintext_secrets_policy(resource_type: str, props: Mapping[str, Any], urn: str | None = None) -> list[str]:
    """No literal values under secret-like names in ConfigMaps (keys and embedded files) or container env."""
    if not _kube(resource_type, props):
        return []
    out = []
    if props.get("kind") == "ConfigMap":
        for key, value in (props.get("data") or {}).items():
            if secret_like(key) and literal_secret(value):
                out.append(f"{_ref(props)}: data key {key!r} holds a literal secret value; use a Secret")
            elif isinstance(value, str) and "\n" in value:
                for setting, literal in _settings_in_text(value):
                    if secret_like(setting) and literal_secret(literal):
                        out.append(f"{_ref(props)}: data key {key!r} sets {setting!r} to a literal value; "
                                   f"reference a Secret instead")

    def walk(node: Any, path: str) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                sub = f"{path}.{key}" if path else str(key)
                if key in ("env", "additionalOptions") and isinstance(value, list):
                    for item in value:
                        if (isinstance(item, Mapping) and secret_like(str(item.get("name", "")))
                                and "value" in item and literal_secret(item["value"])):
                            out.append(f"{_ref(props)} {sub}: {item['name']!r} has a literal value; use "
                                       f"valueFrom.secretKeyRef")
                else:
                    walk(value, sub)
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}[{i}]")

    walk(props.get("spec"), "spec")
    return out


# -- the pack ---------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PolicyRule:
    name: str
    description: str
    check: Callable[..., list[str]]


POLICIES: tuple[PolicyRule, ...] = (
    PolicyRule("cost-labels", "Every Kubernetes object, pod template and PVC template carries the four cost labels "
                              "(urban-stack/tenant, module, cost-center, cost-share) with valid values.",
               cost_labels_policy),
    PolicyRule("municipality-namespace", "A municipality's objects live only in its own namespace.",
               municipality_namespace_policy),
    PolicyRule("no-host-access", "No privileged containers, host namespaces, hostPath volumes, host ports, added "
                                 "capabilities or privilege escalation.", no_host_access_policy),
    PolicyRule("pinned-images", "No 'latest' or untagged container images.", pinned_images_policy),
    PolicyRule("no-plaintext-secrets", "No literal secret values in ConfigMaps or container env.",
               no_plaintext_secrets_policy),
)
"""Every mandatory policy; ``__main__.py`` turns each into a ``ResourceValidationPolicy``."""


def violations(resource_type: str, props: Mapping[str, Any], urn: str | None = None) -> list[tuple[str, str]]:
    """``(policy name, message)`` for every violation of every policy by one resource."""
    return [(rule.name, msg) for rule in POLICIES for msg in rule.check(resource_type, props, urn)]
