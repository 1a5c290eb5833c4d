"""Object storage, by config ``storage.mode``:

* ``rook-ceph``: a CephCluster ``urban-ceph`` in ``urban-storage`` (the Rook operator comes from
  ``operators.py``), a CephObjectStore ``urban-objects`` whose RGW serves S3 on port ``names.RGW_PORT`` inside
  the cluster, and the StorageClass ``urban-objects-bucket`` through which municipality stacks claim buckets
  (ObjectBucketClaims). The cluster and the object store are protected and retained on delete: they hold
  every municipality's files and backups.
* ``external``: an S3-compatible provider outside the cluster (``storage.external``): nothing runs here;
  the endpoint, region and credentials Secret are handed to the tenant stacks, which create buckets there.

Block storage (``storage.blockStorageClass``) is the cluster's own and is only passed on.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import names
from components.k8s import child, meta
from components.shared.profile import Profile, spread
from components.versions import IMAGES

CEPH_CLUSTER = "urban-ceph"
RGW_POD_LABELS = {"app": "rook-ceph-rgw", "rook_object_store": names.OBJECT_STORE}
BUCKET_PROVISIONER = f"{names.NS_STORAGE}.ceph.rook.io/bucket"
"""Rook's bucket provisioner is named after the namespace of the operator."""


def rgw_endpoint() -> str:
    """In-cluster S3 endpoint of the RGW service Rook creates (``rook-ceph-rgw-<store>``)."""
    return f"http://rook-ceph-rgw-{names.OBJECT_STORE}.{names.NS_STORAGE}.svc:{names.RGW_PORT}"


def ceph_cluster_spec(profile: Profile) -> dict[str, Any]:
    single = profile.ceph_mons == 1
    return {
        "cephVersion": {"image": IMAGES["ceph"].ref},
        "dataDirHostPath": "/var/lib/rook",
        "mon": {"count": profile.ceph_mons, "allowMultiplePerNode": single},
        "mgr": {"count": 1 if single else 2, "allowMultiplePerNode": single},
        "dashboard": {"enabled": False},
        "monitoring": {"enabled": True},
        "crashCollector": {"disable": single},
        # Rook keeps PodDisruptionBudgets for mons, OSDs and RGW itself.
        "disruptionManagement": {"managePodBudgets": True},
        "priorityClassNames": {"mon": names.PRIORITY_PLATFORM, "osd": names.PRIORITY_PLATFORM,
                               "mgr": names.PRIORITY_PLATFORM},
        "storage": {"useAllNodes": True, "useAllDevices": True},
    }


def object_store_spec(profile: Profile) -> dict[str, Any]:
    copies = 1 if profile.ceph_mons == 1 else 3
    pool = {"failureDomain": "osd" if copies == 1 else "host",
            "replicated": {"size": copies, "requireSafeReplicaSize": copies > 1}}
    gateway: dict[str, Any] = {
        "port": names.RGW_PORT,
        "instances": profile.rgw_instances,
        "priorityClassName": names.PRIORITY_PLATFORM,
        "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "2Gi"}},
    }
    if profile.rgw_instances > 1:
        gateway["placement"] = spread(RGW_POD_LABELS)
    return {"metadataPool": pool, "dataPool": pool, "preservePoolsOnDelete": True, "gateway": gateway}


class Storage(pulumi.ComponentResource):
    """Rook-Ceph object storage, or the description of an external S3 provider."""

    def __init__(self, name: str, cfg, profile: Profile, namespace: pulumi.Resource, operators,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("urbanstack:shared:storage", name, None, opts)
        self.mode = cfg.storage.mode
        self.cluster = self.object_store = self.bucket_class = None
        if self.mode == "rook-ceph":
            keep = pulumi.ResourceOptions(depends_on=[namespace, operators.rook], protect=True, retain_on_delete=True)
            self.cluster = k8s.apiextensions.CustomResource(
                CEPH_CLUSTER, api_version="ceph.rook.io/v1", kind="CephCluster",
                metadata=meta(CEPH_CLUSTER, names.NS_STORAGE), spec=ceph_cluster_spec(profile),
                opts=child(self, keep))
            self.object_store = k8s.apiextensions.CustomResource(
                names.OBJECT_STORE, api_version="ceph.rook.io/v1", kind="CephObjectStore",
                metadata=meta(names.OBJECT_STORE, names.NS_STORAGE), spec=object_store_spec(profile),
                opts=child(self, pulumi.ResourceOptions.merge(keep, pulumi.ResourceOptions(
                    depends_on=[self.cluster]))))
            self.bucket_class = k8s.storage.v1.StorageClass(
                names.OBJECT_BUCKET_STORAGE_CLASS,
                metadata=meta(names.OBJECT_BUCKET_STORAGE_CLASS, None),
                provisioner=BUCKET_PROVISIONER,
                reclaim_policy="Retain",
                parameters={"objectStoreName": names.OBJECT_STORE, "objectStoreNamespace": names.NS_STORAGE},
                opts=child(self, pulumi.ResourceOptions(depends_on=[self.object_store])))
            self.outputs: dict[str, Any] = {
                "s3Mode": self.mode,
                "s3Endpoint": rgw_endpoint(),
                "s3Region": "us-east-1",
                "s3CredentialsSecret": None,
                "bucketStorageClass": names.OBJECT_BUCKET_STORAGE_CLASS,
                "objectStore": names.OBJECT_STORE,
            }
        else:
            ext = cfg.storage.external
            self.outputs = {
                "s3Mode": self.mode,
                "s3Endpoint": str(ext.endpoint).rstrip("/"),
                "s3Region": ext.region,
                "s3CredentialsSecret": ext.credentialsSecret,
                "bucketStorageClass": None,
                "objectStore": None,
            }
        self.register_outputs({})
