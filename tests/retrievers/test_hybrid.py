from __future__ import annotations

import json

import pytest

from rerank.records import Candidate, Document, SourceScore
from retrievers import BM25Retriever, HybridRetriever, IndexFormatError, Tokenizer, load_retriever
from retrievers.storage import resolve_directory


class FixedLists:
    """A stand-in source that returns a fixed ranked list (input for the fusion under test, not a mock of it)."""

    def __init__(self, name, scored_ids):
        self.name = name
        self.scored_ids = scored_ids

    def retrieve(self, query, k):
        return [
            Candidate(
                document=Document(id=i, text=f"text {i}"), retriever=self.name, retriever_score=s, retriever_rank=r
            )
            for r, (i, s) in enumerate(self.scored_ids[:k], start=1)
        ]


SPARSE = FixedLists("sparse", [("a", 12.0), ("b", 9.0), ("c", 3.0)])
DENSE = FixedLists("dense", [("c", 0.9), ("a", 0.8), ("d", 0.4)])


def test_reciprocal_rank_fusion_by_hand():
    fused = HybridRetriever([SPARSE, DENSE]).retrieve("q", k=10)
    expected = {"a": 1 / 61 + 1 / 62, "c": 1 / 63 + 1 / 61, "b": 1 / 62, "d": 1 / 63}
    assert [c.document.id for c in fused] == ["a", "c", "b", "d"]
    for candidate in fused:
        assert candidate.retriever == "hybrid"
        assert candidate.retriever_score == pytest.approx(expected[candidate.document.id], rel=1e-12)
    assert [c.retriever_rank for c in fused] == [1, 2, 3, 4]
    assert fused[0].sources == {"sparse": SourceScore(score=12.0, rank=1), "dense": SourceScore(score=0.8, rank=2)}
    assert fused[2].sources == {"sparse": SourceScore(score=9.0, rank=2)}


def test_weighted_rrf_and_k_cutoff():
    fused = HybridRetriever({"s": SPARSE, "d": DENSE}, weights={"s": 0.0, "d": 2.0}, rrf_k=0).retrieve("q", k=2)
    assert [(c.document.id, c.retriever_score) for c in fused] == [("c", 2.0), ("a", 1.0)]


def test_weighted_minmax_fusion_by_hand():
    fused = HybridRetriever([SPARSE, DENSE], fusion="weighted", weights=[1.0, 0.5]).retrieve("q", k=10)
    # minmax: sparse a=1, b=6/9, c=0; dense c=1, a=0.8, d=0; a source that missed a document gives its minimum (0)
    expected = {"a": 1 + 0.5 * 0.8, "b": 6 / 9, "c": 0 + 0.5 * 1.0, "d": 0.0}
    assert [c.document.id for c in fused] == ["a", "b", "c", "d"]
    for candidate in fused:
        assert candidate.retriever_score == pytest.approx(expected[candidate.document.id])


def test_weighted_zscore_gives_missing_documents_the_lowest_value():
    fused = HybridRetriever([SPARSE, DENSE], fusion="weighted", normalization="zscore").retrieve("q", k=10)
    scores = {c.document.id: c.retriever_score for c in fused}
    # d is only in the dense list (its lowest); b only in the sparse list: each gets the other's minimum z-score
    assert scores["a"] > scores["c"] > scores["b"] > scores["d"]


def test_ties_prefer_the_best_source_rank():
    left = FixedLists("left", [("x", 1.0), ("y", 0.5)])
    right = FixedLists("right", [("y", 1.0), ("x", 0.5)])
    fused = HybridRetriever([left, right]).retrieve("q", k=2)
    assert fused[0].retriever_score == fused[1].retriever_score
    assert [c.document.id for c in fused] == ["x", "y"]


def test_empty_sources_and_bad_settings():
    empty = FixedLists("empty", [])
    assert HybridRetriever([empty]).retrieve("q", k=3) == []
    assert [c.document.id for c in HybridRetriever([empty, SPARSE]).retrieve("q", k=3)] == ["a", "b", "c"]
    with pytest.raises(ValueError, match="two retrievers are named 'sparse'"):
        HybridRetriever([SPARSE, SPARSE])
    with pytest.raises(ValueError, match="unknown fusion 'max'"):
        HybridRetriever([SPARSE], fusion="max")
    with pytest.raises(ValueError, match="got 1 weights for 2 retrievers"):
        HybridRetriever([SPARSE, DENSE], weights=[1.0])
    with pytest.raises(ValueError, match="weight of 'dense' must be a finite number >= 0"):
        HybridRetriever([SPARSE, DENSE], weights={"sparse": 1, "dense": -1})
    with pytest.raises(ValueError, match="unknown normalization"):
        HybridRetriever([SPARSE], normalization="softmax")
    with pytest.raises(ValueError, match="query is empty"):
        HybridRetriever([SPARSE]).retrieve("", k=3)
    with pytest.raises(TypeError, match="no retrieve"):
        HybridRetriever({"x": object()})
    with pytest.raises(ValueError, match=r"rrf_k must be >= 0\.0, got -1"):
        HybridRetriever([SPARSE], rrf_k=-1)
    with pytest.raises(ValueError, match="depth must be >= 1, got 0"):
        HybridRetriever([SPARSE], depth=0)


def test_bm25_hybrid_retrieve_many_and_round_trip(corpus, tmp_path):
    stemmed = BM25Retriever(corpus, show_progress=False)
    plain = BM25Retriever(corpus, tokenizer=Tokenizer(stemmer=None), show_progress=False, name="plain")
    hybrid = HybridRetriever([stemmed, plain], fusion="weighted", weights=[2.0, 1.0], depth=5)
    queries = ["heart risks", "paris", "東京"]
    batch = hybrid.retrieve_many(queries, k=3)
    assert batch == [hybrid.retrieve(q, k=3) for q in queries]
    assert set(batch[0][0].sources) == {"bm25", "plain"}
    hybrid.save(tmp_path / "hybrid")
    loaded = load_retriever(tmp_path / "hybrid")
    assert isinstance(loaded, HybridRetriever)
    assert (loaded.fusion, loaded.weights, loaded.depth) == ("weighted", {"bm25": 2.0, "plain": 1.0}, 5)
    assert loaded.retrieve_many(queries, k=3) == batch
    with pytest.raises(TypeError, match="has no save"):
        HybridRetriever([SPARSE]).save(tmp_path / "other")


def test_bm25_and_dense_hybrid_round_trip(corpus, encoder, corpus_vectors, tmp_path):
    from retrievers import DenseRetriever

    dense = DenseRetriever(corpus, model=encoder, show_progress=False, embeddings=corpus_vectors)
    hybrid = HybridRetriever([BM25Retriever(corpus, show_progress=False), dense])
    top = hybrid.retrieve("Which drug prevents heart attacks?", k=3)[0]
    assert top.document.id == "aspirin" and set(top.sources) == {"bm25", "dense"}
    hybrid.save(tmp_path / "hybrid")
    loaded = HybridRetriever.load(tmp_path / "hybrid", model=encoder)
    assert loaded.retrieve("heart attack", k=5) == hybrid.retrieve("heart attack", k=5)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("fusion", "max", r"invalid config\.fusion: unknown fusion 'max'"),
        ("rrf_k", -1, r"invalid config\.rrf_k: rrf_k must be >= 0\.0, got -1"),
        ("depth", 0, r"invalid config\.depth: depth must be >= 1, got 0"),
        ("weights", {"bm25": -1, "plain": 1}, r"invalid config\.weights\.bm25: weights must be >= 0\.0, got -1"),
        ("weights", {"bm25": 1}, r"invalid config: weights are keyed \['bm25'\], the sources \['bm25', 'plain'\]"),
        ("sources", {"bm25": "../x", "plain": "sources/1"}, r"config\.sources\.bm25: .*plain relative path"),
        ("sources", {"bm25": "sources/7", "plain": "sources/1"}, r"source 'bm25' is in 'sources/7', which holds no"),
    ],
)
def test_an_invalid_hybrid_config_is_refused_naming_the_field(corpus, tmp_path, key, value, message):
    hybrid = HybridRetriever([BM25Retriever(corpus, show_progress=False),
                              BM25Retriever(corpus, show_progress=False, name="plain")])  # fmt: skip
    directory = hybrid.save(tmp_path / "hybrid")
    path = resolve_directory(directory) / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["config"][key] = value
    path.write_text(json.dumps(manifest))
    with pytest.raises(IndexFormatError, match=r"manifest\.json: .*" + message):
        HybridRetriever.load(directory)
