"""Object storage, by config ``storage.mode``:

* ``rook-ceph``: a CephCluster ``urban-ceph`` in ``urban-storage`` (the Rook operator comes from
  ``operators.py``), a CephObjectStore ``urban-objects`` whose RGW serves S3 on port ``names.RGW_PORT`` inside
  the cluster, and the StorageClass ``urban-objects-bucket`` through which municipality stacks claim buckets
  (ObjectBucketClaims). The cluster and the object store are protected and retained on delete: they hold
  every municipality's files and backups.
  Block storage comes from the same Ceph cluster: a CephBlockPool ``urban-block`` and the StorageClass named
  ``storage.blockStorageClass`` (default ``ceph-block``) on it, with ``reclaimPolicy: Retain``; every PVC of
  the platform and the municipalities uses it.
* ``external``: an S3-compatible provider outside the cluster (``storage.external``): nothing runs here;
  the endpoint, region and credentials Secret are handed to the tenant stacks, which create buckets there.
  Block storage is the cluster's own: ``storage.blockStorageClass`` must name a StorageClass that exists
  (the config validation insists on it being set).
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from catalogue import names
from catalogue.shared_config import SharedConfig
from catalogue.versions import IMAGES
from components.k8s import child, meta
from components.shared.operators import Operators
from components.shared.profile import Profile, spread

CEPH_CLUSTER = "urban-ceph"
RGW_POD_LABELS = {"app": "rook-ceph-rgw", "rook_object_store": names.OBJECT_STORE}
BUCKET_PROVISIONER = f"{names.NS_STORAGE}.ceph.rook.io/bucket"
"""Rook's bucket provisioner is named after the namespace of the operator."""
BLOCK_POOL = "urban-block"
RBD_PROVISIONER = f"{names.NS_STORAGE}.rbd.csi.ceph.com"
"""Ceph CSI's RBD driver as Rook v1.19.10 names it: ``<operator namespace>.rbd.csi.ceph.com``
(pkg/operator/ceph/csi/operator_driver.go; the chart's ``csi.csiDriverNamePrefix`` defaults to the operator's
namespace, and we do not set it)."""


def rbd_storage_class_parameters() -> dict[str, str]:
    """Parameters of the block StorageClass, as Rook v1.19.10's deploy/examples/csi/rbd/storageclass.yaml sets
    them; ``clusterID`` and the secrets' namespace are the CephCluster's namespace (here the operator's too)."""
    ns = names.NS_STORAGE
    return {
        "clusterID": ns,
        "pool": BLOCK_POOL,
        "imageFormat": "2",
        # `layering` alone: the example's choice that also works with kernels older than 5.4.
        "imageFeatures": "layering",
        "csi.storage.k8s.io/provisioner-secret-name": "rook-csi-rbd-provisioner",
        "csi.storage.k8s.io/provisioner-secret-namespace": ns,
        "csi.storage.k8s.io/controller-expand-secret-name": "rook-csi-rbd-provisioner",
        "csi.storage.k8s.io/controller-expand-secret-namespace": ns,
        "csi.storage.k8s.io/controller-publish-secret-name": "rook-csi-rbd-provisioner",
        "csi.storage.k8s.io/controller-publish-secret-namespace": ns,
        "csi.storage.k8s.io/node-stage-secret-name": "rook-csi-rbd-node",
        "csi.storage.k8s.io/node-stage-secret-namespace": ns,
        "csi.storage.k8s.io/fstype": "ext4",
    }


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


def replicated_pool(profile: Profile) -> dict[str, Any]:
    """Three copies on different hosts; one copy on a single-node (dev) cluster."""
    copies = 1 if profile.ceph_mons == 1 else 3
    return {"failureDomain": "osd" if copies == 1 else "host",
            "replicated": {"size": copies, "requireSafeReplicaSize": copies > 1}}


def object_store_spec(profile: Profile) -> dict[str, Any]:
    pool = replicated_pool(profile)
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

    def __init__(self, name: str, cfg: SharedConfig, profile: Profile, namespace: pulumi.Resource, operators: Operators,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("urbanstack:shared:storage", name, None, opts)
        self.mode = cfg.storage.mode
        self.cluster = self.object_store = self.bucket_class = self.block_pool = self.block_class = None
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
            self.block_pool = k8s.apiextensions.CustomResource(
                BLOCK_POOL, api_version="ceph.rook.io/v1", kind="CephBlockPool",
                metadata=meta(BLOCK_POOL, names.NS_STORAGE), spec=replicated_pool(profile),
                opts=child(self, pulumi.ResourceOptions.merge(keep, pulumi.ResourceOptions(
                    depends_on=[self.cluster]))))
            self.block_class = k8s.storage.v1.StorageClass(
                cfg.storage.blockStorageClass,
                metadata=meta(cfg.storage.blockStorageClass, None),
                provisioner=RBD_PROVISIONER,
                # Volumes hold databases and module data: deleting a claim must never delete them.
                reclaim_policy="Retain",
                allow_volume_expansion=True,
                parameters=rbd_storage_class_parameters(),
                opts=child(self, pulumi.ResourceOptions(depends_on=[self.block_pool])))
            self.s3_endpoint = rgw_endpoint()
            """Where the platform's S3 clients reach the object store (in-cluster RGW, or the external provider)."""
            self.outputs: dict[str, Any] = {
                "s3Mode": self.mode,
                "s3Endpoint": self.s3_endpoint,
                "s3Region": "us-east-1",
                "s3CredentialsSecret": None,
                "bucketStorageClass": names.OBJECT_BUCKET_STORAGE_CLASS,
                "objectStore": names.OBJECT_STORE,
            }
        else:
            ext = cfg.storage.external
            self.s3_endpoint = str(ext.endpoint).rstrip("/")
            self.outputs = {
                "s3Mode": self.mode,
                "s3Endpoint": self.s3_endpoint,
                "s3Region": ext.region,
                "s3CredentialsSecret": ext.credentialsSecret,
                "bucketStorageClass": None,
                "objectStore": None,
            }
        self.register_outputs({})
