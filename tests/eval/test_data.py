"""Loading BEIR folders, qrels, TREC runs, NLI TSV sets and SciFact claims."""

from __future__ import annotations

import pytest

from eval import (
    load_beir,
    load_nli_tsv,
    load_qrels,
    load_queries,
    load_scifact_claims,
    load_scifact_sentences,
    load_trec_run,
    sample_query_ids,
    write_trec_run,
)


def test_load_tiny_beir_folder(tiny_beir):
    data = load_beir(tiny_beir)
    assert [d.id for d in data.corpus] == ["d1", "d2", "d3", "d4", "d5"]
    assert data.corpus[4].text.startswith("Café") and data.corpus[0].title == "Aspirin"
    assert data.qrels == {"q1": {"d1": 2, "d3": 1}, "q2": {"d2": 1}, "q3": {"d4": 0}}
    assert data.query_ids() == ["q1", "q2", "q3"]


def test_load_beir_errors_name_what_is_missing(tiny_beir, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no qrels for split 'dev'.*available splits: \['test'\]"):
        load_beir(tiny_beir, split="dev")
    with pytest.raises(FileNotFoundError, match="dataset folder not found"):
        load_beir(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"no corpus\.jsonl"):
        load_beir(tmp_path / "empty")


def test_load_shared_scifact(scifact_dir):
    data = load_beir(scifact_dir)
    assert len(data.corpus) == 5183 and len(data.qrels) == 300
    assert sum(len(v) for v in data.qrels.values()) == 339
    assert len(load_qrels(scifact_dir / "qrels" / "train.tsv")) == 809


def test_trec_qrels_format(tmp_path):
    path = tmp_path / "qrels.txt"
    path.write_text("1 0 d1 2\n1 0 d2 0\n2 0 d3 1\n", encoding="utf-8")
    assert load_qrels(path) == {"1": {"d1": 2, "d2": 0}, "2": {"d3": 1}}
    path.write_text("1 d1\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"qrels.txt:1: expected 3 \(BEIR\) or 4 \(TREC\) fields"):
        load_qrels(path)


def test_trec_run_round_trip_sorted_with_ties_by_id_descending(tmp_path):
    run = {"q1": {"a": 1.0, "b": 3.5, "c": 1.0}, "q2": {"x": -0.25}}
    path = write_trec_run(run, tmp_path / "runs" / "run.trec", tag="mine")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[:3] == ["q1 Q0 b 1 3.5 mine", "q1 Q0 c 2 1.0 mine", "q1 Q0 a 3 1.0 mine"]
    assert load_trec_run(path) == run
    with pytest.raises(ValueError, match="tag must be"):
        write_trec_run(run, tmp_path / "x", tag="two words")


def test_nli_tsv(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text('premise\thypothesis\tlabel\nA "quoted" man.\tA man.\tentailment\nX\tY\tnot_entailment\n', "utf-8")
    examples = load_nli_tsv(path)
    assert examples.premises == ['A "quoted" man.', "X"] and examples.labels == ["entailment", "neutral"]
    path.write_text("premise\thypothesis\tlabel\nA\tB\tmaybe\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"pairs.tsv:2: label must be one of"):
        load_nli_tsv(path)


def test_shared_nli_sets_load(nli_dir):
    snli = load_nli_tsv(nli_dir / "snli_test.tsv")
    assert len(snli) == 9824 and set(snli.labels) == {"entailment", "neutral", "contradiction"}
    assert len(load_nli_tsv(nli_dir / "mnli_mismatched_sample1000.tsv", limit=10)) == 10


def test_scifact_claims_and_sentences(factcheck_dir):
    claims = load_scifact_claims(factcheck_dir / "claims_dev.jsonl")
    assert len(claims) == 300
    assert {c.label for c in claims} == {"SUPPORT", "CONTRADICT", "NOINFO"}
    assert sum(c.label == "NOINFO" for c in claims) == 112
    claim = next(c for c in claims if c.id == "3")
    assert claim.evidence == {"14717500": ("SUPPORT", (2, 5, 7))}
    documents = load_scifact_sentences(factcheck_dir / "corpus_sentences.jsonl.gz")
    assert len(documents) == 5183 and len(documents["14717500"].metadata["sentences"]) > 7


def test_sample_query_ids_is_reproducible_and_order_free():
    ids = [str(i) for i in range(50)]
    first = sample_query_ids(ids, 10, seed=0)
    assert first == sample_query_ids(list(reversed(ids)), 10, seed=0)
    assert first != sample_query_ids(ids, 10, seed=1)
    assert len(first) == 10 and first == sorted(first)
    assert sample_query_ids(ids, None) == sorted(ids) == sample_query_ids(ids, 500)
    with pytest.raises(ValueError, match="positive int"):
        sample_query_ids(ids, 0)


def test_resolve_dataset_prefers_folders_then_the_cache(tiny_beir, tmp_path):
    from eval import resolve_dataset

    assert resolve_dataset(tiny_beir) == tiny_beir
    cached = tmp_path / "cache" / "tiny"
    cached.mkdir(parents=True)
    assert resolve_dataset("tiny", cache_dir=tmp_path / "cache") == cached
    with pytest.raises(FileNotFoundError, match="dataset folder not found"):
        resolve_dataset(str(tmp_path / "no" / "such folder"))


@pytest.mark.parametrize("bad", ["null", "true", "[1]", '""'])
def test_query_ids_must_be_strings_or_integers(tmp_path, bad):
    path = tmp_path / "queries.jsonl"
    path.write_text('{"_id": "q1", "text": "fine"}\n{"_id": ' + bad + ', "text": "x"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"queries\.jsonl:2: the query id"):
        load_queries(path)


def test_a_run_with_a_non_string_id_is_refused_before_sorting(tmp_path):
    with pytest.raises(ValueError, match="document id 3 cannot be written"):
        write_trec_run({"q": {"a": 1.0, 3: 1.0}}, tmp_path / "run.trec")
    assert not (tmp_path / "run.trec").exists()
