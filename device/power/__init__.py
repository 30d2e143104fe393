"""Power: battery model, energy model, fuel gauge, budget controller."""
