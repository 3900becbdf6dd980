"""Where shoppers come from: the simulator (synthetic) or a real event log, split into disjoint groups."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from assistant.personalization.events import EventLog, load_events, sessions_from_events, split_by_user
from assistant.personalization.items import ItemTable
from assistant.personalization.simulator import ShopperSimulator
from assistant.personalization.tasks import MAX_SUPPORT_CLICKS, QUERY_CLICKS, Sessions

#: Simulated shoppers a head is trained on by default (``train personalizer``, ``eval personalization``,
#: ``train_for_catalog``); the README's measured figures were taken with this many.
SIMULATED_TRAIN_SHOPPERS = 5000
#: Clicks per simulated shopper: enough for the most support clicks and the held-out ones (30).
SIMULATED_CLICKS = MAX_SUPPORT_CLICKS + QUERY_CLICKS
SIMULATED_SKIPS = 20
LOG_SPLIT = {"train": 0.8, "validation": 0.1, "test": 0.1}


@dataclass
class ShopperSplits:
    train: Sessions
    validation: Sessions
    test: Sessions
    source: str  # words for reports: "simulated shoppers (synthetic)" or "event log PATH"
    log: EventLog | None = None
    details: dict = field(default_factory=dict)


def simulated_clicks(items: ItemTable, wanted: int) -> int:
    """Clicks per simulated shopper: ``wanted``, but no more than a quarter of a small catalog."""
    return max(2, min(wanted, len(items) // 4))


def simulated_splits(
    items: ItemTable, n_train: int, n_validation: int, n_test: int, k_max: int, seed: int = 0
) -> ShopperSplits:
    """Simulated shoppers: train sessions may start from a search; evaluation sessions are clicks only."""
    simulator = ShopperSimulator(items, seed)
    evaluation_clicks = simulated_clicks(items, k_max + QUERY_CLICKS)
    return ShopperSplits(
        train=simulator.sessions("train", n_train, simulated_clicks(items, SIMULATED_CLICKS), SIMULATED_SKIPS),
        validation=simulator.sessions("validation", n_validation, evaluation_clicks, k_max, query_rate=0.0),
        test=simulator.sessions("test", n_test, evaluation_clicks, k_max, query_rate=0.0),
        source="simulated shoppers (synthetic)",
        details={"simulator_seed": seed},
    )


def log_splits(items: ItemTable, path: str | Path, k_max: int = 1, max_test: int | None = None) -> ShopperSplits:
    """Users of an event log, split 80/10/10 by a stable hash of their id; bad rows are skipped.

    Test users need ``k_max`` + 1 clicks; at most ``max_test`` of them are kept.
    """
    log = load_events(path, dict(zip(items.skus, items.ids.tolist())), set(items.ids.tolist()))
    sessions = sessions_from_events(log, items)
    parts = split_by_user(sessions, LOG_SPLIT)
    test = parts["test"].with_at_least(k_max + 1)
    if max_test is not None and len(test) > max_test:
        test = test.subset(range(max_test))
    return ShopperSplits(
        train=parts["train"],
        validation=parts["validation"],
        test=test,
        source=f"event log {path}",
        log=log,
        details={"events": len(log.events), "rejected_rows": len(log.rejected), "users": len(sessions)},
    )
