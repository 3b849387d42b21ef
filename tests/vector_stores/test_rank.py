"""BM25 and the fused score: rare terms weigh more, vectors lift semantic neighbours, thresholds cut."""

from __future__ import annotations

import numpy as np
import pytest

from orchestrator.vector_stores import rank
from orchestrator.vector_stores.terms import terms


def test_terms_drop_stop_words_and_fold_plurals() -> None:
    assert terms("The Documents of the ZEBRA are here") == ["document", "zebra", "here"]
    assert terms("class analysis") == ["class", "analysis"]


def test_a_rare_term_outranks_a_common_one() -> None:
    postings = [
        {"a": 1, "b": 1, "c": 1},  # "common": in every chunk
        {"b": 1},  # "rare": in one
    ]
    scores = rank.bm25(postings, {"a": 10, "b": 10, "c": 10}, n_chunks=3, avg_length=10)
    assert scores["b"] > scores["a"] == pytest.approx(scores["c"])


def test_shorter_chunks_win_at_equal_frequency() -> None:
    scores = rank.bm25([{"short": 1, "long": 1}], {"short": 5, "long": 50}, n_chunks=10, avg_length=20)
    assert scores["short"] > scores["long"]


def test_fusion_scores_stay_between_zero_and_one_and_mix_both_rankers() -> None:
    fused = rank.fuse({"x": 4.0, "y": 2.0}, {"x": 0.2, "z": 0.9})
    assert fused["x"] == pytest.approx(0.5 * 1.0 + 0.5 * 0.2)
    assert fused["y"] == pytest.approx(0.25)
    assert fused["z"] == pytest.approx(0.45)
    assert all(0 <= s <= 1 for s in fused.values())


def test_bm25_alone_is_normalised_by_its_best() -> None:
    assert rank.fuse({"x": 3.0, "y": 1.5}, None) == {"x": 1.0, "y": 0.5}


def test_top_orders_cuts_at_the_threshold_and_breaks_ties_by_id() -> None:
    scores = {"b": 0.5, "a": 0.5, "c": 0.9, "d": 0.1, "e": 0.0}
    assert rank.top(scores, 10) == [("c", 0.9), ("a", 0.5), ("b", 0.5), ("d", 0.1)]
    assert rank.top(scores, 10, threshold=0.5) == [("c", 0.9), ("a", 0.5), ("b", 0.5)]
    assert rank.top(scores, 1) == [("c", 0.9)]


def test_cosine_of_unit_vectors() -> None:
    matrix = np.array([[1, 0], [0, 1], [0.6, 0.8]], dtype=np.float32)
    scores = rank.cosine(np.array([0.6, 0.8], dtype=np.float32), ["x", "y", "z"], matrix)
    assert scores["z"] == pytest.approx(1.0) and scores["y"] == pytest.approx(0.8)
