"""Benchmarks: Gobstopper and peer frameworks under Granian, as ratios to a raw RSGI app."""
