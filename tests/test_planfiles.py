"""Reading a written plan back: every reader (checks, ``plan --compare``, tests) sees what is in the file now."""

from __future__ import annotations

from urbanstack.engine.planfiles import load_file, read_objects


def test_a_file_read_again_gives_an_equal_object_the_caller_may_change(tmp_path):
    path = tmp_path / "configmap-verl-a.yaml"
    path.write_text("kind: ConfigMap\nmetadata: {name: a, namespace: verl}\ndata: {k: v}\n", encoding="utf-8")
    first = load_file(path)
    first["data"]["k"] = "changed by a caller"
    assert load_file(path) == {"kind": "ConfigMap", "metadata": {"name": "a", "namespace": "verl"}, "data": {"k": "v"}}


def test_an_edited_file_is_read_with_its_new_content(tmp_path):
    path = tmp_path / "configmap-verl-a.yaml"
    path.write_text("kind: ConfigMap\ndata: {k: v}\n", encoding="utf-8")
    assert load_file(path)["data"] == {"k": "v"}
    path.write_text("kind: ConfigMap\ndata: {k: w}\n", encoding="utf-8")
    assert load_file(path)["data"] == {"k": "w"}


def test_a_plan_is_read_per_stack_with_its_chart_and_operator_folders_and_without_hidden_folders(tmp_path):
    for rel in ("shared/namespace-cluster-a.yaml", "shared/chart-x/service-a-b.yaml", "verl/secret-verl-c.yaml",
                ".tmp/secret-x-y.yaml"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("kind: Thing\n", encoding="utf-8")
    stacks = read_objects(tmp_path)
    assert {s: [f.relative_to(tmp_path).as_posix() for f, _ in objs] for s, objs in stacks.items()} == {
        "shared": ["shared/namespace-cluster-a.yaml", "shared/chart-x/service-a-b.yaml"],
        "verl": ["verl/secret-verl-c.yaml"]}
