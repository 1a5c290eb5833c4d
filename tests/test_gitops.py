"""GitOps path (docs/gitops.md, decision 0014): the Pulumi Kubernetes Operator objects for a management cluster.

Specification: every stack the project has becomes one Stack of the pinned operator release, valid against its
vendored CRD; municipalities wait for the shared stack; nothing is destroyed when a Stack is deleted; credentials
come only from Secret references; the render never overwrites what it did not write.
"""

from __future__ import annotations

import copy
import hashlib
import re
import tomllib
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from catalogue.tenants import load_all
from catalogue.versions import IMAGES, SUPPORT
from clikit.outdir import OutputRefused
from urbanstack.cli import app
from urbanstack.engine import gitops
from urbanstack.engine.crds import judge

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = gitops.Settings(repo="https://git.example.org/urbanstack/iac.git",
                           backend="s3://urbanstack-state?region=eu-central-1&endpoint=s3.example.org")


@pytest.fixture(scope="module")
def tenants():
    return load_all()


@pytest.fixture(scope="module")
def rendered(tenants):
    return gitops.render(SETTINGS, tenants)


def objects(rendered, kind: str | None = None) -> list[dict]:
    return [obj for r in rendered for _, obj in r.files if kind is None or obj["kind"] == kind]


def stacks(rendered) -> dict[str, dict]:
    return {obj["metadata"]["name"]: obj for obj in objects(rendered, "Stack")}


# ---- the pinned release and its vendored CRD

def test_the_vendored_stack_crd_is_the_pinned_release_verbatim_as_its_provenance_records():
    pin = IMAGES["pulumi-kubernetes-operator"].tag
    folder = ROOT / "vendor" / f"pulumi-kubernetes-operator-{pin.lstrip('v')}"
    assert gitops.CRD_FILE.parent == folder and SUPPORT["pulumi-kubernetes-operator"].version == pin
    provenance = (folder / "PROVENANCE.md").read_text(encoding="utf-8")
    assert f"tag `{pin}`" in provenance and (folder / "LICENSE").is_file()
    for name in ("pulumi.com_stacks.yaml", "LICENSE"):
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() in provenance, name
    crd = gitops.installed_crds()[("pulumi.com", "Stack")]
    assert crd.served == ["v1", "v1alpha1"] and "prerequisites" in crd.schema("v1")["properties"]["spec"]["properties"]


# ---- which Stacks, in which order

def test_each_cell_of_the_shared_config_renders_its_platform_stack_then_its_members(rendered):
    assert [r.cell.name for r in rendered] == ["kreis", "stadt-guetersloh"]
    kreis, dedicated = ([name for name, _ in r.files] for r in rendered)
    assert kreis == ["00-namespace.yaml", "01-serviceaccount.yaml", "02-clusterrolebinding.yaml",
                     "10-stack-shared.yaml", "20-stack-rheda-wiedenbrueck.yaml", "20-stack-rietberg.yaml",
                     "20-stack-verl.yaml"]
    assert dedicated[3:] == ["10-stack-shared.stadt-guetersloh.yaml", "20-stack-guetersloh.stadt-guetersloh.yaml"]
    assert {name: s["spec"]["stack"] for name, s in stacks(rendered).items()} == {
        n: n for n in ["shared", "rheda-wiedenbrueck", "rietberg", "verl", "shared.stadt-guetersloh",
                       "guetersloh.stadt-guetersloh"]}


def test_a_config_without_cells_renders_exactly_the_stacks_of_before_cells(tenants):
    from catalogue.shared_config import load_file

    cfg = load_file().model_copy(update={"cells": []})
    no_cells = {slug: t.model_copy(update={"cell": None}) for slug, t in tenants.items()}
    [only] = gitops.render(SETTINGS, no_cells, cfg)
    assert only.cell.name == "default" and only.namespace == "urbanstack-gitops-default"
    assert [name for name, _ in only.files][3:] == ["10-stack-shared.yaml",
                                                    *(f"20-stack-{slug}.yaml" for slug in no_cells)]
    volume = only.files[3][1]["spec"]["workspaceTemplate"]["spec"]["podTemplate"]["spec"]["volumes"][0]["secret"]
    assert volume["secretName"] == "kubeconfig"


def test_municipality_stacks_name_their_cells_platform_stack_as_prerequisite(rendered):
    all_stacks = stacks(rendered)
    for platform, members in [("shared", ["rheda-wiedenbrueck", "rietberg", "verl"]),
                              ("shared.stadt-guetersloh", ["guetersloh.stadt-guetersloh"])]:
        assert "prerequisites" not in all_stacks[platform]["spec"]
        for name in members:
            assert all_stacks[name]["spec"]["prerequisites"] == [{"name": platform}], name
            # A prerequisite is looked up in the Stack's own namespace (stack_controller.go, v2.9.0).
            assert all_stacks[name]["metadata"]["namespace"] == all_stacks[platform]["metadata"]["namespace"]


def test_no_stack_destroys_on_finalize(rendered):
    assert [s["spec"]["destroyOnFinalize"] for s in objects(rendered, "Stack")] == [False] * len(stacks(rendered))


def test_every_stack_follows_the_git_source_and_the_state_backend_given():
    s = gitops.Settings(repo="git@git.example.org:urbanstack/iac.git", backend="https://api.pulumi.com",
                        branch="production", repo_dir="iac", secrets_provider="default", org="kreis-gt",
                        git_auth=gitops.SecretKey("git-token", "accessToken"))
    out = gitops.render(s, load_all())
    for obj in objects(out, "Stack"):
        spec, name = obj["spec"], obj["metadata"]["name"]
        assert (spec["projectRepo"], spec["branch"], spec["repoDir"]) == (s.repo, "production", "iac")
        assert spec["backend"] == "https://api.pulumi.com" and spec["stack"] == f"kreis-gt/{name}"
        assert "secretsProvider" not in spec and set(spec["envRefs"]) == {"PULUMI_ACCESS_TOKEN"}
        assert spec["gitAuth"] == {"accessToken": {"type": "Secret", "secret": {"name": "git-token",
                                                                                  "key": "accessToken"}}}
        if not name.startswith("shared"):  # the StackReference of urbanstack/engine/program.py, on Pulumi Cloud
            platform = spec["prerequisites"][0]["name"]
            assert spec["config"] == {"urban-stack:sharedStack": f"kreis-gt/urban-stack/{platform}"}
    assert stacks(out)["guetersloh.stadt-guetersloh"]["spec"]["config"] == {
        "urban-stack:sharedStack": "kreis-gt/urban-stack/shared.stadt-guetersloh"}


# ---- validation

def test_every_stack_validates_against_the_pinned_pko_crds(rendered):
    for obj in objects(rendered, "Stack"):
        judgement = judge(obj, gitops.installed_crds())
        assert judgement.failures == [], obj["metadata"]["name"]
        assert judgement.admitted.version == "v1" and judgement.admitted.pruned == []
        assert judgement.count("passed") >= 1  # the CRD's CEL rule (metadata.name at most 42 characters) ran


def test_every_core_object_validates_against_the_kubernetes_schemas(rendered):
    core = [obj for obj in objects(rendered) if obj["kind"] != "Stack"]
    assert sorted(obj["kind"] for obj in core) == sorted(["ClusterRoleBinding", "Namespace", "ServiceAccount"] * 2)
    assert [gitops.validate(obj) for obj in core] == [[]] * 6


def test_validation_reports_what_the_api_server_would_prune_or_refuse(rendered):
    bad = copy.deepcopy(stacks(rendered)["verl"])
    bad["spec"]["destroyOnFinalise"] = True  # a typo the API server would drop silently
    bad["metadata"]["name"] = "a-municipality-name-longer-than-forty-two-chars"
    problems = gitops.validate(bad)
    assert any(p.startswith("crd-pruned: spec.destroyOnFinalise") for p in problems)
    assert any(p.startswith("crd-cel:") and "42 characters" in p for p in problems)
    sa = copy.deepcopy(objects(rendered, "ServiceAccount")[0])
    sa["automountToken"] = False
    assert gitops.validate(sa) and "automountToken" in gitops.validate(sa)[0]


# ---- credentials and workspace

def refs(obj: dict) -> list[dict]:
    spec = obj["spec"]
    return [*spec.get("envRefs", {}).values(), *spec.get("secretsRef", {}).values(),
            *(spec.get("gitAuth") or {}).values()]


def test_credentials_come_only_from_secret_references(rendered, tenants):
    assert objects(rendered, "Secret") == []  # no value is ever rendered
    for obj in objects(rendered, "Stack"):
        assert refs(obj) and all(set(r) == {"type", "secret"} and r["type"] == "Secret" for r in refs(obj))
        spec = obj["spec"]
        assert not {"secrets", "accessTokenSecret", "envs", "envSecrets", "gitAuthSecret"} & set(spec)
        assert set(spec["envRefs"]) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "PULUMI_CONFIG_PASSPHRASE"}
        assert "@" not in spec["backend"] and "@" not in spec["projectRepo"]
        workspace = spec["workspaceTemplate"]["spec"]
        # The plain variables name the kubeconfig file (the file comes from the cell's Secret) and a switch.
        assert workspace["env"] == [{"name": "KUBECONFIG", "value": "/var/run/urbanstack/kubeconfig/kubeconfig"},
                                    {"name": "PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER", "value": "true"}]
        [volume] = workspace["podTemplate"]["spec"]["volumes"]
        cell = obj["metadata"]["labels"]["urban-stack/cell"]
        assert volume["secret"]["secretName"] == ("kubeconfig" if cell == "kreis" else f"kubeconfig-{cell}")
        assert volume["secret"]["defaultMode"] == 0o440
    # The federation secrets a municipality's program reads (pulumi config set --secret today).
    rietberg = stacks(rendered)["rietberg"]["spec"]["secretsRef"]
    assert rietberg == {"urban-stack:ldapBindPassword": {"type": "Secret", "secret": {
        "name": "stack-rietberg", "key": "ldapBindPassword"}}}
    assert "secretsRef" not in stacks(rendered)["verl"]["spec"]


def test_the_secrets_to_create_are_listed_per_cell(rendered):
    names = {(s.name, s.key) for s in rendered[0].secrets}
    assert {("kubeconfig", "kubeconfig"), ("pulumi-state", "AWS_SECRET_ACCESS_KEY"),
            ("pulumi-secrets-provider", "PULUMI_CONFIG_PASSPHRASE"),
            ("stack-rheda-wiedenbrueck", "federationClientSecret"), ("stack-rietberg", "ldapBindPassword")} <= names
    referenced = {(r["secret"]["name"], r["secret"]["key"]) for obj in objects(rendered[:1], "Stack")
                  for r in refs(obj)}
    assert referenced | {("kubeconfig", "kubeconfig")} == names
    assert ("kubeconfig-stadt-guetersloh", "kubeconfig") in {(s.name, s.key) for s in rendered[1].secrets}


def test_workspace_pods_run_the_pinned_pulumi_nonroot_image_under_the_restricted_profile(rendered):
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    [pin] = [d.split("==")[1] for d in pyproject["project"]["dependencies"] if d.startswith("pulumi==")]
    for obj in objects(rendered, "Stack"):
        workspace = obj["spec"]["workspaceTemplate"]["spec"]
        assert workspace["image"] == f"docker.io/pulumi/pulumi:{pin}-nonroot"
        assert workspace["securityProfile"] == "restricted" and workspace["resources"]["limits"]["memory"]
        pod = workspace["podTemplate"]["spec"]["securityContext"]
        assert pod == {"runAsNonRoot": True, "runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000,
                       "seccompProfile": {"type": "RuntimeDefault"}}
        assert obj["spec"]["serviceAccountName"] == gitops.SERVICE_ACCOUNT
    for ns in objects(rendered, "Namespace"):
        assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_the_workspace_service_account_is_bound_to_system_auth_delegator(rendered):
    [sa, _], [binding, _] = objects(rendered, "ServiceAccount"), objects(rendered, "ClusterRoleBinding")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                  "name": "system:auth-delegator"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa["metadata"]["name"],
                                    "namespace": sa["metadata"]["namespace"]}]


# ---- cells

def test_each_cell_has_its_own_namespace_cluster_binding_and_kubeconfig(tenants):
    from catalogue.shared_config import SecretKeyRef, load_file

    cfg = load_file()
    cells = [c.model_copy(update={"kubernetes": c.kubernetes.model_copy(update={
        "kubeconfigSecret": SecretKeyRef(name="gt-cluster", key="config")})}) if not c.default else c
        for c in cfg.cells]
    out = gitops.render(SETTINGS, tenants, cfg.model_copy(update={"cells": cells}))
    dedicated = [obj for _, obj in out[1].files if obj["kind"] == "Stack"]
    assert {s["metadata"]["namespace"] for s in dedicated} == {"urbanstack-gitops-stadt-guetersloh"}
    volume = dedicated[0]["spec"]["workspaceTemplate"]["spec"]["podTemplate"]["spec"]["volumes"][0]["secret"]
    assert (volume["secretName"], volume["items"]) == ("gt-cluster", [{"key": "config", "path": "kubeconfig"}])
    assert len({b["metadata"]["name"] for b in objects(out, "ClusterRoleBinding")}) == 2


@pytest.mark.parametrize(("change", "expected"), [
    ({"backend": "file:///var/state"}, "--backend: 'file:///var/state': a file backend inside a workspace pod"),
    ({"repo": "https://user:token@git.example.org/iac.git"}, "--repo: credentials in the URL"),
    ({"repo": "ftp://git.example.org/iac"}, "--repo: 'ftp://git.example.org/iac' is not a Git URL"),
    ({"secrets_provider": "default"}, "--secrets-provider default: only a Pulumi Cloud backend"),
])
def test_bad_settings_are_refused_naming_the_option(tenants, change, expected):
    with pytest.raises(gitops.GitopsError) as exc:
        gitops.render(gitops.Settings(**{**SETTINGS.__dict__, **change}), tenants)
    assert any(p.startswith(expected) for p in exc.value.problems), exc.value.problems


# ---- output folder

def run(out: Path, *extra: str):
    return CliRunner().invoke(app, ["gitops", "render", "--repo", SETTINGS.repo, "--backend", SETTINGS.backend,
                                    "--out", str(out), *extra])


def test_render_writes_the_folder_and_the_files_parse_back_as_rendered(tmp_path, rendered):
    result = run(tmp_path / "gitops")
    assert result.exit_code == 0, result.output
    assert "Secrets to create in urbanstack-gitops-kreis" in result.output
    written = {p.name: yaml.safe_load(p.read_text(encoding="utf-8")) for p in (tmp_path / "gitops" / "kreis").iterdir()}
    assert written == dict(rendered[0].files)


def test_render_never_overwrites_a_file_it_did_not_create(tmp_path):
    foreign = tmp_path / "manifests" / "kreis" / "10-stack-shared.yaml"
    foreign.parent.mkdir(parents=True)
    foreign.write_text("kept: true\n", encoding="utf-8")
    result = run(tmp_path / "manifests")
    assert result.exit_code == 1 and "not written by urbanstack" in result.output
    assert foreign.read_text(encoding="utf-8") == "kept: true\n"
    # Its own earlier output is replaced; a file added inside it is refused, and left as it was.
    assert run(tmp_path / "gitops").exit_code == 0
    assert run(tmp_path / "gitops").exit_code == 0
    note = tmp_path / "gitops" / "kreis" / "NOTES.md"
    note.write_text("ours\n", encoding="utf-8")
    result = run(tmp_path / "gitops")
    assert result.exit_code == 1 and "kreis/NOTES.md" in result.output
    assert note.read_text(encoding="utf-8") == "ours\n"
    with pytest.raises(OutputRefused):  # and never another command's folder
        gitops.write([], _plan_folder(tmp_path))


def _plan_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "plan"
    folder.mkdir()
    (folder / ".urbanstack-output").write_text("# plan\n", encoding="utf-8")
    (folder / "x").write_text("", encoding="utf-8")
    return folder


def test_bad_input_writes_nothing_and_says_why(tmp_path):
    result = run(tmp_path / "gitops", "--git-auth-secret", "Bad Name")
    assert result.exit_code == 1 and "--git-auth-secret: Secret name 'Bad Name'" in result.output
    assert "nothing was written" in result.output and not (tmp_path / "gitops").exists()


def test_the_docs_name_the_pinned_release_and_the_secrets_the_renderer_refers_to():
    doc = (ROOT / "docs" / "gitops.md").read_text(encoding="utf-8")
    assert IMAGES["pulumi-kubernetes-operator"].tag in doc and "--version 2.9.0" in doc
    for name in (gitops.STATE_SECRET, gitops.PROVIDER_SECRET, "kubeconfig", "stack-<slug>"):
        assert re.search(rf"`{re.escape(name)}`", doc), name
    assert "gitops.md" in (ROOT / "README.md").read_text(encoding="utf-8")


def operator_pod(stack: dict) -> tuple[dict, dict]:
    """The workspace pod PKO v2.9.0 makes from a Stack with the restricted profile, as far as Pod Security looks:
    ``newStatefulSet`` (``operator/internal/controller/auto/workspace_controller.go``: pod seccomp
    ``RuntimeDefault``; init containers ``bootstrap`` and ``fetch``, container ``pulumi``; the restricted profile's
    pod and container security contexts), then the Stack's pod template merged over it (strategic merge: security
    context fields merged, containers by name, volumes by name)."""
    restricted = {"allowPrivilegeEscalation": False,
                  "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}
    pod = {"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}, "runAsNonRoot": True,
                               "runAsUser": 1000, "runAsGroup": 1000},
           "initContainers": [{"name": n, "securityContext": dict(restricted)} for n in ("bootstrap", "fetch")],
           "containers": [{"name": "pulumi", "securityContext": dict(restricted)}],
           "volumes": [{"name": "share", "emptyDir": {}}]}
    template = stack["spec"]["workspaceTemplate"]["spec"]["podTemplate"]["spec"]
    pod["securityContext"].update(template.get("securityContext", {}))
    for patch in template.get("containers", []):
        [container] = [c for c in pod["containers"] if c["name"] == patch["name"]]
        container.update({k: v for k, v in patch.items() if k != "securityContext"})
        container["securityContext"].update(patch.get("securityContext", {}))
    pod["volumes"] += template.get("volumes", [])
    return {"name": stack["metadata"]["name"], "namespace": stack["metadata"]["namespace"]}, pod


def test_the_workspace_pods_pass_the_restricted_pod_security_standard_their_namespace_enforces(rendered):
    from urbanstack.checks.pod_security import evaluate

    for obj in objects(rendered, "Stack"):
        assert evaluate(*operator_pod(obj), "restricted") == [], obj["metadata"]["name"]
    # The model is no formality: a hostPath volume in the template would keep every workspace pod from starting.
    bad = copy.deepcopy(stacks(rendered)["verl"])
    bad["spec"]["workspaceTemplate"]["spec"]["podTemplate"]["spec"]["volumes"].append(
        {"name": "host", "hostPath": {"path": "/"}})
    assert evaluate(*operator_pod(bad), "restricted")
