"""The shared platform, composed of one component per concern."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import labels, names
from components.k8s import meta


class Hygiene(pulumi.ComponentResource):
    """Platform namespaces with Pod Security labels and default-deny NetworkPolicies."""

    def __init__(self, name: str, cfg, opts: pulumi.ResourceOptions | None = None):
        super().__init__("urbanstack:shared:platform", name, None, opts)
        self.namespaces = {}
        for ns in names.PLATFORM_NAMESPACES:
            level = "privileged" if ns == names.NS_STORAGE else "restricted"
            self.namespaces[ns] = k8s.core.v1.Namespace(
                ns,
                metadata=meta(ns, None, labels={
                    "pod-security.kubernetes.io/enforce": level,
                    "pod-security.kubernetes.io/audit": "restricted",
                    "pod-security.kubernetes.io/warn": "restricted",
                }),
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs({})


class SharedPlatform(pulumi.ComponentResource):
    """Everything that exists once for all municipalities."""

    def __init__(self, name: str, cfg, tenants: Mapping[str, Any], opts: pulumi.ResourceOptions | None = None):
        super().__init__("urbanstack:stack:shared", name, None, opts)
        self.hygiene = Hygiene("platform", cfg, opts=pulumi.ResourceOptions(parent=self))
        self.outputs: dict[str, Any] = {
            "gatewayName": names.GATEWAY_NAME,
            "gatewayNamespace": names.NS_GATEWAY,
            "clusterIssuer": names.CLUSTER_ISSUER,
            "keycloakUrl": f"https://id.{cfg.baseDomain}",
            "keycloakNamespace": names.NS_IDENTITY,
            "keycloakAdminSecret": names.KEYCLOAK_ADMIN_SECRET,
            "s3Endpoint": f"http://rook-ceph-rgw-{names.OBJECT_STORE}.{names.NS_STORAGE}.svc:{names.RGW_PORT}",
            "s3Mode": cfg.storage.mode,
            "storageClass": cfg.storage.blockStorageClass,
            "objectStore": names.OBJECT_STORE,
            "labelKeys": list(labels.COST_LABEL_KEYS),
        }
        self.register_outputs(self.outputs)
