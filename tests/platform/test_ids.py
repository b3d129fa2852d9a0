from __future__ import annotations

from sophon.platform.ids import is_id, new_id


def test_ids_are_prefixed_ulids_sorting_by_creation() -> None:
    made = [new_id("usr") for _ in range(2000)]
    assert made == sorted(made)
    assert len(set(made)) == len(made)
    assert all(is_id(i, "usr") for i in made)
    assert not is_id(made[0], "agt")
    assert not is_id("usr_not-a-ulid")
