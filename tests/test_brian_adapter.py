"""circuitsim.brian_adapter uses Brian2's internals (the standalone device's queue, static arrays,
function namespaces, array cache): it is pinned to the Brian2 release it was written for."""

from circuitsim import brian_adapter


def test_installed_brian2_is_the_release_the_adapter_was_written_for():
    problem = brian_adapter.version_problem()
    assert problem is None, problem


def test_another_release_is_named_with_what_to_check():
    problem = brian_adapter.version_problem("2.10.1")
    assert problem is not None
    assert f"written for Brian2 {brian_adapter.WRITTEN_FOR}" in problem and "Brian2 2.10.1 is installed" in problem
    assert "main_queue" in problem and "static_arrays" in problem
    assert brian_adapter.version_problem(brian_adapter.WRITTEN_FOR) is None


def test_the_device_reaches_brian2_internals_only_through_the_adapter():
    """No other circuitsim module touches the private state the adapter wraps."""
    from pathlib import Path

    import circuitsim

    root = Path(circuitsim.__file__).parent
    private = ("main_queue", "static_arrays", "_insert_func_namespace", "array_cache", "insert_code(")
    offenders = []
    for path in root.rglob("*.py"):
        if path.name == "brian_adapter.py":
            continue
        text = path.read_text()
        offenders += [f"{path.relative_to(root)}: {name}" for name in private if f"device.{name}" in text]
    assert not offenders, offenders
