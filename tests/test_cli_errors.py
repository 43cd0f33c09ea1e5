"""Every subcommand against a table of bad inputs: exit status 2, one line on stderr, never a traceback; and a bug
(exit 1, a short message naming --debug) that ``rerank --debug`` shows in full.

The table runs in one real subprocess (``drive``), so stderr is the process's own: anything a library logs or warns
shows up there, as it would for a user, and an exception escaping ``main`` is printed as the interpreter would.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

import pytest

from eval import ScoreStore
from rerank_cli.main import main
from tests.conftest import REPO_ROOT, SHARED_DIR
from tests.eval.conftest import TINY_CORPUS, TINY_QRELS, TINY_QUERIES, write_beir

RELEVANCE_MODEL = SHARED_DIR / "models" / "ms-marco-MiniLM-L-12-v2-int8"

SCORE = ["score", "--model", "{model}", "--query", "q", "--doc", "a passage"]
SEARCH = ["search", "--corpus", "{corpus}", "--query", "aspirin", "--no-rerank"]
EVAL = ["eval", "--dataset", "{beir}", "--k", "5", "--no-progress"]
EVAL_NLI = ["eval-nli", "--data", "{pairs}", "--model", "{model}", "--no-progress"]
EXPORT = ["export", "{model}"]
VERIFY = ["verify", "--model", "{model}", "--claim", "c", "--evidence", "{text_file}"]
CALIBRATE = ["calibrate", "--model", "{model}", "--out", "{root}/c.json", "--data", "{pairs}"]
GROUNDEDNESS = ["groundedness", "--model", "{model}", "--answer", "An answer.", "--passages", "{text_file}"]
CLASSIFY = ["classify", "--model", "{model}", "--text", "A text.", "--candidate-labels", "a", "b"]
ANSWERS = ["answers", "--model", "{model}", "--question", "Who?", "--answer", "Ann", "Bob", "--context", "Ann did."]

# (row id, argv); "{name}" is replaced by the path of the file or folder of that name built by bad_inputs().
BAD_INPUTS = [
    # score: model paths, runtime flags, thresholds, templates, texts
    ("score-model-missing", ["score", "--model", "{root}/absent", "--query", "q", "--doc", "d"]),
    ("score-model-is-a-file", ["score", "--model", "{text_file}", "--query", "q", "--doc", "d"]),
    ("score-model-empty-folder", ["score", "--model", "{empty_dir}", "--query", "q", "--doc", "d"]),
    ("score-model-corrupt-config", ["score", "--model", "{broken_model}", "--query", "q", "--doc", "d"]),
    ("score-threads-negative", [*SCORE, "--threads", "-3"]),
    ("score-threads-zero", [*SCORE, "--threads", "0"]),
    ("score-threads-not-int", [*SCORE, "--threads", "abc"]),
    ("score-batch-size-zero", [*SCORE, "--batch-size", "0"]),
    ("score-max-length-one", [*SCORE, "--max-length", "1"]),
    ("score-backend-unknown", [*SCORE, "--backend", "tpu"]),
    ("score-precision-unknown", [*SCORE, "--precision", "fp8"]),
    ("score-device-blank", [*SCORE, "--device", "cu da"]),
    ("score-min-entailment-nan", [*SCORE, "--min-entailment", "nan"]),
    ("score-min-entailment-above-1", [*SCORE, "--min-entailment", "1.5"]),
    ("score-max-contradiction-negative", [*SCORE, "--max-contradiction", "-0.1"]),
    ("score-min-entailment-inf", [*SCORE, "--min-entailment", "inf"]),
    ("score-min-entailment-not-number", [*SCORE, "--min-entailment", "high"]),
    ("score-min-score-on-nli-model", [*SCORE, "--min-score", "0.5"]),
    ("score-fusion-weight-not-number", [*SCORE, "--fusion-weight", "heavy"]),
    ("score-fusion-weight-nan", [*SCORE, "--fusion-weight", "nan"]),
    ("score-template-extra-field", [*SCORE, "--template", "About {} {x}"]),
    ("score-template-no-field", [*SCORE, "--template", "About it."]),
    ("score-template-unbalanced", [*SCORE, "--template", "About {"]),
    ("score-labels-wrong-count", [*SCORE, "--labels", "yes", "no"]),
    ("score-empty-doc", ["score", "--model", "{model}", "--query", "q", "--doc", "a passage", " "]),
    ("score-empty-query", ["score", "--model", "{model}", "--query", "", "--doc", "a passage"]),
    ("score-blank-query", ["score", "--model", "{model}", "--query", "   ", "--doc", "a passage"]),
    # search: corpus files and depths
    ("search-corpus-missing", [*SEARCH[:2], "{root}/absent.jsonl", *SEARCH[3:]]),
    ("search-corpus-is-a-folder", [*SEARCH[:2], "{empty_dir}", *SEARCH[3:]]),
    ("search-corpus-gz-not-gzip", [*SEARCH[:2], "{not_gzip}", *SEARCH[3:]]),
    ("search-corpus-random-bytes", [*SEARCH[:2], "{random_bytes}", *SEARCH[3:]]),
    ("search-corpus-latin-1", [*SEARCH[:2], "{latin1_corpus}", *SEARCH[3:]]),
    ("search-corpus-empty", [*SEARCH[:2], "{empty_file}", *SEARCH[3:]]),
    ("search-corpus-duplicate-ids", [*SEARCH[:2], "{duplicate_corpus}", *SEARCH[3:]]),
    ("search-corpus-not-json", [*SEARCH[:2], "{text_file}", *SEARCH[3:]]),
    ("search-k-zero", [*SEARCH, "--k", "0"]),
    ("search-k-negative", [*SEARCH, "--k", "-5"]),
    ("search-top-k-zero", [*SEARCH, "--top-k", "0"]),
    ("search-empty-query", ["search", "--corpus", "{corpus}", "--query", "", "--no-rerank"]),
    ("search-threads-negative", ["search", "--corpus", "{corpus}", "--query", "q", "--threads", "-1"]),
    ("search-model-missing", ["search", "--corpus", "{corpus}", "--query", "q", "--model", "{root}/absent"]),
    # eval: datasets, depths, outputs, caches, indexes
    ("eval-dataset-missing", ["eval", "--dataset", "{root}/absent", "--no-progress"]),
    ("eval-dataset-is-a-file", ["eval", "--dataset", "{text_file}", "--no-progress"]),
    ("eval-dataset-empty-folder", ["eval", "--dataset", "{empty_dir}", "--no-progress"]),
    ("eval-dataset-corrupt-corpus", ["eval", "--dataset", "{corrupt_beir}", "--no-progress"]),
    ("eval-split-missing", [*EVAL, "--split", "dev"]),
    ("eval-k-zero", [*EVAL[:4], "0", "--no-progress"]),
    ("eval-depth-negative", [*EVAL, "--depth", "-1"]),
    ("eval-dataset-duplicate-ids", ["eval", "--dataset", "{duplicate_beir}", "--no-progress"]),
    ("eval-seed-negative", [*EVAL, "--seed", "-1"]),
    ("eval-sample-zero", [*EVAL, "--sample", "0"]),
    ("eval-sample-negative", [*EVAL, "--sample", "-4"]),
    ("eval-metric-unknown", [*EVAL, "--metrics", "bleu"]),
    ("eval-metric-bad-cutoff", [*EVAL, "--metrics", "ndcg@0"]),
    ("eval-baseline-unknown", [*EVAL, "--baseline", "nobody"]),
    ("eval-reranker-missing", [*EVAL, "--reranker", "{root}/absent"]),
    ("eval-min-entailment-nan", [*EVAL, "--reranker", "{model}", "--min-entailment", "nan"]),
    ("eval-cache-not-sqlite", [*EVAL, "--reranker", "{model}", "--cache", "{text_file}"]),
    ("eval-cache-other-sqlite", [*EVAL, "--reranker", "{model}", "--cache", "{other_sqlite}"]),
    ("eval-cache-is-a-folder", [*EVAL, "--reranker", "{model}", "--cache", "{empty_dir}"]),
    ("eval-cache-parent-is-a-file", [*EVAL, "--reranker", "{model}", "--cache", "{text_file}/c.sqlite"]),
    ("eval-out-is-a-folder", [*EVAL, "--out", "{empty_dir}"]),
    ("eval-out-parent-is-a-file", [*EVAL, "--out", "{text_file}/r.json"]),
    ("eval-runs-dir-is-a-file", [*EVAL, "--runs-dir", "{text_file}"]),
    ("eval-plot-is-a-folder", [*EVAL, "--plot", "{empty_dir}"]),
    ("eval-plot-unknown-type", [*EVAL, "--plot", "{root}/d.xyz"]),
    ("eval-index-is-a-file", [*EVAL, "--index", "{text_file}"]),
    ("eval-index-parent-is-a-file", [*EVAL, "--index", "{text_file}/index"]),
    ("eval-index-foreign-folder", [*EVAL, "--index", "{foreign_dir}"]),
    # eval-nli: pair files, limits, caches, outputs, model kinds
    ("eval-nli-data-missing", [*EVAL_NLI[:2], "{root}/absent.tsv", *EVAL_NLI[3:]]),
    ("eval-nli-data-is-a-folder", [*EVAL_NLI[:2], "{empty_dir}", *EVAL_NLI[3:]]),
    ("eval-nli-data-not-utf8", [*EVAL_NLI[:2], "{random_bytes}", *EVAL_NLI[3:]]),
    ("eval-nli-data-wrong-header", [*EVAL_NLI[:2], "{text_file}", *EVAL_NLI[3:]]),
    ("eval-nli-data-bad-label", [*EVAL_NLI[:2], "{bad_label_pairs}", *EVAL_NLI[3:]]),
    ("eval-nli-data-empty", [*EVAL_NLI[:2], "{empty_file}", *EVAL_NLI[3:]]),
    ("eval-nli-limit-zero", [*EVAL_NLI, "--limit", "0"]),
    ("eval-nli-limit-negative", [*EVAL_NLI, "--limit", "-2"]),
    ("eval-nli-cache-not-sqlite", [*EVAL_NLI, "--cache", "{text_file}"]),
    ("eval-nli-cache-other-sqlite", [*EVAL_NLI, "--cache", "{other_sqlite}"]),
    ("eval-nli-cache-corrupt-pages", [*EVAL_NLI, "--cache", "{corrupt_sqlite}"]),
    ("eval-nli-out-is-a-folder", [*EVAL_NLI, "--out", "{empty_dir}"]),
    ("eval-nli-out-parent-is-a-file", [*EVAL_NLI, "--out", "{text_file}/n.json"]),
    ("eval-nli-batch-size-negative", [*EVAL_NLI, "--batch-size", "-1"]),
    ("eval-nli-model-missing", [*EVAL_NLI[:4], "{root}/absent", "--no-progress"]),
    # export: model paths, outputs, calibration
    ("export-model-missing", ["export", "{root}/absent", "--out", "{root}/exported"]),
    ("export-model-is-a-file", ["export", "{text_file}", "--out", "{root}/exported"]),
    ("export-out-is-a-file", [*EXPORT, "--out", "{text_file}"]),
    ("export-out-parent-is-a-file", [*EXPORT, "--out", "{text_file}/exported"]),
    ("export-out-exists", [*EXPORT, "--out", "{foreign_dir}"]),
    ("export-calibration-size-zero", [*EXPORT, "--out", "{root}/exported", "--calibration-size", "0"]),
    ("export-calibration-missing", [*EXPORT, "--out", "{root}/exported", "--calibration", "{root}/absent.tsv"]),
    ("export-calibration-not-utf8", [*EXPORT, "--out", "{root}/exported", "--calibration", "{random_bytes}"]),
    ("export-opset-not-int", [*EXPORT, "--out", "{root}/exported", "--opset", "x"]),
    ("export-format-unknown", [*EXPORT, "--out", "{root}/exported", "--format", "tflite"]),
    # verify: claims, evidence files, depths
    ("verify-empty-claim", ["verify", "--model", "{model}", "--claim", " ", "--evidence", "{text_file}"]),
    ("verify-evidence-missing", ["verify", "--model", "{model}", "--claim", "c", "--evidence", "{root}/absent"]),
    ("verify-evidence-empty", ["verify", "--model", "{model}", "--claim", "c", "--evidence", "{empty_file}"]),
    ("verify-k-zero", ["verify", "--model", "{model}", "--claim", "c", "--corpus", "{corpus}", "--k", "0"]),
    ("verify-min-score-on-nli-model", [*VERIFY, "--min-score", "0.5"]),
    # calibrate: pair files, fractions, model kinds
    ("calibrate-data-missing", [*CALIBRATE[:-1], "{root}/absent.tsv"]),
    ("calibrate-data-bad-label", [*CALIBRATE[:-1], "{bad_label_pairs}"]),
    ("calibrate-heldout-one", [*CALIBRATE, "--heldout", "1"]),
    ("calibrate-out-is-a-folder", ["calibrate", "--model", "{model}", "--out", "{empty_dir}", "--data", "{pairs}"]),
    (
        "calibrate-dataset-on-nli-model",
        ["calibrate", "--model", "{model}", "--out", "{root}/c.json", "--dataset", "{beir}"],
    ),
    # groundedness: answers, passages
    ("groundedness-empty-answer", ["groundedness", "--model", "{model}", "--answer", " ", "--passages", "{text_file}"]),
    (
        "groundedness-answer-file-missing",
        ["groundedness", "--model", "{model}", "--answer-file", "{root}/absent", "--passages", "{text_file}"],
    ),
    ("groundedness-passages-missing", [*GROUNDEDNESS[:-1], "{root}/absent.jsonl"]),
    ("groundedness-passages-not-utf8", [*GROUNDEDNESS[:-1], "{random_bytes}"]),
    # classify: texts, labels, templates
    ("classify-empty-text", [*CLASSIFY[:4], " ", *CLASSIFY[5:]]),
    ("classify-duplicate-labels", [*CLASSIFY[:-1], "a"]),
    ("classify-empty-label", [*CLASSIFY[:-1], " "]),
    ("classify-template-no-field", [*CLASSIFY, "--template", "About it."]),
    ("classify-template-two-fields", [*CLASSIFY, "--template", "{} or {}"]),
    ("classify-text-file-missing", [*CLASSIFY[:3], "--text-file", "{root}/absent.txt", *CLASSIFY[5:]]),
    ("classify-text-file-empty", [*CLASSIFY[:3], "--text-file", "{empty_file}", *CLASSIFY[5:]]),
    ("classify-text-file-not-utf8", [*CLASSIFY[:3], "--text-file", "{random_bytes}", *CLASSIFY[5:]]),
    ("classify-model-missing", ["classify", "--model", "{root}/absent", *CLASSIFY[3:]]),
    # answers: question, answers, context, templates
    ("answers-empty-question", [*ANSWERS[:4], " ", *ANSWERS[5:]]),
    ("answers-empty-answer", [*ANSWERS[:6], " ", *ANSWERS[7:]]),
    ("answers-empty-context", [*ANSWERS[:-1], " "]),
    ("answers-template-no-answer-field", [*ANSWERS, "--answer-template", "About {question}."]),
    ("answers-question-template-extra-field", [*ANSWERS, "--question-template", "{question} {answer}"]),
    ("answers-context-file-missing", [*ANSWERS[:-2], "--context-file", "{root}/absent.txt"]),
    ("answers-context-file-not-utf8", [*ANSWERS[:-2], "--context-file", "{random_bytes}"]),
    ("answers-answer-file-empty", [*ANSWERS[:5], "--answer-file", "{empty_file}", *ANSWERS[8:]]),
    ("answers-window-tokens-zero", [*ANSWERS, "--window-tokens", "0"]),
]


def bad_inputs(root: Path) -> dict[str, str]:
    """Build the files the table names under ``root``; returns name -> path."""
    paths = {"root": root}
    paths["text_file"] = root / "notes.txt"
    paths["text_file"].write_text("just some text\nand a second line\n", encoding="utf-8")
    paths["empty_file"] = root / "empty.jsonl"
    paths["empty_file"].write_bytes(b"")
    paths["empty_dir"] = root / "empty-folder"
    paths["empty_dir"].mkdir()
    paths["foreign_dir"] = root / "foreign-folder"
    paths["foreign_dir"].mkdir()
    (paths["foreign_dir"] / "keep.txt").write_text("not a retriever\n", encoding="utf-8")
    paths["broken_model"] = root / "broken-model"
    paths["broken_model"].mkdir()
    (paths["broken_model"] / "config.json").write_text("{not json", encoding="utf-8")
    paths["corpus"] = REPO_ROOT / "examples" / "corpus.jsonl"
    paths["not_gzip"] = root / "plain.jsonl.gz"
    paths["not_gzip"].write_text('{"id": "1", "text": "not compressed"}\n', encoding="utf-8")
    paths["random_bytes"] = root / "random.jsonl"
    paths["random_bytes"].write_bytes(bytes(range(256)) * 4)
    paths["latin1_corpus"] = root / "latin1.jsonl"
    paths["latin1_corpus"].write_bytes('{"id": "1", "text": "fine"}\n{"id": "2", "text": "café"}\n'.encode("latin-1"))
    paths["duplicate_corpus"] = root / "duplicates.jsonl"
    paths["duplicate_corpus"].write_text('{"id": "1", "text": "a"}\n{"_id": "1", "text": "b"}\n', encoding="utf-8")
    paths["bad_label_pairs"] = root / "bad-label.tsv"
    paths["bad_label_pairs"].write_text("premise\thypothesis\tlabel\nA man.\tA person.\tmaybe\n", encoding="utf-8")
    paths["pairs"] = root / "pairs.tsv"
    paths["pairs"].write_text("premise\thypothesis\tlabel\nA man.\tA person.\tentailment\n", encoding="utf-8")
    paths["other_sqlite"] = root / "other.sqlite"
    with contextlib.closing(sqlite3.connect(paths["other_sqlite"])) as connection:
        connection.execute("CREATE TABLE people (name TEXT)")
        connection.commit()
    paths["corrupt_sqlite"] = root / "corrupt.sqlite"  # a score cache whose data pages are overwritten
    store = ScoreStore(paths["corrupt_sqlite"])
    store.put_many([(f"key{i}", [0.1, 0.2, 0.7], 0.01, 1) for i in range(200)])
    store.close()
    with paths["corrupt_sqlite"].open("r+b") as handle:
        handle.seek(4096)
        handle.write(os.urandom(8192))
    paths["beir"] = write_beir(root / "beir", TINY_CORPUS, TINY_QUERIES, TINY_QRELS)
    paths["corrupt_beir"] = write_beir(root / "corrupt-beir", TINY_CORPUS, TINY_QUERIES, TINY_QRELS)
    (paths["corrupt_beir"] / "corpus.jsonl.gz").write_bytes(gzip.compress(b'{"_id": "d1", "text": "ok"}\n')[:-12])
    paths["duplicate_beir"] = write_beir(
        root / "duplicate-beir", [*TINY_CORPUS, TINY_CORPUS[0]], TINY_QUERIES, TINY_QRELS
    )
    return {name: str(path) for name, path in paths.items()}


def fill(arg: str, paths: dict[str, str]) -> str:
    """``arg`` with each "{name}" of ``paths`` replaced (other braces, as in --template values, stay)."""
    for name, path in paths.items():
        arg = arg.replace("{" + name + "}", path)
    return arg


def drive(table_path: str, results_path: str) -> None:
    """Run ``main`` on each argv of the JSON table, with this process's stdout and stderr (file descriptors 1 and 2)
    sent to files; write {row id: [exit status, stdout, stderr]}. An exception escaping ``main`` is printed and
    counted as exit 1, as the interpreter would."""
    results = {}
    for row_id, argv in json.loads(Path(table_path).read_text(encoding="utf-8")):
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            saved = os.dup(1), os.dup(2)
            sys.stdout.flush(), sys.stderr.flush()
            os.dup2(out.fileno(), 1), os.dup2(err.fileno(), 2)
            try:
                code = main(argv)
            except SystemExit as stop:
                code = stop.code if isinstance(stop.code, int) else 1
            except BaseException:  # what the interpreter would do with it
                traceback.print_exc()
                code = 1
            finally:
                sys.stdout.flush(), sys.stderr.flush()
                os.dup2(saved[0], 1), os.dup2(saved[1], 2)
                os.close(saved[0]), os.close(saved[1])
            out.seek(0), err.seek(0)
            results[row_id] = [code, out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace")]
    Path(results_path).write_text(json.dumps(results), encoding="utf-8")


@pytest.fixture(scope="module")
def outcomes(tiny_deberta_dir, tmp_path_factory) -> dict[str, list]:
    root = tmp_path_factory.mktemp("bad-inputs")
    paths = bad_inputs(root) | {"model": str(tiny_deberta_dir)}
    table = [(row_id, [fill(arg, paths) for arg in argv]) for row_id, argv in BAD_INPUTS]
    (root / "table.json").write_text(json.dumps(table), encoding="utf-8")
    # the one-time checks a first load may run (and show progress for) belong to no bad input: run them here
    from rerank.loading import load_model

    load_model(str(tiny_deberta_dir), show_progress=False)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONPATH": str(REPO_ROOT)}
    code = "import sys; from tests.test_cli_errors import drive; drive(sys.argv[1], sys.argv[2])"
    done = subprocess.run([sys.executable, "-c", code, str(root / "table.json"), str(root / "results.json")],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads((root / "results.json").read_text(encoding="utf-8"))


def test_the_table_covers_every_subcommand():
    assert len(BAD_INPUTS) >= 30 and len({row_id for row_id, _ in BAD_INPUTS}) == len(BAD_INPUTS)
    assert {argv[0] for _, argv in BAD_INPUTS} == {
        "score", "search", "eval", "eval-nli", "export", "verify", "calibrate", "groundedness", "classify", "answers"
    }  # fmt: skip


@pytest.mark.parametrize(("row_id", "argv"), BAD_INPUTS, ids=[row_id for row_id, _ in BAD_INPUTS])
def test_bad_input_exits_2_with_one_line(outcomes, row_id, argv):
    code, out, err = outcomes[row_id]
    assert "Traceback" not in out + err, err
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"rerank {argv[0]}: error: "), err


def _boom(*args, **kwargs):
    raise RuntimeError("boom: an internal invariant broke")


@pytest.fixture
def broken_bm25(monkeypatch):
    """BM25 retrieval that raises RuntimeError: a bug in a dependency of the command, not in its error handling."""
    import retrievers.bm25

    monkeypatch.setattr(retrievers.bm25.BM25Retriever, "retrieve", _boom)


def test_a_bug_exits_1_and_names_debug(broken_bm25, capsys):
    code = main(["search", "--corpus", str(REPO_ROOT / "examples" / "corpus.jsonl"), "--query", "q", "--no-rerank"])
    assert code == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    message = err.splitlines()[-1]  # after the BM25 indexing bar
    assert message.startswith("rerank search: internal error") and "bug" in message and "--debug" in message
    assert "RuntimeError: boom: an internal invariant broke" in message


def test_debug_shows_the_traceback_of_a_bug(broken_bm25, capsys):
    code = main(["--debug", "search", "--corpus", str(REPO_ROOT / "examples" / "corpus.jsonl"), "--query", "q",
                 "--no-rerank"])  # fmt: skip
    assert code == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "_boom" in err
    assert "RuntimeError: boom: an internal invariant broke" in err


def test_debug_shows_the_traceback_of_an_input_error_too(capsys):
    assert main(["--debug", "search", "--corpus", "absent.jsonl", "--query", "q", "--no-rerank"]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert err.splitlines()[-1].startswith("rerank search: error: corpus file not found")


def test_broken_pipe_is_not_a_traceback(monkeypatch, capsys):
    class ClosedPipe(io.StringIO):
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    code = main(["search", "--corpus", str(REPO_ROOT / "examples" / "corpus.jsonl"), "--query", "q", "--no-rerank"])
    assert code == 141
    assert "Traceback" not in capsys.readouterr().err


def test_a_pydantic_validation_error_is_one_line_naming_the_field():
    from pydantic import ValidationError

    from rerank.options import ModelOptions
    from rerank_cli.main import one_line

    with pytest.raises(ValidationError) as raised:
        ModelOptions(batch_size=0, device="")
    text = one_line(raised.value)
    assert "\n" not in text and text.startswith("invalid ModelOptions: ")
    assert "batch_size: Input should be greater than or equal to 1 (got 0)" in text and "device: " in text
