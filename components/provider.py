"""The Kubernetes provider every resource of a stack uses.

With a kubeconfig (``KUBECONFIG``, ``~/.kube/config`` or config ``kubernetes:kubeconfig``) the provider
talks to that cluster. Without one it renders every manifest to ``build/rendered/<stack>/`` instead of
touching a cluster (``renderYamlToDirectory``), so ``make up`` on a laptop shows what would be applied.

Secrets in render mode: the provider writes every object as it would apply it, Secrets with their values in
plain text. pulumi-kubernetes writes each file with mode 0600 and creates the folders with 0700
(``provider/pkg/provider/provider.go``, ``renderYaml``: ``os.MkdirAll(..., 0o700)``,
``os.WriteFile(path, yamlBytes, 0o600)``); folders that exist already keep their mode, so
:func:`make_provider` tightens them to 0700 itself. And so that passwords that were written to disk never
become live credentials, every generated password of a rendering stack carries the keeper
:data:`RENDER_KEEPER` (pulumi-random: a changed ``keepers`` map replaces the value): a later deployment to
a real cluster has no such keeper and therefore generates new passwords.

Secrets that are not generated but come from a stack's configuration (``pulumi config set --secret``: the
federation's client secret, the LDAP bind password) are real credentials of the municipality's own directory; a
new deployment cannot replace them. In render mode they never reach the render folder: :func:`stack_secret`
gives :data:`RENDER_PLACEHOLDER` in their place (the rendered realm shows where the secret goes, not what it is).
"""

from __future__ import annotations

import os
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

RENDER_KEEPER = "urbanstack/rendered-to"
"""Keeper on every generated password of a stack in render mode (value: the render folder)."""
RENDER_PLACEHOLDER = "rendered-placeholder-set-by-a-real-deployment"
"""What a rendered Secret holds in place of a stack configuration secret (see the module doc)."""
_PASSWORD_TYPES = ("random:index/randomPassword:RandomPassword", "random:index/randomString:RandomString")


def has_kubeconfig() -> bool:
    if pulumi.Config("kubernetes").get("kubeconfig"):
        return True
    env = os.environ.get("KUBECONFIG")
    if env:
        return any(Path(p).is_file() for p in env.split(os.pathsep) if p)
    return (Path.home() / ".kube" / "config").is_file()


def stack_secret(value: pulumi.Input[str] | None) -> pulumi.Input[str] | None:
    """A secret from the stack's configuration as the stack may write it into a Secret: the value itself when
    deploying to a cluster, :data:`RENDER_PLACEHOLDER` in render mode (no kubeconfig). ``None`` stays ``None``."""
    if value is None or has_kubeconfig():
        return value
    return pulumi.Output.secret(RENDER_PLACEHOLDER)


def rendered_passwords_transform(out: Path):
    """Resource transform: give every generated password the render keeper (see the module doc)."""

    def transform(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
        if args.type_ not in _PASSWORD_TYPES:
            return None
        props = dict(args.props)
        props["keepers"] = {**(props.get("keepers") or {}), RENDER_KEEPER: str(out)}
        return pulumi.ResourceTransformResult(props=props, opts=args.opts)

    return transform


def _tighten(out: Path, root: Path) -> None:
    """Mode 0700 for the render folders that exist already (the provider creates missing ones with 0700)."""
    for folder in (root / "build" / "rendered", out, out / "0-crd", out / "1-manifest"):
        if folder.is_dir():
            folder.chmod(0o700)
    for file in out.glob("*/*.yaml") if out.is_dir() else ():
        file.chmod(0o600)


def make_provider(stack: str, root: Path, context: str | None = None) -> k8s.Provider:
    """One explicit provider per stack (server-side apply; render mode without a kubeconfig).

    ``context``: the kubeconfig context of the stack's cell (shared config ``cells[].kubernetes.context``); None for
    the default cell without one (the kubeconfig's current context, as before cells: the provider's inputs, and so
    the stacks' URNs and state, stay as they were)."""
    if has_kubeconfig():
        return k8s.Provider("k8s", enable_server_side_apply=True, **({"context": context} if context else {}))
    out = root / "build" / "rendered" / stack
    _tighten(out, root)
    pulumi.runtime.register_resource_transform(rendered_passwords_transform(out))
    pulumi.log.warn(
        f"no kubeconfig found: rendering manifests to {out} instead of applying them to a cluster. "
        "Rendered Secrets hold their values in plain text (files mode 0600, folders 0700): do not share or "
        "commit that folder. The passwords in it are never used for real: a deployment with a kubeconfig "
        "generates new ones; secrets from the stack's configuration (federation client secret, LDAP bind "
        f"password) are rendered as '{RENDER_PLACEHOLDER}'."
    )
    return k8s.Provider("k8s", render_yaml_to_directory=str(out))
