"""Every file a container is pointed at (by its environment, its arguments or its operator) exists in its pod:
under a volume mount or in a folder its image creates. The check would have caught the truststore failure of
issue 20: the Keycloak operator before 26.5 points KC_TRUSTSTORE_PATHS at the service-account ca.crt, and a pod
template with automountServiceAccountToken false has no such file unless it mounts one. Those tests keep the 26.4
operator's behaviour as their fixture (cluster_model.keycloak_statefulset(..., operator="26.4.5")); the pinned
26.8.0 operator sets no truststore path (keycloak/keycloak#44506)."""

from __future__ import annotations

import copy

import yaml

from tests.plan_files import edit
from urbanstack import cluster_model as cm
from urbanstack.checks import container_paths
from urbanstack.checks.base import load_plan

SA_CA = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
OPERATOR_26_4 = "26.4.5"
"""The operator release of issue 20's finding (it injects KC_TRUSTSTORE_PATHS)."""


def keycloak_cr(plan_dir) -> dict:
    return yaml.safe_load((plan_dir / "shared" / "keycloak-urban-identity-keycloak.yaml").read_text())


def todays_template(cr: dict) -> dict:
    """The CR as it was before the fix: the pod template without its own ca.crt mount, token still off."""
    old = copy.deepcopy(cr)
    spec = old["spec"]["unsupported"]["podTemplate"]["spec"]
    spec.pop("volumes", None)
    spec["containers"][0].pop("volumeMounts", None)
    assert spec["automountServiceAccountToken"] is False
    return old


def problems_of(pod_spec: dict, images=(), accounts=None) -> list[str]:
    return list(container_paths.problems(pod_spec, "ns", accounts or {}, list(images), True))


def test_the_plan_passes_and_the_figure_counts_the_paths(crafted):
    result = container_paths.run(load_plan(crafted))
    assert result.failures == [], "\n".join(map(str, result.failures))
    assert result.figure().startswith(f"paths: {result.checked} pod templates checked [ours ")
    assert "operator" in result.figure() and "paths containers are pointed at" in result.figure()


def test_the_keycloak_operator_truststore_in_a_pod_without_a_token_fails(real_plan_dir):
    sts = cm.keycloak_statefulset(todays_template(keycloak_cr(real_plan_dir)), operator=OPERATOR_26_4)
    [message] = problems_of(sts["spec"]["template"]["spec"])
    assert "containers[keycloak].env[KC_TRUSTSTORE_PATHS]" in message and SA_CA in message
    assert "automountServiceAccountToken is false" in message


def test_the_fixed_keycloak_pod_template_passes_with_the_26_4_and_the_pinned_operator(real_plan_dir):
    for operator in (OPERATOR_26_4, cm.KEYCLOAK_OPERATOR):
        sts = cm.keycloak_statefulset(keycloak_cr(real_plan_dir), operator=operator)
        assert problems_of(sts["spec"]["template"]["spec"]) == []


def test_the_pinned_operator_points_at_no_truststore_so_even_todays_template_passes(real_plan_dir):
    sts = cm.keycloak_statefulset(todays_template(keycloak_cr(real_plan_dir)))
    assert cm.KEYCLOAK_OPERATOR == "26.8.0"
    assert "KC_TRUSTSTORE_PATHS" not in {e["name"] for e in sts["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert problems_of(sts["spec"]["template"]["spec"]) == []


def test_with_the_token_mounted_the_service_account_ca_is_there(real_plan_dir):
    cr = todays_template(keycloak_cr(real_plan_dir))
    cr["spec"]["unsupported"]["podTemplate"]["spec"]["automountServiceAccountToken"] = True
    assert problems_of(cm.keycloak_statefulset(cr, operator=OPERATOR_26_4)["spec"]["template"]["spec"]) == []
    # unset on the pod: its ServiceAccount decides
    del cr["spec"]["unsupported"]["podTemplate"]["spec"]["automountServiceAccountToken"]
    spec = cm.keycloak_statefulset(cr, operator=OPERATOR_26_4)["spec"]["template"]["spec"]
    assert problems_of(spec) == []
    assert len(problems_of(spec, accounts={("ns", "default"): False})) == 1


def test_the_plan_with_the_26_4_truststore_path_and_no_ca_mount_fails_with_file_and_rule(crafted):
    path = crafted / "shared" / "operator-keycloak" / "statefulset-urban-identity-keycloak.yaml"

    def as_the_26_4_operator_made_it_without_our_mount(obj):
        kc = obj["spec"]["template"]["spec"]["containers"][0]
        kc.pop("volumeMounts")
        kc["env"].append({"name": "KC_TRUSTSTORE_PATHS", "value": SA_CA})
    edit(path, as_the_26_4_operator_made_it_without_our_mount)
    [failure] = container_paths.run(load_plan(crafted)).failures
    assert failure.rule == "paths" and failure.file.endswith("operator-keycloak/statefulset-urban-identity-keycloak.yaml")
    assert "KC_TRUSTSTORE_PATHS" in failure.message


def pod(container: dict, volumes: list | None = None) -> dict:
    return {"automountServiceAccountToken": False, "volumes": volumes or [],
            "containers": [{"name": "app", "image": "example.org/app:1.0", **container}]}


def test_a_mounted_volume_limited_by_items_must_hold_the_file():
    volumes = [{"name": "ca", "configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}}]
    mounts = [{"name": "ca", "mountPath": "/certs"}]
    assert problems_of(pod({"env": [{"name": "SSL_CERT_FILE", "value": "/certs/ca.crt"}], "volumeMounts": mounts},
                           volumes)) == []
    [message] = problems_of(pod({"env": [{"name": "SSL_CERT_FILE", "value": "/certs/other.crt"}],
                                 "volumeMounts": mounts}, volumes))
    assert "env[SSL_CERT_FILE] points at /certs/other.crt" in message


def test_a_config_flag_pointing_outside_every_mount_fails_in_both_spellings():
    for args in (["--config-file=/etc/app/config.yaml"], ["--config-file", "/etc/app/config.yaml"]):
        [message] = problems_of(pod({"args": args}))
        assert "args[--config-file] points at /etc/app/config.yaml" in message
    # an executable or a plain argument is not a path the process must find
    assert problems_of(pod({"command": ["/bin/sh", "-c"], "args": ["echo /nothing"]})) == []


def test_every_comma_separated_path_of_a_list_variable_is_checked():
    volumes = [{"name": "realm", "configMap": {"name": "realm"}}]
    env = [{"name": "IMPORT_FILES_LOCATIONS", "value": "/config/realm.json,/elsewhere/tenant.json"}]
    [message] = problems_of(pod({"env": env, "volumeMounts": [{"name": "realm", "mountPath": "/config"}]}, volumes))
    assert "/elsewhere/tenant.json" in message and "/config/realm.json" not in message


def test_a_folder_the_image_creates_counts_and_an_unused_entry_fails(crafted, tmp_path):
    image = container_paths.ImagePaths("example.org/app", ("/opt/app",),
                                       "example/app Dockerfile at v1.0: WORKDIR /opt/app")
    spec = pod({"env": [{"name": "APP_HOME", "value": "/opt/app/conf"}]})
    assert problems_of(spec, [image]) == []
    assert len(problems_of(spec)) == 1
    listed = tmp_path / "image-paths.yaml"
    listed.write_text(yaml.safe_dump([{"image": "quay.io/keycloak/keycloak", "paths": ["/opt/keycloak"],
                                       "source": "keycloak/keycloak quarkus/container/Dockerfile (creates /opt/keycloak)"}]))
    [failure] = container_paths.run(load_plan(crafted), image_paths_file=listed).failures
    assert "quay.io/keycloak/keycloak /opt/keycloak: no path of the plan needs this image folder" in failure.message


def test_an_image_entry_without_a_source_is_refused(tmp_path):
    listed = tmp_path / "image-paths.yaml"
    listed.write_text(yaml.safe_dump([{"image": "example.org/app", "paths": ["/opt/app"]}]))
    try:
        container_paths.load_image_paths(listed)
    except ValueError as error:
        assert "entry 1: needs a source" in str(error)
    else:
        raise AssertionError("an entry without a source was accepted")
