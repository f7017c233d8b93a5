"""Inventory helpers (the demo's sample file)."""

import json


def load_items(path):
    # TODO: handle a missing file
    with open(path) as handle:
        return json.load(handle)


def total_value(items):
    total = 0
    for item in items:
        total = total + item["price"] * item["quantity"]
    return total


# scaffold: a function that returns the items whose quantity is below a threshold
