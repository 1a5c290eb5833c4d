"""The version catalogue pins immutable images, records digests where upstream publishes them, and every
image is pulled IfNotPresent; the policy check reports the images still without a digest."""

from __future__ import annotations

import re

import pytest

from catalogue.versions import IMAGES, Image
from urbanstack.checks import policies
from urbanstack.checks.base import load_plan


def test_cloudnative_pg_images_are_pinned_to_an_immutable_build_with_its_digest():
    # Upstream's rolling tags (`18-3.6-system-trixie`, `17.6-system-trixie`) move with every weekly build;
    # each build has a `<versions>-<YYYYMMDDhhmm>-<type>-<os>` tag listed with its digest in upstream's catalogs.
    assert re.fullmatch(r"18\.\d+-3\.6\.\d+-\d{12}-system-trixie", IMAGES["postgis"].tag)
    assert re.fullmatch(r"17\.6-\d{12}-system-trixie", IMAGES["postgresql"].tag)
    for key in ("postgis", "postgresql"):
        assert IMAGES[key].digest.startswith("sha256:")
        assert IMAGES[key].ref == f"{IMAGES[key].repository}:{IMAGES[key].tag}@{IMAGES[key].digest}"


def test_ceph_is_pinned_to_a_dated_build_tag():
    assert re.fullmatch(r"v\d+\.\d+\.\d+-\d{8}", IMAGES["ceph"].tag)


def test_a_digest_that_is_not_a_sha256_is_refused_with_the_image_named():
    with pytest.raises(ValueError, match=re.escape("docker.io/x/y:1.0: digest 'sha256:abc'")):
        Image("docker.io/x/y", "1.0", "https://example.org", "sha256:abc")
    assert Image("docker.io/x/y", "1.0", "https://example.org").ref == "docker.io/x/y:1.0"


RECORD = re.compile(r"^(?P<repo>[\w.-]+/[\w.-]+) (?P<file>\S+), .*\b(commit [0-9a-f]{7,40}|https://\S+)\b.*"
                    r"\b\d{4}-\d{2}-\d{2}\b")


@pytest.mark.parametrize("key", sorted(k for k, i in IMAGES.items() if i.digest))
def test_every_recorded_digest_is_a_sha256_read_from_a_named_upstream_record(key):
    from urbanstack.ops.images_pin import RECORD as REGISTRY_RECORD

    image = IMAGES[key]
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", image.digest)
    # Either a published list (repository, file, commit or URL, date) or the publisher's registry as
    # `urbanstack images pin` read it: then the record names exactly this image's repository and tag.
    registry = REGISTRY_RECORD.fullmatch(image.digest_record)
    assert RECORD.match(image.digest_record) or registry, \
        f"{key}: {image.digest_record!r} names no repository, file, commit, date (nor a registry read)"
    if registry:
        assert (registry["repository"], registry["tag"]) == (image.repository, image.tag), \
            f"{key}: the registry record is of {registry['repository']}:{registry['tag']}: read the digest again"
    assert image.ref.endswith(f":{image.tag}@{image.digest}")


def test_a_digest_without_its_record_is_refused_with_the_image_named():
    digest = "sha256:" + "0" * 64
    with pytest.raises(ValueError, match=re.escape("docker.io/x/y:1.0: digest sha256:000") + ".*digest_record"):
        Image("docker.io/x/y", "1.0", "https://example.org", digest)
    with pytest.raises(ValueError, match="digest_record without a digest"):
        Image("docker.io/x/y", "1.0", "https://example.org", digest_record="x/y f, commit abcdef0, 2026-01-01")


def test_the_docker_official_images_pinned_here_carry_the_digest_docker_library_lists():
    # Official images are pushed again under the same tag when their base is rebuilt; the digest is the pin.
    official = {k: i for k, i in IMAGES.items() if i.repository.startswith("docker.io/library/")}
    assert official, "mosquitto is a Docker Official Image"
    for key, image in official.items():
        name = image.repository.removeprefix("docker.io/library/")
        assert image.digest, key
        assert image.digest_record.startswith(f"docker-library/repo-info repos/{name}/remote/{image.tag}.md, "), key


def pull_policies(node, found: list) -> list:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "imagePullPolicy":
                found.append(value)
            else:
                pull_policies(value, found)
    elif isinstance(node, list):
        for value in node:
            pull_policies(value, found)
    return found


def test_no_container_or_database_cluster_is_pulled_always(plan_stack):
    for stack in ("shared", "verl"):
        policies_found = pull_policies([r.inputs for r in plan_stack(stack).kube_objects()], [])
        assert policies_found, stack
        assert set(policies_found) == {"IfNotPresent"}, stack


def test_the_policy_check_reports_the_images_without_a_digest(real_plan_dir):
    result = policies.run(load_plan(real_plan_dir))
    assert result.failures == []
    refs, undigested = policies.images_without_digest(load_plan(real_plan_dir))
    assert IMAGES["keycloak"].ref in undigested
    assert IMAGES["postgresql"].ref in refs and IMAGES["postgresql"].ref not in undigested
    assert f"{len(undigested)} of {len(refs)} image references without a digest: " in result.figure()


def test_keycloak_config_cli_is_built_for_our_keycloak_line_or_the_pairing_is_recorded():
    from catalogue.versions import KEYCLOAK_CONFIG_CLI_PAIRINGS

    line = ".".join(IMAGES["keycloak"].tag.split(".")[:2])
    cli_tag = IMAGES["keycloak-config-cli"].tag
    release, built_for = cli_tag.split("-", 1)
    assert re.fullmatch(r"\d+\.\d+\.\d+", release) and re.fullmatch(r"\d+\.\d+\.\d+", built_for)
    if not built_for.startswith(f"{line}."):
        assert line in KEYCLOAK_CONFIG_CLI_PAIRINGS, f"keycloak-config-cli {cli_tag} with Keycloak {line}: record why"
        assert KEYCLOAK_CONFIG_CLI_PAIRINGS[line][0] == cli_tag
        assert KEYCLOAK_CONFIG_CLI_PAIRINGS[line][1].strip()


def test_an_image_built_here_is_pulled_from_the_registry_the_stack_names_and_has_no_reference_without_one():
    """No hidden registry state: the registry is an argument (the shared config's ``imageRegistry``)."""
    ckan = IMAGES["ckan"]
    assert ckan.built_here
    assert ckan.ref_from("registry.example.de/urban/") == f"registry.example.de/urban/{ckan.repository}:{ckan.tag}" + (
        f"@{ckan.digest}" if ckan.digest else "")
    with pytest.raises(ValueError, match="imageRegistry"):
        _ = ckan.ref
    assert IMAGES["keycloak"].ref_from("registry.example.de") == IMAGES["keycloak"].ref


def test_no_container_of_the_plan_ours_chart_or_operator_is_pulled_always(real_plan_dir):
    # The API server defaults a missing policy to Always for an image without a tag or with :latest.
    from catalogue import manifests

    always = []
    plan = load_plan(real_plan_dir)
    for po in plan.objects:
        template = manifests.workload_pod(po.obj)
        for container in (template.containers() if template else []):
            image, policy = str(container.body.get("image")), container.body.get("imagePullPolicy")
            untagged = ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest")
            if policy == "Always" or (policy is None and untagged):
                always.append(f"{po.origin} {po.ref()} {container.name}")
    assert always == []
    operator = [po for po in plan.objects if po.kind == "Deployment" and po.name == "keycloak-operator"]
    assert len(operator) == len(plan.cells())  # one operator per cell
    assert [c["imagePullPolicy"] for po in operator for c in po.obj["spec"]["template"]["spec"]["containers"]] == [
        "IfNotPresent"] * len(operator)
