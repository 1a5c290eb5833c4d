"""Pulumi entry point: `pulumi up` on stack `shared` or on a municipality's stack (its slug)."""

from urbanstack.engine.program import main

main()
