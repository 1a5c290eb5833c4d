"""``ModuleComponent``: the base every module's component derives from.

It names the component after the module (type token ``SPEC.component_type``, which the catalogue maps to the
cost module ``SPEC.name``, so the label transform labels everything inside with ``urban-stack/module=<name>``) and
gives each module the same few verbs, so
that module files only say what is specific to them:

* :meth:`workload` – a hardened Deployment/StatefulSet sized from ``SPEC.workloads[<key>]`` and the plan,
  plus a PodDisruptionBudget when it has more than one replica;
* :meth:`service`, :meth:`route` – a Service and the HTTPRoute ``<name>.<domain>`` on the municipality's
  HTTPS listener (``components.tenant.gateway.route_parent``: its ListenerSet on the shared Gateway);
* :meth:`policy` – a NetworkPolicy for exactly the flows the module needs (peers in ``components.tenant.netpol``);
* :meth:`secret`, :meth:`config_map`, :meth:`password` – configuration and generated credentials;
* :meth:`job` – a run-to-completion Job (migrations, registrations) that runs again whenever it changes.

Install order: every workload and Job is created after the Secrets and ConfigMaps the module made before it
(:meth:`secret`, :meth:`config_map`, so a module makes its configuration first) and after the municipality's
components that make the Secrets modules name (``ModuleContext.prerequisites``: database role Secrets, OIDC
client Secrets). A ``depends_on`` of the module component itself is not inherited by its children.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from catalogue import labels, names
from catalogue.spec import BACKCHANNEL_INTERNAL, ModuleSpec
from components import k8s as kb
from components.base import ModuleContext
from components.tenant import netpol
from components.tenant.gateway import route_parent


class ModuleComponent(pulumi.ComponentResource):
    SPEC: ClassVar[ModuleSpec]

    def __init__(self, ctx: ModuleContext, options: Any, opts: pulumi.ResourceOptions | None = None):
        super().__init__(self.SPEC.component_type, f"{ctx.slug}-{self.SPEC.name}", None, opts)
        self.ctx = ctx
        self.options = options
        self.ns = ctx.namespace
        self.host = ctx.host(self.SPEC)
        self.url = f"https://{self.host}"
        self.configuration: list[pulumi.Resource] = []
        """The Secrets and ConfigMaps made so far (:meth:`secret`, :meth:`config_map`); workloads wait for them."""
        self.build()
        self.register_outputs({"url": self.url})

    # -- what a module implements ------------------------------------------------------------------
    def build(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- verbs ----------------------------------------------------------------------------------------
    def name(self, part: str | None = None) -> str:
        """Kubernetes name of a part of this module: ``<module>`` or ``<module>-<part>``."""
        return f"{self.SPEC.name}-{part}" if part else self.SPEC.name

    def selector(self, part: str) -> dict[str, str]:
        """Pod labels of one workload of this module (stable: used as selector)."""
        return kb.selector_labels(self.SPEC.name, f"{self.ctx.slug}-{self.SPEC.name}", part)

    @property
    def opts(self) -> pulumi.ResourceOptions:
        """Options for every object: after the namespace exists."""
        return self.ctx.in_namespace

    @property
    def workload_opts(self) -> pulumi.ResourceOptions:
        """Options for a workload or Job: after the namespace, the module's configuration made so far and the
        municipality components that make the Secrets it names."""
        return pulumi.ResourceOptions.merge(self.opts, pulumi.ResourceOptions(
            depends_on=[*self.configuration, *self.ctx.prerequisites]))

    def replicas(self, key: str) -> int:
        return self.SPEC.workloads[key].replicas[self.ctx.plan]

    def size(self, key: str):
        return self.SPEC.workloads[key].size_for(self.ctx.plan)

    def storage_gi(self, key: str) -> int:
        return self.SPEC.workloads[key].storage_gi[self.ctx.plan]

    def workload(self, key: str, containers: Sequence[kb.Container], *, kind: str = "Deployment",
                 volumes: Sequence[dict] = (), init: Sequence[kb.Container] = (),
                 claims: Sequence[tuple[str, str]] = (), annotations: Mapping[str, str] | None = None,
                 fs_group: int = kb.DEFAULT_UID, extra_opts: pulumi.ResourceOptions | None = None):
        """Deployment (or StatefulSet with ``claims`` = ``(claim, mountPath)`` sized from the sizing catalogue)."""
        replicas = self.replicas(key)
        selector = self.selector(key)
        gi = self.storage_gi(key)
        if claims and not gi:
            raise ValueError(f"{self.SPEC.key}.{key}: volume claims need storage_gi in the module's SPEC")
        # Volume claim templates are fixed at creation: Kubernetes refuses changes to them and
        # pulumi-kubernetes would replace the StatefulSet (provider/pkg/provider/diff.go lists
        # ".spec.volumeClaimTemplates" among the StatefulSet's force-new properties), which ``protect`` refuses.
        # A plan change resizes the claims themselves instead (:meth:`_resize_claims`).
        data_opts = pulumi.ResourceOptions(protect=True, retain_on_delete=True,
                                           ignore_changes=["spec.volumeClaimTemplates"]) if claims else None
        # The back-channel label (catalogue ``backchannel``) goes on the pod template only, never into the selector
        # (immutable): declaring it later must not replace the workload.
        backchannel = self.SPEC.backchannel.get(key)
        obj = kb.workload(
            self, kind=kind, name=self.name(key), namespace=self.ns, selector=selector, replicas=replicas,
            pod_labels={labels.OIDC_BACKCHANNEL: backchannel} if backchannel else None,
            containers=containers, volumes=volumes, init=init,
            claims=[(claim, gi, path) for claim, path in claims], annotations=annotations, fs_group=fs_group,
            storage_class=self.ctx.shared.storage_class, registry=self.ctx.shared.image_registry,
            opts=pulumi.ResourceOptions.merge(pulumi.ResourceOptions.merge(self.workload_opts, data_opts), extra_opts),
        )
        if replicas > 1:
            kb.pdb(self, self.name(key), self.ns, selector, opts=self.opts)
        if claims:
            self._resize_claims(key, obj, [claim for claim, _ in claims], replicas, gi)
        return obj

    def _resize_claims(self, key: str, statefulset, claims: Sequence[str], replicas: int, gi: int) -> None:
        """Size each replica's claim to the plan: a server-side-apply patch of ``spec.resources.requests``.

        The StatefulSet controller names the claim of replica ``i`` ``<claim>-<statefulset>-<i>``; growing
        ``requests.storage`` is the resize Kubernetes allows (the StorageClass needs
        ``allowVolumeExpansion: true``; claims never shrink, a smaller plan is refused by the API server).
        """
        for claim in claims:
            for i in range(replicas):
                pvc = f"{claim}-{self.name(key)}-{i}"
                k8s.core.v1.PersistentVolumeClaimPatch(
                    f"{self.ctx.slug}-{pvc}",
                    metadata=kb.meta(pvc, self.ns, self.selector(key)),
                    spec={"resources": {"requests": {"storage": f"{gi}Gi"}}},
                    # Kept like the volume it sizes: deleting a patch would withdraw its field from the claim.
                    opts=kb.child(self, pulumi.ResourceOptions.merge(self.opts, pulumi.ResourceOptions(
                        depends_on=[statefulset], protect=True, retain_on_delete=True))),
                )

    def service(self, key: str, ports: Mapping[str, int], headless: bool = False):
        return kb.service(self, self.name(key), self.ns, self.selector(key), ports, headless=headless, opts=self.opts)

    def route(self, service_key: str, port: int, paths: Mapping[str, tuple[str, int]] | None = None):
        """HTTPRoute ``<module>.<domain>`` → Service ``<module>-<service_key>`` through the municipality's listener
        (:func:`components.tenant.gateway.route_parent`).

        ``paths`` sends further path prefixes to other Services of the module: ``{"/mqtt": ("mqtt", 9876)}``.
        """
        extra = {prefix: (self.name(key), p) for prefix, (key, p) in (paths or {}).items()}
        return kb.http_route(
            self, self.name(), self.ns, self.host, self.name(service_key), port, route_parent(self.ctx),
            paths=extra, opts=self.opts,
        )

    def policy(self, key: str, ingress: Sequence[dict], egress: Sequence[dict]):
        """NetworkPolicy for the pods of workload ``key``: exactly these flows (plus DNS, from the baseline)."""
        return kb.network_policy(self, self.name(key), self.ns, self.selector(key),
                                 ingress=list(ingress), egress=list(egress), opts=self.opts)

    def to_keycloak(self, key: str) -> list[dict]:
        """Egress rules of workload ``key`` to its realm's OIDC back channel, as the catalogue declares it
        (``SPEC.backchannel[key]``): the municipality's internal Gateway listener, or the public address
        (Envoy's HTTPS port in the cluster and the internet). A workload that does not declare it gets none."""
        kind = self.SPEC.backchannel.get(key)
        if kind is None:
            raise ValueError(f"{self.SPEC.key}.{key}: calls Keycloak's back channel without declaring it "
                             f"(catalogue/modules/{self.SPEC.name}.py, SPEC backchannel)")
        if kind == BACKCHANNEL_INTERNAL:
            return [netpol.to_keycloak(self.ctx.slug, self.ctx.tenant.backchannel_port)]
        return netpol.to_keycloak_public(self.ctx)

    def password(self, purpose: str, length: int = 32) -> pulumi.Output[str]:
        """A generated secret value (pulumi-random; a Pulumi secret in the state)."""
        return random.RandomPassword(f"{self.ctx.slug}-{self.SPEC.name}-{purpose}", length=length, special=False,
                                     opts=pulumi.ResourceOptions(parent=self)).result

    def secret(self, part: str, data: Mapping[str, Any]):
        obj = kb.secret(self, self.name(part), self.ns, data, opts=self.opts)
        self.configuration.append(obj)
        return obj

    def config_map(self, part: str, data: Mapping[str, Any]):
        obj = kb.config_map(self, self.name(part), self.ns, data, opts=self.opts)
        self.configuration.append(obj)
        return obj

    def job(self, key: str, containers: Sequence[kb.Container], *, volumes: Sequence[dict] = (),
            revision: str = "", backoff_limit: int = 6, deadline_s: int = 1800,
            extra_opts: pulumi.ResourceOptions | None = None):
        """A hardened run-to-completion Job ``<module>-<key>-<hash>``; its pods carry ``selector(key)``.

        The name carries a hash of the pod spec and ``revision`` (e.g. the config the Job applies): any
        change is a new Job, which Pulumi creates (waiting for it to complete) in place of the old one; an
        unchanged Job is left alone. The pod spec must be plain data (no Outputs) so that it can be hashed.
        """
        selector = self.selector(key)
        spec = kb.pod_spec(containers, volumes, registry=self.ctx.shared.image_registry)
        spec["restartPolicy"] = "Never"
        try:
            document = json.dumps([spec, revision], sort_keys=True)
        except TypeError as err:
            raise ValueError(f"{self.SPEC.key}.{key}: a Job's pod spec must be plain data to be hashed") from err
        name = f"{self.name(key)}-{hashlib.sha256(document.encode()).hexdigest()[:10]}"
        return k8s.batch.v1.Job(
            self.name(key),
            metadata=kb.meta(name, self.ns, selector),
            spec={"backoffLimit": backoff_limit, "activeDeadlineSeconds": deadline_s,
                  "template": {"metadata": {"labels": dict(selector)}, "spec": spec}},
            opts=kb.child(self, pulumi.ResourceOptions.merge(self.workload_opts, extra_opts)),
        )

    @property
    def oidc_secret(self) -> str:
        """Secret with ``client-id``, ``client-secret`` and ``issuer-url`` of this module's OIDC client."""
        return names.oidc_secret_name(self.SPEC.name)
