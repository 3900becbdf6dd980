"""Personalised ranking from a shopper's few clicks: a ranking head meta-trained with MAML, baselines,
a shopper simulator (synthetic), an event-log loader, evaluation, serving sessions and explanations."""
