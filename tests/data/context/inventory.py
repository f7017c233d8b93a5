"""Inventory valuation."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

TAX_RATE = 0.2


@dataclass
class Item:
    name: str
    price: float
    quantity: int


def load_items(path: Path) -> list[Item]:
    with path.open() as handle:
        return [Item(**row) for row in json.load(handle)]


def with_tax(amount: float) -> float:
    return amount * (1 + TAX_RATE)


class Report:
    def __init__(self, items: list[Item]) -> None:
        self.items = items

    def total(self) -> float:
        subtotal = sum(item.price * item.quantity for item in self.items)
        return with_tax(subtotal)

    def lines(self) -> list[str]:
        return [f"{item.name}: {item.quantity}" for item in self.items]
