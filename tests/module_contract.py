"""The module contract: what every module in the catalogue must deliver, checked on a plan.

``check_module(plan, spec, tenant)`` returns the violations of one booked module in a municipality's
offline plan (empty = the module honours the contract):

* labels: every object of the module carries the four cost labels with ``urban-stack/module=<name>``;
  objects are attributed by the ``app.kubernetes.io/name`` the builders set, so an object created outside
  the module's component (and so missed by the transform's module lookup) is caught too;
* security context: non-root, seccomp ``RuntimeDefault``, no privilege escalation, all capabilities
  dropped, not privileged, ``readOnlyRootFilesystem`` set explicitly; pinned images from the catalogue;
* resources: requests and limits for CPU and memory on every container;
* probes: liveness and readiness on every long-running container;
* route: an HTTPRoute on ``<name>.<domain>`` through the municipality's listener, to a Service that exists;
* NetworkPolicy: every workload's pods are selected by a policy of the module that admits the gateway;
* PodDisruptionBudget for every workload with more than one replica;
* OIDC client: the ``<name>-oidc`` Secret is used by a container iff the module has ``oidc``;
* databases: a ``Database`` for each of ``SPEC.databases``, whose credentials a container uses;
* data stores: every database, volume and bucket prefix is declared in ``SPEC.data_stores`` (what
  offboarding exports), and every declared volume is mounted where the declaration says;
* back channel: the pods labelled ``urban-stack/oidc-backchannel`` are exactly the workloads of
  ``SPEC.backchannel``, with the declared value; a declared workload reads its endpoints from the OIDC Secret
  (back-channel URLs for ``internal``, the issuer for ``public``); only declared workloads have egress towards the Gateway's Envoy pods for it (their own
  municipality's back-channel port, or Envoy's HTTPS port for ``public``), and no policy of the module has an
  egress rule towards Keycloak's namespace.
"""

from __future__ import annotations

from typing import Any

from catalogue import labels, manifests, names
from catalogue.shared_config import load_file
from catalogue.versions import IMAGES
from components.k8s import NAME
from components.tenant.gateway import listener_set_ref


def _secret_refs(template: manifests.PodTemplate) -> set[str]:
    refs = set()
    for container in template.containers(("containers", "initContainers")):
        c = container.body
        for e in c.get("env", []):
            ref = (e.get("valueFrom") or {}).get("secretKeyRef")
            if ref:
                refs.add(ref["name"])
        for ef in c.get("envFrom", []):
            if "secretRef" in ef:
                refs.add(ef["secretRef"]["name"])
    for _, v in template.volumes():
        if "secret" in v:
            refs.add(v["secret"]["secretName"])
        for src in (v.get("projected") or {}).get("sources", []):
            if "secret" in src:
                refs.add(src["secret"]["name"])
    return refs


def _selects(selector: dict, pod_labels: dict) -> bool:
    match = selector.get("matchLabels") or {}
    return all(pod_labels.get(k) == v for k, v in match.items())


def check_module(plan, spec, tenant) -> list[str]:
    """Violations of the module contract by module ``spec`` in the plan of municipality ``tenant``."""
    name, ns = spec.name, tenant.slug
    problems: list[str] = []
    objs = [r.inputs for r in plan.kube_objects()]
    mine = [o for o in objs if ((o.get("metadata") or {}).get("labels") or {}).get(NAME) == spec.name
            or ((o.get("metadata") or {}).get("labels") or {}).get(labels.MODULE) == spec.name]

    def where(o: dict) -> str:
        md = o.get("metadata") or {}
        return f"{o.get('kind')} {md.get('namespace', '')}/{md.get('name')}"

    if not mine:
        return [f"module {name}: no objects in the plan of {ns}"]
    registry = load_file().imageRegistry
    image_refs = {i.ref_from(registry) for i in IMAGES.values()}
    workloads = [o for o in mine if manifests.workload_pod(o) is not None]
    if not workloads:
        problems.append(f"module {name}: no workload")
    for o in mine:
        lbl = (o.get("metadata") or {}).get("labels") or {}
        if lbl.get(labels.MODULE) != name:
            problems.append(f"{where(o)}: label {labels.MODULE} is {lbl.get(labels.MODULE)!r}, not {name!r}")
        for key in labels.COST_LABEL_KEYS:
            if not lbl.get(key):
                problems.append(f"{where(o)}: label {key} missing")
    used_secrets: set[str] = set()
    pod_labels_of: list[tuple[dict, dict]] = []
    for o in workloads:
        template = manifests.workload_pod(o)
        tpl_labels = template.labels
        for key in labels.COST_LABEL_KEYS:
            if not tpl_labels.get(key):
                problems.append(f"{where(o)}: pod template label {key} missing")
        pod_labels_of.append((o, tpl_labels))
        pspec = template.spec
        used_secrets |= _secret_refs(template)
        psc = pspec.get("securityContext") or {}
        if not psc.get("runAsNonRoot"):
            problems.append(f"{where(o)}: pod securityContext.runAsNonRoot is not true")
        if (psc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
            problems.append(f"{where(o)}: pod seccompProfile is not RuntimeDefault")
        for key in ("hostNetwork", "hostPID", "hostIPC"):
            if pspec.get(key):
                problems.append(f"{where(o)}: {key} is set")
        long_running = o.get("kind") in ("Deployment", "StatefulSet", "DaemonSet")
        for container in template.containers(("containers", "initContainers")):
            c, init = container.body, container.group == "initContainers"
            cw = f"{where(o)} container {c.get('name')}"
            if c.get("image") not in image_refs:
                problems.append(f"{cw}: image {c.get('image')!r} is not pinned in catalogue/versions.py")
            sc = c.get("securityContext")
            if not sc:
                problems.append(f"{cw}: no securityContext")
                continue
            if sc.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{cw}: allowPrivilegeEscalation is not false")
            if sc.get("privileged"):
                problems.append(f"{cw}: privileged")
            if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
                problems.append(f"{cw}: capabilities are not all dropped")
            if (sc.get("capabilities") or {}).get("add"):
                problems.append(f"{cw}: adds capabilities")
            if "readOnlyRootFilesystem" not in sc:
                problems.append(f"{cw}: readOnlyRootFilesystem not set explicitly")
            if not (sc.get("runAsNonRoot") or psc.get("runAsNonRoot")):
                problems.append(f"{cw}: may run as root")
            res = c.get("resources") or {}
            for kind in ("requests", "limits"):
                for r in ("cpu", "memory"):
                    if not (res.get(kind) or {}).get(r):
                        problems.append(f"{cw}: no {kind}.{r}")
            if long_running and not init:
                for probe in ("livenessProbe", "readinessProbe"):
                    if probe not in c:
                        problems.append(f"{cw}: no {probe}")
        replicas = (o.get("spec") or {}).get("replicas", 1)
        if o.get("kind") in ("Deployment", "StatefulSet") and replicas > 1:
            sel = (o.get("spec") or {}).get("selector") or {}
            if not any(p.get("kind") == "PodDisruptionBudget" and (p.get("spec") or {}).get("selector") == sel
                       for p in mine):
                problems.append(f"{where(o)}: {replicas} replicas but no PodDisruptionBudget")
    # Route through the municipality's listener to an existing Service.
    host = f"{name}.{tenant.domain}"
    routes = [o for o in mine if o.get("kind") == "HTTPRoute" and host in (o.get("spec") or {}).get("hostnames", [])]
    services = {(o.get("metadata") or {}).get("name") for o in objs if o.get("kind") == "Service"}
    if not routes:
        problems.append(f"module {name}: no HTTPRoute for {host}")
    for r in routes:
        parents = (r.get("spec") or {}).get("parentRefs") or []
        if listener_set_ref(ns, names.LS_HTTPS) not in parents:
            problems.append(f"{where(r)}: not attached to the HTTPS listener of {ns}'s ListenerSet")
        for rule in (r.get("spec") or {}).get("rules", []):
            for b in rule.get("backendRefs", []):
                if b.get("name") not in services:
                    problems.append(f"{where(r)}: backend Service {b.get('name')} does not exist")
    # Every workload is covered by a policy of the module; the routed ones admit the gateway.
    policies = [o for o in mine if o.get("kind") == "NetworkPolicy"]
    for o, tpl_labels in pod_labels_of:
        if o.get("kind") in ("Job", "CronJob"):
            covering = [p for p in policies if _selects((p.get("spec") or {}).get("podSelector") or {}, tpl_labels)]
        else:
            covering = [p for p in policies if _selects((p.get("spec") or {}).get("podSelector") or {}, tpl_labels)
                        and (p.get("spec") or {}).get("podSelector", {}).get("matchLabels")]
        if not covering:
            problems.append(f"{where(o)}: no NetworkPolicy of the module selects its pods")
    if routes and not any("urban-gateway" in str((p.get("spec") or {}).get("ingress")) for p in policies):
        problems.append(f"module {name}: no NetworkPolicy admits the gateway")
    oidc_secret = names.oidc_secret_name(name)
    if spec.oidc and oidc_secret not in used_secrets:
        problems.append(f"module {name}: has an OIDC client but no container uses Secret {oidc_secret}")
    if not spec.oidc and oidc_secret in used_secrets:
        problems.append(f"module {name}: uses {oidc_secret} but declares no OIDC client")
    dbs = {((o.get("spec") or {}).get("name")) for o in objs if o.get("kind") == "Database"}
    for db in spec.databases:
        if db not in dbs:
            problems.append(f"module {name}: database {db} is not in the plan")
        if names.role_secret_name(db) not in used_secrets:
            problems.append(f"module {name}: no container uses the credentials of database {db}")
    problems += _data_store_problems(spec, workloads)
    problems += _backchannel_problems(spec, ns, workloads, policies)
    return problems


BACKCHANNEL_SECRET_KEYS = {"backchannel-url", "token-url", "userinfo-url", "jwks-url", "keycloak.json"}
"""Keys of the ``<module>-oidc`` Secret that name back-channel endpoints (components/tenant/identity.py)."""
ENVOY_HTTPS_PORT = 10443


def _oidc_keys_used(template: manifests.PodTemplate, secret: str) -> set[str]:
    keys: set[str] = set()
    for container in template.containers(("containers", "initContainers")):
        for e in container.body.get("env", []):
            ref = (e.get("valueFrom") or {}).get("secretKeyRef") or {}
            if ref.get("name") == secret:
                keys.add(ref.get("key"))
    for _, v in template.volumes():
        if (v.get("secret") or {}).get("secretName") == secret:
            keys |= {i.get("key") for i in v["secret"].get("items") or []} or {"keycloak.json"}
    return keys


def _backchannel_problems(spec, ns: str, workloads: list[dict], policies: list[dict]) -> list[str]:
    problems: list[str] = []
    secret = names.oidc_secret_name(spec.name)
    for o in workloads:
        if o.get("kind") not in ("Deployment", "StatefulSet"):
            continue
        workload = ((o.get("metadata") or {}).get("name") or "").removeprefix(f"{spec.name}-")
        template = manifests.workload_pod(o)
        declared = spec.backchannel.get(workload)
        label = template.labels.get(labels.OIDC_BACKCHANNEL)
        if label != declared:
            problems.append(f"module {spec.name}: workload {workload} has pod label {labels.OIDC_BACKCHANNEL}="
                            f"{label!r}, the catalogue declares {declared!r}")
        keys = _oidc_keys_used(template, secret)
        needs = BACKCHANNEL_SECRET_KEYS if declared == "internal" else {"issuer-url"}
        if declared is not None and not keys & needs:
            problems.append(f"module {spec.name}: workload {workload} declares the back channel {declared!r} but "
                            f"reads none of {', '.join(sorted(needs))} from Secret {secret}")
        mine = [p for p in policies if _selects((p.get("spec") or {}).get("podSelector") or {}, template.labels)]
        to_envoy: set[int] = set()
        for p in mine:
            for rule in (p.get("spec") or {}).get("egress") or []:
                peers = rule.get("to") or []
                if any(names.NS_IDENTITY in str(peer.get("namespaceSelector")) for peer in peers):
                    problems.append(f"module {spec.name}: policy {(p.get('metadata') or {}).get('name')} has an "
                                    f"egress rule towards {names.NS_IDENTITY} (Keycloak's pods)")
                if any(names.NS_GATEWAY in str(peer.get("namespaceSelector")) for peer in peers):
                    to_envoy |= {int(port["port"]) for port in rule.get("ports") or []}
        wanted = {None: set(), "internal": {names.backchannel_port(ns)}, "public": {ENVOY_HTTPS_PORT}}[declared]
        if to_envoy != wanted:
            problems.append(f"module {spec.name}: workload {workload} reaches the Envoy pods on "
                            f"{sorted(to_envoy)}, its back-channel declaration {declared!r} needs {sorted(wanted)}")
    return problems


def _data_store_problems(spec, workloads: list[dict]) -> list[str]:
    """Every database and every volume the module really has is declared in ``SPEC.data_stores`` (offboarding
    exports exactly what is declared), and every declared volume is mounted where the declaration says."""
    problems: list[str] = []
    declared = {(d.kind, d.name, d.workload) for d in spec.data_stores}
    for db in spec.databases:
        if ("database", db, "") not in declared:
            problems.append(f"module {spec.name}: database {db} is not declared in SPEC.data_stores")
    real_volumes: set[tuple[str, str, str, str]] = set()
    for o in workloads:
        if o.get("kind") != "StatefulSet":
            continue
        workload = ((o.get("metadata") or {}).get("name") or "").removeprefix(f"{spec.name}-")
        template = manifests.workload_pod(o)
        for _, tpl in manifests.claim_templates(o):
            claim = (tpl.get("metadata") or {}).get("name")
            mounts = [(c.name, m.get("mountPath")) for c in template.containers(("containers",))
                      for m in c.body.get("volumeMounts", []) if m.get("name") == claim]
            if ("volume", claim, workload) not in declared:
                problems.append(f"module {spec.name}: volume {claim} of workload {workload} is not declared "
                                "in SPEC.data_stores")
            real_volumes |= {(workload, claim, c, path) for c, path in mounts}
    for d in spec.data_stores:
        if d.kind == "volume" and (d.workload, d.name, d.container, d.path) not in real_volumes:
            problems.append(f"module {spec.name}: declared volume {d.name} is not mounted at {d.path} in "
                            f"container {d.container} of workload {d.workload}")
        if d.kind == "database" and d.name not in spec.databases:
            problems.append(f"module {spec.name}: declared database {d.name} is not in SPEC.databases")
        if d.kind == "bucket" and not spec.bucket:
            problems.append(f"module {spec.name}: declares bucket prefix {d.name} but SPEC.bucket is false")
    if spec.bucket and not any(d.kind == "bucket" for d in spec.data_stores):
        problems.append(f"module {spec.name}: stores files in the bucket but declares no bucket prefix")
    return problems


def booked_alone(spec_key: str, plan_name: str = "medium") -> dict[str, Any]:
    """A minimal tenant document booking only ``spec_key`` (used by the contract test)."""
    return tenant_document({spec_key: {}}, plan_name)


def tenant_document(modules: dict[str, Any], plan_name: str = "medium") -> dict[str, Any]:
    """A minimal valid tenant document (slug ``contract``) booking ``modules`` (key -> options)."""
    return {
        "schemaVersion": 1, "slug": "contract", "name": "Vertragsprüfung", "ags": "05754052",
        "population": 10000, "populationDate": "2024-12-31", "costCenter": "TEST-1",
        "contact": {"name": "Test", "email": "test@example.org"}, "domain": "contract.example.org",
        "plan": plan_name, "modules": dict(modules), "identity": {"admins": ["admin@example.org"]},
    }
