"""A reference municipality workload built only from ``components/k8s.py`` and rendered like the plan.

The checks must accept what the hardened builders produce, whatever the real plan contains at the moment,
and the tests break one rule at a time on a copy of it. :func:`write_sample` runs a tiny program under the
same mocks and label transform as ``urbanstack plan`` (stack = a municipality) and writes its objects into
``<plan>/<slug>/`` next to the real plan's files.
"""

from __future__ import annotations

from pathlib import Path

import pulumi

from catalogue import labels, names
from catalogue.sizing import Size
from components import k8s as kb
from components.labels import register as register_labels
from components.tenant.gateway import listener_set_ref
from urbanstack.engine.offline import StackPlan, run_stack
from urbanstack.engine.plan import write_plan

SAMPLE_IMAGE = "keycloak"
"""Any pinned image of ``catalogue.versions.IMAGES`` will do: the sample never runs."""
WEB = kb.selector_labels("sample", "sample-web", "web")
CACHE = kb.selector_labels("sample", "sample-cache", "cache")


class SampleModule(pulumi.ComponentResource):
    """A default-deny NetworkPolicy and, unless ``deny_only``, Deployment + StatefulSet + Service + ConfigMap + Secret +
    HTTPRoute + NetworkPolicies in the municipality's namespace."""

    def __init__(self, namespace: str, deny_only: bool = False, opts: pulumi.ResourceOptions | None = None):
        super().__init__("urbanstack:modules:dashboards", "sample", None, opts)
        kb.network_policy(self, "sample-default-deny", namespace, {}, ingress=[], egress=[])
        if deny_only:
            self.register_outputs({})
            return
        # The Secret the web container reads (the references check wants every referenced Secret created).
        kb.secret(self, "sample-db", namespace, {"password": "sample-only-never-applied"})
        web = kb.Container("web", SAMPLE_IMAGE, Size(100, 256), ports={"http": 8080},
                           env={"LOG_LEVEL": "info", "OIDC_CLIENT_SECRET_FILE": "/run/secrets/oidc"},
                           secret_env={"DB_PASSWORD": ("sample-db", "password")},
                           liveness=kb.Probe("http", "/health"), readiness=kb.Probe("http", "/ready"),
                           writable=["/tmp"], mounts={"oidc": ("/run/secrets/oidc", True, "password")})
        # OIDC_CLIENT_SECRET_FILE names a file: it is mounted (the paths check wants every such file in the pod).
        kb.workload(self, kind="Deployment", name="sample-web", namespace=namespace, selector=WEB, replicas=2,
                    containers=[web], volumes=[{"name": "oidc", "secret": {"secretName": "sample-db"}}])
        cache = kb.Container("cache", SAMPLE_IMAGE, Size(100, 128), ports={"redis": 6379},
                             liveness=kb.Probe("redis"), readiness=kb.Probe("redis"),
                             mounts={"data": ("/data", False, None)})
        kb.workload(self, kind="StatefulSet", name="sample-cache", namespace=namespace, selector=CACHE, replicas=1,
                    containers=[cache], claims=[("data", 1, "/data")])
        kb.service(self, "sample-web", namespace, WEB, {"http": 8080})
        # On the municipality's own ListenerSet (its HTTPS listener serves *.urbanstack.<slug>.example, the
        # domains of the example tenants).
        kb.http_route(self, "sample-web", namespace, f"sample.urbanstack.{namespace}.example", "sample-web", 8080,
                      listener_set_ref(namespace, names.LS_HTTPS))
        kb.config_map(self, "sample-settings", namespace, {"LOG_LEVEL": "info", "settings.yaml": "theme: light\n"})
        kb.network_policy(self, "sample-web-from-gateway", namespace, WEB,
                          ingress=[{"from": [kb.peer(names.NS_GATEWAY, names.GATEWAY_POD_LABELS)],
                                    "ports": kb.tcp(8080)}])
        kb.network_policy(self, "sample-cache-from-web", namespace, CACHE,
                          ingress=[{"from": [kb.peer(None, WEB)], "ports": kb.tcp(6379)}])
        kb.network_policy(self, "sample-web-to-cache", namespace, WEB,
                          egress=[{"to": [kb.peer(None, CACHE)], "ports": kb.tcp(6379)}])
        self.register_outputs({})


def sample_stack(slug: str, cost_center: str, deny_only: bool = False) -> StackPlan:
    """The sample registered as municipality ``slug`` under the mocks (recorded resources, labels applied)."""

    def program():
        register_labels(labels.tenant_scope(slug, cost_center))
        SampleModule(slug, deny_only)
        return {}

    return run_stack(slug, program)


def stack_folder(plan_dir: Path, slug: str) -> Path:
    """The folder of municipality ``slug``'s stack in a written plan: ``<slug>`` in the default cell,
    ``<slug>.<cell>`` in another (catalogue/cells.py); ``<slug>`` when the plan has neither yet."""
    found = [p for p in (plan_dir / slug, *sorted(plan_dir.glob(f"{slug}.*"))) if p.is_dir()]
    return found[0] if found else plan_dir / slug


def write_sample(plan_dir: Path, slug: str, cost_center: str, deny_only: bool = False) -> list[Path]:
    """Render the sample as municipality ``slug`` and add its files to its stack's folder of ``plan_dir``
    (:func:`stack_folder`); returns them."""
    rendered = plan_dir.parent / f".sample-{plan_dir.name}-{slug}"
    write_plan([sample_stack(slug, cost_center, deny_only)], rendered)
    target = stack_folder(plan_dir, slug)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for f in sorted((rendered / slug).glob("*.yaml")):
        dest = target / f.name
        if dest.exists():
            raise FileExistsError(f"{dest}: the sample would overwrite a file of the real plan")
        dest.write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
        written.append(dest)
    return written


def write_crafted_plan(source: Path, dest: Path, tenants: dict[str, str], sample_tenant: str) -> Path:
    """``dest``: a copy of the plan in ``source`` plus the sample in ``sample_tenant``'s namespace and a
    sample default-deny policy in every municipality's namespace (so that the copy is isolated even where
    the real plan is not complete yet). ``tenants`` maps slug -> cost centre."""
    import shutil

    shutil.copytree(source, dest)
    for slug, cost_center in tenants.items():
        write_sample(dest, slug, cost_center, deny_only=slug != sample_tenant)
    return dest
