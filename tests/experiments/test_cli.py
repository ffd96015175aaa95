import json
import math

from experiments import _cli


def test_part_cache_round_trips_infinities_and_reuses(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"a": float("-inf"), "b": [1.0, float("inf")], "c": None, "d": "text"}

    cache = _cli.PartCache(tmp_path, "x", {"p": 1}, seed=0)
    first = cache.get_or_compute("part", compute)
    again = _cli.PartCache(tmp_path, "x", {"p": 1}, seed=0).get_or_compute("part", compute)
    assert len(calls) == 1  # the second call re-used the stored part
    for r in (first, again):
        assert r["a"] == -math.inf and r["b"][1] == math.inf and r["c"] is None and r["d"] == "text"
    # another config or seed starts afresh; fresh=True recomputes
    _cli.PartCache(tmp_path, "x", {"p": 2}, seed=0).get_or_compute("part", compute)
    _cli.PartCache(tmp_path, "x", {"p": 1}, seed=0, fresh=True).get_or_compute("part", compute)
    assert len(calls) == 3


def test_write_json_is_strict_json(tmp_path):
    path = tmp_path / "o.json"
    _cli.write_json(path, {"x": float("nan"), "y": float("inf")})
    assert json.loads(path.read_text()) == {"x": None, "y": "inf"}
    assert not list(tmp_path.glob(".*tmp"))  # no temp file left behind
