"""The baseline pipeline: what a llama-index user writes first, scored beside ours.

`SimpleDirectoryReader` over the corpus folder (raw files, no boilerplate removal, no
metadata sidecars), the default `SentenceSplitter` (1,024 tokens, 200 overlap), a
`VectorStoreIndex` in Chroma with the same embedding model, top-2 dense retrieval, the
retrieved nodes re-split into 512-token citation sources as `CitationQueryEngine` does, and
the same extractive answerer as ours, which never abstains here. It has no chat memory: a
follow-up is asked as typed. A question scoped to some documents filters its retriever on the
reader's file_path metadata, as a llama-index user would.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..config import Settings
from ..corpus import corpus_files
from ..embedding import as_llama_index, model_info
from ..extractive import ExtractiveAnswerer
from ..index import chroma_client
from ..lexicon import TermStatistics
from ..types import Answer, Passage

COLLECTION = "baseline"
SIMILARITY_TOP_K = 2
CITATION_CHUNK_SIZE = 512      # CitationQueryEngine's defaults
CITATION_CHUNK_OVERLAP = 20


def _fingerprint(paths: Sequence[Path], config: dict[str, Any]) -> str:
    """Changes with any file, with the paths as given (SimpleDirectoryReader embeds its
    file_path metadata with the text), the splitter and the embedding model."""
    digest = hashlib.sha256(json.dumps({"v": 2, **config, "model": model_info()}, sort_keys=True).encode())
    for path in paths:
        digest.update(str(path).encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:32]


class BaselinePipeline:
    name = "baseline"
    description = ("llama-index defaults: SimpleDirectoryReader, SentenceSplitter(1024/200), "
                   "VectorStoreIndex in Chroma, top-2 dense, CitationQueryEngine-style 512-token sources, "
                   "same extractive answerer, no chat memory")

    def __init__(self, settings: Settings, embedder, vectors) -> None:
        """`embedder` is the shared llama-index embedding model; `vectors` maps texts to unit
        vectors (the assistant's sentence cache), as the answerer expects."""
        self.settings = settings
        self._embedder = embedder
        self._vectors = vectors
        self._index = None
        self._terms: TermStatistics | None = None

    def config(self) -> dict[str, Any]:
        return {"similarity_top_k": SIMILARITY_TOP_K, "chunk_size": 1024, "chunk_overlap": 200,
                "citation_chunk_size": CITATION_CHUNK_SIZE, "abstain_threshold": 0.0}

    def _files(self) -> list[Path]:
        """The same files ours indexes (hidden, binary and unsupported files are left out)."""
        return corpus_files(Path(self.settings.corpus_dir))[0]

    def open(self) -> None:
        """Build the baseline's own Chroma collection (under index/baseline/) unless the
        corpus is unchanged since it was built."""
        from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
        from llama_index.core.node_parser import SentenceSplitter
        from llama_index.vector_stores.chroma import ChromaVectorStore

        files = self._files()
        if not files:
            raise ValueError(f"no documents in {self.settings.corpus_dir} for the baseline")
        fingerprint = _fingerprint(files, self.config())
        client = chroma_client(Path(self.settings.index_dir) / "baseline")
        collection = client.get_or_create_collection(COLLECTION)
        if (collection.metadata or {}).get("fingerprint") != fingerprint:
            client.delete_collection(COLLECTION)
            collection = client.create_collection(COLLECTION, metadata={"fingerprint": fingerprint})
            documents = SimpleDirectoryReader(input_files=[str(p) for p in files]).load_data()
            storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=collection))
            VectorStoreIndex.from_documents(documents, storage_context=storage,
                                            embed_model=as_llama_index(self._embedder),
                                            transformations=[SentenceSplitter()])
        self._index = VectorStoreIndex.from_vector_store(ChromaVectorStore(chroma_collection=collection),
                                                         embed_model=as_llama_index(self._embedder))
        stored = collection.get(include=["documents"])
        self._terms = TermStatistics.of(list(stored["documents"] or []))

    def trace(self, question: str, history: Sequence[Sequence[str]] | None = None,
              documents: Sequence[str] | None = None) -> tuple[Answer, list[Passage]]:
        from llama_index.core.schema import QueryBundle

        from ..assistant import validate_question

        question = validate_question(question, self.settings.max_question_chars)  # same limits as ours
        if self._index is None:
            self.open()
        filters = self._scope_filter(documents)
        started = time.perf_counter()
        vector = np.asarray(self._embedder.get_query_embedding(question), dtype=np.float32)
        nodes = self._index.as_retriever(similarity_top_k=SIMILARITY_TOP_K, filters=filters).retrieve(
            QueryBundle(query_str=question, embedding=vector.tolist()))
        sources = citation_sources(nodes)
        # The answerer's abstention model reads signals the baseline's retrieval does not give
        # (keyword ranks, headings), so it would decline most questions; like a first
        # CitationQueryEngine script, the baseline answers whenever it finds a sentence.
        answerer = ExtractiveAnswerer(self._vectors, self._terms.idf, 0.0,
                                      self.settings.max_answer_sentences, known=self._terms.in_corpus)
        answer = answerer.answer([(question, vector)], sources, display_question=question)
        answer.standalone_question = question
        answer.timings_ms = {"total": round((time.perf_counter() - started) * 1000, 1)}
        # Retrieval is scored on what was retrieved: the two nodes, not their re-split pieces.
        return answer, [_node_passage(item) for item in nodes]


    def _scope_filter(self, documents: Sequence[str] | None) -> Any:
        """A metadata filter on the files the patterns name (resolved as ours resolves them), or None."""
        from llama_index.core.vector_stores.types import FilterOperator, MetadataFilter, MetadataFilters

        from ..scope import checked_patterns, resolve

        patterns = checked_patterns(documents)
        if patterns is None:
            return None
        corpus = Path(self.settings.corpus_dir)
        paths = {path.relative_to(corpus).as_posix(): str(path) for path in self._files()}
        chosen = [paths[name] for name in resolve(patterns, paths, corpus)]
        return MetadataFilters(filters=[MetadataFilter(key="file_path", value=chosen, operator=FilterOperator.IN)])


def _path(node) -> str:
    return str(node.metadata.get("file_name") or node.metadata.get("file_path") or node.ref_doc_id)


def _node_passage(item) -> Passage:
    node = item.node
    start = node.start_char_idx or 0
    end = node.end_char_idx if node.end_char_idx is not None else start + len(node.get_content())
    return Passage([node.node_id], _path(node), node.get_content(), start, end, start, end,
                   float(item.score or 0.0), {"path": _path(node), "source": _path(node)})


def citation_sources(nodes: list) -> list[Passage]:
    """Re-split retrieved nodes into numbered sources, as CitationQueryEngine does, keeping
    each piece's offsets in its file."""
    from llama_index.core.node_parser import SentenceSplitter

    splitter = SentenceSplitter(chunk_size=CITATION_CHUNK_SIZE, chunk_overlap=CITATION_CHUNK_OVERLAP)
    passages = []
    for rank, item in enumerate(nodes):
        node = item.node
        text = node.get_content()
        path = _path(node)
        base = node.start_char_idx or 0
        at = -1
        for piece in splitter.split_text(text):
            found = text.find(piece, at + 1)
            at = found if found >= 0 else max(at, 0)  # the splitter can trim whitespace
            # What the dense retriever said of the node, as our passages carry it: the same
            # answerer reads it (the baseline has no keyword retriever).
            metadata = {"path": path, "source": path,
                        "retrieval": {"dense": float(item.score or 0.0), "dense_rank": float(rank)}}
            passages.append(Passage([node.node_id], path, piece, base + at, base + at + len(piece),
                                    base + at, base + at + len(piece), float(item.score or 0.0), metadata))
    return passages


__all__ = ["BaselinePipeline", "citation_sources"]
