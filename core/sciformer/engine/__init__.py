"""The transformer engine: positions, attention, blocks, heads and the model that joins them."""
