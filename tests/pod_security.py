"""The container-hardening checks of Pod Security ``restricted`` (Kubernetes v1.33), for pods the plan does not
contain itself (those operators build from a template we give them).

Only the five checks that ``restricted`` adds about the containers' own security context are implemented:
``allowPrivilegeEscalation``, ``capabilities_restricted``, ``runAsNonRoot``, ``runAsUser`` and
``seccompProfile_restricted``; ``tests/test_pod_security_checks.py`` holds them to upstream's fixtures
(``vendor/pod-security-fixtures/restricted/v1.33``, the pods k8s.io/pod-security-admission tests itself with).
Pods with ``spec.os.name: windows`` are exempt from the Linux-only checks, as the standard says.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

CHECKS = ("allowPrivilegeEscalation", "capabilities_restricted", "runAsNonRoot", "runAsUser",
          "seccompProfile_restricted")


def _containers(spec: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        yield from spec.get(key) or []


def _sc(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("securityContext") or {}


def restricted_violations(spec: Mapping[str, Any]) -> list[str]:
    """``check: container`` for every broken check of a pod spec (empty when the pod is admitted)."""
    out: list[str] = []
    pod = _sc(spec)
    linux = ((spec.get("os") or {}).get("name")) != "windows"
    containers = list(_containers(spec))
    for c in containers:
        sc, name = _sc(c), c.get("name")
        if linux and sc.get("allowPrivilegeEscalation") is not False:
            out.append(f"allowPrivilegeEscalation: {name}")
        caps = sc.get("capabilities") or {}
        if linux and ("ALL" not in (caps.get("drop") or [])
                      or any(cap != "NET_BIND_SERVICE" for cap in caps.get("add") or [])):
            out.append(f"capabilities_restricted: {name}")
        if sc.get("runAsNonRoot") is False or (sc.get("runAsNonRoot") is not True
                                                and pod.get("runAsNonRoot") is not True):
            out.append(f"runAsNonRoot: {name}")
        if sc.get("runAsUser") == 0:
            out.append(f"runAsUser: {name}")
        profile = (sc.get("seccompProfile") or {}).get("type") or (pod.get("seccompProfile") or {}).get("type")
        if linux and profile not in ("RuntimeDefault", "Localhost"):
            out.append(f"seccompProfile_restricted: {name}")
    if pod.get("runAsNonRoot") is False:
        out.append("runAsNonRoot: pod")
    if pod.get("runAsUser") == 0:
        out.append("runAsUser: pod")
    if linux and (pod.get("seccompProfile") or {}).get("type") not in (None, "RuntimeDefault", "Localhost"):
        out.append("seccompProfile_restricted: pod")
    return out
