#!/usr/bin/env python3
"""Drives a running `lychee-rerank serve` with the real client libraries of every rerank dialect.

Each client ranks the same query and documents; its top-n order and scores must equal the server's own
answer to a raw POST /v1/rerank. The raw TEI (/rerank with texts) and vLLM (/v1/score) shapes are
checked the same way, and one Jina-style client must surface the server's error message (`detail`).

Usage: tools/client_compat.py BASE_URL [--only cohere]   (run inside the venv scripts/client-compat.sh makes)
Prints one line per client and the versions tested; exits 1 if any client disagrees or fails.
"""
import argparse
import importlib.metadata
import sys
import traceback

import requests

QUERY = "how do bicycles stay upright"
DOCUMENTS = [
    "A bicycle stays upright because of steering geometry and the rider's corrections.",
    "The stock market closed higher on Tuesday.",
    "Gyroscopic effects of the wheels matter less than trail and steering.",
    "Recipe: slow-roasted tomatoes with garlic.",
    "Riders balance by steering into the direction of a fall.",
]
TOP_N = 3
MODEL = "lychee-rerank"
KEY = "not-checked"
# The server's own bound: a request's scores may move by fp32 rounding (~1e-6) when its pairs share a pass with
# other requests' pairs or attend to a cached prompt prefix (the same query asked again), never by more than 1e-5.
TOLERANCE = 1e-5

PACKAGES = [
    "cohere", "langchain-cohere", "llama-index-core", "llama-index-postprocessor-cohere-rerank",
    "llama-index-postprocessor-jinaai-rerank", "llama-index-postprocessor-tei-rerank", "haystack-ai",
    "cohere-haystack", "jina-haystack", "rerankers", "schemathesis",
]


def reference(base):
    """The server's own ranking: [(index, score)] most relevant first, cut to TOP_N."""
    answer = requests.post(f"{base}/v1/rerank", json={"query": QUERY, "documents": DOCUMENTS}, timeout=60)
    answer.raise_for_status()
    return [(r["index"], r["relevance_score"]) for r in answer.json()["results"]][:TOP_N]


# Each client returns [(index, score)] most relevant first.

def cohere_v1(base):
    import cohere
    client = cohere.Client(api_key=KEY, base_url=base)
    answer = client.rerank(model=MODEL, query=QUERY, documents=DOCUMENTS, top_n=TOP_N)
    return [(r.index, r.relevance_score) for r in answer.results]


def cohere_v2(base):
    import cohere
    client = cohere.ClientV2(api_key=KEY, base_url=base)
    answer = client.rerank(model=MODEL, query=QUERY, documents=DOCUMENTS, top_n=TOP_N, max_tokens_per_doc=4096)
    return [(r.index, r.relevance_score) for r in answer.results]


def langchain_cohere(base):
    from langchain_cohere import CohereRerank
    ranker = CohereRerank(cohere_api_key=KEY, base_url=base, model=MODEL, top_n=TOP_N)
    return [(r["index"], r["relevance_score"]) for r in ranker.rerank(DOCUMENTS, QUERY)]


def nodes():
    from llama_index.core.schema import NodeWithScore, TextNode
    return [NodeWithScore(node=TextNode(text=text, id_=str(i))) for i, text in enumerate(DOCUMENTS)]


def by_node_id(ranked):
    return [(int(n.node.node_id), n.score) for n in ranked]


def llama_index_cohere(base):
    from llama_index.postprocessor.cohere_rerank import CohereRerank
    ranker = CohereRerank(api_key=KEY, base_url=base, model=MODEL, top_n=TOP_N)
    return by_node_id(ranker.postprocess_nodes(nodes(), query_str=QUERY))


def llama_index_jina(base):
    from llama_index.postprocessor.jinaai_rerank import JinaRerank
    ranker = JinaRerank(api_key=KEY, base_url=f"{base}/v1", model=MODEL, top_n=TOP_N)
    return by_node_id(ranker.postprocess_nodes(nodes(), query_str=QUERY))


def llama_index_tei(base):
    from llama_index.postprocessor.tei_rerank import TextEmbeddingInference
    ranker = TextEmbeddingInference(base_url=base, top_n=TOP_N, model_name=MODEL)
    return by_node_id(ranker.postprocess_nodes(nodes(), query_str=QUERY))


def haystack_documents():
    from haystack import Document
    return [Document(content=text, id=str(i)) for i, text in enumerate(DOCUMENTS)]


def haystack_cohere(base):
    from haystack.utils import Secret
    from haystack_integrations.components.rankers.cohere import CohereRanker
    ranker = CohereRanker(api_key=Secret.from_token(KEY), api_base_url=base, model=MODEL, top_k=TOP_N)
    return [(int(d.id), d.score) for d in ranker.run(query=QUERY, documents=haystack_documents())["documents"]]


def haystack_jina(base):
    from haystack.utils import Secret
    from haystack_integrations.components.rankers.jina import JinaRanker
    ranker = JinaRanker(api_key=Secret.from_token(KEY), model=MODEL, top_k=TOP_N, base_url=f"{base}/v1/rerank")
    return [(int(d.id), d.score) for d in ranker.run(query=QUERY, documents=haystack_documents())["documents"]]


def rerankers_provider(provider, path):
    def run(base):
        from rerankers import Reranker
        ranker = Reranker(MODEL, model_type=provider, api_key=KEY, url=f"{base}{path}", verbose=0)
        ranked = ranker.rank(query=QUERY, docs=DOCUMENTS, doc_ids=list(range(len(DOCUMENTS))))
        return [(r.document.doc_id, r.score) for r in ranked.results][:TOP_N]
    return run


def raw_tei(base):
    answer = requests.post(f"{base}/rerank", json={"query": QUERY, "texts": DOCUMENTS, "return_text": True}, timeout=60)
    answer.raise_for_status()
    ranks = answer.json()
    assert isinstance(ranks, list) and all(r["text"] == DOCUMENTS[r["index"]] for r in ranks), "TEI answer shape"
    return [(r["index"], r["score"]) for r in ranks][:TOP_N]


def raw_vllm_score(base):
    answer = requests.post(f"{base}/v1/score", json={"model": MODEL, "text_1": QUERY, "text_2": DOCUMENTS}, timeout=60)
    answer.raise_for_status()
    body = answer.json()
    assert body["object"] == "list" and body["usage"]["prompt_tokens"] > 0, "vLLM score answer shape"
    ranked = sorted(((d["index"], d["score"]) for d in body["data"]), key=lambda pair: (-pair[1], pair[0]))
    return ranked[:TOP_N]


def jina_error_detail(base):
    """A Jina-style client shows the server's message instead of failing with KeyError: 'detail'."""
    from llama_index.postprocessor.jinaai_rerank import JinaRerank
    ranker = JinaRerank(api_key=KEY, base_url=f"{base}/v1", model=MODEL, top_n=TOP_N)
    try:
        ranker.postprocess_nodes(nodes(), query_str="")
    except RuntimeError as error:
        assert "query is empty" in str(error), f"unexpected message: {error}"
        return None
    raise AssertionError("an empty query was accepted")


CLIENTS = [
    ("cohere Client (v1)", cohere_v1), ("cohere ClientV2", cohere_v2), ("langchain-cohere CohereRerank", langchain_cohere),
    ("llama-index CohereRerank", llama_index_cohere), ("llama-index JinaRerank", llama_index_jina),
    ("llama-index TextEmbeddingInference", llama_index_tei), ("haystack CohereRanker", haystack_cohere),
    ("haystack JinaRanker", haystack_jina), ("rerankers jina", rerankers_provider("jina", "/v1/rerank")),
    ("rerankers cohere", rerankers_provider("cohere", "/v1/rerank")),
    ("rerankers text-embeddings-inference", rerankers_provider("text-embeddings-inference", "/rerank")),
    ("raw TEI POST /rerank", raw_tei), ("raw vLLM POST /v1/score", raw_vllm_score),
]


def agrees(got, expected):
    return [i for i, _ in got] == [i for i, _ in expected] and all(
        abs(a - b) <= TOLERANCE for (_, a), (_, b) in zip(got, expected))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    parser.add_argument("--only", help="run only the clients whose name starts with this (e.g. cohere)")
    args = parser.parse_args()
    base = args.base.rstrip("/")
    expected = reference(base)
    failures = 0
    for name, client in CLIENTS + [("Jina error detail (llama-index JinaRerank)", jina_error_detail)]:
        if args.only and not name.startswith(args.only):
            continue
        try:
            got = client(base)
            if got is not None and not agrees(got, expected):
                failures += 1
                print(f"FAIL {name}: {got} != server {expected}")
                continue
            print(f"ok   {name}")
        except Exception:
            failures += 1
            print(f"FAIL {name}:\n{traceback.format_exc()}")
    versions = []
    for package in PACKAGES:
        try:
            versions.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            pass
    print("versions: " + ", ".join(versions))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
