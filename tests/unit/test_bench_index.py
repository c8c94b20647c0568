"""`gaitline bench index` at a small scale: the figures it reports are the ones it measured."""

from bench.index import measure


def test_index_bench_reports_recall_and_latency() -> None:
    res = measure(identities=3000, dim=32, queries=200, nprobe=16, candidates=10, spectrum=0.8, noise=0.2)
    assert res["approximate"] and res["identities"] == 3000
    assert 0.9 <= res["recall_at_1"] <= 1.0
    # with little noise the exact top-1 is the identity itself, so recall and identity hits agree
    assert abs(res["recall_at_1"] - res["true_identity_at_1"]) <= 0.05
    assert 0 < res["p50_ms"] <= res["p99_ms"]
