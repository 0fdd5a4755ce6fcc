"""Attribute forms of the IMIS layers (building, containment) and the rules behind them."""
