"""The municipality's bucket and its credentials, through the shared stack's storage mode.

``rook-ceph``: an ``ObjectBucketClaim`` against the shared CephObjectStore's bucket StorageClass. Rook
creates the bucket, a Ceph user that may only use it, and a Secret + ConfigMap named like the claim
(``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``; ``BUCKET_HOST``/``BUCKET_NAME``/``BUCKET_PORT``).

``external``: the bucket ``urbanstack-<slug>`` and a key pair restricted to it are created at the
provider by the operator (providers' IAM APIs differ; see docs/operations.md); the municipality's stack
expects the key pair in Secret ``<slug>-bucket`` (same key names as Rook's) and publishes the bucket's
coordinates in ConfigMap ``<slug>-bucket`` so modules read them the same way in both modes.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from catalogue import names
from components import k8s as kb
from components.base import BucketInfo, TenantContext


def bucket_name(slug: str) -> str:
    return f"urbanstack-{slug}"


class Storage(pulumi.ComponentResource):
    """One bucket for the municipality alone (protected: it holds data and backups)."""

    def __init__(self, name: str, ctx: TenantContext, opts: pulumi.ResourceOptions | None = None):
        super().__init__("urbanstack:tenant:storage", name, None, opts)
        ns, slug = ctx.namespace, ctx.slug
        claim = names.bucket_claim(slug)
        keep = pulumi.ResourceOptions.merge(ctx.in_namespace,
                                            pulumi.ResourceOptions(protect=True, retain_on_delete=True))
        if ctx.shared.s3_mode == "rook-ceph":
            self.claim = k8s.apiextensions.CustomResource(
                claim, api_version="objectbucket.io/v1alpha1", kind="ObjectBucketClaim",
                metadata=kb.meta(claim, ns),
                spec={"bucketName": bucket_name(slug), "storageClassName": names.OBJECT_BUCKET_STORAGE_CLASS,
                      "additionalConfig": {"maxSize": f"{_quota_gi(ctx)}G"}},
                opts=kb.child(self, keep),
            )
        else:
            self.claim = kb.config_map(
                self, claim, ns,
                {"BUCKET_NAME": bucket_name(slug), "BUCKET_HOST": ctx.shared.s3_endpoint,
                 "BUCKET_PORT": "443", "BUCKET_REGION": "eu-central-1"},
                opts=keep,
            )
        self.info = BucketInfo(name=bucket_name(slug), secret=claim, config_map=claim, endpoint=ctx.shared.s3_endpoint)
        self.register_outputs({"bucket": self.info.name})


def _quota_gi(ctx: TenantContext) -> int:
    from catalogue.sizing import TENANT_PLANS

    return TENANT_PLANS[ctx.plan].bucket_quota_gi
