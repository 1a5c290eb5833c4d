"""Keycloak's admin console is open only to address ranges that are narrow and outside the cluster (issue 23 item 15:
two /1 ranges opened it to everyone; a range overlapping the pod network admitted every pod)."""

from __future__ import annotations

import pytest

from catalogue.shared_config import ADMIN_MIN_PREFIX, ConfigError, parse
from tests.config_samples import SHARED_VALID

FIELD = "stacks/Pulumi.shared.yaml: urban-stack:keycloakAdmin"


def admin(ranges: list[str], network: dict | None = None):
    return parse({**SHARED_VALID, "keycloakAdmin": {"allowedSourceRanges": ranges},
                  **({"network": network} if network else {})})


def test_the_bound_is_slash_8_for_ipv4_and_slash_32_for_ipv6():
    assert ADMIN_MIN_PREFIX == {4: 8, 6: 32}


@pytest.mark.parametrize("ranges", [["0.0.0.0/1", "128.0.0.0/1"], ["0.0.0.0/0"], ["10.0.0.0/7"],
                                    ["2001:db8::/31"], ["::/1", "8000::/1"]])
def test_ranges_that_alone_or_together_are_wider_than_the_bound_are_refused_naming_file_and_field(ranges):
    with pytest.raises(ConfigError) as exc:
        admin(ranges)
    message = str(exc.value)
    assert message.startswith(f"{FIELD}: allowedSourceRanges: ")
    assert "wider than /" in message and ", ".join(ranges) in message


def test_two_adjacent_ranges_that_merge_into_a_wider_one_are_refused():
    with pytest.raises(ConfigError, match=r"12\.0\.0\.0/8, 13\.0\.0\.0/8 together cover 12\.0\.0\.0/7"):
        admin(["12.0.0.0/8", "13.0.0.0/8"])


def test_narrow_ranges_outside_the_cluster_are_accepted():
    cfg = admin(["203.0.113.0/24", "198.51.100.7/32", "2001:db8::/48", "12.0.0.0/8"],
                {"podCidrs": ["10.244.0.0/16"], "serviceCidrs": ["10.96.0.0/12"]})
    assert [str(n) for n in cfg.keycloakAdmin.allowedSourceRanges] == ["203.0.113.0/24", "198.51.100.7/32",
                                                                    "2001:db8::/48", "12.0.0.0/8"]


@pytest.mark.parametrize("ranges, field", [(["10.244.7.0/24"], "podCidrs"), (["10.0.0.0/8"], "podCidrs"),
                                           (["10.100.0.1/32"], "serviceCidrs")])
def test_a_range_overlapping_the_pod_or_service_network_is_refused(ranges, field):
    network = {"podCidrs": ["10.244.0.0/16"], "serviceCidrs": ["10.96.0.0/12"]}
    with pytest.raises(ConfigError) as exc:
        admin(ranges, network)
    message = str(exc.value)
    assert message.startswith("stacks/Pulumi.shared.yaml: urban-stack:keycloakAdmin.allowedSourceRanges: ")
    assert f"overlaps {network[field][0]}" in message and "every pod" in message


def test_the_example_configuration_passes():
    from catalogue.shared_config import load_file

    assert load_file().keycloakAdmin.allowedSourceRanges == []
