"""Check: every pod the plan makes is admitted by Pod Security admission in its namespace.

Kubernetes' PodSecurity admission plugin refuses a pod whose spec breaks the level named by its namespace's
``pod-security.kubernetes.io/enforce`` label. For a Deployment, StatefulSet, Job, ... the API server only warns;
the controller's pods are then refused one by one and the workload never runs. So every pod template is
evaluated here (ours, chart-rendered, operator-made: whatever :func:`catalogue.manifests.workload_pod`
finds), as the API server evaluates the pods made from it.

The rules are those of the Pod Security Standards at policy version **v1.33** as implemented upstream in
``k8s.io/pod-security-admission/policy/check_*.go`` (kubernetes/pod-security-admission, commit 8f84a87c,
read for this check; each rule below names its file). The evaluator agrees with every upstream fixture in
``vendor/pod-security-fixtures/{baseline,restricted}/v1.33/{pass,fail}`` (``tests/test_checks_pod_security.py``).
Versions other than v1.33 (``enforce-version`` labels) are evaluated with the v1.33 rules; the later changes
(v1.34 probe/lifecycle hosts, v1.35 user-namespace relaxations, v1.37 sysctls) are named where they apply.

Namespaces the plan does not create (e.g. ``kube-system``, ``default``) and plan namespaces without an
``enforce`` label are assumed to enforce ``privileged``: that is the PodSecurity plugin's built-in default
(``defaults.enforce: privileged``) when the cluster's AdmissionConfiguration sets none. A pod there is
admitted whatever it does; the line reports how many such templates there are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from catalogue import manifests
from urbanstack.checks.base import CheckResult, Failure, Plan, count_origins, per_cell

NAME = "pod security"
RULE = "pod-security-admission"
LEVELS = ("privileged", "baseline", "restricted")
ENFORCE = "pod-security.kubernetes.io/enforce"
DEFAULT_LEVEL = "privileged"
"""The PodSecurity admission plugin's built-in default (no AdmissionConfiguration defaults)."""

# check_capabilities_baseline.go (capabilities_allowed_1_0)
BASELINE_CAPABILITIES = frozenset({
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE", "SETFCAP",
    "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"})
# check_sysctls.go (sysctlsAllowedV1Dot32, in force from v1.32 to v1.36)
SAFE_SYSCTLS = frozenset({
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start", "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem"})
# check_seLinuxOptions.go (selinuxAllowedTypes1_31)
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})
# check_restrictedVolumes.go: the only volume sources restricted admits
RESTRICTED_VOLUMES = frozenset({"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                                "projected", "secret"})
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"
PROFILE_OK = ("RuntimeDefault", "Localhost")
"""The seccomp and AppArmor profile types baseline admits (validSeccomp, allowedProfileType)."""


def _containers(spec: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """visitor.go visitContainers: init containers, containers, ephemeral containers."""
    for c in manifests.spec_containers(spec):
        yield dict(c.body)


def _sc(node: Mapping[str, Any]) -> dict[str, Any]:
    sc = node.get("securityContext")
    return dict(sc) if isinstance(sc, Mapping) else {}


def _windows(spec: Mapping[str, Any]) -> bool:
    """``spec.os.name: windows``: the Linux-only restricted checks do not apply (their ``_1_25`` versions)."""
    return ((spec.get("os") or {}).get("name")) == "windows"


def _names(cs: list[dict[str, Any]]) -> str:
    return ", ".join(repr(c.get("name", "?")) for c in cs)


# -- baseline ----------------------------------------------------------------------------------------------------

def host_namespaces(md, spec) -> str | None:  # check_hostNamespaces.go
    bad = [f"{k}=true" for k in ("hostNetwork", "hostPID", "hostIPC") if spec.get(k)]
    return f"host namespaces ({', '.join(bad)})" if bad else None


def privileged(md, spec) -> str | None:  # check_privileged.go
    bad = [c for c in _containers(spec) if _sc(c).get("privileged") is True]
    return f"privileged (containers {_names(bad)} must not set securityContext.privileged=true)" if bad else None


def capabilities_baseline(md, spec) -> str | None:  # check_capabilities_baseline.go
    bad = [c for c in _containers(spec)
           if set((_sc(c).get("capabilities") or {}).get("add") or []) - BASELINE_CAPABILITIES]
    return f"non-default capabilities (containers {_names(bad)})" if bad else None


def host_path_volumes(md, spec) -> str | None:  # check_hostPathVolumes.go
    bad = [v.get("name") for v in spec.get("volumes") or [] if isinstance(v, Mapping) and "hostPath" in v]
    return f"hostPath volumes {bad}" if bad else None


def host_ports(md, spec) -> str | None:  # check_hostPorts.go: hostPort must be unset or 0
    bad = [c for c in _containers(spec) if any((p or {}).get("hostPort") for p in c.get("ports") or [])]
    return f"hostPort (containers {_names(bad)})" if bad else None


def app_armor(md, spec) -> str | None:  # check_appArmorProfile.go
    bad = []
    pod_type = ((_sc(spec).get("appArmorProfile") or {}).get("type"))
    if "appArmorProfile" in _sc(spec) and pod_type not in PROFILE_OK:
        bad.append(f"pod type {pod_type!r}")
    for c in _containers(spec):
        if "appArmorProfile" in _sc(c) and (_sc(c)["appArmorProfile"] or {}).get("type") not in PROFILE_OK:
            bad.append(f"container {c.get('name')!r}")
    for key, value in (md.get("annotations") or {}).items():
        if key.startswith(APPARMOR_ANNOTATION) and value and value != "runtime/default" \
                and not str(value).startswith("localhost/"):
            bad.append(f"annotation {key}={value!r}")
    return f"forbidden AppArmor profile ({'; '.join(bad)})" if bad else None


def se_linux(md, spec) -> str | None:  # check_seLinuxOptions.go (v1.31 types)
    def ok(opts: Mapping[str, Any]) -> bool:
        return opts.get("type", "") in SELINUX_TYPES and not opts.get("user") and not opts.get("role")

    bad = (["pod"] if "seLinuxOptions" in _sc(spec) and not ok(_sc(spec)["seLinuxOptions"] or {}) else []) + [
        f"container {c.get('name')!r}" for c in _containers(spec)
        if "seLinuxOptions" in _sc(c) and not ok(_sc(c)["seLinuxOptions"] or {})]
    return f"seLinuxOptions ({', '.join(bad)}: type must be container_*, user and role unset)" if bad else None


def proc_mount(md, spec) -> str | None:  # check_procMount_baseline.go procMount_1_0 (v1.35 relaxes hostUsers=false)
    bad = [c for c in _containers(spec) if _sc(c).get("procMount") not in (None, "Default")]
    return f"procMount (containers {_names(bad)} must not set securityContext.procMount)" if bad else None


def seccomp_baseline(md, spec) -> str | None:  # check_seccompProfile_baseline.go (1.19): Unconfined forbidden
    bad = (["pod"] if "seccompProfile" in _sc(spec)
           and (_sc(spec)["seccompProfile"] or {}).get("type") not in PROFILE_OK else []) + [
        f"container {c.get('name')!r}" for c in _containers(spec)
        if "seccompProfile" in _sc(c) and (_sc(c)["seccompProfile"] or {}).get("type") not in PROFILE_OK]
    return f"seccompProfile ({', '.join(bad)} must not set type Unconfined)" if bad else None


def sysctls(md, spec) -> str | None:  # check_sysctls.go (v1.32 set)
    bad = [s.get("name") for s in _sc(spec).get("sysctls") or [] if s.get("name") not in SAFE_SYSCTLS]
    return f"forbidden sysctls {bad}" if bad else None


def windows_host_process(md, spec) -> str | None:  # check_windowsHostProcess.go
    def host(node):
        return (_sc(node).get("windowsOptions") or {}).get("hostProcess") is True

    bad = (["pod"] if host(spec) else []) + [f"container {c.get('name')!r}" for c in _containers(spec) if host(c)]
    return f"hostProcess ({', '.join(bad)})" if bad else None


# -- restricted --------------------------------------------------------------------------------------------------

def restricted_volumes(md, spec) -> str | None:  # check_restrictedVolumes.go
    # A volume that names no source is defaulted to emptyDir by the API server before admission
    # (SetDefaults_Volume in pkg/apis/core/v1/defaults.go), so it is admitted.
    bad = [v.get("name") for v in spec.get("volumes") or []
           if isinstance(v, Mapping) and set(v) - {"name"} and not (set(v) & RESTRICTED_VOLUMES)]
    return f"restricted volume types {bad}" if bad else None


def allow_privilege_escalation(md, spec) -> str | None:  # check_allowPrivilegeEscalation.go (1.25: not Windows)
    if _windows(spec):
        return None
    bad = [c for c in _containers(spec) if _sc(c).get("allowPrivilegeEscalation") is not False]
    return (f"allowPrivilegeEscalation != false (containers {_names(bad)} must set "
            f"securityContext.allowPrivilegeEscalation=false)") if bad else None


def run_as_non_root(md, spec) -> str | None:  # check_runAsNonRoot.go runAsNonRoot1_0
    pod = _sc(spec).get("runAsNonRoot")
    if pod is False:
        return "runAsNonRoot != true (pod must not set securityContext.runAsNonRoot=false)"
    explicit = [c for c in _containers(spec) if _sc(c).get("runAsNonRoot") is False]
    if explicit:
        return f"runAsNonRoot != true (containers {_names(explicit)} set runAsNonRoot=false)"
    implicit = [c for c in _containers(spec) if _sc(c).get("runAsNonRoot") is None and pod is not True]
    return (f"runAsNonRoot != true (pod or containers {_names(implicit)} must set "
            f"securityContext.runAsNonRoot=true)") if implicit else None


def run_as_user(md, spec) -> str | None:  # check_runAsUser.go runAsUser1_23
    bad = (["pod"] if _sc(spec).get("runAsUser") == 0 else []) + [
        f"container {c.get('name')!r}" for c in _containers(spec) if _sc(c).get("runAsUser") == 0]
    return f"runAsUser=0 ({', '.join(bad)})" if bad else None


def seccomp_restricted(md, spec) -> str | None:  # check_seccompProfile_restricted.go (1.25: not Windows)
    if _windows(spec):
        return None
    explicit = seccomp_baseline(md, spec)
    if explicit:
        return explicit
    pod_set = ((_sc(spec).get("seccompProfile") or {}).get("type")) in PROFILE_OK
    implicit = [c for c in _containers(spec) if "seccompProfile" not in _sc(c) and not pod_set]
    return (f"seccompProfile (pod or containers {_names(implicit)} must set securityContext.seccompProfile.type "
            f"to RuntimeDefault or Localhost)") if implicit else None


def capabilities_restricted(md, spec) -> str | None:  # check_capabilities_restricted.go (1.25: not Windows)
    if _windows(spec):
        return None
    no_drop = [c for c in _containers(spec) if "ALL" not in ((_sc(c).get("capabilities") or {}).get("drop") or [])]
    adding = [c for c in _containers(spec)
              if set((_sc(c).get("capabilities") or {}).get("add") or []) - {"NET_BIND_SERVICE"}]
    parts = ([f"containers {_names(no_drop)} must set securityContext.capabilities.drop=[\"ALL\"]"] if no_drop else []) \
        + ([f"containers {_names(adding)} must add no capability but NET_BIND_SERVICE"] if adding else [])
    return f"unrestricted capabilities ({'; '.join(parts)})" if parts else None


Rule = Callable[[Mapping[str, Any], Mapping[str, Any]], "str | None"]
BASELINE: tuple[Rule, ...] = (host_namespaces, privileged, capabilities_baseline, host_path_volumes, host_ports,
                              app_armor, se_linux, proc_mount, seccomp_baseline, sysctls, windows_host_process)
# Restricted = baseline, with the baseline seccomp and capabilities checks overridden by their restricted forms
# (OverrideCheckIDs in check_seccompProfile_restricted.go and check_capabilities_restricted.go), plus the rest.
RESTRICTED: tuple[Rule, ...] = (
    *(r for r in BASELINE if r not in (seccomp_baseline, capabilities_baseline)),
    seccomp_restricted, capabilities_restricted, restricted_volumes, allow_privilege_escalation, run_as_non_root,
    run_as_user)


def evaluate(metadata: Mapping[str, Any], spec: Mapping[str, Any], level: str) -> list[str]:
    """Why a pod with this metadata and spec is refused at ``level`` (empty: admitted)."""
    if level not in LEVELS:
        raise ValueError(f"unknown Pod Security level {level!r} (valid: {', '.join(LEVELS)})")
    rules = {"privileged": (), "baseline": BASELINE, "restricted": RESTRICTED}[level]
    return [why for rule in rules if (why := rule(metadata or {}, spec or {}))]


@per_cell
def run(plan: Plan) -> CheckResult:
    levels: dict[str, str] = {}
    ns_files: dict[str, str] = {}
    for po in plan.objects:
        if po.kind == "Namespace" and po.api_version == "v1":
            levels[po.name] = po.labels.get(ENFORCE, DEFAULT_LEVEL)
            ns_files[po.name] = plan.rel(po.path)
    failures: list[Failure] = []
    checked, outside, pods = 0, 0, []
    for po in plan.objects:
        template = manifests.workload_pod(po.obj)
        if template is None:
            continue
        pods.append(po)
        ns = po.namespace or "default"
        if ns not in levels:
            outside += 1
        level = levels.get(ns, DEFAULT_LEVEL)
        if level not in LEVELS:
            failures.append(Failure(ns_files[ns], RULE, f"namespace {ns}: {ENFORCE}={level!r} is not a Pod "
                                                        f"Security level (the API server refuses the label)"))
            continue
        checked += 1
        for why in evaluate(template.metadata or {}, template.spec, level):
            what = po.ref() if po.kind == "Pod" else f"pods of {po.ref()}"
            failures.append(Failure(plan.rel(po.path), RULE,
                                    f"{what} are refused by Pod Security {level!r} of namespace {ns}: {why}"))
    return CheckResult(NAME, checked, "pod templates", failures, origins=count_origins(pods),
                       origin_unit="pod-making objects",
                       detail=f"{outside} in namespaces outside the plan, assumed {DEFAULT_LEVEL!r}")
