"""The operations commands against a live cluster and its registries: ``up`` (:mod:`.deploy`), ``offboard``
(:mod:`.offboard`), ``restore`` (:mod:`.restore`), image builds (:mod:`.images`, ``python -m urbanstack.ops.images``)
and the vendored charts' refresh (:mod:`.vendor`). They build on the engine (``urbanstack.engine``)."""
