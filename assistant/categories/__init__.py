"""Zero-shot and few-shot jewelry categories: registry, prototypes in FAISS, MAML, evaluation, preview."""
