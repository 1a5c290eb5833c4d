"""Images upstream does not publish (images/<key>/Dockerfile): `make images` builds them and pushes them to the
operator's registry (shared config `imageRegistry`) with the tags of catalogue/versions.py, and every pod pulls
them from exactly there."""

from __future__ import annotations

import re

import pytest

from catalogue.paths import ROOT
from catalogue.shared_config import ConfigError, parse
from catalogue.versions import IMAGES, built_images
from tests.test_shared_config import VALID
from urbanstack.ops import images

REGISTRY = "registry.example.de:5000/urban-stack"


def test_make_images_builds_and_pushes_every_image_with_the_pinned_tag_to_the_configured_registry():
    ran = []
    pushed = images.publish(REGISTRY, run=lambda cmd: ran.append(list(cmd)) or 0, which=lambda _: "/usr/bin/docker",
                            echo=lambda _: None)
    expected = {key: f"{REGISTRY}/{IMAGES[key].repository}:{IMAGES[key].tag}" for key in ("ckan", "masterportal", "rei3")}
    assert pushed == [expected["ckan"], expected["masterportal"], expected["rei3"]]
    for key, ref in expected.items():
        build = ["docker", "build", "-t", ref, str(ROOT / "images" / key)]
        assert ran.index(build) < ran.index(["docker", "push", ref]), f"{key}: built before it is pushed"
    assert len(ran) == 6


def test_make_images_refuses_without_docker_and_says_why():
    ran = []
    with pytest.raises(images.ImagesError) as exc:
        images.publish(REGISTRY, run=lambda cmd: ran.append(cmd) or 0, which=lambda _: None)
    assert "Docker is needed" in str(exc.value) and "nothing was built or pushed" in str(exc.value)
    assert ran == []


def test_make_images_stops_at_the_first_failing_command():
    ran = []
    with pytest.raises(images.ImagesError) as exc:
        images.publish(REGISTRY, run=lambda cmd: ran.append(cmd) or (1 if cmd[1] == "push" else 0),
                       which=lambda _: "/usr/bin/docker", echo=lambda _: None)
    assert "docker push" in str(exc.value) and len(ran) == 2


def test_the_main_entry_reports_a_missing_docker_on_stderr_with_exit_code_1(monkeypatch, capsys):
    monkeypatch.setattr(images.shutil, "which", lambda _: None)
    assert images.main([]) == 1
    assert capsys.readouterr().err.startswith("make images: Docker is needed")


def test_the_makefile_target_runs_the_build_and_push():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    (recipe,) = re.findall(r"^images:.*\n\t(.+)$", makefile, flags=re.MULTILINE)
    assert recipe.strip() == "$(BIN)/python -m urbanstack.ops.images"


def test_every_dockerfile_has_a_pinned_image_and_every_built_image_a_dockerfile():
    folders = {p.parent.name for p in (ROOT / "images").glob("*/Dockerfile")}
    assert folders == set(built_images(REGISTRY)) == {"ckan", "masterportal", "rei3"}


@pytest.mark.parametrize(("key", "arg"), [("masterportal", "MASTERPORTAL_VERSION"), ("rei3", "R3_VERSION")])
def test_the_version_a_dockerfile_builds_is_the_tag_it_is_pushed_with(key, arg):
    text = (ROOT / "images" / key / "Dockerfile").read_text(encoding="utf-8")
    assert re.findall(rf"^ARG {arg}=(\S+)$", text, flags=re.MULTILINE)[0] == IMAGES[key].tag


def test_the_ckan_base_image_is_a_tag_upstream_publishes():
    """ckan/ckan-docker-base publishes ckan/ckan-base:<ckan-2.11/VERSION.txt>; that file says 2.11.4 (no 2.11.6)."""
    text = (ROOT / "images" / "ckan" / "Dockerfile").read_text(encoding="utf-8")
    assert re.findall(r"^FROM docker\.io/ckan/ckan-base:(\S+)$", text, flags=re.MULTILINE) == ["2.11.4"]
    assert IMAGES["ckan"].tag == "2.11.4-1"


def test_the_registry_is_a_required_documented_shared_setting():
    with pytest.raises(ConfigError) as exc:
        parse({k: v for k, v in VALID.items() if k != "imageRegistry"})
    assert "urban-stack:imageRegistry: required key is missing" in str(exc.value)
    with pytest.raises(ConfigError, match="urban-stack:imageRegistry"):
        parse({**VALID, "imageRegistry": "https://Registry.example.de/"})
    assert parse({**VALID, "imageRegistry": REGISTRY}).imageRegistry == REGISTRY


def test_pods_pull_the_built_images_from_the_configured_registry(plan_stack, tmp_path, shared_config):
    from tests.plan_files import plan_booking

    plan, _ = plan_booking(plan_stack, tmp_path / "tenants", {"openData": {}, "masterportal": {}, "rei3": {}})
    refs = {c["image"] for r in plan.kube_objects() if r.inputs.get("kind") in ("StatefulSet", "Deployment", "Job")
            for c in [*r.inputs["spec"]["template"]["spec"].get("initContainers", []),
                      *r.inputs["spec"]["template"]["spec"]["containers"]]}
    registry = shared_config["urban-stack:imageRegistry"]
    assert set(built_images(registry).values()) <= refs
    assert not any(ref.startswith("ghcr.io/urban-stack/") for ref in refs), "nothing publishes there"


def from_lines(key: str) -> list[str]:
    text = (ROOT / "images" / key / "Dockerfile").read_text(encoding="utf-8")
    return re.findall(r"^FROM (\S+)", text, flags=re.MULTILINE)


@pytest.mark.parametrize("key", ["ckan", "masterportal", "rei3"])
def test_every_base_image_of_our_builds_names_a_registry_and_an_exact_release_tag(key):
    for ref in from_lines(key):
        repository, _, tag = ref.partition(":")
        assert repository.startswith("docker.io/") and tag, ref
        assert tag != "latest" and re.search(r"\d+\.\d+|\d{8}", tag), f"{key}: {ref} names no exact release"


def test_the_rei3_build_refuses_a_release_tag_that_is_not_the_pinned_commit():
    text = (ROOT / "images" / "rei3" / "Dockerfile").read_text(encoding="utf-8")
    [commit] = re.findall(r"^ARG R3_COMMIT=(\S+)$", text, flags=re.MULTILINE)
    assert re.fullmatch(r"[0-9a-f]{40}", commit)
    assert 'git clone --depth 1 --branch "v${R3_VERSION}"' in text
    assert 'test "$(git -C /src rev-parse HEAD)" = "${R3_COMMIT}"' in text
    assert "go mod verify" in text
    # nothing is downloaded unverified: no archive from rei3.de, no curl/wget
    assert "rei3.de/downloads" not in text and "curl" not in text and "wget" not in text
    assert re.fullmatch(r"\d+\.\d+\.\d+", IMAGES["rei3"].tag), "an exact release, not a release line"


def test_the_masterportal_build_refuses_a_release_tag_that_is_not_the_pinned_commit_and_installs_the_tag_lock_file():
    text = (ROOT / "images" / "masterportal" / "Dockerfile").read_text(encoding="utf-8")
    [commit] = re.findall(r"^ARG MASTERPORTAL_COMMIT=(\S+)$", text, flags=re.MULTILINE)
    assert re.fullmatch(r"[0-9a-f]{40}", commit)
    assert 'git clone --depth 1 --branch "v${MASTERPORTAL_VERSION}"' in text
    assert 'test "$(git -C /src rev-parse HEAD)" = "${MASTERPORTAL_COMMIT}"' in text
    # the lock file decides every package: `npm ci`, never `npm install` (which resolves ranges at build time)
    assert re.search(r"^RUN npm ci\b", text, flags=re.MULTILINE)
    assert not re.search(r"\bnpm (install|i)\b", re.sub(r"^#.*$", "", text, flags=re.MULTILINE))


def test_the_masterportal_build_runs_on_a_supported_node_lts_line():
    [node] = [ref for ref in from_lines("masterportal") if ref.startswith("docker.io/library/node:")]
    major = int(re.match(r"docker\.io/library/node:(\d+)\.\d+\.\d+-", node).group(1))
    # Node 18 ended 2025-04-30, 20 on 2026-04-30 (nodejs/Release schedule); even lines are the LTS lines
    assert major >= 22 and major % 2 == 0, node


@pytest.mark.parametrize("key", ["ckan", "masterportal", "rei3"])
def test_every_base_image_digest_is_a_sha256_with_the_upstream_record_named_in_the_dockerfile(key):
    comments = re.sub(r"\n#\s*", " ", (ROOT / "images" / key / "Dockerfile").read_text(encoding="utf-8"))
    for ref in from_lines(key):
        if "@" not in ref:
            continue
        name_tag, _, digest = ref.partition("@")
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest), ref
        name, _, tag = name_tag.removeprefix("docker.io/library/").partition(":")
        record = f"repos/{name}/remote/{tag}.md"
        assert re.search(re.escape(record) + r", commit [0-9a-f]{40}, build of \d{4}-\d{2}-\d{2}", comments), \
            f"{key}: {ref} names no docker-library/repo-info record ({record}, commit, date)"


def test_the_masterportal_build_pulls_every_base_image_by_digest():
    for ref in from_lines("masterportal"):
        assert re.search(r"@sha256:[0-9a-f]{64}$", ref), ref


def test_the_ckan_build_installs_ckanext_dcatde_by_commit_and_every_other_package_by_exact_version():
    text = (ROOT / "images" / "ckan" / "Dockerfile").read_text(encoding="utf-8")
    [commit] = re.findall(r"^ARG DCATDE_COMMIT=(\S+)$", text, flags=re.MULTILINE)
    assert re.fullmatch(r"[0-9a-f]{40}", commit)
    assert "ckanext-dcatde.git@${DCATDE_COMMIT}" in text
    for requirement in re.findall(r'^\s+"([a-z][^"@ ]*)"', text, flags=re.MULTILINE):
        assert "==" in requirement, requirement
