"""A Valkey cache container for modules that need a Redis-compatible cache or queue (Superset, CKAN).

The official ``valkey/valkey`` image (not Bitnami): it runs as any UID when its working directory ``/data``
is writable, so the container runs as ``DEFAULT_UID`` on a read-only root filesystem with ``/data`` as an
``emptyDir``. It is deliberately not persistent (``--save ""``, ``--appendonly no``): modules keep caches,
queues of retryable jobs and short-lived results in it, never data of record. ``maxmemory`` stays below
the container's memory limit; ``volatile-lru`` evicts only keys with an expiry (cache entries), never
queues. A generated password (``--requirepass``) guards it in addition to the module's NetworkPolicy.
"""

from __future__ import annotations

from catalogue.sizing import Size
from components import k8s as kb

PORT = 6379
PING = ("sh", "-c", 'valkey-cli -a "$VALKEY_PASSWORD" --no-auth-warning ping | grep -q PONG')


def container(size: Size, password: tuple[str, str]) -> kb.Container:
    """The Valkey container; ``password`` is ``(secret name, key)`` of its generated password."""
    return kb.Container(
        name="valkey", image="valkey", size=size, ports={"valkey": PORT},
        args=["valkey-server", "--requirepass", "$(VALKEY_PASSWORD)", "--save", "", "--appendonly", "no",
              "--maxmemory", f"{size.memory_mi * 3 // 4}mb", "--maxmemory-policy", "volatile-lru"],
        secret_env={"VALKEY_PASSWORD": password},
        writable=["/data"],
        liveness=kb.Probe(port="valkey", command=PING, initial_delay=10),
        readiness=kb.Probe(port="valkey", command=PING, initial_delay=5),
    )
