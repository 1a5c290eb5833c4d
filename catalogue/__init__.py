"""The domain layer: what the platform is made of, without Pulumi.

Everything here is plain Python (pydantic, PyYAML): the module catalogue (each module's options and spec), names,
sizing, pinned versions, prices, realm policy, cost-label keys and rules, the tenant-file schema and loader, the
shared config model and the manifest walker. ``components/`` turns these objects into Pulumi resources; the CLI,
the offline plan, the checks, finance and the policy pack read them. Nothing in this package imports ``pulumi``,
``pulumi_kubernetes`` or ``components`` (``tests/test_architecture.py`` holds every layer to that).
"""
