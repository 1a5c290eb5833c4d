"""The Kubernetes provider every resource of a stack uses.

With a kubeconfig (``KUBECONFIG``, ``~/.kube/config`` or config ``kubernetes:kubeconfig``) the provider
talks to that cluster. Without one it renders every manifest to ``build/rendered/<stack>/`` instead of
touching a cluster (``renderYamlToDirectory``), so ``make up`` on a laptop shows what would be applied.
"""

from __future__ import annotations

import os
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s


def has_kubeconfig() -> bool:
    if pulumi.Config("kubernetes").get("kubeconfig"):
        return True
    env = os.environ.get("KUBECONFIG")
    if env:
        return any(Path(p).is_file() for p in env.split(os.pathsep) if p)
    return (Path.home() / ".kube" / "config").is_file()


def make_provider(stack: str, root: Path) -> k8s.Provider:
    """One explicit provider per stack (server-side apply; render mode without a kubeconfig)."""
    if has_kubeconfig():
        return k8s.Provider("k8s", enable_server_side_apply=True)
    out = root / "build" / "rendered" / stack
    pulumi.log.warn(f"no kubeconfig found: rendering manifests to {out} instead of applying them to a cluster")
    return k8s.Provider("k8s", render_yaml_to_directory=str(out))
