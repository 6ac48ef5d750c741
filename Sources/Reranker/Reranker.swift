// The Reranker module.
