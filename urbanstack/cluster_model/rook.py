"""What Rook's bucket provisioner makes from an ``ObjectBucketClaim``: the Secret and ConfigMap."""

from __future__ import annotations

from urbanstack.cluster_model.objects import Obj, _md

# --------------------------------------------------------------------------------------------------------------
# Rook v1.19.10 ObjectBucketClaim (kube-object-storage/lib-bucket-provisioner, pkg/provisioner/resourcehandlers.go)
# --------------------------------------------------------------------------------------------------------------

def obc_outputs(obc: Obj) -> list[Obj]:
    """The Secret and ConfigMap the bucket provisioner library writes for an ``ObjectBucketClaim``.

    kube-object-storage/lib-bucket-provisioner ``pkg/provisioner/resourcehandlers.go`` (``newCredentialsSecret``,
    ``newBucketConfigMap``; rook v1.19.10's ``go.mod`` pins the library at ``d1a8c34382f1``): both named like the
    claim, in its namespace, finalizer ``objectbucket.io/finalizer``, owned by the claim, **no labels** (nothing is
    copied from the claim). Keys: ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``; ``BUCKET_NAME``, ``BUCKET_HOST``,
    ``BUCKET_PORT``, ``BUCKET_SSL``, ``BUCKET_REGION``, ``BUCKET_SUBREGION`` (values only the provisioner knows).
    """
    md = {"name": _md(obc)["name"], "namespace": _md(obc).get("namespace"), "finalizers": ["objectbucket.io/finalizer"]}
    return [
        {"apiVersion": "v1", "kind": "Secret", "metadata": dict(md), "type": "Opaque",
         "data": {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": dict(md),
         "data": {k: "" for k in ("BUCKET_NAME", "BUCKET_HOST", "BUCKET_PORT", "BUCKET_SSL", "BUCKET_REGION",
                                  "BUCKET_SUBREGION")}},
    ]
