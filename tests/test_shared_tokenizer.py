"""One tokenizer shared between threads: every pair stays within max_length (regression: the server handed the model
a 922-token pair when one request's length count ran while another request encoded with truncation)."""

from __future__ import annotations

import threading

from rerank.batching import encode_pairs
from rerank.shared_tokenizer import tokenize, tokenizer_lock


def test_concurrent_calls_keep_each_calls_truncation(mini_nli_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(mini_nli_dir))
    passages = ["aspirin lowers the risk of heart attacks " * 60] * 8  # ~480 tokens each
    claims = ["Aspirin prevents heart attacks."] * 8
    too_long: list[int] = []
    done = threading.Event()

    def encode_short() -> None:
        try:
            for _ in range(150):
                encoded = encode_pairs(tokenizer, passages, claims, max_length=64)
                too_long.extend(len(ids) for ids in encoded.input_ids if len(ids) > 64)
        finally:
            done.set()

    def count_untruncated() -> None:  # what encode_pairs does first for another request: no truncation
        while not done.is_set():
            encode_pairs(tokenizer, passages, claims, max_length=512)
            tokenize(tokenizer, passages, add_special_tokens=False)

    threads = [threading.Thread(target=encode_short), threading.Thread(target=count_untruncated)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not too_long


def test_one_lock_per_tokenizer_object():
    class Stub:
        def __call__(self, text):
            return {"input_ids": [len(text)]}

    first, second = Stub(), Stub()
    assert tokenizer_lock(first) is tokenizer_lock(first)
    assert tokenizer_lock(first) is not tokenizer_lock(second)
    assert tokenize(first, "abc") == {"input_ids": [3]}
