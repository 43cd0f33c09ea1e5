"""LangChain: a ContextualCompressionRetriever whose base retriever is this project's BM25 and whose compressor is
the NLI reranker (rerank.integrations.langchain). Offline, with the small test model of the shared folder:

    pip install 'nli-rerank[langchain]'
    python examples/langchain_rag.py
    python examples/langchain_rag.py --model cross-encoder/nli-deberta-v3-small "Aspirin prevents heart attacks."

The default model (mini-nli-minilm-l6) is a weak test asset; use a real NLI model for real answers.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from langchain_classic.retrievers import ContextualCompressionRetriever
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from rerank import ModelLoadError
from rerank.integrations.langchain import NLIRerankCompressor
from retrievers import BM25Retriever, load_corpus

HERE = Path(__file__).resolve().parent
MINI_MODEL = HERE.parents[1] / "shared" / "models" / "mini-nli-minilm-l6"


class ProjectBM25Retriever(BaseRetriever):
    """A LangChain retriever over this project's BM25Retriever: the top ``k`` documents, with the BM25 score, rank,
    id and title in their metadata."""

    bm25: Any  # a retrievers.BM25Retriever
    k: int = 10

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return [
            Document(
                page_content=candidate.document.content,
                id=candidate.document.id,
                metadata={
                    "id": candidate.document.id,
                    "title": candidate.document.title,
                    "bm25_score": candidate.retriever_score,
                    "bm25_rank": candidate.retriever_rank,
                },
            )
            for candidate in self.bm25.retrieve(query, k=self.k)
        ]


def build_retriever(model: str, corpus: Path, k: int, top_n: int) -> ContextualCompressionRetriever:
    bm25 = BM25Retriever(load_corpus(corpus), show_progress=False)
    compressor = NLIRerankCompressor(model=model, top_n=top_n, max_contradiction=0.5,
                                     settings={"show_progress": False})  # fmt: skip
    return ContextualCompressionRetriever(
        base_compressor=compressor, base_retriever=ProjectBM25Retriever(bm25=bm25, k=k)
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("query", nargs="?", default="Aspirin prevents heart attacks.")
    parser.add_argument(
        "--model", default=str(MINI_MODEL), help=f"NLI model directory or hub id (default {MINI_MODEL})"
    )
    parser.add_argument("--corpus", type=Path, default=HERE / "corpus.jsonl", help="JSONL documents")
    parser.add_argument("--k", type=int, default=5, help="BM25 candidates (default 5)")
    parser.add_argument("--top-n", type=int, default=3, help="documents kept after reranking (default 3)")
    args = parser.parse_args()
    if args.model == str(MINI_MODEL) and not MINI_MODEL.is_dir():
        print(f"langchain_rag: the default model {MINI_MODEL} is absent; pass --model", file=sys.stderr)
        return 1
    try:
        retriever = build_retriever(args.model, args.corpus, args.k, args.top_n)
    except ModelLoadError as error:
        print(f"langchain_rag: {error}", file=sys.stderr)
        return 1
    print(f"query: {args.query}\nBM25 top {args.k}, reranked, top {args.top_n} without contradiction above 0.5:")
    for document in retriever.invoke(args.query):
        meta = document.metadata
        print(f"  {meta['id']}: relevance {meta['relevance_score']:.3f} (entailment {meta['entailment']:.3f}, "
              f"contradiction {meta['contradiction']:.3f}, BM25 rank {meta['bm25_rank']})")  # fmt: skip
        if "evidence" in meta:
            print(f"    evidence {meta['evidence']['span']}: {meta['evidence']['text']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
