"""The development benchmark's lever rule (``benchmarks/development.py``)."""
import json

from benchmarks.development import lever_table


def write_scores(path, values: dict[tuple[str, str, int], float]):
    path.write_text("".join(json.dumps({"corpus": c, "protocol": p, "method": "PU", "seed": s,
                                        "test_db": v}) + "\n"
                            for (c, p, s), v in values.items()))
    return path


def runs(gain_a: float, gain_b: float, shift: float = 0.0):
    return {(corpus, protocol, seed): base + shift + (gain_a if corpus == "a" else gain_b)
            for corpus in ("a", "b") for protocol in ("seen", "unseen")
            for seed, base in ((0, 1.0), (1, 2.0))}


def test_a_lever_that_wins_everywhere_is_adopted(tmp_path):
    base = write_scores(tmp_path / "base.jsonl", runs(0, 0))
    table = lever_table(write_scores(tmp_path / "new.jsonl", runs(0.5, 0.1)), base)
    assert "| a | +0.50 | +0.50 | +0.50 | 2 |" in table
    assert "verdict: adopt (overall +0.30 dB, worst corpus +0.10 dB)" in table


def test_a_lever_that_loses_one_corpus_by_more_than_the_margin_is_not(tmp_path):
    base = write_scores(tmp_path / "base.jsonl", runs(0, 0))
    table = lever_table(write_scores(tmp_path / "new.jsonl", runs(1.5, -0.4)), base)
    assert "verdict: keep the baseline (overall +0.55 dB, worst corpus -0.40 dB)" in table


def test_only_runs_both_hold_are_compared(tmp_path):
    base = write_scores(tmp_path / "base.jsonl", {("a", "seen", 0): 1.0})
    new = write_scores(tmp_path / "new.jsonl", {("a", "seen", 0): 2.0, ("a", "seen", 1): 9.0})
    assert "| a | +1.00 |  | +1.00 | 1 |" in lever_table(new, base)
    assert "share no PU run" in lever_table(new, write_scores(tmp_path / "x.jsonl", {}))
